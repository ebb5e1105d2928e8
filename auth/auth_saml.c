#include "auth_saml.h"

#include <glib.h>
#include <jansson.h>
#include <lasso/debug.h>
#include <lasso/lasso.h>
#include <lasso/xml/misc_text_node.h>
#include <lasso/xml/saml-2.0/saml2_assertion.h>
#include <lasso/xml/saml-2.0/saml2_attribute.h>
#include <lasso/xml/saml-2.0/saml2_attribute_statement.h>
#include <lasso/xml/saml-2.0/saml2_attribute_value.h>
#include <lasso/xml/saml-2.0/saml2_audience_restriction.h>
#include <lasso/xml/saml-2.0/saml2_authn_statement.h>
#include <lasso/xml/saml-2.0/saml2_conditions.h>
#include <lasso/xml/saml-2.0/saml2_name_id.h>
#include <lasso/xml/saml-2.0/saml2_subject.h>
#include <lasso/xml/saml-2.0/saml2_subject_confirmation.h>
#include <lasso/xml/saml-2.0/saml2_subject_confirmation_data.h>
#include <lasso/xml/saml-2.0/samlp2_authn_request.h>
#include <lasso/xml/saml-2.0/samlp2_logout_request.h>
#include <lasso/xml/saml-2.0/samlp2_name_id_policy.h>
#include <lasso/xml/saml-2.0/samlp2_response.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth_saml_keys.h"
#include "auth_session.h"
#include "log.h"
#include "notify.h"
#include "util.h"

/* lasso 2.8.1 as shipped by Debian 12 leaks the decoded signature (259
 * bytes for RSA-2048) each time it verifies the query signature of an
 * HTTP-Redirect message. The leak detector is told to ignore what those
 * calls allocate, and only those calls: a lasso object dadm forgot to free
 * is allocated outside them and still shows. */
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#define LASSO_QUERY_LEAK_BEGIN() __lsan_disable()
#define LASSO_QUERY_LEAK_END()   __lsan_enable()
#else
#define LASSO_QUERY_LEAK_BEGIN() ((void)0)
#define LASSO_QUERY_LEAK_END()   ((void)0)
#endif

#define OID_EPPN         "urn:oid:1.3.6.1.4.1.5923.1.1.1.6"
#define OID_MAIL         "urn:oid:0.9.2342.19200300.100.1.3"
#define OID_DISPLAY_NAME "urn:oid:2.16.840.1.113730.3.1.241"
#define OID_SUPANN_ETAB  "urn:oid:1.3.6.1.4.1.7135.1.2.1.14"
#define NAME_FORMAT_URI  "urn:oasis:names:tc:SAML:2.0:attrname-format:uri"
#define CM_BEARER        "urn:oasis:names:tc:SAML:2.0:cm:bearer"

/* Real responses are 5–15 KiB once base64-encoded; anything far bigger is
 * not an answer to our request. */
#define MAX_RESPONSE_BYTES (256u * 1024u)
#define MAX_RETURN_PATH    512
/* The SAML binding caps RelayState at 80 bytes. */
#define MAX_RELAY_STATE 80

/* Process-wide settings, written once by auth_saml_global_init() before the
 * worker threads exist, read-only afterwards. */
static struct {
    bool enabled, lasso_up, key_made;
    char *base_url, *entity_id, *acs_url, *slo_url, *metadata, *key_pem, *cert_pem;
    int request_ttl, skew, idle, absolute;
    pthread_key_t key;
} G;

static pthread_mutex_t lasso_init_lock = PTHREAD_MUTEX_INITIALIZER;

/* One LassoServer per worker thread, and the IdP generation it was built
 * from. */
typedef struct {
    LassoServer *server;
    int64_t generation;
} thread_server;

static const struct {
    const char *slug, *message;
    unsigned status;
} verdicts[] = {
    [AUTH_SAML_OK] = {"ok", "Connexion réussie.", 200},
    [AUTH_SAML_DISABLED] = {"disabled",
                            "La connexion par votre établissement n'est pas disponible sur ce "
                            "service.",
                            404},
    [AUTH_SAML_UNKNOWN_ETAB] = {"unknown_etab",
                                "Cet établissement n'a pas de connexion par fédération "
                                "d'identités configurée.",
                                404},
    [AUTH_SAML_BAD_RETURN] = {"bad_return", "L'adresse de retour demandée n'est pas valide.", 400},
    [AUTH_SAML_BAD_RESPONSE] = {"bad_response",
                                "La réponse de votre établissement n'a pas pu être validée.", 400},
    [AUTH_SAML_IDP_STATUS] = {"idp_status",
                              "Votre établissement n'a pas confirmé votre identité (connexion "
                              "refusée ou annulée).",
                              403},
    [AUTH_SAML_WRONG_RECIPIENT] = {"wrong_recipient",
                                   "La réponse de votre établissement n'était pas destinée à ce "
                                   "service.",
                                   400},
    [AUTH_SAML_EXPIRED] = {"expired",
                           "La réponse de votre établissement a expiré. Recommencez la "
                           "connexion.",
                           400},
    [AUTH_SAML_UNSOLICITED] = {"unsolicited",
                               "Cette réponse ne correspond à aucune demande de connexion en "
                               "cours. Recommencez la connexion depuis ce service.",
                               400},
    [AUTH_SAML_REQUEST_SPENT] = {"request_spent",
                                 "Cette demande de connexion a déjà été utilisée ou a expiré. "
                                 "Recommencez la connexion.",
                                 400},
    [AUTH_SAML_REPLAY] = {"replay", "Cette réponse a déjà été utilisée. Recommencez la connexion.",
                          400},
    [AUTH_SAML_IDP_NOT_ALLOWED] = {"idp_not_allowed",
                                   "Ce fournisseur d'identité n'est pas autorisé pour cet "
                                   "établissement.",
                                   403},
    [AUTH_SAML_OTHER_ETAB] = {"other_etab",
                              "Votre établissement de rattachement ne correspond pas à "
                              "l'établissement choisi.",
                              403},
    [AUTH_SAML_NO_EPPN] = {"no_eppn",
                           "Votre établissement n'a pas transmis votre identifiant "
                           "(eduPersonPrincipalName).",
                           403},
    [AUTH_SAML_UNKNOWN_PERSON] = {"unknown_person",
                                  "Vous êtes bien authentifié par votre établissement, mais "
                                  "vous n'avez pas de compte dans l'espace des correspondants "
                                  "pour cet établissement. Demandez à un correspondant de "
                                  "votre établissement de vous faire ajouter.",
                                  403},
    [AUTH_SAML_ACCOUNT_DISABLED] = {"account_disabled",
                                    "Votre compte est désactivé. Adressez-vous à un "
                                    "correspondant de votre établissement.",
                                    403},
    [AUTH_SAML_NO_SESSION] = {"no_session", "Aucune session à fermer.", 200},
};

const char *auth_saml_verdict_slug(auth_saml_verdict v)
{
    return verdicts[v].slug;
}

const char *auth_saml_verdict_message(auth_saml_verdict v)
{
    return verdicts[v].message;
}

unsigned auth_saml_verdict_status(auth_saml_verdict v)
{
    return verdicts[v].status;
}

/* ---------------------------------------------------------------- checks */

bool auth_saml_return_path_ok(const char *path)
{
    if (!path || path[0] != '/' || path[1] == '/' || path[1] == '\\')
        return false;
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)path; *p; p++, n++) {
        if (*p <= 0x20 || *p == 0x7f || *p == '\\' || n >= MAX_RETURN_PATH)
            return false;
    }
    return true;
}

