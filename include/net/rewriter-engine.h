/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * include/net/rewriter-engine.h - the TCP sequence rewriting engine of
 * filter-rewriter.
 *
 * On the COLO secondary, the secondary guest's TCP stack picks its own
 * initial sequence numbers (ISNs) and its own timestamp clock offsets,
 * while the clients only ever see the primary's.  This engine keeps, per
 * TCP connection, the difference between the two spaces and translates
 * every frame crossing the secondary's netdev:
 *
 *   to the guest   (REWRITER_TO_GUEST, the filter's tx: the client's
 *                   segments mirrored from the primary, or, after failover,
 *                   the real network's):
 *                     ack     += seq offset   (when ACK is set)
 *                     SACK    += seq offset   (they acknowledge guest bytes)
 *                     TSecr   += ts offset    (when ACK is set)
 *   from the guest (REWRITER_FROM_GUEST, the filter's rx):
 *                     seq     -= seq offset   (also on RST, FIN, SYN-ACK)
 *                     TSval   -= ts offset
 *
 * where seq offset = secondary ISN - primary ISN of the guest's side and
 * ts offset = secondary TSval - primary TSval.  Both are learned during the
 * handshake, for either opener:
 *
 *   client-opened: client SYN (to guest) -> guest SYN-ACK (from guest:
 *                  secondary ISN and TSval) -> client ACK (to guest: its
 *                  ack is the primary ISN + 1, its TSecr the primary TSval)
 *   guest-opened:  guest SYN (from guest: secondary ISN and TSval) ->
 *                  peer SYN-ACK (to guest: ack = primary ISN + 1, TSecr =
 *                  primary TSval)
 *
 * Without colo-compare pacing them, the peer's ACK (and data) can reach the
 * engine before the guest's SYN-ACK has left the guest: such segments are
 * held (REWRITER_HOLD) until the SYN-ACK passes or hold_us runs out,
 * instead of reaching the guest unacceptable (QEMU computes a garbage
 * offset then).
 *
 * QEMU learns only the first (docs/filters.md), does not touch SACK or
 * timestamps, recomputes the whole checksum and wipes its table when full.
 * Here the L4 checksum is updated incrementally (RFC 1624, with the vnet
 * partial-checksum rule, net/checksum.c); the table is bounded
 * (net/conntrack.c) and never wiped: closed connections linger briefly
 * (so retransmitted FINs are still translated) and are removed, idle ones
 * expire, and a full table evicts the least recently used closed, idle or
 * offset-free connection, or else lets the new connection pass untracked
 * and counts it.
 *
 * COLO events: rewriter_checkpoint() zeroes every offset (the secondary's
 * state is the primary's again; a handshake the guest had answered becomes
 * established with offset 0, one it had not keeps learning from the
 * guest's next SYN or SYN-ACK); rewriter_failover() keeps translating the
 * connections already tracked and lets new ones pass untouched.
 *
 * The engine is pure: no I/O, no clock, no main loop, no GObject.  The
 * caller (net/filter-rewriter.c, unit tests, the fuzzer) passes frames, a
 * direction and a monotonic timestamp in microseconds.  Steady state
 * allocates nothing: one table entry per new connection only.
 *
 * Threads: a Rewriter belongs to one thread; rewriter_get_stats() may be
 * called from any thread.
 */
#ifndef NET_REWRITER_ENGINE_H
#define NET_REWRITER_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/packet.h"

#define REWRITER_MAX_CONNECTIONS_DEFAULT    16384u
#define REWRITER_MAX_CONNECTIONS_MAX        (1u << 22)
/* A bit over Linux's default keepalive time (7200 s), so that a quiet
 * connection kept up by keepalives never expires. */
#define REWRITER_IDLE_TIMEOUT_DEFAULT_US    (7500LL * G_USEC_PER_SEC)
/* How long a closed connection stays after its last frame (Linux's
 * TIME_WAIT length): retransmitted FINs and ACKs are still translated
 * (a guest whose FIN's acknowledgement overtook the FIN retransmits it
 * with backoff).  Closed connections are the first evicted, so a long
 * linger costs nothing when the table fills. */
#define REWRITER_LINGER_DEFAULT_US          (60LL * G_USEC_PER_SEC)
/* How long the peer's segments wait for the guest's SYN-ACK. */
#define REWRITER_HOLD_DEFAULT_US            (200LL * 1000)
/* A full table may evict a connection idle for this long. */
#define REWRITER_EVICT_IDLE_DEFAULT_US      (60LL * G_USEC_PER_SEC)

typedef enum RewriterDir {
    REWRITER_TO_GUEST,          /* filter tx: sent by the netdev */
    REWRITER_FROM_GUEST,        /* filter rx: sent by the guest */
} RewriterDir;

/* What rewriter_process() found.  Keep rewriter_result_name() in sync. */
typedef enum RewriterResult {
    REWRITER_NOT_TCP,           /* not TCP (or not IP): untouched */
    REWRITER_MALFORMED,         /* packet_parse() refused it: untouched */
    REWRITER_UNTRACKED,         /* TCP of no tracked connection (table
                                 * full, failover, mid-stream, fragment):
                                 * untouched */
    REWRITER_UNCHANGED,         /* tracked; nothing to change */
    REWRITER_REWRITTEN,         /* tracked; fields to change (applied by
                                 * rewriter_apply()) */
    REWRITER_HOLD,              /* the peer's segment arrived before the
                                 * guest's SYN-ACK: the caller keeps it
                                 * and submits it again after a frame
                                 * whose action has 'release' set, or
                                 * at the action's hold_until (then it
                                 * passes) */
    REWRITER_RESULT__MAX
} RewriterResult;

typedef struct RewriterConfig {
    unsigned vnet_hdr_len;      /* bytes of virtio-net header per frame */
    size_t max_connections;     /* table bound (0 = default) */
    int64_t idle_timeout_us;    /* expire after this idleness (0 = dflt) */
    int64_t linger_us;          /* keep closed connections (0 = default) */
    int64_t evict_idle_us;      /* evictable idleness (0 = default) */
    int64_t hold_us;            /* REWRITER_HOLD limit (0 = default) */
    uint32_t hash_seed;         /* conntrack seed; 0 picks a random one */
} RewriterConfig;

/*
 * The edits one frame needs, filled by rewriter_process() and applied by
 * rewriter_apply().  Holds the frame's parse; valid for that frame only.
 */
typedef struct RewriterAction {
    PacketInfo pi;
    uint32_t seq_sub;           /* subtracted from seq (FROM_GUEST) */
    uint32_t ack_add;           /* added to ack and SACK edges (TO_GUEST) */
    uint32_t tsval_sub;         /* subtracted from TSval (FROM_GUEST) */
    uint32_t tsecr_add;         /* added to TSecr (TO_GUEST) */
    bool do_seq, do_ack, do_sack, do_tsval, do_tsecr;
    bool release;               /* held frames may go now: submit them
                                 * again (after this frame) */
    int64_t hold_until;         /* REWRITER_HOLD: the time (the now_us
                                 * clock) from which this connection's
                                 * frames pass even without a SYN-ACK, so
                                 * the caller submits them again then */
} RewriterAction;

typedef struct RewriterStats {
    uint64_t connections;       /* tracked now */
    uint64_t max_connections;
    uint64_t opened_by_client;  /* handshakes seen, client SYN first */
    uint64_t opened_by_guest;   /* handshakes seen, guest SYN first */
    uint64_t offsets_learned;   /* handshakes completed (offset known) */
    uint64_t packets_tcp;       /* TCP frames looked at */
    uint64_t packets_rewritten; /* frames with at least one field changed */
    uint64_t seq_rewritten;     /* seq fields changed */
    uint64_t ack_rewritten;     /* ack fields changed */
    uint64_t sack_rewritten;    /* SACK blocks changed */
    uint64_t ts_rewritten;      /* TSval / TSecr fields changed */
    uint64_t untracked;         /* TCP frames of no tracked connection */
    uint64_t not_tcp;           /* frames passed as not TCP */
    uint64_t malformed;         /* frames packet_parse() refused */
    uint64_t fragments;         /* TCP fragments passed untouched */
    uint64_t closed_fin;        /* connections closed by FIN handshake */
    uint64_t closed_rst;        /* connections closed by RST */
    uint64_t removed_linger;    /* closed connections removed */
    uint64_t evictions;         /* removed to make room */
    uint64_t expirations;       /* removed after idle_timeout */
    uint64_t refused_full;      /* new connections passed: table full */
    uint64_t failover_passed;   /* new connections passed: failover */
    uint64_t held;              /* REWRITER_HOLD results (a frame
                                 * submitted again counts again) */
    uint64_t hold_expired;      /* connections whose hold ran out */
    uint64_t checkpoints;       /* rewriter_checkpoint() calls */
    uint64_t checkpoint_loads;  /* rewriter_checkpoint_load() calls */
    uint64_t loads_undone;      /* ... whose offsets failover put back */
    uint64_t failover;          /* 1 after rewriter_failover() */
} RewriterStats;

/* A tracked connection, for listing (rewriter_foreach_conn()). */
typedef struct RewriterConnInfo {
    PacketAddr guest_addr;
    PacketAddr peer_addr;
    uint16_t guest_port;
    uint16_t peer_port;
    uint8_t ip_version;
    bool opened_by_guest;
    const char *state;          /* "syn", "syn-ack", "established",
                                 * "closing", "closed" (static string) */
    uint32_t seq_offset;        /* secondary - primary */
    uint32_t ts_offset;
    int64_t idle_us;            /* now - last packet */
} RewriterConnInfo;

typedef struct Rewriter Rewriter;

/* Creates an engine ('cfg' copied; NULL = all defaults).  Never fails. */
Rewriter *rewriter_new(const RewriterConfig *cfg);

/* Frees the engine and every tracked connection.  NULL is fine. */
void rewriter_free(Rewriter *rw);

/* Changes the vnet header length of the frames to come. */
void rewriter_set_vnet_hdr_len(Rewriter *rw, unsigned vnet_hdr_len);

/*
 * Parses the 'len' bytes at 'frame' (borrowed, read only), updates the
 * connection state for a frame going 'dir' at time 'now_us', and fills
 * '*act' with the edits the frame needs.  Returns REWRITER_REWRITTEN when
 * the caller must apply them (rewriter_apply()) on a writable copy of the
 * frame (or the frame itself), anything else when the frame goes on
 * untouched.  Allocates only when a new connection is tracked.
 */
RewriterResult rewriter_process(Rewriter *rw, const uint8_t *frame,
                                size_t len, RewriterDir dir, int64_t now_us,
                                RewriterAction *act);

/* Applies 'act' (from rewriter_process() on the same bytes) to 'frame',
 * fixing the L4 checksum incrementally.  O(1); no allocation. */
void rewriter_apply(const RewriterAction *act, uint8_t *frame);

/* rewriter_process() and, if needed, rewriter_apply() on 'frame' in
 * place.  For tests and tools. */
RewriterResult rewriter_rewrite(Rewriter *rw, uint8_t *frame, size_t len,
                                RewriterDir dir, int64_t now_us);

/* Removes connections closed for longer than the linger time and those
 * idle for longer than the idle timeout, looking at 'budget' entries of
 * each kind at most (0 = no limit).  Returns how many were removed.  Call
 * it periodically (the filter does every second). */
unsigned rewriter_expire(Rewriter *rw, int64_t now_us, unsigned budget);

/* COLO checkpoint: every offset becomes zero.  Held frames may go: submit
 * them again. */
void rewriter_checkpoint(Rewriter *rw);

/*
 * The secondary has stopped to load a checkpoint (its QEMU's STOP while in
 * COLO): every offset becomes zero now, as at rewriter_checkpoint(), but
 * the old ones are kept aside.  Frames for the guest handled from here on
 * reach it after it resumed from the primary's state (QEMU holds them for
 * a stopped guest), and so do the client's acks in them, which need no
 * translation any more; the guest's own frames from before the stop are
 * dropped by colo-compare's flush.  Waiting for the load to be reported
 * (the RESUME, seen after the guest already runs) translated them with
 * stale offsets: the resumed guest dropped the client's segments and its
 * first segments went out shifted.  rewriter_checkpoint() confirms the
 * load; rewriter_failover() before it (the primary died mid-checkpoint,
 * the guest keeps its old state) puts the old offsets back.  Connections
 * that begin between the load and its commit (a SYN that came while the
 * guests were stopped) are in neither guest's checkpointed state: both
 * answer them with their own ISNs, and their offsets are learned as usual
 * (the commit of a load leaves them alone).
 */
void rewriter_checkpoint_load(Rewriter *rw);

/* COLO failover: tracked connections stay translated until they end, new
 * ones pass untouched (offsets zeroed by a rewriter_checkpoint_load() that
 * was not confirmed come back first).  Irreversible: later checkpoints
 * (the side re-protected as a primary) leave the offsets alone. */
void rewriter_failover(Rewriter *rw);

bool rewriter_in_failover(const Rewriter *rw);

/* Copies the counters.  Any thread (values may be a moment old). */
void rewriter_get_stats(const Rewriter *rw, RewriterStats *st);

/* Calls 'fn' for every tracked connection, least recently used first.
 * 'fn' must not call back into the engine. */
void rewriter_foreach_conn(Rewriter *rw, int64_t now_us,
                           void (*fn)(const RewriterConnInfo *ci,
                                      void *opaque),
                           void *opaque);

/* Number of tracked connections whose sequence or timestamp offset is not
 * zero. */
size_t rewriter_count_offsets(Rewriter *rw);

const char *rewriter_result_name(RewriterResult r);

#endif /* NET_REWRITER_ENGINE_H */
