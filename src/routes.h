/* The route table: every URL the daemon answers, its handler, and whether
 * it runs in a transaction with the caller's principal. */
#ifndef DADM_ROUTES_H
#define DADM_ROUTES_H

#include <stddef.h>

#include "http.h"
#include "router.h"

typedef struct {
    router_entry e; /* first: router_match reads it */
    http_handler fn;
    unsigned flags;
} route;

extern const route routes_table[];
extern const size_t routes_count;

#endif
