/* tenant_ldap: the pure parts of directory provisioning — filter escaping
 * and validation, DN validation, the attribute mapping, entry checks, UUIDs
 * of the synchronisation protocol, COPY encoding. */
#include <check.h>
#include <lber.h>
#include <stdlib.h>
#include <string.h>

#include "tenant_ldap.h"

START_TEST(test_escape)
{
    arena *a = arena_new(0);
    ck_assert_str_eq(tenant_ldap_escape(a, "plain", 5), "plain");
    ck_assert_str_eq(tenant_ldap_escape(a, "*@univ-a.test", 13), "\\2A@univ-a.test");
    ck_assert_str_eq(tenant_ldap_escape(a, "x)(uid=*", 8), "x\\29\\28uid=\\2A");
    ck_assert_str_eq(tenant_ldap_escape(a, "a\\b", 3), "a\\5Cb");
    ck_assert_str_eq(tenant_ldap_escape(a, "a\0b", 3), "a\\00b");
    ck_assert_str_eq(tenant_ldap_escape(a, "", 0), "");
    arena_free(a);
}
END_TEST

START_TEST(test_since_filter)
{
    arena *a = arena_new(0);
    ck_assert_str_eq(tenant_ldap_since_filter(a, "(objectClass=eduPerson)", "20260101000000Z"),
                     "(&(objectClass=eduPerson)(modifyTimestamp>=20260101000000Z))");
    ck_assert_str_eq(tenant_ldap_since_filter(a, "(o=x)", "1)(uid=*"),
                     "(&(o=x)(modifyTimestamp>=1\\29\\28uid=\\2A))");
    arena_free(a);
}
END_TEST

START_TEST(test_filter_valid)
{
    ck_assert(tenant_ldap_filter_valid("(objectClass=eduPerson)"));
    ck_assert(tenant_ldap_filter_valid("(&(objectClass=eduPerson)(!(description=parti)))"));
    ck_assert(tenant_ldap_filter_valid("(|(uid=a*)(mail=*@x.fr)(cn=\\2A))"));
    ck_assert(tenant_ldap_filter_valid("(modifyTimestamp>=20260101000000Z)"));
    ck_assert(tenant_ldap_filter_valid("(uid:caseExactMatch:=x)"));
    ck_assert(!tenant_ldap_filter_valid("(objectClass=eduPerson)(uid=*)"));
    ck_assert(!tenant_ldap_filter_valid("(uid=*"));
    ck_assert(!tenant_ldap_filter_valid("uid=*"));
    ck_assert(!tenant_ldap_filter_valid("(&)"));
    ck_assert(!tenant_ldap_filter_valid("(uid=\\zz)"));
    ck_assert(!tenant_ldap_filter_valid("(=x)"));
    ck_assert(!tenant_ldap_filter_valid("(uid>=a*)"));
    ck_assert(!tenant_ldap_filter_valid(""));
    ck_assert(!tenant_ldap_filter_valid(NULL));
}
END_TEST

START_TEST(test_dn_valid)
{
    ck_assert(tenant_ldap_dn_valid("ou=people,dc=univ-a,dc=test"));
    ck_assert(tenant_ldap_dn_valid("cn=x\\2c y,dc=test"));
    ck_assert(!tenant_ldap_dn_valid("cn=dadm,=x"));
    ck_assert(!tenant_ldap_dn_valid("not a dn"));
    ck_assert(!tenant_ldap_dn_valid(""));
}
END_TEST

