/* conf: key file, environment override, secrets from files, ranges. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"

static char path[64], secret[64];

static void setup(void)
{
    strcpy(path, "/tmp/dadm-conf-XXXXXX");
    int fd = mkstemp(path);
    strcpy(secret, "/tmp/dadm-secret-XXXXXX");
    int sfd = mkstemp(secret);
    FILE *f = fdopen(fd, "w");
    fprintf(f,
            "[http]\nport = 9000\nthreads = many\n[db]\nconninfo = dbname=x\n"
            "password_file = %s\n[flags]\non = yes\nbad = maybe\n",
            secret);
    fclose(f);
    FILE *s = fdopen(sfd, "w");
    fputs("s3cret\n", s);
    fclose(s);
    unsetenv("DADM_HTTP_PORT");
}

static void teardown(void)
{
    unlink(path);
    unlink(secret);
    unsetenv("DADM_HTTP_PORT");
}

START_TEST(test_file_values)
{
    char *err = NULL;
    conf *c = conf_load(path, &err);
    ck_assert_ptr_nonnull(c);
    bool ok = true;
    ck_assert_int_eq(conf_int(c, "http", "port", 1, 1, 65535, &ok), 9000);
    ck_assert(ok);
    ck_assert_str_eq(conf_str(c, "db", "conninfo", NULL), "dbname=x");
    ck_assert_str_eq(conf_str(c, "db", "missing", "def"), "def");
    conf_free(c);
}
END_TEST

START_TEST(test_env_overrides)
{
    setenv("DADM_HTTP_PORT", "9100", 1);
    char *err = NULL;
    conf *c = conf_load(path, &err);
    bool ok = true;
    ck_assert_int_eq(conf_int(c, "http", "port", 1, 1, 65535, &ok), 9100);
    ck_assert(ok);
    conf_free(c);
}
END_TEST

START_TEST(test_secret_file)
{
    char *err = NULL;
    conf *c = conf_load(path, &err);
    ck_assert_str_eq(conf_str(c, "db", "password", NULL), "s3cret");
    conf_free(c);
}
END_TEST

START_TEST(test_bad_values)
{
    char *err = NULL;
    conf *c = conf_load(path, &err);
    bool ok = true;
    ck_assert_int_eq(conf_int(c, "http", "threads", 4, 1, 64, &ok), 4);
    ck_assert(!ok);
    ok = true;
    ck_assert(conf_bool(c, "flags", "on", false, &ok));
    ck_assert(ok);
    ck_assert(!conf_bool(c, "flags", "bad", false, &ok));
    ck_assert(!ok);
    ok = true;
    setenv("DADM_HTTP_PORT", "70000", 1);
    conf_free(c);
    c = conf_load(path, &err);
    ck_assert_int_eq(conf_int(c, "http", "port", 8080, 1, 65535, &ok), 8080);
    ck_assert(!ok);
    conf_free(c);
}
END_TEST

START_TEST(test_missing_file)
{
    char *err = NULL;
    conf *c = conf_load("/nonexistent/dadm.conf", &err);
    ck_assert_ptr_null(c);
    ck_assert_ptr_nonnull(err);
    ck_assert_ptr_nonnull(strstr(err, "/nonexistent/dadm.conf"));
    free(err);
    c = conf_load(NULL, &err);
    ck_assert_ptr_nonnull(c);
    conf_free(c);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("conf");
    TCase *tc = tcase_create("conf_str_int_bool");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_file_values);
    tcase_add_test(tc, test_env_overrides);
    tcase_add_test(tc, test_secret_file);
    tcase_add_test(tc, test_bad_values);
    suite_add_tcase(s, tc);
    tc = tcase_create("conf_load");
    tcase_add_test(tc, test_missing_file);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
