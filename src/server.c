#include "server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "api.h"
#include "auth_session.h"
#include "log.h"
#include "metrics.h"
#include "pool.h"
#include "routes.h"
#include "server_private.h"
#include "util.h"

#define REQUEST_ARENA_CAP (64u << 20)

/* Per-request state, from the first byte of headers to completion. */
struct req_ctx {
    http_req r;
    struct timespec t0;
    size_t route;
    char *body;
    size_t body_len, body_cap;
    size_t max_body; /* this route's cap: [http] max_body_bytes, or the upload cap */
    /* The route table's answer for (method, path), matched once when the
     * headers arrive: an index, ROUTER_NOT_FOUND or ROUTER_BAD_METHOD. */
    int match;
    size_t caps[ROUTER_MAX_CAPTURES][2];
    char allow[64];
    bool too_large;
    bool counted;
    unsigned worker; /* index in server.workers */
};

static double elapsed(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

/* The body cap of the matched route: upload routes take a file of up to
 * [attachments] max_bytes plus its multipart envelope. */
static size_t route_body_cap(const struct server *s, int match)
{
    if (match >= 0 && (routes_table[match].flags & ROUTE_UPLOAD))
        return s->set.max_upload_body;
    return s->set.max_body;
}

/* The French detail of a 413 on this request. */
static const char *too_large_detail(const struct req_ctx *x, const struct server *s)
{
    if (x->max_body == s->set.max_body)
        return "Le contenu de la requête dépasse la taille autorisée.";
    const char *d = arena_printf(x->r.a,
                                 "Le fichier dépasse la taille maximale autorisée pour une pièce "
                                 "jointe (%zu octets).",
                                 s->set.attachment_max_bytes);
    return d ? d : "Le fichier dépasse la taille maximale autorisée pour une pièce jointe.";
}

static void add_common_headers(struct MHD_Response *resp, const struct req_ctx *x,
                               const struct server *s)
{
    MHD_add_response_header(resp, "X-Request-Id", x->r.rid);
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(resp, "X-Frame-Options", "DENY");
    for (const http_header *h = x->r.headers; h; h = h->next)
        MHD_add_response_header(resp, h->name, h->value);
    if (atomic_load(&s->stopping))
        MHD_add_response_header(resp, "Connection", "close");
}

static enum MHD_Result send_problem(struct MHD_Connection *c, struct req_ctx *x, dadm_err e,
                                    const char *allow)
{
    http_req *r = &x->r;
    unsigned status = dadm_err_http_status(e);
    json_t *p =
        json_pack("{s:s, s:s, s:i, s:s, s:s, s:s}", "type", "", "title", dadm_err_title(e),
                  "status", (int)status, "detail", r->detail ? r->detail : dadm_err_title(e),
                  "instance", r->path ? r->path : "/", "request_id", r->rid);
    char *type = arena_printf(r->a, "/problems/%s", dadm_err_slug(e));
    char *body = NULL;
    if (p && type) {
        json_object_set_new(p, "type", json_string(type));
        body = json_dumps(p, JSON_COMPACT);
    }
    json_decref(p);
    if (!body)
        body = strdup("{\"type\":\"/problems/out-of-resources\",\"status\":503}");
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(body ? strlen(body) : 0, body, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type", "application/problem+json");
    add_common_headers(resp, x, r->srv);
    if (r->retry_after > 0) {
        char ra[16];
        snprintf(ra, sizeof(ra), "%d", r->retry_after);
        MHD_add_response_header(resp, "Retry-After", ra);
    } else if (status == 503) {
        MHD_add_response_header(resp, "Retry-After", "5");
    }
    if (status == 405 && allow)
        MHD_add_response_header(resp, "Allow", allow);
    if (status == 401)
        MHD_add_response_header(resp, "WWW-Authenticate", "Bearer realm=\"dadm\"");
    r->status = status;
    enum MHD_Result ret = MHD_queue_response(c, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static enum MHD_Result send_reply(struct MHD_Connection *c, struct req_ctx *x)
{
    http_req *r = &x->r;
    struct MHD_Response *resp;
    if (r->reply) {
        char *body = json_dumps(r->reply, JSON_COMPACT | JSON_ENSURE_ASCII);
        if (!body)
            return send_problem(c, x, DADM_E_NOMEM, NULL);
        resp = MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
        if (!resp) {
            free(body);
            return MHD_NO;
        }
        MHD_add_response_header(resp, "Content-Type", "application/json");
    } else {
        resp = MHD_create_response_from_buffer(r->text_len, (void *)(r->text ? r->text : ""),
                                               MHD_RESPMEM_PERSISTENT);
        if (!resp)
            return MHD_NO;
        if (r->content_type)
            MHD_add_response_header(resp, "Content-Type", r->content_type);
    }
    add_common_headers(resp, x, r->srv);
    enum MHD_Result ret = MHD_queue_response(c, r->status, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* The session token: a bearer token for REST clients, else the cookie
 * (browsers; CSRF rules then apply). Never logged. */
static void session_token(http_req *r)
{
    const char *auth = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Authorization");
    if (auth && strncmp(auth, "Bearer ", 7) == 0) {
        r->token = auth + 7;
        r->token_from_cookie = false;
        return;
    }
    r->token = MHD_lookup_connection_value(r->conn, MHD_COOKIE_KIND, HTTP_SESSION_COOKIE);
    r->token_from_cookie = r->token != NULL;
}

static dadm_err run_handler(struct server *s, struct req_ctx *x, const route *rt)
{
    http_req *r = &x->r;
    if (!(rt->flags & (ROUTE_TX | ROUTE_DB)))
        return rt->fn(r);
    r->db = pool_take(s->pool);
    dadm_err e = db_ensure(r->db);
    if (e == DADM_OK && (rt->flags & ROUTE_TX)) {
        e = db_begin(r->db);
        if (e == DADM_OK)
            e = auth_session_begin(r->db, r->a, r->token, &r->who);
        if (e == DADM_OK)
            e = rt->fn(r);
        if (e == DADM_OK || r->commit_anyway) {
            dadm_err c = db_commit(r->db);
            if (c != DADM_OK)
                e = c;
        } else {
            db_rollback(r->db);
        }
    } else if (e == DADM_OK) {
        e = rt->fn(r);
    }
    if (e == DADM_E_DB_UNAVAILABLE && !r->detail)
        r->detail = "La base de données est momentanément injoignable ; réessayez dans "
                    "quelques secondes.";
    pool_give(s->pool, r->db);
    r->db = NULL;
    return e;
}

/* The raw query string of the connection's current request. libmicrohttpd
 * unescapes arguments in place, but SAML's HTTP-Redirect binding signs the
 * query's exact bytes, so the URI callback keeps a copy per connection (a
 * connection runs one request at a time); the copy dies with the
 * connection. */
struct conn_ctx {
    char *raw_query;
};

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    (void)cls;
    (void)c;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        *socket_context = calloc(1, sizeof(struct conn_ctx));
    } else if (*socket_context) {
        struct conn_ctx *cc = *socket_context;
        free(cc->raw_query);
        free(cc);
        *socket_context = NULL;
    }
}

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
    (void)cls;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    struct conn_ctx *cc = ci ? ci->socket_context : NULL;
    if (cc) {
        free(cc->raw_query);
        const char *q = uri ? strchr(uri, '?') : NULL;
        cc->raw_query = q ? strdup(q + 1) : NULL;
    }
    return NULL; /* con_cls stays NULL: on_request starts the request */
}

static const char *raw_query_of(struct MHD_Connection *c, arena *a)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    const struct conn_ctx *cc = ci ? ci->socket_context : NULL;
    return cc && cc->raw_query ? arena_strdup(a, cc->raw_query) : NULL;
}

/* CSRF: a request that may change state (not GET, HEAD or OPTIONS), made
 * with the session cookie (a browser sends it by itself), on a route with a
 * transaction that is not exempt (logins and SSO protect themselves).
 * Bearer tokens are never sent by a browser on its own: exempt. */
static bool csrf_applies(const http_req *r, const route *rt)
{
    if (!(rt->flags & ROUTE_TX) || (rt->flags & ROUTE_NO_CSRF) || !r->token_from_cookie)
        return false;
    return strcmp(r->method, "GET") != 0 && strcmp(r->method, "HEAD") != 0 &&
           strcmp(r->method, "OPTIONS") != 0;
}

static enum MHD_Result dispatch(struct server *s, struct req_ctx *x, struct MHD_Connection *c)
{
    http_req *r = &x->r;
    if (x->too_large) {
        r->detail = too_large_detail(x, s);
        return send_problem(c, x, DADM_E_TOO_LARGE, NULL);
    }
    int idx = x->match;
    if (idx == ROUTER_NOT_FOUND) {
        r->detail = "Aucune ressource ne correspond à cette adresse.";
        return send_problem(c, x, DADM_E_NOT_FOUND, NULL);
    }
    if (idx == ROUTER_BAD_METHOD) {
        r->detail = "Cette méthode n'est pas acceptée pour cette ressource.";
        return send_problem(c, x, DADM_E_METHOD, x->allow);
    }
    x->route = (size_t)idx;
    const route *rt = &routes_table[idx];
    for (int i = 0; i < ROUTER_MAX_CAPTURES; i++)
        r->params[i] =
            x->caps[i][1] ? arena_strndup(r->a, r->path + x->caps[i][0], x->caps[i][1]) : NULL;
    r->body = x->body;
    r->body_len = x->body_len;
    session_token(r);
    r->raw_query = raw_query_of(c, r->a);
    r->status = 200;
    if (csrf_applies(r, rt) && !api_auth_csrf_ok(r)) {
        log_kv(LOG_WARN, "auth.csrf_refused", "rid", r->rid, "path", r->path, NULL);
        r->detail = "Requête refusée : le jeton anti-falsification (CSRF) manque ou ne "
                    "correspond pas à la session.";
        return send_problem(c, x, DADM_E_FORBIDDEN, NULL);
    }
    dadm_err e = run_handler(s, x, rt);
    if (e != DADM_OK)
        return send_problem(c, x, e, NULL);
    if (!r->reply && !r->text)
        return send_problem(c, x, DADM_E_INTERNAL, NULL);
    return send_reply(c, x);
}

static enum MHD_Result sum_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                  const char *value)
{
    (void)kind;
    *(size_t *)cls += strlen(key) + (value ? strlen(value) : 0) + 4;
    return MHD_YES;
}

static struct req_ctx *ctx_new(struct server *s, struct MHD_Connection *c, const char *url,
                               const char *method)
{
    struct req_ctx *x = calloc(1, sizeof(*x));
    if (!x)
        return NULL;
    x->r.a = arena_new(REQUEST_ARENA_CAP);
    if (!x->r.a) {
        free(x);
        return NULL;
    }
    clock_gettime(CLOCK_MONOTONIC, &x->t0);
    x->route = routes_count; /* "unmatched" until dispatch says otherwise */
    x->match = ROUTER_NOT_FOUND;
    x->r.srv = s;
    x->r.conn = c;
    x->r.method = arena_strdup(x->r.a, method);
    x->r.path = arena_strdup(x->r.a, url);
    unsigned char raw[8];
    if (!util_random(raw, sizeof(raw)))
        memset(raw, 0, sizeof(raw));
    util_hex(x->r.rid, raw, sizeof(raw));
    atomic_fetch_add(&s->inflight, 1);
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_DAEMON);
    while (x->worker < s->nworkers && (!ci || s->workers[x->worker] != ci->daemon))
        x->worker++;
    if (x->worker < s->nworkers)
        atomic_fetch_add(&s->busy[x->worker], 1);
    x->counted = true;
    return x;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    (void)version;
    struct server *s = cls;
    struct req_ctx *x = *con_cls;
    if (!x) {
        x = ctx_new(s, c, url, method);
        if (!x)
            return MHD_NO;
        *con_cls = x;
        size_t hsize = 0;
        MHD_get_connection_values(c, MHD_HEADER_KIND, sum_header, &hsize);
        if (hsize > s->set.max_headers) {
            x->too_large = true;
            x->r.detail = "Les en-têtes de la requête dépassent la taille autorisée.";
            return send_problem(c, x, DADM_E_HEADERS_TOO_LARGE, NULL);
        }
        x->match = router_match(routes_table, routes_count, sizeof(route), method, url, x->caps,
                                x->allow, sizeof(x->allow));
        x->max_body = route_body_cap(s, x->match);
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
        int64_t len = 0;
        if (cl && util_parse_i64(cl, &len) && len > (int64_t)x->max_body) {
            x->too_large = true;
            x->r.detail = too_large_detail(x, s);
            return send_problem(c, x, DADM_E_TOO_LARGE, NULL);
        }
        return MHD_YES;
    }
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (x->too_large)
            return MHD_YES;
        if (n > x->max_body - x->body_len) {
            /* Chunked bodies have no Content-Length: the cap applies here. */
            x->too_large = true;
            free(x->body);
            x->body = NULL;
            x->body_len = 0;
            return MHD_YES;
        }
        if (x->body_len + n + 1 > x->body_cap) {
            size_t cap = (x->body_len + n + 1) * 2;
            if (cap > x->max_body + 1)
                cap = x->max_body + 1;
            char *nb = realloc(x->body, cap);
            if (!nb)
                return MHD_NO;
            x->body = nb;
            x->body_cap = cap;
        }
        memcpy(x->body + x->body_len, upload_data, n);
        x->body_len += n;
        x->body[x->body_len] = '\0';
        return MHD_YES;
    }
    if (x->r.status)
        return MHD_YES; /* answered early (too large); the rest was drained */
    return dispatch(s, x, c);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)c;
    struct server *s = cls;
    struct req_ctx *x = *con_cls;
    if (!x)
        return;
    *con_cls = NULL;
    double secs = elapsed(&x->t0);
    unsigned status = x->r.status ? x->r.status : 499;
    metrics_observe(x->route, status, secs);
    char st[12], ms[32], acc[24] = "-";
    snprintf(st, sizeof(st), "%u", status);
    snprintf(ms, sizeof(ms), "%.3f", secs * 1000.0);
    if (x->r.who && x->r.who->account_id)
        snprintf(acc, sizeof(acc), "%lld", (long long)x->r.who->account_id);
    log_kv(toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? LOG_INFO : LOG_WARN, "http.request", "rid",
           x->r.rid, "method", x->r.method, "route",
           x->route < routes_count ? routes_table[x->route].e.pattern : "-", "path", x->r.path,
           "status", st, "ms", ms, "account", acc, "end",
           toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "ok" : "aborted", NULL);
    arena_free(x->r.a);
    free(x->body);
    if (x->counted) {
        atomic_fetch_sub(&s->inflight, 1);
        if (x->worker < s->nworkers)
            atomic_fetch_sub(&s->busy[x->worker], 1);
    }
    free(x);
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char buf[512];
    vsnprintf(buf, sizeof(buf), fmt, ap);
    size_t n = strlen(buf);
    while (n && buf[n - 1] == '\n')
        buf[--n] = '\0';
    log_kv(LOG_WARN, "http.server", "detail", buf, NULL);
}

