/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * monitor/qmp-internal.h - what the three monitor files share.
 *
 * qmp.c (sockets, the JSON splitter, sessions, events) calls into
 * qmp-dispatch.c (request checking, argument checking against the
 * generated schema tables, reply building) and qmp-cmds.c (the control
 * commands and the version object of the greeting).  Unit tests include
 * this header to test the splitter and the session rules directly.
 * Everything here runs in the main context unless said otherwise.
 */
#ifndef MONITOR_QMP_INTERNAL_H
#define MONITOR_QMP_INTERNAL_H

#include <json-glib/json-glib.h>
#include "monitor/qmp.h"

#define QMP_MAX_NESTING   1024         /* [ and { open at once */
#define QMP_MAX_OUTPUT    (16u << 20)  /* bytes queued to one client */
#define QMP_OUTPUT_PAUSE  (1u << 20)   /* stop reading requests above */
#define QMP_MAX_CLIENTS   64           /* connections per listening monitor */

/*
 * The argument layouts of the schema, generated into qapi-commands.c by
 * scripts/qapi-gen.py; qmp_check_*() in qmp-dispatch.c walks them.
 */
typedef enum QmpKind {
    QMP_KIND_ANY,         /* any JSON value ('any', alternates) */
    QMP_KIND_NULL,
    QMP_KIND_STR,
    QMP_KIND_BOOL,
    QMP_KIND_NUMBER,      /* integer or floating */
    QMP_KIND_INT,         /* integer within [min, max] */
    QMP_KIND_ENUM,        /* string, one of 'values' */
    QMP_KIND_OBJECT,      /* object laid out as 'object' */
} QmpKind;

typedef struct QmpTypeInfo QmpTypeInfo;

typedef struct QmpMemberInfo {
    const char *name;            /* member name */
    const char *type;            /* schema type name, for messages */
    QmpKind kind;                /* JSON shape of one element */
    gboolean optional;           /* may be absent */
    gboolean list;               /* a JSON array of 'kind' */
    gint64 min, max;             /* QMP_KIND_INT range */
    const char *const *values;   /* QMP_KIND_ENUM: NULL-terminated */
    const QmpTypeInfo *object;   /* QMP_KIND_OBJECT layout */
} QmpMemberInfo;

typedef struct QmpVariantInfo {
    const char *value;           /* discriminator value */
    const QmpTypeInfo *type;     /* members added for that value */
} QmpVariantInfo;

struct QmpTypeInfo {
    const char *name;                  /* schema type name */
    const QmpMemberInfo *members;      /* including inherited ones */
    guint n_members;
    const char *discriminator;         /* union tag member, or NULL */
    const QmpVariantInfo *variants;    /* union branches */
    guint n_variants;
};

typedef struct QmpCommandInfo {
    const char *name;                  /* command name, as qmp_commands[] */
    const QmpTypeInfo *args;           /* never NULL */
    gboolean open_args;                /* extra members are allowed */
    gboolean allow_oob;                /* may run with exec-oob */
    gboolean success_response;         /* FALSE: no reply on success */
} QmpCommandInfo;

/* Parallel to qmp_commands[], terminated by { NULL }. */
extern const QmpCommandInfo qmp_command_info[];
/* The introspection list (qapi-introspect.json) as compact JSON text. */
extern const char qmp_schema_json[];

/* The negotiation state of one connection. */
typedef struct QmpSession {
    gboolean negotiated;       /* qmp_capabilities has succeeded */
    gboolean oob;              /* the 'oob' capability was enabled */
} QmpSession;

/* Runs 'request' in 'session' and returns the reply (new reference), with
 * the request's "id" copied into it.  A successful qmp_capabilities
 * updates 'session'.  Main context. */
JsonObject *qmp_dispatch_session(QmpSession *session, JsonObject *request);

/* Parses one complete JSON text of 'len' bytes (as cut by the splitter)
 * and dispatches it.  Returns the reply (new reference): a parse error
 * gives GenericError "JSON parse error, ...", a value that is not an
 * object "QMP input must be a JSON object". */
JsonObject *qmp_handle_text(QmpSession *session, const char *text, gsize len);

/* Returns a new {"error": {"class": CLS, "desc": DESC}} object. */
JsonObject *qmp_error_reply(const char *cls, const char *desc);

/* Serialises 'obj' (borrowed) compactly, without a line end (new string). */
char *qmp_to_text(JsonObject *obj);

/* Returns the version object of query-version and the greeting:
 * {"qemu": {"major", "minor", "micro"}, "package": "colo-proxy X.Y.Z"}
 * (new node). */
JsonNode *qmp_version_info(void);

/*
 * The splitter cuts a byte stream into JSON texts without parsing them: it
 * tracks string, escape and bracket state, so several requests in one read
 * and one request split over several reads both work.  A text longer than
 * 'max' bytes, or nested deeper than QMP_MAX_NESTING, is reported as an
 * error as soon as it is seen and the rest of that value is skipped (the
 * stream resynchronises at the bracket that closes it).  A stray closing
 * bracket at the top level, or one that does not match, is an error that
 * drops the current value.  Bare top-level scalars are cut at white space.
 */
typedef struct QmpSplitter {
    GString *buf;              /* bytes of the value being collected */
    gsize max;                 /* longest value accepted */
    guint depth;               /* brackets open */
    gboolean in_string;        /* inside "..." */
    gboolean escape;           /* after a backslash in a string */
    gboolean scalar;           /* collecting a bare top-level token */
    gboolean skipping;         /* discarding a value that was too large */
    guint8 stack[QMP_MAX_NESTING]; /* '{' or '[' per open level */
} QmpSplitter;

/* Called for each complete text ('error' NULL) or each error ('text'
 * NULL, 'error' the reply's desc).  Return FALSE to stop feeding. */
typedef gboolean (*QmpSplitFn)(void *opaque, const char *text, gsize len,
                               const char *error);

void qmp_splitter_init(QmpSplitter *s, gsize max);
void qmp_splitter_destroy(QmpSplitter *s);
/* Feeds 'len' bytes of 'data'; returns how many were consumed (all of
 * them unless 'fn' returned FALSE, in which case the bytes after the
 * value or error that stopped it are left for the next call). */
gsize qmp_splitter_feed(QmpSplitter *s, const char *data, gsize len,
                        QmpSplitFn fn, void *opaque);

#endif /* MONITOR_QMP_INTERNAL_H */