START_TEST(test_map_parse)
{
    tenant_ldap_map m;
    const char *why = NULL;
    ck_assert_int_eq(tenant_ldap_map_parse(NULL, &m, &why), DADM_OK);
    ck_assert_str_eq(m.attr[TENANT_LDAP_KEY], "entryUUID");
    ck_assert_str_eq(m.attr[TENANT_LDAP_EPPN], "eduPersonPrincipalName");
    ck_assert_str_eq(m.attr[TENANT_LDAP_FAMILY_NAME], "sn");
    ck_assert_str_eq(m.attr[TENANT_LDAP_ENTITY], "supannEntiteAffectation");
    json_t *j = json_pack("{s:s, s:s}", "mail", "supannMailPerso", "phone", "2.5.4.20");
    ck_assert_int_eq(tenant_ldap_map_parse(j, &m, &why), DADM_OK);
    ck_assert_str_eq(m.attr[TENANT_LDAP_MAIL], "supannMailPerso");
    ck_assert_str_eq(m.attr[TENANT_LDAP_PHONE], "2.5.4.20");
    ck_assert_str_eq(m.attr[TENANT_LDAP_GIVEN_NAME], "givenName");
    json_decref(j);
    const char *bad[] = {"mail)(uid=*", "", "a b", "2..5", "1.", "x;lang-fr"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        j = json_pack("{s:s}", "mail", bad[i]);
        ck_assert_int_eq(tenant_ldap_map_parse(j, &m, &why), DADM_E_INVALID);
        ck_assert_ptr_nonnull(why);
        json_decref(j);
    }
    j = json_pack("{s:s}", "password", "userPassword");
    ck_assert_int_eq(tenant_ldap_map_parse(j, &m, &why), DADM_E_INVALID);
    json_decref(j);
    j = json_pack("{s:i}", "mail", 3);
    ck_assert_int_eq(tenant_ldap_map_parse(j, &m, &why), DADM_E_INVALID);
    json_decref(j);
    j = json_array();
    ck_assert_int_eq(tenant_ldap_map_parse(j, &m, &why), DADM_E_INVALID);
    json_decref(j);
}
END_TEST

/* An entry built from strings; lengths given so values may hold NUL. */
typedef struct {
    struct berval bv[TENANT_LDAP_NFIELDS][4];
    tenant_ldap_values v;
} entry;

static void set(entry *e, tenant_ldap_field f, int i, const char *s, size_t n)
{
    e->bv[f][i].bv_val = (char *)s;
    e->bv[f][i].bv_len = n;
    e->bv[f][i + 1].bv_val = NULL;
    e->bv[f][i + 1].bv_len = 0;
    e->v[f] = e->bv[f];
}

#define SET(e, f, s) set(e, f, 0, s, strlen(s))

static void person(entry *e)
{
    memset(e, 0, sizeof(*e));
    SET(e, TENANT_LDAP_KEY, "0E5A0C3A-1B2C-4D5E-8F90-ABCDEF012345");
    SET(e, TENANT_LDAP_EPPN, "MMartin@univ-a.test");
    SET(e, TENANT_LDAP_MAIL, "marie.martin@univ-a.test");
    SET(e, TENANT_LDAP_GIVEN_NAME, "Marie");
    SET(e, TENANT_LDAP_FAMILY_NAME, "Martin");
    SET(e, TENANT_LDAP_PHONE, "+33 3 68 85 00 00");
    SET(e, TENANT_LDAP_ETABLISSEMENT, "{UAI}0673021V");
    SET(e, TENANT_LDAP_AFFILIATION, "staff");
    set(e, TENANT_LDAP_AFFILIATION, 1, "member", 6);
}

