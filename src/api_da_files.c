/* Attachments of assistance requests (DA) and the production-access
 * consents asked on them (télé-service installations).
 *
 * A DA is named by its number. One the caller may not see is "not found",
 * never "forbidden", so its existence does not leak. Who sees a DA: the
 * correspondents of its establishment for its product, the agency's
 * consultants of the product, the consultants of the contractor it is
 * externalised to (for that product); row-level security applies the same
 * rule (0009_da.sql), checked here a second time. Whoever sees a DA that is
 * not closed may attach files to it. */
#include "api.h"

#include <stdio.h>
#include <string.h>

#include "attach_name.h"
#include "clamd.h"
#include "db_json.h"
#include "log.h"
#include "multipart.h"
#include "notify.h"
#include "server_private.h"
#include "sniff.h"
#include "util.h"

/* At most this many parts in an upload: one file and a few form fields. */
#define UPLOAD_MAX_PARTS 8
/* Longest reason of a consent request or motive of a refusal. */
#define CONSENT_TEXT_MAX 4000
/* Longest production-access window a correspondent may grant. */
#define CONSENT_MAX_DAYS 30

static const char da_not_found[] = "Demande d'assistance introuvable.";
static const char consent_not_found[] = "Demande d'accord introuvable.";

typedef struct {
    int64_t id, number, etab_id, product_id, contractor_id, filer_id;
    bool closed;
    const char *mode; /* installation mode, NULL when the caller cannot read it */
    const char *title;
} da_ref;

/* The C side of the DA visibility rule (see the file comment). */
static bool may_see_da(const auth_principal *p, const da_ref *da)
{
    if (auth_has_role(p, AUTH_ROLE_CORRESPONDENT, da->etab_id, da->product_id) ||
        auth_has_role(p, AUTH_ROLE_CONSULTANT, 0, da->product_id))
        return true;
    if (!p || p->level != AUTH_LEVEL_PERSON || !da->contractor_id)
        return false;
    for (size_t i = 0; i < p->n_grants; i++) {
        const auth_grant *g = &p->grants[i];
        if (g->role == AUTH_ROLE_CONTRACTOR_CONSULTANT && g->contractor_id == da->contractor_id &&
            g->product_id == da->product_id)
            return true;
    }
    return false;
}

static const char *i64s(arena *a, int64_t v)
{
    return arena_printf(a, "%lld", (long long)v);
}

/* Reads the DA of path capture 0 for a level-2 caller who sees it. */
static dadm_err load_da(http_req *r, da_ref *da)
{
    dadm_err e = http_require_person(r);
    if (e != DADM_OK)
        return e;
    int64_t number;
    if (!r->params[0] || !util_parse_i64(r->params[0], &number) || number <= 0)
        return http_fail(r, DADM_E_NOT_FOUND, da_not_found);
    const char *p[] = {i64s(r->a, number)};
    if (!p[0])
        return DADM_E_NOMEM;
    PGresult *res =
        db_exec(r->db, r->a,
                "SELECT d.id, d.etab_id, d.product_id, d.contractor_id, d.filer_id,"
                " d.closed_at IS NOT NULL, (SELECT i.mode::text FROM dadm.installation i"
                " WHERE i.etab_id = d.etab_id AND i.id = d.installation_id), d.title"
                " FROM dadm.da d WHERE d.number = $1",
                1, p, &e);
    if (!res)
        return e;
    if (PQntuples(res) != 1)
        return http_fail(r, DADM_E_NOT_FOUND, da_not_found);
    *da = (da_ref){
        .id = db_i64(res, 0, 0),
        .number = number,
        .etab_id = db_i64(res, 0, 1),
        .product_id = db_i64(res, 0, 2),
        .contractor_id = db_i64(res, 0, 3),
        .filer_id = db_i64(res, 0, 4),
        .closed = strcmp(PQgetvalue(res, 0, 5), "t") == 0,
        .mode = PQgetisnull(res, 0, 6) ? NULL : PQgetvalue(res, 0, 6),
        .title = PQgetvalue(res, 0, 7),
    };
    if (!may_see_da(r->who, da))
        return http_fail(r, DADM_E_NOT_FOUND, da_not_found);
    return DADM_OK;
}

/* ---- attachments ---- */

