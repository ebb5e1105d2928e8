/* The login pages. They use the same auth_login_* calls as the JSON API;
 * forms post to this site only and every answer is a complete page or a
 * 303 redirect to a path of this site. */
#include "pages.h"

#include <glib.h>
#include <microhttpd.h>
#include <string.h>

#include "api_auth.h"
#include "server_private.h"
#include "util.h"

#define LOGIN_COOKIE "__Host-dadm_login"
#define CSP                                                                                        \
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "                   \
    "frame-ancestors 'none'; base-uri 'none'"

/* Appends `s` escaped. */
static void esc(GString *g, const char *s)
{
    for (const char *c = s ? s : ""; *c; c++) {
        switch (*c) {
        case '&':
            g_string_append(g, "&amp;");
            break;
        case '<':
            g_string_append(g, "&lt;");
            break;
        case '>':
            g_string_append(g, "&gt;");
            break;
        case '"':
            g_string_append(g, "&quot;");
            break;
        case '\'':
            g_string_append(g, "&#39;");
            break;
        default:
            g_string_append_c(g, *c);
        }
    }
}

char *pages_escape(arena *a, const char *s)
{
    GString *g = g_string_new(NULL);
    esc(g, s);
    char *out = arena_strdup(a, g->str);
    g_string_free(g, TRUE);
    return out;
}

/* Wraps `content` (already safe HTML; freed here) in the page layout and
 * answers with it. */
static dadm_err page(http_req *r, unsigned status, const char *title, GString *content)
{
    GString *g =
        g_string_new("<!DOCTYPE html>\n<html lang=\"fr\">\n<head>\n<meta charset=\"utf-8\">\n"
                     "<meta name=\"viewport\" content=\"width=device-width, "
                     "initial-scale=1\">\n<title>");
    esc(g, title);
    g_string_append(g, " — Espace des correspondants</title>\n</head>\n<body>\n<main>\n<h1>");
    esc(g, title);
    g_string_append(g, "</h1>\n");
    g_string_append_len(g, content->str, (gssize)content->len);
    g_string_append(g, "</main>\n</body>\n</html>\n");
    g_string_free(content, TRUE);
    char *html = arena_strdup(r->a, g->str);
    g_string_free(g, TRUE);
    if (!html || http_add_header(r, "Content-Security-Policy", CSP) != DADM_OK)
        return DADM_E_NOMEM;
    return http_reply_html(r, status, html);
}

dadm_err pages_message(http_req *r, unsigned status, const char *title, const char *message)
{
    GString *c = g_string_new("<p>");
    esc(c, message);
    g_string_append(c, "</p>\n<p><a href=\"/login\">Retour à la page de connexion</a></p>\n");
    return page(r, status, title, c);
}

/* A new pre-session token, set as the __Host-dadm_login cookie and written
 * into the login forms: a login form posted from another site lacks it
 * (login CSRF). */
static const char *login_form_token(http_req *r)
{
    unsigned char raw[32];
    char hex[65];
    if (!util_random(raw, sizeof(raw)))
        return NULL;
    util_hex(hex, raw, sizeof(raw));
    const char *cookie = arena_printf(r->a,
                                      LOGIN_COOKIE "=%s; Path=/; Max-Age=3600; Secure; HttpOnly; "
                                                   "SameSite=Strict",
                                      hex);
    if (!cookie || http_add_header(r, "Set-Cookie", cookie) != DADM_OK)
        return NULL;
    return arena_strdup(r->a, hex);
}

/* True when the posted form carries the pre-session token of its cookie
 * and comes from this site. */
static bool login_form_ok(http_req *r)
{
    const char *cookie = MHD_lookup_connection_value(r->conn, MHD_COOKIE_KIND, LOGIN_COOKIE);
    const char *field = http_form_field(r, "login_csrf");
    return api_auth_same_origin(r) && cookie && field && strlen(cookie) == 64 &&
           strlen(field) == 64 && util_ct_equal(cookie, field, 64);
}

