/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * net/slirp.c - the "user" backend: libslirp's user-mode network stack,
 * the embedded network that needs no privileges (QEMU's -netdev user).
 *
 * The device on the other end of the port (a VM behind -device stream, a
 * test) talks Ethernet to a virtual router at 'host' (10.0.2.2) that
 * serves DHCP and DNS and NATs TCP/UDP through ordinary host sockets;
 * hostfwd= rules forward host ports to the guest.  Options, as QEMU's:
 *
 *   net=ADDR[/MASK]  host=  dhcpstart=  dns=  ipv4=on|off
 *   ipv6=on|off  ipv6-net=PREFIX/LEN  ipv6-host=  ipv6-dns=
 *   hostname=  domainname=  restrict=on|off  tftp=  bootfile=
 *   tftp-server-name=
 *   hostfwd=[tcp|udp]:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT
 *
 * QEMU takes hostfwd= repeatedly; our option grammar keeps the last of a
 * repeated key, so several rules are given either ';'-separated in one
 * hostfwd= or as hostfwd.0= ... hostfwd.7= (both may be combined).
 * guestfwd= and smb= are not supported and are errors.
 *
 * Event loop: libslirp owns sockets and timers and is driven from the
 * main GMainContext by a custom GSource.  prepare() asks slirp for its
 * fds (slirp_pollfds_fill) and registers them with the source, plus the
 * timeout slirp wants; check() sees whether any fired or the timeout
 * passed; dispatch() hands the results back (slirp_pollfds_poll).  slirp's
 * own timers (timer_new/timer_mod) are GSources with a ready time on the
 * monotonic clock, which is also what clock_get_ns returns.  Frames slirp
 * emits (send_packet) go to net_client_send(); frames for slirp go to
 * slirp_input().
 *
 * Threads: main context only.
 */
#include <errno.h>
#include <string.h>
#include <arpa/inet.h>
#include <libslirp.h>
#include <json-glib/json-glib.h>

#include "qom/props.h"
#include "net/vnet-hdr.h"
#include "net/slirp-opts.h"
#include "net/net.h"
#include "util/error.h"
#include "util/stats.h"
#include "util/log.h"

enum { SLIRP_HOSTFWD_SLOTS = 8 };   /* hostfwd.0 ... hostfwd.7 */

#define NET_TYPE_SLIRP (net_slirp_get_type())
G_DECLARE_FINAL_TYPE(NetSlirp, net_slirp, NET, SLIRP, NetClient)

typedef struct SlirpSource SlirpSource;

struct _NetSlirp {
    NetClient parent_instance;

    /* properties */
    char *net;                /* net=ADDR[/MASK] */
    char *host;               /* host=ADDR */
    char *dhcpstart;          /* dhcpstart=ADDR */
    char *dns;                /* dns=ADDR */
    gboolean ipv4;            /* ipv4=on|off */
    gboolean ipv6;            /* ipv6=on|off */
    char *ipv6_net;           /* ipv6-net=PREFIX/LEN */
    char *ipv6_host;          /* ipv6-host=ADDR */
    char *ipv6_dns;           /* ipv6-dns=ADDR */
    char *hostname;           /* hostname= (DHCP) */
    char *domainname;         /* domainname= (DHCP) */
    gboolean restricted;      /* restrict=on|off */
    char *tftp;               /* tftp=DIR */
    char *tftp_server_name;   /* tftp-server-name= */
    char *bootfile;           /* bootfile= */
    char *hostfwd;            /* hostfwd=RULE[;RULE...] */
    char *hostfwd_n[SLIRP_HOSTFWD_SLOTS]; /* hostfwd.N=RULE */
    char *guestfwd;           /* guestfwd= (refused) */
    char *smb;                /* smb= (refused) */
    /* state */
    Slirp *slirp;             /* the stack, or NULL */
    SlirpSource *source;      /* drives slirp from the main context */
    struct in_addr guest_default; /* first DHCP address: hostfwd default */
    uint64_t hostfwd_rules;   /* rules installed */
    uint64_t guest_errors;    /* guest_error() calls */
};

G_DEFINE_FINAL_TYPE(NetSlirp, net_slirp, NET_TYPE_CLIENT)

static const char *slirp_id(NetSlirp *s)
{
    return user_object_get_id(USER_OBJECT(s));
}

/* --- the GSource that drives slirp --------------------------------------- */

struct SlirpSource {
    GSource source;
    NetSlirp *s;              /* owner (borrowed) */
    GHashTable *by_fd;        /* fd -> GPollFD *, registered with the source */
    GPtrArray *cur;           /* GPollFD * of the last prepare(), by index */
    guint generation;         /* prepare() count, marks entries in use */
    gint64 deadline_us;       /* slirp's timeout, monotonic, or -1 */
};

/* A GPollFD and the last prepare() that wanted it. */
typedef struct SlirpPollFD {
    GPollFD pfd;              /* registered with the source */
    guint generation;         /* last prepare() that asked for it */
} SlirpPollFD;

static GIOCondition slirp_to_gio(int events)
{
    GIOCondition c = 0;

    c |= (events & SLIRP_POLL_IN) ? G_IO_IN : 0;
    c |= (events & SLIRP_POLL_OUT) ? G_IO_OUT : 0;
    c |= (events & SLIRP_POLL_PRI) ? G_IO_PRI : 0;
    c |= (events & SLIRP_POLL_ERR) ? G_IO_ERR : 0;
    c |= (events & SLIRP_POLL_HUP) ? G_IO_HUP : 0;
    return c;
}

static int gio_to_slirp(GIOCondition c)
{
    int events = 0;

    events |= (c & G_IO_IN) ? SLIRP_POLL_IN : 0;
    events |= (c & G_IO_OUT) ? SLIRP_POLL_OUT : 0;
    events |= (c & G_IO_PRI) ? SLIRP_POLL_PRI : 0;
    events |= (c & G_IO_ERR) ? SLIRP_POLL_ERR : 0;
    events |= (c & G_IO_HUP) ? SLIRP_POLL_HUP : 0;
    return events;
}

/*
 * The fds slirp wants change from one iteration to the next.  Adding or
 * removing an fd of a source wakes the context up (and GLib keeps its poll
 * records sorted by fd), so prepare() must not re-register everything each
 * time or the loop would spin.  Each fd stays registered while slirp keeps
 * asking for it; prepare() only updates its events, registers fds slirp
 * asks for the first time and drops the ones it no longer asks for.
 */
static int slirp_add_poll_cb(int fd, int events, void *opaque)
{
    SlirpSource *src = opaque;
    SlirpPollFD *p = g_hash_table_lookup(src->by_fd, GINT_TO_POINTER(fd));

    if (!p) {
        p = g_new0(SlirpPollFD, 1);
        p->pfd.fd = fd;
        g_hash_table_insert(src->by_fd, GINT_TO_POINTER(fd), p);
        g_source_add_poll(&src->source, &p->pfd);
    }
    /* slirp may list an fd twice (never so far): merge the events. */
    p->pfd.events = (p->generation == src->generation ? p->pfd.events : 0) |
                    slirp_to_gio(events);
    p->pfd.revents = 0;
    p->generation = src->generation;
    g_ptr_array_add(src->cur, p);
    return src->cur->len - 1;
}

static int slirp_get_revents_cb(int idx, void *opaque)
{
    SlirpSource *src = opaque;

    if (idx < 0 || (guint)idx >= src->cur->len) {
        return 0;
    }
    return gio_to_slirp(((SlirpPollFD *)src->cur->pdata[idx])->pfd.revents);
}

static gboolean slirp_poll_stale(gpointer key, gpointer value, gpointer data)
{
    SlirpSource *src = data;
    SlirpPollFD *p = value;

    if (p->generation == src->generation) {
        return FALSE;
    }
    g_source_remove_poll(&src->source, &p->pfd);
    return TRUE;             /* the table frees 'p' */
}

static gboolean slirp_source_prepare(GSource *source, gint *timeout)
{
    SlirpSource *src = (SlirpSource *)source;
    uint32_t t = UINT32_MAX;

    src->generation++;
    g_ptr_array_set_size(src->cur, 0);
    if (src->s->slirp) {
        slirp_pollfds_fill(src->s->slirp, &t, slirp_add_poll_cb, src);
    }
    g_hash_table_foreach_remove(src->by_fd, slirp_poll_stale, src);
    if (t == UINT32_MAX) {
        *timeout = -1;
        src->deadline_us = -1;
    } else {
        *timeout = t > G_MAXINT ? G_MAXINT : (gint)t;
        src->deadline_us = g_get_monotonic_time() + (gint64)t * 1000;
    }
    return t == 0;
}

static gboolean slirp_source_check(GSource *source)
{
    SlirpSource *src = (SlirpSource *)source;

    for (guint i = 0; i < src->cur->len; i++) {
        if (((SlirpPollFD *)src->cur->pdata[i])->pfd.revents) {
            return TRUE;
        }
    }
    return src->deadline_us >= 0 &&
           g_get_monotonic_time() >= src->deadline_us;
}

static gboolean slirp_source_dispatch(GSource *source, GSourceFunc cb,
                                      gpointer data)
{
    SlirpSource *src = (SlirpSource *)source;
    NetSlirp *s = src->s;

    if (s->slirp) {
        g_object_ref(s);
        slirp_pollfds_poll(s->slirp, 0, slirp_get_revents_cb, src);
        g_object_unref(s);
    }
    return G_SOURCE_CONTINUE;
}

static void slirp_source_finalize(GSource *source)
{
    SlirpSource *src = (SlirpSource *)source;

    /* The context forgot the GPollFDs when the source was destroyed. */
    g_ptr_array_free(src->cur, TRUE);
    g_hash_table_destroy(src->by_fd);
}

static GSourceFuncs slirp_source_funcs = {
    .prepare = slirp_source_prepare,
    .check = slirp_source_check,
    .dispatch = slirp_source_dispatch,
    .finalize = slirp_source_finalize,
};

/* --- slirp timers -------------------------------------------------------- */

typedef struct SlirpTimerSource {
    GSource source;
    SlirpTimerCb cb;          /* slirp's callback */
    void *cb_opaque;          /* its argument */
} SlirpTimerSource;

static gboolean slirp_timer_dispatch(GSource *source, GSourceFunc unused,
                                     gpointer unused2)
{
    SlirpTimerSource *t = (SlirpTimerSource *)source;

    g_source_set_ready_time(source, -1);
    t->cb(t->cb_opaque);
    return G_SOURCE_CONTINUE;
}

static GSourceFuncs slirp_timer_funcs = {
    .dispatch = slirp_timer_dispatch,
};

static void *slirp_cb_timer_new(SlirpTimerCb cb, void *cb_opaque,
                                void *opaque)
{
    SlirpTimerSource *t = (SlirpTimerSource *)
        g_source_new(&slirp_timer_funcs, sizeof(SlirpTimerSource));

    t->cb = cb;
    t->cb_opaque = cb_opaque;
    g_source_set_static_name(&t->source, "colo-net-slirp-timer");
    g_source_set_ready_time(&t->source, -1);
    g_source_attach(&t->source, NULL);
    return t;
}

static void slirp_cb_timer_free(void *timer, void *opaque)
{
    GSource *source = timer;

    g_source_destroy(source);
    g_source_unref(source);
}

/* 'expire_time' is in ms of clock_get_ns()'s clock: the monotonic one. */
static void slirp_cb_timer_mod(void *timer, int64_t expire_time, void *opaque)
{
    g_source_set_ready_time(timer, expire_time < 0 ? 0 : expire_time * 1000);
}

static int64_t slirp_cb_clock_get_ns(void *opaque)
{
    return g_get_monotonic_time() * 1000;
}

static ssize_t slirp_cb_send_packet(const void *buf, size_t len, void *opaque)
{
    NetSlirp *s = opaque;

    net_client_send(NET_CLIENT(s), buf, len);
    return len;
}

static void slirp_cb_guest_error(const char *msg, void *opaque)
{
    NetSlirp *s = opaque;

    s->guest_errors++;
    LOG_WARN_RL("%s: guest error: %s", slirp_id(s), msg);
}

static void slirp_cb_register_poll_fd(int fd, void *opaque)
{
    /* Only needed on Windows; prepare() registers fds every iteration. */
}

static void slirp_cb_unregister_poll_fd(int fd, void *opaque)
{
}

static void slirp_cb_notify(void *opaque)
{
    g_main_context_wakeup(NULL);
}

static const SlirpCb slirp_callbacks = {
    .send_packet = slirp_cb_send_packet,
    .guest_error = slirp_cb_guest_error,
    .clock_get_ns = slirp_cb_clock_get_ns,
    .timer_new = slirp_cb_timer_new,
    .timer_free = slirp_cb_timer_free,
    .timer_mod = slirp_cb_timer_mod,
    .register_poll_fd = slirp_cb_register_poll_fd,
    .unregister_poll_fd = slirp_cb_unregister_poll_fd,
    .notify = slirp_cb_notify,
};

/* --- configuration ------------------------------------------------------- */

/* An address given for 'what' must lie inside the net and be neither the
 * network nor the broadcast address. */
static gboolean check_in_net(const char *what, struct in_addr a,
                             struct in_addr net, struct in_addr mask,
                             GError **errp)
{
    if ((a.s_addr & mask.s_addr) != net.s_addr ||
        a.s_addr == net.s_addr || a.s_addr == (net.s_addr | ~mask.s_addr)) {
        error_setg(errp, "Parameter '%s' is not a host address of the "
                   "guest network", what);
        return FALSE;
    }
    return TRUE;
}

static struct in_addr net_plus(struct in_addr net, uint32_t n)
{
    struct in_addr a = { .s_addr = htonl(ntohl(net.s_addr) + n) };

    return a;
}

/* Installs one hostfwd rule (net/slirp-opts.c parses it). */
static gboolean slirp_add_rule(NetSlirp *s, const char *rule, GError **errp)
{
    SlirpHostFwd f;

    if (!slirp_opt_parse_hostfwd(rule, s->guest_default, &f, errp)) {
        return FALSE;
    }
    if (f.empty) {
        return TRUE;
    }
    if (slirp_add_hostfwd(s->slirp, f.udp, f.haddr, (int) f.hport, f.gaddr,
                          (int) f.gport) < 0) {
        error_setg(errp, "Could not set up host forwarding rule '%s': %s",
                   rule, g_strerror(errno));
        return FALSE;
    }
    s->hostfwd_rules++;
    return TRUE;
}

static gboolean slirp_add_rules(NetSlirp *s, const char *list, GError **errp)
{
    g_auto(GStrv) rules = NULL;

    if (!list) {
        return TRUE;
    }
    rules = g_strsplit(list, ";", -1);
    for (char **r = rules; *r; r++) {
        if (!slirp_add_rule(s, *r, errp)) {
            return FALSE;
        }
    }
    return TRUE;
}

static gboolean net_slirp_complete(UserObject *obj, GError **errp)
{
    NetSlirp *s = NET_SLIRP(obj);
    SlirpConfig cfg = { .version = 4 };
    struct in_addr net, mask, host, dhcp, dns;
    struct in6_addr prefix6, host6, dns6;
    unsigned prefix_len = 64;

    if (s->guestfwd) {
        error_setg(errp, "guestfwd= is not supported by colo-proxy");
        return FALSE;
    }
    if (s->smb) {
        error_setg(errp, "smb= is not supported by colo-proxy");
        return FALSE;
    }
    if (!s->ipv4 && !s->ipv6) {
        error_setg(errp, "IPv4 and IPv6 cannot both be disabled");
        return FALSE;
    }
    if (!slirp_opt_parse_net(s->net ? s->net : "10.0.2.0/24", &net, &mask,
                             errp)) {
        return FALSE;
    }
    host = net_plus(net, 2);
    dhcp = net_plus(net, 15);
    dns = net_plus(net, 3);
    if ((s->host && !slirp_opt_parse_ip4("host", s->host, &host, errp)) ||
        (s->dhcpstart &&
         !slirp_opt_parse_ip4("dhcpstart", s->dhcpstart, &dhcp, errp)) ||
        (s->dns && !slirp_opt_parse_ip4("dns", s->dns, &dns, errp)) ||
        !check_in_net("host", host, net, mask, errp) ||
        !check_in_net("dhcpstart", dhcp, net, mask, errp) ||
        !check_in_net("dns", dns, net, mask, errp)) {
        return FALSE;
    }
    if (dns.s_addr == host.s_addr || dhcp.s_addr == host.s_addr ||
        dhcp.s_addr == dns.s_addr) {
        error_setg(errp, "host, dns and dhcpstart must be different "
                   "addresses");
        return FALSE;
    }
    inet_pton(AF_INET6, "fec0::", &prefix6);
    if (s->ipv6_net &&
        !slirp_opt_parse_net6(s->ipv6_net, &prefix6, &prefix_len, errp)) {
        return FALSE;
    }
    host6 = prefix6;
    host6.s6_addr[15] |= 2;
    dns6 = prefix6;
    dns6.s6_addr[15] |= 3;
    if ((s->ipv6_host &&
         !slirp_opt_parse_ip6("ipv6-host", s->ipv6_host, &host6, errp)) ||
        (s->ipv6_dns &&
         !slirp_opt_parse_ip6("ipv6-dns", s->ipv6_dns, &dns6, errp))) {
        return FALSE;
    }

    cfg.restricted = s->restricted;
    cfg.in_enabled = s->ipv4;
    cfg.vnetwork = net;
    cfg.vnetmask = mask;
    cfg.vhost = host;
    cfg.in6_enabled = s->ipv6;
    cfg.vprefix_addr6 = prefix6;
    cfg.vprefix_len = (uint8_t)prefix_len;
    cfg.vhost6 = host6;
    cfg.vhostname = s->hostname;
    cfg.tftp_server_name = s->tftp_server_name;
    cfg.tftp_path = s->tftp;
    cfg.bootfile = s->bootfile;
    cfg.vdhcp_start = dhcp;
    cfg.vnameserver = dns;
    cfg.vnameserver6 = dns6;
    cfg.vdomainname = s->domainname;
    s->guest_default = dhcp;

    s->slirp = slirp_new(&cfg, &slirp_callbacks, s);
    if (!s->slirp) {
        error_setg(errp, "user '%s': libslirp refused the configuration",
                   slirp_id(s));
        return FALSE;
    }
    if (!slirp_add_rules(s, s->hostfwd, errp)) {
        return FALSE;
    }
    for (int i = 0; i < SLIRP_HOSTFWD_SLOTS; i++) {
        if (!slirp_add_rules(s, s->hostfwd_n[i], errp)) {
            return FALSE;
        }
    }
    s->source = (SlirpSource *)g_source_new(&slirp_source_funcs,
                                            sizeof(SlirpSource));
    s->source->s = s;
    s->source->by_fd = g_hash_table_new_full(NULL, NULL, NULL, g_free);
    s->source->cur = g_ptr_array_new();
    s->source->deadline_us = -1;
    g_source_set_static_name(&s->source->source, "colo-net-slirp");
    g_source_attach(&s->source->source, NULL);
    return net_client_complete(obj, errp);
}

static void net_slirp_stop(NetSlirp *s)
{
    if (s->source) {
        g_source_destroy(&s->source->source);
        g_source_unref(&s->source->source);
        s->source = NULL;
    }
    if (s->slirp) {
        slirp_cleanup(s->slirp);   /* frees its timers through our cbs */
        s->slirp = NULL;
    }
}

static void net_slirp_unparent(UserObject *obj)
{
    net_slirp_stop(NET_SLIRP(obj));
    USER_OBJECT_CLASS(net_slirp_parent_class)->unparent(obj);
}

static void net_slirp_finalize(GObject *obj)
{
    NetSlirp *s = NET_SLIRP(obj);

    net_slirp_stop(s);
    G_OBJECT_CLASS(net_slirp_parent_class)->finalize(obj);
}

static gssize net_slirp_receive(NetClient *nc, const uint8_t *buf,
                                size_t len)
{
    NetSlirp *s = NET_SLIRP(nc);
    gssize skip = net_vnet_skip(nc, len);

    if (G_UNLIKELY(skip < 0 || len - skip > G_MAXINT)) {
        stats_inc(&net_client_get_stats(nc)->drop_malformed);
        return -EINVAL;
    }
    if (G_UNLIKELY(!s->slirp)) {
        stats_inc(&net_client_get_stats(nc)->drop_error);
        return -ENOTCONN;
    }
    slirp_input(s->slirp, buf + skip, (int)(len - skip));
    return len;
}

static void net_slirp_fill_stats(NetClient *nc, void *obj)
{
    NetSlirp *s = NET_SLIRP(nc);

    json_object_set_int_member(obj, "hostfwd-rules", s->hostfwd_rules);
    json_object_set_int_member(obj, "guest-errors", s->guest_errors);
}

static void net_slirp_init(NetSlirp *s)
{
}

#define SLIRP_STR(name, field, help) \
    DEFINE_PROP_STR(name, NetSlirp, field, NULL, 0, help)
#define SLIRP_HOSTFWD(n) \
    SLIRP_STR("hostfwd." #n, hostfwd_n[n], "one more hostfwd rule")

static const PropDef net_slirp_props[] = {
    SLIRP_STR("net", net, "guest network ADDR[/MASK] (default 10.0.2.0/24)"),
    SLIRP_STR("host", host, "address of the virtual host (default: net + 2)"),
    SLIRP_STR("dhcpstart", dhcpstart,
              "first address handed out by DHCP (default: net + 15)"),
    SLIRP_STR("dns", dns,
              "address of the virtual DNS server (default: net + 3)"),
    DEFINE_PROP_BOOL("ipv4", NetSlirp, ipv4, TRUE, 0,
        "IPv4 on the guest network"),
    DEFINE_PROP_BOOL("ipv6", NetSlirp, ipv6, TRUE, 0,
        "IPv6 on the guest network"),
    SLIRP_STR("ipv6-net", ipv6_net,
              "guest IPv6 prefix PREFIX[/LEN] (default fec0::/64)"),
    SLIRP_STR("ipv6-host", ipv6_host,
              "IPv6 address of the virtual host (default: prefix::2)"),
    SLIRP_STR("ipv6-dns", ipv6_dns,
              "IPv6 address of the virtual DNS server (default: prefix::3)"),
    SLIRP_STR("hostname", hostname, "host name handed out by DHCP"),
    SLIRP_STR("domainname", domainname, "domain name handed out by DHCP"),
    DEFINE_PROP_BOOL("restrict", NetSlirp, restricted, FALSE, 0,
        "isolate the guest: only hostfwd connections reach it"),
    SLIRP_STR("tftp", tftp, "directory served by the built-in TFTP server"),
    SLIRP_STR("tftp-server-name", tftp_server_name,
              "TFTP server name handed out by DHCP"),
    SLIRP_STR("bootfile", bootfile, "boot file name handed out by DHCP"),
    SLIRP_STR("hostfwd", hostfwd,
              "[tcp|udp]:[HADDR]:HPORT-[GADDR]:GPORT; several rules "
              "separated by ';'"),
    SLIRP_STR("guestfwd", guestfwd, "not supported"),
    SLIRP_STR("smb", smb, "not supported"),
    /* hostfwd.0 ... hostfwd.7: one per SLIRP_HOSTFWD_SLOTS */
    SLIRP_HOSTFWD(0), SLIRP_HOSTFWD(1), SLIRP_HOSTFWD(2), SLIRP_HOSTFWD(3),
    SLIRP_HOSTFWD(4), SLIRP_HOSTFWD(5), SLIRP_HOSTFWD(6), SLIRP_HOSTFWD(7),
};
G_STATIC_ASSERT(SLIRP_HOSTFWD_SLOTS == 8);

static void net_slirp_class_init(NetSlirpClass *klass)
{
    GObjectClass *oc = G_OBJECT_CLASS(klass);
    UserObjectClass *uc = USER_OBJECT_CLASS(klass);
    NetClientClass *nc = NET_CLIENT_CLASS(klass);

    oc->finalize = net_slirp_finalize;
    uc->description = "user-mode network stack (libslirp): DHCP, DNS and "
                      "NAT without privileges";
    uc->complete = net_slirp_complete;
    uc->unparent = net_slirp_unparent;
    nc->receive = net_slirp_receive;
    nc->fill_stats = net_slirp_fill_stats;

    object_class_install_props(oc, net_slirp_props);
}

static void net_slirp_register(void)
{
    object_type_register(OBJECT_KIND_NETDEV, "user", NET_TYPE_SLIRP);
}
type_init(net_slirp_register)
