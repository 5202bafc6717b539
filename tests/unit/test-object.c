/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tests/unit/test-object.c - qom/object.c and qom/help.c: type and object
 * registries, property parsing for every supported type, errors, required
 * and runtime properties, use counts, deletion order and help text.
 *
 * Two small types are defined here: "test-obj" (one property of each
 * supported value type, a check_property hook, complete() that can be told
 * to fail) and "test-user" (uses a test-obj through ref_use).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check-main.h"
#include "qom/object.h"
#include "util/error.h"

/* --- an enum --- */

typedef enum { TEST_DIR_RX, TEST_DIR_TX, TEST_DIR_ALL } TestDir;

static GType test_dir_get_type(void)
{
    static gsize type;
    static const GEnumValue values[] = {
        { TEST_DIR_RX, "TEST_DIR_RX", "rx" },
        { TEST_DIR_TX, "TEST_DIR_TX", "tx" },
        { TEST_DIR_ALL, "TEST_DIR_ALL", "all" },
        { 0, NULL, NULL },
    };

    if (g_once_init_enter(&type)) {
        g_once_init_leave(&type, g_enum_register_static("TestDirection",
                                                        values));
    }
    return type;
}

/* --- test-obj --- */

#define TEST_TYPE_OBJ (test_obj_get_type())
G_DECLARE_FINAL_TYPE(TestObj, test_obj, TEST, OBJ, UserObject)

struct _TestObj {
    UserObject parent_instance;
    gboolean flag;
    gint i32;
    guint u32;
    gint64 i64;
    guint64 u64;
    char *str;
    char *dotted;
    char *req;
    gint dir;
    guint rt;
    guint co;                 /* construct-only */
};

G_DEFINE_TYPE(TestObj, test_obj, USER_TYPE_OBJECT)

enum {
    P_0, P_FLAG, P_I32, P_U32, P_I64, P_U64, P_STR, P_DOTTED, P_REQ, P_DIR,
    P_RT, P_CO, P_N
};

static int completes;            /* complete() calls */
static int finalizes;            /* finalize() calls */
static int unparents;            /* unparent() calls */
static GString *unparent_log;    /* ids in unparent order */

static void test_obj_set(GObject *o, guint id, const GValue *v, GParamSpec *ps)
{
    TestObj *t = TEST_OBJ(o);

    switch (id) {
    case P_FLAG: t->flag = g_value_get_boolean(v); break;
    case P_I32: t->i32 = g_value_get_int(v); break;
    case P_U32: t->u32 = g_value_get_uint(v); break;
    case P_I64: t->i64 = g_value_get_int64(v); break;
    case P_U64: t->u64 = g_value_get_uint64(v); break;
    case P_STR: g_free(t->str); t->str = g_value_dup_string(v); break;
    case P_DOTTED: g_free(t->dotted); t->dotted = g_value_dup_string(v); break;
    case P_REQ: g_free(t->req); t->req = g_value_dup_string(v); break;
    case P_DIR: t->dir = g_value_get_enum(v); break;
    case P_RT: t->rt = g_value_get_uint(v); break;
    case P_CO: t->co = g_value_get_uint(v); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID(o, id, ps);
    }
}

static void test_obj_get(GObject *o, guint id, GValue *v, GParamSpec *ps)
{
    TestObj *t = TEST_OBJ(o);

    switch (id) {
    case P_FLAG: g_value_set_boolean(v, t->flag); break;
    case P_I32: g_value_set_int(v, t->i32); break;
    case P_U32: g_value_set_uint(v, t->u32); break;
    case P_I64: g_value_set_int64(v, t->i64); break;
    case P_U64: g_value_set_uint64(v, t->u64); break;
    case P_STR: g_value_set_string(v, t->str); break;
    case P_DOTTED: g_value_set_string(v, t->dotted); break;
    case P_REQ: g_value_set_string(v, t->req); break;
    case P_DIR: g_value_set_enum(v, t->dir); break;
    case P_RT: g_value_set_uint(v, t->rt); break;
    case P_CO: g_value_set_uint(v, t->co); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID(o, id, ps);
    }
}

