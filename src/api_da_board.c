/* DA dashboards: a correspondent's view of its establishment's requests,
 * grouped as the guide groups them, and an agency consultant's queue of
 * open requests, most urgent first. Both read through row-level security
 * and carry the service-level clocks of dadm.da_sla (sql/0010). */
#include "api.h"

#include <stdio.h>
#include <string.h>

#include "db_json.h"

/* The guide's groups ("Demandes en cours de traitement", …). NEW, a DA
 * created and not yet taken, is shown with those being processed. Closed
 * groups list the most recent first, the others the oldest wait first. */
static const char dashboard_sql[] =
    "WITH g(ord, key, label, statuses, closed) AS (VALUES"
    " (1, 'en_cours', 'En cours de traitement',"
    "  '{NEW,ECT,INT,EXT,EXP,AVA}'::dadm.da_status[], false),"
    " (2, 'attente_reponse', 'En attente de réponse', '{ARS}'::dadm.da_status[], false),"
    " (3, 'attente_validation', 'En attente de validation', '{AVS}'::dadm.da_status[], false),"
    " (4, 'attente_decision', 'En attente de décision', '{ATD}'::dadm.da_status[], false),"
    " (5, 'maintenance', 'En maintenance', '{ADV,INF,DMF,DEV,PEC,CTR}'::dadm.da_status[], false),"
    " (6, 'traitees', 'Traitées', '{TER,EXC,REJ,ABN,REM}'::dadm.da_status[], true)),"
    " d AS (SELECT x.id, x.number, x.title, p.code AS product, x.priority, x.status,"
    "   x.sub_status, x.status_since, x.created_at, x.closed_at"
    "   FROM dadm.da x JOIN dadm.product p ON p.id = x.product_id"
    "  WHERE (x.etab_id || ':' || x.product_id) = ANY ((SELECT dadm.my_corr_scopes())::text[]))"
    " SELECT g.key, g.label, to_jsonb(g.statuses) AS statuses,"
    "  (SELECT count(*) FROM d WHERE d.status = ANY (g.statuses)) AS total,"
    "  coalesce((SELECT jsonb_agg(jsonb_build_object('id', i.id, 'number', i.number,"
    "     'title', i.title,"
    "     'product', i.product, 'priority', i.priority, 'status', i.status,"
    "     'sub_status', i.sub_status, 'status_since', i.status_since,"
    "     'created_at', i.created_at, 'closed_at', i.closed_at,"
    "     'sla', dadm.da_sla_json(i.id, now())) ORDER BY i.rank)"
    "   FROM (SELECT d.*, row_number() OVER (ORDER BY"
    "           CASE WHEN g.closed THEN NULL ELSE d.status_since END ASC,"
    "           d.status_since DESC, d.number) AS rank"
    "           FROM d WHERE d.status = ANY (g.statuses)"
    "          ORDER BY rank LIMIT $1) i), '[]') AS items"
    " FROM g ORDER BY g.ord";

/* Items per group, at most. */
#define BOARD_GROUP_CAP 200

dadm_err api_da_dashboard(http_req *r)
{
    dadm_err e = http_require_person(r);
    if (e != DADM_OK)
        return e;
    if (!auth_has_role(r->who, AUTH_ROLE_CORRESPONDENT, 0, 0))
        return http_fail(r, DADM_E_FORBIDDEN,
                         "Le tableau de bord des demandes d'assistance est réservé aux "
                         "correspondants des établissements.");
    char cap[16];
    snprintf(cap, sizeof(cap), "%d", BOARD_GROUP_CAP);
    const char *params[] = {cap};
    PGresult *res = db_exec(r->db, r->a, dashboard_sql, 1, params, &e);
    if (!res)
        return e;
    json_t *groups = db_json_rows(res);
    if (!groups)
        return DADM_E_NOMEM;
    return http_reply_json(r, 200, json_pack("{s:o}", "groups", groups));
}

/* Open DAs of the caller's products (as an agency consultant), with the
 * consultant in charge; `next_due` is the earliest due instant of a clock
 * still running (or already missed), and `sla_state` the worst state of
 * the clocks: missed, then suspended, running, met. */
