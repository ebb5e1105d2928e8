/* Establishments and their installations, read with the caller's principal
 * already set in the transaction: row-level security decides which rows
 * exist for the caller; the handler's role check comes before. */
#ifndef DADM_TENANTS_ETAB_H
#define DADM_TENANTS_ETAB_H

#include <jansson.h>
#include <stdint.h>

#include "arena.h"
#include "dadm_error.h"
#include "db.h"

/* A page of the establishments visible to the caller, ordered by name.
 * *items is a new array (caller owns it), *total the count of all visible. */
dadm_err tenant_etab_list(db *d, arena *a, long limit, long offset, json_t **items, long *total);
/* One establishment; DADM_E_NOT_FOUND when absent or not visible. *out is a
 * new object (caller owns it). */
dadm_err tenant_etab_get(db *d, arena *a, int64_t id, json_t **out);
/* Installations of an establishment visible to the caller, with product
 * and validated version; pending_version is the version a change request
 * proposes while it awaits validation (null otherwise). *items is a new
 * array (caller owns it). */
dadm_err tenant_installation_list(db *d, arena *a, int64_t etab_id, json_t **items);

#endif
