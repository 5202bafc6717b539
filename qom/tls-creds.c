/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * qom/tls-creds.c - tls-creds-x509 and tls-creds-psk
 * (include/qom/tls-creds.h has the interface).
 *
 * All verification is GnuTLS's: a server with verify-peer=on asks for a
 * client certificate and refuses the handshake without one
 * (GNUTLS_CERT_REQUIRE); gnutls_session_set_verify_cert() makes GnuTLS
 * check the peer's chain against ca-cert.pem (and ca-crl.pem), its dates
 * and its key usage during the handshake, so an untrusted, expired or
 * revoked peer never completes it.  Nothing here parses certificates.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <gnutls/x509.h>

#include "qom/props.h"
#include "qom/tls-creds.h"
#include "util/error.h"

/* QEMU's default priority string. */
#define TLS_CREDS_PRIORITY_DEFAULT "NORMAL"

typedef struct {
    char *dir;
    char *endpoint;
    char *priority;
    gboolean verify_peer;
    gboolean server;
} TlsCredsPrivate;

G_DEFINE_ABSTRACT_TYPE_WITH_PRIVATE(TlsCreds, tls_creds, USER_TYPE_OBJECT)

#define CREDS_PRIV(c) ((TlsCredsPrivate *)tls_creds_get_instance_private(c))

static char *creds_path(TlsCreds *c, const char *file)
{
    return g_build_filename(CREDS_PRIV(c)->dir, file, NULL);
}

/* 'file' of the directory if it exists; NULL if not, and an error if it
 * is 'required'. */
static char *creds_file(TlsCreds *c, const char *file, gboolean required,
                        GError **errp)
{
    char *path = creds_path(c, file);

    if (access(path, R_OK) == 0) {
        return path;
    }
    if (required) {
        error_setg(errp, "Unable to access credentials %s: %s", path,
                   g_strerror(errno));
    }
    g_free(path);
    return NULL;
}

gboolean tls_creds_is_server(TlsCreds *c)
{
    return CREDS_PRIV(c)->server;
}

TlsCreds *tls_creds_find(const char *id, GError **errp)
{
    UserObject *o = user_object_find(OBJECT_KIND_OBJECT, id);

    if (!o) {
        error_setg(errp, "No TLS credentials with id '%s'", id);
        return NULL;
    }
    if (!TLS_IS_CREDS(o)) {
        error_setg(errp, "Object with id '%s' is not TLS credentials", id);
        return NULL;
    }
    return TLS_CREDS(o);
}

TlsSession *tls_creds_new_session(TlsCreds *c, int fd, GError **errp)
{
    TlsCredsPrivate *p = CREDS_PRIV(c);
    gnutls_session_t gs;
    int r;

    r = gnutls_init(&gs, (p->server ? GNUTLS_SERVER : GNUTLS_CLIENT) |
                         GNUTLS_NONBLOCK);
    if (r < 0) {
        error_setg(errp, "Cannot initialize TLS session: %s",
                   gnutls_strerror(r));
        return NULL;
    }
    if (!TLS_CREDS_GET_CLASS(c)->setup(c, gs, errp)) {
        gnutls_deinit(gs);
        return NULL;
    }
    return tls_session_new(gs, fd, p->server);
}

char *tls_creds_peer_identity(TlsCreds *c, TlsSession *s, GError **errp)
{
    return TLS_CREDS_GET_CLASS(c)->peer_identity(c, tls_session_gnutls(s),
                                                 errp);
}

/* Sets the priority, with 'extra' appended (PSK's key exchanges). */
static gboolean creds_set_priority(TlsCreds *c, gnutls_session_t gs,
                                   const char *extra, GError **errp)
{
    TlsCredsPrivate *p = CREDS_PRIV(c);
    const char *base = p->priority ? p->priority : TLS_CREDS_PRIORITY_DEFAULT;
    g_autofree char *prio = g_strconcat(base, extra, NULL);
    const char *err_pos = NULL;
    int r = gnutls_priority_set_direct(gs, prio, &err_pos);

    if (r < 0) {
        error_setg(errp, "Unable to set TLS session priority %s: %s", prio,
                   gnutls_strerror(r));
        return FALSE;
    }
    return TRUE;
}

