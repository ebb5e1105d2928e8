#include "dadm_error.h"

/* No default: in these switches, so that -Wswitch (part of -Wall) flags a new
 * code that was given no title, slug or status. */

const char *dadm_err_title(dadm_err e)
{
    switch (e) {
    case DADM_OK:
        return "Succès";
    case DADM_E_BAD_REQUEST:
        return "Requête mal formée";
    case DADM_E_INVALID:
        return "Données invalides";
    case DADM_E_UNAUTHENTICATED:
        return "Authentification requise";
    case DADM_E_FORBIDDEN:
        return "Accès refusé";
    case DADM_E_NOT_FOUND:
        return "Ressource introuvable";
    case DADM_E_METHOD:
        return "Méthode non autorisée";
    case DADM_E_CONFLICT:
        return "Conflit avec l'état de la ressource";
    case DADM_E_TOO_LARGE:
        return "Contenu trop volumineux";
    case DADM_E_HEADERS_TOO_LARGE:
        return "En-têtes trop volumineux";
    case DADM_E_UNSUPPORTED_TYPE:
        return "Type de contenu non pris en charge";
    case DADM_E_RATE_LIMITED:
        return "Trop de tentatives";
    case DADM_E_DB_UNAVAILABLE:
        return "Service momentanément indisponible";
    case DADM_E_UNAVAILABLE:
        return "Service indisponible";
    case DADM_E_NOMEM:
        return "Ressources insuffisantes";
    case DADM_E_INTERNAL:
        return "Erreur interne";
    }
    return "Erreur inconnue";
}

const char *dadm_err_slug(dadm_err e)
{
    switch (e) {
    case DADM_OK:
        return "ok";
    case DADM_E_BAD_REQUEST:
        return "bad-request";
    case DADM_E_INVALID:
        return "invalid-value";
    case DADM_E_UNAUTHENTICATED:
        return "unauthenticated";
    case DADM_E_FORBIDDEN:
        return "forbidden";
    case DADM_E_NOT_FOUND:
        return "not-found";
    case DADM_E_METHOD:
        return "method-not-allowed";
    case DADM_E_CONFLICT:
        return "conflict";
    case DADM_E_TOO_LARGE:
        return "payload-too-large";
    case DADM_E_HEADERS_TOO_LARGE:
        return "headers-too-large";
    case DADM_E_UNSUPPORTED_TYPE:
        return "unsupported-media-type";
    case DADM_E_RATE_LIMITED:
        return "rate-limited";
    case DADM_E_DB_UNAVAILABLE:
        return "database-unavailable";
    case DADM_E_UNAVAILABLE:
        return "unavailable";
    case DADM_E_NOMEM:
        return "out-of-resources";
    case DADM_E_INTERNAL:
        return "internal-error";
    }
    return "unknown";
}

unsigned dadm_err_http_status(dadm_err e)
{
    switch (e) {
    case DADM_OK:
        return 200;
    case DADM_E_BAD_REQUEST:
        return 400;
    case DADM_E_INVALID:
        return 422;
    case DADM_E_UNAUTHENTICATED:
        return 401;
    case DADM_E_FORBIDDEN:
        return 403;
    case DADM_E_NOT_FOUND:
        return 404;
    case DADM_E_METHOD:
        return 405;
    case DADM_E_CONFLICT:
        return 409;
    case DADM_E_TOO_LARGE:
        return 413;
    case DADM_E_HEADERS_TOO_LARGE:
        return 431;
    case DADM_E_UNSUPPORTED_TYPE:
        return 415;
    case DADM_E_RATE_LIMITED:
        return 429;
    case DADM_E_DB_UNAVAILABLE:
        return 503;
    case DADM_E_UNAVAILABLE:
        return 503;
    case DADM_E_NOMEM:
        return 503;
    case DADM_E_INTERNAL:
        return 500;
    }
    return 500;
}
