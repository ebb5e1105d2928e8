#include "tenant_change.h"

#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db_json.h"
#include "notify.h"
#include "util.h"

/* ---- The table: chapters, their fields, each field's check ---------------- */

typedef enum {
    FIELD_EMAIL,
    FIELD_PHONE,
    FIELD_URL,
    FIELD_TEXT,
    FIELD_NAME,
    FIELD_LOGIN,
    FIELD_NATURE,
    FIELD_SIZE_CLASS,
    FIELD_VERSION,
} field_kind;

typedef struct {
    const char *name;  /* JSON key and column */
    const char *label; /* French, for messages and mails */
    field_kind kind;
    unsigned max;  /* characters, for FIELD_TEXT */
    bool required; /* may not be null (or, for additions, must be given) */
} field_def;

/* Statements per chapter, all with the same parameters so one call site
 * serves every chapter: $1 etab, $2 installation, $3 account, $4 product,
 * $5 proposed values (jsonb), $6 nature. */
#define CHANGE_PARAMS                                                                              \
    "WITH p AS (SELECT $1::bigint AS etab, $2::bigint AS inst, $3::bigint AS acct,"                \
    " $4::bigint AS product, $5::jsonb AS v, $6::dadm.nature AS nature) "

typedef struct {
    const char *name, *label;
    tenant_change_scope scope;
    const field_def *fields;
    size_t n_fields;
    bool needs_product;
    bool needs_account;    /* "account": the login of the correspondent concerned */
    bool fields_merge;     /* proposed = current values with the given ones on top */
    const char *lock_sql;  /* locks the target row before the comparison */
    const char *apply_sql; /* applies the proposed values; returns one row */
} chapter_def;

static const field_def profile_fields[] = {
    {"email", "Adresse électronique", FIELD_EMAIL, 0, true},
    {"phone", "Téléphone", FIELD_PHONE, 0, false},
};
static const field_def etab_fields[] = {
    {"website", "Site web", FIELD_URL, 0, false},
    {"generic_email", "Adresse électronique générique", FIELD_EMAIL, 0, false},
    {"size_class", "Taille de l'établissement", FIELD_SIZE_CLASS, 0, true},
};
static const field_def server_fields[] = {
    {"server_series", "Série du serveur", FIELD_TEXT, 100, false},
    {"server_os", "Système d'exploitation", FIELD_TEXT, 100, false},
    {"server_db", "Base de données", FIELD_TEXT, 100, false},
    {"server_notes", "Remarques", FIELD_TEXT, 2000, false},
};
static const field_def version_fields[] = {
    {"version", "Version installée", FIELD_VERSION, 0, true},
};
static const field_def add_fields[] = {
    {"login", "Identifiant", FIELD_LOGIN, 0, true},
    {"nature", "Nature", FIELD_NATURE, 0, true},
    {"given_name", "Prénom", FIELD_NAME, 100, false},
    {"family_name", "Nom", FIELD_NAME, 100, false},
    {"email", "Adresse électronique", FIELD_EMAIL, 0, false},
    {"phone", "Téléphone", FIELD_PHONE, 0, false},
};
static const field_def remove_fields[] = {
    {"nature", "Nature", FIELD_NATURE, 0, true},
};

#define FIELDS(f) f, sizeof(f) / sizeof(f[0])

static const chapter_def chapters[TENANT_CHANGE_CHAPTER_COUNT] = {
    [TENANT_CHANGE_PROFILE] =
        {"profile", "Données personnelles du correspondant", TENANT_CHANGE_SCOPE_SELF,
         FIELDS(profile_fields), false, false, true,
         CHANGE_PARAMS "SELECT a.id FROM dadm.account a, p WHERE a.id = p.acct"
                       " AND a.etab_id = p.etab FOR UPDATE OF a",
         CHANGE_PARAMS "UPDATE dadm.account a SET email = p.v->>'email', phone = p.v->>'phone',"
                       " updated_at = now() FROM p WHERE a.id = p.acct AND a.etab_id = p.etab"
                       " RETURNING a.id"},
    [TENANT_CHANGE_ETAB] =
        {"etab", "Données de l'établissement", TENANT_CHANGE_SCOPE_ETAB, FIELDS(etab_fields), false,
         false, true,
         CHANGE_PARAMS "SELECT e.id FROM dadm.etab e, p WHERE e.id = p.etab FOR UPDATE OF e",
         CHANGE_PARAMS "UPDATE dadm.etab e SET website = p.v->>'website',"
                       " generic_email = p.v->>'generic_email',"
                       " size_class = (p.v->>'size_class')::dadm.size_class, updated_at = now()"
                       " FROM p WHERE e.id = p.etab RETURNING e.id"},
    [TENANT_CHANGE_SERVER] =
        {"server", "Données du serveur", TENANT_CHANGE_SCOPE_INSTALLATION, FIELDS(server_fields),
         true, false, true,
         CHANGE_PARAMS "SELECT i.id FROM dadm.installation i, p WHERE i.id = p.inst"
                       " AND i.etab_id = p.etab FOR UPDATE OF i",
         CHANGE_PARAMS "UPDATE dadm.installation i SET server_series = p.v->>'server_series',"
                       " server_os = p.v->>'server_os', server_db = p.v->>'server_db',"
                       " server_notes = p.v->>'server_notes', updated_at = now()"
                       " FROM p WHERE i.id = p.inst AND i.etab_id = p.etab RETURNING i.id"},
    [TENANT_CHANGE_VERSION] =
        {"version", "Version installée", TENANT_CHANGE_SCOPE_INSTALLATION, FIELDS(version_fields),
         true, false, true,
         CHANGE_PARAMS "SELECT i.id FROM dadm.installation i, p WHERE i.id = p.inst"
                       " AND i.etab_id = p.etab FOR UPDATE OF i",
         CHANGE_PARAMS "UPDATE dadm.installation i SET version_id = x.id, updated_at = now()"
                       " FROM p, dadm.version x WHERE i.id = p.inst AND i.etab_id = p.etab"
                       " AND x.product_id = i.product_id AND x.label = p.v->>'version'"
                       " RETURNING i.id"},
    [TENANT_CHANGE_CORRESPONDENT_ADD] =
        {"correspondent_add", "Ajout d'un correspondant", TENANT_CHANGE_SCOPE_CORRESPONDENTS,
         FIELDS(add_fields), true, false, false, NULL,
         CHANGE_PARAMS "INSERT INTO dadm.\"grant\" (account_id, role, nature, product_id, etab_id)"
                       " SELECT p.acct, 'correspondent', p.nature, p.product, p.etab FROM p"
                       " RETURNING id"},
    [TENANT_CHANGE_CORRESPONDENT_REMOVE] =
        {"correspondent_remove", "Retrait d'un correspondant", TENANT_CHANGE_SCOPE_CORRESPONDENTS,
         FIELDS(remove_fields), true, true, false, NULL,
         CHANGE_PARAMS "DELETE FROM dadm.\"grant\" g USING p WHERE g.account_id = p.acct"
                       " AND g.etab_id = p.etab AND g.product_id = p.product"
                       " AND g.role = 'correspondent' AND g.nature = p.nature RETURNING g.id"},
    [TENANT_CHANGE_CORRESPONDENT_UPDATE] =
        {"correspondent_update", "Coordonnées d'un correspondant",
         TENANT_CHANGE_SCOPE_CORRESPONDENTS, FIELDS(profile_fields), true, true, true,
         CHANGE_PARAMS "SELECT a.id FROM dadm.account a, p WHERE a.id = p.acct"
                       " AND a.etab_id = p.etab FOR UPDATE OF a",
         CHANGE_PARAMS "UPDATE dadm.account a SET email = p.v->>'email', phone = p.v->>'phone',"
                       " updated_at = now() FROM p WHERE a.id = p.acct AND a.etab_id = p.etab"
                       " RETURNING a.id"},
};

/* Who a person is: never rewritten by a change request. */
static const char *const identity_fields[] = {"login",    "given_name",  "family_name", "sso_idp",
                                              "sso_eppn", "sso_subject", "dir_key"};

static const char *const statuses[] = {"pending", "approved", "refused", "withdrawn"};

const char *tenant_change_chapter_name(tenant_change_chapter c)
{
    return (unsigned)c < TENANT_CHANGE_CHAPTER_COUNT ? chapters[c].name : "unknown";
}

int tenant_change_chapter_parse(const char *s)
{
    for (int i = 0; s && i < TENANT_CHANGE_CHAPTER_COUNT; i++)
        if (strcmp(s, chapters[i].name) == 0)
            return i;
    return -1;
}

tenant_change_scope tenant_change_chapter_scope(tenant_change_chapter c)
{
    return (unsigned)c < TENANT_CHANGE_CHAPTER_COUNT ? chapters[c].scope : TENANT_CHANGE_SCOPE_SELF;
}

bool tenant_change_status_valid(const char *s)
{
    for (size_t i = 0; s && i < sizeof(statuses) / sizeof(statuses[0]); i++)
        if (strcmp(s, statuses[i]) == 0)
            return true;
    return false;
}

