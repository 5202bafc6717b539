/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tests/unit/test-netqueue.c - the bounded frame queue (net/queue.c) and
 * the client queueing and back-pressure of the send path (net/net.c).
 *
 * The queue is tested on its own (order, bound, drop counting, buffer
 * recycling), then through a pair of in-memory NetClients whose receive()
 * can refuse frames, to check queueing, flush order, drop_queue_full,
 * can_send and the read_poll(TRUE) wake-up when the queue drains.
 */
#include <check.h>
#include <string.h>

#include "check-main.h"
#include "net/net.h"
#include "net/queue.h"
#include "util/error.h"

/* --- the queue alone ------------------------------------------------------ */

static void fill(uint8_t *buf, size_t len, unsigned seed)
{
    for (size_t i = 0; i < len; i++) {
        buf[i] = (uint8_t) (seed + i);
    }
}

START_TEST(test_queue_order_and_bound)
{
    NetQueue q;
    uint8_t buf[100];

    net_queue_init(&q, 8);
    for (unsigned i = 0; i < 12; i++) {
        fill(buf, sizeof(buf), i);
        ck_assert(net_queue_push(&q, buf, 10 + i, i) == (i < 8));
    }
    ck_assert_uint_eq(net_queue_len(&q), 8);
    ck_assert_uint_eq(q.dropped_full, 4);
    ck_assert(net_queue_is_full(&q));
    for (unsigned i = 0; i < 8; i++) {
        const NetQueueEntry *e = net_queue_peek(&q);

        ck_assert_ptr_nonnull(e);
        ck_assert_uint_eq(e->tag, i);
        ck_assert_uint_eq(e->len, 10 + i);
        fill(buf, sizeof(buf), i);
        ck_assert_int_eq(memcmp(e->data, buf, e->len), 0);
        net_queue_pop(&q);
    }
    ck_assert(net_queue_is_empty(&q));
    ck_assert_ptr_null(net_queue_peek(&q));
    ck_assert_uint_eq(q.bytes, 0);
    net_queue_destroy(&q);
}
END_TEST

START_TEST(test_queue_recycles_buffers)
{
    NetQueue q;
    uint8_t buf[1500];

    net_queue_init(&q, 16);
    fill(buf, sizeof(buf), 7);
    /* Warm up to depth 16, then oscillate: no allocation after. */
    for (unsigned i = 0; i < 16; i++) {
        ck_assert(net_queue_push(&q, buf, sizeof(buf), 0));
    }
    net_queue_purge(&q);
    uint64_t allocs = q.allocs;

    for (unsigned round = 0; round < 1000; round++) {
        unsigned depth = 1 + round % 16;

        for (unsigned i = 0; i < depth; i++) {
            ck_assert(net_queue_push(&q, buf, 60 + i * 90, 0));
        }
        for (unsigned i = 0; i < depth; i++) {
            net_queue_pop(&q);
        }
    }
    ck_assert_uint_eq(q.allocs, allocs);
    ck_assert_uint_le(q.allocated, 16);
    net_queue_destroy(&q);
}
END_TEST

START_TEST(test_queue_no_growth_past_bound)
{
    NetQueue q;
    static uint8_t big[9000];

    net_queue_init(&q, 4);
    for (unsigned i = 0; i < 10000; i++) {
        net_queue_push(&q, big, 1 + i % sizeof(big), 0);
        if (i % 3 == 0) {
            net_queue_pop(&q);
        }
    }
    ck_assert_uint_le(q.allocated, 4);
    ck_assert_uint_le(net_queue_len(&q), 4);
    ck_assert_uint_gt(q.dropped_full, 0);
    ck_assert_uint_eq(q.pushed, q.popped + net_queue_len(&q));
    /* A smaller bound releases spare buffers as frames drain. */
    net_queue_set_limit(&q, 2);
    net_queue_purge(&q);
    ck_assert_uint_le(q.allocated, 2);
    net_queue_destroy(&q);
}
END_TEST

typedef struct {
    unsigned taken;
    unsigned budget;          /* frames to take before returning 0 */
    unsigned drop_every;      /* return -1 for every n-th call (0: never) */
    unsigned calls;
    uint32_t tags[64];
} FlushCtx;

