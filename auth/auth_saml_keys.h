#ifndef DADM_AUTH_SAML_KEYS_H
#define DADM_AUTH_SAML_KEYS_H

#include <stddef.h>

/* An IdP's metadata as lasso should load it: each KeyDescriptor whose
 * KeyInfo holds one X.509 certificate with an RSA key gets that key as a
 * bare ds:KeyValue instead.
 *
 * lasso duplicates the provider's key for every signature it verifies, and
 * with OpenSSL 3 duplicating a key that carries its certificate means
 * decoding the certificate again (about half of dadmd's time on the
 * assertion consumer, under contention of OpenSSL's global locks). The
 * bare key verifies exactly the same signatures: lasso never checks the
 * certificate's dates or chain for metadata keys.
 *
 * Returns a newly allocated document (free with g_free), or NULL when
 * nothing was rewritten (no such key, a non-RSA key, malformed input): the
 * caller then loads the metadata as it is. */
char *auth_saml_keys_bare(const char *metadata, size_t len);

#endif
