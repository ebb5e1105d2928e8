/* auth_login: the CSRF token of a session and its comparison. (Logins
 * themselves need the database: tests/integration/test_auth.py.) */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "auth_login.h"

static const char *tok_a = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
static const char *tok_b = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab";

START_TEST(test_csrf_of)
{
    char c1[AUTH_CSRF_SIZE], c2[AUTH_CSRF_SIZE], c3[AUTH_CSRF_SIZE];
    auth_login_csrf_of(tok_a, c1);
    auth_login_csrf_of(tok_a, c2);
    auth_login_csrf_of(tok_b, c3);
    ck_assert_uint_eq(strlen(c1), AUTH_CSRF_SIZE - 1);
    ck_assert_str_eq(c1, c2); /* derived: the same for one session */
    ck_assert_str_ne(c1, c3); /* and another for another session */
    ck_assert_ptr_null(strstr(c1, tok_a));
    for (const char *p = c1; *p; p++)
        ck_assert(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", *p));
}
END_TEST

START_TEST(test_csrf_ok)
{
    char c[AUTH_CSRF_SIZE];
    auth_login_csrf_of(tok_a, c);
    ck_assert(auth_login_csrf_ok(tok_a, c));
    ck_assert(!auth_login_csrf_ok(tok_b, c));
    ck_assert(!auth_login_csrf_ok(NULL, c));
    ck_assert(!auth_login_csrf_ok(tok_a, NULL));
    ck_assert(!auth_login_csrf_ok(tok_a, ""));
    ck_assert(!auth_login_csrf_ok(tok_a, tok_a));
    char shorter[AUTH_CSRF_SIZE];
    memcpy(shorter, c, sizeof(shorter));
    shorter[AUTH_CSRF_SIZE - 2] = '\0';
    ck_assert(!auth_login_csrf_ok(tok_a, shorter));
    char longer[AUTH_CSRF_SIZE + 1];
    memcpy(longer, c, AUTH_CSRF_SIZE - 1);
    longer[AUTH_CSRF_SIZE - 1] = 'x';
    longer[AUTH_CSRF_SIZE] = '\0';
    ck_assert(!auth_login_csrf_ok(tok_a, longer));
    /* one character off, at either end */
    for (size_t i = 0; i < AUTH_CSRF_SIZE - 1; i += AUTH_CSRF_SIZE - 2) {
        char d[AUTH_CSRF_SIZE];
        memcpy(d, c, sizeof(d));
        d[i] = d[i] == 'A' ? 'B' : 'A';
        ck_assert(!auth_login_csrf_ok(tok_a, d));
    }
}
END_TEST

START_TEST(test_defaults)
{
    ck_assert_int_eq(auth_login_default.idle_seconds, 1800);
    ck_assert_int_eq(auth_login_default.absolute_seconds, 36000);
    ck_assert_int_eq(auth_login_default.reset_seconds, 1800);
    ck_assert_uint_ge(auth_login_default.params.m_kib, 19456);
    ck_assert_uint_ge(auth_login_default.params.t, 2);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("auth_login");
    TCase *tc = tcase_create("auth_login_csrf");
    tcase_add_test(tc, test_csrf_of);
    tcase_add_test(tc, test_csrf_ok);
    tcase_add_test(tc, test_defaults);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
