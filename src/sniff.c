#include "sniff.h"

#include <stdint.h>
#include <string.h>
#include <strings.h>

const char sniff_accepted_fr[] =
    "images PNG, JPEG, GIF ou WebP, documents PDF, archives ZIP ou gzip, documents "
    "bureautiques (Office, OpenDocument), texte UTF-8 (texte, CSV, journaux)";

static const char *const ext_png[] = {"png", NULL};
static const char *const ext_jpeg[] = {"jpg", "jpeg", "jpe", NULL};
static const char *const ext_gif[] = {"gif", NULL};
static const char *const ext_webp[] = {"webp", NULL};
static const char *const ext_pdf[] = {"pdf", NULL};
static const char *const ext_zip[] = {"zip", NULL};
static const char *const ext_gz[] = {"gz", "tgz", NULL};
static const char *const ext_docx[] = {"docx", NULL};
static const char *const ext_xlsx[] = {"xlsx", NULL};
static const char *const ext_pptx[] = {"pptx", NULL};
static const char *const ext_odt[] = {"odt", NULL};
static const char *const ext_ods[] = {"ods", NULL};
static const char *const ext_odp[] = {"odp", NULL};
static const char *const ext_odg[] = {"odg", NULL};
static const char *const ext_text[] = {"txt",  "log", "csv", "tsv",  "text", "md",
                                       "json", "sql", "ini", "conf", "cfg",  "properties",
                                       "out",  "err", "trc", "lst",  "dat",  NULL};
static const char *const ext_csv[] = {"csv", "txt", NULL};

static sniff_result accepted(const char *mime, const char *const *exts)
{
    return (sniff_result){SNIFF_ACCEPTED, mime, exts};
}

static sniff_result refused(sniff_verdict v)
{
    return (sniff_result){v, NULL, NULL};
}

static bool starts(const unsigned char *d, size_t n, const void *magic, size_t m)
{
    return n >= m && memcmp(d, magic, m) == 0;
}

static unsigned le16(const unsigned char *p)
{
    return (unsigned)p[0] | (unsigned)p[1] << 8;
}

static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* An ODF package starts with a stored entry "mimetype" holding its type. */
static sniff_result zip_odf(const unsigned char *d, size_t n)
{
    static const struct {
        const char *mime;
        const char *const *exts;
    } odf[] = {
        {"application/vnd.oasis.opendocument.text", ext_odt},
        {"application/vnd.oasis.opendocument.spreadsheet", ext_ods},
        {"application/vnd.oasis.opendocument.presentation", ext_odp},
        {"application/vnd.oasis.opendocument.graphics", ext_odg},
    };
    unsigned method = le16(d + 8), nlen = le16(d + 26), elen = le16(d + 28);
    uint32_t csize = le32(d + 18);
    size_t at = 30 + (size_t)nlen + elen;
    if (method != 0 || at > n || csize > n - at)
        return accepted("application/zip", ext_zip);
    for (size_t i = 0; i < sizeof(odf) / sizeof(odf[0]); i++)
        if (strlen(odf[i].mime) == csize && memcmp(d + at, odf[i].mime, csize) == 0)
            return accepted(odf[i].mime, odf[i].exts);
    return accepted("application/zip", ext_zip);
}

/* OOXML: "[Content_Types].xml" plus a word/, xl/ or ppt/ folder, read from
 * the central directory (found through its end record). */
