/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tests/unit/test-filter-chain.c - the netfilter chain (net/filter.c and
 * the send path of net/net.c), filter-buffer and filter-dump.
 *
 * An in-memory NetClient ("test-netdev" / "test-nic") records the frames
 * its receive() gets; a test filter ("test-filter") records every call in
 * a trace string and can pass, steal or hold frames (held frames are
 * re-injected with netfilter_pass_to_next() by the test or by cleanup()).
 */
#include <check.h>
#include <errno.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>

#include "check-main.h"
#include "net/filter.h"
#include "net/net.h"
#include "qom/props.h"
#include "util/error.h"

static GString *trace;

/* --- test client ---------------------------------------------------------- */

#define TEST_TYPE_CLIENT (test_client_get_type())
G_DECLARE_FINAL_TYPE(TestClient, test_client, TEST, CLIENT, NetClient)

struct _TestClient {
    NetClient parent_instance;
    gboolean refuse;          /* receive() returns 0 */
    GPtrArray *frames;        /* GBytes received */
};

G_DEFINE_FINAL_TYPE(TestClient, test_client, NET_TYPE_CLIENT)

static gssize test_client_receive(NetClient *nc, const uint8_t *buf,
                                  size_t len)
{
    TestClient *t = TEST_CLIENT(nc);

    if (t->refuse) {
        return 0;
    }
    g_ptr_array_add(t->frames, g_bytes_new(buf, len));
    return len;
}

static void test_client_finalize(GObject *obj)
{
    g_ptr_array_unref(TEST_CLIENT(obj)->frames);
    G_OBJECT_CLASS(test_client_parent_class)->finalize(obj);
}

static void test_client_init(TestClient *t)
{
    t->frames = g_ptr_array_new_with_free_func((GDestroyNotify) g_bytes_unref);
}

static void test_client_class_init(TestClientClass *klass)
{
    G_OBJECT_CLASS(klass)->finalize = test_client_finalize;
    NET_CLIENT_CLASS(klass)->receive = test_client_receive;
}

/* --- test filter ---------------------------------------------------------- */

typedef enum { MODE_PASS, MODE_STEAL, MODE_HOLD } TestMode;

#define TEST_TYPE_FILTER (test_filter_get_type())
G_DECLARE_FINAL_TYPE(TestFilter, test_filter, TEST, FILTER, NetFilter)

struct _TestFilter {
    NetFilter parent_instance;
    char *mode;               /* pass, steal or hold */
    gboolean fail_event;      /* handle_event() fails */
    GPtrArray *held;          /* GBytes held (direction in held_dir) */
    GArray *held_dir;
};

G_DEFINE_FINAL_TYPE(TestFilter, test_filter, NET_TYPE_FILTER)


static TestMode mode_of(TestFilter *f)
{
    if (g_strcmp0(f->mode, "steal") == 0) {
        return MODE_STEAL;
    }
    if (g_strcmp0(f->mode, "hold") == 0) {
        return MODE_HOLD;
    }
    return MODE_PASS;
}

static NetFilterVerdict test_filter_receive(NetFilter *nf, NetClient *sender,
                                            NetFilterDirection dir,
                                            const uint8_t *buf, size_t len)
{
    TestFilter *f = TEST_FILTER(nf);

    ck_assert_ptr_nonnull(sender);
    g_string_append_printf(trace, "%s:%s ", netfilter_get_id(nf),
                           dir == NET_FILTER_DIRECTION_TX ? "tx" : "rx");
    switch (mode_of(f)) {
    case MODE_STEAL:
        return NETFILTER_STOLEN;
    case MODE_HOLD:
        g_ptr_array_add(f->held, g_bytes_new(buf, len));
        g_array_append_val(f->held_dir, dir);
        return NETFILTER_STOLEN;
    default:
        return NETFILTER_PASS;
    }
}

