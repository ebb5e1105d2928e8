/* sniff: the type of a file from its bytes; UTF-8 validation. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "sniff.h"

static sniff_result S(const char *data, size_t n)
{
    return sniff_detect((const unsigned char *)data, n, NULL);
}

#define SL(lit) S(lit, sizeof(lit) - 1)

static void accepted_as(sniff_result r, const char *mime, const char *ext)
{
    ck_assert_int_eq(r.verdict, SNIFF_ACCEPTED);
    ck_assert_str_eq(r.mime, mime);
    ck_assert_str_eq(r.exts[0], ext);
}

START_TEST(test_images_pdf_gzip)
{
    accepted_as(SL("\x89PNG\r\n\x1a\n\0\0\0\rIHDR"), "image/png", "png");
    accepted_as(SL("\xff\xd8\xff\xe0\0\x10JFIF"), "image/jpeg", "jpg");
    accepted_as(SL("GIF89a\x01\0\x01\0"), "image/gif", "gif");
    accepted_as(SL("GIF87a\x01\0\x01\0"), "image/gif", "gif");
    accepted_as(SL("RIFF\x24\0\0\0WEBPVP8 "), "image/webp", "webp");
    accepted_as(SL("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"), "application/pdf", "pdf");
    accepted_as(SL("\x1f\x8b\x08\0\0\0\0\0"), "application/gzip", "gz");
    /* RIFF that is not WebP (a WAV) is no accepted type */
    ck_assert_int_eq(SL("RIFF\x24\0\0\0WAVEfmt ").verdict, SNIFF_UNKNOWN);
}
END_TEST

/* A minimal ZIP: one stored local entry and its central directory. */
static size_t make_zip(unsigned char *out, const char *const *names, size_t n,
                       const char *first_content)
{
    size_t o = 0, offsets[8];
    for (size_t i = 0; i < n; i++) {
        size_t nl = strlen(names[i]), cl = i == 0 && first_content ? strlen(first_content) : 0;
        offsets[i] = o;
        unsigned char h[30] = {'P', 'K', 3, 4, 20, 0, 0, 0, 0, 0};
        h[18] = (unsigned char)cl;
        h[22] = (unsigned char)cl;
        h[26] = (unsigned char)nl;
        memcpy(out + o, h, 30);
        o += 30;
        memcpy(out + o, names[i], nl);
        o += nl;
        if (cl) {
            memcpy(out + o, first_content, cl);
            o += cl;
        }
    }
    size_t cd = o;
    for (size_t i = 0; i < n; i++) {
        size_t nl = strlen(names[i]);
        unsigned char c[46] = {'P', 'K', 1, 2, 20, 0, 20, 0};
        c[28] = (unsigned char)nl;
        c[42] = (unsigned char)offsets[i];
        memcpy(out + o, c, 46);
        o += 46;
        memcpy(out + o, names[i], nl);
        o += nl;
    }
    unsigned char e[22] = {'P', 'K', 5, 6};
    e[8] = e[10] = (unsigned char)n;
    e[12] = (unsigned char)(o - cd);
    e[16] = (unsigned char)cd;
    memcpy(out + o, e, 22);
    return o + 22;
}

