/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tests/fuzz/fuzz-objargs.c - fuzz target for the arguments of object-add,
 * netdev_add and the JSON forms of -object/-netdev (what a management
 * layer sends): qom/qom-qmp.c flattens a JSON object into key -> string
 * properties, and qom/object.c parses each string into the typed value of
 * the property it names, with its range checks.
 *
 * Input layout: byte 0 picks the object kind (bits 0-1) and, when the
 * JSON names no registered type, a fallback type of that kind (bits
 * 2-7); the rest is JSON text.  Nothing is created: this is the parsing
 * half of object creation, run on every registered type's real
 * properties.  Besides "no crash, no out-of-bounds access, no leak" it
 * checks:
 *   - qom_json_to_props() succeeds or sets an error, never both; every
 *     key is non-empty, has no empty dotted component other than what
 *     the JSON member names themselves carry, and starts with a member
 *     name of the top-level object;
 *   - for every key that names a property of the type, a successful
 *     object_property_parse() gives a value inside the pspec's range
 *     (g_param_value_validate() changes nothing), whose string form
 *     (object_property_value_to_str()) parses back to the same value; a
 *     failed parse sets an error and leaves no value behind;
 *   - the same for the property's default string, which must parse.
 * A violated property aborts, which libFuzzer reports as a crash.
 *
 * Built as the other targets are (tests/fuzz/meson.build); the smoke
 * build replays tests/fuzz/corpus/objargs/ in `make check`.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-glib/json-glib.h>

#include "qom/object.h"
#include "qom/qom-qmp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond) do {                                           \
        if (!(cond)) {                                                  \
            fprintf(stderr, "fuzz-objargs: %s:%d: property failed: %s\n",\
                    __FILE__, __LINE__, #cond);                         \
            abort();                                                    \
        }                                                               \
    } while (0)

/* Parses 'str' for 'pspec' and checks range and round trip. */
static void check_value(GParamSpec *pspec, const char *str, bool must_parse)
{
    const char *name = object_property_user_name(pspec);
    GValue v = G_VALUE_INIT, v2 = G_VALUE_INIT, probe = G_VALUE_INIT;
    GError *err = NULL;
    g_autofree char *back = NULL;

    if (!object_property_parse(pspec, name, str, &v, &err)) {
        FUZZ_CHECK(err != NULL);
        FUZZ_CHECK(!G_IS_VALUE(&v));
        FUZZ_CHECK(!must_parse);
        g_error_free(err);
        return;
    }
    FUZZ_CHECK(err == NULL);
    FUZZ_CHECK(G_VALUE_TYPE(&v) == G_PARAM_SPEC_VALUE_TYPE(pspec));
    g_value_init(&probe, G_VALUE_TYPE(&v));
    g_value_copy(&v, &probe);
    FUZZ_CHECK(!g_param_value_validate(pspec, &probe));   /* in range */
    back = object_property_value_to_str(pspec, &v);
    FUZZ_CHECK(back != NULL);
    FUZZ_CHECK(object_property_parse(pspec, name, back, &v2, NULL));
    FUZZ_CHECK(g_param_values_cmp(pspec, &v, &v2) == 0);
    g_value_unset(&v);
    g_value_unset(&v2);
    g_value_unset(&probe);
}

static GType type_of(ObjectKind kind, const char *name)
{
    return name ? object_type_lookup(kind, name) : G_TYPE_INVALID;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ObjectKind kind;
    g_autofree char *json = NULL;
    g_autoptr(JsonNode) node = NULL;
    g_autoptr(GHashTable) props = NULL;
    g_autoptr(GList) types = NULL;
    GObjectClass *klass;
    GError *err = NULL;
    GHashTableIter it;
    gpointer k, val;
    GType t;
    gboolean ok;

    if (size < 1 || size > 8192) {
        return 0;
    }
    kind = (ObjectKind) (data[0] & 3);
    if (kind >= OBJECT_KIND__MAX) {
        kind = OBJECT_KIND_OBJECT;
    }
    json = g_strndup((const char *) data + 1, size - 1);
    node = json_from_string(json, NULL);
    if (!node || !JSON_NODE_HOLDS_OBJECT(node)) {
        return 0;
    }
    props = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    ok = qom_json_to_props(json_node_get_object(node), props, &err);
    FUZZ_CHECK(ok == (err == NULL));
    if (!ok) {
        g_error_free(err);
        return 0;
    }
    g_hash_table_iter_init(&it, props);
    while (g_hash_table_iter_next(&it, &k, &val)) {
        const char *key = k;
        g_autofree char *top = g_strdup(key);
        char *dot;

        FUZZ_CHECK(val != NULL);
        /* the first component names a member of the top-level object,
         * unless the member's own name has a dot in it */
        if (!json_object_has_member(json_node_get_object(node), key)) {
            bool found = false;

            for (dot = strchr(top, '.'); dot && !found;
                 dot = strchr(dot + 1, '.')) {
                *dot = '\0';
                found = json_object_has_member(json_node_get_object(node),
                                               top);
                *dot = '.';
            }
            FUZZ_CHECK(found);
        }
    }

    t = type_of(kind, g_hash_table_lookup(props,
                                          object_kind_type_key(kind)));
    if (t == G_TYPE_INVALID) {
        types = object_type_list(kind);
        if (!types) {
            return 0;
        }
        t = object_type_lookup(kind, g_list_nth_data(
                                   types, (data[0] >> 2) %
                                   g_list_length(types)));
    }
    FUZZ_CHECK(t != G_TYPE_INVALID);
    klass = g_type_class_ref(t);
    g_hash_table_iter_init(&it, props);
    while (g_hash_table_iter_next(&it, &k, &val)) {
        GParamSpec *pspec = object_class_find_user_property(klass, k);

        if (pspec) {
            check_value(pspec, val, false);
        }
    }
    /* every default of the type parses (help shows them; users copy
     * them) */
    {
        guint n;
        GParamSpec **all = g_object_class_list_properties(klass, &n);

        for (guint i = 0; i < n; i++) {
            g_autofree char *def = object_property_default_str(all[i]);

            if (def && (all[i]->flags & G_PARAM_WRITABLE)) {
                check_value(all[i], def, true);
            }
        }
        g_free(all);
    }
    g_type_class_unref(klass);
    return 0;
}
