/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tests/unit/test-link-framing.c - unit tests of net/link-framing.c (QEMU's link
 * framing reader and header writer).
 *
 * The reader is checked against the byte layout QEMU puts on the wire
 * (the 60-byte vnet example captured from QEMU 7.2), against splits at
 * every byte offset, against each kind of garbage, and in a randomized
 * loop against an obviously correct reference decoder that parses the
 * whole stream in one go.
 */
#include <check.h>
#include <string.h>

#include "check-main.h"
#include "net/link-framing.h"
#include "util/error.h"

/* One decoded frame, as recorded by the callback. */
typedef struct {
    uint32_t len;
    uint32_t vnet;
    uint8_t *data;
    const uint8_t *ptr;       /* the pointer the reader passed */
} Rec;

typedef struct {
    GPtrArray *recs;          /* of Rec * */
    LinkReader *reset_me;    /* reset the reader from the callback */
} Sink;

static void rec_free(gpointer p)
{
    Rec *rec = p;

    g_free(rec->data);
    g_free(rec);
}

static void sink_init(Sink *s)
{
    s->recs = g_ptr_array_new_with_free_func(rec_free);
    s->reset_me = NULL;
}

static void sink_destroy(Sink *s)
{
    g_ptr_array_unref(s->recs);
}

static void on_frame(void *opaque, const uint8_t *buf, uint32_t len,
                     uint32_t vnet)
{
    Sink *s = opaque;
    Rec *rec = g_new0(Rec, 1);

    rec->len = len;
    rec->vnet = vnet;
    rec->data = g_memdup2(buf, len);
    rec->ptr = buf;
    g_ptr_array_add(s->recs, rec);
    if (s->reset_me) {
        link_reader_reset(s->reset_me);
    }
}

static Rec *sink_rec(Sink *s, guint i)
{
    ck_assert_uint_lt(i, s->recs->len);
    return g_ptr_array_index(s->recs, i);
}

/* Appends a frame with payload bytes (seed + i) to 'out'. */
static void append_frame(GByteArray *out, uint32_t len, bool vnet,
                         uint32_t vnet_len, uint8_t seed)
{
    uint8_t hdr[LINK_HDR_MAX];
    size_t n = link_header(hdr, len, vnet, vnet_len);

    g_byte_array_append(out, hdr, n);
    for (uint32_t i = 0; i < len; i++) {
        uint8_t b = (uint8_t)(seed + i);

        g_byte_array_append(out, &b, 1);
    }
}

static void check_payload(Rec *rec, uint32_t len, uint8_t seed)
{
    uint32_t bad = len;

    ck_assert_uint_eq(rec->len, len);
    for (uint32_t i = 0; i < len; i++) {
        if (rec->data[i] != (uint8_t)(seed + i)) {
            bad = i;
            break;
        }
    }
    ck_assert_msg(bad == len, "payload differs at byte %u", bad);
}

START_TEST(test_header_bytes)
{
    uint8_t hdr[LINK_HDR_MAX];
    static const uint8_t plain[] = { 0x00, 0x01, 0x10, 0x00 };
    static const uint8_t vnet[] = { 0x00, 0x00, 0x00, 0x3c,
                                    0x00, 0x00, 0x00, 0x0c };

    ck_assert_uint_eq(link_header(hdr, 69632, false, 99), 4);
    ck_assert_mem_eq(hdr, plain, 4);
    ck_assert_uint_eq(link_header(hdr, 60, true, 12), 8);
    ck_assert_mem_eq(hdr, vnet, 8);
}
END_TEST

/* QEMU 7.2 mirroring a 60-byte frame with vnet_hdr_support from a netdev
 * whose vnet_hdr_len is 0 sends "00 00 00 3c 00 00 00 00" + 60 bytes. */
