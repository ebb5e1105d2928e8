/* attach_name: the stored name of an attachment. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "attach_name.h"
#include "sniff.h"

static const char *const png[] = {"png", NULL};
static const char *const jpeg[] = {"jpg", "jpeg", "jpe", NULL};
static const char *const text[] = {"txt", "log", "csv", NULL};
static char out[ATTACH_NAME_MAX + 1];

static const char *san(const char *in, const char *const *exts)
{
    attach_name_sanitise(in, exts, out);
    return out;
}

START_TEST(test_last_component)
{
    ck_assert_str_eq(san("../../etc/passwd", text), "passwd.txt");
    ck_assert_str_eq(san("C:\\x\\y.png", png), "y.png");
    ck_assert_str_eq(san("/abs/dir/", png), "piece-jointe.png");
    ck_assert_str_eq(san("..\\..\\boot.ini", text), "boot.ini.txt");
    ck_assert_str_eq(san("..", png), "piece-jointe.png");
    ck_assert_str_eq(san(".", NULL), "piece-jointe");
    ck_assert_str_eq(san("a/..", NULL), "piece-jointe");
}
END_TEST

START_TEST(test_troublesome_characters)
{
    ck_assert_str_eq(san("cap\x01ture\x1f\x7f d'écran \"1\".png", png), "capture décran 1.png");
    ck_assert_str_eq(san("a<b>c:d*e?f|g;h$i`j.jpg", jpeg), "abcdefghij.jpg");
    ck_assert_str_eq(san("  .hidden.log. ", text), "hidden.log");
    /* a right-to-left override that would show "photo\u202Egnp.exe" as "photoexe.png" */
    ck_assert_str_eq(san("photo\xe2\x80\xaegnp.exe", png), "photognp.exe.png");
    /* C1 controls and invalid UTF-8 bytes go */
    ck_assert_str_eq(san("r\xc2\x85\xff\xfeport.txt", text), "rport.txt");
    ck_assert_str_eq(san("\r\n\t", NULL), "piece-jointe");
    ck_assert_str_eq(san(NULL, png), "piece-jointe.png");
    ck_assert_str_eq(san("", NULL), "piece-jointe");
}
END_TEST

START_TEST(test_extension)
{
    ck_assert_str_eq(san("Photo.JPEG", jpeg), "Photo.JPEG");
    ck_assert_str_eq(san("photo.exe", png), "photo.exe.png");
    ck_assert_str_eq(san("photo", png), "photo.png");
    ck_assert_str_eq(san("export.csv", text), "export.csv");
    ck_assert_str_eq(san("archive.tar.gz", NULL), "archive.tar.gz");
    /* the list of a sniffed type */
    sniff_result r = sniff_detect((const unsigned char *)"%PDF-1.4", 8, NULL);
    ck_assert_str_eq(san("rapport.PDF", r.exts), "rapport.PDF");
    ck_assert_str_eq(san("rapport.html", r.exts), "rapport.html.pdf");
}
END_TEST

static size_t utf8_chars_ok(const char *s)
{
    size_t n = strlen(s);
    ck_assert(sniff_utf8_valid((const unsigned char *)s, n));
    return n;
}

START_TEST(test_long_utf8_names)
{
    /* 150 × "é" (2 bytes) = 300 bytes, then ".png": cut at a character
     * boundary, the extension kept, at most 200 bytes */
    char in[1024] = "";
    for (int i = 0; i < 150; i++)
        strcat(in, "\xc3\xa9");
    strcat(in, ".png");
    san(in, png);
    size_t n = utf8_chars_ok(out);
    ck_assert_uint_le(n, ATTACH_NAME_MAX);
    ck_assert_uint_eq(n, 196 + 4);
    ck_assert_str_eq(out + n - 4, ".png");
    /* 3-byte characters: 199 bytes would split one, so 198 */
    in[0] = '\0';
    for (int i = 0; i < 100; i++)
        strcat(in, "\xe2\x82\xac");
    san(in, NULL);
    n = utf8_chars_ok(out);
    ck_assert_uint_eq(n, 198);
    /* 4-byte characters with a foreign extension */
    in[0] = '\0';
    for (int i = 0; i < 100; i++)
        strcat(in, "\xf0\x9f\x98\x80");
    strcat(in, ".exe");
    san(in, png);
    n = utf8_chars_ok(out);
    ck_assert_uint_le(n, ATTACH_NAME_MAX);
    ck_assert_str_eq(out + n - 4, ".png");
    ck_assert_uint_eq((n - 4) % 4, 0);
    /* a name far longer than any buffer */
    char *huge = malloc(10000);
    ck_assert_ptr_nonnull(huge);
    memset(huge, 'x', 9999);
    huge[9999] = '\0';
    san(huge, text);
    ck_assert_uint_eq(strlen(out), ATTACH_NAME_MAX);
    ck_assert_str_eq(out + ATTACH_NAME_MAX - 4, ".txt");
    free(huge);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("attach_name");
    TCase *tc = tcase_create("attach_name_sanitise");
    tcase_add_test(tc, test_last_component);
    tcase_add_test(tc, test_troublesome_characters);
    tcase_add_test(tc, test_extension);
    tcase_add_test(tc, test_long_utf8_names);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