static const field_def *find_field(tenant_change_chapter c, const char *name)
{
    const chapter_def *ch = &chapters[c];
    for (size_t i = 0; i < ch->n_fields; i++)
        if (strcmp(ch->fields[i].name, name) == 0)
            return &ch->fields[i];
    return NULL;
}

/* ---- Pure checks ------------------------------------------------------------ */

static size_t utf8_chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80)
            n++;
    return n;
}

static bool has_control(const char *s, bool allow_newline)
{
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if ((ch < 0x20 && !(allow_newline && (ch == '\n' || ch == '\r' || ch == '\t'))) ||
            ch == 0x7F)
            return true;
    }
    return false;
}

static bool email_ok(const char *s)
{
    const char *at = strchr(s, '@');
    if (!at || strchr(at + 1, '@'))
        return false;
    size_t local = (size_t)(at - s), domain = strlen(at + 1);
    if (local < 1 || local > 64 || domain < 3 || domain > 190)
        return false;
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p <= 0x20 || (unsigned char)*p == 0x7F || strchr("<>,;\"()[]\\", *p))
            return false;
    const char *dom = at + 1;
    if (!strchr(dom, '.') || dom[0] == '.' || dom[domain - 1] == '.' || strstr(dom, "..") ||
        s[0] == '.' || at[-1] == '.')
        return false;
    return true;
}

static bool phone_ok(const char *s)
{
    size_t n = strlen(s), digits = 0;
    if (n < 4 || n > 31)
        return false;
    const char *p = s;
    if (*p == '+')
        p++;
    if ((size_t)(s + n - p) > 30)
        return false;
    for (; *p; p++) {
        if (*p >= '0' && *p <= '9')
            digits++;
        else if (!strchr(" .()-", *p))
            return false;
    }
    return digits >= 4;
}

static bool url_ok(const char *s)
{
    const char *rest;
    if (strncmp(s, "https://", 8) == 0)
        rest = s + 8;
    else if (strncmp(s, "http://", 7) == 0)
        rest = s + 7;
    else
        return false;
    size_t n = strlen(rest);
    if (n < 1 || n > 250 || rest[0] == '/' || rest[0] == '.')
        return false;
    for (const char *p = rest; *p; p++)
        if ((unsigned char)*p <= 0x20 || (unsigned char)*p == 0x7F)
            return false;
    return true;
}

static bool login_ok(const char *s)
{
    size_t n = strlen(s);
    if (n < 2 || n > 128)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        bool alnum = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');
        if (!alnum && (i == 0 || !strchr("._@-", ch)))
            return false;
    }
    return true;
}

const char *tenant_change_check_value(tenant_change_chapter c, const char *field, const char *value)
{
    if ((unsigned)c >= TENANT_CHANGE_CHAPTER_COUNT || !field)
        return "Chapitre inconnu.";
    const field_def *f = find_field(c, field);
    if (!f) {
        for (size_t i = 0; i < sizeof(identity_fields) / sizeof(identity_fields[0]); i++)
            if (strcmp(field, identity_fields[i]) == 0)
                return "ce champ fait partie de l'identité de la personne et ne se modifie "
                       "jamais : pour remplacer un correspondant, demandez le retrait du "
                       "correspondant sortant puis l'ajout du nouveau.";
        return "ce champ n'existe pas dans ce chapitre.";
    }
    if (!value)
        return f->required ? "ce champ est obligatoire." : NULL;
    switch (f->kind) {
    case FIELD_EMAIL:
        return email_ok(value) ? NULL
                               : "l'adresse électronique n'est pas valide (exemple : "
                                 "prenom.nom@univ-exemple.fr).";
    case FIELD_PHONE:
        return phone_ok(value) ? NULL
                               : "le numéro de téléphone n'est pas valide : chiffres, espaces, "
                                 "points, tirets et parenthèses, + initial facultatif (exemple : "
                                 "03 68 85 00 00).";
    case FIELD_URL:
        return url_ok(value) ? NULL
                             : "l'adresse du site doit commencer par https:// (ou http://), "
                               "sans espace, 250 caractères au plus.";
    case FIELD_TEXT:
        if (has_control(value, f->max > 100))
            return "le texte contient des caractères de contrôle.";
        if (utf8_chars(value) > f->max)
            return f->max > 100 ? "le texte dépasse 2000 caractères."
                                : "le texte dépasse 100 caractères.";
        return NULL;
    case FIELD_NAME:
        if (!*value || utf8_chars(value) > f->max || has_control(value, false))
            return "le nom doit compter de 1 à 100 caractères, sans caractère de contrôle.";
        return NULL;
    case FIELD_LOGIN:
        return login_ok(value) ? NULL
                               : "l'identifiant doit compter de 2 à 128 caractères : lettres "
                                 "minuscules, chiffres, points, tirets, soulignés ou @, en "
                                 "commençant par une lettre ou un chiffre.";
    case FIELD_NATURE:
        return strcmp(value, "fonctionnel") == 0 || strcmp(value, "technique") == 0
                   ? NULL
                   : "la nature doit être « fonctionnel » ou « technique ».";
    case FIELD_SIZE_CLASS:
        for (const char *const *s =
                 (const char *const[]){"tres_petit", "petit", "moyen", "grand", "tres_grand", NULL};
             *s; s++)
            if (strcmp(value, *s) == 0)
                return NULL;
        return "la taille doit être l'une de : tres_petit, petit, moyen, grand, tres_grand.";
    case FIELD_VERSION:
        return util_version_label_ok(value) ? NULL : "le numéro de version n'est pas valide.";
    }
    return "valeur refusée.";
}

const char *tenant_change_check_file_name(const char *name)
{
    if (!name || !*name)
        return "le nom du fichier est obligatoire.";
    size_t n = strlen(name);
    if (n < 5 || n > 100 || strcmp(name + n - 4, ".ver") != 0)
        return "seuls les fichiers témoins « .ver » sont acceptés (100 caractères au plus).";
    if (!g_ascii_isalnum(name[0]))
        return "le nom du fichier doit commencer par une lettre ou un chiffre.";
    for (size_t i = 0; i < n; i++)
        if (!g_ascii_isalnum(name[i]) && !strchr("._-", name[i]))
            return "le nom du fichier ne peut contenir que des lettres, chiffres, points, "
                   "tirets et soulignés.";
    return NULL;
}

static int b64_value(unsigned char ch)
{
    if (ch >= 'A' && ch <= 'Z')
        return ch - 'A';
    if (ch >= 'a' && ch <= 'z')
        return ch - 'a' + 26;
    if (ch >= '0' && ch <= '9')
        return ch - '0' + 52;
    if (ch == '+')
        return 62;
    if (ch == '/')
        return 63;
    return -1;
}

bool tenant_change_base64_decode(const char *in, size_t len, unsigned char *out, size_t cap,
                                 size_t *n)
{
    *n = 0;
    if (len % 4 != 0)
        return false;
    size_t o = 0;
    for (size_t i = 0; i < len; i += 4) {
        int v[4];
        int pad = 0;
        for (int k = 0; k < 4; k++) {
            unsigned char ch = (unsigned char)in[i + k];
            if (ch == '=' && i + 4 == len && k >= 2) {
                v[k] = 0;
                pad++;
                continue;
            }
            if (pad || (v[k] = b64_value(ch)) < 0)
                return false;
        }
        unsigned bits =
            (unsigned)v[0] << 18 | (unsigned)v[1] << 12 | (unsigned)v[2] << 6 | (unsigned)v[3];
        /* Non-canonical trailing bits are refused. */
        if ((pad == 2 && (bits & 0xFFFF)) || (pad == 1 && (bits & 0xFF)))
            return false;
        size_t k = 3 - (size_t)pad;
        if (o + k > cap)
            return false;
        out[o++] = (unsigned char)(bits >> 16);
        if (k > 1)
            out[o++] = (unsigned char)(bits >> 8);
        if (k > 2)
            out[o++] = (unsigned char)bits;
    }
    *n = o;
    return true;
}

/* ---- Database helpers ------------------------------------------------------- */

/* JSON text of j, owned by the arena; NULL when out of memory. */
static const char *json_text(arena *a, const json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    if (!s)
        return NULL;
    char *copy = arena_strdup(a, s);
    free(s);
    return copy;
}

/* Parses JSON text into a value whose release the arena takes over. */
static json_t *json_parse(arena *a, const char *s)
{
    return db_json_own(a, json_loads(s, JSON_DECODE_ANY, NULL));
}

static const char *id_text(arena *a, int64_t v)
{
    return v ? arena_printf(a, "%lld", (long long)v) : NULL;
}

static const char *nonempty(const char *s)
{
    return s && *s ? s : NULL;
}

/* Value of column `col` of row 0, NULL for SQL NULL. */
static const char *col(const PGresult *r, const char *name)
{
    int c = PQfnumber(r, name);
    return c < 0 || PQgetisnull(r, 0, c) ? NULL : PQgetvalue(r, 0, c);
}

static int64_t col_id(const PGresult *r, const char *name)
{
    return db_i64(r, 0, PQfnumber(r, name));
}