int auth_saml_supann_uai(const char *value, char uai[9])
{
    uai[0] = '\0';
    if (!value || g_ascii_strncasecmp(value, "{UAI}", 5) != 0)
        return 0;
    const char *c = value + 5;
    if (strlen(c) != 8)
        return -1;
    for (int i = 0; i < 7; i++)
        if (!g_ascii_isdigit(c[i]))
            return -1;
    if (!g_ascii_isalpha(c[7]))
        return -1;
    memcpy(uai, c, 8);
    uai[7] = g_ascii_toupper(c[7]);
    uai[8] = '\0';
    return 1;
}

/* The text of one AttributeValue: all its text nodes, concatenated. NULL in
 * *out when it holds anything else (an element). */
static dadm_err value_text(arena *a, LassoSaml2AttributeValue *v, const char **out)
{
    *out = NULL;
    GString *s = g_string_new(NULL);
    for (GList *i = v->any; i; i = i->next) {
        if (!LASSO_IS_MISC_TEXT_NODE(i->data) || !LASSO_MISC_TEXT_NODE(i->data)->text_child) {
            g_string_free(s, TRUE);
            return DADM_OK;
        }
        const char *c = LASSO_MISC_TEXT_NODE(i->data)->content;
        g_string_append(s, c ? c : "");
    }
    *out = arena_strdup(a, s->str);
    g_string_free(s, TRUE);
    return *out ? DADM_OK : DADM_E_NOMEM;
}

dadm_err auth_saml_read_attributes(arena *a, struct _LassoSaml2Assertion *assertion,
                                   auth_saml_attrs *out)
{
    memset(out, 0, sizeof(*out));
    size_t cap = 0;
    for (GList *s = assertion ? assertion->AttributeStatement : NULL; s; s = s->next) {
        if (!LASSO_IS_SAML2_ATTRIBUTE_STATEMENT(s->data))
            continue;
        for (GList *t = LASSO_SAML2_ATTRIBUTE_STATEMENT(s->data)->Attribute; t; t = t->next)
            if (LASSO_IS_SAML2_ATTRIBUTE(t->data))
                cap += g_list_length(LASSO_SAML2_ATTRIBUTE(t->data)->AttributeValue);
    }
    out->eppn = arena_alloc(a, (cap + 1) * sizeof(char *));
    out->supann = arena_alloc(a, (cap + 1) * sizeof(char *));
    if (!out->eppn || !out->supann)
        return DADM_E_NOMEM;
    for (GList *s = assertion ? assertion->AttributeStatement : NULL; s; s = s->next) {
        if (!LASSO_IS_SAML2_ATTRIBUTE_STATEMENT(s->data))
            continue;
        for (GList *t = LASSO_SAML2_ATTRIBUTE_STATEMENT(s->data)->Attribute; t; t = t->next) {
            if (!LASSO_IS_SAML2_ATTRIBUTE(t->data))
                continue;
            LassoSaml2Attribute *at = LASSO_SAML2_ATTRIBUTE(t->data);
            if (!at->Name || (at->NameFormat && strcmp(at->NameFormat, NAME_FORMAT_URI) != 0))
                continue;
            bool eppn = strcmp(at->Name, OID_EPPN) == 0;
            bool mail = strcmp(at->Name, OID_MAIL) == 0;
            bool dn = strcmp(at->Name, OID_DISPLAY_NAME) == 0;
            bool supann = strcmp(at->Name, OID_SUPANN_ETAB) == 0;
            if (!eppn && !mail && !dn && !supann)
                continue;
            for (GList *v = at->AttributeValue; v; v = v->next) {
                if (!LASSO_IS_SAML2_ATTRIBUTE_VALUE(v->data)) {
                    out->invalid = true;
                    continue;
                }
                const char *txt;
                dadm_err e = value_text(a, LASSO_SAML2_ATTRIBUTE_VALUE(v->data), &txt);
                if (e != DADM_OK)
                    return e;
                if (!txt) {
                    out->invalid = true;
                    continue;
                }
                if (eppn)
                    out->eppn[out->n_eppn++] = txt;
                else if (supann)
                    out->supann[out->n_supann++] = txt;
                else if (mail && !out->mail)
                    out->mail = txt;
                else if (dn && !out->display_name)
                    out->display_name = txt;
            }
        }
    }
    return DADM_OK;
}

/* Seconds since the epoch of an xs:dateTime; false when unparsable. */
static bool parse_time(const char *s, int64_t *out)
{
    if (!s)
        return false;
    GTimeZone *utc = g_time_zone_new_utc();
    GDateTime *t = g_date_time_new_from_iso8601(s, utc);
    g_time_zone_unref(utc);
    if (!t)
        return false;
    *out = g_date_time_to_unix(t);
    g_date_time_unref(t);
    return true;
}

/* ------------------------------------------------------------ lasso glue */

static void lasso_log(const gchar *domain, GLogLevelFlags level, const gchar *message,
                      gpointer data)
{
    (void)domain;
    (void)data;
    /* The message may quote the hostile input (personal data): only its
     * size goes to the log at warning level, the text at debug. */
    char len[24];
    snprintf(len, sizeof(len), "%zu", message ? strlen(message) : 0);
    log_kv(LOG_DEBUG, "saml.lasso_message", "text", message, NULL);
    if (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING))
        log_kv(LOG_WARN, "saml.lasso", "level",
               (level & G_LOG_LEVEL_CRITICAL) ? "critical" : "warning", "bytes", len, NULL);
}

/* lasso_init() once per process, with signature verification checked on. */
static dadm_err lasso_up(void)
{
    dadm_err e = DADM_OK;
    pthread_mutex_lock(&lasso_init_lock);
    if (!G.lasso_up) {
        /* LASSO_FLAG=no-verify-signature would make every signature "valid". */
        unsetenv("LASSO_FLAG");
        if (lasso_init() != 0) {
            log_kv(LOG_ERROR, "saml.lasso_init_failed", NULL);
            e = DADM_E_INTERNAL;
        } else {
            G.lasso_up = true;
            g_log_set_handler("Lasso", G_LOG_LEVEL_MASK | G_LOG_FLAG_FATAL | G_LOG_FLAG_RECURSION,
                              lasso_log, NULL);
            if (!lasso_flag_verify_signature) {
                log_kv(LOG_ERROR, "saml.signature_verification_off", NULL);
                e = DADM_E_INTERNAL;
            }
        }
    }
    pthread_mutex_unlock(&lasso_init_lock);
    return e;
}

static void thread_server_free(void *p)
{
    thread_server *t = p;
    if (!t)
        return;
    if (t->server)
        lasso_server_destroy(t->server);
    free(t);
}

/* The body of a PEM certificate: base64 only, for the metadata. */
static char *cert_body(const char *pem)
{
    const char *b = strstr(pem, "-----BEGIN CERTIFICATE-----");
    const char *e = b ? strstr(b, "-----END CERTIFICATE-----") : NULL;
    if (!b || !e)
        return NULL;
    b += strlen("-----BEGIN CERTIFICATE-----");
    GString *s = g_string_new(NULL);
    for (const char *p = b; p < e; p++)
        if (!g_ascii_isspace(*p))
            g_string_append_c(s, *p);
    return g_string_free(s, FALSE);
}

static char *xml_attr_escape(const char *s)
{
    GString *o = g_string_new(NULL);
    for (; *s; s++) {
        switch (*s) {
        case '&':
            g_string_append(o, "&amp;");
            break;
        case '<':
            g_string_append(o, "&lt;");
            break;
        case '>':
            g_string_append(o, "&gt;");
            break;
        case '"':
            g_string_append(o, "&quot;");
            break;
        default:
            g_string_append_c(o, *s);
        }
    }
    return g_string_free(o, FALSE);
}

