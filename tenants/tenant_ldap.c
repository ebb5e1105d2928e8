#include "tenant_ldap.h"

#include <ctype.h>
#include <ldap.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "db_json.h"
#include "log.h"
#include "util.h"

/* The synchronisation control (RFC 4533), announced in the root DSE. */
#define SYNC_CONTROL_OID "1.3.6.1.4.1.4203.1.9.1.1"
/* Kept in the run record; the count has them all. */
#define SKIPPED_KEPT 1000
/* COPY data is sent in chunks of about this size. */
#define COPY_CHUNK (256 * 1024)

static const char *const field_names[TENANT_LDAP_NFIELDS] = {
    [TENANT_LDAP_KEY] = "key",
    [TENANT_LDAP_EPPN] = "eppn",
    [TENANT_LDAP_MAIL] = "mail",
    [TENANT_LDAP_GIVEN_NAME] = "given_name",
    [TENANT_LDAP_FAMILY_NAME] = "family_name",
    [TENANT_LDAP_DISPLAY_NAME] = "display_name",
    [TENANT_LDAP_PHONE] = "phone",
    [TENANT_LDAP_ENTITY] = "entity",
    [TENANT_LDAP_AFFILIATION] = "affiliation",
    [TENANT_LDAP_ETABLISSEMENT] = "etablissement",
};

static const char *const default_attrs[TENANT_LDAP_NFIELDS] = {
    [TENANT_LDAP_KEY] = "entryUUID",
    [TENANT_LDAP_EPPN] = "eduPersonPrincipalName",
    [TENANT_LDAP_MAIL] = "mail",
    [TENANT_LDAP_GIVEN_NAME] = "givenName",
    [TENANT_LDAP_FAMILY_NAME] = "sn",
    [TENANT_LDAP_DISPLAY_NAME] = "displayName",
    [TENANT_LDAP_PHONE] = "telephoneNumber",
    [TENANT_LDAP_ENTITY] = "supannEntiteAffectation",
    [TENANT_LDAP_AFFILIATION] = "eduPersonAffiliation",
    [TENANT_LDAP_ETABLISSEMENT] = "supannEtablissement",
};

const char *tenant_ldap_field_name(tenant_ldap_field f)
{
    return (unsigned)f < TENANT_LDAP_NFIELDS ? field_names[f] : "unknown";
}

/* An attribute description: a descriptor (letter, then letters, digits,
 * hyphens) or a numeric OID; options (";lang-fr") are not accepted. */
static bool valid_attr(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n >= sizeof(((tenant_ldap_map *)0)->attr[0]))
        return false;
    if (isalpha((unsigned char)s[0])) {
        for (size_t i = 1; i < n; i++)
            if (!isalnum((unsigned char)s[i]) && s[i] != '-')
                return false;
        return true;
    }
    bool digit = false;
    for (size_t i = 0; i < n; i++) {
        if (isdigit((unsigned char)s[i]))
            digit = true;
        else if (s[i] == '.' && digit)
            digit = false;
        else
            return false;
    }
    return digit;
}

dadm_err tenant_ldap_map_parse(const json_t *map, tenant_ldap_map *out, const char **why)
{
    *why = NULL;
    for (int f = 0; f < TENANT_LDAP_NFIELDS; f++)
        snprintf(out->attr[f], sizeof(out->attr[f]), "%s", default_attrs[f]);
    if (!map)
        return DADM_OK;
    if (!json_is_object(map)) {
        *why = "the attribute mapping must be a JSON object";
        return DADM_E_INVALID;
    }
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)map, k, v)
    {
        int f = 0;
        while (f < TENANT_LDAP_NFIELDS && strcmp(field_names[f], k) != 0)
            f++;
        if (f == TENANT_LDAP_NFIELDS) {
            *why = "unknown field in the attribute mapping";
            return DADM_E_INVALID;
        }
        if (!json_is_string(v) || !valid_attr(json_string_value(v))) {
            *why = "invalid attribute name in the attribute mapping";
            return DADM_E_INVALID;
        }
        snprintf(out->attr[f], sizeof(out->attr[f]), "%s", json_string_value(v));
    }
    return DADM_OK;
}

char *tenant_ldap_escape(arena *a, const char *value, size_t len)
{
    struct berval in = {.bv_len = len, .bv_val = (char *)value}, out = {0};
    if (ldap_bv2escaped_filter_value(&in, &out) != 0)
        return NULL;
    char *s = arena_strndup(a, out.bv_val ? out.bv_val : "", out.bv_len);
    ber_memfree(out.bv_val);
    return s;
}

char *tenant_ldap_since_filter(arena *a, const char *filter, const char *since)
{
    char *v = tenant_ldap_escape(a, since, strlen(since));
    return v ? arena_printf(a, "(&%s(modifyTimestamp>=%s))", filter, v) : NULL;
}

/* A recursive-descent reading of RFC 4515: returns the position after the
 * filter starting at p, or NULL when it is not one. */
static const char *parse_filter(const char *p, int depth);

static const char *parse_value(const char *p)
{
    while (*p && *p != ')' && *p != '(') {
        if (*p == '\\') {
            if (!isxdigit((unsigned char)p[1]) || !isxdigit((unsigned char)p[2]))
                return NULL;
            p += 3;
        } else {
            p++;
        }
    }
    return p;
}

static const char *parse_attr(const char *p)
{
    const char *b = p;
    if (isalpha((unsigned char)*p)) {
        while (isalnum((unsigned char)*p) || *p == '-')
            p++;
    } else {
        while (isdigit((unsigned char)*p) || *p == '.')
            p++;
    }
    while (p > b && *p == ';') { /* options */
        const char *o = ++p;
        while (isalnum((unsigned char)*p) || *p == '-')
            p++;
        if (p == o)
            return NULL;
    }
    return p > b ? p : NULL;
}

static const char *parse_item(const char *p)
{
    const char *q = *p == ':' ? p : parse_attr(p);
    if (!q)
        return NULL;
    if (*q == ':') { /* extensible: [attr][:dn][:rule]:=value */
        if (strncmp(q, ":dn", 3) == 0 && (q[3] == ':'))
            q += 3;
        if (q[0] == ':' && q[1] != '=') {
            q = parse_attr(q + 1);
            if (!q)
                return NULL;
        }
        if (q[0] != ':' || q[1] != '=')
            return NULL;
        return parse_value(q + 2);
    }
    if (*q == '=')
        return parse_value(q + 1);
    if ((*q == '~' || *q == '>' || *q == '<') && q[1] == '=') {
        const char *v = parse_value(q + 2);
        return v && !memchr(q + 2, '*', (size_t)(v - q - 2)) ? v : NULL;
    }
    return NULL;
}

static const char *parse_filter(const char *p, int depth)
{
    if (*p != '(' || depth > 32)
        return NULL;
    p++;
    if (*p == '&' || *p == '|') {
        p++;
        int n = 0;
        while (*p == '(') {
            p = parse_filter(p, depth + 1);
            if (!p)
                return NULL;
            n++;
        }
        if (n == 0)
            return NULL;
    } else if (*p == '!') {
        p = parse_filter(p + 1, depth + 1);
    } else {
        p = parse_item(p);
    }
    return p && *p == ')' ? p + 1 : NULL;
}

bool tenant_ldap_filter_valid(const char *filter)
{
    if (!filter || strlen(filter) > 2000)
        return false;
    const char *end = parse_filter(filter, 0);
    return end && *end == '\0';
}

