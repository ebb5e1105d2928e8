/* Small helpers over the system and GLib: random tokens, hex, hashing,
 * constant-time comparison, integer parsing. */
#ifndef DADM_COMMON_UTIL_H
#define DADM_COMMON_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Fills buf with n bytes from the kernel's CSPRNG; false on failure. */
bool util_random(void *buf, size_t n);
/* Writes 2n+1 bytes (lower-case hex and NUL) to out. */
void util_hex(char *out, const void *in, size_t n);
/* Writes the SHA-256 of data (32 bytes) to out. */
void util_sha256(unsigned char out[32], const void *data, size_t n);
/* Writes the SHA-256 of data as 65 bytes of hex + NUL to out. */
void util_sha256_hex(char out[65], const void *data, size_t n);
/* Constant-time equality of two buffers of the same length n. */
bool util_ct_equal(const void *a, const void *b, size_t n);
/* Strict decimal int64 parse: digits only (optional leading '-'), no
 * overflow; false when s is not such a number. */
bool util_parse_i64(const char *s, int64_t *out);
/* A product version label as dadm.version keeps them: 1 to 31 characters,
 * ASCII letters, digits, '.', '_', '-', starting with a letter or digit. */
bool util_version_label_ok(const char *s);

#endif
