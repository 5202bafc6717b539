/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * monitor/qmp-dispatch.c - from a parsed QMP request to its reply.
 *
 * qmp_dispatch_session() checks the request's shape the way QEMU's
 * qmp_dispatch() does ("execute", "arguments", "id", nothing else), applies
 * the negotiation rule (before qmp_capabilities only commands marked
 * 'allow-preconfig' run), checks the arguments against the schema tables
 * that scripts/qapi-gen.py generated into qapi-commands.c, runs the
 * handler and wraps its result or GError into {"return": ...} or
 * {"error": {"class", "desc"}}, echoing "id" verbatim.  Because arguments
 * are checked here, every handler (qom/qom-qmp.c, chardev/char-qmp.c,
 * net/net-qmp.c, colo/colo-qmp.c, monitor/qmp-cmds.c) gets the same
 * "Parameter 'X' is missing / is unexpected / Invalid parameter type"
 * errors without writing them.  The qmp_arg_*() helpers for handlers
 * are below the monitor, in util/qmp-handler.c.
 *
 * qmp.c feeds this from the sockets; tests/unit/test-qmp-dispatch.c calls
 * it directly.  Everything runs in the main context.
 */
#include <string.h>

#include "monitor/qmp-internal.h"
#include "util/qmp-json.h"
#include "util/error.h"

#define QMP_ERR_CLASS_GENERIC   "GenericError"
#define QMP_ERR_CLASS_NOT_FOUND "CommandNotFound"

static gboolean qmp_check_object(const QmpTypeInfo *t, JsonObject *obj,
                                 const char *path, gboolean open,
                                 GError **errp);

JsonObject *qmp_dispatch(JsonObject *request, gboolean negotiated)
{
    QmpSession session = { .negotiated = negotiated };

    return qmp_dispatch_session(&session, request);
}

JsonObject *qmp_error_reply(const char *cls, const char *desc)
{
    JsonObject *reply = json_object_new();
    JsonObject *err = json_object_new();

    json_object_set_string_member(err, "class", cls);
    json_object_set_string_member(err, "desc", desc);
    json_object_set_object_member(reply, "error", err);
    return reply;
}

/* QEMU's JSON text: ", " between members, ": " after names, non-ASCII
 * and control characters as \uXXXX (surrogate pairs above U+FFFF). */
static void qmp_write_string(GString *out, const char *s)
{
    g_string_append_c(out, '"');
    while (*s) {
        gunichar c = g_utf8_get_char_validated(s, -1);

        if (c == (gunichar)-1 || c == (gunichar)-2) {
            c = 0xFFFD;            /* invalid UTF-8: one byte replaced */
            s++;
        } else {
            s = g_utf8_next_char(s);
        }
        switch (c) {
        case '"':
            g_string_append(out, "\\\"");
            break;
        case '\\':
            g_string_append(out, "\\\\");
            break;
        case '\b':
            g_string_append(out, "\\b");
            break;
        case '\f':
            g_string_append(out, "\\f");
            break;
        case '\n':
            g_string_append(out, "\\n");
            break;
        case '\r':
            g_string_append(out, "\\r");
            break;
        case '\t':
            g_string_append(out, "\\t");
            break;
        default:
            if (c >= 0x20 && c < 0x7F) {
                g_string_append_c(out, c);
            } else if (c > 0xFFFF) {
                c -= 0x10000;
                g_string_append_printf(out, "\\u%04X\\u%04X",
                                       0xD800 | (c >> 10),
                                       0xDC00 | (c & 0x3FF));
            } else {
                g_string_append_printf(out, "\\u%04X", c);
            }
            break;
        }
    }
    g_string_append_c(out, '"');
}