static const char *status_label(const char *status)
{
    if (strcmp(status, "approved") == 0)
        return "Cette demande a déjà été approuvée.";
    if (strcmp(status, "refused") == 0)
        return "Cette demande a déjà été refusée.";
    if (strcmp(status, "withdrawn") == 0)
        return "Cette demande a été retirée par son auteur.";
    return "Cette demande n'est plus en attente.";
}

/* Runs a chapter statement with the common parameters. */
static PGresult *chapter_exec(db *d, arena *a, const char *sql, int64_t etab, int64_t inst,
                              int64_t acct, int64_t product, const char *values, const char *nature,
                              dadm_err *e)
{
    const char *params[] = {id_text(a, etab),    id_text(a, inst), id_text(a, acct),
                            id_text(a, product), values,           nature};
    return db_exec(d, a, sql, 6, params, e);
}

/* The chapter's current values (dadm.change_snapshot); *out NULL when the
 * target no longer exists. */
static dadm_err snapshot(db *d, arena *a, tenant_change_chapter c, int64_t etab, int64_t inst,
                         int64_t acct, int64_t product, const char *login, json_t **out)
{
    *out = NULL;
    const char *params[] = {chapters[c].name, id_text(a, etab),    id_text(a, inst),
                            id_text(a, acct), id_text(a, product), login};
    dadm_err e = DADM_OK;
    PGresult *r = db_exec(d, a,
                          "SELECT dadm.change_snapshot($1::dadm.change_chapter, $2, $3, $4, $5,"
                          " $6)::text",
                          6, params, &e);
    if (!r)
        return e;
    if (PQntuples(r) == 1 && !PQgetisnull(r, 0, 0)) {
        *out = json_parse(a, PQgetvalue(r, 0, 0));
        if (!*out)
            return DADM_E_NOMEM;
    }
    return DADM_OK;
}

/* ---- Reading ---------------------------------------------------------------- */

#define CHANGE_SELECT                                                                              \
    "SELECT c.id, c.etab_id, e.uai AS etab_uai, e.name AS etab_name, c.chapter::text AS chapter,"  \
    " pr.code AS product, c.installation_id, coalesce(t.login, c.target_login) AS account,"        \
    " c.nature::text AS nature, c.proposed, c.replaced, c.status::text AS status,"                 \
    " c.submitter_id, s.login AS submitter, c.first_submitter_id, c.decider_id,"                   \
    " d.login AS decider, c.motive, c.created_at, c.updated_at, c.decided_at,"                     \
    " coalesce((SELECT jsonb_agg(jsonb_build_object('id', f.id, 'name', f.name, 'size', f.size,"   \
    " 'sha256', encode(f.sha256, 'hex')) ORDER BY f.name) FROM dadm.change_request_file f"         \
    " WHERE f.change_request_id = c.id), '[]') AS files"                                           \
    " FROM dadm.change_request c JOIN dadm.etab e ON e.id = c.etab_id"                             \
    " LEFT JOIN dadm.product pr ON pr.id = c.product_id"                                           \
    " LEFT JOIN dadm.account t ON t.id = c.account_id"                                             \
    " LEFT JOIN dadm.account s ON s.id = c.submitter_id"                                           \
    " LEFT JOIN dadm.account d ON d.id = c.decider_id"

dadm_err tenant_change_get(db *d, arena *a, int64_t id, json_t **out)
{
    *out = NULL;
    const char *params[] = {id_text(a, id)};
    dadm_err e = DADM_OK;
    PGresult *r = db_exec(d, a, CHANGE_SELECT " WHERE c.id = $1", 1, params, &e);
    if (!r)
        return e;
    if (PQntuples(r) != 1)
        return DADM_E_NOT_FOUND;
    *out = db_json_row(r, 0);
    return *out ? DADM_OK : DADM_E_NOMEM;
}

dadm_err tenant_change_list(db *d, arena *a, const tenant_change_filter *f, json_t **items,
                            long *total)
{
    *items = NULL;
    *total = 0;
    const char *params[] = {id_text(a, f->etab_id), f->chapter, f->status,
                            arena_printf(a, "%ld", f->limit), arena_printf(a, "%ld", f->offset)};
    dadm_err e = DADM_OK;
    PGresult *r = db_exec(d, a,
                          "SELECT x.*, count(*) OVER () AS total FROM (" CHANGE_SELECT
                          " WHERE ($1::bigint IS NULL OR c.etab_id = $1)"
                          " AND ($2::dadm.change_chapter IS NULL OR c.chapter = $2)"
                          " AND ($3::dadm.change_status IS NULL OR c.status = $3)) x"
                          " ORDER BY x.created_at DESC, x.id DESC LIMIT $4 OFFSET $5",
                          5, params, &e);
    if (!r)
        return e;
    if (PQntuples(r) == 0 && f->offset > 0) {
        PGresult *c = db_exec(d, a,
                              "SELECT count(*) FROM dadm.change_request c"
                              " WHERE ($1::bigint IS NULL OR c.etab_id = $1)"
                              " AND ($2::dadm.change_chapter IS NULL OR c.chapter = $2)"
                              " AND ($3::dadm.change_status IS NULL OR c.status = $3)",
                              3, params, &e);
        if (!c)
            return e;
        *total = strtol(PQgetvalue(c, 0, 0), NULL, 10);
    }
    *items = db_json_page(r, total);
    return *items ? DADM_OK : DADM_E_NOMEM;
}

dadm_err tenant_change_etab_of(db *d, arena *a, int64_t id, int64_t *etab_id)
{
    *etab_id = 0;
    const char *params[] = {id_text(a, id)};
    dadm_err e = DADM_OK;
    PGresult *r =
        db_exec(d, a, "SELECT etab_id FROM dadm.change_request WHERE id = $1", 1, params, &e);
    if (!r)
        return e;
    if (PQntuples(r) != 1)
        return DADM_E_NOT_FOUND;
    *etab_id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    return DADM_OK;
}

dadm_err tenant_change_file(db *d, arena *a, int64_t id, int64_t file_id, const char **name,
                            const unsigned char **data, size_t *len)
{
    *name = NULL;
    *data = NULL;
    *len = 0;
    const char *params[] = {id_text(a, id), id_text(a, file_id)};
    dadm_err e = DADM_OK;
    PGresult *r =
        db_exec(d, a,
                "SELECT f.name, encode(f.content, 'base64') FROM dadm.change_request_file f"
                " JOIN dadm.change_request c ON c.id = f.change_request_id"
                " WHERE c.id = $1 AND f.id = $2",
                2, params, &e);
    if (!r)
        return e;
    if (PQntuples(r) != 1)
        return DADM_E_NOT_FOUND;
    /* PostgreSQL wraps base64 lines; drop the newlines before decoding. */
    const char *b64 = PQgetvalue(r, 0, 1);
    size_t n = strlen(b64), m = 0;
    char *flat = arena_alloc(a, n + 1);
    unsigned char *out = arena_alloc(a, n / 4 * 3 + 1);
    if (!flat || !out)
        return DADM_E_NOMEM;
    for (size_t i = 0; i < n; i++)
        if (b64[i] != '\n')
            flat[m++] = b64[i];
    if (!tenant_change_base64_decode(flat, m, out, n / 4 * 3 + 1, len))
        return DADM_E_INTERNAL;
    *name = arena_strdup(a, PQgetvalue(r, 0, 0));
    *data = out;
    return *name ? DADM_OK : DADM_E_NOMEM;
}

dadm_err tenant_change_pending_version(db *d, arena *a, int64_t installation_id, const char **label)
{
    *label = NULL;
    const char *params[] = {id_text(a, installation_id)};
    dadm_err e = DADM_OK;
    PGresult *r = db_exec(d, a, "SELECT dadm.installation_pending_version($1)", 1, params, &e);
    if (!r)
        return e;
    if (PQntuples(r) == 1 && !PQgetisnull(r, 0, 0)) {
        *label = arena_strdup(a, PQgetvalue(r, 0, 0));
        if (!*label)
            return DADM_E_NOMEM;
    }
    return DADM_OK;
}

/* ---- Mails and audit -------------------------------------------------------- */

static const char *shown(const json_t *v)
{
    const char *s = json_string_value(v);
    return s && *s ? s : "(vide)";
}

/* One line per changed field, or the person added or removed. */
static void changes_text(GString *g, tenant_change_chapter c, const json_t *proposed,
                         const json_t *replaced)
{
    const chapter_def *ch = &chapters[c];
    if (c == TENANT_CHANGE_CORRESPONDENT_ADD) {
        const json_t *acc = json_object_get(replaced, "account");
        const char *given =
            json_string_value(json_object_get(json_is_object(acc) ? acc : proposed, "given_name"));
        const char *family =
            json_string_value(json_object_get(json_is_object(acc) ? acc : proposed, "family_name"));
        g_string_append_printf(g, "- Ajout de %s %s (identifiant %s), correspondant %s%s\n",
                               given ? given : "", family ? family : "",
                               shown(json_object_get(proposed, "login")),
                               shown(json_object_get(proposed, "nature")),
                               json_is_object(acc) ? "" : " (nouveau compte)");
        return;
    }
    if (c == TENANT_CHANGE_CORRESPONDENT_REMOVE) {
        g_string_append_printf(g, "- Retrait de %s, correspondant %s\n",
                               shown(json_object_get(replaced, "login")),
                               shown(json_object_get(proposed, "nature")));
        return;
    }
    for (size_t i = 0; i < ch->n_fields; i++) {
        const json_t *before = json_object_get(replaced, ch->fields[i].name);
        const json_t *after = json_object_get(proposed, ch->fields[i].name);
        if (!json_equal(before, after) && !(json_is_null(before) && !after))
            g_string_append_printf(g, "- %s : « %s » → « %s »\n", ch->fields[i].label,
                                   shown(before), shown(after));
    }
}

