/* HTTP handlers, one function per route (see routes.c). */
#ifndef DADM_API_H
#define DADM_API_H

#include "auth_login.h"
#include "http.h"

dadm_err api_healthz(http_req *r);
dadm_err api_readyz(http_req *r);
dadm_err api_metrics(http_req *r);
dadm_err api_me(http_req *r);
dadm_err api_products_list(http_req *r);
dadm_err api_etabs_list(http_req *r);
dadm_err api_etab_get(http_req *r);
dadm_err api_etab_installations(http_req *r);
/* Change requests (api_changes.c). */
dadm_err api_changes_submit(http_req *r);
dadm_err api_etab_changes_list(http_req *r);
dadm_err api_changes_list(http_req *r);
dadm_err api_change_get(http_req *r);
dadm_err api_change_approve(http_req *r);
dadm_err api_change_refuse(http_req *r);
dadm_err api_change_withdraw(http_req *r);
dadm_err api_change_file(http_req *r);
dadm_err api_directory_runs_list(http_req *r);
/* Attachments and production-access consents of DAs (api_da_files.c). */
dadm_err api_da_attachment_upload(http_req *r);
dadm_err api_da_attachments_list(http_req *r);
dadm_err api_da_attachment_get(http_req *r);
dadm_err api_da_consents_list(http_req *r);
dadm_err api_da_consent_request(http_req *r);
dadm_err api_da_consent_grant(http_req *r);
dadm_err api_da_consent_refuse(http_req *r);
/* DA dashboards (api_da_board.c): a correspondent's requests grouped as the
 * guide does, an agency consultant's queue of open requests. */
dadm_err api_da_dashboard(http_req *r);
dadm_err api_da_queue(http_req *r);
dadm_err api_directory_run_get(http_req *r);
/* Assistance requests (api_das.c). */
dadm_err api_das_file(http_req *r);
dadm_err api_das_list(http_req *r);
dadm_err api_da_get(http_req *r);
dadm_err api_da_events(http_req *r);
dadm_err api_da_complement(http_req *r);
dadm_err api_da_question(http_req *r);
dadm_err api_da_answer(http_req *r);
dadm_err api_da_solution(http_req *r);
dadm_err api_da_validation(http_req *r);
dadm_err api_da_refusal(http_req *r);
dadm_err api_da_note(http_req *r);
dadm_err api_da_move(http_req *r);
dadm_err api_da_requalification(http_req *r);
dadm_err api_da_externalisation(http_req *r);

/* Logging in and out (api_auth.c). Shared with the SSO handlers. */

/* Opens a level-2 session for `account_id` (method "password" or "sso") in
 * the request's transaction, ending the request's previous session if any,
 * and sets the session cookie. `csrf` receives the new session's CSRF token
 * (for a JSON answer or a form). DADM_E_FORBIDDEN when the account is not
 * active. The caller audits the login. */
__attribute__((warn_unused_result)) dadm_err api_auth_session_start(http_req *r, int64_t account_id,
                                                                    const char *method,
                                                                    char csrf[AUTH_CSRF_SIZE]);
/* `next` when it is a path of this site ("/x…", not "//…", no backslash,
 * no control character, no scheme), else NULL. For RelayState and ?next=. */
const char *api_auth_safe_next(const char *next);
/* The CSRF check of server.c for state-changing requests made with the
 * session cookie: same origin (api_auth_same_origin) and the session's CSRF
 * token in the X-CSRF-Token header or the csrf_token form field. */
bool api_auth_csrf_ok(http_req *r);
dadm_err api_session_create(http_req *r);
dadm_err api_reader_session_create(http_req *r);
dadm_err api_session_delete(http_req *r);
dadm_err api_password_change(http_req *r);
dadm_err api_password_reset_request(http_req *r);
dadm_err api_password_reset(http_req *r);
dadm_err api_login_reminder(http_req *r);

/* HTML pages (pages.c): French, every dynamic value escaped, strict CSP. */

/* Answers a small page with a title and a message (both plain text,
 * escaped here) and a link back to the login page. For refusals (SSO). */
dadm_err pages_message(http_req *r, unsigned status, const char *title, const char *message);
dadm_err pages_login(http_req *r);
dadm_err pages_login_password(http_req *r);
dadm_err pages_login_reader(http_req *r);
dadm_err pages_logout(http_req *r);
dadm_err pages_password_lost(http_req *r);
dadm_err pages_password_lost_post(http_req *r);
dadm_err pages_login_lost(http_req *r);
dadm_err pages_login_lost_post(http_req *r);
dadm_err pages_password_reset(http_req *r);
dadm_err pages_password_reset_post(http_req *r);
dadm_err pages_password_change(http_req *r);
dadm_err pages_password_change_post(http_req *r);

/* SAML 2.0 single sign-on (api_saml.c). */
dadm_err api_saml_metadata(http_req *r);
dadm_err api_saml_login(http_req *r);
dadm_err api_saml_acs(http_req *r);
dadm_err api_saml_logout(http_req *r);
dadm_err api_saml_slo(http_req *r);

#endif
