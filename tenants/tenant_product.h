/* The agency's products, their domains and known versions: public data. */
#ifndef DADM_TENANTS_PRODUCT_H
#define DADM_TENANTS_PRODUCT_H

#include <jansson.h>

#include "arena.h"
#include "dadm_error.h"
#include "db.h"

/* A page of products ordered by code, each with its domains and versions
 * (newest first). *items is a new array (caller owns it). */
dadm_err tenant_product_list(db *d, arena *a, long limit, long offset, json_t **items, long *total);

#endif
