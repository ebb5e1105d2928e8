/* dadmctl: the operator's tool. Connects with [db] admin_conninfo (the
 * schema owner's role) and runs one command per invocation, in one
 * transaction. Exit codes: 0 success, 1 failure, 2 bad usage. */
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth_password.h"
#include "auth_saml.h"
#include "auth_session.h"
#include "conf.h"
#include "db.h"
#include "jobs.h"
#include "log.h"
#include "migrate.h"
#include "settings.h"
#include "tenant_ldap.h"

#define DEMO_PASSWORD        "Dadm#Demo-2026"
#define DEMO_READER_PASSWORD "Lecteur#Demo-2026"

typedef struct {
    conf *conf;
    db *db;
    arena *a;
    GHashTable *opt; /* option name -> value ("" for flags) */
} ctl;

typedef struct {
    const char *name;
    const char *const *options; /* accepted --options; a trailing '!' marks a required one */
    int (*fn)(ctl *c);
    const char *help;
} command;

static const char *opt(ctl *c, const char *name)
{
    return g_hash_table_lookup(c->opt, name);
}

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("dadmctl: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 1;
}

/* Runs a statement; on failure prints the server's message and returns NULL. */
static PGresult *q(ctl *c, const char *sql, int n, const char *const *params)
{
    dadm_err e = DADM_OK;
    PGresult *r = db_exec(c->db, c->a, sql, n, params, &e);
    if (!r) {
        PGconn *pc = db_conn(c->db);
        fail("%s", pc && *PQerrorMessage(pc) ? PQerrorMessage(pc) : dadm_err_title(e));
    }
    return r;
}

static void print_rows(PGresult *r)
{
    int nf = PQnfields(r);
    for (int f = 0; f < nf; f++)
        printf("%s%s", f ? "\t" : "", PQfname(r, f));
    putchar('\n');
    for (int i = 0; i < PQntuples(r); i++) {
        for (int f = 0; f < nf; f++)
            printf("%s%s", f ? "\t" : "", PQgetisnull(r, i, f) ? "-" : PQgetvalue(r, i, f));
        putchar('\n');
    }
}

static int list(ctl *c, const char *sql, int n, const char *const *params)
{
    PGresult *r = q(c, sql, n, params);
    if (!r)
        return 1;
    print_rows(r);
    return 0;
}

/* Reads a secret from a file path or standard input, without the newline. */
static char *read_secret(ctl *c, const char *file_opt, const char *stdin_opt)
{
    const char *path = opt(c, file_opt);
    char *text = NULL;
    gsize len = 0;
    if (path) {
        if (!g_file_get_contents(path, &text, &len, NULL))
            return NULL;
    } else if (stdin_opt && opt(c, stdin_opt)) {
        char buf[1024];
        if (!fgets(buf, sizeof(buf), stdin))
            return NULL;
        text = g_strdup(buf);
    } else {
        return NULL;
    }
    g_strchomp(text);
    char *out = arena_strdup(c->a, text);
    g_free(text);
    return out;
}

static int cmd_migrate(ctl *c)
{
    char *err = NULL;
    migrate_set *s = migrate_scan(settings_sql_dir(c->conf), &err);
    if (!s) {
        fail("%s", err);
        free(err);
        return 1;
    }
    dadm_err e = migrate_apply(c->db, s, stdout, &err);
    if (e == DADM_OK)
        printf("the database is up to date (%zu migrations)\n", s->n);
    else
        fail("%s", err ? err : dadm_err_title(e));
    free(err);
    migrate_set_free(s);
    return e == DADM_OK ? 0 : 1;
}

