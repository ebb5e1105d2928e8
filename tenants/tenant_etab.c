#include "tenant_etab.h"

#include <stdio.h>

#include "db_json.h"

#define ETAB_COLUMNS                                                                               \
    "e.id, e.uai, e.name, e.type::text AS type, e.size_class::text AS size_class, e.website,"      \
    " e.generic_email, e.updated_at"

dadm_err tenant_etab_list(db *d, arena *a, long limit, long offset, json_t **items, long *total)
{
    *items = NULL;
    char lim[24], off[24];
    snprintf(lim, sizeof(lim), "%ld", limit);
    snprintf(off, sizeof(off), "%ld", offset);
    const char *params[] = {lim, off};
    dadm_err e = DADM_OK;
    PGresult *r = db_exec(d, a,
                          "SELECT " ETAB_COLUMNS ", count(*) OVER () AS total"
                          " FROM dadm.etab e ORDER BY e.name, e.id LIMIT $1 OFFSET $2",
                          2, params, &e);
    if (!r)
        return e;
    *total = 0;
    if (PQntuples(r) == 0 && offset > 0) {
        /* Past the last page: the window count is not there, ask for it. */
        PGresult *c = db_exec(d, a, "SELECT count(*) FROM dadm.etab", 0, NULL, &e);
        if (!c)
            return e;
        *total = strtol(PQgetvalue(c, 0, 0), NULL, 10);
    }
    *items = db_json_page(r, total);
    return *items ? DADM_OK : DADM_E_NOMEM;
}

dadm_err tenant_etab_get(db *d, arena *a, int64_t id, json_t **out)
{
    *out = NULL;
    char ids[24];
    snprintf(ids, sizeof(ids), "%lld", (long long)id);
    const char *params[] = {ids};
    dadm_err e = DADM_OK;
    PGresult *r =
        db_exec(d, a, "SELECT " ETAB_COLUMNS " FROM dadm.etab e WHERE e.id = $1", 1, params, &e);
    if (!r)
        return e;
    if (PQntuples(r) != 1)
        return DADM_E_NOT_FOUND;
    *out = db_json_row(r, 0);
    return *out ? DADM_OK : DADM_E_NOMEM;
}

dadm_err tenant_installation_list(db *d, arena *a, int64_t etab_id, json_t **items)
{
    *items = NULL;
    char ids[24];
    snprintf(ids, sizeof(ids), "%lld", (long long)etab_id);
    const char *params[] = {ids};
    dadm_err e = DADM_OK;
    PGresult *r = db_exec(d, a,
                          "SELECT i.id, i.etab_id, p.code AS product, p.name AS product_name,"
                          " i.mode::text AS mode, v.label AS version,"
                          " v.delivered_on AS version_delivered_on,"
                          " i.server_series, i.server_os, i.server_db, i.server_notes,"
                          " i.updated_at,"
                          /* set while a version change awaits validation */
                          " dadm.installation_pending_version(i.id) AS pending_version"
                          " FROM dadm.installation i"
                          " JOIN dadm.product p ON p.id = i.product_id"
                          " LEFT JOIN dadm.version v ON v.id = i.version_id"
                          " WHERE i.etab_id = $1 ORDER BY p.code",
                          1, params, &e);
    if (!r)
        return e;
    *items = db_json_rows(r);
    return *items ? DADM_OK : DADM_E_NOMEM;
}