START_TEST(test_zip_office)
{
    unsigned char z[2048];
    const char *docx[] = {"[Content_Types].xml", "_rels/.rels", "word/document.xml"};
    size_t n = make_zip(z, docx, 3, NULL);
    accepted_as(S((const char *)z, n),
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document", "docx");
    const char *xlsx[] = {"[Content_Types].xml", "xl/workbook.xml"};
    n = make_zip(z, xlsx, 2, NULL);
    accepted_as(S((const char *)z, n),
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx");
    const char *pptx[] = {"[Content_Types].xml", "ppt/presentation.xml"};
    n = make_zip(z, pptx, 2, NULL);
    accepted_as(S((const char *)z, n),
                "application/vnd.openxmlformats-officedocument.presentationml.presentation",
                "pptx");
    const char *odt[] = {"mimetype", "content.xml"};
    n = make_zip(z, odt, 2, "application/vnd.oasis.opendocument.text");
    accepted_as(S((const char *)z, n), "application/vnd.oasis.opendocument.text", "odt");
    n = make_zip(z, odt, 2, "application/vnd.oasis.opendocument.spreadsheet");
    accepted_as(S((const char *)z, n), "application/vnd.oasis.opendocument.spreadsheet", "ods");
    const char *plain[] = {"readme.txt", "word/not-office.txt"};
    n = make_zip(z, plain, 2, NULL);
    accepted_as(S((const char *)z, n), "application/zip", "zip");
    /* a truncated archive is still a ZIP, read without overrun */
    accepted_as(S((const char *)z, 40), "application/zip", "zip");
    accepted_as(SL("PK\x05\x06\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0"), "application/zip", "zip");
}
END_TEST

START_TEST(test_executables_refused)
{
    ck_assert_int_eq(SL("MZ\x90\0\x03\0\0\0").verdict, SNIFF_EXECUTABLE);
    ck_assert_int_eq(SL("\x7f"
                        "ELF\x02\x01\x01")
                         .verdict,
                     SNIFF_EXECUTABLE);
    ck_assert_int_eq(SL("\xcf\xfa\xed\xfe\x07\0\0\x01").verdict, SNIFF_EXECUTABLE);
    ck_assert_int_eq(SL("\xca\xfe\xba\xbe\0\0\0\x34").verdict, SNIFF_EXECUTABLE);
    ck_assert_int_eq(SL("#!/bin/sh\nrm -rf /\n").verdict, SNIFF_EXECUTABLE);
    /* "MZ" as text is still refused: programs are looked for first */
    ck_assert_int_eq(SL("MZ is a text file").verdict, SNIFF_EXECUTABLE);
    ck_assert_ptr_null(SL("MZ").mime);
}
END_TEST

START_TEST(test_markup_refused)
{
    ck_assert_int_eq(SL("<!DOCTYPE html><p>x").verdict, SNIFF_MARKUP);
    ck_assert_int_eq(SL("  <HTML><body>").verdict, SNIFF_MARKUP);
    ck_assert_int_eq(
        SL("<?xml version=\"1.0\"?><svg xmlns=\"http://www.w3.org/2000/svg\"/>").verdict,
        SNIFF_MARKUP);
    ck_assert_int_eq(SL("<svg onload=alert(1)>").verdict, SNIFF_MARKUP);
    ck_assert_int_eq(SL("log line 1\nlog line 2 <ScRiPt>alert(1)</script>\n").verdict,
                     SNIFF_MARKUP);
    /* a '<' alone is fine */
    accepted_as(SL("if a < b then\n"), "text/plain", "txt");
}
END_TEST

START_TEST(test_text)
{
    accepted_as(SL("2026-11-23 10:00:00 ERROR ORA-01555\r\n\tdétail\n"), "text/plain", "txt");
    accepted_as(SL("\xef\xbb\xbfnom;prénom\n"), "text/plain", "txt");
    sniff_result r = sniff_detect((const unsigned char *)"a;b\n1;2\n", 8, "export.CSV");
    accepted_as(r, "text/csv", "csv");
    /* the name never makes a refused content acceptable */
    ck_assert_int_eq(sniff_detect((const unsigned char *)"MZ\x90", 3, "x.csv").verdict,
                     SNIFF_EXECUTABLE);
    /* invalid UTF-8, NUL, other control characters: unknown binary */
    ck_assert_int_eq(SL("caf\xe9\n").verdict, SNIFF_UNKNOWN);
    ck_assert_int_eq(SL("a\0b").verdict, SNIFF_UNKNOWN);
    ck_assert_int_eq(SL("a\x1b[31mred").verdict, SNIFF_UNKNOWN);
    ck_assert_int_eq(SL("\x00\x01\x02\x03").verdict, SNIFF_UNKNOWN);
    ck_assert_int_eq(S("", 0).verdict, SNIFF_UNKNOWN);
}
END_TEST

START_TEST(test_utf8_valid)
{
    ck_assert(sniff_utf8_valid((const unsigned char *)"", 0));
    ck_assert(sniff_utf8_valid((const unsigned char *)"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9));
    ck_assert(!sniff_utf8_valid((const unsigned char *)"\xc0\xaf", 2));         /* overlong */
    ck_assert(!sniff_utf8_valid((const unsigned char *)"\xe0\x80\xaf", 3));     /* overlong */
    ck_assert(!sniff_utf8_valid((const unsigned char *)"\xed\xa0\x80", 3));     /* surrogate */
    ck_assert(!sniff_utf8_valid((const unsigned char *)"\xf4\x90\x80\x80", 4)); /* > U+10FFFF */
    ck_assert(!sniff_utf8_valid((const unsigned char *)"\xe2\x82", 2));         /* truncated */
    ck_assert(!sniff_utf8_valid((const unsigned char *)"\x80", 1));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("sniff");
    TCase *tc = tcase_create("sniff_detect");
    tcase_add_test(tc, test_images_pdf_gzip);
    tcase_add_test(tc, test_zip_office);
    tcase_add_test(tc, test_executables_refused);
    tcase_add_test(tc, test_markup_refused);
    tcase_add_test(tc, test_text);
    suite_add_tcase(s, tc);
    TCase *tu = tcase_create("sniff_utf8_valid");
    tcase_add_test(tu, test_utf8_valid);
    suite_add_tcase(s, tu);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