static int cmd_seed_demo(ctl *c)
{
    PGresult *r = q(c, "SELECT count(*) FROM dadm.etab", 0, NULL);
    if (!r)
        return 1;
    bool present = strcmp(PQgetvalue(r, 0, 0), "0") != 0;
    if (present) {
        printf("demo data already present: nothing changed\n");
    } else {
        char *path = g_build_filename(settings_sql_dir(c->conf), "demo", "seed.sql", NULL);
        char *sql = NULL;
        gboolean ok = g_file_get_contents(path, &sql, NULL, NULL);
        g_free(path);
        if (!ok)
            return fail("cannot read demo/seed.sql in the migrations folder");
        char *person = NULL, *reader = NULL;
        if (auth_password_hash(DEMO_PASSWORD, &auth_password_default, &person) != DADM_OK ||
            auth_password_hash(DEMO_READER_PASSWORD, &auth_password_default, &reader) != DADM_OK) {
            g_free(sql);
            free(person);
            return fail("cannot hash the demo passwords");
        }
        const char *params[] = {person, reader};
        int rc = 0;
        if (!q(c,
               "SELECT set_config('dadm.seed_person_hash', $1, true),"
               " set_config('dadm.seed_reader_hash', $2, true)",
               2, params))
            rc = 1;
        if (!rc) {
            PGresult *sr = PQexec(db_conn(c->db), sql);
            if (PQresultStatus(sr) != PGRES_COMMAND_OK && PQresultStatus(sr) != PGRES_TUPLES_OK)
                rc = fail("demo data: %s", PQresultErrorMessage(sr));
            PQclear(sr);
        }
        free(person);
        free(reader);
        g_free(sql);
        if (rc)
            return rc;
        printf("demo data created\n");
    }
    printf("\nPersonal accounts (password for all: %s)\n", DEMO_PASSWORD);
    r = q(c,
          "SELECT a.login, coalesce(e.uai, k.name, 'agence') AS org,"
          " coalesce(string_agg(g.role || coalesce(' ' || g.nature, '')"
          "   || coalesce(' ' || p.code, ''), ', ' ORDER BY g.id), '-') AS roles"
          " FROM dadm.account a LEFT JOIN dadm.etab e ON e.id = a.etab_id"
          " LEFT JOIN dadm.contractor k ON k.id = a.contractor_id"
          " LEFT JOIN dadm.\"grant\" g ON g.account_id = a.id"
          " LEFT JOIN dadm.product p ON p.id = g.product_id"
          " GROUP BY a.id, e.uai, k.name ORDER BY a.id",
          0, NULL);
    if (!r)
        return 1;
    print_rows(r);
    printf("\nProduct readers, level 1 (password for all: %s)\n", DEMO_READER_PASSWORD);
    return list(c, "SELECT reader_login, code FROM dadm.product ORDER BY code", 0, NULL);
}

static int cmd_etab_create(ctl *c)
{
    const char *params[] = {opt(c, "uai"),  opt(c, "name"),    opt(c, "type"),
                            opt(c, "size"), opt(c, "website"), opt(c, "email")};
    PGresult *r = q(c,
                    "INSERT INTO dadm.etab (uai, name, type, size_class, website, generic_email)"
                    " VALUES (upper($1), $2, $3, $4, $5, $6) RETURNING id",
                    6, params);
    if (!r)
        return 1;
    printf("%s\n", PQgetvalue(r, 0, 0));
    return 0;
}

static int cmd_etab_list(ctl *c)
{
    return list(c,
                "SELECT id, uai, name, type, size_class, coalesce(generic_email, '-') AS email"
                " FROM dadm.etab ORDER BY uai",
                0, NULL);
}

static int cmd_product_create(ctl *c)
{
    char *hash = NULL;
    char *pw = read_secret(c, "reader-password-file", "reader-password-stdin");
    if (pw && auth_password_hash(pw, &auth_password_default, &hash) != DADM_OK)
        return fail("cannot hash the password");
    const char *params[] = {opt(c, "code"), opt(c, "name"), opt(c, "reader-login"), hash,
                            opt(c, "current-only") ? "true" : "false"};
    PGresult *r = q(c,
                    "INSERT INTO dadm.product (code, name, reader_login, reader_hash, current_only)"
                    " VALUES ($1, $2, $3, $4, $5) RETURNING id",
                    5, params);
    free(hash);
    if (!r)
        return 1;
    printf("%s\n", PQgetvalue(r, 0, 0));
    return 0;
}

static int cmd_product_list(ctl *c)
{
    return list(c,
                "SELECT p.code, p.name, p.reader_login,"
                " (SELECT count(*) FROM dadm.domain d WHERE d.product_id = p.id) AS domains,"
                " (SELECT string_agg(v.label, ' ' ORDER BY v.delivered_on)"
                "  FROM dadm.version v WHERE v.product_id = p.id) AS versions"
                " FROM dadm.product p ORDER BY p.code",
                0, NULL);
}

static int cmd_product_add_domain(ctl *c)
{
    const char *params[] = {opt(c, "product"), opt(c, "code"), opt(c, "name"), opt(c, "nature")};
    PGresult *r = q(c,
                    "INSERT INTO dadm.domain (product_id, code, name, nature)"
                    " SELECT id, $2, $3, $4 FROM dadm.product WHERE code = $1 RETURNING id",
                    4, params);
    if (!r)
        return 1;
    if (PQntuples(r) != 1)
        return fail("unknown product %s", opt(c, "product"));
    printf("%s\n", PQgetvalue(r, 0, 0));
    return 0;
}