static gboolean test_obj_complete(UserObject *obj, GError **errp)
{
    TestObj *t = TEST_OBJ(obj);

    completes++;
    if (g_strcmp0(t->str, "fail") == 0) {
        error_setg(errp, "complete failed on purpose");
        return FALSE;
    }
    return TRUE;
}

static gboolean test_obj_check(UserObject *obj, GParamSpec *pspec,
                               const GValue *value, GError **errp)
{
    if (strcmp(pspec->name, "str") == 0 &&
        g_strcmp0(g_value_get_string(value), "bad") == 0) {
        error_setg(errp, "str must not be 'bad'");
        return FALSE;
    }
    return TRUE;
}

static void test_obj_unparent(UserObject *obj)
{
    unparents++;
    g_string_append_printf(unparent_log, "%s ", user_object_get_id(obj));
}

static void test_obj_finalize(GObject *o)
{
    TestObj *t = TEST_OBJ(o);

    finalizes++;
    g_free(t->str);
    g_free(t->dotted);
    g_free(t->req);
    G_OBJECT_CLASS(test_obj_parent_class)->finalize(o);
}

static void test_obj_class_init(TestObjClass *klass)
{
    GObjectClass *oc = G_OBJECT_CLASS(klass);
    UserObjectClass *uc = USER_OBJECT_CLASS(klass);
    GParamSpec *p[P_N] = { NULL };

    oc->set_property = test_obj_set;
    oc->get_property = test_obj_get;
    oc->finalize = test_obj_finalize;
    uc->description = "an object for tests";
    uc->complete = test_obj_complete;
    uc->check_property = test_obj_check;
    uc->unparent = test_obj_unparent;

    p[P_FLAG] = prop_bool("vnet_hdr_support", "a flag", FALSE, 0);
    p[P_I32] = prop_int("i32", "an int", -10, 10, 1, 0);
    p[P_U32] = prop_uint("u32", "a uint", 0, 1000, 100, 0);
    p[P_I64] = prop_int64("i64", "an int64", G_MININT64, G_MAXINT64, -5, 0);
    p[P_U64] = prop_uint64("u64", "a uint64", 0, G_MAXUINT64, 7, 0);
    p[P_STR] = prop_str("str", "a string", "dflt", 0);
    p[P_DOTTED] = prop_str("addr.path", "a dotted key", NULL, 0);
    p[P_REQ] = prop_str("req", "required", NULL, PROP_REQUIRED);
    p[P_DIR] = prop_enum("queue", "direction", test_dir_get_type(),
                         TEST_DIR_ALL, 0);
    p[P_RT] = prop_uint("rt", "runtime", 0, 100, 0, PROP_RUNTIME);
    p[P_CO] = prop_uint("co_only", "construct-only", 0, 10, 3,
                        G_PARAM_CONSTRUCT_ONLY);
    g_object_class_install_properties(oc, P_N, p);
}

static void test_obj_init(TestObj *t)
{
    t->i32 = 1;
    t->u32 = 100;
    t->i64 = -5;
    t->u64 = 7;
    t->str = g_strdup("dflt");
    t->dir = TEST_DIR_ALL;
}

/* --- test-user: a type without properties or hooks --- */

#define TEST_TYPE_USER (test_user_get_type())
G_DECLARE_FINAL_TYPE(TestUser, test_user, TEST, USER, UserObject)
struct _TestUser {
    UserObject parent_instance;
};
G_DEFINE_TYPE(TestUser, test_user, USER_TYPE_OBJECT)
static void test_user_class_init(TestUserClass *klass) { }
static void test_user_init(TestUser *u) { }

static void test_register(void)
{
    object_type_register(OBJECT_KIND_OBJECT, "test-obj", TEST_TYPE_OBJ);
    object_type_register(OBJECT_KIND_OBJECT, "test-user", TEST_TYPE_USER);
    object_type_register(OBJECT_KIND_NETDEV, "test-net", TEST_TYPE_USER);
    object_type_register(OBJECT_KIND_CHARDEV, "test-chr", TEST_TYPE_USER);
    object_type_register(OBJECT_KIND_DEVICE, "test-dev", TEST_TYPE_USER);
}
type_init(test_register)

