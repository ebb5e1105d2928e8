#include "auth_login.h"

#include <glib.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "notify.h"
#include "util.h"

const auth_login_settings auth_login_default = {
    .idle_seconds = 1800,
    .absolute_seconds = 36000,
    .params = {.m_kib = 19456, .t = 2, .p = 1},
    .account_free_failures = 5,
    .address_free_failures = 20,
    .base_delay_seconds = 2,
    .max_delay_seconds = 900,
    .window_seconds = 3600,
    .reset_seconds = 1800,
};

/* Longest login looked up; longer ones are unknown (but cost the same). */
#define LOGIN_MAX 128

static void b64url(const unsigned char *raw, size_t n, char *out, size_t cap)
{
    gchar *b64 = g_base64_encode(raw, n);
    size_t j = 0;
    for (size_t i = 0; b64[i] && b64[i] != '=' && j + 1 < cap; i++)
        out[j++] = b64[i] == '+' ? '-' : b64[i] == '/' ? '_' : b64[i];
    out[j] = '\0';
    g_free(b64);
}

void auth_login_csrf_of(const char *session_token, char csrf[AUTH_CSRF_SIZE])
{
    unsigned char digest[32];
    gchar *in = g_strconcat("dadm-csrf:", session_token, NULL);
    util_sha256(digest, in, strlen(in));
    g_free(in);
    b64url(digest, sizeof(digest), csrf, AUTH_CSRF_SIZE);
}

bool auth_login_csrf_ok(const char *session_token, const char *given)
{
    if (!session_token || !given || strlen(given) != AUTH_CSRF_SIZE - 1)
        return false;
    char want[AUTH_CSRF_SIZE];
    auth_login_csrf_of(session_token, want);
    return util_ct_equal(want, given, AUTH_CSRF_SIZE - 1);
}

dadm_err auth_login_open_session(db *d, arena *a, int64_t account_id, const char *method,
                                 const char *previous_token, const auth_login_settings *set,
                                 char token[AUTH_TOKEN_SIZE], char csrf[AUTH_CSRF_SIZE])
{
    memset(token, 0, AUTH_TOKEN_SIZE);
    memset(csrf, 0, AUTH_CSRF_SIZE);
    dadm_err e = DADM_OK;
    if (previous_token) {
        char hash[65];
        auth_session_token_hash(hash, previous_token);
        const char *p[] = {hash};
        if (!db_exec(d, a, "SELECT dadm.session_end(decode($1, 'hex'))", 1, p, &e))
            return e;
    }
    e = auth_session_open(d, account_id, 0, method, set->idle_seconds, set->absolute_seconds,
                          token);
    if (e == DADM_OK)
        auth_login_csrf_of(token, csrf);
    else if (strcmp(db_last_sqlstate(d), "42501") == 0)
        e = DADM_E_FORBIDDEN; /* the account is not active */
    return e;
}

/* A hash of a password nobody knows, with the current parameters, so that
 * an unknown login costs the same argon2 work as a known one. Made once. */
static const char *dummy_hash(const auth_password_params *params)
{
    static GMutex lock;
    static char *hash;
    static auth_password_params made_with;
    g_mutex_lock(&lock);
    if (!hash || memcmp(&made_with, params, sizeof(*params)) != 0) {
        unsigned char raw[24];
        char pw[40];
        char *h = NULL;
        if (util_random(raw, sizeof(raw))) {
            b64url(raw, sizeof(raw), pw, sizeof(pw));
            if (auth_password_hash(pw, params, &h) == DADM_OK) {
                free(hash);
                hash = h;
                made_with = *params;
            }
        }
    }
    const char *out = hash;
    g_mutex_unlock(&lock);
    return out;
}

