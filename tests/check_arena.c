/* arena: allocation, cap, cleanups in reverse order, NULL-safety. */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"

static int order[8], norder;

static void record(void *p)
{
    order[norder++] = (int)(intptr_t)p;
}

START_TEST(test_alloc_zeroed_aligned)
{
    arena *a = arena_new(0);
    ck_assert_ptr_nonnull(a);
    for (int i = 1; i < 200; i++) {
        unsigned char *p = arena_alloc(a, (size_t)i * 7);
        ck_assert_ptr_nonnull(p);
        ck_assert_uint_eq((uintptr_t)p % 16, 0);
        for (int k = 0; k < i * 7; k++)
            ck_assert_uint_eq(p[k], 0);
        memset(p, 0xab, (size_t)i * 7);
    }
    void *big = arena_alloc(a, 100000);
    ck_assert_ptr_nonnull(big);
    arena_free(a);
}
END_TEST

START_TEST(test_cap)
{
    arena *a = arena_new(1024);
    ck_assert_ptr_nonnull(arena_alloc(a, 1000));
    ck_assert_ptr_null(arena_alloc(a, 100));
    ck_assert_ptr_nonnull(arena_alloc(a, 16));
    ck_assert_ptr_null(arena_alloc(a, SIZE_MAX));
    ck_assert_uint_le(arena_used(a), 1024);
    arena_free(a);
}
END_TEST

START_TEST(test_strings)
{
    arena *a = arena_new(0);
    ck_assert_str_eq(arena_strdup(a, "été"), "été");
    ck_assert_str_eq(arena_strndup(a, "abcdef", 3), "abc");
    ck_assert_str_eq(arena_printf(a, "%s-%d", "x", 42), "x-42");
    ck_assert_ptr_null(arena_strdup(a, NULL));
    arena_free(a);
}
END_TEST

START_TEST(test_defer_reverse_order)
{
    norder = 0;
    arena *a = arena_new(0);
    for (int i = 1; i <= 3; i++)
        ck_assert_int_eq(arena_defer(a, record, (void *)(intptr_t)i), 0);
    arena_free(a);
    ck_assert_int_eq(norder, 3);
    ck_assert_int_eq(order[0], 3);
    ck_assert_int_eq(order[2], 1);
}
END_TEST

START_TEST(test_defer_on_null_runs_now)
{
    norder = 0;
    ck_assert_int_eq(arena_defer(NULL, record, (void *)(intptr_t)7), -1);
    ck_assert_int_eq(norder, 1);
    ck_assert_int_eq(order[0], 7);
    arena_free(NULL);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("arena");
    TCase *tc = tcase_create("arena_alloc");
    tcase_add_test(tc, test_alloc_zeroed_aligned);
    tcase_add_test(tc, test_cap);
    tcase_add_test(tc, test_strings);
    suite_add_tcase(s, tc);
    tc = tcase_create("arena_defer");
    tcase_add_test(tc, test_defer_reverse_order);
    tcase_add_test(tc, test_defer_on_null_runs_now);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