static int cmd_product_add_version(ctl *c)
{
    const char *params[] = {opt(c, "product"), opt(c, "label"), opt(c, "delivered"),
                            opt(c, "major") ? "true" : "false"};
    PGresult *r = q(c,
                    "INSERT INTO dadm.version (product_id, label, delivered_on, major_migration)"
                    " SELECT id, $2, $3, $4 FROM dadm.product WHERE code = $1 RETURNING id",
                    4, params);
    if (!r)
        return 1;
    if (PQntuples(r) != 1)
        return fail("unknown product %s", opt(c, "product"));
    printf("%s\n", PQgetvalue(r, 0, 0));
    return 0;
}

static int cmd_contractor_create(ctl *c)
{
    const char *params[] = {opt(c, "name")};
    PGresult *r = q(c, "INSERT INTO dadm.contractor (name) VALUES ($1) RETURNING id", 1, params);
    if (!r)
        return 1;
    printf("%s\n", PQgetvalue(r, 0, 0));
    return 0;
}

static int cmd_contractor_list(ctl *c)
{
    return list(c, "SELECT id, name FROM dadm.contractor ORDER BY name", 0, NULL);
}

/* Resolves an optional --etab UAI or --contractor NAME to an id string. */
static bool resolve(ctl *c, const char *sql, const char *key, const char **out)
{
    *out = NULL;
    const char *v = opt(c, key);
    if (!v)
        return true;
    const char *params[] = {v};
    PGresult *r = q(c, sql, 1, params);
    if (!r)
        return false;
    if (PQntuples(r) != 1) {
        fail("unknown %s %s", key, v);
        return false;
    }
    *out = PQgetvalue(r, 0, 0);
    return true;
}

#define ETAB_BY_UAI        "SELECT id FROM dadm.etab WHERE uai = upper($1)"
#define CONTRACTOR_BY_NAME "SELECT id FROM dadm.contractor WHERE name = $1"
#define PRODUCT_BY_CODE    "SELECT id FROM dadm.product WHERE code = $1"

static int cmd_account_create(ctl *c)
{
    const char *etab, *contractor;
    if (!resolve(c, ETAB_BY_UAI, "etab", &etab) ||
        !resolve(c, CONTRACTOR_BY_NAME, "contractor", &contractor))
        return 1;
    char *hash = NULL;
    char *pw = read_secret(c, "password-file", "password-stdin");
    if (pw && auth_password_hash(pw, &auth_password_default, &hash) != DADM_OK)
        return fail("cannot hash the password");
    const char *params[] = {etab,
                            contractor,
                            opt(c, "login"),
                            opt(c, "given-name") ? opt(c, "given-name") : "",
                            opt(c, "family-name") ? opt(c, "family-name") : "",
                            opt(c, "email"),
                            opt(c, "phone"),
                            hash,
                            opt(c, "generic") ? "generic" : "person"};
    PGresult *r = q(c,
                    "INSERT INTO dadm.account (etab_id, contractor_id, login, given_name,"
                    " family_name, email, phone, password_hash, kind)"
                    " VALUES ($1, $2, lower($3), $4, $5, $6, $7, $8, $9) RETURNING id",
                    9, params);
    free(hash);
    if (!r)
        return 1;
    printf("%s\n", PQgetvalue(r, 0, 0));
    return 0;
}

static int cmd_account_list(ctl *c)
{
    const char *etab;
    if (!resolve(c, ETAB_BY_UAI, "etab", &etab))
        return 1;
    const char *params[] = {etab};
    return list(c,
                "SELECT a.id, a.login, a.given_name, a.family_name, a.email, a.status,"
                " coalesce(e.uai, k.name, 'agence') AS org"
                " FROM dadm.account a LEFT JOIN dadm.etab e ON e.id = a.etab_id"
                " LEFT JOIN dadm.contractor k ON k.id = a.contractor_id"
                " WHERE $1::bigint IS NULL OR a.etab_id = $1 ORDER BY a.login",
                1, params);
}

static int cmd_grant_add(ctl *c)
{
    const char *etab, *contractor, *product;
    if (!resolve(c, ETAB_BY_UAI, "etab", &etab) ||
        !resolve(c, CONTRACTOR_BY_NAME, "contractor", &contractor) ||
        !resolve(c, PRODUCT_BY_CODE, "product", &product))
        return 1;
    const char *params[] = {opt(c, "account"), opt(c, "role"), opt(c, "nature"),
                            product,           etab,           contractor};
    PGresult *r = q(c,
                    "INSERT INTO dadm.\"grant\" (account_id, role, nature, product_id, etab_id,"
                    " contractor_id)"
                    " SELECT id, $2, $3, $4, $5, $6 FROM dadm.account WHERE login = lower($1)"
                    " RETURNING id",
                    6, params);
    if (!r)
        return 1;
    if (PQntuples(r) != 1)
        return fail("unknown account %s", opt(c, "account"));
    printf("%s\n", PQgetvalue(r, 0, 0));
    return 0;
}