static gboolean creds_complete(UserObject *obj, GError **errp)
{
    TlsCreds *c = TLS_CREDS(obj);
    TlsCredsPrivate *p = CREDS_PRIV(c);

    if (!p->endpoint || g_str_equal(p->endpoint, "client")) {
        p->server = FALSE;
    } else if (g_str_equal(p->endpoint, "server")) {
        p->server = TRUE;
    } else {
        error_setg(errp, "Parameter 'endpoint' does not accept value '%s'",
                   p->endpoint);
        return FALSE;
    }
    if (!p->dir || !*p->dir) {
        error_setg(errp, "Parameter 'dir' is missing");
        return FALSE;
    }
    if (p->priority) {
        /* Checked now rather than at the first connection. */
        gnutls_priority_t pc;
        const char *err_pos = NULL;
        int r = gnutls_priority_init(&pc, p->priority, &err_pos);

        if (r < 0) {
            error_setg(errp, "Unable to use TLS priority '%s': %s",
                       p->priority, gnutls_strerror(r));
            return FALSE;
        }
        gnutls_priority_deinit(pc);
    }
    return TLS_CREDS_GET_CLASS(c)->load(c, errp);
}

/* endpoint is kept as the user's string (QEMU's enum spelling), read at
 * complete; the table starts it at "client", its default. */
static const PropDef tls_creds_props[] = {
    DEFINE_PROP_STR("dir", TlsCredsPrivate, dir, NULL, PROP_REQUIRED,
                    "directory holding the credential files"),
    DEFINE_PROP_STR("endpoint", TlsCredsPrivate, endpoint, "client", 0,
                    "server or client"),
    DEFINE_PROP_BOOL("verify-peer", TlsCredsPrivate, verify_peer, TRUE, 0,
                     "x509: require and check the peer's certificate"),
    DEFINE_PROP_STR("priority", TlsCredsPrivate, priority, NULL, 0,
                    "GnuTLS priority string (default NORMAL)"),
};

static void tls_creds_class_init(TlsCredsClass *klass)
{
    USER_OBJECT_CLASS(klass)->complete = creds_complete;
    object_class_install_private_props(klass, tls_creds_props, TlsCreds);
}

static void tls_creds_init(TlsCreds *c)
{
}

/* --- tls-creds-x509 --------------------------------------------------------- */

#define TYPE_TLS_CREDS_X509 (tls_creds_x509_get_type())
G_DECLARE_FINAL_TYPE(TlsCredsX509, tls_creds_x509, TLS, CREDS_X509, TlsCreds)

struct _TlsCredsX509 {
    TlsCreds parent_instance;
    gnutls_certificate_credentials_t cred;
};

G_DEFINE_TYPE(TlsCredsX509, tls_creds_x509, TYPE_TLS_CREDS)

static gboolean x509_load(TlsCreds *c, GError **errp)
{
    TlsCredsX509 *x = TLS_CREDS_X509(c);
    TlsCredsPrivate *p = CREDS_PRIV(c);
    const char *cert_name = p->server ? "server-cert.pem" : "client-cert.pem";
    const char *key_name = p->server ? "server-key.pem" : "client-key.pem";
    g_autofree char *ca = NULL, *crl = NULL, *cert = NULL, *key = NULL;
    int r;

    ca = creds_file(c, "ca-cert.pem", p->verify_peer || !p->server, errp);
    if (!ca && (p->verify_peer || !p->server)) {
        return FALSE;
    }
    crl = creds_file(c, "ca-crl.pem", FALSE, NULL);
    /* A client's own certificate is needed only by a verifying server,
     * which the client cannot know: use it if it is there. */
    cert = creds_file(c, cert_name, p->server, errp);
    if (p->server && !cert) {
        return FALSE;
    }
    key = creds_file(c, key_name, cert != NULL, errp);
    if (cert && !key) {
        return FALSE;
    }
    r = gnutls_certificate_allocate_credentials(&x->cred);
    if (r < 0) {
        error_setg(errp, "Cannot allocate credentials: %s",
                   gnutls_strerror(r));
        return FALSE;
    }
    if (ca) {
        r = gnutls_certificate_set_x509_trust_file(x->cred, ca,
                                                   GNUTLS_X509_FMT_PEM);
        if (r <= 0) {
            error_setg(errp, "Cannot load CA certificate %s: %s", ca,
                       r == 0 ? "no certificate in it" : gnutls_strerror(r));
            return FALSE;
        }
    }
    if (crl) {
        r = gnutls_certificate_set_x509_crl_file(x->cred, crl,
                                                 GNUTLS_X509_FMT_PEM);
        if (r < 0) {
            error_setg(errp, "Cannot load CRL %s: %s", crl,
                       gnutls_strerror(r));
            return FALSE;
        }
    }
    if (cert) {
        r = gnutls_certificate_set_x509_key_file(x->cred, cert, key,
                                                 GNUTLS_X509_FMT_PEM);
        if (r < 0) {
            error_setg(errp, "Cannot load certificate %s & key %s: %s",
                       cert, key, gnutls_strerror(r));
            return FALSE;
        }
    }
    return TRUE;
}

