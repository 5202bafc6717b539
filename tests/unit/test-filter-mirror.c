/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tests/unit/test-filter-mirror.c - filter-mirror and filter-redirector
 * (net/filter-mirror.c) in process.
 *
 * An in-memory NetClient pair ("test-netdev" hn0 / "test-nic" nic0) is the
 * port; the filters' chardevs are real socket chardevs on unix sockets
 * whose other end is a plain socket held by the test.  The main context is
 * iterated by the test.  What the process tests (tests/qtest/test_mirror.py,
 * test_redirector.py) cannot see is checked here: the "secondary lost
 * input" notifier list the COLO frame subscribes to (one notification per
 * episode, its reason and counts), the counters filled by fill_stats, and
 * the exact bytes of the framing.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <json-glib/json-glib.h>

#include "check-main.h"
#include "chardev/char.h"
#include "net/filter-mirror.h"
#include "net/net.h"
#include "util/error.h"
#include "test-loop.h"

/* --- an in-memory client ---------------------------------------------------- */

#define TEST_TYPE_CLIENT (test_client_get_type())
G_DECLARE_FINAL_TYPE(TestClient, test_client, TEST, CLIENT, NetClient)

struct _TestClient {
    NetClient parent_instance;
    GPtrArray *frames;        /* GBytes received */
    gboolean blocked;         /* receive() says "not now" (returns 0) */
};

G_DEFINE_FINAL_TYPE(TestClient, test_client, NET_TYPE_CLIENT)

static gssize test_client_receive(NetClient *nc, const uint8_t *buf,
                                  size_t len)
{
    if (TEST_CLIENT(nc)->blocked) {
        return 0;
    }
    g_ptr_array_add(TEST_CLIENT(nc)->frames, g_bytes_new(buf, len));
    return len;
}

static void test_client_finalize(GObject *obj)
{
    g_ptr_array_unref(TEST_CLIENT(obj)->frames);
    G_OBJECT_CLASS(test_client_parent_class)->finalize(obj);
}

static void test_client_init(TestClient *t)
{
    t->frames = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
}

static void test_client_class_init(TestClientClass *klass)
{
    G_OBJECT_CLASS(klass)->finalize = test_client_finalize;
    NET_CLIENT_CLASS(klass)->receive = test_client_receive;
}

/* --- helpers ---------------------------------------------------------------- */

static char *tmp_dir;
static TestClient *nd, *dev;

static UserObject *try_make(ObjectKind kind, const char *opts, GError **errp)
{
    return user_object_create_from_opts(kind, opts, NULL, errp);
}

static UserObject *make(ObjectKind kind, const char *opts)
{
    g_autoptr(GError) err = NULL;
    UserObject *obj = try_make(kind, opts, &err);

    ck_assert_msg(obj != NULL, "%s: %s", opts, err ? err->message : "?");
    return obj;
}

static char *sock_path(const char *name)
{
    return g_strdup_printf("%s/%s.sock", tmp_dir, name);
}

/* A server chardev 'id' on DIR/id.sock. */
static Chardev *chardev(const char *id, const char *extra)
{
    g_autofree char *path = sock_path(id);
    g_autofree char *opts = g_strdup_printf(
        "socket,id=%s,path=%s,server=on,wait=off%s%s", id, path,
        extra ? "," : "", extra ? extra : "");

    return CHARDEV_BASE(make(OBJECT_KIND_CHARDEV, opts));
}

/* Connects a plain socket to chardev 'id' and waits until it is open. */
static int peer_connect(Chardev *chr, const char *id)
{
    g_autofree char *path = sock_path(id);
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    uint64_t before = chardev_get_stats(chr)->connects;
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);

    ck_assert_int_ge(fd, 0);
    g_strlcpy(sa.sun_path, path, sizeof(sa.sun_path));
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    WAIT_FOR(chardev_get_stats(chr)->connects > before, 5000);
    /* never block: the chardev on the other end needs the main loop */
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    return fd;
}

/* Reads what is available from 'fd' within 'ms' (non-blocking reads while
 * the main context runs). */