static int cmd_grant_list(ctl *c)
{
    const char *params[] = {opt(c, "account")};
    return list(c,
                "SELECT g.id, a.login, g.role, g.nature, p.code AS product, e.uai AS etab,"
                " k.name AS contractor"
                " FROM dadm.\"grant\" g JOIN dadm.account a ON a.id = g.account_id"
                " LEFT JOIN dadm.product p ON p.id = g.product_id"
                " LEFT JOIN dadm.etab e ON e.id = g.etab_id"
                " LEFT JOIN dadm.contractor k ON k.id = g.contractor_id"
                " WHERE $1::text IS NULL OR a.login = lower($1) ORDER BY a.login, g.id",
                1, params);
}

static int cmd_installation_create(ctl *c)
{
    const char *etab, *product;
    if (!resolve(c, ETAB_BY_UAI, "etab", &etab) ||
        !resolve(c, PRODUCT_BY_CODE, "product", &product))
        return 1;
    const char *params[] = {etab, product, opt(c, "mode") ? opt(c, "mode") : "classique",
                            opt(c, "version")};
    PGresult *r = q(c,
                    "INSERT INTO dadm.installation (etab_id, product_id, mode, version_id)"
                    " VALUES ($1, $2, $3, (SELECT id FROM dadm.version"
                    "   WHERE product_id = $2 AND label = $4)) RETURNING id, version_id",
                    4, params);
    if (!r)
        return 1;
    if (opt(c, "version") && PQgetisnull(r, 0, 1))
        return fail("unknown version %s for this product", opt(c, "version"));
    printf("%s\n", PQgetvalue(r, 0, 0));
    return 0;
}

static int cmd_session_create(ctl *c)
{
    const char *params[] = {opt(c, "account")};
    PGresult *r = q(c, "SELECT id FROM dadm.account WHERE login = lower($1)", 1, params);
    if (!r)
        return 1;
    if (PQntuples(r) != 1)
        return fail("unknown account %s", opt(c, "account"));
    int64_t id = g_ascii_strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    bool ok = true;
    int idle = (int)conf_int(c->conf, "session", "idle_seconds", 1800, 60, 86400, &ok);
    int absolute = (int)conf_int(c->conf, "session", "absolute_seconds", 36000, 60, 604800, &ok);
    char token[AUTH_TOKEN_SIZE];
    if (auth_session_open(c->db, id, 0, "operator", idle, absolute, token) != DADM_OK)
        return fail("cannot open the session (is the account active?)");
    printf("%s\n", token);
    return 0;
}