static void hidden(GString *g, const char *name, const char *value)
{
    if (!value)
        return;
    g_string_append_printf(g, "<input type=\"hidden\" name=\"%s\" value=\"", name);
    esc(g, value);
    g_string_append(g, "\">\n");
}

static void error_box(GString *g, const char *error)
{
    if (!error)
        return;
    g_string_append(g, "<p role=\"alert\"><strong>");
    esc(g, error);
    g_string_append(g, "</strong></p>\n");
}

/* The login page: establishment (SSO), personal account, product login. */
static dadm_err login_page(http_req *r, unsigned status, const char *error, const char *next)
{
    next = api_auth_safe_next(next);
    const char *tok = login_form_token(r);
    if (!tok)
        return DADM_E_NOMEM;
    dadm_err e = DADM_OK;
    PGresult *etabs =
        db_exec(r->db, r->a, "SELECT uai, name FROM dadm.auth_login_etabs()", 0, NULL, &e);
    if (!etabs)
        return e;
    GString *c = g_string_new(NULL);
    error_box(c, error);
    if (r->who->level != AUTH_LEVEL_ANONYMOUS) {
        char csrf[AUTH_CSRF_SIZE];
        auth_login_csrf_of(r->token, csrf);
        g_string_append(c, "<p>Vous êtes connecté");
        if (r->who->login) {
            g_string_append(c, " (");
            esc(c, r->who->login);
            g_string_append(c, ")");
        }
        g_string_append(c, ".</p>\n<form method=\"post\" action=\"/logout\">\n");
        hidden(c, "csrf_token", csrf);
        g_string_append(c, "<button type=\"submit\">Se déconnecter</button>\n</form>\n");
        if (r->who->level == AUTH_LEVEL_PERSON)
            g_string_append(c, "<p><a href=\"/password/change\">Changer mon mot de "
                               "passe</a></p>\n");
    }
    g_string_append(c, "<section>\n<h2>Connexion avec le compte de votre établissement</h2>\n"
                       "<p>Choisissez votre établissement :</p>\n<ul>\n");
    for (int i = 0; i < PQntuples(etabs); i++) {
        /* the UAI is [0-9]{7}[A-Z] (checked by the schema): safe in a URL */
        g_string_append(c, "<li><a href=\"/saml/login?etab=");
        esc(c, PQgetvalue(etabs, i, 0));
        if (next) {
            gchar *q = g_uri_escape_string(next, NULL, FALSE);
            g_string_append(c, "&amp;next=");
            esc(c, q);
            g_free(q);
        }
        g_string_append(c, "\">");
        esc(c, PQgetvalue(etabs, i, 1));
        g_string_append(c, "</a></li>\n");
    }
    g_string_append(c, "</ul>\n</section>\n"
                       "<section>\n<h2>Connexion avec votre compte personnel</h2>\n"
                       "<form method=\"post\" action=\"/login/password\">\n");
    hidden(c, "login_csrf", tok);
    hidden(c, "next", next);
    g_string_append(c,
                    "<p><label for=\"login\">Identifiant</label>\n"
                    "<input id=\"login\" name=\"login\" autocomplete=\"username\" required></p>\n"
                    "<p><label for=\"password\">Mot de passe</label>\n"
                    "<input id=\"password\" name=\"password\" type=\"password\" "
                    "autocomplete=\"current-password\" required></p>\n"
                    "<button type=\"submit\">Se connecter</button>\n</form>\n"
                    "<p><a href=\"/password/lost\">Mot de passe perdu</a> · "
                    "<a href=\"/login/lost\">Identifiant perdu</a></p>\n</section>\n"
                    "<section>\n<h2>Téléchargements : connexion avec le login du logiciel</h2>\n"
                    "<p>Le login du logiciel (par exemple aporead) est le même que pour le "
                    "FTP.</p>\n<form method=\"post\" action=\"/login/reader\">\n");
    hidden(c, "login_csrf", tok);
    hidden(c, "next", next);
    g_string_append(c,
                    "<p><label for=\"rlogin\">Login du logiciel</label>\n"
                    "<input id=\"rlogin\" name=\"login\" autocomplete=\"username\" required></p>\n"
                    "<p><label for=\"rpassword\">Mot de passe</label>\n"
                    "<input id=\"rpassword\" name=\"password\" type=\"password\" "
                    "autocomplete=\"current-password\" required></p>\n"
                    "<button type=\"submit\">Se connecter</button>\n</form>\n</section>\n");
    return page(r, status, "Connexion", c);
}

