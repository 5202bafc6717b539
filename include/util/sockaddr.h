/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * util/sockaddr.h - socket addresses in QEMU's spellings, in one place.
 *
 * Every way a user names a socket goes through here:
 *
 *   host/port pairs    -chardev socket,host=H,port=P; -netdev
 *                      stream/dgram addr.type=inet,addr.host=H,addr.port=P
 *   "host:port"        -netdev socket,connect=/listen=/udp=/localaddr=/mcast=
 *                      and the "tcp:" specs below; "[v6]:port" and ":port"
 *   unix paths         path=, addr.path=, "unix:PATH"; abstract=on puts the
 *                      name in Linux's abstract namespace, tight=on (QEMU's
 *                      default) sizes the address to the name
 *   spec strings       "unix:PATH" and "tcp:HOST:PORT" of -qmp and the QEMU
 *                      driver's qemu-qmp= (which also takes a bare "/PATH")
 *
 * Rules (the same for every caller, which is the point of this module):
 *   - a port is decimal 0-65535 or a service name (a letter, then letters,
 *     digits, '-', '_', '.'); anything else, e.g. 99999 (which getaddrinfo
 *     would silently wrap to 34463) or "-1", is refused with an error that
 *     says "out of range" or "not a port";
 *   - one pair of IPv6 brackets around a host is removed wherever a host is
 *     accepted ("[::1]" and "::1" name the same host);
 *   - a unix path (abstract name or file) is 1 to SOCKADDR_UNIX_PATH_MAX
 *     (sizeof sun_path - 1 = 107) bytes: a file path keeps its NUL, an
 *     abstract name its leading NUL; longer is "UNIX socket path ... is too
 *     long", never truncated.
 *
 * Parsing (sockaddr_split_host_port(), sockaddr_port_check(),
 * sockaddr_parse_spec()) is pure: no I/O, no resolution, fuzzed by
 * tests/fuzz/fuzz-sockaddr.c.  sockaddr_inet() resolves with getaddrinfo()
 * and may block on DNS (a slow path: object creation).  Sockets made of
 * these addresses are util/socket.h's.
 *
 * Errors are GErrors in UTIL_ERROR; 'what' (may be NULL) names the option
 * the text came from and prefixes the message ("addr: ...").
 *
 * Threads: any thread; nothing here keeps state.
 */
#ifndef UTIL_SOCKADDR_H
#define UTIL_SOCKADDR_H

#include <glib.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <sys/un.h>

/* The longest unix path or abstract name accepted, in bytes. */
#define SOCKADDR_UNIX_PATH_MAX \
    (sizeof(((struct sockaddr_un *)0)->sun_path) - 1)

/* Room for any sockaddr_str() result. */
#define SOCKADDR_STR_MAX 160

typedef struct SockAddr {
    struct sockaddr_storage ss;  /* the address */
    socklen_t len;               /* its length */
} SockAddr;

/* --- parsing (pure) ------------------------------------------------------ */

/* Checks a port string: decimal 0-65535 or a service name.  FALSE with
 * errp set for NULL/"" ("a port is required"), a number above 65535
 * ("out of range") or anything else ("not a port"). */
gboolean sockaddr_port_check(const char *port, const char *what,
                             GError **errp);

/* Returns 'host' without one pair of enclosing brackets ("[::1]" ->
 * "::1"), newly allocated; NULL stays NULL. */
char *sockaddr_host_unbracket(const char *host);

/* "host:port", or "[host]:port" when host holds a ':' (an IPv6 literal);
 * newly allocated.  The inverse of sockaddr_split_host_port(). */
char *sockaddr_host_port_str(const char *host, const char *port);

/* Splits "host:port", "[v6]:port" or ":port" at its last ':' (after the
 * brackets).  *host gets the host without brackets ("" for ":port"),
 * *port the port, both newly allocated and only on success.  The port is
 * not checked (see sockaddr_port_check()). */
gboolean sockaddr_split_host_port(const char *str, char **host,
                                  char **port, const char *what,
                                  GError **errp);

typedef enum SockSpecKind {
    SOCK_SPEC_NONE = 0,       /* not a socket spec */
    SOCK_SPEC_UNIX,           /* "unix:REST" */
    SOCK_SPEC_INET,           /* "tcp:REST" */
} SockSpecKind;

/* The kind of 'spec' by its prefix; *rest (may be NULL) gets what
 * follows the prefix. */
SockSpecKind sockaddr_spec_kind(const char *spec, const char **rest);

typedef struct SockSpec {
    SockSpecKind kind;
    char *path;               /* SOCK_SPEC_UNIX */
    char *host;               /* SOCK_SPEC_INET, without brackets */
    char *port;               /* SOCK_SPEC_INET, checked */
} SockSpec;

/* Parses a whole "unix:PATH" or "tcp:HOST:PORT" (and, with 'bare_path', a
 * "/PATH").  HOST may be empty (any/localhost) or bracketed.  The path's
 * length and the port are checked as above.  On failure 's' is left
 * cleared. */
gboolean sockaddr_parse_spec(SockSpec *s, const char *spec,
                             gboolean bare_path, const char *what,
                             GError **errp);
void sock_spec_clear(SockSpec *s);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(SockSpec, sock_spec_clear)

/* --- addresses ----------------------------------------------------------- */

/* A unix socket address for 'path' (see the rules above).  'abstract'
 * puts it in the abstract namespace, 'tight' sizes an abstract address
 * to its name (else to the whole sun_path, as QEMU's tight=off). */
gboolean sockaddr_unix(SockAddr *a, const char *path, gboolean abstract,
                       gboolean tight, const char *what, GError **errp);

/* Resolves 'host' (NULL or "" = any for a listener, localhost for a
 * client; brackets allowed) and 'port' (checked) into the first usable
 * address.  Blocks on DNS: slow path only. */
gboolean sockaddr_inet(SockAddr *a, const char *host, const char *port,
                       gboolean passive, const char *what, GError **errp);

/* sockaddr_split_host_port() then sockaddr_inet(). */
gboolean sockaddr_parse_host_port(SockAddr *a, const char *str,
                                  gboolean passive, const char *what,
                                  GError **errp);

/* The netdev address fields PREFIX.type=inet|unix, PREFIX.host,
 * PREFIX.port, PREFIX.path: builds 'a' from them, with QEMU's "Parameter
 * 'PREFIX.host' is missing" errors ('host' may be absent when 'passive').
 * 'type' must be "inet" or "unix" (the caller handles "fd" and reports
 * other values with the alternatives it accepts). */
gboolean sockaddr_from_fields(SockAddr *a, const char *prefix,
                              const char *type, const char *host,
                              const char *port, const char *path,
                              gboolean abstract, gboolean tight,
                              gboolean passive, GError **errp);

/* A printable form of 'a' in 'buf' ("127.0.0.1:9000", "[::1]:9000",
 * "unix:/path", "unix:@name", "fd"); returns 'buf'. */
const char *sockaddr_str(const SockAddr *a, char *buf, size_t size);

/* describe() for query output: "127.0.0.1:9000", "[::1]:9000", the unix
 * path or the abstract name (without "unix:"), newly allocated. */
char *sockaddr_describe(const struct sockaddr *sa, socklen_t len);

/* Same family, address and port (or the same unix address). */
gboolean sockaddr_equal(const SockAddr *a, const SockAddr *b);

#endif /* UTIL_SOCKADDR_H */