#define ATTACHMENT_JSON                                                                            \
    "jsonb_build_object('id', f.id, 'name', f.name, 'content_type', f.content_type,"               \
    " 'size', f.size, 'sha256', encode(f.sha256, 'hex'), 'uploader', jsonb_build_object('id',"     \
    " f.uploader_id, 'name', (SELECT p.name FROM dadm.da_party(f.da_id, f.uploader_id) p)),"       \
    " 'created_at', f.created_at)"

/* Reads the one `file` part of a multipart/form-data body. */
static dadm_err upload_part(http_req *r, const multipart_part **file)
{
    char boundary[MULTIPART_MAX_BOUNDARY + 1];
    multipart_status s = multipart_boundary(http_request_header(r, "Content-Type"), boundary);
    if (s == MULTIPART_E_NOT_MULTIPART)
        return http_fail(r, DADM_E_UNSUPPORTED_TYPE,
                         "Envoyez le fichier en multipart/form-data, dans un champ nommé "
                         "« file ».");
    multipart_part *parts = arena_alloc(r->a, sizeof(*parts) * UPLOAD_MAX_PARTS);
    if (!parts)
        return DADM_E_NOMEM;
    size_t n = 0;
    if (s == MULTIPART_OK)
        s = multipart_parse(r->body ? r->body : "", r->body_len, boundary, parts, UPLOAD_MAX_PARTS,
                            &n);
    if (s != MULTIPART_OK) {
        log_kv(LOG_INFO, "da.upload_malformed", "rid", r->rid, "reason", multipart_status_name(s),
               NULL);
        return http_fail(r, DADM_E_BAD_REQUEST,
                         "Le contenu multipart/form-data est mal formé (délimiteurs, en-têtes des "
                         "parties ou fin du message).");
    }
    *file = multipart_find(parts, n, "file");
    if (!*file || !(*file)->has_filename)
        return http_fail(r, DADM_E_INVALID,
                         "Le fichier manque : joignez-le dans un champ nommé « file » (avec un "
                         "nom de fichier).");
    return DADM_OK;
}

/* The clamd verdict on the file, when a scanner is configured. An infected
 * file is refused with an audit row (the transaction commits it, and
 * nothing else); an unreachable scanner gives 503: no file is stored
 * unscanned once a scanner is configured. */
static dadm_err scan(http_req *r, const da_ref *da, const multipart_part *f, const char *name,
                     const char *sha)
{
    const server_settings *set = &r->srv->set;
    if (!set->clamd_address)
        return DADM_OK;
    char detail[256];
    clamd_verdict v =
        clamd_scan(set->clamd_address, set->clamd_timeout, f->data, f->len, detail, sizeof(detail));
    if (v == CLAMD_CLEAN)
        return DADM_OK;
    if (v == CLAMD_ERROR) {
        log_kv(LOG_ERROR, "clamd.error", "rid", r->rid, "detail", detail, NULL);
        r->retry_after = 30;
        return http_fail(r, DADM_E_UNAVAILABLE,
                         "L'analyse antivirus des pièces jointes est momentanément "
                         "indisponible ; réessayez dans quelques minutes.");
    }
    log_kv(LOG_WARN, "da.attachment_infected", "rid", r->rid, "signature", detail, NULL);
    json_t *aud = db_json_own(
        r->a, json_pack("{s:I, s:s, s:I, s:s, s:s}", "number", (json_int_t)da->number, "name", name,
                        "size", (json_int_t)f->len, "sha256", sha, "signature", detail));
    if (!aud)
        return DADM_E_NOMEM;
    dadm_err e =
        notify_audit(r->db, r->a, "da.attachment.infected",
                     arena_printf(r->a, "da:%lld", (long long)da->number), da->etab_id, aud);
    if (e != DADM_OK)
        return e;
    return http_refuse(r, DADM_E_INVALID,
                       "Ce fichier est refusé : l'analyse antivirus y a détecté un contenu "
                       "malveillant. Il n'a pas été enregistré.",
                       0);
}