/* What the mails say about a request: names, dates, values. */
typedef struct {
    tenant_change_chapter chapter;
    int64_t etab_id, submitter_id, first_submitter_id;
    const char *etab_name, *product_name, *submitter_name, *submitter_login, *submitter_email,
        *first_email, *created;
    json_t *proposed, *replaced;
} change_view;

static dadm_err load_view(db *d, arena *a, int64_t id, change_view *v)
{
    memset(v, 0, sizeof(*v));
    const char *params[] = {id_text(a, id)};
    dadm_err e = DADM_OK;
    PGresult *r = db_exec(
        d, a,
        "SELECT c.chapter::text AS chapter, c.etab_id, e.name AS etab_name,"
        " pr.name AS product_name, c.submitter_id, c.first_submitter_id,"
        " trim(s.given_name || ' ' || s.family_name) AS submitter_name,"
        " s.login AS submitter_login, s.email AS submitter_email, f.email AS first_email,"
        " to_char(c.created_at AT TIME ZONE 'Europe/Paris', 'DD/MM/YYYY \"à\" HH24:MI') AS created,"
        " c.proposed::text AS proposed, c.replaced::text AS replaced"
        " FROM dadm.change_request c JOIN dadm.etab e ON e.id = c.etab_id"
        " LEFT JOIN dadm.product pr ON pr.id = c.product_id"
        " LEFT JOIN dadm.account s ON s.id = c.submitter_id"
        " LEFT JOIN dadm.account f ON f.id = c.first_submitter_id WHERE c.id = $1",
        1, params, &e);
    if (!r)
        return e;
    if (PQntuples(r) != 1)
        return DADM_E_NOT_FOUND;
    int c = tenant_change_chapter_parse(col(r, "chapter"));
    if (c < 0)
        return DADM_E_INTERNAL;
    v->chapter = (tenant_change_chapter)c;
    v->etab_id = col_id(r, "etab_id");
    v->submitter_id = col_id(r, "submitter_id");
    v->first_submitter_id = col_id(r, "first_submitter_id");
    v->etab_name = col(r, "etab_name");
    v->product_name = col(r, "product_name");
    v->submitter_name = nonempty(col(r, "submitter_name"));
    v->submitter_login = col(r, "submitter_login");
    v->submitter_email = col(r, "submitter_email");
    v->first_email = col(r, "first_email");
    v->created = col(r, "created");
    v->proposed = json_parse(a, col(r, "proposed"));
    v->replaced = json_parse(a, col(r, "replaced"));
    return v->proposed && v->replaced ? DADM_OK : DADM_E_NOMEM;
}

/* Hands a GString's text to the arena; NULL when out of memory. */
static char *take_text(arena *a, GString *g)
{
    char *s = arena_strdup(a, g->str);
    g_string_free(g, TRUE);
    return s;
}

static dadm_err mail_validators(db *d, arena *a, int64_t id, bool amended)
{
    change_view v;
    dadm_err e = load_view(d, a, id, &v);
    if (e != DADM_OK)
        return e;
    const chapter_def *ch = &chapters[v.chapter];
    char *subject = arena_printf(a, "Demande de modification n° %lld à valider : %s (%s)",
                                 (long long)id, ch->label, v.etab_name);
    GString *g = g_string_new("Bonjour,\n\n");
    g_string_append_printf(g, "%s (%s, %s) %s une demande de modification « %s »%s%s.\n\n",
                           v.submitter_name ? v.submitter_name
                                            : (v.submitter_login ? v.submitter_login : "?"),
                           v.submitter_login ? v.submitter_login : "?", v.etab_name,
                           amended ? "a modifié" : "a soumis", ch->label,
                           v.product_name ? " pour " : "", v.product_name ? v.product_name : "");
    g_string_append(g, "Modifications demandées :\n");
    changes_text(g, v.chapter, v.proposed, v.replaced);
    g_string_append_printf(g,
                           "\nLa demande n° %lld attend votre validation dans l'espace des "
                           "correspondants : approuvez-la, ou refusez-la en indiquant le motif.\n"
                           "\n-- \nEspace des correspondants\n",
                           (long long)id);
    char *body = take_text(a, g);
    if (!subject || !body)
        return DADM_E_NOMEM;
    PGresult *r = db_exec(d, a, "SELECT e FROM dadm.validator_emails() AS e", 0, NULL, &e);
    if (!r)
        return e;
    for (int i = 0; i < PQntuples(r) && e == DADM_OK; i++)
        e = notify_mail(d, a, v.etab_id, PQgetvalue(r, i, 0), subject, body);
    return e;
}

static dadm_err mail_decision(db *d, arena *a, int64_t id, const char *motive)
{
    change_view v;
    dadm_err e = load_view(d, a, id, &v);
    if (e != DADM_OK)
        return e;
    const chapter_def *ch = &chapters[v.chapter];
    char *subject = arena_printf(a, "Votre demande de modification n° %lld a été %s", (long long)id,
                                 motive ? "refusée" : "validée");
    GString *g = g_string_new("Bonjour,\n\n");
    g_string_append_printf(g, "Votre demande de modification « %s » (%s%s%s), soumise le %s, ",
                           ch->label, v.etab_name, v.product_name ? ", " : "",
                           v.product_name ? v.product_name : "", v.created ? v.created : "");
    if (motive) {
        g_string_append(g, "a été refusée par le service assistance de l'Amue.\n\n");
        g_string_append_printf(g, "Motif du refus : %s\n\n", motive);
        g_string_append(g, "Les données restent inchangées. Vous pouvez soumettre une nouvelle "
                           "demande corrigée depuis l'espace des correspondants.\n\n");
        g_string_append(g, "Modifications qui étaient demandées :\n");
    } else {
        g_string_append(g, "a été validée par le service assistance de l'Amue : les nouvelles "
                           "valeurs sont désormais prises en compte.\n\n");
        g_string_append(g, "Modifications appliquées :\n");
    }
    changes_text(g, v.chapter, v.proposed, v.replaced);
    g_string_append(g, "\n-- \nLe service assistance de l'Amue\n");
    char *body = take_text(a, g);
    if (!subject || !body)
        return DADM_E_NOMEM;
    if (v.submitter_email)
        e = notify_mail(d, a, v.etab_id, v.submitter_email, subject, body);
    if (e == DADM_OK && v.first_email && v.first_submitter_id != v.submitter_id &&
        (!v.submitter_email || strcmp(v.first_email, v.submitter_email) != 0))
        e = notify_mail(d, a, v.etab_id, v.first_email, subject, body);
    return e;
}

static dadm_err audit(db *d, arena *a, const char *action, int64_t id, int64_t etab_id,
                      tenant_change_chapter c, const json_t *before, const json_t *after,
                      const char *motive)
{
    json_t *detail = json_pack("{s:s, s:O, s:O}", "chapter", chapters[c].name, "before",
                               before ? before : json_null(), "after", after ? after : json_null());
    if (!detail)
        return DADM_E_NOMEM;
    if (motive)
        json_object_set_new(detail, "motive", json_string(motive));
    char target[48];
    snprintf(target, sizeof(target), "change_request:%lld", (long long)id);
    dadm_err e = notify_audit(d, a, action, target, etab_id, detail);
    json_decref(detail);
    return e;
}

/* ---- Submission ------------------------------------------------------------- */

static dadm_err invalid(const char **detail, const char *msg)
{
    if (detail)
        *detail = msg;
    return DADM_E_INVALID;
}

static dadm_err fail(const char **detail, dadm_err e, const char *msg)
{
    if (detail)
        *detail = msg;
    return e;
}

