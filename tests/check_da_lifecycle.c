/* da_lifecycle: the properties of the one table that says who moves a DA
 * from where to where. What touches the database is tested in
 * tests/integration/test_das.py. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "da_lifecycle.h"

START_TEST(test_names_round_trip)
{
    for (int i = 0; i < DA_STATUS_COUNT; i++)
        ck_assert_int_eq(da_status_parse(da_status_name(i)), i);
    ck_assert_int_eq(da_status_parse("ECT"), DA_ECT);
    ck_assert_int_eq(da_status_parse("ect"), -1);
    ck_assert_int_eq(da_status_parse(""), -1);
    ck_assert_int_eq(da_status_parse(NULL), -1);
    for (int i = 1; i < DA_SUB_COUNT; i++)
        ck_assert_int_eq(da_sub_parse(da_sub_name(i)), i);
    ck_assert_ptr_null(da_sub_name(DA_SUB_NONE));
    ck_assert_int_eq(da_sub_parse(NULL), DA_SUB_NONE);
    ck_assert_int_eq(da_sub_parse(""), DA_SUB_NONE);
    ck_assert_int_eq(da_sub_parse("XX"), -1);
    ck_assert_str_eq(da_actor_name(DA_ACTOR_AGENCY), "agency");
    ck_assert_str_eq(da_action_name(DA_ACTION_AUTO_CLOSURE), "auto_closure");
    for (int i = 0; i < DA_STATUS_COUNT; i++)
        ck_assert(strlen(da_status_label(i)) > 3);
}
END_TEST

START_TEST(test_closed_statuses)
{
    const da_status closed[] = {DA_TER, DA_EXC, DA_REJ, DA_ABN, DA_REM};
    int n = 0;
    for (int i = 0; i < DA_STATUS_COUNT; i++)
        n += da_status_closed(i);
    ck_assert_int_eq(n, 5);
    for (size_t i = 0; i < 5; i++)
        ck_assert(da_status_closed(closed[i]));
    ck_assert(!da_status_closed(DA_AVS));
}
END_TEST

/* Every status is reachable from NEW through the table. */
START_TEST(test_every_status_reachable)
{
    size_t n;
    const da_move *t = da_lifecycle_table(&n);
    bool seen[DA_STATUS_COUNT] = {[DA_NEW] = true};
    bool grew = true;
    while (grew) {
        grew = false;
        for (size_t i = 0; i < n; i++)
            if (seen[t[i].from] && !seen[t[i].to])
                seen[t[i].to] = grew = true;
    }
    for (int s = 0; s < DA_STATUS_COUNT; s++)
        ck_assert_msg(seen[s], "%s is unreachable", da_status_name(s));
}
END_TEST

/* Closed statuses have no way out; every open status but NEW has one. */
START_TEST(test_ways_out)
{
    size_t n;
    const da_move *t = da_lifecycle_table(&n);
    for (int s = 0; s < DA_STATUS_COUNT; s++) {
        size_t out = 0;
        for (size_t i = 0; i < n; i++)
            out += t[i].from == (da_status)s;
        if (da_status_closed(s))
            ck_assert_msg(out == 0, "%s is closed but has a way out", da_status_name(s));
        else
            ck_assert_msg(out > 0, "%s is a dead end", da_status_name(s));
    }
}
END_TEST

/* Sub-statuses only on DEV (required), PEC and CTR (optional); every row
 * of the table holds valid pairs and moves somewhere. */
START_TEST(test_sub_statuses)
{
    ck_assert(da_sub_valid(DA_DEV, DA_SUB_INI));
    ck_assert(da_sub_valid(DA_DEV, DA_SUB_SUS));
    ck_assert(!da_sub_valid(DA_DEV, DA_SUB_NONE));
    ck_assert(!da_sub_valid(DA_DEV, DA_SUB_TND));
    ck_assert(da_sub_valid(DA_PEC, DA_SUB_NONE));
    ck_assert(da_sub_valid(DA_PEC, DA_SUB_TND));
    ck_assert(!da_sub_valid(DA_PEC, DA_SUB_EC));
    ck_assert(da_sub_valid(DA_CTR, DA_SUB_NONE));
    ck_assert(da_sub_valid(DA_CTR, DA_SUB_EC));
    ck_assert(!da_sub_valid(DA_CTR, DA_SUB_INI));
    for (int s = 0; s < DA_STATUS_COUNT; s++) {
        if (s == DA_DEV || s == DA_PEC || s == DA_CTR)
            continue;
        ck_assert(da_sub_valid(s, DA_SUB_NONE));
        for (int sub = 1; sub < DA_SUB_COUNT; sub++)
            ck_assert_msg(!da_sub_valid(s, sub), "%s takes a sub-status", da_status_name(s));
    }
    size_t n;
    const da_move *t = da_lifecycle_table(&n);
    for (size_t i = 0; i < n; i++) {
        ck_assert_msg(t[i].from_sub == DA_SUB_ANY || da_sub_valid(t[i].from, t[i].from_sub),
                      "row %zu: bad from pair", i);
        ck_assert_msg(da_sub_valid(t[i].to, t[i].to_sub), "row %zu: bad to pair", i);
        ck_assert_msg(t[i].from != t[i].to || t[i].from_sub != t[i].to_sub, "row %zu moves nowhere",
                      i);
        /* No row twice. */
        for (size_t j = i + 1; j < n; j++)
            ck_assert_msg(memcmp(&t[i], &t[j], sizeof(t[i])) != 0, "rows %zu and %zu", i, j);
    }
}
END_TEST