static char *build_metadata(const char *cert_b64)
{
    char *eid = xml_attr_escape(G.entity_id), *acs = xml_attr_escape(G.acs_url),
         *slo = xml_attr_escape(G.slo_url);
    char *md = g_strdup_printf(
        "<?xml version=\"1.0\"?>\n"
        "<md:EntityDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\" "
        "xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\" entityID=\"%s\">\n"
        "  <md:SPSSODescriptor AuthnRequestsSigned=\"true\" WantAssertionsSigned=\"true\" "
        "protocolSupportEnumeration=\"urn:oasis:names:tc:SAML:2.0:protocol\">\n"
        "    <md:KeyDescriptor use=\"signing\"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>"
        "%s</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>\n"
        "    <md:SingleLogoutService "
        "Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect\" Location=\"%s\"/>\n"
        "    <md:NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:transient"
        "</md:NameIDFormat>\n"
        "    <md:AssertionConsumerService "
        "Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST\" Location=\"%s\" index=\"0\" "
        "isDefault=\"true\"/>\n"
        "  </md:SPSSODescriptor>\n"
        "</md:EntityDescriptor>\n",
        eid, cert_b64, slo, acs);
    g_free(eid);
    g_free(acs);
    g_free(slo);
    return md;
}

/* A LassoServer for our SP, without IdPs yet. The certificate stays out of
 * it: everything dadm sends is signed in the query (HTTP-Redirect), which
 * needs the key only, and lasso would try to open a certificate given as
 * text as a file name (libxmlsec leaks a BIO on that failure). The
 * certificate reaches the IdPs through the metadata. */
static LassoServer *new_server(void)
{
    LassoServer *s = lasso_server_new_from_buffers(G.metadata, G.key_pem, NULL, NULL);
    if (s)
        s->signature_method = LASSO_SIGNATURE_METHOD_RSA_SHA256;
    return s;
}

dadm_err auth_saml_global_init(conf *c)
{
    /* Without TZ, glibc re-reads /etc/localtime on every time conversion,
     * and lasso converts many per message. Same zone, read once. Safe here:
     * no other thread runs yet. */
    setenv("TZ", ":/etc/localtime", 0);
    dadm_err e = lasso_up();
    if (e != DADM_OK)
        return e;
    bool ok = true;
    G.idle = (int)conf_int(c, "session", "idle_seconds", 1800, 60, 86400, &ok);
    G.absolute = (int)conf_int(c, "session", "absolute_seconds", 36000, 60, 604800, &ok);
    G.request_ttl = (int)conf_int(c, "saml", "request_ttl_seconds", 600, 30, 3600, &ok);
    G.skew = (int)conf_int(c, "saml", "clock_skew_seconds", 60, 0, 600, &ok);
    if (!ok) {
        log_kv(LOG_ERROR, "config.invalid", "section", "saml", NULL);
        return DADM_E_INVALID;
    }
    const char *base = conf_str(c, "saml", "base_url", NULL);
    const char *key = conf_str(c, "saml", "sp_key", NULL);
    const char *cert = conf_str(c, "saml", "sp_cert", NULL);
    /* A key or certificate file that is named but unreadable is an error,
     * not a quiet "SAML off". */
    if ((!key && conf_str(c, "saml", "sp_key_file", NULL)) ||
        (!cert && conf_str(c, "saml", "sp_cert_file", NULL))) {
        log_kv(LOG_ERROR, "config.invalid", "key", key ? "saml.sp_cert_file" : "saml.sp_key_file",
               "detail", "file not readable", NULL);
        return DADM_E_INVALID;
    }
    if (!base || !*base || !key || !*key || !cert || !*cert) {
        log_kv(LOG_INFO, "saml.disabled", "detail", "no [saml] base_url, sp_key and sp_cert", NULL);
        return DADM_OK;
    }
    if (!g_str_has_prefix(base, "https://") && !g_str_has_prefix(base, "http://")) {
        log_kv(LOG_ERROR, "config.invalid", "key", "saml.base_url", NULL);
        return DADM_E_INVALID;
    }
    size_t bl = strlen(base);
    while (bl > 0 && base[bl - 1] == '/')
        bl--;
    G.base_url = g_strndup(base, bl);
    const char *eid = conf_str(c, "saml", "entity_id", NULL);
    G.entity_id = eid && *eid ? g_strdup(eid) : g_strconcat(G.base_url, "/saml/metadata", NULL);
    G.acs_url = g_strconcat(G.base_url, "/saml/acs", NULL);
    G.slo_url = g_strconcat(G.base_url, "/saml/slo", NULL);
    G.key_pem = g_strdup(key);
    G.cert_pem = g_strdup(cert);
    char *body = cert_body(cert);
    if (!body) {
        log_kv(LOG_ERROR, "config.invalid", "key", "saml.sp_cert", "detail",
               "not a PEM certificate", NULL);
        auth_saml_global_shutdown();
        return DADM_E_INVALID;
    }
    G.metadata = build_metadata(body);
    g_free(body);
    /* A trial server proves the key and certificate are usable now rather
     * than at the first login. */
    LassoServer *trial = new_server();
    if (!trial) {
        log_kv(LOG_ERROR, "config.invalid", "key", "saml.sp_key", "detail",
               "lasso refused the SP key, certificate or metadata", NULL);
        auth_saml_global_shutdown();
        return DADM_E_INVALID;
    }
    lasso_server_destroy(trial);
    if (pthread_key_create(&G.key, thread_server_free) != 0) {
        auth_saml_global_shutdown();
        return DADM_E_NOMEM;
    }
    G.key_made = true;
    G.enabled = true;
    log_kv(LOG_INFO, "saml.enabled", "entity_id", G.entity_id, NULL);
    return DADM_OK;
}

void auth_saml_global_shutdown(void)
{
    if (G.key_made) {
        /* The calling thread's own server, if it ever served SAML. */
        thread_server_free(pthread_getspecific(G.key));
        pthread_setspecific(G.key, NULL);
        pthread_key_delete(G.key);
        G.key_made = false;
    }
    g_free(G.base_url);
    g_free(G.entity_id);
    g_free(G.acs_url);
    g_free(G.slo_url);
    g_free(G.metadata);
    if (G.key_pem)
        memset(G.key_pem, 0, strlen(G.key_pem));
    g_free(G.key_pem);
    g_free(G.cert_pem);
    G.base_url = G.entity_id = G.acs_url = G.slo_url = G.metadata = G.key_pem = G.cert_pem = NULL;
    G.enabled = false;
    pthread_mutex_lock(&lasso_init_lock);
    if (G.lasso_up) {
        lasso_shutdown();
        G.lasso_up = false;
    }
    pthread_mutex_unlock(&lasso_init_lock);
}

bool auth_saml_enabled(void)
{
    return G.enabled;
}

const char *auth_saml_metadata(void)
{
    return G.metadata;
}

int auth_saml_session_idle(void)
{
    return G.idle ? G.idle : 1800;
}

int auth_saml_session_absolute(void)
{
    return G.absolute ? G.absolute : 36000;
}

static void unref(void *o)
{
    g_object_unref(o);
}

/* This thread's LassoServer, rebuilt when the IdP registrations changed.
 * Borrowed: owned by the thread. */
