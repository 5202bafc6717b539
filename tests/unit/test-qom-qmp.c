/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tests/unit/test-qom-qmp.c - qom/qom-qmp.c through the QMP dispatcher:
 * object-add (typed JSON, nested objects, QEMU 5's "props"), object-del,
 * qom-list, qom-get, qom-set, qom-list-types and qom-list-properties,
 * with their error replies.
 *
 * A small type "qt-obj" (one property of each value type) is registered as
 * an -object type and, under another GType, as a chardev backend "qt-chr",
 * so that the same id can live in two namespaces.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <json-glib/json-glib.h>

#include "check-main.h"
#include "monitor/qmp.h"
#include "qom/object.h"
#include "qom/props.h"
#include "qom/qom-qmp.h"
#include "qom/iothread.h"

/* --- test types --- */

typedef enum { QT_A, QT_B } QtEnum;

static GType qt_enum_get_type(void)
{
    static gsize type;
    static const GEnumValue values[] = {
        { QT_A, "QT_A", "alpha" },
        { QT_B, "QT_B", "beta" },
        { 0, NULL, NULL },
    };

    if (g_once_init_enter(&type)) {
        g_once_init_leave(&type, g_enum_register_static("QtEnum", values));
    }
    return type;
}

#define QT_TYPE_BASE (qt_base_get_type())
G_DECLARE_DERIVABLE_TYPE(QtBase, qt_base, QT, BASE, UserObject)
struct _QtBaseClass {
    UserObjectClass parent_class;
};
G_DEFINE_ABSTRACT_TYPE(QtBase, qt_base, USER_TYPE_OBJECT)
static void qt_base_class_init(QtBaseClass *k) { }
static void qt_base_init(QtBase *b) { }

#define QT_TYPE_OBJ (qt_obj_get_type())
G_DECLARE_FINAL_TYPE(QtObj, qt_obj, QT, OBJ, QtBase)
struct _QtObj {
    QtBase parent_instance;
    gboolean flag;
    gint i32;
    guint64 u64;
    gint64 i64;
    char *str;
    char *path;
    gint e;
    guint rt;
};
G_DEFINE_TYPE(QtObj, qt_obj, QT_TYPE_BASE)

static const PropDef qt_obj_props[] = {
    DEFINE_PROP_BOOL("vnet_hdr_support", QtObj, flag, FALSE, 0, "a flag"),
    DEFINE_PROP_INT("i32", QtObj, i32, -100, 100, 0, 0, "an int"),
    DEFINE_PROP_UINT64("u64", QtObj, u64, 0, G_MAXUINT64, 5, 0, "a uint64"),
    DEFINE_PROP_INT64("i64", QtObj, i64, G_MININT64, G_MAXINT64, 0, 0,
                      "an int64"),
    DEFINE_PROP_STR("str", QtObj, str, NULL, 0, "a string"),
    DEFINE_PROP_STR("addr.path", QtObj, path, NULL, 0, "a nested key"),
    DEFINE_PROP_ENUM("mode", QtObj, e, qt_enum_get_type, QT_A, 0, "an enum"),
    DEFINE_PROP_UINT("rt", QtObj, rt, 0, 10, 0, PROP_RUNTIME, "runtime"),
};

static void qt_obj_class_init(QtObjClass *klass)
{
    object_class_install_props(klass, qt_obj_props);
}

static void qt_obj_init(QtObj *t) { }

#define QT_TYPE_CHR (qt_chr_get_type())
G_DECLARE_FINAL_TYPE(QtChr, qt_chr, QT, CHR, UserObject)
struct _QtChr {
    UserObject parent_instance;
};
G_DEFINE_TYPE(QtChr, qt_chr, USER_TYPE_OBJECT)
static void qt_chr_class_init(QtChrClass *k) { }
static void qt_chr_init(QtChr *c) { }

static void qt_register(void)
{
    object_type_register(OBJECT_KIND_OBJECT, "qt-obj", QT_TYPE_OBJ);
    object_type_register(OBJECT_KIND_CHARDEV, "qt-chr", QT_TYPE_CHR);
}
type_init(qt_register)

/* --- helpers --- */

static JsonObject *dispatch(const char *text)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(JsonNode) req = json_from_string(text, &err);

    ck_assert_msg(req != NULL, "bad test JSON %s", text);
    return qmp_dispatch(json_node_get_object(req), TRUE);
}

