/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * include/net/passthrough.h - per-flow passthrough rules of colo-compare:
 * flows that are exempt from comparison.
 *
 * A workload whose replies legitimately differ between the two guests
 * (timestamps, random tokens, TLS) makes every reply a miscompare and
 * every miscompare a checkpoint.  A passthrough rule names such flows:
 * their primary frames are released as they come, the secondary's copies
 * dropped, both counted on the rule (docs/storms.md).  After Zhang Chen's
 * passthrough proposal for QEMU (never merged); QEMU has no such thing.
 *
 * Rule grammar (one rule; fields after the protocol may be left out or
 * written "*"; compare sees only the guests' output, so "src" is always
 * the guest and "dst" its peer):
 *
 *   RULE  := PROTO [ ":" HOST [ ":" PORTS [ ":" HOST [ ":" PORTS ] ] ] ]
 *   PROTO := "tcp" | "udp" | "icmp" | "any"   (icmp: ICMP and ICMPv6;
 *                                              udp: UDP and UDP-Lite)
 *   HOST  := "*" | IPV4 [ "/" 0-32 ] | "[" IPV6 "]" [ "/" 0-128 ]
 *   PORTS := "*" | N | N "-" M               (0 <= N <= M <= 65535)
 *
 *   tcp:10.0.0.0/24:8000-8100     guest 10.0.0.0/24, guest ports 8000-8100
 *   udp:*:*:192.168.1.5:53        to 192.168.1.5 port 53
 *   icmp                          every ICMP / ICMPv6 packet
 *
 * Ports are refused with icmp; a rule with ports (other than "*") matches
 * only packets that carry ports (not the later fragments of a datagram).
 * Host bits below the prefix must be 0 ("10.0.0.1/24" is refused: say
 * 10.0.0.0/24 or 10.0.0.1/32).  A list of rules (the "passthrough"
 * property) separates them with ';' or ','.
 *
 * Overlaps are refused: two rules overlap when some packet could match
 * both (their protocols, both prefixes and both port ranges intersect).
 * So a packet matches at most one rule, a rule's counters mean exactly
 * the flows it names, and deleting one rule never changes what another
 * counts.  "First match wins" would make the counters and the effect of
 * a deletion depend on the order of additions, which a query cannot show
 * an operator at a glance.
 *
 * Bounds: at most 'max' rules (set at creation, 1..PASSTHROUGH_MAX_RULES);
 * matching is a linear scan, free when the table is empty.
 *
 * Threads: a PassthroughTable belongs to one thread (colo-compare's);
 * pure, no I/O, no clock.
 */
#ifndef NET_PASSTHROUGH_H
#define NET_PASSTHROUGH_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "net/packet.h"

#define PASSTHROUGH_MAX_RULES       4096u
#define PASSTHROUGH_DEFAULT_MAX     64u
#define PASSTHROUGH_RULE_STRLEN     192

typedef enum {
    PASSTHROUGH_ANY,
    PASSTHROUGH_TCP,
    PASSTHROUGH_UDP,
    PASSTHROUGH_ICMP,
} PassthroughProto;

typedef struct PassthroughRule {
    PassthroughProto proto;
    PacketAddr src, dst;        /* prefix bits (IPv4 mapped) */
    uint8_t src_len, dst_len;   /* in the 128-bit space: IPv4 /n is 96+n;
                                 * 0 = any address of either family */
    uint16_t sport[2], dport[2];  /* inclusive range; 0-65535 = any */
    /* counters (owner thread) */
    uint64_t primary_packets;   /* released as they came */
    uint64_t primary_bytes;
    uint64_t secondary_dropped; /* the secondary's copies dropped */
} PassthroughRule;

typedef struct PassthroughTable PassthroughTable;

/* Parses one rule; FALSE with errp set (UTIL_ERROR_GENERIC_ERROR, a text
 * naming the bad part) when malformed.  Counters zeroed. */
gboolean passthrough_rule_parse(const char *text, PassthroughRule *r,
                                GError **errp);
/* The canonical text of a rule into buf[PASSTHROUGH_RULE_STRLEN]. */
const char *passthrough_rule_format(const PassthroughRule *r, char *buf);
/* Whether some packet could match both. */
bool passthrough_rules_overlap(const PassthroughRule *a,
                               const PassthroughRule *b);

PassthroughTable *passthrough_table_new(unsigned max);
void passthrough_table_free(PassthroughTable *t);
/* Adds a rule: refused (FALSE, errp) when the table is full, or when it
 * equals or overlaps an existing rule (named in the message). */
gboolean passthrough_table_add(PassthroughTable *t, const PassthroughRule *r,
                               GError **errp);
/* Parses a list ("r1;r2" or "r1,r2") and adds each rule; on error the
 * table is left as it was. */
gboolean passthrough_table_add_list(PassthroughTable *t, const char *list,
                                    GError **errp);
/* Removes the rule equal to 'r' (same canonical text); FALSE with errp
 * when there is none. */
gboolean passthrough_table_del(PassthroughTable *t, const PassthroughRule *r,
                               GError **errp);
unsigned passthrough_table_count(const PassthroughTable *t);
unsigned passthrough_table_max(const PassthroughTable *t);
/* The i-th rule in order of addition (i < count). */
const PassthroughRule *passthrough_table_get(const PassthroughTable *t,
                                             unsigned i);
/* Rules refused because the table was full (counted). */
uint64_t passthrough_table_refused_full(const PassthroughTable *t);

/* The rule 'pi' (a parsed IP packet of the guest's output) matches, or
 * NULL.  O(rules); NULL at once when the table is empty. */
PassthroughRule *passthrough_table_match(PassthroughTable *t,
                                         const PacketInfo *pi);

#endif /* NET_PASSTHROUGH_H */
