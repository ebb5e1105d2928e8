/* libFuzzer target for the assertion consumer's untrusted input: a base64
 * SAMLResponse as posted to /saml/acs. Each input goes (1) through lasso's
 * full processing against a server that trusts one IdP, then through dadm's
 * checks and attribute reading when lasso accepts it, and (2) straight to
 * dadm's checks and attribute reading on whatever assertions the decoded
 * XML holds, signed or not, so that dadm's own code sees arbitrary
 * assertions. Run by bench/fuzz-acs/run. */
#include <glib.h>
#include <lasso/lasso.h>
#include <lasso/xml/saml-2.0/saml2_assertion.h>
#include <lasso/xml/saml-2.0/samlp2_response.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "auth_saml.h"
#include "conf.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Process-lifetime state (reachable, so the leak checker leaves it alone). */
static LassoServer *server;
static conf *cfg;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    char *err = NULL;
    conf *c = cfg = conf_load(NULL, &err);
    gchar *key = NULL, *idp = NULL;
    if (!c || auth_saml_global_init(c) != DADM_OK || !auth_saml_enabled() ||
        !g_file_get_contents(getenv("DADM_SAML_SP_KEY_FILE"), &key, NULL, NULL) ||
        !g_file_get_contents(getenv("DADM_FUZZ_IDP_METADATA"), &idp, NULL, NULL))
        abort();
    server = lasso_server_new_from_buffers(auth_saml_metadata(), key, NULL, NULL);
    if (!server ||
        lasso_server_add_provider_from_buffer(server, LASSO_PROVIDER_ROLE_IDP, idp, NULL, NULL))
        abort();
    g_free(key);
    g_free(idp);
    return 0;
}

static void dadm_checks(arena *a, LassoSaml2Assertion *as)
{
    const char *detail;
    int64_t not_after;
    (void)auth_saml_check_assertion(as, "_fuzz", 1795000000, &detail, &not_after);
    auth_saml_attrs at;
    if (auth_saml_read_attributes(a, as, &at) == DADM_OK) {
        char uai[9];
        for (size_t i = 0; i < at.n_supann; i++)
            (void)auth_saml_supann_uai(at.supann[i], uai);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 256 * 1024)
        return 0;
    char *b64 = g_strndup((const char *)data, size);
    arena *a = arena_new(4u << 20);

    LassoLogin *login = lasso_login_new(server);
    lasso_profile_set_signature_verify_hint(LASSO_PROFILE(login),
                                            LASSO_PROFILE_SIGNATURE_VERIFY_HINT_MAYBE);
    if (lasso_login_process_authn_response_msg(login, b64) == 0 &&
        LASSO_IS_SAMLP2_RESPONSE(LASSO_PROFILE(login)->response)) {
        for (GList *i = LASSO_SAMLP2_RESPONSE(LASSO_PROFILE(login)->response)->Assertion; i;
             i = i->next)
            if (LASSO_IS_SAML2_ASSERTION(i->data))
                dadm_checks(a, i->data);
    }
    lasso_login_destroy(login);

    gsize n = 0;
    guchar *raw = g_base64_decode(b64, &n);
    char *xml = g_strndup((const char *)raw, n);
    LassoNode *node = *xml ? lasso_node_new_from_dump(xml) : NULL;
    if (LASSO_IS_SAMLP2_RESPONSE(node)) {
        for (GList *i = LASSO_SAMLP2_RESPONSE(node)->Assertion; i; i = i->next)
            if (LASSO_IS_SAML2_ASSERTION(i->data))
                dadm_checks(a, i->data);
    } else if (LASSO_IS_SAML2_ASSERTION(node)) {
        dadm_checks(a, LASSO_SAML2_ASSERTION(node));
    }
    if (node)
        g_object_unref(node);
    g_free(xml);
    g_free(raw);
    arena_free(a);
    g_free(b64);
    return 0;
}