/* Runs 'text' and returns its "return" member (new reference). */
static JsonNode *ok(const char *text)
{
    JsonObject *r = dispatch(text);
    JsonNode *ret;

    ck_assert_msg(json_object_has_member(r, "return"), "%s -> %s", text,
                  json_to_string(json_node_init_object(json_node_alloc(), r),
                                 FALSE));
    ret = json_node_copy(json_object_get_member(r, "return"));
    json_object_unref(r);
    return ret;
}

static void fails(const char *text, const char *cls, const char *desc)
{
    JsonObject *r = dispatch(text);
    JsonObject *e;

    ck_assert_msg(json_object_has_member(r, "error"), "%s should fail",
                  text);
    e = json_object_get_object_member(r, "error");
    ck_assert_str_eq(json_object_get_string_member(e, "class"), cls);
    ck_assert_msg(strcmp(json_object_get_string_member(e, "desc"), desc) == 0,
                  "%s: got '%s', want '%s'", text,
                  json_object_get_string_member(e, "desc"), desc);
    json_object_unref(r);
}

/* The element of array 'n' whose "name" is 'name', or NULL. */
static JsonObject *find_named(JsonNode *n, const char *name)
{
    JsonArray *a = json_node_get_array(n);

    for (guint i = 0; i < json_array_get_length(a); i++) {
        JsonObject *o = json_array_get_object_element(a, i);

        if (strcmp(json_object_get_string_member(o, "name"), name) == 0) {
            return o;
        }
    }
    return NULL;
}

static void teardown(void)
{
    user_object_delete_all();
}

/* --- tests --- */

START_TEST(test_object_add_typed)
{
    g_autoptr(JsonNode) r = ok(
        "{'execute': 'object-add', 'arguments': {'qom-type': 'qt-obj', "
        "'id': 'o1', 'vnet_hdr_support': true, 'i32': -7, "
        "'u64': 9223372036854775807, 'str': 'a,b', "
        "'addr': {'path': '/tmp/x'}, 'mode': 'beta', 'rt': '3'}}");
    QtObj *o = QT_OBJ(user_object_find(OBJECT_KIND_OBJECT, "o1"));

    ck_assert_ptr_nonnull(o);
    ck_assert(o->flag);
    ck_assert_int_eq(o->i32, -7);
    ck_assert(o->u64 == G_MAXINT64);
    ck_assert_str_eq(o->str, "a,b");
    ck_assert_str_eq(o->path, "/tmp/x");
    ck_assert_int_eq(o->e, QT_B);
    ck_assert_uint_eq(o->rt, 3);
    ck_assert_int_eq(json_object_get_size(json_node_get_object(r)), 0);

    g_autoptr(JsonNode) r2 = ok(
        "{'execute': 'object-add', 'arguments': {'qom-type': 'qt-obj', "
        "'id': 'o2', 'props': {'vnet_hdr_support': 'on', 'i64': -9}}}");
    o = QT_OBJ(user_object_find(OBJECT_KIND_OBJECT, "o2"));
    ck_assert(o->flag);
}
END_TEST

