/* Sessions: opaque 256-bit tokens given to the client; the database stores
 * only their SHA-256. auth_session_begin() is the first statement of every
 * request transaction: it checks the token and sets the principal that
 * row-level security reads. */
#ifndef DADM_AUTH_SESSION_H
#define DADM_AUTH_SESSION_H

#include "arena.h"
#include "auth_principal.h"
#include "dadm_error.h"
#include "db.h"

/* Length of a token as given to clients (base64url of 32 bytes), plus NUL. */
#define AUTH_TOKEN_SIZE 44

/* Starts the request's principal inside the current transaction. `token`
 * may be NULL or invalid: *out is then the anonymous principal. *out is
 * owned by `a`. Errors are database errors only. */
__attribute__((warn_unused_result)) dadm_err auth_session_begin(db *d, arena *a, const char *token,
                                                                const auth_principal **out);

/* Opens a session for an account (product_id 0) or a product reader
 * (account_id 0) and writes its token to `token`. `method` is one of
 * password, sso, reader, operator. Runs in the caller's transaction, if any. */
__attribute__((warn_unused_result)) dadm_err
auth_session_open(db *d, int64_t account_id, int64_t product_id, const char *method,
                  int idle_seconds, int absolute_seconds, char token[AUTH_TOKEN_SIZE]);

/* Writes a new random token (256 bits, base64url) to `token`, without
 * touching the database: for callers that open the session in a statement
 * of their own (SSO). DADM_E_INTERNAL when no randomness is available. */
__attribute__((warn_unused_result)) dadm_err auth_session_token_new(char token[AUTH_TOKEN_SIZE]);

/* Writes the hex SHA-256 of a token (what the database stores). */
void auth_session_token_hash(char out[65], const char *token);

#endif
