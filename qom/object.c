/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * qom/object.c - user-creatable objects: type registry, object registry,
 * property parsing and the create / delete life cycle
 * (include/qom/object.h).
 *
 * Every -object, -netdev, -device and -chardev argument (system/main.c) and
 * every object-add / object-del / qom-set over QMP (qom/qom-qmp.c) ends up
 * here, so the command line and the monitor share one path from user text
 * to GObject properties:
 *
 *   text --keyval_parse()--> key -> string map --object_property_parse()-->
 *   GValue --check_property()--> g_object_set_property() --> complete()
 *
 * The modules that define types (qom/iothread.c, chardev/, net/, colo/)
 * register them from type_init() constructors; the registry is just four
 * name -> GType tables, one per ObjectKind (id namespace).
 *
 * Objects live in four id -> object tables plus one list in global creation
 * order, which user_object_delete_all() walks backwards at shutdown so that
 * users (filters, colo-compare) go before what they use (chardevs,
 * iothreads, netdevs).
 *
 * Help text lives in qom/help.c.
 *
 * Threads: main context only.  Nothing here is thread-safe.
 */
#include <string.h>

#include "qom/object.h"
#include "qom/props.h"
#include "qom/qom-private.h"
#include "util/error.h"
#include "util/keyval.h"

/* --- per-instance private state ---------------------------------------- */

typedef struct UserObjectPrivate {
    char *id;                 /* registry id, NULL until created */
    ObjectKind kind;          /* id namespace */
    char *type_name;          /* registered type name ("filter-mirror") */
    gboolean complete;        /* complete() succeeded */
    gboolean registered;      /* in the registry (owns one reference) */
    GHashTable *uses;         /* user id -> GUINT count, see ref_use */
    UserObject *owner;        /* see user_object_set_owner(); not a ref */
} UserObjectPrivate;

/*
 * Registered by hand rather than with G_DEFINE_TYPE_WITH_PRIVATE() for one
 * reason: GObject passes every instance init the class of the type being
 * created, and the macro's one-argument init cannot see it.  This one needs
 * it to give the fields of every property table (qom/props.c) their
 * defaults before any subclass's own init runs.
 */
static gpointer user_object_parent_class;
static gint UserObject_private_offset;

#define GET_PRIV(obj) \
    ((UserObjectPrivate *)G_STRUCT_MEMBER_P(obj, UserObject_private_offset))

static void user_object_class_init(UserObjectClass *klass);
static void user_object_init(GTypeInstance *inst, gpointer g_class);

static void user_object_class_intern_init(gpointer klass, gpointer data)
{
    user_object_parent_class = g_type_class_peek_parent(klass);
    g_type_class_adjust_private_offset(klass, &UserObject_private_offset);
    user_object_class_init(klass);
}

GType user_object_get_type(void)
{
    static gsize type_id;

    if (g_once_init_enter(&type_id)) {
        static const GTypeInfo info = {
            .class_size = sizeof(UserObjectClass),
            .class_init = user_object_class_intern_init,
            .instance_size = sizeof(UserObject),
            .instance_init = user_object_init,
        };
        GType t = g_type_register_static(G_TYPE_OBJECT,
                                         g_intern_static_string("UserObject"),
                                         &info, 0);

        UserObject_private_offset =
            g_type_add_instance_private(t, sizeof(UserObjectPrivate));
        g_once_init_leave(&type_id, t);
    }
    return type_id;
}

static void user_object_finalize(GObject *gobj)
{
    UserObjectPrivate *priv = GET_PRIV(USER_OBJECT(gobj));

    object_props_free(gobj);
    g_free(priv->id);
    g_free(priv->type_name);
    g_clear_pointer(&priv->uses, g_hash_table_unref);
    G_OBJECT_CLASS(user_object_parent_class)->finalize(gobj);
}

static void user_object_class_init(UserObjectClass *klass)
{
    G_OBJECT_CLASS(klass)->finalize = user_object_finalize;
}

/* 'g_class' is the class of the type being created (GInstanceInitFunc). */
static void user_object_init(GTypeInstance *inst, gpointer g_class)
{
    UserObjectPrivate *priv = GET_PRIV(inst);

    object_props_init_defaults(G_OBJECT(inst), G_OBJECT_CLASS(g_class));
    priv->kind = OBJECT_KIND_OBJECT;
    priv->uses = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
}

/* --- registries -------------------------------------------------------- */

static GHashTable *type_tables[OBJECT_KIND__MAX];   /* name -> GType */
static GHashTable *object_tables[OBJECT_KIND__MAX]; /* id -> UserObject* */
static GQueue object_order = G_QUEUE_INIT;          /* all kinds, by age */
static unsigned anon_device_counter;                /* "device[N]" ids */

static const char *const kind_names[OBJECT_KIND__MAX] = {
    [OBJECT_KIND_OBJECT] = "object",
    [OBJECT_KIND_NETDEV] = "netdev",
    [OBJECT_KIND_DEVICE] = "device",
    [OBJECT_KIND_CHARDEV] = "chardev",
};

static const char *const kind_type_keys[OBJECT_KIND__MAX] = {
    [OBJECT_KIND_OBJECT] = "qom-type",
    [OBJECT_KIND_NETDEV] = "type",
    [OBJECT_KIND_DEVICE] = "driver",
    [OBJECT_KIND_CHARDEV] = "type",
};

static gboolean kind_valid(ObjectKind kind)
{
    return (unsigned)kind < OBJECT_KIND__MAX;
}

static GHashTable *type_table(ObjectKind kind)
{
    if (!type_tables[kind]) {
        type_tables[kind] = g_hash_table_new_full(g_str_hash, g_str_equal,
                                                  g_free, NULL);
    }
    return type_tables[kind];
}

static GHashTable *object_table(ObjectKind kind)
{
    if (!object_tables[kind]) {
        object_tables[kind] = g_hash_table_new_full(g_str_hash, g_str_equal,
                                                    g_free, NULL);
    }
    return object_tables[kind];
}

