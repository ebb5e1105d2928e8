#include "arena.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARENA_BLOCK 8192
#define ARENA_ALIGN 16

struct block {
    struct block *next;
    size_t size, used;
    _Alignas(max_align_t) unsigned char data[];
};

struct cleanup {
    struct cleanup *next;
    void (*fn)(void *);
    void *obj;
};

struct arena {
    struct block *head;
    struct cleanup *cleanups;
    size_t cap, used;
};

arena *arena_new(size_t cap)
{
    arena *a = calloc(1, sizeof(*a));
    if (a)
        a->cap = cap;
    return a;
}

void arena_free(arena *a)
{
    if (!a)
        return;
    /* Cleanups are a stack: objects registered later may refer to earlier ones. */
    for (struct cleanup *c = a->cleanups; c;) {
        struct cleanup *next = c->next;
        c->fn(c->obj);
        free(c);
        c = next;
    }
    for (struct block *b = a->head; b;) {
        struct block *next = b->next;
        free(b);
        b = next;
    }
    free(a);
}

void *arena_alloc(arena *a, size_t n)
{
    if (!a)
        return NULL;
    size_t need = (n + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    if (need < n || (a->cap && (need > a->cap || a->used > a->cap - need)))
        return NULL;
    struct block *b = a->head;
    if (!b || b->size - b->used < need) {
        size_t size = need > ARENA_BLOCK ? need : ARENA_BLOCK;
        b = malloc(sizeof(*b) + size);
        if (!b)
            return NULL;
        b->size = size;
        b->used = 0;
        /* A big block goes behind the head so the head's free space stays usable. */
        if (a->head && need > ARENA_BLOCK) {
            b->next = a->head->next;
            a->head->next = b;
        } else {
            b->next = a->head;
            a->head = b;
        }
    }
    void *p = b->data + b->used;
    b->used += need;
    a->used += need;
    memset(p, 0, n);
    return p;
}

char *arena_strndup(arena *a, const char *s, size_t n)
{
    if (!s)
        return NULL;
    char *p = arena_alloc(a, n + 1);
    if (p)
        memcpy(p, s, n);
    return p;
}

char *arena_strdup(arena *a, const char *s)
{
    return s ? arena_strndup(a, s, strlen(s)) : NULL;
}

char *arena_printf(arena *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return NULL;
    char *p = arena_alloc(a, (size_t)n + 1);
    if (!p)
        return NULL;
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}

int arena_defer(arena *a, void (*fn)(void *), void *obj)
{
    if (!fn)
        return -1;
    /* Cleanup records are malloc'ed, not arena memory, so that registering a
     * cleanup still works when the arena has reached its cap. */
    struct cleanup *c = a ? malloc(sizeof(*c)) : NULL;
    if (!c) {
        if (obj)
            fn(obj);
        return -1;
    }
    c->fn = fn;
    c->obj = obj;
    c->next = a->cleanups;
    a->cleanups = c;
    return 0;
}

size_t arena_used(const arena *a)
{
    return a ? a->used : 0;
}
