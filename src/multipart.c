#include "multipart.h"

#include <string.h>
#include <strings.h>

static bool is_tchar(unsigned char c)
{
    /* RFC 9110 token characters */
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

static const char *skip_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    return p;
}

/* Reads one `; key=value` parameter from [*pp, end): the key (lower-cased)
 * into key[keycap], the value (a token or a quoted string, unescaped) into
 * val[valcap]. Returns MULTIPART_OK with *pp past it, MULTIPART_E_SYNTAX on
 * malformed text, MULTIPART_E_HEADER_SIZE when a value does not fit. Sets
 * key[0] to 0 at the end of the list. */
static multipart_status next_param(const char **pp, const char *end, char *key, size_t keycap,
                                   char *val, size_t valcap)
{
    const char *p = skip_ws(*pp, end);
    key[0] = val[0] = '\0';
    if (p == end) {
        *pp = p;
        return MULTIPART_OK;
    }
    if (*p != ';')
        return MULTIPART_E_SYNTAX;
    p = skip_ws(p + 1, end);
    if (p == end) { /* a trailing ';' is tolerated */
        *pp = p;
        return MULTIPART_OK;
    }
    size_t k = 0;
    while (p < end && is_tchar((unsigned char)*p)) {
        if (k + 1 >= keycap)
            return MULTIPART_E_HEADER_SIZE;
        char c = *p++;
        key[k++] = (char)((c >= 'A' && c <= 'Z') ? c + 32 : c);
    }
    key[k] = '\0';
    p = skip_ws(p, end);
    if (k == 0 || p == end || *p != '=')
        return MULTIPART_E_SYNTAX;
    p = skip_ws(p + 1, end);
    size_t v = 0;
    if (p < end && *p == '"') {
        p++;
        for (;;) {
            if (p == end)
                return MULTIPART_E_SYNTAX; /* unterminated quoted string */
            char c = *p++;
            if (c == '"')
                break;
            if (c == '\\') {
                if (p == end)
                    return MULTIPART_E_SYNTAX;
                c = *p++;
            }
            if (v + 1 >= valcap)
                return MULTIPART_E_HEADER_SIZE;
            val[v++] = c;
        }
    } else {
        while (p < end && is_tchar((unsigned char)*p)) {
            if (v + 1 >= valcap)
                return MULTIPART_E_HEADER_SIZE;
            val[v++] = *p++;
        }
        if (v == 0)
            return MULTIPART_E_SYNTAX;
    }
    val[v] = '\0';
    *pp = p;
    return MULTIPART_OK;
}

/* Does [p, end) start with `word` (case-insensitive) followed by the end,
 * white space or ';'? Sets *after past it. */
static bool starts_with_type(const char *p, const char *end, const char *word, const char **after)
{
    size_t n = strlen(word);
    if ((size_t)(end - p) < n || strncasecmp(p, word, n) != 0)
        return false;
    p += n;
    if (p < end && *p != ';' && *p != ' ' && *p != '\t')
        return false;
    *after = p;
    return true;
}

static bool boundary_valid(const char *b)
{
    size_t n = strlen(b);
    if (n == 0 || n > MULTIPART_MAX_BOUNDARY || b[n - 1] == ' ')
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)b[i];
        bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                  strchr("'()+_,-./:=? ", c);
        if (!ok)
            return false;
    }
    return true;
}

multipart_status multipart_boundary(const char *content_type, char out[MULTIPART_MAX_BOUNDARY + 1])
{
    out[0] = '\0';
    if (!content_type)
        return MULTIPART_E_NOT_MULTIPART;
    const char *end = content_type + strlen(content_type);
    const char *p = skip_ws(content_type, end);
    if (!starts_with_type(p, end, "multipart/form-data", &p))
        return MULTIPART_E_NOT_MULTIPART;
    char key[32], val[MULTIPART_MAX_BOUNDARY + 2];
    bool found = false;
    for (;;) {
        multipart_status s = next_param(&p, end, key, sizeof(key), val, sizeof(val));
        if (s != MULTIPART_OK)
            return MULTIPART_E_BOUNDARY;
        if (!key[0])
            break;
        if (strcmp(key, "boundary") == 0 && !found) {
            if (!boundary_valid(val))
                return MULTIPART_E_BOUNDARY;
            memcpy(out, val, strlen(val) + 1);
            found = true;
        }
    }
    return found ? MULTIPART_OK : MULTIPART_E_BOUNDARY;
}

/* Copies [p, end) trimmed into out[cap]; false when it does not fit. */
static bool copy_trimmed(const char *p, const char *end, char *out, size_t cap)
{
    p = skip_ws(p, end);
    while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    size_t n = (size_t)(end - p);
    if (n + 1 > cap)
        return false;
    memcpy(out, p, n);
    out[n] = '\0';
    return true;
}

static multipart_status parse_disposition(const char *p, const char *end, multipart_part *part)
{
    p = skip_ws(p, end);
    if (!starts_with_type(p, end, "form-data", &p))
        return MULTIPART_E_SYNTAX;
    char key[32], val[MULTIPART_MAX_FILENAME + 1];
    bool have_name = false;
    for (;;) {
        multipart_status s = next_param(&p, end, key, sizeof(key), val, sizeof(val));
        if (s != MULTIPART_OK)
            return s;
        if (!key[0])
            break;
        if (strcmp(key, "name") == 0 && !have_name) {
            size_t n = strlen(val);
            if (n > MULTIPART_MAX_NAME)
                return MULTIPART_E_HEADER_SIZE;
            memcpy(part->name, val, n + 1);
            have_name = true;
        } else if (strcmp(key, "filename") == 0 && !part->has_filename) {
            memcpy(part->filename, val, strlen(val) + 1);
            part->has_filename = true;
        }
        /* filename* (RFC 5987) is not for multipart/form-data (RFC 7578
         * §4.2); other parameters are ignored. */
    }
    return MULTIPART_OK;
}

