/* libFuzzer target: what an upload's untrusted bytes go through before
 * anything is stored. The input is a Content-Type value, a newline, then
 * the body: boundary, multipart parsing, type sniffing of every part, name
 * sanitising of every file name. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "attach_name.h"
#include "multipart.h"
#include "sniff.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nl = memchr(data, '\n', size < 512 ? size : 512);
    if (!nl)
        return 0;
    size_t ctlen = (size_t)(nl - data);
    char *ct = malloc(ctlen + 1);
    if (!ct)
        return 0;
    memcpy(ct, data, ctlen);
    ct[ctlen] = '\0';
    /* the body in its own allocation, so ASan sees any read past its end */
    size_t blen = size - ctlen - 1;
    char *body = malloc(blen ? blen : 1);
    if (!body) {
        free(ct);
        return 0;
    }
    memcpy(body, nl + 1, blen);
    char boundary[MULTIPART_MAX_BOUNDARY + 1];
    multipart_part parts[8];
    size_t n = 0;
    if (multipart_boundary(ct, boundary) == MULTIPART_OK)
        multipart_parse(body, blen, boundary, parts, 8, &n);
    for (size_t i = 0; i < n; i++) {
        sniff_result t =
            sniff_detect((const unsigned char *)parts[i].data, parts[i].len, parts[i].filename);
        char name[ATTACH_NAME_MAX + 1];
        attach_name_sanitise(parts[i].filename, t.exts, name);
        if (strlen(name) == 0 || strlen(name) > ATTACH_NAME_MAX ||
            !sniff_utf8_valid((const unsigned char *)name, strlen(name)))
            abort();
    }
    /* sniffing and naming straight on the raw body too */
    sniff_result t = sniff_detect((const unsigned char *)body, blen, ct);
    char name[ATTACH_NAME_MAX + 1];
    attach_name_sanitise(ct, t.exts, name);
    if (strlen(name) == 0 || strlen(name) > ATTACH_NAME_MAX ||
        !sniff_utf8_valid((const unsigned char *)name, strlen(name)) || strchr(name, '/') ||
        strchr(name, '\\'))
        abort();
    free(body);
    free(ct);
    return 0;
}