static gboolean x509_setup(TlsCreds *c, gnutls_session_t gs, GError **errp)
{
    TlsCredsPrivate *p = CREDS_PRIV(c);
    int r;

    if (!creds_set_priority(c, gs, "", errp)) {
        return FALSE;
    }
    r = gnutls_credentials_set(gs, GNUTLS_CRD_CERTIFICATE,
                               TLS_CREDS_X509(c)->cred);
    if (r < 0) {
        error_setg(errp, "Cannot set session credentials: %s",
                   gnutls_strerror(r));
        return FALSE;
    }
    if (p->server) {
        gnutls_certificate_server_set_request(
            gs, p->verify_peer ? GNUTLS_CERT_REQUIRE : GNUTLS_CERT_IGNORE);
    }
    if (p->verify_peer) {
        /* The chain, dates, revocation and key purpose, in the handshake:
         * a peer that fails never gets a session. */
        gnutls_session_set_verify_cert(gs, NULL, 0);
    }
    return TRUE;
}

static char *x509_peer_identity(TlsCreds *c, gnutls_session_t gs,
                                GError **errp)
{
    unsigned n = 0;
    const gnutls_datum_t *certs = gnutls_certificate_get_peers(gs, &n);
    gnutls_x509_crt_t crt;
    char dn[1024];
    size_t dn_len = sizeof(dn);
    int r;

    if (!certs || n == 0) {
        error_setg(errp, "The peer sent no certificate");
        return NULL;
    }
    if (gnutls_x509_crt_init(&crt) < 0) {
        error_setg(errp, "Out of memory");
        return NULL;
    }
    r = gnutls_x509_crt_import(crt, &certs[0], GNUTLS_X509_FMT_DER);
    if (r >= 0) {
        /* The function QEMU uses, so an identity written for QEMU's
         * authz-simple / authz-list matches here too (its order is
         * GnuTLS's historical one, not RFC 4514's get_dn3()). */
        r = gnutls_x509_crt_get_dn(crt, dn, &dn_len);
    }
    gnutls_x509_crt_deinit(crt);
    if (r < 0) {
        error_setg(errp, "Cannot read the peer's certificate name: %s",
                   gnutls_strerror(r));
        return NULL;
    }
    return g_strndup(dn, dn_len);
}

static void x509_finalize(GObject *gobj)
{
    TlsCredsX509 *x = TLS_CREDS_X509(gobj);

    if (x->cred) {
        gnutls_certificate_free_credentials(x->cred);
    }
    G_OBJECT_CLASS(tls_creds_x509_parent_class)->finalize(gobj);
}

static void tls_creds_x509_class_init(TlsCredsX509Class *klass)
{
    TlsCredsClass *tc = TLS_CREDS_CLASS(klass);

    G_OBJECT_CLASS(klass)->finalize = x509_finalize;
    USER_OBJECT_CLASS(klass)->description =
        "TLS credentials: x509 certificates (QEMU's file names in dir)";
    tc->load = x509_load;
    tc->setup = x509_setup;
    tc->peer_identity = x509_peer_identity;
}

static void tls_creds_x509_init(TlsCredsX509 *x)
{
}

/* --- tls-creds-psk ------------------------------------------------------------ */

#define TYPE_TLS_CREDS_PSK (tls_creds_psk_get_type())
G_DECLARE_FINAL_TYPE(TlsCredsPsk, tls_creds_psk, TLS, CREDS_PSK, TlsCreds)

struct _TlsCredsPsk {
    TlsCreds parent_instance;
    char *username;
    gnutls_psk_server_credentials_t scred;
    gnutls_psk_client_credentials_t ccred;
};

G_DEFINE_TYPE(TlsCredsPsk, tls_creds_psk, TYPE_TLS_CREDS)

#define PSK_DEFAULT_USER "qemu"

/* The hex key of 'user' in keys.psk ("user:hexkey" lines), new string. */
static char *psk_find_key(const char *path, const char *user, GError **errp)
{
    g_autofree char *text = NULL;
    g_auto(GStrv) lines = NULL;

    if (!g_file_get_contents(path, &text, NULL, errp)) {
        return NULL;
    }
    lines = g_strsplit(text, "\n", -1);
    for (char **l = lines; *l; l++) {
        char *colon = strchr(*l, ':');

        g_strchomp(*l);
        if (colon && (size_t)(colon - *l) == strlen(user) &&
            strncmp(*l, user, colon - *l) == 0 && colon[1]) {
            return g_strdup(colon + 1);
        }
    }
    error_setg(errp, "Username %s not found in %s", user, path);
    return NULL;
}