static const char queue_sql[] =
    "WITH q AS (SELECT x.id, x.number, x.title, p.code AS product, e.uai AS etab_uai,"
    "   e.name AS etab_name, x.priority, x.status, x.sub_status, x.status_since, x.created_at,"
    "   CASE WHEN x.consultant_id IS NULL THEN NULL ELSE jsonb_build_object("
    "     'id', x.consultant_id, 'login', c.login, 'given_name', c.given_name,"
    "     'family_name', c.family_name) END AS consultant,"
    "   s.next_due, s.sla_state, s.sla"
    "   FROM dadm.da x JOIN dadm.product p ON p.id = x.product_id"
    "   JOIN dadm.etab e ON e.id = x.etab_id"
    "   LEFT JOIN dadm.account c ON c.id = x.consultant_id"
    "   CROSS JOIN LATERAL (SELECT jsonb_object_agg(k.clock, to_jsonb(k) - 'clock') AS sla,"
    "       min(k.due_at) FILTER (WHERE k.state IN ('running', 'missed')"
    "                            AND k.done_at IS NULL) AS next_due,"
    "       CASE WHEN bool_or(k.state = 'missed') THEN 'missed'"
    "            WHEN bool_or(k.state = 'suspended') THEN 'suspended'"
    "            WHEN bool_or(k.state = 'running') THEN 'running'"
    "            ELSE 'met' END AS sla_state"
    "       FROM dadm.da_sla(x.id, now()) k) s"
    "  WHERE x.closed_at IS NULL"
    "    AND x.product_id = ANY ((SELECT dadm.my_consultant_products())::bigint[])"
    "    AND ($1::bigint IS NULL OR x.product_id = $1::bigint))"
    " SELECT (SELECT count(*) FROM q) AS total,"
    "  coalesce((SELECT jsonb_agg(to_jsonb(t) ORDER BY t.next_due ASC NULLS LAST,"
    "                             t.created_at, t.number)"
    "     FROM (SELECT * FROM q ORDER BY q.next_due ASC NULLS LAST, q.created_at, q.number"
    "            LIMIT $2 OFFSET $3) t), '[]') AS items";

dadm_err api_da_queue(http_req *r)
{
    dadm_err e = http_require_person(r);
    if (e != DADM_OK)
        return e;
    if (!auth_has_role(r->who, AUTH_ROLE_CONSULTANT, 0, 0))
        return http_fail(r, DADM_E_FORBIDDEN,
                         "La file des demandes d'assistance est réservée aux consultants de "
                         "l'Amue.");
    long limit, offset;
    if ((e = http_page(r, &limit, &offset)) != DADM_OK)
        return e;
    const char *code = http_query(r, "product");
    const char *product = NULL;
    if (code) {
        const char *p1[] = {code};
        PGresult *pr =
            db_exec(r->db, r->a, "SELECT id FROM dadm.product WHERE code = $1", 1, p1, &e);
        if (!pr)
            return e;
        if (PQntuples(pr) != 1)
            return http_fail(r, DADM_E_NOT_FOUND, "Produit introuvable.");
        if (!auth_has_role(r->who, AUTH_ROLE_CONSULTANT, 0, db_i64(pr, 0, 0)))
            return http_fail(r, DADM_E_FORBIDDEN,
                             "Vous n'êtes pas consultant de ce produit : sa file de demandes ne "
                             "vous est pas ouverte.");
        product = PQgetvalue(pr, 0, 0);
    }
    char lim[24], off[24];
    snprintf(lim, sizeof(lim), "%ld", limit);
    snprintf(off, sizeof(off), "%ld", offset);
    const char *params[] = {product, lim, off};
    PGresult *res = db_exec(r->db, r->a, queue_sql, 3, params, &e);
    if (!res)
        return e;
    json_t *row = db_json_own(r->a, db_json_row(res, 0));
    json_t *items = row ? json_object_get(row, "items") : NULL;
    if (!items)
        return DADM_E_NOMEM;
    return http_reply_page(r, json_incref(items), (long)db_i64(res, 0, 0), limit, offset);
}
