/* Turns query results into JSON: one object per row, keyed by column name,
 * typed from the column's type (integers, booleans, numeric, json/jsonb
 * embedded, NULL as null, everything else as a string). */
#ifndef DADM_COMMON_DB_JSON_H
#define DADM_COMMON_DB_JSON_H

#include <jansson.h>
#include <libpq-fe.h>

#include "arena.h"

/* Row `row` of r as a new object (caller owns the reference); NULL on
 * allocation failure. */
json_t *db_json_row(const PGresult *r, int row);
/* Hands `j` to the arena, which releases it when freed. Returns j, or NULL
 * when j is NULL or registration failed (j is then released at once). */
json_t *db_json_own(arena *a, json_t *j);
/* Every row of r as a new array (caller owns the reference); NULL on
 * allocation failure. */
json_t *db_json_rows(const PGresult *r);
/* The rows of one page of a list whose query adds a column `total` (the
 * count of the whole list, e.g. count(*) OVER ()): a new array of the rows
 * without that column (caller owns it; NULL on allocation failure), and
 * *total read from the first row. *total is left alone when the page is
 * empty: past the last page the caller counts otherwise. */
json_t *db_json_page(const PGresult *r, long *total);

#endif
