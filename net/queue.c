/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * net/queue.c - the bounded frame FIFO of the net core and filter-buffer.
 *
 * A singly linked list of entries, each owning one buffer.  Popped
 * entries go to a free list and are reused by later pushes, so once the
 * queue has been as deep as it gets in a workload, no push allocates.
 * The number of entries is bounded by the queue's limit, which bounds the
 * memory held.  See include/net/queue.h for the contract; net/net.c
 * builds the client send path on top of it.
 *
 * Threads: none of its own; each queue belongs to one thread.
 */
#include <string.h>

#include "net/queue.h"

void net_queue_init(NetQueue *q, unsigned limit)
{
    memset(q, 0, sizeof(*q));
    q->limit = MAX(limit, 1u);
}

static void entry_free(NetQueueEntry *e)
{
    g_free(e->data);
    g_free(e);
}

void net_queue_destroy(NetQueue *q)
{
    NetQueueEntry *e, *next;

    for (e = q->head; e; e = next) {
        next = e->next;
        entry_free(e);
    }
    for (e = q->free; e; e = next) {
        next = e->next;
        entry_free(e);
    }
    q->head = q->tail = q->free = NULL;
    q->count = 0;
    q->allocated = 0;
    q->bytes = 0;
}

void net_queue_set_limit(NetQueue *q, unsigned limit)
{
    q->limit = MAX(limit, 1u);
    /* Release free buffers beyond the new bound, so that the bound on
     * memory holds again once the queue drains. */
    while (q->free && q->allocated > q->limit) {
        NetQueueEntry *e = q->free;

        q->free = e->next;
        q->allocated--;
        entry_free(e);
    }
}

/* Returns an entry able to hold 'len' bytes: a recycled one when there
 * is one (grown if too small), else a new one. */
static NetQueueEntry *entry_get__(NetQueue *q, size_t len)
{
    NetQueueEntry *e = q->free;

    if (e) {
        q->free = e->next;
    } else {
        e = g_new0(NetQueueEntry, 1);
        q->allocated++;
    }
    if (e->cap < len) {
        size_t cap = MAX(len, (size_t) NET_QUEUE_MIN_BUF);

        /* No need to keep the old contents: replace, don't realloc. */
        g_free(e->data);
        e->data = g_malloc(cap);
        e->cap = cap;
        q->allocs++;
    }
    return e;
}

bool net_queue_push(NetQueue *q, const uint8_t *buf, size_t len,
                    uint32_t tag)
{
    NetQueueEntry *e;

    if (q->count >= q->limit) {
        q->dropped_full++;
        return false;
    }
    e = entry_get__(q, len);
    if (len) {
        memcpy(e->data, buf, len);
    }
    e->len = len;
    e->tag = tag;
    e->next = NULL;
    if (q->tail) {
        q->tail->next = e;
    } else {
        q->head = e;
    }
    q->tail = e;
    q->count++;
    q->bytes += len;
    q->pushed++;
    return true;
}

void net_queue_pop(NetQueue *q)
{
    NetQueueEntry *e = q->head;

    g_assert(e);
    q->head = e->next;
    if (!q->head) {
        q->tail = NULL;
    }
    q->count--;
    q->bytes -= e->len;
    q->popped++;
    if (q->allocated > q->limit) {
        /* The limit shrank: do not keep more buffers than it allows. */
        q->allocated--;
        entry_free(e);
        return;
    }
    e->len = 0;
    e->next = q->free;
    q->free = e;
}

unsigned net_queue_purge(NetQueue *q)
{
    unsigned n = 0;

    while (q->head) {
        net_queue_pop(q);
        n++;
    }
    return n;
}

unsigned net_queue_flush(NetQueue *q, NetQueueDeliverFn fn, void *opaque,
                         unsigned max)
{
    unsigned n = 0;

    while (q->head && (max == 0 || n < max)) {
        NetQueueEntry *e = q->head;
        gssize ret = fn(opaque, e->data, e->len, e->tag);

        if (ret == 0) {
            break;
        }
        if (q->head != e) {
            /* 'fn' purged the queue (its owner is going away). */
            break;
        }
        net_queue_pop(q);
        n++;
    }
    return n;
}
