/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tests/unit/test-qmp-dispatch.c - the QMP monitor (monitor/qmp-dispatch.c,
 * monitor/qmp-cmds.c, monitor/qmp.c).
 *
 * Dispatch is tested through the generated command table with the real
 * control commands (qmp_capabilities, query-version, ...) and, generically,
 * with every command of the schema: argument checking must stop a request
 * before its handler whenever a required argument is missing or an unknown
 * one is given.  The splitter is fed byte streams directly.  The monitor
 * itself is tested in-process over a unix socket, iterating the main
 * context while waiting for replies.
 */
#include <check.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <glib/gstdio.h>

#include "check-main.h"
#include "monitor/qmp-internal.h"
#include "util/shutdown.h"
#include "util/qmp-json.h"

static int shutdown_requests;

/* Stands in for system/main.c's handler (registered in main()). */
static void fake_shutdown_request(void)
{
    shutdown_requests++;
}

/* --- helpers -------------------------------------------------------------- */

static JsonObject *run(QmpSession *s, const char *text)
{
    return qmp_handle_text(s, text, strlen(text));
}

static JsonObject *run_negotiated(const char *text)
{
    QmpSession s = { .negotiated = TRUE };

    return run(&s, text);
}

/* Asserts 'reply' is an error of class 'cls' with 'desc', and frees it. */
static void assert_error(JsonObject *reply, const char *cls, const char *desc)
{
    JsonObject *err;

    ck_assert_msg(json_object_has_member(reply, "error"),
                  "expected error '%s', got %s", desc, qmp_to_text(reply));
    err = json_object_get_object_member(reply, "error");
    ck_assert_str_eq(json_object_get_string_member(err, "class"), cls);
    ck_assert_str_eq(json_object_get_string_member(err, "desc"), desc);
    ck_assert_int_eq(json_object_get_size(err), 2);
    json_object_unref(reply);
}

static JsonNode *assert_return(JsonObject *reply)
{
    ck_assert_msg(json_object_has_member(reply, "return"),
                  "expected return, got %s", qmp_to_text(reply));
    return json_object_get_member(reply, "return");
}

/* --- request envelope ----------------------------------------------------- */

START_TEST(test_negotiation)
{
    QmpSession s = { 0 };
    JsonObject *r;

    assert_error(run(&s, "{\"execute\": \"query-version\"}"),
                 "CommandNotFound",
                 "Expecting capabilities negotiation with 'qmp_capabilities'");
    assert_error(run(&s, "{\"execute\": \"no-such-command\"}"),
                 "CommandNotFound",
                 "Expecting capabilities negotiation with 'qmp_capabilities'");
    /* Envelope errors keep their own message. */
    assert_error(run(&s, "{\"arguments\": {}}"), "GenericError",
                 "QMP input lacks member 'execute'");
    ck_assert(!s.negotiated);
    r = run(&s, "{\"execute\": \"qmp_capabilities\"}");
    ck_assert_int_eq(json_object_get_size(
        json_node_get_object(assert_return(r))), 0);
    json_object_unref(r);
    ck_assert(s.negotiated);
    ck_assert(!s.oob);
    assert_error(run(&s, "{\"execute\": \"qmp_capabilities\"}"),
                 "CommandNotFound",
                 "Capabilities negotiation is already complete, command "
                 "ignored");
    r = run(&s, "{\"execute\": \"query-version\"}");
    assert_return(r);
    json_object_unref(r);
}
END_TEST

START_TEST(test_capabilities_args)
{
    QmpSession s = { 0 };
    JsonObject *r;

    assert_error(run(&s, "{\"execute\": \"qmp_capabilities\", "
                     "\"arguments\": {\"enable\": \"oob\"}}"),
                 "GenericError",
                 "Invalid parameter type for 'enable', expected: array");
    assert_error(run(&s, "{\"execute\": \"qmp_capabilities\", "
                     "\"arguments\": {\"enable\": [\"oob\", \"bogus\"]}}"),
                 "GenericError",
                 "Parameter 'enable[1]' does not accept value 'bogus' "
                 "(expected oob)");
    assert_error(run(&s, "{\"execute\": \"qmp_capabilities\", "
                     "\"arguments\": {\"enable\": [1]}}"),
                 "GenericError",
                 "Invalid parameter type for 'enable[0]', expected: string");
    assert_error(run(&s, "{\"execute\": \"qmp_capabilities\", "
                     "\"arguments\": {\"foo\": 1}}"),
                 "GenericError", "Parameter 'foo' is unexpected");
    ck_assert(!s.negotiated);
    r = run(&s, "{\"execute\": \"qmp_capabilities\", "
            "\"arguments\": {\"enable\": [\"oob\"]}}");
    assert_return(r);
    json_object_unref(r);
    ck_assert(s.negotiated);
    ck_assert(s.oob);
    assert_error(run(&s, "{\"exec-oob\": \"query-version\"}"),
                 "GenericError",
                 "The command query-version does not support OOB");
    assert_error(run(&s, "{\"exec-oob\": \"query-version\", "
                     "\"execute\": \"query-version\"}"),
                 "GenericError",
                 "QMP input member 'execute' clashes with 'exec-oob'");
}
END_TEST

START_TEST(test_envelope_errors)
{
    assert_error(run_negotiated("{\"execute\": \"nope\"}"), "CommandNotFound",
                 "The command nope has not been found");
    assert_error(run_negotiated("{\"execute\": \"query-version\", "
                                "\"arguments\": [1]}"),
                 "GenericError",
                 "QMP input member 'arguments' must be an object");
    assert_error(run_negotiated("{\"execute\": \"query-version\", "
                                "\"arguments\": null}"),
                 "GenericError",
                 "QMP input member 'arguments' must be an object");
    assert_error(run_negotiated("{\"id\": 1}"), "GenericError",
                 "QMP input lacks member 'execute'");
    assert_error(run_negotiated("{}"), "GenericError",
                 "QMP input lacks member 'execute'");
    assert_error(run_negotiated("{\"execute\": \"query-version\", "
                                "\"foo\": 1}"),
                 "GenericError", "QMP input member 'foo' is unexpected");
    assert_error(run_negotiated("{\"execute\": 42}"), "GenericError",
                 "QMP input member 'execute' must be a string");
    /* exec-oob without the capability is just an unknown member. */
    assert_error(run_negotiated("{\"exec-oob\": \"query-version\"}"),
                 "GenericError", "QMP input member 'exec-oob' is unexpected");
    assert_error(run_negotiated("[1, 2]"), "GenericError",
                 "QMP input must be a JSON object");
    assert_error(run_negotiated("\"execute\""), "GenericError",
                 "QMP input must be a JSON object");
}
END_TEST

