/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * net/filter-dump.c - "filter-dump": write the frames a netdev carries to
 * a pcap file.
 *
 *   -object filter-dump,id=d0,netdev=hn0,file=hn0.pcap[,maxlen=65536]
 *                       [,queue=all|rx|tx]
 *
 * A NetFilter (net/filter.c) that passes every frame on unchanged and
 * appends it to a classic pcap file (LINKTYPE_ETHERNET, microsecond
 * timestamps, snaplen = maxlen), with the netdev's virtio-net header
 * stripped, as QEMU's filter-dump does.  Writes go through a stdio buffer;
 * the buffer is flushed once a second when it holds anything and when the
 * filter is deleted, so tshark can read the file while we run.  A write
 * error is counted and warned about (rate-limited); the frame still
 * passes.
 *
 * Threads: main context.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <json-glib/json-glib.h>

#include "net/filter.h"
#include "qom/props.h"
#include "util/error.h"
#include "util/log.h"
#include "util/stats.h"

#define PCAP_MAGIC_USEC 0xa1b2c3d4u
#define PCAP_LINKTYPE_ETHERNET 1u
#define FILTER_DUMP_MAXLEN_DEFAULT 65536u
#define FILTER_DUMP_FLUSH_SECONDS 1u

/* pcap file header and record header, in host byte order (the magic
 * tells the reader which). */
typedef struct {
    uint32_t magic;
    uint16_t version_major;
    uint16_t version_minor;
    int32_t thiszone;
    uint32_t sigfigs;
    uint32_t snaplen;
    uint32_t linktype;
} PcapFileHeader;
G_STATIC_ASSERT(sizeof(PcapFileHeader) == 24);

typedef struct {
    uint32_t ts_sec;
    uint32_t ts_usec;
    uint32_t caplen;
    uint32_t len;
} PcapRecordHeader;
G_STATIC_ASSERT(sizeof(PcapRecordHeader) == 16);

#define FILTER_TYPE_DUMP (filter_dump_get_type())
G_DECLARE_FINAL_TYPE(FilterDump, filter_dump, FILTER, DUMP, NetFilter)

struct _FilterDump {
    NetFilter parent_instance;

    /* properties */
    char *file;               /* file= */
    guint maxlen;             /* maxlen=: bytes kept per frame */
    /* state */
    FILE *fp;                 /* open between setup and cleanup */
    guint flush_source;       /* periodic flush timer */
    gboolean dirty;           /* written since the last flush */
    uint64_t frames;          /* records written */
    uint64_t bytes;           /* frame bytes written (captured part) */
    uint64_t truncated;       /* frames cut to maxlen */
    uint64_t write_errors;    /* records lost to a write error */
};

G_DEFINE_FINAL_TYPE(FilterDump, filter_dump, NET_TYPE_FILTER)

static void filter_dump_flush__(FilterDump *s)
{
    if (s->fp && s->dirty) {
        s->dirty = FALSE;
        if (fflush(s->fp) != 0) {
            stats_inc(&s->write_errors);
            LOG_WARN_RL("filter-dump '%s': flushing %s failed: %s",
                         netfilter_get_id(NET_FILTER(s)), s->file,
                         g_strerror(errno));
            clearerr(s->fp);
        }
    }
}

static gboolean filter_dump_timer(gpointer opaque)
{
    filter_dump_flush__(opaque);
    return G_SOURCE_CONTINUE;
}

static gboolean filter_dump_setup(NetFilter *nf, GError **errp)
{
    FilterDump *s = FILTER_DUMP(nf);
    PcapFileHeader hdr = {
        .magic = PCAP_MAGIC_USEC,
        .version_major = 2,
        .version_minor = 4,
        .snaplen = s->maxlen,
        .linktype = PCAP_LINKTYPE_ETHERNET,
    };

    if (!s->file) {
        error_setg(errp, "Parameter 'file' is missing");
        return FALSE;
    }
    s->fp = fopen(s->file, "wbe");
    if (!s->fp) {
        int err = errno;

        error_setg(errp, "net dump: can't open %s: %s", s->file,
                   g_strerror(err));
        return FALSE;
    }
    if (fwrite(&hdr, sizeof(hdr), 1, s->fp) != 1 || fflush(s->fp) != 0) {
        int err = errno;

        error_setg(errp, "net dump: can't write to %s: %s", s->file,
                   g_strerror(err));
        fclose(s->fp);
        s->fp = NULL;
        return FALSE;
    }
    s->flush_source = g_timeout_add_seconds(FILTER_DUMP_FLUSH_SECONDS,
                                            filter_dump_timer, s);
    return TRUE;
}