static GByteArray *peer_read(int fd, guint ms)
{
    GByteArray *got = g_byte_array_new();
    gint64 end = g_get_monotonic_time() + ms * 1000;
    uint8_t buf[65536];

    while (g_get_monotonic_time() < end) {
        ssize_t n = read(fd, buf, sizeof(buf));

        if (n > 0) {
            g_byte_array_append(got, buf, n);
            continue;
        }
        g_main_context_iteration(NULL, FALSE);
        g_usleep(1000);
    }
    return got;
}

static void frame_of(uint8_t *f, size_t len, unsigned seq)
{
    for (size_t i = 0; i < len; i++) {
        f[i] = (uint8_t)(seq + i);
    }
}

static void net_send(TestClient *from, size_t len, unsigned seq)
{
    uint8_t f[2048];

    ck_assert_uint_le(len, sizeof(f));
    frame_of(f, len, seq);
    net_client_send(NET_CLIENT(from), f, len);
}

static void write_all(int fd, const void *buf, size_t len)
{
    const uint8_t *p = buf;

    while (len) {
        ssize_t n = write(fd, p, len);

        if (n < 0 && errno == EAGAIN) {
            g_main_context_iteration(NULL, FALSE);
            continue;
        }
        ck_assert_int_gt(n, 0);
        p += n;
        len -= n;
    }
}

/* Writes one frame (QEMU framing, optional vnet field) to 'fd'. */
static void peer_send_frame(int fd, size_t len, unsigned seq, int vnet)
{
    uint8_t buf[8 + 2048];
    size_t hl = vnet >= 0 ? 8 : 4;

    buf[0] = 0;
    buf[1] = 0;
    buf[2] = (uint8_t)(len >> 8);
    buf[3] = (uint8_t)len;
    if (vnet >= 0) {
        buf[4] = buf[5] = buf[6] = 0;
        buf[7] = (uint8_t)vnet;
    }
    frame_of(buf + hl, len, seq);
    write_all(fd, buf, hl + len);
}

static gint64 stat_of(const char *id, const char *member)
{
    NetFilter *nf = NET_FILTER(user_object_find(OBJECT_KIND_OBJECT, id));
    JsonObject *o = json_object_new();
    gint64 v;

    ck_assert_ptr_nonnull(nf);
    NET_FILTER_GET_CLASS(nf)->fill_stats(nf, o);
    ck_assert_msg(json_object_has_member(o, member), "no member %s", member);
    v = json_object_get_int_member(o, member);
    json_object_unref(o);
    return v;
}

/* --- the notifier recorder -------------------------------------------------- */

typedef struct {
    bool lost;
    MirrorLossReason reason;
    uint64_t dropped;
    char id[32];
} Seen;

static Notifier recorder;
static GArray *seen;

static void record(Notifier *n, void *data)
{
    MirrorInputEvent *ev = data;
    Seen s = { .lost = ev->lost, .reason = ev->reason,
               .dropped = ev->dropped };

    ck_assert_ptr_nonnull(ev->mirror);
    ck_assert(filter_mirror_input_lost(ev->mirror) == ev->lost);
    g_strlcpy(s.id, ev->id, sizeof(s.id));
    g_array_append_val(seen, s);
}

static Seen *seen_at(guint i)
{
    ck_assert_uint_lt(i, seen->len);
    return &g_array_index(seen, Seen, i);
}

static void setup(void)
{
    tmp_dir = g_dir_make_tmp("test-filter-mirror-XXXXXX", NULL);
    ck_assert_ptr_nonnull(tmp_dir);
    nd = TEST_CLIENT(make(OBJECT_KIND_NETDEV, "test-netdev,id=hn0"));
    dev = TEST_CLIENT(make(OBJECT_KIND_DEVICE, "test-nic,id=nic0,netdev=hn0"));
    seen = g_array_new(FALSE, TRUE, sizeof(Seen));
    recorder.notify = record;
    notifier_list_add(&filter_mirror_input_notifiers, &recorder);
}

static void teardown(void)
{
    notifier_remove(&filter_mirror_input_notifiers, &recorder);
    user_object_delete_all();
    g_array_unref(seen);
    if (tmp_dir) {
        g_autoptr(GDir) d = g_dir_open(tmp_dir, 0, NULL);
        const char *name;

        while (d && (name = g_dir_read_name(d))) {
            g_autofree char *p = g_build_filename(tmp_dir, name, NULL);
            g_unlink(p);
        }
        g_rmdir(tmp_dir);
        g_free(tmp_dir);
        tmp_dir = NULL;
    }
}

