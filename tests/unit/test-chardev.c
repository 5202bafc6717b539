/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tests/unit/test-chardev.c - unit tests of chardev/char.c and
 * chardev/char-socket.c.
 *
 * Server and client chardevs are created in-process, as -chardev does, and
 * talk over unix and tcp (IPv4 and IPv6 loopback) sockets while the test
 * iterates the main context.  Frontends speak QEMU's framing with
 * net/link-framing.c, so the tests check what COLO relies on: frames arrive whole
 * and in order, the output buffer is bounded and refuses whole messages,
 * a lost connection comes back (reconnect, a server accepting the next
 * client) without a stale half frame, I/O can move to a context run by
 * another thread, and a chardev in use cannot be removed.
 */
#include <check.h>
#include <errno.h>
#include <dirent.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "check-main.h"
#include "chardev/char.h"
#include "net/link-framing.h"
#include "util/error.h"
#include "util/stats.h"
#include "test-loop.h"

#define WAIT_MS 5000

/* --- helpers ------------------------------------------------------------- */

static Chardev *chr_new(const char *opts)
{
    GError *err = NULL;
    UserObject *obj = user_object_create_from_opts(OBJECT_KIND_CHARDEV, opts,
                                                   NULL, &err);

    ck_assert_msg(obj != NULL, "%s: %s", opts, err ? err->message : "?");
    return CHARDEV_BASE(obj);
}

/* Returns the creation error of 'opts' (the chardev must fail). */
static char *chr_new_err(const char *opts)
{
    GError *err = NULL;
    UserObject *obj = user_object_create_from_opts(OBJECT_KIND_CHARDEV, opts,
                                                   NULL, &err);
    char *msg;

    ck_assert_msg(obj == NULL, "%s unexpectedly succeeded", opts);
    ck_assert_ptr_nonnull(err);
    msg = g_strdup(err->message);
    g_error_free(err);
    return msg;
}

static char *chr_filename(Chardev *chr)
{
    return CHARDEV_BASE_GET_CLASS(chr)->filename(chr);
}

/* The port of "...:PORT,server=on" / "...:PORT". */
static guint chr_port(Chardev *chr)
{
    g_autofree char *fn = chr_filename(chr);
    const char *comma = strchr(fn, ',');
    g_autofree char *head = g_strndup(fn, comma ? (gsize)(comma - fn)
                                                : strlen(fn));
    const char *colon = strrchr(head, ':');

    ck_assert_ptr_nonnull(colon);
    return (guint)atoi(colon + 1);
}

static gboolean have_ipv6(void)
{
    struct sockaddr_in6 sa = { .sin6_family = AF_INET6,
                               .sin6_addr = IN6ADDR_LOOPBACK_INIT };
    int fd = socket(AF_INET6, SOCK_STREAM, 0);
    gboolean ok;

    if (fd < 0) {
        return FALSE;
    }
    ok = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
    close(fd);
    return ok;
}

static int raw_connect_tcp(guint port)
{
    struct sockaddr_in sa = { .sin_family = AF_INET,
                              .sin_port = htons(port),
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    return fd;
}

static void raw_write_all(int fd, const void *buf, size_t len)
{
    const uint8_t *p = buf;

    while (len) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

        ck_assert_int_gt(n, 0);
        p += n;
        len -= n;
    }
}

/* A frontend that reassembles frames and records what happened.  Counters
 * are atomic: in the thread test they are bumped in another thread. */
typedef struct Peer {
    CharFrontend fe;
    LinkReader fr;
    gint opened;
    gint closed;
    gint writable;
    gint frames;
    gint frame_errors;
    gint wrong_thread;
    GMainContext *home;       /* callbacks must run in this context */
    GByteArray *payloads;     /* concatenated frame payloads */
    gboolean echo;            /* write every frame back */
} Peer;

static void peer_on_frame(void *opaque, const uint8_t *buf, uint32_t len,
                          uint32_t vnet)
{
    Peer *p = opaque;

    g_byte_array_append(p->payloads, buf, len);
    if (p->echo) {
        uint8_t hdr[LINK_HDR_MAX];
        struct iovec iov[2] = {
            { hdr, link_header(hdr, len, false, 0) },
            { (void *)buf, len },
        };

        ck_assert_int_eq(chr_fe_write(&p->fe, iov, 2), len + 4);
    }
    g_atomic_int_inc(&p->frames);
}

static void peer_on_read(void *opaque, const uint8_t *buf, size_t len)
{
    Peer *p = opaque;
    GError *err = NULL;

    GMainContext *home = g_atomic_pointer_get(&p->home);

    if (home && !g_main_context_is_owner(home)) {
        g_atomic_int_inc(&p->wrong_thread);
    }
    if (link_reader_feed(&p->fr, buf, len, peer_on_frame, p, &err) !=
        LINK_OK) {
        g_atomic_int_inc(&p->frame_errors);
        g_error_free(err);
        chr_fe_disconnect(&p->fe);
    }
}

static void peer_on_event(void *opaque, ChrEvent ev)
{
    Peer *p = opaque;

    GMainContext *home = g_atomic_pointer_get(&p->home);

    if (home && !g_main_context_is_owner(home)) {
        g_atomic_int_inc(&p->wrong_thread);
    }
    if (ev == CHR_EVENT_OPENED) {
        g_atomic_int_inc(&p->opened);
    } else {
        /* No half frame survives into the next connection. */
        link_reader_reset(&p->fr);
        g_atomic_int_inc(&p->closed);
    }
}