static dadm_err thread_server_get(db *d, arena *a, LassoServer **out)
{
    *out = NULL;
    dadm_err e = DADM_OK;
    PGresult *r = db_exec(d, a, "SELECT dadm.saml_idp_generation()", 0, NULL, &e);
    if (!r)
        return e;
    int64_t gen = 0;
    if (PQntuples(r) != 1 || !util_parse_i64(PQgetvalue(r, 0, 0), &gen))
        return DADM_E_INTERNAL;
    thread_server *t = pthread_getspecific(G.key);
    if (t && t->server && t->generation == gen) {
        *out = t->server;
        return DADM_OK;
    }
    if (!t) {
        t = calloc(1, sizeof(*t));
        if (!t || pthread_setspecific(G.key, t) != 0) {
            free(t);
            return DADM_E_NOMEM;
        }
    }
    if (t->server) {
        lasso_server_destroy(t->server);
        t->server = NULL;
    }
    PGresult *idps = db_exec(d, a, "SELECT entity_id, metadata FROM dadm.saml_idps()", 0, NULL, &e);
    if (!idps)
        return e;
    LassoServer *s = new_server();
    if (!s)
        return DADM_E_INTERNAL;
    for (int i = 0; i < PQntuples(idps); i++) {
        const char *md = PQgetvalue(idps, i, 1);
        char *bare = auth_saml_keys_bare(md, (size_t)PQgetlength(idps, i, 1));
        int rc = lasso_server_add_provider_from_buffer(s, LASSO_PROVIDER_ROLE_IDP, bare ? bare : md,
                                                       NULL, NULL);
        g_free(bare);
        if (rc != 0) {
            char code[16];
            snprintf(code, sizeof(code), "%d", rc);
            log_kv(LOG_WARN, "saml.idp_unusable", "idp", PQgetvalue(idps, i, 0), "saml_error", code,
                   "saml_error_text", lasso_strerror(rc), NULL);
        }
    }
    t->server = s;
    t->generation = gen;
    char g[24];
    snprintf(g, sizeof(g), "%lld", (long long)gen);
    log_kv(LOG_DEBUG, "saml.server_built", "generation", g, NULL);
    *out = s;
    return DADM_OK;
}

static void log_refusal(const char *event, auth_saml_verdict v, const char *idp, int rc,
                        const char *detail)
{
    char code[16];
    snprintf(code, sizeof(code), "%d", rc);
    log_kv(LOG_WARN, event, "reason", auth_saml_verdict_slug(v), "idp", idp, "saml_error",
           rc ? code : NULL, "saml_error_text", rc ? lasso_strerror(rc) : NULL, "detail", detail,
           NULL);
}

/* --------------------------------------------------------------- login */

dadm_err auth_saml_login_start(db *d, arena *a, const char *uai, const char *idp,
                               const char *return_path, const char **location, auth_saml_verdict *v)
{
    *location = NULL;
    *v = AUTH_SAML_OK;
    if (!G.enabled) {
        *v = AUTH_SAML_DISABLED;
        return DADM_OK;
    }
    if (!return_path)
        return_path = "/login"; /* the login page shows the session and its links */
    if (!auth_saml_return_path_ok(return_path)) {
        *v = AUTH_SAML_BAD_RETURN;
        log_refusal("saml.login_refused", *v, idp, 0, "return path");
        return DADM_OK;
    }
    char up[16];
    if (!uai || strlen(uai) != 8) {
        *v = AUTH_SAML_UNKNOWN_ETAB;
        return DADM_OK;
    }
    g_strlcpy(up, uai, sizeof(up));
    for (char *p = up; *p; p++)
        *p = g_ascii_toupper(*p);
    dadm_err e = DADM_OK;
    const char *p1[] = {up};
    PGresult *r =
        db_exec(d, a, "SELECT etab_id, entity_id FROM dadm.saml_etab_idps($1)", 1, p1, &e);
    if (!r)
        return e;
    int row = -1;
    for (int i = 0; i < PQntuples(r) && row < 0; i++)
        if (!idp || strcmp(idp, PQgetvalue(r, i, 1)) == 0)
            row = i;
    if (row < 0) {
        *v = idp ? AUTH_SAML_IDP_NOT_ALLOWED : AUTH_SAML_UNKNOWN_ETAB;
        log_refusal("saml.login_refused", *v, idp, 0, up);
        return DADM_OK;
    }
    const char *etab_id = PQgetvalue(r, row, 0), *entity = PQgetvalue(r, row, 1);

    LassoServer *srv;
    if ((e = thread_server_get(d, a, &srv)) != DADM_OK)
        return e;
    if (!lasso_server_get_provider(srv, entity)) {
        *v = AUTH_SAML_UNKNOWN_ETAB;
        log_refusal("saml.login_refused", *v, entity, 0, "IdP metadata not loaded");
        return DADM_OK;
    }
    LassoLogin *login = lasso_login_new(srv);
    if (!login || arena_defer(a, unref, login) != 0)
        return DADM_E_NOMEM;
    LassoProfile *prof = LASSO_PROFILE(login);
    int rc = lasso_login_init_authn_request(login, entity, LASSO_HTTP_METHOD_REDIRECT);
    if (rc != 0) {
        log_refusal("saml.login_failed", AUTH_SAML_UNKNOWN_ETAB, entity, rc, NULL);
        return DADM_E_INTERNAL;
    }
    LassoSamlp2AuthnRequest *req = LASSO_SAMLP2_AUTHN_REQUEST(prof->request);
    g_free(req->ProtocolBinding);
    req->ProtocolBinding = g_strdup(LASSO_SAML2_METADATA_BINDING_POST);
    if (req->NameIDPolicy)
        req->NameIDPolicy->AllowCreate = TRUE;
    g_free(prof->msg_relayState);
    /* The path also stays with the stored request: the browser goes back
     * to that one, whatever RelayState comes back. */
    prof->msg_relayState = strlen(return_path) <= MAX_RELAY_STATE ? g_strdup(return_path) : NULL;
    lasso_profile_set_signature_hint(prof, LASSO_PROFILE_SIGNATURE_HINT_FORCE);
    rc = lasso_login_build_authn_request_msg(login);
    if (rc != 0 || !prof->msg_url) {
        log_refusal("saml.login_failed", AUTH_SAML_UNKNOWN_ETAB, entity, rc, NULL);
        return DADM_E_INTERNAL;
    }
    const char *id = LASSO_SAMLP2_REQUEST_ABSTRACT(req)->ID;
    char ttl[16];
    snprintf(ttl, sizeof(ttl), "%d", G.request_ttl);
    const char *p2[] = {id, etab_id, entity, return_path, ttl};
    if (!db_exec(d, a, "SELECT dadm.saml_request_new($1, $2, $3, $4, $5)", 5, p2, &e))
        return e;
    *location = arena_strdup(a, prof->msg_url);
    return *location ? DADM_OK : DADM_E_NOMEM;
}