/* --- filter-mirror ------------------------------------------------------------ */

START_TEST(test_mirror_framing)
{
    Chardev *c0 = chardev("c0", NULL);
    int fd;
    g_autoptr(GByteArray) got = NULL;
    uint8_t want[8 + 60];

    make(OBJECT_KIND_OBJECT,
         "filter-mirror,id=m0,netdev=hn0,queue=tx,outdev=c0,"
         "vnet_hdr_support=on");
    fd = peer_connect(c0, "c0");
    net_send(nd, 60, 1);
    got = peer_read(fd, 200);
    memcpy(want, "\x00\x00\x00\x3c\x00\x00\x00\x00", 8);
    frame_of(want + 8, 60, 1);
    ck_assert_uint_eq(got->len, sizeof(want));
    ck_assert_mem_eq(got->data, want, sizeof(want));
    /* the original went on to the device */
    ck_assert_uint_eq(dev->frames->len, 1);
    ck_assert_int_eq(stat_of("m0", "packets-out"), 1);
    ck_assert_int_eq(stat_of("m0", "bytes-out"), 60);
    ck_assert_uint_eq(seen->len, 0);
    close(fd);
}
END_TEST

START_TEST(test_mirror_episode_disconnected)
{
    Chardev *c0 = chardev("c0", NULL);
    int fd;
    g_autoptr(GByteArray) got = NULL;

    make(OBJECT_KIND_OBJECT,
         "filter-mirror,id=m0,netdev=hn0,queue=tx,outdev=c0");
    /* no peer: the copy is dropped, the episode starts once */
    net_send(nd, 100, 1);
    net_send(nd, 100, 2);
    ck_assert_uint_eq(dev->frames->len, 2);
    ck_assert_uint_eq(seen->len, 1);
    ck_assert(seen_at(0)->lost);
    ck_assert_int_eq(seen_at(0)->reason, MIRROR_LOSS_DISCONNECTED);
    ck_assert_uint_eq(seen_at(0)->dropped, 1);
    ck_assert_str_eq(seen_at(0)->id, "m0");
    ck_assert_int_eq(stat_of("m0", "drop-disconnected"), 2);
    ck_assert_int_eq(stat_of("m0", "input-lost"), 1);

    /* a peer arrives: the next copy is delivered and the episode ends */
    fd = peer_connect(c0, "c0");
    net_send(nd, 100, 3);
    ck_assert_uint_eq(seen->len, 2);
    ck_assert(!seen_at(1)->lost);
    ck_assert_uint_eq(seen_at(1)->dropped, 2);
    got = peer_read(fd, 100);
    ck_assert_uint_eq(got->len, 104);

    /* the peer leaves: a new episode at once, before any frame */
    close(fd);
    WAIT_FOR(seen->len == 3, 5000);
    ck_assert(seen_at(2)->lost);
    ck_assert_int_eq(seen_at(2)->reason, MIRROR_LOSS_DISCONNECTED);
    ck_assert_int_eq(stat_of("m0", "lost-episodes"), 2);
    ck_assert_int_eq(stat_of("m0", "out-connects"), 1);
    ck_assert_int_eq(stat_of("m0", "out-disconnects"), 1);
}
END_TEST

