/* SAML 2.0 service provider (lasso): SP metadata, AuthnRequests to an
 * establishment's IdP, the checks on the IdP's response that lasso does not
 * make itself, and single logout both ways.
 *
 * lasso is initialised once, before any worker thread starts
 * (auth_saml_global_init). Each worker thread builds its own LassoServer on
 * first use and rebuilds it when the IdP registrations change in PostgreSQL
 * (a generation number); no lasso object is ever shared between threads.
 *
 * Every request function runs in the caller's transaction. A refusal is not
 * an error: it is reported as an auth_saml_verdict (to show a French page
 * and to audit) with a DADM_OK return, so that what must stay consumed (the
 * pending request, the assertion ID) is committed; the lasso detail goes to
 * the log only. Strings handed out are owned by the request's arena. */
#ifndef DADM_AUTH_SAML_H
#define DADM_AUTH_SAML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "auth_session.h"
#include "conf.h"
#include "dadm_error.h"
#include "db.h"

struct _LassoSaml2Assertion;

/* Why an SSO step was refused. */
typedef enum {
    AUTH_SAML_OK = 0,
    AUTH_SAML_DISABLED,         /* no [saml] configuration */
    AUTH_SAML_UNKNOWN_ETAB,     /* no such establishment, or it has no IdP */
    AUTH_SAML_BAD_RETURN,       /* return path / RelayState not a relative path of this site */
    AUTH_SAML_BAD_RESPONSE,     /* malformed, unsigned, badly signed, several assertions… */
    AUTH_SAML_IDP_STATUS,       /* the IdP answered with a non-success status */
    AUTH_SAML_WRONG_RECIPIENT,  /* Destination, Recipient or Audience not ours */
    AUTH_SAML_EXPIRED,          /* outside NotBefore / NotOnOrAfter */
    AUTH_SAML_UNSOLICITED,      /* no InResponseTo, or one we never sent */
    AUTH_SAML_REQUEST_SPENT,    /* the request was answered already, or has expired */
    AUTH_SAML_REPLAY,           /* this assertion ID was accepted before */
    AUTH_SAML_IDP_NOT_ALLOWED,  /* issuer is not the IdP asked, or not the establishment's */
    AUTH_SAML_OTHER_ETAB,       /* supannEtablissement names another establishment */
    AUTH_SAML_NO_EPPN,          /* no single eduPersonPrincipalName */
    AUTH_SAML_UNKNOWN_PERSON,   /* no account for (IdP, eppn) in this establishment */
    AUTH_SAML_ACCOUNT_DISABLED, /* the account exists but is disabled */
    AUTH_SAML_NO_SESSION,       /* single logout: nothing to end */
} auth_saml_verdict;

/* Stable slug of a verdict, for logs and the audit ("replay", …). */
const char *auth_saml_verdict_slug(auth_saml_verdict v);
/* Short French message for the user's page. Never says more than needed. */
const char *auth_saml_verdict_message(auth_saml_verdict v);
/* HTTP status of the page that shows the refusal. */
unsigned auth_saml_verdict_status(auth_saml_verdict v);

/* Reads [saml] (base_url, entity_id, sp_key, sp_cert, request_ttl_seconds,
 * clock_skew_seconds) and [session] (idle_seconds, absolute_seconds),
 * unsets LASSO_FLAG and initialises lasso, and checks that signature
 * verification is on. Call once from main() before threads start. Without
 * sp_key, sp_cert and base_url, SAML stays disabled (DADM_OK). On an
 * unusable key, certificate or URL: DADM_E_INVALID, logged. */
__attribute__((warn_unused_result)) dadm_err auth_saml_global_init(conf *c);
/* Releases what auth_saml_global_init made, and lasso. Safe to call when
 * init failed or never ran; call after the worker threads have stopped. */
void auth_saml_global_shutdown(void);
/* True when SAML is configured. */
bool auth_saml_enabled(void);
/* The SP metadata XML (static for the process lifetime). NULL when disabled. */
const char *auth_saml_metadata(void);
/* Session lifetimes read from [session]. */
int auth_saml_session_idle(void);
int auth_saml_session_absolute(void);

/* True when `path` is a relative path of this site: starts with one '/',
 * not "//", no backslash, no control or space characters, at most 512
 * bytes. "/" is accepted. */
bool auth_saml_return_path_ok(const char *path);

/* Reads one supannEtablissement value. Returns 1 and writes the UAI
 * (upper case, NUL-terminated) when the value is "{UAI}" followed by a
 * valid UAI (7 digits and a letter); 0 when the value names something else
 * ("{SIREN}…"); -1 when it starts with "{UAI}" but the code is malformed. */
int auth_saml_supann_uai(const char *value, char uai[9]);

/* Attributes of an assertion, matched by their OID names (NameFormat uri or
 * none). Each value is the concatenation of all its text nodes (a comment
 * inside a value cannot truncate it); a value holding an element is
 * invalid. */
typedef struct {
    const char **eppn; /* eduPersonPrincipalName values */
    size_t n_eppn;
    const char *mail, *display_name; /* first value, or NULL */
    const char **supann;             /* supannEtablissement values */
    size_t n_supann;
    bool invalid; /* some value of a read attribute held an element */
} auth_saml_attrs;

