/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * system/main.c - colo-proxy's main(): QEMU's command line, start-up order,
 * daemonizing, signals and orderly shutdown.
 *
 * The command line is QEMU's (-object, -netdev, -device, -chardev, -qmp,
 * -name, -daemonize, -pidfile, -D, -version, "-object help", ...), with one
 * or two leading dashes.  Object options may also be JSON objects, as
 * QEMU and libvirt write them (-object '{"qom-type":"iothread","id":"x"}').
 * Every object option goes through
 * user_object_create_from_opts() (qom/object.c), which QMP's object-add also
 * uses, so the command line and the monitor accept the same text.
 *
 * Start-up order (dependencies first, as QEMU does):
 *
 *   1. -daemonize: fork before any thread exists; the parent waits for the
 *      child to report that start-up finished, and exits with its status.
 *   2. -D log file, -pidfile, signal handlers.
 *   3. every -chardev, then the -qmp monitors;
 *   4. every -object that is neither a netfilter nor colo-compare
 *      (iothreads), then every -netdev, then every -device;
 *   5. the remaining -object (filters and colo-compare), which attach to
 *      netdevs and chardevs created above;
 *   6. chardev_wait_for_clients() for "server=on,wait=on" chardevs;
 *   7. the daemon detaches from the terminal; one "ready" line names
 *      what listens where, and systemd (Type=notify) gets READY=1;
 *      the main loop runs.
 *
 * Shutdown (SIGTERM, SIGINT, SIGHUP or QMP "quit" through
 * qemu_system_shutdown_request()) leaves the loop, tells systemd
 * STOPPING=1, deletes every object newest first (filters flush and leave
 * their chains before the netdevs and chardevs they use go), closes the
 * monitors and exits 0.
 *
 * Errors during start-up are printed as QEMU does,
 *   colo-proxy: -object filter-mirror,id=m0: Parameter 'netdev' is missing
 * and exit with status 1.  This is the one file that prints to stdout and
 * stderr directly.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib-unix.h>

#include "config-host.h"
#ifdef CONFIG_LIBSYSTEMD
#include <systemd/sd-daemon.h>
#endif
#include "qom/object.h"
#include "qom/qom-qmp.h"
#include "util/error.h"
#include "util/keyval.h"
#include "util/log.h"
#include "util/shutdown.h"
#include "qom/iothread.h"
#include "chardev/char.h"
#include "monitor/qmp.h"

#define PROG "colo-proxy"

typedef struct CmdlineObject {
    ObjectKind kind;          /* which option */
    const char *option;       /* "-object" ... for messages */
    char *arg;                /* the option text, as given */
} CmdlineObject;

typedef struct Cmdline {
    GPtrArray *objects;       /* of CmdlineObject *, in command-line order */
    GPtrArray *qmp;           /* of char *: -qmp specs */
    char *name;               /* -name guest= */
    char *pidfile;            /* -pidfile */
    char *logfile;            /* -D */
    gboolean daemonize;       /* -daemonize */
    char *log_items;          /* -d ITEMS, comma-separated */
} Cmdline;

static gint shutdown_requested;     /* atomic: leave the main loop */
static gint shutdown_by_signal;     /* atomic: the request came from a signal */
static int daemon_pipe = -1;        /* child's end of the -daemonize pipe */
static int pidfile_fd = -1;         /* locked -pidfile, or -1 */
static char *pidfile_path;          /* to unlink at exit */

/* Any thread.  Asks the main loop to stop; the shutdown itself runs in
 * main() once the loop has returned. */
static void qemu_system_shutdown_request(void)
{
    g_atomic_int_set(&shutdown_requested, 1);
    g_main_context_wakeup(g_main_context_default());
}

static gboolean on_signal(gpointer opaque)
{
    g_message("received signal %d, shutting down",
              GPOINTER_TO_INT(opaque));
    g_atomic_int_set(&shutdown_by_signal, 1);
    qemu_system_shutdown_request();
    return G_SOURCE_CONTINUE;
}

static void cmdline_object_free(gpointer p)
{
    CmdlineObject *co = p;

    g_free(co->arg);
    g_free(co);
}

