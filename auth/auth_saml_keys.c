#include "auth_saml_keys.h"

#include <glib.h>
#include <limits.h>
#include <stdbool.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <string.h>

#define NS_MD "urn:oasis:names:tc:SAML:2.0:metadata"
#define NS_DS "http://www.w3.org/2000/09/xmldsig#"

static bool is(const xmlNode *n, const char *ns, const char *name)
{
    return n->type == XML_ELEMENT_NODE && n->ns && n->ns->href &&
           strcmp((const char *)n->ns->href, ns) == 0 && strcmp((const char *)n->name, name) == 0;
}

/* The only child of `parent` named ns:name; NULL when none or several. */
static xmlNode *only_child(xmlNode *parent, const char *ns, const char *name)
{
    xmlNode *found = NULL;
    for (xmlNode *c = parent->children; c; c = c->next) {
        if (!is(c, ns, name))
            continue;
        if (found)
            return NULL;
        found = c;
    }
    return found;
}

static bool has_child(xmlNode *parent, const char *ns, const char *name)
{
    for (xmlNode *c = parent->children; c; c = c->next)
        if (is(c, ns, name))
            return true;
    return false;
}

/* Base64 of a big number's unsigned big-endian bytes. */
static gchar *bn_base64(const BIGNUM *b)
{
    int n = BN_num_bytes(b);
    if (n <= 0)
        return NULL;
    unsigned char *buf = g_malloc((size_t)n);
    BN_bn2bin(b, buf);
    gchar *s = g_base64_encode(buf, (size_t)n);
    g_free(buf);
    return s;
}

/* The RSA modulus and exponent of a base64 DER certificate. */
static bool rsa_of_certificate(const char *b64, gchar **modulus, gchar **exponent)
{
    *modulus = *exponent = NULL;
    gsize len = 0;
    guchar *der = g_base64_decode(b64, &len);
    if (!der || len == 0 || len > 64 * 1024) {
        g_free(der);
        return false;
    }
    const unsigned char *p = der;
    X509 *x = d2i_X509(NULL, &p, (long)len);
    bool ok = false;
    EVP_PKEY *k = x ? X509_get0_pubkey(x) : NULL;
    BIGNUM *n = NULL, *e = NULL;
    if (k && EVP_PKEY_is_a(k, "RSA") && EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_RSA_N, &n) &&
        EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_RSA_E, &e)) {
        *modulus = bn_base64(n);
        *exponent = bn_base64(e);
        ok = *modulus && *exponent;
    }
    if (!ok) {
        g_free(*modulus);
        g_free(*exponent);
        *modulus = *exponent = NULL;
    }
    BN_free(n);
    BN_free(e);
    X509_free(x);
    g_free(der);
    return ok;
}

/* Replaces the X509Data of one KeyInfo by the RSA KeyValue of its
 * certificate; false when the KeyInfo is left as it was. */
static bool bare_key_info(xmlNode *ki)
{
    xmlNode *xd = only_child(ki, NS_DS, "X509Data");
    if (!xd || has_child(ki, NS_DS, "KeyValue"))
        return false;
    xmlNode *cert = only_child(xd, NS_DS, "X509Certificate");
    if (!cert)
        return false;
    xmlChar *b64 = xmlNodeGetContent(cert);
    gchar *mod = NULL, *exp = NULL;
    bool ok = b64 && rsa_of_certificate((const char *)b64, &mod, &exp);
    xmlFree(b64);
    if (!ok)
        return false;
    xmlNs *ds = ki->ns; /* the KeyInfo is in the signature namespace */
    xmlNode *kv = xmlNewNode(ds, BAD_CAST "KeyValue");
    xmlNode *rsa = kv ? xmlNewChild(kv, ds, BAD_CAST "RSAKeyValue", NULL) : NULL;
    ok = rsa && xmlNewTextChild(rsa, ds, BAD_CAST "Modulus", BAD_CAST mod) &&
         xmlNewTextChild(rsa, ds, BAD_CAST "Exponent", BAD_CAST exp) && xmlAddChild(ki, kv);
    g_free(mod);
    g_free(exp);
    if (!ok) {
        xmlFreeNode(kv);
        return false;
    }
    xmlUnlinkNode(xd);
    xmlFreeNode(xd);
    return true;
}

static int bare_all(xmlNode *n)
{
    int changed = 0;
    for (; n; n = n->next) {
        if (is(n, NS_MD, "KeyDescriptor")) {
            xmlNode *ki = only_child(n, NS_DS, "KeyInfo");
            changed += ki && bare_key_info(ki);
        } else if (n->type == XML_ELEMENT_NODE) {
            changed += bare_all(n->children);
        }
    }
    return changed;
}

char *auth_saml_keys_bare(const char *metadata, size_t len)
{
    if (!metadata || len == 0 || len > INT_MAX)
        return NULL;
    xmlDoc *doc = xmlReadMemory(metadata, (int)len, NULL, NULL,
                                XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    if (!doc)
        return NULL;
    char *out = NULL;
    if (bare_all(xmlDocGetRootElement(doc)) > 0) {
        xmlChar *s = NULL;
        int n = 0;
        xmlDocDumpMemory(doc, &s, &n);
        if (s && n > 0)
            out = g_strndup((const char *)s, (gsize)n);
        xmlFree(s);
    }
    xmlFreeDoc(doc);
    return out;
}
