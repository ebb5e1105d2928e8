/* Establishments and their installations. The role check here comes
 * first; row-level security applies the same scope again in the database.
 * An establishment the caller may not see is "not found", never
 * "forbidden", so its existence does not leak. */
#include "api.h"

#include "tenant_etab.h"

dadm_err api_etabs_list(http_req *r)
{
    dadm_err e = http_require_person(r);
    if (e != DADM_OK)
        return e;
    long limit, offset, total = 0;
    if ((e = http_page(r, &limit, &offset)) != DADM_OK)
        return e;
    json_t *items = NULL;
    if ((e = tenant_etab_list(r->db, r->a, limit, offset, &items, &total)) != DADM_OK)
        return e;
    return http_reply_page(r, items, total, limit, offset);
}

dadm_err api_etab_get(http_req *r)
{
    dadm_err e = http_require_person(r);
    int64_t id;
    if (e != DADM_OK || (e = http_param_id(r, 0, &id)) != DADM_OK)
        return e;
    if (!auth_may_read_etab(r->who, id))
        return http_fail(r, DADM_E_NOT_FOUND, "Établissement introuvable.");
    json_t *etab = NULL;
    if ((e = tenant_etab_get(r->db, r->a, id, &etab)) != DADM_OK)
        return e == DADM_E_NOT_FOUND ? http_fail(r, e, "Établissement introuvable.") : e;
    return http_reply_json(r, 200, etab);
}

dadm_err api_etab_installations(http_req *r)
{
    dadm_err e = http_require_person(r);
    int64_t id;
    if (e != DADM_OK || (e = http_param_id(r, 0, &id)) != DADM_OK)
        return e;
    if (!auth_may_read_installations(r->who, id))
        return http_fail(r, DADM_E_NOT_FOUND, "Établissement introuvable.");
    json_t *items = NULL;
    if ((e = tenant_installation_list(r->db, r->a, id, &items)) != DADM_OK)
        return e;
    return http_reply_json(r, 200, json_pack("{s:o}", "items", items));
}
