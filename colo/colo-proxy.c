/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * colo/colo-proxy.c - the "colo-proxy" object: one side of the seeds'
 * COLO proxy topology from one option.
 *
 *   -object colo-proxy,id=cp0,mode=primary,netdev=hn0,addr=0.0.0.0:9003
 *   -object colo-proxy,id=cp0,mode=secondary,netdev=hn0,addr=PRIMARY:9003
 *
 * The 2015 RFC ("[RFC PATCH 0/9] Add colo-proxy based on netfilter",
 * ../shared/seeds/001_...) had exactly this one object; QEMU later split
 * it into filter-mirror, filter-redirector, filter-rewriter and
 * colo-compare joined by socket chardevs, fifteen options per side
 * (docs/colo-proxy.txt).  This object keeps the RFC's names (mode,
 * netdev, addr, queue) and creates QEMU's parts as ordinary objects, so
 * that qom-list, qom-get/qom-set, query-* and the events see exactly what
 * the long form creates.  Its parts are named ID-SEEDNAME after the seeds'
 * ids (mirror0, compare1, m0, redire0, comp0, f1, rew0, ...); the table is
 * docs/user-guide.md's "One-line setup".
 *
 * Links (addr=HOST:PORT, every port overridable):
 *   PORT      the mirror: primary filter-mirror -> secondary f1 (tx)
 *   PORT+1    the secondary's output: secondary f2 -> primary colo-compare
 *   PORT+2    the heartbeat (heartbeat=on)
 * The primary listens (server=on,wait=off), the secondary connects with
 * reconnect=N.  addr=unix:PATH puts the links at PATH, PATH.compare and
 * PATH.hb instead.  The primary's two internal links (redirector ->
 * compare, compare -> redirector), loopback TCP ports 9001 and 9005 in the
 * seeds, are unix sockets in a private directory here: no port to choose
 * or collide, and no other local user can inject frames into them.
 *
 * Life cycle: complete() creates the parts in the seeds' order (servers
 * before their clients, the filters in chain order, compare last) and
 * marks each one owned (user_object_set_owner): deleting a part alone is
 * refused; object-del of the colo-proxy deletes them newest first.  A
 * failure half-way deletes what was created and reports which part failed
 * and why.
 *
 * Threads: main context only (creation and deletion, like every object).
 */
#include <errno.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>

#include "colo/colo-internal.h"
#include "qom/object.h"
#include "qom/props.h"
#include "util/error.h"
#include "util/sockaddr.h"

#define CP_RECONNECT_DEFAULT 1u        /* s, the seeds' reconnect=1 */
/* the defaults of colo-compare and colo-heartbeat, which get the values
 * given here */
#define CP_COMPARE_TIMEOUT_DEFAULT 3000u
#define CP_SCAN_DEFAULT 1000u
#define CP_MAX_QUEUE_DEFAULT 1024u
#define CP_HB_INTERVAL_DEFAULT 100u
#define CP_HB_TIMEOUT_DEFAULT 1000u

typedef enum {
    CP_MODE_PRIMARY,
    CP_MODE_SECONDARY,
} ColoProxyMode;

typedef struct CpPart {
    ObjectKind kind;
    char *id;
} CpPart;

#define COLO_TYPE_PROXY (colo_proxy_get_type())
G_DECLARE_FINAL_TYPE(ColoProxy, colo_proxy, COLO, PROXY, UserObject)

struct _ColoProxy {
    UserObject parent;

    /* properties */
    ColoProxyMode mode;
    char *netdev;
    char *addr;
    char *queue;
    gboolean vnet_hdr;
    char *iothread;
    guint compare_timeout;
    guint expired_scan_cycle;
    guint max_queue_size;
    guint compare_port;
    guint heartbeat_port;
    guint reconnect;
    char *local_dir;
    gboolean heartbeat;
    guint hb_interval;
    guint hb_timeout;
    gboolean failover;
    gboolean frame;
    char *driver;
    char *exec;
    char *qemu_qmp;