/* Parses the header lines of one part in [h, hend) (CRLF-separated). */
static multipart_status parse_headers(const char *h, const char *hend, multipart_part *part)
{
    while (h < hend) {
        const char *eol = memmem(h, (size_t)(hend - h), "\r\n", 2);
        if (!eol)
            eol = hend;
        if (memchr(h, '\0', (size_t)(eol - h)) || *h == ' ' || *h == '\t')
            return MULTIPART_E_SYNTAX; /* NUL, or obsolete line folding */
        const char *colon = memchr(h, ':', (size_t)(eol - h));
        if (!colon || colon == h)
            return MULTIPART_E_SYNTAX;
        for (const char *c = h; c < colon; c++)
            if (!is_tchar((unsigned char)*c))
                return MULTIPART_E_SYNTAX;
        size_t nlen = (size_t)(colon - h);
        if (nlen == 19 && strncasecmp(h, "Content-Disposition", 19) == 0) {
            multipart_status s = parse_disposition(colon + 1, eol, part);
            if (s != MULTIPART_OK)
                return s;
        } else if (nlen == 12 && strncasecmp(h, "Content-Type", 12) == 0) {
            if (!copy_trimmed(colon + 1, eol, part->content_type, sizeof(part->content_type)))
                return MULTIPART_E_HEADER_SIZE;
        }
        h = eol == hend ? hend : eol + 2;
    }
    return MULTIPART_OK;
}

multipart_status multipart_parse(const char *body, size_t len, const char *boundary,
                                 multipart_part *parts, size_t max_parts, size_t *n_parts)
{
    *n_parts = 0;
    size_t blen = boundary ? strlen(boundary) : 0;
    if (blen == 0 || blen > MULTIPART_MAX_BOUNDARY)
        return MULTIPART_E_BOUNDARY;
    /* CRLF "--" boundary: the delimiter; the first one may lack the CRLF. */
    char delim[MULTIPART_MAX_BOUNDARY + 5];
    memcpy(delim, "\r\n--", 4);
    memcpy(delim + 4, boundary, blen);
    size_t dlen = blen + 4;

    size_t p; /* index of the "--" of the current delimiter */
    if (len >= dlen - 2 && memcmp(body, delim + 2, dlen - 2) == 0) {
        p = 0;
    } else {
        const char *d = len ? memmem(body, len, delim, dlen) : NULL;
        if (!d)
            return MULTIPART_E_SYNTAX;
        p = (size_t)(d - body) + 2;
    }
    for (;;) {
        size_t q = p + dlen - 2;
        if (q + 2 <= len && body[q] == '-' && body[q + 1] == '-')
            return MULTIPART_OK; /* closing delimiter; the epilogue is ignored */
        while (q < len && (body[q] == ' ' || body[q] == '\t'))
            q++;
        if (q + 2 > len)
            return MULTIPART_E_UNTERMINATED;
        if (body[q] != '\r' || body[q + 1] != '\n')
            return MULTIPART_E_SYNTAX;
        size_t h = q + 2, hend, c;
        if (h + 2 <= len && body[h] == '\r' && body[h + 1] == '\n') {
            hend = h; /* a part with no header at all */
            c = h + 2;
        } else {
            size_t window = len - h;
            if (window > MULTIPART_MAX_HEADER + 4)
                window = MULTIPART_MAX_HEADER + 4;
            const char *e = memmem(body + h, window, "\r\n\r\n", 4);
            if (!e)
                return len - h > MULTIPART_MAX_HEADER ? MULTIPART_E_HEADER_SIZE
                                                      : MULTIPART_E_UNTERMINATED;
            hend = (size_t)(e - body);
            if (hend - h > MULTIPART_MAX_HEADER)
                return MULTIPART_E_HEADER_SIZE;
            c = hend + 4;
        }
        if (*n_parts == max_parts)
            return MULTIPART_E_TOO_MANY;
        multipart_part *part = &parts[*n_parts];
        memset(part, 0, sizeof(*part));
        multipart_status s = parse_headers(body + h, body + hend, part);
        if (s != MULTIPART_OK)
            return s;
        const char *next = c <= len ? memmem(body + c, len - c, delim, dlen) : NULL;
        if (!next)
            return MULTIPART_E_UNTERMINATED;
        part->data = body + c;
        part->len = (size_t)(next - body) - c;
        (*n_parts)++;
        p = (size_t)(next - body) + 2;
    }
}

const multipart_part *multipart_find(const multipart_part *parts, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(parts[i].name, name) == 0)
            return &parts[i];
    return NULL;
}

const char *multipart_status_name(multipart_status s)
{
    switch (s) {
    case MULTIPART_OK:
        return "ok";
    case MULTIPART_E_NOT_MULTIPART:
        return "not_multipart";
    case MULTIPART_E_BOUNDARY:
        return "bad_boundary";
    case MULTIPART_E_SYNTAX:
        return "syntax";
    case MULTIPART_E_UNTERMINATED:
        return "unterminated";
    case MULTIPART_E_HEADER_SIZE:
        return "header_too_large";
    case MULTIPART_E_TOO_MANY:
        return "too_many_parts";
    }
    return "unknown";
}
