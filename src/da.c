#include "da.h"

#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db_json.h"
#include "notify.h"
#include "tenant_change.h"
#include "util.h"

static const char da_not_found[] = "Demande d'assistance introuvable.";

/* ---- Small helpers ---------------------------------------------------------- */

static const char *id_text(arena *a, int64_t v)
{
    return v ? arena_printf(a, "%lld", (long long)v) : NULL;
}

/* Value of column `name` of row 0, NULL for SQL NULL or no such column. */
static const char *col(const PGresult *r, const char *name)
{
    int c = PQfnumber(r, name);
    return c < 0 || PQgetisnull(r, 0, c) ? NULL : PQgetvalue(r, 0, c);
}

static int64_t col_id(const PGresult *r, const char *name)
{
    int c = PQfnumber(r, name);
    return c < 0 ? 0 : db_i64(r, 0, c);
}

static dadm_err fail(const char **detail, dadm_err e, const char *msg)
{
    if (detail)
        *detail = msg;
    return e;
}

/* Hands a GString's text to the arena; NULL when out of memory. */
static char *take_text(arena *a, GString *g)
{
    char *s = arena_strdup(a, g->str);
    g_string_free(g, TRUE);
    return s;
}

/* ---- Checking input --------------------------------------------------------- */

/* True when s holds a control character (newlines and tabs allowed when
 * multiline). */
static bool has_control(const char *s, bool multiline)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (multiline && (*p == '\n' || *p == '\r' || *p == '\t'))
            continue;
        if (*p < 0x20 || *p == 0x7f)
            return true;
    }
    return false;
}

/* Only blanks? */
static bool blank(const char *s)
{
    for (; *s; s++)
        if (*s != ' ' && *s != '\n' && *s != '\r' && *s != '\t')
            return false;
    return true;
}

/* Reads text field `key` of `body` into *out (NULL when absent or null and
 * not required). Returns NULL, or a French message naming `label`. */
static const char *text_field(arena *a, const json_t *body, const char *key, const char *label,
                              size_t max, bool required, bool multiline, const char **out)
{
    *out = NULL;
    const json_t *v = json_object_get(body, key);
    if (!v || json_is_null(v))
        return required ? arena_printf(a, "%s est obligatoire.", label) : NULL;
    if (!json_is_string(v))
        return arena_printf(a, "%s doit être un texte.", label);
    const char *s = json_string_value(v);
    if (json_string_length(v) != strlen(s))
        return arena_printf(a, "%s ne doit pas contenir de caractère nul.", label);
    if (blank(s))
        return arena_printf(a, "%s ne doit pas être vide.", label);
    if (has_control(s, multiline))
        return arena_printf(a, "%s contient un caractère de contrôle interdit.", label);
    if ((size_t)g_utf8_strlen(s, -1) > max)
        return arena_printf(a, "%s dépasse %zu caractères.", label, max);
    *out = s;
    return NULL;
}

/* Refuses keys of `body` outside `allowed` (NULL-terminated). */
static const char *unknown_key(arena *a, const json_t *body, const char *const *allowed)
{
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)body, key, v)
    {
        (void)v;
        bool known = false;
        for (size_t i = 0; allowed[i] && !known; i++)
            known = strcmp(key, allowed[i]) == 0;
        if (!known)
            return arena_printf(a, "Champ inconnu : « %s ».",
                                g_utf8_validate(key, -1, NULL) ? key : "?");
    }
    return NULL;
}

static bool code_syntax_ok(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n < 2 || n > max || !g_ascii_islower(s[0]))
        return false;
    for (size_t i = 1; i < n; i++)
        if (!g_ascii_islower(s[i]) && !g_ascii_isdigit(s[i]) && s[i] != '-')
            return false;
    return true;
}

static bool message_code_ok(const char *s)
{
    if (g_utf8_strlen(s, -1) > 60)
        return false;
    for (const char *p = s; *p; p = g_utf8_next_char(p)) {
        gunichar c = g_utf8_get_char(p);
        if (g_unichar_isspace(c) || c == '<' || c == '>' || c < 0x20)
            return false;
    }
    return true;
}

static int priority_parse(const char *s)
{
    if (s && strcmp(s, "bloquant") == 0)
        return 1;
    if (s && strcmp(s, "non_bloquant") == 0)
        return 0;
    return -1;
}

/* ---- Reading ---------------------------------------------------------------- */

#define DA_SELECT                                                                                  \
    "SELECT d.id, d.number, d.etab_id, e.uai AS etab_uai, e.name AS etab_name,"                    \
    " d.product_id, p.code AS product, p.name AS product_name, d.installation_id,"                 \
    " d.version_label AS version, d.internal_ref, d.priority::text AS priority,"                   \
    " dm.code AS domain, dm.name AS domain_name, d.nature::text AS nature, d.title,"               \
    " d.description, d.message_code, d.status::text AS status, d.sub_status, d.status_since,"      \
    " d.filer_id, dadm.da_person_name(d.id, d.filer_id) AS filer_name, d.consultant_id,"           \
    " dadm.da_person_name(d.id, d.consultant_id) AS consultant_name, d.contractor_id,"             \
    " dadm.da_contractor_name(d.id) AS contractor_name, d.published, d.motive, d.reminded_at,"     \
    " d.created_at, d.updated_at, d.closed_at"                                                     \
    " FROM dadm.da d JOIN dadm.product p ON p.id = d.product_id"                                   \
    " JOIN dadm.domain dm ON dm.id = d.domain_id LEFT JOIN dadm.etab e ON e.id = d.etab_id"

/* The kind of actor `who` is on a DA of (etab, product, contractor); -1
 * when none (the DA is then not theirs to see). */