static void peer_on_writable(void *opaque)
{
    Peer *p = opaque;

    g_atomic_int_inc(&p->writable);
}

static void peer_init(Peer *p, const char *chr_id, const char *user,
                      GMainContext *ctx)
{
    GError *err = NULL;

    memset(p, 0, sizeof(*p));
    link_reader_init(&p->fr, false, 0);
    p->payloads = g_byte_array_new();
    p->home = ctx ? ctx : g_main_context_default();
    ck_assert_msg(chr_fe_init(&p->fe, chr_id, user, &err), "%s",
                  err ? err->message : "");
    chr_fe_set_handlers(&p->fe, peer_on_read, peer_on_event,
                        peer_on_writable, p, ctx);
}

static void peer_destroy(Peer *p)
{
    chr_fe_deinit(&p->fe);
    link_reader_destroy(&p->fr);
    g_byte_array_unref(p->payloads);
}

/* Writes one frame of 'len' bytes (seed + i); returns chr_fe_write's
 * result. */
static gssize peer_send(Peer *p, uint32_t len, uint8_t seed)
{
    static uint8_t buf[LINK_MAX_LEN_DEFAULT];
    uint8_t hdr[LINK_HDR_MAX];
    struct iovec iov[2];

    for (uint32_t i = 0; i < len; i++) {
        buf[i] = (uint8_t)(seed + i);
    }
    iov[0].iov_base = hdr;
    iov[0].iov_len = link_header(hdr, len, false, 0);
    iov[1].iov_base = buf;
    iov[1].iov_len = len;
    return chr_fe_write(&p->fe, iov, 2);
}

static gboolean payload_ok(GByteArray *ba, size_t off, uint32_t len,
                           uint8_t seed)
{
    if (off + len > ba->len) {
        return FALSE;
    }
    for (uint32_t i = 0; i < len; i++) {
        if (ba->data[off + i] != (uint8_t)(seed + i)) {
            return FALSE;
        }
    }
    return TRUE;
}

/* Exchanges frames both ways between two connected peers. */
static void exchange(Peer *a, Peer *b)
{
    static const uint32_t lens[] = { 1, 60, 1514, 9000, 65535, 69632 };
    size_t off = 0;

    g_byte_array_set_size(a->payloads, 0);
    g_byte_array_set_size(b->payloads, 0);
    g_atomic_int_set(&a->frames, 0);
    g_atomic_int_set(&b->frames, 0);
    for (guint i = 0; i < G_N_ELEMENTS(lens); i++) {
        ck_assert_int_eq(peer_send(a, lens[i], i), lens[i] + 4);
    }
    WAIT_FOR(g_atomic_int_get(&b->frames) == G_N_ELEMENTS(lens), WAIT_MS);
    for (guint i = 0; i < G_N_ELEMENTS(lens); i++) {
        ck_assert(payload_ok(b->payloads, off, lens[i], i));
        off += lens[i];
    }
    ck_assert_int_eq(peer_send(b, 77, 7), 81);
    WAIT_FOR(g_atomic_int_get(&a->frames) == 1, WAIT_MS);
    ck_assert(payload_ok(a->payloads, 0, 77, 7));
}

/* Creates server "srv" and client "cli" ("{port}" in 'cli_fmt' becomes
 * the server's port) from the given options, attaches
 * peers to both and waits until both saw OPENED. */
static void pair_up(Peer *srv, Peer *cli, const char *srv_opts,
                    const char *cli_fmt)
{
    Chardev *s = chr_new(srv_opts);
    g_autofree char *cli_opts = NULL;
    const char *at = strstr(cli_fmt, "{port}");

    if (at) {
        cli_opts = g_strdup_printf("%.*s%u%s", (int)(at - cli_fmt), cli_fmt,
                                   chr_port(s), at + strlen("{port}"));
    } else {
        cli_opts = g_strdup(cli_fmt);
    }

    chr_new(cli_opts);
    peer_init(srv, "srv", "srv-user", NULL);
    peer_init(cli, "cli", "cli-user", NULL);
    WAIT_FOR(g_atomic_int_get(&srv->opened) == 1 &&
             g_atomic_int_get(&cli->opened) == 1, WAIT_MS);
    ck_assert(chr_fe_is_connected(&srv->fe));
    ck_assert(chr_fe_is_connected(&cli->fe));
}

/* TCP_NODELAY of every connected TCP socket of this process whose local or
 * peer port is 'port' (both ends of a chardev pair live here): counts the
 * sockets with it set in *on and without in *off. */