static void version(void)
{
    const char *pkg = COLO_PROXY_PKGVERSION;

    if (pkg[0]) {
        printf(PROG " version %s (%s) (QEMU-compatible COLO proxy)\n",
               COLO_PROXY_VERSION, pkg);
    } else {
        printf(PROG " version %s (QEMU-compatible COLO proxy)\n",
               COLO_PROXY_VERSION);
    }
    printf("Copyright (c) the colo-proxy authors; GPL-2.0-or-later\n");
}

static void help(void)
{
    version();
    printf("usage: " PROG " [options]\n"
        "\n"
        "Standard options:\n"
        "-h or -help          display this help and exit\n"
        "-version             display version information and exit\n"
        "-name string1[,...]  set the name of the guest this proxy serves\n"
        "                     (also guest=string1)\n"
        "\n"
        "Objects (key=value lists as in QEMU; ',,' escapes a comma):\n"
        "-object TYPE,id=ID[,prop=value...]\n"
        "                     create an object (iothread, filter-mirror,\n"
        "                     filter-redirector, filter-rewriter, colo-compare,\n"
        "                     filter-buffer, filter-dump, ...);\n"
        "                     '-object help' lists the types,\n"
        "                     '-object TYPE,help' lists a type's properties\n"
        "-netdev TYPE,id=ID[,...]\n"
        "                     create a network backend (tap, af-packet, stream,\n"
        "                     socket, dgram, user); '-netdev help'\n"
        "-device DRIVER,netdev=ID[,...]\n"
        "                     create the guest-facing port of a netdev;\n"
        "                     '-device help'\n"
        "-chardev socket,id=ID,host=H,port=P|path=PATH[,server=on|off]\n"
        "        [,wait=on|off][,reconnect=SECONDS]\n"
        "                     create a character device; '-chardev help'\n"
        "\n"
        "Monitor and process:\n"
        "-qmp unix:PATH,server=on,wait=off | tcp:HOST:PORT,server=on,wait=off\n"
        "                     | stdio\n"
        "                     open a QMP monitor (may be repeated)\n"
        "-daemonize           detach from the terminal once started\n"
        "-pidfile FILE        write the process id to FILE\n"
        "-D FILE              write the log to FILE instead of stderr\n"
        "-d item1,...         log the items' debug messages ('-d help'\n"
        "                     lists the items, 'all' is every one)\n"
        "\n"
        "Options may be written with one or two leading dashes.  -object,\n"
        "-netdev and -device also take a JSON object, as in QEMU:\n"
        "  -object '{\"qom-type\":\"iothread\",\"id\":\"io0\"}'\n");
}

static void G_GNUC_PRINTF(1, 2) G_GNUC_NORETURN die(const char *fmt, ...)
{
    va_list ap;

    fputs(PROG ": ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    if (daemon_pipe >= 0) {
        char status = 1;

        if (write(daemon_pipe, &status, 1) < 0) {
            /* the parent is gone; nothing more to tell */
        }
    }
    exit(1);
}

/* -d help: QEMU's layout, "Log items (comma separated):" then one line
 * per item. */
static void log_items_help(void)
{
    size_t n;
    const ColoLogItem *items = colo_log_items(&n);

    printf("Log items (comma separated):\n");
    for (size_t i = 0; i < n; i++) {
        printf("%-10s %s\n", items[i].name, items[i].help);
    }
    printf("%-10s %s\n", "all", "every item above");
    printf("\nEach item named is logged from level \"debug\" on; the others "
           "from \"notice\".\nQMP's query-log-levels and set-log-level "
           "read and change the levels at run\ntime.\n");
}

/* Option table: name, takes an argument, object kind (or -1). */
typedef struct OptionDef {
    const char *name;
    gboolean has_arg;
    int kind;
} OptionDef;

static const OptionDef options[] = {
    { "object", TRUE, OBJECT_KIND_OBJECT },
    { "netdev", TRUE, OBJECT_KIND_NETDEV },
    { "device", TRUE, OBJECT_KIND_DEVICE },
    { "chardev", TRUE, OBJECT_KIND_CHARDEV },
    { "qmp", TRUE, -1 },
    { "name", TRUE, -1 },
    { "pidfile", TRUE, -1 },
    { "D", TRUE, -1 },
    { "d", TRUE, -1 },
    { "daemonize", FALSE, -1 },
    { "version", FALSE, -1 },
    { "h", FALSE, -1 },
    { "help", FALSE, -1 },
    { NULL, FALSE, -1 },
};