    /* state */
    GArray *parts;             /* of CpPart, in creation order */
    char *own_dir;             /* private dir we made, removed at the end */
    char *sock_dir;            /* where the internal links live */
};

G_DEFINE_FINAL_TYPE(ColoProxy, colo_proxy, USER_TYPE_OBJECT)

static GType colo_proxy_mode_get_type(void)
{
    static GType type;
    static const GEnumValue values[] = {
        { CP_MODE_PRIMARY, "COLO_PROXY_MODE_PRIMARY", "primary" },
        { CP_MODE_SECONDARY, "COLO_PROXY_MODE_SECONDARY", "secondary" },
        { 0, NULL, NULL },
    };

    if (g_once_init_enter(&type)) {
        g_once_init_leave(&type,
                          g_enum_register_static("ColoProxyMode", values));
    }
    return type;
}

static const char *cp_id(ColoProxy *cp)
{
    return user_object_get_id(USER_OBJECT(cp));
}

/* ------------------------------------------------------------------ */
/* Creating and deleting the parts.                                    */

/* Properties of one part: key, value pairs; NULL values are skipped. */
static GHashTable *cp_props(const char *first, ...)
{
    GHashTable *h = g_hash_table_new_full(g_str_hash, g_str_equal,
                                          g_free, g_free);
    va_list ap;

    va_start(ap, first);
    for (const char *k = first; k; k = va_arg(ap, const char *)) {
        const char *v = va_arg(ap, const char *);

        if (v) {
            g_hash_table_insert(h, g_strdup(k), g_strdup(v));
        }
    }
    va_end(ap);
    return h;
}

/* Creates part 'name' (id ID-name) of 'kind' and 'type' with 'props'
 * (consumed), owned by 'cp'.  Errors say which part failed. */
static gboolean cp_add(ColoProxy *cp, ObjectKind kind, const char *type,
                       const char *name, GHashTable *props, GError **errp)
{
    g_autoptr(GHashTable) h = props;
    g_autofree char *id = g_strdup_printf("%s-%s", cp_id(cp), name);
    GError *err = NULL;

    /* With its own colo-frame, the parts are that pair's (frame=): one
     * process may then carry several colo-proxies, one per VM pair
     * (docs/devel/decisions.md).  With frame=off they use the command
     * line's frame, by default. */
    if (cp->frame && kind == OBJECT_KIND_OBJECT &&
        (g_str_has_prefix(type, "filter-") || !strcmp(type, "colo-compare")
         || !strcmp(type, "colo-heartbeat"))) {
        g_hash_table_insert(h, g_strdup("frame"),
                            g_strdup_printf("%s-colo", cp_id(cp)));
    }
    UserObject *obj;
    CpPart part;

    obj = user_object_create(kind, type, id, h, &err);
    if (!obj) {
        g_set_error(errp, err->domain, err->code,
                    "colo-proxy '%s': its %s%s '%s': %s", cp_id(cp),
                    kind == OBJECT_KIND_CHARDEV ? "chardev " : "", type, id,
                    err->message);
        g_error_free(err);
        return FALSE;
    }
    user_object_set_owner(obj, USER_OBJECT(cp));
    part.kind = kind;
    part.id = g_steal_pointer(&id);
    g_array_append_val(cp->parts, part);
    return TRUE;
}