static void nodelay_count(guint port, int *on, int *off)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;

    *on = *off = 0;
    ck_assert_ptr_nonnull(d);
    while ((e = readdir(d))) {
        int fd = atoi(e->d_name);
        struct sockaddr_storage a, b;
        socklen_t al = sizeof(a), bl = sizeof(b), vl;
        int v = 0, type = 0;

        vl = sizeof(type);
        if (e->d_name[0] == '.' || fd == dirfd(d) ||
            getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &vl) < 0 ||
            type != SOCK_STREAM ||
            getsockname(fd, (struct sockaddr *)&a, &al) < 0 ||
            getpeername(fd, (struct sockaddr *)&b, &bl) < 0 ||
            a.ss_family != AF_INET) {
            continue;
        }
        if (ntohs(((struct sockaddr_in *)&a)->sin_port) != port &&
            ntohs(((struct sockaddr_in *)&b)->sin_port) != port) {
            continue;
        }
        vl = sizeof(v);
        ck_assert_int_eq(getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &v, &vl),
                         0);
        (*(v ? on : off))++;
    }
    closedir(d);
}

static void teardown_all(Peer *a, Peer *b)
{
    peer_destroy(a);
    peer_destroy(b);
    user_object_delete_all();
}

static char *tmp_dir(void)
{
    GError *err = NULL;
    char *d = g_dir_make_tmp("test-chardev-XXXXXX", &err);

    ck_assert_ptr_nonnull(d);
    return d;
}

/* --- tests -------------------------------------------------------------- */

START_TEST(test_unix_pair)
{
    g_autofree char *dir = tmp_dir();
    g_autofree char *path = g_build_filename(dir, "sock", NULL);
    g_autofree char *so = g_strdup_printf("socket,id=srv,path=%s,server=on,"
                                          "wait=off", path);
    g_autofree char *co = g_strdup_printf("socket,id=cli,path=%s", path);
    g_autofree char *fn = NULL, *want = NULL;
    Peer srv, cli;

    pair_up(&srv, &cli, so, co);
    fn = chr_filename(srv.fe.chr);
    want = g_strdup_printf("unix:%s,server=on", path);
    ck_assert_str_eq(fn, want);
    exchange(&cli, &srv);
    ck_assert_uint_eq(stats_read(&chardev_get_stats(srv.fe.chr)->connects),
                      1);
    ck_assert_uint_gt(stats_read(&chardev_get_stats(srv.fe.chr)->bytes_in),
                      0);
    teardown_all(&srv, &cli);
    /* The server removed its socket file. */
    ck_assert(!g_file_test(path, G_FILE_TEST_EXISTS));
    rmdir(dir);
}
END_TEST

START_TEST(test_unix_abstract)
{
    g_autofree char *name = g_strdup_printf("colo-test-chardev-%d", getpid());
    g_autofree char *so = g_strdup_printf("socket,id=srv,path=%s,abstract=on,"
                                          "server=on,wait=off", name);
    g_autofree char *co = g_strdup_printf("socket,id=cli,path=%s,abstract=on",
                                          name);
    Peer srv, cli;

    pair_up(&srv, &cli, so, co);
    exchange(&srv, &cli);
    teardown_all(&srv, &cli);
}
END_TEST

START_TEST(test_tcp_v4_pair)
{
    Peer srv, cli;
    g_autofree char *sfn = NULL, *cfn = NULL, *expect = NULL, *tail = NULL;
    Chardev *s;
    guint port;

    s = chr_new("socket,id=srv,host=127.0.0.1,port=0,server=on,wait=off");
    port = chr_port(s);
    {
        g_autofree char *fn = chr_filename(s);
        g_autofree char *want =
            g_strdup_printf("disconnected:tcp:127.0.0.1:%u,server=on", port);

        ck_assert_str_eq(fn, want);
    }
    {
        g_autofree char *co =
            g_strdup_printf("socket,id=cli,host=127.0.0.1,port=%u,nodelay=on",
                            port);
        chr_new(co);
    }
    peer_init(&srv, "srv", "srv-user", NULL);
    peer_init(&cli, "cli", "cli-user", NULL);
    WAIT_FOR(srv.opened == 1 && cli.opened == 1, WAIT_MS);
    sfn = chr_filename(srv.fe.chr);
    cfn = chr_filename(cli.fe.chr);
    expect = g_strdup_printf("tcp:127.0.0.1:%u<->127.0.0.1:", port);
    ck_assert_msg(g_str_has_prefix(sfn, expect) &&
                  g_str_has_suffix(sfn, ",server=on"), "%s", sfn);
    tail = g_strdup_printf("<->127.0.0.1:%u", port);
    ck_assert_msg(g_str_has_prefix(cfn, "tcp:127.0.0.1:") &&
                  g_str_has_suffix(cfn, tail), "%s", cfn);
    exchange(&cli, &srv);
    exchange(&srv, &cli);
    teardown_all(&srv, &cli);
}
END_TEST

START_TEST(test_tcp_v6_pair)
{
    Peer srv, cli;
    g_autofree char *sfn = NULL;

    if (!have_ipv6()) {
        return;               /* no IPv6 loopback here */
    }
    pair_up(&srv, &cli, "socket,id=srv,host=::1,port=0,server=on,wait=off",
            "socket,id=cli,host=::1,port={port}");
    sfn = chr_filename(srv.fe.chr);
    ck_assert_msg(g_str_has_prefix(sfn, "tcp:[::1]:"), "%s", sfn);
    exchange(&cli, &srv);
    teardown_all(&srv, &cli);
}
END_TEST

