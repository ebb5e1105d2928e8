/* Logging in and out, passwords: the JSON API. The HTML forms of pages.c
 * do the same through the same auth_login_* calls. */
#include "api_auth.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth_policy.h"
#include "notify.h"
#include "settings.h"
#include "log.h"
#include "server_private.h"

const char *api_auth_client_addr(http_req *r)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    char buf[INET6_ADDRSTRLEN] = "-";
    if (ci && ci->client_addr) {
        const struct sockaddr *sa = ci->client_addr;
        if (sa->sa_family == AF_INET)
            inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, buf,
                      sizeof(buf));
        else if (sa->sa_family == AF_INET6)
            inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, buf,
                      sizeof(buf));
    }
    const char *out = arena_strdup(r->a, buf);
    return out ? out : "-";
}

const auth_login_settings *api_auth_settings(http_req *r)
{
    return &r->srv->set.login;
}

static const char *header(http_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

bool api_auth_same_origin(http_req *r)
{
    const char *site = header(r, "Sec-Fetch-Site");
    if (site && strcmp(site, "same-origin") != 0 && strcmp(site, "none") != 0)
        return false;
    const char *origin = header(r, "Origin");
    if (!origin)
        return true;
    const char *host = header(r, "Host");
    const char *rest = NULL;
    if (strncasecmp(origin, "https://", 8) == 0)
        rest = origin + 8;
    else if (strncasecmp(origin, "http://", 7) == 0)
        rest = origin + 7;
    return host && rest && strcasecmp(rest, host) == 0;
}

bool api_auth_csrf_ok(http_req *r)
{
    if (!api_auth_same_origin(r))
        return false;
    const char *given = header(r, "X-CSRF-Token");
    if (!given)
        given = http_form_field(r, "csrf_token");
    return auth_login_csrf_ok(r->token, given);
}

dadm_err api_auth_set_cookie(http_req *r, const char *token)
{
    return http_set_session_cookie(r, token, api_auth_settings(r)->absolute_seconds);
}

dadm_err api_auth_session_start(http_req *r, int64_t account_id, const char *method,
                                char csrf[AUTH_CSRF_SIZE])
{
    char token[AUTH_TOKEN_SIZE];
    dadm_err e = auth_login_open_session(r->db, r->a, account_id, method, r->token,
                                         api_auth_settings(r), token, csrf);
    if (e == DADM_OK)
        e = api_auth_set_cookie(r, token);
    memset(token, 0, sizeof(token));
    return e;
}

const char *api_auth_safe_next(const char *next)
{
    if (!next || next[0] != '/' || next[1] == '/' || next[1] == '\\')
        return NULL;
    for (const unsigned char *c = (const unsigned char *)next; *c; c++)
        if (*c < 0x21 || *c == 0x7F || *c == '\\' || *c >= 0x80)
            return NULL;
    if (strlen(next) > 1024)
        return NULL;
    return next;
}

dadm_err api_auth_end_session(http_req *r)
{
    if (r->who->level == AUTH_LEVEL_ANONYMOUS || !r->token)
        return http_fail(r, DADM_E_UNAUTHENTICATED, "Aucune session ouverte.");
    char target[32];
    snprintf(target, sizeof(target), "session:%lld", (long long)r->who->session_id);
    json_t *detail = json_pack("{s:i}", "level", (int)r->who->level);
    if (detail && r->who->account_id)
        json_object_set_new(detail, "account_id", json_integer(r->who->account_id));
    if (detail && r->who->product_id)
        json_object_set_new(detail, "product_id", json_integer(r->who->product_id));
    dadm_err e = detail ? notify_audit(r->db, r->a, "auth.logout", target, r->who->etab_id, detail)
                        : DADM_E_NOMEM;
    json_decref(detail);
    if (e != DADM_OK)
        return e;
    char hash[65];
    auth_session_token_hash(hash, r->token);
    const char *p[] = {hash};
    if (!db_exec(r->db, r->a, "SELECT dadm.session_end(decode($1, 'hex'))", 1, p, &e))
        return e;
    return http_set_session_cookie(r, NULL, 0);
}

static const char *str_field(json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static dadm_err limited(http_req *r, int retry_after)
{
    const char *d = arena_printf(r->a, "Trop de tentatives. Réessayez dans %d seconde%s.",
                                 retry_after, retry_after > 1 ? "s" : "");
    return http_refuse(r, DADM_E_RATE_LIMITED, d, retry_after);
}

#define BAD_LOGIN "Identifiant ou mot de passe incorrect."

/* The shape shared by the personal and the product login. */
typedef dadm_err (*login_fn)(db *d, arena *a, const char *login, const char *password,
                             const char *client_addr, const char *previous_token,
                             const auth_login_settings *set, auth_login_result *res,
                             int *retry_after, int64_t *id, char token[AUTH_TOKEN_SIZE],
                             char csrf[AUTH_CSRF_SIZE]);

/* Runs a JSON login {login, password} with `fn`. *opened tells whether the
 * session is open and its cookie set (then *id is the account or the
 * product, csrf its token); when not, the answer to send is already set or
 * returned as an error. */
static dadm_err json_login(http_req *r, login_fn fn, bool *opened, int64_t *id,
                           char csrf[AUTH_CSRF_SIZE])
{
    *opened = false;
    json_t *b;
    dadm_err e = http_json_body(r, &b);
    if (e != DADM_OK)
        return e;
    const char *login = str_field(b, "login"), *pw = str_field(b, "password");
    if (!login || !pw)
        return http_fail(r, DADM_E_INVALID, "Indiquez l'identifiant et le mot de passe.");
    auth_login_result res;
    int retry = 0;
    char token[AUTH_TOKEN_SIZE];
    e = fn(r->db, r->a, login, pw, api_auth_client_addr(r), r->token, api_auth_settings(r), &res,
           &retry, id, token, csrf);
    if (e == DADM_OK && res == AUTH_LOGIN_OK)
        e = api_auth_set_cookie(r, token);
    memset(token, 0, sizeof(token));
    if (e != DADM_OK)
        return e;
    if (res == AUTH_LOGIN_LIMITED)
        return limited(r, retry);
    if (res == AUTH_LOGIN_BAD)
        return http_refuse(r, DADM_E_UNAUTHENTICATED, BAD_LOGIN, 0);
    *opened = true;
    return DADM_OK;
}

/* POST /api/v1/sessions {login, password}: personal login. */
dadm_err api_session_create(http_req *r)
{
    int64_t account = 0;
    char csrf[AUTH_CSRF_SIZE];
    bool opened;
    dadm_err e = json_login(r, auth_login_password, &opened, &account, csrf);
    if (e != DADM_OK || !opened)
        return e;
    const auth_login_settings *s = api_auth_settings(r);
    return http_reply_json(r, 201,
                           json_pack("{s:i, s:I, s:s, s:i, s:i}", "level", 2, "account_id",
                                     (json_int_t)account, "csrf_token", csrf, "idle_seconds",
                                     s->idle_seconds, "absolute_seconds", s->absolute_seconds));
}

/* POST /api/v1/reader-sessions {login, password}: product login (level 1). */
dadm_err api_reader_session_create(http_req *r)
{
    int64_t product = 0;
    char csrf[AUTH_CSRF_SIZE];
    bool opened;
    dadm_err e = json_login(r, auth_login_reader, &opened, &product, csrf);
    if (e != DADM_OK || !opened)
        return e;
    return http_reply_json(r, 201,
                           json_pack("{s:i, s:I, s:s}", "level", 1, "product_id",
                                     (json_int_t)product, "csrf_token", csrf));
}

/* DELETE /api/v1/sessions/current: logout. */
dadm_err api_session_delete(http_req *r)
{
    dadm_err e = api_auth_end_session(r);
    if (e != DADM_OK)
        return e;
    return http_reply_text(r, 204, NULL, "", 0);
}

/* POST /api/v1/password/change {current_password, new_password}. */
dadm_err api_password_change(http_req *r)
{
    dadm_err e = http_require_person(r);
    if (e != DADM_OK)
        return e;
    json_t *b;
    if ((e = http_json_body(r, &b)) != DADM_OK)
        return e;
    const char *cur = str_field(b, "current_password"), *pw = str_field(b, "new_password");
    if (!cur || !pw)
        return http_fail(r, DADM_E_INVALID,
                         "Indiquez le mot de passe actuel et le nouveau mot de passe.");
    const char *why = auth_policy_check(r->srv->set.password_policy, r->a, pw);
    if (why)
        return http_fail(r, DADM_E_INVALID, why);
    auth_login_result res;
    int retry = 0;
    char token[AUTH_TOKEN_SIZE], csrf[AUTH_CSRF_SIZE];
    e = auth_login_change_password(r->db, r->a, r->who->account_id, r->who->login, cur, pw,
                                   "password", api_auth_client_addr(r), api_auth_settings(r), &res,
                                   &retry, token, csrf);
    if (e == DADM_OK && res == AUTH_LOGIN_OK)
        e = api_auth_set_cookie(r, token);
    if (e != DADM_OK) {
        memset(token, 0, sizeof(token));
        return e;
    }
    if (res == AUTH_LOGIN_LIMITED)
        return limited(r, retry);
    if (res == AUTH_LOGIN_BAD)
        return http_refuse(r, DADM_E_FORBIDDEN, "Le mot de passe actuel est incorrect.", 0);
    json_t *o = json_pack("{s:s, s:s}", "csrf_token", csrf, "detail",
                          "Mot de passe changé. Vos autres sessions sont fermées.");
    /* A bearer client cannot read a cookie: it gets its new token here. */
    if (o && !r->token_from_cookie)
        json_object_set_new(o, "token", json_string(token));
    memset(token, 0, sizeof(token));
    return http_reply_json(r, 200, o);
}

#define RESET_SENT                                                                                 \
    "Si ce compte existe, un courriel vient d'être envoyé à son adresse avec un lien pour "     \
    "choisir un nouveau mot de passe, valable 30 minutes."
#define REMINDER_SENT                                                                              \
    "Si cette adresse est celle d'un compte, un courriel vient de lui être envoyé avec "         \
    "l'identifiant."

/* POST /api/v1/password/reset-request {login}. Same answer either way. */
dadm_err api_password_reset_request(http_req *r)
{
    json_t *b;
    dadm_err e = http_json_body(r, &b);
    if (e != DADM_OK)
        return e;
    const char *login = str_field(b, "login");
    if (!login)
        return http_fail(r, DADM_E_INVALID, "Indiquez votre identifiant.");
    auth_login_result res;
    int retry = 0;
    e = auth_login_reset_request(r->db, r->a, login, r->srv->set.public_url,
                                 api_auth_client_addr(r), api_auth_settings(r), &res, &retry);
    if (e != DADM_OK)
        return e;
    if (res == AUTH_LOGIN_LIMITED)
        return limited(r, retry);
    return http_reply_json(r, 202, json_pack("{s:s}", "detail", RESET_SENT));
}

/* POST /api/v1/password/reset {token, new_password}. */
dadm_err api_password_reset(http_req *r)
{
    json_t *b;
    dadm_err e = http_json_body(r, &b);
    if (e != DADM_OK)
        return e;
    const char *token = str_field(b, "token"), *pw = str_field(b, "new_password");
    if (!token || !pw)
        return http_fail(r, DADM_E_INVALID,
                         "Indiquez le jeton du lien et le nouveau mot de passe.");
    const char *why = auth_policy_check(r->srv->set.password_policy, r->a, pw);
    if (why)
        return http_fail(r, DADM_E_INVALID, why);
    bool done = false;
    e = auth_login_reset(r->db, r->a, token, pw, api_auth_settings(r), &done);
    if (e != DADM_OK)
        return e;
    if (!done)
        return http_refuse(r, DADM_E_INVALID,
                           "Ce lien n'est plus valable (déjà utilisé ou expiré). Demandez-"
                           "en un nouveau.",
                           0);
    return http_reply_json(
        r, 200,
        json_pack("{s:s}", "detail", "Mot de passe changé. Connectez-vous avec le nouveau."));
}

/* POST /api/v1/login-reminder {email}. Same answer either way. */
dadm_err api_login_reminder(http_req *r)
{
    json_t *b;
    dadm_err e = http_json_body(r, &b);
    if (e != DADM_OK)
        return e;
    const char *email = str_field(b, "email");
    if (!email)
        return http_fail(r, DADM_E_INVALID, "Indiquez votre adresse électronique.");
    auth_login_result res;
    int retry = 0;
    e = auth_login_reminder(r->db, r->a, email, r->srv->set.public_url, api_auth_client_addr(r),
                            api_auth_settings(r), &res, &retry);
    if (e != DADM_OK)
        return e;
    if (res == AUTH_LOGIN_LIMITED)
        return limited(r, retry);
    return http_reply_json(r, 202, json_pack("{s:s}", "detail", REMINDER_SENT));
}

auth_policy *api_auth_configure(conf *c, server_settings *s)
{
    bool ok = true;
    auth_login_settings *l = &s->login;
    *l = auth_login_default;
    l->idle_seconds = (int)conf_int(c, "session", "idle_seconds", 1800, 60, 86400, &ok);
    l->absolute_seconds =
        (int)conf_int(c, "session", "absolute_seconds", 36000, 300, 7 * 86400, &ok);
    l->params.m_kib =
        (unsigned)conf_int(c, "password", "argon2_memory_kib", 19456, 19456, 4 * 1024 * 1024, &ok);
    l->params.t = (unsigned)conf_int(c, "password", "argon2_iterations", 2, 2, 64, &ok);
    l->params.p = (unsigned)conf_int(c, "password", "argon2_lanes", 1, 1, 64, &ok);
    l->account_free_failures = (int)conf_int(c, "login", "account_free_failures", 5, 1, 1000, &ok);
    l->address_free_failures =
        (int)conf_int(c, "login", "address_free_failures", 20, 1, 100000, &ok);
    l->base_delay_seconds = (int)conf_int(c, "login", "base_delay_seconds", 2, 1, 3600, &ok);
    l->max_delay_seconds = (int)conf_int(c, "login", "max_delay_seconds", 900, 1, 86400, &ok);
    l->window_seconds = (int)conf_int(c, "login", "window_seconds", 3600, 60, 7 * 86400, &ok);
    s->public_url = conf_str(c, "login", "public_url", "http://127.0.0.1:8080");

    auth_policy_settings ps = auth_policy_default;
    ps.min_length = (int)conf_int(c, "password", "min_length", 12, 6, AUTH_POLICY_MAX_LENGTH, &ok);
    ps.need_upper = conf_bool(c, "password", "require_upper", true, &ok);
    ps.need_lower = conf_bool(c, "password", "require_lower", true, &ok);
    ps.need_digit = conf_bool(c, "password", "require_digit", true, &ok);
    ps.need_special = conf_bool(c, "password", "require_special", true, &ok);
    ps.forbid_non_ascii = conf_bool(c, "password", "forbid_accented", true, &ok);
    ps.forbidden = conf_str(c, "password", "forbidden_chars", "!?*@");
    if (!ok) {
        log_kv(LOG_ERROR, "config.invalid", "detail",
               "a key of [session], [password] or [login] is out of range", NULL);
        return NULL;
    }
    char *def_list = g_build_filename(settings_sql_dir(c), "common-passwords.txt", NULL);
    const char *list = conf_str(c, "password", "common_list", def_list);
    ps.common_list = *list ? list : NULL;
    char *err = NULL;
    auth_policy *pol = auth_policy_new(&ps, &err);
    g_free(def_list);
    if (!pol) {
        log_kv(LOG_ERROR, "config.invalid", "key", "password.common_list", "detail", err, NULL);
        free(err);
        return NULL;
    }
    char n[16];
    snprintf(n, sizeof(n), "%u", auth_policy_common_count(pol));
    log_kv(LOG_INFO, "auth.policy_loaded", "common_passwords", n, NULL);
    s->password_policy = pol;
    auth_login_warm(l);
    return pol;
}