const char *object_kind_name(ObjectKind kind)
{
    return kind_valid(kind) ? kind_names[kind] : "object";
}

const char *object_kind_type_key(ObjectKind kind)
{
    return kind_valid(kind) ? kind_type_keys[kind] : "qom-type";
}

/* Called from type_init() constructors, i.e. before main(). */
void object_type_register(ObjectKind kind, const char *qom_type, GType gtype)
{
    g_return_if_fail(kind_valid(kind));
    g_return_if_fail(qom_type != NULL);
    g_return_if_fail(g_type_is_a(gtype, USER_TYPE_OBJECT));

    g_hash_table_insert(type_table(kind), g_strdup(qom_type),
                        GSIZE_TO_POINTER(gtype));
}

GType object_type_lookup(ObjectKind kind, const char *qom_type)
{
    gpointer v;

    if (!kind_valid(kind) || !qom_type || !type_tables[kind]) {
        return G_TYPE_INVALID;
    }
    v = g_hash_table_lookup(type_tables[kind], qom_type);
    return v ? (GType)GPOINTER_TO_SIZE(v) : G_TYPE_INVALID;
}

GList *object_type_list(ObjectKind kind)
{
    GList *l;

    if (!kind_valid(kind) || !type_tables[kind]) {
        return NULL;
    }
    l = g_hash_table_get_keys(type_tables[kind]);
    return g_list_sort(l, (GCompareFunc)strcmp);
}

const char *object_type_registered_name(GType gtype, ObjectKind *kind_out)
{
    for (int k = 0; k < OBJECT_KIND__MAX; k++) {
        GHashTableIter it;
        gpointer key, value;

        if (!type_tables[k]) {
            continue;
        }
        g_hash_table_iter_init(&it, type_tables[k]);
        while (g_hash_table_iter_next(&it, &key, &value)) {
            if ((GType)GPOINTER_TO_SIZE(value) == gtype) {
                if (kind_out) {
                    *kind_out = k;
                }
                return key;
            }
        }
    }
    return NULL;
}

/* --- property names and types ------------------------------------------ */

const char *object_property_type_name(GParamSpec *pspec)
{
    GType t = G_PARAM_SPEC_VALUE_TYPE(pspec);

    if (G_TYPE_IS_ENUM(t) || G_TYPE_IS_FLAGS(t)) {
        return g_type_name(t);
    }
    switch (G_TYPE_FUNDAMENTAL(t)) {
    case G_TYPE_BOOLEAN:
        return "bool";
    case G_TYPE_INT:
        return "int32";
    case G_TYPE_UINT:
        return "uint32";
    case G_TYPE_INT64:
    case G_TYPE_LONG:
        return "int64";
    case G_TYPE_UINT64:
    case G_TYPE_ULONG:
        return "uint64";
    case G_TYPE_DOUBLE:
    case G_TYPE_FLOAT:
        return "number";
    case G_TYPE_STRING:
        return "str";
    default:
        return g_type_name(t);
    }
}

/* The user spelling of 'pspec': its nick when the nick canonicalises to the
 * name (set by the prop_* helpers), else its canonical name. */
const char *object_property_user_name(GParamSpec *pspec)
{
    const char *nick = g_param_spec_get_nick(pspec);
    const char *name = g_param_spec_get_name(pspec);
    size_t n;

    if (!nick || strlen(nick) != strlen(name)) {
        return name;
    }
    n = strlen(name);
    for (size_t i = 0; i < n; i++) {
        char c = nick[i];

        if (c == '_' || c == '.') {
            c = '-';
        }
        if (c != name[i]) {
            return name;
        }
    }
    return nick;
}

/* Copies 'name' replacing every character GLib does not allow in a
 * property name with '-' (so "addr.path" becomes "addr-path"). */
static char *prop_canonical_name(const char *name)
{
    char *c = g_strdup(name);

    for (char *p = c; *p; p++) {
        if (!g_ascii_isalnum(*p) && *p != '-') {
            *p = '-';
        }
    }
    return c;
}

GParamSpec *object_class_find_user_property(GObjectClass *klass,
                                            const char *name)
{
    g_autofree GParamSpec **specs = NULL;
    g_autofree char *canon = NULL;
    guint n = 0;

    if (!klass || !name || !*name) {
        return NULL;
    }
    specs = g_object_class_list_properties(klass, &n);
    for (guint i = 0; i < n; i++) {
        const char *nick = g_param_spec_get_nick(specs[i]);

        /* the nick counts only when it is a spelling of the name */
        if (g_strcmp0(nick, name) == 0 &&
            object_property_user_name(specs[i]) == nick) {
            return specs[i];
        }
    }
    canon = prop_canonical_name(name);
    if (!g_ascii_isalpha(canon[0])) {
        return NULL;
    }
    return g_object_class_find_property(klass, canon);
}

/* --- property helpers -------------------------------------------------- */

#define PROP_FLAGS(f) ((GParamFlags)((f) | G_PARAM_READWRITE))

/* GLib copies name, nick and blurb, so any strings work. */
GParamSpec *prop_bool(const char *name, const char *desc, gboolean def,
                      unsigned flags)
{
    g_autofree char *canon = prop_canonical_name(name);

    return g_param_spec_boolean(canon, name, desc, def, PROP_FLAGS(flags));
}

GParamSpec *prop_uint(const char *name, const char *desc, guint min,
                      guint max, guint def, unsigned flags)
{
    g_autofree char *canon = prop_canonical_name(name);

    return g_param_spec_uint(canon, name, desc, min, max, def,
                             PROP_FLAGS(flags));
}

GParamSpec *prop_int(const char *name, const char *desc, gint min, gint max,
                     gint def, unsigned flags)
{
    g_autofree char *canon = prop_canonical_name(name);

    return g_param_spec_int(canon, name, desc, min, max, def,
                            PROP_FLAGS(flags));
}

GParamSpec *prop_uint64(const char *name, const char *desc, guint64 min,
                        guint64 max, guint64 def, unsigned flags)
{
    g_autofree char *canon = prop_canonical_name(name);

    return g_param_spec_uint64(canon, name, desc, min, max, def,
                               PROP_FLAGS(flags));
}