static void test_filter_release(TestFilter *f)
{
    for (guint i = 0; i < f->held->len; i++) {
        gsize n;
        const uint8_t *d = g_bytes_get_data(f->held->pdata[i], &n);

        netfilter_pass_to_next(NET_FILTER(f),
                               g_array_index(f->held_dir,
                                             NetFilterDirection, i), d, n);
    }
    g_ptr_array_set_size(f->held, 0);
    g_array_set_size(f->held_dir, 0);
}

static void test_filter_cleanup(NetFilter *nf)
{
    g_string_append_printf(trace, "%s:cleanup ", netfilter_get_id(nf));
    test_filter_release(TEST_FILTER(nf));
}

static void test_filter_status_changed(NetFilter *nf, gboolean on)
{
    g_string_append_printf(trace, "%s:%s ", netfilter_get_id(nf),
                           on ? "on" : "off");
}

static gboolean test_filter_handle_event(NetFilter *nf,
                                         const ColoEventInfo *ev,
                                         GError **errp)
{
    g_string_append_printf(trace, "%s:ev%d ", netfilter_get_id(nf),
                           ev->event);
    if (TEST_FILTER(nf)->fail_event) {
        error_setg(errp, "%s refuses", netfilter_get_id(nf));
        return FALSE;
    }
    return TRUE;
}

static void test_filter_finalize(GObject *obj)
{
    TestFilter *f = TEST_FILTER(obj);

    g_ptr_array_unref(f->held);
    g_array_unref(f->held_dir);
    G_OBJECT_CLASS(test_filter_parent_class)->finalize(obj);
}

static void test_filter_init(TestFilter *f)
{
    f->held = g_ptr_array_new_with_free_func((GDestroyNotify) g_bytes_unref);
    f->held_dir = g_array_new(FALSE, FALSE, sizeof(NetFilterDirection));
}

static const PropDef test_filter_props[] = {
    DEFINE_PROP_STR("mode", TestFilter, mode, "pass", 0,
        "pass, steal or hold"),
    DEFINE_PROP_BOOL("fail-event", TestFilter, fail_event, FALSE, 0,
        "handle_event() fails"),
};

static void test_filter_class_init(TestFilterClass *klass)
{
    GObjectClass *oc = G_OBJECT_CLASS(klass);
    NetFilterClass *fc = NET_FILTER_CLASS(klass);

    oc->finalize = test_filter_finalize;
    fc->receive = test_filter_receive;
    fc->cleanup = test_filter_cleanup;
    fc->status_changed = test_filter_status_changed;
    fc->handle_event = test_filter_handle_event;
    object_class_install_props(oc, test_filter_props);
}

/* --- helpers ------------------------------------------------------------- */

/* Creates an object from "k=v,k=v" (no escaping needed in these tests);
 * returns NULL and sets *errp on failure. */
static UserObject *try_make(ObjectKind kind, const char *type,
                            const char *id, const char *kv, GError **errp)
{
    g_autoptr(GHashTable) props =
        g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    g_auto(GStrv) pairs = g_strsplit(kv ? kv : "", ",", -1);

    for (char **p = pairs; *p; p++) {
        char *eq;

        if (!**p) {
            continue;
        }
        eq = strchr(*p, '=');
        ck_assert_ptr_nonnull(eq);
        g_hash_table_insert(props, g_strndup(*p, eq - *p),
                            g_strdup(eq + 1));
    }
    return user_object_create(kind, type, id, props, errp);
}

static UserObject *make(ObjectKind kind, const char *type, const char *id,
                        const char *kv)
{
    g_autoptr(GError) err = NULL;
    UserObject *obj = try_make(kind, type, id, kv, &err);

    ck_assert_msg(obj, "creating %s: %s", id, err ? err->message : "?");
    return obj;
}

static void make_fails(const char *type, const char *id, const char *kv,
                       const char *msg)
{
    g_autoptr(GError) err = NULL;

    ck_assert_ptr_null(try_make(OBJECT_KIND_OBJECT, type, id, kv, &err));
    ck_assert_ptr_nonnull(err);
    if (msg) {
        ck_assert_str_eq(err->message, msg);
    }
    ck_assert_ptr_null(user_object_find(OBJECT_KIND_OBJECT, id));
}

