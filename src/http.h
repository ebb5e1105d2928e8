/* What a handler sees of an HTTP request, and how it answers.
 *
 * A handler returns DADM_OK after setting a reply (http_reply_json or
 * http_reply_text), or an error code, optionally with r->detail: the server
 * then answers with application/problem+json. Routes flagged ROUTE_TX run
 * inside one database transaction that starts by setting the principal; it
 * commits when the handler returns DADM_OK and rolls back otherwise. */
#ifndef DADM_HTTP_H
#define DADM_HTTP_H

#include <glib.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "arena.h"
#include "auth_principal.h"
#include "dadm_error.h"
#include "db.h"
#include "router.h"

struct server;
struct MHD_Connection;

/* An extra response header, kept in the request's arena. */
typedef struct http_header {
    const char *name, *value;
    struct http_header *next;
} http_header;

/* The session cookie: Secure, HttpOnly, SameSite=Lax, Path=/. */
#define HTTP_SESSION_COOKIE "__Host-dadm_session"

typedef struct http_req {
    arena *a;
    const struct server *srv;
    struct MHD_Connection *conn;
    db *db;                    /* set for ROUTE_TX and ROUTE_DB routes */
    const auth_principal *who; /* set for ROUTE_TX routes, never NULL there */
    const char *method, *path;
    const char *params[ROUTER_MAX_CAPTURES]; /* the pattern's {captures} */
    const char *body;
    size_t body_len;
    char rid[17]; /* request id, also in the log and X-Request-Id */

    /* the answer */
    unsigned status;
    json_t *reply; /* owned by the arena */
    const char *text, *content_type;
    size_t text_len;
    const char *detail;   /* French detail of a problem, arena-owned or static */
    http_header *headers; /* extra response headers (http_add_header) */

    /* how the session token came: true for the cookie (CSRF applies),
     * false for an Authorization: Bearer header or no token */
    bool token_from_cookie;
    const char *token; /* the raw token, never logged; NULL when none */

    GHashTable *form; /* parsed form body, see http_form_field */
    /* the query string as received, before any unescaping (SAML's HTTP-Redirect
     * binding signs its exact bytes); NULL when none */
    const char *raw_query;

    bool commit_anyway; /* commit although a problem is answered (http_refuse) */
    int retry_after;    /* seconds for a Retry-After header on a problem, 0: none */
} http_req;

typedef dadm_err (*http_handler)(http_req *r);

/* Route flags. */
#define ROUTE_TX 1u /* one transaction with the caller's principal */
#define ROUTE_DB 2u /* a database handle, no transaction, no principal */
/* No CSRF token required with the cookie: login forms and the SSO endpoints,
 * which have no session yet and protect themselves (see README, CSRF). */
#define ROUTE_NO_CSRF 4u
/* The body is a file upload: its cap is server_settings.max_upload_body
 * ([attachments] max_bytes and room for the multipart envelope), not
 * [http] max_body_bytes. */
#define ROUTE_UPLOAD 8u

/* Sets a JSON reply; takes the reference to `body`. Returns DADM_OK, or
 * DADM_E_NOMEM when body is NULL (allocation failed upstream). */
dadm_err http_reply_json(http_req *r, unsigned status, json_t *body);
/* Sets an HTML page reply (text/html; charset=utf-8). `html` must outlive
 * the request (static or arena). */
dadm_err http_reply_html(http_req *r, unsigned status, const char *html);
/* Answers with a redirect (303 after a POST, 302 otherwise) to `location`,
 * which the caller has checked is safe. */
dadm_err http_redirect(http_req *r, unsigned status, const char *location);
/* Adds a response header; name and value are copied. */
dadm_err http_add_header(http_req *r, const char *name, const char *value);
/* Sets the session cookie to `token` (max_age seconds), or expires it when
 * token is NULL. */
dadm_err http_set_session_cookie(http_req *r, const char *token, long max_age);
/* Value of field `name` of an application/x-www-form-urlencoded body, or
 * NULL when absent, when the body is not a form, or when a field is not
 * valid UTF-8. A repeated field keeps its first value. */
const char *http_form_field(http_req *r, const char *name);

/* Sets a text reply; `text` must outlive the request (static or arena). */
dadm_err http_reply_text(http_req *r, unsigned status, const char *content_type, const char *text,
                         size_t len);
/* Returns `e` after recording a French detail for the problem. */
dadm_err http_fail(http_req *r, dadm_err e, const char *detail);
/* Like http_fail, but the request's transaction still commits: for refusals
 * that must leave a trace (failed-login counters, audit rows). A positive
 * retry_after adds a Retry-After header. */
dadm_err http_refuse(http_req *r, dadm_err e, const char *detail, int retry_after);

/* Value of query parameter `name`, or NULL. */
const char *http_query(http_req *r, const char *name);
/* Reads ?limit= and ?offset= (defaults 50 and 0, limit at most 200).
 * DADM_E_INVALID with a detail when either is not a number in range. */
dadm_err http_page(http_req *r, long *limit, long *offset);
/* Wraps a page of items as {"items", "total", "limit", "offset"}. */
dadm_err http_reply_page(http_req *r, json_t *items, long total, long limit, long offset);
/* Parses a path capture as a positive id; DADM_E_NOT_FOUND otherwise. */
dadm_err http_param_id(http_req *r, int i, int64_t *out);

/* Parses the body as a JSON object. DADM_E_UNSUPPORTED_TYPE unless the
 * Content-Type is application/json; DADM_E_BAD_REQUEST (with a French
 * detail naming the line) when it is not a JSON object, has duplicate keys
 * or is nested too deep. *out is owned by the request's arena. */
dadm_err http_json_body(http_req *r, json_t **out);

/* Value of request header `name` (case-insensitive), or NULL. */
const char *http_request_header(http_req *r, const char *name);

/* Requires a level-2 (personal) principal: DADM_E_UNAUTHENTICATED for
 * anonymous callers, DADM_E_FORBIDDEN for product readers. */
dadm_err http_require_person(http_req *r);

#endif