dadm_err tenant_change_parse_head(db *d, arena *a, const json_t *body, tenant_change_head *out,
                                  const char **detail)
{
    memset(out, 0, sizeof(*out));
    const char *name = json_string_value(json_object_get(body, "chapter"));
    if (!name)
        return invalid(detail, "Le champ « chapter » est obligatoire : profile, etab, server, "
                               "version, correspondent_add, correspondent_remove ou "
                               "correspondent_update.");
    int c = tenant_change_chapter_parse(name);
    if (c < 0)
        return invalid(detail, "Chapitre inconnu : les chapitres sont profile, etab, server, "
                               "version, correspondent_add, correspondent_remove et "
                               "correspondent_update.");
    out->chapter = (tenant_change_chapter)c;
    const json_t *pj = json_object_get(body, "product");
    if (!chapters[c].needs_product) {
        if (pj)
            return invalid(detail, "Ce chapitre ne concerne pas un produit : retirez le champ "
                                   "« product ».");
        return DADM_OK;
    }
    const char *code = json_string_value(pj);
    if (!code)
        return invalid(detail, "Le champ « product » (code du produit, par exemple apogee) est "
                               "obligatoire pour ce chapitre.");
    const char *params[] = {code};
    dadm_err e = DADM_OK;
    PGresult *r = db_exec(d, a, "SELECT id FROM dadm.product WHERE code = $1", 1, params, &e);
    if (!r)
        return e;
    if (PQntuples(r) != 1)
        return invalid(detail, "Produit inconnu.");
    out->product_id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    return DADM_OK;
}

/* Everything a submission resolves before it is written. */
typedef struct {
    tenant_change_chapter chapter;
    int64_t etab_id, submitter_id, product_id, installation_id, account_id;
    const char *login, *nature, *target_key;
    json_t *proposed, *replaced; /* borrowed from the arena */
    const char *product_name;
} submission;

/* Appends "« field » : message" to the list of field errors. */
static void field_error(GString *errs, const char *field, const char *msg)
{
    if (errs->len)
        g_string_append_c(errs, ' ');
    g_string_append_printf(errs, "« %s » : %s", field, msg);
}

/* Checks the "values" object against the chapter's table; returns the
 * given values as a new object in *given (owned by the arena). */
static dadm_err check_values(arena *a, tenant_change_chapter c, const json_t *values,
                             json_t **given, const char **detail)
{
    *given = NULL;
    if (values && !json_is_object(values))
        return invalid(detail, "Le champ « values » doit être un objet JSON.");
    json_t *out = json_object();
    if (!db_json_own(a, out))
        return DADM_E_NOMEM;
    GString *errs = g_string_new(NULL);
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)values, key, v)
    {
        const char *msg;
        if (!json_is_string(v) && !json_is_null(v))
            msg = "la valeur doit être une chaîne de caractères (ou null pour effacer).";
        else
            msg = tenant_change_check_value(c, key, json_string_value(v));
        if (msg)
            field_error(errs, key, msg);
        else
            json_object_set(out, key, v);
    }
    /* Required fields the chapter cannot take from the current values. */
    if (!chapters[c].fields_merge) {
        for (size_t i = 0; i < chapters[c].n_fields; i++) {
            const field_def *f = &chapters[c].fields[i];
            if (f->required && !json_object_get(values, f->name))
                field_error(errs, f->name, "ce champ est obligatoire.");
        }
    }
    dadm_err e = DADM_OK;
    if (errs->len) {
        const char *msg = arena_printf(a, "Valeurs invalides. %s", errs->str);
        e = invalid(detail, msg ? msg : "Valeurs invalides.");
    }
    g_string_free(errs, TRUE);
    if (e == DADM_OK)
        *given = out;
    return e;
}

static dadm_err check_version_known(db *d, arena *a, submission *s, const char *label,
                                    const char **detail)
{
    const char *params[] = {id_text(a, s->product_id), label};
    dadm_err e = DADM_OK;
    PGresult *r = db_exec(d, a,
                          "SELECT (SELECT count(*) FROM dadm.version WHERE product_id = $1"
                          " AND label = $2), (SELECT string_agg(label, ', ' ORDER BY"
                          " delivered_on, label) FROM dadm.version WHERE product_id = $1),"
                          " (SELECT name FROM dadm.product WHERE id = $1)",
                          2, params, &e);
    if (!r)
        return e;
    if (strcmp(PQgetvalue(r, 0, 0), "0") != 0)
        return DADM_OK;
    const char *msg = arena_printf(
        a,
        "Valeurs invalides. « version » : la version « %s » n'est pas connue pour %s "
        "(versions connues : %s).",
        label, PQgetvalue(r, 0, 2), PQgetisnull(r, 0, 1) ? "aucune" : PQgetvalue(r, 0, 1));
    return invalid(detail, msg ? msg : "Version inconnue pour ce produit.");
}

/* Resolves the target of the submission and its key. */
static dadm_err resolve_target(db *d, arena *a, submission *s, const json_t *body,
                               const json_t *given, const char **detail)
{
    dadm_err e = DADM_OK;
    const chapter_def *ch = &chapters[s->chapter];
    const json_t *acc = json_object_get(body, "account");
    if (!ch->needs_account && acc)
        return invalid(detail, "Le champ « account » ne s'emploie qu'avec correspondent_remove "
                               "et correspondent_update.");
    switch (s->chapter) {
    case TENANT_CHANGE_PROFILE: {
        const char *params[] = {id_text(a, s->submitter_id), id_text(a, s->etab_id)};
        PGresult *r = db_exec(d, a, "SELECT 1 FROM dadm.account WHERE id = $1 AND etab_id = $2", 2,
                              params, &e);
        if (!r)
            return e;
        if (PQntuples(r) != 1)
            return invalid(detail, "Votre compte n'appartient pas à cet établissement.");
        s->account_id = s->submitter_id;
        s->target_key = arena_printf(a, "account:%lld", (long long)s->account_id);
        break;
    }
    case TENANT_CHANGE_ETAB:
        s->target_key = "etab";
        break;
    case TENANT_CHANGE_SERVER:
    case TENANT_CHANGE_VERSION: {
        const char *params[] = {id_text(a, s->etab_id), id_text(a, s->product_id)};
        PGresult *r = db_exec(d, a,
                              "SELECT id FROM dadm.installation WHERE etab_id = $1"
                              " AND product_id = $2",
                              2, params, &e);
        if (!r)
            return e;
        if (PQntuples(r) != 1)
            return invalid(detail, "L'établissement n'a pas d'installation de ce produit.");
        s->installation_id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
        s->target_key = arena_printf(a, "installation:%lld", (long long)s->installation_id);
        break;
    }
    case TENANT_CHANGE_CORRESPONDENT_ADD:
        s->login = json_string_value(json_object_get(given, "login"));
        s->nature = json_string_value(json_object_get(given, "nature"));
        s->target_key =
            arena_printf(a, "add:%lld:%s", (long long)s->product_id, s->login ? s->login : "");
        break;
    case TENANT_CHANGE_CORRESPONDENT_REMOVE:
    case TENANT_CHANGE_CORRESPONDENT_UPDATE: {
        const char *login = json_string_value(acc);
        if (!login)
            return invalid(detail, "Le champ « account » (identifiant du correspondant concerné) "
                                   "est obligatoire pour ce chapitre.");
        const char *params[] = {login, id_text(a, s->etab_id), id_text(a, s->product_id)};
        PGresult *r = db_exec(d, a,
                              "SELECT a.id FROM dadm.account a WHERE a.login = $1"
                              " AND a.etab_id = $2 AND EXISTS (SELECT 1 FROM dadm.\"grant\" g"
                              " WHERE g.account_id = a.id AND g.role = 'correspondent'"
                              " AND g.etab_id = $2 AND g.product_id = $3)",
                              3, params, &e);
        if (!r)
            return e;
        if (PQntuples(r) != 1)
            return invalid(detail, "Ce compte n'est pas correspondant de ce produit dans "
                                   "l'établissement.");
        s->account_id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
        if (s->chapter == TENANT_CHANGE_CORRESPONDENT_UPDATE && s->account_id == s->submitter_id)
            return invalid(detail, "Pour vos propres coordonnées, utilisez le chapitre profile.");
        s->nature = json_string_value(json_object_get(given, "nature"));
        s->target_key = s->chapter == TENANT_CHANGE_CORRESPONDENT_UPDATE
                            ? arena_printf(a, "account:%lld", (long long)s->account_id)
                            : arena_printf(a, "remove:%lld:%lld:%s", (long long)s->product_id,
                                           (long long)s->account_id, s->nature ? s->nature : "");
        break;
    }
    case TENANT_CHANGE_CHAPTER_COUNT:
        return DADM_E_INTERNAL;
    }
    return s->target_key ? DADM_OK : DADM_E_NOMEM;
}

/* Builds proposed/replaced for a field chapter: the current values with the
 * given ones on top. */
static dadm_err merge_fields(db *d, arena *a, submission *s, const json_t *given,
                             const char **detail)
{
    json_t *cur = NULL;
    dadm_err e = snapshot(d, a, s->chapter, s->etab_id, s->installation_id, s->account_id,
                          s->product_id, NULL, &cur);
    if (e != DADM_OK)
        return e;
    if (!cur)
        return fail(detail, DADM_E_NOT_FOUND, "Les données concernées sont introuvables.");
    json_t *prop = json_deep_copy(cur);
    if (!db_json_own(a, prop))
        return DADM_E_NOMEM;
    if (json_object_update(prop, (json_t *)given) != 0)
        return DADM_E_NOMEM;
    GString *errs = g_string_new(NULL);
    for (size_t i = 0; i < chapters[s->chapter].n_fields; i++) {
        const field_def *f = &chapters[s->chapter].fields[i];
        if (f->required && !json_is_string(json_object_get(prop, f->name)))
            field_error(errs, f->name, "ce champ est obligatoire.");
    }
    if (errs->len) {
        const char *msg = arena_printf(a, "Valeurs invalides. %s", errs->str);
        g_string_free(errs, TRUE);
        return invalid(detail, msg ? msg : "Valeurs invalides.");
    }
    g_string_free(errs, TRUE);
    if (json_equal(prop, cur))
        return invalid(detail, "Aucune valeur proposée ne diffère des valeurs actuelles : il n'y "
                               "a rien à valider.");
    s->proposed = prop;
    s->replaced = cur;
    return DADM_OK;
}

