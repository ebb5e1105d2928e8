/* auth_saml: the pure parts of the SAML SP — return path (RelayState)
 * check, UAI of supannEtablissement, attribute reading (comment injection,
 * element values), verdict table. The protocol itself is tested end to end
 * in tests/integration/test_saml.py. */
#include <check.h>
#include <lasso/lasso.h>
#include <lasso/xml/saml-2.0/saml2_assertion.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "auth_saml.h"
#include "conf.h"

START_TEST(test_return_path_ok)
{
    static const char *const good[] = {"/",       "/x",   "/api/v1/me", "/a?b=c&d=%2F%2F",
                                       "/a#frag", "/a//b"};
    static const char *const bad[] = {NULL,
                                      "",
                                      "x",
                                      "//evil.example",
                                      "///evil.example",
                                      "/\\evil.example",
                                      "\\\\evil.example",
                                      "https:evil.example",
                                      "https://evil.example/",
                                      "javascript:alert(1)",
                                      " /x",
                                      "/x y",
                                      "/x\r\nSet-Cookie: a=b",
                                      "/x\ty",
                                      "/x\x7f",
                                      "/a\\b"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        ck_assert_msg(auth_saml_return_path_ok(good[i]), "%s", good[i]);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(!auth_saml_return_path_ok(bad[i]), "%s", bad[i] ? bad[i] : "NULL");
    char longp[600];
    memset(longp, 'a', sizeof(longp));
    longp[0] = '/';
    longp[512] = '\0';
    ck_assert(auth_saml_return_path_ok(longp));
    longp[512] = 'a';
    longp[513] = '\0';
    ck_assert(!auth_saml_return_path_ok(longp));
}
END_TEST

START_TEST(test_supann_uai)
{
    char u[9];
    ck_assert_int_eq(auth_saml_supann_uai("{UAI}0673021V", u), 1);
    ck_assert_str_eq(u, "0673021V");
    ck_assert_int_eq(auth_saml_supann_uai("{uai}0860856n", u), 1);
    ck_assert_str_eq(u, "0860856N");
    ck_assert_int_eq(auth_saml_supann_uai("{SIREN}130015506", u), 0);
    ck_assert_int_eq(auth_saml_supann_uai("0673021V", u), 0);
    ck_assert_int_eq(auth_saml_supann_uai(NULL, u), 0);
    ck_assert_int_eq(auth_saml_supann_uai("{UAI}", u), -1);
    ck_assert_int_eq(auth_saml_supann_uai("{UAI}0673021", u), -1);
    ck_assert_int_eq(auth_saml_supann_uai("{UAI}0673021VV", u), -1);
    ck_assert_int_eq(auth_saml_supann_uai("{UAI}067302XV", u), -1);
    ck_assert_int_eq(auth_saml_supann_uai("{UAI}06730211", u), -1);
    ck_assert_int_eq(auth_saml_supann_uai("{UAI} 673021V", u), -1);
}
END_TEST

#define ATTR(oid, values)                                                                          \
    "<saml:Attribute Name=\"" oid "\" "                                                            \
    "NameFormat=\"urn:oasis:names:tc:SAML:2.0:attrname-format:uri\">" values "</saml:Attribute>"
#define VALUE(v) "<saml:AttributeValue xsi:type=\"xs:string\">" v "</saml:AttributeValue>"

static const char assertion_xml[] =
    "<saml:Assertion xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" "
    "xmlns:xs=\"http://www.w3.org/2001/XMLSchema\" "
    "xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" ID=\"_a1\" Version=\"2.0\" "
    "IssueInstant=\"2026-11-23T03:00:00Z\"><saml:Issuer>https://idp.test</saml:Issuer>"
    "<saml:AttributeStatement>" ATTR("urn:oid:1.3.6.1.4.1.5923.1.1.1.6",
                                     VALUE("alice@univ-a.test<!-- c -->.evil.example"))
        ATTR("urn:oid:0.9.2342.19200300.100.1.3", VALUE("alice@univ-a.test"))
            ATTR("urn:oid:2.16.840.1.113730.3.1.241", VALUE("Alice &amp; Bob Lefèvre"))
                ATTR("urn:oid:1.3.6.1.4.1.7135.1.2.1.14",
                     VALUE("{UAI}0673021V") VALUE("{SIREN}130015506"))
    /* same OID in another name format: not read */
    "<saml:Attribute Name=\"urn:oid:1.3.6.1.4.1.5923.1.1.1.6\" "
    "NameFormat=\"urn:oasis:names:tc:SAML:2.0:attrname-format:basic\">" VALUE(
        "mallory@x") "</saml:Attribute>"
                     "</saml:AttributeStatement></saml:Assertion>";

static const char element_xml[] =
    "<saml:Assertion xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" ID=\"_a2\" "
    "Version=\"2.0\" IssueInstant=\"2026-11-23T03:00:00Z\"><saml:AttributeStatement>" ATTR(
        "urn:oid:1.3.6.1.4.1.5923.1.1.1.6",
        "<saml:AttributeValue>a<b>c</b></saml:AttributeValue>") "</saml:AttributeStatement>"
                                                                "</saml:Assertion>";

static LassoSaml2Assertion *parse(const char *xml)
{
    LassoNode *n = lasso_node_new_from_dump(xml);
    ck_assert_ptr_nonnull(n);
    ck_assert(LASSO_IS_SAML2_ASSERTION(n));
    return LASSO_SAML2_ASSERTION(n);
}

START_TEST(test_read_attributes)
{
    arena *a = arena_new(0);
    LassoSaml2Assertion *as = parse(assertion_xml);
    auth_saml_attrs at;
    ck_assert_int_eq(auth_saml_read_attributes(a, as, &at), DADM_OK);
    ck_assert(!at.invalid);
    ck_assert_uint_eq(at.n_eppn, 1);
    /* the comment splits the text in two nodes: both are read */
    ck_assert_str_eq(at.eppn[0], "alice@univ-a.test.evil.example");
    ck_assert_str_eq(at.mail, "alice@univ-a.test");
    ck_assert_str_eq(at.display_name, "Alice & Bob Lefèvre");
    ck_assert_uint_eq(at.n_supann, 2);
    ck_assert_str_eq(at.supann[0], "{UAI}0673021V");
    ck_assert_str_eq(at.supann[1], "{SIREN}130015506");
    g_object_unref(as);

    as = parse(element_xml);
    ck_assert_int_eq(auth_saml_read_attributes(a, as, &at), DADM_OK);
    ck_assert(at.invalid);
    ck_assert_uint_eq(at.n_eppn, 0);
    g_object_unref(as);

    ck_assert_int_eq(auth_saml_read_attributes(a, NULL, &at), DADM_OK);
    ck_assert_uint_eq(at.n_eppn + at.n_supann, 0);
    arena_free(a);
}
END_TEST

START_TEST(test_verdicts)
{
    for (int v = AUTH_SAML_OK; v <= AUTH_SAML_NO_SESSION; v++) {
        ck_assert_ptr_nonnull(auth_saml_verdict_slug((auth_saml_verdict)v));
        ck_assert_ptr_nonnull(auth_saml_verdict_message((auth_saml_verdict)v));
        unsigned s = auth_saml_verdict_status((auth_saml_verdict)v);
        ck_assert(s == 200 || (s >= 400 && s < 500));
    }
    ck_assert_str_eq(auth_saml_verdict_slug(AUTH_SAML_REPLAY), "replay");
    ck_assert_uint_eq(auth_saml_verdict_status(AUTH_SAML_UNKNOWN_PERSON), 403);
}
END_TEST

START_TEST(test_disabled_without_keys)
{
    /* no [saml] keys: lasso starts, SAML stays off, no metadata */
    ck_assert(!auth_saml_enabled());
    ck_assert_ptr_null(auth_saml_metadata());
}
END_TEST

static conf *cfg;

static void setup(void)
{
    unsetenv("DADM_SAML_BASE_URL");
    unsetenv("DADM_SAML_SP_KEY");
    unsetenv("DADM_SAML_SP_KEY_FILE");
    char *err = NULL;
    cfg = conf_load(NULL, &err);
    ck_assert_ptr_nonnull(cfg);
    ck_assert_int_eq(auth_saml_global_init(cfg), DADM_OK);
}

static void teardown(void)
{
    auth_saml_global_shutdown();
    conf_free(cfg);
}

int main(void)
{
    Suite *s = suite_create("auth_saml");
    TCase *t = tcase_create("return_path_ok");
    tcase_add_test(t, test_return_path_ok);
    suite_add_tcase(s, t);
    t = tcase_create("supann_uai");
    tcase_add_test(t, test_supann_uai);
    suite_add_tcase(s, t);
    t = tcase_create("read_attributes");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_add_test(t, test_read_attributes);
    suite_add_tcase(s, t);
    t = tcase_create("verdicts");
    tcase_add_test(t, test_verdicts);
    suite_add_tcase(s, t);
    t = tcase_create("global_init");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_add_test(t, test_disabled_without_keys);
    suite_add_tcase(s, t);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
