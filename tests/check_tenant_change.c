/* tenant_change: the pure parts — chapters, field checks, witness files,
 * base64. What touches the database is tested in
 * tests/integration/test_changes.py. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "tenant_change.h"

START_TEST(test_chapter_names)
{
    for (int i = 0; i < TENANT_CHANGE_CHAPTER_COUNT; i++)
        ck_assert_int_eq(tenant_change_chapter_parse(tenant_change_chapter_name(i)), i);
    ck_assert_int_eq(tenant_change_chapter_parse("profile"), TENANT_CHANGE_PROFILE);
    ck_assert_int_eq(tenant_change_chapter_parse("correspondent_add"),
                     TENANT_CHANGE_CORRESPONDENT_ADD);
    ck_assert_int_eq(tenant_change_chapter_parse("Profile"), -1);
    ck_assert_int_eq(tenant_change_chapter_parse(""), -1);
    ck_assert_int_eq(tenant_change_chapter_parse(NULL), -1);
    ck_assert_str_eq(tenant_change_chapter_name(TENANT_CHANGE_CHAPTER_COUNT), "unknown");
}
END_TEST

START_TEST(test_chapter_scope)
{
    ck_assert_int_eq(tenant_change_chapter_scope(TENANT_CHANGE_PROFILE), TENANT_CHANGE_SCOPE_SELF);
    ck_assert_int_eq(tenant_change_chapter_scope(TENANT_CHANGE_ETAB), TENANT_CHANGE_SCOPE_ETAB);
    ck_assert_int_eq(tenant_change_chapter_scope(TENANT_CHANGE_SERVER),
                     TENANT_CHANGE_SCOPE_INSTALLATION);
    ck_assert_int_eq(tenant_change_chapter_scope(TENANT_CHANGE_VERSION),
                     TENANT_CHANGE_SCOPE_INSTALLATION);
    ck_assert_int_eq(tenant_change_chapter_scope(TENANT_CHANGE_CORRESPONDENT_ADD),
                     TENANT_CHANGE_SCOPE_CORRESPONDENTS);
    ck_assert_int_eq(tenant_change_chapter_scope(TENANT_CHANGE_CORRESPONDENT_REMOVE),
                     TENANT_CHANGE_SCOPE_CORRESPONDENTS);
    ck_assert_int_eq(tenant_change_chapter_scope(TENANT_CHANGE_CORRESPONDENT_UPDATE),
                     TENANT_CHANGE_SCOPE_CORRESPONDENTS);
}
END_TEST

START_TEST(test_status_valid)
{
    ck_assert(tenant_change_status_valid("pending"));
    ck_assert(tenant_change_status_valid("approved"));
    ck_assert(tenant_change_status_valid("refused"));
    ck_assert(tenant_change_status_valid("withdrawn"));
    ck_assert(!tenant_change_status_valid("PENDING"));
    ck_assert(!tenant_change_status_valid(""));
    ck_assert(!tenant_change_status_valid(NULL));
}
END_TEST

/* One data-driven case: chapter, field, value, expected fragment of the
 * message (NULL: accepted). */
typedef struct {
    tenant_change_chapter c;
    const char *field, *value, *message;
} value_case;

