/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * include/qom/tls-creds.h - TLS credentials (-object tls-creds-x509 and
 * tls-creds-psk, QEMU's names and files) and the authorization objects
 * (-object authz-simple, authz-list).
 *
 *   -object tls-creds-x509,id=ID,dir=DIR,endpoint=server|client
 *           [,verify-peer=on|off][,priority=GNUTLS-PRIORITY]
 *     DIR holds QEMU's file names: ca-cert.pem (always), ca-crl.pem
 *     (optional), server-cert.pem + server-key.pem (server),
 *     client-cert.pem + client-key.pem (client; required when the server
 *     verifies its peers, which is the default).
 *     verify-peer=on (default): a server requires a client certificate
 *     signed by the CA, valid now and not revoked; a client checks the
 *     server's the same way (the chain only: no host name check).
 *   -object tls-creds-psk,id=ID,dir=DIR,endpoint=server|client
 *           [,username=NAME][,priority=...]
 *     DIR/keys.psk: lines "username:hexkey" (QEMU's and GnuTLS's psktool
 *     format); a client uses the line of 'username' (default "qemu").
 *
 * The peer's identity, for authorization: the distinguished name of its
 * x509 certificate as GnuTLS prints it ("CN=client,O=Example,C=GB"), or
 * its PSK username.
 *
 * The credentials are loaded once, when the object is created (a missing
 * or unreadable file is a creation error naming it); sessions share them.
 * Objects of the main thread; tls_creds_new_session() and the checks
 * below read only what complete() fixed, so any thread may call them.
 */
#ifndef QOM_TLS_CREDS_H
#define QOM_TLS_CREDS_H

#include "qom/object.h"
#include "util/tls-session.h"

#define TYPE_TLS_CREDS (tls_creds_get_type())
G_DECLARE_DERIVABLE_TYPE(TlsCreds, tls_creds, TLS, CREDS, UserObject)

struct _TlsCredsClass {
    UserObjectClass parent_class;
    /* Loads the files of 'dir' (complete()). */
    gboolean (*load)(TlsCreds *c, GError **errp);
    /* Puts the credentials and verification settings on 'gs'. */
    gboolean (*setup)(TlsCreds *c, gnutls_session_t gs, GError **errp);
    /* The peer's identity after a completed handshake (new string). */
    char *(*peer_identity)(TlsCreds *c, gnutls_session_t gs, GError **errp);
};

/* The tls-creds-* object 'id', or NULL with errp set ("No TLS credentials
 * with id 'ID'", "'ID' is not a TLS credentials object").  Main thread. */
TlsCreds *tls_creds_find(const char *id, GError **errp);

/* TRUE for endpoint=server. */
gboolean tls_creds_is_server(TlsCreds *c);

/* A new session over 'fd' for 'c''s endpoint, or NULL with errp set. */
TlsSession *tls_creds_new_session(TlsCreds *c, int fd, GError **errp);

/* The peer's identity of an established session (new string), or NULL
 * with errp set (no certificate, unreadable name). */
char *tls_creds_peer_identity(TlsCreds *c, TlsSession *s, GError **errp);

/* --- authorization --------------------------------------------------------
 *
 *   -object authz-simple,id=ID,identity=NAME
 *     allows exactly NAME.
 *   -object authz-list,id=ID[,policy=allow|deny]
 *           [,rules.N.match=PATTERN,rules.N.policy=allow|deny
 *            [,rules.N.format=exact|glob]]...
 *     the first rule (N = 0, 1, ... without gaps, at most
 *     AUTHZ_LIST_MAX_RULES) whose match equals the identity (exact, the
 *     default) or matches it as a shell glob ('*', '?') decides; no rule
 *     matching: 'policy' (default deny).  QEMU's JSON form
 *     {"qom-type": "authz-list", "rules": [{"match": ..., "policy": ...}]}
 *     (-object '{...}', object-add) gives the same keys.
 */
#define AUTHZ_LIST_MAX_RULES 16

#define TYPE_AUTHZ (authz_get_type())
G_DECLARE_DERIVABLE_TYPE(Authz, authz, AUTHZ, BASE, UserObject)

struct _AuthzClass {
    UserObjectClass parent_class;
    gboolean (*is_allowed)(Authz *a, const char *identity);
};

/* The authz-* object 'id', or NULL with errp set.  Main thread. */
Authz *authz_find(const char *id, GError **errp);

/* TRUE when 'identity' may connect.  Any thread (reads fixed state). */
gboolean authz_is_allowed(Authz *a, const char *identity);

#endif /* QOM_TLS_CREDS_H */