static void setup(void)
{
    completes = finalizes = unparents = 0;
    unparent_log = g_string_new(NULL);
}

static void teardown(void)
{
    user_object_delete_all();
    g_string_free(unparent_log, TRUE);
}

static UserObject *opts_ok(ObjectKind kind, const char *opts)
{
    g_autoptr(GError) err = NULL;
    UserObject *o = user_object_create_from_opts(kind, opts, NULL, &err);

    ck_assert_msg(o != NULL, "'%s': %s", opts, err ? err->message : "?");
    return o;
}

static char *opts_err(ObjectKind kind, const char *opts)
{
    GError *err = NULL;
    UserObject *o = user_object_create_from_opts(kind, opts, NULL, &err);
    char *m;

    ck_assert_msg(o == NULL, "'%s' should fail", opts);
    ck_assert(err != NULL);
    m = g_strdup(err->message);
    g_error_free(err);
    return m;
}

/* --- tests --- */

START_TEST(test_types)
{
    g_autoptr(GList) l = object_type_list(OBJECT_KIND_OBJECT);

    ck_assert(object_type_lookup(OBJECT_KIND_OBJECT, "test-obj") == TEST_TYPE_OBJ);
    ck_assert(object_type_lookup(OBJECT_KIND_NETDEV, "test-obj") == G_TYPE_INVALID);
    ck_assert(object_type_lookup(OBJECT_KIND_NETDEV, "test-net") == TEST_TYPE_USER);
    ck_assert(object_type_lookup(OBJECT_KIND_OBJECT, NULL) == G_TYPE_INVALID);
    ck_assert(g_list_find_custom(l, "test-obj", (GCompareFunc)strcmp));
    ck_assert(g_list_find_custom(l, "test-user", (GCompareFunc)strcmp));
    for (GList *i = l; i && i->next; i = i->next) {
        ck_assert(strcmp(i->data, i->next->data) < 0);
    }
    ck_assert_str_eq(object_type_registered_name(TEST_TYPE_OBJ, NULL), "test-obj");
    ck_assert_str_eq(object_kind_type_key(OBJECT_KIND_OBJECT), "qom-type");
    ck_assert_str_eq(object_kind_type_key(OBJECT_KIND_NETDEV), "type");
    ck_assert_str_eq(object_kind_type_key(OBJECT_KIND_CHARDEV), "type");
    ck_assert_str_eq(object_kind_type_key(OBJECT_KIND_DEVICE), "driver");
}
END_TEST

START_TEST(test_create_all_types)
{
    UserObject *o = opts_ok(OBJECT_KIND_OBJECT,
        "test-obj,id=t0,req=r,vnet_hdr_support=on,i32=-10,u32=1000,"
        "i64=-9223372036854775808,u64=18446744073709551615,str=a,,b,"
        "addr.path=/tmp/x,queue=tx");
    TestObj *t = TEST_OBJ(o);

    ck_assert(user_object_is_complete(o));
    ck_assert_str_eq(user_object_get_id(o), "t0");
    ck_assert_str_eq(user_object_get_type_name(o), "test-obj");
    ck_assert_int_eq(user_object_get_kind(o), OBJECT_KIND_OBJECT);
    ck_assert(t->flag);
    ck_assert_int_eq(t->i32, -10);
    ck_assert_uint_eq(t->u32, 1000);
    ck_assert(t->i64 == G_MININT64);
    ck_assert(t->u64 == G_MAXUINT64);
    ck_assert_str_eq(t->str, "a,b");
    ck_assert_str_eq(t->dotted, "/tmp/x");
    ck_assert_int_eq(t->dir, TEST_DIR_TX);
    ck_assert_int_eq(completes, 1);
    ck_assert_ptr_eq(user_object_find(OBJECT_KIND_OBJECT, "t0"), o);
    ck_assert_ptr_null(user_object_find(OBJECT_KIND_NETDEV, "t0"));

    /* canonical spellings are accepted too */
    UserObject *o2 = opts_ok(OBJECT_KIND_OBJECT,
        "test-obj,id=t1,req=r,vnet-hdr-support=yes,addr-path=/y");
    ck_assert(TEST_OBJ(o2)->flag);
    ck_assert_str_eq(TEST_OBJ(o2)->dotted, "/y");

    /* defaults untouched */
    ck_assert_int_eq(TEST_OBJ(o2)->i32, 1);
    ck_assert_int_eq(TEST_OBJ(o2)->dir, TEST_DIR_ALL);
}
END_TEST