/* Nagle is off on both ends of a TCP chardev unless asked for: with it, a
 * frame written right after another one waited for the peer's delayed ACK
 * (up to ~40 ms) once frames looked full-sized to the peer's kernel
 * (docs/devel/latency.md). */
START_TEST(test_tcp_nodelay_default)
{
    Peer srv, cli;
    int on, off;

    pair_up(&srv, &cli, "socket,id=srv,host=127.0.0.1,port=0,server=on,wait=off",
            "socket,id=cli,host=127.0.0.1,port={port}");
    nodelay_count(chr_port(srv.fe.chr), &on, &off);
    ck_assert_int_eq(on, 2);        /* the accepted and the client socket */
    ck_assert_int_eq(off, 0);
    teardown_all(&srv, &cli);

    pair_up(&srv, &cli,
            "socket,id=srv,host=127.0.0.1,port=0,server=on,wait=off,nodelay=off",
            "socket,id=cli,host=127.0.0.1,port={port},nodelay=off");
    nodelay_count(chr_port(srv.fe.chr), &on, &off);
    ck_assert_int_eq(on, 0);
    ck_assert_int_eq(off, 2);
    teardown_all(&srv, &cli);
}
END_TEST

/* "::" is dual-stack: an IPv4 client reaches it; "localhost" listens on
 * both loopbacks. */
START_TEST(test_tcp_any_and_localhost)
{
    Peer srv, cli;

    if (!have_ipv6()) {
        return;
    }
    pair_up(&srv, &cli, "socket,id=srv,host=::,port=0,server=on,wait=off",
            "socket,id=cli,host=127.0.0.1,port={port}");
    exchange(&cli, &srv);
    teardown_all(&srv, &cli);

    pair_up(&srv, &cli,
            "socket,id=srv,host=localhost,port=0,server=on,wait=off",
            "socket,id=cli,host=localhost,port={port}");
    exchange(&cli, &srv);
    teardown_all(&srv, &cli);
}
END_TEST