static TestFilter *filter(const char *id, const char *kv)
{
    return TEST_FILTER(make(OBJECT_KIND_OBJECT, "test-filter", id, kv));
}

static TestClient *nd, *dev;

/* hn0 paired with nic0; the trace is reset. */
static void setup_port(void)
{
    trace = g_string_new("");
    nd = TEST_CLIENT(make(OBJECT_KIND_NETDEV, "test-netdev", "hn0", NULL));
    dev = TEST_CLIENT(make(OBJECT_KIND_DEVICE, "test-nic", "nic0",
                           "netdev=hn0"));
}

static void send_from(TestClient *c, unsigned seq)
{
    uint8_t f[64];

    memset(f, 0, sizeof(f));
    f[0] = seq;
    net_client_send(NET_CLIENT(c), f, sizeof(f));
}

static void assert_trace(const char *expected)
{
    g_strchomp(trace->str);
    trace->len = strlen(trace->str);
    ck_assert_str_eq(trace->str, expected);
    g_string_truncate(trace, 0);
}

static unsigned seq_of(TestClient *c, guint i)
{
    ck_assert_uint_lt(i, c->frames->len);
    return ((const uint8_t *) g_bytes_get_data(c->frames->pdata[i], NULL))[0];
}

static char *chain_str(TestClient *netdev)
{
    GString *s = g_string_new("");

    for (GList *l = net_client_get_filters(NET_CLIENT(netdev))->head; l;
         l = l->next) {
        g_string_append_printf(s, "%s%s", s->len ? " " : "",
                               netfilter_get_id(l->data));
    }
    return g_string_free(s, FALSE);
}

static void assert_chain(TestClient *netdev, const char *expected)
{
    g_autofree char *s = chain_str(netdev);

    ck_assert_str_eq(s, expected);
}

/* --- order and direction ------------------------------------------------- */

START_TEST(test_tx_rx_order)
{
    setup_port();
    filter("f1", "netdev=hn0");
    filter("f2", "netdev=hn0");
    filter("f3", "netdev=hn0");

    send_from(nd, 1);
    assert_trace("f1:tx f2:tx f3:tx");
    ck_assert_uint_eq(dev->frames->len, 1);
    ck_assert_uint_eq(nd->frames->len, 0);

    send_from(dev, 2);
    assert_trace("f3:rx f2:rx f1:rx");
    ck_assert_uint_eq(nd->frames->len, 1);
    ck_assert_uint_eq(seq_of(nd, 0), 2);
}
END_TEST

START_TEST(test_queue_direction)
{
    setup_port();
    filter("f1", "netdev=hn0,queue=rx");
    filter("f2", "netdev=hn0,queue=tx");
    filter("f3", "netdev=hn0,queue=all");

    send_from(nd, 1);
    assert_trace("f2:tx f3:tx");
    send_from(dev, 2);
    assert_trace("f3:rx f1:rx");
    ck_assert_uint_eq(dev->frames->len, 1);
    ck_assert_uint_eq(nd->frames->len, 1);
}
END_TEST