static void qmp_write_node(GString *out, JsonNode *n)
{
    switch (JSON_NODE_TYPE(n)) {
    case JSON_NODE_OBJECT: {
        JsonObject *o = json_node_get_object(n);
        g_autoptr(GList) keys = json_object_get_members(o);

        g_string_append_c(out, '{');
        for (GList *l = keys; l; l = l->next) {
            if (l != keys) {
                g_string_append(out, ", ");
            }
            qmp_write_string(out, l->data);
            g_string_append(out, ": ");
            qmp_write_node(out, json_object_get_member(o, l->data));
        }
        g_string_append_c(out, '}');
        break;
    }
    case JSON_NODE_ARRAY: {
        JsonArray *a = json_node_get_array(n);

        g_string_append_c(out, '[');
        for (guint i = 0; i < json_array_get_length(a); i++) {
            if (i) {
                g_string_append(out, ", ");
            }
            qmp_write_node(out, json_array_get_element(a, i));
        }
        g_string_append_c(out, ']');
        break;
    }
    case JSON_NODE_NULL:
        g_string_append(out, "null");
        break;
    case JSON_NODE_VALUE:
        switch (json_node_get_value_type(n)) {
        case G_TYPE_INT64:
            g_string_append_printf(out, "%" G_GINT64_FORMAT,
                                   json_node_get_int(n));
            break;
        case G_TYPE_DOUBLE: {
            char buf[G_ASCII_DTOSTR_BUF_SIZE];

            g_string_append(out, g_ascii_formatd(buf, sizeof(buf), "%.17g",
                                                 json_node_get_double(n)));
            break;
        }
        case G_TYPE_BOOLEAN:
            g_string_append(out, json_node_get_boolean(n) ? "true"
                                                          : "false");
            break;
        case G_TYPE_STRING:
            qmp_write_string(out, json_node_get_string(n));
            break;
        default:
            g_string_append(out, "null");
            break;
        }
        break;
    }
}

char *qmp_to_text(JsonObject *obj)
{
    g_autoptr(JsonNode) root = json_node_new(JSON_NODE_OBJECT);
    GString *out = g_string_sized_new(128);

    json_node_set_object(root, obj);
    qmp_write_node(out, root);
    return g_string_free(out, FALSE);
}

JsonObject *qmp_handle_text(QmpSession *session, const char *text, gsize len)
{
    g_autoptr(JsonParser) parser = json_parser_new_immutable();
    g_autoptr(GError) err = NULL;
    g_autofree char *desc = NULL;
    JsonNode *root;

    if (!json_parser_load_from_data(parser, text, len, &err)) {
        /* json-glib says "<data>:1:16: Parse error: unexpected ...": the
         * position is within the value, not the stream, so drop it. */
        const char *why = strstr(err->message, "Parse error: ");

        desc = g_strdup_printf("JSON parse error, %s",
                               why ? why + strlen("Parse error: ")
                                   : err->message);
        return qmp_error_reply(QMP_ERR_CLASS_GENERIC, desc);
    }
    root = json_parser_get_root(parser);
    if (!root || !JSON_NODE_HOLDS_OBJECT(root)) {
        return qmp_error_reply(QMP_ERR_CLASS_GENERIC,
                               "QMP input must be a JSON object");
    }
    return qmp_dispatch_session(session, json_node_get_object(root));
}

/* ------------------------------------------------------------------------
 * Request checking and running
 */

/* Returns the index of command 'name' in qmp_commands[], or -1. */
static int qmp_find_command(const char *name)
{
    for (int i = 0; qmp_commands[i].name; i++) {
        if (strcmp(qmp_commands[i].name, name) == 0) {
            return i;
        }
    }
    return -1;
}

/* Adds the request's "id" (if any) to 'reply' and returns the reply
 * (taking 'reply').  The member order is QEMU's: {"return": R, "id": I}
 * but {"id": I, "error": E}. */
static JsonObject *qmp_add_id(JsonObject *reply, JsonObject *request)
{
    JsonNode *id = json_object_get_member(request, "id");
    JsonObject *err_first;

    if (!id) {
        return reply;
    }
    if (!json_object_has_member(reply, "error")) {
        json_object_set_member(reply, "id", json_node_copy(id));
        return reply;
    }
    err_first = json_object_new();
    json_object_set_member(err_first, "id", json_node_copy(id));
    json_object_set_member(err_first, "error",
                           json_node_copy(json_object_get_member(reply,
                                                                 "error")));
    json_object_unref(reply);
    return err_first;
}