START_TEST(test_object_add_errors)
{
    fails("{'execute': 'object-add', 'arguments': {'id': 'x'}}",
          "GenericError", "Parameter 'qom-type' is missing");
    fails("{'execute': 'object-add', 'arguments': {'qom-type': 'qt-obj'}}",
          "GenericError", "Parameter 'id' is missing");
    fails("{'execute': 'object-add', 'arguments': {'qom-type': 'nope', "
          "'id': 'x'}}", "GenericError", "invalid object type: nope "
          "('-object help' lists them)");
    fails("{'execute': 'object-add', 'arguments': {'qom-type': 'qt-obj', "
          "'id': 'x', 'zz': 1}}", "GenericError",
          "Property 'qt-obj.zz' not found ('-object qt-obj,help' lists the "
          "properties)");
    fails("{'execute': 'object-add', 'arguments': {'qom-type': 'qt-obj', "
          "'id': 'x', 'i32': 101}}", "GenericError",
          "Parameter 'i32' expects a number between -100 and 100");
    fails("{'execute': 'object-add', 'arguments': {'qom-type': 'qt-obj', "
          "'id': 'x', 'vnet_hdr_support': 3}}", "GenericError",
          "Parameter 'vnet_hdr_support' expects 'on' or 'off'");
    fails("{'execute': 'object-add', 'arguments': {'qom-type': 'qt-obj', "
          "'id': 'x', 'mode': 'gamma'}}", "GenericError",
          "Parameter 'mode' does not accept value 'gamma' (expected alpha "
          "or beta)");
    ck_assert_ptr_null(user_object_find(OBJECT_KIND_OBJECT, "x"));
    g_autoptr(JsonNode) r = ok("{'execute': 'object-add', 'arguments': "
                               "{'qom-type': 'qt-obj', 'id': 'x'}}");
    fails("{'execute': 'object-add', 'arguments': {'qom-type': 'qt-obj', "
          "'id': 'x'}}", "GenericError", "Duplicate ID 'x' for object");
}
END_TEST

START_TEST(test_object_del)
{
    g_autoptr(JsonNode) r = ok("{'execute': 'object-add', 'arguments': "
                               "{'qom-type': 'iothread', 'id': 'io0'}}");
    UserObject *io = user_object_find(OBJECT_KIND_OBJECT, "io0");

    user_object_ref_use(io, "comp0");
    fails("{'execute': 'object-del', 'arguments': {'id': 'io0'}}",
          "GenericError", "object 'io0' is in use by 'comp0'");
    user_object_unref_use(io, "comp0");
    g_autoptr(JsonNode) r2 = ok("{'execute': 'object-del', 'arguments': "
                                "{'id': 'io0'}}");
    fails("{'execute': 'object-del', 'arguments': {'id': 'io0'}}",
          "GenericError", "object 'io0' not found");
    fails("{'execute': 'object-del', 'arguments': {}}",
          "GenericError", "Parameter 'id' is missing");
}
END_TEST

START_TEST(test_qom_list)
{
    g_autoptr(JsonNode) a = ok("{'execute': 'object-add', 'arguments': "
                               "{'qom-type': 'qt-obj', 'id': 'o1'}}");
    ck_assert_ptr_nonnull(user_object_create(OBJECT_KIND_CHARDEV, "qt-chr",
                                             "c1", NULL, NULL));
    ck_assert_ptr_nonnull(user_object_create(OBJECT_KIND_CHARDEV, "qt-chr",
                                             "o1", NULL, NULL));

    g_autoptr(JsonNode) root = ok("{'execute': 'qom-list', 'arguments': "
                                  "{'path': '/'}}");
    ck_assert_str_eq(json_object_get_string_member(
        find_named(root, "objects"), "type"), "child<container>");
    ck_assert_ptr_nonnull(find_named(root, "chardevs"));
    ck_assert_ptr_nonnull(find_named(root, "netdevs"));
    ck_assert_ptr_nonnull(find_named(root, "devices"));

    g_autoptr(JsonNode) objs = ok("{'execute': 'qom-list', 'arguments': "
                                  "{'path': '/objects'}}");
    ck_assert_str_eq(json_object_get_string_member(
        find_named(objs, "o1"), "type"), "child<qt-obj>");
    g_autoptr(JsonNode) chrs = ok("{'execute': 'qom-list', 'arguments': "
                                  "{'path': '/chardevs/'}}");
    ck_assert_str_eq(json_object_get_string_member(
        find_named(chrs, "c1"), "type"), "child<qt-chr>");

    g_autoptr(JsonNode) props = ok("{'execute': 'qom-list', 'arguments': "
                                   "{'path': '/objects/o1'}}");
    ck_assert_str_eq(json_object_get_string_member(
        find_named(props, "type"), "type"), "string");
    ck_assert_str_eq(json_object_get_string_member(
        find_named(props, "vnet_hdr_support"), "type"), "bool");
    ck_assert_str_eq(json_object_get_string_member(
        find_named(props, "str"), "type"), "string");
    ck_assert_str_eq(json_object_get_string_member(
        find_named(props, "i64"), "type"), "int");
    ck_assert_str_eq(json_object_get_string_member(
        find_named(props, "u64"), "type"), "uint64");
    ck_assert_str_eq(json_object_get_string_member(
        find_named(props, "rt"), "type"), "uint32");
    ck_assert_str_eq(json_object_get_string_member(
        find_named(props, "mode"), "type"), "QtEnum");
    ck_assert_ptr_nonnull(find_named(props, "addr.path"));

    g_autoptr(JsonNode) c1 = ok("{'execute': 'qom-list', 'arguments': "
                                "{'path': 'c1'}}");
    ck_assert_ptr_nonnull(find_named(c1, "type"));

    fails("{'execute': 'qom-list', 'arguments': {'path': 'o1'}}",
          "GenericError", "Path 'o1' does not uniquely identify an object");
    fails("{'execute': 'qom-list', 'arguments': {'path': '/objects/zz'}}",
          "DeviceNotFound", "Device '/objects/zz' not found");
    fails("{'execute': 'qom-list', 'arguments': {'path': '/foo'}}",
          "DeviceNotFound", "Device '/foo' not found");
    fails("{'execute': 'qom-list', 'arguments': {'path': 'zz'}}",
          "DeviceNotFound", "Device 'zz' not found");
    fails("{'execute': 'qom-list', 'arguments': {}}",
          "GenericError", "Parameter 'path' is missing");
}
END_TEST