GParamSpec *prop_int64(const char *name, const char *desc, gint64 min,
                       gint64 max, gint64 def, unsigned flags)
{
    g_autofree char *canon = prop_canonical_name(name);

    return g_param_spec_int64(canon, name, desc, min, max, def,
                              PROP_FLAGS(flags));
}

GParamSpec *prop_str(const char *name, const char *desc, const char *def,
                     unsigned flags)
{
    g_autofree char *canon = prop_canonical_name(name);

    return g_param_spec_string(canon, name, desc, def, PROP_FLAGS(flags));
}

GParamSpec *prop_enum(const char *name, const char *desc, GType enum_type,
                      gint def, unsigned flags)
{
    g_autofree char *canon = prop_canonical_name(name);

    return g_param_spec_enum(canon, name, desc, enum_type, def,
                             PROP_FLAGS(flags));
}

/* --- "did you mean" ---------------------------------------------------- */

/* Levenshtein distance of 'a' and 'b' (short names only: > 63 bytes is
 * "far"). */
static guint name_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    guint row[64];

    if (la >= G_N_ELEMENTS(row) || lb >= G_N_ELEMENTS(row)) {
        return G_MAXUINT;
    }
    for (size_t j = 0; j <= lb; j++) {
        row[j] = j;
    }
    for (size_t i = 1; i <= la; i++) {
        guint diag = row[0];

        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            guint up = row[j];
            guint best = diag + (g_ascii_tolower(a[i - 1]) !=
                                 g_ascii_tolower(b[j - 1]));

            best = MIN(best, up + 1);
            best = MIN(best, row[j - 1] + 1);
            diag = up;
            row[j] = best;
        }
    }
    return row[lb];
}

/* The name in 'names' (a NULL-terminated array or a GList, one of them
 * NULL) closest to 'word' if it is close enough to be a typo of it: at
 * most 2 edits, and fewer than half of the word's length. */
static const char *closest_name(const char *word, const char *const *names,
                                GList *list)
{
    const char *best = NULL;
    guint best_d = G_MAXUINT;
    guint limit = MIN(2u, (guint)(strlen(word) + 1) / 2);

    for (size_t i = 0; names && names[i]; i++) {
        guint d = name_distance(word, names[i]);

        if (d < best_d) {
            best_d = d;
            best = names[i];
        }
    }
    for (GList *l = list; l; l = l->next) {
        guint d = name_distance(word, l->data);

        if (d < best_d) {
            best_d = d;
            best = l->data;
        }
    }
    return best_d <= limit ? best : NULL;
}

/* The user property names of 'klass', NULL-terminated (the strings are
 * borrowed from the pspecs). */
static const char **class_user_names(GObjectClass *klass)
{
    guint n = 0;
    g_autofree GParamSpec **specs = g_object_class_list_properties(klass, &n);
    const char **names = g_new0(const char *, n + 1);

    for (guint i = 0; i < n; i++) {
        names[i] = object_property_user_name(specs[i]);
    }
    return names;
}

/* "Property 'TYPE.KEY' not found", and the likely intended name or where
 * the names are listed. */
static void property_not_found_error(GObjectClass *klass, ObjectKind kind,
                                     const char *qom_type, const char *key,
                                     GError **errp)
{
    g_autofree const char **names = class_user_names(klass);
    const char *near = closest_name(key, names, NULL);

    if (near) {
        error_setg(errp, "Property '%s.%s' not found (did you mean '%s'?)",
                   qom_type, key, near);
    } else {
        error_setg(errp, "Property '%s.%s' not found ('-%s %s,help' "
                   "lists the properties)", qom_type, key,
                   object_kind_name(kind), qom_type);
    }
}

/* The nicks of enum 'type' as "a, b or c"; new string. */
static char *enum_nicks_str(GType type)
{
    GEnumClass *ec = g_type_class_ref(type);
    GString *out = g_string_new(NULL);

    for (guint i = 0; i < ec->n_values; i++) {
        if (i) {
            g_string_append(out, i + 1 == ec->n_values ? " or " : ", ");
        }
        g_string_append(out, ec->values[i].value_nick);
    }
    g_type_class_unref(ec);
    return g_string_free(out, FALSE);
}

/* --- value <-> string -------------------------------------------------- */

