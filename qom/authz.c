/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * qom/authz.c - authz-simple and authz-list (include/qom/tls-creds.h).
 *
 * authz-list's rules arrive as QEMU's flattened keys rules.N.match,
 * rules.N.policy, rules.N.format (the command line's dotted form, and
 * what -object '{...}' / object-add make of a JSON "rules" array): one
 * property per key and slot, AUTHZ_LIST_MAX_RULES slots.  complete()
 * checks the slots are used from 0 without a gap and each has a match.
 */
#include <string.h>

#include "qom/tls-creds.h"
#include "util/error.h"

G_DEFINE_ABSTRACT_TYPE(Authz, authz, USER_TYPE_OBJECT)

Authz *authz_find(const char *id, GError **errp)
{
    UserObject *o = user_object_find(OBJECT_KIND_OBJECT, id);

    if (!o) {
        error_setg(errp, "No authorization object with id '%s'", id);
        return NULL;
    }
    if (!AUTHZ_IS_BASE(o)) {
        error_setg(errp, "Object with id '%s' is not an authorization "
                   "object", id);
        return NULL;
    }
    return AUTHZ_BASE(o);
}

gboolean authz_is_allowed(Authz *a, const char *identity)
{
    return AUTHZ_BASE_GET_CLASS(a)->is_allowed(a, identity);
}

static void authz_class_init(AuthzClass *klass)
{
}

static void authz_init(Authz *a)
{
}

/* --- authz-simple ---------------------------------------------------------- */

#define TYPE_AUTHZ_SIMPLE (authz_simple_get_type())
G_DECLARE_FINAL_TYPE(AuthzSimple, authz_simple, AUTHZ, SIMPLE, Authz)

struct _AuthzSimple {
    Authz parent_instance;
    char *identity;
};

G_DEFINE_TYPE(AuthzSimple, authz_simple, TYPE_AUTHZ)

static gboolean simple_is_allowed(Authz *a, const char *identity)
{
    return g_strcmp0(AUTHZ_SIMPLE(a)->identity, identity) == 0;
}

static void simple_set_property(GObject *gobj, guint id, const GValue *v,
                                GParamSpec *pspec)
{
    AuthzSimple *s = AUTHZ_SIMPLE(gobj);

    g_free(s->identity);
    s->identity = g_value_dup_string(v);
}

static void simple_get_property(GObject *gobj, guint id, GValue *v,
                                GParamSpec *pspec)
{
    g_value_set_string(v, AUTHZ_SIMPLE(gobj)->identity);
}

static void simple_finalize(GObject *gobj)
{
    g_free(AUTHZ_SIMPLE(gobj)->identity);
    G_OBJECT_CLASS(authz_simple_parent_class)->finalize(gobj);
}

static void authz_simple_class_init(AuthzSimpleClass *klass)
{
    GObjectClass *gc = G_OBJECT_CLASS(klass);

    gc->set_property = simple_set_property;
    gc->get_property = simple_get_property;
    gc->finalize = simple_finalize;
    USER_OBJECT_CLASS(klass)->description =
        "authorization: exactly one identity";
    AUTHZ_BASE_CLASS(klass)->is_allowed = simple_is_allowed;
    g_object_class_install_property(gc, 1,
        prop_str("identity", "the one identity allowed (an x509 "
                 "distinguished name or a PSK username)", NULL,
                 PROP_REQUIRED));
}

static void authz_simple_init(AuthzSimple *s)
{
}

/* --- authz-list ------------------------------------------------------------ */

#define TYPE_AUTHZ_LIST (authz_list_get_type())
G_DECLARE_FINAL_TYPE(AuthzList, authz_list, AUTHZ, LIST, Authz)

typedef struct {
    char *match;
    char *policy;             /* "allow" / "deny" (NULL: allow) */
    char *format;             /* "exact" / "glob" (NULL: exact) */
    gboolean allow, glob;     /* parsed at complete */
} AuthzRule;

struct _AuthzList {
    Authz parent_instance;
    char *policy;             /* default: deny */
    gboolean allow_default;
    AuthzRule rules[AUTHZ_LIST_MAX_RULES];
    guint n_rules;
};

G_DEFINE_TYPE(AuthzList, authz_list, TYPE_AUTHZ)

/* Property ids: 1 = policy, then three per rule slot. */
#define LIST_PROP_POLICY 1
#define LIST_PROP_RULE0 2

static gboolean list_is_allowed(Authz *a, const char *identity)
{
    AuthzList *l = AUTHZ_LIST(a);

    for (guint i = 0; i < l->n_rules; i++) {
        AuthzRule *r = &l->rules[i];

        if (r->glob ? g_pattern_match_simple(r->match, identity)
                    : strcmp(r->match, identity) == 0) {
            return r->allow;
        }
    }
    return l->allow_default;
}