/* Deletes every part, newest first (users before what they use). */
static void cp_delete_parts(ColoProxy *cp)
{
    while (cp->parts->len) {
        CpPart *p = &g_array_index(cp->parts, CpPart, cp->parts->len - 1);
        UserObject *obj = user_object_find(p->kind, p->id);
        g_autoptr(GError) err = NULL;

        if (obj) {
            user_object_set_owner(obj, NULL);
            if (!user_object_delete(p->kind, p->id, &err)) {
                g_warning("colo-proxy '%s': deleting %s: %s", cp_id(cp),
                          p->id, err->message);
            }
        }
        g_free(p->id);
        g_array_set_size(cp->parts, cp->parts->len - 1);
    }
    if (cp->sock_dir) {
        static const char *const socks[] = { "compare0", "compare_out" };

        for (size_t i = 0; i < G_N_ELEMENTS(socks); i++) {
            g_autofree char *p = g_build_filename(cp->sock_dir, socks[i],
                                                  NULL);
            g_unlink(p);
        }
    }
    if (cp->own_dir && g_rmdir(cp->own_dir) < 0) {
        g_warning("colo-proxy '%s': removing %s: %s", cp_id(cp),
                  cp->own_dir, g_strerror(errno));
    }
    g_clear_pointer(&cp->own_dir, g_free);
    g_clear_pointer(&cp->sock_dir, g_free);
}

/* ------------------------------------------------------------------ */
/* The links.                                                          */

typedef struct CpLink {
    char *host;                /* NULL for unix */
    char *port;
    char *path;                /* NULL for inet */
} CpLink;

static void cp_link_clear(CpLink *l)
{
    g_free(l->host);
    g_free(l->port);
    g_free(l->path);
}

/* The three links from addr= and the port overrides: [0] mirror,
 * [1] secondary output, [2] heartbeat. */
static gboolean cp_links(ColoProxy *cp, CpLink links[3], GError **errp)
{
    static const char *const suffix[3] = { "", ".compare", ".hb" };
    const char *rest;
    g_autofree char *host = NULL, *port = NULL;
    guint64 base;
    guint ports[3];

    if (sockaddr_spec_kind(cp->addr, &rest) == SOCK_SPEC_UNIX) {
        if (!*rest || strlen(rest) + 8 > SOCKADDR_UNIX_PATH_MAX) {
            error_setg(errp, "Parameter 'addr' expects unix:PATH with a "
                       "PATH of 1 to %u bytes",
                       (unsigned)SOCKADDR_UNIX_PATH_MAX - 8);
            return FALSE;
        }
        for (int i = 0; i < 3; i++) {
            links[i].path = g_strconcat(rest, suffix[i], NULL);
        }
        return TRUE;
    }
    if (sockaddr_spec_kind(cp->addr, &rest) == SOCK_SPEC_INET) {
        /* "tcp:HOST:PORT", as -qmp writes it */
    } else {
        rest = cp->addr;
    }
    if (!strchr(rest, ':') ||
        !sockaddr_split_host_port(rest, &host, &port, NULL, NULL) ||
        !*host || !g_ascii_string_to_unsigned(port, 10, 1, 65533, &base,
                                              NULL)) {
        error_setg(errp, "Parameter 'addr' expects HOST:PORT with a PORT "
                   "of 1 to 65533 (it and the next two are used), or "
                   "unix:PATH (got '%s')", cp->addr);
        return FALSE;
    }
    ports[0] = (guint)base;
    ports[1] = cp->compare_port ? cp->compare_port : (guint)base + 1;
    ports[2] = cp->heartbeat_port ? cp->heartbeat_port : (guint)base + 2;
    for (int i = 0; i < 3; i++) {
        links[i].host = g_strdup(host);
        links[i].port = g_strdup_printf("%u", ports[i]);
    }
    return TRUE;
}

/* A socket chardev part on link 'l'; 'server' listens, else connects
 * with cp->reconnect. */
static gboolean cp_add_link(ColoProxy *cp, const char *name,
                            const CpLink *l, gboolean server, GError **errp)
{
    g_autofree char *rc = g_strdup_printf("%u", cp->reconnect);

    return cp_add(cp, OBJECT_KIND_CHARDEV, "socket", name,
                  cp_props("host", l->host, "port", l->port,
                           "path", l->path,
                           "server", server ? "on" : "off",
                           "wait", server ? "off" : NULL,
                           "reconnect", server || !cp->reconnect ? NULL : rc,
                           NULL),
                  errp);
}