bool tenant_ldap_dn_valid(const char *dn)
{
    LDAPDN parsed = NULL;
    if (!dn || !*dn || strlen(dn) > 1000 ||
        ldap_str2dn(dn, &parsed, LDAP_DN_FORMAT_LDAPV3) != LDAP_SUCCESS)
        return false;
    ldap_dnfree(parsed);
    return true;
}

bool tenant_ldap_uuid_text(const void *bin, size_t len, char out[37])
{
    if (len != 16)
        return false;
    const unsigned char *b = bin;
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    for (size_t i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        out[o++] = hex[b[i] >> 4];
        out[o++] = hex[b[i] & 15];
    }
    out[o] = '\0';
    return true;
}

bool tenant_ldap_copy_field(GString *buf, const char *s)
{
    if (!s) {
        g_string_append(buf, "\\N");
        return true;
    }
    /* Runs without a character to escape are copied whole. */
    for (;;) {
        size_t n = strcspn(s, "\\\t\n\r");
        g_string_append_len(buf, s, (gssize)n);
        s += n;
        switch (*s) {
        case '\0':
            return true;
        case '\\':
            g_string_append(buf, "\\\\");
            break;
        case '\t':
            g_string_append(buf, "\\t");
            break;
        case '\n':
            g_string_append(buf, "\\n");
            break;
        default:
            g_string_append(buf, "\\r");
        }
        s++;
    }
}

/* The first value of a field as a C string, or NULL; *bad is set when any
 * value of the field holds a NUL byte or is not UTF-8. */
static const char *first_value(arena *a, const struct berval *v, bool *bad)
{
    if (!v || !v[0].bv_val)
        return NULL;
    for (size_t i = 0; v[i].bv_val; i++)
        if (memchr(v[i].bv_val, '\0', v[i].bv_len) ||
            !g_utf8_validate(v[i].bv_val, (gssize)v[i].bv_len, NULL))
            *bad = true;
    return arena_strndup(a, v[0].bv_val, v[0].bv_len);
}

/* At most `max` characters of s, cut on a character boundary. */
static const char *clip(arena *a, const char *s, long max)
{
    if (!s || g_utf8_strlen(s, -1) <= max)
        return s;
    const char *end = g_utf8_offset_to_pointer(s, max);
    return arena_strndup(a, s, (size_t)(end - s));
}

/* The checks below are those of the account table's constraints, or
 * stricter (lengths in bytes, not characters), so a staged row never makes
 * the whole batch fail. */
static bool is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static bool valid_key(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '-')
            return false;
    return true;
}

/* local@domain, lower case: [a-z0-9][a-z0-9._-]{0,63} @ [a-z0-9][a-z0-9.-]{0,62} */
static bool valid_login(const char *s)
{
    const char *at = strchr(s, '@');
    if (!at || at == s || at - s > 64 || strlen(at + 1) < 1 || strlen(at + 1) > 63)
        return false;
    for (const char *p = s; *p; p++) {
        bool alnum = (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9');
        bool first = p == s || p == at + 1;
        if (p == at)
            continue;
        if (first ? !alnum : !(alnum || *p == '.' || *p == '-' || (p < at && *p == '_')))
            return false;
    }
    return true;
}

static bool valid_mail(const char *s)
{
    const char *at = strchr(s, '@');
    if (!at || at == s || at - s > 64 || strchr(at + 1, '@'))
        return false;
    size_t dom = strlen(at + 1);
    if (dom < 1 || dom > 190)
        return false;
    for (const char *p = s; *p; p++)
        if (is_ws(*p))
            return false;
    return true;
}

static bool valid_phone(const char *s)
{
    if (*s == '+')
        s++;
    size_t n = strlen(s);
    if (n < 4 || n > 30)
        return false;
    for (; *s; s++)
        if (!strchr("0123456789 .()-", *s))
            return false;
    return true;
}

/* Appends s (n bytes of valid UTF-8) as a JSON string. */
static void json_quote(GString *b, const char *s, size_t n)
{
    g_string_append_c(b, '"');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            g_string_append_c(b, '\\');
            g_string_append_c(b, (char)c);
        } else if (c < 0x20) {
            g_string_append_printf(b, "\\u%04x", c);
        } else {
            g_string_append_c(b, (char)c);
        }
    }
    g_string_append_c(b, '"');
}

static void json_values(GString *b, const struct berval *v)
{
    g_string_append_c(b, '[');
    for (size_t i = 0; v && v[i].bv_val; i++) {
        if (i)
            g_string_append_c(b, ',');
        json_quote(b, v[i].bv_val, v[i].bv_len);
    }
    g_string_append_c(b, ']');
}

const char *tenant_ldap_person_from_values(arena *a, tenant_ldap_values vals, const char *uai,
                                           const char *eppn_domain, tenant_ldap_person *out)
{
    memset(out, 0, sizeof(*out));
    bool bad = false;
    const char *s[TENANT_LDAP_NFIELDS] = {0};
    for (int f = 0; f < TENANT_LDAP_NFIELDS; f++)
        s[f] = first_value(a, vals[f], &bad);
    if (!s[TENANT_LDAP_KEY] || !*s[TENANT_LDAP_KEY])
        return "missing_key";
    if (bad)
        return "invalid_value";
    if (!valid_key(s[TENANT_LDAP_KEY]))
        return "missing_key";
    if (!s[TENANT_LDAP_EPPN])
        return "missing_eppn";
    if (vals[TENANT_LDAP_EPPN][1].bv_val)
        return "invalid_eppn";
    /* The equality rule of eduPersonPrincipalName ignores surrounding
     * spaces, so the value the IdP releases has none: neither do we. */
    char *eppn = arena_strdup(a, s[TENANT_LDAP_EPPN]);
    if (!eppn)
        return "invalid_value";
    g_strstrip(eppn);
    char *login = g_ascii_strdown(eppn, -1);
    bool login_ok = valid_login(login);
    const char *at = strchr(login, '@');
    bool scope_ok = !eppn_domain || (at && strcmp(at + 1, eppn_domain) == 0);
    out->login = arena_strdup(a, login);
    g_free(login);
    if (!login_ok)
        return "invalid_eppn";
    if (!scope_ok)
        return "eppn_scope";
    if (vals[TENANT_LDAP_ETABLISSEMENT]) {
        char want[32];
        snprintf(want, sizeof(want), "{UAI}%s", uai);
        bool ours = false;
        for (size_t i = 0; vals[TENANT_LDAP_ETABLISSEMENT][i].bv_val; i++) {
            const struct berval *b = &vals[TENANT_LDAP_ETABLISSEMENT][i];
            if (b->bv_len == strlen(want) && memcmp(b->bv_val, want, b->bv_len) == 0)
                ours = true;
        }
        if (!ours)
            return "foreign_etab";
    }
    const char *mail = s[TENANT_LDAP_MAIL];
    if (!mail)
        return "missing_mail";
    if (!valid_mail(mail))
        return "invalid_mail";
    const char *phone = s[TENANT_LDAP_PHONE];
    if (phone && !valid_phone(phone))
        phone = NULL;
    const char *family = s[TENANT_LDAP_FAMILY_NAME];
    if (!family)
        family = s[TENANT_LDAP_DISPLAY_NAME];
    /* Built by hand, keys sorted: this runs for every entry of the
     * directory and must give the same text for the same values. */
    GString *info = g_string_sized_new(256);
    g_string_append(info, "{\"affiliation\":");
    json_values(info, vals[TENANT_LDAP_AFFILIATION]);
    g_string_append(info, ",\"display_name\":");
    const char *dname = s[TENANT_LDAP_DISPLAY_NAME];
    if (dname)
        json_quote(info, dname, strlen(dname));
    else
        g_string_append(info, "null");
    g_string_append(info, ",\"entity\":");
    json_values(info, vals[TENANT_LDAP_ENTITY]);
    g_string_append_c(info, '}');
    out->info_json = arena_strndup(a, info->str, info->len);
    g_string_free(info, TRUE);
    char *key = arena_strdup(a, s[TENANT_LDAP_KEY]);
    for (char *k = key; k && *k; k++)
        *k = g_ascii_tolower(*k);
    out->key = key;
    out->eppn = eppn;
    out->email = mail;
    out->phone = phone;
    out->given_name = clip(a, s[TENANT_LDAP_GIVEN_NAME] ? s[TENANT_LDAP_GIVEN_NAME] : "", 100);
    out->family_name = clip(a, family ? family : "", 100);
    if (!out->key || !out->login || !out->info_json || !out->given_name || !out->family_name)
        return "invalid_value";
    return NULL;
}