START_TEST(test_option_errors)
{
    g_autofree char *e1 = NULL, *e2 = NULL, *e3 = NULL, *e4 = NULL;
    g_autofree char *e5 = NULL, *opts = NULL, *want = NULL;
    int fd;
    struct sockaddr_in sa = { .sin_family = AF_INET,
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof(sa);
    guint port;

    e1 = chr_new_err("socket,id=a,host=127.0.0.1,port=1,server=on,"
                     "reconnect=1");
    ck_assert_str_eq(e1, "'reconnect' option is incompatible with socket in "
                     "server listen mode");
    e2 = chr_new_err("socket,id=a,host=127.0.0.1,port=1,wait=off");
    ck_assert_str_eq(e2, "'wait' option is incompatible with socket in "
                     "client connect mode");
    e3 = chr_new_err("socket,id=a,host=127.0.0.1");
    ck_assert_str_eq(e3, "chardev: socket: no port given");

    /* A free port nobody listens on: connection refused, as QEMU. */
    fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    getsockname(fd, (struct sockaddr *)&sa, &len);
    port = ntohs(sa.sin_port);
    close(fd);
    opts = g_strdup_printf("socket,id=a,host=127.0.0.1,port=%u", port);
    e4 = chr_new_err(opts);
    want = g_strdup_printf("Failed to connect to '127.0.0.1:%u': "
                           "Connection refused", port);
    ck_assert_str_eq(e4, want);
    ck_assert_ptr_null(user_object_find(OBJECT_KIND_CHARDEV, "a"));

    /* A port in use. */
    {
        Chardev *s = chr_new("socket,id=b,host=127.0.0.1,port=0,server=on,"
                             "wait=off");
        g_autofree char *o2 =
            g_strdup_printf("socket,id=c,host=127.0.0.1,port=%u,server=on,"
                            "wait=off", chr_port(s));

        e5 = chr_new_err(o2);
        ck_assert_msg(strstr(e5, "Address already in use"), "%s", e5);
    }
    user_object_delete_all();
}
END_TEST

/* to=: the first free port of the range is taken. */
START_TEST(test_port_range)
{
    Chardev *a = chr_new("socket,id=a,host=127.0.0.1,port=0,server=on,"
                         "wait=off");
    guint pa = chr_port(a);
    g_autofree char *ob = NULL, *oc = NULL, *err = NULL;
    Chardev *b;

    ob = g_strdup_printf("socket,id=b,host=127.0.0.1,port=%u,to=%u,"
                         "server=on,wait=off", pa, pa + 20);
    b = chr_new(ob);
    ck_assert_uint_gt(chr_port(b), pa);
    ck_assert_uint_le(chr_port(b), pa + 20);
    oc = g_strdup_printf("socket,id=c,host=127.0.0.1,port=%u,to=%u,"
                         "server=on,wait=off", pa, pa);
    err = chr_new_err(oc);
    ck_assert_msg(strstr(err, "Failed to find an available port"), "%s", err);
    user_object_delete_all();
}
END_TEST

START_TEST(test_in_use_cannot_delete)
{
    CharFrontend fe, fe2;
    GError *err = NULL;

    chr_new("socket,id=c0,host=127.0.0.1,port=0,server=on,wait=off");
    ck_assert(!chr_fe_init(&fe, "nope", "m0", &err));
    ck_assert(g_error_matches(err, UTIL_ERROR, UTIL_ERROR_DEVICE_NOT_FOUND));
    ck_assert_str_eq(err->message, "Device 'nope' not found");
    g_clear_error(&err);

    ck_assert(chr_fe_init(&fe, "c0", "m0", &err));
    ck_assert_str_eq(chr_fe_get_id(&fe), "c0");
    ck_assert_str_eq(chardev_get_user(fe.chr), "m0");
    ck_assert(!chr_fe_init(&fe2, "c0", "m1", &err));
    ck_assert_str_eq(err->message, "chardev 'c0' is already in use by 'm0'");
    g_clear_error(&err);

    ck_assert(!user_object_delete(OBJECT_KIND_CHARDEV, "c0", &err));
    ck_assert_msg(strstr(err->message, "in use by 'm0'"), "%s", err->message);
    g_clear_error(&err);

    chr_fe_deinit(&fe);
    chr_fe_deinit(&fe);                 /* released twice: harmless */
    ck_assert_ptr_null(fe.chr);
    ck_assert_ptr_null(chardev_get_user(
        CHARDEV_BASE(user_object_find(OBJECT_KIND_CHARDEV, "c0"))));
    ck_assert(user_object_delete(OBJECT_KIND_CHARDEV, "c0", &err));
    ck_assert_ptr_null(user_object_find(OBJECT_KIND_CHARDEV, "c0"));
}
END_TEST

START_TEST(test_write_unconnected)
{
    Chardev *s = chr_new("socket,id=srv,host=127.0.0.1,port=0,server=on,"
                         "wait=off");
    Peer p;

    peer_init(&p, "srv", "u", NULL);
    ck_assert(!chr_fe_is_connected(&p.fe));
    ck_assert_int_eq(peer_send(&p, 10, 0), -ENOTCONN);
    ck_assert_int_eq(peer_send(&p, 10, 0), -ENOTCONN);
    ck_assert_uint_eq(stats_read(&chardev_get_stats(s)->writes_unconnected),
                      2);
    peer_destroy(&p);
    user_object_delete_all();
}
END_TEST

/* chr_fe_flush() sends what is queued at once, without a loop iteration;
 * on a frontend without a connection, or without a chardev, it does
 * nothing. */
START_TEST(test_flush_now)
{
    Peer srv, cli;
    CharFrontend none = { 0 };
    ChardevStats *st;

    pair_up(&srv, &cli, "socket,id=srv,host=127.0.0.1,port=0,server=on,"
            "wait=off", "socket,id=cli,host=127.0.0.1,port={port}");
    st = chardev_get_stats(srv.fe.chr);
    ck_assert_int_eq(peer_send(&srv, 100, 3), 104);
    ck_assert_uint_eq(chr_fe_out_queued(&srv.fe), 104);
    ck_assert_uint_eq(stats_read(&st->bytes_out), 0);
    chr_fe_flush(&srv.fe);
    ck_assert_uint_eq(chr_fe_out_queued(&srv.fe), 0);
    ck_assert_uint_eq(stats_read(&st->bytes_out), 104);
    chr_fe_flush(&srv.fe);                  /* nothing queued: no-op */
    WAIT_FOR(g_atomic_int_get(&cli.frames) == 1, WAIT_MS);
    ck_assert(payload_ok(cli.payloads, 0, 100, 3));
    chr_fe_flush(&none);
    teardown_all(&srv, &cli);
}
END_TEST

/* The peer does not read: writes are refused whole once out-buffer-size
 * is queued, memory stays bounded, and everything accepted arrives intact
 * once the peer reads again. */
START_TEST(test_out_buffer_bound)
{
    const uint32_t flen = 8192;
    Peer srv, cli;
    ChardevStats *st;
    int accepted = 0, refused = 0;

    pair_up(&srv, &cli, "socket,id=srv,host=127.0.0.1,port=0,server=on,"
            "wait=off", "socket,id=cli,host=127.0.0.1,port={port},"
            "out-buffer-size=131072");
    chr_fe_set_read_paused(&srv.fe, TRUE);
    st = chardev_get_stats(cli.fe.chr);

    /* Fill the kernel buffers and ours until refusals persist. */
    for (int i = 0; i < 200000 && refused < 50; i++) {
        gssize r = peer_send(&cli, flen, accepted);

        if (r == -EAGAIN) {
            refused++;
            g_main_context_iteration(NULL, FALSE);
        } else {
            ck_assert_int_eq(r, flen + 4);
            accepted++;
        }
        ck_assert_uint_le(chr_fe_out_queued(&cli.fe), 131072);
    }
    ck_assert_int_eq(refused, 50);
    ck_assert_uint_eq(stats_read(&st->writes_refused), 50);
    ck_assert_uint_gt(chr_fe_out_queued(&cli.fe), 131072 - flen - 4);
    ck_assert_int_eq(cli.writable, 0);

    /* Resume: the buffer drains, the writer is told, nothing is torn. */
    chr_fe_set_read_paused(&srv.fe, FALSE);
    WAIT_FOR(srv.frames == accepted, 20000);
    ck_assert_int_eq(srv.frame_errors, 0);
    ck_assert_int_ge(cli.writable, 1);
    ck_assert_uint_eq(chr_fe_out_queued(&cli.fe), 0);
    for (int i = 0; i < accepted; i++) {
        ck_assert(payload_ok(srv.payloads, (size_t)i * flen, flen, i));
    }
    ck_assert_uint_eq(stats_read(&st->bytes_out),
                      (uint64_t)accepted * (flen + 4));
    teardown_all(&srv, &cli);
}
END_TEST

/* The server drops the connection; the client (reconnect=1) comes back and
 * frames flow again.  The output buffer of the dead connection is gone. */
START_TEST(test_reconnect)
{
    Peer srv, cli;
    ChardevStats *cst;

    pair_up(&srv, &cli, "socket,id=srv,host=127.0.0.1,port=0,server=on,"
            "wait=off", "socket,id=cli,host=127.0.0.1,port={port},reconnect=1");
    cst = chardev_get_stats(cli.fe.chr);
    exchange(&cli, &srv);

    chr_fe_disconnect(&srv.fe);
    ck_assert(!chr_fe_is_connected(&srv.fe));
    WAIT_FOR(srv.closed == 1 && cli.closed == 1, WAIT_MS);
    ck_assert_int_eq(peer_send(&cli, 10, 0), -ENOTCONN);
    WAIT_FOR(srv.opened == 2 && cli.opened == 2, WAIT_MS);
    ck_assert_uint_eq(stats_read(&cst->connects), 2);
    ck_assert_uint_eq(stats_read(&cst->disconnects), 1);
    ck_assert_uint_eq(stats_read(&cst->writes_unconnected), 1);

    exchange(&cli, &srv);
    teardown_all(&srv, &cli);
}
END_TEST

/* A client that cannot connect keeps retrying (reconnect-ms) and gets
 * there once the server appears. */
START_TEST(test_reconnect_late_server)
{
    Chardev *probe = chr_new("socket,id=probe,host=127.0.0.1,port=0,"
                             "server=on,wait=off");
    guint port = chr_port(probe);
    g_autofree char *co = NULL, *so = NULL;
    Peer srv, cli;

    user_object_delete(OBJECT_KIND_CHARDEV, "probe", NULL);
    co = g_strdup_printf("socket,id=cli,host=127.0.0.1,port=%u,"
                         "reconnect-ms=50", port);
    chr_new(co);
    peer_init(&cli, "cli", "cli-user", NULL);
    spin(200);
    ck_assert_int_eq(cli.opened, 0);
    ck_assert_int_eq(peer_send(&cli, 10, 0), -ENOTCONN);
    so = g_strdup_printf("socket,id=srv,host=127.0.0.1,port=%u,server=on,"
                         "wait=off", port);
    chr_new(so);
    peer_init(&srv, "srv", "srv-user", NULL);
    WAIT_FOR(srv.opened == 1 && cli.opened == 1, WAIT_MS);
    exchange(&cli, &srv);
    teardown_all(&srv, &cli);
}
END_TEST

/* One client at a time: the second waits in the backlog and is served,
 * with its queued bytes, after the first leaves; the first one's half
 * frame does not leak into the second one's stream. */
START_TEST(test_server_second_client)
{
    Chardev *s = chr_new("socket,id=srv,host=127.0.0.1,port=0,server=on,"
                         "wait=off");
    guint port = chr_port(s);
    uint8_t hdr[LINK_HDR_MAX], data[100];
    Peer srv;
    int a, b;

    peer_init(&srv, "srv", "srv-user", NULL);
    a = raw_connect_tcp(port);
    WAIT_FOR(srv.opened == 1, WAIT_MS);

    b = raw_connect_tcp(port);      /* completes into the backlog */
    for (int i = 0; i < 100; i++) {
        data[i] = (uint8_t)(0x40 + i);
    }
    raw_write_all(b, hdr, link_header(hdr, 100, false, 0));
    raw_write_all(b, data, 100);
    spin(100);
    ck_assert_int_eq(srv.opened, 1);
    ck_assert_int_eq(srv.frames, 0);

    /* A leaves after half a frame. */
    raw_write_all(a, hdr, link_header(hdr, 100, false, 0));
    raw_write_all(a, data, 30);
    spin(50);
    close(a);
    WAIT_FOR(srv.closed == 1 && srv.opened == 2, WAIT_MS);
    WAIT_FOR(srv.frames == 1, WAIT_MS);
    ck_assert_int_eq(srv.frame_errors, 0);
    ck_assert(payload_ok(srv.payloads, 0, 100, 0x40));
    ck_assert_uint_eq(stats_read(&chardev_get_stats(s)->connects), 2);
    close(b);
    WAIT_FOR(srv.closed == 2, WAIT_MS);
    peer_destroy(&srv);
    user_object_delete_all();
}
END_TEST

/* Garbage on the link: the frontend drops the connection and the server
 * takes the next client cleanly. */
START_TEST(test_garbage_then_clean_client)
{
    Chardev *s = chr_new("socket,id=srv,host=127.0.0.1,port=0,server=on,"
                         "wait=off");
    guint port = chr_port(s);
    uint8_t hdr[LINK_HDR_MAX], data[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
    Peer srv;
    int a, b;

    peer_init(&srv, "srv", "srv-user", NULL);
    a = raw_connect_tcp(port);
    raw_write_all(a, "GET / HTTP/1.1\r\n\r\n", 18);
    WAIT_FOR(srv.frame_errors == 1 && srv.closed == 1, WAIT_MS);
    close(a);
    b = raw_connect_tcp(port);
    raw_write_all(b, hdr, link_header(hdr, 8, false, 0));
    raw_write_all(b, data, 8);
    WAIT_FOR(srv.frames == 1, WAIT_MS);
    ck_assert_mem_eq(srv.payloads->data, data, 8);
    close(b);
    peer_destroy(&srv);
    user_object_delete_all();
}
END_TEST

/* Without a frontend nothing is read, but a peer leaving is noticed and a
 * server listens again. */
START_TEST(test_no_frontend_peer_leaves)
{
    Chardev *s = chr_new("socket,id=srv,host=127.0.0.1,port=0,server=on,"
                         "wait=off");
    ChardevStats *st = chardev_get_stats(s);
    int a, b;

    a = raw_connect_tcp(chr_port(s));
    raw_write_all(a, "abc", 3);
    WAIT_FOR(stats_read(&st->connects) == 1, WAIT_MS);
    close(a);
    WAIT_FOR(stats_read(&st->disconnects) == 1, WAIT_MS);
    ck_assert_uint_eq(stats_read(&st->bytes_in), 0);
    b = raw_connect_tcp(chr_port(s));
    WAIT_FOR(stats_read(&st->connects) == 2, WAIT_MS);
    close(b);
    user_object_delete_all();
}
END_TEST

/* A paused frontend loses nothing the peer sent before leaving: the rest
 * is read, then CLOSED, when it resumes. */
START_TEST(test_paused_peer_leaves)
{
    Chardev *s = chr_new("socket,id=srv,host=127.0.0.1,port=0,server=on,"
                         "wait=off");
    uint8_t hdr[LINK_HDR_MAX], data[300];
    Peer srv;
    int a;

    peer_init(&srv, "srv", "srv-user", NULL);
    a = raw_connect_tcp(chr_port(s));
    WAIT_FOR(srv.opened == 1, WAIT_MS);
    chr_fe_set_read_paused(&srv.fe, TRUE);
    for (int i = 0; i < 300; i++) {
        data[i] = (uint8_t)(9 + i);
    }
    for (int i = 0; i < 5; i++) {
        raw_write_all(a, hdr, link_header(hdr, 300, false, 0));
        raw_write_all(a, data, 300);
    }
    close(a);
    spin(200);
    ck_assert_int_eq(srv.frames, 0);
    ck_assert_int_eq(srv.closed, 0);
    {
        /* The hang-up is not polled for while paused: no busy loop. */
        int busy = 0;

        for (int i = 0; i < 100; i++) {
            busy += g_main_context_iteration(NULL, FALSE);
        }
        ck_assert_int_le(busy, 2);
    }
    chr_fe_set_read_paused(&srv.fe, FALSE);
    WAIT_FOR(srv.closed == 1, WAIT_MS);
    ck_assert_int_eq(srv.frames, 5);
    for (int i = 0; i < 5; i++) {
        ck_assert(payload_ok(srv.payloads, i * 300, 300, 9));
    }
    peer_destroy(&srv);
    user_object_delete_all();
}
END_TEST

/* --- a context run by another thread ------------------------------------ */

typedef struct Worker {
    GMainContext *ctx;
    GMainLoop *loop;
    GThread *thread;
} Worker;

static gpointer worker_run(gpointer opaque)
{
    Worker *w = opaque;

    g_main_context_push_thread_default(w->ctx);
    g_main_loop_run(w->loop);
    g_main_context_pop_thread_default(w->ctx);
    return NULL;
}

static void worker_start(Worker *w)
{
    w->ctx = g_main_context_new();
    w->loop = g_main_loop_new(w->ctx, FALSE);
    w->thread = g_thread_new("test-iothread", worker_run, w);
    while (!g_main_loop_is_running(w->loop)) {
        g_usleep(1000);
    }
}

static void worker_stop(Worker *w)
{
    g_main_loop_quit(w->loop);
    g_main_context_wakeup(w->ctx);
    g_thread_join(w->thread);
    g_main_loop_unref(w->loop);
    g_main_context_unref(w->ctx);
}

/* The server's I/O runs in a worker thread's context (as colo-compare on
 * its iothread) and echoes frames; it is moved there and back while the
 * worker runs, and released while attached there. */
START_TEST(test_iothread_context)
{
    Worker w;
    Peer srv, cli;
    GError *err = NULL;

    worker_start(&w);
    chr_new("socket,id=srv,host=127.0.0.1,port=0,server=on,wait=off");
    {
        g_autofree char *co = g_strdup_printf(
            "socket,id=cli,host=127.0.0.1,port=%u,reconnect=1",
            chr_port(CHARDEV_BASE(user_object_find(OBJECT_KIND_CHARDEV,
                                                   "srv"))));
        chr_new(co);
    }
    /* Server frontend on the worker. */
    memset(&srv, 0, sizeof(srv));
    link_reader_init(&srv.fr, false, 0);
    srv.payloads = g_byte_array_new();
    srv.echo = TRUE;
    srv.home = w.ctx;
    ck_assert(chr_fe_init(&srv.fe, "srv", "cmp0", &err));
    chr_fe_set_handlers(&srv.fe, peer_on_read, peer_on_event,
                        peer_on_writable, &srv, w.ctx);
    peer_init(&cli, "cli", "cli-user", NULL);
    WAIT_FOR(g_atomic_int_get(&srv.opened) == 1 && cli.opened == 1,
             WAIT_MS);

    for (int i = 0; i < 200; i++) {
        ck_assert_int_eq(peer_send(&cli, 100 + i, i), 104 + i);
    }
    WAIT_FOR(cli.frames == 200, WAIT_MS);
    ck_assert_int_eq(g_atomic_int_get(&srv.frames), 200);
    {
        size_t off = 0;

        for (int i = 0; i < 200; i++) {
            ck_assert(payload_ok(cli.payloads, off, 100 + i, i));
            off += 100 + i;
        }
    }

    /* Move to the main context while the worker runs, and back.  'home'
     * is not checked during a move (a callback may still be running in
     * the old context until chr_fe_set_handlers() returns). */
    g_atomic_pointer_set(&srv.home, NULL);
    chr_fe_set_handlers(&srv.fe, peer_on_read, peer_on_event,
                        peer_on_writable, &srv, NULL);
    g_atomic_pointer_set(&srv.home, g_main_context_default());
    ck_assert_int_eq(peer_send(&cli, 50, 1), 54);
    WAIT_FOR(cli.frames == 201, WAIT_MS);
    g_atomic_pointer_set(&srv.home, NULL);
    chr_fe_set_handlers(&srv.fe, peer_on_read, peer_on_event,
                        peer_on_writable, &srv, w.ctx);
    g_atomic_pointer_set(&srv.home, w.ctx);
    for (int round = 0; round < 20; round++) {
        /* Moves racing with traffic. */
        ck_assert_int_eq(peer_send(&cli, 1000, round), 1004);
        chr_fe_set_handlers(&srv.fe, peer_on_read, peer_on_event,
                            peer_on_writable, &srv, w.ctx);
    }
    WAIT_FOR(cli.frames == 221, WAIT_MS);
    ck_assert_int_eq(g_atomic_int_get(&srv.wrong_thread), 0);
    ck_assert_int_eq(g_atomic_int_get(&srv.frame_errors), 0);

    /* Released while attached to the worker: back to main, deletable. */
    chr_fe_deinit(&srv.fe);
    ck_assert(user_object_delete(OBJECT_KIND_CHARDEV, "srv", &err));
    WAIT_FOR(cli.closed == 1, WAIT_MS);
    link_reader_destroy(&srv.fr);
    g_byte_array_unref(srv.payloads);
    peer_destroy(&cli);
    user_object_delete_all();
    worker_stop(&w);
}
END_TEST

/* --- start-up wait -------------------------------------------------------- */

static gpointer late_client(gpointer opaque)
{
    guint port = GPOINTER_TO_UINT(opaque);

    g_usleep(200 * 1000);
    return GINT_TO_POINTER(raw_connect_tcp(port));
}

START_TEST(test_wait_for_clients)
{
    Chardev *s = chr_new("socket,id=srv,host=127.0.0.1,port=0,server=on");
    Chardev *n = chr_new("socket,id=nowait,host=127.0.0.1,port=0,server=on,"
                         "wait=off");
    gint64 t0 = g_get_monotonic_time();
    GThread *t = g_thread_new("late", late_client,
                              GUINT_TO_POINTER(chr_port(s)));
    int fd;

    (void)n;
    chardev_wait_for_clients();
    ck_assert_int_ge(g_get_monotonic_time() - t0, 150 * 1000);
    ck_assert_uint_eq(stats_read(&chardev_get_stats(s)->connects), 1);
    fd = GPOINTER_TO_INT(g_thread_join(t));
    /* Nothing left to wait for: returns at once. */
    chardev_wait_for_clients();
    close(fd);
    user_object_delete_all();
}
END_TEST

static Suite *chardev_suite(void)
{
    Suite *s = suite_create("chardev/char-socket");
    TCase *tc = tcase_create("socket");

    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_unix_pair);
    tcase_add_test(tc, test_unix_abstract);
    tcase_add_test(tc, test_tcp_v4_pair);
    tcase_add_test(tc, test_tcp_v6_pair);
    tcase_add_test(tc, test_tcp_nodelay_default);
    tcase_add_test(tc, test_tcp_any_and_localhost);
    tcase_add_test(tc, test_option_errors);
    tcase_add_test(tc, test_port_range);
    tcase_add_test(tc, test_in_use_cannot_delete);
    tcase_add_test(tc, test_write_unconnected);
    tcase_add_test(tc, test_flush_now);
    tcase_add_test(tc, test_out_buffer_bound);
    tcase_add_test(tc, test_reconnect);
    tcase_add_test(tc, test_reconnect_late_server);
    tcase_add_test(tc, test_server_second_client);
    tcase_add_test(tc, test_garbage_then_clean_client);
    tcase_add_test(tc, test_no_frontend_peer_leaves);
    tcase_add_test(tc, test_paused_peer_leaves);
    tcase_add_test(tc, test_iothread_context);
    tcase_add_test(tc, test_wait_for_clients);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return check_run(chardev_suite());
}
