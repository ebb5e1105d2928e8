/* multipart: the boundary parameter and the splitting of a form-data body
 * into parts (RFC 7578 / RFC 2046). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "multipart.h"

static multipart_part parts[8];
static size_t n;

static multipart_status parse(const char *body, size_t len, const char *boundary)
{
    return multipart_parse(body, len, boundary, parts, 8, &n);
}

#define PARSE(lit, b) parse(lit, sizeof(lit) - 1, b)

START_TEST(test_boundary_token_and_quoted)
{
    char b[MULTIPART_MAX_BOUNDARY + 1];
    ck_assert_int_eq(multipart_boundary("multipart/form-data; boundary=abc123", b), MULTIPART_OK);
    ck_assert_str_eq(b, "abc123");
    ck_assert_int_eq(multipart_boundary("Multipart/Form-Data ;charset=utf-8;  "
                                        "BOUNDARY=\"a b:c=d?\"",
                                        b),
                     MULTIPART_OK);
    ck_assert_str_eq(b, "a b:c=d?");
    ck_assert_int_eq(multipart_boundary("multipart/form-data; boundary=\"q\\\"x\"", b),
                     MULTIPART_E_BOUNDARY); /* '"' is no boundary character */
    ck_assert_int_eq(multipart_boundary("multipart/form-data", b), MULTIPART_E_BOUNDARY);
    ck_assert_int_eq(multipart_boundary("multipart/form-data; boundary=", b), MULTIPART_E_BOUNDARY);
    ck_assert_int_eq(multipart_boundary("multipart/form-data; boundary=\"unterminated", b),
                     MULTIPART_E_BOUNDARY);
    ck_assert_int_eq(multipart_boundary("multipart/form-data; boundary=\"ends with space \"", b),
                     MULTIPART_E_BOUNDARY);
    char longb[100];
    memset(longb, 'x', 71);
    longb[71] = '\0';
    char ct[200];
    snprintf(ct, sizeof(ct), "multipart/form-data; boundary=%s", longb);
    ck_assert_int_eq(multipart_boundary(ct, b), MULTIPART_E_BOUNDARY);
    longb[70] = '\0';
    snprintf(ct, sizeof(ct), "multipart/form-data; boundary=%s", longb);
    ck_assert_int_eq(multipart_boundary(ct, b), MULTIPART_OK);
    ck_assert_int_eq(multipart_boundary("application/json", b), MULTIPART_E_NOT_MULTIPART);
    ck_assert_int_eq(multipart_boundary("multipart/form-datax; boundary=a", b),
                     MULTIPART_E_NOT_MULTIPART);
    ck_assert_int_eq(multipart_boundary(NULL, b), MULTIPART_E_NOT_MULTIPART);
}
END_TEST

START_TEST(test_parse_two_parts)
{
    static const char body[] = "preamble to ignore\r\n"
                               "--XyZ\r\n"
                               "Content-Disposition: form-data; name=\"note\"\r\n"
                               "\r\n"
                               "hello\r\n"
                               "--XyZ\r\n"
                               "content-disposition: form-data; name=file; "
                               "filename=\"a \\\"b\\\".png\"\r\n"
                               "Content-Type:  image/png \r\n"
                               "X-Other: ignored\r\n"
                               "\r\n"
                               "\x89PNG\r\n--not-the-boundary\r\n\x00\x01"
                               "\r\n--XyZ--\r\nepilogue";
    ck_assert_int_eq(parse(body, sizeof(body) - 1, "XyZ"), MULTIPART_OK);
    ck_assert_uint_eq(n, 2);
    ck_assert_str_eq(parts[0].name, "note");
    ck_assert(!parts[0].has_filename);
    ck_assert_uint_eq(parts[0].len, 5);
    ck_assert(memcmp(parts[0].data, "hello", 5) == 0);
    ck_assert_str_eq(parts[1].name, "file");
    ck_assert(parts[1].has_filename);
    ck_assert_str_eq(parts[1].filename, "a \"b\".png");
    ck_assert_str_eq(parts[1].content_type, "image/png");
    ck_assert_uint_eq(parts[1].len, 28);
    ck_assert(memcmp(parts[1].data, "\x89PNG\r\n--not-the-boundary\r\n\x00\x01", 28) == 0);
    ck_assert_ptr_eq(multipart_find(parts, n, "file"), &parts[1]);
    ck_assert_ptr_null(multipart_find(parts, n, "absent"));
}
END_TEST

START_TEST(test_parse_empty_parts)
{
    /* A file of 0 bytes, then a part without any header. */
    ck_assert_int_eq(
        PARSE("--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"e\"\r\n"
              "\r\n\r\n--b\r\n\r\n\r\n--b--",
              "b"),
        MULTIPART_OK);
    ck_assert_uint_eq(n, 2);
    ck_assert_uint_eq(parts[0].len, 0);
    ck_assert_str_eq(parts[0].filename, "e");
    ck_assert_str_eq(parts[1].name, "");
    ck_assert_uint_eq(parts[1].len, 0);
    /* No part at all. */
    ck_assert_int_eq(PARSE("--b--\r\n", "b"), MULTIPART_OK);
    ck_assert_uint_eq(n, 0);
    /* Transport padding after a delimiter. */
    ck_assert_int_eq(
        PARSE("--b  \t\r\nContent-Disposition: form-data; name=x\r\n\r\n1\r\n--b--", "b"),
        MULTIPART_OK);
    ck_assert_uint_eq(n, 1);
    ck_assert_uint_eq(parts[0].len, 1);
}
END_TEST