dadm_err api_da_attachment_upload(http_req *r)
{
    da_ref da;
    dadm_err e = load_da(r, &da);
    if (e != DADM_OK)
        return e;
    if (da.closed)
        return http_fail(r, DADM_E_CONFLICT,
                         "Cette demande d'assistance est close : on ne peut plus y joindre de "
                         "fichier.");
    const multipart_part *f = NULL;
    if ((e = upload_part(r, &f)) != DADM_OK)
        return e;
    const server_settings *set = &r->srv->set;
    if (f->len > set->attachment_max_bytes)
        return http_fail(r, DADM_E_TOO_LARGE,
                         arena_printf(r->a,
                                      "Le fichier dépasse la taille maximale autorisée pour une "
                                      "pièce jointe (%zu octets).",
                                      set->attachment_max_bytes));
    if (f->len == 0)
        return http_fail(r, DADM_E_INVALID, "Le fichier est vide.");
    /* The type comes from the bytes; the part's declared type is ignored. */
    sniff_result t = sniff_detect((const unsigned char *)f->data, f->len, f->filename);
    if (t.verdict != SNIFF_ACCEPTED)
        return http_fail(r, DADM_E_UNSUPPORTED_TYPE,
                         arena_printf(r->a,
                                      "Ce type de fichier n'est pas accepté%s. Types acceptés : "
                                      "%s.",
                                      t.verdict == SNIFF_EXECUTABLE ? " (programme ou script)"
                                      : t.verdict == SNIFF_MARKUP
                                          ? " (page HTML, SVG, XML ou script)"
                                          : "",
                                      sniff_accepted_fr));
    char *name = arena_alloc(r->a, ATTACH_NAME_MAX + 1);
    char sha[65];
    if (!name)
        return DADM_E_NOMEM;
    attach_name_sanitise(f->filename, t.exts, name);
    util_sha256_hex(sha, f->data, f->len);
    if ((e = scan(r, &da, f, name, sha)) != DADM_OK)
        return e;

    const char *me = i64s(r->a, r->who->account_id), *etab = i64s(r->a, da.etab_id),
               *daid = i64s(r->a, da.id), *size = arena_printf(r->a, "%zu", f->len);
    if (!me || !etab || !daid || !size)
        return DADM_E_NOMEM;
    const char *ins[] = {etab, daid, name, t.mime, size, sha, f->data, me};
    int lengths[] = {0, 0, 0, 0, 0, 0, (int)f->len, 0};
    int formats[] = {0, 0, 0, 0, 0, 0, 1, 0};
    PGresult *res = db_exec_bin(
        r->db, r->a,
        "INSERT INTO dadm.da_attachment (etab_id, da_id, name, content_type, size, sha256,"
        " content, uploader_id) VALUES ($1, $2, $3, $4, $5, decode($6, 'hex'), $7, $8)"
        " RETURNING id",
        8, ins, lengths, formats, 0, &e);
    if (!res)
        return e;
    const char *id = PQgetvalue(res, 0, 0);
    const char *ev[] = {etab, daid, me, id, name, size, t.mime, sha};
    if (!db_exec(r->db, r->a,
                 "INSERT INTO dadm.da_event (etab_id, da_id, author_id, kind, detail)"
                 " VALUES ($1, $2, $3, 'attachment', jsonb_build_object('attachment_id',"
                 " $4::bigint, 'name', $5::text, 'size', $6::bigint, 'content_type', $7::text,"
                 " 'sha256', $8::text))",
                 8, ev, &e))
        return e;
    const char *touch[] = {daid};
    if (!db_exec(r->db, r->a, "UPDATE dadm.da SET updated_at = now() WHERE id = $1", 1, touch, &e))
        return e;
    json_t *aud = db_json_own(
        r->a, json_pack("{s:I, s:I, s:s, s:I, s:s, s:s}", "number", (json_int_t)da.number,
                        "attachment_id", (json_int_t)db_i64(res, 0, 0), "name", name, "size",
                        (json_int_t)f->len, "content_type", t.mime, "sha256", sha));
    if (!aud)
        return DADM_E_NOMEM;
    if ((e = notify_audit(r->db, r->a, "da.attachment.add",
                          arena_printf(r->a, "da:%lld", (long long)da.number), da.etab_id, aud)) !=
        DADM_OK)
        return e;
    const char *sel[] = {id};
    PGresult *out =
        db_exec(r->db, r->a, "SELECT " ATTACHMENT_JSON " FROM dadm.da_attachment f WHERE f.id = $1",
                1, sel, &e);
    if (!out)
        return e;
    if ((e = http_add_header(r, "Location",
                             arena_printf(r->a, "/api/v1/das/%lld/attachments/%s",
                                          (long long)da.number, id))) != DADM_OK)
        return e;
    log_kv(LOG_INFO, "da.attachment_added", "rid", r->rid, "id", id, "type", t.mime, "size", size,
           NULL);
    return http_reply_json(r, 201, json_loads(PQgetvalue(out, 0, 0), 0, NULL));
}

