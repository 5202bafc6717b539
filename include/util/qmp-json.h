/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * include/util/qmp-json.h - typed access to JSON that came from
 * outside: QMP requests the monitor receives, QMP replies and events a
 * QMP client (the qemu checkpoint driver) receives.
 *
 * json-glib's member getters trust the caller about the type: the string
 * getter returns NULL (not the default) for a number, the object getter
 * returns NULL for a string, the integer getter returns 0 for a string --
 * each with at most a g_critical.  Outside input decides those types, so
 * every value from outside goes through one check here before it is used:
 *
 *   qmp_json_member()   the primitive: present?  of the wanted type?
 *   qmp_json_str/int/bool/object/array()
 *                       checked getters with a clear error ("member
 *                       'status' is of type integer, expected string");
 *   qmp_json_str_or()   for optional members whose wrong type is no
 *                       error worth reporting: the value or 'def';
 *   qmp_message_parse() a QMP message a client received, classified
 *                       (greeting, event, return, error) with each part
 *                       type-checked.
 *
 * The handlers' qmp_arg_*() (include/util/qmp-handler.h) are built on
 * qmp_json_member() and keep QMP's own error texts.  A NULL object is an
 * object without members.  Strings and containers returned are borrowed
 * from the object.  Pure functions, any thread.
 */
#ifndef UTIL_QMP_JSON_H
#define UTIL_QMP_JSON_H

#include <json-glib/json-glib.h>

typedef enum QmpJsonType {
    QMP_JSON_STRING,
    QMP_JSON_INT,        /* a JSON integer (json-glib: gint64) */
    QMP_JSON_NUMBER,     /* integer or floating */
    QMP_JSON_BOOL,
    QMP_JSON_OBJECT,
    QMP_JSON_ARRAY,
} QmpJsonType;

typedef enum QmpJsonLookup {
    QMP_JSON_OK,
    QMP_JSON_ABSENT,
    QMP_JSON_WRONG_TYPE,
} QmpJsonLookup;

/* "string", "integer", "number", "boolean", "object", "array". */
const char *qmp_json_type_name(QmpJsonType t);
/* What 'n' is, in the same words ("null" too; "absent" for NULL). */
const char *qmp_json_node_type_name(JsonNode *n);

/* Member 'name' of 'o': QMP_JSON_OK with *node set when it is there with
 * type 'want'; otherwise *node is the member found (or NULL). */
QmpJsonLookup qmp_json_member(JsonObject *o, const char *name,
                              QmpJsonType want, JsonNode **node);

/* Whose words an error uses: a reply or event parsed ("member 'NAME' is
 * missing") or QMP's own, for arguments a client sent ("Parameter 'NAME'
 * is missing", "Invalid parameter type for 'NAME', expected: TYPE"). */
typedef enum QmpJsonWording {
    QMP_JSON_MEMBER,
    QMP_JSON_PARAMETER,
} QmpJsonWording;

/* The one checked getter, the others are it with a fixed type: 'out'
 * points at the C type of 'want' (const char *, gint64, double, gboolean,
 * JsonObject *, JsonArray *).  TRUE and *out set when the member is there
 * with the type; TRUE and *out untouched when absent and not 'required';
 * FALSE with errp set otherwise. */
gboolean qmp_json_get(JsonObject *o, const char *name, gboolean required,
                      QmpJsonType want, QmpJsonWording wording, void *out,
                      GError **errp);

/* Checked getters: TRUE and *out set when the member is there with the
 * type; TRUE and *out untouched when it is absent and not 'required';
 * FALSE with errp set ("member 'NAME' is missing", "member 'NAME' is of
 * type TYPE, expected WANT") otherwise. */
gboolean qmp_json_str(JsonObject *o, const char *name, gboolean required,
                      const char **out, GError **errp);
gboolean qmp_json_int(JsonObject *o, const char *name, gboolean required,
                      gint64 *out, GError **errp);
gboolean qmp_json_bool(JsonObject *o, const char *name, gboolean required,
                       gboolean *out, GError **errp);
gboolean qmp_json_object(JsonObject *o, const char *name, gboolean required,
                         JsonObject **out, GError **errp);
gboolean qmp_json_array(JsonObject *o, const char *name, gboolean required,
                        JsonArray **out, GError **errp);

/* The string member 'name', or 'def' when absent or not a string. */
const char *qmp_json_str_or(JsonObject *o, const char *name,
                            const char *def);

/* A QMP message received by a client, its parts type-checked. */
typedef enum QmpMessageKind {
    QMP_MSG_INVALID,     /* none of the below, or ill-typed */
    QMP_MSG_GREETING,    /* {"QMP": {...}} */
    QMP_MSG_EVENT,       /* {"event": "NAME", "data": {...}?, ...} */
    QMP_MSG_RETURN,      /* {"return": ANY, "id"?: ANY} */
    QMP_MSG_ERROR,       /* {"error": {"class": STR, "desc": STR}, ...} */
} QmpMessageKind;

typedef struct QmpMessage {
    QmpMessageKind kind;
    const char *event;   /* EVENT: its name */
    JsonObject *data;    /* EVENT: "data" (NULL when absent) */
    JsonNode *ret;       /* RETURN: the value (any type) */
    JsonObject *ret_obj; /* RETURN: the value if it is an object, or NULL */
    const char *err_class; /* ERROR: both always set, even when the */
    const char *err_desc;  /* message was ill-typed (then FALSE) */
} QmpMessage;

/*
 * Classifies 'msg'.  Returns TRUE when it is a well-typed QMP message.
 * FALSE with errp set when it is not; out->kind is still the best guess
 * so that a client keeps its command/reply matching in step: a message
 * with an "error" member is QMP_MSG_ERROR whatever its shape (with
 * err_class "GenericError" and err_desc saying the reply was malformed
 * where they were not strings) -- never a success -- and one with a
 * "return" member is QMP_MSG_RETURN; an ill-typed event or greeting is
 * QMP_MSG_INVALID.
 */
gboolean qmp_message_parse(JsonObject *msg, QmpMessage *out, GError **errp);

#endif /* UTIL_QMP_JSON_H */