START_TEST(test_qom_get_set)
{
    g_autoptr(JsonNode) a = ok(
        "{'execute': 'object-add', 'arguments': {'qom-type': 'qt-obj', "
        "'id': 'o1', 'vnet_hdr_support': true, 'i32': -7, 'str': 's', "
        "'mode': 'beta'}}");
    g_autoptr(JsonNode) b = ok("{'execute': 'qom-get', 'arguments': "
                               "{'path': '/objects/o1', "
                               "'property': 'vnet_hdr_support'}}");
    g_autoptr(JsonNode) i = ok("{'execute': 'qom-get', 'arguments': "
                               "{'path': 'o1', 'property': 'i32'}}");
    g_autoptr(JsonNode) s = ok("{'execute': 'qom-get', 'arguments': "
                               "{'path': 'o1', 'property': 'str'}}");
    g_autoptr(JsonNode) e = ok("{'execute': 'qom-get', 'arguments': "
                               "{'path': 'o1', 'property': 'mode'}}");
    g_autoptr(JsonNode) t = ok("{'execute': 'qom-get', 'arguments': "
                               "{'path': 'o1', 'property': 'type'}}");
    g_autoptr(JsonNode) u = ok("{'execute': 'qom-get', 'arguments': "
                               "{'path': 'o1', 'property': 'u64'}}");
    g_autoptr(JsonNode) p = ok("{'execute': 'qom-get', 'arguments': "
                               "{'path': 'o1', 'property': 'addr.path'}}");

    ck_assert(json_node_get_boolean(b));
    ck_assert_int_eq(json_node_get_int(i), -7);
    ck_assert_str_eq(json_node_get_string(s), "s");
    ck_assert_str_eq(json_node_get_string(e), "beta");
    ck_assert_str_eq(json_node_get_string(t), "qt-obj");
    ck_assert_int_eq(json_node_get_int(u), 5);
    ck_assert_str_eq(json_node_get_string(p), "");
    fails("{'execute': 'qom-get', 'arguments': {'path': 'o1', "
          "'property': 'zz'}}", "GenericError",
          "Property 'qt-obj.zz' not found ('-object qt-obj,help' lists the "
          "properties)");
    fails("{'execute': 'qom-get', 'arguments': {'path': '/objects', "
          "'property': 'zz'}}", "GenericError",
          "Path '/objects' is not an object");

    g_autoptr(JsonNode) s1 = ok("{'execute': 'qom-set', 'arguments': "
                                "{'path': 'o1', 'property': 'rt', "
                                "'value': 9}}");
    ck_assert_uint_eq(QT_OBJ(user_object_find(OBJECT_KIND_OBJECT, "o1"))->rt,
                      9);
    g_autoptr(JsonNode) s2 = ok("{'execute': 'qom-set', 'arguments': "
                                "{'path': 'o1', 'property': 'rt', "
                                "'value': '4'}}");
    ck_assert_uint_eq(QT_OBJ(user_object_find(OBJECT_KIND_OBJECT, "o1"))->rt,
                      4);
    fails("{'execute': 'qom-set', 'arguments': {'path': 'o1', "
          "'property': 'rt', 'value': 11}}", "GenericError",
          "Parameter 'rt' expects a number between 0 and 10");
    fails("{'execute': 'qom-set', 'arguments': {'path': 'o1', "
          "'property': 'i32', 'value': 1}}", "GenericError",
          "Property 'i32' cannot be changed after the object is created");
    fails("{'execute': 'qom-set', 'arguments': {'path': 'o1', "
          "'property': 'rt', 'value': {'a': 1}}}", "GenericError",
          "Invalid parameter type for 'value', expected: uint32");
    fails("{'execute': 'qom-set', 'arguments': {'path': 'o1', "
          "'property': 'type', 'value': 'x'}}", "GenericError",
          "Property 'qt-obj.type' is read-only");
}
END_TEST

