#include "router.h"

#include <string.h>

/* Does `path` match `pattern`? Fills caps on success. */
static int path_matches(const char *pattern, const char *path, size_t caps[][2])
{
    size_t ncap = 0;
    const char *p = pattern, *s = path;
    while (*p && *s) {
        if (*p != '/' || *s != '/')
            return 0;
        p++;
        s++;
        const char *pend = strchr(p, '/');
        const char *send = strchr(s, '/');
        size_t plen = pend ? (size_t)(pend - p) : strlen(p);
        size_t slen = send ? (size_t)(send - s) : strlen(s);
        if (plen >= 2 && p[0] == '{' && p[plen - 1] == '}') {
            if (slen == 0 || ncap >= ROUTER_MAX_CAPTURES)
                return 0;
            caps[ncap][0] = (size_t)(s - path);
            caps[ncap][1] = slen;
            ncap++;
        } else if (plen != slen || memcmp(p, s, plen) != 0) {
            return 0;
        }
        p += plen;
        s += slen;
    }
    return *p == '\0' && *s == '\0';
}

int router_match(const void *entries, size_t n, size_t stride, const char *method, const char *path,
                 size_t caps[ROUTER_MAX_CAPTURES][2], char *allow, size_t allow_len)
{
    int result = ROUTER_NOT_FOUND;
    size_t used = 0;
    if (allow_len)
        allow[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        const router_entry *e = (const router_entry *)((const char *)entries + i * stride);
        size_t tmp[ROUTER_MAX_CAPTURES][2] = {{0}};
        if (!path_matches(e->pattern, path, tmp))
            continue;
        if (strcmp(e->method, method) == 0) {
            memcpy(caps, tmp, sizeof(tmp));
            return (int)i;
        }
        result = ROUTER_BAD_METHOD;
        size_t mlen = strlen(e->method);
        if (used + mlen + 3 < allow_len) {
            if (used) {
                memcpy(allow + used, ", ", 2);
                used += 2;
            }
            memcpy(allow + used, e->method, mlen);
            used += mlen;
            allow[used] = '\0';
        }
    }
    return result;
}