START_TEST(test_person)
{
    arena *a = arena_new(0);
    entry e;
    tenant_ldap_person p;
    person(&e);
    ck_assert_ptr_null(tenant_ldap_person_from_values(a, e.v, "0673021V", "univ-a.test", &p));
    ck_assert_str_eq(p.key, "0e5a0c3a-1b2c-4d5e-8f90-abcdef012345");
    ck_assert_str_eq(p.login, "mmartin@univ-a.test");
    ck_assert_str_eq(p.eppn, "MMartin@univ-a.test");
    ck_assert_str_eq(p.phone, "+33 3 68 85 00 00");
    ck_assert_str_eq(p.info_json, "{\"affiliation\":[\"staff\",\"member\"],"
                                  "\"display_name\":null,\"entity\":[]}");

    person(&e);
    SET(&e, TENANT_LDAP_EPPN, " spaced@univ-a.test ");
    ck_assert_ptr_null(tenant_ldap_person_from_values(a, e.v, "0673021V", "univ-a.test", &p));
    ck_assert_str_eq(p.eppn, "spaced@univ-a.test");

    person(&e);
    SET(&e, TENANT_LDAP_PHONE, "call me");
    ck_assert_ptr_null(tenant_ldap_person_from_values(a, e.v, "0673021V", NULL, &p));
    ck_assert_ptr_null(p.phone);

    static const struct {
        tenant_ldap_field f;
        const char *value; /* NULL: attribute absent */
        size_t len;
        const char *reason;
    } cases[] = {
        {TENANT_LDAP_KEY, NULL, 0, "missing_key"},
        {TENANT_LDAP_KEY, "x)(y", 4, "missing_key"},
        {TENANT_LDAP_EPPN, NULL, 0, "missing_eppn"},
        {TENANT_LDAP_EPPN, "*@univ-a.test", 13, "invalid_eppn"},
        {TENANT_LDAP_EPPN, "x)(uid=*@univ-a.test", 20, "invalid_eppn"},
        {TENANT_LDAP_EPPN, "mmartin\0x@univ-a.test", 21, "invalid_value"},
        {TENANT_LDAP_EPPN, "mmartin@univ-b.test", 19, "eppn_scope"},
        {TENANT_LDAP_MAIL, NULL, 0, "missing_mail"},
        {TENANT_LDAP_MAIL, "no at sign", 10, "invalid_mail"},
        {TENANT_LDAP_GIVEN_NAME, "\xff\xfe", 2, "invalid_value"},
        {TENANT_LDAP_ETABLISSEMENT, "{UAI}0860856N", 13, "foreign_etab"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        person(&e);
        if (cases[i].value)
            set(&e, cases[i].f, 0, cases[i].value, cases[i].len);
        else
            e.v[cases[i].f] = NULL;
        const char *why = tenant_ldap_person_from_values(a, e.v, "0673021V", "univ-a.test", &p);
        ck_assert_msg(why && strcmp(why, cases[i].reason) == 0, "case %zu: %s", i,
                      why ? why : "accepted");
    }
    /* Two eppn values: ambiguous. */
    person(&e);
    set(&e, TENANT_LDAP_EPPN, 1, "other@univ-a.test", 17);
    ck_assert_str_eq(tenant_ldap_person_from_values(a, e.v, "0673021V", NULL, &p), "invalid_eppn");
    /* A four-byte character in a name is fine; a long name is cut on a
     * character boundary. */
    person(&e);
    SET(&e, TENANT_LDAP_GIVEN_NAME, "\xf0\x9f\x98\x80 Zo\xc3\xa9");
    char longname[301];
    for (int i = 0; i < 150; i++)
        memcpy(longname + 2 * i, "\xc3\xa9", 2);
    longname[300] = '\0';
    SET(&e, TENANT_LDAP_FAMILY_NAME, longname);
    ck_assert_ptr_null(tenant_ldap_person_from_values(a, e.v, "0673021V", NULL, &p));
    ck_assert_str_eq(p.given_name, "\xf0\x9f\x98\x80 Zo\xc3\xa9");
    ck_assert_uint_eq(strlen(p.family_name), 200);
    arena_free(a);
}
END_TEST

START_TEST(test_uuid_text)
{
    char out[37];
    const unsigned char bin[16] = {0x0e, 0x5a, 0x0c, 0x3a, 0x1b, 0x2c, 0x4d, 0x5e,
                                   0x8f, 0x90, 0xab, 0xcd, 0xef, 0x01, 0x23, 0x45};
    ck_assert(tenant_ldap_uuid_text(bin, 16, out));
    ck_assert_str_eq(out, "0e5a0c3a-1b2c-4d5e-8f90-abcdef012345");
    ck_assert(!tenant_ldap_uuid_text(bin, 15, out));
    ck_assert(!tenant_ldap_uuid_text(bin, 36, out));
}
END_TEST

START_TEST(test_copy_field)
{
    GString *b = g_string_new(NULL);
    tenant_ldap_copy_field(b, NULL);
    g_string_append_c(b, '|');
    tenant_ldap_copy_field(b, "a\tb\nc\\d\re");
    ck_assert_str_eq(b->str, "\\N|a\\tb\\nc\\\\d\\re");
    g_string_free(b, TRUE);
}
END_TEST

START_TEST(test_field_name)
{
    ck_assert_str_eq(tenant_ldap_field_name(TENANT_LDAP_KEY), "key");
    ck_assert_str_eq(tenant_ldap_field_name(TENANT_LDAP_ETABLISSEMENT), "etablissement");
    ck_assert_str_eq(tenant_ldap_field_name(TENANT_LDAP_NFIELDS), "unknown");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("tenant_ldap");
    struct {
        const char *name;
        const TTest *t;
    } cases[] = {
        {"escape", test_escape},
        {"since_filter", test_since_filter},
        {"filter_valid", test_filter_valid},
        {"dn_valid", test_dn_valid},
        {"map_parse", test_map_parse},
        {"person_from_values", test_person},
        {"uuid_text", test_uuid_text},
        {"copy_field", test_copy_field},
        {"field_name", test_field_name},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        TCase *tc = tcase_create(cases[i].name);
        tcase_add_test(tc, cases[i].t);
        suite_add_tcase(s, tc);
    }
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
