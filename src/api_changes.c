/* Change requests: submission by the establishment's people, decision by
 * agency validators. A request of an establishment the caller may not see
 * is "not found", never "forbidden", so its existence does not leak. */
#include "api.h"

#include <string.h>

#include "tenant_change.h"
#include "util.h"

/* Who may submit a chapter, by the chapter's scope:
 * - own profile: a person of the establishment holding a role in it;
 * - establishment data: its correspondents (any product) and its
 *   administrator;
 * - server data and installed version: the correspondents of that product;
 * - correspondents of a product: that product's correspondents, and the
 *   establishment's administrator (who must be able to name new ones once
 *   every correspondent of a product has left). */
typedef bool (*submit_rule)(const auth_principal *p, int64_t etab_id, int64_t product_id);

static bool may_submit_self(const auth_principal *p, int64_t etab_id, int64_t product_id)
{
    (void)product_id;
    return p->etab_id == etab_id && auth_has_etab_role(p, etab_id);
}

static bool may_submit_etab(const auth_principal *p, int64_t etab_id, int64_t product_id)
{
    (void)product_id;
    return auth_has_etab_role(p, etab_id);
}

static bool may_submit_installation(const auth_principal *p, int64_t etab_id, int64_t product_id)
{
    return auth_has_role(p, AUTH_ROLE_CORRESPONDENT, etab_id, product_id);
}

static bool may_submit_correspondents(const auth_principal *p, int64_t etab_id, int64_t product_id)
{
    return auth_has_role(p, AUTH_ROLE_CORRESPONDENT, etab_id, product_id) ||
           auth_has_role(p, AUTH_ROLE_ETAB_ADMIN, etab_id, 0);
}

static const struct {
    submit_rule allowed;
    const char *refusal;
} submit_rules[] = {
    [TENANT_CHANGE_SCOPE_SELF] = {may_submit_self,
                                  "Seules les personnes de l'établissement qui y ont un rôle "
                                  "proposent des changements de leur profil."},
    [TENANT_CHANGE_SCOPE_ETAB] = {may_submit_etab,
                                  "Seuls les correspondants et l'administrateur de "
                                  "l'établissement proposent des changements de ses données."},
    [TENANT_CHANGE_SCOPE_INSTALLATION] = {may_submit_installation,
                                          "Seuls les correspondants de ce produit proposent des "
                                          "changements de son installation."},
    [TENANT_CHANGE_SCOPE_CORRESPONDENTS] = {may_submit_correspondents,
                                            "Seuls les correspondants de ce produit et "
                                            "l'administrateur de l'établissement proposent des "
                                            "changements de ses correspondants."},
};

static const char etab_not_found[] = "Établissement introuvable.";
static const char change_not_found[] = "Demande de modification introuvable.";

dadm_err api_changes_submit(http_req *r)
{
    dadm_err e = http_require_person(r);
    int64_t etab_id;
    if (e != DADM_OK || (e = http_param_id(r, 0, &etab_id)) != DADM_OK)
        return e;
    if (!auth_may_read_changes(r->who, etab_id))
        return http_fail(r, DADM_E_NOT_FOUND, etab_not_found);
    json_t *body = NULL;
    if ((e = http_json_body(r, &body)) != DADM_OK)
        return e;
    tenant_change_head head;
    const char *detail = NULL;
    if ((e = tenant_change_parse_head(r->db, r->a, body, &head, &detail)) != DADM_OK)
        return http_fail(r, e, detail);
    tenant_change_scope scope = tenant_change_chapter_scope(head.chapter);
    if (!submit_rules[scope].allowed(r->who, etab_id, head.product_id))
        return http_fail(r, DADM_E_FORBIDDEN, submit_rules[scope].refusal);
    json_t *out = NULL;
    bool amended = false;
    if ((e = tenant_change_submit(r->db, r->a, etab_id, r->who->account_id, &head, body, &out,
                                  &amended, &detail)) != DADM_OK)
        return http_fail(r, e, detail);
    json_object_set_new(out, "amended", json_boolean(amended));
    return http_reply_json(r, amended ? 200 : 201, out);
}

/* Reads the list filters; DADM_E_INVALID with a French detail. */
static dadm_err read_filter(http_req *r, tenant_change_filter *f)
{
    dadm_err e = http_page(r, &f->limit, &f->offset);
    if (e != DADM_OK)
        return e;
    f->chapter = http_query(r, "chapter");
    f->status = http_query(r, "status");
    if (f->chapter && tenant_change_chapter_parse(f->chapter) < 0)
        return http_fail(r, DADM_E_INVALID,
                         "Le paramètre chapter doit être l'un de : profile, etab, server, "
                         "version, correspondent_add, correspondent_remove, "
                         "correspondent_update.");
    if (f->status && !tenant_change_status_valid(f->status))
        return http_fail(r, DADM_E_INVALID,
                         "Le paramètre status doit être l'un de : pending, approved, refused, "
                         "withdrawn.");
    return DADM_OK;
}

static dadm_err reply_list(http_req *r, const tenant_change_filter *f)
{
    json_t *items = NULL;
    long total = 0;
    dadm_err e = tenant_change_list(r->db, r->a, f, &items, &total);
    if (e != DADM_OK)
        return e;
    return http_reply_page(r, items, total, f->limit, f->offset);
}

