/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * net/filter-mirror.c - filter-mirror and filter-redirector.
 *
 * Both filters move frames between a netdev's filter chain (net/filter.c,
 * net/net.c) and socket chardevs (chardev/), in QEMU's link framing
 * (include/net/link-framing.h).  Options, defaults, error texts and wire bytes are
 * QEMU's, so either end of a link may be a real QEMU.
 *
 *   filter-mirror      outdev=ID (required), vnet_hdr_support=on|off,
 *                      copy-on-read=on|off, copy-on-read-limit=BYTES
 *       Each frame of the filter's direction(s) is copied to outdev and
 *       continues down the chain (NETFILTER_PASS).  With copy-on-read=on
 *       (the default) a copy leaves once the VM's QEMU has read the frame
 *       (below).
 *
 *   filter-redirector  indev=ID and/or outdev=ID (distinct),
 *                      vnet_hdr_support=on|off
 *       outdev: each frame of the filter's direction(s) is taken off the
 *       chain (NETFILTER_STOLEN) and written to outdev.
 *       indev: each frame read from indev is injected after the filter,
 *       toward the guest for queue=tx, toward the backend for queue=rx, and
 *       both ways for queue=all (QEMU's behaviour: two copies).
 *
 * Never stalling the primary: a frame is written with ONE chr_fe_write()
 * of header + payload into the chardev's bounded output buffer
 * ("out-buffer-size" of the chardev), whole or not at all, without
 * blocking.  A frame that does not fit (-EAGAIN) or finds no peer
 * (-ENOTCONN) is dropped and counted by reason; QEMU instead blocks its
 * main loop on a slow peer.  For the mirror a drop, or the loss of the
 * link, means the secondary lost input: the mirror raises the condition
 * once per episode (QMP COLO_MIRROR_INPUT_LOST, filter_mirror_input_
 * notifiers) and ends the episode when a copy is delivered again
 * (COLO_MIRROR_INPUT_RESTORED).
 *
 * The redirector's indev is read in chunks of up to 256 KiB (the
 * chardev's read size); the frames of a chunk are injected one after the
 * other straight from the chardev's buffer (no copy).  As soon as the
 * client they go to has its incoming queue above the high-water mark,
 * injection stops mid-chunk, the rest of the chunk is kept (copied once
 * into a buffer allocated on the first such pause) and reading pauses
 * until the net core says that queue drained (net_client_wait_drain(),
 * at its low-water mark; no timer), so the back-pressure reaches the
 * sender and no frame is dropped at the receiver's queue, whatever the
 * chunk holds.
 *
 * Copy on read.  QEMU's own filter-mirror copies a frame when the primary
 * QEMU reads it and hands it straight to the NIC, in one go: whatever the
 * secondary gets, the primary guest has.  Out of process, we write the
 * frame into the primary QEMU's socket, and QEMU reads it some time
 * later.  Copying at that write would let the secondary take in a frame
 * that the primary VM has not yet when a checkpoint stops it (QEMU reads
 * late when its main loop is busy; frames it reads while stopped wait in
 * its own queue, outside the VM's state).  The checkpoint then replaces
 * the secondary's state with the primary's, without that frame, and the
 * secondary never sees it again: the pair diverges on that connection
 * until the client retransmits (a SYN: one second).  So with
 * copy-on-read=on a copy of a frame going to the guest (queue=tx) is
 * held here, whole with its header and the read ticket its frame will
 * have at the device (net_client_read_ticket()), until the device says
 * its peer has read that frame (net_client_wait_read()'s progress, or
 * everything: a -device stream on a unix socket can tell); then the
 * copies up to it leave, in order.
 * The secondary gets a frame later by about one read of the primary
 * QEMU; it may still take in a frame after its checkpoint that the
 * primary took before (a duplicate, which TCP absorbs, as with QEMU's
 * own filters), never one the primary has not.  A device that cannot
 * tell (TCP, not a stream device) gets its copies at once, counted.  The
 * held bytes are bounded (copy-on-read-limit): a QEMU that stops reading
 * for that long gets its held copies sent unread, counted and logged.
 *
 * Differences from QEMU 7.2 (docs/filters.md): the redirector's indev
 * keeps working after a reconnect; status=off pauses reading indev (bytes
 * wait in the socket, none are dropped); garbage on indev drops the
 * connection and resynchronises instead of going deaf.  On COLO failover
 * the filters switch themselves off in their own handler (with the
 * frame's failover-filters=on; see include/net/filter.h).
 *
 * Threads: everything runs in the main context (filters, their chardevs,
 * the notifier list).
 */
#include <errno.h>
#include <string.h>
#include <json-glib/json-glib.h>

#include "net/filter-mirror.h"
#include "net/link-framing.h"
#include "chardev/char.h"
#include "qom/props.h"
#include "util/error.h"
#include "util/histogram.h"
#include "util/log.h"
#include "util/qmp-handler.h"
#include "util/stats.h"

NotifierList filter_mirror_input_notifiers = NOTIFIER_LIST_INIT;

/* ------------------------------------------------------------------------ */
/* The output side shared by both filters                                    */
/* ------------------------------------------------------------------------ */

typedef struct LinkOutStats {
    uint64_t packets;           /* frames queued to the chardev */
    uint64_t bytes;             /* their payload bytes (without headers) */
    uint64_t drop_buffer_full;  /* chr_fe_write() -EAGAIN */
    uint64_t drop_disconnected; /* chr_fe_write() -ENOTCONN */
    uint64_t drop_error;        /* any other failure (oversized frame) */
    uint64_t connects;          /* CHR_EVENT_OPENED */
    uint64_t disconnects;       /* CHR_EVENT_CLOSED */
} LinkOutStats;

typedef struct LinkOut {
    CharFrontend fe;
    bool active;                /* fe is initialised */
    LinkOutStats stats;
    RateLimit rl;               /* per-object drop warnings */
} LinkOut;

/*
 * Writes 'buf' framed to 'lo' with one chr_fe_write().  Returns 0 when the
 * frame was queued, else the negative errno (-EAGAIN, -ENOTCONN, -EMSGSIZE),
 * after counting and (rate-limited) logging the drop.  Main context; never
 * blocks; no allocation.
 */
static int link_out_send(LinkOut *lo, NetFilter *nf,
                         const struct iovec *iov, int iovcnt, size_t len);

/* The link header of a 'len'-byte frame into 'hdr' (LINK_HDR_MAX bytes);
 * returns its length, 0 for a frame too long to frame. */
static size_t link_out_header(NetFilter *nf, bool vnet, uint8_t *hdr,
                              size_t len)
{
    unsigned vnet_len = 0;

    if (G_UNLIKELY(len > UINT32_MAX)) {
        return 0;
    }
    if (vnet) {
        vnet_len = net_client_get_vnet_hdr_len(netfilter_get_netdev(nf));
    }
    return link_header(hdr, (uint32_t)len, vnet, vnet_len);
}

static int link_out_write(LinkOut *lo, NetFilter *nf, bool vnet,
                          const uint8_t *buf, size_t len)
{
    uint8_t hdr[LINK_HDR_MAX];
    struct iovec iov[2];

    iov[0].iov_base = hdr;
    iov[0].iov_len = link_out_header(nf, vnet, hdr, len);
    if (G_UNLIKELY(!iov[0].iov_len)) {
        stats_inc(&lo->stats.drop_error);
        return -EMSGSIZE;
    }
    iov[1].iov_base = (void *)buf;
    iov[1].iov_len = len;
    return link_out_send(lo, nf, iov, 2, len);
}

/* Writes 'iov' (one framed frame of 'len' payload bytes) whole or not at
 * all, counting and logging as link_out_write() says. */
static int link_out_send(LinkOut *lo, NetFilter *nf,
                         const struct iovec *iov, int iovcnt, size_t len)
{
    gssize ret = chr_fe_write(&lo->fe, iov, iovcnt);

    if (G_LIKELY(ret >= 0)) {
        stats_inc(&lo->stats.packets);
        stats_add(&lo->stats.bytes, len);
        return 0;
    }

    if (ret == -EAGAIN) {
        stats_inc(&lo->stats.drop_buffer_full);
        log_warn_rl_domain(G_LOG_DOMAIN, &lo->rl,
                            "%s '%s': outdev '%s' output buffer full, "
                            "frame dropped (peer not reading fast enough)",
                            user_object_get_type_name(USER_OBJECT(nf)),
                            netfilter_get_id(nf), chr_fe_get_id(&lo->fe));
    } else if (ret == -ENOTCONN) {
        stats_inc(&lo->stats.drop_disconnected);
        log_warn_rl_domain(G_LOG_DOMAIN, &lo->rl,
                            "%s '%s': outdev '%s' not connected, "
                            "frame dropped",
                            user_object_get_type_name(USER_OBJECT(nf)),
                            netfilter_get_id(nf), chr_fe_get_id(&lo->fe));
    } else {
        stats_inc(&lo->stats.drop_error);
        log_warn_rl_domain(G_LOG_DOMAIN, &lo->rl,
                            "%s '%s': write to outdev '%s' failed: %s",
                            user_object_get_type_name(USER_OBJECT(nf)),
                            netfilter_get_id(nf), chr_fe_get_id(&lo->fe),
                            g_strerror((int)-ret));
    }
    return (int)ret;
}

static void link_out_deinit(LinkOut *lo)
{
    if (lo->active) {
        chr_fe_deinit(&lo->fe);
        lo->active = false;
    }
}

static void link_out_fill_stats(LinkOut *lo, JsonObject *o)
{
    json_object_set_int_member(o, "packets-out",
                               (gint64)stats_read(&lo->stats.packets));
    json_object_set_int_member(o, "bytes-out",
                               (gint64)stats_read(&lo->stats.bytes));
    json_object_set_int_member(o, "drop-buffer-full",
                               (gint64)stats_read(&lo->stats.drop_buffer_full));
    json_object_set_int_member(o, "drop-disconnected",
                               (gint64)stats_read(&lo->stats.drop_disconnected));
    json_object_set_int_member(o, "drop-error",
                               (gint64)stats_read(&lo->stats.drop_error));
    json_object_set_int_member(o, "out-connects",
                               (gint64)stats_read(&lo->stats.connects));
    json_object_set_int_member(o, "out-disconnects",
                               (gint64)stats_read(&lo->stats.disconnects));
    json_object_set_boolean_member(o, "out-connected",
                                   lo->active && chr_fe_is_connected(&lo->fe));
    json_object_set_int_member(o, "out-queued",
                               lo->active ? (gint64)chr_fe_out_queued(&lo->fe)
                                          : 0);
}

/* Looks up chardev 'id' with QEMU's error text ('what' is "" for the
 * mirror, "IN " / "OUT " for the redirector) and claims it for 'nf'. */
static gboolean link_claim(CharFrontend *fe, const char *id, const char *what,
                           NetFilter *nf, GError **errp)
{
    if (!user_object_find(OBJECT_KIND_CHARDEV, id)) {
        g_set_error(errp, UTIL_ERROR, UTIL_ERROR_DEVICE_NOT_FOUND,
                    "%sDevice '%s' not found", what, id);
        return FALSE;
    }
    return chr_fe_init(fe, id, netfilter_get_id(nf), errp);
}

const char *mirror_loss_reason_str(MirrorLossReason reason)
{
    switch (reason) {
    case MIRROR_LOSS_BUFFER_FULL:
        return "buffer-full";
    case MIRROR_LOSS_DISCONNECTED:
        return "disconnected";
    }
    return "unknown";
}

/* ------------------------------------------------------------------------ */
/* filter-mirror                                                             */
/* ------------------------------------------------------------------------ */

struct _FilterMirror {
    NetFilter parent_instance;

    /* properties */
    char *outdev;
    gboolean vnet_hdr;
    gboolean copy_on_read;
    guint64 held_limit;         /* copy-on-read-limit, bytes */

    /* state (main context) */
    LinkOut out;
    /* copy on read (see the top of the file): the copies held, each as
     * a HeldCopy then its header and frame, in order, from byte
     * 'held_head' on (what is before went out already); held_frames > 0
     * exactly while 'read' waits on the device */
    GByteArray *held;
    guint held_head;
    uint64_t held_frames;
    uint64_t held_ticket;       /* the newest held copy's ticket */
    NetReadWaiter read;
    uint64_t copies_after_read; /* copies that waited for a read receipt */
    uint64_t copies_at_once;    /* copies of frames whose device cannot
                                 * tell when they are read */
    uint64_t held_overflows;    /* copy-on-read-limit reached */
    uint64_t copies_unread;     /* held copies sent before their frames
                                 * were read (the limit, a deletion) */
    uint64_t held_wait_max_us;  /* longest wait for a read receipt */
    Histogram held_wait;        /* the oldest copy's wait, per release */
    RateLimit held_rl;
    bool lost;                  /* in an input-lost episode */
    MirrorLossReason lost_reason;
    uint64_t lost_episodes;     /* episodes started */
    uint64_t episode_dropped;   /* copies dropped in the current episode */
    int64_t episode_start_us;   /* g_get_monotonic_time() at its start */
    RateLimit episode_rl;       /* episode start / end messages */
};

G_DEFINE_FINAL_TYPE(FilterMirror, filter_mirror, NET_TYPE_FILTER)

static uint64_t mirror_total_dropped(FilterMirror *m)
{
    return stats_read(&m->out.stats.drop_buffer_full) +
           stats_read(&m->out.stats.drop_disconnected) +
           stats_read(&m->out.stats.drop_error);
}

/* Starts an input-lost episode (if none is running): QMP event and
 * notifiers.  Slow path, at most once per episode. */
static void mirror_episode_start(FilterMirror *m, MirrorLossReason reason)
{
    NetFilter *nf = NET_FILTER(m);
    MirrorInputEvent ev;
    JsonObject *data;

    if (m->lost) {
        return;
    }
    m->lost = true;
    m->lost_reason = reason;
    m->episode_start_us = g_get_monotonic_time();
    stats_inc(&m->lost_episodes);

    /* A peer that flaps its connection must not flood the log. */
    log_warn_rl_domain(G_LOG_DOMAIN, &m->episode_rl,
                        "filter-mirror '%s': secondary lost input (%s); "
                        "a checkpoint is needed to resynchronise",
                        netfilter_get_id(nf), mirror_loss_reason_str(reason));

    data = json_object_new();
    json_object_set_string_member(data, "id", netfilter_get_id(nf));
    json_object_set_string_member(data, "reason",
                                  mirror_loss_reason_str(reason));
    json_object_set_int_member(data, "dropped",
                               (gint64)mirror_total_dropped(m));
    if (netfilter_get_frame(nf)) {
        json_object_set_string_member(data, "frame", netfilter_get_frame(nf));
    }
    qmp_event_emit("COLO_MIRROR_INPUT_LOST", data);

    ev = (MirrorInputEvent) {
        .mirror = m,
        .id = netfilter_get_id(nf),
        .lost = true,
        .reason = reason,
        .dropped = mirror_total_dropped(m),
    };
    notifier_list_notify(&filter_mirror_input_notifiers, &ev);
}

/* Ends the running episode: a copy was delivered again. */
static void mirror_episode_end(FilterMirror *m)
{
    NetFilter *nf = NET_FILTER(m);
    int64_t ms = (g_get_monotonic_time() - m->episode_start_us) / 1000;
    MirrorInputEvent ev;
    JsonObject *data;

    m->lost = false;
    if (ratelimit_allow(&m->episode_rl, NULL)) {
        g_message("filter-mirror '%s': secondary input restored after %"
                  G_GINT64_FORMAT " ms, %" G_GUINT64_FORMAT " copies lost",
                  netfilter_get_id(nf), ms, m->episode_dropped);
    }

    data = json_object_new();
    json_object_set_string_member(data, "id", netfilter_get_id(nf));
    json_object_set_int_member(data, "dropped",
                               (gint64)m->episode_dropped);
    json_object_set_int_member(data, "duration-ms", ms);
    if (netfilter_get_frame(nf)) {
        json_object_set_string_member(data, "frame", netfilter_get_frame(nf));
    }
    qmp_event_emit("COLO_MIRROR_INPUT_RESTORED", data);

    ev = (MirrorInputEvent) {
        .mirror = m,
        .id = netfilter_get_id(nf),
        .lost = false,
        .reason = m->lost_reason,
        .dropped = m->episode_dropped,
    };
    m->episode_dropped = 0;
    notifier_list_notify(&filter_mirror_input_notifiers, &ev);
}

/* What became of a copy (link_out_write()'s return): episodes. */
static void mirror_copied(FilterMirror *m, int ret)
{
    if (G_LIKELY(ret == 0)) {
        if (G_UNLIKELY(m->lost)) {
            mirror_episode_end(m);
        }
    } else {
        m->episode_dropped++;
        mirror_episode_start(m, ret == -EAGAIN ? MIRROR_LOSS_BUFFER_FULL
                                               : MIRROR_LOSS_DISCONNECTED);
    }
}

/* A held copy in FilterMirror.held: this, then hdr_len + len bytes. */
typedef struct HeldCopy {
    uint64_t ticket;            /* its frame's read ticket at the device */
    int64_t held_us;            /* g_get_monotonic_time() when held */
    uint32_t len;               /* frame bytes */
    uint32_t hdr_len;           /* link header bytes before them */
} HeldCopy;

/* The oldest held copy's header. */
static HeldCopy mirror_held_first(const FilterMirror *m)
{
    HeldCopy hc;

    memcpy(&hc, m->held->data + m->held_head, sizeof(hc));
    return hc;
}

/*
 * Sends the held copies, in order, up to the first whose ticket is past
 * 'upto' (G_MAXUINT64: all of them); 'read': because the device said
 * their frames were read (else they go unread).  Stops waiting once none
 * is left.
 */
static void mirror_send_held(FilterMirror *m, uint64_t upto, bool read)
{
    const uint8_t *p = m->held->data + m->held_head;
    const uint8_t *end = m->held->data + m->held->len;
    int64_t first_us = 0;
    uint64_t n = 0;

    while (p < end) {
        HeldCopy hc;
        struct iovec iov;

        memcpy(&hc, p, sizeof(hc));
        if (hc.ticket > upto) {
            break;
        }
        if (!n++) {
            first_us = hc.held_us;
        }
        iov.iov_base = (void *)(p + sizeof(hc));
        iov.iov_len = hc.hdr_len + hc.len;
        mirror_copied(m, link_out_send(&m->out, NET_FILTER(m), &iov, 1,
                                       hc.len));
        p += sizeof(hc) + iov.iov_len;
    }
    if (!n) {
        if (!m->held_frames) {
            net_client_cancel_read(&m->read);
        }
        return;
    }
    m->held_head = (guint)(p - m->held->data);
    m->held_frames -= n;
    if (!m->held_frames) {
        net_client_cancel_read(&m->read);
        g_byte_array_set_size(m->held, 0);
        m->held_head = 0;
    } else if (m->held_head >= m->held->len / 2) {
        /* what is left moves to the front, in at most its own size */
        g_byte_array_remove_range(m->held, 0, m->held_head);
        m->held_head = 0;
    }
    if (!read) {
        stats_add(&m->copies_unread, n);
    } else {
        uint64_t waited = (uint64_t)(g_get_monotonic_time() - first_us);

        stats_add(&m->copies_after_read, n);
        if (waited > m->held_wait_max_us) {
            m->held_wait_max_us = waited;
        }
        histogram_observe(&m->held_wait, (int64_t)waited);
    }
}

static void mirror_release_held(FilterMirror *m, bool read)
{
    mirror_send_held(m, G_MAXUINT64, read);
}

static FilterMirror *mirror_of_waiter(NetReadWaiter *w)
{
    return (FilterMirror *)((char *)w - G_STRUCT_OFFSET(FilterMirror, read));
}

/* The device's peer has read everything it was given (or never will). */
static void mirror_all_read(NetReadWaiter *w)
{
    mirror_release_held(mirror_of_waiter(w), true);
}

/* ... or the frames up to ticket 'read': their copies go. */
static void mirror_read_progress(NetReadWaiter *w, uint64_t read)
{
    mirror_send_held(mirror_of_waiter(w), read, true);
}

/*
 * Copy on read: holds the copy of a frame until the device it goes to
 * says it has been read.  Returns FALSE when the copy is to go at once:
 * a frame to the netdev (queue=rx/all) with nothing held before it, or a
 * device that cannot tell; then, or when the limit is reached (all held
 * copies go first), counted.  No allocation once 'held' has grown to
 * what the traffic needs.
 */
static gboolean mirror_hold(FilterMirror *m, NetFilterDirection dir,
                            const uint8_t *buf, size_t len)
{
    NetFilter *nf = NET_FILTER(m);
    HeldCopy hc = { .len = (uint32_t)len };
    uint8_t hdr[LINK_HDR_MAX];
    NetClient *dev;

    if (!m->held_frames && dir != NET_FILTER_DIRECTION_TX) {
        return FALSE;
    }
    hc.hdr_len = link_out_header(nf, m->vnet_hdr, hdr, len);
    if (G_UNLIKELY(!hc.hdr_len)) {
        return FALSE;           /* link_out_write() counts it */
    }
    dev = net_client_get_peer(netfilter_get_netdev(nf));
    if (!m->held_frames && (!dev || !net_client_wait_read(dev, &m->read))) {
        stats_inc(&m->copies_at_once);
        return FALSE;
    }
    /* A frame to the guest: the ticket it will have at the device (the
     * filters after this one pass it on at once, or drop it: a dropped
     * frame only makes the copies after it wait longer).  A frame the
     * other way leaves with the copy before it. */
    if (dir == NET_FILTER_DIRECTION_TX && dev) {
        m->held_ticket = net_client_read_ticket(dev);
    }
    hc.ticket = m->held_ticket;
    hc.held_us = g_get_monotonic_time();
    if (G_UNLIKELY(m->held->len - m->held_head + sizeof(hc) + hc.hdr_len +
                   len > m->held_limit)) {
        stats_inc(&m->held_overflows);
        log_warn_rl_domain(G_LOG_DOMAIN, &m->held_rl,
                           "filter-mirror '%s': %" G_GUINT64_FORMAT
                           " copies waited %" G_GINT64_FORMAT " ms for the "
                           "guest's QEMU to read them "
                           "(copy-on-read-limit %" G_GUINT64_FORMAT
                           " bytes): sent unread",
                           netfilter_get_id(nf), m->held_frames,
                           m->held_frames ? (hc.held_us -
                                             mirror_held_first(m).held_us) /
                                            1000 : 0, m->held_limit);
        mirror_release_held(m, false);
        stats_inc(&m->copies_unread);   /* this one goes at once, unread */
        return FALSE;
    }
    g_byte_array_append(m->held, (const guint8 *)&hc, sizeof(hc));
    g_byte_array_append(m->held, hdr, hc.hdr_len);
    g_byte_array_append(m->held, buf, len);
    m->held_frames++;
    return TRUE;
}

/* The packet path: copy, never touch the original. */
static NetFilterVerdict filter_mirror_receive(NetFilter *nf,
                                              NetClient *sender,
                                              NetFilterDirection dir,
                                              const uint8_t *buf, size_t len)
{
    /* Plain cast: the base only calls this for filter-mirror instances. */
    FilterMirror *m = (FilterMirror *)nf;

    if (m->copy_on_read && mirror_hold(m, dir, buf, len)) {
        /* A secondary that is connected again gets the copies from this
         * frame on (they wait only for the primary's read): that episode
         * ends here, not when QEMU next reads, which may be seconds away
         * (a guest whose NIC is not up yet) and then lands the
         * checkpoint request in the middle of COLO for a loss from
         * before it.  A full output buffer ends its episode only when a
         * copy gets through. */
        if (G_UNLIKELY(m->lost) &&
            m->lost_reason == MIRROR_LOSS_DISCONNECTED &&
            chr_fe_is_connected(&m->out.fe)) {
            mirror_episode_end(m);
        }
        return NETFILTER_PASS;
    }
    mirror_copied(m, link_out_write(&m->out, nf, m->vnet_hdr, buf, len));
    return NETFILTER_PASS;
}

static void filter_mirror_out_event(void *opaque, ChrEvent event)
{
    FilterMirror *m = opaque;

    if (event == CHR_EVENT_OPENED) {
        stats_inc(&m->out.stats.connects);
    } else if (event == CHR_EVENT_CLOSED) {
        stats_inc(&m->out.stats.disconnects);
        /* Whatever was still buffered for the secondary went with the
         * connection, and nothing reaches it until a peer is back. */
        mirror_episode_start(m, MIRROR_LOSS_DISCONNECTED);
    }
}

static gboolean filter_mirror_setup(NetFilter *nf, GError **errp)
{
    FilterMirror *m = FILTER_MIRROR(nf);

    if (!m->outdev || !*m->outdev) {
        error_setg(errp, "filter-mirror parameter 'outdev' cannot be empty");
        return FALSE;
    }
    if (!link_claim(&m->out.fe, m->outdev, "", nf, errp)) {
        return FALSE;
    }
    m->out.active = true;
    chr_fe_set_handlers(&m->out.fe, NULL, filter_mirror_out_event, NULL, m,
                        NULL);
    /* Read (and discard) so that a peer's EOF is seen, whatever a previous
     * user of the chardev left behind. */
    chr_fe_set_read_paused(&m->out.fe, FALSE);
    return TRUE;
}

static void filter_mirror_cleanup(NetFilter *nf)
{
    FilterMirror *m = FILTER_MIRROR(nf);

    /* Held copies go rather than vanish (the frames did reach the
     * guest's socket). */
    if (m->held_frames) {
        mirror_release_held(m, false);
    }
    link_out_deinit(&m->out);
}

/*
 * On failover the COLO filters switch themselves off, as QEMU's COLO docs
 * have the operator object-del them by hand around x-colo-lost-heartbeat
 * (with the frame's failover-filters=off they stay as they are).  Off,
 * not deleted: they stay in place for inspection.  Synchronous, in the
 * frame's broadcast: on the secondary QEMU resumes the promoted guest
 * some 20 ms after x-colo-lost-heartbeat, and its first frames must find
 * the filters already off.  A filter that cannot be switched off is
 * reported and the failover goes on (the other filters still switch).
 */
static void colo_filter_failover_off(NetFilter *nf)
{
    GError *err = NULL;

    if (netfilter_is_on(nf) &&
        !user_object_set_str(USER_OBJECT(nf), "status", "off", &err)) {
        g_warning("failover: cannot switch '%s' off: %s",
                  netfilter_get_id(nf), err->message);
        g_error_free(err);
        return;
    }
    g_message("failover: filter '%s' switched off", netfilter_get_id(nf));
}

static gboolean filter_mirror_handle_event(NetFilter *nf,
                                           const ColoEventInfo *ev,
                                           GError **errp)
{
    /* Checkpoint: nothing is held.  Failover: no more copies to a
     * secondary that is gone, on either side. */
    if (ev->event == COLO_EVENT_FAILOVER && ev->reconfigure) {
        colo_filter_failover_off(nf);
    }
    return TRUE;
}

static void filter_mirror_fill_stats(NetFilter *nf, void *opaque)
{
    FilterMirror *m = FILTER_MIRROR(nf);
    JsonObject *o = opaque;

    link_out_fill_stats(&m->out, o);
    json_object_set_boolean_member(o, "input-lost", m->lost);
    json_object_set_int_member(o, "copies-held", (gint64)m->held_frames);
    json_object_set_int_member(o, "copies-after-read",
                               (gint64)stats_read(&m->copies_after_read));
    json_object_set_int_member(o, "copies-at-once",
                               (gint64)stats_read(&m->copies_at_once));
    json_object_set_int_member(o, "copy-on-read-overflows",
                               (gint64)stats_read(&m->held_overflows));
    json_object_set_int_member(o, "copies-unread",
                               (gint64)stats_read(&m->copies_unread));
    json_object_set_int_member(o, "read-wait-max-us",
                               (gint64)m->held_wait_max_us);
    {
        Histogram snap;

        histogram_snapshot(&m->held_wait, &snap);
        json_object_set_object_member(o, "read-wait",
                                      histogram_to_json(&snap));
    }
    json_object_set_int_member(o, "lost-episodes",
                               (gint64)stats_read(&m->lost_episodes));
}

bool filter_mirror_input_lost(FilterMirror *m)
{
    return m->lost;
}

static void filter_mirror_finalize(GObject *obj)
{
    FilterMirror *m = FILTER_MIRROR(obj);

    /* A half-built object (setup failed) never reached cleanup(). */
    net_client_cancel_read(&m->read);
    link_out_deinit(&m->out);
    g_byte_array_unref(m->held);
    G_OBJECT_CLASS(filter_mirror_parent_class)->finalize(obj);
}

static void filter_mirror_init(FilterMirror *m)
{
    m->out.rl = (RateLimit)RATE_LIMIT_INIT(5, 5000);
    m->episode_rl = (RateLimit)RATE_LIMIT_INIT(10, 10000);
    m->held_rl = (RateLimit)RATE_LIMIT_INIT(5, 5000);
    m->held = g_byte_array_new();
    histogram_init(&m->held_wait, histogram_hold_bounds_us,
                   histogram_hold_n);
    m->read.all_read = mirror_all_read;
    m->read.progress = mirror_read_progress;
}

static const PropDef filter_mirror_props[] = {
    DEFINE_PROP_STR("outdev", FilterMirror, outdev, NULL, PROP_REQUIRED,
        "id of the chardev the copies are written to"),
    DEFINE_PROP_BOOL("vnet_hdr_support", FilterMirror, vnet_hdr, FALSE, 0,
        "frames carry the netdev's vnet_hdr_len field"),
    DEFINE_PROP_BOOL("copy-on-read", FilterMirror, copy_on_read, TRUE, 0,
        "copy a frame going to the guest once its QEMU has read it, as "
        "QEMU's own filter-mirror does (a -device stream on a unix socket; "
        "other devices get copies at once)"),
    DEFINE_PROP_UINT64("copy-on-read-limit", FilterMirror, held_limit,
        64 * 1024, 1ull << 30, 16 * 1024 * 1024, 0,
        "bytes of copies waiting for the guest's QEMU to read their frames; "
        "beyond, they are sent unread (counted)"),
};

static void filter_mirror_class_init(FilterMirrorClass *klass)
{
    GObjectClass *oc = G_OBJECT_CLASS(klass);
    UserObjectClass *uc = USER_OBJECT_CLASS(klass);
    NetFilterClass *nfc = NET_FILTER_CLASS(klass);

    oc->finalize = filter_mirror_finalize;
    uc->description = "copies the frames of a netdev to a chardev "
                      "(COLO primary)";
    nfc->setup = filter_mirror_setup;
    nfc->cleanup = filter_mirror_cleanup;
    nfc->receive = filter_mirror_receive;
    nfc->handle_event = filter_mirror_handle_event;
    nfc->fill_stats = filter_mirror_fill_stats;

    object_class_install_props(oc, filter_mirror_props);
}

/* ------------------------------------------------------------------------ */
/* filter-redirector                                                         */
/* ------------------------------------------------------------------------ */

typedef struct RedirectorInStats {
    uint64_t frames;            /* frames read from indev */
    uint64_t bytes;             /* their payload bytes */
    uint64_t injected;          /* frames injected (x2 for queue=all) */
    uint64_t framing_errors;    /* garbage: the connection was dropped */
    uint64_t vnet_mismatch;     /* vnet_hdr_len differs from the netdev's */
    uint64_t connects;          /* CHR_EVENT_OPENED */
    uint64_t disconnects;       /* CHR_EVENT_CLOSED */
    uint64_t throttled;         /* reading paused: the receiver was full */
} RedirectorInStats;

struct _FilterRedirector {
    NetFilter parent_instance;

    /* properties */
    char *indev;
    char *outdev;
    gboolean vnet_hdr;

    /* state (main context) */
    LinkOut out;
    CharFrontend in_fe;
    bool in_active;             /* in_fe is initialised */
    LinkReader reader;         /* allocated in setup when indev is set */
    bool reader_ready;
    bool throttled;             /* indev paused for back-pressure */
    /* while throttled: told by the net core when the full receiving
     * queue drains; [0] the device's (tx), [1] the netdev's (rx) */
    NetDrainWaiter drain[2];
    guint resume_idle;          /* resumes from the loop after a drain */
    RedirectorInStats in_stats;
    RateLimit in_rl;
    /* bytes of indev read but not fed yet (back-pressure mid-chunk) */
    uint8_t *pend;              /* pend_cap bytes, allocated on first use */
    size_t pend_cap;
    size_t pend_pos;            /* first byte not fed yet */
    size_t pend_len;            /* end of the bytes kept */
};

G_DEFINE_FINAL_TYPE(FilterRedirector, filter_redirector, NET_TYPE_FILTER)

/* outdev: steal the frame; a failed write drops it (counted), as QEMU. */
static NetFilterVerdict filter_redirector_receive(NetFilter *nf,
                                                  NetClient *sender,
                                                  NetFilterDirection dir,
                                                  const uint8_t *buf,
                                                  size_t len)
{
    /* Plain cast: the base only calls this for filter-redirector. */
    FilterRedirector *r = (FilterRedirector *)nf;

    if (!r->out.active) {
        return NETFILTER_PASS;
    }
    link_out_write(&r->out, nf, r->vnet_hdr, buf, len);
    return NETFILTER_STOLEN;
}

/* LinkRecordFn: one frame from indev.  Injected after the filter, unchanged
 * (its vnet header, if any, stays at the front, as QEMU does). */
static void filter_redirector_inject(void *opaque, const uint8_t *buf,
                                     uint32_t len, uint32_t vnet_hdr_len)
{
    FilterRedirector *r = opaque;
    NetFilter *nf = &r->parent_instance;   /* packet path: no type check */
    NetFilterDirection dir = netfilter_get_direction(nf);

    stats_inc(&r->in_stats.frames);
    stats_add(&r->in_stats.bytes, len);
    if (r->vnet_hdr) {
        unsigned want = net_client_get_vnet_hdr_len(netfilter_get_netdev(nf));

        if (G_UNLIKELY(vnet_hdr_len != want)) {
            stats_inc(&r->in_stats.vnet_mismatch);
            log_warn_rl_domain(G_LOG_DOMAIN, &r->in_rl,
                                "filter-redirector '%s': frame on indev "
                                "'%s' has vnet_hdr_len %u, netdev has %u; "
                                "injected unchanged",
                                netfilter_get_id(nf), chr_fe_get_id(&r->in_fe),
                                vnet_hdr_len, want);
        }
    }
    if (dir == NET_FILTER_DIRECTION_TX || dir == NET_FILTER_DIRECTION_ALL) {
        stats_inc(&r->in_stats.injected);
        netfilter_pass_to_next(nf, NET_FILTER_DIRECTION_TX, buf, len);
    }
    if (dir == NET_FILTER_DIRECTION_RX || dir == NET_FILTER_DIRECTION_ALL) {
        stats_inc(&r->in_stats.injected);
        netfilter_pass_to_next(nf, NET_FILTER_DIRECTION_RX, buf, len);
    }
}

/* Pauses indev unless the filter is on, not throttled and has no bytes
 * kept from an earlier chunk. */
static void filter_redirector_update_paused(FilterRedirector *r)
{
    if (r->in_active) {
        chr_fe_set_read_paused(&r->in_fe, r->throttled ||
                                          r->pend_len > r->pend_pos ||
                                          !netfilter_is_on(NET_FILTER(r)));
    }
}

/*
 * Back-pressure: whether the client the injected frames go to has its
 * incoming queue above the high-water mark (net_client_can_send()).  Then
 * indev is not read until it drains, so the bytes wait in the socket and
 * the sender (the primary's mirror) sees a full buffer, counts and
 * signals the loss there, instead of frames being dropped here at the
 * receiver's queue.
 */
static bool filter_redirector_target_full(FilterRedirector *r)
{
    NetFilter *nf = &r->parent_instance;   /* packet path: no type check */
    NetClient *netdev = netfilter_get_netdev(nf);
    NetFilterDirection dir = netfilter_get_direction(nf);

    if (!netdev) {
        return false;
    }
    if (dir != NET_FILTER_DIRECTION_RX && !net_client_can_send(netdev)) {
        return true;
    }
    if (dir != NET_FILTER_DIRECTION_TX) {
        NetClient *dev = net_client_get_peer(netdev);

        if (dev && !net_client_can_send(dev)) {
            return true;
        }
    }
    return false;
}

static bool filter_redirector_drain_kept(FilterRedirector *r);
static void filter_redirector_wait_drain(FilterRedirector *r);

/*
 * Resumes from the main loop: after the receiver's queue drained (the net
 * core told us), or after status=on with bytes kept.  Still full (another
 * sender filled it meanwhile, or the other direction's queue is full):
 * wait again.  No timer: while throttled nothing of ours runs until the
 * core says the queue drained.
 */
static gboolean filter_redirector_resume(gpointer opaque)
{
    FilterRedirector *r = opaque;

    r->resume_idle = 0;
    if (filter_redirector_target_full(r)) {
        filter_redirector_wait_drain(r);
        return G_SOURCE_REMOVE;
    }
    r->throttled = false;
    /* The rest of the chunk first (may throttle again). */
    filter_redirector_drain_kept(r);
    filter_redirector_update_paused(r);
    return G_SOURCE_REMOVE;
}

static void filter_redirector_schedule_resume(FilterRedirector *r)
{
    if (!r->resume_idle) {
        r->resume_idle = g_idle_add(filter_redirector_resume, r);
    }
}

/* NetDrainWaiter: called from inside the net core's flush (or a
 * deletion), so only schedules the resume. */
static void filter_redirector_drained_tx(NetDrainWaiter *w)
{
    filter_redirector_schedule_resume((FilterRedirector *)
        ((char *)w - G_STRUCT_OFFSET(FilterRedirector, drain[0])));
}

static void filter_redirector_drained_rx(NetDrainWaiter *w)
{
    filter_redirector_schedule_resume((FilterRedirector *)
        ((char *)w - G_STRUCT_OFFSET(FilterRedirector, drain[1])));
}

/* Waits on each receiving queue that is above its high-water mark (the
 * two of target_full()). */
static void filter_redirector_wait_drain(FilterRedirector *r)
{
    NetFilter *nf = &r->parent_instance;
    NetClient *netdev = netfilter_get_netdev(nf);
    NetFilterDirection dir = netfilter_get_direction(nf);
    NetClient *dev = netdev ? net_client_get_peer(netdev) : NULL;
    bool waiting = false;

    if (dev && dir != NET_FILTER_DIRECTION_RX &&
        !net_client_can_send(netdev)) {
        net_client_wait_drain(dev, &r->drain[0]);
        waiting = true;
    }
    if (dev && dir != NET_FILTER_DIRECTION_TX && !net_client_can_send(dev)) {
        net_client_wait_drain(netdev, &r->drain[1]);
        waiting = true;
    }
    if (!waiting) {
        /* Not full after all (or nobody to wait on): go on. */
        filter_redirector_schedule_resume(r);
    }
}

static void filter_redirector_throttle(FilterRedirector *r)
{
    if (r->throttled) {
        return;
    }
    r->throttled = true;
    stats_inc(&r->in_stats.throttled);
    filter_redirector_update_paused(r);
    filter_redirector_wait_drain(r);
}

/* A framing error on indev: count, warn, resynchronise by dropping the
 * connection. */
static void filter_redirector_bad_frame(FilterRedirector *r, GError *err)
{
    stats_inc(&r->in_stats.framing_errors);
    log_warn_rl_domain(G_LOG_DOMAIN, &r->in_rl,
                        "filter-redirector '%s': bad frame on indev '%s' "
                        "(%s); dropping the connection.  Check that "
                        "vnet_hdr_support is the same on both ends "
                        "(here: %s)",
                        netfilter_get_id(NET_FILTER(r)),
                        chr_fe_get_id(&r->in_fe),
                        err ? err->message : "framing error",
                        r->vnet_hdr ? "on" : "off");
    link_reader_reset(&r->reader);
    r->pend_pos = r->pend_len = 0;
    chr_fe_disconnect(&r->in_fe);
}

/*
 * Feeds 'len' bytes one frame at a time and stops after a frame that left
 * the receiver above its high-water mark (then throttled).  Returns the
 * bytes consumed, or SIZE_MAX when the rest must be discarded (framing
 * error: the connection is being dropped; or the reader was reset from
 * inside an injection).
 */
static size_t filter_redirector_feed(FilterRedirector *r, const uint8_t *buf,
                                     size_t len)
{
    size_t off = 0;

    while (off < len) {
        size_t n = link_reader_next_feed(&r->reader, buf + off, len - off);
        uint64_t frames = r->reader.frames;
        uint64_t resets = r->reader.resets;
        GError *err = NULL;

        if (G_UNLIKELY(link_reader_feed(&r->reader, buf + off, n,
                                         filter_redirector_inject, r,
                                         &err) != LINK_OK)) {
            filter_redirector_bad_frame(r, err);
            g_clear_error(&err);
            return SIZE_MAX;
        }
        if (G_UNLIKELY(r->reader.resets != resets)) {
            return SIZE_MAX;
        }
        off += n;
        if (r->reader.frames != frames &&
            G_UNLIKELY(filter_redirector_target_full(r))) {
            filter_redirector_throttle(r);
            break;
        }
    }
    return off;
}

/* Keeps 'len' bytes for later, after those already kept.  Allocates on
 * the first pause (and grows for a larger chunk): not per frame. */
static void filter_redirector_keep(FilterRedirector *r, const uint8_t *buf,
                                   size_t len)
{
    size_t used = r->pend_len - r->pend_pos;

    if (used == 0) {
        r->pend_pos = r->pend_len = 0;
    } else if (r->pend_cap - r->pend_len < len && r->pend_pos) {
        memmove(r->pend, r->pend + r->pend_pos, used);
        r->pend_pos = 0;
        r->pend_len = used;
    }
    if (r->pend_cap - r->pend_len < len) {
        size_t cap = MAX(r->pend_cap * 2, r->pend_len + len);

        r->pend = g_realloc(r->pend, cap);
        r->pend_cap = cap;
    }
    memcpy(r->pend + r->pend_len, buf, len);
    r->pend_len += len;
}

/* Feeds the kept bytes while the receiver takes them and the filter is
 * on; returns TRUE when none are left. */
static bool filter_redirector_drain_kept(FilterRedirector *r)
{
    while (r->pend_pos < r->pend_len && !r->throttled &&
           netfilter_is_on(NET_FILTER(r)) && r->in_active) {
        size_t used = filter_redirector_feed(r, r->pend + r->pend_pos,
                                             r->pend_len - r->pend_pos);

        if (used == SIZE_MAX || r->pend_len == 0) {
            r->pend_pos = r->pend_len = 0;
            break;
        }
        r->pend_pos += used;
    }
    if (r->pend_pos == r->pend_len) {
        r->pend_pos = r->pend_len = 0;
        return true;
    }
    return false;
}

/* ChrReadFn of indev: a chunk of up to 256 KiB, usually many frames. */
static void filter_redirector_in_read(void *opaque, const uint8_t *buf,
                                      size_t len)
{
    FilterRedirector *r = opaque;
    size_t used;

    if (G_UNLIKELY(r->pend_len > r->pend_pos)) {
        /* Bytes are still kept (reading should be paused): keep order. */
        filter_redirector_keep(r, buf, len);
        return;
    }
    used = filter_redirector_feed(r, buf, len);
    if (used != SIZE_MAX && used < len) {
        filter_redirector_keep(r, buf + used, len - used);
    }
}

static void filter_redirector_in_event(void *opaque, ChrEvent event)
{
    FilterRedirector *r = opaque;

    if (event == CHR_EVENT_OPENED) {
        stats_inc(&r->in_stats.connects);
        /* The reader was reset when the previous connection closed (not
         * here: bytes of this connection may already have been fed).
         * Keep status=off / throttled paused. */
        filter_redirector_update_paused(r);
    } else if (event == CHR_EVENT_CLOSED) {
        stats_inc(&r->in_stats.disconnects);
        link_reader_reset(&r->reader);
        r->pend_pos = r->pend_len = 0;
        filter_redirector_update_paused(r);
    }
}

static void filter_redirector_out_event(void *opaque, ChrEvent event)
{
    FilterRedirector *r = opaque;

    if (event == CHR_EVENT_OPENED) {
        stats_inc(&r->out.stats.connects);
    } else if (event == CHR_EVENT_CLOSED) {
        stats_inc(&r->out.stats.disconnects);
    }
}

static void filter_redirector_teardown(FilterRedirector *r)
{
    net_client_cancel_drain(&r->drain[0]);
    net_client_cancel_drain(&r->drain[1]);
    if (r->resume_idle) {
        g_source_remove(r->resume_idle);
        r->resume_idle = 0;
    }
    r->throttled = false;
    if (r->in_active && r->reader_ready
        && (link_reader_mid_frame(&r->reader) || r->pend_len > r->pend_pos)) {
        /* We stop reading a connection that stays open in the middle of a
         * frame (or with bytes read and not fed): whoever reads it next
         * would be out of step.  Drop it; the peer's next connection
         * starts on a frame boundary. */
        g_message("filter-redirector '%s': deleted inside a frame on "
                  "indev; dropping that connection",
                  user_object_get_id(USER_OBJECT(r)));
        chr_fe_disconnect(&r->in_fe);
    }
    r->pend_pos = r->pend_len = 0;
    if (r->reader_ready) {
        link_reader_reset(&r->reader);
    }
    if (r->in_active) {
        /* The pause is the chardev's state: do not leave it to the next
         * user (after failover a new filter may take this chardev). */
        chr_fe_set_read_paused(&r->in_fe, FALSE);
        chr_fe_deinit(&r->in_fe);
        r->in_active = false;
    }
    link_out_deinit(&r->out);
}

static gboolean filter_redirector_setup(NetFilter *nf, GError **errp)
{
    FilterRedirector *r = FILTER_REDIRECTOR(nf);

    if (!r->indev && !r->outdev) {
        error_setg(errp, "filter redirector needs 'indev' or "
                   "'outdev' at least one property set");
        return FALSE;
    }
    if (r->indev && r->outdev && g_str_equal(r->indev, r->outdev)) {
        error_setg(errp, "'indev' and 'outdev' could not be same "
                   "for filter redirector");
        return FALSE;
    }
    if (r->indev) {
        if (!link_claim(&r->in_fe, r->indev, "IN ", nf, errp)) {
            return FALSE;
        }
        r->in_active = true;
    }
    if (r->outdev) {
        if (!link_claim(&r->out.fe, r->outdev, "OUT ", nf, errp)) {
            filter_redirector_teardown(r);
            return FALSE;
        }
        r->out.active = true;
    }

    if (r->in_active) {
        link_reader_init(&r->reader, r->vnet_hdr, LINK_MAX_LEN_DEFAULT);
        r->reader_ready = true;
        chr_fe_set_handlers(&r->in_fe, filter_redirector_in_read,
                            filter_redirector_in_event, NULL, r, NULL);
        /* Created with status=off: do not read at all until it is on
         * (set in this same main-context turn, before any read).  Also
         * clears a pause a previous user of the chardev left behind. */
        filter_redirector_update_paused(r);
    }
    if (r->out.active) {
        chr_fe_set_handlers(&r->out.fe, NULL, filter_redirector_out_event,
                            NULL, r, NULL);
        /* Read (and discard) so that a peer's EOF is seen. */
        chr_fe_set_read_paused(&r->out.fe, FALSE);
    }
    return TRUE;
}

static void filter_redirector_cleanup(NetFilter *nf)
{
    filter_redirector_teardown(FILTER_REDIRECTOR(nf));
}

/* status=off: stop stealing (the base skips receive()) and stop injecting:
 * indev is no longer read, its bytes wait in the socket. */
static void filter_redirector_status_changed(NetFilter *nf, gboolean on)
{
    FilterRedirector *r = FILTER_REDIRECTOR(nf);

    if (on && r->pend_len > r->pend_pos && !r->throttled) {
        /* Bytes kept from before status=off: fed from the loop (not
         * inside the monitor command), then reading resumes. */
        r->throttled = true;
        filter_redirector_schedule_resume(r);
    }
    filter_redirector_update_paused(r);
}

static gboolean filter_redirector_handle_event(NetFilter *nf,
                                               const ColoEventInfo *ev,
                                               GError **errp)
{
    FilterRedirector *r = FILTER_REDIRECTOR(nf);

    if (ev->event != COLO_EVENT_FAILOVER || !ev->reconfigure) {
        return TRUE;
    }
    /* Secondary: no more input from the primary, output straight to the
     * network.  Primary: the guest's output no longer goes to
     * colo-compare (outdev); the redirector that only injects compare's
     * output (indev) stays on, so what compare still holds is released
     * in order. */
    if (ev->mode == COLO_MODE_SECONDARY || (r->outdev && *r->outdev)) {
        colo_filter_failover_off(nf);
    }
    return TRUE;
}

static void filter_redirector_fill_stats(NetFilter *nf, void *opaque)
{
    FilterRedirector *r = FILTER_REDIRECTOR(nf);
    JsonObject *o = opaque;

    link_out_fill_stats(&r->out, o);
    json_object_set_int_member(o, "packets-in",
                               (gint64)stats_read(&r->in_stats.frames));
    json_object_set_int_member(o, "bytes-in",
                               (gint64)stats_read(&r->in_stats.bytes));
    json_object_set_int_member(o, "injected",
                               (gint64)stats_read(&r->in_stats.injected));
    json_object_set_int_member(o, "framing-errors",
                               (gint64)stats_read(&r->in_stats.framing_errors));
    json_object_set_int_member(o, "vnet-mismatch",
                               (gint64)stats_read(&r->in_stats.vnet_mismatch));
    json_object_set_int_member(o, "in-connects",
                               (gint64)stats_read(&r->in_stats.connects));
    json_object_set_int_member(o, "in-disconnects",
                               (gint64)stats_read(&r->in_stats.disconnects));
    json_object_set_boolean_member(o, "in-connected",
                                   r->in_active &&
                                   chr_fe_is_connected(&r->in_fe));
    json_object_set_int_member(o, "in-throttled",
                               (gint64)stats_read(&r->in_stats.throttled));
}

static void filter_redirector_finalize(GObject *obj)
{
    FilterRedirector *r = FILTER_REDIRECTOR(obj);

    filter_redirector_teardown(r);
    if (r->reader_ready) {
        link_reader_destroy(&r->reader);
        r->reader_ready = false;
    }
    g_clear_pointer(&r->pend, g_free);
    G_OBJECT_CLASS(filter_redirector_parent_class)->finalize(obj);
}

static void filter_redirector_init(FilterRedirector *r)
{
    r->drain[0].drained = filter_redirector_drained_tx;
    r->drain[1].drained = filter_redirector_drained_rx;
    r->out.rl = (RateLimit)RATE_LIMIT_INIT(5, 5000);
    r->in_rl = (RateLimit)RATE_LIMIT_INIT(5, 5000);
}

static const PropDef filter_redirector_props[] = {
    DEFINE_PROP_STR("indev", FilterRedirector, indev, NULL, 0,
        "id of the chardev frames are read from and injected after the "
        "filter"),
    DEFINE_PROP_STR("outdev", FilterRedirector, outdev, NULL, 0,
        "id of the chardev the filter's frames are moved to"),
    DEFINE_PROP_BOOL("vnet_hdr_support", FilterRedirector, vnet_hdr, FALSE, 0,
        "frames carry a vnet_hdr_len field"),
};

static void filter_redirector_class_init(FilterRedirectorClass *klass)
{
    GObjectClass *oc = G_OBJECT_CLASS(klass);
    UserObjectClass *uc = USER_OBJECT_CLASS(klass);
    NetFilterClass *nfc = NET_FILTER_CLASS(klass);

    oc->finalize = filter_redirector_finalize;
    uc->description = "moves frames between a netdev and chardevs "
                      "(COLO proxy)";
    nfc->setup = filter_redirector_setup;
    nfc->cleanup = filter_redirector_cleanup;
    nfc->receive = filter_redirector_receive;
    nfc->status_changed = filter_redirector_status_changed;
    nfc->handle_event = filter_redirector_handle_event;
    nfc->fill_stats = filter_redirector_fill_stats;

    object_class_install_props(oc, filter_redirector_props);
}

/* ------------------------------------------------------------------------ */

static void filter_mirror_register(void)
{
    object_type_register(OBJECT_KIND_OBJECT, "filter-mirror",
                         FILTER_TYPE_MIRROR);
    object_type_register(OBJECT_KIND_OBJECT, "filter-redirector",
                         FILTER_TYPE_REDIRECTOR);
}
type_init(filter_mirror_register)