START_TEST(test_parse_error)
{
    JsonObject *r = run_negotiated("{\"execute\": }");
    JsonObject *err = json_object_get_object_member(r, "error");

    ck_assert_str_eq(json_object_get_string_member(err, "class"),
                     "GenericError");
    ck_assert(g_str_has_prefix(json_object_get_string_member(err, "desc"),
                               "JSON parse error, "));
    ck_assert(!json_object_has_member(r, "id"));
    json_object_unref(r);
}
END_TEST

START_TEST(test_id_echo)
{
    const char *ids[] = { "1", "\"abc\"", "{\"a\": [1, 2, {\"b\": null}]}",
                          "[true, 1.5]", "null" };

    for (guint i = 0; i < G_N_ELEMENTS(ids); i++) {
        g_autofree char *ok = g_strdup_printf(
            "{\"execute\": \"query-version\", \"id\": %s}", ids[i]);
        g_autofree char *bad = g_strdup_printf(
            "{\"id\": %s, \"execute\": \"nope\"}", ids[i]);
        g_autofree char *env = g_strdup_printf(
            "{\"id\": %s, \"foo\": 1}", ids[i]);
        const char *reqs[] = { ok, bad, env };

        for (guint j = 0; j < G_N_ELEMENTS(reqs); j++) {
            g_autoptr(JsonParser) p = json_parser_new();
            JsonObject *r = run_negotiated(reqs[j]);
            JsonNode *want;

            ck_assert(json_parser_load_from_data(p, ids[i], -1, NULL));
            want = json_parser_get_root(p);
            ck_assert_msg(json_object_has_member(r, "id"), "%s", reqs[j]);
            ck_assert_msg(json_node_equal(want,
                                          json_object_get_member(r, "id")),
                          "id %s not echoed: %s", ids[i], qmp_to_text(r));
            json_object_unref(r);
        }
    }
}
END_TEST

/* qmp_dispatch() is the contract's entry point: same rules. */
START_TEST(test_dispatch_api)
{
    g_autoptr(JsonParser) p = json_parser_new();
    JsonObject *req, *r;

    ck_assert(json_parser_load_from_data(
        p, "{\"execute\": \"query-status\", \"id\": \"x\"}", -1, NULL));
    req = json_node_get_object(json_parser_get_root(p));
    assert_error(qmp_dispatch(req, FALSE), "CommandNotFound",
                 "Expecting capabilities negotiation with 'qmp_capabilities'");
    r = qmp_dispatch(req, TRUE);
    ck_assert(json_object_get_boolean_member(
        json_node_get_object(assert_return(r)), "running"));
    ck_assert_str_eq(json_object_get_string_member(r, "id"), "x");
    json_object_unref(r);
}
END_TEST

/* The text is QEMU's, byte for byte: ", " and ": " separators, member
 * order, \uXXXX escapes. */
START_TEST(test_text_format)
{
    QmpSession s = { .negotiated = TRUE };
    struct {
        const char *in, *out;
    } cases[] = {
        { "{\"execute\": \"qmp_capabilities\", \"id\": 1}",
          "{\"id\": 1, \"error\": {\"class\": \"CommandNotFound\", "
          "\"desc\": \"Capabilities negotiation is already complete, "
          "command ignored\"}}" },
        { "{\"execute\": \"query-status\", \"id\": [\"\u00e9\\u0001\", "
          "\"\\ud83d\\ude00\\\"\\\\\\n\", 1.5, false, null]}",
          "{\"return\": {\"status\": \"running\", \"singlestep\": false, "
          "\"running\": true}, \"id\": [\"\\u00E9\\u0001\", "
          "\"\\uD83D\\uDE00\\\"\\\\\\n\", 1.5, false, null]}" },
        { "{\"execute\": \"qmp_capabilities\", \"arguments\": {\"x\": 1}}",
          "{\"error\": {\"class\": \"GenericError\", \"desc\": "
          "\"Parameter 'x' is unexpected\"}}" },
    };

    for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
        JsonObject *r = run(&s, cases[i].in);
        g_autofree char *text = qmp_to_text(r);

        ck_assert_str_eq(text, cases[i].out);
        json_object_unref(r);
    }
}
END_TEST

/* --- control commands ----------------------------------------------------- */

START_TEST(test_query_version)
{
    JsonObject *r = run_negotiated("{\"execute\": \"query-version\"}");
    JsonObject *v = json_node_get_object(assert_return(r));
    JsonObject *q = json_object_get_object_member(v, "qemu");

    ck_assert_int_eq(json_object_get_int_member(q, "major"), 0);
    ck_assert_int_eq(json_object_get_int_member(q, "minor"), 1);
    ck_assert(json_object_has_member(q, "micro"));
    ck_assert(g_str_has_prefix(json_object_get_string_member(v, "package"),
                               "colo-proxy "));
    assert_error(run_negotiated("{\"execute\": \"query-version\", "
                                "\"arguments\": {\"x\": 1}}"),
                 "GenericError", "Parameter 'x' is unexpected");
    json_object_unref(r);
}
END_TEST

