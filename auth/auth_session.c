#include "auth_session.h"

#include <glib.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "db_json.h"
#include "util.h"

static const auth_principal anonymous = {.level = AUTH_LEVEL_ANONYMOUS};

void auth_session_token_hash(char out[65], const char *token)
{
    util_sha256_hex(out, token, strlen(token));
}

/* A token is exactly 43 base64url characters: anything else is not looked up. */
static bool token_well_formed(const char *t)
{
    size_t n = 0;
    for (; t[n]; n++)
        if (!g_ascii_isalnum(t[n]) && t[n] != '-' && t[n] != '_')
            return false;
    return n == AUTH_TOKEN_SIZE - 1;
}

static const char *field_str(arena *a, PGresult *r, int col)
{
    return PQgetisnull(r, 0, col) ? NULL : arena_strdup(a, PQgetvalue(r, 0, col));
}

static dadm_err parse_grants(arena *a, const char *text, auth_principal *p)
{
    json_t *arr = db_json_own(a, json_loads(text, 0, NULL));
    if (!arr || !json_is_array(arr))
        return DADM_E_INTERNAL;
    size_t n = json_array_size(arr);
    auth_grant *g = n ? arena_alloc(a, n * sizeof(*g)) : NULL;
    if (n && !g)
        return DADM_E_NOMEM;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_array_get(arr, i);
        int role = auth_role_parse(json_string_value(json_object_get(o, "role")));
        int nature = auth_nature_parse(json_string_value(json_object_get(o, "nature")));
        if (role < 0 || nature < 0)
            continue; /* a role this build does not know grants nothing */
        g[k].role = (auth_role)role;
        g[k].nature = (auth_nature)nature;
        g[k].product_id = json_integer_value(json_object_get(o, "product_id"));
        g[k].etab_id = json_integer_value(json_object_get(o, "etab_id"));
        g[k].contractor_id = json_integer_value(json_object_get(o, "contractor_id"));
        k++;
    }
    p->grants = g;
    p->n_grants = k;
    return DADM_OK;
}

dadm_err auth_session_begin(db *d, arena *a, const char *token, const auth_principal **out)
{
    *out = &anonymous;
    char hash[65] = "";
    /* An absent or malformed token still runs begin_request, which clears any
     * principal left in the setting: the transaction always starts clean. */
    if (token && token_well_formed(token))
        auth_session_token_hash(hash, token);
    const char *params[] = {hash};
    dadm_err e = DADM_OK;
    PGresult *r = db_exec(d, a,
                          "SELECT session_id, level, account_id, product_id, login, given_name,"
                          " family_name, email, etab_id, contractor_id, grants"
                          " FROM dadm.begin_request(decode($1, 'hex'))",
                          1, params, &e);
    if (!r)
        return e;
    if (PQntuples(r) != 1)
        return DADM_OK;
    auth_principal *p = arena_alloc(a, sizeof(*p));
    if (!p)
        return DADM_E_NOMEM;
    p->session_id = db_i64(r, 0, 0);
    p->level = db_i64(r, 0, 1) == 2 ? AUTH_LEVEL_PERSON : AUTH_LEVEL_READER;
    p->account_id = db_i64(r, 0, 2);
    p->product_id = db_i64(r, 0, 3);
    p->login = field_str(a, r, 4);
    p->given_name = field_str(a, r, 5);
    p->family_name = field_str(a, r, 6);
    p->email = field_str(a, r, 7);
    p->etab_id = db_i64(r, 0, 8);
    p->contractor_id = db_i64(r, 0, 9);
    if (!PQgetisnull(r, 0, 10) && (e = parse_grants(a, PQgetvalue(r, 0, 10), p)) != DADM_OK)
        return e;
    *out = p;
    return DADM_OK;
}

dadm_err auth_session_token_new(char token[AUTH_TOKEN_SIZE])
{
    unsigned char raw[32];
    if (!util_random(raw, sizeof(raw)))
        return DADM_E_INTERNAL;
    gchar *b64 = g_base64_encode(raw, sizeof(raw));
    /* base64url without padding: 43 characters */
    size_t j = 0;
    for (size_t i = 0; b64[i] && b64[i] != '=' && j < AUTH_TOKEN_SIZE - 1; i++)
        token[j++] = b64[i] == '+' ? '-' : b64[i] == '/' ? '_' : b64[i];
    token[j] = '\0';
    memset(raw, 0, sizeof(raw));
    memset(b64, 0, strlen(b64));
    g_free(b64);
    return DADM_OK;
}

dadm_err auth_session_open(db *d, int64_t account_id, int64_t product_id, const char *method,
                           int idle_seconds, int absolute_seconds, char token[AUTH_TOKEN_SIZE])
{
    dadm_err e = auth_session_token_new(token);
    if (e != DADM_OK)
        return e;
    char hash[65], acc[24], prod[24], idle[16], abs_s[16];
    auth_session_token_hash(hash, token);
    snprintf(acc, sizeof(acc), "%lld", (long long)account_id);
    snprintf(prod, sizeof(prod), "%lld", (long long)product_id);
    snprintf(idle, sizeof(idle), "%d", idle_seconds);
    snprintf(abs_s, sizeof(abs_s), "%d", absolute_seconds);
    const char *params[] = {hash, account_id ? acc : NULL, product_id ? prod : NULL, method, idle,
                            abs_s};
    arena *a = arena_new(0);
    if (!a)
        return DADM_E_NOMEM;
    db_exec(d, a, "SELECT dadm.session_open(decode($1, 'hex'), $2, $3, $4, $5, $6)", 6, params, &e);
    arena_free(a);
    if (e != DADM_OK)
        memset(token, 0, AUTH_TOKEN_SIZE);
    return e;
}