/* ---- a run ---- */

typedef struct {
    db *d;
    arena *a;  /* the run's */
    arena *ea; /* per entry, recycled every few thousand entries */
    const tenant_ldap_options *opt;
    tenant_ldap_map map;
    const char *uai, *eppn_domain;
    char *attrs[TENANT_LDAP_NFIELDS + 1];
    size_t attr_len[TENANT_LDAP_NFIELDS];
    GString *copy;
    GHashTable *entry_keys; /* keys staged as 'e': each at most once */
    GHashTable *logins;     /* login of the entries staged as 'e' -> how many (1 or 2) */
    GString *hash_in;       /* what person_hash digests, reused */
    bool copying;
    long seen, skipped;
    json_t *skipped_entries;
    bool present_mode; /* the listing is complete: absent keys are gone */
    int sync_code;     /* result code of the synchronisation search */
    const char *error; /* first failure, arena-owned */
    dadm_err err;
} run;

static void progress(run *r, bool last)
{
    if (!r->opt->progress || (!last && r->seen % 5000 != 0))
        return;
    fprintf(r->opt->progress, "\r%ld entrées lues / entries read, %ld ignorées / skipped%s",
            r->seen, r->skipped, last ? "\n" : "");
    fflush(r->opt->progress);
}

static void set_error(run *r, dadm_err e, const char *msg)
{
    if (r->err == DADM_OK) {
        r->err = e;
        r->error = msg;
    }
}

static bool flush_copy(run *r, bool force)
{
    if (!force && r->copy->len < COPY_CHUNK)
        return true;
    if (r->copy->len && PQputCopyData(db_conn(r->d), r->copy->str, (int)r->copy->len) != 1) {
        set_error(r, DADM_E_DB_UNAVAILABLE, "database: COPY failed / échec de l'écriture");
        return false;
    }
    g_string_truncate(r->copy, 0);
    return true;
}

/* The digest of a person's mapped values, as account.dir_hash keeps it. */
static void person_hash(GString *in, const tenant_ldap_person *p, char out[65])
{
    const char *v[] = {p->login, p->eppn,  p->given_name, p->family_name,
                       p->email, p->phone, p->info_json};
    g_string_truncate(in, 0);
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        /* 0x1f separates; 0x1e marks NULL: neither is in a valid value. */
        g_string_append(in, v[i] ? v[i] : "\x1e");
        g_string_append_c(in, '\x1f');
    }
    util_sha256_hex(out, in->str, in->len);
}

static bool stage_row(run *r, char kind, const char *key, const char *dn,
                      const tenant_ldap_person *p)
{
    char hash[65] = "";
    if (kind == 'e') {
        /* A refresh may send an entry twice: the first one is kept. */
        if (g_hash_table_contains(r->entry_keys, key))
            return true;
        g_hash_table_add(r->entry_keys, g_strdup(key));
        /* Entries sharing a login are all skipped (ldap_apply): counted
         * here, while reading, rather than by grouping the staged rows. */
        int n = GPOINTER_TO_INT(g_hash_table_lookup(r->logins, p->login));
        if (n < 2)
            g_hash_table_replace(r->logins, g_strdup(p->login), GINT_TO_POINTER(n + 1));
        person_hash(r->hash_in, p, hash);
    }
    GString *b = r->copy;
    g_string_append_c(b, kind);
    g_string_append_c(b, '\t');
    tenant_ldap_copy_field(b, key);
    g_string_append_c(b, '\t');
    tenant_ldap_copy_field(b, dn);
    const char *cols[] = {p ? hash : NULL,          p ? p->login : NULL,       p ? p->eppn : NULL,
                          p ? p->given_name : NULL, p ? p->family_name : NULL, p ? p->email : NULL,
                          p ? p->phone : NULL,      p ? p->info_json : NULL};
    for (size_t i = 0; i < sizeof(cols) / sizeof(cols[0]); i++) {
        g_string_append_c(b, '\t');
        tenant_ldap_copy_field(b, cols[i]);
    }
    g_string_append_c(b, '\n');
    return flush_copy(r, false);
}

/* The logins staged more than once, as a JSON array for ldap_apply; NULL
 * when out of memory. */
static char *dup_logins_json(GHashTable *logins)
{
    json_t *a = json_array();
    GHashTableIter it;
    gpointer login, n;
    g_hash_table_iter_init(&it, logins);
    while (a && g_hash_table_iter_next(&it, &login, &n))
        if (GPOINTER_TO_INT(n) > 1 && json_array_append_new(a, json_string(login)) != 0) {
            json_decref(a);
            a = NULL;
        }
    char *s = a ? json_dumps(a, JSON_COMPACT) : NULL;
    json_decref(a);
    return s;
}

static void skip(run *r, const char *dn, const char *reason)
{
    r->skipped++;
    if (json_array_size(r->skipped_entries) < SKIPPED_KEPT) {
        json_t *o = json_object();
        json_t *dnv = dn && g_utf8_validate(dn, -1, NULL) ? json_string(dn) : json_null();
        json_object_set_new(o, "dn", dnv ? dnv : json_null());
        json_object_set_new(o, "reason", json_string(reason));
        json_array_append_new(r->skipped_entries, o);
    }
}

/* One entry with its attributes: staged as 'e', or skipped (then staged as
 * 'p' when it has a key, so that an unusable entry never disables the
 * account it once provisioned). */
static void on_entry(run *r, LDAP *ld, LDAPMessage *e, const char *sync_key)
{
    r->seen++;
    /* One pass over the entry's attributes; the values point into the
     * message, only their arrays are allocated. */
    tenant_ldap_values vals = {0};
    BerElement *ber = NULL;
    struct berval dnbv = {0}, attr;
    char *dn = NULL;
    if (ldap_get_dn_ber(ld, e, &ber, &dnbv) == LDAP_SUCCESS) {
        dn = arena_strndup(r->ea, dnbv.bv_val, dnbv.bv_len);
        BerVarray v = NULL;
        while (ldap_get_attribute_ber(ld, e, ber, &attr, &v) == LDAP_SUCCESS && attr.bv_val) {
            int f = 0;
            while (f < TENANT_LDAP_NFIELDS &&
                   !(r->attr_len[f] == attr.bv_len &&
                     g_ascii_strncasecmp(r->map.attr[f], attr.bv_val, attr.bv_len) == 0))
                f++;
            if (f < TENANT_LDAP_NFIELDS && !vals[f]) {
                vals[f] = v;
            } else {
                ber_memfree(v);
            }
            v = NULL;
        }
        ber_memfree(v);
    }
    ber_free(ber, 0);
    tenant_ldap_person p;
    const char *why = tenant_ldap_person_from_values(r->ea, vals, r->uai, r->eppn_domain, &p);
    const char *key = p.key ? p.key : sync_key;
    if (why) {
        skip(r, dn, why);
        if (key)
            stage_row(r, 'p', key, dn, NULL);
    } else {
        stage_row(r, 'e', sync_key ? sync_key : p.key, dn, &p);
    }
    for (int f = 0; f < TENANT_LDAP_NFIELDS; f++)
        ber_memfree(vals[f]);
    if (r->seen % 2000 == 0) {
        arena_free(r->ea);
        r->ea = arena_new(0);
        if (!r->ea)
            set_error(r, DADM_E_NOMEM, "out of memory / mémoire insuffisante");
    }
    progress(r, false);
}