/* An internal (primary-only) link in sock_dir: server 'name', client
 * 'name_client'. */
static gboolean cp_add_local_link(ColoProxy *cp, const char *name,
                                  const char *name_client, GError **errp)
{
    g_autofree char *path = g_build_filename(cp->sock_dir, name, NULL);

    if (strlen(path) > SOCKADDR_UNIX_PATH_MAX) {
        error_setg(errp, "Parameter 'local-dir' is too long for a unix "
                   "socket path (%s)", path);
        return FALSE;
    }
    return cp_add(cp, OBJECT_KIND_CHARDEV, "socket", name,
                  cp_props("path", path, "server", "on", "wait", "off",
                           NULL), errp) &&
           cp_add(cp, OBJECT_KIND_CHARDEV, "socket", name_client,
                  cp_props("path", path, "server", "off", NULL), errp);
}

/* ------------------------------------------------------------------ */
/* complete / unparent                                                 */

static char *cp_part_id(ColoProxy *cp, const char *name)
{
    return g_strdup_printf("%s-%s", cp_id(cp), name);
}

static gboolean cp_add_frame(ColoProxy *cp, GError **errp)
{
    if (!cp->frame) {
        return TRUE;
    }
    return cp_add(cp, OBJECT_KIND_OBJECT, "colo-frame", "colo",
                  cp_props("mode", cp->mode == CP_MODE_PRIMARY
                                   ? "primary" : "secondary",
                           "driver", cp->driver, "exec", cp->exec,
                           "qemu-qmp", cp->qemu_qmp, NULL), errp);
}

static gboolean cp_add_heartbeat(ColoProxy *cp, GError **errp)
{
    g_autofree char *chr = cp_part_id(cp, "hb");
    g_autofree char *iv = g_strdup_printf("%u", cp->hb_interval);
    g_autofree char *to = g_strdup_printf("%u", cp->hb_timeout);

    if (!cp->heartbeat) {
        return TRUE;
    }
    return cp_add(cp, OBJECT_KIND_OBJECT, "colo-heartbeat", "hb0",
                  cp_props("chardev", chr, "interval", iv, "timeout", to,
                           "failover", cp->failover ? "on" : "off", NULL),
                  errp);
}

