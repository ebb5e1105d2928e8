/* The caller as the server sees it: account, establishment, role grants. */
#include "api.h"

static json_t *grants_json(const auth_principal *p)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < p->n_grants; i++) {
        const auth_grant *g = &p->grants[i];
        json_t *o = json_pack("{s:s}", "role", auth_role_name(g->role));
        if (!o || json_array_append_new(arr, o) != 0) {
            json_decref(arr);
            return NULL;
        }
        if (g->nature != AUTH_NATURE_NONE)
            json_object_set_new(o, "nature", json_string(auth_nature_name(g->nature)));
        if (g->product_id)
            json_object_set_new(o, "product_id", json_integer(g->product_id));
        if (g->etab_id)
            json_object_set_new(o, "etab_id", json_integer(g->etab_id));
        if (g->contractor_id)
            json_object_set_new(o, "contractor_id", json_integer(g->contractor_id));
    }
    return arr;
}

/* The products whose deliveries p may read (level 1 carried by level 2). */
static json_t *reader_products_json(const auth_principal *p)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < p->n_grants; i++) {
        int64_t prod = p->grants[i].product_id;
        bool seen = false;
        for (size_t j = 0; j < i; j++)
            seen = seen || p->grants[j].product_id == prod;
        if (prod && !seen && auth_may_read_product(p, prod) &&
            json_array_append_new(arr, json_integer(prod)) != 0) {
            json_decref(arr);
            return NULL;
        }
    }
    return arr;
}

/* The session's CSRF token, for clients that use the cookie; JSON null for
 * bearer clients (they need none). */
static json_t *csrf_json(http_req *r)
{
    if (!r->token_from_cookie || !r->token)
        return json_null();
    char csrf[AUTH_CSRF_SIZE];
    auth_login_csrf_of(r->token, csrf);
    return json_string(csrf);
}

dadm_err api_me(http_req *r)
{
    const auth_principal *p = r->who;
    if (p->level == AUTH_LEVEL_ANONYMOUS)
        return http_fail(r, DADM_E_UNAUTHENTICATED, "Aucune session ouverte.");
    if (p->level == AUTH_LEVEL_READER)
        return http_reply_json(r, 200,
                               json_pack("{s:i, s:I, s:[I], s:o}", "level", 1, "product_id",
                                         (json_int_t)p->product_id, "reader_products",
                                         (json_int_t)p->product_id, "csrf_token", csrf_json(r)));
    json_t *grants = grants_json(p);
    if (!grants)
        return DADM_E_NOMEM;
    json_t *o = json_pack("{s:i, s:I, s:s, s:s, s:s, s:s, s:o, s:b}", "level", 2, "account_id",
                          (json_int_t)p->account_id, "login", p->login, "given_name",
                          p->given_name ? p->given_name : "", "family_name",
                          p->family_name ? p->family_name : "", "email", p->email, "grants", grants,
                          "agency", auth_is_agency(p));
    if (o) {
        json_object_set_new(o, "etab_id", p->etab_id ? json_integer(p->etab_id) : json_null());
        json_object_set_new(o, "contractor_id",
                            p->contractor_id ? json_integer(p->contractor_id) : json_null());
        json_object_set_new(o, "reader_products", reader_products_json(p));
        json_object_set_new(o, "csrf_token", csrf_json(r));
    }
    return http_reply_json(r, 200, o);
}
