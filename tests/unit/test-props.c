/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tests/unit/test-props.c - qom/props.c: property tables.
 *
 * "test-props-base" keeps its properties in its private struct;
 * "test-props" derives from it with a row of every value type and every
 * callback (.check, .set/.get without a field, .changed, .given) and the
 * PROP_POSITIVE and PROP_ATOMIC flags.  The tests go through the user
 * paths (user_object_create, user_object_set_str/get_str, help text), as
 * the command line and QMP do.  String fields are freed by the table: under
 * ASan a leak or a double free here fails the test.
 */
#include <check.h>
#include <string.h>

#include "check-main.h"
#include "qom/props.h"
#include "util/error.h"

typedef enum { TP_RED, TP_GREEN } TestColour;

static GType test_colour_get_type(void)
{
    static gsize type;
    static const GEnumValue values[] = {
        { TP_RED, "TP_RED", "red" },
        { TP_GREEN, "TP_GREEN", "green" },
        { 0, NULL, NULL },
    };

    if (g_once_init_enter(&type)) {
        g_once_init_leave(&type, g_enum_register_static("TestColour",
                                                        values));
    }
    return type;
}

/* --- test-props-base: private fields ------------------------------------ */

#define TEST_TYPE_PROPS_BASE (test_props_base_get_type())
G_DECLARE_DERIVABLE_TYPE(TestPropsBase, test_props_base, TEST, PROPS_BASE,
                         UserObject)

struct _TestPropsBaseClass {
    UserObjectClass parent_class;
};

typedef struct {
    char *label;
    guint weight;
} TestPropsBasePrivate;

G_DEFINE_TYPE_WITH_PRIVATE(TestPropsBase, test_props_base, USER_TYPE_OBJECT)

static const PropDef test_props_base_props[] = {
    DEFINE_PROP_STR("label", TestPropsBasePrivate, label, "base", 0,
                    "a private string"),
    DEFINE_PROP_UINT("weight", TestPropsBasePrivate, weight, 0, 100, 7,
                     PROP_RUNTIME, "a private number"),
};

static void test_props_base_init(TestPropsBase *b)
{
}

static void test_props_base_class_init(TestPropsBaseClass *klass)
{
    object_class_install_private_props(klass, test_props_base_props,
                                       TestPropsBase);
}

static TestPropsBasePrivate *base_priv(gpointer obj)
{
    return test_props_base_get_instance_private(TEST_PROPS_BASE(obj));
}

/* --- test-props ---------------------------------------------------------- */

#define TEST_TYPE_PROPS (test_props_get_type())
G_DECLARE_FINAL_TYPE(TestProps, test_props, TEST, PROPS, TestPropsBase)

struct _TestProps {
    TestPropsBase parent_instance;
    gboolean flag;
    gboolean flag_given;
    gint i32;
    guint u32;
    guint positive;
    gint64 i64;
    gint64 atomic64;
    guint64 u64;
    char *str;
    char *dotted;
    TestColour colour;
    gboolean virt;            /* behind "virt" (on/off strings) */
    guint changed;            /* .changed calls */
    guint init_u32;           /* u32 as the class's instance init saw it */
};

G_DEFINE_FINAL_TYPE(TestProps, test_props, TEST_TYPE_PROPS_BASE)

static gboolean odd_check(UserObject *obj, const GValue *value,
                          GError **errp)
{
    if (g_value_get_int(value) % 2 == 0) {
        error_setg(errp, "i32 must be odd");
        return FALSE;
    }
    return TRUE;
}

static void virt_set(UserObject *obj, const GValue *value)
{
    TEST_PROPS(obj)->virt = g_strcmp0(g_value_get_string(value), "yes") == 0;
}

static void virt_get(UserObject *obj, GValue *value)
{
    g_value_set_string(value, TEST_PROPS(obj)->virt ? "yes" : "no");
}

static void count_changed(UserObject *obj)
{
    TEST_PROPS(obj)->changed++;
}

static const PropDef test_props_props[] = {
    DEFINE_PROP_BOOL("flag_x", TestProps, flag, TRUE, 0, "a flag",
                     .given = PROP_FIELD(TestProps, flag_given, gboolean)),
    DEFINE_PROP_INT("i32", TestProps, i32, -9, 9, 3, 0, "an odd int",
                    .check = odd_check),
    DEFINE_PROP_UINT("u32", TestProps, u32, 0, 1000, 100, PROP_RUNTIME,
                     "a runtime uint", .changed = count_changed),
    DEFINE_PROP_UINT("positive", TestProps, positive, 0, 10, 1,
                     PROP_POSITIVE, "not 0"),
    DEFINE_PROP_INT64("i64", TestProps, i64, G_MININT64, G_MAXINT64, -5, 0,
                      "an int64"),
    DEFINE_PROP_INT64("atomic64", TestProps, atomic64, 0, G_MAXINT64, 11,
                      PROP_ATOMIC | PROP_RUNTIME, "an atomic int64"),
    DEFINE_PROP_UINT64("u64", TestProps, u64, 0, G_MAXUINT64, 7, 0,
                       "a uint64"),
    DEFINE_PROP_STR("str", TestProps, str, "dflt", PROP_RUNTIME, "a string"),
    DEFINE_PROP_STR("addr.path", TestProps, dotted, NULL, 0, "dotted"),
    DEFINE_PROP_ENUM("colour", TestProps, colour, test_colour_get_type,
                     TP_GREEN, 0, "an enum"),
    { .name = "virt", .type = PROP_TYPE_STR, .offset = PROP_NO_FIELD,
      .def_str = "no", .help = "no field of its own",
      .set = virt_set, .get = virt_get },
};

static void test_props_init(TestProps *p)
{
    p->init_u32 = p->u32;
}