/* GET /login */
dadm_err pages_login(http_req *r)
{
    return login_page(r, 200, NULL, http_query(r, "next"));
}

static dadm_err limited_page(http_req *r, int retry)
{
    char *ra = arena_printf(r->a, "%d", retry);
    char *msg = arena_printf(r->a, "Trop de tentatives. Réessayez dans %d seconde%s.", retry,
                             retry > 1 ? "s" : "");
    if (!ra || !msg || http_add_header(r, "Retry-After", ra) != DADM_OK)
        return DADM_E_NOMEM;
    return pages_message(r, 429, "Trop de tentatives", msg);
}

static dadm_err expired_form(http_req *r)
{
    return pages_message(r, 403, "Formulaire expiré",
                         "Ce formulaire n'est plus valable ou ne vient pas de ce site. "
                         "Rechargez la page de connexion et recommencez.");
}

static dadm_err after_login(http_req *r, const char *token)
{
    dadm_err e = api_auth_set_cookie(r, token);
    if (e != DADM_OK)
        return e;
    const char *next = api_auth_safe_next(http_form_field(r, "next"));
    /* no web UI at "/" yet: the login page shows the session and its links */
    return http_redirect(r, 303, next ? next : "/login");
}

/* POST /login/password and /login/reader */
static dadm_err login_post(http_req *r, bool reader)
{
    if (!login_form_ok(r))
        return expired_form(r);
    const char *login = http_form_field(r, "login"), *pw = http_form_field(r, "password");
    auth_login_result res;
    int retry = 0;
    int64_t id = 0;
    char token[AUTH_TOKEN_SIZE], csrf[AUTH_CSRF_SIZE];
    dadm_err e =
        reader ? auth_login_reader(r->db, r->a, login, pw, api_auth_client_addr(r), r->token,
                                   api_auth_settings(r), &res, &retry, &id, token, csrf)
               : auth_login_password(r->db, r->a, login, pw, api_auth_client_addr(r), r->token,
                                     api_auth_settings(r), &res, &retry, &id, token, csrf);
    if (e == DADM_OK && res == AUTH_LOGIN_OK)
        e = after_login(r, token);
    memset(token, 0, sizeof(token));
    if (e != DADM_OK || res == AUTH_LOGIN_OK)
        return e;
    if (res == AUTH_LOGIN_LIMITED)
        return limited_page(r, retry);
    return login_page(r, 401, "Identifiant ou mot de passe incorrect.", http_form_field(r, "next"));
}

dadm_err pages_login_password(http_req *r)
{
    return login_post(r, false);
}

dadm_err pages_login_reader(http_req *r)
{
    return login_post(r, true);
}

/* POST /logout (the server has checked the CSRF token of the cookie). */
dadm_err pages_logout(http_req *r)
{
    if (r->who->level != AUTH_LEVEL_ANONYMOUS) {
        dadm_err e = api_auth_end_session(r);
        if (e != DADM_OK)
            return e;
    }
    return http_redirect(r, 303, "/login");
}

static dadm_err simple_form(http_req *r, unsigned status, const char *title, const char *intro,
                            const char *action, const char *label, const char *name,
                            const char *type, const char *error)
{
    GString *c = g_string_new(NULL);
    error_box(c, error);
    g_string_append(c, "<p>");
    esc(c, intro);
    g_string_append_printf(c,
                           "</p>\n<form method=\"post\" action=\"%s\">\n<p><label for=\"%s\">%s"
                           "</label>\n<input id=\"%s\" name=\"%s\" type=\"%s\" required></p>\n"
                           "<button type=\"submit\">Envoyer</button>\n</form>\n"
                           "<p><a href=\"/login\">Retour à la page de connexion</a></p>\n",
                           action, name, label, name, name, type);
    return page(r, status, title, c);
}