START_TEST(test_qemu_vnet_example)
{
    uint8_t wire[8 + 60] = { 0x00, 0x00, 0x00, 0x3c, 0x00, 0x00, 0x00, 0x00 };
    LinkReader r;
    Sink s;
    GError *err = NULL;

    for (int i = 0; i < 60; i++) {
        wire[8 + i] = 0xa0 + i;
    }
    link_reader_init(&r, true, 0);
    ck_assert_uint_eq(r.max_len, LINK_MAX_LEN_DEFAULT);
    sink_init(&s);
    ck_assert_int_eq(link_reader_feed(&r, wire, sizeof(wire), on_frame, &s,
                                       &err), LINK_OK);
    ck_assert_ptr_null(err);
    ck_assert_uint_eq(s.recs->len, 1);
    check_payload(sink_rec(&s, 0), 60, 0xa0);
    ck_assert_uint_eq(sink_rec(&s, 0)->vnet, 0);
    /* Wholly inside the fed buffer: delivered without a copy. */
    ck_assert_ptr_eq(sink_rec(&s, 0)->ptr, wire + 8);
    ck_assert_ptr_null(r.buf);
    ck_assert_uint_eq(r.frames, 1);

    /* The same bytes read without vnet_hdr_support: the vnet field is
     * taken for payload and the last 4 payload bytes for the next length,
     * which is reported, not crashed on. */
    link_reader_destroy(&r);
    link_reader_init(&r, false, 0);
    ck_assert_int_eq(link_reader_feed(&r, wire, sizeof(wire), on_frame, &s,
                                       &err), LINK_ERR_OVERSIZE);
    ck_assert_uint_eq(s.recs->len, 2);
    ck_assert_ptr_nonnull(err);
    ck_assert_ptr_nonnull(strstr(err->message, "vnet_hdr_support"));
    g_clear_error(&err);
    link_reader_destroy(&r);
    sink_destroy(&s);
}
END_TEST

static GByteArray *sample_stream(bool vnet)
{
    GByteArray *ba = g_byte_array_new();

    append_frame(ba, 1, vnet, 0, 1);
    append_frame(ba, 60, vnet, vnet ? 12 : 0, 2);
    append_frame(ba, 3, vnet, vnet ? 3 : 0, 3);
    append_frame(ba, 1514, vnet, vnet ? 10 : 0, 4);
    append_frame(ba, 7, vnet, 0, 5);
    return ba;
}

static void check_sample(Sink *s, bool vnet)
{
    static const uint32_t lens[] = { 1, 60, 3, 1514, 7 };
    static const uint32_t vlens[] = { 0, 12, 3, 10, 0 };

    ck_assert_uint_eq(s->recs->len, G_N_ELEMENTS(lens));
    for (guint i = 0; i < G_N_ELEMENTS(lens); i++) {
        check_payload(sink_rec(s, i), lens[i], i + 1);
        ck_assert_uint_eq(sink_rec(s, i)->vnet, vnet ? vlens[i] : 0);
    }
}

/* Feeding by link_reader_next_feed() completes exactly one frame per
 * feed (the back-pressure contract), for both framings and for a stream
 * that arrives in odd chunks. */
static void next_feed_one_at_a_time(bool vnet, size_t chunk)
{
    g_autoptr(GByteArray) ba = sample_stream(vnet);
    LinkReader r;
    Sink s;
    size_t off = 0;

    sink_init(&s);
    link_reader_init(&r, vnet, 0);
    while (off < ba->len) {
        size_t avail = MIN(chunk, ba->len - off);

        while (avail) {
            guint before = s.recs->len;
            size_t n = link_reader_next_feed(&r, ba->data + off, avail);

            ck_assert_uint_gt(n, 0);
            ck_assert_uint_le(n, avail);
            ck_assert_int_eq(link_reader_feed(&r, ba->data + off, n,
                                               on_frame, &s, NULL), LINK_OK);
            ck_assert_uint_le(s.recs->len, before + 1);
            off += n;
            avail -= n;
        }
    }
    check_sample(&s, vnet);
    ck_assert_uint_eq(link_reader_next_feed(&r, ba->data, 0), 0);
    link_reader_destroy(&r);
    sink_destroy(&s);
}

START_TEST(test_next_feed)
{
    static const size_t chunks[] = { 1, 3, 7, 64, 1000, 100000 };

    for (guint i = 0; i < G_N_ELEMENTS(chunks); i++) {
        next_feed_one_at_a_time(false, chunks[i]);
        next_feed_one_at_a_time(true, chunks[i]);
    }
}
END_TEST

