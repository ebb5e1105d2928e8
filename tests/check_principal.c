/* auth_principal: role predicates, deny by default, tenant scoping. */
#include <check.h>
#include <stdlib.h>

#include "auth_principal.h"

static const auth_grant corr_a_apogee[] = {
    {AUTH_ROLE_CORRESPONDENT, AUTH_NATURE_FONCTIONNEL, 1, 10, 0}};
static const auth_grant consultant[] = {{AUTH_ROLE_CONSULTANT, AUTH_NATURE_TECHNIQUE, 2, 0, 0}};
static const auth_grant admin_a[] = {{AUTH_ROLE_ETAB_ADMIN, AUTH_NATURE_NONE, 0, 10, 0}};
static const auth_grant contractor[] = {
    {AUTH_ROLE_CONTRACTOR_CONSULTANT, AUTH_NATURE_FONCTIONNEL, 1, 0, 5}};

static auth_principal person(int64_t etab, const auth_grant *g, size_t n)
{
    return (auth_principal){
        .level = AUTH_LEVEL_PERSON, .account_id = 1, .etab_id = etab, .grants = g, .n_grants = n};
}

START_TEST(test_anonymous_and_reader_denied)
{
    auth_principal anon = {.level = AUTH_LEVEL_ANONYMOUS};
    auth_principal reader = {
        .level = AUTH_LEVEL_READER, .product_id = 1, .grants = consultant, .n_grants = 1};
    ck_assert(!auth_is_agency(&anon));
    ck_assert(!auth_is_agency(&reader));
    ck_assert(!auth_may_read_etab(&anon, 10));
    ck_assert(!auth_may_read_etab(&reader, 10));
    ck_assert(!auth_is_agency(NULL));
}
END_TEST

START_TEST(test_correspondent_scope)
{
    auth_principal p = person(10, corr_a_apogee, 1);
    ck_assert(auth_may_read_etab(&p, 10));
    ck_assert(!auth_may_read_etab(&p, 11));
    ck_assert(auth_may_read_installations(&p, 10));
    ck_assert(!auth_may_read_installations(&p, 11));
    ck_assert(auth_has_role(&p, AUTH_ROLE_CORRESPONDENT, 10, 1));
    ck_assert(!auth_has_role(&p, AUTH_ROLE_CORRESPONDENT, 10, 2));
    ck_assert(!auth_is_agency(&p));
}
END_TEST

START_TEST(test_member_without_role)
{
    auth_principal p = person(10, NULL, 0);
    ck_assert(auth_may_read_etab(&p, 10));
    ck_assert(!auth_may_read_installations(&p, 10));
    ck_assert(!auth_may_read_etab(&p, 0));
}
END_TEST

START_TEST(test_agency_and_contractor)
{
    auth_principal c = person(0, consultant, 1);
    ck_assert(auth_is_agency(&c));
    ck_assert(auth_may_read_etab(&c, 10));
    ck_assert(auth_may_read_installations(&c, 99));
    auth_principal k = person(0, contractor, 1);
    ck_assert(!auth_is_agency(&k));
    ck_assert(!auth_may_read_etab(&k, 10));
    auth_principal adm = person(10, admin_a, 1);
    ck_assert(auth_may_read_installations(&adm, 10));
    ck_assert(!auth_may_read_installations(&adm, 11));
}
END_TEST

START_TEST(test_names)
{
    for (int r = 0; r < AUTH_ROLE_COUNT; r++)
        ck_assert_int_eq(auth_role_parse(auth_role_name(r)), r);
    ck_assert_int_eq(auth_role_parse("root"), -1);
    ck_assert_int_eq(auth_nature_parse("technique"), AUTH_NATURE_TECHNIQUE);
    ck_assert_int_eq(auth_nature_parse("autre"), -1);
    ck_assert_int_eq(auth_nature_parse(NULL), AUTH_NATURE_NONE);
}
END_TEST

START_TEST(test_may_read_product)
{
    auth_principal anon = {.level = AUTH_LEVEL_ANONYMOUS};
    auth_principal reader = {.level = AUTH_LEVEL_READER, .product_id = 1};
    ck_assert(!auth_may_read_product(&anon, 1));
    ck_assert(!auth_may_read_product(NULL, 1));
    ck_assert(auth_may_read_product(&reader, 1));
    ck_assert(!auth_may_read_product(&reader, 2));
    ck_assert(!auth_may_read_product(&reader, 0));
    /* a correspondent's level 2 carries level 1 for its products only */
    auth_principal corr = person(10, corr_a_apogee, 1);
    ck_assert(auth_may_read_product(&corr, 1));
    ck_assert(!auth_may_read_product(&corr, 2));
    auth_principal cons = person(0, consultant, 1);
    ck_assert(auth_may_read_product(&cons, 2));
    ck_assert(!auth_may_read_product(&cons, 1));
    /* an establishment administrator or a member without role: nothing */
    auth_principal adm = person(10, admin_a, 1);
    ck_assert(!auth_may_read_product(&adm, 1));
    auth_principal member = person(10, NULL, 0);
    ck_assert(!auth_may_read_product(&member, 1));
    /* a reader session never carries grants, even if some were attached */
    auth_principal odd = {
        .level = AUTH_LEVEL_READER, .product_id = 1, .grants = consultant, .n_grants = 1};
    ck_assert(!auth_may_read_product(&odd, 2));
}
END_TEST