START_TEST(test_status)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *st = NULL;
    TestFilter *f2;

    setup_port();
    filter("f1", "netdev=hn0");
    f2 = filter("f2", "netdev=hn0,status=off");
    filter("f3", "netdev=hn0");
    assert_trace("");

    send_from(nd, 1);
    assert_trace("f1:tx f3:tx");

    ck_assert(user_object_set_str(USER_OBJECT(f2), "status", "on", &err));
    assert_trace("f2:on");
    send_from(nd, 2);
    assert_trace("f1:tx f2:tx f3:tx");
    st = user_object_get_str(USER_OBJECT(f2), "status", &err);
    ck_assert_str_eq(st, "on");

    ck_assert(!user_object_set_str(USER_OBJECT(f2), "status", "maybe",
                                   &err));
    ck_assert_str_eq(err->message, "Invalid value for netfilter status, "
                     "should be 'on' or 'off'");
    g_clear_error(&err);
    ck_assert(netfilter_is_on(NET_FILTER(f2)));

    ck_assert(user_object_set_str(USER_OBJECT(f2), "status", "off", &err));
    assert_trace("f2:off");
    send_from(dev, 3);
    assert_trace("f3:rx f1:rx");

    make_fails("test-filter", "f4", "netdev=hn0,status=yes",
               "Invalid value for netfilter status, should be 'on' or "
               "'off'");
    /* Other properties are fixed after creation. */
    ck_assert(!user_object_set_str(USER_OBJECT(f2), "queue", "rx", &err));
}
END_TEST

START_TEST(test_position)
{
    TestClient *nd1;

    setup_port();
    filter("f1", "netdev=hn0");
    filter("f2", "netdev=hn0,position=head");
    assert_chain(nd, "f2 f1");
    filter("f3", "netdev=hn0,position=id=f1,insert=before");
    assert_chain(nd, "f2 f3 f1");
    filter("f4", "netdev=hn0,position=id=f2");
    assert_chain(nd, "f2 f4 f3 f1");
    filter("f5", "netdev=hn0,position=id=f1,insert=behind");
    filter("f6", "netdev=hn0,position=tail");
    assert_chain(nd, "f2 f4 f3 f1 f5 f6");
    send_from(nd, 1);
    assert_trace("f2:tx f4:tx f3:tx f1:tx f5:tx f6:tx");

    nd1 = TEST_CLIENT(make(OBJECT_KIND_NETDEV, "test-netdev", "hn1", NULL));
    filter("g1", "netdev=hn1");

    make_fails("test-filter", "x", "netdev=hn0,position=middle",
               "Parameter 'position' expects 'head', 'tail' or 'id=<id>'");
    make_fails("test-filter", "x", "netdev=hn0,position=id=nope",
               "Parameter 'position': filter 'nope' not found");
    make_fails("test-filter", "x", "netdev=hn0,position=id=g1",
               "Parameter 'position': filter 'g1' belongs to a different "
               "netdev");
    make_fails("test-filter", "x", "netdev=hn0,position=id=f1,insert=after",
               NULL);
    make_fails("test-filter", "x", "netdev=nic0",
               "Parameter 'netdev' expects a network backend id: 'nic0' is "
               "a guest-facing -device, not a -netdev");
    make_fails("test-filter", "x", "netdev=nope",
               "Parameter 'netdev' expects a network backend id: there is "
               "no -netdev 'nope'");
    make_fails("test-filter", "x", "queue=rx",
               "Parameter 'netdev' is missing");
    assert_chain(nd, "f2 f4 f3 f1 f5 f6");
    assert_chain(nd1, "g1");
    /* No failed attempt ran setup/cleanup or touched the chain. */
    assert_trace("");
}
END_TEST

/* --- steal, hold, pass_to_next ---------------------------------------- */

START_TEST(test_steal)
{
    setup_port();
    filter("f1", "netdev=hn0");
    filter("f2", "netdev=hn0,mode=steal");
    filter("f3", "netdev=hn0");

    send_from(nd, 1);
    assert_trace("f1:tx f2:tx");
    send_from(dev, 2);
    assert_trace("f3:rx f2:rx");
    ck_assert_uint_eq(dev->frames->len, 0);
    ck_assert_uint_eq(nd->frames->len, 0);
}
END_TEST