dadm_err api_da_attachments_list(http_req *r)
{
    da_ref da;
    long limit, offset;
    dadm_err e = load_da(r, &da);
    if (e != DADM_OK || (e = http_page(r, &limit, &offset)) != DADM_OK)
        return e;
    const char *p[] = {i64s(r->a, da.id), arena_printf(r->a, "%ld", limit),
                       arena_printf(r->a, "%ld", offset)};
    if (!p[0] || !p[1] || !p[2])
        return DADM_E_NOMEM;
    PGresult *res = db_exec(r->db, r->a,
                            "SELECT (SELECT count(*) FROM dadm.da_attachment WHERE da_id = $1),"
                            " coalesce((SELECT jsonb_agg(j ORDER BY created_at, id) FROM"
                            " (SELECT " ATTACHMENT_JSON " AS j, f.created_at, f.id"
                            " FROM dadm.da_attachment f WHERE f.da_id = $1"
                            " ORDER BY f.created_at, f.id LIMIT $2 OFFSET $3) x), '[]')",
                            3, p, &e);
    if (!res)
        return e;
    return http_reply_page(r, json_loads(PQgetvalue(res, 0, 1), 0, NULL), (long)db_i64(res, 0, 0),
                           limit, offset);
}

/* RFC 5987 attr-char: what filename* keeps unencoded. */
static bool attr_char(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c && strchr("!#$&+-.^_`|~", c));
}

/* Content-Disposition of a download (RFC 6266): an ASCII fallback for old
 * clients (every non-ASCII sequence becomes '_'; the stored name holds no
 * quote, backslash or control character) and the exact UTF-8 name in
 * filename*. */
static const char *disposition(arena *a, const char *name)
{
    size_t n = strlen(name);
    char *ascii = arena_alloc(a, n + 1), *enc = arena_alloc(a, 3 * n + 1);
    if (!ascii || !enc)
        return NULL;
    size_t o = 0, k = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c < 0x80)
            ascii[o++] = (c == '"' || c == '\\' || c < 0x20) ? '_' : (char)c;
        else if ((c & 0xC0) != 0x80)
            ascii[o++] = '_';
        if (attr_char(c)) {
            enc[k++] = (char)c;
        } else {
            static const char hex[] = "0123456789ABCDEF";
            enc[k++] = '%';
            enc[k++] = hex[c >> 4];
            enc[k++] = hex[c & 15];
        }
    }
    ascii[o] = enc[k] = '\0';
    return arena_printf(a, "attachment; filename=\"%s\"; filename*=UTF-8''%s", ascii, enc);
}

dadm_err api_da_attachment_get(http_req *r)
{
    da_ref da;
    int64_t fid;
    dadm_err e = load_da(r, &da);
    if (e != DADM_OK)
        return e;
    if (http_param_id(r, 1, &fid) != DADM_OK)
        return http_fail(r, DADM_E_NOT_FOUND, "Pièce jointe introuvable.");
    const char *p[] = {i64s(r->a, da.id), i64s(r->a, fid)};
    if (!p[0] || !p[1])
        return DADM_E_NOMEM;
    /* One row, in binary: no hex round trip for a 20 MB file; the text
     * columns come as their UTF-8 bytes, NUL-terminated by libpq. */
    PGresult *f = db_exec_bin(r->db, r->a,
                              "SELECT f.name, f.content_type, f.content FROM dadm.da_attachment f"
                              " WHERE f.da_id = $1 AND f.id = $2",
                              2, p, NULL, NULL, 1, &e);
    if (!f)
        return e;
    if (PQntuples(f) != 1)
        return http_fail(r, DADM_E_NOT_FOUND, "Pièce jointe introuvable.");
    const char *type = PQgetvalue(f, 0, 1);
    const char *ctype =
        strncmp(type, "text/", 5) == 0 ? arena_printf(r->a, "%s; charset=utf-8", type) : type;
    const char *disp = disposition(r->a, PQgetvalue(f, 0, 0));
    if (!ctype || !disp)
        return DADM_E_NOMEM;
    if ((e = http_add_header(r, "Content-Disposition", disp)) != DADM_OK ||
        (e = http_add_header(r, "Content-Security-Policy", "default-src 'none'; sandbox")) !=
            DADM_OK)
        return e;
    return http_reply_text(r, 200, ctype, PQgetvalue(f, 0, 2), (size_t)PQgetlength(f, 0, 2));
}