/* Fills *out from `assertion` (borrowed); strings are owned by `a`.
 * DADM_E_NOMEM when the arena is full. */
__attribute__((warn_unused_result)) dadm_err
auth_saml_read_attributes(arena *a, struct _LassoSaml2Assertion *assertion, auth_saml_attrs *out);

/* The checks of the one assertion of a response that lasso does not make:
 * bearer SubjectConfirmation whose Recipient is our ACS, whose InResponseTo
 * is `irt` and whose NotOnOrAfter is to come; Conditions present, within
 * NotBefore / NotOnOrAfter at `now` (Unix seconds, clock_skew_seconds of
 * tolerance), no unknown Condition, at least one AudienceRestriction and
 * each naming our entityID; a NameID. *detail (static) says which check
 * failed, for the log; *not_after is the latest expiry, for the replay
 * cache. AUTH_SAML_BAD_RESPONSE when SAML is disabled. */
auth_saml_verdict auth_saml_check_assertion(struct _LassoSaml2Assertion *assertion, const char *irt,
                                            int64_t now, const char **detail, int64_t *not_after);

/* Starts a login at the IdP of establishment `uai` (`idp`: which one, when
 * it has several; NULL: the first registered). Records the request in
 * PostgreSQL with `return_path` (checked) and sets *location to the IdP
 * URL carrying the signed AuthnRequest (HTTP-Redirect, RSA-SHA256). */
__attribute__((warn_unused_result)) dadm_err
auth_saml_login_start(db *d, arena *a, const char *uai, const char *idp, const char *return_path,
                      const char **location, auth_saml_verdict *v);

/* A successful response, as the handler needs it (arena-owned). */
typedef struct {
    int64_t account_id, etab_id;
    const char *login, *uai, *idp, *eppn, *return_path;
    /* for single logout */
    const char *name_id, *name_id_format, *sp_name_qualifier, *session_index, *lasso_dump;
} auth_saml_identity;

/* Consumes the HTTP-POST SAMLResponse and RelayState of the ACS, makes
 * every check (see README) and, when they all hold, logs the person in:
 * ends the browser's previous session (`previous_token`, may be NULL),
 * opens a new one and writes its token to `token`. Every outcome is
 * audited, auth.sso.login or auth.sso.refused with its reason and `rid`;
 * the database part is one statement (dadm.saml_acs_finish). Runs in the
 * caller's transaction, which must commit on DADM_OK whatever *v says: the
 * pending request and the assertion ID stay used up. On DADM_OK with *v ==
 * AUTH_SAML_OK, *out is the person logged in; otherwise *v says why not
 * and `token` is empty. */
__attribute__((warn_unused_result)) dadm_err
auth_saml_acs(db *d, arena *a, const char *saml_response, const char *relay_state,
              const char *previous_token, const char *rid, auth_saml_identity *out,
              char token[AUTH_TOKEN_SIZE], auth_saml_verdict *v);

/* SP-initiated logout of the session `token` (may be NULL): ends it, and
 * when it came from SSO builds a LogoutRequest and sets *location to the
 * IdP (else *location is NULL). *etab_id / *account_id, when known, are for
 * the audit. */
__attribute__((warn_unused_result)) dadm_err
auth_saml_logout_start(db *d, arena *a, const char *token, const char **location, int64_t *etab_id,
                       int64_t *account_id);

/* What arrived at the SLO endpoint. */
typedef struct {
    bool was_request;     /* IdP-initiated LogoutRequest (else a LogoutResponse) */
    const char *location; /* where to send the browser (LogoutResponse to the IdP, or "/") */
    const char *idp;      /* issuer, when known */
    int64_t etab_id;
    int ended; /* sessions ended */
} auth_saml_slo_result;

/* Handles the HTTP-Redirect message in `raw_query` (the query string as
 * received: the signature covers its exact encoding). */
__attribute__((warn_unused_result)) dadm_err auth_saml_slo(db *d, arena *a, const char *raw_query,
                                                           auth_saml_slo_result *out,
                                                           auth_saml_verdict *v);

/* Operator side (dadmctl, owner role). Registers the IdP described by the
 * metadata text `metadata` (one EntityDescriptor with an IDPSSODescriptor)
 * for establishment `uai`; `entity_id` NULL: the one in the metadata,
 * else it must match. Replaces an earlier registration of the same pair.
 * On failure returns an error and sets *why to a static English message. */
__attribute__((warn_unused_result)) dadm_err
auth_saml_idp_register(db *d, arena *a, const char *uai, const char *metadata,
                       const char *entity_id, const char *source, const char **why);

/* Verifies the signature of the federation aggregate in file `path` with
 * the certificate in file `cert_path`, and returns the EntityDescriptor of
 * `entity_id` as standalone metadata text (arena-owned). */
__attribute__((warn_unused_result)) dadm_err
auth_saml_aggregate_extract(arena *a, const char *path, const char *cert_path,
                            const char *entity_id, const char **metadata, const char **why);

#endif