START_TEST(test_pass_to_next)
{
    TestFilter *f2;

    setup_port();
    filter("f1", "netdev=hn0");
    f2 = filter("f2", "netdev=hn0,mode=hold");
    filter("f3", "netdev=hn0");

    send_from(nd, 1);
    send_from(nd, 2);
    assert_trace("f1:tx f2:tx f1:tx f2:tx");
    send_from(dev, 3);
    assert_trace("f3:rx f2:rx");
    ck_assert_uint_eq(dev->frames->len, 0);
    ck_assert_uint_eq(nd->frames->len, 0);

    test_filter_release(f2);
    /* Continues after f2 in each frame's direction, nowhere else. */
    assert_trace("f3:tx f3:tx f1:rx");
    ck_assert_uint_eq(dev->frames->len, 2);
    ck_assert_uint_eq(seq_of(dev, 0), 1);
    ck_assert_uint_eq(seq_of(dev, 1), 2);
    ck_assert_uint_eq(nd->frames->len, 1);
    ck_assert_uint_eq(seq_of(nd, 0), 3);
}
END_TEST

START_TEST(test_pass_to_next_queues)
{
    TestFilter *f1;

    setup_port();
    f1 = filter("f1", "netdev=hn0,mode=hold");
    send_from(nd, 1);
    dev->refuse = TRUE;
    test_filter_release(f1);
    ck_assert_uint_eq(net_client_get_stats(NET_CLIENT(dev))->queued, 1);
    dev->refuse = FALSE;
    net_client_flush(NET_CLIENT(dev));
    ck_assert_uint_eq(dev->frames->len, 1);
}
END_TEST

START_TEST(test_no_device_peer)
{
    TestClient *lone;

    trace = g_string_new("");
    lone = TEST_CLIENT(make(OBJECT_KIND_NETDEV, "test-netdev", "hn9", NULL));
    filter("m", "netdev=hn9,queue=tx");
    send_from(lone, 1);
    /* The chain runs (a mirror would still see it), then it is dropped. */
    assert_trace("m:tx");
    ck_assert_uint_eq(net_client_get_stats(NET_CLIENT(lone))->drop_no_peer,
                      1);
}
END_TEST

/* --- deletion --------------------------------------------------------------- */

START_TEST(test_delete)
{
    g_autoptr(GError) err = NULL;
    TestFilter *f2;

    setup_port();
    filter("f1", "netdev=hn0");
    f2 = filter("f2", "netdev=hn0,mode=hold");
    filter("f3", "netdev=hn0");

    /* A netdev with filters cannot be deleted. */
    ck_assert(!user_object_delete(OBJECT_KIND_NETDEV, "hn0", &err));
    ck_assert_ptr_nonnull(strstr(err->message, "is in use by"));
    g_clear_error(&err);

    send_from(nd, 1);
    assert_trace("f1:tx f2:tx");
    ck_assert_uint_eq(f2->held->len, 1);
    /* cleanup() re-injects from f2's old place. */
    ck_assert(user_object_delete(OBJECT_KIND_OBJECT, "f2", &err));
    assert_trace("f2:cleanup f3:tx");
    ck_assert_uint_eq(dev->frames->len, 1);
    assert_chain(nd, "f1 f3");

    send_from(nd, 2);
    assert_trace("f1:tx f3:tx");
    ck_assert(user_object_delete(OBJECT_KIND_OBJECT, "f1", &err));
    ck_assert(user_object_delete(OBJECT_KIND_OBJECT, "f3", &err));
    assert_trace("f1:cleanup f3:cleanup");
    assert_chain(nd, "");
    ck_assert(user_object_delete(OBJECT_KIND_DEVICE, "nic0", &err));
    ck_assert(user_object_delete(OBJECT_KIND_NETDEV, "hn0", &err));
}
END_TEST

START_TEST(test_shutdown_detaches)
{
    setup_port();
    filter("f1", "netdev=hn0");
    filter("f2", "netdev=hn0,mode=hold");
    send_from(nd, 1);
    g_string_truncate(trace, 0);
    /* Newest first: the filters go before the port. */
    user_object_delete_all();
    ck_assert_str_eq(trace->str, "f2:cleanup f1:cleanup ");
    ck_assert_ptr_null(user_object_find(OBJECT_KIND_NETDEV, "hn0"));
}
END_TEST

/* --- COLO events --------------------------------------------------------- */