/* ---- consents ---- */

#define CONSENT_JSON                                                                               \
    "jsonb_build_object('id', c.id, 'status', c.status, 'reason', c.reason,"                       \
    " 'requested_by', jsonb_build_object('id', c.requested_by, 'name',"                            \
    " (SELECT p.name FROM dadm.da_party(c.da_id, c.requested_by) p)),"                             \
    " 'requested_at', c.requested_at, 'decided_by', CASE WHEN c.decided_by IS NOT NULL THEN"       \
    " jsonb_build_object('id', c.decided_by, 'name', (SELECT p.name FROM"                          \
    " dadm.da_party(c.da_id, c.decided_by) p)) END, 'decided_at', c.decided_at,"                   \
    " 'valid_from', c.valid_from, 'valid_until', c.valid_until, 'motive', c.motive,"               \
    " 'in_force', c.status = 'granted' AND now() >= c.valid_from AND now() < c.valid_until)"

static dadm_err reply_consent(http_req *r, unsigned status, const char *id)
{
    dadm_err e = DADM_OK;
    const char *p[] = {id};
    PGresult *res = db_exec(
        r->db, r->a, "SELECT " CONSENT_JSON " FROM dadm.consent c WHERE c.id = $1", 1, p, &e);
    if (!res)
        return e;
    if (PQntuples(res) != 1)
        return DADM_E_INTERNAL;
    return http_reply_json(r, status, json_loads(PQgetvalue(res, 0, 0), 0, NULL));
}

dadm_err api_da_consents_list(http_req *r)
{
    da_ref da;
    dadm_err e = load_da(r, &da);
    if (e != DADM_OK)
        return e;
    const char *p[] = {i64s(r->a, da.id)};
    if (!p[0])
        return DADM_E_NOMEM;
    PGresult *res =
        db_exec(r->db, r->a,
                "SELECT coalesce(jsonb_agg(" CONSENT_JSON " ORDER BY c.requested_at, c.id), '[]'),"
                " coalesce(bool_or(c.status = 'granted' AND now() >= c.valid_from"
                " AND now() < c.valid_until), false)"
                " FROM dadm.consent c WHERE c.da_id = $1",
                1, p, &e);
    if (!res)
        return e;
    json_t *items = json_loads(PQgetvalue(res, 0, 0), 0, NULL);
    if (!items)
        return DADM_E_NOMEM;
    return http_reply_json(r, 200,
                           json_pack("{s:o, s:b, s:b}", "items", items, "in_force",
                                     strcmp(PQgetvalue(res, 0, 1), "t") == 0, "teleservice",
                                     da.mode && strcmp(da.mode, "teleservice") == 0));
}

/* A required text field of 1 to CONSENT_TEXT_MAX characters (after trimming
 * the white space around it); NULL after a French 422 otherwise. */
