/* The floor of bench/acs/run: lasso alone, in one thread, doing what every
 * assertion consumer must do with a response (process it: signatures,
 * issuer, status; validate the assertion's conditions and times; accept
 * it), with one LassoServer built once.
 *   floor [--bare] SP_METADATA SP_KEY IDP_METADATA RESPONSE_FILE...
 * With --bare, the IdP's metadata is loaded with its signing key as a bare
 * key value, as dadmd loads it (auth/auth_saml_keys.h); without, as
 * registered. Prints the number of accepted responses per second. */
#include <glib.h>
#include <lasso/lasso.h>
#include <lasso/xml/saml-2.0/saml2_assertion.h>
#include <lasso/xml/saml-2.0/samlp2_response.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth_saml_keys.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static char *slurp(const char *p)
{
    gchar *s = NULL;
    if (!g_file_get_contents(p, &s, NULL, NULL)) {
        fprintf(stderr, "floor: cannot read %s\n", p);
        exit(1);
    }
    return g_strstrip(s);
}

int main(int argc, char **argv)
{
    bool bare = argc > 1 && strcmp(argv[1], "--bare") == 0;
    if (bare) {
        argv++;
        argc--;
    }
    if (argc < 5) {
        fprintf(stderr, "usage: floor [--bare] SP_METADATA SP_KEY IDP_METADATA RESPONSE...\n");
        return 2;
    }
    setenv("TZ", ":/etc/localtime", 0);
    unsetenv("LASSO_FLAG");
    if (lasso_init() != 0)
        return 1;
    char *sp = slurp(argv[1]), *key = slurp(argv[2]), *idp = slurp(argv[3]);
    char *b = bare ? auth_saml_keys_bare(idp, strlen(idp)) : NULL;
    if (bare && !b) {
        fprintf(stderr, "floor: no RSA certificate to make bare in %s\n", argv[3]);
        return 1;
    }
    if (b) {
        g_free(idp);
        idp = b;
    }
    LassoServer *s = lasso_server_new_from_buffers(sp, key, NULL, NULL);
    if (!s || lasso_server_add_provider_from_buffer(s, LASSO_PROVIDER_ROLE_IDP, idp, NULL, NULL))
        return 1;
    int n = argc - 4, ok = 0;
    char **resp = calloc((size_t)n, sizeof(char *));
    for (int i = 0; i < n; i++)
        resp[i] = slurp(argv[4 + i]);
    double t0 = now();
    for (int i = 0; i < n; i++) {
        LassoLogin *l = lasso_login_new(s);
        lasso_profile_set_signature_verify_hint(LASSO_PROFILE(l),
                                                LASSO_PROFILE_SIGNATURE_VERIFY_HINT_MAYBE);
        if (lasso_login_process_authn_response_msg(l, resp[i]) == 0) {
            LassoSamlp2Response *r = LASSO_SAMLP2_RESPONSE(LASSO_PROFILE(l)->response);
            LassoSaml2Assertion *a = r->Assertion ? r->Assertion->data : NULL;
            if (a &&
                lasso_saml2_assertion_validate_conditions(a, LASSO_PROVIDER(s)->ProviderID) ==
                    LASSO_SAML2_ASSERTION_VALID &&
                lasso_saml2_assertion_validate_time_checks(a, 60, 0) ==
                    LASSO_SAML2_ASSERTION_VALID &&
                lasso_login_accept_sso(l) == 0)
                ok++;
        }
        lasso_login_destroy(l);
    }
    double secs = now() - t0;
    printf("%.1f\n", ok / secs);
    if (ok != n)
        fprintf(stderr, "floor: %d of %d accepted\n", ok, n);
    for (int i = 0; i < n; i++)
        g_free(resp[i]);
    free(resp);
    g_free(sp);
    g_free(key);
    g_free(idp);
    lasso_server_destroy(s);
    lasso_shutdown();
    return ok == n ? 0 : 1;
}