/* -name: "NAME" or "guest=NAME,process=PROC,debug-threads=on".  'process'
 * names the process (prctl, as QEMU); debug-threads is accepted. */
static char *parse_name(const char *arg)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(GHashTable) h = keyval_parse(arg, "guest", &err);
    GHashTableIter it;
    gpointer k, v;
    const char *process;

    if (!h) {
        die("-name %s: %s", arg, err->message);
    }
    g_hash_table_iter_init(&it, h);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        if (strcmp(k, "guest") != 0 && strcmp(k, "process") != 0 &&
            strcmp(k, "debug-threads") != 0) {
            die("-name %s: Invalid parameter '%s'", arg, (const char *)k);
        }
    }
    process = g_hash_table_lookup(h, "process");
    if (process) {
        prctl(PR_SET_NAME, process);
    }
    return g_strdup(g_hash_table_lookup(h, "guest"));
}

static void parse_cmdline(int argc, char **argv, Cmdline *cl)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *opt;
        const OptionDef *def = NULL;
        const char *arg = NULL;

        if (a[0] != '-' || a[1] == '\0') {
            die("%s: invalid option", a);
        }
        opt = a + 1;
        if (opt[0] == '-') {
            opt++;
        }
        for (const OptionDef *d = options; d->name; d++) {
            if (strcmp(opt, d->name) == 0) {
                def = d;
                break;
            }
        }
        if (!def) {
            die("%s: invalid option", a);
        }
        if (def->has_arg) {
            if (i + 1 >= argc) {
                die("%s: requires an argument", a);
            }
            arg = argv[++i];
        }

        if (def->kind >= 0) {
            CmdlineObject *co;

            if (arg[0] != '{' && keyval_is_help(arg)) {
                g_autoptr(GError) err = NULL;
                gboolean printed = FALSE;

                user_object_create_from_opts(def->kind, arg, &printed, &err);
                if (err) {
                    die("-%s %s: %s", def->name, arg, err->message);
                }
                exit(0);
            }
            co = g_new0(CmdlineObject, 1);
            co->kind = def->kind;
            co->option = def->name;
            co->arg = g_strdup(arg);
            g_ptr_array_add(cl->objects, co);
        } else if (strcmp(def->name, "qmp") == 0) {
            g_ptr_array_add(cl->qmp, g_strdup(arg));
        } else if (strcmp(def->name, "name") == 0) {
            g_free(cl->name);
            cl->name = parse_name(arg);
        } else if (strcmp(def->name, "pidfile") == 0) {
            g_free(cl->pidfile);
            cl->pidfile = g_strdup(arg);
        } else if (strcmp(def->name, "D") == 0) {
            g_free(cl->logfile);
            cl->logfile = g_strdup(arg);
        } else if (strcmp(def->name, "d") == 0) {
            if (strcmp(arg, "help") == 0 || strcmp(arg, "?") == 0) {
                log_items_help();
                exit(0);
            }
            g_free(cl->log_items);
            cl->log_items = g_strdup(arg);
        } else if (strcmp(def->name, "daemonize") == 0) {
            cl->daemonize = TRUE;
        } else if (strcmp(def->name, "version") == 0) {
            version();
            exit(0);
        } else {
            help();
            exit(0);
        }
    }
}

/* True for the -object types that must wait for netdevs and chardevs:
 * netfilters and colo-compare.  Looked up by GType name so that main does
 * not depend on the net library's symbols. */
static gboolean object_is_late(const char *arg)
{
    g_autoptr(GHashTable) h = NULL;
    g_autofree char *json_type = NULL;
    const char *type;
    GType gtype, filter;

    if (arg[0] == '{') {
        type = json_type = qom_json_peek_type(arg, "qom-type");
    } else {
        h = keyval_parse(arg, "qom-type", NULL);
        type = h ? g_hash_table_lookup(h, "qom-type") : NULL;
    }
    if (!type) {
        return TRUE;          /* creation reports the error */
    }
    if (strcmp(type, "colo-compare") == 0 ||
        strcmp(type, "colo-proxy") == 0) {
        return TRUE;
    }
    gtype = object_type_lookup(OBJECT_KIND_OBJECT, type);
    filter = g_type_from_name("NetFilter");
    return gtype != G_TYPE_INVALID && filter != G_TYPE_INVALID &&
           g_type_is_a(gtype, filter);
}

