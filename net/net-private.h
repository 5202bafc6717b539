/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * net/net-private.h - shared by net/net.c and net/filter.c only.
 *
 * The filter chain of a netdev is a GQueue of NetFilter pointers owned by
 * net.c (net_client_get_filters()); filter.c inserts and removes filters
 * and keeps each filter's link.  net.c walks the chain with the helpers
 * below.  Nothing outside these two files includes this header.
 */
#ifndef NET_NET_PRIVATE_H
#define NET_NET_PRIVATE_H

#include "net/filter.h"

/* The filter's link in its netdev's chain, or NULL when it is in none. */
GList *netfilter_link__(NetFilter *nf);
/* TRUE if the walk of a frame in direction 'dir' (RX or TX) must call
 * 'nf': its status is on, it is not leaving, and its queue matches. */
gboolean netfilter_wants__(NetFilter *nf, NetFilterDirection dir);
/* Counts a frame handed to 'nf' (query-netfilter-stats). */
void netfilter_account__(NetFilter *nf, size_t len);
/* The netdev of 'nf' is going away: 'nf' leaves the chain (its class
 * cleanup() runs first) and becomes inert.  Main context. */
void netfilter_detach__(NetFilter *nf);

#endif /* NET_NET_PRIVATE_H */