/* GET /password/lost */
dadm_err pages_password_lost(http_req *r)
{
    return simple_form(r, 200, "Mot de passe perdu",
                       "Indiquez votre identifiant : un lien pour choisir un nouveau mot de passe "
                       "sera envoyé à l'adresse électronique de votre compte.",
                       "/password/lost", "Identifiant", "login", "text", NULL);
}

/* POST /password/lost */
dadm_err pages_password_lost_post(http_req *r)
{
    if (!api_auth_same_origin(r))
        return expired_form(r);
    const char *login = http_form_field(r, "login");
    if (!login || !*login)
        return simple_form(r, 400, "Mot de passe perdu", "Indiquez votre identifiant.",
                           "/password/lost", "Identifiant", "login", "text",
                           "L'identifiant est obligatoire.");
    auth_login_result res;
    int retry = 0;
    dadm_err e =
        auth_login_reset_request(r->db, r->a, login, r->srv->set.public_url,
                                 api_auth_client_addr(r), api_auth_settings(r), &res, &retry);
    if (e != DADM_OK)
        return e;
    if (res == AUTH_LOGIN_LIMITED)
        return limited_page(r, retry);
    return pages_message(r, 200, "Mot de passe perdu",
                         "Si ce compte existe, un courriel vient d'être envoyé à son adresse avec "
                         "un lien pour choisir un nouveau mot de passe, valable 30 minutes.");
}

/* GET /login/lost */
dadm_err pages_login_lost(http_req *r)
{
    return simple_form(r, 200, "Identifiant perdu",
                       "Indiquez l'adresse électronique de votre compte : votre identifiant lui "
                       "sera envoyé.",
                       "/login/lost", "Adresse électronique", "email", "email", NULL);
}

/* POST /login/lost */
dadm_err pages_login_lost_post(http_req *r)
{
    if (!api_auth_same_origin(r))
        return expired_form(r);
    const char *email = http_form_field(r, "email");
    if (!email || !*email)
        return simple_form(r, 400, "Identifiant perdu", "Indiquez votre adresse électronique.",
                           "/login/lost", "Adresse électronique", "email", "email",
                           "L'adresse électronique est obligatoire.");
    auth_login_result res;
    int retry = 0;
    dadm_err e = auth_login_reminder(r->db, r->a, email, r->srv->set.public_url,
                                     api_auth_client_addr(r), api_auth_settings(r), &res, &retry);
    if (e != DADM_OK)
        return e;
    if (res == AUTH_LOGIN_LIMITED)
        return limited_page(r, retry);
    return pages_message(r, 200, "Identifiant perdu",
                         "Si cette adresse est celle d'un compte, un courriel vient de lui être "
                         "envoyé avec l'identifiant.");
}

static void new_password_fields(GString *c)
{
    g_string_append(c, "<p><label for=\"new_password\">Nouveau mot de passe</label>\n"
                       "<input id=\"new_password\" name=\"new_password\" type=\"password\" "
                       "autocomplete=\"new-password\" required></p>\n"
                       "<p><label for=\"confirm\">Nouveau mot de passe, une deuxième fois</label>\n"
                       "<input id=\"confirm\" name=\"confirm\" type=\"password\" "
                       "autocomplete=\"new-password\" required></p>\n"
                       "<p>Au moins 12 caractères, avec des majuscules, des minuscules, des "
                       "chiffres et des caractères spéciaux ; sans lettres accentuées, ni ç, "
                       "!, ?, * ou @.</p>\n");
}

static dadm_err reset_form(http_req *r, unsigned status, const char *token, const char *error)
{
    GString *c = g_string_new(NULL);
    error_box(c, error);
    g_string_append(c, "<form method=\"post\" action=\"/password/reset\">\n");
    hidden(c, "token", token ? token : "");
    new_password_fields(c);
    g_string_append(c, "<button type=\"submit\">Changer le mot de passe</button>\n</form>\n");
    return page(r, status, "Nouveau mot de passe", c);
}

