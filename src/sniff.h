/* The type of an uploaded file, told from its bytes only (magic numbers,
 * ZIP directory, UTF-8 text). What the client declares is never trusted.
 *
 * Accepted: PNG, JPEG, GIF, WebP, PDF, ZIP (and the OOXML and ODF office
 * documents it carries), gzip, and UTF-8 text (plain, CSV, logs).
 * Refused: executables (PE "MZ", ELF, Mach-O, "#!" scripts), text that
 * looks like HTML, SVG, XML or script, and every other binary. */
#ifndef DADM_SNIFF_H
#define DADM_SNIFF_H

#include <stdbool.h>
#include <stddef.h>

typedef enum {
    SNIFF_ACCEPTED = 0,
    SNIFF_EXECUTABLE, /* a program or a script */
    SNIFF_MARKUP,     /* HTML, SVG, XML or script-looking text */
    SNIFF_UNKNOWN,    /* a binary of no accepted type (or no byte at all) */
} sniff_verdict;

typedef struct {
    sniff_verdict verdict;
    const char *mime; /* static, set when accepted ("image/png"), else NULL */
    /* static NULL-terminated list of the file name extensions that suit the
     * type, the usual one first; NULL unless accepted */
    const char *const *exts;
} sniff_result;

/* Tells the type of the n bytes at `data`. `filename` (may be NULL) only
 * chooses text/csv over text/plain for text that is named "….csv"; it
 * never makes a refused content acceptable. */
sniff_result sniff_detect(const unsigned char *data, size_t n, const char *filename);

/* True when the n bytes are valid UTF-8 (no overlong form, no surrogate,
 * nothing above U+10FFFF). */
bool sniff_utf8_valid(const unsigned char *s, size_t n);

/* The accepted types, in French, for refusal messages. */
extern const char sniff_accepted_fr[];

#endif