START_TEST(test_query_commands)
{
    JsonObject *r = run_negotiated("{\"execute\": \"query-commands\"}");
    JsonArray *a = json_node_get_array(assert_return(r));
    guint n = 0;
    gboolean caps = FALSE, version = FALSE;

    for (guint i = 0; qmp_commands[i].name; i++) {
        n++;
    }
    ck_assert_uint_eq(json_array_get_length(a), n);
    for (guint i = 0; i < json_array_get_length(a); i++) {
        JsonObject *o = json_array_get_object_element(a, i);
        const char *name = json_object_get_string_member(o, "name");

        caps |= strcmp(name, "qmp_capabilities") == 0;
        version |= strcmp(name, "query-version") == 0;
    }
    ck_assert(caps && version);
    json_object_unref(r);
}
END_TEST

START_TEST(test_query_qmp_schema)
{
    JsonObject *r = run_negotiated("{\"execute\": \"query-qmp-schema\"}");
    JsonArray *a = json_node_get_array(assert_return(r));
    g_autoptr(GHashTable) cmds = g_hash_table_new(g_str_hash, g_str_equal);
    g_autoptr(GHashTable) events = g_hash_table_new(g_str_hash, g_str_equal);

    for (guint i = 0; i < json_array_get_length(a); i++) {
        JsonObject *o = json_array_get_object_element(a, i);
        const char *meta = json_object_get_string_member(o, "meta-type");

        if (strcmp(meta, "command") == 0) {
            g_hash_table_add(cmds, (char *)json_object_get_string_member(
                                 o, "name"));
            ck_assert(json_object_has_member(o, "arguments"));
        } else if (strcmp(meta, "event") == 0) {
            g_hash_table_add(events, (char *)json_object_get_string_member(
                                 o, "name"));
        }
    }
    for (guint i = 0; qmp_commands[i].name; i++) {
        ck_assert_msg(g_hash_table_contains(cmds, qmp_commands[i].name),
                      "%s not introspected", qmp_commands[i].name);
    }
    for (guint i = 0; qmp_event_names[i]; i++) {
        ck_assert(g_hash_table_contains(events, qmp_event_names[i]));
    }
    json_object_unref(r);
}
END_TEST

START_TEST(test_quit)
{
    JsonObject *r;

    shutdown_requests = 0;
    r = run_negotiated("{\"execute\": \"quit\"}");
    assert_return(r);
    json_object_unref(r);
    ck_assert_int_eq(shutdown_requests, 1);
}
END_TEST

/* --- generic argument checking, over the whole schema --------------------- */

/* Every command with a required argument: sent without arguments, it fails
 * with "Parameter 'FIRST' is missing" and its handler never runs.  (If a
 * handler ran without its arguments, it would likely crash the test.) */
START_TEST(test_all_commands_missing)
{
    for (guint i = 0; qmp_command_info[i].name; i++) {
        const QmpTypeInfo *t = qmp_command_info[i].args;
        const char *first = NULL;
        g_autofree char *req = NULL, *want = NULL;

        for (guint j = 0; j < t->n_members && !first; j++) {
            if (!t->members[j].optional) {
                first = t->members[j].name;
            }
        }
        if (!first) {
            continue;
        }
        req = g_strdup_printf("{\"execute\": \"%s\"}",
                              qmp_command_info[i].name);
        want = g_strdup_printf("Parameter '%s' is missing", first);
        assert_error(run_negotiated(req), "GenericError", want);
    }
}
END_TEST

/* Every command without required arguments and without an open argument
 * set rejects an unknown argument before running. */
START_TEST(test_all_commands_unexpected)
{
    shutdown_requests = 0;
    for (guint i = 0; qmp_command_info[i].name; i++) {
        const QmpTypeInfo *t = qmp_command_info[i].args;
        gboolean required = FALSE;
        g_autofree char *req = NULL;

        for (guint j = 0; j < t->n_members; j++) {
            required |= !t->members[j].optional;
        }
        if (required || qmp_command_info[i].open_args) {
            continue;
        }
        req = g_strdup_printf("{\"execute\": \"%s\", \"arguments\": "
                              "{\"no-such-argument\": 1}}",
                              qmp_command_info[i].name);
        assert_error(run_negotiated(req), "GenericError",
                     "Parameter 'no-such-argument' is unexpected");
    }
    ck_assert_int_eq(shutdown_requests, 0);   /* quit did not run */
}
END_TEST

/* Every command whose first argument is a string rejects a number there. */
START_TEST(test_all_commands_types)
{
    for (guint i = 0; qmp_command_info[i].name; i++) {
        const QmpTypeInfo *t = qmp_command_info[i].args;
        const QmpMemberInfo *m;
        g_autofree char *req = NULL, *want = NULL;

        if (t->n_members == 0) {
            continue;
        }
        m = &t->members[0];
        if (m->list || (m->kind != QMP_KIND_STR &&
                        m->kind != QMP_KIND_ENUM)) {
            continue;
        }
        req = g_strdup_printf("{\"execute\": \"%s\", \"arguments\": "
                              "{\"%s\": 7}}", qmp_command_info[i].name,
                              m->name);
        want = g_strdup_printf("Invalid parameter type for '%s', "
                               "expected: string", m->name);
        assert_error(run_negotiated(req), "GenericError", want);
    }
}
END_TEST

/* Every command with a required struct argument: given an empty object
 * there, it fails naming the nested member by path ("backend.type"). */