static gssize flush_fn(void *opaque, const uint8_t *buf, size_t len,
                       uint32_t tag)
{
    FlushCtx *c = opaque;

    c->calls++;
    if (c->taken >= c->budget) {
        return 0;
    }
    if (c->drop_every && c->calls % c->drop_every == 0) {
        return -1;
    }
    c->tags[c->taken++] = tag;
    return len;
}

START_TEST(test_queue_flush)
{
    NetQueue q;
    uint8_t b[4] = { 1, 2, 3, 4 };
    FlushCtx c = { .budget = 3 };

    net_queue_init(&q, 32);
    for (unsigned i = 0; i < 10; i++) {
        net_queue_push(&q, b, sizeof(b), i);
    }
    ck_assert_uint_eq(net_queue_flush(&q, flush_fn, &c, 0), 3);
    ck_assert_uint_eq(net_queue_len(&q), 7);
    ck_assert_uint_eq(net_queue_peek(&q)->tag, 3);
    /* A limit on the number per call. */
    c.budget = 100;
    ck_assert_uint_eq(net_queue_flush(&q, flush_fn, &c, 2), 2);
    /* Dropped frames (< 0) are removed too. */
    c.drop_every = 2;
    ck_assert_uint_eq(net_queue_flush(&q, flush_fn, &c, 0), 5);
    ck_assert(net_queue_is_empty(&q));
    for (unsigned i = 1; i < c.taken; i++) {
        ck_assert_uint_lt(c.tags[i - 1], c.tags[i]);
    }
    net_queue_destroy(&q);
}
END_TEST

/* --- a pair of in-memory clients ----------------------------------------- */

#define TEST_TYPE_CLIENT (test_client_get_type())
G_DECLARE_FINAL_TYPE(TestClient, test_client, TEST, CLIENT, NetClient)