START_TEST(test_mirror_episode_buffer_full)
{
    Chardev *c0 = chardev("c0", "out-buffer-size=131072");
    int fd, small = 4096;
    g_autoptr(GByteArray) got = NULL;
    gint64 out, drops;
    unsigned n = 600;

    make(OBJECT_KIND_OBJECT,
         "filter-mirror,id=m0,netdev=hn0,queue=tx,outdev=c0");
    fd = peer_connect(c0, "c0");
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
    for (unsigned i = 0; i < n; i++) {
        net_send(nd, 1500, i);
    }
    ck_assert_uint_eq(dev->frames->len, n);
    out = stat_of("m0", "packets-out");
    drops = stat_of("m0", "drop-buffer-full");
    ck_assert_int_gt(drops, 0);
    ck_assert_int_eq(out + drops, n);
    ck_assert_uint_eq(seen->len, 1);
    ck_assert_int_eq(seen_at(0)->reason, MIRROR_LOSS_BUFFER_FULL);
    ck_assert_int_le(stat_of("m0", "out-queued"), 131072);

    /* the peer reads: whole frames only, exactly the ones queued */
    got = peer_read(fd, 500);
    ck_assert_uint_eq(got->len, (guint)out * 1504);
    for (gint64 i = 0; i < out; i++) {
        const uint8_t *h = got->data + i * 1504;

        ck_assert_uint_eq((h[2] << 8) | h[3], 1500);
    }
    net_send(nd, 1500, 7);
    ck_assert_uint_eq(seen->len, 2);
    ck_assert(!seen_at(1)->lost);
    ck_assert_uint_eq(seen_at(1)->dropped, (uint64_t)drops);
    close(fd);
}
END_TEST

START_TEST(test_mirror_errors)
{
    g_autoptr(GError) err = NULL;

    chardev("c0", NULL);
    ck_assert_ptr_null(try_make(OBJECT_KIND_OBJECT,
                                "filter-mirror,id=m0,netdev=hn0,outdev=nope",
                                &err));
    ck_assert_str_eq(err->message,
                     "Parameter 'outdev': Device 'nope' not found");
    ck_assert_int_eq(err->code, UTIL_ERROR_DEVICE_NOT_FOUND);
    g_clear_error(&err);
    ck_assert_ptr_null(try_make(OBJECT_KIND_OBJECT,
                                "filter-mirror,id=m0,netdev=hn0,outdev=",
                                &err));
    ck_assert_str_eq(err->message,
                     "filter-mirror parameter 'outdev' cannot be empty");
    g_clear_error(&err);
    make(OBJECT_KIND_OBJECT, "filter-mirror,id=m0,netdev=hn0,outdev=c0");
    ck_assert_ptr_null(try_make(OBJECT_KIND_OBJECT,
                                "filter-mirror,id=m1,netdev=hn0,outdev=c0",
                                &err));
    ck_assert_ptr_nonnull(strstr(err->message, "in use"));
}
END_TEST

/* --- filter-redirector --------------------------------------------------------- */

START_TEST(test_redirector_directions)
{
    static const char *const queues[] = { "tx", "rx", "all" };

    for (guint q = 0; q < G_N_ELEMENTS(queues); q++) {
        g_autofree char *cid = g_strdup_printf("c%u", q);
        g_autofree char *fid = g_strdup_printf("r%u", q);
        g_autofree char *opts = g_strdup_printf(
            "filter-redirector,id=%s,netdev=hn0,queue=%s,indev=%s",
            fid, queues[q], cid);
        Chardev *c = chardev(cid, NULL);
        guint nd0 = nd->frames->len, dev0 = dev->frames->len;
        int fd;

        make(OBJECT_KIND_OBJECT, opts);
        fd = peer_connect(c, cid);
        peer_send_frame(fd, 80, 9, -1);
        WAIT_FOR(stat_of(fid, "packets-in") == 1, 5000);
        ck_assert_uint_eq(dev->frames->len - dev0, q != 1 ? 1 : 0);
        ck_assert_uint_eq(nd->frames->len - nd0, q != 0 ? 1 : 0);
        ck_assert_int_eq(stat_of(fid, "injected"), q == 2 ? 2 : 1);
        user_object_delete(OBJECT_KIND_OBJECT, fid, NULL);
        close(fd);
    }
}
END_TEST

START_TEST(test_redirector_outdev)
{
    Chardev *c0 = chardev("c0", NULL);
    int fd;
    g_autoptr(GByteArray) got = NULL;

    make(OBJECT_KIND_OBJECT,
         "filter-redirector,id=r0,netdev=hn0,queue=tx,outdev=c0");
    net_send(nd, 70, 1);              /* no peer: stolen and dropped */
    ck_assert_uint_eq(dev->frames->len, 0);
    ck_assert_int_eq(stat_of("r0", "drop-disconnected"), 1);
    fd = peer_connect(c0, "c0");
    net_send(nd, 70, 2);
    ck_assert_uint_eq(dev->frames->len, 0);
    got = peer_read(fd, 100);
    ck_assert_uint_eq(got->len, 74);
    ck_assert_int_eq(stat_of("r0", "packets-out"), 1);
    /* the redirector never raises the mirror's signal */
    ck_assert_uint_eq(seen->len, 0);
    close(fd);
}
END_TEST