static void split_everywhere(bool vnet)
{
    GByteArray *ba = sample_stream(vnet);

    for (guint k = 0; k <= ba->len; k++) {
        LinkReader r;
        Sink s;
        GError *err = NULL;

        link_reader_init(&r, vnet, 0);
        sink_init(&s);
        ck_assert_int_eq(link_reader_feed(&r, ba->data, k, on_frame, &s,
                                           &err), LINK_OK);
        ck_assert_int_eq(link_reader_feed(&r, ba->data + k, ba->len - k,
                                           on_frame, &s, &err), LINK_OK);
        ck_assert_ptr_null(err);
        check_sample(&s, vnet);
        ck_assert_uint_eq(r.hdr_have, 0);
        ck_assert_uint_eq(r.have, 0);
        link_reader_destroy(&r);
        sink_destroy(&s);
    }
    g_byte_array_unref(ba);
}

START_TEST(test_split_every_offset)
{
    split_everywhere(false);
}
END_TEST

START_TEST(test_split_every_offset_vnet)
{
    split_everywhere(true);
}
END_TEST

START_TEST(test_byte_by_byte)
{
    for (int v = 0; v < 2; v++) {
        GByteArray *ba = sample_stream(v);
        LinkReader r;
        Sink s;

        link_reader_init(&r, v, 0);
        sink_init(&s);
        for (guint i = 0; i < ba->len; i++) {
            ck_assert_int_eq(link_reader_feed(&r, ba->data + i, 1, on_frame,
                                               &s, NULL), LINK_OK);
        }
        check_sample(&s, v);
        link_reader_destroy(&r);
        sink_destroy(&s);
        g_byte_array_unref(ba);
    }
}
END_TEST

START_TEST(test_many_frames_one_feed)
{
    GByteArray *ba = g_byte_array_new();
    LinkReader r;
    Sink s;

    for (int i = 0; i < 1000; i++) {
        append_frame(ba, 1 + i % 97, false, 0, i);
    }
    link_reader_init(&r, false, 0);
    sink_init(&s);
    ck_assert_int_eq(link_reader_feed(&r, ba->data, ba->len, on_frame, &s,
                                       NULL), LINK_OK);
    ck_assert_uint_eq(s.recs->len, 1000);
    for (int i = 0; i < 1000; i++) {
        check_payload(sink_rec(&s, i), 1 + i % 97, i);
    }
    ck_assert_uint_eq(r.frames, 1000);
    /* Every frame was inside the buffer: no reassembly buffer needed. */
    ck_assert_ptr_null(r.buf);
    link_reader_destroy(&r);
    sink_destroy(&s);
    g_byte_array_unref(ba);
}
END_TEST

START_TEST(test_max_len_accepted)
{
    GByteArray *ba = g_byte_array_new();
    LinkReader r;
    Sink s;
    GError *err = NULL;

    append_frame(ba, LINK_MAX_LEN_DEFAULT, false, 0, 9);
    link_reader_init(&r, false, 0);
    sink_init(&s);
    /* In two pieces, so the reassembly buffer is used to its end. */
    ck_assert_int_eq(link_reader_feed(&r, ba->data, 1000, on_frame, &s,
                                       &err), LINK_OK);
    ck_assert_int_eq(link_reader_feed(&r, ba->data + 1000, ba->len - 1000,
                                       on_frame, &s, &err), LINK_OK);
    ck_assert_ptr_null(err);
    ck_assert_uint_eq(s.recs->len, 1);
    check_payload(sink_rec(&s, 0), LINK_MAX_LEN_DEFAULT, 9);
    link_reader_destroy(&r);
    sink_destroy(&s);
    g_byte_array_unref(ba);
}
END_TEST

START_TEST(test_err_zero)
{
    static const uint8_t zero[] = { 0, 0, 0, 0, 0, 0, 0, 5, 1, 2, 3, 4, 5 };
    LinkReader r;
    Sink s;
    GError *err = NULL;

    link_reader_init(&r, false, 0);
    sink_init(&s);
    ck_assert_int_eq(link_reader_feed(&r, zero, sizeof(zero), on_frame, &s,
                                       &err), LINK_ERR_ZERO);
    ck_assert(g_error_matches(err, UTIL_ERROR, UTIL_ERROR_GENERIC));
    ck_assert_ptr_nonnull(strstr(err->message, "zero-length frame"));
    g_clear_error(&err);
    /* The rest of the buffer was ignored. */
    ck_assert_uint_eq(s.recs->len, 0);
    ck_assert_uint_eq(r.errors, 1);
    ck_assert_uint_eq(r.hdr_have, 0);
    link_reader_destroy(&r);
    sink_destroy(&s);
}
END_TEST

