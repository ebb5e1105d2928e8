#include "pool.h"

#include <pthread.h>
#include <stdlib.h>

#include "metrics.h"

struct pool {
    pthread_mutex_t lock;
    pthread_cond_t freed;
    unsigned n, nfree;
    db **all, **free_list;
};

pool *pool_new(unsigned n, const char *conninfo)
{
    pool *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    p->all = calloc(n, sizeof(db *));
    p->free_list = calloc(n, sizeof(db *));
    if (!p->all || !p->free_list)
        goto fail;
    for (unsigned i = 0; i < n; i++) {
        p->all[i] = db_new(conninfo);
        if (!p->all[i])
            goto fail;
        p->n++;
        p->free_list[p->nfree++] = p->all[i];
    }
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->freed, NULL);
    metrics_pool(0, n);
    return p;
fail:
    for (unsigned i = 0; i < p->n; i++)
        db_free(p->all[i]);
    free(p->all);
    free(p->free_list);
    free(p);
    return NULL;
}

void pool_free(pool *p)
{
    if (!p)
        return;
    for (unsigned i = 0; i < p->n; i++)
        db_free(p->all[i]);
    free(p->all);
    free(p->free_list);
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->freed);
    free(p);
}

db *pool_take(pool *p)
{
    pthread_mutex_lock(&p->lock);
    while (p->nfree == 0)
        pthread_cond_wait(&p->freed, &p->lock);
    db *d = p->free_list[--p->nfree];
    metrics_pool(p->n - p->nfree, p->n);
    pthread_mutex_unlock(&p->lock);
    return d;
}

void pool_give(pool *p, db *d)
{
    db_rollback(d);
    pthread_mutex_lock(&p->lock);
    p->free_list[p->nfree++] = d;
    metrics_pool(p->n - p->nfree, p->n);
    pthread_cond_signal(&p->freed);
    pthread_mutex_unlock(&p->lock);
}