auth_saml_verdict auth_saml_check_assertion(struct _LassoSaml2Assertion *as, const char *irt,
                                            int64_t now, const char **detail, int64_t *not_after)
{
    int64_t t;
    *detail = NULL;
    *not_after = 0;
    if (!G.enabled || !LASSO_IS_SAML2_ASSERTION(as)) {
        *detail = "not an assertion";
        return AUTH_SAML_BAD_RESPONSE;
    }
    LassoSaml2Subject *sub = as->Subject;
    LassoSaml2SubjectConfirmation *sc = sub ? sub->SubjectConfirmation : NULL;
    LassoSaml2SubjectConfirmationData *scd = sc ? sc->SubjectConfirmationData : NULL;
    if (!sc || g_strcmp0(sc->Method, CM_BEARER) != 0 || !scd) {
        *detail = "no bearer SubjectConfirmation";
        return AUTH_SAML_BAD_RESPONSE;
    }
    if (g_strcmp0(scd->Recipient, G.acs_url) != 0) {
        *detail = "Recipient";
        return AUTH_SAML_WRONG_RECIPIENT;
    }
    if (g_strcmp0(scd->InResponseTo, irt) != 0) {
        *detail = "SubjectConfirmationData InResponseTo";
        return AUTH_SAML_UNSOLICITED;
    }
    if (!parse_time(scd->NotOnOrAfter, &t)) {
        *detail = "SubjectConfirmationData NotOnOrAfter missing";
        return AUTH_SAML_BAD_RESPONSE;
    }
    if (now >= t + G.skew) {
        *detail = "SubjectConfirmationData NotOnOrAfter";
        return AUTH_SAML_EXPIRED;
    }
    *not_after = t;
    if (scd->NotBefore && (!parse_time(scd->NotBefore, &t) || now + G.skew < t)) {
        *detail = "SubjectConfirmationData NotBefore";
        return AUTH_SAML_EXPIRED;
    }
    LassoSaml2Conditions *c = as->Conditions;
    if (!c) {
        *detail = "no Conditions";
        return AUTH_SAML_WRONG_RECIPIENT;
    }
    if (c->NotBefore && (!parse_time(c->NotBefore, &t) || now + G.skew < t)) {
        *detail = "Conditions NotBefore";
        return AUTH_SAML_EXPIRED;
    }
    if (c->NotOnOrAfter) {
        if (!parse_time(c->NotOnOrAfter, &t) || now >= t + G.skew) {
            *detail = "Conditions NotOnOrAfter";
            return AUTH_SAML_EXPIRED;
        }
        if (t > *not_after)
            *not_after = t;
    }
    if (c->Condition) {
        *detail = "unknown Condition";
        return AUTH_SAML_BAD_RESPONSE;
    }
    /* Every AudienceRestriction must name us, and there must be one: lasso
     * drops a restriction listing several audiences, so an empty list may
     * hide one that did not. */
    if (!c->AudienceRestriction) {
        *detail = "no AudienceRestriction";
        return AUTH_SAML_WRONG_RECIPIENT;
    }
    for (GList *i = c->AudienceRestriction; i; i = i->next) {
        if (!LASSO_IS_SAML2_AUDIENCE_RESTRICTION(i->data) ||
            g_strcmp0(LASSO_SAML2_AUDIENCE_RESTRICTION(i->data)->Audience, G.entity_id) != 0) {
            *detail = "Audience";
            return AUTH_SAML_WRONG_RECIPIENT;
        }
    }
    if (!sub->NameID || !sub->NameID->content || !*sub->NameID->content) {
        *detail = "no NameID";
        return AUTH_SAML_BAD_RESPONSE;
    }
    return AUTH_SAML_OK;
}

static bool lasso_status_refusal(int rc)
{
    return rc == LASSO_LOGIN_ERROR_STATUS_NOT_SUCCESS || rc == LASSO_LOGIN_ERROR_REQUEST_DENIED ||
           rc == LASSO_LOGIN_ERROR_UNKNOWN_PRINCIPAL ||
           rc == LASSO_PROFILE_ERROR_STATUS_NOT_SUCCESS;
}

/* Audits an SSO refusal found before the database had its say (the
 * response never named a pending request we could read). */
static dadm_err audit_refusal(db *d, arena *a, auth_saml_verdict v, const char *idp,
                              const char *rid)
{
    json_t *x = json_pack("{s:s, s:s, s:s?, s:s?}", "method", "sso", "reason",
                          auth_saml_verdict_slug(v), "idp", idp, "request_id", rid);
    if (!x)
        return DADM_E_NOMEM;
    dadm_err e = notify_audit(d, a, "auth.sso.refused", NULL, 0, x);
    json_decref(x);
    return e;
}

static auth_saml_verdict verdict_of_slug(const char *slug)
{
    for (size_t i = 0; i < sizeof(verdicts) / sizeof(verdicts[0]); i++)
        if (verdicts[i].slug && strcmp(verdicts[i].slug, slug) == 0)
            return (auth_saml_verdict)i;
    return AUTH_SAML_BAD_RESPONSE;
}

/* The checks of the response made in C before the database, in the order
 * the README gives: Destination, the assertion (confirmation, times,
 * audience, NameID), its ID. */
static auth_saml_verdict pre_checks(LassoSamlp2StatusResponse *sr, LassoSaml2Assertion *as,
                                    const char **detail, int64_t *not_after)
{
    *detail = NULL;
    *not_after = 0;
    if (g_strcmp0(sr->Destination, G.acs_url) != 0) {
        *detail = "Destination";
        return AUTH_SAML_WRONG_RECIPIENT;
    }
    auth_saml_verdict v =
        auth_saml_check_assertion(as, sr->InResponseTo, (int64_t)time(NULL), detail, not_after);
    if (v != AUTH_SAML_OK)
        return v;
    if (!as->ID || !*as->ID) {
        *detail = "no assertion ID";
        return AUTH_SAML_BAD_RESPONSE;
    }
    return AUTH_SAML_OK;
}

/* supannEtablissement values as a PostgreSQL text[] literal of the UAIs
 * they name ("" for a malformed one; other kinds of value are left out). */
static const char *supann_param(arena *a, const auth_saml_attrs *at)
{
    GString *s = g_string_new("{");
    bool first = true;
    for (size_t i = 0; i < at->n_supann; i++) {
        char u[9];
        int k = auth_saml_supann_uai(at->supann[i], u);
        if (k == 0)
            continue;
        /* A UAI is 7 digits and a letter: nothing to quote but the empty one. */
        g_string_append_printf(s, "%s\"%s\"", first ? "" : ",", k < 0 ? "" : u);
        first = false;
    }
    g_string_append_c(s, '}');
    const char *out = arena_strdup(a, s->str);
    g_string_free(s, TRUE);
    return out;
}