/* skip_empty: records without a frame byte (length 0; with vnet, only the
 * virtio-net header) are counted and skipped at every split of the
 * stream, the frames around them delivered; impossible lengths still
 * fail. */
static void skip_empty_case(bool vnet)
{
    g_autoptr(GByteArray) in = g_byte_array_new();
    GError *err = NULL;

    append_frame(in, 60, vnet, vnet ? 12 : 0, 1);
    append_frame(in, 0, vnet, 0, 0);
    if (vnet) {
        append_frame(in, 12, vnet, 12, 7);     /* the header alone */
    }
    append_frame(in, 0, vnet, 0, 0);
    append_frame(in, 61, vnet, vnet ? 12 : 0, 2);
    for (guint split = 0; split <= in->len; split++) {
        LinkReader r;
        Sink s;

        link_reader_init(&r, vnet, 0);
        r.skip_empty = true;
        sink_init(&s);
        ck_assert_int_eq(link_reader_feed(&r, in->data, split, on_frame, &s,
                                           &err), LINK_OK);
        ck_assert_int_eq(link_reader_feed(&r, in->data + split,
                                           in->len - split, on_frame, &s,
                                           &err), LINK_OK);
        ck_assert_uint_eq(s.recs->len, 2);
        check_payload(sink_rec(&s, 0), 60, 1);
        check_payload(sink_rec(&s, 1), 61, 2);
        ck_assert_uint_eq(r.empty, vnet ? 3 : 2);
        ck_assert_uint_eq(r.frames, 2);
        ck_assert_uint_eq(r.errors, 0);
        link_reader_destroy(&r);
        sink_destroy(&s);
    }
    {
        /* oversize, and with vnet a header longer than the record, still
         * fail */
        static const uint8_t big[] = { 0x7f, 0, 0, 0, 0, 0, 0, 0 };
        static const uint8_t badv[] = { 0, 0, 0, 4, 0, 0, 0, 5 };
        LinkReader r;

        link_reader_init(&r, vnet, 0);
        r.skip_empty = true;
        ck_assert_int_eq(link_reader_feed(&r, big, sizeof(big), NULL, NULL,
                                           &err), LINK_ERR_OVERSIZE);
        g_clear_error(&err);
        if (vnet) {
            ck_assert_int_eq(link_reader_feed(&r, badv, sizeof(badv), NULL,
                                               NULL, &err),
                             LINK_ERR_BAD_VNET);
            g_clear_error(&err);
        }
        ck_assert_uint_eq(r.empty, 0);
        link_reader_destroy(&r);
    }
}

START_TEST(test_skip_empty)
{
    skip_empty_case(false);
}
END_TEST

START_TEST(test_skip_empty_vnet)
{
    skip_empty_case(true);
}
END_TEST

START_TEST(test_err_oversize)
{
    static const uint8_t http[] = "GET / HTTP/1.1\r\n";
    LinkReader r;
    Sink s;
    GError *err = NULL;

    link_reader_init(&r, false, 0);
    sink_init(&s);
    /* Split inside the length: the error comes when it is complete. */
    ck_assert_int_eq(link_reader_feed(&r, http, 2, on_frame, &s, &err),
                     LINK_OK);
    ck_assert_int_eq(link_reader_feed(&r, http + 2, sizeof(http) - 3,
                                       on_frame, &s, &err),
                     LINK_ERR_OVERSIZE);
    ck_assert_str_eq(err->message,
                     "frame length 1195725856 exceeds 69632: peer is not "
                     "speaking QEMU's framing, or vnet_hdr_support differs "
                     "between the two ends");
    g_clear_error(&err);
    ck_assert_uint_eq(s.recs->len, 0);

    /* One above a custom limit. */
    link_reader_destroy(&r);
    link_reader_init(&r, false, 100);
    {
        GByteArray *ba = g_byte_array_new();

        append_frame(ba, 100, false, 0, 0);
        append_frame(ba, 101, false, 0, 0);
        ck_assert_int_eq(link_reader_feed(&r, ba->data, ba->len, on_frame,
                                           &s, &err), LINK_ERR_OVERSIZE);
        ck_assert_ptr_nonnull(strstr(err->message, "101 exceeds 100"));
        g_clear_error(&err);
        ck_assert_uint_eq(s.recs->len, 1);
        g_byte_array_unref(ba);
    }
    link_reader_destroy(&r);
    sink_destroy(&s);
}
END_TEST

