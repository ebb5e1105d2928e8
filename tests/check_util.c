/* util: randomness, hex, SHA-256, constant-time compare, strict ints. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

START_TEST(test_random_differs)
{
    unsigned char a[32], b[32];
    ck_assert(util_random(a, sizeof(a)));
    ck_assert(util_random(b, sizeof(b)));
    ck_assert_int_ne(memcmp(a, b, sizeof(a)), 0);
}
END_TEST

START_TEST(test_hex_and_sha)
{
    char hex[9];
    util_hex(hex, "\x01\xab\xff\x00", 4);
    ck_assert_str_eq(hex, "01abff00");
    char sha[65];
    util_sha256_hex(sha, "abc", 3);
    ck_assert_str_eq(sha, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}
END_TEST

START_TEST(test_ct_equal)
{
    ck_assert(util_ct_equal("abcd", "abcd", 4));
    ck_assert(!util_ct_equal("abcd", "abce", 4));
}
END_TEST

START_TEST(test_parse_i64)
{
    int64_t v;
    ck_assert(util_parse_i64("42", &v));
    ck_assert_int_eq(v, 42);
    ck_assert(util_parse_i64("-7", &v));
    ck_assert_int_eq(v, -7);
    ck_assert(!util_parse_i64("", &v));
    ck_assert(!util_parse_i64("-", &v));
    ck_assert(!util_parse_i64("12a", &v));
    ck_assert(!util_parse_i64(" 12", &v));
    ck_assert(!util_parse_i64("+12", &v));
    ck_assert(!util_parse_i64("99999999999999999999", &v));
    ck_assert(!util_parse_i64(NULL, &v));
}
END_TEST

START_TEST(test_version_label)
{
    const char *good[] = {"6.40.10", "V5.0",  "2.7",
                          "a",       "9_9-3", "1234567890123456789012345678901"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        ck_assert_msg(util_version_label_ok(good[i]), "%s", good[i]);
    const char *bad[] = {
        "", ".6", "-1", "6 40", "6/40", "v5;", "é1", "6.40\n", "12345678901234567890123456789012"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(!util_version_label_ok(bad[i]), "%s", bad[i]);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("util");
    TCase *tc = tcase_create("util");
    tcase_add_test(tc, test_random_differs);
    tcase_add_test(tc, test_hex_and_sha);
    tcase_add_test(tc, test_ct_equal);
    tcase_add_test(tc, test_parse_i64);
    tcase_add_test(tc, test_version_label);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