/* Sets the directory settings of an establishment (created or replaced). */
static int cmd_ldap_config(ctl *c)
{
    const char *etab;
    if (!resolve(c, ETAB_BY_UAI, "etab", &etab))
        return 1;
    if (!etab)
        return fail("unknown etab");
    const char *uri = opt(c, "uri");
    if (!g_str_has_prefix(uri, "ldap://") && !g_str_has_prefix(uri, "ldaps://"))
        return fail("--uri must be ldap://HOST[:PORT] (StartTLS) or ldaps://HOST[:PORT]");
    if (g_str_has_prefix(uri, "ldap://") && opt(c, "no-starttls") && !opt(c, "allow-plain"))
        return fail("--no-starttls sends the password in clear: add --allow-plain to accept it");
    if (!tenant_ldap_dn_valid(opt(c, "base")))
        return fail("--base is not a valid DN");
    if (opt(c, "bind-dn") && !tenant_ldap_dn_valid(opt(c, "bind-dn")))
        return fail("--bind-dn is not a valid DN");
    const char *filter = opt(c, "filter") ? opt(c, "filter") : "(objectClass=eduPerson)";
    if (!tenant_ldap_filter_valid(filter))
        return fail("--filter is not a valid LDAP filter (RFC 4515)");
    if (opt(c, "password-file") && opt(c, "password-stdin"))
        return fail("give --password-file or --password-stdin, not both");
    const char *map = opt(c, "map") ? opt(c, "map") : "{}";
    json_t *mj = json_loads(map, JSON_REJECT_DUPLICATES, NULL);
    tenant_ldap_map m;
    const char *why = NULL;
    dadm_err e = mj ? tenant_ldap_map_parse(mj, &m, &why) : DADM_E_INVALID;
    json_decref(mj);
    if (e != DADM_OK)
        return fail("--map: %s", why ? why : "not a JSON object");
    char *password = NULL;
    if (opt(c, "password-stdin") &&
        !(password = read_secret(c, "password-file-unused", "password-stdin")))
        return fail("no password on standard input");
    char *pwfile = NULL;
    if (opt(c, "password-file")) {
        pwfile = g_canonicalize_filename(opt(c, "password-file"), NULL);
        if (access(pwfile, R_OK) != 0) {
            g_free(pwfile);
            return fail("cannot read --password-file");
        }
    }
    const char *params[] = {etab,
                            uri,
                            opt(c, "no-starttls") || g_str_has_prefix(uri, "ldaps://") ? "false"
                                                                                       : "true",
                            opt(c, "allow-plain") ? "true" : "false",
                            opt(c, "ca-file"),
                            opt(c, "bind-dn"),
                            password,
                            pwfile,
                            opt(c, "base"),
                            opt(c, "scope") ? opt(c, "scope") : "sub",
                            filter,
                            opt(c, "page-size") ? opt(c, "page-size") : "500",
                            opt(c, "eppn-domain"),
                            map,
                            opt(c, "interval") ? opt(c, "interval") : "3600",
                            opt(c, "disable") ? "false" : "true",
                            opt(c, "incremental") ? opt(c, "incremental") : "auto"};
    PGresult *r = q(c,
                    "INSERT INTO dadm.etab_directory AS d (etab_id, uri, starttls, allow_plain,"
                    " ca_file, bind_dn, bind_password, password_file, base_dn, scope, filter,"
                    " page_size, eppn_domain, map, interval_seconds, enabled, incremental)"
                    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, lower($13),"
                    " $14, $15, $16, $17)"
                    " ON CONFLICT (etab_id) DO UPDATE SET uri = EXCLUDED.uri,"
                    " starttls = EXCLUDED.starttls, allow_plain = EXCLUDED.allow_plain,"
                    " ca_file = EXCLUDED.ca_file, bind_dn = EXCLUDED.bind_dn,"
                    " bind_password = EXCLUDED.bind_password,"
                    " password_file = EXCLUDED.password_file, base_dn = EXCLUDED.base_dn,"
                    " scope = EXCLUDED.scope, filter = EXCLUDED.filter,"
                    " page_size = EXCLUDED.page_size, eppn_domain = EXCLUDED.eppn_domain,"
                    " map = EXCLUDED.map, interval_seconds = EXCLUDED.interval_seconds,"
                    " enabled = EXCLUDED.enabled, incremental = EXCLUDED.incremental,"
                    " updated_at = now()"
                    " RETURNING etab_id",
                    17, params);
    g_free(pwfile);
    if (!r)
        return 1;
    /* New settings may change which entries are in scope: the next run
     * reads everything again. */
    const char *p1[] = {etab};
    if (!q(c,
           "UPDATE dadm.etab_directory_state SET sync_cookie = NULL, last_full_at = NULL"
           " WHERE etab_id = $1",
           1, p1))
        return 1;
    printf("directory settings saved for %s\n", opt(c, "etab"));
    return 0;
}

/* Provisions an establishment's accounts from its directory, outside the
 * command transaction: the run manages its own. */
static int cmd_ldap_sync(ctl *c)
{
    const char *etab;
    if (!resolve(c, ETAB_BY_UAI, "etab", &etab))
        return 1;
    if (!etab)
        return fail("unknown etab");
    bool ok = true;
    tenant_ldap_options o = {
        .full = opt(c, "full") != NULL,
        .dry_run = opt(c, "dry-run") != NULL,
        .progress = isatty(STDERR_FILENO) ? stderr : NULL,
        .timeout = (int)conf_int(c->conf, "ldap", "timeout_seconds", 30, 1, 3600, &ok),
    };
    tenant_ldap_result res;
    const char *msg = NULL;
    if (tenant_ldap_sync(c->db, c->a, g_ascii_strtoll(etab, NULL, 10), &o, &res, &msg) != DADM_OK)
        return fail("ldap-sync %s: %s", opt(c, "etab"), msg);
    if (res.unchanged)
        printf("%s%s: unchanged since the last listing (same contextCSN, settings and"
               " accounts), nothing listed\n",
               o.dry_run ? "dry run, nothing changed; " : "", res.mode);
    else
        printf("%s%s: seen %ld, created %ld, updated %ld, disabled %ld, re-enabled %ld,"
               " skipped %ld\n",
               o.dry_run ? "dry run, nothing changed; " : "", res.mode, res.seen, res.created,
               res.updated, res.disabled, res.reenabled, res.skipped);
    size_t i;
    json_t *s;
    json_array_foreach(res.skipped_entries, i, s)
    {
        printf("skipped\t%s\t%s\n", json_string_value(json_object_get(s, "reason")),
               json_is_string(json_object_get(s, "dn"))
                   ? json_string_value(json_object_get(s, "dn"))
                   : "-");
    }
    if (res.run_id)
        printf("run %lld\n", (long long)res.run_id);
    printf("time: read %.2f s, apply %.2f s\n", res.read_seconds, res.apply_seconds);
    return 0;
}

