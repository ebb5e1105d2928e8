/* auth_saml_keys: an IdP's RSA certificates become bare key values in the
 * metadata lasso loads; everything else is left alone. That lasso then
 * verifies the same signatures (and refuses another key's) is tested end
 * to end in tests/integration/test_saml.py (ForgedResponseTest). */
#include <check.h>
#include <glib.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <stdlib.h>
#include <string.h>

#include "auth_saml_keys.h"

/* A test certificate (RSA 1024, CN=idp.test) and its modulus as printed by
 * `openssl x509 -noout -modulus`. */
#define RSA_CERT                                                                                   \
    "MIICAjCCAWugAwIBAgIUJybFvwLdN4+zwvqRmuV/0e14UKMwDQYJKoZIhvcNAQELBQAwEzERMA8GA1UEAwwIaWRwLnRl" \
    "c3QwHhcNMjYxMTIzMTIyMTM2WhcNMzYxMTIwMTIyMTM2WjATMREwDwYDVQQDDAhpZHAudGVzdDCBnzANBgkqhkiG9w0B" \
    "AQEFAAOBjQAwgYkCgYEA1xJHWe4MT2/YPcgvjhRUwy5YcHCtv0DfBv5rct8UJMguZuhKLJcyXq4xfKb3pAmrh2+jyBWe" \
    "a6ykrx6oLEDk5FLydDWqejM9j1uaOE1Sxlba8NVX9ztwA9bNyd/TEWU2lSGtwTdPihc6Yr4VtdYYXKndSR4CbaR9DKnY" \
    "uSZIsB0CAwEAAaNTMFEwHQYDVR0OBBYEFMzYjaTS8TxwQBA3Va+w1xSN16uAMB8GA1UdIwQYMBaAFMzYjaTS8TxwQBA3" \
    "Va+w1xSN16uAMA8GA1UdEwEB/wQFMAMBAf8wDQYJKoZIhvcNAQELBQADgYEAhOnA8fXQmTNVbR2LFuEMlI7qqqaXvsSa" \
    "J4AHskRQv4RcTQ38+C6x1OR6n6UOdhaKm7XCmm0ITqq5wHbuLFMJpEUVDXw4mcwhp0Ie9QN4lQtVXfhPYcisWjAsNwu0" \
    "V7bXlqGbStYUfEv5ergPzIRC660u/jLCHXjWZUDJEbiCHk0="
#define RSA_MODULUS                                                                                \
    "D7124759EE0C4F6FD83DC82F8E1454C32E587070ADBF40DF06FE6B72DF1424C82E66E84A2C97325EAE317CA6F7A4" \
    "09AB876FA3C8159E6BACA4AF1EA82C40E4E452F27435AA7A333D8F5B9A384D52C656DAF0D557F73B7003D6CDC9DF" \
    "D31165369521ADC1374F8A173A62BE15B5D6185CA9DD491E026DA47D0CA9D8B92648B01D"
/* P-256, CN=ec.test */
#define EC_CERT                                                                                    \
    "MIIBeTCCAR+gAwIBAgIUV+2Wt8rRvTuU6XUaNsgUEkFxBzkwCgYIKoZIzj0EAwIwEjEQMA4GA1UEAwwHZWMudGVzdDAe" \
    "Fw0yNjExMjMxMjIxMzZaFw0zNjExMjAxMjIxMzZaMBIxEDAOBgNVBAMMB2VjLnRlc3QwWTATBgcqhkjOPQIBBggqhkjO" \
    "PQMBBwNCAAT9Z1U0NcymLsNQIfGdszxSNCW9MbC+7ZwfCCFupnM0Dw3UQXz7gMR3RM2if8VJQZIUbeGjEodgTCzo+0N9" \
    "3jnco1MwUTAdBgNVHQ4EFgQU4PobGlNAKP/vd6u1P6YwtWNRJcIwHwYDVR0jBBgwFoAU4PobGlNAKP/vd6u1P6YwtWNR" \
    "JcIwDwYDVR0TAQH/BAUwAwEB/zAKBggqhkjOPQQDAgNIADBFAiBsqJ7uunyr6fumiTMDSvfhOKcbAHQQtu9rQAacw0wV" \
    "rgIhAOp4PBvS9tJcV4h4RlVhHLN0LY0UZ534BFvnpz2KsA63"

#define MD_HEAD                                                                                    \
    "<md:EntityDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\""                       \
    " xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\" entityID=\"https://idp.test/idp\">"          \
    "<md:IDPSSODescriptor protocolSupportEnumeration=\"urn:oasis:names:tc:SAML:2.0:protocol\">"
#define MD_TAIL                                                                                    \
    "<md:SingleSignOnService Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect\""       \
    " Location=\"https://idp.test/sso\"/></md:IDPSSODescriptor></md:EntityDescriptor>"
#define KD(use, cert)                                                                              \
    "<md:KeyDescriptor" use "><ds:KeyInfo><ds:X509Data><ds:X509Certificate>" cert                  \
    "</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"

static char *bare(const char *md)
{
    return auth_saml_keys_bare(md, strlen(md));
}