START_TEST(test_list_types)
{
    g_autoptr(JsonNode) all = ok("{'execute': 'qom-list-types'}");
    g_autoptr(JsonNode) abs = ok("{'execute': 'qom-list-types', "
                                 "'arguments': {'abstract': true}}");
    g_autoptr(JsonNode) impl = ok("{'execute': 'qom-list-types', "
                                  "'arguments': {'implements': 'qtbase'}}");
    g_autoptr(JsonNode) none = ok("{'execute': 'qom-list-types', "
                                  "'arguments': {'implements': 'nope'}}");
    JsonObject *o;

    o = find_named(all, "qt-obj");
    ck_assert_ptr_nonnull(o);
    ck_assert_str_eq(json_object_get_string_member(o, "parent"), "qtbase");
    o = find_named(all, "chardev-qt-chr");
    ck_assert_ptr_nonnull(o);
    ck_assert_str_eq(json_object_get_string_member(o, "parent"), "object");
    ck_assert_ptr_nonnull(find_named(all, "iothread"));
    ck_assert_ptr_null(find_named(all, "qtbase"));
    o = find_named(abs, "qtbase");
    ck_assert_ptr_nonnull(o);
    ck_assert(json_object_get_boolean_member(o, "abstract"));
    ck_assert_uint_eq(json_array_get_length(json_node_get_array(impl)), 1);
    ck_assert_ptr_nonnull(find_named(impl, "qt-obj"));
    ck_assert_uint_eq(json_array_get_length(json_node_get_array(none)), 0);
}
END_TEST

START_TEST(test_list_properties)
{
    g_autoptr(JsonNode) p = ok("{'execute': 'qom-list-properties', "
                               "'arguments': {'typename': 'qt-obj'}}");
    g_autoptr(JsonNode) io = ok("{'execute': 'qom-list-properties', "
                                "'arguments': {'typename': 'iothread'}}");
    g_autoptr(JsonNode) types = ok("{'execute': 'qom-list-types', "
                                   "'arguments': {'abstract': true}}");
    JsonArray *ta = json_node_get_array(types);
    JsonObject *o;

    o = find_named(p, "vnet_hdr_support");
    ck_assert_str_eq(json_object_get_string_member(o, "type"), "bool");
    ck_assert_str_eq(json_object_get_string_member(o, "description"),
                     "a flag");
    ck_assert(!json_object_get_boolean_member(o, "default-value"));
    o = find_named(p, "mode");
    ck_assert_str_eq(json_object_get_string_member(o, "default-value"),
                     "alpha");
    o = find_named(p, "str");
    ck_assert(!json_object_has_member(o, "default-value"));
    o = find_named(io, "poll-max-ns");
    ck_assert_str_eq(json_object_get_string_member(o, "type"), "int");
    ck_assert_int_eq(json_object_get_int_member(o, "default-value"), 32768);

    /* every type, abstract ones included, without creating anything */
    for (guint i = 0; i < json_array_get_length(ta); i++) {
        const char *name = json_object_get_string_member(
            json_array_get_object_element(ta, i), "name");
        g_autofree char *req = g_strdup_printf(
            "{'execute': 'qom-list-properties', "
            "'arguments': {'typename': '%s'}}", name);
        g_autoptr(JsonNode) r = ok(req);
    }
    ck_assert_ptr_null(user_object_list(OBJECT_KIND_OBJECT));
    g_autoptr(JsonNode) chr = ok("{'execute': 'qom-list-properties', "
                                 "'arguments': {'typename': 'qt-chr'}}");
    fails("{'execute': 'qom-list-properties', 'arguments': "
          "{'typename': 'nope'}}", "DeviceNotFound", "Class 'nope' not found");
}
END_TEST

