/* auth_policy: the password rule, each forbidden character, each missing
 * class, the length, the common passwords list, the configuration. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth_policy.h"

static auth_policy *pol;
static arena *a;
static char list_path[] = "/tmp/check_auth_policy_XXXXXX";

static void setup(void)
{
    int fd = mkstemp(list_path);
    ck_assert_int_ge(fd, 0);
    const char *text = "# comment\nmotdepasse\nazerty123\n  Soleil  \n\n";
    ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    auth_policy_settings s = auth_policy_default;
    s.common_list = list_path;
    char *err = NULL;
    pol = auth_policy_new(&s, &err);
    ck_assert_ptr_nonnull(pol);
    ck_assert_ptr_null(err);
    a = arena_new(0);
}

static void teardown(void)
{
    auth_policy_free(pol);
    arena_free(a);
    unlink(list_path);
    strcpy(list_path, "/tmp/check_auth_policy_XXXXXX");
}

/* Asserts that `pw` is refused with a message containing `part`. */
static void refused_with(const char *pw, const char *part)
{
    const char *m = auth_policy_check(pol, a, pw);
    ck_assert_msg(m != NULL, "%s accepted", pw);
    ck_assert_msg(strstr(m, part) != NULL, "%s: «%s» lacks «%s»", pw, m, part);
    ck_assert_msg(strncmp(m, "Mot de passe refusé : ", strlen("Mot de passe refusé : ")) == 0, "%s",
                  m);
    ck_assert_msg(strstr(m, pw) == NULL, "the password is in the message");
}

START_TEST(test_accepts_good)
{
    ck_assert_ptr_null(auth_policy_check(pol, a, "Sentier#Vert-2031"));
    ck_assert_ptr_null(auth_policy_check(pol, a, "Dadm#Demo-2026"));
    ck_assert_ptr_null(auth_policy_check(pol, a, "Abc def 1234;"));
    ck_assert_uint_eq(auth_policy_common_count(pol), 3);
}
END_TEST

START_TEST(test_forbidden_characters)
{
    refused_with("Sentier!Vert-2031", "« ! »");
    refused_with("Sentier?Vert-2031", "« ? »");
    refused_with("Sentier*Vert-2031", "« * »");
    refused_with("Sentier@Vert-2031", "« @ »");
    refused_with("Éléphant#Rose-2031", "lettres accentuées");
    refused_with("çaSentier#Vert2031", "le ç");
    refused_with("Sentier#Vért-2031", "lettres accentuées");
    refused_with("Sentier\t#Vert-2031", "contrôle");
    /* each forbidden character named once, even when repeated */
    const char *m = auth_policy_check(pol, a, "Sentier!!Vert!2031#");
    ck_assert_ptr_nonnull(m);
    ck_assert_ptr_null(strstr(strstr(m, "« ! »") + 1, "« ! »"));
}
END_TEST

START_TEST(test_missing_classes)
{
    refused_with("sentier#vert-2031", "il manque une majuscule");
    refused_with("SENTIER#VERT-2031", "il manque une minuscule");
    refused_with("Sentier#Vert-Bleu", "il manque un chiffre");
    refused_with("SentierVert2031xx", "il manque un caractère spécial");
    refused_with("sentiervertbleuxx", "une majuscule, un chiffre et un caractère spécial");
    /* a forbidden character is not a special one */
    refused_with("SentierVert2031!", "un caractère spécial");
}
END_TEST

START_TEST(test_length)
{
    refused_with("Court#1a", "au moins 12 caractères (il en compte 8)");
    ck_assert_ptr_null(auth_policy_check(pol, a, "Court#1a-xyz"));
    /* counted in characters, not bytes: é is refused anyway, but counts 1 */
    refused_with("Ééééé#1a", "il en compte 8");
    char longpw[AUTH_POLICY_MAX_LENGTH + 10];
    memset(longpw, 'a', sizeof(longpw) - 1);
    longpw[sizeof(longpw) - 1] = '\0';
    memcpy(longpw, "A#1", 3);
    refused_with(longpw, "ne doit pas dépasser");
}
END_TEST

START_TEST(test_common)
{
    refused_with("Motdepasse#2026", "mot de passe courant");
    refused_with("Soleil#2026-", "mot de passe courant");
}
END_TEST

START_TEST(test_common_variants)
{
    /* the list entry itself in any case, or it with digits and symbols around */
    refused_with("#Azerty123--", "courant");
    refused_with("MotDePasse#2026-", "courant");
    ck_assert_ptr_null(auth_policy_check(pol, a, "Soleils#2026-x"));
}
END_TEST

START_TEST(test_configurable)
{
    auth_policy_settings s = auth_policy_default;
    s.min_length = 8;
    s.need_special = false;
    s.forbidden = "#";
    s.forbid_non_ascii = false;
    char *err = NULL;
    auth_policy *p = auth_policy_new(&s, &err);
    ck_assert_ptr_nonnull(p);
    ck_assert_ptr_null(auth_policy_check(p, a, "Abcdefg1"));
    ck_assert_ptr_null(auth_policy_check(p, a, "Abcdéfg1!"));
    ck_assert_ptr_nonnull(auth_policy_check(p, a, "Abcdefg1#"));
    ck_assert_uint_eq(auth_policy_common_count(p), 0);
    auth_policy_free(p);
    auth_policy_free(NULL);
}
END_TEST

START_TEST(test_missing_list)
{
    auth_policy_settings s = auth_policy_default;
    s.common_list = "/nonexistent/common-passwords.txt";
    char *err = NULL;
    ck_assert_ptr_null(auth_policy_new(&s, &err));
    ck_assert_ptr_nonnull(err);
    ck_assert_ptr_nonnull(strstr(err, "/nonexistent/common-passwords.txt"));
    free(err);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("auth_policy");
    TCase *tc = tcase_create("auth_policy_check");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_accepts_good);
    tcase_add_test(tc, test_forbidden_characters);
    tcase_add_test(tc, test_missing_classes);
    tcase_add_test(tc, test_length);
    tcase_add_test(tc, test_common);
    tcase_add_test(tc, test_common_variants);
    suite_add_tcase(s, tc);
    TCase *tn = tcase_create("auth_policy_new");
    tcase_add_checked_fixture(tn, setup, teardown);
    tcase_add_test(tn, test_configurable);
    tcase_add_test(tn, test_missing_list);
    suite_add_tcase(s, tn);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