/* True for the -object types the links use (TLS credentials and
 * authorization): created before chardevs and monitors, whatever their
 * place on the command line, as QEMU does. */
static gboolean object_is_early(const char *arg)
{
    g_autoptr(GHashTable) h = NULL;
    g_autofree char *json_type = NULL;
    const char *type;

    if (arg[0] == '{') {
        type = json_type = qom_json_peek_type(arg, "qom-type");
    } else {
        h = keyval_parse(arg, "qom-type", NULL);
        type = h ? g_hash_table_lookup(h, "qom-type") : NULL;
    }
    return type && (g_str_has_prefix(type, "tls-creds-") ||
                    g_str_has_prefix(type, "authz-"));
}

#define OBJECTS_EARLY 2       /* create_objects(): object_is_early() ones */

static void create_objects(Cmdline *cl, ObjectKind kind, int late)
{
    for (guint i = 0; i < cl->objects->len; i++) {
        CmdlineObject *co = cl->objects->pdata[i];
        g_autoptr(GError) err = NULL;

        if (co->kind != kind) {
            continue;
        }
        if (kind == OBJECT_KIND_OBJECT && late >= 0 &&
            object_is_early(co->arg) != (late == OBJECTS_EARLY)) {
            continue;
        }
        if (late >= 0 && late != OBJECTS_EARLY &&
            object_is_late(co->arg) != (gboolean)late) {
            continue;
        }
        /* QEMU's JSON form (libvirt uses it): -object '{"qom-type":...}' */
        if (co->arg[0] == '{'
            ? !user_object_create_from_json(kind, co->arg, &err)
            : !user_object_create_from_opts(kind, co->arg, NULL, &err)) {
            die("-%s %s: %s", co->option, co->arg, err->message);
        }
    }
}

/* Emits QEMU's SHUTDOWN event if the schema declares it, and gives the
 * monitors a moment to send it. */
static void emit_shutdown_event(void)
{
    JsonObject *data;
    gint64 until;

    for (int i = 0; qmp_event_names[i]; i++) {
        if (strcmp(qmp_event_names[i], "SHUTDOWN") != 0) {
            continue;
        }
        data = json_object_new();
        json_object_set_boolean_member(data, "guest", FALSE);
        json_object_set_string_member(data, "reason",
                                      g_atomic_int_get(&shutdown_by_signal)
                                      ? "host-signal" : "host-qmp-quit");
        qmp_event_emit("SHUTDOWN", data);
        until = g_get_monotonic_time() + 50 * 1000;
        while (g_get_monotonic_time() < until &&
               g_main_context_iteration(NULL, FALSE)) {
            /* flush the event to the monitors */
        }
        return;
    }
}

/* Forks; the parent waits for the child's start-up status and exits with
 * it.  Runs before any thread is created. */
static void daemonize_start(void)
{
    int fds[2];
    pid_t pid;

    if (pipe(fds) < 0) {
        die("-daemonize: pipe: %s", g_strerror(errno));
    }
    pid = fork();
    if (pid < 0) {
        die("-daemonize: fork: %s", g_strerror(errno));
    }
    if (pid > 0) {
        char status = 1;
        ssize_t n;

        close(fds[1]);
        do {
            n = read(fds[0], &status, 1);
        } while (n < 0 && errno == EINTR);
        _exit(n == 1 ? status : 1);
    }
    close(fds[0]);
    daemon_pipe = fds[1];
    if (setsid() < 0) {
        die("-daemonize: setsid: %s", g_strerror(errno));
    }
}

/* Start-up succeeded: tell the parent, drop the terminal. */
static void daemonize_finish(void)
{
    char status = 0;
    int fd;

    if (daemon_pipe < 0) {
        return;
    }
    fd = open("/dev/null", O_RDWR);
    if (fd >= 0) {
        dup2(fd, STDIN_FILENO);
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
        if (fd > STDERR_FILENO) {
            close(fd);
        }
    }
    if (chdir("/") < 0) {
        g_warning("-daemonize: chdir /: %s", g_strerror(errno));
    }
    if (write(daemon_pipe, &status, 1) < 0) {
        g_warning("-daemonize: could not notify the parent: %s",
                  g_strerror(errno));
    }
    close(daemon_pipe);
    daemon_pipe = -1;
}