struct _TestClient {
    NetClient parent_instance;
    gboolean refuse;          /* receive() returns 0 */
    GPtrArray *frames;        /* GBytes received */
    unsigned polls_on;        /* read_poll(TRUE) calls */
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

static void test_client_read_poll(NetClient *nc, gboolean enable)
{
    if (enable) {
        TEST_CLIENT(nc)->polls_on++;
    }
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
    NET_CLIENT_CLASS(klass)->read_poll = test_client_read_poll;
}

static TestClient *make(ObjectKind kind, const char *type, const char *id,
                        const char *k1, const char *v1,
                        const char *k2, const char *v2)
{
    g_autoptr(GHashTable) props = g_hash_table_new(g_str_hash, g_str_equal);
    g_autoptr(GError) err = NULL;
    UserObject *obj;

    if (k1) {
        g_hash_table_insert(props, (char *) k1, (char *) v1);
    }
    if (k2) {
        g_hash_table_insert(props, (char *) k2, (char *) v2);
    }
    obj = user_object_create(kind, type, id, props, &err);
    ck_assert_msg(obj, "creating %s: %s", id, err ? err->message : "?");
    return TEST_CLIENT(obj);
}

static unsigned frame_seq(GBytes *b)
{
    gsize n;
    const uint8_t *d = g_bytes_get_data(b, &n);

    ck_assert_uint_ge(n, 2);
    return d[0] | d[1] << 8;
}

static void send_seq(NetClient *from, unsigned seq)
{
    uint8_t f[60] = { 0 };

    f[0] = seq & 0xff;
    f[1] = seq >> 8;
    net_client_send(from, f, sizeof(f));
}

START_TEST(test_client_queue_and_flush)
{
    TestClient *nd = make(OBJECT_KIND_NETDEV, "test-netdev", "hn0",
                          NULL, NULL, NULL, NULL);
    TestClient *dev = make(OBJECT_KIND_DEVICE, "test-nic", "nic0",
                           "netdev", "hn0", "queue-size", "8");
    NetClientStats *ds = net_client_get_stats(NET_CLIENT(dev));

    ck_assert_ptr_eq(net_client_get_peer(NET_CLIENT(nd)), NET_CLIENT(dev));
    send_seq(NET_CLIENT(nd), 0);
    ck_assert_uint_eq(dev->frames->len, 1);

    dev->refuse = TRUE;
    for (unsigned i = 1; i <= 12; i++) {
        send_seq(NET_CLIENT(nd), i);
    }
    /* 8 queued, 4 dropped, nothing delivered. */
    ck_assert_uint_eq(dev->frames->len, 1);
    ck_assert_uint_eq(ds->queued, 8);
    ck_assert_uint_eq(ds->drop_queue_full, 4);
    ck_assert(!net_client_can_send(NET_CLIENT(nd)));

    /* A flush while still refusing keeps everything. */
    net_client_flush(NET_CLIENT(dev));
    ck_assert_uint_eq(dev->frames->len, 1);

    dev->refuse = FALSE;
    net_client_flush(NET_CLIENT(dev));
    ck_assert_uint_eq(dev->frames->len, 9);
    for (unsigned i = 0; i < 9; i++) {
        ck_assert_uint_eq(frame_seq(dev->frames->pdata[i]), i);
    }
    ck_assert(net_client_can_send(NET_CLIENT(nd)));
    /* The throttled sender was woken once. */
    ck_assert_uint_eq(nd->polls_on, 1);
    ck_assert_uint_eq(ds->tx_frames, 9);
    ck_assert_uint_eq(net_client_get_stats(NET_CLIENT(nd))->rx_frames, 13);
}
END_TEST

START_TEST(test_client_order_behind_queue)
{
    TestClient *nd = make(OBJECT_KIND_NETDEV, "test-netdev", "hn0",
                          "queue-size", "16", NULL, NULL);
    TestClient *dev = make(OBJECT_KIND_DEVICE, "test-nic", "nic0",
                           "netdev", "hn0", NULL, NULL);

    /* rx: the device sends, the netdev refuses. */
    nd->refuse = TRUE;
    send_seq(NET_CLIENT(dev), 1);
    send_seq(NET_CLIENT(dev), 2);
    nd->refuse = FALSE;
    /* A new frame must not overtake the queued ones. */
    send_seq(NET_CLIENT(dev), 3);
    ck_assert_uint_eq(nd->frames->len, 0);
    net_client_flush(NET_CLIENT(nd));
    ck_assert_uint_eq(nd->frames->len, 3);
    for (unsigned i = 0; i < 3; i++) {
        ck_assert_uint_eq(frame_seq(nd->frames->pdata[i]), i + 1);
    }
    /* Below high water: no wake-up needed. */
    ck_assert_uint_eq(dev->polls_on, 0);
}
END_TEST

START_TEST(test_client_backpressure_low_water)
{
    TestClient *nd = make(OBJECT_KIND_NETDEV, "test-netdev", "hn0",
                          NULL, NULL, NULL, NULL);
    TestClient *dev = make(OBJECT_KIND_DEVICE, "test-nic", "nic0",
                           "netdev", "hn0", "queue-size", "8");
    gboolean stopped = FALSE;
    unsigned sent = 0;

    dev->refuse = TRUE;
    /* A well-behaved sender stops when can_send() says so. */
    while (net_client_can_send(NET_CLIENT(nd))) {
        send_seq(NET_CLIENT(nd), sent++);
        ck_assert_uint_lt(sent, 100);
    }
    stopped = TRUE;
    ck_assert(stopped);
    ck_assert_uint_eq(sent, 6);   /* high water = 8 - 8 / 4 */
    ck_assert_uint_eq(net_client_get_stats(NET_CLIENT(dev))->drop_queue_full,
                      0);
    ck_assert_uint_eq(nd->polls_on, 0);
    dev->refuse = FALSE;
    net_client_flush(NET_CLIENT(dev));
    ck_assert_uint_eq(nd->polls_on, 1);
    ck_assert_uint_eq(dev->frames->len, 6);
}
END_TEST

START_TEST(test_client_unpair_wakes_sender)
{
    TestClient *nd = make(OBJECT_KIND_NETDEV, "test-netdev", "hn0",
                          NULL, NULL, NULL, NULL);
    TestClient *dev = make(OBJECT_KIND_DEVICE, "test-nic", "nic0",
                           "netdev", "hn0", "queue-size", "4");

    dev->refuse = TRUE;
    for (unsigned i = 0; i < 4; i++) {
        send_seq(NET_CLIENT(nd), i);
    }
    ck_assert(!net_client_can_send(NET_CLIENT(nd)));
    /* The device goes away with the netdev throttled: it is woken. */
    ck_assert(user_object_delete(OBJECT_KIND_DEVICE, "nic0", NULL));
    ck_assert_uint_eq(nd->polls_on, 1);
    ck_assert(net_client_can_send(NET_CLIENT(nd)));
}
END_TEST

START_TEST(test_client_no_peer)
{
    TestClient *nd = make(OBJECT_KIND_NETDEV, "test-netdev", "hn0",
                          NULL, NULL, NULL, NULL);
    TestClient *dev = make(OBJECT_KIND_DEVICE, "test-nic", "nic0",
                           NULL, NULL, NULL, NULL);

    send_seq(NET_CLIENT(nd), 1);
    send_seq(NET_CLIENT(dev), 1);
    ck_assert_uint_eq(net_client_get_stats(NET_CLIENT(nd))->drop_no_peer, 1);
    ck_assert_uint_eq(net_client_get_stats(NET_CLIENT(dev))->drop_no_peer, 1);
    ck_assert(net_client_can_send(NET_CLIENT(nd)));
}
END_TEST

START_TEST(test_client_pairing_errors)
{
    g_autoptr(GHashTable) props = g_hash_table_new(g_str_hash, g_str_equal);
    g_autoptr(GError) err = NULL;

    make(OBJECT_KIND_NETDEV, "test-netdev", "hn0", NULL, NULL, NULL, NULL);
    make(OBJECT_KIND_DEVICE, "test-nic", "nic0", "netdev", "hn0", NULL, NULL);

    g_hash_table_insert(props, "netdev", "hn0");
    ck_assert_ptr_null(user_object_create(OBJECT_KIND_DEVICE, "test-nic",
                                          "nic1", props, &err));
    ck_assert_str_eq(err->message,
                     "Property 'test-nic.netdev' can't use value 'hn0', "
                     "it's in use");
    g_clear_error(&err);

    g_hash_table_insert(props, "netdev", "nope");
    ck_assert_ptr_null(user_object_create(OBJECT_KIND_DEVICE, "test-nic",
                                          "nic1", props, &err));
    ck_assert_str_eq(err->message,
                     "Property 'test-nic.netdev' can't find value 'nope'");
    g_clear_error(&err);

    ck_assert_ptr_null(net_find_netdev("nic0", &err));
    ck_assert_str_eq(err->message,
                     "Parameter 'netdev' expects a network backend id: "
                     "'nic0' is a guest-facing -device, not a -netdev");
    g_clear_error(&err);

    /* netdev_del refuses while the device uses it; deleting the device
     * unpairs. */
    ck_assert(!user_object_delete(OBJECT_KIND_NETDEV, "hn0", &err));
    g_clear_error(&err);
    ck_assert(user_object_delete(OBJECT_KIND_DEVICE, "nic0", &err));
    ck_assert_ptr_null(net_client_get_peer(
                           NET_CLIENT(user_object_find(OBJECT_KIND_NETDEV,
                                                       "hn0"))));
    ck_assert(user_object_delete(OBJECT_KIND_NETDEV, "hn0", &err));
}
END_TEST

static void teardown(void)
{
    user_object_delete_all();
}

static Suite *netqueue_suite(void)
{
    Suite *s = suite_create("net/queue");
    TCase *tq = tcase_create("queue");
    TCase *tc = tcase_create("client");

    tcase_add_test(tq, test_queue_order_and_bound);
    tcase_add_test(tq, test_queue_recycles_buffers);
    tcase_add_test(tq, test_queue_no_growth_past_bound);
    tcase_add_test(tq, test_queue_flush);
    suite_add_tcase(s, tq);

    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, test_client_queue_and_flush);
    tcase_add_test(tc, test_client_order_behind_queue);
    tcase_add_test(tc, test_client_backpressure_low_water);
    tcase_add_test(tc, test_client_unpair_wakes_sender);
    tcase_add_test(tc, test_client_no_peer);
    tcase_add_test(tc, test_client_pairing_errors);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    object_type_register(OBJECT_KIND_NETDEV, "test-netdev", TEST_TYPE_CLIENT);
    object_type_register(OBJECT_KIND_DEVICE, "test-nic", TEST_TYPE_CLIENT);
    return check_run(netqueue_suite());
}