dadm_err auth_saml_acs(db *d, arena *a, const char *saml_response, const char *relay_state,
                       const char *previous_token, const char *rid, auth_saml_identity *out,
                       char token[AUTH_TOKEN_SIZE], auth_saml_verdict *v)
{
    memset(out, 0, sizeof(*out));
    memset(token, 0, AUTH_TOKEN_SIZE);
    *v = AUTH_SAML_OK;
    const char *detail = NULL, *idp = NULL;
    int rc = 0;
    dadm_err e = DADM_OK;
    if (!G.enabled) {
        *v = AUTH_SAML_DISABLED;
        return audit_refusal(d, a, *v, NULL, rid);
    }
    if (relay_state && *relay_state && !auth_saml_return_path_ok(relay_state)) {
        *v = AUTH_SAML_BAD_RETURN;
        detail = "RelayState";
        goto refuse;
    }
    if (!saml_response || !*saml_response || strlen(saml_response) > MAX_RESPONSE_BYTES) {
        *v = AUTH_SAML_BAD_RESPONSE;
        detail = "missing or oversized SAMLResponse";
        goto refuse;
    }
    LassoServer *srv;
    if ((e = thread_server_get(d, a, &srv)) != DADM_OK)
        return e;
    LassoLogin *login = lasso_login_new(srv);
    if (!login || arena_defer(a, unref, login) != 0)
        return DADM_E_NOMEM;
    LassoProfile *prof = LASSO_PROFILE(login);
    lasso_profile_set_signature_verify_hint(prof, LASSO_PROFILE_SIGNATURE_VERIFY_HINT_MAYBE);
    rc = lasso_login_process_authn_response_msg(login, (char *)saml_response);
    if (prof->remote_providerID && !(idp = arena_strdup(a, prof->remote_providerID)))
        return DADM_E_NOMEM;
    if (rc != 0) {
        *v = lasso_status_refusal(rc) ? AUTH_SAML_IDP_STATUS : AUTH_SAML_BAD_RESPONSE;
        goto refuse;
    }
    if (!LASSO_IS_SAMLP2_RESPONSE(prof->response) || !idp) {
        *v = AUTH_SAML_BAD_RESPONSE;
        detail = "no response";
        goto refuse;
    }
    LassoSamlp2Response *resp = LASSO_SAMLP2_RESPONSE(prof->response);
    LassoSamlp2StatusResponse *sr = LASSO_SAMLP2_STATUS_RESPONSE(resp);
    /* Exactly one assertion: with two, lasso keeps the first in the session
     * but hands out the last; no ambiguity is acceptable. */
    if (g_list_length(resp->Assertion) != 1 || resp->EncryptedAssertion ||
        !LASSO_IS_SAML2_ASSERTION(resp->Assertion->data)) {
        *v = AUTH_SAML_BAD_RESPONSE;
        detail = "not exactly one assertion";
        goto refuse;
    }
    if (!sr->InResponseTo || !*sr->InResponseTo) {
        *v = AUTH_SAML_UNSOLICITED;
        detail = "no InResponseTo";
        goto refuse;
    }
    LassoSaml2Assertion *as = LASSO_SAML2_ASSERTION(resp->Assertion->data);

    /* Every check that needs only the response is made here; the database
     * then applies them in their order, after the ones it makes itself
     * (pending request, issuer), in one statement. */
    int64_t not_after = 0;
    const char *pre_detail = NULL, *post_detail = NULL;
    auth_saml_verdict pre = pre_checks(sr, as, &pre_detail, &not_after);
    auth_saml_verdict post = AUTH_SAML_OK;
    auth_saml_attrs at = {0};
    if ((e = auth_saml_read_attributes(a, as, &at)) != DADM_OK)
        return e;
    if (at.invalid) {
        post = AUTH_SAML_BAD_RESPONSE;
        post_detail = "attribute value is not text";
    } else if (at.n_eppn != 1 || !*at.eppn[0]) {
        post = AUTH_SAML_NO_EPPN;
        post_detail = at.n_eppn ? "several eduPersonPrincipalName" : "no eduPersonPrincipalName";
    }
    bool accepted =
        pre == AUTH_SAML_OK && post == AUTH_SAML_OK && lasso_login_accept_sso(login) == 0;
    if (accepted) {
        LassoSaml2NameID *nid = as->Subject->NameID;
        out->name_id = arena_strdup(a, nid->content);
        out->name_id_format = nid->Format ? arena_strdup(a, nid->Format) : NULL;
        out->sp_name_qualifier =
            nid->SPNameQualifier ? arena_strdup(a, nid->SPNameQualifier) : NULL;
        for (GList *s = as->AuthnStatement; s && !out->session_index; s = s->next)
            if (LASSO_IS_SAML2_AUTHN_STATEMENT(s->data) &&
                LASSO_SAML2_AUTHN_STATEMENT(s->data)->SessionIndex)
                out->session_index =
                    arena_strdup(a, LASSO_SAML2_AUTHN_STATEMENT(s->data)->SessionIndex);
        gchar *dump = lasso_session_dump(lasso_profile_get_session(prof));
        out->lasso_dump = dump ? arena_strdup(a, dump) : NULL;
        g_free(dump);
        if (!out->name_id || !out->lasso_dump)
            return DADM_E_NOMEM;
    }
    char hash[65] = "", previous[65] = "", noa[24], idle[16], absolute[16];
    if (accepted) {
        if ((e = auth_session_token_new(token)) != DADM_OK)
            return e;
        auth_session_token_hash(hash, token);
    }
    if (previous_token)
        auth_session_token_hash(previous, previous_token);
    snprintf(noa, sizeof(noa), "%lld", (long long)not_after);
    snprintf(idle, sizeof(idle), "%d", auth_saml_session_idle());
    snprintf(absolute, sizeof(absolute), "%d", auth_saml_session_absolute());
    const char *supann = supann_param(a, &at);
    if (!supann)
        return DADM_E_NOMEM;
    const char *p[] = {sr->InResponseTo,
                       idp,
                       rid,
                       pre != AUTH_SAML_OK ? auth_saml_verdict_slug(pre) : NULL,
                       pre_detail,
                       as->ID,
                       noa,
                       post != AUTH_SAML_OK ? auth_saml_verdict_slug(post) : NULL,
                       post_detail,
                       at.n_eppn == 1 ? at.eppn[0] : NULL,
                       supann,
                       accepted ? "t" : "f",
                       accepted ? hash : NULL,
                       previous_token ? previous : NULL,
                       idle,
                       absolute,
                       out->name_id,
                       out->name_id_format,
                       out->sp_name_qualifier,
                       out->session_index,
                       out->lasso_dump};
    PGresult *r = db_exec(d, a,
                          "SELECT verdict, etab_id, uai, return_path, account_id, login, detail"
                          " FROM dadm.saml_acs_finish($1, $2, $3, $4, $5, $6,"
                          " to_timestamp($7::bigint), $8, $9, $10, $11::text[], $12,"
                          " decode($13, 'hex'), decode($14, 'hex'), $15, $16, $17, $18, $19,"
                          " $20, $21)",
                          21, p, &e);
    if (!r) {
        memset(token, 0, AUTH_TOKEN_SIZE);
        return e;
    }
    if (PQntuples(r) != 1) {
        memset(token, 0, AUTH_TOKEN_SIZE);
        return DADM_E_INTERNAL;
    }
    *v = verdict_of_slug(PQgetvalue(r, 0, 0));
    if (*v != AUTH_SAML_OK) {
        memset(token, 0, AUTH_TOKEN_SIZE);
        log_refusal("saml.acs_refused", *v, idp, 0,
                    PQgetisnull(r, 0, 6) ? NULL : PQgetvalue(r, 0, 6));
        return DADM_OK;
    }
    util_parse_i64(PQgetvalue(r, 0, 1), &out->etab_id);
    util_parse_i64(PQgetvalue(r, 0, 4), &out->account_id);
    out->uai = PQgetvalue(r, 0, 2);
    out->return_path = PQgetvalue(r, 0, 3);
    out->login = PQgetvalue(r, 0, 5);
    out->idp = idp;
    out->eppn = at.eppn[0];
    return DADM_OK;
refuse:
    log_refusal("saml.acs_refused", *v, idp, rc, detail);
    return audit_refusal(d, a, *v, idp, rid);
}

/* -------------------------------------------------------------- logout */

/* Hex of the SHA-256 of a session token, for the bytea parameters. */
static void token_param(char hex[65], const char *token)
{
    auth_session_token_hash(hex, token);
}

dadm_err auth_saml_logout_start(db *d, arena *a, const char *token, const char **location,
                                int64_t *etab_id, int64_t *account_id)
{
    *location = NULL;
    *etab_id = *account_id = 0;
    if (!token)
        return DADM_OK;
    char hash[65];
    token_param(hash, token);
    const char *p1[] = {hash};
    dadm_err e = DADM_OK;
    PGresult *r = db_exec(d, a,
                          "SELECT session_id, etab_id, account_id, idp_entity_id, lasso_dump"
                          " FROM dadm.saml_session_of(decode($1, 'hex'))",
                          1, p1, &e);
    if (!r)
        return e;
    if (PQntuples(r) != 1) {
        /* Not an SSO session: end it all the same. */
        if (!db_exec(d, a, "SELECT dadm.session_end(decode($1, 'hex'))", 1, p1, &e))
            return e;
        return DADM_OK;
    }
    util_parse_i64(PQgetvalue(r, 0, 1), etab_id);
    util_parse_i64(PQgetvalue(r, 0, 2), account_id);
    const char *sid = PQgetvalue(r, 0, 0), *idp = PQgetvalue(r, 0, 3);
    const char *etab = PQgetvalue(r, 0, 1), *dump = PQgetvalue(r, 0, 4);
    /* The local session ends first: logout never depends on the IdP. */
    char *ids = arena_printf(a, "{%s}", sid);
    if (!ids)
        return DADM_E_NOMEM;
    const char *p2[] = {ids};
    if (!db_exec(d, a, "SELECT dadm.saml_sessions_end($1::bigint[])", 1, p2, &e))
        return e;
    if (!G.enabled)
        return DADM_OK;
    LassoServer *srv;
    if ((e = thread_server_get(d, a, &srv)) != DADM_OK)
        return e;
    LassoLogout *lo = lasso_logout_new(srv);
    if (!lo || arena_defer(a, unref, lo) != 0)
        return DADM_E_NOMEM;
    LassoProfile *prof = LASSO_PROFILE(lo);
    int rc = lasso_profile_set_session_from_dump(prof, dump);
    if (rc == 0)
        rc = lasso_logout_init_request(lo, (char *)idp, LASSO_HTTP_METHOD_REDIRECT);
    if (rc == 0) {
        lasso_profile_set_signature_hint(prof, LASSO_PROFILE_SIGNATURE_HINT_FORCE);
        rc = lasso_logout_build_request_msg(lo);
    }
    if (rc != 0 || !prof->msg_url || !LASSO_IS_SAMLP2_REQUEST_ABSTRACT(prof->request)) {
        log_refusal("saml.logout_request_failed", AUTH_SAML_BAD_RESPONSE, idp, rc, NULL);
        return DADM_OK;
    }
    char ttl[16];
    snprintf(ttl, sizeof(ttl), "%d", G.request_ttl);
    const char *p3[] = {LASSO_SAMLP2_REQUEST_ABSTRACT(prof->request)->ID, etab, idp, ttl};
    if (!db_exec(d, a, "SELECT dadm.saml_logout_new($1, $2, $3, $4)", 4, p3, &e))
        return e;
    *location = arena_strdup(a, prof->msg_url);
    return *location ? DADM_OK : DADM_E_NOMEM;
}