START_TEST(test_get_str)
{
    UserObject *o = opts_ok(OBJECT_KIND_OBJECT,
        "test-obj,id=t0,req=r,vnet_hdr_support=on,u64=42,queue=rx");
    g_autofree char *b = user_object_get_str(o, "vnet_hdr_support", NULL);
    g_autofree char *u = user_object_get_str(o, "u64", NULL);
    g_autofree char *q = user_object_get_str(o, "queue", NULL);
    g_autofree char *s = user_object_get_str(o, "str", NULL);
    g_autofree char *d = user_object_get_str(o, "addr.path", NULL);
    g_autofree char *i = user_object_get_str(o, "i64", NULL);
    GError *err = NULL;

    ck_assert_str_eq(b, "on");
    ck_assert_str_eq(u, "42");
    ck_assert_str_eq(q, "rx");
    ck_assert_str_eq(s, "dflt");
    ck_assert_str_eq(d, "");
    ck_assert_str_eq(i, "-5");
    ck_assert_ptr_null(user_object_get_str(o, "nope", &err));
    ck_assert_str_eq(err->message, "Property 'test-obj.nope' not found "
                     "('-object test-obj,help' lists the properties)");
    g_error_free(err);
}
END_TEST

static void check_create_error(const char *opts, const char *expect)
{
    g_autofree char *m = opts_err(OBJECT_KIND_OBJECT, opts);

    ck_assert_msg(strcmp(m, expect) == 0, "'%s': got '%s', want '%s'",
                  opts, m, expect);
}

START_TEST(test_create_errors)
{
    check_create_error("test-obj,id=e,req=r,vnet_hdr_support=maybe",
                       "Parameter 'vnet_hdr_support' expects 'on' or 'off'");
    check_create_error("test-obj,id=e,req=r,nosuch=1",
                       "Property 'test-obj.nosuch' not found "
                       "('-object test-obj,help' lists the properties)");
    check_create_error("test-obj,id=e,req=r,vnet_hdr_suport=on",
                       "Property 'test-obj.vnet_hdr_suport' not found (did "
                       "you mean 'vnet_hdr_support'?)");
    check_create_error("test-obj,id=e", "Parameter 'req' is missing");
    check_create_error("test-obj,id=e,req=r,i32=11",
                       "Parameter 'i32' expects a number between -10 and 10");
    check_create_error("test-obj,id=e,req=r,i32=x",
                       "Parameter 'i32' expects a number between -10 and 10");
    check_create_error("test-obj,id=e,req=r,u32=-1",
                       "Parameter 'u32' expects a number between 0 and 1000");
    check_create_error("test-obj,id=e,req=r,u32=1001",
                       "Parameter 'u32' expects a number between 0 and 1000");
    check_create_error("test-obj,id=e,req=r,u64=18446744073709551616",
                       "Parameter 'u64' expects a non-negative number below 2^64");
    check_create_error("test-obj,id=e,req=r,queue=up",
                       "Parameter 'queue' does not accept value 'up' "
                       "(expected rx, tx or all)");
    check_create_error("test-obj,id=e,req=r,str=bad", "str must not be 'bad'");
    check_create_error("test-obj,id=e,req=r,str=fail",
                       "complete failed on purpose");
    check_create_error("test-obj,req=r", "Parameter 'id' is missing");
    check_create_error("id=e", "Parameter 'qom-type' is missing");
    check_create_error("no-such-type,id=e", "invalid object type: "
                       "no-such-type ('-object help' lists them)");
    check_create_error("test-ojb,id=e", "invalid object type: test-ojb "
                       "(did you mean 'test-obj'?)");
    check_create_error("test-obj,id=1e,req=r",
                       "Parameter 'id' expects an identifier: letters, "
                       "digits, '-', '.', '_', starting with a letter (got "
                       "'1e')");
    check_create_error("test-obj,id=e,a..b=1", "Invalid parameter 'a..b'");

    /* nothing was left behind; every failed object was finalized */
    ck_assert_ptr_null(user_object_find(OBJECT_KIND_OBJECT, "e"));
    ck_assert_ptr_null(user_object_list(OBJECT_KIND_OBJECT));
    ck_assert_int_eq(finalizes, 12);
    ck_assert_int_eq(unparents, 0);
}
END_TEST

