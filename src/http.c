#include "http.h"

#include <microhttpd.h>
#include <string.h>
#include <strings.h>

#include "db_json.h"
#include "util.h"

dadm_err http_reply_json(http_req *r, unsigned status, json_t *body)
{
    if (!db_json_own(r->a, body))
        return DADM_E_NOMEM;
    r->reply = body;
    r->status = status;
    return DADM_OK;
}

dadm_err http_reply_text(http_req *r, unsigned status, const char *content_type, const char *text,
                         size_t len)
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

dadm_err http_refuse(http_req *r, dadm_err e, const char *detail, int retry_after)
{
    r->commit_anyway = true;
    r->retry_after = retry_after;
    return http_fail(r, e, detail);
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
                           : arena_printf(r->a, "JSON invalide (ligne %d, colonne %d).", jerr.line,
                                          jerr.column));
    }
    if (!db_json_own(r->a, j))
        return DADM_E_NOMEM;
    *out = j;
    return DADM_OK;
}

const char *http_request_header(http_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
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

dadm_err http_reply_html(http_req *r, unsigned status, const char *html)
{
    return http_reply_text(r, status, "text/html; charset=utf-8", html, strlen(html));
}

dadm_err http_add_header(http_req *r, const char *name, const char *value)
{
    http_header *h = arena_alloc(r->a, sizeof(*h));
    if (!h || !(h->name = arena_strdup(r->a, name)) || !(h->value = arena_strdup(r->a, value)))
        return DADM_E_NOMEM;
    h->next = r->headers;
    r->headers = h;
    return DADM_OK;
}

dadm_err http_redirect(http_req *r, unsigned status, const char *location)
{
    dadm_err e = http_add_header(r, "Location", location);
    if (e != DADM_OK)
        return e;
    return http_reply_text(r, status, "text/plain; charset=utf-8", "", 0);
}

dadm_err http_set_session_cookie(http_req *r, const char *token, long max_age)
{
    const char *v = token ? arena_printf(r->a,
                                         HTTP_SESSION_COOKIE
                                         "=%s; Path=/; Max-Age=%ld; Secure; HttpOnly; SameSite=Lax",
                                         token, max_age)
                          : HTTP_SESSION_COOKIE
                        "=; Path=/; Max-Age=0; Secure; HttpOnly; SameSite=Lax";
    if (!v)
        return DADM_E_NOMEM;
    return http_add_header(r, "Set-Cookie", v);
}

static void table_release(void *t)
{
    g_hash_table_destroy(t);
}

/* Decodes one urlencoded component ('+' is a space) into the arena; NULL
 * when malformed or not UTF-8. */
static char *form_decode(arena *a, const char *s, size_t n)
{
    char *raw = arena_strndup(a, s, n);
    if (!raw)
        return NULL;
    for (char *p = raw; *p; p++)
        if (*p == '+')
            *p = ' ';
    char *dec = g_uri_unescape_string(raw, NULL);
    if (!dec)
        return NULL;
    char *out = g_utf8_validate(dec, -1, NULL) ? arena_strdup(a, dec) : NULL;
    g_free(dec);
    return out;
}

const char *http_form_field(http_req *r, const char *name)
{
    if (!r->form) {
        const char *ct = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Content-Type");
        const char *form_type = "application/x-www-form-urlencoded";
        size_t n = strlen(form_type);
        if (!ct || strncasecmp(ct, form_type, n) != 0 || (ct[n] && ct[n] != ';'))
            return NULL;
        GHashTable *t = g_hash_table_new(g_str_hash, g_str_equal);
        if (arena_defer(r->a, table_release, t) != 0)
            return NULL;
        r->form = t;
        /* A body with a NUL byte is cut there: such a form is not honest. */
        const char *p = r->body ? r->body : "";
        const char *end = p + strnlen(p, r->body_len);
        while (p < end) {
            const char *amp = memchr(p, '&', (size_t)(end - p));
            const char *stop = amp ? amp : end;
            const char *eq = memchr(p, '=', (size_t)(stop - p));
            if (eq) {
                char *k = form_decode(r->a, p, (size_t)(eq - p));
                char *v = form_decode(r->a, eq + 1, (size_t)(stop - eq - 1));
                if (k && v && !g_hash_table_contains(t, k))
                    g_hash_table_insert(t, k, v);
            }
            p = stop + (amp ? 1 : 0);
        }
    }
    return g_hash_table_lookup(r->form, name);
}
