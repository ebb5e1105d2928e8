/* Route matching: a fixed table of method + pattern, where a `{name}`
 * segment captures one non-empty path segment. */
#ifndef DADM_ROUTER_H
#define DADM_ROUTER_H

#include <stddef.h>

#define ROUTER_MAX_CAPTURES 4
#define ROUTER_NOT_FOUND    (-1)
#define ROUTER_BAD_METHOD   (-2)

typedef struct {
    const char *method;  /* "GET", "POST", … */
    const char *pattern; /* "/api/v1/etabs/{id}" */
} router_entry;

/* Finds the entry matching method and path among `n` entries spaced
 * `stride` bytes apart (so callers can embed router_entry first in a bigger
 * struct). Returns its index, ROUTER_NOT_FOUND, or ROUTER_BAD_METHOD when
 * the path exists for other methods, whose names are then written to
 * `allow` ("GET, POST"). Captures are written to caps[i] as (start, length)
 * pairs into `path`; unused captures are (0, 0). */
int router_match(const void *entries, size_t n, size_t stride, const char *method, const char *path,
                 size_t caps[ROUTER_MAX_CAPTURES][2], char *allow, size_t allow_len);

#endif