gboolean object_property_parse(GParamSpec *pspec, const char *name,
                               const char *str, GValue *out, GError **errp)
{
    GType t = G_PARAM_SPEC_VALUE_TYPE(pspec);
    const char *s = str ? str : "";

    g_value_init(out, t);

    if (G_TYPE_IS_ENUM(t)) {
        GEnumClass *ec = g_type_class_ref(t);
        GEnumValue *ev = g_enum_get_value_by_nick(ec, s);

        if (!ev) {
            ev = g_enum_get_value_by_name(ec, s);
        }
        if (ev) {
            g_value_set_enum(out, ev->value);
        }
        g_type_class_unref(ec);
        if (!ev) {
            g_autofree char *allowed = enum_nicks_str(t);

            error_setg(errp, "Parameter '%s' does not accept value '%s' "
                       "(expected %s)", name, s, allowed);
            goto fail;
        }
        return TRUE;
    }

    switch (G_TYPE_FUNDAMENTAL(t)) {
    case G_TYPE_BOOLEAN: {
        gboolean b;

        if (!keyval_parse_bool(name, s, &b, errp)) {
            goto fail;
        }
        g_value_set_boolean(out, b);
        return TRUE;
    }
    case G_TYPE_INT:
    case G_TYPE_INT64:
    case G_TYPE_LONG: {
        gint64 v, min, max;

        if (G_IS_PARAM_SPEC_INT(pspec)) {
            min = G_PARAM_SPEC_INT(pspec)->minimum;
            max = G_PARAM_SPEC_INT(pspec)->maximum;
        } else if (G_IS_PARAM_SPEC_INT64(pspec)) {
            min = G_PARAM_SPEC_INT64(pspec)->minimum;
            max = G_PARAM_SPEC_INT64(pspec)->maximum;
        } else if (G_IS_PARAM_SPEC_LONG(pspec)) {
            min = G_PARAM_SPEC_LONG(pspec)->minimum;
            max = G_PARAM_SPEC_LONG(pspec)->maximum;
        } else {
            min = G_MININT64;
            max = G_MAXINT64;
        }
        if (!keyval_parse_int64(name, s, &v,
                                (min == G_MININT64 && max == G_MAXINT64)
                                ? errp : NULL)) {
            /* say the range, not only "a number" */
            if (min != G_MININT64 || max != G_MAXINT64) {
                error_setg(errp, "Parameter '%s' expects a number between %"
                           G_GINT64_FORMAT " and %" G_GINT64_FORMAT,
                           name, min, max);
            }
            goto fail;
        }
        if (v < min || v > max) {
            error_setg(errp, "Parameter '%s' expects a number between %"
                       G_GINT64_FORMAT " and %" G_GINT64_FORMAT,
                       name, min, max);
            goto fail;
        }
        if (G_TYPE_FUNDAMENTAL(t) == G_TYPE_INT) {
            g_value_set_int(out, (gint)v);
        } else if (G_TYPE_FUNDAMENTAL(t) == G_TYPE_LONG) {
            g_value_set_long(out, (glong)v);
        } else {
            g_value_set_int64(out, v);
        }
        return TRUE;
    }
    case G_TYPE_UINT:
    case G_TYPE_UINT64:
    case G_TYPE_ULONG: {
        guint64 v, min, max;

        if (G_IS_PARAM_SPEC_UINT(pspec)) {
            min = G_PARAM_SPEC_UINT(pspec)->minimum;
            max = G_PARAM_SPEC_UINT(pspec)->maximum;
        } else if (G_IS_PARAM_SPEC_UINT64(pspec)) {
            min = G_PARAM_SPEC_UINT64(pspec)->minimum;
            max = G_PARAM_SPEC_UINT64(pspec)->maximum;
        } else if (G_IS_PARAM_SPEC_ULONG(pspec)) {
            min = G_PARAM_SPEC_ULONG(pspec)->minimum;
            max = G_PARAM_SPEC_ULONG(pspec)->maximum;
        } else {
            min = 0;
            max = G_MAXUINT64;
        }
        if (!keyval_parse_uint64(name, s, FALSE, &v,
                                 max == G_MAXUINT64 ? errp : NULL)) {
            if (max != G_MAXUINT64) {
                error_setg(errp, "Parameter '%s' expects a number between %"
                           G_GUINT64_FORMAT " and %" G_GUINT64_FORMAT,
                           name, min, max);
            }
            goto fail;
        }
        if (v < min || v > max) {
            error_setg(errp, "Parameter '%s' expects a number between %"
                       G_GUINT64_FORMAT " and %" G_GUINT64_FORMAT,
                       name, min, max);
            goto fail;
        }
        if (G_TYPE_FUNDAMENTAL(t) == G_TYPE_UINT) {
            g_value_set_uint(out, (guint)v);
        } else if (G_TYPE_FUNDAMENTAL(t) == G_TYPE_ULONG) {
            g_value_set_ulong(out, (gulong)v);
        } else {
            g_value_set_uint64(out, v);
        }
        return TRUE;
    }
    case G_TYPE_DOUBLE: {
        char *end;
        double d = g_ascii_strtod(s, &end);

        if (!*s || *end) {
            error_setg(errp, "Parameter '%s' expects a number", name);
            goto fail;
        }
        if (G_IS_PARAM_SPEC_DOUBLE(pspec) &&
            (d < G_PARAM_SPEC_DOUBLE(pspec)->minimum ||
             d > G_PARAM_SPEC_DOUBLE(pspec)->maximum)) {
            error_setg(errp, "Parameter '%s' expects a number between %g "
                       "and %g", name, G_PARAM_SPEC_DOUBLE(pspec)->minimum,
                       G_PARAM_SPEC_DOUBLE(pspec)->maximum);
            goto fail;
        }
        g_value_set_double(out, d);
        return TRUE;
    }
    case G_TYPE_STRING:
        g_value_set_string(out, s);
        return TRUE;
    default:
        error_setg(errp, "Property '%s' cannot be set from a string (type %s)",
                   name, g_type_name(t));
        goto fail;
    }

fail:
    g_value_unset(out);
    return FALSE;
}

char *object_property_value_to_str(GParamSpec *pspec, const GValue *value)
{
    GType t = G_VALUE_TYPE(value);

    if (G_TYPE_IS_ENUM(t)) {
        GEnumClass *ec = g_type_class_ref(t);
        GEnumValue *ev = g_enum_get_value(ec, g_value_get_enum(value));
        char *s = ev ? g_strdup(ev->value_nick)
                     : g_strdup_printf("%d", g_value_get_enum(value));

        g_type_class_unref(ec);
        return s;
    }
    switch (G_TYPE_FUNDAMENTAL(t)) {
    case G_TYPE_BOOLEAN:
        return g_strdup(g_value_get_boolean(value) ? "on" : "off");
    case G_TYPE_INT:
        return g_strdup_printf("%d", g_value_get_int(value));
    case G_TYPE_UINT:
        return g_strdup_printf("%u", g_value_get_uint(value));
    case G_TYPE_LONG:
        return g_strdup_printf("%ld", g_value_get_long(value));
    case G_TYPE_ULONG:
        return g_strdup_printf("%lu", g_value_get_ulong(value));
    case G_TYPE_INT64:
        return g_strdup_printf("%" G_GINT64_FORMAT, g_value_get_int64(value));
    case G_TYPE_UINT64:
        return g_strdup_printf("%" G_GUINT64_FORMAT,
                               g_value_get_uint64(value));
    case G_TYPE_DOUBLE: {
        char buf[G_ASCII_DTOSTR_BUF_SIZE];

        return g_strdup(g_ascii_dtostr(buf, sizeof(buf),
                                       g_value_get_double(value)));
    }
    case G_TYPE_STRING:
        return g_strdup(g_value_get_string(value) ? g_value_get_string(value)
                                                  : "");
    default:
        return g_strdup_value_contents(value);
    }
}