/* The message for a failed LDAP operation, without secrets. */
static const char *ldap_message(run *r, LDAP *ld, int rc, const char *what)
{
    char *diag = NULL;
    if (ld)
        ldap_get_option(ld, LDAP_OPT_DIAGNOSTIC_MESSAGE, &diag);
    const char *cause;
    switch (rc) {
    case LDAP_SERVER_DOWN:
    case LDAP_CONNECT_ERROR:
        cause = "directory unreachable or TLS refused / annuaire injoignable ou TLS refusé";
        break;
    case LDAP_INVALID_CREDENTIALS:
        cause = "bad bind DN or password / identifiant ou mot de passe de l'annuaire refusé";
        break;
    case LDAP_FILTER_ERROR:
    case LDAP_PROTOCOL_ERROR:
        cause = "bad search filter / filtre de recherche invalide";
        break;
    case LDAP_NO_SUCH_OBJECT:
        cause = "base DN not found / base de recherche introuvable";
        break;
    case LDAP_INVALID_DN_SYNTAX:
        cause = "invalid DN / DN invalide";
        break;
    case LDAP_SIZELIMIT_EXCEEDED:
    case LDAP_ADMINLIMIT_EXCEEDED:
        cause = "the directory limited the answer / l'annuaire a tronqué la réponse";
        break;
    case LDAP_TIMEOUT:
    case LDAP_TIMELIMIT_EXCEEDED:
        cause = "directory timeout / délai dépassé";
        break;
    default:
        cause = "directory error / erreur de l'annuaire";
    }
    const char *m = arena_printf(r->a, "%s: %s (%d %s%s%s)", what, cause, rc, ldap_err2string(rc),
                                 diag && *diag ? ": " : "", diag && *diag ? diag : "");
    ldap_memfree(diag);
    return m ? m : cause;
}

static bool ldap_failed(run *r, LDAP *ld, int rc, const char *what)
{
    if (rc == LDAP_SUCCESS)
        return false;
    set_error(r,
              rc == LDAP_SERVER_DOWN || rc == LDAP_CONNECT_ERROR || rc == LDAP_TIMEOUT
                  ? DADM_E_UNAVAILABLE
                  : DADM_E_INVALID,
              ldap_message(r, ld, rc, what));
    return true;
}

typedef struct {
    const char *uri, *ca_file, *bind_dn, *password, *base, *filter;
    bool starttls, allow_plain;
    int scope, page_size;
} settings;

/* A connection set up entirely from the settings (never from ldap.conf nor
 * the environment's TLS defaults), bound. NULL on failure. */
static LDAP *connect_bind(run *r, const settings *s)
{
    LDAP *ld = NULL;
    bool ldaps = strncmp(s->uri, "ldaps://", 8) == 0;
    if (!ldaps && !s->starttls && !s->allow_plain) {
        set_error(r, DADM_E_INVALID,
                  "plain LDAP refused: use StartTLS or ldaps:// (or allow plain explicitly) /"
                  " LDAP sans chiffrement refusé");
        return NULL;
    }
    int rc = ldap_initialize(&ld, s->uri);
    if (ldap_failed(r, NULL, rc, "connect"))
        return NULL;
    int v3 = LDAP_VERSION3, zero = 0, demand = LDAP_OPT_X_TLS_DEMAND;
    struct timeval tv = {.tv_sec = r->opt->timeout > 0 ? r->opt->timeout : 30};
    ldap_set_option(ld, LDAP_OPT_PROTOCOL_VERSION, &v3);
    ldap_set_option(ld, LDAP_OPT_REFERRALS, LDAP_OPT_OFF);
    ldap_set_option(ld, LDAP_OPT_NETWORK_TIMEOUT, &tv);
    ldap_set_option(ld, LDAP_OPT_TIMEOUT, &tv);
    ldap_set_option(ld, LDAP_OPT_X_TLS_REQUIRE_CERT, &demand);
    if (s->ca_file)
        ldap_set_option(ld, LDAP_OPT_X_TLS_CACERTFILE, s->ca_file);
    /* Without a new context the options above would not apply and the
     * system's CAs would be used. */
    rc = ldap_set_option(ld, LDAP_OPT_X_TLS_NEWCTX, &zero);
    if (ldap_failed(r, ld, rc == LDAP_OPT_SUCCESS ? LDAP_SUCCESS : LDAP_LOCAL_ERROR, "TLS setup"))
        goto fail;
    if (!ldaps && s->starttls) {
        /* Never fall back to plain when StartTLS fails. */
        rc = ldap_start_tls_s(ld, NULL, NULL);
        if (rc != LDAP_SUCCESS) {
            const char *m = ldap_message(r, ld, rc, "StartTLS");
            set_error(r, DADM_E_UNAVAILABLE,
                      arena_printf(r->a, "TLS refused / TLS refusé: %s", m ? m : ""));
            goto fail;
        }
    }
    struct berval cred = {.bv_len = s->password ? strlen(s->password) : 0,
                          .bv_val = (char *)(s->password ? s->password : "")};
    rc = ldap_sasl_bind_s(ld, s->bind_dn, LDAP_SASL_SIMPLE, &cred, NULL, NULL, NULL);
    if (rc != LDAP_SUCCESS) {
        if (ldaps && (rc == LDAP_SERVER_DOWN || rc == LDAP_CONNECT_ERROR)) {
            const char *m = ldap_message(r, ld, rc, "ldaps");
            set_error(r, DADM_E_UNAVAILABLE,
                      arena_printf(r->a,
                                   "unreachable or TLS refused / injoignable ou TLS refusé: %s",
                                   m ? m : ""));
        } else {
            ldap_failed(r, ld, rc, "bind");
        }
        goto fail;
    }
    return ld;
fail:
    ldap_unbind_ext_s(ld, NULL, NULL);
    return NULL;
}

/* Reads the connection in blocks from now on. A server sends each entry on
 * its own (over TLS, one record each, which the TLS layer reads as a header
 * then a body): unbuffered, a listing of 230,000 entries cost 460,000 reads
 * and 230,000 polls, a third of dadmctl's time; buffered, 17,000 and 14,000.
 * For paged searches only: libldap 2.5's refreshOnly loop hands every
 * message of a batch received at once to its callback as the batch's first
 * one, so a content synchronisation must receive its messages one by one. */
static void read_in_blocks(LDAP *ld)
{
    Sockbuf *sb = NULL;
    if (ldap_get_option(ld, LDAP_OPT_SOCKBUF, &sb) == LDAP_OPT_SUCCESS && sb)
        ber_sockbuf_add_io(sb, &ber_sockbuf_io_readahead, LBER_SBIOD_LEVEL_PROVIDER, NULL);
}