static const char *nature_label(const char *nature)
{
    return nature && strcmp(nature, "technique") == 0 ? "techniques" : "fonctionnels";
}

/* The quota on submission: correspondents of that nature, minus pending
 * removals, plus other pending additions, plus this one. */
static dadm_err check_quota(db *d, arena *a, const submission *s, int64_t except, bool approving,
                            const char **detail)
{
    const char *params[] = {id_text(a, s->etab_id), id_text(a, s->product_id), s->nature,
                            id_text(a, except)};
    dadm_err e = DADM_OK;
    PGresult *r = db_exec(d, a,
                          "SELECT q.granted, q.adding, q.removing, p.name"
                          " FROM dadm.correspondent_counts($1, $2, $3::dadm.nature, $4) q,"
                          " dadm.product p WHERE p.id = $2",
                          4, params, &e);
    if (!r)
        return e;
    if (PQntuples(r) != 1)
        return DADM_E_INTERNAL;
    long granted = strtol(PQgetvalue(r, 0, 0), NULL, 10);
    long adding = strtol(PQgetvalue(r, 0, 1), NULL, 10);
    long removing = strtol(PQgetvalue(r, 0, 2), NULL, 10);
    long after = approving ? granted + 1 : granted - removing + adding + 1;
    if (after <= TENANT_CHANGE_QUOTA)
        return DADM_OK;
    const char *msg =
        approving
            ? arena_printf(a,
                           "Quota atteint : l'établissement compte déjà %ld correspondants %s "
                           "pour %s (au plus %d). Approuvez d'abord le retrait d'un "
                           "correspondant, ou refusez cette demande.",
                           granted, nature_label(s->nature), PQgetvalue(r, 0, 3),
                           TENANT_CHANGE_QUOTA)
            : arena_printf(a,
                           "Quota atteint : au plus %d correspondants %s par produit et par "
                           "établissement ; %s en compte %ld, %ld ajout(s) et %ld retrait(s) "
                           "en attente. Demandez d'abord le retrait d'un correspondant.",
                           TENANT_CHANGE_QUOTA, nature_label(s->nature), PQgetvalue(r, 0, 3),
                           granted, adding, removing);
    return fail(detail, DADM_E_CONFLICT, msg ? msg : "Quota de correspondants atteint.");
}

static dadm_err build_add(db *d, arena *a, submission *s, const json_t *given, const char **detail)
{
    json_t *cur = NULL;
    dadm_err e = snapshot(d, a, s->chapter, s->etab_id, 0, 0, s->product_id, s->login, &cur);
    if (e != DADM_OK)
        return e;
    if (!cur)
        return DADM_E_INTERNAL;
    const json_t *acc = json_object_get(cur, "account");
    const json_t *natures = json_object_get(cur, "natures");
    size_t i;
    json_t *n;
    json_array_foreach(natures, i,
                       n) if (json_is_string(n) &&
                              strcmp(json_string_value(n), s->nature) ==
                                  0) return invalid(detail, "Cette personne est déjà correspondant "
                                                            "de ce produit avec cette nature.");
    GString *errs = g_string_new(NULL);
    if (json_is_object(acc)) {
        /* An existing account keeps its identity: names given must be its own. */
        static const char *const names[] = {"given_name", "family_name"};
        for (size_t k = 0; k < 2; k++) {
            const char *want = json_string_value(json_object_get(given, names[k]));
            const char *have = json_string_value(json_object_get(acc, names[k]));
            if (want && (!have || strcmp(want, have) != 0))
                field_error(errs, names[k],
                            "un compte existe déjà avec cet identifiant sous un autre nom ; "
                            "l'identité d'un compte ne se modifie pas.");
        }
    } else {
        static const char *const needed[] = {"given_name", "family_name", "email"};
        for (size_t k = 0; k < 3; k++)
            if (!json_is_string(json_object_get(given, needed[k])))
                field_error(errs, needed[k], "ce champ est obligatoire pour un nouveau compte.");
    }
    if (errs->len) {
        const char *msg = arena_printf(a, "Valeurs invalides. %s", errs->str);
        g_string_free(errs, TRUE);
        return invalid(detail, msg ? msg : "Valeurs invalides.");
    }
    g_string_free(errs, TRUE);
    s->proposed = (json_t *)given;
    s->replaced = cur;
    return DADM_OK;
}

static dadm_err build_remove(db *d, arena *a, submission *s, const json_t *given,
                             const char **detail)
{
    json_t *cur = NULL;
    dadm_err e =
        snapshot(d, a, s->chapter, s->etab_id, 0, s->account_id, s->product_id, NULL, &cur);
    if (e != DADM_OK)
        return e;
    if (!cur)
        return fail(detail, DADM_E_NOT_FOUND, "Correspondant introuvable.");
    bool holds = false;
    size_t i;
    json_t *n;
    json_array_foreach(json_object_get(cur, "natures"), i, n) holds =
        holds || (json_is_string(n) && strcmp(json_string_value(n), s->nature) == 0);
    if (!holds)
        return invalid(detail, "Ce compte n'est pas correspondant de ce produit avec cette "
                               "nature.");
    json_t *prop = json_deep_copy(given);
    if (!db_json_own(a, prop))
        return DADM_E_NOMEM;
    json_object_set(prop, "login", json_object_get(cur, "login"));
    s->proposed = prop;
    s->replaced = cur;
    return DADM_OK;
}

/* One decoded witness file. */
typedef struct {
    const char *name;
    unsigned char *data;
    size_t len;
    char sha[65];
} witness;

static dadm_err parse_files(arena *a, const submission *s, const json_t *files, witness **out,
                            size_t *count, const char **detail)
{
    *out = NULL;
    *count = 0;
    if (!files)
        return DADM_OK;
    if (s->chapter != TENANT_CHANGE_VERSION)
        return invalid(detail, "Les fichiers témoins « .ver » ne s'envoient qu'avec une demande "
                               "de version (chapitre version).");
    if (!json_is_array(files))
        return invalid(detail, "Le champ « files » doit être une liste de fichiers "
                               "{\"name\", \"content_base64\"}.");
    size_t n = json_array_size(files);
    if (n > TENANT_CHANGE_MAX_FILES)
        return fail(detail, DADM_E_TOO_LARGE, "Trop de fichiers témoins : 5 au plus par demande.");
    witness *w = n ? arena_alloc(a, n * sizeof(*w)) : NULL;
    if (n && !w)
        return DADM_E_NOMEM;
    for (size_t i = 0; i < n; i++) {
        const json_t *f = json_array_get(files, i);
        const char *name = json_string_value(json_object_get(f, "name"));
        const char *b64 = json_string_value(json_object_get(f, "content_base64"));
        if (!json_is_object(f) || json_object_size(f) != 2 || !name || !b64)
            return invalid(detail, "Chaque fichier témoin s'envoie comme "
                                   "{\"name\": \"….ver\", \"content_base64\": \"…\"}.");
        const char *msg = tenant_change_check_file_name(name);
        if (msg) {
            const char *m = arena_printf(a, "Fichier « %s » : %s", name, msg);
            return invalid(detail, m ? m : msg);
        }
        for (size_t k = 0; k < i; k++)
            if (strcmp(w[k].name, name) == 0)
                return invalid(detail, "Deux fichiers témoins portent le même nom.");
        size_t blen = json_string_length(json_object_get(f, "content_base64"));
        if (blen / 4 * 3 > TENANT_CHANGE_MAX_FILE_BYTES + 2) {
            const char *m =
                arena_printf(a, "Fichier « %s » trop volumineux : 256 Kio au plus.", name);
            return fail(detail, DADM_E_TOO_LARGE, m ? m : "Fichier trop volumineux.");
        }
        w[i].data = arena_alloc(a, blen / 4 * 3 + 1);
        if (!w[i].data)
            return DADM_E_NOMEM;
        if (!tenant_change_base64_decode(b64, blen, w[i].data, blen / 4 * 3 + 1, &w[i].len)) {
            const char *m = arena_printf(a, "Fichier « %s » : contenu base64 invalide.", name);
            return invalid(detail, m ? m : "Contenu base64 invalide.");
        }
        if (w[i].len == 0) {
            const char *m = arena_printf(a, "Fichier « %s » : le fichier est vide.", name);
            return invalid(detail, m ? m : "Fichier vide.");
        }
        if (w[i].len > TENANT_CHANGE_MAX_FILE_BYTES) {
            const char *m =
                arena_printf(a, "Fichier « %s » trop volumineux : 256 Kio au plus.", name);
            return fail(detail, DADM_E_TOO_LARGE, m ? m : "Fichier trop volumineux.");
        }
        w[i].name = name;
        util_sha256_hex(w[i].sha, w[i].data, w[i].len);
    }
    *out = w;
    *count = n;
    return DADM_OK;
}