static dadm_err slo_response(db *d, arena *a, LassoServer *srv, const char *q,
                             auth_saml_slo_result *out, auth_saml_verdict *v)
{
    LassoLogout *lo = lasso_logout_new(srv);
    if (!lo || arena_defer(a, unref, lo) != 0)
        return DADM_E_NOMEM;
    LassoProfile *prof = LASSO_PROFILE(lo);
    lasso_profile_set_signature_verify_hint(prof, LASSO_PROFILE_SIGNATURE_VERIFY_HINT_MAYBE);
    LASSO_QUERY_LEAK_BEGIN();
    int rc = lasso_logout_process_response_msg(lo, (char *)q);
    LASSO_QUERY_LEAK_END();
    if (prof->remote_providerID)
        out->idp = arena_strdup(a, prof->remote_providerID);
    out->location = "/";
    /* A non-success status (partial logout) still answers our request:
     * only a bad signature or a malformed message is refused. */
    bool answered = rc == 0 || rc == LASSO_LOGOUT_ERROR_PARTIAL_LOGOUT ||
                    rc == LASSO_LOGOUT_ERROR_REQUEST_DENIED ||
                    rc == LASSO_PROFILE_ERROR_STATUS_NOT_SUCCESS;
    if (!answered || !out->idp || !LASSO_IS_SAMLP2_STATUS_RESPONSE(prof->response)) {
        *v = AUTH_SAML_BAD_RESPONSE;
        log_refusal("saml.slo_refused", *v, out->idp, rc, "LogoutResponse");
        return DADM_OK;
    }
    const char *irt = LASSO_SAMLP2_STATUS_RESPONSE(prof->response)->InResponseTo;
    const char *p[] = {irt, out->idp};
    dadm_err e = DADM_OK;
    PGresult *r = db_exec(d, a, "SELECT etab_id FROM dadm.saml_logout_take($1, $2)", 2, p, &e);
    if (!r)
        return e;
    if (!irt || PQntuples(r) != 1) {
        *v = AUTH_SAML_UNSOLICITED;
        log_refusal("saml.slo_refused", *v, out->idp, rc, "LogoutResponse InResponseTo");
        return DADM_OK;
    }
    util_parse_i64(PQgetvalue(r, 0, 0), &out->etab_id);
    if (rc != 0)
        log_refusal("saml.slo_partial", AUTH_SAML_IDP_STATUS, out->idp, rc, NULL);
    return DADM_OK;
}

static dadm_err slo_request(db *d, arena *a, LassoServer *srv, const char *q,
                            auth_saml_slo_result *out, auth_saml_verdict *v)
{
    out->was_request = true;
    LassoLogout *lo = lasso_logout_new(srv);
    if (!lo || arena_defer(a, unref, lo) != 0)
        return DADM_E_NOMEM;
    LassoProfile *prof = LASSO_PROFILE(lo);
    /* Unsigned or badly signed LogoutRequests are refused: anyone could
     * otherwise log anyone out. */
    lasso_profile_set_signature_verify_hint(prof, LASSO_PROFILE_SIGNATURE_VERIFY_HINT_MAYBE);
    LASSO_QUERY_LEAK_BEGIN();
    int rc = lasso_logout_process_request_msg(lo, (char *)q);
    LASSO_QUERY_LEAK_END();
    if (prof->remote_providerID)
        out->idp = arena_strdup(a, prof->remote_providerID);
    const char *detail = NULL;
    if (rc != 0 || !out->idp || !LASSO_IS_SAMLP2_LOGOUT_REQUEST(prof->request) ||
        !LASSO_IS_SAML2_NAME_ID(prof->nameIdentifier)) {
        *v = AUTH_SAML_BAD_RESPONSE;
        detail = "LogoutRequest";
        goto refuse;
    }
    LassoSamlp2LogoutRequest *req = LASSO_SAMLP2_LOGOUT_REQUEST(prof->request);
    const char *dest = LASSO_SAMLP2_REQUEST_ABSTRACT(req)->Destination;
    int64_t t, now = (int64_t)time(NULL);
    if (dest && strcmp(dest, G.slo_url) != 0) {
        *v = AUTH_SAML_WRONG_RECIPIENT;
        detail = "LogoutRequest Destination";
        goto refuse;
    }
    if (req->NotOnOrAfter && (!parse_time(req->NotOnOrAfter, &t) || now >= t + G.skew)) {
        *v = AUTH_SAML_EXPIRED;
        detail = "LogoutRequest NotOnOrAfter";
        goto refuse;
    }
    json_t *idx = json_array();
    if (!idx)
        return DADM_E_NOMEM;
    GList *l = lasso_samlp2_logout_request_get_session_indexes(req);
    for (GList *i = l; i; i = i->next)
        json_array_append_new(idx, json_string(i->data));
    g_list_free_full(l, g_free);
    char *idx_text = json_dumps(idx, JSON_COMPACT);
    json_decref(idx);
    if (!idx_text)
        return DADM_E_NOMEM;
    const char *p[] = {out->idp, LASSO_SAML2_NAME_ID(prof->nameIdentifier)->content, idx_text};
    dadm_err e = DADM_OK;
    PGresult *r = db_exec(d, a,
                          "SELECT session_id, etab_id, lasso_dump FROM"
                          " dadm.saml_sessions_of_subject($1, $2,"
                          " ARRAY(SELECT jsonb_array_elements_text($3::jsonb)))",
                          3, p, &e);
    free(idx_text);
    if (!r)
        return e;
    if (PQntuples(r) > 0) {
        GString *ids = g_string_new("{");
        for (int i = 0; i < PQntuples(r); i++)
            g_string_append_printf(ids, "%s%s", i ? "," : "", PQgetvalue(r, i, 0));
        g_string_append_c(ids, '}');
        const char *p2[] = {ids->str};
        PGresult *n = db_exec(d, a, "SELECT dadm.saml_sessions_end($1::bigint[])", 1, p2, &e);
        g_string_free(ids, TRUE);
        if (!n)
            return e;
        out->ended = atoi(PQgetvalue(n, 0, 0));
        util_parse_i64(PQgetvalue(r, 0, 1), &out->etab_id);
        lasso_profile_set_session_from_dump(prof, PQgetvalue(r, 0, 2));
    } else {
        *v = AUTH_SAML_NO_SESSION;
    }
    /* With no matching session lasso puts a non-success status in the
     * response; the IdP gets an answer either way. */
    rc = lasso_logout_validate_request(lo);
    if (rc != 0)
        log_kv(LOG_INFO, "saml.slo_validate", "idp", out->idp, "saml_error_text",
               lasso_strerror(rc), NULL);
    lasso_profile_set_signature_hint(prof, LASSO_PROFILE_SIGNATURE_HINT_FORCE);
    rc = lasso_logout_build_response_msg(lo);
    if (rc != 0 || !prof->msg_url) {
        log_refusal("saml.slo_response_failed", AUTH_SAML_BAD_RESPONSE, out->idp, rc, NULL);
        return DADM_E_INTERNAL;
    }
    out->location = arena_strdup(a, prof->msg_url);
    return out->location ? DADM_OK : DADM_E_NOMEM;
refuse:
    log_refusal("saml.slo_refused", *v, out->idp, rc, detail);
    return DADM_OK;
}

