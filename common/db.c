#include "db.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "util.h"

struct db {
    char *conninfo;
    PGconn *conn;
    bool down;
    char sqlstate[6];
};

static atomic_ulong error_count;

unsigned long db_error_count(void)
{
    return atomic_load(&error_count);
}

db *db_new(const char *conninfo)
{
    db *d = calloc(1, sizeof(*d));
    if (!d)
        return NULL;
    d->conninfo = strdup(conninfo ? conninfo : "");
    if (!d->conninfo) {
        free(d);
        return NULL;
    }
    return d;
}

void db_free(db *d)
{
    if (!d)
        return;
    if (d->conn)
        PQfinish(d->conn);
    free(d->conninfo);
    free(d);
}

/* libpq prints notices to stderr by default; route them to our log format. */
static void notice(void *arg, const char *message)
{
    (void)arg;
    char buf[512];
    size_t n = strlen(message);
    if (n >= sizeof(buf))
        n = sizeof(buf) - 1;
    memcpy(buf, message, n);
    buf[n] = '\0';
    if (n && buf[n - 1] == '\n')
        buf[n - 1] = '\0';
    log_kv(LOG_DEBUG, "db.notice", "message", buf, NULL);
}

dadm_err db_ensure(db *d)
{
    if (d->conn && PQstatus(d->conn) == CONNECTION_OK) {
        d->down = false;
        return DADM_OK;
    }
    if (d->conn) {
        PQfinish(d->conn);
        d->conn = NULL;
    }
    d->conn = PQconnectdb(d->conninfo);
    if (PQstatus(d->conn) != CONNECTION_OK) {
        char *msg = PQerrorMessage(d->conn);
        size_t n = strlen(msg);
        char buf[512];
        if (n >= sizeof(buf))
            n = sizeof(buf) - 1;
        memcpy(buf, msg, n);
        buf[n] = '\0';
        while (n && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
            buf[--n] = '\0';
        if (!d->down)
            log_kv(LOG_ERROR, "db.connect_failed", "detail", buf, NULL);
        atomic_fetch_add(&error_count, 1);
        PQfinish(d->conn);
        d->conn = NULL;
        d->down = true;
        return DADM_E_DB_UNAVAILABLE;
    }
    if (d->down)
        log_kv(LOG_INFO, "db.reconnected", NULL);
    d->down = false;
    PQsetNoticeProcessor(d->conn, notice, NULL);
    return DADM_OK;
}

bool db_is_down(const db *d)
{
    return d->down;
}

PGconn *db_conn(db *d)
{
    return d->conn;
}

int64_t db_i64(const PGresult *r, int row, int col)
{
    int64_t v = 0;
    if (col >= 0 && !PQgetisnull(r, row, col) && !util_parse_i64(PQgetvalue(r, row, col), &v))
        v = 0;
    return v;
}

const char *db_last_sqlstate(const db *d)
{
    return d->sqlstate;
}

static void clear_result(void *r)
{
    PQclear(r);
}

static dadm_err classify(db *d, const PGresult *r)
{
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    if (state)
        memcpy(d->sqlstate, state, strnlen(state, 5));
    else
        memset(d->sqlstate, 0, sizeof(d->sqlstate));
    if (!d->conn || PQstatus(d->conn) != CONNECTION_OK || (state && strncmp(state, "08", 2) == 0) ||
        (state && strcmp(state, "57P01") == 0)) {
        d->down = true;
        return DADM_E_DB_UNAVAILABLE;
    }
    if (!state)
        return DADM_E_INTERNAL;
    if (strcmp(state, "23505") == 0 || strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0 ||
        strcmp(state, "55P03") == 0)
        return DADM_E_CONFLICT;
    if (strcmp(state, "42501") == 0)
        return DADM_E_FORBIDDEN;
    if (strncmp(state, "22", 2) == 0 || strncmp(state, "23", 2) == 0)
        return DADM_E_INVALID;
    return DADM_E_INTERNAL;
}

PGresult *db_exec(db *d, arena *a, const char *sql, int n, const char *const *params, dadm_err *err)
{
    return db_exec_bin(d, a, sql, n, params, NULL, NULL, 0, err);
}

PGresult *db_exec_bin(db *d, arena *a, const char *sql, int n, const char *const *params,
                      const int *lengths, const int *formats, int result_format, dadm_err *err)
{
    dadm_err e = db_ensure(d);
    if (e != DADM_OK) {
        if (err)
            *err = e;
        return NULL;
    }
    PGresult *r = PQexecParams(d->conn, sql, n, NULL, params, lengths, formats, result_format);
    ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
        if (arena_defer(a, clear_result, r) != 0) {
            if (err)
                *err = DADM_E_NOMEM;
            return NULL;
        }
        return r;
    }
    e = classify(d, r);
    atomic_fetch_add(&error_count, 1);
    const char *msg = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    log_kv(e == DADM_E_INTERNAL ? LOG_ERROR : LOG_INFO, "db.error", "sqlstate", d->sqlstate,
           "detail", msg ? msg : PQerrorMessage(d->conn), NULL);
    PQclear(r);
    if (err)
        *err = e;
    return NULL;
}

static dadm_err simple(db *d, const char *sql)
{
    arena *a = arena_new(0);
    if (!a)
        return DADM_E_NOMEM;
    dadm_err e = DADM_OK;
    db_exec(d, a, sql, 0, NULL, &e);
    arena_free(a);
    return e;
}

dadm_err db_begin(db *d)
{
    return simple(d, "BEGIN");
}

dadm_err db_commit(db *d)
{
    return simple(d, "COMMIT");
}

void db_rollback(db *d)
{
    if (d->conn && PQstatus(d->conn) == CONNECTION_OK &&
        PQtransactionStatus(d->conn) != PQTRANS_IDLE) {
        PGresult *r = PQexec(d->conn, "ROLLBACK");
        PQclear(r);
    }
}
