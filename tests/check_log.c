/* log: values that could forge a line or a field are escaped. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

static const char *esc(const char *v)
{
    static char buf[256];
    log_escape(buf, sizeof(buf), v);
    return buf;
}

START_TEST(test_plain)
{
    ck_assert_str_eq(esc("abc"), "abc");
    ck_assert_str_eq(esc("/api/v1/etabs/3"), "/api/v1/etabs/3");
}
END_TEST

START_TEST(test_quoted)
{
    ck_assert_str_eq(esc(""), "\"\"");
    ck_assert_str_eq(esc("a b"), "\"a b\"");
    ck_assert_str_eq(esc("k=v"), "\"k=v\"");
    ck_assert_str_eq(esc("say \"hi\""), "\"say \\\"hi\\\"\"");
}
END_TEST

START_TEST(test_no_forged_line)
{
    const char *e = esc("x\nlevel=error event=forged");
    ck_assert_ptr_null(strchr(e, '\n'));
    ck_assert_str_eq(e, "\"x\\nlevel=error event=forged\"");
    ck_assert_str_eq(esc("\x01"), "\"\\x01\"");
}
END_TEST

START_TEST(test_truncation_reports_length)
{
    char small[4];
    size_t n = log_escape(small, sizeof(small), "abcdef");
    ck_assert_uint_eq(n, 6);
    ck_assert_str_eq(small, "abc");
}
END_TEST

START_TEST(test_levels)
{
    ck_assert_int_eq(log_level_parse("debug"), LOG_DEBUG);
    ck_assert_int_eq(log_level_parse("error"), LOG_ERROR);
    ck_assert_int_eq(log_level_parse("loud"), -1);
    ck_assert_int_eq(log_level_parse(NULL), -1);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("log");
    TCase *tc = tcase_create("log_escape");
    tcase_add_test(tc, test_plain);
    tcase_add_test(tc, test_quoted);
    tcase_add_test(tc, test_no_forged_line);
    tcase_add_test(tc, test_truncation_reports_length);
    suite_add_tcase(s, tc);
    tc = tcase_create("log_level_parse");
    tcase_add_test(tc, test_levels);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
