/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * qom/props.c - property tables (include/qom/props.h): GParamSpecs made
 * from the rows, and the one set_property/get_property every class uses.
 *
 * Each installed pspec carries a pointer to its row (qdata), so the router
 * needs no property ids and a subclass's rows never meet its parent's:
 * GObject calls the set_property of the class that installed the pspec.
 */
#include <string.h>

#include "qom/props.h"
#include "qom/qom-private.h"
#include "util/error.h"

/* The flags that belong on the pspec; the others are the row's alone. */
#define PSPEC_FLAGS (PROP_RUNTIME | PROP_REQUIRED)

static GQuark prop_def_quark(void)
{
    static GQuark q;

    if (!q) {
        q = g_quark_from_static_string("colo-prop-def");
    }
    return q;
}

const PropDef *object_prop_def(GParamSpec *pspec)
{
    return g_param_spec_get_qdata(pspec, prop_def_quark());
}

static void *prop_field(GObject *obj, ptrdiff_t offset)
{
    return (char *)obj + offset;
}

static void prop_store(GObject *obj, const PropDef *d, const GValue *v)
{
    void *f = prop_field(obj, d->offset);

    switch (d->type) {
    case PROP_TYPE_BOOL:
        *(gboolean *)f = g_value_get_boolean(v);
        break;
    case PROP_TYPE_INT:
        *(gint *)f = g_value_get_int(v);
        break;
    case PROP_TYPE_UINT:
        *(guint *)f = g_value_get_uint(v);
        break;
    case PROP_TYPE_INT64:
        if (d->flags & PROP_ATOMIC) {
            __atomic_store_n((gint64 *)f, g_value_get_int64(v),
                             __ATOMIC_RELAXED);
        } else {
            *(gint64 *)f = g_value_get_int64(v);
        }
        break;
    case PROP_TYPE_UINT64:
        *(guint64 *)f = g_value_get_uint64(v);
        break;
    case PROP_TYPE_STR:
        g_free(*(char **)f);
        *(char **)f = g_value_dup_string(v);
        break;
    case PROP_TYPE_ENUM:
        *(gint *)f = g_value_get_enum(v);
        break;
    }
}

static void prop_load(GObject *obj, const PropDef *d, GValue *v)
{
    void *f = prop_field(obj, d->offset);

    switch (d->type) {
    case PROP_TYPE_BOOL:
        g_value_set_boolean(v, *(gboolean *)f);
        break;
    case PROP_TYPE_INT:
        g_value_set_int(v, *(gint *)f);
        break;
    case PROP_TYPE_UINT:
        g_value_set_uint(v, *(guint *)f);
        break;
    case PROP_TYPE_INT64:
        g_value_set_int64(v, (d->flags & PROP_ATOMIC)
                             ? __atomic_load_n((gint64 *)f, __ATOMIC_RELAXED)
                             : *(gint64 *)f);
        break;
    case PROP_TYPE_UINT64:
        g_value_set_uint64(v, *(guint64 *)f);
        break;
    case PROP_TYPE_STR:
        g_value_set_string(v, *(char **)f);
        break;
    case PROP_TYPE_ENUM:
        g_value_set_enum(v, *(gint *)f);
        break;
    }
}

static void props_set_property(GObject *obj, guint id, const GValue *value,
                               GParamSpec *pspec)
{
    const PropDef *d = object_prop_def(pspec);

    if (!d) {
        G_OBJECT_WARN_INVALID_PROPERTY_ID(obj, id, pspec);
        return;
    }
    if (d->set) {
        d->set(USER_OBJECT(obj), value);
    } else {
        prop_store(obj, d, value);
    }
    if (d->given) {
        *(gboolean *)prop_field(obj, d->given) = TRUE;
    }
    if (d->changed) {
        d->changed(USER_OBJECT(obj));
    }
}

static void props_get_property(GObject *obj, guint id, GValue *value,
                               GParamSpec *pspec)
{
    const PropDef *d = object_prop_def(pspec);

    if (!d) {
        G_OBJECT_WARN_INVALID_PROPERTY_ID(obj, id, pspec);
        return;
    }
    if (d->get) {
        d->get(USER_OBJECT(obj), value);
    } else {
        prop_load(obj, d, value);
    }
}