/* Does the server offer content synchronisation (root DSE)? */
static bool offers_sync(LDAP *ld)
{
    char *attrs[] = {"supportedControl", NULL};
    LDAPMessage *res = NULL;
    struct timeval tv = {.tv_sec = 30};
    bool yes = false;
    if (ldap_search_ext_s(ld, "", LDAP_SCOPE_BASE, "(objectClass=*)", attrs, 0, NULL, NULL, &tv, 1,
                          &res) == LDAP_SUCCESS) {
        LDAPMessage *e = ldap_first_entry(ld, res);
        struct berval **v = e ? ldap_get_values_len(ld, e, "supportedControl") : NULL;
        for (size_t i = 0; v && v[i]; i++)
            if (v[i]->bv_len == strlen(SYNC_CONTROL_OID) &&
                memcmp(v[i]->bv_val, SYNC_CONTROL_OID, v[i]->bv_len) == 0)
                yes = true;
        ldap_value_free_len(v);
    }
    ldap_msgfree(res);
    return yes;
}

static int compare_strings(gconstpointer x, gconstpointer y)
{
    return strcmp(*(char *const *)x, *(char *const *)y);
}

/* The contextCSN of the database holding `base` (values sorted, joined by
 * spaces), or NULL when the server does not show one: the naming context
 * of the root DSE that `base` lies in, read with one base search. */
static const char *context_csn(run *r, LDAP *ld, const char *base)
{
    char *dse_attrs[] = {"namingContexts", NULL}, *csn_attrs[] = {"contextCSN", NULL};
    struct timeval tv = {.tv_sec = 30};
    LDAPMessage *res = NULL;
    const char *suffix = NULL, *out = NULL;
    size_t blen = strlen(base), best = 0;
    if (ldap_search_ext_s(ld, "", LDAP_SCOPE_BASE, "(objectClass=*)", dse_attrs, 0, NULL, NULL, &tv,
                          1, &res) == LDAP_SUCCESS) {
        LDAPMessage *e = ldap_first_entry(ld, res);
        struct berval **v = e ? ldap_get_values_len(ld, e, "namingContexts") : NULL;
        for (size_t i = 0; v && v[i]; i++) {
            size_t n = v[i]->bv_len;
            if (n == 0 || n > blen || n <= best ||
                g_ascii_strncasecmp(base + blen - n, v[i]->bv_val, n) != 0 ||
                (n < blen && base[blen - n - 1] != ','))
                continue;
            suffix = arena_strndup(r->a, v[i]->bv_val, n);
            best = n;
        }
        ldap_value_free_len(v);
    }
    ldap_msgfree(res);
    res = NULL;
    if (suffix && ldap_search_ext_s(ld, suffix, LDAP_SCOPE_BASE, "(objectClass=*)", csn_attrs, 0,
                                    NULL, NULL, &tv, 1, &res) == LDAP_SUCCESS) {
        LDAPMessage *e = ldap_first_entry(ld, res);
        struct berval **v = e ? ldap_get_values_len(ld, e, "contextCSN") : NULL;
        GPtrArray *vals = g_ptr_array_new_with_free_func(g_free);
        for (size_t i = 0; v && v[i]; i++)
            g_ptr_array_add(vals, g_strndup(v[i]->bv_val, v[i]->bv_len));
        if (vals->len) {
            g_ptr_array_sort(vals, compare_strings);
            g_ptr_array_add(vals, NULL);
            char *joined = g_strjoinv(" ", (char **)vals->pdata);
            out = arena_strdup(r->a, joined);
            g_free(joined);
        }
        g_ptr_array_free(vals, TRUE);
        ldap_value_free_len(v);
    }
    ldap_msgfree(res);
    return out;
}

/* Paged search (RFC 2696): every entry goes to on_entry; any result other
 * than success fails the run, so a truncated listing never disables
 * anyone. */
static void paged_search(run *r, LDAP *ld, const settings *s, const char *filter)
{
    struct berval cookie = {0};
    struct berval *next = NULL;
    for (;;) {
        LDAPControl *page = NULL, *ctrls[2] = {NULL, NULL};
        int rc = ldap_create_page_control(ld, (ber_int_t)s->page_size, &cookie, 1, &page);
        ber_memfree(cookie.bv_val);
        cookie.bv_val = NULL;
        cookie.bv_len = 0;
        if (ldap_failed(r, ld, rc, "search"))
            return;
        ctrls[0] = page;
        int msgid = 0;
        rc = ldap_search_ext(ld, s->base, s->scope, filter, r->attrs, 0, ctrls, NULL, NULL, 0,
                             &msgid);
        ldap_control_free(page);
        if (ldap_failed(r, ld, rc, "search"))
            return;
        bool done = false;
        while (!done) {
            /* Every message received so far in one call: one wait for many
             * entries, not one per entry. */
            LDAPMessage *res = NULL;
            struct timeval tv = {.tv_sec = r->opt->timeout > 0 ? r->opt->timeout : 30};
            rc = ldap_result(ld, msgid, LDAP_MSG_RECEIVED, &tv, &res);
            if (rc <= 0) {
                ldap_msgfree(res);
                ldap_failed(r, ld, rc == 0 ? LDAP_TIMEOUT : LDAP_SERVER_DOWN, "search");
                return;
            }
            for (LDAPMessage *m = ldap_first_message(ld, res); m && !done;
                 m = ldap_next_message(ld, m)) {
                if (ldap_msgtype(m) == LDAP_RES_SEARCH_ENTRY) {
                    if (r->err == DADM_OK)
                        on_entry(r, ld, m, NULL);
                    continue;
                }
                if (ldap_msgtype(m) != LDAP_RES_SEARCH_RESULT)
                    continue;
                int code = 0;
                LDAPControl **rctrls = NULL;
                char *diag = NULL;
                rc = ldap_parse_result(ld, m, &code, NULL, &diag, NULL, &rctrls, 0);
                if (rc == LDAP_SUCCESS && code != LDAP_SUCCESS) {
                    if (diag && *diag)
                        ldap_set_option(ld, LDAP_OPT_DIAGNOSTIC_MESSAGE, diag);
                    rc = code;
                }
                ldap_memfree(diag);
                if (rc == LDAP_SUCCESS) {
                    LDAPControl *pc = ldap_control_find(LDAP_CONTROL_PAGEDRESULTS, rctrls, NULL);
                    ber_int_t count = 0;
                    if (pc &&
                        ldap_parse_pageresponse_control(ld, pc, &count, &cookie) == LDAP_SUCCESS) {
                        next = cookie.bv_len ? &cookie : NULL;
                    } else {
                        next = NULL;
                    }
                }
                ldap_controls_free(rctrls);
                done = true;
            }
            ldap_msgfree(res);
            if (done && ldap_failed(r, ld, rc, "search")) {
                ber_memfree(cookie.bv_val);
                return;
            }
        }
        if (r->err != DADM_OK || !next) {
            ber_memfree(cookie.bv_val);
            return;
        }
    }
}

/* ---- content synchronisation (RFC 4533, refreshOnly) ---- */

static int sync_entry(ldap_sync_t *ls, LDAPMessage *msg, struct berval *uuid,
                      ldap_sync_refresh_t phase)
{
    run *r = ls->ls_private;
    char key[37];
    if (r->err != DADM_OK)
        return 0;
    if (!uuid || !tenant_ldap_uuid_text(uuid->bv_val, uuid->bv_len, key)) {
        r->seen++;
        char *dn = ldap_get_dn(ls->ls_ld, msg);
        skip(r, dn, "missing_key");
        ldap_memfree(dn);
        return 0;
    }
    switch (phase) {
    case LDAP_SYNC_CAPI_ADD:
    case LDAP_SYNC_CAPI_MODIFY:
        on_entry(r, ls->ls_ld, msg, key);
        break;
    case LDAP_SYNC_CAPI_PRESENT:
        stage_row(r, 'p', key, NULL, NULL);
        break;
    case LDAP_SYNC_CAPI_DELETE:
        stage_row(r, 'd', key, NULL, NULL);
        break;
    default:
        break;
    }
    return 0;
}