START_TEST(test_json_cmdline)
{
    GError *err = NULL;
    UserObject *o = user_object_create_from_json(OBJECT_KIND_OBJECT,
        "{\"qom-type\": \"qt-obj\", \"id\": \"j1\", "
        "\"vnet_hdr_support\": true, \"addr\": {\"path\": \"/p\"}, "
        "\"i32\": 1e1}", &err);
    g_autofree char *t1 = NULL, *t2 = NULL, *t3 = NULL;

    ck_assert_msg(o != NULL, "%s", err ? err->message : "");
    ck_assert(QT_OBJ(o)->flag);
    ck_assert_str_eq(QT_OBJ(o)->path, "/p");
    ck_assert_int_eq(QT_OBJ(o)->i32, 10);
    ck_assert_ptr_null(user_object_create_from_json(OBJECT_KIND_OBJECT,
        "{\"id\": \"j2\"}", &err));
    ck_assert_str_eq(err->message, "Parameter 'qom-type' is missing");
    g_clear_error(&err);
    ck_assert_ptr_null(user_object_create_from_json(OBJECT_KIND_OBJECT,
        "{\"qom-type\": \"qt-obj\"}", &err));
    ck_assert_str_eq(err->message, "Parameter 'id' is missing");
    g_clear_error(&err);
    ck_assert_ptr_null(user_object_create_from_json(OBJECT_KIND_OBJECT,
        "[1]", &err));
    ck_assert(g_str_has_prefix(err->message, "JSON parse error"));
    g_clear_error(&err);
    ck_assert_ptr_null(user_object_create_from_json(OBJECT_KIND_OBJECT,
        "{\"qom-type\": ", &err));
    ck_assert(g_str_has_prefix(err->message, "JSON parse error"));
    g_clear_error(&err);
    /* a missing '}' is said as such, not as an error about the last
     * token (json-glib's "invalid string constant") */
    ck_assert_ptr_null(user_object_create_from_json(OBJECT_KIND_OBJECT,
        "{\"qom-type\": \"qt-obj\", \"id\": \"x}\"", &err));
    ck_assert_str_eq(err->message, "JSON parse error, premature end of "
                     "input: '}' (an object is not closed) expected");
    g_clear_error(&err);
    ck_assert_ptr_null(user_object_create_from_json(OBJECT_KIND_OBJECT,
        "{\"qom-type\": \"qt-obj\", \"id\": \"x", &err));
    ck_assert_str_eq(err->message, "JSON parse error, premature end of "
                     "input: '\"' (a string is not closed) expected");
    g_clear_error(&err);
    ck_assert_ptr_nonnull(user_object_create_from_json(OBJECT_KIND_CHARDEV,
        "{\"type\": \"qt-chr\", \"id\": \"j1\"}", NULL));

    t1 = qom_json_peek_type("{\"qom-type\": \"iothread\"}", "qom-type");
    t2 = qom_json_peek_type("{\"qom-type\": 1}", "qom-type");
    t3 = qom_json_peek_type("nope", "qom-type");
    ck_assert_str_eq(t1, "iothread");
    ck_assert_ptr_null(t2);
    ck_assert_ptr_null(t3);
}
END_TEST

static Suite *qom_qmp_suite(void)
{
    Suite *s = suite_create("qom/qom-qmp");
    TCase *tc = tcase_create("qmp");

    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, test_object_add_typed);
    tcase_add_test(tc, test_object_add_errors);
    tcase_add_test(tc, test_object_del);
    tcase_add_test(tc, test_qom_list);
    tcase_add_test(tc, test_qom_get_set);
    tcase_add_test(tc, test_list_types);
    tcase_add_test(tc, test_list_properties);
    tcase_add_test(tc, test_json_cmdline);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return check_run(qom_qmp_suite());
}