static gboolean cp_primary(ColoProxy *cp, const CpLink links[3],
                           GError **errp)
{
    const char *v = cp->vnet_hdr ? "on" : "off";
    g_autofree char *mirror0 = cp_part_id(cp, "mirror0");
    g_autofree char *compare1 = cp_part_id(cp, "compare1");
    g_autofree char *compare0 = cp_part_id(cp, "compare0");
    g_autofree char *compare0_0 = cp_part_id(cp, "compare0-0");
    g_autofree char *compare_out = cp_part_id(cp, "compare_out");
    g_autofree char *compare_out0 = cp_part_id(cp, "compare_out0");
    g_autofree char *io = cp->iothread ? g_strdup(cp->iothread)
                                       : cp_part_id(cp, "iothread1");
    g_autofree char *ct = g_strdup_printf("%u", cp->compare_timeout);
    g_autofree char *sc = g_strdup_printf("%u", cp->expired_scan_cycle);
    g_autofree char *mq = g_strdup_printf("%u", cp->max_queue_size);

    if (cp->local_dir) {
        cp->sock_dir = g_strdup(cp->local_dir);
    } else {
        GError *err = NULL;

        cp->own_dir = g_dir_make_tmp("colo-proxy-XXXXXX", &err);
        if (!cp->own_dir) {
            error_setg(errp, "colo-proxy '%s': cannot make a directory for "
                       "its internal links: %s (set local-dir=)",
                       cp_id(cp), err->message);
            g_error_free(err);
            return FALSE;
        }
        cp->sock_dir = g_strdup(cp->own_dir);
    }

    return cp_add_link(cp, "mirror0", &links[0], TRUE, errp) &&
           cp_add_link(cp, "compare1", &links[1], TRUE, errp) &&
           cp_add_local_link(cp, "compare0", "compare0-0", errp) &&
           cp_add_local_link(cp, "compare_out", "compare_out0", errp) &&
           (!cp->heartbeat ||
            cp_add_link(cp, "hb", &links[2], TRUE, errp)) &&
           cp_add_frame(cp, errp) &&
           (cp->iothread ||
            cp_add(cp, OBJECT_KIND_OBJECT, "iothread", "iothread1",
                   cp_props(NULL, NULL), errp)) &&
           cp_add(cp, OBJECT_KIND_OBJECT, "filter-mirror", "m0",
                  cp_props("netdev", cp->netdev, "queue", "tx",
                           "outdev", mirror0, "vnet_hdr_support", v, NULL),
                  errp) &&
           cp_add(cp, OBJECT_KIND_OBJECT, "filter-redirector", "redire0",
                  cp_props("netdev", cp->netdev, "queue", "rx",
                           "indev", compare_out, "vnet_hdr_support", v,
                           NULL), errp) &&
           cp_add(cp, OBJECT_KIND_OBJECT, "filter-redirector", "redire1",
                  cp_props("netdev", cp->netdev, "queue", "rx",
                           "outdev", compare0, "vnet_hdr_support", v, NULL),
                  errp) &&
           cp_add(cp, OBJECT_KIND_OBJECT, "colo-compare", "comp0",
                  cp_props("primary_in", compare0_0,
                           "secondary_in", compare1, "outdev", compare_out0,
                           "iothread", io, "vnet_hdr_support", v,
                           "compare_timeout", ct, "expired_scan_cycle", sc,
                           "max_queue_size", mq, NULL), errp) &&
           cp_add_heartbeat(cp, errp);
}

static gboolean cp_secondary(ColoProxy *cp, const CpLink links[3],
                             GError **errp)
{
    const char *v = cp->vnet_hdr ? "on" : "off";
    g_autofree char *red0 = cp_part_id(cp, "red0");
    g_autofree char *red1 = cp_part_id(cp, "red1");

    return cp_add_link(cp, "red0", &links[0], FALSE, errp) &&
           cp_add_link(cp, "red1", &links[1], FALSE, errp) &&
           (!cp->heartbeat ||
            cp_add_link(cp, "hb", &links[2], FALSE, errp)) &&
           cp_add_frame(cp, errp) &&
           cp_add(cp, OBJECT_KIND_OBJECT, "filter-redirector", "f1",
                  cp_props("netdev", cp->netdev, "queue", "tx",
                           "indev", red0, "vnet_hdr_support", v, NULL),
                  errp) &&
           cp_add(cp, OBJECT_KIND_OBJECT, "filter-redirector", "f2",
                  cp_props("netdev", cp->netdev, "queue", "rx",
                           "outdev", red1, "vnet_hdr_support", v, NULL),
                  errp) &&
           cp_add(cp, OBJECT_KIND_OBJECT, "filter-rewriter", "rew0",
                  cp_props("netdev", cp->netdev, "queue", "all",
                           "vnet_hdr_support", v, NULL), errp) &&
           cp_add_heartbeat(cp, errp);
}

