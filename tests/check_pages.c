/* pages: HTML escaping; api_auth_safe_next: redirect targets of this site
 * only. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "pages.h"

START_TEST(test_escape)
{
    arena *a = arena_new(0);
    ck_assert_str_eq(pages_escape(a, "plain"), "plain");
    ck_assert_str_eq(pages_escape(a, NULL), "");
    ck_assert_str_eq(pages_escape(a, ""), "");
    ck_assert_str_eq(pages_escape(a, "<script>alert(\"x\")</script>"),
                     "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;");
    ck_assert_str_eq(pages_escape(a, "a & b ' c"), "a &amp; b &#39; c");
    ck_assert_str_eq(pages_escape(a, "&amp;"), "&amp;amp;");   /* no double-decoding */
    ck_assert_str_eq(pages_escape(a, "Chloé «»"), "Chloé «»"); /* UTF-8 kept */
    arena_free(a);
}
END_TEST

START_TEST(test_safe_next)
{
    const char *good[] = {"/", "/api/v1/me", "/a?b=c&d=%2F%2F", "/x/y#z"};
    for (size_t i = 0; i < sizeof(good) / sizeof(*good); i++)
        ck_assert_msg(api_auth_safe_next(good[i]) == good[i], "%s refused", good[i]);
    const char *bad[] = {NULL,
                         "",
                         "//evil.example",
                         "/\\evil.example",
                         "\\\\evil.example",
                         "https://evil.example",
                         "https:evil.example",
                         "http:/evil.example",
                         "javascript:alert(1)",
                         "evil.example",
                         "/a\r\nSet-Cookie: x=y",
                         "/a b",
                         "/a\\b",
                         "/\x7f",
                         "/caf\xc3\xa9",
                         "///evil"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
        ck_assert_msg(api_auth_safe_next(bad[i]) == NULL, "%s accepted", bad[i]);
    char longpath[1100];
    memset(longpath, 'a', sizeof(longpath) - 1);
    longpath[0] = '/';
    longpath[sizeof(longpath) - 1] = '\0';
    ck_assert_ptr_null(api_auth_safe_next(longpath));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("pages");
    TCase *tc = tcase_create("pages_escape");
    tcase_add_test(tc, test_escape);
    suite_add_tcase(s, tc);
    TCase *tn = tcase_create("api_auth_safe_next");
    tcase_add_test(tn, test_safe_next);
    suite_add_tcase(s, tn);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
