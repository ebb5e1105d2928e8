/* A fixed pool of database connections, one per worker thread: a worker
 * takes one for the length of a request and gives it back. */
#ifndef DADM_POOL_H
#define DADM_POOL_H

#include "db.h"

typedef struct pool pool;

/* `n` handles on `conninfo`, not yet connected. NULL when out of memory. */
pool *pool_new(unsigned n, const char *conninfo);
/* Frees every handle; none may be taken. Accepts NULL. */
void pool_free(pool *p);
/* Takes a handle, waiting while all are in use. Never NULL. */
db *pool_take(pool *p);
/* Gives a handle back; rolls back any transaction left open. */
void pool_give(pool *p, db *d);

#endif
