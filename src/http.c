#include "http.h"

#include <microhttpd.h>
#include <string.h>
#include <strings.h>

#include "util.h"

static void json_release(void *j)
{
    json_decref(j);
}

dadm_err http_reply_json(http_req *r, unsigned status, json_t *body)
{
    if (!body || arena_defer(r->a, json_release, body) != 0)
        return DADM_E_NOMEM;
    r->reply = body;
    r->status = status;
    return DADM_OK;
}

dadm_err http_reply_text(http_req *r, unsigned status, const char *content_type,
                         const char *text, size_t len)
{
    r->text = text;
    r->text_len = len;
    r->content_type = content_type;
    r->status = status;
    return DADM_OK;
}

dadm_err http_fail(http_req *r, dadm_err e, const char *detail)
{
    r->detail = detail;
    return e;
}

const char *http_query(http_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

static bool page_value(const char *s, long min, long max, long *out)
{
    int64_t v;
    if (!s)
        return true;
    if (!util_parse_i64(s, &v) || v < min || v > max)
        return false;
    *out = (long)v;
    return true;
}

dadm_err http_page(http_req *r, long *limit, long *offset)
{
    *limit = 50;
    *offset = 0;
    if (!page_value(http_query(r, "limit"), 1, 200, limit))
        return http_fail(r, DADM_E_INVALID,
                         "Le paramètre limit doit être un entier entre 1 et 200.");
    if (!page_value(http_query(r, "offset"), 0, 100000000, offset))
        return http_fail(r, DADM_E_INVALID, "Le paramètre offset doit être un entier positif.");
    return DADM_OK;
}

dadm_err http_reply_page(http_req *r, json_t *items, long total, long limit, long offset)
{
    if (!items)
        return DADM_E_NOMEM;
    return http_reply_json(r, 200,
                           json_pack("{s:o, s:I, s:I, s:I}", "items", items, "total",
                                     (json_int_t)total, "limit", (json_int_t)limit, "offset",
                                     (json_int_t)offset));
}

dadm_err http_param_id(http_req *r, int i, int64_t *out)
{
    if (i < 0 || i >= ROUTER_MAX_CAPTURES || !util_parse_i64(r->params[i], out) || *out <= 0)
        return http_fail(r, DADM_E_NOT_FOUND, "Identifiant inconnu.");
    return DADM_OK;
}

dadm_err http_json_body(http_req *r, json_t **out)
{
    *out = NULL;
    const char *ct = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Content-Type");
    size_t n = strlen("application/json");
    if (!ct || strncasecmp(ct, "application/json", n) != 0 || (ct[n] && ct[n] != ';'))
        return http_fail(r, DADM_E_UNSUPPORTED_TYPE,
                         "Le contenu doit être envoyé en JSON (Content-Type: application/json).");
    json_error_t jerr;
    json_t *j = json_loadb(r->body ? r->body : "", r->body_len, JSON_REJECT_DUPLICATES, &jerr);
    if (!j || !json_is_object(j)) {
        json_decref(j);
        return http_fail(r, DADM_E_BAD_REQUEST,
                         j ? "Le contenu doit être un objet JSON."
                           : arena_printf(r->a, "JSON invalide (ligne %d, colonne %d).",
                                          jerr.line, jerr.column));
    }
    if (arena_defer(r->a, json_release, j) != 0)
        return DADM_E_NOMEM;
    *out = j;
    return DADM_OK;
}

dadm_err http_require_person(http_req *r)
{
    if (!r->who || r->who->level == AUTH_LEVEL_ANONYMOUS)
        return http_fail(r, DADM_E_UNAUTHENTICATED, "Connectez-vous pour accéder à cette page.");
    if (r->who->level != AUTH_LEVEL_PERSON)
        return http_fail(r, DADM_E_FORBIDDEN,
                         "Cet accès demande une connexion avec votre compte personnel.");
    return DADM_OK;
}
