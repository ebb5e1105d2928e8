/* The name an attachment is stored and offered under, made from the name a
 * client sent: last path component only, no control, quote or other
 * character that troubles shells, file systems or headers, at most
 * ATTACH_NAME_MAX bytes of valid UTF-8, an extension that suits the type
 * the content was found to be. */
#ifndef DADM_ATTACH_NAME_H
#define DADM_ATTACH_NAME_H

#include <stddef.h>

#define ATTACH_NAME_MAX      200
#define ATTACH_NAME_FALLBACK "piece-jointe"

/* Writes the sanitised form of `in` (may be NULL, any bytes) to `out`.
 * `exts` is the NULL-terminated list of extensions suiting the content, the
 * usual one first (sniff_result.exts); when the name's extension is not in
 * it, the usual one is appended ("photo.exe" → "photo.exe.png"). NULL or an
 * empty list keeps the extension as it is. Never fails: an empty result
 * becomes ATTACH_NAME_FALLBACK plus the extension. */
void attach_name_sanitise(const char *in, const char *const *exts, char out[ATTACH_NAME_MAX + 1]);

#endif