START_TEST(test_colo_notify)
{
    g_autoptr(GError) err = NULL;
    ColoEventInfo ckpt = { .event = COLO_EVENT_CHECKPOINT };
    ColoEventInfo fo = { .event = COLO_EVENT_FAILOVER,
                         .mode = COLO_MODE_PRIMARY, .reconfigure = TRUE };
    TestFilter *a2;

    setup_port();
    make(OBJECT_KIND_NETDEV, "test-netdev", "hn1", NULL);
    filter("b1", "netdev=hn1");
    filter("a1", "netdev=hn0");
    a2 = filter("a2", "netdev=hn0");
    filter("a0", "netdev=hn0,position=head");

    ck_assert(netfilter_notify_colo_event(&ckpt, &err));
    /* Netdevs in creation order, each chain head to tail. */
    assert_trace("a0:ev1 a1:ev1 a2:ev1 b1:ev1");

    g_object_set(a2, "fail-event", TRUE, NULL);
    ck_assert(!netfilter_notify_colo_event(&fo, &err));
    ck_assert_str_eq(err->message, "a2 refuses");
    assert_trace("a0:ev2 a1:ev2 a2:ev2");
}
END_TEST

/* --- filter-buffer ------------------------------------------------------- */

static gboolean iterate_until(TestClient *c, guint n, gint64 timeout_us)
{
    gint64 end = g_get_monotonic_time() + timeout_us;

    while (c->frames->len < n && g_get_monotonic_time() < end) {
        g_main_context_iteration(NULL, FALSE);
        g_usleep(500);
    }
    return c->frames->len >= n;
}

START_TEST(test_filter_buffer)
{
    g_autoptr(GError) err = NULL;
    UserObject *b;
    gint64 t0;

    setup_port();
    make_fails("filter-buffer", "b0", "netdev=hn0",
               "Parameter 'interval' is missing (microseconds between two "
               "releases, at least 1)");
    make_fails("filter-buffer", "b0", "netdev=hn0,interval=0",
               "Property 'filter-buffer.interval' requires a positive value");

    b = make(OBJECT_KIND_OBJECT, "filter-buffer", "b0",
             "netdev=hn0,interval=50000");
    filter("after", "netdev=hn0");
    t0 = g_get_monotonic_time();
    for (unsigned i = 0; i < 5; i++) {
        send_from(nd, i);
    }
    send_from(dev, 100);
    ck_assert_uint_eq(dev->frames->len, 0);
    ck_assert_uint_eq(nd->frames->len, 0);
    assert_trace("after:rx");

    ck_assert(iterate_until(dev, 5, 2 * G_USEC_PER_SEC));
    ck_assert_int_ge(g_get_monotonic_time() - t0, 40000);
    for (unsigned i = 0; i < 5; i++) {
        ck_assert_uint_eq(seq_of(dev, i), i);
    }
    ck_assert_uint_eq(nd->frames->len, 1);
    assert_trace("after:tx after:tx after:tx after:tx after:tx");

    /* A long interval, then status=off releases at once. */
    ck_assert(user_object_set_str(b, "interval", "60000000", &err));
    send_from(nd, 7);
    for (int i = 0; i < 20; i++) {
        g_main_context_iteration(NULL, FALSE);
    }
    ck_assert_uint_eq(dev->frames->len, 5);
    ck_assert(user_object_set_str(b, "status", "off", &err));
    ck_assert_uint_eq(dev->frames->len, 6);
    /* Off: frames pass straight through. */
    send_from(nd, 8);
    ck_assert_uint_eq(dev->frames->len, 7);

    /* On again, then deletion flushes. */
    ck_assert(user_object_set_str(b, "status", "on", &err));
    send_from(nd, 9);
    ck_assert_uint_eq(dev->frames->len, 7);
    ck_assert(user_object_delete(OBJECT_KIND_OBJECT, "b0", &err));
    ck_assert_uint_eq(dev->frames->len, 8);
    ck_assert_uint_eq(seq_of(dev, 7), 9);
}
END_TEST