static int actor_of(const auth_principal *who, int64_t etab_id, int64_t product_id,
                    int64_t contractor_id)
{
    if (auth_has_role(who, AUTH_ROLE_CORRESPONDENT, etab_id, product_id))
        return DA_ACTOR_SITE;
    if (auth_has_role(who, AUTH_ROLE_CONSULTANT, 0, product_id))
        return DA_ACTOR_AGENCY;
    for (size_t i = 0; contractor_id && i < who->n_grants; i++) {
        const auth_grant *g = &who->grants[i];
        if (g->role == AUTH_ROLE_CONTRACTOR_CONSULTANT && g->product_id == product_id &&
            g->contractor_id == contractor_id)
            return DA_ACTOR_CONTRACTOR;
    }
    return -1;
}

/* Removes the columns a client does not need (internal id, product id). */
static json_t *public_view(json_t *j)
{
    if (j) {
        json_object_del(j, "id");
        json_object_del(j, "product_id");
    }
    return j;
}

/* Reads DA `number` through row-level security and checks in C that `who`
 * has a role on it. *row is the raw result (arena-owned). */
static dadm_err fetch(db *d, arena *a, const auth_principal *who, int64_t number, PGresult **row,
                      int *actor)
{
    const char *params[] = {id_text(a, number)};
    dadm_err e = DADM_OK;
    PGresult *r = db_exec(d, a, DA_SELECT " WHERE d.number = $1", 1, params, &e);
    if (!r)
        return e;
    if (PQntuples(r) != 1)
        return DADM_E_NOT_FOUND;
    int k =
        actor_of(who, col_id(r, "etab_id"), col_id(r, "product_id"), col_id(r, "contractor_id"));
    if (k < 0)
        return DADM_E_NOT_FOUND;
    *row = r;
    if (actor)
        *actor = k;
    return DADM_OK;
}

dadm_err da_get(db *d, arena *a, const auth_principal *who, int64_t number, json_t **out)
{
    *out = NULL;
    PGresult *r = NULL;
    dadm_err e = fetch(d, a, who, number, &r, NULL);
    if (e != DADM_OK)
        return e;
    *out = public_view(db_json_row(r, 0));
    return *out ? DADM_OK : DADM_E_NOMEM;
}

dadm_err da_events(db *d, arena *a, const auth_principal *who, int64_t number, json_t **out)
{
    *out = NULL;
    PGresult *r = NULL;
    int actor = -1;
    dadm_err e = fetch(d, a, who, number, &r, &actor);
    if (e != DADM_OK)
        return e;
    /* Row-level security already hides internal notes from everyone but the
     * product's consultants; the C check says the same. */
    const char *params[] = {col(r, "id"), actor == DA_ACTOR_AGENCY ? "true" : "false"};
    PGresult *ev =
        db_exec(d, a,
                "SELECT ev.id, ev.at, ev.kind::text AS kind,"
                " ev.from_status::text AS from_status, ev.to_status::text AS to_status,"
                " ev.from_sub, ev.to_sub, ev.body, ev.internal, ev.detail,"
                " ev.author_id, dadm.da_person_name(ev.da_id, ev.author_id) AS author_name"
                " FROM dadm.da_event ev WHERE ev.da_id = $1 AND (NOT ev.internal OR $2)"
                " ORDER BY ev.at, ev.id",
                2, params, &e);
    if (!ev)
        return e;
    *out = db_json_rows(ev);
    return *out ? DADM_OK : DADM_E_NOMEM;
}

dadm_err da_list(db *d, arena *a, const auth_principal *who, const da_filter *f, json_t **items,
                 long *total, const char **detail)
{
    *items = NULL;
    *total = 0;
    if (f->status && da_status_parse(f->status) < 0)
        return fail(detail, DADM_E_INVALID,
                    "Le paramètre status doit être un statut du guide (ECT, INT, ARS, AVS, …).");
    dadm_err e = DADM_OK;
    if (f->product) {
        const char *p[] = {f->product};
        PGresult *r = db_exec(d, a, "SELECT 1 FROM dadm.product WHERE code = $1", 1, p, &e);
        if (!r)
            return e;
        if (PQntuples(r) != 1)
            return fail(detail, DADM_E_INVALID, "Le paramètre product ne désigne aucun produit.");
    }
    /* The caller's scope, from the principal: the list is narrowed in C as
     * well as by row-level security. */
    GString *corr = g_string_new("{"), *cons = g_string_new("{"), *ctor = g_string_new("{");
    for (size_t i = 0; i < who->n_grants; i++) {
        const auth_grant *g = &who->grants[i];
        if (g->role == AUTH_ROLE_CORRESPONDENT)
            g_string_append_printf(corr, "%s\"%lld:%lld\"", corr->len > 1 ? "," : "",
                                   (long long)g->etab_id, (long long)g->product_id);
        else if (g->role == AUTH_ROLE_CONSULTANT)
            g_string_append_printf(cons, "%s%lld", cons->len > 1 ? "," : "",
                                   (long long)g->product_id);
        else if (g->role == AUTH_ROLE_CONTRACTOR_CONSULTANT)
            g_string_append_printf(ctor, "%s\"%lld:%lld\"", ctor->len > 1 ? "," : "",
                                   (long long)g->contractor_id, (long long)g->product_id);
    }
    g_string_append_c(corr, '}');
    g_string_append_c(cons, '}');
    g_string_append_c(ctor, '}');
    const char *params[] = {f->status,
                            f->product,
                            id_text(a, f->etab_id),
                            take_text(a, corr),
                            take_text(a, cons),
                            take_text(a, ctor),
                            arena_printf(a, "%ld", f->limit),
                            arena_printf(a, "%ld", f->offset)};
    if (!params[3] || !params[4] || !params[5] || !params[6] || !params[7])
        return DADM_E_NOMEM;
    const char *where = " WHERE ($1::dadm.da_status IS NULL OR d.status = $1)"
                        " AND ($2::text IS NULL OR p.code = $2)"
                        " AND ($3::bigint IS NULL OR d.etab_id = $3)"
                        " AND ((d.etab_id || ':' || d.product_id) = ANY ($4::text[])"
                        " OR d.product_id = ANY ($5::bigint[])"
                        " OR (d.contractor_id || ':' || d.product_id) = ANY ($6::text[]))";
    PGresult *r = db_exec(d, a,
                          arena_printf(a,
                                       "SELECT x.*, count(*) OVER () AS total FROM (%s%s) x"
                                       " ORDER BY x.number DESC LIMIT $7 OFFSET $8",
                                       DA_SELECT, where),
                          8, params, &e);
    if (!r)
        return e;
    if (PQntuples(r) == 0 && f->offset > 0) {
        PGresult *c = db_exec(d, a,
                              arena_printf(a,
                                           "SELECT count(*) FROM dadm.da d"
                                           " JOIN dadm.product p ON p.id = d.product_id%s",
                                           where),
                              6, params, &e);
        if (!c)
            return e;
        *total = strtol(PQgetvalue(c, 0, 0), NULL, 10);
    }
    json_t *rows = db_json_page(r, total);
    if (!rows)
        return DADM_E_NOMEM;
    size_t i;
    json_t *it;
    json_array_foreach(rows, i, it) public_view(it);
    *items = rows;
    return DADM_OK;
}