static GParamSpec *prop_make_pspec(const PropDef *d)
{
    unsigned flags = d->flags & PSPEC_FLAGS;

    switch (d->type) {
    case PROP_TYPE_BOOL:
        return prop_bool(d->name, d->help, d->def != 0, flags);
    case PROP_TYPE_INT:
        return prop_int(d->name, d->help, (gint)d->min, (gint)d->max,
                        (gint)d->def, flags);
    case PROP_TYPE_UINT:
        return prop_uint(d->name, d->help, (guint)d->min, (guint)d->max,
                         (guint)d->def, flags);
    case PROP_TYPE_INT64:
        return prop_int64(d->name, d->help, d->min, (gint64)d->max, d->def,
                          flags);
    case PROP_TYPE_UINT64:
        return prop_uint64(d->name, d->help, (guint64)d->min, d->max,
                           (guint64)d->def, flags);
    case PROP_TYPE_STR:
        return prop_str(d->name, d->help, d->def_str, flags);
    case PROP_TYPE_ENUM:
        return prop_enum(d->name, d->help, d->enum_type(), (gint)d->def,
                         flags);
    }
    g_assert_not_reached();
}

void object_class_add_props(GObjectClass *oc, const PropDef *props, guint n,
                            ptrdiff_t base)
{
    /* Classes live as long as the process: the copy is never freed. */
    PropDef *rows = g_memdup2(props, n * sizeof(*props));
    guint first = 1;

    g_return_if_fail(g_type_is_a(G_OBJECT_CLASS_TYPE(oc), USER_TYPE_OBJECT));
    oc->set_property = props_set_property;
    oc->get_property = props_get_property;
    for (guint i = 0; i < n; i++) {
        PropDef *d = &rows[i];
        GParamSpec *pspec;

        g_assert(d->offset != PROP_NO_FIELD || (d->set && d->get));
        if (d->offset != PROP_NO_FIELD) {
            d->offset += base;
        }
        if (d->given) {
            d->given += base;
        }
        pspec = prop_make_pspec(d);
        g_param_spec_set_qdata(pspec, prop_def_quark(), d);
        g_object_class_install_property(oc, first + i, pspec);
    }
}

gboolean object_prop_check(UserObject *obj, GParamSpec *pspec,
                           const GValue *value, GError **errp)
{
    const PropDef *d = object_prop_def(pspec);

    if (!d) {
        return TRUE;
    }
    if ((d->flags & PROP_POSITIVE) && G_VALUE_HOLDS_UINT(value) &&
        g_value_get_uint(value) == 0) {
        error_setg(errp, "Property '%s.%s' requires a positive value",
                   user_object_get_type_name(obj), d->name);
        return FALSE;
    }
    return d->check ? d->check(obj, value, errp) : TRUE;
}

/* The rows of every class from 'oc' up, each with 'fn'. */
static void props_foreach(GObjectClass *oc, GObject *obj,
                          void (*fn)(GObject *obj, GParamSpec *pspec,
                                     const PropDef *d))
{
    g_autofree GParamSpec **specs = NULL;
    guint n = 0;

    specs = g_object_class_list_properties(oc, &n);
    for (guint i = 0; i < n; i++) {
        const PropDef *d = object_prop_def(specs[i]);

        if (d && d->offset != PROP_NO_FIELD) {
            fn(obj, specs[i], d);
        }
    }
}

/* The field starts at the pspec's own default: help and state cannot
 * disagree. */
static void prop_init_default(GObject *obj, GParamSpec *pspec,
                              const PropDef *d)
{
    prop_store(obj, d, g_param_spec_get_default_value(pspec));
}

static void prop_free_field(GObject *obj, GParamSpec *pspec,
                            const PropDef *d)
{
    if (d->type == PROP_TYPE_STR) {
        g_clear_pointer((char **)prop_field(obj, d->offset), g_free);
    }
}

void object_props_init_defaults(GObject *obj, GObjectClass *oc)
{
    props_foreach(oc, obj, prop_init_default);
}

void object_props_free(GObject *obj)
{
    props_foreach(G_OBJECT_GET_CLASS(obj), obj, prop_free_field);
}