START_TEST(test_filter_buffer_bounded)
{
    setup_port();
    make(OBJECT_KIND_OBJECT, "filter-buffer", "b0",
         "netdev=hn0,interval=60000000,max-frames=3");
    for (unsigned i = 0; i < 10; i++) {
        send_from(nd, i);
    }
    ck_assert(user_object_delete(OBJECT_KIND_OBJECT, "b0", NULL));
    ck_assert_uint_eq(dev->frames->len, 3);
    for (unsigned i = 0; i < 3; i++) {
        ck_assert_uint_eq(seq_of(dev, i), i);
    }
}
END_TEST

/* --- filter-dump ----------------------------------------------------------- */

typedef struct {
    uint32_t magic;
    uint16_t major, minor;
    int32_t zone;
    uint32_t sigfigs, snaplen, linktype;
} PcapHdr;

typedef struct {
    uint32_t sec, usec, caplen, len;
} PcapRec;

START_TEST(test_filter_dump)
{
    g_autofree char *dir = g_dir_make_tmp("netcore-dump-XXXXXX", NULL);
    g_autofree char *path = g_build_filename(dir, "d.pcap", NULL);
    g_autofree char *path2 = g_build_filename(dir, "t.pcap", NULL);
    g_autofree char *kv = g_strdup_printf("netdev=hn0,file=%s", path);
    g_autofree char *kv2 = g_strdup_printf("netdev=hn0,file=%s,maxlen=20,"
                                           "queue=rx", path2);
    g_autofree char *bad = g_strdup_printf("netdev=hn0,file=%s/no/such",
                                           dir);
    g_autofree char *data = NULL;
    gsize size, off;
    const PcapHdr *h;
    unsigned vnet = 10, count = 0;
    gint64 before = g_get_real_time() / G_USEC_PER_SEC;

    ck_assert_ptr_nonnull(dir);
    setup_port();
    net_client_set_vnet_hdr_len(NET_CLIENT(nd), vnet);
    make(OBJECT_KIND_OBJECT, "filter-dump", "d0", kv);
    make(OBJECT_KIND_OBJECT, "filter-dump", "d1", kv2);
    make_fails("filter-dump", "d2", bad, NULL);
    make_fails("filter-dump", "d2", "netdev=hn0",
               "Parameter 'file' is missing");

    /* Frames of 64 bytes carrying a 10-byte vnet header: 54 are the
     * Ethernet frame. */
    for (unsigned i = 0; i < 3; i++) {
        send_from(nd, i);
    }
    for (unsigned i = 3; i < 5; i++) {
        send_from(dev, i);
    }
    ck_assert_uint_eq(dev->frames->len, 3);
    ck_assert_uint_eq(nd->frames->len, 2);
    ck_assert(user_object_delete(OBJECT_KIND_OBJECT, "d0", NULL));
    ck_assert(user_object_delete(OBJECT_KIND_OBJECT, "d1", NULL));

    ck_assert(g_file_get_contents(path, &data, &size, NULL));
    ck_assert_uint_ge(size, sizeof(PcapHdr));
    h = (const PcapHdr *) data;
    ck_assert_uint_eq(h->magic, 0xa1b2c3d4);
    ck_assert_uint_eq(h->major, 2);
    ck_assert_uint_eq(h->minor, 4);
    ck_assert_uint_eq(h->snaplen, 65536);
    ck_assert_uint_eq(h->linktype, 1);
    for (off = sizeof(PcapHdr); off + sizeof(PcapRec) <= size; count++) {
        PcapRec r;

        memcpy(&r, data + off, sizeof(r));
        off += sizeof(r);
        ck_assert_uint_eq(r.caplen, 64 - vnet);
        ck_assert_uint_eq(r.len, 64 - vnet);
        ck_assert_uint_lt(r.usec, 1000000);
        ck_assert_int_ge((gint64) r.sec, before);
        ck_assert_uint_le(off + r.caplen, size);
        /* The vnet header was skipped: byte 0 of the frame (the seq)
         * is not in the record. */
        for (unsigned i = 0; i < r.caplen; i++) {
            ck_assert_uint_eq((uint8_t) data[off + i], 0);
        }
        off += r.caplen;
    }
    ck_assert_uint_eq(off, size);
    ck_assert_uint_eq(count, 5);

    g_free(data);
    data = NULL;
    ck_assert(g_file_get_contents(path2, &data, &size, NULL));
    h = (const PcapHdr *) data;
    ck_assert_uint_eq(h->snaplen, 20);
    /* rx only, truncated to 20 bytes. */
    ck_assert_uint_eq(size, sizeof(PcapHdr) + 2 * (sizeof(PcapRec) + 20));
    {
        PcapRec r;

        memcpy(&r, data + sizeof(PcapHdr), sizeof(r));
        ck_assert_uint_eq(r.caplen, 20);
        ck_assert_uint_eq(r.len, 54);
    }
    g_unlink(path);
    g_unlink(path2);
    g_rmdir(dir);
}
END_TEST

