/* multipart/form-data (RFC 7578 over RFC 2046), parsed in place.
 *
 * The parser never copies a part's content: a part points into the body it
 * was given, which must outlive it. Header values it needs (the field name,
 * the file name, the part's Content-Type) are decoded into fixed buffers of
 * the part; anything longer is refused, as is a part's header block over
 * MULTIPART_MAX_HEADER bytes or more than the caller's number of parts. */
#ifndef DADM_MULTIPART_H
#define DADM_MULTIPART_H

#include <stdbool.h>
#include <stddef.h>

#define MULTIPART_MAX_BOUNDARY 70 /* RFC 2046 */
#define MULTIPART_MAX_HEADER   8192
#define MULTIPART_MAX_NAME     128
#define MULTIPART_MAX_FILENAME 1024
#define MULTIPART_MAX_TYPE     256

typedef enum {
    MULTIPART_OK = 0,
    MULTIPART_E_NOT_MULTIPART, /* Content-Type is not multipart/form-data */
    MULTIPART_E_BOUNDARY,      /* no boundary parameter, or an invalid one */
    MULTIPART_E_SYNTAX,        /* no opening delimiter, bad header line, bad parameter */
    MULTIPART_E_UNTERMINATED,  /* the closing delimiter "--boundary--" is missing */
    MULTIPART_E_HEADER_SIZE,   /* a part's header block, or a value, is too long */
    MULTIPART_E_TOO_MANY,      /* more parts than the caller accepts */
} multipart_status;

typedef struct {
    char name[MULTIPART_MAX_NAME + 1];         /* form field name ("" when none) */
    char filename[MULTIPART_MAX_FILENAME + 1]; /* as sent, unsanitised */
    bool has_filename;                         /* a filename parameter was present */
    char content_type[MULTIPART_MAX_TYPE + 1]; /* declared type ("" when none) */
    const char *data;                          /* into the body */
    size_t len;
} multipart_part;

/* Copies the boundary parameter of a `multipart/form-data` Content-Type
 * value (token or quoted string, 1 to 70 characters) into `out`.
 * MULTIPART_E_NOT_MULTIPART when the media type differs,
 * MULTIPART_E_BOUNDARY when the parameter is missing or invalid. */
multipart_status multipart_boundary(const char *content_type, char out[MULTIPART_MAX_BOUNDARY + 1]);

/* Splits `body` (len bytes, not necessarily NUL-terminated) into at most
 * max_parts parts; *n_parts receives their number. A preamble and an
 * epilogue are ignored. Parts may be empty (len 0). On an error the parts
 * written so far stay valid but incomplete. */
multipart_status multipart_parse(const char *body, size_t len, const char *boundary,
                                 multipart_part *parts, size_t max_parts, size_t *n_parts);

/* The first part whose field name is `name`, or NULL. */
const multipart_part *multipart_find(const multipart_part *parts, size_t n, const char *name);

/* Short English name of a status, for logs. */
const char *multipart_status_name(multipart_status s);

#endif