/* ---- Mails and audit -------------------------------------------------------- */

/* Mails every address of dadm.da_mail_to(da, who) ('site' or 'consultant'). */
static dadm_err mail(db *d, arena *a, int64_t da_id, int64_t etab_id, const char *who,
                     const char *subject, const char *body)
{
    const char *params[] = {id_text(a, da_id), who};
    dadm_err e = DADM_OK;
    PGresult *r = db_exec(d, a, "SELECT email FROM dadm.da_mail_to($1, $2)", 2, params, &e);
    if (!r)
        return e;
    for (int i = 0; i < PQntuples(r) && e == DADM_OK; i++)
        e = notify_mail(d, a, etab_id, PQgetvalue(r, i, 0), subject, body);
    return e;
}

static dadm_err audit(db *d, arena *a, const char *action, int64_t number, int64_t etab_id,
                      json_t *detail)
{
    char target[40];
    snprintf(target, sizeof(target), "da:%lld", (long long)number);
    dadm_err e = notify_audit(d, a, action, target, etab_id, detail);
    json_decref(detail);
    return e;
}

static const char signature[] = "\n-- \nLe service assistance de l'Amue\n";

/* ---- Filing ----------------------------------------------------------------- */

static const char *const file_keys[] = {"product",      "priority",    "domain",
                                        "title",        "description", "internal_ref",
                                        "message_code", "version",     NULL};

typedef struct {
    const char *product, *priority, *domain, *title, *description, *internal_ref, *message_code,
        *version;
} filing;

static const char *check_filing(arena *a, const json_t *body, filing *f)
{
    const char *m;
    if ((m = unknown_key(a, body, file_keys)))
        return m;
    if ((m = text_field(a, body, "product", "Le produit", 31, true, false, &f->product)))
        return m;
    if (!code_syntax_ok(f->product, 31))
        return "Le produit doit être désigné par son code (ex. apogee).";
    if ((m = text_field(a, body, "priority", "La priorité", 20, true, false, &f->priority)))
        return m;
    if (priority_parse(f->priority) < 0)
        return "La priorité doit être « bloquant » ou « non_bloquant ».";
    if ((m = text_field(a, body, "domain", "Le domaine", 41, true, false, &f->domain)))
        return m;
    if (!code_syntax_ok(f->domain, 41))
        return "Le domaine doit être désigné par son code (ex. inscriptions).";
    if ((m = text_field(a, body, "title", "L'intitulé", DA_TITLE_MAX, true, false, &f->title)))
        return m;
    if ((m = text_field(a, body, "description", "La description", DA_DESCRIPTION_MAX, true, true,
                        &f->description)))
        return m;
    if ((m = text_field(a, body, "version", "Le numéro de version", 31, true, false, &f->version)))
        return m;
    if (!util_version_label_ok(f->version))
        return "Le numéro de version n'a pas la forme d'une version (ex. 6.40.10).";
    if ((m = text_field(a, body, "internal_ref", "Le numéro interne", DA_INTERNAL_REF_MAX, false,
                        false, &f->internal_ref)))
        return m;
    if ((m = text_field(a, body, "message_code", "Le code du message", 60, false, false,
                        &f->message_code)))
        return m;
    if (f->message_code && !message_code_ok(f->message_code))
        return "Le code du message ne doit contenir ni espace ni « < » ni « > » (60 caractères "
               "au plus).";
    return NULL;
}

/* The supported versions of a product today, as "a, b". */
static dadm_err supported_list(db *d, arena *a, const char *product_id, bool *found,
                               const char *label, const char **list)
{
    const char *params[] = {product_id, label};
    dadm_err e = DADM_OK;
    PGresult *r = db_exec(d, a,
                          "SELECT coalesce(string_agg(s.label, ', ' ORDER BY s.delivered_on DESC),"
                          " ''), coalesce(bool_or(s.label = $2), false)"
                          " FROM dadm.supported_versions($1, (now() AT TIME ZONE"
                          " 'Europe/Paris')::date) s",
                          2, params, &e);
    if (!r)
        return e;
    *list = PQgetvalue(r, 0, 0);
    *found = strcmp(PQgetvalue(r, 0, 1), "t") == 0;
    return DADM_OK;
}

