/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * net/passthrough.c - passthrough rules of colo-compare: parsing, the
 * overlap test and matching.  The contract is include/net/passthrough.h.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/passthrough.h"
#include "util/error.h"

struct PassthroughTable {
    unsigned max;
    GArray *rules;              /* of PassthroughRule, order of addition */
    uint64_t refused_full;
};

static const char *const proto_names[] = {
    [PASSTHROUGH_ANY] = "any",
    [PASSTHROUGH_TCP] = "tcp",
    [PASSTHROUGH_UDP] = "udp",
    [PASSTHROUGH_ICMP] = "icmp",
};

/* Keeps the first 'len' bits of 'a', clears the rest. */
static void prefix_mask(PacketAddr *a, unsigned len)
{
    for (unsigned i = 0; i < 16; i++) {
        unsigned bits = len > i * 8 ? len - i * 8 : 0;

        if (bits < 8) {
            a->b[i] &= (uint8_t) (0xff00u >> bits);
        }
    }
}

static bool prefix_contains(const PacketAddr *net, unsigned len,
                            const PacketAddr *a)
{
    PacketAddr m = *a;

    prefix_mask(&m, len);
    return !memcmp(m.b, net->b, 16);
}

/* A prefix inside ::ffff:0:0/96, the IPv4-mapped space. */
static bool is_v4(const PacketAddr *a, unsigned len)
{
    static const PacketAddr mapped = { .b = { [10] = 0xff, [11] = 0xff } };

    return len >= 96 && prefix_contains(&mapped, 96, a);
}

/* HOST into (a, len); "*" or "" = any. */
static gboolean parse_host(const char *s, PacketAddr *a, uint8_t *len,
                           const char *what, GError **errp)
{
    char buf[64];
    const char *slash;
    const char *addr = s;
    size_t alen;
    bool v6 = false;
    unsigned plen, maxlen;
    PacketAddr m;

    memset(a, 0, sizeof *a);
    *len = 0;
    if (!*s || !strcmp(s, "*")) {
        return TRUE;
    }
    if (*s == '[') {
        const char *close = strchr(s, ']');

        if (!close) {
            error_setg(errp, "passthrough rule: %s '%s': missing ']'",
                       what, s);
            return FALSE;
        }
        addr = s + 1;
        alen = close - addr;
        slash = close[1] == '/' ? close + 1 : NULL;
        if (close[1] && !slash) {
            error_setg(errp, "passthrough rule: %s '%s': junk after ']'",
                       what, s);
            return FALSE;
        }
        v6 = true;
    } else {
        slash = strchr(s, '/');
        alen = slash ? (size_t) (slash - s) : strlen(s);
    }
    if (alen == 0 || alen >= sizeof buf) {
        error_setg(errp, "passthrough rule: %s '%s' is not an address",
                   what, s);
        return FALSE;
    }
    memcpy(buf, addr, alen);
    buf[alen] = 0;
    if (v6) {
        if (inet_pton(AF_INET6, buf, a->b) != 1) {
            error_setg(errp, "passthrough rule: %s '%s' is not an IPv6 "
                       "address", what, buf);
            return FALSE;
        }
        maxlen = 128;
    } else {
        uint8_t v4[4];

        if (strchr(buf, ':')) {
            error_setg(errp, "passthrough rule: %s '%s': write IPv6 "
                       "addresses in brackets, as [fd00::1]/64", what, buf);
            return FALSE;
        }
        if (inet_pton(AF_INET, buf, v4) != 1) {
            error_setg(errp, "passthrough rule: %s '%s' is not an IPv4 "
                       "address", what, buf);
            return FALSE;
        }
        a->b[10] = a->b[11] = 0xff;
        memcpy(a->b + 12, v4, 4);
        maxlen = 32;
    }
    plen = maxlen;
    if (slash) {
        char *end;
        unsigned long v;

        if (!g_ascii_isdigit(slash[1])) {
            error_setg(errp, "passthrough rule: %s '%s': bad prefix length",
                       what, s);
            return FALSE;
        }
        v = strtoul(slash + 1, &end, 10);
        if (*end || v > maxlen) {
            error_setg(errp, "passthrough rule: %s '%s': prefix length "
                       "must be 0-%u", what, s, maxlen);
            return FALSE;
        }
        plen = (unsigned) v;
    }
    if (!v6) {
        plen += 96;             /* inside ::ffff:0:0/96 */
    }
    m = *a;
    prefix_mask(&m, plen);
    if (memcmp(m.b, a->b, 16)) {
        error_setg(errp, "passthrough rule: %s '%s' has host bits set "
                   "below its prefix length", what, s);
        return FALSE;
    }
    *len = (uint8_t) plen;
    return TRUE;
}