char *object_property_default_str(GParamSpec *pspec)
{
    const GValue *def = g_param_spec_get_default_value(pspec);

    if (G_VALUE_HOLDS_STRING(def) && !g_value_get_string(def)) {
        return NULL;
    }
    return object_property_value_to_str(pspec, def);
}

/* --- instances --------------------------------------------------------- */

const char *user_object_get_id(UserObject *obj)
{
    g_return_val_if_fail(USER_IS_OBJECT(obj), NULL);
    return GET_PRIV(obj)->id;
}

ObjectKind user_object_get_kind(UserObject *obj)
{
    g_return_val_if_fail(USER_IS_OBJECT(obj), OBJECT_KIND_OBJECT);
    return GET_PRIV(obj)->kind;
}

const char *user_object_get_type_name(UserObject *obj)
{
    UserObjectPrivate *priv;
    const char *name;

    g_return_val_if_fail(USER_IS_OBJECT(obj), NULL);
    priv = GET_PRIV(obj);
    if (priv->type_name) {
        return priv->type_name;
    }
    name = object_type_registered_name(G_OBJECT_TYPE(obj), NULL);
    return name ? name : G_OBJECT_TYPE_NAME(obj);
}

gboolean user_object_is_complete(UserObject *obj)
{
    g_return_val_if_fail(USER_IS_OBJECT(obj), FALSE);
    return GET_PRIV(obj)->complete;
}

/* QEMU's id_wellformed(): a letter, then letters, digits, '-', '.', '_'. */
static gboolean id_wellformed(const char *id)
{
    if (!g_ascii_isalpha(id[0])) {
        return FALSE;
    }
    for (const char *p = id + 1; *p; p++) {
        if (!g_ascii_isalnum(*p) && !strchr("-._", *p)) {
            return FALSE;
        }
    }
    return TRUE;
}

void object_type_unknown_error(ObjectKind kind, const char *qom_type,
                               GError **errp)
{
    g_autoptr(GList) types = object_type_list(kind);
    const char *near = closest_name(qom_type ? qom_type : "", NULL, types);
    g_autofree char *hint = near
        ? g_strdup_printf(" (did you mean '%s'?)", near)
        : g_strdup_printf(" ('-%s help' lists them)", object_kind_name(kind));

    /* QEMU's texts, then the hint */
    switch (kind) {
    case OBJECT_KIND_NETDEV:
        error_setg(errp, "Parameter 'type' expects a netdev backend type "
                   "(got '%s')%s", qom_type, hint);
        break;
    case OBJECT_KIND_CHARDEV:
        error_setg(errp, "'%s' is not a valid char driver name%s", qom_type,
                   hint);
        break;
    case OBJECT_KIND_DEVICE:
        error_setg(errp, "'%s' is not a valid device model name%s", qom_type,
                   hint);
        break;
    default:
        error_setg(errp, "invalid object type: %s%s", qom_type, hint);
        break;
    }
}

/* Checks that 'pspec' may be written now on 'obj' (writable, and
 * PROP_RUNTIME once complete). */
static gboolean prop_check_writable(UserObject *obj, GParamSpec *pspec,
                                    const char *name, GError **errp)
{
    if (!(pspec->flags & G_PARAM_WRITABLE) ||
        (pspec->flags & G_PARAM_CONSTRUCT_ONLY)) {
        error_setg(errp, "Property '%s.%s' is read-only",
                   user_object_get_type_name(obj), name);
        return FALSE;
    }
    if (GET_PRIV(obj)->complete && !(pspec->flags & PROP_RUNTIME)) {
        error_setg(errp, "Property '%s' cannot be changed after the object "
                   "is created", name);
        return FALSE;
    }
    return TRUE;
}

/* Runs check_property() and sets 'value' on 'obj'. */
static gboolean prop_set_checked(UserObject *obj, GParamSpec *pspec,
                                 const GValue *value, GError **errp)
{
    UserObjectClass *klass = USER_OBJECT_GET_CLASS(obj);

    if (!object_prop_check(obj, pspec, value, errp)) {
        return FALSE;
    }
    if (klass->check_property &&
        !klass->check_property(obj, pspec, value, errp)) {
        return FALSE;
    }
    g_object_set_property(G_OBJECT(obj), pspec->name, value);
    return TRUE;
}

static gint compare_str_ptr(gconstpointer a, gconstpointer b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* complete() failed with QEMU's "Device 'X' not found" (an id given in
 * a property names nothing): prefix the property that gave X, which QEMU's
 * text leaves out ("Parameter 'outdev': Device 'c9' not found"). */
static void name_the_property(GHashTable *props, GPtrArray *keys,
                              GError **errp)
{
    GError *err = errp ? *errp : NULL;

    if (!err || err->domain != UTIL_ERROR ||
        err->code != UTIL_ERROR_DEVICE_NOT_FOUND || !props) {
        return;
    }
    for (guint i = 0; i < keys->len; i++) {
        const char *v = g_hash_table_lookup(props, keys->pdata[i]);
        g_autofree char *quoted = g_strdup_printf("'%s'", v ? v : "");

        if (v && *v && strstr(err->message, quoted)) {
            g_prefix_error(errp, "Parameter '%s': ",
                           (const char *)keys->pdata[i]);
            return;
        }
    }
}