dadm_err da_file(db *d, arena *a, const auth_principal *who, const json_t *body, json_t **out,
                 const char **detail)
{
    *out = NULL;
    filing f = {0};
    const char *m = check_filing(a, body, &f);
    if (m)
        return fail(detail, DADM_E_INVALID, m);

    dadm_err e = DADM_OK;
    const char *pp[] = {f.product};
    PGresult *pr = db_exec(d, a, "SELECT id, name FROM dadm.product WHERE code = $1", 1, pp, &e);
    if (!pr)
        return e;
    if (PQntuples(pr) != 1)
        return fail(detail, DADM_E_INVALID, "Ce produit n'existe pas.");
    int64_t product_id = col_id(pr, "id");
    const char *product_name = col(pr, "name");
    if (!who->etab_id || !auth_has_role(who, AUTH_ROLE_CORRESPONDENT, who->etab_id, product_id))
        return fail(detail, DADM_E_FORBIDDEN,
                    "Seuls les correspondants de ce produit dans leur établissement déposent des "
                    "demandes d'assistance.");

    const char *dp[] = {col(pr, "id"), f.domain};
    PGresult *dr = db_exec(d, a,
                           "SELECT id, name, nature::text AS nature FROM dadm.domain"
                           " WHERE product_id = $1 AND code = $2",
                           2, dp, &e);
    if (!dr)
        return e;
    if (PQntuples(dr) != 1)
        return fail(
            detail, DADM_E_INVALID,
            arena_printf(a, "Le domaine « %s » n'existe pas pour %s.", f.domain, product_name));

    const char *ip[] = {id_text(a, who->etab_id), col(pr, "id")};
    PGresult *ir = db_exec(d, a,
                           "SELECT i.id, v.label FROM dadm.installation i"
                           " LEFT JOIN dadm.version v ON v.id = i.version_id"
                           " WHERE i.etab_id = $1 AND i.product_id = $2",
                           2, ip, &e);
    if (!ir)
        return e;
    if (PQntuples(ir) != 1 || !col(ir, "label"))
        return fail(detail, DADM_E_CONFLICT,
                    arena_printf(a,
                                 "Votre établissement n'a pas de version installée validée pour "
                                 "%s : déclarez-la (demande de modification « version ») avant de "
                                 "déposer une demande d'assistance.",
                                 product_name));
    int64_t installation_id = col_id(ir, "id");
    const char *validated = col(ir, "label");
    const char *pending = NULL;
    if ((e = tenant_change_pending_version(d, a, installation_id, &pending)) != DADM_OK)
        return e;
    if (pending)
        return fail(detail, DADM_E_CONFLICT,
                    arena_printf(a,
                                 "Un changement de la version installée (%s) attend la validation "
                                 "de l'Amue : vous pourrez déposer votre demande quand il aura "
                                 "été validé.",
                                 pending));
    if (strcmp(f.version, validated) != 0)
        return fail(detail, DADM_E_INVALID,
                    arena_printf(a,
                                 "La version indiquée (%s) n'est pas la version installée validée "
                                 "de votre établissement (%s).",
                                 f.version, validated));
    bool supported = false;
    const char *list = NULL;
    if ((e = supported_list(d, a, col(pr, "id"), &supported, validated, &list)) != DADM_OK)
        return e;
    if (!supported)
        return fail(detail, DADM_E_INVALID,
                    arena_printf(a,
                                 "La version %s de %s n'est plus maintenue : installez une version "
                                 "maintenue avant de déposer une demande. Versions maintenues : "
                                 "%s.",
                                 validated, product_name, *list ? list : "aucune"));

    /* The consultant in charge (NULL when the product has none). */
    const char *cp[] = {id_text(a, who->etab_id), col(pr, "id"), col(dr, "nature")};
    PGresult *cr = db_exec(d, a, "SELECT account_id, name FROM dadm.da_pick_consultant($1, $2, $3)",
                           3, cp, &e);
    if (!cr)
        return e;
    const char *consultant = PQntuples(cr) == 1 ? col(cr, "account_id") : NULL;
    const char *consultant_name = PQntuples(cr) == 1 ? col(cr, "name") : NULL;

    const char *params[] = {id_text(a, who->etab_id),
                            col(pr, "id"),
                            id_text(a, installation_id),
                            validated,
                            f.internal_ref,
                            f.priority,
                            col(dr, "id"),
                            col(dr, "nature"),
                            f.title,
                            f.description,
                            f.message_code,
                            id_text(a, who->account_id),
                            consultant};
    PGresult *ins = db_exec(
        d, a,
        "INSERT INTO dadm.da (etab_id, product_id, installation_id, version_label, internal_ref,"
        " priority, domain_id, nature, title, description, message_code, filer_id, consultant_id)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id, number",
        13, params, &e);
    if (!ins)
        return fail(detail, e,
                    e == DADM_E_INVALID ? "Une valeur de la demande est refusée." : NULL);
    const char *da_id = col(ins, "id");
    int64_t number = col_id(ins, "number");

    const char *ep[] = {id_text(a, who->etab_id), da_id, id_text(a, who->account_id), consultant};
    if (!db_exec(d, a,
                 "INSERT INTO dadm.da_event (etab_id, da_id, author_id, kind, from_status,"
                 " to_status) VALUES ($1, $2, $3, 'filed', 'NEW', 'ECT')",
                 3, ep, &e))
        return e;
    if (consultant &&
        !db_exec(d, a,
                 "INSERT INTO dadm.da_event (etab_id, da_id, author_id, kind, detail)"
                 " VALUES ($1, $2, $3, 'assignment', jsonb_build_object('consultant_id',"
                 " $4::bigint))",
                 4, ep, &e))
        return e;

    char *subject = arena_printf(a, "Accusé de réception de votre demande d'assistance n° %lld",
                                 (long long)number);
    GString *g = g_string_new("Bonjour,\n\n");
    g_string_append_printf(g,
                           "Votre demande d'assistance n° %lld « %s » (%s, version %s) a bien été "
                           "enregistrée. Elle est au statut ECT (en cours de traitement).\n\n",
                           (long long)number, f.title, product_name, validated);
    if (consultant_name && *consultant_name)
        g_string_append_printf(g, "Consultant de l'Amue en charge de votre demande : %s.\n",
                               consultant_name);
    else
        g_string_append(g, "L'attribution de votre demande à un consultant de l'Amue est en "
                           "cours.\n");
    g_string_append(g, "\nVous pouvez joindre des copies d'écran et compléter votre demande à tout "
                       "moment depuis l'espace des correspondants.\n");
    g_string_append(g, signature);
    char *text = take_text(a, g);
    if (!subject || !text)
        return DADM_E_NOMEM;
    if (who->email && (e = notify_mail(d, a, who->etab_id, who->email, subject, text)) != DADM_OK)
        return e;
    json_t *ad = json_pack("{s:s, s:s, s:s, s:s}", "product", f.product, "domain", f.domain,
                           "priority", f.priority, "version", validated);
    if (!ad)
        return DADM_E_NOMEM;
    if (consultant)
        json_object_set_new(ad, "consultant_id", json_integer(strtoll(consultant, NULL, 10)));
    if ((e = audit(d, a, "da.file", number, who->etab_id, ad)) != DADM_OK)
        return e;
    return da_get(d, a, who, number, out);
}