static dadm_err store_files(db *d, arena *a, const submission *s, int64_t id, bool replace,
                            const witness *w, size_t n)
{
    dadm_err e = DADM_OK;
    const char *ids = id_text(a, id);
    if (replace) {
        const char *params[] = {ids};
        if (!db_exec(d, a, "DELETE FROM dadm.change_request_file WHERE change_request_id = $1", 1,
                     params, &e))
            return e;
    }
    for (size_t i = 0; i < n; i++) {
        char *hex = arena_alloc(a, w[i].len * 2 + 1);
        if (!hex)
            return DADM_E_NOMEM;
        util_hex(hex, w[i].data, w[i].len);
        const char *params[] = {id_text(a, s->etab_id),           ids,      w[i].name,
                                arena_printf(a, "%zu", w[i].len), w[i].sha, hex};
        if (!db_exec(d, a,
                     "INSERT INTO dadm.change_request_file (etab_id, change_request_id, name,"
                     " size, sha256, content) VALUES ($1, $2, $3, $4, decode($5, 'hex'),"
                     " decode($6, 'hex'))",
                     6, params, &e))
            return e;
    }
    return DADM_OK;
}

static const char *const top_keys[] = {"chapter", "product", "account", "values", "files"};

dadm_err tenant_change_submit(db *d, arena *a, int64_t etab_id, int64_t submitter_id,
                              const tenant_change_head *head, const json_t *body, json_t **out,
                              bool *amended, const char **detail)
{
    *out = NULL;
    *amended = false;
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)body, key, v)
    {
        bool known = false;
        for (size_t i = 0; i < sizeof(top_keys) / sizeof(top_keys[0]); i++)
            known = known || strcmp(key, top_keys[i]) == 0;
        if (!known) {
            const char *m = arena_printf(a,
                                         "Champ inconnu : « %s » (attendus : chapter, product, "
                                         "account, values, files).",
                                         key);
            return invalid(detail, m ? m : "Champ inconnu.");
        }
    }
    submission s = {.chapter = head->chapter,
                    .etab_id = etab_id,
                    .submitter_id = submitter_id,
                    .product_id = head->product_id};
    json_t *given = NULL;
    dadm_err e = check_values(a, s.chapter, json_object_get(body, "values"), &given, detail);
    if (e != DADM_OK)
        return e;
    witness *files = NULL;
    size_t n_files = 0;
    if ((e = parse_files(a, &s, json_object_get(body, "files"), &files, &n_files, detail)) !=
        DADM_OK)
        return e;
    if ((e = resolve_target(d, a, &s, body, given, detail)) != DADM_OK)
        return e;
    switch (s.chapter) {
    case TENANT_CHANGE_CORRESPONDENT_ADD:
        e = build_add(d, a, &s, given, detail);
        break;
    case TENANT_CHANGE_CORRESPONDENT_REMOVE:
        e = build_remove(d, a, &s, given, detail);
        break;
    case TENANT_CHANGE_VERSION: {
        const char *label = json_string_value(json_object_get(given, "version"));
        if (label && (e = check_version_known(d, a, &s, label, detail)) != DADM_OK)
            return e;
        e = merge_fields(d, a, &s, given, detail);
        break;
    }
    default:
        e = merge_fields(d, a, &s, given, detail);
        break;
    }
    if (e != DADM_OK)
        return e;

    /* The pending request for the same target and chapter, locked: a new
     * submission amends it. */
    const char *chapter = chapters[s.chapter].name;
    const char *ids_etab = id_text(a, etab_id);
    const char *lp[] = {ids_etab, chapter, s.target_key};
    PGresult *r = db_exec(d, a,
                          "SELECT id FROM dadm.change_request WHERE etab_id = $1"
                          " AND chapter = $2::dadm.change_chapter AND target_key = $3"
                          " AND status = 'pending' FOR UPDATE",
                          3, lp, &e);
    if (!r)
        return e;
    int64_t id = PQntuples(r) == 1 ? strtoll(PQgetvalue(r, 0, 0), NULL, 10) : 0;
    if (s.chapter == TENANT_CHANGE_CORRESPONDENT_ADD &&
        (e = check_quota(d, a, &s, id, false, detail)) != DADM_OK)
        return e;
    const char *proposed = json_text(a, s.proposed), *replaced = json_text(a, s.replaced);
    if (!proposed || !replaced)
        return DADM_E_NOMEM;
    if (id) {
        const char *params[] = {id_text(a, id), proposed, replaced, id_text(a, submitter_id),
                                s.nature};
        r = db_exec(d, a,
                    "UPDATE dadm.change_request SET proposed = $2::jsonb, replaced = $3::jsonb,"
                    " submitter_id = $4, nature = $5::dadm.nature, updated_at = now()"
                    " WHERE id = $1 RETURNING id",
                    5, params, &e);
        *amended = true;
    } else {
        const char *params[] = {ids_etab,
                                chapter,
                                s.target_key,
                                id_text(a, s.product_id),
                                id_text(a, s.installation_id),
                                id_text(a, s.account_id),
                                s.login,
                                s.nature,
                                proposed,
                                replaced,
                                id_text(a, submitter_id)};
        r = db_exec(d, a,
                    "INSERT INTO dadm.change_request (etab_id, chapter, target_key, product_id,"
                    " installation_id, account_id, target_login, nature, proposed, replaced,"
                    " submitter_id, first_submitter_id) VALUES ($1, $2::dadm.change_chapter,"
                    " $3, $4, $5, $6, $7, $8::dadm.nature, $9::jsonb, $10::jsonb, $11, $11)"
                    " RETURNING id",
                    11, params, &e);
        if (!r && e == DADM_E_CONFLICT)
            return fail(detail, e,
                        "Une autre demande vient d'être soumise pour les mêmes données : "
                        "relisez-la, puis modifiez-la si besoin.");
    }
    if (!r)
        return e;
    id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    if (json_object_get(body, "files") &&
        (e = store_files(d, a, &s, id, *amended, files, n_files)) != DADM_OK)
        return e;
    if ((e = audit(d, a, *amended ? "change.amend" : "change.submit", id, etab_id, s.chapter,
                   s.replaced, s.proposed, NULL)) != DADM_OK)
        return e;
    if ((e = mail_validators(d, a, id, *amended)) != DADM_OK)
        return e;
    return tenant_change_get(d, a, id, out);
}

/* ---- Decisions -------------------------------------------------------------- */

/* The locked request. */
typedef struct {
    tenant_change_chapter chapter;
    const char *status, *nature, *login, *proposed_text, *replaced_text;
    int64_t etab_id, product_id, installation_id, account_id, submitter_id, first_submitter_id;
} locked;

static dadm_err lock_request(db *d, arena *a, int64_t id, locked *l, const char **detail)
{
    memset(l, 0, sizeof(*l));
    const char *params[] = {id_text(a, id)};
    dadm_err e = DADM_OK;
    PGresult *r = db_exec(d, a,
                          "SELECT chapter::text AS chapter, status::text AS status, etab_id,"
                          " product_id, installation_id, account_id, target_login,"
                          " nature::text AS nature, proposed::text AS proposed,"
                          " replaced::text AS replaced, submitter_id, first_submitter_id"
                          " FROM dadm.change_request WHERE id = $1 FOR UPDATE",
                          1, params, &e);
    if (!r)
        return e;
    if (PQntuples(r) != 1)
        return fail(detail, DADM_E_NOT_FOUND, "Demande de modification introuvable.");
    int c = tenant_change_chapter_parse(col(r, "chapter"));
    if (c < 0)
        return DADM_E_INTERNAL;
    l->chapter = (tenant_change_chapter)c;
    l->status = col(r, "status");
    l->nature = col(r, "nature");
    l->login = col(r, "target_login");
    l->proposed_text = col(r, "proposed");
    l->replaced_text = col(r, "replaced");
    l->etab_id = col_id(r, "etab_id");
    l->product_id = col_id(r, "product_id");
    l->installation_id = col_id(r, "installation_id");
    l->account_id = col_id(r, "account_id");
    l->submitter_id = col_id(r, "submitter_id");
    l->first_submitter_id = col_id(r, "first_submitter_id");
    return DADM_OK;
}

static dadm_err lock_for_decision(db *d, arena *a, int64_t id, int64_t decider, locked *l,
                                  const char **detail)
{
    dadm_err e = lock_request(d, a, id, l, detail);
    if (e != DADM_OK)
        return e;
    if (strcmp(l->status, "pending") != 0)
        return fail(detail, DADM_E_CONFLICT, status_label(l->status));
    if (l->submitter_id == decider || l->first_submitter_id == decider)
        return fail(detail, DADM_E_FORBIDDEN,
                    "Vous ne pouvez pas décider d'une demande que vous avez soumise ou "
                    "modifiée : un autre validateur doit s'en charger.");
    return DADM_OK;
}