START_TEST(test_duplicate_and_namespaces)
{
    opts_ok(OBJECT_KIND_OBJECT, "test-user,id=x");
    g_autofree char *m = opts_err(OBJECT_KIND_OBJECT, "test-user,id=x");
    ck_assert_str_eq(m, "Duplicate ID 'x' for object");
    /* other kinds have their own namespace */
    opts_ok(OBJECT_KIND_NETDEV, "test-net,id=x");
    opts_ok(OBJECT_KIND_CHARDEV, "test-chr,id=x");
    opts_ok(OBJECT_KIND_DEVICE, "test-dev,id=x");
    g_autofree char *m2 = opts_err(OBJECT_KIND_NETDEV, "test-net,id=x");
    ck_assert_str_eq(m2, "Duplicate ID 'x' for netdev");
    /* -device without id gets an anonymous one */
    UserObject *d = opts_ok(OBJECT_KIND_DEVICE, "test-dev");
    ck_assert(g_str_has_prefix(user_object_get_id(d), "device["));
    g_autofree char *m3 = opts_err(OBJECT_KIND_NETDEV, "test-obj,id=y");
    ck_assert_ptr_nonnull(strstr(m3, "netdev backend type"));
    g_autofree char *m4 = opts_err(OBJECT_KIND_CHARDEV, "nope,id=y");
    ck_assert_str_eq(m4, "'nope' is not a valid char driver name "
                     "('-chardev help' lists them)");

    g_autoptr(GList) l = user_object_list(OBJECT_KIND_DEVICE);
    ck_assert_uint_eq(g_list_length(l), 2);
}
END_TEST

START_TEST(test_create_api)
{
    g_autoptr(GHashTable) props = g_hash_table_new(g_str_hash, g_str_equal);
    GError *err = NULL;
    UserObject *o;

    g_hash_table_insert(props, "req", "r");
    g_hash_table_insert(props, "i32", "5");
    o = user_object_create(OBJECT_KIND_OBJECT, "test-obj", "api", props, &err);
    ck_assert_ptr_nonnull(o);
    ck_assert_int_eq(TEST_OBJ(o)->i32, 5);
    ck_assert_ptr_null(user_object_create(OBJECT_KIND_OBJECT, "test-user",
                                          NULL, NULL, &err));
    ck_assert_str_eq(err->message, "Parameter 'id' is missing");
    g_clear_error(&err);
    ck_assert_ptr_nonnull(user_object_create(OBJECT_KIND_OBJECT, "test-user",
                                             "u", NULL, NULL));
}
END_TEST

START_TEST(test_runtime_props)
{
    UserObject *o = opts_ok(OBJECT_KIND_OBJECT, "test-obj,id=t,req=r");
    GError *err = NULL;
    GValue v = G_VALUE_INIT;

    ck_assert(user_object_set_str(o, "rt", "42", &err));
    ck_assert_uint_eq(TEST_OBJ(o)->rt, 42);
    ck_assert(!user_object_set_str(o, "rt", "101", &err));
    ck_assert_str_eq(err->message, "Parameter 'rt' expects a number between 0 and 100");
    g_clear_error(&err);
    ck_assert(!user_object_set_str(o, "i32", "2", &err));
    ck_assert_str_eq(err->message,
                     "Property 'i32' cannot be changed after the object is created");
    g_clear_error(&err);
    ck_assert_int_eq(TEST_OBJ(o)->i32, 1);
    ck_assert(!user_object_set_str(o, "zz", "2", &err));
    g_clear_error(&err);

    g_value_init(&v, G_TYPE_UINT);
    g_value_set_uint(&v, 7);
    ck_assert(user_object_set_value(o, "rt", &v, &err));
    ck_assert_uint_eq(TEST_OBJ(o)->rt, 7);
    g_value_set_uint(&v, 700);
    ck_assert(!user_object_set_value(o, "rt", &v, &err));
    g_clear_error(&err);
    ck_assert_uint_eq(TEST_OBJ(o)->rt, 7);
    g_value_unset(&v);
    g_value_init(&v, G_TYPE_INT64);     /* transformable */
    g_value_set_int64(&v, 9);
    ck_assert(user_object_set_value(o, "rt", &v, &err));
    ck_assert_uint_eq(TEST_OBJ(o)->rt, 9);
    g_value_unset(&v);
    g_value_init(&v, G_TYPE_UINT);
    ck_assert(!user_object_set_value(o, "i32", &v, &err));
    g_clear_error(&err);
    g_value_unset(&v);
}
END_TEST