static int cmd_job_run(ctl *c)
{
    dadm_err e = jobs_run_once(c->db, opt(c, "name"));
    if (e == DADM_E_NOT_FOUND)
        return fail("unknown job %s", opt(c, "name"));
    if (e == DADM_E_CONFLICT)
        return fail("job %s is running elsewhere", opt(c, "name"));
    if (e != DADM_OK)
        return fail("job %s failed: %s (see the log)", opt(c, "name"), dadm_err_title(e));
    printf("job %s done\n", opt(c, "name"));
    return 0;
}

/* The ARS / AVS timers once, as of --at (any timestamp PostgreSQL reads,
 * e.g. 2026-05-20T09:00:00+02) or now: the tests' controllable clock. */
static int cmd_da_timers(ctl *c)
{
    long reminders = 0, closures = 0;
    const char *at = opt(c, "at");
    dadm_err e = jobs_da_timers_at(c->db, c->a, at, &reminders, &closures);
    if (e == DADM_E_INVALID)
        return fail("--at: not a timestamp: %s", at ? at : "");
    if (e != DADM_OK) {
        PGconn *pc = db_conn(c->db);
        return fail("da-timers failed: %s",
                    pc && *PQerrorMessage(pc) ? PQerrorMessage(pc) : dadm_err_title(e));
    }
    printf("da-timers at %s: %ld reminder(s), %ld automatic closure(s)\n", at ? at : "now",
           reminders, closures);
    return 0;
}

/* SAML IdPs of an establishment: from a metadata file, or from a federation
 * aggregate whose signature is verified first (auth_saml.c). */
static int idp_register(ctl *c, const char *metadata, const char *source)
{
    const char *why = NULL;
    dadm_err e = auth_saml_idp_register(c->db, c->a, opt(c, "etab"), metadata, opt(c, "entity-id"),
                                        source, &why);
    if (e != DADM_OK)
        return fail("%s", why ? why : dadm_err_title(e));
    return 0;
}

static int cmd_idp_add(ctl *c)
{
    gchar *md = NULL;
    if (!g_file_get_contents(opt(c, "metadata"), &md, NULL, NULL))
        return fail("cannot read %s", opt(c, "metadata"));
    int rc = idp_register(c, md, "file");
    g_free(md);
    auth_saml_global_shutdown();
    return rc;
}

static int cmd_idp_import(ctl *c)
{
    const char *md = NULL, *why = NULL;
    dadm_err e = auth_saml_aggregate_extract(c->a, opt(c, "aggregate"), opt(c, "signing-cert"),
                                             opt(c, "entity-id"), &md, &why);
    int rc = e == DADM_OK ? idp_register(c, md, "aggregate") : fail("%s", why ? why : "refused");
    auth_saml_global_shutdown();
    return rc;
}

static int cmd_idp_list(ctl *c)
{
    const char *etab;
    if (!resolve(c, ETAB_BY_UAI, "etab", &etab))
        return 1;
    const char *params[] = {etab};
    return list(c,
                "SELECT e.uai, i.entity_id, i.source, i.enabled, i.updated_at"
                " FROM dadm.saml_idp i JOIN dadm.etab e ON e.id = i.etab_id"
                " WHERE $1::bigint IS NULL OR i.etab_id = $1 ORDER BY e.uai, i.entity_id",
                1, params);
}

static int cmd_idp_remove(ctl *c)
{
    const char *params[] = {opt(c, "etab"), opt(c, "entity-id")};
    PGresult *r = q(c,
                    "DELETE FROM dadm.saml_idp WHERE entity_id = $2"
                    " AND etab_id = (SELECT id FROM dadm.etab WHERE uai = upper($1)) RETURNING id",
                    2, params);
    if (!r)
        return 1;
    return PQntuples(r) == 1 ? 0 : fail("no such IdP for this establishment");
}

/* Links an account to its SSO subject (IdP entityID, eduPersonPrincipalName). */
static int cmd_account_set_sso(ctl *c)
{
    const char *params[] = {opt(c, "login"), opt(c, "idp"), opt(c, "eppn")};
    PGresult *r = q(c,
                    "UPDATE dadm.account SET sso_idp = $2, sso_eppn = $3, updated_at = now()"
                    " WHERE login = lower($1) RETURNING id",
                    3, params);
    if (!r)
        return 1;
    return PQntuples(r) == 1 ? 0 : fail("unknown account %s", opt(c, "login"));
}

#define O(...)                                                                                     \
    (const char *const[])                                                                          \
    {                                                                                              \
        __VA_ARGS__, NULL                                                                          \
    }
