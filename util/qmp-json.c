/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * util/qmp-json.c - typed access to outside JSON (contract in
 * include/util/qmp-json.h).
 *
 * Everything funnels through qmp_json_member(), which looks at the node's
 * own type before any json-glib getter runs: those getters are only ever
 * called here on a node already known to hold that type.
 */
#include <string.h>

#include "util/qmp-json.h"
#include "util/error.h"

const char *qmp_json_type_name(QmpJsonType t)
{
    switch (t) {
    case QMP_JSON_STRING:
        return "string";
    case QMP_JSON_INT:
        return "integer";
    case QMP_JSON_NUMBER:
        return "number";
    case QMP_JSON_BOOL:
        return "boolean";
    case QMP_JSON_OBJECT:
        return "object";
    case QMP_JSON_ARRAY:
        return "array";
    }
    return "?";
}

const char *qmp_json_node_type_name(JsonNode *n)
{
    if (!n) {
        return "absent";
    }
    switch (json_node_get_node_type(n)) {
    case JSON_NODE_OBJECT:
        return "object";
    case JSON_NODE_ARRAY:
        return "array";
    case JSON_NODE_NULL:
        return "null";
    case JSON_NODE_VALUE:
        break;
    }
    switch (json_node_get_value_type(n)) {
    case G_TYPE_STRING:
        return "string";
    case G_TYPE_INT64:
        return "integer";
    case G_TYPE_DOUBLE:
        return "number";
    case G_TYPE_BOOLEAN:
        return "boolean";
    }
    return "value";
}

static gboolean node_has_type(JsonNode *n, QmpJsonType want)
{
    GType vt;

    switch (want) {
    case QMP_JSON_OBJECT:
        return JSON_NODE_HOLDS_OBJECT(n);
    case QMP_JSON_ARRAY:
        return JSON_NODE_HOLDS_ARRAY(n);
    default:
        break;
    }
    if (!JSON_NODE_HOLDS_VALUE(n)) {
        return FALSE;
    }
    vt = json_node_get_value_type(n);
    switch (want) {
    case QMP_JSON_STRING:
        return vt == G_TYPE_STRING;
    case QMP_JSON_INT:
        return vt == G_TYPE_INT64;
    case QMP_JSON_NUMBER:
        return vt == G_TYPE_INT64 || vt == G_TYPE_DOUBLE;
    case QMP_JSON_BOOL:
        return vt == G_TYPE_BOOLEAN;
    default:
        return FALSE;
    }
}

QmpJsonLookup qmp_json_member(JsonObject *o, const char *name,
                              QmpJsonType want, JsonNode **node)
{
    JsonNode *n = o ? json_object_get_member(o, name) : NULL;

    *node = n;
    if (!n) {
        return QMP_JSON_ABSENT;
    }
    return node_has_type(n, want) ? QMP_JSON_OK : QMP_JSON_WRONG_TYPE;
}

gboolean qmp_json_get(JsonObject *o, const char *name, gboolean required,
                      QmpJsonType want, QmpJsonWording wording, void *out,
                      GError **errp)
{
    JsonNode *n;

    switch (qmp_json_member(o, name, want, &n)) {
    case QMP_JSON_OK:
        break;
    case QMP_JSON_ABSENT:
        if (!required) {
            return TRUE;
        }
        if (wording == QMP_JSON_PARAMETER) {
            error_setg(errp, "Parameter '%s' is missing", name);
        } else {
            error_setg(errp, "member '%s' is missing", name);
        }
        return FALSE;
    case QMP_JSON_WRONG_TYPE:
    default:
        if (wording == QMP_JSON_PARAMETER) {
            error_setg(errp, "Invalid parameter type for '%s', expected: %s",
                       name, qmp_json_type_name(want));
        } else {
            error_setg(errp, "member '%s' is of type %s, expected %s", name,
                       qmp_json_node_type_name(n), qmp_json_type_name(want));
        }
        return FALSE;
    }
    switch (want) {
    case QMP_JSON_STRING:
        *(const char **) out = json_node_get_string(n);
        break;
    case QMP_JSON_INT:
        *(gint64 *) out = json_node_get_int(n);
        break;
    case QMP_JSON_NUMBER:
        *(double *) out = json_node_get_double(n);
        break;
    case QMP_JSON_BOOL:
        *(gboolean *) out = json_node_get_boolean(n);
        break;
    case QMP_JSON_OBJECT:
        *(JsonObject **) out = json_node_get_object(n);
        break;
    case QMP_JSON_ARRAY:
        *(JsonArray **) out = json_node_get_array(n);
        break;
    }
    return TRUE;
}