static const value_case value_cases[] = {
    /* e-mail */
    {TENANT_CHANGE_PROFILE, "email", "prenom.nom@univ-exemple.fr", NULL},
    {TENANT_CHANGE_PROFILE, "email", "a+b@sous.domaine.fr", NULL},
    {TENANT_CHANGE_PROFILE, "email", "sans-arobase", "adresse électronique"},
    {TENANT_CHANGE_PROFILE, "email", "a@b", "adresse électronique"},
    {TENANT_CHANGE_PROFILE, "email", "a@@b.fr", "adresse électronique"},
    {TENANT_CHANGE_PROFILE, "email", "a b@c.fr", "adresse électronique"},
    {TENANT_CHANGE_PROFILE, "email", "a@c..fr", "adresse électronique"},
    {TENANT_CHANGE_PROFILE, "email", ".a@c.fr", "adresse électronique"},
    {TENANT_CHANGE_PROFILE, "email", "<a@c.fr>", "adresse électronique"},
    {TENANT_CHANGE_PROFILE, "email", NULL, "obligatoire"},
    {TENANT_CHANGE_ETAB, "generic_email", NULL, NULL},
    {TENANT_CHANGE_ETAB, "generic_email", "x@", "adresse électronique"},
    /* phone */
    {TENANT_CHANGE_PROFILE, "phone", "03 68 85 00 00", NULL},
    {TENANT_CHANGE_PROFILE, "phone", "+33 (0)3 68 85 00 00", NULL},
    {TENANT_CHANGE_PROFILE, "phone", "03.68.85.00.00", NULL},
    {TENANT_CHANGE_PROFILE, "phone", NULL, NULL},
    {TENANT_CHANGE_PROFILE, "phone", "12", "téléphone"},
    {TENANT_CHANGE_PROFILE, "phone", "-- -- --", "téléphone"},
    {TENANT_CHANGE_PROFILE, "phone", "03 68 85 00 0x", "téléphone"},
    {TENANT_CHANGE_PROFILE, "phone", "++33 3 68 85 00 00", "téléphone"},
    {TENANT_CHANGE_PROFILE, "phone", "0123456789012345678901234567890", "téléphone"},
    /* URL */
    {TENANT_CHANGE_ETAB, "website", "https://www.unistra.fr", NULL},
    {TENANT_CHANGE_ETAB, "website", "http://intranet.univ.fr/dadm?x=1", NULL},
    {TENANT_CHANGE_ETAB, "website", "ftp://x.fr", "https://"},
    {TENANT_CHANGE_ETAB, "website", "https://", "https://"},
    {TENANT_CHANGE_ETAB, "website", "https:///chemin", "https://"},
    {TENANT_CHANGE_ETAB, "website", "https://a b.fr", "https://"},
    {TENANT_CHANGE_ETAB, "website", "www.unistra.fr", "https://"},
    /* size class */
    {TENANT_CHANGE_ETAB, "size_class", "tres_grand", NULL},
    {TENANT_CHANGE_ETAB, "size_class", "géant", "taille"},
    {TENANT_CHANGE_ETAB, "size_class", NULL, "obligatoire"},
    /* server texts */
    {TENANT_CHANGE_SERVER, "server_os", "RHEL 9.4", NULL},
    {TENANT_CHANGE_SERVER, "server_os", "Système « é »", NULL},
    {TENANT_CHANGE_SERVER, "server_os", "a\tb", "contrôle"},
    {TENANT_CHANGE_SERVER, "server_notes", "ligne 1\nligne 2", NULL},
    {TENANT_CHANGE_SERVER, "server_notes", "bip\a", "contrôle"},
    {TENANT_CHANGE_SERVER, "server_os", NULL, NULL},
    /* version */
    {TENANT_CHANGE_VERSION, "version", "6.40.10", NULL},
    {TENANT_CHANGE_VERSION, "version", "V5.0", NULL},
    {TENANT_CHANGE_VERSION, "version", ".5", "version"},
    {TENANT_CHANGE_VERSION, "version", "6 40", "version"},
    {TENANT_CHANGE_VERSION, "version", "", "version"},
    {TENANT_CHANGE_VERSION, "version", NULL, "obligatoire"},
    /* correspondents */
    {TENANT_CHANGE_CORRESPONDENT_ADD, "login", "jean.dupont", NULL},
    {TENANT_CHANGE_CORRESPONDENT_ADD, "login", "jdupont@univ.fr", NULL},
    {TENANT_CHANGE_CORRESPONDENT_ADD, "login", "Jean.Dupont", "identifiant"},
    {TENANT_CHANGE_CORRESPONDENT_ADD, "login", ".jean", "identifiant"},
    {TENANT_CHANGE_CORRESPONDENT_ADD, "login", "j", "identifiant"},
    {TENANT_CHANGE_CORRESPONDENT_ADD, "nature", "fonctionnel", NULL},
    {TENANT_CHANGE_CORRESPONDENT_ADD, "nature", "technique", NULL},
    {TENANT_CHANGE_CORRESPONDENT_ADD, "nature", "Technique", "nature"},
    {TENANT_CHANGE_CORRESPONDENT_ADD, "given_name", "Chloé", NULL},
    {TENANT_CHANGE_CORRESPONDENT_ADD, "given_name", "", "nom"},
    {TENANT_CHANGE_CORRESPONDENT_REMOVE, "nature", NULL, "obligatoire"},
    {TENANT_CHANGE_CORRESPONDENT_REMOVE, "login", "x.y", "identité"},
    {TENANT_CHANGE_CORRESPONDENT_UPDATE, "phone", "05 49 45 30 00", NULL},
    /* identity is never rewritten; unknown fields are refused */
    {TENANT_CHANGE_PROFILE, "family_name", "Autre", "identité"},
    {TENANT_CHANGE_PROFILE, "given_name", "Autre", "identité"},
    {TENANT_CHANGE_PROFILE, "login", "autre", "identité"},
    {TENANT_CHANGE_PROFILE, "sso_eppn", "x@y", "identité"},
    {TENANT_CHANGE_CORRESPONDENT_UPDATE, "family_name", "Autre", "identité"},
    {TENANT_CHANGE_PROFILE, "fax", "1", "n'existe pas"},
    {TENANT_CHANGE_ETAB, "uai", "0673021V", "n'existe pas"},
    {TENANT_CHANGE_SERVER, "version", "1", "n'existe pas"},
};