/* ---- Actions ---------------------------------------------------------------- */

/* The locked DA, as the actions need it. */
typedef struct {
    const char *id, *title, *product_id, *domain_id, *domain, *priority, *nature;
    int64_t number, etab_id, contractor_id;
    da_status status;
    da_sub sub;
    int actor;
} locked;

static dadm_err lock_da(db *d, arena *a, const auth_principal *who, int64_t number, locked *l)
{
    memset(l, 0, sizeof(*l));
    const char *params[] = {id_text(a, number)};
    dadm_err e = DADM_OK;
    /* Locks the row first, then reads what the actions need. */
    PGresult *r = db_exec(d, a,
                          "SELECT d.id, d.number, d.etab_id, d.product_id, d.contractor_id,"
                          " d.status::text AS status, d.sub_status, d.title, d.domain_id,"
                          " d.priority::text AS priority, d.nature::text AS nature"
                          " FROM dadm.da d WHERE d.number = $1 FOR UPDATE",
                          1, params, &e);
    if (!r)
        return e;
    if (PQntuples(r) != 1)
        return DADM_E_NOT_FOUND;
    l->id = col(r, "id");
    l->number = number;
    l->etab_id = col_id(r, "etab_id");
    l->product_id = col(r, "product_id");
    l->contractor_id = col_id(r, "contractor_id");
    l->title = col(r, "title");
    l->domain_id = col(r, "domain_id");
    l->priority = col(r, "priority");
    l->nature = col(r, "nature");
    int s = da_status_parse(col(r, "status"));
    int sub = da_sub_parse(col(r, "sub_status"));
    if (s < 0 || sub < 0)
        return DADM_E_INTERNAL;
    l->status = (da_status)s;
    l->sub = (da_sub)sub;
    l->actor = actor_of(who, l->etab_id, col_id(r, "product_id"), l->contractor_id);
    if (l->actor < 0)
        return DADM_E_NOT_FOUND;
    const char *dp[] = {l->domain_id};
    PGresult *dr = db_exec(d, a, "SELECT code FROM dadm.domain WHERE id = $1", 1, dp, &e);
    if (!dr)
        return e;
    l->domain = PQntuples(dr) == 1 ? col(dr, "code") : "";
    return DADM_OK;
}

static const char *status_text(arena *a, da_status s, da_sub sub)
{
    if (sub != DA_SUB_NONE)
        return arena_printf(a, "%s %s (%s)", da_status_name(s), da_sub_name(sub),
                            da_status_label(s));
    return arena_printf(a, "%s (%s)", da_status_name(s), da_status_label(s));
}

static dadm_err not_now(arena *a, const locked *l, const char **detail)
{
    return fail(detail, DADM_E_CONFLICT,
                arena_printf(a,
                             "Cette action n'est pas possible : la demande d'assistance n° %lld "
                             "est au statut %s.",
                             (long long)l->number, status_text(a, l->status, l->sub)));
}

static const char *refusal_text(da_actor actor)
{
    switch (actor) {
    case DA_ACTOR_SITE:
        return "Les correspondants ne peuvent pas faire cette action sur une demande "
               "d'assistance.";
    case DA_ACTOR_AGENCY:
        return "Les consultants de l'Amue ne peuvent pas faire cette action sur une demande "
               "d'assistance.";
    case DA_ACTOR_CONTRACTOR:
        return "Les consultants du prestataire ne peuvent pas faire cette action sur une "
               "demande d'assistance.";
    case DA_ACTOR_SYSTEM:
    case DA_ACTOR_COUNT:
        break;
    }
    return "Action refusée.";
}

/* What an action writes. */
typedef struct {
    da_action action;    /* when moving */
    const da_move *move; /* NULL: no move */
    const char *kind;    /* event kind */
    const char *body;    /* event body */
    const char *motive;  /* kept on the DA (EXC, REJ) */
    bool internal, publish;
    const char *contractor_id; /* externalisation */
    json_t *detail;            /* event detail, owned here */
} effect;

