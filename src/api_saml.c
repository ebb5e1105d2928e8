/* SAML 2.0 SSO endpoints: SP metadata, login, assertion consumer, logout
 * and single logout. The checks live in auth/auth_saml.c; here: HTTP,
 * the session cookie, French pages and the audit. Refusals are answered
 * with a page and DADM_OK, so that the audit row and the consumption of
 * the request commit with the transaction. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "api.h"
#include "auth_saml.h"
#include "log.h"
#include "notify.h"

/* The French page of an SSO outcome (escaped and styled by pages.c); the
 * request id stays in the X-Request-Id header for support. */
static dadm_err page(http_req *r, unsigned status, const char *title, const char *message)
{
    return pages_message(r, status, title, message);
}

static dadm_err refusal_page(http_req *r, auth_saml_verdict v)
{
    return page(r, auth_saml_verdict_status(v), "Connexion impossible",
                auth_saml_verdict_message(v));
}

/* Audits an SSO event; `extra` (may be NULL) is merged into the detail. */
static dadm_err audit(http_req *r, const char *action, int64_t etab_id, const char *target,
                      auth_saml_verdict v, const char *idp, json_t *extra)
{
    json_t *d = extra ? extra : json_object();
    if (!d)
        return DADM_E_NOMEM;
    json_object_set_new(d, "method", json_string("sso"));
    json_object_set_new(d, "reason", json_string(auth_saml_verdict_slug(v)));
    if (idp)
        json_object_set_new(d, "idp", json_string(idp));
    json_object_set_new(d, "request_id", json_string(r->rid));
    dadm_err e = notify_audit(r->db, r->a, action, target, etab_id, d);
    json_decref(d);
    return e;
}

dadm_err api_saml_metadata(http_req *r)
{
    const char *md = auth_saml_metadata();
    if (!md)
        return http_fail(r, DADM_E_NOT_FOUND, "La connexion par fédération n'est pas configurée.");
    return http_reply_text(r, 200, "application/samlmetadata+xml", md, strlen(md));
}

dadm_err api_saml_login(http_req *r)
{
    const char *uai = http_query(r, "etab"), *next = http_query(r, "next"),
               *idp = http_query(r, "idp");
    const char *location = NULL;
    auth_saml_verdict v;
    dadm_err e = auth_saml_login_start(r->db, r->a, uai, idp, next, &location, &v);
    if (e != DADM_OK)
        return e;
    if (v != AUTH_SAML_OK) {
        json_t *x = json_pack("{s:s?}", "etab", uai);
        if ((e = audit(r, "auth.sso.refused", 0, NULL, v, idp, x)) != DADM_OK)
            return e;
        return refusal_page(r, v);
    }
    return http_redirect(r, 302, location);
}

dadm_err api_saml_acs(http_req *r)
{
    const char *resp = http_form_field(r, "SAMLResponse");
    const char *relay = http_form_field(r, "RelayState");
    auth_saml_identity id;
    auth_saml_verdict v;
    char token[AUTH_TOKEN_SIZE];
    /* auth_saml_acs audits every outcome itself, in its one statement. */
    dadm_err e = auth_saml_acs(r->db, r->a, resp, relay, r->token, r->rid, &id, token, &v);
    if (e != DADM_OK)
        return e;
    if (v != AUTH_SAML_OK)
        return refusal_page(r, v);
    e = http_set_session_cookie(r, token, auth_saml_session_absolute());
    memset(token, 0, sizeof(token));
    if (e != DADM_OK)
        return e;
    char acc[24];
    snprintf(acc, sizeof(acc), "%lld", (long long)id.account_id);
    log_kv(LOG_INFO, "saml.login", "rid", r->rid, "account", acc, "idp", id.idp, NULL);
    return http_redirect(r, 303, id.return_path);
}

dadm_err api_saml_logout(http_req *r)
{
    const char *location = NULL;
    int64_t etab_id = 0, account_id = 0;
    dadm_err e = auth_saml_logout_start(r->db, r->a, r->token, &location, &etab_id, &account_id);
    if (e != DADM_OK)
        return e;
    if (account_id) {
        char acc[24];
        snprintf(acc, sizeof(acc), "%lld", (long long)account_id);
        json_t *x = json_pack("{s:s, s:s}", "account_id", acc, "initiator", "sp");
        if ((e = audit(r, "auth.sso.logout", etab_id, NULL, AUTH_SAML_OK, NULL, x)) != DADM_OK)
            return e;
    }
    if ((e = http_set_session_cookie(r, NULL, 0)) != DADM_OK)
        return e;
    return http_redirect(r, strcmp(r->method, "POST") == 0 ? 303 : 302,
                         location ? location : "/login");
}

dadm_err api_saml_slo(http_req *r)
{
    auth_saml_slo_result res;
    auth_saml_verdict v;
    dadm_err e = auth_saml_slo(r->db, r->a, r->raw_query, &res, &v);
    if (e != DADM_OK)
        return e;
    if (v != AUTH_SAML_OK && v != AUTH_SAML_NO_SESSION) {
        if ((e = audit(r, "auth.sso.refused", res.etab_id, NULL, v, res.idp, NULL)) != DADM_OK)
            return e;
        return page(r, auth_saml_verdict_status(v), "Déconnexion impossible",
                    auth_saml_verdict_message(v));
    }
    if (res.was_request) {
        char n[16];
        snprintf(n, sizeof(n), "%d", res.ended);
        json_t *x = json_pack("{s:s, s:s}", "initiator", "idp", "sessions_ended", n);
        if ((e = audit(r, "auth.sso.logout", res.etab_id, NULL, v, res.idp, x)) != DADM_OK)
            return e;
        return http_redirect(r, 302, res.location);
    }
    /* The IdP confirmed our LogoutRequest; the local session ended when it
     * was sent. The cookie goes too, in case it survived. */
    if ((e = http_set_session_cookie(r, NULL, 0)) != DADM_OK)
        return e;
    return http_redirect(r, 303, "/login");
}
