/* metrics: counters by route and status, cumulative histogram buckets. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"

static const char *const names[] = {"/healthz", "/api/v1/etabs/{id}"};

START_TEST(test_render)
{
    ck_assert_int_eq(metrics_init(names, 2), 0);
    metrics_observe(1, 200, 0.003);
    metrics_observe(1, 200, 0.2);
    metrics_observe(1, 404, 0.0001);
    metrics_observe(7, 404, 0.0001); /* out of range: counted as unmatched */
    metrics_pool(2, 4);
    arena *a = arena_new(0);
    char *t = metrics_render(a);
    ck_assert_ptr_nonnull(t);
    ck_assert_ptr_nonnull(
        strstr(t, "dadm_http_requests_total{route=\"/api/v1/etabs/{id}\",status=\"200\"} 2\n"));
    ck_assert_ptr_nonnull(
        strstr(t, "dadm_http_requests_total{route=\"/api/v1/etabs/{id}\",status=\"404\"} 1\n"));
    ck_assert_ptr_nonnull(
        strstr(t, "dadm_http_requests_total{route=\"unmatched\",status=\"404\"} 1\n"));
    ck_assert_ptr_null(strstr(t, "route=\"/healthz\",status="));
    ck_assert_ptr_nonnull(strstr(t, "dadm_http_request_duration_seconds_bucket{route=\"/api/v1/"
                                    "etabs/{id}\",le=\"0.005\"} 2\n"));
    ck_assert_ptr_nonnull(strstr(
        t,
        "dadm_http_request_duration_seconds_bucket{route=\"/api/v1/etabs/{id}\",le=\"+Inf\"} 3\n"));
    ck_assert_ptr_nonnull(strstr(t, "dadm_db_pool_in_use 2\n"));
    ck_assert_ptr_nonnull(strstr(t, "dadm_db_pool_size 4\n"));
    arena_free(a);
    metrics_shutdown();
}
END_TEST

int main(void)
{
    Suite *s = suite_create("metrics");
    TCase *tc = tcase_create("metrics_render");
    tcase_add_test(tc, test_render);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