UserObject *user_object_create(ObjectKind kind, const char *qom_type,
                               const char *id, GHashTable *props,
                               GError **errp)
{
    g_autoptr(GPtrArray) keys = NULL;
    g_autoptr(GHashTable) given = NULL;
    g_autofree GParamSpec **specs = NULL;
    g_autofree char *anon_id = NULL;
    UserObjectClass *klass;
    UserObjectPrivate *priv;
    UserObject *obj;
    GType gtype;
    guint n_specs = 0;

    if (!kind_valid(kind)) {
        error_setg(errp, "invalid object kind %d", (int)kind);
        return NULL;
    }
    if (!qom_type) {
        error_setg(errp, "Parameter '%s' is missing",
                   object_kind_type_key(kind));
        return NULL;
    }
    if (!id && kind == OBJECT_KIND_DEVICE) {
        /* -device without id=: an anonymous id users cannot spell */
        anon_id = g_strdup_printf("device[%u]", anon_device_counter++);
        id = anon_id;
    }
    if (!id) {
        error_setg(errp, "Parameter 'id' is missing");
        return NULL;
    }
    if (!id_wellformed(id) &&
        !(kind == OBJECT_KIND_DEVICE && g_str_has_prefix(id, "device["))) {
        /* QEMU prints the rule as a hint on a second line; one line here
         * (QMP and the log have no second line) */
        error_setg(errp, "Parameter 'id' expects an identifier: letters, "
                   "digits, '-', '.', '_', starting with a letter (got "
                   "'%s')", id);
        return NULL;
    }
    if (user_object_find(kind, id)) {
        error_setg(errp, "Duplicate ID '%s' for %s", id,
                   object_kind_name(kind));
        return NULL;
    }
    gtype = object_type_lookup(kind, qom_type);
    if (gtype == G_TYPE_INVALID) {
        object_type_unknown_error(kind, qom_type, errp);
        return NULL;
    }
    if (G_TYPE_IS_ABSTRACT(gtype)) {
        error_setg(errp, "object type '%s' is abstract", qom_type);
        return NULL;
    }

    /* Apply properties in a stable (sorted) order. */
    keys = g_ptr_array_new();
    given = g_hash_table_new(g_direct_hash, g_direct_equal);
    if (props) {
        GHashTableIter it;
        gpointer k, v;

        g_hash_table_iter_init(&it, props);
        while (g_hash_table_iter_next(&it, &k, &v)) {
            if (strcmp(k, "id") != 0 &&
                strcmp(k, object_kind_type_key(kind)) != 0) {
                g_ptr_array_add(keys, k);
            }
        }
        g_ptr_array_sort(keys, compare_str_ptr);
    }

    /* Construct-only properties go to g_object_new(); a failure here
     * leaves nothing to undo. */
    klass = g_type_class_ref(gtype);
    {
        g_autoptr(GPtrArray) names = g_ptr_array_new();
        g_autoptr(GArray) values = g_array_new(FALSE, TRUE, sizeof(GValue));
        gboolean ok = TRUE;

        g_array_set_clear_func(values, (GDestroyNotify)g_value_unset);
        for (guint i = 0; i < keys->len && ok; i++) {
            const char *key = keys->pdata[i];
            GParamSpec *pspec = object_class_find_user_property(
                G_OBJECT_CLASS(klass), key);
            GValue value = G_VALUE_INIT;

            if (!pspec || !(pspec->flags & G_PARAM_CONSTRUCT_ONLY)) {
                continue;
            }
            ok = object_property_parse(pspec, key,
                                       g_hash_table_lookup(props, key),
                                       &value, errp);
            if (ok) {
                g_ptr_array_add(names, (gpointer)pspec->name);
                g_array_append_val(values, value);
                g_hash_table_add(given, pspec);
            }
        }
        if (!ok) {
            g_type_class_unref(klass);
            return NULL;
        }
        obj = (UserObject *)g_object_new_with_properties(
            gtype, names->len, (const char **)names->pdata,
            (const GValue *)values->data);
    }
    g_type_class_unref(klass);
    priv = GET_PRIV(obj);
    priv->id = g_strdup(id);
    priv->kind = kind;
    priv->type_name = g_strdup(qom_type);
    klass = USER_OBJECT_GET_CLASS(obj);

    for (guint i = 0; i < keys->len; i++) {
        const char *key = keys->pdata[i];
        const char *str = g_hash_table_lookup(props, key);
        GParamSpec *pspec;
        g_auto(GValue) value = G_VALUE_INIT;

        pspec = object_class_find_user_property(G_OBJECT_CLASS(klass), key);
        if (!pspec) {
            property_not_found_error(G_OBJECT_CLASS(klass), kind, qom_type,
                                     key, errp);
            goto fail;
        }
        if (g_hash_table_contains(given, pspec)) {
            continue;           /* construct-only, set above */
        }
        if (!prop_check_writable(obj, pspec, key, errp) ||
            !object_property_parse(pspec, key, str, &value, errp) ||
            !prop_set_checked(obj, pspec, &value, errp)) {
            goto fail;
        }
        g_hash_table_add(given, pspec);
    }

    specs = g_object_class_list_properties(G_OBJECT_CLASS(klass), &n_specs);
    for (guint i = 0; i < n_specs; i++) {
        if ((specs[i]->flags & PROP_REQUIRED) &&
            !g_hash_table_contains(given, specs[i])) {
            error_setg(errp, "Parameter '%s' is missing",
                       object_property_user_name(specs[i]));
            goto fail;
        }
    }

    if (klass->complete && !klass->complete(obj, errp)) {
        name_the_property(props, keys, errp);
        goto fail;
    }
    priv->complete = TRUE;
    priv->registered = TRUE;
    g_hash_table_insert(object_table(kind), g_strdup(id), obj);
    g_queue_push_tail(&object_order, obj);
    g_debug("created %s '%s' (%s)", object_kind_name(kind), id, qom_type);
    return obj;

fail:
    g_object_unref(obj);
    return NULL;
}

/* Removes a trailing ",help" (or ",?") from 'opts'. */
static char *strip_help(const char *opts)
{
    size_t len = strlen(opts);

    if (g_str_has_suffix(opts, ",help")) {
        len -= 5;
    } else if (g_str_has_suffix(opts, ",?")) {
        len -= 2;
    }
    return g_strndup(opts, len);
}