static gboolean psk_load(TlsCreds *c, GError **errp)
{
    TlsCredsPsk *k = TLS_CREDS_PSK(c);
    g_autofree char *path = creds_file(c, "keys.psk", TRUE, errp);
    int r;

    if (!path) {
        return FALSE;
    }
    if (CREDS_PRIV(c)->server) {
        if (k->username) {
            error_setg(errp, "tls-creds-psk: 'username' is for the client "
                       "endpoint only");
            return FALSE;
        }
        r = gnutls_psk_allocate_server_credentials(&k->scred);
        if (r >= 0) {
            /* GnuTLS reads "user:hexkey" lines itself, per handshake. */
            r = gnutls_psk_set_server_credentials_file(k->scred, path);
        }
        if (r < 0) {
            error_setg(errp, "Cannot set PSK server credentials from %s: %s",
                       path, gnutls_strerror(r));
            return FALSE;
        }
        gnutls_psk_set_server_known_dh_params(k->scred, GNUTLS_SEC_PARAM_HIGH);
    } else {
        const char *user = k->username ? k->username : PSK_DEFAULT_USER;
        g_autofree char *hex = psk_find_key(path, user, errp);
        gnutls_datum_t key;

        if (!hex) {
            return FALSE;
        }
        key.data = (unsigned char *)hex;
        key.size = strlen(hex);
        r = gnutls_psk_allocate_client_credentials(&k->ccred);
        if (r >= 0) {
            r = gnutls_psk_set_client_credentials(k->ccred, user, &key,
                                                  GNUTLS_PSK_KEY_HEX);
        }
        if (r < 0) {
            error_setg(errp, "Cannot set PSK client credentials for %s: %s",
                       user, gnutls_strerror(r));
            return FALSE;
        }
    }
    return TRUE;
}

static gboolean psk_setup(TlsCreds *c, gnutls_session_t gs, GError **errp)
{
    TlsCredsPsk *k = TLS_CREDS_PSK(c);
    int r;

    if (!creds_set_priority(c, gs, ":+ECDHE-PSK:+DHE-PSK:+PSK",
                            errp)) {
        return FALSE;
    }
    r = CREDS_PRIV(c)->server
        ? gnutls_credentials_set(gs, GNUTLS_CRD_PSK, k->scred)
        : gnutls_credentials_set(gs, GNUTLS_CRD_PSK, k->ccred);
    if (r < 0) {
        error_setg(errp, "Cannot set session credentials: %s",
                   gnutls_strerror(r));
        return FALSE;
    }
    return TRUE;
}

static char *psk_peer_identity(TlsCreds *c, gnutls_session_t gs,
                               GError **errp)
{
    const char *user = gnutls_psk_server_get_username(gs);

    if (!CREDS_PRIV(c)->server) {
        return g_strdup("");    /* a client authenticates the key only */
    }
    if (!user) {
        error_setg(errp, "The peer sent no PSK username");
        return NULL;
    }
    return g_strdup(user);
}

static void psk_finalize(GObject *gobj)
{
    TlsCredsPsk *k = TLS_CREDS_PSK(gobj);

    if (k->scred) {
        gnutls_psk_free_server_credentials(k->scred);
    }
    if (k->ccred) {
        gnutls_psk_free_client_credentials(k->ccred);
    }
    G_OBJECT_CLASS(tls_creds_psk_parent_class)->finalize(gobj);
}

static const PropDef tls_creds_psk_props[] = {
    DEFINE_PROP_STR("username", TlsCredsPsk, username, NULL, 0,
                    "client: the key's user name in keys.psk (default qemu)"),
};

static void tls_creds_psk_class_init(TlsCredsPskClass *klass)
{
    TlsCredsClass *tc = TLS_CREDS_CLASS(klass);

    G_OBJECT_CLASS(klass)->finalize = psk_finalize;
    USER_OBJECT_CLASS(klass)->description =
        "TLS credentials: pre-shared keys (dir/keys.psk)";
    tc->load = psk_load;
    tc->setup = psk_setup;
    tc->peer_identity = psk_peer_identity;
    object_class_install_props(klass, tls_creds_psk_props);
}

static void tls_creds_psk_init(TlsCredsPsk *k)
{
}

static void tls_creds_register(void)
{
    object_type_register(OBJECT_KIND_OBJECT, "tls-creds-x509",
                         TYPE_TLS_CREDS_X509);
    object_type_register(OBJECT_KIND_OBJECT, "tls-creds-psk",
                         TYPE_TLS_CREDS_PSK);
}
type_init(tls_creds_register)
