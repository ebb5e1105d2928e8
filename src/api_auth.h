/* What the login API (api_auth.c) and the login pages (pages.c) share. */
#ifndef DADM_API_AUTH_H
#define DADM_API_AUTH_H

#include "api.h"
#include "auth_policy.h"
#include "conf.h"
#include "server.h"

/* The client's IP address as text (arena), "-" when unknown. */
const char *api_auth_client_addr(http_req *r);
/* The login settings of the server. */
const auth_login_settings *api_auth_settings(http_req *r);
/* True unless the browser says the request comes from another site
 * (Sec-Fetch-Site other than same-origin/none, or an Origin that is not
 * this Host). Requests without either header (non-browser clients) pass. */
bool api_auth_same_origin(http_req *r);
/* Sets the session cookie for a token just opened. */
dadm_err api_auth_set_cookie(http_req *r, const char *token);
/* Ends the request's session (audited) and expires the cookie.
 * DADM_E_UNAUTHENTICATED when there is none. */
dadm_err api_auth_end_session(http_req *r);

/* Reads [session], [password] and [login] into s->login, s->public_url
 * and s->password_policy (which it returns: owned by the caller, free with
 * auth_policy_free after the server stops). NULL, logged, when a key is
 * invalid or the common passwords list cannot be read. */
auth_policy *api_auth_configure(conf *c, server_settings *s);

#endif