UserObject *user_object_create_from_opts(ObjectKind kind, const char *opts,
                                         gboolean *printed_help,
                                         GError **errp)
{
    const char *type_key = object_kind_type_key(kind);
    g_autoptr(GHashTable) h = NULL;
    g_autofree char *type = NULL, *type_k = NULL;
    g_autofree char *id = NULL, *id_k = NULL;

    if (printed_help) {
        *printed_help = FALSE;
    }
    if (!kind_valid(kind)) {
        error_setg(errp, "invalid object kind %d", (int)kind);
        return NULL;
    }
    if (keyval_is_help(opts)) {
        g_autofree char *rest = strip_help(opts);
        const char *t = NULL;

        if (strcmp(opts, "help") != 0 && strcmp(opts, "?") != 0) {
            h = keyval_parse(rest, type_key, errp);
            if (!h) {
                return NULL;
            }
            t = g_hash_table_lookup(h, type_key);
        }
        if (!object_type_print_help(kind, t, errp)) {
            return NULL;
        }
        if (printed_help) {
            *printed_help = TRUE;
        }
        return NULL;
    }

    h = keyval_parse(opts, type_key, errp);
    if (!h) {
        return NULL;
    }
    if (!g_hash_table_steal_extended(h, type_key, (gpointer *)&type_k,
                                     (gpointer *)&type)) {
        error_setg(errp, "Parameter '%s' is missing", type_key);
        return NULL;
    }
    if (!g_hash_table_steal_extended(h, "id", (gpointer *)&id_k,
                                     (gpointer *)&id) &&
        kind != OBJECT_KIND_DEVICE) {
        error_setg(errp, "Parameter 'id' is missing");
        return NULL;
    }
    return user_object_create(kind, type, id, h, errp);
}

UserObject *user_object_find(ObjectKind kind, const char *id)
{
    if (!kind_valid(kind) || !id || !object_tables[kind]) {
        return NULL;
    }
    return g_hash_table_lookup(object_tables[kind], id);
}

UserObject *user_object_find_typed(ObjectKind kind, const char *id,
                                   GType type, GError **errp)
{
    UserObject *obj = user_object_find(kind, id);

    if (!obj) {
        g_set_error(errp, UTIL_ERROR, UTIL_ERROR_DEVICE_NOT_FOUND,
                    "Device '%s' not found", id ? id : "");
        return NULL;
    }
    if (!g_type_is_a(G_OBJECT_TYPE(obj), type)) {
        const char *tn = object_type_registered_name(type, NULL);

        error_setg(errp, "'%s' is not a %s", id, tn ? tn : g_type_name(type));
        return NULL;
    }
    return obj;
}

static void not_found_error(ObjectKind kind, const char *id, GError **errp)
{
    switch (kind) {
    case OBJECT_KIND_NETDEV:
    case OBJECT_KIND_DEVICE:
        g_set_error(errp, UTIL_ERROR, UTIL_ERROR_DEVICE_NOT_FOUND,
                    "Device '%s' not found", id);
        break;
    case OBJECT_KIND_CHARDEV:
        g_set_error(errp, UTIL_ERROR, UTIL_ERROR_DEVICE_NOT_FOUND,
                    "Chardev '%s' not found", id);
        break;
    default:
        error_setg(errp, "object '%s' not found", id);
        break;
    }
}

/* Returns the first user of 'obj' in name order, or NULL. */
static const char *first_user(UserObject *obj)
{
    g_autoptr(GList) users = g_hash_table_get_keys(GET_PRIV(obj)->uses);

    users = g_list_sort(users, (GCompareFunc)strcmp);
    return users ? users->data : NULL;
}

/* Drops 'obj' from the registry: unparent, unlink, unref. */
static void object_remove(UserObject *obj)
{
    UserObjectPrivate *priv = GET_PRIV(obj);
    UserObjectClass *klass = USER_OBJECT_GET_CLASS(obj);

    g_object_ref(obj);
    if (priv->complete && klass->unparent) {
        klass->unparent(obj);
    }
    if (priv->registered) {
        priv->registered = FALSE;
        g_hash_table_remove(object_table(priv->kind), priv->id);
        g_queue_remove(&object_order, obj);
        g_object_unref(obj);            /* the registry's reference */
    }
    g_debug("deleted %s '%s'", object_kind_name(priv->kind), priv->id);
    g_object_unref(obj);
}

static gboolean object_can_be_deleted(UserObject *obj, GError **errp)
{
    UserObjectPrivate *priv = GET_PRIV(obj);
    UserObjectClass *klass = USER_OBJECT_GET_CLASS(obj);
    const char *user = first_user(obj);

    if (priv->owner) {
        /* a part of a composite (colo-proxy): deleting it alone would
         * leave the composite half-built */
        error_setg(errp, "%s '%s' is a part of %s '%s' and is deleted with "
                   "it: object-del '%s' instead",
                   object_kind_name(priv->kind), priv->id,
                   user_object_get_type_name(priv->owner),
                   user_object_get_id(priv->owner),
                   user_object_get_id(priv->owner));
        return FALSE;
    }
    if (user) {
        error_setg(errp, "%s '%s' is in use by '%s'",
                   object_kind_name(priv->kind), priv->id, user);
        return FALSE;
    }
    if (klass->can_be_deleted && !klass->can_be_deleted(obj, errp)) {
        return FALSE;
    }
    return TRUE;
}

gboolean user_object_delete(ObjectKind kind, const char *id, GError **errp)
{
    UserObject *obj = user_object_find(kind, id);

    if (!obj) {
        not_found_error(kind, id ? id : "", errp);
        return FALSE;
    }
    if (!object_can_be_deleted(obj, errp)) {
        return FALSE;
    }
    object_remove(obj);
    return TRUE;
}

void user_object_delete_all(void)
{
    /* Newest first; an object still in use is skipped and retried after its
     * users are gone.  Whatever remains after a pass with no progress is
     * removed anyway (shutdown must finish). */
    gboolean progress = TRUE;

    while (object_order.length && progress) {
        progress = FALSE;
        for (GList *l = object_order.tail; l;) {
            UserObject *obj = l->data;
            GList *prev = l->prev;
            g_autoptr(GError) err = NULL;

            if (object_can_be_deleted(obj, &err)) {
                object_remove(obj);
                progress = TRUE;
                /* removing may have removed others: restart from the tail */
                break;
            }
            l = prev;
        }
    }
    while (object_order.length) {
        UserObject *obj = g_queue_peek_tail(&object_order);

        g_warning("%s '%s' still in use at shutdown; removing it anyway",
                  object_kind_name(GET_PRIV(obj)->kind), GET_PRIV(obj)->id);
        object_remove(obj);
    }
}