/* Seconds to wait before `key` (and `addr`) may try again; 0: now. */
static dadm_err wait_for(db *d, arena *a, const char *key, const char *addr,
                         const auth_login_settings *set, int *retry_after)
{
    char free_acc[16], free_addr[16], base[16], max[16], window[16];
    snprintf(free_acc, sizeof(free_acc), "%d", set->account_free_failures);
    snprintf(free_addr, sizeof(free_addr), "%d", set->address_free_failures);
    snprintf(base, sizeof(base), "%d", set->base_delay_seconds);
    snprintf(max, sizeof(max), "%d", set->max_delay_seconds);
    snprintf(window, sizeof(window), "%d", set->window_seconds);
    const char *p[] = {key, addr, free_acc, free_addr, base, max, window};
    dadm_err e = DADM_OK;
    PGresult *r = db_exec(d, a,
                          "SELECT dadm.auth_wait('account', $1, $3, $5, $6, $7),"
                          " dadm.auth_wait('address', $2, $4, $5, $6, $7)",
                          7, p, &e);
    if (!r)
        return e;
    int64_t w1 = db_i64(r, 0, 0), w2 = db_i64(r, 0, 1);
    *retry_after = (int)(w1 > w2 ? w1 : w2);
    return DADM_OK;
}

static dadm_err audit(db *d, arena *a, const char *action, const char *target, int64_t etab,
                      json_t *detail)
{
    dadm_err e = detail ? notify_audit(d, a, action, target, etab, detail) : DADM_E_NOMEM;
    json_decref(detail);
    return e;
}

/* What both login kinds share: limits, lookup, verification, counters. */
typedef struct {
    const char *kind;   /* "p" person, "r" reader */
    const char *method; /* for the audit */
    const char *sql;    /* returns id, hash, active, etab_id for $1 */
} login_kind;

static const login_kind person_kind = {
    "p", "password",
    "SELECT account_id, password_hash, active, etab_id FROM dadm.auth_account_secret($1)"};
static const login_kind reader_kind = {
    "r", "reader", "SELECT product_id, reader_hash, true, NULL FROM dadm.auth_reader_secret($1)"};

static dadm_err check_credentials(db *d, arena *a, const login_kind *k, const char *login,
                                  const char *password, const char *addr,
                                  const auth_login_settings *set, auth_login_result *res,
                                  int *retry_after, int64_t *id, int64_t *etab)
{
    *res = AUTH_LOGIN_BAD;
    *retry_after = 0;
    *id = 0;
    *etab = 0;
    if (!login)
        login = "";
    if (!password)
        password = "";
    if (!addr)
        addr = "-";
    size_t n = strnlen(login, LOGIN_MAX + 1);
    gchar *low = g_ascii_strdown(login, (gssize)n);
    char *key = arena_printf(a, "%s:%s", k->kind, low);
    g_free(low);
    if (!key)
        return DADM_E_NOMEM;

    dadm_err e = wait_for(d, a, key, addr, set, retry_after);
    if (e != DADM_OK)
        return e;
    if (*retry_after > 0) {
        *res = AUTH_LOGIN_LIMITED;
        return audit(d, a, "auth.login.limited", NULL, 0,
                     json_pack("{s:s, s:s, s:i}", "method", k->method, "address", addr,
                               "retry_after", *retry_after));
    }

    const char *hash = NULL;
    bool active = false;
    if (n <= LOGIN_MAX) {
        const char *p[] = {key + 2};
        PGresult *r = db_exec(d, a, k->sql, 1, p, &e);
        if (!r)
            return e;
        if (PQntuples(r) == 1) {
            *id = db_i64(r, 0, 0);
            hash = PQgetisnull(r, 0, 1) ? NULL : PQgetvalue(r, 0, 1);
            active = strcmp(PQgetvalue(r, 0, 2), "t") == 0;
            *etab = db_i64(r, 0, 3);
        }
    }
    /* Always one argon2 verification, whatever was found. */
    const char *against = hash ? hash : dummy_hash(&set->params);
    bool match = auth_password_verify(against, password);
    bool ok = match && hash && active;
    char window[16];
    snprintf(window, sizeof(window), "%d", set->window_seconds);
    const char *p2[] = {key, addr, window};
    if (!ok) {
        if (!db_exec(d, a, "SELECT dadm.auth_fail($1, $2, $3)", 3, p2, &e))
            return e;
        json_t *detail = json_pack("{s:s, s:s}", "method", k->method, "address", addr);
        if (detail && *id)
            json_object_set_new(detail, k->kind[0] == 'p' ? "account_id" : "product_id",
                                json_integer(*id));
        e = audit(d, a, "auth.login.failure", NULL, *etab, detail);
        *id = 0;
        *etab = 0;
        return e;
    }
    if (!db_exec(d, a, "SELECT dadm.auth_succeed($1)", 1, p2, &e))
        return e;
    if (k->kind[0] == 'p' && auth_password_needs_rehash(hash, &set->params)) {
        char *fresh = NULL;
        if (auth_password_hash(password, &set->params, &fresh) == DADM_OK) {
            char acc[24];
            snprintf(acc, sizeof(acc), "%lld", (long long)*id);
            const char *p3[] = {acc, hash, fresh};
            db_exec(d, a, "SELECT dadm.auth_rehash($1, $2, $3)", 3, p3, &e);
            free(fresh);
            if (e != DADM_OK)
                return e;
            log_kv(LOG_INFO, "auth.rehash", "account", acc, NULL);
        }
    }
    *res = AUTH_LOGIN_OK;
    return DADM_OK;
}