static const command commands[] = {
    {"migrate", O(NULL), cmd_migrate, "apply the pending SQL migrations"},
    {"seed-demo", O(NULL), cmd_seed_demo, "create the demo data (once) and print the logins"},
    {"etab create", O("uai!", "name!", "type!", "size!", "website", "email"), cmd_etab_create,
     "type: universite|ecole|epst|autre; size: tres_petit|petit|moyen|grand|tres_grand"},
    {"etab list", O(NULL), cmd_etab_list, "list establishments"},
    {"product create",
     O("code!", "name!", "reader-login!", "reader-password-file", "reader-password-stdin",
       "current-only"),
     cmd_product_create, "create a product and its level-1 reader login"},
    {"product list", O(NULL), cmd_product_list, "list products"},
    {"product add-domain", O("product!", "code!", "name!", "nature!"), cmd_product_add_domain,
     "nature: fonctionnel|technique"},
    {"product add-version", O("product!", "label!", "delivered!", "major"), cmd_product_add_version,
     "delivered: YYYY-MM-DD; --major after a technical migration"},
    {"contractor create", O("name!"), cmd_contractor_create, "create a contractor"},
    {"contractor list", O(NULL), cmd_contractor_list, "list contractors"},
    {"account create",
     O("login!", "email!", "given-name", "family-name", "phone", "etab", "contractor",
       "password-file", "password-stdin", "generic"),
     cmd_account_create, "--etab UAI or --contractor NAME; neither: an agency account"},
    {"account list", O("etab"), cmd_account_list, "list accounts, optionally of one establishment"},
    {"grant add", O("account!", "role!", "nature", "product", "etab", "contractor"), cmd_grant_add,
     "role: correspondent|etab_admin|consultant|contractor_consultant|validator|admin"},
    {"grant list", O("account"), cmd_grant_list, "list role grants"},
    {"installation create", O("etab!", "product!", "mode", "version"), cmd_installation_create,
     "mode: classique|heberge|teleservice"},
    {"session create", O("account!"), cmd_session_create,
     "open a session for an account and print its token (operators and tests)"},
    {"ldap-config",
     O("etab!", "uri!", "base!", "bind-dn", "password-file", "password-stdin", "ca-file", "filter",
       "scope", "page-size", "eppn-domain", "map", "interval", "incremental", "no-starttls",
       "allow-plain", "disable"),
     cmd_ldap_config,
     "ETAB: set its directory (ldap:// uses StartTLS; scope base|one|sub; --map JSON;"
     " incremental auto|sync|timestamp)"},
    {"ldap-sync", O("etab!", "full", "dry-run"), cmd_ldap_sync,
     "ETAB: provision its accounts from its directory (incremental unless --full)"},
    {"job run", O("name!"), cmd_job_run, "run a background job once (ldap, da_timers)"},
    {"da-timers", O("at"), cmd_da_timers,
     "run the DA reminders and automatic closures once, as of --at (default now)"},
    {"idp add", O("etab!", "metadata!", "entity-id"), cmd_idp_add,
     "register an establishment's SAML IdP from its metadata file"},
    {"idp import", O("etab!", "aggregate!", "signing-cert!", "entity-id!"), cmd_idp_import,
     "register an IdP taken from a federation aggregate whose signature is verified"},
    {"idp list", O("etab"), cmd_idp_list, "list registered SAML IdPs"},
    {"idp remove", O("etab!", "entity-id!"), cmd_idp_remove, "unregister an IdP"},
    {"account set-sso", O("login!", "idp!", "eppn!"), cmd_account_set_sso,
     "link an account to (IdP entityID, eduPersonPrincipalName)"},
};
#undef O
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *f)
{
    fprintf(f, "usage: dadmctl [-c FILE] COMMAND [--option value ...]\n\ncommands:\n");
    for (size_t i = 0; i < NCOMMANDS; i++) {
        fprintf(f, "  %-20s", commands[i].name);
        for (const char *const *o = commands[i].options; o[0]; o++) {
            size_t n = strlen(*o);
            bool req = (*o)[n - 1] == '!';
            fprintf(f, " %s--%.*s%s", req ? "" : "[", (int)(n - req), *o, req ? "" : "]");
        }
        fprintf(f, "\n  %-20s %s\n", "", commands[i].help);
    }
    fprintf(f, "\nThe database is reached with [db] admin_conninfo (DADM_DB_ADMIN_CONNINFO).\n");
}

/* Matches argv against a command's name (one or two words). */
static int find_command(int argc, char **argv, int *used)
{
    for (size_t i = 0; i < NCOMMANDS; i++) {
        const char *name = commands[i].name;
        const char *sp = strchr(name, ' ');
        if (!sp && argc >= 1 && strcmp(argv[0], name) == 0) {
            *used = 1;
            return (int)i;
        }
        if (sp && argc >= 2 && strncmp(argv[0], name, (size_t)(sp - name)) == 0 &&
            argv[0][sp - name] == '\0' && strcmp(argv[1], sp + 1) == 0) {
            *used = 2;
            return (int)i;
        }
    }
    return -1;
}