START_TEST(test_all_commands_nested)
{
    guint checked = 0;

    for (guint i = 0; qmp_command_info[i].name; i++) {
        const QmpTypeInfo *t = qmp_command_info[i].args;
        GString *req = g_string_new(NULL);
        const char *want_arg = NULL, *want_member = NULL;

        /* Fill every required argument before the struct one with a
         * well-typed value, so the struct one is the first error. */
        g_string_printf(req, "{\"execute\": \"%s\", \"arguments\": {",
                        qmp_command_info[i].name);
        for (guint j = 0; j < t->n_members && !want_arg; j++) {
            const QmpMemberInfo *m = &t->members[j];
            const char *sep = req->str[req->len - 1] == '{' ? "" : ", ";

            if (m->optional) {
                continue;
            }
            if (m->kind == QMP_KIND_OBJECT && !m->list) {
                for (guint k = 0; k < m->object->n_members; k++) {
                    if (!m->object->members[k].optional) {
                        want_member = m->object->members[k].name;
                        break;
                    }
                }
                if (!want_member) {
                    break;
                }
                want_arg = m->name;
                g_string_append_printf(req, "%s\"%s\": {}", sep, m->name);
            } else if (m->list) {
                g_string_append_printf(req, "%s\"%s\": []", sep, m->name);
            } else if (m->kind == QMP_KIND_STR) {
                g_string_append_printf(req, "%s\"%s\": \"x\"", sep, m->name);
            } else if (m->kind == QMP_KIND_ENUM) {
                g_string_append_printf(req, "%s\"%s\": \"%s\"", sep, m->name,
                                       m->values[0]);
            } else if (m->kind == QMP_KIND_INT) {
                g_string_append_printf(req, "%s\"%s\": %" G_GINT64_FORMAT,
                                       sep, m->name, MAX(m->min, 0));
            } else if (m->kind == QMP_KIND_BOOL) {
                g_string_append_printf(req, "%s\"%s\": true", sep, m->name);
            } else {
                break;            /* any / number / null: not needed */
            }
        }
        g_string_append(req, "}}");
        if (want_arg) {
            g_autofree char *want = g_strdup_printf(
                "Parameter '%s.%s' is missing", want_arg, want_member);

            assert_error(run_negotiated(req->str), "GenericError", want);
            checked++;
        }
        g_string_free(req, TRUE);
    }
    g_debug("nested argument check done for %u commands", checked);
}
END_TEST

START_TEST(test_table_shape)
{
    guint n = 0;

    for (guint i = 0; qmp_commands[i].name; i++, n++) {
        ck_assert_str_eq(qmp_commands[i].name, qmp_command_info[i].name);
        if (i > 0) {
            ck_assert(strcmp(qmp_commands[i - 1].name,
                             qmp_commands[i].name) < 0);
        }
        ck_assert(qmp_command_info[i].args != NULL);
    }
    ck_assert(qmp_command_info[n].name == NULL);
    ck_assert_uint_ge(n, 6);
}
END_TEST

/* --- handler helpers ------------------------------------------------------ */

START_TEST(test_arg_helpers)
{
    g_autoptr(JsonParser) p = json_parser_new();
    g_autoptr(GError) err = NULL;
    JsonObject *args;
    const char *s = "default";
    gboolean b = FALSE;
    gint64 n = -1;

    ck_assert(json_parser_load_from_data(
        p, "{\"s\": \"str\", \"b\": true, \"n\": 42, \"f\": 1.5}", -1, NULL));
    args = json_node_get_object(json_parser_get_root(p));

    ck_assert(qmp_arg_str(args, "s", TRUE, &s, NULL));
    ck_assert_str_eq(s, "str");
    ck_assert(qmp_arg_bool(args, "b", TRUE, &b, NULL));
    ck_assert(b);
    ck_assert(qmp_arg_int(args, "n", TRUE, &n, NULL));
    ck_assert_int_eq(n, 42);

    /* Absent and optional: untouched. */
    s = "default";
    ck_assert(qmp_arg_str(args, "absent", FALSE, &s, NULL));
    ck_assert_str_eq(s, "default");

    ck_assert(!qmp_arg_str(args, "absent", TRUE, &s, &err));
    ck_assert_str_eq(err->message, "Parameter 'absent' is missing");
    g_clear_error(&err);
    ck_assert(!qmp_arg_str(args, "n", TRUE, &s, &err));
    ck_assert_str_eq(err->message,
                     "Invalid parameter type for 'n', expected: string");
    g_clear_error(&err);
    ck_assert(!qmp_arg_bool(args, "s", FALSE, &b, &err));
    ck_assert_str_eq(err->message,
                     "Invalid parameter type for 's', expected: boolean");
    g_clear_error(&err);
    ck_assert(!qmp_arg_int(args, "f", FALSE, &n, &err));
    ck_assert_str_eq(err->message,
                     "Invalid parameter type for 'f', expected: integer");
    g_clear_error(&err);
    ck_assert(!qmp_arg_int(args, "absent", TRUE, &n, NULL));
}
END_TEST

/* --- splitter ------------------------------------------------------------- */

static gboolean collect(void *op, const char *text, gsize len,
                        const char *error)
{
    GPtrArray *out = op;

    g_ptr_array_add(out, error ? g_strdup_printf("ERR:%s", error)
                               : g_strndup(text, len));
    return TRUE;
}

/* Feeds 'in' in chunks of 'chunk' bytes (0: all at once). */
static GPtrArray *split(const char *in, gsize chunk, gsize max)
{
    QmpSplitter s;
    GPtrArray *out = g_ptr_array_new_with_free_func(g_free);
    gsize len = strlen(in);

    qmp_splitter_init(&s, max);
    for (gsize off = 0; off < len;) {
        gsize n = chunk ? MIN(chunk, len - off) : len - off;

        ck_assert_uint_eq(qmp_splitter_feed(&s, in + off, n, collect, out),
                          n);
        off += n;
    }
    qmp_splitter_destroy(&s);
    return out;
}

static void assert_split(const char *in, gsize max, const char *const *want)
{
    for (gsize chunk = 0; chunk <= 3; chunk++) {
        g_autoptr(GPtrArray) got = split(in, chunk, max);
        guint n = g_strv_length((char **)want);

        ck_assert_msg(got->len == n, "'%s' chunk %zu: %u values, want %u",
                      in, chunk, got->len, n);
        for (guint i = 0; i < n; i++) {
            ck_assert_str_eq(g_ptr_array_index(got, i), want[i]);
        }
    }
}

