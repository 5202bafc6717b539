/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * include/net/queue.h - a bounded FIFO of frames with recycled buffers.
 *
 * The net core keeps one NetQueue per client for the frames its receive()
 * could not take yet (net/net.c), and filter-buffer keeps one for the
 * frames it holds.  The queue copies each frame it accepts into a buffer
 * of its own; buffers are recycled through a free list, so a queue whose
 * depth oscillates allocates nothing in steady state.  A frame longer
 * than every free buffer grows one buffer once (slow path).
 *
 * Bounds: at most 'limit' frames are queued; a push onto a full queue
 * copies nothing, counts the drop and returns false.  The number of
 * buffers ever allocated (queued + free) never exceeds 'limit', so the
 * memory held is at most limit x (largest frame seen).
 *
 * Usage:
 *
 *   NetQueue q;
 *   net_queue_init(&q, 4096);
 *   if (!net_queue_push(&q, buf, len, tag))   (copied; false = dropped)
 *       ...
 *   net_queue_flush(&q, deliver_fn, opaque);  (in order, stops on 0)
 *   net_queue_destroy(&q);
 *
 * Threads: a queue is used from one thread only (its owner's context).
 */
#ifndef NET_QUEUE_H
#define NET_QUEUE_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>

/* Smallest buffer the queue allocates, so that small frames of varying
 * length reuse the same buffers. */
#define NET_QUEUE_MIN_BUF 2048u

typedef struct NetQueueEntry NetQueueEntry;
struct NetQueueEntry {
    NetQueueEntry *next;      /* next queued (or next free) entry */
    uint8_t *data;            /* 'cap' bytes, owned by the entry */
    size_t cap;               /* allocated size of 'data' */
    size_t len;               /* bytes of the frame in 'data' */
    uint32_t tag;             /* caller's value stored with the frame */
};

typedef struct NetQueue {
    unsigned limit;           /* most frames queued at once */
    unsigned count;           /* frames queued now */
    unsigned allocated;       /* entries allocated (queued + free) */
    size_t bytes;             /* bytes queued now */
    NetQueueEntry *head;      /* oldest frame, NULL when empty */
    NetQueueEntry *tail;      /* newest frame */
    NetQueueEntry *free;      /* recycled entries */
    uint64_t pushed;          /* frames accepted */
    uint64_t popped;          /* frames removed (delivered or dropped) */
    uint64_t dropped_full;    /* frames refused: queue full */
    uint64_t allocs;          /* buffer (re)allocations, for tests */
} NetQueue;

/* Initialises an empty queue of at most 'limit' frames (limit >= 1). */
void net_queue_init(NetQueue *q, unsigned limit);
/* Frees every queued frame and every buffer.  The queue may be
 * initialised again afterwards.  Accepts a zeroed queue. */
void net_queue_destroy(NetQueue *q);
/* Changes the bound.  Frames already queued beyond a smaller bound stay
 * queued (no frame is lost); new pushes fail until the queue drained. */
void net_queue_set_limit(NetQueue *q, unsigned limit);

/* Appends a copy of 'buf' ('len' bytes, borrowed) with 'tag'.  Returns
 * false and counts dropped_full, copying nothing, when the queue is full. */
bool net_queue_push(NetQueue *q, const uint8_t *buf, size_t len,
                    uint32_t tag);

/* The oldest frame, or NULL when empty.  The entry stays owned by the
 * queue and valid until it is popped. */
static inline const NetQueueEntry *net_queue_peek(const NetQueue *q)
{
    return q->head;
}

/* Removes the oldest frame (the queue must not be empty) and recycles
 * its buffer. */
void net_queue_pop(NetQueue *q);

/* Removes every queued frame (buffers are kept for reuse).  Returns the
 * number of frames removed. */
unsigned net_queue_purge(NetQueue *q);

static inline unsigned net_queue_len(const NetQueue *q)
{
    return q->count;
}

static inline bool net_queue_is_empty(const NetQueue *q)
{
    return q->count == 0;
}

static inline bool net_queue_is_full(const NetQueue *q)
{
    return q->count >= q->limit;
}

/* Delivers a frame taken from the queue: returns > 0 when it took the
 * frame, 0 when it cannot take it now (the frame stays at the head), < 0
 * when it dropped the frame (the frame is removed). */
typedef gssize (*NetQueueDeliverFn)(void *opaque, const uint8_t *buf,
                                    size_t len, uint32_t tag);

/* Hands frames to 'fn' oldest first, at most 'max' of them (0 = no
 * limit), until the queue is empty or 'fn' returns 0.  'fn' may push
 * onto the queue (those frames go behind the others).  Returns the
 * number of frames removed. */
unsigned net_queue_flush(NetQueue *q, NetQueueDeliverFn fn, void *opaque,
                         unsigned max);

#endif /* NET_QUEUE_H */