dadm_err api_etab_changes_list(http_req *r)
{
    dadm_err e = http_require_person(r);
    tenant_change_filter f = {0};
    if (e != DADM_OK || (e = http_param_id(r, 0, &f.etab_id)) != DADM_OK)
        return e;
    if (!auth_may_read_changes(r->who, f.etab_id))
        return http_fail(r, DADM_E_NOT_FOUND, etab_not_found);
    if ((e = read_filter(r, &f)) != DADM_OK)
        return e;
    return reply_list(r, &f);
}

dadm_err api_changes_list(http_req *r)
{
    dadm_err e = http_require_person(r);
    if (e != DADM_OK)
        return e;
    tenant_change_filter f = {0};
    const char *etab = http_query(r, "etab");
    if (etab && (!util_parse_i64(etab, &f.etab_id) || f.etab_id <= 0))
        return http_fail(r, DADM_E_INVALID,
                         "Le paramètre etab doit être l'identifiant d'un établissement.");
    /* Validators and administrators see every establishment's requests;
     * others only those of the establishments where they hold a role
     * (row-level security narrows the list to them). */
    bool any_role = false;
    for (size_t i = 0; i < r->who->n_grants; i++)
        any_role = any_role || auth_has_etab_role(r->who, r->who->grants[i].etab_id);
    if (!auth_may_read_changes(r->who, 0) && !any_role)
        return http_fail(r, DADM_E_FORBIDDEN,
                         "Les demandes de modification sont réservées aux validateurs de l'Amue "
                         "et aux personnes ayant un rôle dans un établissement.");
    if ((e = read_filter(r, &f)) != DADM_OK)
        return e;
    return reply_list(r, &f);
}

/* The request's establishment, checked against the caller's scope. */
static dadm_err visible_change(http_req *r, int64_t *id)
{
    dadm_err e = http_require_person(r);
    int64_t etab_id;
    if (e != DADM_OK || (e = http_param_id(r, 0, id)) != DADM_OK)
        return e;
    if ((e = tenant_change_etab_of(r->db, r->a, *id, &etab_id)) != DADM_OK)
        return e == DADM_E_NOT_FOUND ? http_fail(r, e, change_not_found) : e;
    if (!auth_may_read_changes(r->who, etab_id))
        return http_fail(r, DADM_E_NOT_FOUND, change_not_found);
    return DADM_OK;
}

dadm_err api_change_get(http_req *r)
{
    int64_t id;
    dadm_err e = visible_change(r, &id);
    if (e != DADM_OK)
        return e;
    json_t *out = NULL;
    if ((e = tenant_change_get(r->db, r->a, id, &out)) != DADM_OK)
        return e == DADM_E_NOT_FOUND ? http_fail(r, e, change_not_found) : e;
    return http_reply_json(r, 200, out);
}

static dadm_err require_validator(http_req *r)
{
    if (!auth_is_validator(r->who))
        return http_fail(r, DADM_E_FORBIDDEN,
                         "Seuls les validateurs de l'Amue approuvent ou refusent les demandes de "
                         "modification.");
    return DADM_OK;
}

dadm_err api_change_approve(http_req *r)
{
    int64_t id;
    dadm_err e = visible_change(r, &id);
    if (e != DADM_OK || (e = require_validator(r)) != DADM_OK)
        return e;
    json_t *out = NULL;
    const char *detail = NULL;
    if ((e = tenant_change_approve(r->db, r->a, id, r->who->account_id, &out, &detail)) != DADM_OK)
        return http_fail(r, e, detail);
    return http_reply_json(r, 200, out);
}

dadm_err api_change_refuse(http_req *r)
{
    int64_t id;
    dadm_err e = visible_change(r, &id);
    if (e != DADM_OK || (e = require_validator(r)) != DADM_OK)
        return e;
    json_t *body = NULL;
    if ((e = http_json_body(r, &body)) != DADM_OK)
        return e;
    const json_t *m = json_object_get(body, "motive");
    if (m && !json_is_string(m))
        return http_fail(r, DADM_E_INVALID, "Le motif du refus doit être un texte.");
    json_t *out = NULL;
    const char *detail = NULL;
    if ((e = tenant_change_refuse(r->db, r->a, id, r->who->account_id, json_string_value(m), &out,
                                  &detail)) != DADM_OK)
        return http_fail(r, e, detail);
    return http_reply_json(r, 200, out);
}

dadm_err api_change_withdraw(http_req *r)
{
    int64_t id;
    dadm_err e = visible_change(r, &id);
    if (e != DADM_OK)
        return e;
    json_t *out = NULL;
    const char *detail = NULL;
    if ((e = tenant_change_withdraw(r->db, r->a, id, r->who->account_id, &out, &detail)) != DADM_OK)
        return http_fail(r, e, detail);
    return http_reply_json(r, 200, out);
}

dadm_err api_change_file(http_req *r)
{
    int64_t id, file_id;
    dadm_err e = visible_change(r, &id);
    if (e != DADM_OK)
        return e;
    if ((e = http_param_id(r, 1, &file_id)) != DADM_OK)
        return e;
    const char *name;
    const unsigned char *data;
    size_t len;
    if ((e = tenant_change_file(r->db, r->a, id, file_id, &name, &data, &len)) != DADM_OK)
        return e == DADM_E_NOT_FOUND ? http_fail(r, e, "Fichier témoin introuvable.") : e;
    /* The name was restricted to letters, digits, '.', '-' and '_' on upload. */
    if ((e = http_add_header(r, "Content-Disposition",
                             arena_printf(r->a, "attachment; filename=\"%s\"", name))) != DADM_OK)
        return e;
    return http_reply_text(r, 200, "application/octet-stream", (const char *)data, len);
}
