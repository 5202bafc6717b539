/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * qom/help.c - "-object help" and "-object TYPE,help" (and the same for
 * -netdev, -device and -chardev).
 *
 * Help is built from the type registry and the classes' GParamSpecs alone:
 * no instance is created, so introspecting any type cannot fail in a
 * complete() or touch the network.  The format follows QEMU:
 *
 *   filter-mirror options:
 *     netdev=<str>           - id of the network backend (default: ...)
 *
 * Used by qom/object.c (user_object_create_from_opts) and system/main.c.
 */
#include <stdio.h>
#include <string.h>

#include "qom/object.h"
#include "qom/qom-private.h"
#include "util/error.h"

#define HELP_DESC_COLUMN 24

static const char *help_list_title(ObjectKind kind)
{
    switch (kind) {
    case OBJECT_KIND_NETDEV:
        return "Available netdev backend types:";
    case OBJECT_KIND_DEVICE:
        return "Available device types:";
    case OBJECT_KIND_CHARDEV:
        return "Available chardev backend types:";
    default:
        return "List of user creatable objects:";
    }
}

static gint compare_pspec_user_name(gconstpointer a, gconstpointer b)
{
    GParamSpec *pa = *(GParamSpec *const *)a;
    GParamSpec *pb = *(GParamSpec *const *)b;

    return strcmp(object_property_user_name(pa),
                  object_property_user_name(pb));
}

/* Appends the help lines of 'gtype's properties to 'out'. */
static void help_type_props(GString *out, const char *qom_type, GType gtype)
{
    GObjectClass *klass = g_type_class_ref(gtype);
    g_autofree GParamSpec **specs = NULL;
    g_autoptr(GPtrArray) sorted = g_ptr_array_new();
    guint n = 0;

    specs = g_object_class_list_properties(klass, &n);
    for (guint i = 0; i < n; i++) {
        if (specs[i]->flags & G_PARAM_WRITABLE) {
            g_ptr_array_add(sorted, specs[i]);
        }
    }
    g_ptr_array_sort(sorted, compare_pspec_user_name);

    if (sorted->len == 0) {
        g_string_append_printf(out, "There are no options for %s.\n",
                               qom_type);
    } else {
        g_string_append_printf(out, "%s options:\n", qom_type);
    }
    for (guint i = 0; i < sorted->len; i++) {
        GParamSpec *pspec = sorted->pdata[i];
        const char *blurb = g_param_spec_get_blurb(pspec);
        g_autofree char *def = object_property_default_str(pspec);
        gsize start = out->len;

        g_string_append_printf(out, "  %s=<%s>",
                               object_property_user_name(pspec),
                               object_property_type_name(pspec));
        if ((blurb && *blurb) || def) {
            while (out->len - start < HELP_DESC_COLUMN) {
                g_string_append_c(out, ' ');
            }
            g_string_append(out, " -");
            if (blurb && *blurb) {
                g_string_append_printf(out, " %s", blurb);
            }
            if (pspec->flags & PROP_REQUIRED) {
                g_string_append(out, " (required)");
            } else if (def && *def) {
                g_string_append_printf(out, " (default: %s)", def);
            }
        }
        g_string_append_c(out, '\n');
    }
    g_type_class_unref(klass);
}

char *object_type_help_text(ObjectKind kind, const char *qom_type,
                            GError **errp)
{
    GString *out = g_string_new(NULL);
    GType gtype;

    if (!qom_type) {
        GList *types = object_type_list(kind);

        g_string_append_printf(out, "%s\n", help_list_title(kind));
        for (GList *l = types; l; l = l->next) {
            GType t = object_type_lookup(kind, l->data);
            UserObjectClass *klass = g_type_class_ref(t);

            if (klass->description && *klass->description) {
                g_string_append_printf(out, "  %-22s %s\n",
                                       (const char *)l->data,
                                       klass->description);
            } else {
                g_string_append_printf(out, "  %s\n", (const char *)l->data);
            }
            g_type_class_unref(klass);
        }
        g_list_free(types);
        return g_string_free(out, FALSE);
    }

    gtype = object_type_lookup(kind, qom_type);
    if (gtype == G_TYPE_INVALID) {
        g_string_free(out, TRUE);
        object_type_unknown_error(kind, qom_type, errp);
        return NULL;
    }
    help_type_props(out, qom_type, gtype);
    return g_string_free(out, FALSE);
}

/* Prints to stdout: the one place in qom/ that does, because the user
 * asked for help on the command line. */
gboolean object_type_print_help(ObjectKind kind, const char *qom_type,
                                GError **errp)
{
    g_autofree char *text = object_type_help_text(kind, qom_type, errp);

    if (!text) {
        return FALSE;
    }
    fputs(text, stdout);
    fflush(stdout);
    return TRUE;
}