static void filter_dump_cleanup(NetFilter *nf)
{
    FilterDump *s = FILTER_DUMP(nf);

    if (s->flush_source) {
        g_source_remove(s->flush_source);
        s->flush_source = 0;
    }
    if (s->fp) {
        s->dirty = TRUE;
        filter_dump_flush__(s);
        if (fclose(s->fp) != 0) {
            g_warning("filter-dump '%s': closing %s failed: %s",
                      netfilter_get_id(nf), s->file, g_strerror(errno));
        }
        s->fp = NULL;
    }
}

static NetFilterVerdict filter_dump_receive(NetFilter *nf, NetClient *sender,
                                            NetFilterDirection dir,
                                            const uint8_t *buf, size_t len)
{
    FilterDump *s = FILTER_DUMP(nf);
    NetClient *netdev = netfilter_get_netdev(nf);
    size_t skip = netdev ? net_client_get_vnet_hdr_len(netdev) : 0;
    gint64 now = g_get_real_time();
    PcapRecordHeader rec;
    size_t frame_len, caplen;

    if (G_UNLIKELY(!s->fp)) {
        return NETFILTER_PASS;
    }
    frame_len = len > skip ? len - skip : 0;
    caplen = MIN(frame_len, (size_t) s->maxlen);
    rec.ts_sec = (uint32_t) (now / G_USEC_PER_SEC);
    rec.ts_usec = (uint32_t) (now % G_USEC_PER_SEC);
    rec.caplen = (uint32_t) caplen;
    rec.len = (uint32_t) MIN(frame_len, (size_t) UINT32_MAX);
    if (fwrite(&rec, sizeof(rec), 1, s->fp) != 1 ||
        (caplen && fwrite(buf + skip, caplen, 1, s->fp) != 1)) {
        stats_inc(&s->write_errors);
        LOG_WARN_RL("filter-dump '%s': writing %s failed: %s",
                     netfilter_get_id(nf), s->file, g_strerror(errno));
        clearerr(s->fp);
        return NETFILTER_PASS;
    }
    s->dirty = TRUE;
    stats_inc(&s->frames);
    stats_add(&s->bytes, caplen);
    if (caplen < frame_len) {
        stats_inc(&s->truncated);
    }
    return NETFILTER_PASS;
}

static void filter_dump_fill_stats(NetFilter *nf, void *opaque)
{
    FilterDump *s = FILTER_DUMP(nf);
    JsonObject *obj = opaque;

    json_object_set_int_member(obj, "frames-written", stats_read(&s->frames));
    json_object_set_int_member(obj, "bytes-written", stats_read(&s->bytes));
    json_object_set_int_member(obj, "truncated", stats_read(&s->truncated));
    json_object_set_int_member(obj, "write-errors",
                               stats_read(&s->write_errors));
}

static void filter_dump_finalize(GObject *obj)
{
    FilterDump *s = FILTER_DUMP(obj);

    /* cleanup() ran if setup() did; this only covers a failed setup. */
    if (s->flush_source) {
        g_source_remove(s->flush_source);
    }
    if (s->fp) {
        fclose(s->fp);
    }
    G_OBJECT_CLASS(filter_dump_parent_class)->finalize(obj);
}

static void filter_dump_init(FilterDump *s)
{
    /* the properties start at their defaults (filter_dump_props) */
}

static const PropDef filter_dump_props[] = {
    DEFINE_PROP_STR("file", FilterDump, file, NULL, PROP_REQUIRED,
        "pcap file to write (truncated when it exists)"),
    DEFINE_PROP_UINT("maxlen", FilterDump, maxlen, 1, G_MAXUINT32,
        FILTER_DUMP_MAXLEN_DEFAULT, 0, "bytes of each frame to keep"),
};

static void filter_dump_class_init(FilterDumpClass *klass)
{
    GObjectClass *oc = G_OBJECT_CLASS(klass);
    UserObjectClass *uc = USER_OBJECT_CLASS(klass);
    NetFilterClass *fc = NET_FILTER_CLASS(klass);

    oc->finalize = filter_dump_finalize;
    uc->description = "write the frames of a netdev to a pcap file";
    fc->setup = filter_dump_setup;
    fc->cleanup = filter_dump_cleanup;
    fc->receive = filter_dump_receive;
    fc->fill_stats = filter_dump_fill_stats;

    object_class_install_props(oc, filter_dump_props);
}

static void filter_dump_register(void)
{
    object_type_register(OBJECT_KIND_OBJECT, "filter-dump", FILTER_TYPE_DUMP);
}
type_init(filter_dump_register)
