#include "migrate.h"

#include <dirent.h>
#include <glib.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static int by_version(const void *x, const void *y)
{
    const migrate_file *a = x, *b = y;
    return (a->version > b->version) - (a->version < b->version);
}

static int parse_name(const char *name)
{
    /* NNNN_[a-z0-9_]+.sql */
    size_t n = strlen(name);
    if (n < 10 || strcmp(name + n - 4, ".sql") != 0 || name[4] != '_')
        return -1;
    for (int i = 0; i < 4; i++)
        if (name[i] < '0' || name[i] > '9')
            return -1;
    for (size_t i = 5; i < n - 4; i++)
        if (!g_ascii_islower(name[i]) && !g_ascii_isdigit(name[i]) && name[i] != '_')
            return -1;
    return atoi(name);
}

void migrate_set_free(migrate_set *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++) {
        free(s->files[i].name);
        g_free(s->files[i].sql);
    }
    free(s->files);
    free(s);
}

migrate_set *migrate_scan(const char *dir, char **err)
{
    *err = NULL;
    migrate_set *s = calloc(1, sizeof(*s));
    DIR *dh = opendir(dir);
    if (!s || !dh) {
        *err = g_strdup_printf("cannot read the migrations folder %s", dir);
        goto fail;
    }
    size_t cap = 0;
    for (struct dirent *de; (de = readdir(dh)) != NULL;) {
        int v = parse_name(de->d_name);
        if (v < 0)
            continue;
        if (s->n == cap) {
            cap = cap ? cap * 2 : 16;
            migrate_file *nf = realloc(s->files, cap * sizeof(*nf));
            if (!nf) {
                *err = g_strdup("out of memory");
                goto fail;
            }
            s->files = nf;
        }
        migrate_file *f = &s->files[s->n];
        memset(f, 0, sizeof(*f));
        f->version = v;
        f->name = strdup(de->d_name);
        char *path = g_build_filename(dir, de->d_name, NULL);
        gsize len = 0;
        gboolean ok = g_file_get_contents(path, &f->sql, &len, NULL);
        g_free(path);
        s->n++;
        if (!f->name || !ok) {
            *err = g_strdup_printf("cannot read %s", de->d_name);
            goto fail;
        }
        util_sha256_hex(f->sha256, f->sql, len);
    }
    qsort(s->files, s->n, sizeof(*s->files), by_version);
    for (size_t i = 1; i < s->n; i++)
        if (s->files[i].version == s->files[i - 1].version) {
            *err = g_strdup_printf("two migrations share the number %04d", s->files[i].version);
            goto fail;
        }
    closedir(dh);
    return s;
fail:
    if (dh)
        closedir(dh);
    migrate_set_free(s);
    /* Messages built with GLib are moved to malloc memory for the caller. */
    if (*err) {
        char *m = strdup(*err);
        g_free(*err);
        *err = m;
    }
    return NULL;
}

static char *errmsg(const char *what, PGconn *c)
{
    const char *m = c ? PQerrorMessage(c) : "";
    size_t n = strlen(m);
    while (n && m[n - 1] == '\n')
        n--;
    char *g = g_strdup_printf("%s: %.*s", what, (int)n, m);
    char *out = strdup(g);
    g_free(g);
    return out;
}

static bool run(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    PQclear(r);
    return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
}

dadm_err migrate_apply(db *d, const migrate_set *s, FILE *progress, char **err)
{
    *err = NULL;
    dadm_err e = db_ensure(d);
    if (e != DADM_OK) {
        *err = strdup("cannot connect to the database");
        return e;
    }
    PGconn *c = db_conn(d);
    dadm_err result = DADM_OK;
    if (!run(c, "SELECT pg_advisory_lock(hashtext('dadm.migrate'))")) {
        *err = errmsg("cannot take the migration lock", c);
        return DADM_E_INTERNAL;
    }
    if (!run(c, "SET client_min_messages = warning;"
                "CREATE SCHEMA IF NOT EXISTS dadm_meta;"
                "CREATE TABLE IF NOT EXISTS dadm_meta.migration ("
                " version integer PRIMARY KEY, name text NOT NULL, sha256 text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now());"
                "GRANT USAGE ON SCHEMA dadm_meta TO dadm_app;"
                "GRANT SELECT ON dadm_meta.migration TO dadm_app;")) {
        *err = errmsg("cannot create the migration table", c);
        result = DADM_E_INTERNAL;
        goto out;
    }
    for (size_t i = 0; i < s->n; i++) {
        const migrate_file *f = &s->files[i];
        char ver[16];
        snprintf(ver, sizeof(ver), "%d", f->version);
        const char *p1[] = {ver};
        PGresult *r = PQexecParams(c, "SELECT sha256 FROM dadm_meta.migration WHERE version = $1",
                                   1, NULL, p1, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
            PQclear(r);
            *err = errmsg(f->name, c);
            result = DADM_E_INTERNAL;
            goto out;
        }
        if (PQntuples(r) == 1) {
            bool same = strcmp(PQgetvalue(r, 0, 0), f->sha256) == 0;
            PQclear(r);
            if (!same) {
                char *g = g_strdup_printf("%s was edited after it was applied; write a new "
                                          "migration instead",
                                          f->name);
                *err = strdup(g);
                g_free(g);
                result = DADM_E_CONFLICT;
                goto out;
            }
            continue;
        }
        PQclear(r);
        if (progress)
            fprintf(progress, "applying %s\n", f->name);
        if (!run(c, "BEGIN") || !run(c, f->sql)) {
            *err = errmsg(f->name, c);
            run(c, "ROLLBACK");
            result = DADM_E_INTERNAL;
            goto out;
        }
        const char *p3[] = {ver, f->name, f->sha256};
        r = PQexecParams(c,
                         "INSERT INTO dadm_meta.migration (version, name, sha256)"
                         " VALUES ($1, $2, $3)",
                         3, NULL, p3, NULL, NULL, 0);
        bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        PQclear(r);
        if (!ok || !run(c, "COMMIT")) {
            *err = errmsg(f->name, c);
            run(c, "ROLLBACK");
            result = DADM_E_INTERNAL;
            goto out;
        }
    }
out:
    run(c, "SELECT pg_advisory_unlock(hashtext('dadm.migrate'))");
    return result;
}

dadm_err migrate_check(db *d, arena *a, const migrate_set *s, const char **detail)
{
    dadm_err e = DADM_OK;
    PGresult *r = db_exec(d, a, "SELECT version, sha256 FROM dadm_meta.migration ORDER BY version",
                          0, NULL, &e);
    if (!r) {
        *detail = "La base de données n'a pas encore été initialisée.";
        return e == DADM_E_DB_UNAVAILABLE ? e : DADM_E_UNAVAILABLE;
    }
    size_t n = (size_t)PQntuples(r);
    if (n != s->n) {
        *detail = n < s->n ? "Des migrations de la base de données restent à appliquer."
                           : "La base de données est plus récente que ce programme.";
        return DADM_E_UNAVAILABLE;
    }
    for (size_t i = 0; i < n; i++)
        if (atoi(PQgetvalue(r, (int)i, 0)) != s->files[i].version ||
            strcmp(PQgetvalue(r, (int)i, 1), s->files[i].sha256) != 0) {
            *detail = "Les migrations appliquées ne correspondent pas à celles de ce programme.";
            return DADM_E_UNAVAILABLE;
        }
    return DADM_OK;
}
