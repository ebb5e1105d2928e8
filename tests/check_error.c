/* dadm_error: every code has a title, a slug and a status; slugs are unique. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "dadm_error.h"

START_TEST(test_every_code_described)
{
    for (int e = DADM_OK; e <= DADM_E_INTERNAL; e++) {
        ck_assert_str_ne(dadm_err_title(e), "Erreur inconnue");
        ck_assert_str_ne(dadm_err_slug(e), "unknown");
        unsigned s = dadm_err_http_status(e);
        ck_assert_uint_ge(s, e == DADM_OK ? 200 : 400);
        ck_assert_uint_lt(s, 600);
    }
}
END_TEST

START_TEST(test_slugs_unique)
{
    for (int a = DADM_OK; a <= DADM_E_INTERNAL; a++)
        for (int b = a + 1; b <= DADM_E_INTERNAL; b++)
            ck_assert_str_ne(dadm_err_slug(a), dadm_err_slug(b));
}
END_TEST

START_TEST(test_known_statuses)
{
    ck_assert_uint_eq(dadm_err_http_status(DADM_E_NOT_FOUND), 404);
    ck_assert_uint_eq(dadm_err_http_status(DADM_E_DB_UNAVAILABLE), 503);
    ck_assert_uint_eq(dadm_err_http_status(DADM_E_TOO_LARGE), 413);
    ck_assert_uint_eq(dadm_err_http_status(DADM_E_HEADERS_TOO_LARGE), 431);
    ck_assert_uint_eq(dadm_err_http_status(DADM_E_UNAUTHENTICATED), 401);
    ck_assert_str_eq(dadm_err_title(DADM_E_NOT_FOUND), "Ressource introuvable");
}
END_TEST

START_TEST(test_unknown_code)
{
    ck_assert_str_eq(dadm_err_slug((dadm_err)999), "unknown");
    ck_assert_uint_eq(dadm_err_http_status((dadm_err)999), 500);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("dadm_error");
    TCase *tc = tcase_create("dadm_err");
    tcase_add_test(tc, test_every_code_described);
    tcase_add_test(tc, test_slugs_unique);
    tcase_add_test(tc, test_known_statuses);
    tcase_add_test(tc, test_unknown_code);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