START_TEST(test_parse_missing_final_boundary)
{
    ck_assert_int_eq(PARSE("--b\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\ndata", "b"),
                     MULTIPART_E_UNTERMINATED);
    ck_assert_int_eq(
        PARSE("--b\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\ndata\r\n--b", "b"),
        MULTIPART_E_UNTERMINATED);
    ck_assert_int_eq(PARSE("--b\r\nContent-Disposition: form-data; name=\"file\"", "b"),
                     MULTIPART_E_UNTERMINATED);
    ck_assert_int_eq(PARSE("--b", "b"), MULTIPART_E_UNTERMINATED);
}
END_TEST

START_TEST(test_parse_syntax_errors)
{
    /* no delimiter at all, or another boundary */
    ck_assert_int_eq(PARSE("just some text", "b"), MULTIPART_E_SYNTAX);
    ck_assert_int_eq(PARSE("", "b"), MULTIPART_E_SYNTAX);
    ck_assert_int_eq(PARSE("--other\r\n\r\nx\r\n--other--", "b"), MULTIPART_E_SYNTAX);
    /* garbage after the delimiter */
    ck_assert_int_eq(PARSE("--bX\r\n\r\nx\r\n--b--", "b"), MULTIPART_E_SYNTAX);
    /* header line without colon, folded header, unterminated quote, not form-data */
    ck_assert_int_eq(PARSE("--b\r\nnocolon\r\n\r\nx\r\n--b--", "b"), MULTIPART_E_SYNTAX);
    ck_assert_int_eq(
        PARSE("--b\r\nContent-Disposition: form-data;\r\n name=x\r\n\r\nx\r\n--b--", "b"),
        MULTIPART_E_SYNTAX);
    ck_assert_int_eq(
        PARSE("--b\r\nContent-Disposition: form-data; name=\"x\r\n\r\nx\r\n--b--", "b"),
        MULTIPART_E_SYNTAX);
    ck_assert_int_eq(PARSE("--b\r\nContent-Disposition: attachment; name=x\r\n\r\nx\r\n--b--", "b"),
                     MULTIPART_E_SYNTAX);
    ck_assert_int_eq(PARSE("--b\r\nContent-Disposition: form-data; name\r\n\r\nx\r\n--b--", "b"),
                     MULTIPART_E_SYNTAX);
    ck_assert_int_eq(PARSE("--b\r\nX-A: \0\r\n\r\nx\r\n--b--", "b"), MULTIPART_E_SYNTAX);
    ck_assert_int_eq(PARSE("--b--", ""), MULTIPART_E_BOUNDARY);
}
END_TEST

START_TEST(test_parse_oversized_headers)
{
    size_t cap = MULTIPART_MAX_HEADER + 200;
    char *body = malloc(cap + 64);
    ck_assert_ptr_nonnull(body);
    size_t o = (size_t)sprintf(body, "--b\r\nX-Long: ");
    memset(body + o, 'a', cap - o);
    o = cap;
    o += (size_t)sprintf(body + o, "\r\n\r\nx\r\n--b--");
    ck_assert_int_eq(parse(body, o, "b"), MULTIPART_E_HEADER_SIZE);
    /* the same without an end: still "too large", not "unterminated" */
    ck_assert_int_eq(parse(body, cap, "b"), MULTIPART_E_HEADER_SIZE);
    free(body);
    /* a file name longer than the part's buffer */
    char big[MULTIPART_MAX_FILENAME + 200];
    o = (size_t)sprintf(big, "--b\r\nContent-Disposition: form-data; name=f; filename=\"");
    memset(big + o, 'n', MULTIPART_MAX_FILENAME + 1);
    o += MULTIPART_MAX_FILENAME + 1;
    o += (size_t)sprintf(big + o, "\"\r\n\r\nx\r\n--b--");
    ck_assert_int_eq(parse(big, o, "b"), MULTIPART_E_HEADER_SIZE);
}
END_TEST

START_TEST(test_parse_too_many_parts)
{
    char body[2048];
    size_t o = 0;
    for (int i = 0; i < 9; i++)
        o += (size_t)sprintf(body + o,
                             "--b\r\nContent-Disposition: form-data; name=p%d\r\n\r\nv\r\n", i);
    o += (size_t)sprintf(body + o, "--b--");
    ck_assert_int_eq(parse(body, o, "b"), MULTIPART_E_TOO_MANY);
    ck_assert_uint_eq(n, 8);
    ck_assert_str_eq(multipart_status_name(MULTIPART_E_TOO_MANY), "too_many_parts");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("multipart");
    TCase *tb = tcase_create("multipart_boundary");
    tcase_add_test(tb, test_boundary_token_and_quoted);
    suite_add_tcase(s, tb);
    TCase *tp = tcase_create("multipart_parse");
    tcase_add_test(tp, test_parse_two_parts);
    tcase_add_test(tp, test_parse_empty_parts);
    tcase_add_test(tp, test_parse_missing_final_boundary);
    tcase_add_test(tp, test_parse_syntax_errors);
    tcase_add_test(tp, test_parse_oversized_headers);
    tcase_add_test(tp, test_parse_too_many_parts);
    suite_add_tcase(s, tp);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
