/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tests/fuzz/fuzz-qmp.c - fuzz target for the QMP JSON front end
 * (monitor/qmp.c's request splitter, monitor/qmp-dispatch.c's envelope and
 * argument checking, and the handlers behind them).
 *
 * Input layout: byte 0 holds flags (bit 0: the session starts negotiated,
 * bits 1-3 pick the splitter's size limit, 64 bytes .. QMP_MAX_REQUEST),
 * bytes 1..8 are eight chunk sizes (1..256) cycled over to cut the rest,
 * the client's byte stream, into feeds.  Every text the splitter cuts is
 * run through qmp_handle_text() as the monitor does, except commands with
 * effects outside the test (quit, object-add, chardev-add, netdev_add,
 * qom-set and the x-colo-* state changes): those are parsed but not run,
 * so every input is independent of the ones before.  Besides "no crash,
 * no out-of-bounds access, no leak" (ASan/UBSan/LSan) it checks:
 *   - the splitter cuts the same texts and reports the same errors however
 *     the stream is chunked (reference: one feed of the whole stream);
 *   - no text it delivers is longer than its limit;
 *   - every reply is an object with exactly one of "return" and "error",
 *     an error has string "class" and "desc", and the request's "id" is
 *     echoed unchanged;
 *   - the reply serialises (qmp_to_text) to JSON that parses back.
 * A violated property aborts, which libFuzzer reports as a crash.
 *
 * Built as the other targets are (tests/fuzz/meson.build): a libFuzzer
 * binary with -Dfuzzing=true, and always "fuzz-qmp-smoke", whose main() (fuzz-smoke.c)
 * replays tests/fuzz/corpus/qmp/ under `make check`.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "monitor/qmp-internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond) do {                                           \
        if (!(cond)) {                                                  \
            fprintf(stderr, "fuzz-qmp: %s:%d: property failed: %s\n",    \
                    __FILE__, __LINE__, #cond);                         \
            abort();                                                    \
        }                                                               \
    } while (0)

#define HDR_BYTES 9
#define MAX_TEXTS 512

/* What one pass of the splitter produced: texts and errors, in order. */
typedef struct {
    GPtrArray *items;          /* "T" + text or "E" + error, new strings */
    gsize max;
    bool run;                  /* dispatch the texts */
    QmpSession session;
} Split;

/* Commands that act outside this process's request/reply state. */
static bool unsafe_command(const char *text, gsize len)
{
    static const char *const unsafe[] = {
        "quit", "object-add", "chardev-add", "netdev_add", "qom-set",
        "x-colo-checkpoint", "x-colo-checkpoint-done",
        "x-colo-lost-heartbeat", NULL,
    };
    g_autoptr(JsonParser) p = json_parser_new_immutable();
    JsonNode *root;
    JsonObject *o;

    if (!json_parser_load_from_data(p, text, len, NULL)) {
        return false;
    }
    root = json_parser_get_root(p);
    if (!root || !JSON_NODE_HOLDS_OBJECT(root)) {
        return false;
    }
    o = json_node_get_object(root);
    for (int k = 0; k < 2; k++) {
        const char *member = k ? "exec-oob" : "execute";
        JsonNode *n = json_object_get_member(o, member);

        if (n && JSON_NODE_HOLDS_VALUE(n) &&
            json_node_get_value_type(n) == G_TYPE_STRING) {
            const char *name = json_node_get_string(n);

            for (int i = 0; unsafe[i]; i++) {
                if (strcmp(name, unsafe[i]) == 0) {
                    return true;
                }
            }
        }
    }
    return false;
}

/* The request's "id" member, or NULL (borrowed from a parse of 'text'). */
static JsonNode *request_id(JsonParser *p, const char *text, gsize len)
{
    JsonNode *root;

    if (!json_parser_load_from_data(p, text, len, NULL)) {
        return NULL;
    }
    root = json_parser_get_root(p);
    if (!root || !JSON_NODE_HOLDS_OBJECT(root)) {
        return NULL;
    }
    return json_object_get_member(json_node_get_object(root), "id");
}

static void check_reply(JsonObject *reply, JsonNode *id)
{
    bool has_ret = json_object_has_member(reply, "return");
    bool has_err = json_object_has_member(reply, "error");
    g_autofree char *text = NULL;
    g_autoptr(JsonParser) p = json_parser_new_immutable();

    FUZZ_CHECK(has_ret != has_err);
    if (has_err) {
        JsonNode *e = json_object_get_member(reply, "error");
        JsonObject *eo;
        JsonNode *cls, *desc;

        FUZZ_CHECK(JSON_NODE_HOLDS_OBJECT(e));
        eo = json_node_get_object(e);
        cls = json_object_get_member(eo, "class");
        desc = json_object_get_member(eo, "desc");
        FUZZ_CHECK(cls && JSON_NODE_HOLDS_VALUE(cls) &&
                   json_node_get_value_type(cls) == G_TYPE_STRING);
        FUZZ_CHECK(desc && JSON_NODE_HOLDS_VALUE(desc) &&
                   json_node_get_value_type(desc) == G_TYPE_STRING);
    }
    if (id) {
        JsonNode *rid = json_object_get_member(reply, "id");

        FUZZ_CHECK(rid && json_node_equal(rid, id));
    }
    text = qmp_to_text(reply);
    FUZZ_CHECK(text);
    FUZZ_CHECK(json_parser_load_from_data(p, text, -1, NULL));
}

static gboolean on_split(void *opaque, const char *text, gsize len,
                         const char *error)
{
    Split *s = opaque;

    if (error) {
        FUZZ_CHECK(!text);
        g_ptr_array_add(s->items, g_strconcat("E", error, NULL));
        return TRUE;
    }
    FUZZ_CHECK(text && len <= s->max);
    FUZZ_CHECK(strlen(text) <= len); /* NUL bytes may cut it shorter */
    if (s->items->len < MAX_TEXTS) {
        GString *item = g_string_new("T");

        g_string_append_len(item, text, len);
        g_ptr_array_add(s->items, g_string_free(item, FALSE));
    }
    if (s->run && s->items->len <= MAX_TEXTS && !unsafe_command(text, len)) {
        g_autoptr(JsonParser) p = json_parser_new_immutable();
        JsonNode *id = request_id(p, text, len);
        JsonObject *reply = qmp_handle_text(&s->session, text, len);

        FUZZ_CHECK(reply);
        check_reply(reply, id);
        json_object_unref(reply);
    }
    return TRUE;
}

static void split(Split *s, const uint8_t *stream, size_t n,
                  const uint8_t *chunks)
{
    QmpSplitter sp;
    size_t off = 0;
    unsigned k = 0;

    qmp_splitter_init(&sp, s->max);
    while (off < n) {
        size_t c = chunks ? (size_t)chunks[k++ % 8] + 1 : n;

        if (c > n - off) {
            c = n - off;
        }
        FUZZ_CHECK(qmp_splitter_feed(&sp, (const char *)stream + off, c,
                                     on_split, s) == c);
        off += c;
    }
    qmp_splitter_destroy(&sp);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const gsize limits[8] = {
        64, 256, 1024, 4096, 65536, 1u << 18, 1u << 19, QMP_MAX_REQUEST,
    };
    Split ref = { 0 }, got = { 0 };

    if (size < HDR_BYTES) {
        return 0;
    }
    ref.items = g_ptr_array_new_with_free_func(g_free);
    got.items = g_ptr_array_new_with_free_func(g_free);
    ref.max = got.max = limits[(data[0] >> 1) & 7];
    got.run = true;
    got.session.negotiated = data[0] & 1;

    split(&ref, data + HDR_BYTES, size - HDR_BYTES, NULL);
    split(&got, data + HDR_BYTES, size - HDR_BYTES, data + 1);

    FUZZ_CHECK(ref.items->len == got.items->len);
    for (guint i = 0; i < ref.items->len; i++) {
        FUZZ_CHECK(strcmp(ref.items->pdata[i], got.items->pdata[i]) == 0);
    }
    g_ptr_array_unref(ref.items);
    g_ptr_array_unref(got.items);
    return 0;
}