START_TEST(test_split_basic)
{
    const char *const a[] = { "{\"a\": 1}", "{\"b\": [2, {}]}", "[3]", NULL };
    const char *const b[] = { "{\"s\": \"}{][\\\"\\\\\"}", "{}", NULL };
    const char *const c[] = { "42", "\"x y\"", "true", "{}", NULL };

    assert_split("{\"a\": 1}{\"b\": [2, {}]}\n  [3]\r\n", 1024, a);
    assert_split("{\"s\": \"}{][\\\"\\\\\"}{}", 1024, b);
    assert_split("42 \"x y\" true{}", 1024, c);
}
END_TEST

START_TEST(test_split_errors)
{
    const char *const stray[] = { "ERR:JSON parse error, stray '}'", "{}",
                                  NULL };
    const char *const mismatch[] = {
        "ERR:JSON parse error, unexpected ']'", "{\"ok\": 1}", NULL };
    const char *const big[] = { "{\"a\": 1}", "ERR:JSON request too large",
                                "{\"b\": 2}", NULL };

    assert_split("}{}", 64, stray);
    assert_split("{\"a\": ]\n{\"ok\": 1}", 64, mismatch);
    /* Too large: reported once; the rest of the value, strings and all, is
     * skipped and the next value is intact. */
    assert_split("{\"a\": 1}{\"x\": \"0123456789}}}}0123456789\", "
                 "\"y\": [[[[]]]]}{\"b\": 2}", 16, big);
}
END_TEST

START_TEST(test_split_nesting)
{
    GString *in = g_string_new(NULL);
    g_autoptr(GPtrArray) got = NULL;

    for (int i = 0; i < QMP_MAX_NESTING + 5; i++) {
        g_string_append_c(in, '[');
    }
    for (int i = 0; i < QMP_MAX_NESTING + 5; i++) {
        g_string_append_c(in, ']');
    }
    g_string_append(in, "{}");
    got = split(in->str, 0, 1 << 20);
    ck_assert_uint_eq(got->len, 2);
    ck_assert_str_eq(g_ptr_array_index(got, 0),
                     "ERR:JSON nesting depth limit exceeded");
    ck_assert_str_eq(g_ptr_array_index(got, 1), "{}");
    g_string_free(in, TRUE);
}
END_TEST

static gboolean stop_after_one(void *op, const char *text, gsize len,
                               const char *error)
{
    (*(int *)op)++;
    return FALSE;
}

START_TEST(test_split_stop)
{
    QmpSplitter s;
    const char *in = "{\"a\":1} {\"b\":2}";
    int n = 0;
    gsize used;

    qmp_splitter_init(&s, 1024);
    used = qmp_splitter_feed(&s, in, strlen(in), stop_after_one, &n);
    ck_assert_int_eq(n, 1);
    ck_assert_uint_eq(used, 7);
    used += qmp_splitter_feed(&s, in + used, strlen(in) - used,
                              stop_after_one, &n);
    ck_assert_int_eq(n, 2);
    ck_assert_uint_eq(used, strlen(in));
    qmp_splitter_destroy(&s);
}
END_TEST

/* --- the monitor over a unix socket --------------------------------------- */

static char *sock_path;

static void monitor_setup(void)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *spec = NULL;

    sock_path = g_strdup_printf("%s/colo-qmp-test-%d.sock", g_get_tmp_dir(),
                                (int)getpid());
    spec = g_strdup_printf("unix:%s,server=on,wait=off", sock_path);
    ck_assert_msg(monitor_qmp_open(spec, &err), "%s",
                  err ? err->message : "");
}

static void monitor_teardown(void)
{
    monitor_qmp_close_all();
    ck_assert(!g_file_test(sock_path, G_FILE_TEST_EXISTS));
    g_free(sock_path);
}

static int client_connect(void)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);

    g_strlcpy(sa.sun_path, sock_path, sizeof(sa.sun_path));
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    return fd;
}

static void client_write(int fd, const char *s)
{
    ck_assert_int_eq(write(fd, s, strlen(s)), (ssize_t)strlen(s));
}

/* Reads one line, running the main context meanwhile (5 s at most). */
static char *client_line(int fd)
{
    GString *line = g_string_new(NULL);
    gint64 deadline = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;

    while (g_get_monotonic_time() < deadline) {
        struct pollfd pfd = { .fd = fd, .events = POLLIN };
        char c;

        while (g_main_context_iteration(NULL, FALSE)) {
        }
        if (poll(&pfd, 1, 10) == 1) {
            ssize_t r = read(fd, &c, 1);

            if (r <= 0) {
                break;
            }
            if (c == '\n') {
                ck_assert(line->len && line->str[line->len - 1] == '\r');
                g_string_truncate(line, line->len - 1);
                return g_string_free(line, FALSE);
            }
            g_string_append_c(line, c);
        }
    }
    g_string_free(line, TRUE);
    return NULL;
}

static JsonObject *client_reply(int fd)
{
    g_autofree char *line = client_line(fd);
    g_autoptr(JsonParser) p = json_parser_new();

    ck_assert_msg(line != NULL, "no reply");
    ck_assert_msg(json_parser_load_from_data(p, line, -1, NULL), "%s", line);
    return json_object_ref(json_node_get_object(json_parser_get_root(p)));
}

static int client_negotiated(void)
{
    int fd = client_connect();
    JsonObject *r = client_reply(fd);

    ck_assert(json_object_has_member(r, "QMP"));
    json_object_unref(r);
    client_write(fd, "{\"execute\": \"qmp_capabilities\"}");
    r = client_reply(fd);
    assert_return(r);
    json_object_unref(r);
    return fd;
}