dadm_err auth_login_password(db *d, arena *a, const char *login, const char *password,
                             const char *client_addr, const char *previous_token,
                             const auth_login_settings *set, auth_login_result *res,
                             int *retry_after, int64_t *account_id, char token[AUTH_TOKEN_SIZE],
                             char csrf[AUTH_CSRF_SIZE])
{
    int64_t etab = 0;
    *account_id = 0;
    dadm_err e = check_credentials(d, a, &person_kind, login, password, client_addr, set, res,
                                   retry_after, account_id, &etab);
    if (e != DADM_OK || *res != AUTH_LOGIN_OK)
        return e;
    e = auth_login_open_session(d, a, *account_id, "password", previous_token, set, token, csrf);
    if (e != DADM_OK)
        return e;
    char target[32];
    snprintf(target, sizeof(target), "account:%lld", (long long)*account_id);
    return audit(d, a, "auth.login", target, etab,
                 json_pack("{s:s, s:I, s:s}", "method", "password", "account_id",
                           (json_int_t)*account_id, "address", client_addr ? client_addr : "-"));
}

dadm_err auth_login_reader(db *d, arena *a, const char *login, const char *password,
                           const char *client_addr, const char *previous_token,
                           const auth_login_settings *set, auth_login_result *res, int *retry_after,
                           int64_t *product_id, char token[AUTH_TOKEN_SIZE],
                           char csrf[AUTH_CSRF_SIZE])
{
    int64_t etab = 0;
    *product_id = 0;
    memset(token, 0, AUTH_TOKEN_SIZE);
    memset(csrf, 0, AUTH_CSRF_SIZE);
    dadm_err e = check_credentials(d, a, &reader_kind, login, password, client_addr, set, res,
                                   retry_after, product_id, &etab);
    if (e != DADM_OK || *res != AUTH_LOGIN_OK)
        return e;
    if (previous_token) {
        char hash[65];
        auth_session_token_hash(hash, previous_token);
        const char *p[] = {hash};
        if (!db_exec(d, a, "SELECT dadm.session_end(decode($1, 'hex'))", 1, p, &e))
            return e;
    }
    e = auth_session_open(d, 0, *product_id, "reader", set->idle_seconds, set->absolute_seconds,
                          token);
    if (e != DADM_OK)
        return e;
    auth_login_csrf_of(token, csrf);
    char target[32];
    snprintf(target, sizeof(target), "product:%lld", (long long)*product_id);
    return audit(d, a, "auth.reader_login", target, 0,
                 json_pack("{s:s, s:I, s:s}", "method", "reader", "product_id",
                           (json_int_t)*product_id, "address", client_addr ? client_addr : "-"));
}

void auth_login_warm(const auth_login_settings *set)
{
    (void)dummy_hash(&set->params);
}