START_TEST(test_check_value)
{
    const value_case *k = &value_cases[_i];
    const char *msg = tenant_change_check_value(k->c, k->field, k->value);
    if (!k->message) {
        ck_assert_msg(msg == NULL, "%s=%s refused: %s", k->field, k->value, msg);
    } else {
        ck_assert_msg(msg != NULL, "%s=%s accepted", k->field, k->value);
        ck_assert_msg(strstr(msg, k->message), "%s: «%s» lacks «%s»", k->field, msg, k->message);
    }
}
END_TEST

START_TEST(test_check_value_bounds)
{
    char text[2002];
    memset(text, 'x', sizeof(text) - 1);
    text[100] = '\0';
    ck_assert_ptr_null(tenant_change_check_value(TENANT_CHANGE_SERVER, "server_os", text));
    text[100] = 'x';
    text[101] = '\0';
    ck_assert_ptr_nonnull(tenant_change_check_value(TENANT_CHANGE_SERVER, "server_os", text));
    /* characters, not bytes: 100 "é" are 200 bytes and accepted */
    char accents[201];
    for (int i = 0; i < 100; i++)
        memcpy(accents + 2 * i, "\xc3\xa9", 2);
    accents[200] = '\0';
    ck_assert_ptr_null(tenant_change_check_value(TENANT_CHANGE_SERVER, "server_db", accents));
    memset(text, 'y', sizeof(text) - 1);
    text[2000] = '\0';
    ck_assert_ptr_null(tenant_change_check_value(TENANT_CHANGE_SERVER, "server_notes", text));
    text[2000] = 'y';
    text[2001] = '\0';
    ck_assert_ptr_nonnull(tenant_change_check_value(TENANT_CHANGE_SERVER, "server_notes", text));
    ck_assert_ptr_nonnull(tenant_change_check_value(TENANT_CHANGE_CHAPTER_COUNT, "x", "y"));
    ck_assert_ptr_nonnull(tenant_change_check_value(TENANT_CHANGE_PROFILE, NULL, "y"));
    /* local part over 64 characters */
    char mail[80];
    memset(mail, 'm', 65);
    strcpy(mail + 65, "@univ.fr");
    ck_assert_ptr_nonnull(tenant_change_check_value(TENANT_CHANGE_PROFILE, "email", mail));
    strcpy(mail + 64, "@univ.fr");
    ck_assert_ptr_null(tenant_change_check_value(TENANT_CHANGE_PROFILE, "email", mail + 0));
}
END_TEST