START_TEST(test_monitor_session)
{
    int fd = client_connect();
    JsonObject *r = client_reply(fd), *qmp, *ver;
    JsonArray *caps;

    qmp = json_object_get_object_member(r, "QMP");
    ver = json_object_get_object_member(qmp, "version");
    ck_assert_int_eq(json_object_get_int_member(
        json_object_get_object_member(ver, "qemu"), "minor"), 1);
    caps = json_object_get_array_member(qmp, "capabilities");
    ck_assert_str_eq(json_array_get_string_element(caps, 0), "oob");
    json_object_unref(r);

    client_write(fd, "{\"execute\": \"query-version\", \"id\": 7}");
    r = client_reply(fd);
    ck_assert_int_eq(json_object_get_int_member(r, "id"), 7);
    assert_error(r, "CommandNotFound",
                 "Expecting capabilities negotiation with 'qmp_capabilities'");

    /* Three requests in one write, the last split over two writes. */
    client_write(fd, "{\"execute\": \"qmp_capabilities\", \"id\": 1}"
                 "{\"execute\": \"query-status\", \"id\": 2}\n"
                 "{\"execute\": \"query-ver");
    r = client_reply(fd);
    ck_assert_int_eq(json_object_get_int_member(r, "id"), 1);
    json_object_unref(r);
    r = client_reply(fd);
    ck_assert_int_eq(json_object_get_int_member(r, "id"), 2);
    json_object_unref(r);
    client_write(fd, "sion\", \"id\": 3}");
    r = client_reply(fd);
    ck_assert_int_eq(json_object_get_int_member(r, "id"), 3);
    assert_return(r);
    json_object_unref(r);

    /* Malformed JSON, then the connection still works. */
    client_write(fd, "{\"execute\": nope}");
    r = client_reply(fd);
    ck_assert(g_str_has_prefix(json_object_get_string_member(
        json_object_get_object_member(r, "error"), "desc"),
        "JSON parse error"));
    json_object_unref(r);
    client_write(fd, "{\"execute\": \"query-status\", \"id\": \"after\"}");
    r = client_reply(fd);
    ck_assert_str_eq(json_object_get_string_member(r, "id"), "after");
    json_object_unref(r);
    close(fd);
}
END_TEST

START_TEST(test_monitor_too_large)
{
    int fd = client_negotiated();
    GString *big = g_string_new("{\"execute\": \"query-status\", "
                                "\"arguments\": {\"pad\": \"");
    JsonObject *r;

    while (big->len <= QMP_MAX_REQUEST) {
        g_string_append(big, "0123456789abcdef{}[]");
    }
    g_string_append(big, "\"}}{\"execute\": \"query-status\", \"id\": 9}");
    /* Written in pieces while the monitor runs (the socket buffer is
     * smaller than the request). */
    for (gsize off = 0; off < big->len;) {
        ssize_t w = send(fd, big->str + off, big->len - off, MSG_DONTWAIT);

        if (w > 0) {
            off += w;
        }
        g_main_context_iteration(NULL, FALSE);
    }
    r = client_reply(fd);
    assert_error(r, "GenericError", "JSON request too large");
    r = client_reply(fd);
    ck_assert_int_eq(json_object_get_int_member(r, "id"), 9);
    json_object_unref(r);
    g_string_free(big, TRUE);
    close(fd);
}
END_TEST

static gpointer emit_thread(gpointer op)
{
    JsonObject *data = json_object_new();

    json_object_set_string_member(data, "from", "thread");
    qmp_event_emit("TEST_EVENT", data);
    return NULL;
}

START_TEST(test_monitor_events)
{
    int fd1 = client_negotiated();
    int fd2 = client_negotiated();
    int fd3 = client_connect();        /* not negotiated: no events */
    JsonObject *r, *ts;
    gint64 now = g_get_real_time() / G_USEC_PER_SEC;

    r = client_reply(fd3);             /* greeting */
    json_object_unref(r);
    g_thread_join(g_thread_new("emit", emit_thread, NULL));
    for (int i = 0; i < 2; i++) {
        r = client_reply(i ? fd2 : fd1);
        ck_assert_str_eq(json_object_get_string_member(r, "event"),
                         "TEST_EVENT");
        ck_assert_str_eq(json_object_get_string_member(
            json_object_get_object_member(r, "data"), "from"), "thread");
        g_autoptr(GList) keys = json_object_get_members(r);

        ck_assert_str_eq(keys->data, "timestamp");    /* QEMU's order */
        ts = json_object_get_object_member(r, "timestamp");
        ck_assert_int_ge(json_object_get_int_member(ts, "seconds"), now);
        ck_assert_int_lt(json_object_get_int_member(ts, "microseconds"),
                         1000000);
        json_object_unref(r);
    }
    /* fd3 gets only its own reply. */
    client_write(fd3, "{\"execute\": \"qmp_capabilities\", \"id\": 3}");
    r = client_reply(fd3);
    ck_assert_int_eq(json_object_get_int_member(r, "id"), 3);
    json_object_unref(r);
    close(fd1);
    close(fd2);
    close(fd3);
}
END_TEST

/* A client that goes away with requests and replies in flight. */
START_TEST(test_monitor_drop)
{
    int fd = client_negotiated();
    int fd2;
    JsonObject *r;

    for (int i = 0; i < 100; i++) {
        client_write(fd, "{\"execute\": \"query-qmp-schema\"}");
    }
    close(fd);
    for (int i = 0; i < 100; i++) {
        g_main_context_iteration(NULL, FALSE);
    }
    qmp_event_emit("TEST_EVENT", NULL);
    fd2 = client_negotiated();
    client_write(fd2, "{\"execute\": \"query-status\", \"id\": 1}");
    r = client_reply(fd2);
    ck_assert_int_eq(json_object_get_int_member(r, "id"), 1);
    json_object_unref(r);
    close(fd2);
}
END_TEST

/* Events for a client that never reads pile up to QMP_MAX_OUTPUT; then it
 * is disconnected, and the others keep being served. */