static sniff_result zip_ooxml(const unsigned char *d, size_t n)
{
    if (n < 22)
        return accepted("application/zip", ext_zip);
    size_t lo = n > 22 + 65535 ? n - 22 - 65535 : 0;
    size_t eocd = (size_t)-1;
    for (size_t i = n - 22 + 1; i-- > lo;)
        if (d[i] == 'P' && d[i + 1] == 'K' && d[i + 2] == 5 && d[i + 3] == 6) {
            eocd = i;
            break;
        }
    if (eocd == (size_t)-1)
        return accepted("application/zip", ext_zip);
    unsigned entries = le16(d + eocd + 10);
    size_t at = le32(d + eocd + 16);
    bool types = false, word = false, xl = false, ppt = false;
    for (unsigned i = 0; i < entries && at + 46 <= n; i++) {
        if (le32(d + at) != 0x02014b50u)
            break;
        size_t nlen = le16(d + at + 28), elen = le16(d + at + 30), clen = le16(d + at + 32);
        if (at + 46 + nlen > n)
            break;
        const char *name = (const char *)d + at + 46;
        if (nlen == 19 && memcmp(name, "[Content_Types].xml", 19) == 0)
            types = true;
        word = word || (nlen > 5 && memcmp(name, "word/", 5) == 0);
        xl = xl || (nlen > 3 && memcmp(name, "xl/", 3) == 0);
        ppt = ppt || (nlen > 4 && memcmp(name, "ppt/", 4) == 0);
        at += 46 + nlen + elen + clen;
    }
    if (types && word)
        return accepted("application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                        ext_docx);
    if (types && xl)
        return accepted("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                        ext_xlsx);
    if (types && ppt)
        return accepted("application/vnd.openxmlformats-officedocument.presentationml.presentation",
                        ext_pptx);
    return accepted("application/zip", ext_zip);
}

static sniff_result zip(const unsigned char *d, size_t n)
{
    if (n >= 30 + 8 && le16(d + 26) == 8 && memcmp(d + 30, "mimetype", 8) == 0)
        return zip_odf(d, n);
    return zip_ooxml(d, n);
}

bool sniff_utf8_valid(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t len;
        uint32_t cp, min;
        if (c >= 0xC2 && c <= 0xDF) {
            len = 2, cp = c & 0x1F, min = 0x80;
        } else if (c >= 0xE0 && c <= 0xEF) {
            len = 3, cp = c & 0x0F, min = 0x800;
        } else if (c >= 0xF0 && c <= 0xF4) {
            len = 4, cp = c & 0x07, min = 0x10000;
        } else {
            return false;
        }
        if (n - i < len)
            return false;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return false;
            cp = cp << 6 | (s[i + k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += len;
    }
    return true;
}

/* Markup or script a browser could render or run, looked for in the first
 * 64 KiB (case-insensitive). */
static bool looks_like_markup(const unsigned char *d, size_t n)
{
    static const char *const needles[] = {
        "<script", "<html",  "<svg",  "<!doctype", "<?xml",  "<iframe", "<body",
        "<object", "<embed", "<meta", "<head",     "<style", "<img",    "<a href",
    };
    size_t lim = n < 65536 ? n : 65536;
    for (size_t i = 0; i < lim; i++) {
        if (d[i] != '<')
            continue;
        for (size_t k = 0; k < sizeof(needles) / sizeof(needles[0]); k++) {
            size_t m = strlen(needles[k]);
            if (lim - i >= m && strncasecmp((const char *)d + i, needles[k], m) == 0)
                return true;
        }
    }
    return false;
}

static bool has_suffix_ci(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcasecmp(s + n - m, suffix) == 0;
}

static sniff_result text(const unsigned char *d, size_t n, const char *filename)
{
    const unsigned char *t = d;
    size_t tn = n;
    if (starts(d, n, "\xEF\xBB\xBF", 3))
        t += 3, tn -= 3;
    for (size_t i = 0; i < tn; i++) {
        unsigned char c = t[i];
        if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r' && c != '\f') || c == 0x7F)
            return refused(SNIFF_UNKNOWN);
    }
    if (!sniff_utf8_valid(t, tn))
        return refused(SNIFF_UNKNOWN);
    if (starts(t, tn, "#!", 2))
        return refused(SNIFF_EXECUTABLE);
    if (looks_like_markup(t, tn))
        return refused(SNIFF_MARKUP);
    if (filename && has_suffix_ci(filename, ".csv"))
        return accepted("text/csv", ext_csv);
    return accepted("text/plain", ext_text);
}

sniff_result sniff_detect(const unsigned char *d, size_t n, const char *filename)
{
    if (n == 0)
        return refused(SNIFF_UNKNOWN);
    /* Programs first: nothing that runs is accepted under another name. */
    if (starts(d, n, "MZ", 2) ||
        starts(d, n,
               "\x7F"
               "ELF",
               4) ||
        starts(d, n, "\xFE\xED\xFA\xCE", 4) || starts(d, n, "\xCE\xFA\xED\xFE", 4) ||
        starts(d, n, "\xFE\xED\xFA\xCF", 4) || starts(d, n, "\xCF\xFA\xED\xFE", 4) ||
        starts(d, n, "\xCA\xFE\xBA\xBE", 4) || starts(d, n, "\0asm", 4))
        return refused(SNIFF_EXECUTABLE);
    if (starts(d, n, "\x89PNG\r\n\x1A\n", 8))
        return accepted("image/png", ext_png);
    if (starts(d, n, "\xFF\xD8\xFF", 3))
        return accepted("image/jpeg", ext_jpeg);
    if (starts(d, n, "GIF87a", 6) || starts(d, n, "GIF89a", 6))
        return accepted("image/gif", ext_gif);
    if (n >= 12 && memcmp(d, "RIFF", 4) == 0 && memcmp(d + 8, "WEBP", 4) == 0)
        return accepted("image/webp", ext_webp);
    if (starts(d, n, "%PDF-", 5))
        return accepted("application/pdf", ext_pdf);
    if (starts(d, n, "PK\x03\x04", 4) || starts(d, n, "PK\x05\x06", 4))
        return zip(d, n);
    if (starts(d, n, "\x1F\x8B\x08", 3))
        return accepted("application/gzip", ext_gz);
    return text(d, n, filename);
}