START_TEST(test_construct_only)
{
    UserObject *o = opts_ok(OBJECT_KIND_OBJECT, "test-obj,id=c,req=r,co_only=9");
    GError *err = NULL;

    ck_assert_uint_eq(TEST_OBJ(o)->co, 9);
    ck_assert(!user_object_set_str(o, "co_only", "2", &err));
    ck_assert_str_eq(err->message, "Property 'test-obj.co_only' is read-only");
    g_clear_error(&err);
    o = opts_ok(OBJECT_KIND_OBJECT, "test-obj,id=d,req=r");
    ck_assert_uint_eq(TEST_OBJ(o)->co, 3);
    ck_assert_ptr_null(user_object_create_from_opts(
        OBJECT_KIND_OBJECT, "test-obj,id=e,req=r,co_only=11", NULL, &err));
    ck_assert_str_eq(err->message,
                     "Parameter 'co_only' expects a number between 0 and 10");
    g_clear_error(&err);
    ck_assert_ptr_null(user_object_find(OBJECT_KIND_OBJECT, "e"));
}
END_TEST

START_TEST(test_use_counts)
{
    UserObject *a = opts_ok(OBJECT_KIND_OBJECT, "test-user,id=a");
    GError *err = NULL;

    user_object_ref_use(a, "comp0");
    user_object_ref_use(a, "comp0");
    ck_assert_uint_eq(user_object_use_count(a), 2);
    ck_assert(!user_object_delete(OBJECT_KIND_OBJECT, "a", &err));
    ck_assert_str_eq(err->message, "object 'a' is in use by 'comp0'");
    g_clear_error(&err);
    user_object_unref_use(a, "comp0");
    ck_assert(!user_object_delete(OBJECT_KIND_OBJECT, "a", NULL));
    user_object_unref_use(a, "comp0");
    user_object_unref_use(a, "comp0");      /* extra: harmless */
    ck_assert_uint_eq(user_object_use_count(a), 0);
    ck_assert(user_object_delete(OBJECT_KIND_OBJECT, "a", &err));
    ck_assert_ptr_null(user_object_find(OBJECT_KIND_OBJECT, "a"));

    ck_assert(!user_object_delete(OBJECT_KIND_OBJECT, "a", &err));
    ck_assert_str_eq(err->message, "object 'a' not found");
    g_clear_error(&err);
    ck_assert(!user_object_delete(OBJECT_KIND_NETDEV, "a", &err));
    ck_assert(g_error_matches(err, UTIL_ERROR, UTIL_ERROR_DEVICE_NOT_FOUND));
    g_clear_error(&err);
}
END_TEST

START_TEST(test_find_typed)
{
    opts_ok(OBJECT_KIND_OBJECT, "test-user,id=u");
    opts_ok(OBJECT_KIND_OBJECT, "test-obj,id=o,req=x");
    GError *err = NULL;

    ck_assert_ptr_nonnull(user_object_find_typed(OBJECT_KIND_OBJECT, "o",
                                                 TEST_TYPE_OBJ, NULL));
    ck_assert_ptr_null(user_object_find_typed(OBJECT_KIND_OBJECT, "u",
                                              TEST_TYPE_OBJ, &err));
    ck_assert_str_eq(err->message, "'u' is not a test-obj");
    g_clear_error(&err);
    ck_assert_ptr_null(user_object_find_typed(OBJECT_KIND_OBJECT, "zz",
                                              TEST_TYPE_OBJ, &err));
    ck_assert(g_error_matches(err, UTIL_ERROR, UTIL_ERROR_DEVICE_NOT_FOUND));
    ck_assert_str_eq(err->message, "Device 'zz' not found");
    g_clear_error(&err);
}
END_TEST