START_TEST(test_monitor_event_flood)
{
    int slow = client_negotiated();
    int ok = client_negotiated();
    g_autofree char *pad = g_strnfill(64 * 1024, 'x');
    gboolean eof = FALSE;
    JsonObject *r;
    char buf[65536];
    gsize total = 0;

    for (guint i = 0; i < QMP_MAX_OUTPUT / (64 * 1024) + 16; i++) {
        JsonObject *data = json_object_new();

        json_object_set_string_member(data, "pad", pad);
        qmp_event_emit("TEST_FLOOD", data);
        while (g_main_context_iteration(NULL, FALSE)) {
        }
        /* 'ok' keeps reading. */
        while (recv(ok, buf, sizeof(buf), MSG_DONTWAIT) > 0) {
        }
    }
    /* 'slow' finds its queued data, then the end of the connection. */
    for (int spins = 0; spins < 100000 && !eof; spins++) {
        ssize_t n = recv(slow, buf, sizeof(buf), MSG_DONTWAIT);

        if (n == 0) {
            eof = TRUE;
        } else if (n > 0) {
            total += n;
        } else {
            g_main_context_iteration(NULL, FALSE);
            g_usleep(100);
        }
    }
    ck_assert_msg(eof, "a client that does not read was not disconnected");
    ck_assert_uint_le(total, QMP_MAX_OUTPUT + 4 * 1024 * 1024);
    /* Drain 'ok' to a line boundary: nothing queued, nothing unread. */
    for (int quiet = 0; quiet < 3;) {
        gboolean busy = g_main_context_iteration(NULL, FALSE);

        while (recv(ok, buf, sizeof(buf), MSG_DONTWAIT) > 0) {
            busy = TRUE;
        }
        quiet = busy ? 0 : quiet + 1;
        g_usleep(1000);
    }
    client_write(ok, "{\"execute\": \"query-status\", \"id\": 5}");
    for (;;) {
        r = client_reply(ok);
        if (!json_object_has_member(r, "event")) {
            break;
        }
        json_object_unref(r);
    }
    ck_assert_int_eq(json_object_get_int_member(r, "id"), 5);
    json_object_unref(r);
    close(slow);
    close(ok);
}
END_TEST

/* A listening monitor takes QMP_MAX_CLIENTS connections; one more is
 * closed at once, and a place freed is usable again. */
START_TEST(test_monitor_max_clients)
{
    int fds[QMP_MAX_CLIENTS + 1];
    JsonObject *r;
    char c;

    for (int i = 0; i <= QMP_MAX_CLIENTS; i++) {
        fds[i] = client_connect();
        if (i < QMP_MAX_CLIENTS) {
            r = client_reply(fds[i]);          /* greeting */
            json_object_unref(r);
        }
    }
    ck_assert_ptr_null(client_line(fds[QMP_MAX_CLIENTS]));
    ck_assert_int_eq(read(fds[QMP_MAX_CLIENTS], &c, 1), 0);
    close(fds[QMP_MAX_CLIENTS]);
    close(fds[0]);
    for (int i = 0; i < 50; i++) {
        g_main_context_iteration(NULL, FALSE);
        g_usleep(1000);
    }
    fds[0] = client_connect();
    r = client_reply(fds[0]);
    ck_assert(json_object_has_member(r, "QMP"));
    json_object_unref(r);
    for (int i = 0; i < QMP_MAX_CLIENTS; i++) {
        close(fds[i]);
    }
}
END_TEST

START_TEST(test_monitor_specs)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *legacy = g_strdup_printf("unix:%s.2,server,nowait",
                                              sock_path);

    g_autofree char *path2 = g_strdup_printf("%s.2", sock_path);

    ck_assert(monitor_qmp_open(legacy, &err));
    ck_assert(g_file_test(path2, G_FILE_TEST_EXISTS));
    ck_assert(!monitor_qmp_open("bogus:x", &err));
    ck_assert(strstr(err->message, "expected stdio"));
    g_clear_error(&err);
    ck_assert(!monitor_qmp_open("unix:/tmp/x,server=on,frob=1", &err));
    ck_assert_str_eq(err->message, "Invalid parameter 'frob'");
    g_clear_error(&err);
    ck_assert(!monitor_qmp_open("tcp:localhost", &err));
    g_clear_error(&err);
    ck_assert(!monitor_qmp_open("tcp:127.0.0.1:99999,server=on,wait=off",
                                &err));
    g_clear_error(&err);
}
END_TEST

/* --- the typed accessor layer (util/qmp-json.c) ------------------------ */

static JsonObject *parse_obj(const char *text)
{
    g_autoptr(JsonParser) p = json_parser_new();
    JsonNode *root;

    ck_assert(json_parser_load_from_data(p, text, -1, NULL));
    root = json_parser_get_root(p);
    ck_assert(JSON_NODE_HOLDS_OBJECT(root));
    return json_object_ref(json_node_get_object(root));
}

START_TEST(test_json_getters)
{
    g_autoptr(JsonObject) o = parse_obj(
        "{\"s\": \"x\", \"i\": 5, \"d\": 1.5, \"b\": true, \"o\": {}, "
        "\"a\": [1], \"n\": null}");
    GError *err = NULL;
    const char *str = "def";
    gint64 i = -1;
    gboolean b = FALSE;
    JsonObject *obj = NULL;
    JsonArray *arr = NULL;
    JsonNode *n;

    ck_assert(qmp_json_str(o, "s", TRUE, &str, &err));
    ck_assert_str_eq(str, "x");
    ck_assert(qmp_json_int(o, "i", TRUE, &i, &err));
    ck_assert_int_eq(i, 5);
    ck_assert(qmp_json_bool(o, "b", TRUE, &b, &err) && b);
    ck_assert(qmp_json_object(o, "o", TRUE, &obj, &err) && obj);
    ck_assert(qmp_json_array(o, "a", TRUE, &arr, &err) && arr);
    ck_assert_int_eq(qmp_json_member(o, "d", QMP_JSON_NUMBER, &n),
                     QMP_JSON_OK);
    ck_assert_int_eq(qmp_json_member(o, "i", QMP_JSON_NUMBER, &n),
                     QMP_JSON_OK);

    /* absent: untouched unless required */
    str = "def";
    ck_assert(qmp_json_str(o, "nope", FALSE, &str, &err));
    ck_assert_str_eq(str, "def");
    ck_assert(!qmp_json_str(o, "nope", TRUE, &str, &err));
    ck_assert_str_eq(err->message, "member 'nope' is missing");
    g_clear_error(&err);
    ck_assert(qmp_json_str(NULL, "s", FALSE, &str, &err));

    /* every wrong type is an error, never a NULL or 0 read as a value */
    ck_assert(!qmp_json_str(o, "i", TRUE, &str, &err));
    ck_assert_str_eq(err->message,
                     "member 'i' is of type integer, expected string");
    g_clear_error(&err);
    ck_assert_str_eq(str, "def");
    ck_assert(!qmp_json_int(o, "s", FALSE, &i, &err));
    ck_assert_str_eq(err->message,
                     "member 's' is of type string, expected integer");
    g_clear_error(&err);
    ck_assert(!qmp_json_int(o, "d", FALSE, &i, &err));
    g_clear_error(&err);
    ck_assert(!qmp_json_bool(o, "n", FALSE, &b, &err));
    ck_assert_str_eq(err->message,
                     "member 'n' is of type null, expected boolean");
    g_clear_error(&err);
    ck_assert(!qmp_json_object(o, "a", FALSE, &obj, NULL));
    ck_assert(!qmp_json_array(o, "o", FALSE, &arr, NULL));
    ck_assert_str_eq(qmp_json_str_or(o, "i", "dflt"), "dflt");
    ck_assert_str_eq(qmp_json_str_or(o, "s", "dflt"), "x");
    ck_assert_ptr_null(qmp_json_str_or(NULL, "s", NULL));
}
END_TEST