GList *user_object_list(ObjectKind kind)
{
    GList *out = NULL;

    for (GList *l = object_order.head; l; l = l->next) {
        if (GET_PRIV(l->data)->kind == kind) {
            out = g_list_prepend(out, l->data);
        }
    }
    return g_list_reverse(out);
}

void user_object_ref_use(UserObject *obj, const char *user_id)
{
    UserObjectPrivate *priv;
    guint n;

    g_return_if_fail(USER_IS_OBJECT(obj));
    g_return_if_fail(user_id != NULL);
    priv = GET_PRIV(obj);
    n = GPOINTER_TO_UINT(g_hash_table_lookup(priv->uses, user_id));
    g_hash_table_insert(priv->uses, g_strdup(user_id), GUINT_TO_POINTER(n + 1));
}

void user_object_unref_use(UserObject *obj, const char *user_id)
{
    UserObjectPrivate *priv;
    guint n;

    g_return_if_fail(USER_IS_OBJECT(obj));
    g_return_if_fail(user_id != NULL);
    priv = GET_PRIV(obj);
    n = GPOINTER_TO_UINT(g_hash_table_lookup(priv->uses, user_id));
    if (n <= 1) {
        g_hash_table_remove(priv->uses, user_id);
    } else {
        g_hash_table_insert(priv->uses, g_strdup(user_id),
                            GUINT_TO_POINTER(n - 1));
    }
}

void user_object_set_owner(UserObject *obj, UserObject *owner)
{
    g_return_if_fail(USER_IS_OBJECT(obj));
    GET_PRIV(obj)->owner = owner;
}

UserObject *user_object_get_owner(UserObject *obj)
{
    g_return_val_if_fail(USER_IS_OBJECT(obj), NULL);
    return GET_PRIV(obj)->owner;
}

guint user_object_use_count(UserObject *obj)
{
    GHashTableIter it;
    gpointer k, v;
    guint total = 0;

    g_return_val_if_fail(USER_IS_OBJECT(obj), 0);
    g_hash_table_iter_init(&it, GET_PRIV(obj)->uses);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        total += GPOINTER_TO_UINT(v);
    }
    return total;
}

void user_object_property_not_found(UserObject *obj, const char *name,
                                    GError **errp)
{
    property_not_found_error(G_OBJECT_GET_CLASS(obj),
                             user_object_get_kind(obj),
                             user_object_get_type_name(obj),
                             name ? name : "", errp);
}

static GParamSpec *find_prop_or_error(UserObject *obj, const char *name,
                                      GError **errp)
{
    GParamSpec *pspec = object_class_find_user_property(
        G_OBJECT_GET_CLASS(obj), name);

    if (!pspec) {
        property_not_found_error(G_OBJECT_GET_CLASS(obj),
                                 user_object_get_kind(obj),
                                 user_object_get_type_name(obj),
                                 name ? name : "", errp);
    }
    return pspec;
}

gboolean user_object_set_str(UserObject *obj, const char *name,
                             const char *value, GError **errp)
{
    g_auto(GValue) v = G_VALUE_INIT;
    GParamSpec *pspec;

    g_return_val_if_fail(USER_IS_OBJECT(obj), FALSE);
    pspec = find_prop_or_error(obj, name, errp);
    if (!pspec || !prop_check_writable(obj, pspec, name, errp) ||
        !object_property_parse(pspec, name, value, &v, errp)) {
        return FALSE;
    }
    return prop_set_checked(obj, pspec, &v, errp);
}

char *user_object_get_str(UserObject *obj, const char *name, GError **errp)
{
    g_auto(GValue) v = G_VALUE_INIT;
    GParamSpec *pspec;

    g_return_val_if_fail(USER_IS_OBJECT(obj), NULL);
    pspec = find_prop_or_error(obj, name, errp);
    if (!pspec) {
        return NULL;
    }
    if (!(pspec->flags & G_PARAM_READABLE)) {
        error_setg(errp, "Property '%s.%s' is write-only",
                   user_object_get_type_name(obj), name);
        return NULL;
    }
    g_value_init(&v, G_PARAM_SPEC_VALUE_TYPE(pspec));
    g_object_get_property(G_OBJECT(obj), pspec->name, &v);
    return object_property_value_to_str(pspec, &v);
}

gboolean user_object_set_value(UserObject *obj, const char *name,
                               const GValue *value, GError **errp)
{
    g_auto(GValue) v = G_VALUE_INIT;
    GParamSpec *pspec;

    g_return_val_if_fail(USER_IS_OBJECT(obj), FALSE);
    pspec = find_prop_or_error(obj, name, errp);
    if (!pspec || !prop_check_writable(obj, pspec, name, errp)) {
        return FALSE;
    }
    g_value_init(&v, G_PARAM_SPEC_VALUE_TYPE(pspec));
    if (!g_value_type_compatible(G_VALUE_TYPE(value), G_VALUE_TYPE(&v)) &&
        !g_value_type_transformable(G_VALUE_TYPE(value), G_VALUE_TYPE(&v))) {
        error_setg(errp, "Invalid parameter type for '%s', expected: %s",
                   name, object_property_type_name(pspec));
        return FALSE;
    }
    if (!g_value_transform(value, &v)) {
        error_setg(errp, "Invalid parameter type for '%s', expected: %s",
                   name, object_property_type_name(pspec));
        return FALSE;
    }
    if (g_param_value_validate(pspec, &v)) {
        g_autofree char *s = object_property_value_to_str(pspec, value);

        error_setg(errp, "Parameter '%s' does not accept value '%s'", name, s);
        return FALSE;
    }
    return prop_set_checked(obj, pspec, &v, errp);
}