static int sync_reference(ldap_sync_t *ls, LDAPMessage *msg)
{
    return 0;
}

static int sync_intermediate(ldap_sync_t *ls, LDAPMessage *msg, BerVarray uuids,
                             ldap_sync_refresh_t phase)
{
    run *r = ls->ls_private;
    char kind = phase == LDAP_SYNC_CAPI_PRESENTS_IDSET  ? 'p'
                : phase == LDAP_SYNC_CAPI_DELETES_IDSET ? 'd'
                                                        : 0;
    char key[37];
    for (size_t i = 0; kind && uuids && uuids[i].bv_val; i++)
        if (tenant_ldap_uuid_text(uuids[i].bv_val, uuids[i].bv_len, key))
            stage_row(r, kind, key, NULL, NULL);
    return 0;
}

static int sync_result(ldap_sync_t *ls, LDAPMessage *msg, int refresh_deletes)
{
    run *r = ls->ls_private;
    /* refreshDeletes FALSE: the server listed what is present (every entry
     * of a first refresh, or the present UUIDs once its log is lost); any
     * known key neither sent nor present is gone. */
    r->present_mode = !refresh_deletes;
    int code = 0;
    char *diag = NULL;
    if (ldap_parse_result(ls->ls_ld, msg, &code, NULL, &diag, NULL, NULL, 0) == LDAP_SUCCESS &&
        code != LDAP_SUCCESS) {
        r->sync_code = code;
        if (diag && *diag)
            ldap_set_option(ls->ls_ld, LDAP_OPT_DIAGNOSTIC_MESSAGE, diag);
        ldap_failed(r, ls->ls_ld, code, "sync");
    }
    ldap_memfree(diag);
    return 0;
}

/* ---- the database side ---- */

static bool copy_begin(run *r)
{
    dadm_err e = DADM_OK;
    if (!db_exec(r->d, r->a, "SELECT dadm.ldap_stage_open()", 0, NULL, &e)) {
        set_error(r, e, "database: cannot open the staging table");
        return false;
    }
    PGresult *res = PQexec(db_conn(r->d), "COPY pg_temp.ldap_stage (kind, dir_key, dn, hash, login,"
                                          " eppn, given_name, family_name, email, phone,"
                                          " dir_info) FROM STDIN");
    bool ok = PQresultStatus(res) == PGRES_COPY_IN;
    PQclear(res);
    if (!ok)
        set_error(r, DADM_E_INTERNAL, "database: COPY refused");
    r->copying = ok;
    return ok;
}

/* Ends the COPY; with `abort`, discards it. */
static bool copy_end(run *r, bool abort)
{
    if (!r->copying)
        return true;
    r->copying = false;
    bool ok = abort || flush_copy(r, true);
    PGconn *c = db_conn(r->d);
    if (PQputCopyEnd(c, ok ? NULL : "aborted") != 1)
        ok = false;
    PGresult *res;
    while ((res = PQgetResult(c)) != NULL) {
        if (PQresultStatus(res) != PGRES_COMMAND_OK)
            ok = false;
        PQclear(res);
    }
    if (!ok && !abort)
        set_error(r, DADM_E_INTERNAL, "database: COPY failed / échec de l'écriture");
    return ok;
}

static char *read_password(run *r, PGresult *cfg)
{
    int fp = PQfnumber(cfg, "password_file"), pw = PQfnumber(cfg, "bind_password");
    if (!PQgetisnull(cfg, 0, pw))
        return PQgetvalue(cfg, 0, pw);
    if (PQgetisnull(cfg, 0, fp))
        return NULL;
    gchar *text = NULL;
    if (!g_file_get_contents(PQgetvalue(cfg, 0, fp), &text, NULL, NULL)) {
        set_error(r, DADM_E_INVALID,
                  "cannot read the password file / fichier de mot de passe illisible");
        return NULL;
    }
    g_strchomp(text);
    char *out = arena_strdup(r->a, text);
    memset(text, 0, strlen(text));
    g_free(text);
    return out;
}

static int scope_of(const char *s)
{
    return strcmp(s, "base") == 0  ? LDAP_SCOPE_BASE
           : strcmp(s, "one") == 0 ? LDAP_SCOPE_ONELEVEL
                                   : LDAP_SCOPE_SUBTREE;
}

/* Column `name` of the settings row, NULL when SQL NULL. */
static const char *column(PGresult *cfg, const char *name)
{
    int f = PQfnumber(cfg, name);
    return f < 0 || PQgetisnull(cfg, 0, f) ? NULL : PQgetvalue(cfg, 0, f);
}

/* Column `name` of the settings row, "" when SQL NULL. */
static const char *column_text(PGresult *cfg, const char *name)
{
    const char *v = column(cfg, name);
    return v ? v : "";
}

#define V(col) column(cfg, col)

/* What a listing's outcome depends on besides the directory and the
 * accounts: the settings it reads with, and the version of the mapping code
 * (raise LISTING_FORMAT when person_hash or the checks of an entry change). */
#define LISTING_FORMAT "1"
static void settings_fingerprint(PGresult *cfg, char out[65])
{
    static const char *const cols[] = {"uai",   "uri",    "bind_dn", "base_dn",
                                       "scope", "filter", "map",     "eppn_domain"};
    GString *in = g_string_new(LISTING_FORMAT);
    for (size_t i = 0; i < sizeof(cols) / sizeof(cols[0]); i++) {
        const char *v = column(cfg, cols[i]);
        g_string_append_c(in, v ? '\x1e' : '\x1f');
        if (v)
            g_string_append(in, v);
    }
    util_sha256_hex(out, in->str, in->len);
    g_string_free(in, TRUE);
}

static double seconds_since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