/* "allow" -> TRUE, "deny" -> FALSE; else an error naming 'key'. */
static gboolean list_policy(const char *v, const char *key, gboolean *out,
                            GError **errp)
{
    if (!v || g_str_equal(v, "allow")) {
        *out = TRUE;
    } else if (g_str_equal(v, "deny")) {
        *out = FALSE;
    } else {
        error_setg(errp, "Parameter '%s' does not accept value '%s'", key, v);
        return FALSE;
    }
    return TRUE;
}

static gboolean list_complete(UserObject *obj, GError **errp)
{
    AuthzList *l = AUTHZ_LIST(obj);
    gboolean gap = FALSE;

    if (!list_policy(l->policy ? l->policy : "deny", "policy",
                     &l->allow_default, errp)) {
        return FALSE;
    }
    l->n_rules = 0;
    for (guint i = 0; i < AUTHZ_LIST_MAX_RULES; i++) {
        AuthzRule *r = &l->rules[i];
        g_autofree char *key = g_strdup_printf("rules.%u.policy", i);

        if (!r->match) {
            if (r->policy || r->format) {
                error_setg(errp, "Parameter 'rules.%u.match' is missing", i);
                return FALSE;
            }
            gap = TRUE;
            continue;
        }
        if (gap) {
            error_setg(errp, "Parameter 'rules.%u' is missing", i - 1);
            return FALSE;
        }
        if (!list_policy(r->policy, key, &r->allow, errp)) {
            return FALSE;
        }
        if (!r->format || g_str_equal(r->format, "exact")) {
            r->glob = FALSE;
        } else if (g_str_equal(r->format, "glob")) {
            r->glob = TRUE;
        } else {
            error_setg(errp, "Parameter 'rules.%u.format' does not accept "
                       "value '%s'", i, r->format);
            return FALSE;
        }
        l->n_rules = i + 1;
    }
    return TRUE;
}

static char **list_slot(AuthzList *l, guint id)
{
    guint k = id - LIST_PROP_RULE0;
    AuthzRule *r = &l->rules[k / 3];

    return k % 3 == 0 ? &r->match : k % 3 == 1 ? &r->policy : &r->format;
}

static void list_set_property(GObject *gobj, guint id, const GValue *v,
                              GParamSpec *pspec)
{
    AuthzList *l = AUTHZ_LIST(gobj);
    char **slot = id == LIST_PROP_POLICY ? &l->policy : list_slot(l, id);

    g_free(*slot);
    *slot = g_value_dup_string(v);
}

static void list_get_property(GObject *gobj, guint id, GValue *v,
                              GParamSpec *pspec)
{
    AuthzList *l = AUTHZ_LIST(gobj);

    g_value_set_string(v, id == LIST_PROP_POLICY ? l->policy
                                                 : *list_slot(l, id));
}

static void list_finalize(GObject *gobj)
{
    AuthzList *l = AUTHZ_LIST(gobj);

    g_free(l->policy);
    for (guint i = 0; i < AUTHZ_LIST_MAX_RULES; i++) {
        g_free(l->rules[i].match);
        g_free(l->rules[i].policy);
        g_free(l->rules[i].format);
    }
    G_OBJECT_CLASS(authz_list_parent_class)->finalize(gobj);
}

static void authz_list_class_init(AuthzListClass *klass)
{
    GObjectClass *gc = G_OBJECT_CLASS(klass);
    static const char *const what[3] = {
        "identity (or glob pattern) the rule matches",
        "allow or deny (default allow)",
        "exact or glob (default exact)",
    };
    static const char *const field[3] = { "match", "policy", "format" };

    gc->set_property = list_set_property;
    gc->get_property = list_get_property;
    gc->finalize = list_finalize;
    USER_OBJECT_CLASS(klass)->description =
        "authorization: an ordered list of rules and a default policy";
    USER_OBJECT_CLASS(klass)->complete = list_complete;
    AUTHZ_BASE_CLASS(klass)->is_allowed = list_is_allowed;
    g_object_class_install_property(gc, LIST_PROP_POLICY,
        prop_str("policy", "allow or deny when no rule matches", "deny", 0));
    for (guint i = 0; i < AUTHZ_LIST_MAX_RULES; i++) {
        for (guint f = 0; f < 3; f++) {
            g_autofree char *name = g_strdup_printf("rules.%u.%s", i,
                                                    field[f]);
            g_autofree char *desc = g_strdup_printf("rule %u: %s", i,
                                                    what[f]);

            g_object_class_install_property(gc, LIST_PROP_RULE0 + i * 3 + f,
                prop_str(name, desc, NULL, 0));
        }
    }
}

static void authz_list_init(AuthzList *l)
{
}

static void authz_register(void)
{
    object_type_register(OBJECT_KIND_OBJECT, "authz-simple",
                         TYPE_AUTHZ_SIMPLE);
    object_type_register(OBJECT_KIND_OBJECT, "authz-list", TYPE_AUTHZ_LIST);
}
type_init(authz_register)