static const char *text_field(http_req *r, json_t *body, const char *key, const char *what,
                              dadm_err *e)
{
    const json_t *v = json_object_get(body, key);
    const char *s = json_string_value(v);
    while (s && (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r'))
        s++;
    size_t n = s ? strlen(s) : 0;
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r'))
        n--;
    if (!s || n == 0 || g_utf8_strlen(s, (gssize)n) > CONSENT_TEXT_MAX) {
        *e = http_fail(r, DADM_E_INVALID,
                       arena_printf(r->a,
                                    "%s (champ %s) est obligatoire : un texte de 1 à %d "
                                    "caractères.",
                                    what, key, CONSENT_TEXT_MAX));
        return NULL;
    }
    char *out = arena_strndup(r->a, s, n);
    if (!out)
        *e = DADM_E_NOMEM;
    return out;
}

/* Name and mail address of a party of the DA (dadm.da_party). */
static dadm_err party(http_req *r, const da_ref *da, int64_t account, const char **name,
                      const char **email)
{
    dadm_err e = DADM_OK;
    const char *p[] = {i64s(r->a, da->id), i64s(r->a, account)};
    if (!p[0] || !p[1])
        return DADM_E_NOMEM;
    PGresult *res = db_exec(r->db, r->a, "SELECT name, email FROM dadm.da_party($1, $2)", 2, p, &e);
    if (!res)
        return e;
    if (PQntuples(res) != 1)
        return DADM_E_INTERNAL;
    *name = PQgetvalue(res, 0, 0);
    *email = PQgetvalue(res, 0, 1);
    return DADM_OK;
}

/* The `consent` event on the DA and the audit row of one step. */
static dadm_err consent_trace(http_req *r, const da_ref *da, const char *consent_id,
                              const char *action, const char *body)
{
    dadm_err e = DADM_OK;
    const char *p[] = {i64s(r->a, da->etab_id),
                       i64s(r->a, da->id),
                       i64s(r->a, r->who->account_id),
                       consent_id,
                       action,
                       body};
    if (!p[0] || !p[1] || !p[2])
        return DADM_E_NOMEM;
    if (!db_exec(r->db, r->a,
                 "INSERT INTO dadm.da_event (etab_id, da_id, author_id, kind, body, detail)"
                 " SELECT $1, $2, $3, 'consent', $6, jsonb_build_object('consent_id', c.id,"
                 " 'action', $5::text, 'status', c.status, 'valid_from', c.valid_from,"
                 " 'valid_until', c.valid_until) FROM dadm.consent c WHERE c.id = $4",
                 6, p, &e))
        return e;
    json_t *aud = db_json_own(r->a, json_pack("{s:I, s:s, s:s}", "number", (json_int_t)da->number,
                                              "consent_id", consent_id, "action", action));
    if (!aud)
        return DADM_E_NOMEM;
    return notify_audit(r->db, r->a, arena_printf(r->a, "da.consent.%s", action),
                        arena_printf(r->a, "da:%lld", (long long)da->number), da->etab_id, aud);
}

dadm_err api_da_consent_request(http_req *r)
{
    da_ref da;
    dadm_err e = load_da(r, &da);
    if (e != DADM_OK)
        return e;
    if (!auth_has_role(r->who, AUTH_ROLE_CONSULTANT, 0, da.product_id))
        return http_fail(r, DADM_E_FORBIDDEN,
                         "Seuls les consultants de l'Amue pour ce produit demandent l'accord "
                         "d'accès à la production.");
    if (da.closed)
        return http_fail(r, DADM_E_CONFLICT, "Cette demande d'assistance est close.");
    if (!da.mode || strcmp(da.mode, "teleservice") != 0)
        return http_fail(r, DADM_E_CONFLICT,
                         "L'installation concernée n'est pas en télé-service : l'accès à sa "
                         "production ne demande pas d'accord du correspondant.");
    json_t *body = NULL;
    if ((e = http_json_body(r, &body)) != DADM_OK)
        return e;
    const char *reason = text_field(r, body, "reason", "Le motif de la demande d'accès", &e);
    if (!reason)
        return e;
    const char *p[] = {i64s(r->a, da.etab_id), i64s(r->a, da.id), i64s(r->a, r->who->account_id),
                       reason};
    if (!p[0] || !p[1] || !p[2])
        return DADM_E_NOMEM;
    PGresult *pend =
        db_exec(r->db, r->a, "SELECT 1 FROM dadm.consent WHERE da_id = $1 AND status = 'pending'",
                1, p + 1, &e);
    if (!pend)
        return e;
    static const char pending[] = "Une demande d'accord attend déjà la réponse du correspondant "
                                  "pour cette demande d'assistance.";
    if (PQntuples(pend) > 0)
        return http_fail(r, DADM_E_CONFLICT, pending);
    PGresult *res = db_exec(r->db, r->a,
                            "INSERT INTO dadm.consent (etab_id, da_id, requested_by, reason)"
                            " VALUES ($1, $2, $3, $4) RETURNING id",
                            4, p, &e);
    if (!res)
        return e == DADM_E_CONFLICT ? http_fail(r, e, pending) : e;
    const char *id = arena_strdup(r->a, PQgetvalue(res, 0, 0));
    const char *fname, *femail;
    if (!id || (e = consent_trace(r, &da, id, "request", reason)) != DADM_OK ||
        (e = party(r, &da, da.filer_id, &fname, &femail)) != DADM_OK)
        return e ? e : DADM_E_NOMEM;
    const char *subject = arena_printf(
        r->a, "DA n° %lld : accord demandé pour un accès à votre production", (long long)da.number);
    const char *text = arena_printf(
        r->a,
        "Bonjour %s,\n\nPour traiter votre demande d'assistance n° %lld (« %s »), "
        "%s %s, consultant de l'Amue, demande votre accord pour accéder à la production de "
        "votre installation en télé-service.\n\nMotif : %s\n\nDonnez ou refusez cet accord "
        "depuis la demande d'assistance, dans l'espace des correspondants. Sans votre accord, "
        "aucun accès n'a lieu.\n",
        fname, (long long)da.number, da.title, r->who->given_name ? r->who->given_name : "",
        r->who->family_name ? r->who->family_name : "", reason);
    if (!subject || !text)
        return DADM_E_NOMEM;
    if ((e = notify_mail(r->db, r->a, da.etab_id, femail, subject, text)) != DADM_OK)
        return e;
    if ((e = http_add_header(r, "Location",
                             arena_printf(r->a, "/api/v1/das/%lld/consents/%s",
                                          (long long)da.number, id))) != DADM_OK)
        return e;
    return reply_consent(r, 201, id);
}

/* The consent of path capture 1 on a DA the caller sees, pending, decided
 * by the correspondent who filed the DA and no one else. */
static dadm_err decidable(http_req *r, da_ref *da, const char **id, int64_t *requester)
{
    dadm_err e = load_da(r, da);
    int64_t cid;
    if (e != DADM_OK)
        return e;
    if (http_param_id(r, 1, &cid) != DADM_OK)
        return http_fail(r, DADM_E_NOT_FOUND, consent_not_found);
    const char *p[] = {i64s(r->a, da->id), i64s(r->a, cid)};
    if (!p[0] || !p[1])
        return DADM_E_NOMEM;
    PGresult *res = db_exec(r->db, r->a,
                            "SELECT c.status, c.requested_by FROM dadm.consent c"
                            " WHERE c.da_id = $1 AND c.id = $2",
                            2, p, &e);
    if (!res)
        return e;
    if (PQntuples(res) != 1)
        return http_fail(r, DADM_E_NOT_FOUND, consent_not_found);
    if (r->who->account_id != da->filer_id)
        return http_fail(r, DADM_E_FORBIDDEN,
                         "Seul le correspondant qui a déposé la demande d'assistance donne ou "
                         "refuse l'accord d'accès à la production.");
    if (strcmp(PQgetvalue(res, 0, 0), "pending") != 0)
        return http_fail(r, DADM_E_CONFLICT, "Cette demande d'accord a déjà reçu une réponse.");
    *id = p[1];
    *requester = db_i64(res, 0, 1);
    return DADM_OK;
}

/* Mails the consultant who asked, after a decision. */
static dadm_err mail_decision(http_req *r, const da_ref *da, int64_t requester, bool granted,
                              const char *what)
{
    const char *name, *email;
    dadm_err e = party(r, da, requester, &name, &email);
    if (e != DADM_OK)
        return e;
    const char *subject = arena_printf(r->a, "DA n° %lld : accès à la production %s",
                                       (long long)da->number, granted ? "accordé" : "refusé");
    const char *text = arena_printf(
        r->a,
        "Bonjour %s,\n\n%s %s %s votre demande d'accès à la production pour la demande "
        "d'assistance n° %lld (« %s »).\n\n%s\n",
        name, r->who->given_name ? r->who->given_name : "",
        r->who->family_name ? r->who->family_name : "", granted ? "a accepté" : "a refusé",
        (long long)da->number, da->title, what);
    if (!subject || !text)
        return DADM_E_NOMEM;
    return notify_mail(r->db, r->a, da->etab_id, email, subject, text);
}

dadm_err api_da_consent_grant(http_req *r)
{
    da_ref da;
    const char *id;
    int64_t requester;
    dadm_err e = decidable(r, &da, &id, &requester);
    if (e != DADM_OK)
        return e;
    if (da.closed)
        return http_fail(r, DADM_E_CONFLICT,
                         "Cette demande d'assistance est close : l'accès à la production n'a "
                         "plus lieu d'être accordé.");
    json_t *body = NULL;
    if ((e = http_json_body(r, &body)) != DADM_OK)
        return e;
    const char *from = json_string_value(json_object_get(body, "valid_from"));
    const char *until = json_string_value(json_object_get(body, "valid_until"));
    static const char window_rule[] =
        "La période d'accès (valid_from, valid_until) se donne en dates et heures ISO 8601 "
        "(par exemple 2026-11-24T08:00:00+01:00) ; elle finit après son début et dans le futur, "
        "et dure au plus " G_STRINGIFY(CONSENT_MAX_DAYS) " jours.";
    /* Both must read as timestamps before PostgreSQL sees them: a failed
     * cast would abort the transaction with a less helpful message. */
    if (!from || !until || strlen(from) > 64 || strlen(until) > 64)
        return http_fail(r, DADM_E_INVALID, window_rule);
    GDateTime *f = g_date_time_new_from_iso8601(from, NULL);
    GDateTime *u = g_date_time_new_from_iso8601(until, NULL);
    bool parsed = f && u;
    if (f)
        g_date_time_unref(f);
    if (u)
        g_date_time_unref(u);
    if (!parsed)
        return http_fail(r, DADM_E_INVALID, window_rule);
    const char *p[] = {id, from, until, i64s(r->a, r->who->account_id)};
    if (!p[3])
        return DADM_E_NOMEM;
    const char *pw[] = {from, until, G_STRINGIFY(CONSENT_MAX_DAYS)};
    PGresult *ok =
        db_exec(r->db, r->a,
                "SELECT $1::timestamptz < $2::timestamptz AND $2::timestamptz > now()"
                " AND $2::timestamptz - $1::timestamptz <= make_interval(days => $3::int)",
                3, pw, &e);
    if (!ok)
        return e == DADM_E_INVALID ? http_fail(r, e, window_rule) : e;
    if (strcmp(PQgetvalue(ok, 0, 0), "t") != 0)
        return http_fail(r, DADM_E_INVALID, window_rule);
    PGresult *res = db_exec(r->db, r->a,
                            "UPDATE dadm.consent SET status = 'granted', decided_by = $4,"
                            " decided_at = now(), valid_from = $2, valid_until = $3"
                            " WHERE id = $1 AND status = 'pending' RETURNING to_char(valid_from"
                            " AT TIME ZONE 'Europe/Paris', 'DD/MM/YYYY HH24:MI'), to_char("
                            "valid_until AT TIME ZONE 'Europe/Paris', 'DD/MM/YYYY HH24:MI')",
                            4, p, &e);
    if (!res)
        return e;
    if (PQntuples(res) != 1)
        return http_fail(r, DADM_E_CONFLICT, "Cette demande d'accord a déjà reçu une réponse.");
    const char *what = arena_printf(r->a, "Accès autorisé du %s au %s (heure de Paris).",
                                    PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1));
    if (!what)
        return DADM_E_NOMEM;
    if ((e = consent_trace(r, &da, id, "grant", NULL)) != DADM_OK ||
        (e = mail_decision(r, &da, requester, true, what)) != DADM_OK)
        return e;
    return reply_consent(r, 200, id);
}

dadm_err api_da_consent_refuse(http_req *r)
{
    da_ref da;
    const char *id;
    int64_t requester;
    dadm_err e = decidable(r, &da, &id, &requester);
    if (e != DADM_OK)
        return e;
    json_t *body = NULL;
    if ((e = http_json_body(r, &body)) != DADM_OK)
        return e;
    const char *motive = text_field(r, body, "motive", "Le motif du refus", &e);
    if (!motive)
        return e;
    const char *p[] = {id, motive, i64s(r->a, r->who->account_id)};
    if (!p[2])
        return DADM_E_NOMEM;
    PGresult *res = db_exec(r->db, r->a,
                            "UPDATE dadm.consent SET status = 'refused', decided_by = $3,"
                            " decided_at = now(), motive = $2"
                            " WHERE id = $1 AND status = 'pending' RETURNING id",
                            3, p, &e);
    if (!res)
        return e;
    if (PQntuples(res) != 1)
        return http_fail(r, DADM_E_CONFLICT, "Cette demande d'accord a déjà reçu une réponse.");
    const char *what = arena_printf(r->a, "Motif : %s", motive);
    if (!what)
        return DADM_E_NOMEM;
    if ((e = consent_trace(r, &da, id, "refuse", motive)) != DADM_OK ||
        (e = mail_decision(r, &da, requester, false, what)) != DADM_OK)
        return e;
    return reply_consent(r, 200, id);
}