START_TEST(test_delete_all_order)
{
    UserObject *a, *c;

    a = opts_ok(OBJECT_KIND_OBJECT, "test-obj,id=a,req=x");
    opts_ok(OBJECT_KIND_CHARDEV, "test-chr,id=chr");
    opts_ok(OBJECT_KIND_OBJECT, "test-obj,id=b,req=x");
    c = opts_ok(OBJECT_KIND_OBJECT, "test-obj,id=c,req=x");
    /* c is in use by a (older): c must be deleted after a */
    user_object_ref_use(c, "a");
    g_object_ref(c);
    g_object_ref(a);
    user_object_delete_all();
    ck_assert_str_eq(unparent_log->str, "b a c ");
    /* a never released c (its unparent does not unref_use): c is removed
     * anyway, last, with a warning */
    ck_assert_ptr_null(user_object_find(OBJECT_KIND_OBJECT, "c"));
    ck_assert_ptr_null(user_object_find(OBJECT_KIND_CHARDEV, "chr"));
    ck_assert_int_eq(unparents, 3);
    g_object_unref(c);
    g_object_unref(a);
    g_autoptr(GList) l = user_object_list(OBJECT_KIND_OBJECT);
    ck_assert_ptr_null(l);
}
END_TEST

START_TEST(test_creation_order)
{
    opts_ok(OBJECT_KIND_OBJECT, "test-user,id=z");
    opts_ok(OBJECT_KIND_OBJECT, "test-user,id=a");
    opts_ok(OBJECT_KIND_OBJECT, "test-user,id=m");
    g_autoptr(GList) l = user_object_list(OBJECT_KIND_OBJECT);

    ck_assert_uint_eq(g_list_length(l), 3);
    ck_assert_str_eq(user_object_get_id(l->data), "z");
    ck_assert_str_eq(user_object_get_id(l->next->data), "a");
    ck_assert_str_eq(user_object_get_id(l->next->next->data), "m");
}
END_TEST

START_TEST(test_property_introspection)
{
    GObjectClass *k = g_type_class_ref(TEST_TYPE_OBJ);
    GParamSpec *p = object_class_find_user_property(k, "vnet_hdr_support");

    ck_assert_ptr_nonnull(p);
    ck_assert_str_eq(p->name, "vnet-hdr-support");
    ck_assert_str_eq(object_property_user_name(p), "vnet_hdr_support");
    ck_assert_str_eq(object_property_type_name(p), "bool");
    ck_assert_ptr_eq(object_class_find_user_property(k, "vnet-hdr-support"), p);
    ck_assert_ptr_null(object_class_find_user_property(k, "nope"));
    ck_assert_ptr_null(object_class_find_user_property(k, ""));
    ck_assert_ptr_null(object_class_find_user_property(k, "9x"));
    p = object_class_find_user_property(k, "addr.path");
    ck_assert_str_eq(object_property_user_name(p), "addr.path");
    ck_assert_str_eq(object_property_type_name(p), "str");
    ck_assert_str_eq(object_property_type_name(
                         object_class_find_user_property(k, "i32")), "int32");
    ck_assert_str_eq(object_property_type_name(
                         object_class_find_user_property(k, "u32")), "uint32");
    ck_assert_str_eq(object_property_type_name(
                         object_class_find_user_property(k, "i64")), "int64");
    ck_assert_str_eq(object_property_type_name(
                         object_class_find_user_property(k, "u64")), "uint64");
    ck_assert_str_eq(object_property_type_name(
                         object_class_find_user_property(k, "queue")),
                     "TestDirection");
    g_autofree char *d1 = object_property_default_str(
        object_class_find_user_property(k, "queue"));
    ck_assert_str_eq(d1, "all");
    g_autofree char *d2 = object_property_default_str(
        object_class_find_user_property(k, "vnet_hdr_support"));
    ck_assert_str_eq(d2, "off");
    ck_assert_ptr_null(object_property_default_str(
        object_class_find_user_property(k, "addr.path")));
    g_type_class_unref(k);
}
END_TEST

