/* Personal passwords: argon2id hashes in the PHC string format, so the
 * parameters travel with each hash and can be raised later. */
#ifndef DADM_AUTH_PASSWORD_H
#define DADM_AUTH_PASSWORD_H

#include <stdbool.h>
#include <stddef.h>

#include "dadm_error.h"

/* Cost parameters: memory in KiB, iterations, lanes. */
typedef struct {
    unsigned m_kib, t, p;
} auth_password_params;

/* Defaults: m = 19 MiB, t = 2, p = 1. */
extern const auth_password_params auth_password_default;

/* Hashes `password` with a fresh salt; *out is an owned string (free()).
 * On failure *out is NULL. */
__attribute__((warn_unused_result)) dadm_err
auth_password_hash(const char *password, const auth_password_params *params, char **out);
/* True when `password` matches `hash`. False for a malformed hash. */
bool auth_password_verify(const char *hash, const char *password);
/* True when `hash` was made with parameters other than `params`. */
bool auth_password_needs_rehash(const char *hash, const auth_password_params *params);

#endif