static gboolean parse_u16(const char *s, const char **end, uint16_t *out)
{
    char *e;
    unsigned long v;

    if (!g_ascii_isdigit(*s)) {
        return FALSE;
    }
    v = strtoul(s, &e, 10);
    if (v > 65535 || e - s > 5) {
        return FALSE;
    }
    *out = (uint16_t) v;
    *end = e;
    return TRUE;
}

static gboolean parse_ports(const char *s, uint16_t r[2], const char *what,
                            GError **errp)
{
    const char *e;

    r[0] = 0;
    r[1] = 65535;
    if (!*s || !strcmp(s, "*")) {
        return TRUE;
    }
    if (!parse_u16(s, &e, &r[0])) {
        goto bad;
    }
    r[1] = r[0];
    if (*e == '-') {
        if (!parse_u16(e + 1, &e, &r[1])) {
            goto bad;
        }
    }
    if (*e) {
        goto bad;
    }
    if (r[0] > r[1]) {
        error_setg(errp, "passthrough rule: %s '%s': the range is empty "
                   "(%u > %u)", what, s, r[0], r[1]);
        return FALSE;
    }
    return TRUE;
bad:
    error_setg(errp, "passthrough rule: %s '%s' is not a port or a range "
               "N-M (0-65535)", what, s);
    return FALSE;
}

/* Splits at ':' outside brackets. */
static int split_fields(const char *text, char f[5][64], GError **errp)
{
    int n = 0;
    size_t l = 0;
    int depth = 0;

    for (const char *p = text;; p++) {
        if (*p == 0 || (*p == ':' && !depth)) {
            if (n == 5) {
                error_setg(errp, "passthrough rule '%s': too many fields "
                           "(PROTO:HOST:PORTS:HOST:PORTS at most)", text);
                return -1;
            }
            f[n++][l] = 0;
            l = 0;
            if (!*p) {
                return n;
            }
            continue;
        }
        if (*p == '[') {
            depth++;
        } else if (*p == ']') {
            depth--;
        }
        if (n == 5) {
            error_setg(errp, "passthrough rule '%s': too many fields "
                       "(PROTO:HOST:PORTS:HOST:PORTS at most)", text);
            return -1;
        }
        if (l + 1 >= 64) {
            error_setg(errp, "passthrough rule '%s': a field is too long",
                       text);
            return -1;
        }
        f[n][l++] = *p;
    }
}

gboolean passthrough_rule_parse(const char *text, PassthroughRule *r,
                                GError **errp)
{
    char f[5][64];
    int n;
    unsigned i;

    memset(r, 0, sizeof *r);
    r->sport[1] = r->dport[1] = 65535;
    if (!text || !*text) {
        error_setg(errp, "passthrough rule is empty (expected "
                   "PROTO[:HOST[:PORTS[:HOST[:PORTS]]]], e.g. "
                   "tcp:10.0.0.0/24:8000-8100)");
        return FALSE;
    }
    if (strlen(text) >= PASSTHROUGH_RULE_STRLEN * 2) {
        error_setg(errp, "passthrough rule is too long");
        return FALSE;
    }
    if (strstr(text, "::") && !strchr(text, '[')) {
        error_setg(errp, "passthrough rule '%s': write IPv6 addresses in "
                   "brackets, as [fd00::1]/64", text);
        return FALSE;
    }
    n = split_fields(text, f, errp);
    if (n < 0) {
        return FALSE;
    }
    for (i = 0; i < G_N_ELEMENTS(proto_names); i++) {
        if (!g_ascii_strcasecmp(f[0], proto_names[i])) {
            break;
        }
    }
    if (i == G_N_ELEMENTS(proto_names)) {
        error_setg(errp, "passthrough rule '%s': protocol '%s' is not tcp, "
                   "udp, icmp or any", text, f[0]);
        return FALSE;
    }
    r->proto = (PassthroughProto) i;
    if ((n > 1 && !parse_host(f[1], &r->src, &r->src_len, "source", errp))
        || (n > 2 && !parse_ports(f[2], r->sport, "source port", errp))
        || (n > 3 && !parse_host(f[3], &r->dst, &r->dst_len, "destination",
                                 errp))
        || (n > 4 && !parse_ports(f[4], r->dport, "destination port",
                                  errp))) {
        return FALSE;
    }
    if (r->proto == PASSTHROUGH_ICMP
        && (r->sport[0] || r->sport[1] != 65535 || r->dport[0]
            || r->dport[1] != 65535)) {
        error_setg(errp, "passthrough rule '%s': icmp has no ports", text);
        return FALSE;
    }
    if (r->src_len && r->dst_len
        && is_v4(&r->src, r->src_len) != is_v4(&r->dst, r->dst_len)) {
        error_setg(errp, "passthrough rule '%s': source and destination are "
                   "of different address families", text);
        return FALSE;
    }
    return TRUE;
}

