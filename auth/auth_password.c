#include "auth_password.h"

#include <argon2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

const auth_password_params auth_password_default = {.m_kib = 19456, .t = 2, .p = 1};

#define SALT_LEN 16
#define HASH_LEN 32

dadm_err auth_password_hash(const char *password, const auth_password_params *params, char **out)
{
    *out = NULL;
    unsigned char salt[SALT_LEN];
    if (!util_random(salt, sizeof(salt)))
        return DADM_E_INTERNAL;
    size_t len =
        argon2_encodedlen(params->t, params->m_kib, params->p, SALT_LEN, HASH_LEN, Argon2_id);
    char *enc = malloc(len);
    if (!enc)
        return DADM_E_NOMEM;
    int rc = argon2id_hash_encoded(params->t, params->m_kib, params->p, password, strlen(password),
                                   salt, SALT_LEN, HASH_LEN, enc, len);
    if (rc != ARGON2_OK) {
        free(enc);
        return rc == ARGON2_MEMORY_ALLOCATION_ERROR ? DADM_E_NOMEM : DADM_E_INTERNAL;
    }
    *out = enc;
    return DADM_OK;
}

bool auth_password_verify(const char *hash, const char *password)
{
    if (!hash || !password || strncmp(hash, "$argon2id$", 10) != 0)
        return false;
    return argon2id_verify(hash, password, strlen(password)) == ARGON2_OK;
}

bool auth_password_needs_rehash(const char *hash, const auth_password_params *params)
{
    char want[64];
    snprintf(want, sizeof(want), "$argon2id$v=19$m=%u,t=%u,p=%u$", params->m_kib, params->t,
             params->p);
    return !hash || strncmp(hash, want, strlen(want)) != 0;
}