START_TEST(test_filter_dump_flush_timer)
{
    g_autofree char *dir = g_dir_make_tmp("netcore-dump-XXXXXX", NULL);
    g_autofree char *path = g_build_filename(dir, "d.pcap", NULL);
    g_autofree char *kv = g_strdup_printf("netdev=hn0,file=%s", path);
    gint64 end;
    GStatBuf st;

    setup_port();
    make(OBJECT_KIND_OBJECT, "filter-dump", "d0", kv);
    send_from(nd, 1);
    /* The stdio buffer reaches the file within about a second, while
     * the filter lives. */
    end = g_get_monotonic_time() + 3 * G_USEC_PER_SEC;
    do {
        g_main_context_iteration(NULL, FALSE);
        g_usleep(10000);
        ck_assert_int_eq(g_stat(path, &st), 0);
    } while (st.st_size < 24 + 16 + 64 && g_get_monotonic_time() < end);
    ck_assert_int_eq(st.st_size, 24 + 16 + 64);
    user_object_delete_all();
    g_unlink(path);
    g_rmdir(dir);
}
END_TEST

static void teardown(void)
{
    user_object_delete_all();
    if (trace) {
        g_string_free(trace, TRUE);
        trace = NULL;
    }
}

static Suite *filter_chain_suite(void)
{
    Suite *s = suite_create("net/filter");
    TCase *tc = tcase_create("chain");
    TCase *tf = tcase_create("filters");

    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, test_tx_rx_order);
    tcase_add_test(tc, test_queue_direction);
    tcase_add_test(tc, test_status);
    tcase_add_test(tc, test_position);
    tcase_add_test(tc, test_steal);
    tcase_add_test(tc, test_pass_to_next);
    tcase_add_test(tc, test_pass_to_next_queues);
    tcase_add_test(tc, test_no_device_peer);
    tcase_add_test(tc, test_delete);
    tcase_add_test(tc, test_shutdown_detaches);
    tcase_add_test(tc, test_colo_notify);
    suite_add_tcase(s, tc);

    tcase_add_checked_fixture(tf, NULL, teardown);
    tcase_add_test(tf, test_filter_buffer);
    tcase_add_test(tf, test_filter_buffer_bounded);
    tcase_add_test(tf, test_filter_dump);
    tcase_add_test(tf, test_filter_dump_flush_timer);
    tcase_set_timeout(tf, 20);
    suite_add_tcase(s, tf);
    return s;
}

int main(void)
{
    object_type_register(OBJECT_KIND_NETDEV, "test-netdev", TEST_TYPE_CLIENT);
    object_type_register(OBJECT_KIND_DEVICE, "test-nic", TEST_TYPE_CLIENT);
    object_type_register(OBJECT_KIND_OBJECT, "test-filter", TEST_TYPE_FILTER);
    return check_run(filter_chain_suite());
}
