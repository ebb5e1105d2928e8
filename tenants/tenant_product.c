#include "tenant_product.h"

#include <stdio.h>
#include <stdlib.h>

#include "db_json.h"

dadm_err tenant_product_list(db *d, arena *a, long limit, long offset, json_t **items, long *total)
{
    *items = NULL;
    char lim[24], off[24];
    snprintf(lim, sizeof(lim), "%ld", limit);
    snprintf(off, sizeof(off), "%ld", offset);
    const char *params[] = {lim, off};
    dadm_err e = DADM_OK;
    PGresult *r =
        db_exec(d, a,
                "SELECT p.code, p.name, p.reader_login, p.support_days, p.major_support_days,"
                " p.current_only,"
                " coalesce((SELECT jsonb_agg(jsonb_build_object('code', dm.code, 'name', dm.name,"
                "   'nature', dm.nature) ORDER BY dm.nature, dm.name)"
                "   FROM dadm.domain dm WHERE dm.product_id = p.id), '[]') AS domains,"
                " coalesce((SELECT jsonb_agg(jsonb_build_object('label', v.label,"
                "   'delivered_on', v.delivered_on, 'major_migration', v.major_migration)"
                "   ORDER BY v.delivered_on DESC, v.id DESC)"
                "   FROM dadm.version v WHERE v.product_id = p.id), '[]') AS versions,"
                " (SELECT count(*) FROM dadm.product) AS total"
                " FROM dadm.product p ORDER BY p.code LIMIT $1 OFFSET $2",
                2, params, &e);
    if (!r)
        return e;
    *total = 0;
    *items = db_json_page(r, total);
    return *items ? DADM_OK : DADM_E_NOMEM;
}
