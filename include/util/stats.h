/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * include/util/stats.h - counters readable over QMP.
 *
 * Counters are plain uint64_t fields of the object that owns them, bumped
 * only from the object's home thread.  A reader in another thread (the
 * monitor asking for the statistics of an object living on an iothread)
 * reads them with stats_read(), which is a relaxed atomic load: values may
 * be a moment old but never torn.  Each object exposes its counters by
 * filling a JsonObject in its query handler.
 */
#ifndef UTIL_STATS_H
#define UTIL_STATS_H

#include <stdint.h>

static inline void stats_inc(uint64_t *c) { __atomic_store_n(c, *c + 1, __ATOMIC_RELAXED); }
static inline void stats_add(uint64_t *c, uint64_t n) { __atomic_store_n(c, *c + n, __ATOMIC_RELAXED); }
static inline uint64_t stats_read(const uint64_t *c) { return __atomic_load_n(c, __ATOMIC_RELAXED); }

#endif /* UTIL_STATS_H */