/* Each action belongs to its actors only. */
START_TEST(test_actions_per_actor)
{
    size_t n;
    const da_move *t = da_lifecycle_table(&n);
    for (size_t i = 0; i < n; i++) {
        switch (t[i].action) {
        case DA_ACTION_ANSWER:
        case DA_ACTION_VALIDATION:
        case DA_ACTION_REFUSAL:
            ck_assert_int_eq(t[i].actor, DA_ACTOR_SITE);
            break;
        case DA_ACTION_QUESTION:
        case DA_ACTION_EXTERNALISATION:
        case DA_ACTION_STATUS:
            ck_assert_int_eq(t[i].actor, DA_ACTOR_AGENCY);
            break;
        case DA_ACTION_SOLUTION:
            ck_assert(t[i].actor == DA_ACTOR_AGENCY || t[i].actor == DA_ACTOR_CONTRACTOR);
            /* The contractor's solutions wait for the agency; the agency's go to the site. */
            ck_assert_int_eq(t[i].to, t[i].actor == DA_ACTOR_CONTRACTOR ? DA_AVA : DA_AVS);
            break;
        case DA_ACTION_FILED:
        case DA_ACTION_AUTO_CLOSURE:
            ck_assert_int_eq(t[i].actor, DA_ACTOR_SYSTEM);
            break;
        case DA_ACTION_COUNT:
            ck_abort_msg("row %zu has no action", i);
        }
        /* Only the site's validation ends in TER from AVS; the timers in ABN. */
        if (t[i].to == DA_ABN)
            ck_assert_int_eq(t[i].actor, DA_ACTOR_SYSTEM);
    }
    ck_assert(da_lifecycle_actor_may(DA_ACTOR_SITE, DA_ACTION_ANSWER));
    ck_assert(!da_lifecycle_actor_may(DA_ACTOR_SITE, DA_ACTION_QUESTION));
    ck_assert(!da_lifecycle_actor_may(DA_ACTOR_SITE, DA_ACTION_STATUS));
    ck_assert(!da_lifecycle_actor_may(DA_ACTOR_CONTRACTOR, DA_ACTION_QUESTION));
    ck_assert(!da_lifecycle_actor_may(DA_ACTOR_CONTRACTOR, DA_ACTION_STATUS));
    ck_assert(da_lifecycle_actor_may(DA_ACTOR_CONTRACTOR, DA_ACTION_SOLUTION));
    ck_assert(!da_lifecycle_actor_may(DA_ACTOR_AGENCY, DA_ACTION_VALIDATION));
    ck_assert(!da_lifecycle_actor_may(DA_ACTOR_AGENCY, DA_ACTION_AUTO_CLOSURE));
}
END_TEST