/* Creates and locks 'path' and writes our pid, as QEMU's -pidfile. */
static void pidfile_write(const char *path)
{
    g_autofree char *pid = g_strdup_printf("%d\n", (int)getpid());
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);

    if (fd < 0) {
        die("-pidfile %s: cannot open: %s", path, g_strerror(errno));
    }
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        die("-pidfile %s: cannot lock: %s (is another instance running?)",
            path, g_strerror(errno));
    }
    if (ftruncate(fd, 0) < 0 ||
        write(fd, pid, strlen(pid)) != (ssize_t)strlen(pid)) {
        die("-pidfile %s: cannot write: %s", path, g_strerror(errno));
    }
    pidfile_fd = fd;
    pidfile_path = g_canonicalize_filename(path, NULL);
}

static void pidfile_remove(void)
{
    if (pidfile_fd >= 0) {
        unlink(pidfile_path);
        close(pidfile_fd);
        pidfile_fd = -1;
    }
    g_clear_pointer(&pidfile_path, g_free);
}

/* Tells systemd (Type=notify, NOTIFY_SOCKET) how start-up and shutdown
 * go: "READY=1", "STOPPING=1", "STATUS=...".  Without libsystemd, or
 * when not started by systemd, nothing is sent. */
static void service_notify(const char *state)
{
#ifdef CONFIG_LIBSYSTEMD
    const char *sock = g_getenv("NOTIFY_SOCKET");
    int r;

    if (!sock || !*sock) {
        return;               /* not a Type=notify service */
    }
    r = sd_notify(0, state);
    if (r < 0) {
        g_warning("sd_notify to NOTIFY_SOCKET=%s: %s", sock, g_strerror(-r));
    }
#else
    (void)state;
#endif
}

/* "unix:PATH" or "tcp:HOST:PORT" where a netdev or device with
 * server=on (stream, socket listen=) listens, read through the
 * properties every such type has; NULL for the others. */
static char *netdev_listen_addr(UserObject *obj)
{
    g_autofree char *server = user_object_get_str(obj, "server", NULL);
    g_autofree char *listen = user_object_get_str(obj, "listen", NULL);
    g_autofree char *type = NULL;

    if (listen && *listen) {
        return g_strdup_printf("tcp:%s", listen);
    }
    if (!server || (strcmp(server, "on") != 0 && strcmp(server, "true") != 0)) {
        return NULL;
    }
    type = user_object_get_str(obj, "addr.type", NULL);
    if (type && strcmp(type, "unix") == 0) {
        g_autofree char *path = user_object_get_str(obj, "addr.path", NULL);

        return g_strdup_printf("unix:%s", path ? path : "?");
    }
    if (type && strcmp(type, "inet") == 0) {
        g_autofree char *host = user_object_get_str(obj, "addr.host", NULL);
        g_autofree char *port = user_object_get_str(obj, "addr.port", NULL);

        return g_strdup_printf("tcp:%s:%s", host ? host : "",
                               port ? port : "?");
    }
    return NULL;
}

/* The one line that says start-up finished and what listens where: the
 * QMP monitors, every chardev (a server's address, or whom a client
 * chardev reaches) and the listening stream/socket netdevs and devices.
 * Also systemd's READY=1 with the same text as STATUS=: at this point
 * the QMP sockets listen and every object of the command line exists,
 * so whatever is ordered after the unit can use them. */
static void announce_ready(Cmdline *cl)
{
    g_autoptr(GString) where = g_string_new(NULL);
    g_autofree char *status = NULL;
    GList *list = user_object_list(OBJECT_KIND_CHARDEV);
    guint n_objects = 0;

    for (guint i = 0; i < cl->qmp->len; i++) {
        g_string_append_printf(where, "%sQMP on %s", where->len ? "; " : "",
                               (const char *)cl->qmp->pdata[i]);
    }
    for (GList *l = list; l; l = l->next) {
        Chardev *chr = CHARDEV_BASE(l->data);
        ChardevClass *cc = CHARDEV_BASE_GET_CLASS(chr);
        g_autofree char *name = cc->filename ? cc->filename(chr) : NULL;

        g_string_append_printf(where, "%schardev %s on %s",
                               where->len ? "; " : "",
                               user_object_get_id(USER_OBJECT(chr)),
                               name ? name : "?");
    }
    g_list_free(list);
    for (ObjectKind k = OBJECT_KIND_NETDEV; k <= OBJECT_KIND_DEVICE; k++) {
        GList *ports = user_object_list(k);

        for (GList *l = ports; l; l = l->next) {
            g_autofree char *addr = netdev_listen_addr(l->data);

            if (addr) {
                g_string_append_printf(where, "%s%s %s on %s",
                                       where->len ? "; " : "",
                                       object_kind_name(k),
                                       user_object_get_id(l->data), addr);
            }
        }
        g_list_free(ports);
    }
    for (ObjectKind k = 0; k < OBJECT_KIND__MAX; k++) {
        GList *objs = user_object_list(k);

        n_objects += g_list_length(objs);
        g_list_free(objs);
    }
    g_message("ready: %u objects; %s", n_objects,
              where->len ? where->str : "nothing listens");
    status = g_strdup_printf("READY=1\nSTATUS=ready: %u objects; %s",
                             n_objects,
                             where->len ? where->str : "nothing listens");
    service_notify(status);
}