static void test_props_class_init(TestPropsClass *klass)
{
    object_class_install_props(klass, test_props_props);
}

static void register_types(void)
{
    object_type_register(OBJECT_KIND_OBJECT, "test-props", TEST_TYPE_PROPS);
}

static UserObject *make(const char *kv, GError **errp)
{
    g_autofree char *opts = g_strdup_printf("test-props,id=p%s%s",
                                            kv ? "," : "", kv ? kv : "");

    return user_object_create_from_opts(OBJECT_KIND_OBJECT, opts, NULL,
                                        errp);
}

static void expect_str(UserObject *o, const char *name, const char *want)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *got = user_object_get_str(o, name, &err);

    ck_assert_msg(got, "%s: %s", name, err ? err->message : "?");
    ck_assert_str_eq(got, want);
}

START_TEST(test_defaults)
{
    TestProps *p = g_object_new(TEST_TYPE_PROPS, NULL);

    /* the table's defaults are in place before the class's own init */
    ck_assert_uint_eq(p->init_u32, 100);
    ck_assert(p->flag);
    ck_assert_int_eq(p->i32, 3);
    ck_assert_int_eq(p->i64, -5);
    ck_assert_int_eq(p->atomic64, 11);
    ck_assert_uint_eq(p->u64, 7);
    ck_assert_str_eq(p->str, "dflt");
    ck_assert_ptr_null(p->dotted);
    ck_assert_int_eq(p->colour, TP_GREEN);
    ck_assert_str_eq(base_priv(p)->label, "base");
    ck_assert_uint_eq(base_priv(p)->weight, 7);
    ck_assert(!p->flag_given);
    ck_assert_uint_eq(p->changed, 0);
    g_object_unref(p);
}
END_TEST

START_TEST(test_set_get)
{
    g_autoptr(GError) err = NULL;
    UserObject *o = make("flag_x=off,i32=-7,u32=5,i64=-9000000000,"
                         "u64=18446744073709551615,str=hello,addr.path=/x,"
                         "colour=red,virt=yes,label=L,weight=9", &err);
    TestProps *p;

    ck_assert_msg(o, "%s", err ? err->message : "?");
    p = TEST_PROPS(o);
    ck_assert(!p->flag);
    ck_assert(p->flag_given);
    ck_assert_int_eq(p->i32, -7);
    ck_assert_uint_eq(p->u32, 5);
    ck_assert_uint_eq(p->changed, 1);
    ck_assert(p->virt);
    expect_str(o, "flag_x", "off");
    expect_str(o, "i64", "-9000000000");
    expect_str(o, "u64", "18446744073709551615");
    expect_str(o, "str", "hello");
    expect_str(o, "addr.path", "/x");
    expect_str(o, "colour", "red");
    expect_str(o, "virt", "yes");
    expect_str(o, "label", "L");
    expect_str(o, "weight", "9");

    /* runtime properties after completion, strings replaced (ASan: the
     * old one freed once) */
    ck_assert(user_object_set_str(o, "str", "again", NULL));
    ck_assert(user_object_set_str(o, "u32", "6", NULL));
    ck_assert(user_object_set_str(o, "atomic64", "12", NULL));
    ck_assert(user_object_set_str(o, "weight", "10", NULL));
    ck_assert_uint_eq(p->changed, 2);
    expect_str(o, "str", "again");
    expect_str(o, "atomic64", "12");
    expect_str(o, "weight", "10");
    ck_assert(!user_object_set_str(o, "i64", "1", &err));
    ck_assert_str_eq(err->message, "Property 'i64' cannot be changed after "
                     "the object is created");
    ck_assert(user_object_delete(OBJECT_KIND_OBJECT, "p", NULL));
}
END_TEST

START_TEST(test_checks)
{
    g_autoptr(GError) err = NULL;

    ck_assert_ptr_null(make("positive=0", &err));
    ck_assert_str_eq(err->message,
                     "Property 'test-props.positive' requires a positive "
                     "value");
    g_clear_error(&err);
    ck_assert_ptr_null(make("i32=4", &err));
    ck_assert_str_eq(err->message, "i32 must be odd");
    g_clear_error(&err);
    /* the range check comes first, from the pspec */
    ck_assert_ptr_null(make("i32=10", &err));
    ck_assert_str_eq(err->message,
                     "Parameter 'i32' expects a number between -9 and 9");
    g_clear_error(&err);
    ck_assert_ptr_null(make("colour=blue", &err));
    ck_assert_str_eq(err->message,
                     "Parameter 'colour' does not accept value 'blue' "
                     "(expected red or green)");
    ck_assert_ptr_null(user_object_find(OBJECT_KIND_OBJECT, "p"));
}
END_TEST

START_TEST(test_help_from_table)
{
    g_autofree char *help = object_type_help_text(OBJECT_KIND_OBJECT,
                                                  "test-props", NULL);

    ck_assert_ptr_nonnull(help);
    ck_assert_ptr_nonnull(strstr(help, "flag_x=<bool>"));
    ck_assert_ptr_nonnull(strstr(help, "- a flag (default: on)"));
    ck_assert_ptr_nonnull(strstr(help, "str=<str>"));
    ck_assert_ptr_nonnull(strstr(help, "(default: dflt)"));
    ck_assert_ptr_nonnull(strstr(help, "label=<str>"));
    ck_assert_ptr_nonnull(strstr(help, "addr.path=<str>"));
}
END_TEST

static Suite *props_suite(void)
{
    Suite *s = suite_create("qom/props");
    TCase *tc = tcase_create("props");

    tcase_add_test(tc, test_defaults);
    tcase_add_test(tc, test_set_get);
    tcase_add_test(tc, test_checks);
    tcase_add_test(tc, test_help_from_table);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    register_types();
    return check_run(props_suite());
}