START_TEST(test_check_file_name)
{
    ck_assert_ptr_null(tenant_change_check_file_name("apogee.ver"));
    ck_assert_ptr_null(tenant_change_check_file_name("APO_6.40.10-patch.ver"));
    ck_assert_ptr_nonnull(tenant_change_check_file_name(NULL));
    ck_assert_ptr_nonnull(tenant_change_check_file_name(""));
    ck_assert_ptr_nonnull(tenant_change_check_file_name(".ver"));
    ck_assert_ptr_nonnull(tenant_change_check_file_name("notes.txt"));
    ck_assert_ptr_nonnull(tenant_change_check_file_name("apogee.VER"));
    ck_assert_ptr_nonnull(tenant_change_check_file_name("../apogee.ver"));
    ck_assert_ptr_nonnull(tenant_change_check_file_name("dir/apogee.ver"));
    ck_assert_ptr_nonnull(tenant_change_check_file_name(".hidden.ver"));
    ck_assert_ptr_nonnull(tenant_change_check_file_name("a b.ver"));
    char longname[120];
    memset(longname, 'a', 97);
    strcpy(longname + 97, ".ver");
    ck_assert_ptr_nonnull(tenant_change_check_file_name(longname));
    strcpy(longname + 96, ".ver");
    ck_assert_ptr_null(tenant_change_check_file_name(longname));
}
END_TEST

static bool decode(const char *in, char *out, size_t cap, size_t *n)
{
    return tenant_change_base64_decode(in, strlen(in), (unsigned char *)out, cap, n);
}

START_TEST(test_base64_decode)
{
    char out[16];
    size_t n;
    ck_assert(decode("", out, sizeof(out), &n));
    ck_assert_uint_eq(n, 0);
    ck_assert(decode("aGVsbG8=", out, sizeof(out), &n));
    ck_assert_uint_eq(n, 5);
    ck_assert(memcmp(out, "hello", 5) == 0);
    ck_assert(decode("aGk=", out, sizeof(out), &n) && n == 2 && memcmp(out, "hi", 2) == 0);
    ck_assert(decode("aA==", out, sizeof(out), &n) && n == 1 && out[0] == 'h');
    ck_assert(decode("+/+/", out, sizeof(out), &n) && n == 3);
    /* refused: no padding, bad characters, whitespace, padding inside,
     * non-canonical trailing bits, too long for the buffer */
    ck_assert(!decode("aGVsbG8", out, sizeof(out), &n));
    ck_assert(!decode("aGV*bG8=", out, sizeof(out), &n));
    ck_assert(!decode("aGVs\nbG8=", out, sizeof(out), &n));
    ck_assert(!decode("aG==bG8=", out, sizeof(out), &n));
    ck_assert(!decode("a===", out, sizeof(out), &n));
    ck_assert(!decode("aB==", out, sizeof(out), &n));
    ck_assert(!decode("aGk_", out, sizeof(out), &n));
    ck_assert(!decode("aGVsbG8=", out, 4, &n));
    ck_assert(decode("aGVsbG8=", out, 5, &n));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("tenant_change");
    TCase *tc = tcase_create("chapter_name_parse");
    tcase_add_test(tc, test_chapter_names);
    suite_add_tcase(s, tc);
    tc = tcase_create("chapter_scope");
    tcase_add_test(tc, test_chapter_scope);
    suite_add_tcase(s, tc);
    tc = tcase_create("status_valid");
    tcase_add_test(tc, test_status_valid);
    suite_add_tcase(s, tc);
    tc = tcase_create("check_value");
    tcase_add_loop_test(tc, test_check_value, 0,
                        (int)(sizeof(value_cases) / sizeof(value_cases[0])));
    tcase_add_test(tc, test_check_value_bounds);
    suite_add_tcase(s, tc);
    tc = tcase_create("check_file_name");
    tcase_add_test(tc, test_check_file_name);
    suite_add_tcase(s, tc);
    tc = tcase_create("base64_decode");
    tcase_add_test(tc, test_base64_decode);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