START_TEST(test_change_requests)
{
    static const auth_grant validator[] = {{AUTH_ROLE_VALIDATOR, AUTH_NATURE_NONE, 0, 0, 0}};
    static const auth_grant agency_admin[] = {{AUTH_ROLE_ADMIN, AUTH_NATURE_NONE, 0, 0, 0}};
    auth_principal v = person(0, validator, 1);
    ck_assert(auth_is_validator(&v));
    ck_assert(auth_may_read_changes(&v, 0));
    ck_assert(auth_may_read_changes(&v, 11));
    ck_assert(!auth_has_etab_role(&v, 11));
    auth_principal adm = person(0, agency_admin, 1);
    ck_assert(!auth_is_validator(&adm));
    ck_assert(auth_may_read_changes(&adm, 0));
    auth_principal corr = person(10, corr_a_apogee, 1);
    ck_assert(!auth_is_validator(&corr));
    ck_assert(auth_has_etab_role(&corr, 10));
    ck_assert(!auth_has_etab_role(&corr, 11));
    ck_assert(auth_may_read_changes(&corr, 10));
    ck_assert(!auth_may_read_changes(&corr, 11));
    ck_assert(!auth_may_read_changes(&corr, 0));
    auth_principal ea = person(10, admin_a, 1);
    ck_assert(auth_has_etab_role(&ea, 10));
    ck_assert(auth_may_read_changes(&ea, 10));
    auth_principal cons = person(0, consultant, 1);
    ck_assert(!auth_is_validator(&cons));
    ck_assert(!auth_may_read_changes(&cons, 10));
    ck_assert(!auth_may_read_changes(&cons, 0));
    auth_principal member = person(10, NULL, 0);
    ck_assert(!auth_has_etab_role(&member, 10));
    ck_assert(!auth_may_read_changes(&member, 10));
    auth_principal reader = {
        .level = AUTH_LEVEL_READER, .product_id = 1, .grants = validator, .n_grants = 1};
    ck_assert(!auth_is_validator(&reader));
    ck_assert(!auth_is_validator(NULL));
}
END_TEST

START_TEST(test_may_read_directory_runs)
{
    auth_principal anon = {.level = AUTH_LEVEL_ANONYMOUS};
    ck_assert(!auth_may_read_directory_runs(&anon, 10));
    ck_assert(!auth_may_read_directory_runs(NULL, 10));
    /* the establishment's administrator, for that establishment only */
    auth_principal adm = person(10, admin_a, 1);
    ck_assert(auth_may_read_directory_runs(&adm, 10));
    ck_assert(!auth_may_read_directory_runs(&adm, 11));
    ck_assert(!auth_may_read_directory_runs(&adm, 0));
    /* a correspondent, even of that establishment, and a member: no */
    auth_principal corr = person(10, corr_a_apogee, 1);
    ck_assert(!auth_may_read_directory_runs(&corr, 10));
    auth_principal member = person(10, NULL, 0);
    ck_assert(!auth_may_read_directory_runs(&member, 10));
    /* the agency, for every establishment; not a contractor */
    auth_principal cons = person(0, consultant, 1);
    ck_assert(auth_may_read_directory_runs(&cons, 10));
    ck_assert(auth_may_read_directory_runs(&cons, 11));
    auth_principal k = person(0, contractor, 1);
    ck_assert(!auth_may_read_directory_runs(&k, 10));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("auth_principal");
    TCase *tc = tcase_create("auth_principal");
    tcase_add_test(tc, test_anonymous_and_reader_denied);
    tcase_add_test(tc, test_correspondent_scope);
    tcase_add_test(tc, test_member_without_role);
    tcase_add_test(tc, test_agency_and_contractor);
    tcase_add_test(tc, test_names);
    tcase_add_test(tc, test_may_read_directory_runs);
    tcase_add_test(tc, test_may_read_product);
    tcase_add_test(tc, test_change_requests);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