dadm_err auth_saml_slo(db *d, arena *a, const char *raw_query, auth_saml_slo_result *out,
                       auth_saml_verdict *v)
{
    memset(out, 0, sizeof(*out));
    *v = AUTH_SAML_OK;
    if (!G.enabled) {
        *v = AUTH_SAML_DISABLED;
        return DADM_OK;
    }
    if (!raw_query || strlen(raw_query) > MAX_RESPONSE_BYTES) {
        *v = AUTH_SAML_BAD_RESPONSE;
        log_refusal("saml.slo_refused", *v, NULL, 0, "no query");
        return DADM_OK;
    }
    bool is_resp =
        g_str_has_prefix(raw_query, "SAMLResponse=") || strstr(raw_query, "&SAMLResponse=") != NULL;
    bool is_req =
        g_str_has_prefix(raw_query, "SAMLRequest=") || strstr(raw_query, "&SAMLRequest=") != NULL;
    if (is_resp == is_req) {
        *v = AUTH_SAML_BAD_RESPONSE;
        log_refusal("saml.slo_refused", *v, NULL, 0, "neither SAMLRequest nor SAMLResponse");
        return DADM_OK;
    }
    LassoServer *srv;
    dadm_err e = thread_server_get(d, a, &srv);
    if (e != DADM_OK)
        return e;
    return is_resp ? slo_response(d, a, srv, raw_query, out, v)
                   : slo_request(d, a, srv, raw_query, out, v);
}

/* ------------------------------------------------------------ operator */

dadm_err auth_saml_idp_register(db *d, arena *a, const char *uai, const char *metadata,
                                const char *entity_id, const char *source, const char **why)
{
    *why = NULL;
    dadm_err e = lasso_up();
    if (e != DADM_OK) {
        *why = "lasso could not be initialised";
        return e;
    }
    LassoProvider *p =
        lasso_provider_new_from_buffer(LASSO_PROVIDER_ROLE_IDP, metadata, NULL, NULL);
    if (!p) {
        *why = "the metadata is not a usable SAML 2.0 IdP EntityDescriptor";
        return DADM_E_INVALID;
    }
    if (arena_defer(a, unref, p) != 0)
        return DADM_E_NOMEM;
    const char *found = p->ProviderID;
    char *sso = lasso_provider_get_metadata_one_for_role(p, LASSO_PROVIDER_ROLE_IDP,
                                                         "SingleSignOnService HTTP-Redirect");
    bool has_sso = sso != NULL;
    g_free(sso);
    if (!found || !has_sso) {
        *why = "the metadata has no IdP with an HTTP-Redirect SingleSignOnService";
        return DADM_E_INVALID;
    }
    if (!strstr(metadata, "KeyDescriptor")) {
        *why = "the metadata gives no signing key";
        return DADM_E_INVALID;
    }
    if (entity_id && strcmp(entity_id, found) != 0) {
        *why = "the metadata describes another entityID";
        return DADM_E_INVALID;
    }
    const char *params[] = {uai, found, metadata, source};
    PGresult *r = db_exec(d, a,
                          "INSERT INTO dadm.saml_idp (etab_id, entity_id, metadata, source)"
                          " SELECT id, $2, $3, $4 FROM dadm.etab WHERE uai = upper($1)"
                          " ON CONFLICT (etab_id, entity_id) DO UPDATE SET"
                          " metadata = excluded.metadata, source = excluded.source,"
                          " enabled = true, updated_at = now()"
                          " RETURNING id",
                          4, params, &e);
    if (!r) {
        *why = "the database refused the registration";
        return e;
    }
    if (PQntuples(r) != 1) {
        *why = "unknown establishment";
        return DADM_E_NOT_FOUND;
    }
    return DADM_OK;
}

/* The EntityDescriptor of `entity_id` in the aggregate `doc`, serialised
 * as a standalone document (namespaces re-declared). */
static char *entity_from_doc(xmlDocPtr doc, const char *entity_id)
{
    xmlNodePtr root = xmlDocGetRootElement(doc);
    for (xmlNodePtr n = root ? root->children : NULL; n; n = n->next) {
        if (n->type != XML_ELEMENT_NODE || strcmp((const char *)n->name, "EntityDescriptor") != 0)
            continue;
        xmlChar *id = xmlGetProp(n, (const xmlChar *)"entityID");
        bool match = id && strcmp((const char *)id, entity_id) == 0;
        xmlFree(id);
        if (!match)
            continue;
        xmlDocPtr one = xmlNewDoc((const xmlChar *)"1.0");
        xmlNodePtr copy = one ? xmlDocCopyNode(n, one, 1) : NULL;
        if (!copy) {
            xmlFreeDoc(one);
            return NULL;
        }
        xmlDocSetRootElement(one, copy);
        xmlReconciliateNs(one, copy);
        xmlChar *buf = NULL;
        int len = 0;
        xmlDocDumpMemory(one, &buf, &len);
        xmlFreeDoc(one);
        char *s = buf ? g_strndup((const char *)buf, (gsize)len) : NULL;
        xmlFree(buf);
        return s;
    }
    return NULL;
}

dadm_err auth_saml_aggregate_extract(arena *a, const char *path, const char *cert_path,
                                     const char *entity_id, const char **metadata, const char **why)
{
    *metadata = NULL;
    *why = NULL;
    dadm_err e = lasso_up();
    if (e != DADM_OK) {
        *why = "lasso could not be initialised";
        return e;
    }
    LassoServer *s = lasso_server_new(NULL, NULL, NULL, NULL);
    if (!s || arena_defer(a, unref, s) != 0)
        return DADM_E_NOMEM;
    GList *loaded = NULL;
    /* lasso checks the aggregate's signature against the trusted
     * certificate before loading anything from it. */
    int rc = lasso_server_load_metadata(s, LASSO_PROVIDER_ROLE_IDP, path, cert_path, NULL, &loaded,
                                        LASSO_SERVER_LOAD_METADATA_FLAG_DEFAULT);
    bool present = false;
    for (GList *i = loaded; i; i = i->next)
        if (strcmp(i->data, entity_id) == 0)
            present = true;
    g_list_free_full(loaded, g_free);
    if (rc != 0) {
        log_kv(LOG_WARN, "saml.aggregate_refused", "saml_error_text", lasso_strerror(rc), NULL);
        *why = "the aggregate's signature does not verify with the given certificate";
        return DADM_E_INVALID;
    }
    if (!present) {
        *why = "the aggregate holds no such IdP";
        return DADM_E_NOT_FOUND;
    }
    xmlDocPtr doc = xmlReadFile(path, NULL, XML_PARSE_NONET);
    if (!doc) {
        *why = "the aggregate cannot be read";
        return DADM_E_INVALID;
    }
    char *one = entity_from_doc(doc, entity_id);
    xmlFreeDoc(doc);
    if (!one) {
        *why = "the aggregate holds no such IdP";
        return DADM_E_NOT_FOUND;
    }
    *metadata = arena_strdup(a, one);
    g_free(one);
    return *metadata ? DADM_OK : DADM_E_NOMEM;
}