/* True if the list node 'enable' holds the string "oob". */
static gboolean qmp_wants_oob(JsonObject *args)
{
    JsonNode *n = json_object_get_member(args, "enable");
    JsonArray *a;

    if (!n || !JSON_NODE_HOLDS_ARRAY(n)) {
        return FALSE;
    }
    a = json_node_get_array(n);
    for (guint i = 0; i < json_array_get_length(a); i++) {
        const char *s = json_array_get_string_element(a, i);

        if (s && strcmp(s, "oob") == 0) {
            return TRUE;
        }
    }
    return FALSE;
}

/* Checks the request envelope.  Returns the command name (borrowed) or
 * NULL with errp set; '*oob' tells whether it came as "exec-oob". */
static const char *qmp_check_envelope(QmpSession *session, JsonObject *req,
                                      gboolean *oob, GError **errp)
{
    g_autoptr(GList) members = json_object_get_members(req);
    const char *name = NULL;

    *oob = FALSE;
    for (GList *l = members; l; l = l->next) {
        const char *key = l->data;
        JsonNode *n = json_object_get_member(req, key);

        if (strcmp(key, "execute") == 0 ||
            (strcmp(key, "exec-oob") == 0 && session->oob)) {
            if (!JSON_NODE_HOLDS_VALUE(n) ||
                json_node_get_value_type(n) != G_TYPE_STRING) {
                error_setg(errp, "QMP input member '%s' must be a string",
                           key);
                return NULL;
            }
            if (name) {
                error_setg(errp, "QMP input member '%s' clashes with '%s'",
                           key, *oob ? "exec-oob" : "execute");
                return NULL;
            }
            name = json_node_get_string(n);
            *oob = key[4] == '-';
        } else if (strcmp(key, "arguments") == 0) {
            if (!JSON_NODE_HOLDS_OBJECT(n)) {
                error_setg(errp, "QMP input member 'arguments' must be an "
                           "object");
                return NULL;
            }
        } else if (strcmp(key, "id") != 0) {
            error_setg(errp, "QMP input member '%s' is unexpected", key);
            return NULL;
        }
    }
    if (!name) {
        error_setg(errp, "QMP input lacks member 'execute'");
        return NULL;
    }
    return name;
}

/* Runs command 'idx' and returns the reply (without "id"). */
static JsonObject *qmp_run(QmpSession *session, int idx, JsonObject *args)
{
    const QmpCommand *cmd = &qmp_commands[idx];
    g_autoptr(GError) err = NULL;
    JsonNode *ret = NULL;
    JsonObject *reply;

    if (!cmd->fn(args, &ret, &err)) {
        if (ret) {
            json_node_unref(ret);
        }
        if (!err) {
            g_critical("QMP command %s failed without an error", cmd->name);
            return qmp_error_reply(QMP_ERR_CLASS_GENERIC,
                                   "The command failed");
        }
        return qmp_error_reply(util_error_class(err), err->message);
    }
    if (err) {
        g_critical("QMP command %s succeeded but set an error: %s",
                   cmd->name, err->message);
    }
    if (strcmp(cmd->name, "qmp_capabilities") == 0) {
        session->negotiated = TRUE;
        session->oob = qmp_wants_oob(args);
    }
    reply = json_object_new();
    if (!ret) {
        g_autoptr(JsonObject) empty = json_object_new();

        /* json_node_init_object() takes its own reference. */
        ret = json_node_init_object(json_node_alloc(), empty);
    }
    json_object_set_member(reply, "return", ret);
    return reply;
}