static void format_host(const PacketAddr *a, unsigned len, char *out,
                        size_t size)
{
    char s[INET6_ADDRSTRLEN];
    bool v4 = is_v4(a, len);

    if (!len) {
        snprintf(out, size, "*");
    } else if (v4) {
        inet_ntop(AF_INET, a->b + 12, s, sizeof s);
        snprintf(out, size, "%s/%u", s, len - 96);
    } else {
        inet_ntop(AF_INET6, a->b, s, sizeof s);
        snprintf(out, size, "[%s]/%u", s, len);
    }
}

static void format_ports(const uint16_t p[2], char *out, size_t size)
{
    if (p[0] == 0 && p[1] == 65535) {
        snprintf(out, size, "*");
    } else if (p[0] == p[1]) {
        snprintf(out, size, "%u", p[0]);
    } else {
        snprintf(out, size, "%u-%u", p[0], p[1]);
    }
}

const char *passthrough_rule_format(const PassthroughRule *r, char *buf)
{
    char sh[64], sp[16], dh[64], dp[16];

    format_host(&r->src, r->src_len, sh, sizeof sh);
    format_ports(r->sport, sp, sizeof sp);
    format_host(&r->dst, r->dst_len, dh, sizeof dh);
    format_ports(r->dport, dp, sizeof dp);
    /* the shortest text that parses back to the same rule */
    if (strcmp(dp, "*")) {
        snprintf(buf, PASSTHROUGH_RULE_STRLEN, "%s:%s:%s:%s:%s",
                 proto_names[r->proto], sh, sp, dh, dp);
    } else if (strcmp(dh, "*")) {
        snprintf(buf, PASSTHROUGH_RULE_STRLEN, "%s:%s:%s:%s",
                 proto_names[r->proto], sh, sp, dh);
    } else if (strcmp(sp, "*")) {
        snprintf(buf, PASSTHROUGH_RULE_STRLEN, "%s:%s:%s",
                 proto_names[r->proto], sh, sp);
    } else if (strcmp(sh, "*")) {
        snprintf(buf, PASSTHROUGH_RULE_STRLEN, "%s:%s",
                 proto_names[r->proto], sh);
    } else {
        snprintf(buf, PASSTHROUGH_RULE_STRLEN, "%s", proto_names[r->proto]);
    }
    return buf;
}

static bool prefixes_overlap(const PacketAddr *a, unsigned al,
                             const PacketAddr *b, unsigned bl)
{
    /* two prefixes intersect iff the shorter contains the longer */
    return al <= bl ? prefix_contains(a, al, b) : prefix_contains(b, bl, a);
}

static bool same_rule(const PassthroughRule *a, const PassthroughRule *b)
{
    return a->proto == b->proto && a->src_len == b->src_len
           && a->dst_len == b->dst_len && !memcmp(&a->src, &b->src, 16)
           && !memcmp(&a->dst, &b->dst, 16)
           && !memcmp(a->sport, b->sport, sizeof a->sport)
           && !memcmp(a->dport, b->dport, sizeof a->dport);
}

/* 4, 6, or 0 when the rule names no address (both families). */
static int rule_family(const PassthroughRule *r)
{
    if (r->src_len) {
        return is_v4(&r->src, r->src_len) ? 4 : 6;
    }
    if (r->dst_len) {
        return is_v4(&r->dst, r->dst_len) ? 4 : 6;
    }
    return 0;
}

bool passthrough_rules_overlap(const PassthroughRule *a,
                               const PassthroughRule *b)
{
    int fa = rule_family(a), fb = rule_family(b);

    /* a packet has one family: "10.0.0.0/8 -> *" and "* -> [fd00::]/8"
     * can never both match */
    if (fa && fb && fa != fb) {
        return false;
    }
    if (a->proto != b->proto && a->proto != PASSTHROUGH_ANY
        && b->proto != PASSTHROUGH_ANY) {
        return false;
    }
    return prefixes_overlap(&a->src, a->src_len, &b->src, b->src_len)
           && prefixes_overlap(&a->dst, a->dst_len, &b->dst, b->dst_len)
           && a->sport[0] <= b->sport[1] && b->sport[0] <= a->sport[1]
           && a->dport[0] <= b->dport[1] && b->dport[0] <= a->dport[1];
}

PassthroughTable *passthrough_table_new(unsigned max)
{
    PassthroughTable *t = g_new0(PassthroughTable, 1);

    t->max = CLAMP(max, 1u, PASSTHROUGH_MAX_RULES);
    t->rules = g_array_new(FALSE, TRUE, sizeof(PassthroughRule));
    return t;
}

