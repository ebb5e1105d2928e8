/* Prometheus metrics kept in process: requests by route and status, a
 * latency histogram per route, database errors, connection pool use. */
#ifndef DADM_METRICS_H
#define DADM_METRICS_H

#include <stddef.h>

#include "arena.h"

/* `names` has n route names; the route index n is "unmatched". Call once
 * before serving. Returns -1 when out of memory. */
int metrics_init(const char *const *names, size_t n);
void metrics_shutdown(void);

/* Records one finished request. */
void metrics_observe(size_t route, unsigned status, double seconds);
/* Connection pool gauges. */
void metrics_pool(unsigned in_use, unsigned size);

/* The exposition text, owned by `a`; NULL when out of memory. */
char *metrics_render(arena *a);

#endif