START_TEST(test_help)
{
    g_autofree char *list = object_type_help_text(OBJECT_KIND_OBJECT, NULL, NULL);
    g_autofree char *h = object_type_help_text(OBJECT_KIND_OBJECT, "test-obj", NULL);
    g_autofree char *h2 = object_type_help_text(OBJECT_KIND_OBJECT, "test-user", NULL);
    g_autofree char *nl = object_type_help_text(OBJECT_KIND_NETDEV, NULL, NULL);
    GError *err = NULL;
    gboolean printed = FALSE;

    ck_assert(g_str_has_prefix(list, "List of user creatable objects:\n"));
    ck_assert_ptr_nonnull(strstr(list, "\n  test-obj "));
    ck_assert_ptr_nonnull(strstr(list, "an object for tests"));
    ck_assert_ptr_nonnull(strstr(list, "\n  test-user\n"));
    ck_assert(g_str_has_prefix(nl, "Available netdev backend types:\n"));
    ck_assert(g_str_has_prefix(h, "test-obj options:\n"));
    ck_assert_ptr_nonnull(strstr(h, "\n  vnet_hdr_support=<bool> - a flag (default: off)\n"));
    ck_assert_ptr_nonnull(strstr(h, "\n  queue=<TestDirection>  - direction (default: all)\n"));
    ck_assert_ptr_nonnull(strstr(h, "\n  addr.path=<str>        - a dotted key\n"));
    ck_assert_ptr_nonnull(strstr(h, "\n  req=<str>              - required (required)\n"));
    ck_assert_str_eq(h2, "There are no options for test-user.\n");
    ck_assert_ptr_null(object_type_help_text(OBJECT_KIND_OBJECT, "nope", &err));
    ck_assert_str_eq(err->message, "invalid object type: nope "
                     "('-object help' lists them)");
    g_clear_error(&err);

    /* through create_from_opts: no object is created */
    ck_assert_ptr_null(user_object_create_from_opts(OBJECT_KIND_OBJECT,
                                                    "test-obj,help", &printed,
                                                    &err));
    ck_assert(printed);
    ck_assert_ptr_null(err);
    ck_assert_int_eq(completes, 0);
    printed = FALSE;
    ck_assert_ptr_null(user_object_create_from_opts(OBJECT_KIND_OBJECT, "help",
                                                    &printed, &err));
    ck_assert(printed);
    ck_assert_ptr_null(user_object_create_from_opts(OBJECT_KIND_OBJECT,
                                                    "nope,help", &printed,
                                                    &err));
    ck_assert(!printed);
    ck_assert_ptr_nonnull(err);
    g_clear_error(&err);
}
END_TEST

/* Introspecting every registered type of every kind never creates or
 * completes an object and never crashes. */
START_TEST(test_help_every_type)
{
    for (int k = 0; k < OBJECT_KIND__MAX; k++) {
        g_autoptr(GList) l = object_type_list(k);

        for (GList *i = l; i; i = i->next) {
            g_autofree char *h = object_type_help_text(k, i->data, NULL);
            ck_assert_ptr_nonnull(h);
        }
    }
    ck_assert_int_eq(completes, 0);
}
END_TEST

static Suite *object_suite(void)
{
    Suite *s = suite_create("qom/object");
    TCase *tc = tcase_create("object");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_types);
    tcase_add_test(tc, test_create_all_types);
    tcase_add_test(tc, test_get_str);
    tcase_add_test(tc, test_create_errors);
    tcase_add_test(tc, test_duplicate_and_namespaces);
    tcase_add_test(tc, test_create_api);
    tcase_add_test(tc, test_runtime_props);
    tcase_add_test(tc, test_construct_only);
    tcase_add_test(tc, test_use_counts);
    tcase_add_test(tc, test_find_typed);
    tcase_add_test(tc, test_delete_all_order);
    tcase_add_test(tc, test_creation_order);
    tcase_add_test(tc, test_property_introspection);
    tcase_add_test(tc, test_help);
    tcase_add_test(tc, test_help_every_type);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return check_run(object_suite());
}