/* Reads the directory into the staging table and applies it. */
static void do_run(run *r, int64_t etab_id, tenant_ldap_result *res, const char **mode,
                   const char **started)
{
    char ids[24];
    snprintf(ids, sizeof(ids), "%lld", (long long)etab_id);
    const char *p1[] = {ids};
    dadm_err e = DADM_OK;
    PGresult *cfg = db_exec(r->d, r->a, "SELECT * FROM dadm.ldap_settings($1)", 1, p1, &e);
    if (!cfg) {
        set_error(r, e, "database: cannot read the directory settings");
        return;
    }
    if (PQntuples(cfg) != 1) {
        set_error(r, DADM_E_NOT_FOUND,
                  "no directory configured for this establishment / aucun annuaire configuré");
        return;
    }
    settings s = {
        .uri = column_text(cfg, "uri"),
        .ca_file = V("ca_file"),
        .bind_dn = V("bind_dn"),
        .base = column_text(cfg, "base_dn"),
        .filter = column_text(cfg, "filter"),
        .starttls = strcmp(column_text(cfg, "starttls"), "t") == 0,
        .allow_plain = strcmp(column_text(cfg, "allow_plain"), "t") == 0,
        .scope = scope_of(column_text(cfg, "scope")),
        .page_size = atoi(column_text(cfg, "page_size")),
    };
    r->uai = column_text(cfg, "uai");
    r->eppn_domain = V("eppn_domain");
    json_t *map = json_loads(column_text(cfg, "map"), 0, NULL);
    const char *why = NULL;
    e = tenant_ldap_map_parse(map, &r->map, &why);
    json_decref(map);
    if (e != DADM_OK) {
        set_error(r, e, why);
        return;
    }
    for (int f = 0; f < TENANT_LDAP_NFIELDS; f++) {
        r->attrs[f] = r->map.attr[f];
        r->attr_len[f] = strlen(r->map.attr[f]);
    }
    r->attrs[TENANT_LDAP_NFIELDS] = NULL;
    /* Checked here so that a bad filter is reported as such, not as a
     * protocol error from the server. */
    if (!tenant_ldap_filter_valid(s.filter)) {
        set_error(r, DADM_E_INVALID, "bad search filter / filtre de recherche invalide");
        return;
    }
    s.password = read_password(r, cfg);
    if (r->err != DADM_OK)
        return;
    ldap_sync_t ls = {0};
    const char *cookie_hex = V("sync_cookie");
    const char *since = V("last_started_at");

    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    LDAP *ld = connect_bind(r, &s);
    if (!ld)
        return;
    enum { FULL, SYNC, STAMP } how = FULL;
    const char *incremental = column_text(cfg, "incremental");
    if (!r->opt->full) {
        if (strcmp(incremental, "timestamp") == 0)
            how = since ? STAMP : FULL;
        else if (strcmp(incremental, "sync") == 0 || offers_sync(ld))
            how = SYNC;
        else
            how = since ? STAMP : FULL;
    }
    *mode = how == SYNC ? "sync" : how == STAMP ? "timestamp" : "full";

    /* A complete listing that would find nothing to do is not repeated
     * (sql/0013_ldap_unchanged.sql): same contextCSN, same settings, same
     * accounts as the last listing left them. */
    const char *csn = NULL;
    char fingerprint[65] = "";
    if (how == FULL) {
        settings_fingerprint(cfg, fingerprint);
        csn = context_csn(r, ld, s.base);
        if (csn) {
            const char *pu[] = {ids, csn, fingerprint, r->opt->dry_run ? "true" : "false"};
            PGresult *u =
                db_exec(r->d, r->a, "SELECT dadm.ldap_unchanged($1, $2, $3, $4)", 4, pu, &e);
            if (!u) {
                set_error(r, e, "database unavailable / base de données indisponible");
                goto out;
            }
            if (!PQgetisnull(u, 0, 0)) {
                res->unchanged = true;
                res->run_id = g_ascii_strtoll(PQgetvalue(u, 0, 0), NULL, 10);
                res->skipped_entries = db_json_own(r->a, json_array());
                res->read_seconds = seconds_since(&t0);
                goto out;
            }
        }
    }

    /* The staging table lives in temporary buffers: room for a large
     * directory (effective only before the session's first temporary
     * table, and harmless after). */
    db_exec(r->d, r->a, "SET temp_buffers = '256MB'", 0, NULL, NULL);
    if ((e = db_begin(r->d)) != DADM_OK) {
        set_error(r, e, "database unavailable / base de données indisponible");
        goto out;
    }
    PGresult *now = db_exec(r->d, r->a, "SELECT now()", 0, NULL, &e);
    *started = now ? PQgetvalue(now, 0, 0) : NULL;
    if (!*started || !copy_begin(r))
        goto out;
    struct berval *final_cookie = NULL;
    if (how != SYNC)
        read_in_blocks(ld);
    if (how == FULL) {
        r->present_mode = true;
        paged_search(r, ld, &s, s.filter);
    } else if (how == STAMP) {
        /* `since` is the last run's start less a minute (clocks apart);
         * re-reading an unchanged entry changes nothing. */
        char *f = tenant_ldap_since_filter(r->a, s.filter, since);
        if (!f)
            set_error(r, DADM_E_NOMEM, "out of memory / mémoire insuffisante");
        else
            paged_search(r, ld, &s, f);
    } else {
        ldap_sync_initialize(&ls);
        ls.ls_base = (char *)s.base;
        ls.ls_scope = s.scope;
        ls.ls_filter = (char *)s.filter;
        ls.ls_attrs = r->attrs;
        ls.ls_timeout = r->opt->timeout > 0 ? r->opt->timeout : 30;
        ls.ls_search_entry = sync_entry;
        ls.ls_search_reference = sync_reference;
        ls.ls_intermediate = sync_intermediate;
        ls.ls_search_result = sync_result;
        ls.ls_private = r;
        ls.ls_ld = ld;
        size_t clen = 0;
        guchar *cbin = cookie_hex && strlen(cookie_hex) > 2
                           ? PQunescapeBytea((const unsigned char *)cookie_hex, &clen)
                           : NULL;
        if (cbin) {
            ber_mem2bv((char *)cbin, clen, 1, &ls.ls_cookie);
            PQfreemem(cbin);
        }
        int rc = ldap_sync_init_refresh_only(&ls);
        if ((rc == LDAP_UNWILLING_TO_PERFORM || r->sync_code == LDAP_UNWILLING_TO_PERFORM) &&
            ls.ls_cookie.bv_val && r->seen == 0) {
            /* A cookie the server cannot honour (newer than its state):
             * forget it and refresh in full. */
            r->err = DADM_OK;
            r->error = NULL;
            r->sync_code = 0;
            ber_memfree(ls.ls_cookie.bv_val);
            ls.ls_cookie.bv_val = NULL;
            ls.ls_cookie.bv_len = 0;
            copy_end(r, true);
            db_rollback(r->d);
            g_hash_table_remove_all(r->entry_keys);
            g_hash_table_remove_all(r->logins);
            if (db_begin(r->d) != DADM_OK || !copy_begin(r))
                goto sync_out;
            rc = ldap_sync_init_refresh_only(&ls);
        }
        if (rc != LDAP_SUCCESS)
            ldap_failed(r, ld, rc, "sync");
        final_cookie = ls.ls_cookie.bv_len ? &ls.ls_cookie : NULL;
    }
    if (!copy_end(r, r->err != DADM_OK) || r->err != DADM_OK)
        goto sync_out;
    progress(r, true);
    res->read_seconds = seconds_since(&t0);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    {
        char seen[24], skipped[24];
        snprintf(seen, sizeof(seen), "%ld", r->seen);
        snprintf(skipped, sizeof(skipped), "%ld", r->skipped);
        char *skipped_json = json_dumps(r->skipped_entries, JSON_COMPACT);
        char *dup_json = dup_logins_json(r->logins);
        if (!dup_json) {
            free(skipped_json);
            set_error(r, DADM_E_NOMEM, "out of memory / mémoire insuffisante");
            goto sync_out;
        }
        char *cookie_esc = NULL;
        if (final_cookie && final_cookie->bv_len < 4096) {
            cookie_esc = arena_alloc(r->a, 2 * final_cookie->bv_len + 3);
            if (cookie_esc) {
                memcpy(cookie_esc, "\\x", 2);
                util_hex(cookie_esc + 2, final_cookie->bv_val, final_cookie->bv_len);
            }
        }
        const char *p[] = {ids,
                           *mode,
                           r->present_mode ? "true" : "false",
                           *started,
                           cookie_esc,
                           seen,
                           skipped,
                           skipped_json ? skipped_json : "[]",
                           r->opt->dry_run ? "true" : "false",
                           dup_json};
        PGresult *ar = db_exec(r->d, r->a,
                               "SELECT * FROM dadm.ldap_apply($1, $2, $3, $4, $5::bytea,"
                               " $6, $7, $8, $9, $10)",
                               10, p, &e);
        free(skipped_json);
        free(dup_json);
        if (!ar) {
            set_error(r, e, "database: the changes could not be applied / échec de l'écriture");
            goto sync_out;
        }
        res->run_id = PQgetisnull(ar, 0, 0) ? 0 : g_ascii_strtoll(PQgetvalue(ar, 0, 0), NULL, 10);
        res->created = atol(PQgetvalue(ar, 0, 1));
        res->updated = atol(PQgetvalue(ar, 0, 2));
        res->disabled = atol(PQgetvalue(ar, 0, 3));
        res->reenabled = atol(PQgetvalue(ar, 0, 4));
        res->skipped = atol(PQgetvalue(ar, 0, 5));
        res->seen = r->seen;
        res->skipped_entries = db_json_own(r->a, json_loads(PQgetvalue(ar, 0, 6), 0, NULL));
        if (how == FULL && !r->opt->dry_run && res->run_id) {
            char rid[24];
            snprintf(rid, sizeof(rid), "%lld", (long long)res->run_id);
            const char *pl[] = {ids, rid, csn, fingerprint};
            if (!db_exec(r->d, r->a, "SELECT dadm.ldap_listed($1, $2, $3, $4)", 4, pl, &e)) {
                set_error(r, e, "database: the changes could not be applied / échec de l'écriture");
                goto sync_out;
            }
        }
        if (r->opt->dry_run) {
            db_rollback(r->d);
        } else if ((e = db_commit(r->d)) != DADM_OK) {
            set_error(r, e, "database: commit failed / échec de l'écriture");
        }
        res->apply_seconds = seconds_since(&t0);
    }
sync_out:
    if (how == SYNC) {
        ls.ls_base = NULL;
        ls.ls_filter = NULL;
        ls.ls_attrs = NULL;
        ls.ls_ld = NULL;
        ldap_sync_destroy(&ls, 0);
    }
out:
    copy_end(r, true);
    db_rollback(r->d);
    ldap_unbind_ext_s(ld, NULL, NULL);
}
#undef V

