/* router: patterns, captures, 404 versus 405, the real route table. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "router.h"
#include "routes.h"

static const router_entry table[] = {
    {"GET", "/api/v1/etabs"},
    {"GET", "/api/v1/etabs/{id}"},
    {"POST", "/api/v1/etabs/{id}/change-requests"},
    {"GET", "/api/v1/etabs/{id}/change-requests"},
    {"GET", "/api/v1/das/{n}/events/{e}"},
};
#define N (sizeof(table) / sizeof(table[0]))

static int match(const char *method, const char *path, size_t caps[][2], char *allow)
{
    return router_match(table, N, sizeof(router_entry), method, path, caps, allow, 64);
}

START_TEST(test_exact_and_capture)
{
    size_t caps[ROUTER_MAX_CAPTURES][2];
    char allow[64];
    ck_assert_int_eq(match("GET", "/api/v1/etabs", caps, allow), 0);
    ck_assert_int_eq(match("GET", "/api/v1/etabs/42", caps, allow), 1);
    ck_assert_uint_eq(caps[0][1], 2);
    ck_assert_int_eq(strncmp("/api/v1/etabs/42" + caps[0][0], "42", 2), 0);
    ck_assert_int_eq(match("GET", "/api/v1/das/7/events/99", caps, allow), 4);
    ck_assert_uint_eq(caps[1][1], 2);
}
END_TEST

START_TEST(test_not_found)
{
    size_t caps[ROUTER_MAX_CAPTURES][2];
    char allow[64];
    ck_assert_int_eq(match("GET", "/api/v1/etabs/", caps, allow), ROUTER_NOT_FOUND);
    ck_assert_int_eq(match("GET", "/api/v1/etabs//x", caps, allow), ROUTER_NOT_FOUND);
    ck_assert_int_eq(match("GET", "/api/v1/etab", caps, allow), ROUTER_NOT_FOUND);
    ck_assert_int_eq(match("GET", "/api/v1/etabs/1/2", caps, allow), ROUTER_NOT_FOUND);
    ck_assert_int_eq(match("GET", "", caps, allow), ROUTER_NOT_FOUND);
    ck_assert_int_eq(match("GET", "api/v1/etabs", caps, allow), ROUTER_NOT_FOUND);
}
END_TEST

START_TEST(test_bad_method_lists_allowed)
{
    size_t caps[ROUTER_MAX_CAPTURES][2];
    char allow[64];
    ck_assert_int_eq(match("DELETE", "/api/v1/etabs/3/change-requests", caps, allow),
                     ROUTER_BAD_METHOD);
    ck_assert_str_eq(allow, "POST, GET");
    ck_assert_int_eq(match("POST", "/api/v1/etabs/3/change-requests", caps, allow), 2);
}
END_TEST

START_TEST(test_route_table_is_unambiguous)
{
    /* No two routes of the table share a method and a pattern. */
    for (size_t i = 0; i < routes_count; i++)
        for (size_t j = i + 1; j < routes_count; j++)
            ck_assert(strcmp(routes_table[i].e.method, routes_table[j].e.method) != 0 ||
                      strcmp(routes_table[i].e.pattern, routes_table[j].e.pattern) != 0);
    size_t caps[ROUTER_MAX_CAPTURES][2];
    char allow[64];
    int idx = router_match(routes_table, routes_count, sizeof(route), "GET",
                           "/api/v1/etabs/5/installations", caps, allow, sizeof(allow));
    ck_assert_int_ge(idx, 0);
    ck_assert_str_eq(routes_table[idx].e.pattern, "/api/v1/etabs/{id}/installations");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("router");
    TCase *tc = tcase_create("router_match");
    tcase_add_test(tc, test_exact_and_capture);
    tcase_add_test(tc, test_not_found);
    tcase_add_test(tc, test_bad_method_lists_allowed);
    tcase_add_test(tc, test_route_table_is_unambiguous);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
