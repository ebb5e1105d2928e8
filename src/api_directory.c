/* Directory provisioning runs of an establishment, for the agency and the
 * establishment's administrator. The role check comes first; row-level
 * security applies the same scope in the database. As for establishments,
 * a caller who may not see the runs gets "not found", never "forbidden". */
#include "api.h"

#include "tenant_ldap.h"

#define NOT_VISIBLE "Établissement introuvable."

dadm_err api_directory_runs_list(http_req *r)
{
    dadm_err e = http_require_person(r);
    int64_t id;
    if (e != DADM_OK || (e = http_param_id(r, 0, &id)) != DADM_OK)
        return e;
    if (!auth_may_read_directory_runs(r->who, id))
        return http_fail(r, DADM_E_NOT_FOUND, NOT_VISIBLE);
    long limit, offset, total = 0;
    if ((e = http_page(r, &limit, &offset)) != DADM_OK)
        return e;
    json_t *items = NULL;
    if ((e = tenant_ldap_runs_list(r->db, r->a, id, limit, offset, &items, &total)) != DADM_OK)
        return e;
    return http_reply_page(r, items, total, limit, offset);
}

dadm_err api_directory_run_get(http_req *r)
{
    dadm_err e = http_require_person(r);
    int64_t id, run;
    if (e != DADM_OK || (e = http_param_id(r, 0, &id)) != DADM_OK ||
        (e = http_param_id(r, 1, &run)) != DADM_OK)
        return e;
    if (!auth_may_read_directory_runs(r->who, id))
        return http_fail(r, DADM_E_NOT_FOUND, NOT_VISIBLE);
    json_t *out = NULL;
    if ((e = tenant_ldap_run_get(r->db, r->a, id, run, &out)) != DADM_OK)
        return e == DADM_E_NOT_FOUND ? http_fail(r, e, "Synchronisation introuvable.") : e;
    return http_reply_json(r, 200, out);
}