dadm_err tenant_ldap_sync(db *d, arena *a, int64_t etab_id, const tenant_ldap_options *opt,
                          tenant_ldap_result *res, const char **msg)
{
    memset(res, 0, sizeof(*res));
    *msg = NULL;
    char ids[24];
    snprintf(ids, sizeof(ids), "%lld", (long long)etab_id);
    const char *p1[] = {ids};
    dadm_err e = DADM_OK;
    PGresult *lk =
        db_exec(d, a, "SELECT pg_try_advisory_lock(hashtext('dadm.ldap'), $1::int)", 1, p1, &e);
    if (!lk) {
        *msg = "database unavailable / base de données indisponible";
        return e;
    }
    if (strcmp(PQgetvalue(lk, 0, 0), "t") != 0) {
        *msg = "a run for this establishment is under way / une synchronisation est en cours";
        return DADM_E_CONFLICT;
    }
    run r = {.d = d,
             .a = a,
             .opt = opt,
             .ea = arena_new(0),
             .copy = g_string_sized_new(COPY_CHUNK + 4096),
             .entry_keys = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL),
             .logins = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL),
             .hash_in = g_string_sized_new(1024),
             .skipped_entries = json_array()};
    const char *mode = opt->full ? "full" : "sync", *started = NULL;
    if (!r.ea || !r.skipped_entries) {
        set_error(&r, DADM_E_NOMEM, "out of memory / mémoire insuffisante");
    } else {
        do_run(&r, etab_id, res, &mode, &started);
    }
    res->mode = mode;
    if (r.err != DADM_OK) {
        if (opt->progress)
            fputc('\n', opt->progress);
        *msg = r.error ? r.error : dadm_err_title(r.err);
        log_kv(LOG_WARN, "ldap.sync_failed", "etab", ids, "mode", mode, "detail", *msg, NULL);
        if (!opt->dry_run && r.err != DADM_E_NOT_FOUND) {
            const char *pf[] = {ids, mode, started, *msg};
            db_exec(d, a, "SELECT dadm.ldap_fail($1, $2, coalesce($3::timestamptz, now()), $4)", 4,
                    pf, NULL);
        }
    } else {
        char n[6][24];
        long v[6] = {res->seen,     res->created,   res->updated,
                     res->disabled, res->reenabled, res->skipped};
        for (int i = 0; i < 6; i++)
            snprintf(n[i], sizeof(n[i]), "%ld", v[i]);
        log_kv(LOG_INFO, "ldap.sync", "etab", ids, "mode", mode, "dry_run",
               opt->dry_run ? "true" : "false", "seen", n[0], "created", n[1], "updated", n[2],
               "disabled", n[3], "reenabled", n[4], "skipped", n[5], NULL);
    }
    db_exec(d, a, "SELECT pg_advisory_unlock(hashtext('dadm.ldap'), $1::int)", 1, p1, NULL);
    g_string_free(r.copy, TRUE);
    g_hash_table_destroy(r.entry_keys);
    g_hash_table_destroy(r.logins);
    g_string_free(r.hash_in, TRUE);
    json_decref(r.skipped_entries);
    arena_free(r.ea);
    return r.err;
}

dadm_err tenant_ldap_runs_list(db *d, arena *a, int64_t etab_id, long limit, long offset,
                               json_t **items, long *total)
{
    *items = NULL;
    char ids[24], lim[24], off[24];
    snprintf(ids, sizeof(ids), "%lld", (long long)etab_id);
    snprintf(lim, sizeof(lim), "%ld", limit);
    snprintf(off, sizeof(off), "%ld", offset);
    const char *params[] = {ids, lim, off};
    dadm_err e = DADM_OK;
    PGresult *r = db_exec(d, a,
                          "SELECT id, etab_id, mode::text AS mode, status::text AS status,"
                          " started_at, ended_at, seen, created, updated, disabled, reenabled,"
                          " skipped, unchanged, error"
                          " FROM dadm.directory_run WHERE etab_id = $1"
                          " ORDER BY id DESC LIMIT $2 OFFSET $3",
                          3, params, &e);
    if (!r)
        return e;
    PGresult *c =
        db_exec(d, a, "SELECT count(*) FROM dadm.directory_run WHERE etab_id = $1", 1, params, &e);
    if (!c)
        return e;
    *total = strtol(PQgetvalue(c, 0, 0), NULL, 10);
    *items = db_json_rows(r);
    return *items ? DADM_OK : DADM_E_NOMEM;
}

dadm_err tenant_ldap_run_get(db *d, arena *a, int64_t etab_id, int64_t run_id, json_t **out)
{
    *out = NULL;
    char ids[24], rid[24];
    snprintf(ids, sizeof(ids), "%lld", (long long)etab_id);
    snprintf(rid, sizeof(rid), "%lld", (long long)run_id);
    const char *params[] = {ids, rid};
    dadm_err e = DADM_OK;
    PGresult *r = db_exec(d, a,
                          "SELECT id, etab_id, mode::text AS mode, status::text AS status,"
                          " started_at, ended_at, seen, created, updated, disabled, reenabled,"
                          " skipped, unchanged, skipped_entries, error"
                          " FROM dadm.directory_run WHERE etab_id = $1 AND id = $2",
                          2, params, &e);
    if (!r)
        return e;
    if (PQntuples(r) != 1)
        return DADM_E_NOT_FOUND;
    *out = db_json_row(r, 0);
    return *out ? DADM_OK : DADM_E_NOMEM;
}
