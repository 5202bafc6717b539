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

#include "qom/props.h"
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

static const PropDef authz_simple_props[] = {
    DEFINE_PROP_STR("identity", AuthzSimple, identity, NULL, PROP_REQUIRED,
                    "the one identity allowed (an x509 distinguished name "
                    "or a PSK username)"),
};

static void authz_simple_class_init(AuthzSimpleClass *klass)
{
    USER_OBJECT_CLASS(klass)->description =
        "authorization: exactly one identity";
    AUTHZ_BASE_CLASS(klass)->is_allowed = simple_is_allowed;
    object_class_install_props(klass, authz_simple_props);
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

/* One row per key and slot, each naming its slot's field: the slots are
 * spelled out because a row's name and help are constant strings. */
#define LIST_RULE_PROPS(i) \
    DEFINE_PROP_STR("rules." #i ".match", AuthzList, rules[i].match, NULL, \
                    0, "rule " #i ": identity (or glob pattern) the rule " \
                    "matches"), \
    DEFINE_PROP_STR("rules." #i ".policy", AuthzList, rules[i].policy, NULL, \
                    0, "rule " #i ": allow or deny (default allow)"), \
    DEFINE_PROP_STR("rules." #i ".format", AuthzList, rules[i].format, NULL, \
                    0, "rule " #i ": exact or glob (default exact)")

static const PropDef authz_list_props[] = {
    DEFINE_PROP_STR("policy", AuthzList, policy, "deny", 0,
                    "allow or deny when no rule matches"),
    LIST_RULE_PROPS(0),
    LIST_RULE_PROPS(1),
    LIST_RULE_PROPS(2),
    LIST_RULE_PROPS(3),
    LIST_RULE_PROPS(4),
    LIST_RULE_PROPS(5),
    LIST_RULE_PROPS(6),
    LIST_RULE_PROPS(7),
    LIST_RULE_PROPS(8),
    LIST_RULE_PROPS(9),
    LIST_RULE_PROPS(10),
    LIST_RULE_PROPS(11),
    LIST_RULE_PROPS(12),
    LIST_RULE_PROPS(13),
    LIST_RULE_PROPS(14),
    LIST_RULE_PROPS(15),
};
G_STATIC_ASSERT(G_N_ELEMENTS(authz_list_props) ==
                1 + 3 * AUTHZ_LIST_MAX_RULES);

static void authz_list_class_init(AuthzListClass *klass)
{
    USER_OBJECT_CLASS(klass)->description =
        "authorization: an ordered list of rules and a default policy";
    USER_OBJECT_CLASS(klass)->complete = list_complete;
    AUTHZ_BASE_CLASS(klass)->is_allowed = list_is_allowed;
    object_class_install_props(klass, authz_list_props);
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