START_TEST(test_redirector_garbage_and_status)
{
    Chardev *c0 = chardev("c0", NULL);
    int fd;
    uint8_t b;

    make(OBJECT_KIND_OBJECT,
         "filter-redirector,id=r0,netdev=hn0,queue=tx,indev=c0,"
         "vnet_hdr_support=on");
    fd = peer_connect(c0, "c0");
    peer_send_frame(fd, 60, 1, 0);
    WAIT_FOR(dev->frames->len == 1, 5000);
    /* vnet_hdr_len 12 on a netdev with none: injected, counted */
    peer_send_frame(fd, 60, 2, 12);
    WAIT_FOR(dev->frames->len == 2, 5000);
    ck_assert_int_eq(stat_of("r0", "vnet-mismatch"), 1);
    /* vnet_hdr_len > len: the connection is dropped */
    write_all(fd, "\x00\x00\x00\x04\x00\x00\x00\x10xxxx", 12);
    WAIT_FOR(stat_of("r0", "framing-errors") == 1, 5000);
    WAIT_FOR(read(fd, &b, 1) == 0, 5000);
    close(fd);
    WAIT_FOR(stat_of("r0", "in-disconnects") == 1, 5000);

    /* status=off: nothing is read until it is on again */
    ck_assert(user_object_set_str(user_object_find(OBJECT_KIND_OBJECT, "r0"),
                                  "status", "off", NULL));
    fd = peer_connect(c0, "c0");
    peer_send_frame(fd, 60, 3, 0);
    spin(200);
    ck_assert_uint_eq(dev->frames->len, 2);
    ck_assert(user_object_set_str(user_object_find(OBJECT_KIND_OBJECT, "r0"),
                                  "status", "on", NULL));
    WAIT_FOR(dev->frames->len == 3, 5000);
    close(fd);
}
END_TEST

/* A redirector deleted while status=off must not leave its chardev
 * paused for the next user (the failover reconfiguration case). */
START_TEST(test_redirector_reuse_after_off)
{
    Chardev *c0 = chardev("c0", NULL);
    int fd;

    make(OBJECT_KIND_OBJECT,
         "filter-redirector,id=r0,netdev=hn0,queue=tx,indev=c0,status=off");
    fd = peer_connect(c0, "c0");
    peer_send_frame(fd, 60, 1, -1);
    spin(100);
    ck_assert_uint_eq(dev->frames->len, 0);
    ck_assert(user_object_delete(OBJECT_KIND_OBJECT, "r0", NULL));
    make(OBJECT_KIND_OBJECT,
         "filter-redirector,id=r1,netdev=hn0,queue=tx,indev=c0");
    WAIT_FOR(dev->frames->len == 1, 5000);
    close(fd);
}
END_TEST

/* Back-pressure: the redirector stops injecting when the guest's queue is
 * above its high-water mark, and resumes when the net core says that
 * queue drained -- not by polling: while blocked, the main context has
 * nothing of the redirector's to run. */