void passthrough_table_free(PassthroughTable *t)
{
    if (t) {
        g_array_free(t->rules, TRUE);
        g_free(t);
    }
}

gboolean passthrough_table_add(PassthroughTable *t, const PassthroughRule *r,
                               GError **errp)
{
    char a[PASSTHROUGH_RULE_STRLEN], b[PASSTHROUGH_RULE_STRLEN];

    for (unsigned i = 0; i < t->rules->len; i++) {
        const PassthroughRule *o = &g_array_index(t->rules,
                                                  PassthroughRule, i);

        if (same_rule(o, r)) {
            error_setg(errp, "passthrough rule '%s' exists already",
                       passthrough_rule_format(r, a));
            return FALSE;
        }
        if (passthrough_rules_overlap(o, r)) {
            error_setg(errp, "passthrough rule '%s' overlaps rule '%s' "
                       "(overlapping rules are refused: delete or narrow "
                       "one)", passthrough_rule_format(r, a),
                       passthrough_rule_format(o, b));
            return FALSE;
        }
    }
    if (t->rules->len >= t->max) {
        t->refused_full++;
        error_setg(errp, "passthrough rule '%s' refused: %u rules already "
                   "(max_passthrough_rules)",
                   passthrough_rule_format(r, a), t->max);
        return FALSE;
    }
    g_array_append_val(t->rules, *r);
    return TRUE;
}

gboolean passthrough_table_add_list(PassthroughTable *t, const char *list,
                                    GError **errp)
{
    g_auto(GStrv) items = g_strsplit_set(list ? list : "", ";,", -1);
    unsigned before = t->rules->len;

    for (char **p = items; *p; p++) {
        PassthroughRule r;
        char *item = g_strstrip(*p);

        if (!*item && !p[1] && p != items) {
            continue;           /* a trailing separator */
        }
        if (!passthrough_rule_parse(item, &r, errp)
            || !passthrough_table_add(t, &r, errp)) {
            g_array_set_size(t->rules, before);
            return FALSE;
        }
    }
    return TRUE;
}

gboolean passthrough_table_del(PassthroughTable *t, const PassthroughRule *r,
                               GError **errp)
{
    char a[PASSTHROUGH_RULE_STRLEN];

    for (unsigned i = 0; i < t->rules->len; i++) {
        if (same_rule(&g_array_index(t->rules, PassthroughRule, i), r)) {
            g_array_remove_index(t->rules, i);
            return TRUE;
        }
    }
    g_set_error(errp, UTIL_ERROR, UTIL_ERROR_GENERIC,
                "no passthrough rule '%s'", passthrough_rule_format(r, a));
    return FALSE;
}

unsigned passthrough_table_count(const PassthroughTable *t)
{
    return t->rules->len;
}

unsigned passthrough_table_max(const PassthroughTable *t)
{
    return t->max;
}

const PassthroughRule *passthrough_table_get(const PassthroughTable *t,
                                             unsigned i)
{
    return i < t->rules->len ? &g_array_index(t->rules, PassthroughRule, i)
                             : NULL;
}

uint64_t passthrough_table_refused_full(const PassthroughTable *t)
{
    return t->refused_full;
}

static bool proto_matches(PassthroughProto p, uint8_t ip_proto)
{
    switch (p) {
    case PASSTHROUGH_ANY:
        return true;
    case PASSTHROUGH_TCP:
        return ip_proto == IP_PROTO_TCP;
    case PASSTHROUGH_UDP:
        return ip_proto == IP_PROTO_UDP || ip_proto == IP_PROTO_UDPLITE;
    case PASSTHROUGH_ICMP:
        return ip_proto == IP_PROTO_ICMP || ip_proto == IP_PROTO_ICMPV6;
    }
    return false;
}

static bool ports_match(const uint16_t r[2], bool have, uint16_t port)
{
    if (r[0] == 0 && r[1] == 65535) {
        return true;
    }
    return have && port >= r[0] && port <= r[1];
}

PassthroughRule *passthrough_table_match(PassthroughTable *t,
                                         const PacketInfo *pi)
{
    bool ports;

    if (!t || !t->rules->len || !pi->ip_version) {
        return NULL;
    }
    ports = pi->flags & PACKET_F_PORTS;
    for (unsigned i = 0; i < t->rules->len; i++) {
        PassthroughRule *r = &g_array_index(t->rules, PassthroughRule, i);

        if (proto_matches(r->proto, pi->ip_proto)
            && prefix_contains(&r->src, r->src_len, &pi->src)
            && prefix_contains(&r->dst, r->dst_len, &pi->dst)
            && ports_match(r->sport, ports, pi->src_port)
            && ports_match(r->dport, ports, pi->dst_port)) {
            return r;
        }
    }
    return NULL;
}