JsonObject *qmp_dispatch_session(QmpSession *session, JsonObject *request)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(JsonObject) empty = NULL;
    g_autofree char *desc = NULL;
    const QmpCommandInfo *info;
    JsonObject *args;
    const char *name;
    gboolean oob;
    int idx;

    name = qmp_check_envelope(session, request, &oob, &err);
    if (!name) {
        return qmp_add_id(qmp_error_reply(QMP_ERR_CLASS_GENERIC,
                                          err->message), request);
    }
    idx = qmp_find_command(name);
    if (!session->negotiated &&
        (idx < 0 || strcmp(name, "qmp_capabilities") != 0)) {
        /* Before negotiation only qmp_capabilities runs, as in QEMU
         * (allow-preconfig is about QEMU's preconfig state, not this). */
        return qmp_add_id(qmp_error_reply(QMP_ERR_CLASS_NOT_FOUND,
                          "Expecting capabilities negotiation with "
                          "'qmp_capabilities'"), request);
    }
    if (idx < 0) {
        desc = g_strdup_printf("The command %s has not been found", name);
        return qmp_add_id(qmp_error_reply(QMP_ERR_CLASS_NOT_FOUND, desc),
                          request);
    }
    info = &qmp_command_info[idx];
    if (oob && !info->allow_oob) {
        desc = g_strdup_printf("The command %s does not support OOB", name);
        return qmp_add_id(qmp_error_reply(QMP_ERR_CLASS_GENERIC, desc),
                          request);
    }
    if (json_object_has_member(request, "arguments")) {
        /* the envelope check above made sure it is an object */
        if (!qmp_json_object(request, "arguments", TRUE, &args, &err)) {
            return qmp_add_id(qmp_error_reply(QMP_ERR_CLASS_GENERIC,
                                              err->message), request);
        }
    } else {
        empty = json_object_new();
        args = empty;
    }
    if (!qmp_check_object(info->args, args, NULL, info->open_args, &err)) {
        return qmp_add_id(qmp_error_reply(util_error_class(err),
                                          err->message), request);
    }
    if (session->negotiated && strcmp(name, "qmp_capabilities") == 0) {
        /* As QEMU: its arguments are checked first, like any command's. */
        return qmp_add_id(qmp_error_reply(QMP_ERR_CLASS_NOT_FOUND,
                          "Capabilities negotiation is already complete, "
                          "command ignored"), request);
    }
    return qmp_add_id(qmp_run(session, idx, args), request);
}

/* ------------------------------------------------------------------------
 * Argument checking against the generated layouts
 *
 * The order follows QEMU's input visitor: members in schema order (first
 * missing or mistyped one wins), then the first unexpected member.  Nested
 * members are named by path: "backend.data.addr", "enable[1]".
 */

static char *qmp_path(const char *path, const char *name)
{
    return path ? g_strdup_printf("%s.%s", path, name) : g_strdup(name);
}

/* The C type QEMU names in "Parameter 'X' expects T". */
static const char *qmp_int_type(const char *type)
{
    if (strcmp(type, "int") == 0) {
        return "int64_t";
    }
    if (strcmp(type, "size") == 0) {
        return "uint64_t";
    }
    return NULL;
}

static gboolean qmp_type_error(const char *path, const char *expected,
                               GError **errp)
{
    error_setg(errp, "Invalid parameter type for '%s', expected: %s",
               path, expected);
    return FALSE;
}

/* Checks one element 'n' against member 'm' (ignoring m->list). */
static gboolean qmp_check_element(const QmpMemberInfo *m, JsonNode *n,
                                  const char *path, GError **errp)
{
    GType vt = JSON_NODE_HOLDS_VALUE(n) ? json_node_get_value_type(n)
                                        : G_TYPE_INVALID;

    switch (m->kind) {
    case QMP_KIND_ANY:
        return TRUE;
    case QMP_KIND_NULL:
        return JSON_NODE_HOLDS_NULL(n) ? TRUE
                                       : qmp_type_error(path, "null", errp);
    case QMP_KIND_STR:
        return vt == G_TYPE_STRING ? TRUE
                                   : qmp_type_error(path, "string", errp);
    case QMP_KIND_BOOL:
        return vt == G_TYPE_BOOLEAN ? TRUE
                                    : qmp_type_error(path, "boolean", errp);
    case QMP_KIND_NUMBER:
        return vt == G_TYPE_INT64 || vt == G_TYPE_DOUBLE
               ? TRUE : qmp_type_error(path, "number", errp);
    case QMP_KIND_INT: {
        gint64 v;

        if (vt != G_TYPE_INT64) {
            return qmp_type_error(path, "integer", errp);
        }
        v = json_node_get_int(n);
        if (v < m->min || v > m->max) {
            const char *ctype = qmp_int_type(m->type);
            g_autofree char *t = ctype ? NULL
                                       : g_strdup_printf("%s_t", m->type);

            error_setg(errp, "Parameter '%s' expects %s", path,
                       ctype ? ctype : t);
            return FALSE;
        }
        return TRUE;
    }
    case QMP_KIND_ENUM: {
        const char *s;

        if (vt != G_TYPE_STRING) {
            return qmp_type_error(path, "string", errp);
        }
        s = json_node_get_string(n);
        for (int i = 0; m->values[i]; i++) {
            if (strcmp(m->values[i], s) == 0) {
                return TRUE;
            }
        }
        {
            /* QEMU's text, then the values the schema allows */
            g_autofree char *allowed = g_strjoinv(", ",
                                                  (char **)m->values);

            error_setg(errp, "Parameter '%s' does not accept value '%s' "
                       "(expected %s)", path, s, allowed);
        }
        return FALSE;
    }
    case QMP_KIND_OBJECT:
        if (!JSON_NODE_HOLDS_OBJECT(n)) {
            return qmp_type_error(path, "object", errp);
        }
        return qmp_check_object(m->object, json_node_get_object(n), path,
                                FALSE, errp);
    }
    return TRUE;
}