START_TEST(test_json_messages)
{
    static const struct {
        const char *text;
        QmpMessageKind kind;
        gboolean ok;
    } cases[] = {
        { "{\"QMP\": {\"version\": {}}}", QMP_MSG_GREETING, TRUE },
        { "{\"QMP\": 1}", QMP_MSG_INVALID, FALSE },
        { "{\"event\": \"STOP\"}", QMP_MSG_EVENT, TRUE },
        { "{\"event\": \"STOP\", \"data\": {}}", QMP_MSG_EVENT, TRUE },
        { "{\"event\": 1}", QMP_MSG_INVALID, FALSE },
        { "{\"event\": \"MIGRATION\", \"data\": \"colo\"}",
          QMP_MSG_INVALID, FALSE },
        { "{\"return\": {}}", QMP_MSG_RETURN, TRUE },
        { "{\"return\": 5, \"id\": 1}", QMP_MSG_RETURN, TRUE },
        { "{\"error\": {\"class\": \"GenericError\", \"desc\": \"x\"}}",
          QMP_MSG_ERROR, TRUE },
        /* an ill-typed error is still an error, never a success */
        { "{\"error\": {\"class\": \"GenericError\", \"desc\": 17}}",
          QMP_MSG_ERROR, FALSE },
        { "{\"error\": \"no\"}", QMP_MSG_ERROR, FALSE },
        { "{\"return\": {}, \"error\": null}", QMP_MSG_ERROR, FALSE },
        { "{}", QMP_MSG_INVALID, FALSE },
    };

    for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(JsonObject) o = parse_obj(cases[i].text);
        GError *err = NULL;
        QmpMessage m;
        gboolean ok = qmp_message_parse(o, &m, &err);

        ck_assert_msg(ok == cases[i].ok && m.kind == cases[i].kind,
                      "%s: ok %d kind %d", cases[i].text, ok, m.kind);
        ck_assert(ok == (err == NULL));
        if (m.kind == QMP_MSG_ERROR) {
            ck_assert_ptr_nonnull(m.err_class);
            ck_assert_ptr_nonnull(m.err_desc);
        }
        if (m.kind == QMP_MSG_EVENT) {
            ck_assert_str_eq(m.event, "STOP");
        }
        g_clear_error(&err);
    }
}
END_TEST

static Suite *qmp_suite(void)
{
    Suite *s = suite_create("monitor/qmp-dispatch");
    TCase *tc = tcase_create("dispatch");
    TCase *split_tc = tcase_create("splitter");
    TCase *mon = tcase_create("monitor");

    tcase_set_timeout(tc, 30);
    tcase_set_timeout(split_tc, 30);
    tcase_add_test(tc, test_negotiation);
    tcase_add_test(tc, test_capabilities_args);
    tcase_add_test(tc, test_envelope_errors);
    tcase_add_test(tc, test_parse_error);
    tcase_add_test(tc, test_id_echo);
    tcase_add_test(tc, test_dispatch_api);
    tcase_add_test(tc, test_text_format);
    tcase_add_test(tc, test_query_version);
    tcase_add_test(tc, test_query_commands);
    tcase_add_test(tc, test_query_qmp_schema);
    tcase_add_test(tc, test_quit);
    tcase_add_test(tc, test_all_commands_missing);
    tcase_add_test(tc, test_all_commands_unexpected);
    tcase_add_test(tc, test_all_commands_types);
    tcase_add_test(tc, test_all_commands_nested);
    tcase_add_test(tc, test_table_shape);
    tcase_add_test(tc, test_arg_helpers);
    tcase_add_test(tc, test_json_getters);
    tcase_add_test(tc, test_json_messages);
    suite_add_tcase(s, tc);

    tcase_add_test(split_tc, test_split_basic);
    tcase_add_test(split_tc, test_split_errors);
    tcase_add_test(split_tc, test_split_nesting);
    tcase_add_test(split_tc, test_split_stop);
    suite_add_tcase(s, split_tc);

    tcase_add_checked_fixture(mon, monitor_setup, monitor_teardown);
    tcase_set_timeout(mon, 30);
    tcase_add_test(mon, test_monitor_session);
    tcase_add_test(mon, test_monitor_too_large);
    tcase_add_test(mon, test_monitor_events);
    tcase_add_test(mon, test_monitor_drop);
    tcase_add_test(mon, test_monitor_event_flood);
    tcase_add_test(mon, test_monitor_max_clients);
    tcase_add_test(mon, test_monitor_specs);
    suite_add_tcase(s, mon);
    return s;
}

int main(void)
{
    shutdown_set_handler(fake_shutdown_request);
    return check_run(qmp_suite());
}