START_TEST(test_redirector_resumes_on_drain)
{
    Chardev *c0 = chardev("c0", NULL);
    gboolean to = FALSE;
    guint wakeups = 0;
    int fd;

    /* high water 6 frames, low water 2 */
    g_object_set(dev, "queue-size", 8u, NULL);   /* not a runtime property */
    dev->blocked = TRUE;
    make(OBJECT_KIND_OBJECT,
         "filter-redirector,id=r0,netdev=hn0,queue=tx,indev=c0");
    fd = peer_connect(c0, "c0");
    for (unsigned i = 0; i < 20; i++) {
        peer_send_frame(fd, 60, i, -1);
    }
    WAIT_FOR(stat_of("r0", "in-throttled") == 1, 5000);
    ck_assert_uint_eq(net_client_get_queue_len(NET_CLIENT(dev)), 6);
    ck_assert_int_eq(stat_of("r0", "injected"), 6);

    /* Blocked: 100 ms of the loop wake it about once (the test's own
     * timer); the 1 ms poll this replaces woke it ~100 times. */
    g_timeout_add(100, on_timeout, &to);
    while (!to) {
        g_main_context_iteration(NULL, TRUE);
        wakeups++;
    }
    ck_assert_uint_le(wakeups, 3);
    ck_assert_int_eq(stat_of("r0", "injected"), 6);

    /* The guest takes frames again: its flush tells the redirector. */
    dev->blocked = FALSE;
    net_client_flush(NET_CLIENT(dev));
    ck_assert_uint_eq(dev->frames->len, 6);
    WAIT_FOR(dev->frames->len == 20, 5000);
    ck_assert_int_eq(stat_of("r0", "injected"), 20);
    ck_assert_uint_eq(net_client_get_stats(NET_CLIENT(dev))->drop_queue_full,
                      0);
    /* in order */
    for (guint i = 0; i < 20; i++) {
        gsize n;
        const uint8_t *b = g_bytes_get_data(dev->frames->pdata[i], &n);

        ck_assert_uint_eq(n, 60);
        ck_assert_uint_eq(b[0], (uint8_t)i);
    }
    close(fd);
}
END_TEST

/* Deleting the guest while the redirector waits for its queue wakes the
 * redirector (nobody to wait for any more). */
START_TEST(test_redirector_drain_on_unpair)
{
    Chardev *c0 = chardev("c0", NULL);
    int fd;

    g_object_set(dev, "queue-size", 4u, NULL);   /* not a runtime property */
    dev->blocked = TRUE;
    make(OBJECT_KIND_OBJECT,
         "filter-redirector,id=r0,netdev=hn0,queue=tx,indev=c0");
    fd = peer_connect(c0, "c0");
    for (unsigned i = 0; i < 10; i++) {
        peer_send_frame(fd, 60, i, -1);
    }
    WAIT_FOR(stat_of("r0", "in-throttled") == 1, 5000);
    ck_assert(user_object_delete(OBJECT_KIND_DEVICE, "nic0", NULL));
    dev = NULL;
    /* no guest: the rest is injected and dropped at the end of the port */
    WAIT_FOR(stat_of("r0", "injected") == 10, 5000);
    close(fd);
}
END_TEST

/* --- COLO failover: each filter switches itself ------------------------------ */

static gboolean is_on(const char *id)
{
    return netfilter_is_on(NET_FILTER(user_object_find(OBJECT_KIND_OBJECT,
                                                       id)));
}

static void all_on(void)
{
    static const char *const ids[] = { "m0", "rout", "rin" };

    for (guint i = 0; i < G_N_ELEMENTS(ids); i++) {
        ck_assert(user_object_set_str(user_object_find(OBJECT_KIND_OBJECT,
                                                       ids[i]),
                                      "status", "on", NULL));
    }
}

/* The frame only broadcasts the side that fails over; what goes off is
 * each filter's own decision (net/filter-mirror.c handle_event). */
START_TEST(test_colo_failover_handlers)
{
    ColoEventInfo ev = { .event = COLO_EVENT_FAILOVER };
    g_autoptr(GError) err = NULL;

    chardev("cm", NULL);
    chardev("co", NULL);
    chardev("ci", NULL);
    make(OBJECT_KIND_OBJECT, "filter-mirror,id=m0,netdev=hn0,outdev=cm");
    make(OBJECT_KIND_OBJECT,
         "filter-redirector,id=rout,netdev=hn0,queue=rx,outdev=co");
    make(OBJECT_KIND_OBJECT,
         "filter-redirector,id=rin,netdev=hn0,queue=rx,indev=ci");

    /* a checkpoint changes nothing */
    ev.event = COLO_EVENT_CHECKPOINT;
    ck_assert(netfilter_notify_colo_event(&ev, &err));
    ck_assert(is_on("m0") && is_on("rout") && is_on("rin"));

    /* primary: the mirror and the redirector to compare go off; the one
     * that injects compare's output stays on */
    ev.event = COLO_EVENT_FAILOVER;
    ev.mode = COLO_MODE_PRIMARY;
    ev.reconfigure = TRUE;
    ck_assert(netfilter_notify_colo_event(&ev, &err));
    ck_assert(!is_on("m0"));
    ck_assert(!is_on("rout"));
    ck_assert(is_on("rin"));

    /* secondary: every redirector goes off */
    all_on();
    ev.mode = COLO_MODE_SECONDARY;
    ck_assert(netfilter_notify_colo_event(&ev, &err));
    ck_assert(!is_on("m0") && !is_on("rout") && !is_on("rin"));

    /* failover-filters=off: nobody moves */
    all_on();
    ev.reconfigure = FALSE;
    ck_assert(netfilter_notify_colo_event(&ev, &err));
    ck_assert(is_on("m0") && is_on("rout") && is_on("rin"));
}
END_TEST