/* The values of every element named `name` in the signature namespace. */
static int values(xmlNode *n, const char *name, char **out, int max, int k)
{
    for (; n; n = n->next) {
        if (n->type != XML_ELEMENT_NODE)
            continue;
        if (strcmp((const char *)n->name, name) == 0 && n->ns &&
            strcmp((const char *)n->ns->href, "http://www.w3.org/2000/09/xmldsig#") == 0 && k < max)
            out[k++] = (char *)xmlNodeGetContent(n);
        k = values(n->children, name, out, max, k);
    }
    return k;
}

static char *hex_of_base64(const char *b64)
{
    gsize len = 0;
    guchar *raw = g_base64_decode(b64, &len);
    GString *s = g_string_new(NULL);
    for (gsize i = 0; i < len; i++)
        g_string_append_printf(s, "%02X", raw[i]);
    g_free(raw);
    return g_string_free(s, FALSE);
}

START_TEST(test_rsa_certificates_become_key_values)
{
    /* base64 folded over lines, as metadata often has it, for the signing
     * key; on one line for the encryption key */
    GString *folded = g_string_new(NULL);
    for (const char *c = RSA_CERT; *c; c++) {
        if ((c - RSA_CERT) % 64 == 0)
            g_string_append(folded, "\n      ");
        g_string_append_c(folded, *c);
    }
    char *md = g_strdup_printf(MD_HEAD KD(" use=\"signing\"", "%s")
                                   KD(" use=\"encryption\"", RSA_CERT) MD_TAIL,
                               folded->str);
    g_string_free(folded, TRUE);
    char *out = bare(md);
    g_free(md);
    ck_assert_ptr_nonnull(out);
    xmlDoc *doc = xmlReadMemory(out, (int)strlen(out), NULL, NULL, XML_PARSE_NONET);
    ck_assert_ptr_nonnull(doc);
    xmlNode *root = xmlDocGetRootElement(doc);
    char *v[4] = {0};
    ck_assert_int_eq(values(root, "X509Certificate", v, 4, 0), 0);
    ck_assert_int_eq(values(root, "RSAKeyValue", v, 4, 0), 2);
    for (int i = 0; i < 2; i++)
        xmlFree(v[i]);
    ck_assert_int_eq(values(root, "Modulus", v, 4, 0), 2);
    for (int i = 0; i < 2; i++) {
        char *hex = hex_of_base64(v[i]);
        ck_assert_str_eq(hex, RSA_MODULUS);
        g_free(hex);
        xmlFree(v[i]);
    }
    ck_assert_int_eq(values(root, "Exponent", v, 4, 0), 2);
    for (int i = 0; i < 2; i++) {
        ck_assert_str_eq(v[i], "AQAB"); /* 65537 */
        xmlFree(v[i]);
    }
    /* the rest of the document is kept */
    xmlChar *id = xmlGetProp(root, BAD_CAST "entityID");
    ck_assert_str_eq((char *)id, "https://idp.test/idp");
    xmlFree(id);
    ck_assert_ptr_nonnull(strstr(out, "Location=\"https://idp.test/sso\""));
    ck_assert_ptr_nonnull(strstr(out, "use=\"encryption\""));
    xmlFreeDoc(doc);
    g_free(out);
}
END_TEST

START_TEST(test_left_alone)
{
    static const char *const cases[] = {
        /* an EC key: lasso loads it from the certificate as before */
        MD_HEAD KD("", EC_CERT) MD_TAIL,
        /* not base64 of a certificate */
        MD_HEAD KD("", "bm90IGEgY2VydGlmaWNhdGU=") MD_TAIL,
        MD_HEAD KD("", "%%%") MD_TAIL,
        /* two certificates in one X509Data: which one signs is not ours to pick */
        MD_HEAD "<md:KeyDescriptor><ds:KeyInfo><ds:X509Data><ds:X509Certificate>" RSA_CERT
                "</ds:X509Certificate><ds:X509Certificate>" RSA_CERT
                "</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>" MD_TAIL,
        /* a key value already there */
        MD_HEAD
        "<md:KeyDescriptor><ds:KeyInfo><ds:KeyValue/><ds:X509Data><ds:X509Certificate>" RSA_CERT
        "</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>" MD_TAIL,
        /* a certificate outside any KeyDescriptor */
        MD_HEAD "<ds:KeyInfo><ds:X509Data><ds:X509Certificate>" RSA_CERT
                "</ds:X509Certificate></ds:X509Data></ds:KeyInfo>" MD_TAIL,
        /* the right names in other namespaces */
        "<EntityDescriptor "
        "xmlns=\"urn:x\"><KeyDescriptor><KeyInfo><X509Data><X509Certificate>" RSA_CERT
        "</X509Certificate></X509Data></KeyInfo></KeyDescriptor></EntityDescriptor>",
        MD_HEAD MD_TAIL,
        "not xml",
        "<a><b></a>",
        "",
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *out = bare(cases[i]);
        ck_assert_msg(out == NULL, "case %zu rewritten", i);
    }
    ck_assert_ptr_null(auth_saml_keys_bare(NULL, 0));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("auth_saml_keys");
    TCase *t = tcase_create("bare");
    tcase_add_test(t, test_rsa_certificates_become_key_values);
    tcase_add_test(t, test_left_alone);
    suite_add_tcase(s, t);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    xmlCleanupParser();
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