/* The listening socket is dadmd's, not libmicrohttpd's: one thread accepts,
 * and hands each connection to the worker (a single-threaded daemon) with
 * the fewest requests in flight, the next one in turn among equals. Left to
 * themselves, a thread pool's workers raced for a shared socket: one could
 * take every connection of a burst while the others idled, and a
 * connection could land on a worker blocked in a long request. */
struct acceptor {
    int fd;
    struct server *s;
};

static int listen_on(const struct sockaddr_in *addr)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int on = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) != 0 ||
        bind(fd, (const struct sockaddr *)addr, sizeof(*addr)) != 0 || listen(fd, SOMAXCONN) != 0) {
        int err = errno;
        close(fd);
        errno = err;
        return -1;
    }
    return fd;
}

static void *accept_loop(void *arg)
{
    struct acceptor *ac = arg;
    unsigned next = 0;
    for (;;) {
        struct sockaddr_storage sa;
        socklen_t len = sizeof(sa);
        int c = accept4(ac->fd, (struct sockaddr *)&sa, &len, SOCK_CLOEXEC);
        if (c >= 0) {
            struct server *s = ac->s;
            unsigned best = next % s->nworkers, least = UINT_MAX;
            for (unsigned i = 0; i < s->nworkers; i++) {
                unsigned w = (next + i) % s->nworkers, b = atomic_load(&s->busy[w]);
                if (b < least) {
                    least = b;
                    best = w;
                }
            }
            next = best + 1;
            /* Refused (connection limit): libmicrohttpd closes it. */
            MHD_add_connection(s->workers[best], c, (struct sockaddr *)&sa, len);
            continue;
        }
        if (atomic_load(&ac->s->stopping))
            return NULL;
        if (errno == EINTR || errno == ECONNABORTED || errno == EAGAIN)
            continue;
        /* Out of descriptors or memory: say so, breathe, go on. */
        log_kv(LOG_WARN, "server.accept_failed", "detail", strerror(errno), NULL);
        struct timespec nap = {0, 100 * 1000 * 1000};
        nanosleep(&nap, NULL);
    }
}

