/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * util/notify.c - notifier lists (include/util/notify.h).
 *
 * A Notifier embeds its own GList link, so adding and removing never
 * allocate.  Used by the COLO frame (colo/) to broadcast checkpoint and
 * failover events to colo-compare and the filters, and by chardevs for
 * connection events.  Not thread-safe: one home context per list.
 */
#include "util/notify.h"

void notifier_list_init(NotifierList *list)
{
    g_queue_init(&list->notifiers);
}

/* Appends 'n' (borrowed; must stay valid until removed) to 'list'. */
void notifier_list_add(NotifierList *list, Notifier *n)
{
    n->link_.data = n;
    n->link_.prev = NULL;
    n->link_.next = NULL;
    g_queue_push_tail_link(&list->notifiers, &n->link_);
}

/* Removes 'n' from 'list' if it is on it; a no-op otherwise. */
void notifier_remove(NotifierList *list, Notifier *n)
{
    if (n->link_.data != n) {
        return;         /* never added, or already removed */
    }
    for (GList *l = list->notifiers.head; l; l = l->next) {
        if (l == &n->link_) {
            g_queue_unlink(&list->notifiers, l);
            n->link_.data = NULL;
            n->link_.prev = NULL;
            n->link_.next = NULL;
            return;
        }
    }
}

/* Calls each notifier in registration order.  The next link is read before
 * the callback runs, so a notifier may remove itself (but not others that
 * follow it). */
void notifier_list_notify(NotifierList *list, void *data)
{
    GList *l = list->notifiers.head;

    while (l) {
        GList *next = l->next;
        Notifier *n = l->data;

        n->notify(n, data);
        l = next;
    }
}
