#include "attach_name.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

/* Decodes one UTF-8 sequence at s[0..n); returns its length, or 0 when it
 * is not valid (the caller then drops one byte). */
static size_t utf8_next(const unsigned char *s, size_t n, uint32_t *cp)
{
    unsigned char c = s[0];
    size_t len;
    uint32_t v, min;
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xC2 && c <= 0xDF)
        len = 2, v = c & 0x1F, min = 0x80;
    else if (c >= 0xE0 && c <= 0xEF)
        len = 3, v = c & 0x0F, min = 0x800;
    else if (c >= 0xF0 && c <= 0xF4)
        len = 4, v = c & 0x07, min = 0x10000;
    else
        return 0;
    if (n < len)
        return 0;
    for (size_t k = 1; k < len; k++) {
        if ((s[k] & 0xC0) != 0x80)
            return 0;
        v = v << 6 | (s[k] & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
        return 0;
    *cp = v;
    return len;
}

/* Characters a name loses: controls (C0, DEL, C1), quotes and the
 * characters Windows forbids or shells interpret, and the invisible ones
 * that disguise an extension (bidirectional overrides, zero widths, BOM,
 * line and paragraph separators). */
static bool dropped(uint32_t c)
{
    if (c < 0x20 || (c >= 0x7F && c <= 0x9F))
        return true;
    if (c < 0x80 && strchr("\"'`<>:*?|;$", (int)c))
        return true;
    return (c >= 0x200B && c <= 0x200F) || (c >= 0x202A && c <= 0x202E) ||
           (c >= 0x2066 && c <= 0x2069) || c == 0x2028 || c == 0x2029 || c == 0xFEFF;
}

static bool trim_char(char c)
{
    return c == ' ' || c == '.' || c == '\t';
}

/* Length of the longest prefix of s[0..n) that is at most max bytes and
 * does not split a UTF-8 sequence (s is valid UTF-8). */
static size_t utf8_cut(const char *s, size_t n, size_t max)
{
    if (n <= max)
        return n;
    size_t k = max;
    while (k > 0 && ((unsigned char)s[k] & 0xC0) == 0x80)
        k--;
    return k;
}

void attach_name_sanitise(const char *in, const char *const *exts, char out[ATTACH_NAME_MAX + 1])
{
    /* The cleaned name before the length limit (a longer input loses its end). */
    char clean[4096];
    size_t cn = 0;
    if (in) {
        const char *last = in;
        for (const char *p = in; *p; p++)
            if (*p == '/' || *p == '\\')
                last = p + 1;
        const unsigned char *s = (const unsigned char *)last;
        size_t n = strlen(last);
        for (size_t i = 0; i < n;) {
            uint32_t cp;
            size_t len = utf8_next(s + i, n - i, &cp);
            if (len == 0) {
                i++;
                continue;
            }
            if (!dropped(cp) && cn + len < sizeof(clean)) {
                memcpy(clean + cn, s + i, len);
                cn += len;
            }
            i += len;
        }
    }
    /* No leading dot (hidden files, "..") nor trailing dot or space. */
    size_t b = 0;
    while (b < cn && trim_char(clean[b]))
        b++;
    while (cn > b && trim_char(clean[cn - 1]))
        cn--;
    const char *name = clean + b;
    size_t nlen = cn - b;

    /* The name's extension: after the last dot, ASCII letters and digits. */
    const char *dot = nlen ? memrchr(name, '.', nlen) : NULL;
    char ext[16] = "";
    if (dot) {
        size_t elen = nlen - (size_t)(dot + 1 - name);
        bool ok = elen > 0 && elen < sizeof(ext);
        for (size_t i = 0; ok && i < elen; i++) {
            char c = dot[1 + i];
            ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
        }
        if (ok) {
            memcpy(ext, dot + 1, elen);
            ext[elen] = '\0';
        }
    }
    const char *add = NULL; /* extension to append */
    size_t base_len = nlen; /* what stays of the name before the extension */
    if (exts && exts[0]) {
        bool suits = false;
        for (size_t i = 0; ext[0] && exts[i]; i++)
            suits = suits || strcasecmp(ext, exts[i]) == 0;
        if (suits)
            base_len = (size_t)(dot - name);
        else
            add = exts[0];
    } else if (ext[0]) {
        base_len = (size_t)(dot - name);
    }
    const char *keep_ext = add ? add : (base_len < nlen ? name + base_len + 1 : NULL);
    size_t kelen = keep_ext ? strlen(add ? add : ext) : 0;
    size_t room = ATTACH_NAME_MAX - (keep_ext ? kelen + 1 : 0);
    base_len = utf8_cut(name, base_len, room);
    while (base_len > 0 && trim_char(name[base_len - 1]))
        base_len--;
    size_t o = 0;
    if (base_len == 0) {
        memcpy(out, ATTACH_NAME_FALLBACK, sizeof(ATTACH_NAME_FALLBACK));
        o = sizeof(ATTACH_NAME_FALLBACK) - 1;
    } else {
        memcpy(out, name, base_len);
        o = base_len;
    }
    if (keep_ext) {
        out[o++] = '.';
        memcpy(out + o, keep_ext, kelen);
        o += kelen;
    }
    out[o] = '\0';
}