START_TEST(test_err_bad_vnet)
{
    GByteArray *ba = g_byte_array_new();
    LinkReader r;
    Sink s;
    GError *err = NULL;

    link_reader_init(&r, true, 0);
    sink_init(&s);

    /* vnet_hdr_len above the frame length. */
    append_frame(ba, 10, true, 11, 0);
    ck_assert_int_eq(link_reader_feed(&r, ba->data, ba->len, on_frame, &s,
                                       &err), LINK_ERR_BAD_VNET);
    ck_assert_ptr_nonnull(strstr(err->message, "vnet_hdr_support"));
    g_clear_error(&err);

    /* vnet_hdr_len above 256 in a large frame. */
    g_byte_array_set_size(ba, 0);
    append_frame(ba, 1000, true, 257, 0);
    ck_assert_int_eq(link_reader_feed(&r, ba->data, ba->len, on_frame, &s,
                                       &err), LINK_ERR_BAD_VNET);
    g_clear_error(&err);

    /* 256 is fine. */
    g_byte_array_set_size(ba, 0);
    append_frame(ba, 1000, true, 256, 0);
    ck_assert_int_eq(link_reader_feed(&r, ba->data, ba->len, on_frame, &s,
                                       &err), LINK_OK);
    ck_assert_uint_eq(s.recs->len, 1);
    ck_assert_uint_eq(sink_rec(&s, 0)->vnet, 256);

    /* A plain sender read with vnet on: the first payload bytes (a MAC
     * address) are taken for vnet_hdr_len. */
    g_byte_array_set_size(ba, 0);
    append_frame(ba, 60, false, 0, 0x52);
    ck_assert_int_eq(link_reader_feed(&r, ba->data, ba->len, on_frame, &s,
                                       &err), LINK_ERR_BAD_VNET);
    g_clear_error(&err);
    ck_assert_uint_eq(r.errors, 3);
    link_reader_destroy(&r);
    sink_destroy(&s);
    g_byte_array_unref(ba);
}
END_TEST

START_TEST(test_after_error_next_frame_ok)
{
    static const uint8_t zero[] = { 0, 0, 0, 0 };
    GByteArray *ba = g_byte_array_new();
    LinkReader r;
    Sink s;
    GError *err = NULL;

    link_reader_init(&r, false, 0);
    sink_init(&s);
    ck_assert_int_eq(link_reader_feed(&r, zero, 4, on_frame, &s, &err),
                     LINK_ERR_ZERO);
    g_clear_error(&err);
    append_frame(ba, 5, false, 0, 7);
    ck_assert_int_eq(link_reader_feed(&r, ba->data, ba->len, on_frame, &s,
                                       &err), LINK_OK);
    ck_assert_uint_eq(s.recs->len, 1);
    check_payload(sink_rec(&s, 0), 5, 7);
    link_reader_destroy(&r);
    sink_destroy(&s);
    g_byte_array_unref(ba);
}
END_TEST

/* QEMU keeps the half frame of a dead connection and misparses the next
 * one; link_reader_reset() on disconnect must prevent that. */
