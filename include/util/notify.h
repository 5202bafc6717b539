/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * include/util/notify.h - notifier lists.
 *
 * A NotifierList is a list of callbacks that all run, in registration
 * order, when the list is notified.  Lists are not thread-safe: each list
 * lives in one home context and is notified and modified only there.
 * Cross-thread notification goes through g_main_context_invoke() to the
 * home context of the list.
 */
#ifndef UTIL_NOTIFY_H
#define UTIL_NOTIFY_H

#include <glib.h>

typedef struct Notifier Notifier;
struct Notifier {
    void (*notify)(Notifier *n, void *data);
    GList link_;              /* private: the list link */
};

typedef struct NotifierList {
    GQueue notifiers;         /* of Notifier * */
} NotifierList;

#define NOTIFIER_LIST_INIT { G_QUEUE_INIT }

void notifier_list_init(NotifierList *list);
void notifier_list_add(NotifierList *list, Notifier *n);
/* Removes 'n' from whatever list holds it; a no-op if it is in none. */
void notifier_remove(NotifierList *list, Notifier *n);
/* Calls every notifier with 'data'.  A notifier may remove itself. */
void notifier_list_notify(NotifierList *list, void *data);

#endif /* UTIL_NOTIFY_H */