gboolean qmp_json_str(JsonObject *o, const char *name, gboolean required,
                      const char **out, GError **errp)
{
    return qmp_json_get(o, name, required, QMP_JSON_STRING, QMP_JSON_MEMBER,
                        out, errp);
}

gboolean qmp_json_int(JsonObject *o, const char *name, gboolean required,
                      gint64 *out, GError **errp)
{
    return qmp_json_get(o, name, required, QMP_JSON_INT, QMP_JSON_MEMBER,
                        out, errp);
}

gboolean qmp_json_bool(JsonObject *o, const char *name, gboolean required,
                       gboolean *out, GError **errp)
{
    return qmp_json_get(o, name, required, QMP_JSON_BOOL, QMP_JSON_MEMBER,
                        out, errp);
}

gboolean qmp_json_object(JsonObject *o, const char *name, gboolean required,
                         JsonObject **out, GError **errp)
{
    return qmp_json_get(o, name, required, QMP_JSON_OBJECT, QMP_JSON_MEMBER,
                        out, errp);
}

gboolean qmp_json_array(JsonObject *o, const char *name, gboolean required,
                        JsonArray **out, GError **errp)
{
    return qmp_json_get(o, name, required, QMP_JSON_ARRAY, QMP_JSON_MEMBER,
                        out, errp);
}

const char *qmp_json_str_or(JsonObject *o, const char *name, const char *def)
{
    JsonNode *n;

    return qmp_json_member(o, name, QMP_JSON_STRING, &n) == QMP_JSON_OK
           ? json_node_get_string(n) : def;
}

gboolean qmp_message_parse(JsonObject *msg, QmpMessage *out, GError **errp)
{
    JsonNode *n;
    JsonObject *err = NULL;
    GError *local = NULL;

    memset(out, 0, sizeof(*out));
    if (!msg) {
        error_setg(errp, "QMP message is not an object");
        return FALSE;
    }
    /* "error" first: whatever else the message holds, a reply that says
     * error must never be read as success */
    if (json_object_has_member(msg, "error")) {
        out->kind = QMP_MSG_ERROR;
        out->err_class = "GenericError";
        out->err_desc = "malformed QMP error reply";
        if (!qmp_json_object(msg, "error", TRUE, &err, &local) ||
            !qmp_json_str(err, "class", TRUE, &out->err_class, &local) ||
            !qmp_json_str(err, "desc", TRUE, &out->err_desc, &local)) {
            /* a member that failed left its default in place */
            if (!out->err_class) {
                out->err_class = "GenericError";
            }
            if (!out->err_desc) {
                out->err_desc = "malformed QMP error reply";
            }
            error_setg(errp, "malformed QMP error reply: %s",
                       local->message);
            g_error_free(local);
            return FALSE;
        }
        return TRUE;
    }
    if (json_object_has_member(msg, "return")) {
        out->kind = QMP_MSG_RETURN;
        out->ret = json_object_get_member(msg, "return");
        if (JSON_NODE_HOLDS_OBJECT(out->ret)) {
            out->ret_obj = json_node_get_object(out->ret);
        }
        return TRUE;
    }
    if (json_object_has_member(msg, "event")) {
        if (!qmp_json_str(msg, "event", TRUE, &out->event, &local) ||
            !qmp_json_object(msg, "data", FALSE, &out->data, &local)) {
            out->event = NULL;
            out->data = NULL;
            error_setg(errp, "malformed QMP event: %s", local->message);
            g_error_free(local);
            return FALSE;
        }
        out->kind = QMP_MSG_EVENT;
        return TRUE;
    }
    if (json_object_has_member(msg, "QMP")) {
        if (qmp_json_member(msg, "QMP", QMP_JSON_OBJECT, &n) != QMP_JSON_OK) {
            error_setg(errp, "malformed QMP greeting: 'QMP' is %s",
                       qmp_json_node_type_name(n));
            return FALSE;
        }
        out->kind = QMP_MSG_GREETING;
        return TRUE;
    }
    error_setg(errp, "not a QMP message (no 'return', 'error', 'event' or "
               "'QMP' member)");
    return FALSE;
}