static gboolean qmp_check_member(const QmpMemberInfo *m, JsonNode *n,
                                 const char *path, GError **errp)
{
    JsonArray *a;

    if (!m->list) {
        return qmp_check_element(m, n, path, errp);
    }
    if (!JSON_NODE_HOLDS_ARRAY(n)) {
        return qmp_type_error(path, "array", errp);
    }
    a = json_node_get_array(n);
    for (guint i = 0; i < json_array_get_length(a); i++) {
        g_autofree char *p = g_strdup_printf("%s[%u]", path, i);

        if (!qmp_check_element(m, json_array_get_element(a, i), p, errp)) {
            return FALSE;
        }
    }
    return TRUE;
}

/* Checks the members of 'obj' listed in 't'; missing ones are an error
 * unless optional. */
static gboolean qmp_check_members(const QmpTypeInfo *t, JsonObject *obj,
                                  const char *path, GError **errp)
{
    for (guint i = 0; i < t->n_members; i++) {
        const QmpMemberInfo *m = &t->members[i];
        JsonNode *n = json_object_get_member(obj, m->name);
        g_autofree char *p = qmp_path(path, m->name);

        if (!n) {
            if (!m->optional) {
                error_setg(errp, "Parameter '%s' is missing", p);
                return FALSE;
            }
            continue;
        }
        if (!qmp_check_member(m, n, p, errp)) {
            return FALSE;
        }
    }
    return TRUE;
}

static gboolean qmp_type_has(const QmpTypeInfo *t, const char *name)
{
    for (guint i = 0; t && i < t->n_members; i++) {
        if (strcmp(t->members[i].name, name) == 0) {
            return TRUE;
        }
    }
    return FALSE;
}

static gboolean qmp_check_object(const QmpTypeInfo *t, JsonObject *obj,
                                 const char *path, gboolean open,
                                 GError **errp)
{
    const QmpTypeInfo *variant = NULL;
    g_autoptr(GList) keys = NULL;

    if (!qmp_check_members(t, obj, path, errp)) {
        return FALSE;
    }
    if (t->discriminator) {
        /* The tag is a required enum member: checked above. */
        const char *tag = qmp_json_str_or(obj, t->discriminator, "");

        for (guint i = 0; i < t->n_variants; i++) {
            if (strcmp(t->variants[i].value, tag) == 0) {
                variant = t->variants[i].type;
                break;
            }
        }
        if (variant && !qmp_check_members(variant, obj, path, errp)) {
            return FALSE;
        }
    }
    if (open) {
        return TRUE;
    }
    keys = json_object_get_members(obj);
    for (GList *l = keys; l; l = l->next) {
        if (!qmp_type_has(t, l->data) && !qmp_type_has(variant, l->data)) {
            g_autofree char *p = qmp_path(path, l->data);

            error_setg(errp, "Parameter '%s' is unexpected", p);
            return FALSE;
        }
    }
    return TRUE;
}