dadm_err auth_login_change_password(db *d, arena *a, int64_t account_id, const char *login,
                                    const char *current, const char *new_password,
                                    const char *method, const char *client_addr,
                                    const auth_login_settings *set, auth_login_result *res,
                                    int *retry_after, char token[AUTH_TOKEN_SIZE],
                                    char csrf[AUTH_CSRF_SIZE])
{
    memset(token, 0, AUTH_TOKEN_SIZE);
    memset(csrf, 0, AUTH_CSRF_SIZE);
    int64_t id = 0, etab = 0;
    dadm_err e = check_credentials(d, a, &person_kind, login, current, client_addr, set, res,
                                   retry_after, &id, &etab);
    if (e != DADM_OK || *res != AUTH_LOGIN_OK)
        return e;
    if (id != account_id) {
        *res = AUTH_LOGIN_BAD; /* the login is not the caller's: cannot happen */
        return DADM_OK;
    }
    char *hash = NULL;
    if ((e = auth_password_hash(new_password, &set->params, &hash)) != DADM_OK)
        return e;
    const char *p[] = {hash};
    db_exec(d, a, "SELECT dadm.auth_password_change($1)", 1, p, &e);
    free(hash);
    if (e != DADM_OK)
        return e;
    char target[32];
    snprintf(target, sizeof(target), "account:%lld", (long long)account_id);
    /* audited while the caller's session still names the account */
    e = audit(d, a, "auth.password.change", target, etab,
              json_pack("{s:I, s:s}", "account_id", (json_int_t)account_id, "address",
                        client_addr ? client_addr : "-"));
    if (e != DADM_OK)
        return e;
    return auth_login_open_session(d, a, account_id, method, NULL, set, token, csrf);
}

/* A fresh random token (base64url of 32 bytes) and its hex SHA-256. */
static bool new_token(char token[AUTH_TOKEN_SIZE], char hash[65])
{
    unsigned char raw[32];
    if (!util_random(raw, sizeof(raw)))
        return false;
    b64url(raw, sizeof(raw), token, AUTH_TOKEN_SIZE);
    auth_session_token_hash(hash, token);
    return true;
}

/* Mail-sending requests count as attempts of `key`: the first free ones
 * cost nothing, then the same growing delay as failed logins. */
static dadm_err mail_throttle(db *d, arena *a, const char *key, const char *addr,
                              const auth_login_settings *set, auth_login_result *res,
                              int *retry_after)
{
    *res = AUTH_LOGIN_OK;
    dadm_err e = wait_for(d, a, key, addr, set, retry_after);
    if (e != DADM_OK)
        return e;
    if (*retry_after > 0) {
        *res = AUTH_LOGIN_LIMITED;
        return audit(d, a, "auth.mail.limited", NULL, 0,
                     json_pack("{s:s, s:i}", "address", addr, "retry_after", *retry_after));
    }
    char window[16];
    snprintf(window, sizeof(window), "%d", set->window_seconds);
    const char *p[] = {key, addr, window};
    db_exec(d, a, "SELECT dadm.auth_fail($1, $2, $3)", 3, p, &e);
    return e;
}

dadm_err auth_login_reset_request(db *d, arena *a, const char *login, const char *base_url,
                                  const char *client_addr, const auth_login_settings *set,
                                  auth_login_result *res, int *retry_after)
{
    const char *addr = client_addr ? client_addr : "-";
    if (!login)
        login = "";
    size_t n = strnlen(login, LOGIN_MAX + 1);
    gchar *low = g_ascii_strdown(login, (gssize)n);
    char *key = arena_printf(a, "m:%s", low);
    g_free(low);
    if (!key)
        return DADM_E_NOMEM;
    dadm_err e = mail_throttle(d, a, key, addr, set, res, retry_after);
    if (e != DADM_OK || *res != AUTH_LOGIN_OK)
        return e;
    char token[AUTH_TOKEN_SIZE], hash[65], secs[16];
    if (!new_token(token, hash))
        return DADM_E_INTERNAL;
    snprintf(secs, sizeof(secs), "%d", set->reset_seconds);
    const char *p[] = {n <= LOGIN_MAX ? key + 2 : "", hash, secs};
    PGresult *r = db_exec(d, a,
                          "SELECT account_id, email, etab_id, given_name, family_name"
                          " FROM dadm.auth_reset_create($1, decode($2, 'hex'), $3)",
                          3, p, &e);
    if (!r)
        goto out;
    json_t *detail = json_pack("{s:s}", "address", addr);
    int64_t etab = 0;
    if (PQntuples(r) == 1) {
        int64_t id = db_i64(r, 0, 0);
        etab = db_i64(r, 0, 2);
        if (detail)
            json_object_set_new(detail, "account_id", json_integer(id));
        char *body = arena_printf(
            a,
            "Bonjour %s %s,\n\n"
            "Une demande de nouveau mot de passe a été faite pour votre compte de l'espace des "
            "correspondants.\n\n"
            "Pour choisir un nouveau mot de passe, ouvrez ce lien dans les %d minutes ; il ne "
            "sert qu'une fois :\n\n%s/password/reset?token=%s\n\n"
            "Si vous n'avez rien demandé, ignorez ce message : votre mot de passe actuel reste "
            "valable.\n",
            PQgetvalue(r, 0, 3), PQgetvalue(r, 0, 4), set->reset_seconds / 60, base_url, token);
        if (!body) {
            json_decref(detail);
            e = DADM_E_NOMEM;
            goto out;
        }
        e = notify_mail(d, a, etab, PQgetvalue(r, 0, 1),
                        "Espace des correspondants : nouveau mot de passe", body);
        if (e != DADM_OK) {
            json_decref(detail);
            goto out;
        }
    }
    e = audit(d, a, "auth.password.reset_request", NULL, etab, detail);
out:
    memset(token, 0, sizeof(token));
    return e;
}