static gboolean colo_proxy_complete(UserObject *obj, GError **errp)
{
    ColoProxy *cp = COLO_PROXY(obj);
    CpLink links[3] = { { NULL } };
    gboolean ok;

    if (!user_object_find(OBJECT_KIND_NETDEV, cp->netdev)) {
        error_setg(errp, "Parameter 'netdev': no netdev '%s' (give its "
                   "-netdev id; the filters join its chain)", cp->netdev);
        return FALSE;
    }
    if (cp->iothread && !user_object_find(OBJECT_KIND_OBJECT, cp->iothread)) {
        error_setg(errp, "Parameter 'iothread': no iothread '%s' (give an "
                   "-object iothread id, or leave it out: the colo-proxy "
                   "then creates its own)", cp->iothread);
        return FALSE;
    }
    if (!cp_links(cp, links, errp)) {
        return FALSE;
    }
    ok = cp->mode == CP_MODE_PRIMARY ? cp_primary(cp, links, errp)
                                     : cp_secondary(cp, links, errp);
    for (int i = 0; i < 3; i++) {
        cp_link_clear(&links[i]);
    }
    if (!ok) {
        cp_delete_parts(cp);
    }
    return ok;
}

static void colo_proxy_unparent(UserObject *obj)
{
    cp_delete_parts(COLO_PROXY(obj));
}

/* ------------------------------------------------------------------ */
/* Properties.                                                         */

static void colo_proxy_finalize(GObject *o)
{
    ColoProxy *cp = COLO_PROXY(o);

    /* parts are deleted by unparent (or by a failed complete); the
     * property strings are freed by the table (colo_proxy_props) */
    g_array_free(cp->parts, TRUE);
    g_free(cp->own_dir);
    g_free(cp->sock_dir);
    G_OBJECT_CLASS(colo_proxy_parent_class)->finalize(o);
}

/* ------------------------------------------------------------------ */
/* Properties.                                                         */

/* queue= exists for the 2015 RFC's spelling; its filters choose their
 * own directions, so only "all" means anything here. */
static gboolean colo_proxy_queue_check(UserObject *obj, const GValue *value,
                                       GError **errp)
{
    const char *s = g_value_get_string(value);

    (void)obj;
    if (g_strcmp0(s, "all") != 0) {
        error_setg(errp, "Parameter 'queue' does not accept value '%s': "
                   "colo-proxy handles both directions (queue=all, the "
                   "2015 RFC's only value); its filters use rx and tx "
                   "themselves", s ? s : "");
        return FALSE;
    }
    return TRUE;
}

