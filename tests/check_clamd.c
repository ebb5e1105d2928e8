/* clamd: reading clamd's answers, and an unreachable scanner. (Scans
 * against a real clamd run in tests/integration/test_da_files.py.) */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "clamd.h"

START_TEST(test_parse_reply)
{
    char d[64];
    ck_assert_int_eq(clamd_parse_reply("stream: OK", d, sizeof(d)), CLAMD_CLEAN);
    ck_assert_str_eq(d, "");
    ck_assert_int_eq(clamd_parse_reply("stream: OK\n", d, sizeof(d)), CLAMD_CLEAN);
    ck_assert_int_eq(clamd_parse_reply("stream: Win.Test.EICAR_HDB-1 FOUND", d, sizeof(d)),
                     CLAMD_INFECTED);
    ck_assert_str_eq(d, "Win.Test.EICAR_HDB-1");
    ck_assert_int_eq(clamd_parse_reply("stream: Dadm.Test.UNOFFICIAL FOUND\n", d, 8),
                     CLAMD_INFECTED);
    ck_assert_str_eq(d, "Dadm.Te"); /* cut to the buffer */
    ck_assert_int_eq(clamd_parse_reply("INSTREAM size limit exceeded. ERROR", d, sizeof(d)),
                     CLAMD_ERROR);
    ck_assert_int_eq(clamd_parse_reply("", d, sizeof(d)), CLAMD_ERROR);
    ck_assert_int_eq(clamd_parse_reply(NULL, d, sizeof(d)), CLAMD_ERROR);
    ck_assert_int_eq(clamd_parse_reply("stream: FOUND", d, sizeof(d)), CLAMD_ERROR);
}
END_TEST

START_TEST(test_unreachable)
{
    char d[64];
    /* a Unix socket that does not exist, a TCP port nobody listens on, a
     * malformed address */
    ck_assert_int_eq(clamd_scan("unix:/nonexistent/clamd.sock", 1, "x", 1, d, sizeof(d)),
                     CLAMD_ERROR);
    ck_assert_int_eq(clamd_scan("/nonexistent/clamd.sock", 1, "x", 1, d, sizeof(d)), CLAMD_ERROR);
    ck_assert_int_eq(clamd_scan("127.0.0.1:1", 1, "x", 1, d, sizeof(d)), CLAMD_ERROR);
    ck_assert_int_eq(clamd_scan("tcp:nohost-no-port", 1, "x", 1, d, sizeof(d)), CLAMD_ERROR);
    ck_assert_str_eq(d, "cannot connect to clamd");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("clamd");
    TCase *tp = tcase_create("clamd_parse_reply");
    tcase_add_test(tp, test_parse_reply);
    suite_add_tcase(s, tp);
    TCase *ts = tcase_create("clamd_scan");
    tcase_add_test(ts, test_unreachable);
    suite_add_tcase(s, ts);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