static bool known_option(const command *cmd, const char *name, bool *required)
{
    for (const char *const *o = cmd->options; o[0]; o++) {
        size_t n = strlen(*o);
        bool req = (*o)[n - 1] == '!';
        if (strlen(name) == n - req && strncmp(*o, name, n - req) == 0) {
            *required = req;
            return true;
        }
    }
    return false;
}

/* Options that take no value. */
static bool is_flag(const char *name)
{
    static const char *const flags[] = {
        "current-only", "major",   "generic",     "password-stdin", "reader-password-stdin",
        "full",         "dry-run", "no-starttls", "allow-plain",    "disable"};
    for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
        if (strcmp(flags[i], name) == 0)
            return true;
    return false;
}

int main(int argc, char **argv)
{
    const char *conf_path = NULL;
    int argi = 1;
    if (argi + 1 < argc && strcmp(argv[argi], "-c") == 0) {
        conf_path = argv[argi + 1];
        argi += 2;
    }
    if (argi >= argc || strcmp(argv[argi], "-h") == 0 || strcmp(argv[argi], "--help") == 0) {
        usage(argi >= argc ? stderr : stdout);
        return argi >= argc ? 2 : 0;
    }
    int used = 0;
    int ci = find_command(argc - argi, argv + argi, &used);
    if (ci < 0) {
        fprintf(stderr, "dadmctl: unknown command '%s'\n", argv[argi]);
        usage(stderr);
        return 2;
    }
    const command *cmd = &commands[ci];
    ctl c = {.opt = g_hash_table_new(g_str_hash, g_str_equal)};
    int rc = 2;
    /* `dadmctl ldap-sync ETAB`: a bare first argument is the --etab. */
    if ((cmd->fn == cmd_ldap_sync || cmd->fn == cmd_ldap_config) && argi + used < argc &&
        strncmp(argv[argi + used], "--", 2) != 0)
        g_hash_table_insert(c.opt, "etab", argv[argi + used++]);
    for (int i = argi + used; i < argc; i++) {
        bool req;
        if (strncmp(argv[i], "--", 2) != 0 || !known_option(cmd, argv[i] + 2, &req)) {
            fprintf(stderr, "dadmctl %s: unknown option '%s'\n", cmd->name, argv[i]);
            goto out;
        }
        if (is_flag(argv[i] + 2)) {
            g_hash_table_insert(c.opt, argv[i] + 2, "");
        } else if (i + 1 < argc) {
            g_hash_table_insert(c.opt, argv[i] + 2, argv[i + 1]);
            i++;
        } else {
            fprintf(stderr, "dadmctl %s: option '%s' needs a value\n", cmd->name, argv[i]);
            goto out;
        }
    }
    for (const char *const *o = cmd->options; o[0]; o++) {
        size_t n = strlen(*o);
        if ((*o)[n - 1] == '!') {
            char *name = g_strndup(*o, n - 1);
            bool have = g_hash_table_contains(c.opt, name);
            if (!have)
                fprintf(stderr, "dadmctl %s: --%s is required\n", cmd->name, name);
            g_free(name);
            if (!have)
                goto out;
        }
    }
    rc = 1;
    char *err = NULL;
    c.conf = conf_load(settings_config_path(conf_path), &err);
    if (!c.conf) {
        fail("%s", err);
        free(err);
        goto out;
    }
    log_set_level(LOG_WARN);
    c.db = db_new(conf_str(c.conf, "db", "admin_conninfo", "dbname=dadm user=dadm_owner"));
    c.a = arena_new(0);
    if (!c.db || !c.a)
        goto out;
    if (db_ensure(c.db) != DADM_OK) {
        fail("cannot connect to the database (check [db] admin_conninfo): %s",
             db_conn(c.db) ? PQerrorMessage(db_conn(c.db)) : "connection refused");
        goto out;
    }
    /* migrate manages its own transactions; every other command is one. */
    bool tx = cmd->fn != cmd_migrate && cmd->fn != cmd_ldap_sync && cmd->fn != cmd_job_run;
    if (tx && db_begin(c.db) != DADM_OK)
        goto out;
    rc = cmd->fn(&c);
    if (tx) {
        if (rc == 0 && db_commit(c.db) != DADM_OK)
            rc = fail("the change could not be committed");
        if (rc != 0)
            db_rollback(c.db);
    }
out:
    arena_free(c.a);
    db_free(c.db);
    conf_free(c.conf);
    g_hash_table_destroy(c.opt);
    return rc;
}
