/* auth_password: argon2id hashes with their parameters, verification,
 * rehash detection. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "auth_password.h"

/* Cheap parameters keep the unit test fast; the defaults are checked apart. */
static const auth_password_params cheap = {.m_kib = 1024, .t = 1, .p = 1};

START_TEST(test_hash_verify)
{
    char *h = NULL;
    ck_assert_int_eq(auth_password_hash("Correct#Horse-42", &cheap, &h), DADM_OK);
    ck_assert_ptr_nonnull(h);
    ck_assert_int_eq(strncmp(h, "$argon2id$v=19$m=1024,t=1,p=1$", 30), 0);
    ck_assert(auth_password_verify(h, "Correct#Horse-42"));
    ck_assert(!auth_password_verify(h, "Correct#Horse-43"));
    ck_assert(!auth_password_verify(h, ""));
    char *h2 = NULL;
    ck_assert_int_eq(auth_password_hash("Correct#Horse-42", &cheap, &h2), DADM_OK);
    ck_assert_str_ne(h, h2); /* fresh salt */
    free(h);
    free(h2);
}
END_TEST

START_TEST(test_malformed_hash)
{
    ck_assert(!auth_password_verify(NULL, "x"));
    ck_assert(!auth_password_verify("plain", "plain"));
    ck_assert(!auth_password_verify("$argon2i$v=19$m=1024,t=1,p=1$c2FsdA$aGFzaA", "x"));
    ck_assert(!auth_password_verify("$argon2id$garbage", "x"));
}
END_TEST

START_TEST(test_rehash)
{
    char *h = NULL;
    ck_assert_int_eq(auth_password_hash("Correct#Horse-42", &cheap, &h), DADM_OK);
    ck_assert(!auth_password_needs_rehash(h, &cheap));
    ck_assert(auth_password_needs_rehash(h, &auth_password_default));
    ck_assert(auth_password_needs_rehash(NULL, &cheap));
    free(h);
}
END_TEST

START_TEST(test_defaults)
{
    ck_assert_uint_ge(auth_password_default.m_kib, 19456);
    ck_assert_uint_ge(auth_password_default.t, 2);
    ck_assert_uint_ge(auth_password_default.p, 1);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("auth_password");
    TCase *tc = tcase_create("auth_password");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_hash_verify);
    tcase_add_test(tc, test_malformed_hash);
    tcase_add_test(tc, test_rehash);
    tcase_add_test(tc, test_defaults);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
