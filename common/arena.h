/* Per-request memory: a bump allocator with a byte cap, plus a list of
 * cleanups (PGresult, json_t, library objects) run in reverse order when the
 * arena is freed. Everything a request allocates dies with its arena. */
#ifndef DADM_COMMON_ARENA_H
#define DADM_COMMON_ARENA_H

#include <stdarg.h>
#include <stddef.h>

typedef struct arena arena;

/* New arena that refuses to hold more than `cap` bytes (0: no cap).
 * Returns NULL when out of memory. */
arena *arena_new(size_t cap);
/* Runs the cleanups (last registered first) and releases every block.
 * Accepts NULL. */
void arena_free(arena *a);

/* Zeroed memory owned by the arena, aligned for any type; NULL when the cap
 * would be exceeded or memory is short. */
__attribute__((warn_unused_result)) void *arena_alloc(arena *a, size_t n);
__attribute__((warn_unused_result)) char *arena_strdup(arena *a, const char *s);
__attribute__((warn_unused_result)) char *arena_strndup(arena *a, const char *s, size_t n);
__attribute__((warn_unused_result, format(printf, 2, 3))) char *arena_printf(arena *a,
                                                                             const char *fmt, ...);

/* Registers fn(obj) to run when the arena is freed; the arena takes
 * ownership of obj. If registration fails, fn(obj) runs at once and -1 is
 * returned, so the caller never leaks obj. */
int arena_defer(arena *a, void (*fn)(void *), void *obj);

/* Bytes handed out so far (for tests and metrics). */
size_t arena_used(const arena *a);

#endif
