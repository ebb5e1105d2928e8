/* Numbered SQL migrations (sql/NNNN_name.sql): applied in order, each in
 * its own transaction, recorded with its SHA-256 in dadm_meta.migration.
 * An applied file that has since been edited stops everything. */
#ifndef DADM_MIGRATE_H
#define DADM_MIGRATE_H

#include <stdio.h>

#include "arena.h"
#include "dadm_error.h"
#include "db.h"

typedef struct {
    int version;
    char *name; /* file name */
    char *sql;
    char sha256[65];
} migrate_file;

typedef struct migrate_set {
    size_t n;
    migrate_file *files; /* ordered by version */
} migrate_set;

/* Reads every NNNN_*.sql file of `dir`. On failure returns NULL and sets
 * *err to an owned message (free()). Duplicate versions are an error. */
migrate_set *migrate_scan(const char *dir, char **err);
void migrate_set_free(migrate_set *s);

/* Applies what is missing, reporting each step on `progress` (may be NULL).
 * Holds an advisory lock so two runs never interleave. On failure *err is
 * an owned message naming the file. */
dadm_err migrate_apply(db *d, const migrate_set *s, FILE *progress, char **err);

/* DADM_OK when exactly the files of `s` are applied, unchanged. Otherwise
 * DADM_E_UNAVAILABLE with a French *detail (static), or the database error. */
dadm_err migrate_check(db *d, arena *a, const migrate_set *s, const char **detail);

#endif