/* GET /password/reset?token= */
dadm_err pages_password_reset(http_req *r)
{
    return reset_form(r, 200, http_query(r, "token"), NULL);
}

/* The policy's sentence, or a mismatch of the two copies; NULL when fine. */
static const char *new_password_problem(http_req *r, const char *pw, const char *confirm)
{
    if (!pw || !*pw)
        return "Indiquez le nouveau mot de passe.";
    if (!confirm || strcmp(pw, confirm) != 0)
        return "Les deux saisies du nouveau mot de passe diffèrent.";
    return auth_policy_check(r->srv->set.password_policy, r->a, pw);
}

/* POST /password/reset */
dadm_err pages_password_reset_post(http_req *r)
{
    if (!api_auth_same_origin(r))
        return expired_form(r);
    const char *token = http_form_field(r, "token"), *pw = http_form_field(r, "new_password");
    const char *why = new_password_problem(r, pw, http_form_field(r, "confirm"));
    if (why)
        return reset_form(r, 422, token, why);
    bool done = false;
    dadm_err e = auth_login_reset(r->db, r->a, token, pw, api_auth_settings(r), &done);
    if (e != DADM_OK)
        return e;
    if (!done)
        return pages_message(r, 400, "Lien expiré",
                             "Ce lien n'est plus valable (déjà utilisé ou expiré). Demandez-en "
                             "un nouveau depuis la page de connexion.");
    return pages_message(r, 200, "Mot de passe changé",
                         "Votre mot de passe est changé. Connectez-vous avec le nouveau.");
}

static dadm_err change_form(http_req *r, unsigned status, const char *error)
{
    char csrf[AUTH_CSRF_SIZE];
    auth_login_csrf_of(r->token, csrf);
    GString *c = g_string_new(NULL);
    error_box(c, error);
    g_string_append(c, "<form method=\"post\" action=\"/password/change\">\n");
    hidden(c, "csrf_token", csrf);
    g_string_append(c, "<p><label for=\"current_password\">Mot de passe actuel</label>\n"
                       "<input id=\"current_password\" name=\"current_password\" "
                       "type=\"password\" autocomplete=\"current-password\" required></p>\n");
    new_password_fields(c);
    g_string_append(c, "<button type=\"submit\">Changer le mot de passe</button>\n</form>\n");
    return page(r, status, "Changer mon mot de passe", c);
}

/* GET /password/change */
dadm_err pages_password_change(http_req *r)
{
    if (r->who->level != AUTH_LEVEL_PERSON || !r->token)
        return http_redirect(r, 303, "/login?next=/password/change");
    return change_form(r, 200, NULL);
}

/* POST /password/change (the server has checked the CSRF token). */
dadm_err pages_password_change_post(http_req *r)
{
    if (r->who->level != AUTH_LEVEL_PERSON || !r->token)
        return http_redirect(r, 303, "/login?next=/password/change");
    const char *pw = http_form_field(r, "new_password");
    const char *why = new_password_problem(r, pw, http_form_field(r, "confirm"));
    if (why)
        return change_form(r, 422, why);
    auth_login_result res;
    int retry = 0;
    char token[AUTH_TOKEN_SIZE], csrf[AUTH_CSRF_SIZE];
    dadm_err e = auth_login_change_password(
        r->db, r->a, r->who->account_id, r->who->login, http_form_field(r, "current_password"), pw,
        "password", api_auth_client_addr(r), api_auth_settings(r), &res, &retry, token, csrf);
    if (e == DADM_OK && res == AUTH_LOGIN_OK)
        e = api_auth_set_cookie(r, token);
    memset(token, 0, sizeof(token));
    if (e != DADM_OK)
        return e;
    if (res == AUTH_LOGIN_LIMITED)
        return limited_page(r, retry);
    if (res == AUTH_LOGIN_BAD)
        return change_form(r, 403, "Le mot de passe actuel est incorrect.");
    return pages_message(r, 200, "Mot de passe changé",
                         "Votre mot de passe est changé. Vos autres sessions sont fermées.");
}