/* Allowed and refused examples, per actor. */
START_TEST(test_examples)
{
    /* site */
    ck_assert_ptr_nonnull(
        da_lifecycle_find(DA_ACTOR_SITE, DA_ACTION_ANSWER, DA_ARS, DA_SUB_NONE, DA_ECT, 0));
    ck_assert_ptr_nonnull(
        da_lifecycle_find(DA_ACTOR_SITE, DA_ACTION_VALIDATION, DA_AVS, DA_SUB_NONE, DA_TER, 0));
    ck_assert_ptr_nonnull(
        da_lifecycle_find(DA_ACTOR_SITE, DA_ACTION_REFUSAL, DA_AVS, DA_SUB_NONE, DA_INT, 0));
    ck_assert_ptr_null(da_lifecycle_target(DA_ACTOR_SITE, DA_ACTION_ANSWER, DA_ECT, DA_SUB_NONE));
    ck_assert_ptr_null(
        da_lifecycle_target(DA_ACTOR_SITE, DA_ACTION_VALIDATION, DA_ARS, DA_SUB_NONE));
    ck_assert_ptr_null(
        da_lifecycle_find(DA_ACTOR_SITE, DA_ACTION_STATUS, DA_ECT, DA_SUB_NONE, DA_TER, 0));
    /* agency */
    const da_move *m = da_lifecycle_target(DA_ACTOR_AGENCY, DA_ACTION_QUESTION, DA_ECT, 0);
    ck_assert_ptr_nonnull(m);
    ck_assert_int_eq(m->to, DA_ARS);
    m = da_lifecycle_target(DA_ACTOR_AGENCY, DA_ACTION_SOLUTION, DA_AVA, 0);
    ck_assert_ptr_nonnull(m);
    ck_assert_int_eq(m->to, DA_AVS);
    ck_assert_ptr_nonnull(
        da_lifecycle_find(DA_ACTOR_AGENCY, DA_ACTION_STATUS, DA_AVA, 0, DA_EXT, 0));
    ck_assert_ptr_nonnull(
        da_lifecycle_find(DA_ACTOR_AGENCY, DA_ACTION_STATUS, DA_ADV, 0, DA_DEV, DA_SUB_INI));
    ck_assert_ptr_nonnull(da_lifecycle_find(DA_ACTOR_AGENCY, DA_ACTION_STATUS, DA_DEV, DA_SUB_EC,
                                            DA_DEV, DA_SUB_CLO));
    ck_assert_ptr_null(da_lifecycle_find(DA_ACTOR_AGENCY, DA_ACTION_STATUS, DA_DEV, DA_SUB_INI,
                                         DA_DEV, DA_SUB_CLO));
    ck_assert_ptr_null(da_lifecycle_find(DA_ACTOR_AGENCY, DA_ACTION_STATUS, DA_ADV, 0, DA_DEV, 0));
    ck_assert_ptr_nonnull(
        da_lifecycle_find(DA_ACTOR_AGENCY, DA_ACTION_STATUS, DA_ECT, 0, DA_REJ, 0));
    ck_assert_ptr_null(da_lifecycle_find(DA_ACTOR_AGENCY, DA_ACTION_STATUS, DA_AVS, 0, DA_TER, 0));
    ck_assert_ptr_null(da_lifecycle_find(DA_ACTOR_AGENCY, DA_ACTION_STATUS, DA_TER, 0, DA_INT, 0));
    ck_assert_ptr_null(da_lifecycle_target(DA_ACTOR_AGENCY, DA_ACTION_QUESTION, DA_ARS, 0));
    ck_assert_ptr_null(da_lifecycle_target(DA_ACTOR_AGENCY, DA_ACTION_EXTERNALISATION, DA_EXT, 0));
    /* contractor */
    m = da_lifecycle_target(DA_ACTOR_CONTRACTOR, DA_ACTION_SOLUTION, DA_EXT, 0);
    ck_assert_ptr_nonnull(m);
    ck_assert_int_eq(m->to, DA_AVA);
    ck_assert_ptr_null(da_lifecycle_target(DA_ACTOR_CONTRACTOR, DA_ACTION_SOLUTION, DA_INT, 0));
    ck_assert_ptr_null(da_lifecycle_target(DA_ACTOR_CONTRACTOR, DA_ACTION_SOLUTION, DA_AVA, 0));
    /* system */
    ck_assert_ptr_nonnull(
        da_lifecycle_find(DA_ACTOR_SYSTEM, DA_ACTION_AUTO_CLOSURE, DA_ARS, 0, DA_ABN, 0));
    ck_assert_ptr_nonnull(
        da_lifecycle_find(DA_ACTOR_SYSTEM, DA_ACTION_AUTO_CLOSURE, DA_AVS, 0, DA_ABN, 0));
    ck_assert_ptr_null(
        da_lifecycle_find(DA_ACTOR_SYSTEM, DA_ACTION_AUTO_CLOSURE, DA_ECT, 0, DA_ABN, 0));
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("da_lifecycle");
    TCase *tc = tcase_create("names");
    tcase_add_test(tc, test_names_round_trip);
    tcase_add_test(tc, test_closed_statuses);
    suite_add_tcase(s, tc);
    tc = tcase_create("table");
    tcase_add_test(tc, test_every_status_reachable);
    tcase_add_test(tc, test_ways_out);
    tcase_add_test(tc, test_sub_statuses);
    tcase_add_test(tc, test_actions_per_actor);
    suite_add_tcase(s, tc);
    tc = tcase_create("find");
    tcase_add_test(tc, test_examples);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