START_TEST(test_reset_between_connections)
{
    for (int v = 0; v < 2; v++) {
        for (guint cut = 1; cut < 20; cut++) {
            GByteArray *first = g_byte_array_new();
            GByteArray *second = g_byte_array_new();
            LinkReader r;
            Sink s;

            append_frame(first, 16, v, 0, 0x10);
            append_frame(second, 5, v, 0, 0x20);
            append_frame(second, 6, v, 0, 0x30);
            link_reader_init(&r, v, 0);
            sink_init(&s);
            ck_assert_int_eq(link_reader_feed(&r, first->data, cut,
                                               on_frame, &s, NULL), LINK_OK);
            link_reader_reset(&r);
            ck_assert_int_eq(link_reader_feed(&r, second->data, second->len,
                                               on_frame, &s, NULL), LINK_OK);
            ck_assert_uint_eq(s.recs->len, 2);
            check_payload(sink_rec(&s, 0), 5, 0x20);
            check_payload(sink_rec(&s, 1), 6, 0x30);
            link_reader_destroy(&r);
            sink_destroy(&s);
            g_byte_array_unref(first);
            g_byte_array_unref(second);
        }
    }
}
END_TEST

/* A consumer that drops the connection from its callback resets the
 * reader there; the rest of that buffer must not be parsed. */
START_TEST(test_reset_from_callback)
{
    GByteArray *ba = g_byte_array_new();
    LinkReader r;
    Sink s;

    append_frame(ba, 4, false, 0, 1);
    append_frame(ba, 4, false, 0, 2);
    append_frame(ba, 40, false, 0, 3);
    link_reader_init(&r, false, 0);
    sink_init(&s);
    s.reset_me = &r;
    ck_assert_int_eq(link_reader_feed(&r, ba->data, ba->len - 3, on_frame,
                                       &s, NULL), LINK_OK);
    ck_assert_uint_eq(s.recs->len, 1);
    ck_assert_uint_eq(r.hdr_have, 0);
    ck_assert_uint_eq(r.have, 0);
    link_reader_destroy(&r);
    sink_destroy(&s);
    g_byte_array_unref(ba);
}
END_TEST

START_TEST(test_set_vnet)
{
    GByteArray *ba = g_byte_array_new();
    LinkReader r;
    Sink s;

    link_reader_init(&r, false, 0);
    sink_init(&s);
    append_frame(ba, 8, false, 0, 1);
    link_reader_feed(&r, ba->data, 6, on_frame, &s, NULL);
    link_reader_set_vnet(&r, true);
    ck_assert_uint_eq(r.hdr_have, 0);
    ck_assert_uint_eq(r.have, 0);
    g_byte_array_set_size(ba, 0);
    append_frame(ba, 8, true, 2, 1);
    ck_assert_int_eq(link_reader_feed(&r, ba->data, ba->len, on_frame, &s,
                                       NULL), LINK_OK);
    ck_assert_uint_eq(s.recs->len, 1);
    ck_assert_uint_eq(sink_rec(&s, 0)->vnet, 2);
    link_reader_destroy(&r);
    link_reader_destroy(&r);
    sink_destroy(&s);
    g_byte_array_unref(ba);
}
END_TEST

/*
 * Reference decoder: walks a complete stream in one pass with no state
 * carried between calls.  Returns the number of frames and stores them in
 * 'out' until the first error, whose kind goes to '*err'.
 */
static guint ref_decode(const uint8_t *p, size_t n, bool vnet,
                        uint32_t max_len, GPtrArray *out, LinkError *err)
{
    size_t off = 0;
    size_t hsz = vnet ? 8 : 4;

    *err = LINK_OK;
    while (n - off >= hsz) {
        uint32_t len = ((uint32_t)p[off] << 24) | ((uint32_t)p[off + 1] << 16) |
                       ((uint32_t)p[off + 2] << 8) | p[off + 3];
        uint32_t vl = 0;

        if (vnet) {
            vl = ((uint32_t)p[off + 4] << 24) | ((uint32_t)p[off + 5] << 16) |
                 ((uint32_t)p[off + 6] << 8) | p[off + 7];
        }
        if (len == 0) {
            *err = LINK_ERR_ZERO;
            break;
        }
        if (len > max_len) {
            *err = LINK_ERR_OVERSIZE;
            break;
        }
        if (vnet && (vl > len || vl > LINK_VNET_MAX)) {
            *err = LINK_ERR_BAD_VNET;
            break;
        }
        if (n - off - hsz < len) {
            break;
        }
        {
            Rec *rec = g_new0(Rec, 1);

            rec->len = len;
            rec->vnet = vl;
            rec->data = g_memdup2(p + off + hsz, len);
            g_ptr_array_add(out, rec);
        }
        off += hsz + len;
    }
    return out->len;
}