static void start_failed(const server_settings *set)
{
    char port[12];
    snprintf(port, sizeof(port), "%u", set->port);
    log_kv(LOG_ERROR, "server.start_failed", "address", set->listen_addr, "port", port, "detail",
           strerror(errno), NULL);
}

static void stop_workers(struct server *s)
{
    for (unsigned i = 0; i < s->nworkers; i++)
        MHD_stop_daemon(s->workers[i]);
    s->nworkers = 0;
}

int server_run(const server_settings *set)
{
    struct server s = {.set = *set};
    int rc = 1;
    const char **names = calloc(routes_count, sizeof(char *));
    if (!names)
        return 1;
    for (size_t i = 0; i < routes_count; i++)
        names[i] = routes_table[i].e.pattern;
    if (metrics_init(names, routes_count) != 0)
        goto out;
    s.pool = pool_new(set->threads, set->db_conninfo);
    if (!s.pool)
        goto out;

    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)set->port)};
    if (inet_pton(AF_INET, set->listen_addr, &addr.sin_addr) != 1) {
        log_kv(LOG_ERROR, "server.bad_address", "address", set->listen_addr, NULL);
        goto out;
    }
    struct acceptor ac = {.fd = listen_on(&addr), .s = &s};
    if (ac.fd < 0) {
        start_failed(set);
        goto out;
    }
    s.workers = calloc(set->threads, sizeof(*s.workers));
    s.busy = calloc(set->threads, sizeof(*s.busy));
    bool up = s.workers && s.busy;
    for (unsigned i = 0; up && i < set->threads; i++) {
        s.workers[i] = MHD_start_daemon(
            MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ITC |
                MHD_USE_NO_LISTEN_SOCKET | MHD_USE_ERROR_LOG,
            0, NULL, NULL, on_request, &s, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
            MHD_OPTION_NOTIFY_COMPLETED, on_completed, &s, MHD_OPTION_NOTIFY_CONNECTION,
            on_connection, NULL, MHD_OPTION_URI_LOG_CALLBACK, on_uri, NULL,
            MHD_OPTION_CONNECTION_TIMEOUT, set->connection_timeout,
            MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(set->max_headers * 2 + 65536),
            MHD_OPTION_CONNECTION_LIMIT, 1000u / set->threads + 1, MHD_OPTION_END);
        up = s.workers[i] != NULL;
        if (up)
            s.nworkers++;
    }
    pthread_t acceptor;
    if (up)
        up = (errno = pthread_create(&acceptor, NULL, accept_loop, &ac)) == 0;
    if (!up) {
        start_failed(set);
        close(ac.fd);
        goto out;
    }
    char port[12], threads[8];
    snprintf(port, sizeof(port), "%u", set->port);
    snprintf(threads, sizeof(threads), "%u", set->threads);
    log_kv(LOG_INFO, "server.started", "address", set->listen_addr, "port", port, "threads",
           threads, NULL);

    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    int sig = 0;
    while (sigwait(&sigs, &sig) != 0)
        ;
    log_kv(LOG_INFO, "server.stopping", "signal", sig == SIGTERM ? "TERM" : "INT", NULL);

    /* Stop accepting (new connections are refused from here on), then let
     * in-flight requests finish. */
    atomic_store(&s.stopping, true);
    shutdown(ac.fd, SHUT_RDWR);
    pthread_join(acceptor, NULL);
    close(ac.fd);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (atomic_load(&s.inflight) > 0 && elapsed(&t0) < set->shutdown_grace) {
        struct timespec nap = {0, 20 * 1000 * 1000};
        nanosleep(&nap, NULL);
    }
    char left[16];
    snprintf(left, sizeof(left), "%u", atomic_load(&s.inflight));
    stop_workers(&s);
    log_kv(LOG_INFO, "server.stopped", "unfinished", left, NULL);
    rc = 0;
out:
    stop_workers(&s);
    free(s.workers);
    free(s.busy);
    pool_free(s.pool);
    metrics_shutdown();
    free(names);
    return rc;
}