/* Updates the DA and writes its event. */
static dadm_err apply(db *d, arena *a, const auth_principal *who, const locked *l, effect *fx)
{
    dadm_err e = DADM_OK;
    const char *to = fx->move ? da_status_name(fx->move->to) : NULL;
    const char *to_sub = fx->move ? da_sub_name(fx->move->to_sub) : NULL;
    const char *closed = fx->move && da_status_closed(fx->move->to) ? "true" : "false";
    const char *up[] = {
        l->id, to, to_sub, closed, fx->publish ? "true" : "false", fx->motive, fx->contractor_id};
    if (!db_exec(d, a,
                 "UPDATE dadm.da SET updated_at = now(),"
                 " status = coalesce($2::dadm.da_status, status),"
                 " sub_status = CASE WHEN $2 IS NULL THEN sub_status ELSE $3 END,"
                 " status_since = CASE WHEN $2 IS NULL THEN status_since ELSE now() END,"
                 " reminded_at = CASE WHEN $2 IS NULL THEN reminded_at END,"
                 " closed_at = CASE WHEN $4::boolean THEN now() ELSE closed_at END,"
                 " published = published OR $5::boolean,"
                 " motive = coalesce($6, motive),"
                 " contractor_id = coalesce($7::bigint, contractor_id)"
                 " WHERE id = $1",
                 7, up, &e))
        return e;
    char *detail_text = fx->detail ? json_dumps(fx->detail, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    if (fx->detail && !detail_text)
        return DADM_E_NOMEM;
    const char *ev[] = {id_text(a, l->etab_id),
                        l->id,
                        id_text(a, who->account_id),
                        fx->kind,
                        fx->move ? da_status_name(l->status) : NULL,
                        to,
                        fx->move ? da_sub_name(l->sub) : NULL,
                        to_sub,
                        fx->body,
                        fx->internal ? "true" : "false",
                        detail_text};
    PGresult *r = db_exec(d, a,
                          "INSERT INTO dadm.da_event (etab_id, da_id, author_id, kind, from_status,"
                          " to_status, from_sub, to_sub, body, internal, detail)"
                          " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10,"
                          " coalesce($11::jsonb, '{}'))",
                          11, ev, &e);
    free(detail_text);
    return r ? DADM_OK : e;
}

/* Mails of an action: the site for questions, solutions, requalifications
 * and closures; the consultant in charge for the site's answers,
 * complements and refusals and for a contractor's solution. */
static dadm_err mails(db *d, arena *a, const auth_principal *who, const locked *l, da_op op,
                      const effect *fx)
{
    const char *target = NULL, *subject = NULL;
    GString *g = g_string_new("Bonjour,\n\n");
    long long n = (long long)l->number;
    if (op == DA_OP_QUESTION) {
        target = "site";
        subject = arena_printf(a, "Demande d'assistance n° %lld : une question vous est posée", n);
        g_string_append_printf(g,
                               "Le service assistance vous pose une question sur votre demande "
                               "n° %lld « %s » (statut ARS) :\n\n%s\n\nRépondez depuis l'espace "
                               "des correspondants. Sans réponse sous 5 jours ouvrés, une relance "
                               "vous sera envoyée ; 5 jours ouvrés plus tard, la demande sera "
                               "clôturée.\n",
                               n, l->title, fx->body);
    } else if (op == DA_OP_SOLUTION && fx->move->to == DA_AVS) {
        target = "site";
        subject =
            arena_printf(a, "Demande d'assistance n° %lld : une réponse vous est proposée", n);
        g_string_append_printf(g,
                               "Une réponse a été apportée à votre demande n° %lld « %s » "
                               "(statut AVS) :\n\n%s\n\nValidez-la ou refusez-la en indiquant "
                               "le motif depuis l'espace des correspondants, sous 5 jours "
                               "ouvrés.\n",
                               n, l->title, fx->body ? fx->body : "");
    } else if (op == DA_OP_REQUALIFICATION) {
        target = "site";
        subject = arena_printf(a, "Demande d'assistance n° %lld : requalification", n);
        const json_t *b = json_object_get(fx->detail, "before");
        const json_t *af = json_object_get(fx->detail, "after");
        g_string_append_printf(g, "Votre demande n° %lld « %s » a été requalifiée par l'Amue :\n",
                               n, l->title);
        const char *fields[][2] = {
            {"priority", "Priorité"}, {"domain", "Domaine"}, {"nature", "Nature"}};
        for (size_t i = 0; i < 3; i++) {
            const char *x = json_string_value(json_object_get(b, fields[i][0]));
            const char *y = json_string_value(json_object_get(af, fields[i][0]));
            if (x && y && strcmp(x, y) != 0)
                g_string_append_printf(g, "- %s : %s → %s\n", fields[i][1], x, y);
        }
        if (fx->body)
            g_string_append_printf(g, "\nCommentaire : %s\n", fx->body);
    } else if (fx->move && da_status_closed(fx->move->to)) {
        target = "site";
        subject = arena_printf(a, "Demande d'assistance n° %lld clôturée (%s)", n,
                               da_status_name(fx->move->to));
        g_string_append_printf(g, "Votre demande n° %lld « %s » est clôturée au statut %s.\n", n,
                               l->title, status_text(a, fx->move->to, DA_SUB_NONE));
        if (fx->publish)
            g_string_append(g, "La solution validée rejoint la base de connaissance.\n");
        if (fx->motive)
            g_string_append_printf(g, "\nMotif : %s\n", fx->motive);
    } else if (op == DA_OP_ANSWER || op == DA_OP_COMPLEMENT || op == DA_OP_REFUSAL ||
               (op == DA_OP_SOLUTION && fx->move->to == DA_AVA)) {
        target = "consultant";
        const char *what = op == DA_OP_ANSWER       ? "une réponse du site"
                           : op == DA_OP_COMPLEMENT ? "un complément du site"
                           : op == DA_OP_REFUSAL    ? "le refus motivé de la solution par le site"
                                                    : "une solution du prestataire à valider";
        subject = arena_printf(a, "Demande d'assistance n° %lld : %s", n, what);
        g_string_append_printf(g, "La demande n° %lld « %s » a reçu %s (%s %s) :\n\n%s\n", n,
                               l->title, what, who->given_name ? who->given_name : "",
                               who->family_name ? who->family_name : "", fx->body ? fx->body : "");
    }
    g_string_append(g, signature);
    char *body = take_text(a, g);
    if (!target)
        return DADM_OK;
    if (!subject || !body)
        return DADM_E_NOMEM;
    return mail(d, a, strtoll(l->id, NULL, 10), l->etab_id, target, subject, body);
}

static const char *const keys_body[] = {"body", NULL};
static const char *const keys_refusal[] = {"motive", NULL};
static const char *const keys_move[] = {"status", "sub_status", "body", "motive", NULL};
static const char *const keys_requalify[] = {"priority", "domain", "body", NULL};
static const char *const keys_externalise[] = {"contractor", "body", NULL};

/* Which action of the table an operation is, and who alone may do the
 * operations outside the table. */
static const struct {
    const char *name; /* audit action */
    da_action action; /* DA_ACTION_COUNT: not a move */
    const char *const *keys;
} ops[DA_OP_COUNT] = {
    [DA_OP_COMPLEMENT] = {"da.complement", DA_ACTION_COUNT, keys_body},
    [DA_OP_QUESTION] = {"da.question", DA_ACTION_QUESTION, keys_body},
    [DA_OP_ANSWER] = {"da.answer", DA_ACTION_ANSWER, keys_body},
    [DA_OP_SOLUTION] = {"da.solution", DA_ACTION_SOLUTION, keys_body},
    [DA_OP_VALIDATION] = {"da.validation", DA_ACTION_VALIDATION, keys_body},
    [DA_OP_REFUSAL] = {"da.refusal", DA_ACTION_REFUSAL, keys_refusal},
    [DA_OP_NOTE] = {"da.internal_note", DA_ACTION_COUNT, keys_body},
    [DA_OP_MOVE] = {"da.move", DA_ACTION_STATUS, keys_move},
    [DA_OP_REQUALIFICATION] = {"da.requalification", DA_ACTION_COUNT, keys_requalify},
    [DA_OP_EXTERNALISATION] = {"da.externalisation", DA_ACTION_EXTERNALISATION, keys_externalise},
};

/* The contractor's last solution text (what the agency forwards when it
 * gives none of its own). */
static dadm_err last_solution(db *d, arena *a, const locked *l, const char **body)
{
    const char *params[] = {l->id};
    dadm_err e = DADM_OK;
    PGresult *r = db_exec(d, a,
                          "SELECT body FROM dadm.da_event WHERE da_id = $1 AND kind = 'solution'"
                          " AND to_status = 'AVA' ORDER BY at DESC, id DESC LIMIT 1",
                          1, params, &e);
    if (!r)
        return e;
    *body = PQntuples(r) == 1 ? col(r, "body") : NULL;
    return DADM_OK;
}

static dadm_err requalify(db *d, arena *a, const json_t *body, const locked *l, effect *fx,
                          const char **detail)
{
    const char *priority = NULL, *domain = NULL, *m;
    if ((m = text_field(a, body, "priority", "La priorité", 20, false, false, &priority)) ||
        (m = text_field(a, body, "domain", "Le domaine", 41, false, false, &domain)))
        return fail(detail, DADM_E_INVALID, m);
    if (!priority && !domain)
        return fail(detail, DADM_E_INVALID,
                    "Indiquez la nouvelle priorité, le nouveau domaine, ou les deux.");
    if (priority && priority_parse(priority) < 0)
        return fail(detail, DADM_E_INVALID,
                    "La priorité doit être « bloquant » ou « non_bloquant ».");
    const char *domain_id = l->domain_id, *nature = l->nature, *code = l->domain;
    dadm_err e = DADM_OK;
    if (domain) {
        const char *p[] = {l->product_id, domain};
        PGresult *r = db_exec(d, a,
                              "SELECT id, code, nature::text AS nature FROM dadm.domain"
                              " WHERE product_id = $1 AND code = $2",
                              2, p, &e);
        if (!r)
            return e;
        if (PQntuples(r) != 1)
            return fail(detail, DADM_E_INVALID,
                        "Ce domaine n'existe pas pour le produit de la demande.");
        domain_id = col(r, "id");
        nature = col(r, "nature");
        code = col(r, "code");
    }
    if (!priority)
        priority = l->priority;
    if (strcmp(priority, l->priority) == 0 && strcmp(domain_id, l->domain_id) == 0)
        return fail(detail, DADM_E_INVALID,
                    "La priorité et le domaine indiqués sont ceux de la demande : rien à "
                    "requalifier.");
    const char *p[] = {l->id, priority, domain_id, nature};
    if (!db_exec(d, a,
                 "UPDATE dadm.da SET priority = $2, domain_id = $3, nature = $4 WHERE id = $1", 4,
                 p, &e))
        return e;
    fx->detail = json_pack("{s:{s:s, s:s, s:s}, s:{s:s, s:s, s:s}}", "before", "priority",
                           l->priority, "domain", l->domain, "nature", l->nature, "after",
                           "priority", priority, "domain", code, "nature", nature);
    return fx->detail ? DADM_OK : DADM_E_NOMEM;
}

static dadm_err externalise(db *d, arena *a, const json_t *body, const locked *l, effect *fx,
                            const char **detail)
{
    const json_t *c = json_object_get(body, "contractor");
    if (!json_is_integer(c) || json_integer_value(c) <= 0)
        return fail(detail, DADM_E_INVALID,
                    "Le prestataire (contractor) est obligatoire : son identifiant.");
    const char *p[] = {id_text(a, json_integer_value(c)), l->product_id};
    dadm_err e = DADM_OK;
    PGresult *r = db_exec(d, a,
                          "SELECT k.name FROM dadm.contractor k WHERE k.id = $1 AND EXISTS"
                          " (SELECT 1 FROM dadm.\"grant\" g JOIN dadm.account ac"
                          " ON ac.id = g.account_id AND ac.status = 'active'"
                          " WHERE g.role = 'contractor_consultant' AND g.contractor_id = k.id"
                          " AND g.product_id = $2)",
                          2, p, &e);
    if (!r)
        return e;
    if (PQntuples(r) != 1)
        return fail(detail, DADM_E_INVALID,
                    "Ce prestataire n'existe pas ou n'a aucun consultant pour le produit de la "
                    "demande.");
    fx->contractor_id = p[0];
    fx->detail = json_pack("{s:I, s:s}", "contractor_id", (json_int_t)json_integer_value(c),
                           "contractor", col(r, "name"));
    return fx->detail ? DADM_OK : DADM_E_NOMEM;
}

/* Reads the body fields of op and finds the move; fills fx. */
static dadm_err plan(db *d, arena *a, const json_t *body, da_op op, const locked *l, effect *fx,
                     const char **detail)
{
    da_actor actor = (da_actor)l->actor;
    /* Who may act comes first; the fields are checked once the action is
     * possible. */
    const char *unknown = unknown_key(a, body, ops[op].keys), *m;
    fx->kind = op == DA_OP_NOTE ? "internal_note" : da_action_name(ops[op].action);

    /* Outside the table: who alone may, on an open DA (notes: always). */
    if (ops[op].action == DA_ACTION_COUNT) {
        da_actor only = op == DA_OP_COMPLEMENT ? DA_ACTOR_SITE : DA_ACTOR_AGENCY;
        if (actor != only)
            return fail(detail, DADM_E_FORBIDDEN, refusal_text(actor));
        if (op != DA_OP_NOTE && da_status_closed(l->status))
            return not_now(a, l, detail);
        if (unknown)
            return fail(detail, DADM_E_INVALID, unknown);
        if (op == DA_OP_COMPLEMENT || op == DA_OP_NOTE) {
            fx->kind = op == DA_OP_NOTE ? "internal_note" : "complement";
            fx->internal = op == DA_OP_NOTE;
            m = text_field(a, body, "body", "Le texte", DA_BODY_MAX, true, true, &fx->body);
            return m ? fail(detail, DADM_E_INVALID, m) : DADM_OK;
        }
        fx->kind = "requalification";
        m = text_field(a, body, "body", "Le commentaire", DA_BODY_MAX, false, true, &fx->body);
        if (m)
            return fail(detail, DADM_E_INVALID, m);
        return requalify(d, a, body, l, fx, detail);
    }

    if (!da_lifecycle_actor_may(actor, ops[op].action))
        return fail(detail, DADM_E_FORBIDDEN, refusal_text(actor));
    fx->action = ops[op].action;
    if (op == DA_OP_MOVE) {
        if (unknown)
            return fail(detail, DADM_E_INVALID, unknown);
        const char *to = NULL, *to_sub = NULL;
        if ((m = text_field(a, body, "status", "Le statut", 10, true, false, &to)) ||
            (m = text_field(a, body, "sub_status", "Le sous-statut", 10, false, false, &to_sub)))
            return fail(detail, DADM_E_INVALID, m);
        int s = da_status_parse(to), sub = da_sub_parse(to_sub);
        if (s < 0)
            return fail(detail, DADM_E_INVALID, "Ce statut n'existe pas.");
        if (sub < 0 || !da_sub_valid((da_status)s, (da_sub)sub))
            return fail(detail, DADM_E_INVALID,
                        "Ce sous-statut n'existe pas pour ce statut (DEV : INI, EC, SUS ou CLO ; "
                        "PEC : INI, TND ou CLO ; CTR : EC ou CLO ; aucun pour les autres).");
        fx->move = da_lifecycle_find(actor, DA_ACTION_STATUS, l->status, l->sub, (da_status)s,
                                     (da_sub)sub);
        if (!fx->move)
            return not_now(a, l, detail);
        if ((m = text_field(a, body, "body", "Le commentaire", DA_BODY_MAX, false, true,
                            &fx->body)) ||
            (m = text_field(a, body, "motive", "Le motif", DA_MOTIVE_MAX, false, true,
                            &fx->motive)))
            return fail(detail, DADM_E_INVALID, m);
        if ((s == DA_EXC || s == DA_REJ) && !fx->motive)
            return fail(detail, DADM_E_INVALID,
                        "Le motif est obligatoire pour exclure ou rejeter "
                        "une demande.");
        if (fx->motive && s != DA_EXC && s != DA_REJ)
            return fail(detail, DADM_E_INVALID,
                        "Un motif ne s'indique que pour exclure (EXC) ou rejeter (REJ).");
        return DADM_OK;
    }

    fx->move = da_lifecycle_target(actor, ops[op].action, l->status, l->sub);
    if (!fx->move)
        return not_now(a, l, detail);
    if (unknown)
        return fail(detail, DADM_E_INVALID, unknown);
    switch (op) {
    case DA_OP_REFUSAL:
        m = text_field(a, body, "motive", "Le motif du refus", DA_MOTIVE_MAX, true, true,
                       &fx->body);
        break;
    case DA_OP_VALIDATION:
        fx->publish = true;
        m = text_field(a, body, "body", "Le commentaire", DA_BODY_MAX, false, true, &fx->body);
        break;
    case DA_OP_EXTERNALISATION:
        m = text_field(a, body, "body", "Le commentaire", DA_BODY_MAX, false, true, &fx->body);
        if (!m)
            return externalise(d, a, body, l, fx, detail);
        break;
    case DA_OP_SOLUTION:
        /* Forwarding a contractor's solution may reuse its text. */
        m = text_field(a, body, "body", "La solution", DA_BODY_MAX, l->status != DA_AVA, true,
                       &fx->body);
        if (!m && !fx->body) {
            dadm_err e = last_solution(d, a, l, &fx->body);
            if (e != DADM_OK)
                return e;
            if (!fx->body)
                m = "La solution est obligatoire.";
        }
        break;
    default:
        m = text_field(a, body, "body", "Le texte", DA_BODY_MAX, true, true, &fx->body);
        break;
    }
    return m ? fail(detail, DADM_E_INVALID, m) : DADM_OK;
}

dadm_err da_act(db *d, arena *a, const auth_principal *who, int64_t number, da_op op,
                const json_t *body, json_t **out, const char **detail)
{
    *out = NULL;
    if ((unsigned)op >= DA_OP_COUNT)
        return DADM_E_INTERNAL;
    locked l;
    dadm_err e = lock_da(d, a, who, number, &l);
    if (e != DADM_OK)
        return e == DADM_E_NOT_FOUND ? fail(detail, e, da_not_found) : e;
    effect fx = {0};
    if ((e = plan(d, a, body, op, &l, &fx, detail)) != DADM_OK)
        goto out;
    if ((e = apply(d, a, who, &l, &fx)) != DADM_OK)
        goto out;
    if ((e = mails(d, a, who, &l, op, &fx)) != DADM_OK)
        goto out;
    json_t *ad = json_pack("{s:s}", "actor", da_actor_name((da_actor)l.actor));
    if (!ad) {
        e = DADM_E_NOMEM;
        goto out;
    }
    if (fx.move) {
        json_object_set_new(ad, "from", json_string(status_text(a, l.status, l.sub)));
        json_object_set_new(ad, "to", json_string(status_text(a, fx.move->to, fx.move->to_sub)));
    }
    if (fx.detail)
        json_object_set(ad, "detail", fx.detail);
    if ((e = audit(d, a, ops[op].name, number, l.etab_id, ad)) != DADM_OK)
        goto out;
    e = da_get(d, a, who, number, out);
out:
    json_decref(fx.detail);
    return e;
}
