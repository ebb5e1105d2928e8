/* Logging in: personal passwords (level 2), product readers (level 1), and
 * the session opening that every login method shares (SSO included).
 *
 * Everything here runs inside the caller's request transaction. Failures
 * that must survive the transaction's outcome (failed-attempt counters) are
 * the caller's to commit: the handlers answer such failures with a reply,
 * not an error, so the transaction commits. */
#ifndef DADM_AUTH_LOGIN_H
#define DADM_AUTH_LOGIN_H

#include <stdbool.h>
#include <stdint.h>

#include "arena.h"
#include "auth_password.h"
#include "auth_session.h"
#include "dadm_error.h"
#include "db.h"

/* Length of a CSRF token as given to clients (base64url of 32 bytes), plus NUL. */
#define AUTH_CSRF_SIZE 44

/* What the login code needs from the configuration ([session], [password],
 * [login] sections; see README). */
typedef struct {
    int idle_seconds;            /* [session] idle_seconds */
    int absolute_seconds;        /* [session] absolute_seconds */
    auth_password_params params; /* cost of new hashes; older hashes are redone at login */
    int account_free_failures;   /* [login] account_free_failures: failures before any delay */
    int address_free_failures;   /* [login] address_free_failures */
    int base_delay_seconds;      /* [login] base_delay_seconds: first delay, doubled after */
    int max_delay_seconds;       /* [login] max_delay_seconds */
    int window_seconds;          /* [login] window_seconds: failures older than this are ignored */
    int reset_seconds;           /* lost-password link lifetime (1800) */
} auth_login_settings;

/* The defaults written in README's configuration table. */
extern const auth_login_settings auth_login_default;

/* Opens a level-2 session for `account_id`, authenticated by `method`
 * ("password", "sso"), in the caller's transaction. When `previous_token`
 * is not NULL the session it names (the request's) ends first: a login
 * always gets a new token. Writes the new session token to `token` and its
 * CSRF token to `csrf`; the caller sets the cookie (the src/ side:
 * api_auth_session_start()). Audits nothing: the caller audits the login.
 * DADM_E_FORBIDDEN when the account is not active; database errors
 * otherwise. On failure both buffers are zeroed. */
__attribute__((warn_unused_result)) dadm_err
auth_login_open_session(db *d, arena *a, int64_t account_id, const char *method,
                        const char *previous_token, const auth_login_settings *set,
                        char token[AUTH_TOKEN_SIZE], char csrf[AUTH_CSRF_SIZE]);

/* The CSRF token of a session: base64url of SHA-256("dadm-csrf:" || token).
 * Derived, so it changes with every new session token, needs no storage,
 * and cannot be computed without the session token (which the page's
 * scripts never see: the cookie is HttpOnly). */
void auth_login_csrf_of(const char *session_token, char csrf[AUTH_CSRF_SIZE]);

/* True when `given` is the CSRF token of `session_token`; compares in
 * constant time. False when either is NULL. */
bool auth_login_csrf_ok(const char *session_token, const char *given);

/* Outcome of a credential check. */
typedef enum {
    AUTH_LOGIN_OK,
    AUTH_LOGIN_BAD,     /* unknown login, wrong password, disabled: never said which */
    AUTH_LOGIN_LIMITED, /* too many failures: *retry_after says when to come back */
} auth_login_result;

/* Checks a personal login and password and, when they match an active
 * account, opens a session as auth_login_open_session() does (method
 * "password", rotating `previous_token`). The failure counters of the login
 * and of `client_addr` are consulted first and updated after; an unknown
 * login costs the same argon2 work as a known one. Rehashes the stored
 * password when its parameters differ from set->params. Audits the outcome.
 * *account_id is set on success. Errors are database or memory errors. */
__attribute__((warn_unused_result)) dadm_err
auth_login_password(db *d, arena *a, const char *login, const char *password,
                    const char *client_addr, const char *previous_token,
                    const auth_login_settings *set, auth_login_result *res, int *retry_after,
                    int64_t *account_id, char token[AUTH_TOKEN_SIZE], char csrf[AUTH_CSRF_SIZE]);

/* The same for a product reader login (aporead, …): opens a level-1
 * session for that product. */
__attribute__((warn_unused_result)) dadm_err
auth_login_reader(db *d, arena *a, const char *login, const char *password, const char *client_addr,
                  const char *previous_token, const auth_login_settings *set,
                  auth_login_result *res, int *retry_after, int64_t *product_id,
                  char token[AUTH_TOKEN_SIZE], char csrf[AUTH_CSRF_SIZE]);

/* Makes the dummy hash used for unknown logins now, so that the first
 * unknown login is not slower than a known one. Call at start-up. */
void auth_login_warm(const auth_login_settings *set);

/* Changes the password of the caller's account (`account_id`, `login`)
 * after checking `current` as a login would (same limits and counters;
 * *res tells the outcome). `new_password` must already follow the policy.
 * On success every session of the account ends (the request's too), a new
 * session opens with `method` and its token and CSRF token are written out;
 * pending lost-password links die. Audits the change. */
__attribute__((warn_unused_result)) dadm_err
auth_login_change_password(db *d, arena *a, int64_t account_id, const char *login,
                           const char *current, const char *new_password, const char *method,
                           const char *client_addr, const auth_login_settings *set,
                           auth_login_result *res, int *retry_after, char token[AUTH_TOKEN_SIZE],
                           char csrf[AUTH_CSRF_SIZE]);

/* Lost password: when `login` names an active person, queues a mail (in
 * French) with a single-use link `base_url`/password/reset?token=…, valid
 * set->reset_seconds; the database keeps only the token's hash. Does the
 * same work and gives the same result whether the login exists or not;
 * AUTH_LOGIN_LIMITED when the login or the address asks too often. */
__attribute__((warn_unused_result)) dadm_err
auth_login_reset_request(db *d, arena *a, const char *login, const char *base_url,
                         const char *client_addr, const auth_login_settings *set,
                         auth_login_result *res, int *retry_after);

/* Uses a lost-password link: sets `new_password` (already checked against
 * the policy) and ends every session of the account. *done is false when
 * the link is unknown, used or expired. Audits the reset. */
__attribute__((warn_unused_result)) dadm_err auth_login_reset(db *d, arena *a, const char *token,
                                                              const char *new_password,
                                                              const auth_login_settings *set,
                                                              bool *done);

/* Lost login: mails the logins of the active persons with address `email`
 * to it; nothing otherwise. Same result either way; limited like
 * auth_login_reset_request(). */
__attribute__((warn_unused_result)) dadm_err
auth_login_reminder(db *d, arena *a, const char *email, const char *base_url,
                    const char *client_addr, const auth_login_settings *set, auth_login_result *res,
                    int *retry_after);

#endif