dadm_err auth_login_reset(db *d, arena *a, const char *token, const char *new_password,
                          const auth_login_settings *set, bool *done)
{
    *done = false;
    if (!token || strlen(token) != AUTH_TOKEN_SIZE - 1)
        return DADM_OK;
    char hash[65];
    auth_session_token_hash(hash, token);
    char *pw = NULL;
    dadm_err e = auth_password_hash(new_password, &set->params, &pw);
    if (e != DADM_OK)
        return e;
    const char *p[] = {hash, pw};
    PGresult *r = db_exec(d, a, "SELECT dadm.auth_reset_consume(decode($1, 'hex'), $2)", 2, p, &e);
    free(pw);
    if (!r)
        return e;
    if (PQgetisnull(r, 0, 0))
        return audit(d, a, "auth.password.reset_refused", NULL, 0, json_object());
    *done = true;
    int64_t id = db_i64(r, 0, 0);
    char target[32];
    snprintf(target, sizeof(target), "account:%lld", (long long)id);
    return audit(d, a, "auth.password.reset", target, 0,
                 json_pack("{s:I}", "account_id", (json_int_t)id));
}

dadm_err auth_login_reminder(db *d, arena *a, const char *email, const char *base_url,
                             const char *client_addr, const auth_login_settings *set,
                             auth_login_result *res, int *retry_after)
{
    const char *addr = client_addr ? client_addr : "-";
    if (!email)
        email = "";
    size_t n = strnlen(email, 256);
    gchar *low = g_ascii_strdown(email, (gssize)n);
    char *key = arena_printf(a, "e:%s", low);
    g_free(low);
    if (!key)
        return DADM_E_NOMEM;
    dadm_err e = mail_throttle(d, a, key, addr, set, res, retry_after);
    if (e != DADM_OK || *res != AUTH_LOGIN_OK)
        return e;
    const char *p[] = {n < 256 ? key + 2 : ""};
    PGresult *r =
        db_exec(d, a, "SELECT login, etab_id FROM dadm.auth_login_reminder($1)", 1, p, &e);
    if (!r)
        return e;
    int rows = PQntuples(r);
    if (rows > 0) {
        GString *g = g_string_new(NULL);
        for (int i = 0; i < rows; i++)
            g_string_append_printf(g, "  %s\n", PQgetvalue(r, i, 0));
        char *body = arena_printf(
            a,
            "Bonjour,\n\nVous avez demandé le rappel de votre identifiant pour l'espace des "
            "correspondants. Les identifiants liés à cette adresse sont :\n\n%s\n"
            "Connexion : %s/login\n\n"
            "Si vous n'avez rien demandé, ignorez ce message.\n",
            g->str, base_url);
        g_string_free(g, TRUE);
        if (!body)
            return DADM_E_NOMEM;
        /* the address is the one of the accounts found, written as stored */
        e = notify_mail(d, a, db_i64(r, 0, 1), key + 2,
                        "Espace des correspondants : rappel de votre identifiant", body);
        if (e != DADM_OK)
            return e;
    }
    return audit(d, a, "auth.login_reminder", NULL, 0,
                 json_pack("{s:s, s:i}", "address", addr, "accounts", rows));
}