static const PropDef colo_proxy_props[] = {
    DEFINE_PROP_ENUM("mode", ColoProxy, mode, colo_proxy_mode_get_type,
        CP_MODE_PRIMARY, PROP_REQUIRED,
        "primary (mirror, redirectors, colo-compare; listens on addr) or "
        "secondary (redirectors, filter-rewriter; connects to addr)"),
    DEFINE_PROP_STR("netdev", ColoProxy, netdev, NULL, PROP_REQUIRED,
        "id of the -netdev whose chain the filters join"),
    DEFINE_PROP_STR("addr", ColoProxy, addr, NULL, PROP_REQUIRED,
        "HOST:PORT of the primary: the mirror link on PORT, the "
        "secondary's output on PORT+1, the heartbeat on PORT+2 (the "
        "primary listens there, the secondary connects); or unix:PATH "
        "(PATH, PATH.compare, PATH.hb)"),
    DEFINE_PROP_STR("queue", ColoProxy, queue, "all", 0,
        "the 2015 RFC's queue: only 'all' (both directions)",
        .check = colo_proxy_queue_check),
    DEFINE_PROP_BOOL("vnet_hdr_support", ColoProxy, vnet_hdr, FALSE, 0,
        "every link carries the vnet_hdr_len field (set it on both sides)"),
    DEFINE_PROP_STR("iothread", ColoProxy, iothread, NULL, 0,
        "primary: an existing iothread for colo-compare (default: its own, "
        "ID-iothread1)"),
    DEFINE_PROP_UINT("compare_timeout", ColoProxy, compare_timeout,
        0, G_MAXUINT32, CP_COMPARE_TIMEOUT_DEFAULT, 0,
        "primary: colo-compare's compare_timeout (ms)"),
    DEFINE_PROP_UINT("expired_scan_cycle", ColoProxy, expired_scan_cycle,
        0, G_MAXUINT32, CP_SCAN_DEFAULT, 0,
        "primary: colo-compare's expired_scan_cycle (ms)"),
    DEFINE_PROP_UINT("max_queue_size", ColoProxy, max_queue_size,
        0, G_MAXUINT32, CP_MAX_QUEUE_DEFAULT, 0,
        "primary: colo-compare's max_queue_size"),
    DEFINE_PROP_UINT("compare-port", ColoProxy, compare_port, 0, 65535, 0, 0,
        "port of the secondary's output link (0: addr's PORT+1)"),
    DEFINE_PROP_UINT("heartbeat-port", ColoProxy, heartbeat_port,
        0, 65535, 0, 0,
        "port of the heartbeat link (0: addr's PORT+2)"),
    DEFINE_PROP_UINT("reconnect", ColoProxy, reconnect,
        0, 3600, CP_RECONNECT_DEFAULT, 0,
        "secondary: seconds between reconnection attempts to the primary "
        "(0: never)"),
    DEFINE_PROP_STR("local-dir", ColoProxy, local_dir, NULL, 0,
        "primary: directory of the unix sockets of the two internal links "
        "(compare0, compare_out; default: a new private directory in "
        "$TMPDIR, removed with the object)"),
    DEFINE_PROP_BOOL("heartbeat", ColoProxy, heartbeat, FALSE, 0,
        "also a colo-heartbeat (ID-hb0) with the peer"),
    DEFINE_PROP_UINT("heartbeat-interval", ColoProxy, hb_interval,
        10, 60 * 1000, CP_HB_INTERVAL_DEFAULT, 0,
        "the heartbeat's interval (ms)"),
    DEFINE_PROP_UINT("heartbeat-timeout", ColoProxy, hb_timeout,
        20, 3600 * 1000, CP_HB_TIMEOUT_DEFAULT, 0,
        "the heartbeat's timeout (ms; at least twice the interval)"),
    DEFINE_PROP_BOOL("failover", ColoProxy, failover, FALSE, 0,
        "the heartbeat fails this side over when the peer is lost"),
    DEFINE_PROP_BOOL("frame", ColoProxy, frame, TRUE, 0,
        "also the colo-frame (ID-colo) in this mode; off when the command "
        "line has its own colo-frame"),
    DEFINE_PROP_STR("driver", ColoProxy, driver, NULL, 0,
        "the colo-frame's checkpoint driver (event, exec, qemu)"),
    DEFINE_PROP_STR("exec", ColoProxy, exec, NULL, 0,
        "the colo-frame's exec= command (driver=exec)"),
    DEFINE_PROP_STR("qemu-qmp", ColoProxy, qemu_qmp, NULL, 0,
        "the colo-frame's qemu-qmp= socket (driver=qemu)"),
};

static void colo_proxy_init(ColoProxy *cp)
{
    /* the properties start at their defaults (colo_proxy_props) */
    cp->parts = g_array_new(FALSE, FALSE, sizeof(CpPart));
}

static void colo_proxy_class_init(ColoProxyClass *klass)
{
    GObjectClass *oc = G_OBJECT_CLASS(klass);
    UserObjectClass *uc = USER_OBJECT_CLASS(klass);

    oc->finalize = colo_proxy_finalize;
    uc->description = "one side of the COLO proxy in one option: creates "
                      "the chardevs, filters, colo-compare, colo-frame and "
                      "heartbeat of the seeds' topology as parts ID-NAME";
    uc->complete = colo_proxy_complete;
    uc->unparent = colo_proxy_unparent;

    object_class_install_props(oc, colo_proxy_props);
}

static void colo_proxy_register(void)
{
    object_type_register(OBJECT_KIND_OBJECT, "colo-proxy", COLO_TYPE_PROXY);
}
type_init(colo_proxy_register)