static void pidfile_remove_atexit(void)
{
    pidfile_remove();
}

int main(int argc, char **argv)
{
    Cmdline cl = {
        .objects = g_ptr_array_new_with_free_func(cmdline_object_free),
        .qmp = g_ptr_array_new_with_free_func(g_free),
    };
    g_autoptr(GError) err = NULL;

    /* "quit" (monitor/) asks through this hook: the layers below system/
     * never name main's functions. */
    shutdown_set_handler(qemu_system_shutdown_request);
    parse_cmdline(argc, argv, &cl);

    if (cl.daemonize) {
        for (guint i = 0; i < cl.qmp->len; i++) {
            if (strcmp(cl.qmp->pdata[i], "stdio") == 0) {
                die("-qmp stdio cannot be used with -daemonize");
            }
        }
        daemonize_start();
    }
    if (!log_init(cl.logfile, FALSE, &err)) {
        die("-D %s: %s", cl.logfile, err->message);
    }
    if (cl.log_items && !colo_log_enable_items(cl.log_items, &err)) {
        die("-d %s: %s", cl.log_items, err->message);
    }
    if (cl.pidfile) {
        pidfile_write(cl.pidfile);
        atexit(pidfile_remove_atexit);   /* also when start-up fails */
    }

    /* A peer closing a socket must not kill the process. */
    signal(SIGPIPE, SIG_IGN);
    g_unix_signal_add(SIGTERM, on_signal, GINT_TO_POINTER(SIGTERM));
    g_unix_signal_add(SIGINT, on_signal, GINT_TO_POINTER(SIGINT));
    g_unix_signal_add(SIGHUP, on_signal, GINT_TO_POINTER(SIGHUP));

    if (cl.name) {
        g_info("guest name: %s", cl.name);
    }

    create_objects(&cl, OBJECT_KIND_OBJECT, OBJECTS_EARLY);
    create_objects(&cl, OBJECT_KIND_CHARDEV, -1);
    for (guint i = 0; i < cl.qmp->len; i++) {
        if (!monitor_qmp_open(cl.qmp->pdata[i], &err)) {
            die("-qmp %s: %s", (const char *)cl.qmp->pdata[i], err->message);
        }
    }
    create_objects(&cl, OBJECT_KIND_OBJECT, FALSE);
    create_objects(&cl, OBJECT_KIND_NETDEV, -1);
    create_objects(&cl, OBJECT_KIND_DEVICE, -1);
    create_objects(&cl, OBJECT_KIND_OBJECT, TRUE);

    /* systemctl status shows this while a wait=on chardev holds start-up */
    service_notify("STATUS=objects created; waiting for the clients of "
                   "wait=on chardevs, if any");
    chardev_wait_for_clients();
    daemonize_finish();
    announce_ready(&cl);

    while (!g_atomic_int_get(&shutdown_requested)) {
        g_main_context_iteration(NULL, TRUE);
    }

    g_debug("shutting down");
    service_notify("STOPPING=1\nSTATUS=shutting down");
    emit_shutdown_event();
    user_object_delete_all();
    monitor_qmp_close_all();
    pidfile_remove();
    g_ptr_array_unref(cl.objects);
    g_ptr_array_unref(cl.qmp);
    g_free(cl.name);
    g_free(cl.pidfile);
    g_free(cl.logfile);
    g_free(cl.log_items);
    return 0;
}