/* Applies a correspondent addition: the account (created when the person
 * has none in the establishment yet), then the grant. */
static dadm_err apply_add(db *d, arena *a, const locked *l, const json_t *proposed,
                          const json_t *replaced, const char **detail)
{
    dadm_err e = DADM_OK;
    int64_t account =
        json_integer_value(json_object_get(json_object_get(replaced, "account"), "id"));
    if (!account) {
        const char *lp[] = {l->login};
        PGresult *r = db_exec(d, a, "SELECT 1 FROM dadm.account WHERE login = $1", 1, lp, &e);
        if (!r)
            return e;
        if (PQntuples(r) > 0)
            return fail(detail, DADM_E_CONFLICT,
                        "Cet identifiant est déjà celui d'un autre compte : la demande ne peut "
                        "pas être approuvée ; refusez-la en demandant un autre identifiant.");
        const char *params[] = {id_text(a, l->etab_id),
                                l->login,
                                json_string_value(json_object_get(proposed, "given_name")),
                                json_string_value(json_object_get(proposed, "family_name")),
                                json_string_value(json_object_get(proposed, "email")),
                                json_string_value(json_object_get(proposed, "phone"))};
        r = db_exec(d, a,
                    "INSERT INTO dadm.account (etab_id, login, given_name, family_name, email,"
                    " phone, kind) VALUES ($1, $2, $3, $4, $5, $6, 'person') RETURNING id",
                    6, params, &e);
        if (!r)
            return e;
        account = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    }
    PGresult *r = chapter_exec(d, a, chapters[l->chapter].apply_sql, l->etab_id, 0, account,
                               l->product_id, NULL, l->nature, &e);
    if (!r)
        return e;
    return PQntuples(r) == 1 ? DADM_OK : DADM_E_INTERNAL;
}

dadm_err tenant_change_approve(db *d, arena *a, int64_t id, int64_t decider_id, json_t **out,
                               const char **detail)
{
    *out = NULL;
    locked l;
    dadm_err e = lock_for_decision(d, a, id, decider_id, &l, detail);
    if (e != DADM_OK)
        return e;
    const chapter_def *ch = &chapters[l.chapter];
    json_t *proposed = json_parse(a, l.proposed_text), *replaced = json_parse(a, l.replaced_text);
    if (!proposed || !replaced)
        return DADM_E_NOMEM;
    PGresult *r;
    /* Lock what the comparison and the quota depend on: the target row, or
     * for correspondents the (establishment, product) pair. */
    if (ch->scope == TENANT_CHANGE_SCOPE_CORRESPONDENTS &&
        l.chapter != TENANT_CHANGE_CORRESPONDENT_UPDATE) {
        const char *params[] = {id_text(a, l.etab_id), id_text(a, l.product_id)};
        if (!db_exec(d, a,
                     "SELECT pg_advisory_xact_lock(hashtext('dadm.correspondents'),"
                     " hashtext($1::text || ':' || $2::text))",
                     2, params, &e))
            return e;
    } else if (!chapter_exec(d, a, ch->lock_sql, l.etab_id, l.installation_id, l.account_id,
                             l.product_id, NULL, NULL, &e)) {
        return e;
    }
    json_t *cur = NULL;
    if ((e = snapshot(d, a, l.chapter, l.etab_id, l.installation_id, l.account_id, l.product_id,
                      l.login, &cur)) != DADM_OK)
        return e;
    if (!cur || !json_equal(cur, replaced))
        return fail(detail, DADM_E_CONFLICT,
                    "Les données concernées ont changé depuis la soumission de cette demande : "
                    "relisez-les. La demande reste en attente ; refusez-la, ou laissez son "
                    "auteur la modifier.");
    if (l.chapter == TENANT_CHANGE_CORRESPONDENT_ADD) {
        submission s = {.etab_id = l.etab_id, .product_id = l.product_id, .nature = l.nature};
        if ((e = check_quota(d, a, &s, id, true, detail)) != DADM_OK)
            return e;
        if ((e = apply_add(d, a, &l, proposed, replaced, detail)) != DADM_OK)
            return e;
    } else {
        r = chapter_exec(d, a, ch->apply_sql, l.etab_id, l.installation_id, l.account_id,
                         l.product_id, l.proposed_text, l.nature, &e);
        if (!r)
            return e;
        if (PQntuples(r) != 1)
            return fail(detail, DADM_E_CONFLICT,
                        l.chapter == TENANT_CHANGE_VERSION
                            ? "La version proposée n'est plus connue pour ce produit."
                            : "Les données concernées n'existent plus.");
    }
    const char *params[] = {id_text(a, id), id_text(a, decider_id)};
    if (!db_exec(d, a,
                 "UPDATE dadm.change_request SET status = 'approved', decider_id = $2,"
                 " decided_at = now(), updated_at = now() WHERE id = $1",
                 2, params, &e))
        return e;
    if ((e = audit(d, a, "change.approve", id, l.etab_id, l.chapter, replaced, proposed, NULL)) !=
            DADM_OK ||
        (e = mail_decision(d, a, id, NULL)) != DADM_OK)
        return e;
    return tenant_change_get(d, a, id, out);
}

dadm_err tenant_change_refuse(db *d, arena *a, int64_t id, int64_t decider_id, const char *motive,
                              json_t **out, const char **detail)
{
    *out = NULL;
    char *m = motive ? g_strstrip(arena_strdup(a, motive)) : NULL;
    if (motive && !m)
        return DADM_E_NOMEM;
    if (!m || !*m)
        return invalid(detail, "Le motif du refus est obligatoire (champ « motive ») : il est "
                               "envoyé au correspondant.");
    if (utf8_chars(m) > 2000 || has_control(m, true))
        return invalid(detail, "Le motif du refus compte 2000 caractères au plus, sans "
                               "caractère de contrôle.");
    locked l;
    dadm_err e = lock_for_decision(d, a, id, decider_id, &l, detail);
    if (e != DADM_OK)
        return e;
    const char *params[] = {id_text(a, id), id_text(a, decider_id), m};
    if (!db_exec(d, a,
                 "UPDATE dadm.change_request SET status = 'refused', decider_id = $2,"
                 " motive = $3, decided_at = now(), updated_at = now() WHERE id = $1",
                 3, params, &e))
        return e;
    json_t *proposed = json_parse(a, l.proposed_text), *replaced = json_parse(a, l.replaced_text);
    if (!proposed || !replaced)
        return DADM_E_NOMEM;
    if ((e = audit(d, a, "change.refuse", id, l.etab_id, l.chapter, replaced, proposed, m)) !=
            DADM_OK ||
        (e = mail_decision(d, a, id, m)) != DADM_OK)
        return e;
    return tenant_change_get(d, a, id, out);
}

dadm_err tenant_change_withdraw(db *d, arena *a, int64_t id, int64_t account_id, json_t **out,
                                const char **detail)
{
    *out = NULL;
    /* Read first: once decided, the request is out of the submitter's
     * update scope and the lock below would not see it. */
    const char *params[] = {id_text(a, id), id_text(a, account_id)};
    dadm_err e = DADM_OK;
    PGresult *r = db_exec(d, a,
                          "SELECT status::text, submitter_id = $2 FROM dadm.change_request"
                          " WHERE id = $1",
                          2, params, &e);
    if (!r)
        return e;
    if (PQntuples(r) != 1)
        return fail(detail, DADM_E_NOT_FOUND, "Demande de modification introuvable.");
    if (strcmp(PQgetvalue(r, 0, 0), "pending") != 0)
        return fail(detail, DADM_E_CONFLICT, status_label(PQgetvalue(r, 0, 0)));
    if (strcmp(PQgetvalue(r, 0, 1), "t") != 0)
        return fail(detail, DADM_E_FORBIDDEN, "Seul l'auteur de la demande peut la retirer.");
    locked l;
    e = lock_request(d, a, id, &l, detail);
    if (e == DADM_E_NOT_FOUND || (e == DADM_OK && strcmp(l.status, "pending") != 0))
        return fail(detail, DADM_E_CONFLICT, "Cette demande vient d'être décidée.");
    if (e != DADM_OK)
        return e;
    if (l.submitter_id != account_id)
        return fail(detail, DADM_E_FORBIDDEN, "Seul l'auteur de la demande peut la retirer.");
    const char *up[] = {params[0]};
    if (!db_exec(d, a,
                 "UPDATE dadm.change_request SET status = 'withdrawn', decided_at = now(),"
                 " updated_at = now() WHERE id = $1",
                 1, up, &e))
        return e;
    json_t *proposed = json_parse(a, l.proposed_text), *replaced = json_parse(a, l.replaced_text);
    if (!proposed || !replaced)
        return DADM_E_NOMEM;
    if ((e = audit(d, a, "change.withdraw", id, l.etab_id, l.chapter, replaced, proposed, NULL)) !=
        DADM_OK)
        return e;
    return tenant_change_get(d, a, id, out);
}
