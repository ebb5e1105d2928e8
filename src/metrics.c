#include "metrics.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"

#define STATUS_MIN  100
#define STATUS_SPAN 500
static const double buckets[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                 0.25,  0.5,    1,     2.5,  5,     10};
#define NBUCKETS (sizeof(buckets) / sizeof(buckets[0]))

struct route_metrics {
    atomic_ulong by_status[STATUS_SPAN];
    atomic_ulong le[NBUCKETS + 1]; /* last: +Inf */
    atomic_ullong sum_us;
};

static const char *const *route_names;
static size_t nroutes;
static struct route_metrics *routes;
static atomic_uint pool_in_use, pool_size;

int metrics_init(const char *const *names, size_t n)
{
    routes = calloc(n + 1, sizeof(*routes));
    if (!routes)
        return -1;
    route_names = names;
    nroutes = n;
    return 0;
}

void metrics_shutdown(void)
{
    free(routes);
    routes = NULL;
}

void metrics_observe(size_t route, unsigned status, double seconds)
{
    if (!routes)
        return;
    struct route_metrics *m = &routes[route < nroutes ? route : nroutes];
    if (status >= STATUS_MIN && status < STATUS_MIN + STATUS_SPAN)
        atomic_fetch_add(&m->by_status[status - STATUS_MIN], 1);
    size_t b = 0;
    while (b < NBUCKETS && seconds > buckets[b])
        b++;
    atomic_fetch_add(&m->le[b], 1);
    atomic_fetch_add(&m->sum_us, (unsigned long long)(seconds * 1e6));
}

void metrics_pool(unsigned in_use, unsigned size)
{
    atomic_store(&pool_in_use, in_use);
    atomic_store(&pool_size, size);
}

/* A growing text buffer inside the arena. */
struct out {
    arena *a;
    char *buf;
    size_t len, cap;
    int failed;
};

__attribute__((format(printf, 2, 3))) static void put(struct out *o, const char *fmt, ...)
{
    if (o->failed)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            o->failed = 1;
            return;
        }
        if (o->len + (size_t)n < o->cap) {
            o->len += (size_t)n;
            return;
        }
        size_t cap = (o->cap + (size_t)n) * 2;
        char *nb = arena_alloc(o->a, cap);
        if (!nb) {
            o->failed = 1;
            return;
        }
        memcpy(nb, o->buf, o->len);
        o->buf = nb;
        o->cap = cap;
    }
}

char *metrics_render(arena *a)
{
    struct out o = {.a = a, .cap = 16384};
    o.buf = arena_alloc(a, o.cap);
    if (!o.buf || !routes)
        return NULL;
    put(&o, "# HELP dadm_http_requests_total HTTP requests by route and status.\n"
            "# TYPE dadm_http_requests_total counter\n");
    for (size_t r = 0; r <= nroutes; r++)
        for (unsigned s = 0; s < STATUS_SPAN; s++) {
            unsigned long v = atomic_load(&routes[r].by_status[s]);
            if (v)
                put(&o, "dadm_http_requests_total{route=\"%s\",status=\"%u\"} %lu\n",
                    r < nroutes ? route_names[r] : "unmatched", s + STATUS_MIN, v);
        }
    put(&o, "# HELP dadm_http_request_duration_seconds Time to answer a request.\n"
            "# TYPE dadm_http_request_duration_seconds histogram\n");
    for (size_t r = 0; r <= nroutes; r++) {
        const char *name = r < nroutes ? route_names[r] : "unmatched";
        unsigned long cum = 0;
        for (size_t b = 0; b < NBUCKETS; b++) {
            cum += atomic_load(&routes[r].le[b]);
            put(&o, "dadm_http_request_duration_seconds_bucket{route=\"%s\",le=\"%g\"} %lu\n", name,
                buckets[b], cum);
        }
        cum += atomic_load(&routes[r].le[NBUCKETS]);
        put(&o, "dadm_http_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} %lu\n", name,
            cum);
        put(&o, "dadm_http_request_duration_seconds_sum{route=\"%s\"} %.6f\n", name,
            (double)atomic_load(&routes[r].sum_us) / 1e6);
        put(&o, "dadm_http_request_duration_seconds_count{route=\"%s\"} %lu\n", name, cum);
    }
    put(&o,
        "# HELP dadm_db_errors_total Failed database statements and connections.\n"
        "# TYPE dadm_db_errors_total counter\n"
        "dadm_db_errors_total %lu\n"
        "# HELP dadm_db_pool_in_use Database connections serving a request.\n"
        "# TYPE dadm_db_pool_in_use gauge\n"
        "dadm_db_pool_in_use %u\n"
        "# HELP dadm_db_pool_size Database connections in the pool.\n"
        "# TYPE dadm_db_pool_size gauge\n"
        "dadm_db_pool_size %u\n",
        db_error_count(), atomic_load(&pool_in_use), atomic_load(&pool_size));
    return o.failed ? NULL : o.buf;
}
