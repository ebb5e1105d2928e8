/* PostgreSQL access: one connection per worker, reconnected on demand, every
 * statement parameterised. Results are owned by the caller's arena.
 * Failures are logged here with the server's detail; callers get a dadm_err
 * that is safe to show. */
#ifndef DADM_COMMON_DB_H
#define DADM_COMMON_DB_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

#include "arena.h"
#include "dadm_error.h"

typedef struct db db;

/* New handle for `conninfo`; does not connect. NULL when out of memory. */
db *db_new(const char *conninfo);
/* Closes and frees. Accepts NULL. */
void db_free(db *d);

/* Connects if the handle has no healthy connection. DADM_E_DB_UNAVAILABLE
 * when the server cannot be reached. */
dadm_err db_ensure(db *d);
/* True when the last failure was a lost or refused connection. */
bool db_is_down(const db *d);
/* The raw connection (for COPY and the like); NULL when not connected. */
PGconn *db_conn(db *d);

/* Runs `sql` with `n` text parameters (NULL entries are SQL NULL). On
 * success returns the result, owned by `a`. On failure returns NULL and sets
 * *err (unless err is NULL): DADM_E_DB_UNAVAILABLE for a lost connection,
 * DADM_E_CONFLICT for unique or serialisation failures, DADM_E_INVALID for
 * check constraints and bad data, DADM_E_INTERNAL otherwise. */
PGresult *db_exec(db *d, arena *a, const char *sql, int n, const char *const *params,
                  dadm_err *err);
/* db_exec with binary parameters and results, for file contents: a
 * parameter i with formats[i] == 1 is lengths[i] raw bytes (formats and
 * lengths may be NULL: all text); result_format 1 returns every column in
 * binary (bytea as its raw bytes). */
PGresult *db_exec_bin(db *d, arena *a, const char *sql, int n, const char *const *params,
                      const int *lengths, const int *formats, int result_format, dadm_err *err);
/* Integer value of a cell: 0 for SQL NULL or a value that is not an integer. */
int64_t db_i64(const PGresult *r, int row, int col);
/* The SQLSTATE of the last failed statement ("" when none). */
const char *db_last_sqlstate(const db *d);

/* Transaction control. db_rollback is quiet and safe to call at any time. */
dadm_err db_begin(db *d);
dadm_err db_commit(db *d);
void db_rollback(db *d);

/* Count of statement failures since start (for /metrics). */
unsigned long db_error_count(void);

#endif