START_TEST(test_random_vs_reference)
{
    GRand *rand = g_rand_new_with_seed(0xc0101234);

    for (int iter = 0; iter < 400; iter++) {
        bool vnet = g_rand_boolean(rand);
        uint32_t max_len = g_rand_boolean(rand) ? 0 :
                           (uint32_t)g_rand_int_range(rand, 1, 3000);
        uint32_t eff_max = max_len ? max_len : LINK_MAX_LEN_DEFAULT;
        GByteArray *ba = g_byte_array_new();
        int nframes = g_rand_int_range(rand, 0, 40);
        GPtrArray *ref = g_ptr_array_new_with_free_func(rec_free);
        LinkError ref_err, got_err = LINK_OK;
        LinkReader r;
        Sink s;
        size_t off = 0;

        for (int i = 0; i < nframes; i++) {
            uint32_t len = g_rand_int_range(rand, 1, MIN(eff_max, 4000) + 1);
            uint32_t vl = g_rand_int_range(rand, 0, MIN(len, 256) + 1);

            append_frame(ba, len, vnet, vl, g_rand_int(rand));
        }
        /* Sometimes corrupt one byte of the stream. */
        if (ba->len && g_rand_int_range(rand, 0, 4) == 0) {
            ba->data[g_rand_int_range(rand, 0, ba->len)] = g_rand_int(rand);
        }
        ref_decode(ba->data, ba->len, vnet, eff_max, ref, &ref_err);

        link_reader_init(&r, vnet, max_len);
        sink_init(&s);
        while (off < ba->len) {
            size_t chunk = g_rand_int_range(rand, 1, 5000);
            GError *err = NULL;

            chunk = MIN(chunk, ba->len - off);
            got_err = link_reader_feed(&r, ba->data + off, chunk, on_frame,
                                        &s, &err);
            off += chunk;
            if (got_err != LINK_OK) {
                ck_assert_ptr_nonnull(err);
                g_error_free(err);
                break;
            }
            ck_assert_ptr_null(err);
        }
        ck_assert_int_eq(got_err, ref_err);
        ck_assert_uint_eq(s.recs->len, ref->len);
        for (guint i = 0; i < ref->len; i++) {
            Rec *a = g_ptr_array_index(ref, i);
            Rec *b = g_ptr_array_index(s.recs, i);

            ck_assert_uint_eq(a->len, b->len);
            ck_assert_uint_eq(a->vnet, b->vnet);
            ck_assert_mem_eq(a->data, b->data, a->len);
        }
        link_reader_destroy(&r);
        sink_destroy(&s);
        g_ptr_array_unref(ref);
        g_byte_array_unref(ba);
    }
    g_rand_free(rand);
}
END_TEST

static Suite *frame_suite(void)
{
    Suite *s = suite_create("net/frame");
    TCase *tc = tcase_create("frame");

    tcase_set_timeout(tc, 60);

    tcase_add_test(tc, test_header_bytes);
    tcase_add_test(tc, test_qemu_vnet_example);
    tcase_add_test(tc, test_split_every_offset);
    tcase_add_test(tc, test_split_every_offset_vnet);
    tcase_add_test(tc, test_byte_by_byte);
    tcase_add_test(tc, test_many_frames_one_feed);
    tcase_add_test(tc, test_max_len_accepted);
    tcase_add_test(tc, test_err_zero);
    tcase_add_test(tc, test_skip_empty);
    tcase_add_test(tc, test_skip_empty_vnet);
    tcase_add_test(tc, test_err_oversize);
    tcase_add_test(tc, test_err_bad_vnet);
    tcase_add_test(tc, test_after_error_next_frame_ok);
    tcase_add_test(tc, test_reset_between_connections);
    tcase_add_test(tc, test_reset_from_callback);
    tcase_add_test(tc, test_set_vnet);
    tcase_add_test(tc, test_random_vs_reference);
    tcase_add_test(tc, test_next_feed);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return check_run(frame_suite());
}
