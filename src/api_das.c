/* Assistance requests (DA): filing, lists, one DA, its events, and the
 * actions on it. The public identifier of a DA is its number. A DA the
 * caller may not see is "not found", never "forbidden". The rules live in
 * da.c and the lifecycle table in da_lifecycle.c. */
#include "api.h"

#include "da.h"
#include "util.h"

static const char da_not_found[] = "Demande d'assistance introuvable.";

/* The {number} capture; 404 when it is not a positive number. */
static dadm_err number_param(http_req *r, int64_t *number)
{
    if (!util_parse_i64(r->params[0], number) || *number <= 0)
        return http_fail(r, DADM_E_NOT_FOUND, da_not_found);
    return DADM_OK;
}

static dadm_err not_found_or(http_req *r, dadm_err e, const char *detail)
{
    if (e == DADM_E_NOT_FOUND)
        return http_fail(r, e, da_not_found);
    return http_fail(r, e, detail);
}

dadm_err api_das_file(http_req *r)
{
    dadm_err e = http_require_person(r);
    json_t *body = NULL;
    if (e != DADM_OK || (e = http_json_body(r, &body)) != DADM_OK)
        return e;
    json_t *out = NULL;
    const char *detail = NULL;
    if ((e = da_file(r->db, r->a, r->who, body, &out, &detail)) != DADM_OK)
        return http_fail(r, e, detail);
    return http_reply_json(r, 201, out);
}

dadm_err api_das_list(http_req *r)
{
    dadm_err e = http_require_person(r);
    if (e != DADM_OK)
        return e;
    da_filter f = {0};
    if ((e = http_page(r, &f.limit, &f.offset)) != DADM_OK)
        return e;
    f.status = http_query(r, "status");
    f.product = http_query(r, "product");
    const char *etab = http_query(r, "etab");
    if (etab && (!util_parse_i64(etab, &f.etab_id) || f.etab_id <= 0))
        return http_fail(r, DADM_E_INVALID,
                         "Le paramètre etab doit être l'identifiant d'un établissement.");
    json_t *items = NULL;
    long total = 0;
    const char *detail = NULL;
    if ((e = da_list(r->db, r->a, r->who, &f, &items, &total, &detail)) != DADM_OK)
        return http_fail(r, e, detail);
    return http_reply_page(r, items, total, f.limit, f.offset);
}

dadm_err api_da_get(http_req *r)
{
    int64_t number;
    dadm_err e = http_require_person(r);
    if (e != DADM_OK || (e = number_param(r, &number)) != DADM_OK)
        return e;
    json_t *out = NULL;
    if ((e = da_get(r->db, r->a, r->who, number, &out)) != DADM_OK)
        return not_found_or(r, e, NULL);
    return http_reply_json(r, 200, out);
}

dadm_err api_da_events(http_req *r)
{
    int64_t number;
    dadm_err e = http_require_person(r);
    if (e != DADM_OK || (e = number_param(r, &number)) != DADM_OK)
        return e;
    json_t *items = NULL;
    if ((e = da_events(r->db, r->a, r->who, number, &items)) != DADM_OK)
        return not_found_or(r, e, NULL);
    json_t *out = json_pack("{s:o}", "items", items);
    return http_reply_json(r, 200, out);
}

static dadm_err act(http_req *r, da_op op)
{
    int64_t number;
    dadm_err e = http_require_person(r);
    if (e != DADM_OK || (e = number_param(r, &number)) != DADM_OK)
        return e;
    json_t *body = NULL;
    if ((e = http_json_body(r, &body)) != DADM_OK)
        return e;
    json_t *out = NULL;
    const char *detail = NULL;
    if ((e = da_act(r->db, r->a, r->who, number, op, body, &out, &detail)) != DADM_OK)
        return not_found_or(r, e, detail);
    return http_reply_json(r, 200, out);
}

dadm_err api_da_complement(http_req *r)
{
    return act(r, DA_OP_COMPLEMENT);
}

dadm_err api_da_question(http_req *r)
{
    return act(r, DA_OP_QUESTION);
}

dadm_err api_da_answer(http_req *r)
{
    return act(r, DA_OP_ANSWER);
}

dadm_err api_da_solution(http_req *r)
{
    return act(r, DA_OP_SOLUTION);
}

dadm_err api_da_validation(http_req *r)
{
    return act(r, DA_OP_VALIDATION);
}

dadm_err api_da_refusal(http_req *r)
{
    return act(r, DA_OP_REFUSAL);
}

dadm_err api_da_note(http_req *r)
{
    return act(r, DA_OP_NOTE);
}

dadm_err api_da_move(http_req *r)
{
    return act(r, DA_OP_MOVE);
}

dadm_err api_da_requalification(http_req *r)
{
    return act(r, DA_OP_REQUALIFICATION);
}

dadm_err api_da_externalisation(http_req *r)
{
    return act(r, DA_OP_EXTERNALISATION);
}