START_TEST(test_redirector_errors)
{
    g_autoptr(GError) err = NULL;

    chardev("c0", NULL);
    ck_assert_ptr_null(try_make(OBJECT_KIND_OBJECT,
                                "filter-redirector,id=r0,netdev=hn0", &err));
    ck_assert_str_eq(err->message, "filter redirector needs 'indev' or "
                     "'outdev' at least one property set");
    g_clear_error(&err);
    ck_assert_ptr_null(try_make(OBJECT_KIND_OBJECT,
                                "filter-redirector,id=r0,netdev=hn0,"
                                "indev=c0,outdev=c0", &err));
    ck_assert_str_eq(err->message, "'indev' and 'outdev' could not be same "
                     "for filter redirector");
    g_clear_error(&err);
    ck_assert_ptr_null(try_make(OBJECT_KIND_OBJECT,
                                "filter-redirector,id=r0,netdev=hn0,"
                                "indev=x", &err));
    ck_assert_str_eq(err->message, "Parameter 'indev': IN Device 'x' not "
                     "found");
    g_clear_error(&err);
    ck_assert_ptr_null(try_make(OBJECT_KIND_OBJECT,
                                "filter-redirector,id=r0,netdev=hn0,"
                                "indev=c0,outdev=y", &err));
    ck_assert_str_eq(err->message, "Parameter 'outdev': OUT Device 'y' not "
                     "found");
    ck_assert_int_eq(err->code, UTIL_ERROR_DEVICE_NOT_FOUND);
    /* the failed attempts released c0 */
    make(OBJECT_KIND_OBJECT, "filter-redirector,id=r0,netdev=hn0,indev=c0");
}
END_TEST

static Suite *filter_mirror_suite(void)
{
    Suite *s = suite_create("net/filter-mirror");
    TCase *tm = tcase_create("mirror");
    TCase *tr = tcase_create("redirector");

    tcase_add_checked_fixture(tm, setup, teardown);
    tcase_add_test(tm, test_mirror_framing);
    tcase_add_test(tm, test_mirror_episode_disconnected);
    tcase_add_test(tm, test_mirror_episode_buffer_full);
    tcase_add_test(tm, test_mirror_errors);
    tcase_set_timeout(tm, 30);
    suite_add_tcase(s, tm);

    tcase_add_checked_fixture(tr, setup, teardown);
    tcase_add_test(tr, test_redirector_directions);
    tcase_add_test(tr, test_redirector_outdev);
    tcase_add_test(tr, test_redirector_garbage_and_status);
    tcase_add_test(tr, test_redirector_reuse_after_off);
    tcase_add_test(tr, test_redirector_errors);
    tcase_add_test(tr, test_colo_failover_handlers);
    tcase_add_test(tr, test_redirector_resumes_on_drain);
    tcase_add_test(tr, test_redirector_drain_on_unpair);
    tcase_set_timeout(tr, 30);
    suite_add_tcase(s, tr);
    return s;
}

int main(void)
{
    object_type_register(OBJECT_KIND_NETDEV, "test-netdev", TEST_TYPE_CLIENT);
    object_type_register(OBJECT_KIND_DEVICE, "test-nic", TEST_TYPE_CLIENT);
    return check_run(filter_mirror_suite());
}
