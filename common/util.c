#include "util.h"

#include <errno.h>
#include <glib.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

bool util_random(void *buf, size_t n)
{
    unsigned char *p = buf;
    while (n > 0) {
        ssize_t got = getrandom(p, n, 0);
        if (got < 0) {
            if (errno == EINTR)
                continue;
            return false;
        }
        p += got;
        n -= (size_t)got;
    }
    return true;
}

void util_hex(char *out, const void *in, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    const unsigned char *p = in;
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * n] = '\0';
}

/* SHA-256 as OpenSSL's provider implements it (with the CPU's SHA
 * instructions where there are some: a directory listing hashes every entry,
 * and GLib's portable code took a sixth of the client's time), fetched
 * once. */
static const EVP_MD *sha256(void)
{
    static gsize md;
    if (g_once_init_enter(&md)) {
        EVP_MD *f = EVP_MD_fetch(NULL, "SHA256", NULL);
        g_once_init_leave(&md, f ? (gsize)f : (gsize)EVP_sha256());
    }
    return (const EVP_MD *)md;
}

void util_sha256(unsigned char out[32], const void *data, size_t n)
{
    if (!EVP_Digest(data, n, out, NULL, sha256(), NULL))
        abort(); /* no SHA-256: the library is broken, nothing can go on */
}

void util_sha256_hex(char out[65], const void *data, size_t n)
{
    unsigned char d[32];
    util_sha256(d, data, n);
    util_hex(out, d, sizeof(d));
}

bool util_ct_equal(const void *a, const void *b, size_t n)
{
    const volatile unsigned char *x = a, *y = b;
    unsigned char diff = 0;
    for (size_t i = 0; i < n; i++)
        diff |= x[i] ^ y[i];
    return diff == 0;
}

bool util_parse_i64(const char *s, int64_t *out)
{
    if (!s || !*s)
        return false;
    const char *p = s;
    if (*p == '-')
        p++;
    if (!*p)
        return false;
    for (const char *q = p; *q; q++)
        if (*q < '0' || *q > '9')
            return false;
    errno = 0;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (errno || *end)
        return false;
    *out = v;
    return true;
}

bool util_version_label_ok(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > 31 || !g_ascii_isalnum(s[0]))
        return false;
    for (size_t i = 1; i < n; i++)
        if (!g_ascii_isalnum(s[i]) && !strchr("._-", s[i]))
            return false;
    return true;
}
