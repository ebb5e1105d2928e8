/* The service's one error enum: every failure a caller can see has a code here.
 * The HTTP status, the problem+json `type` and the French title all derive
 * from the code in dadm_error.c, in one place. */
#ifndef DADM_COMMON_ERROR_H
#define DADM_COMMON_ERROR_H

typedef enum {
    DADM_OK = 0,
    DADM_E_BAD_REQUEST,       /* malformed request (syntax) */
    DADM_E_INVALID,           /* well-formed, but a value is not acceptable */
    DADM_E_UNAUTHENTICATED,   /* no valid session */
    DADM_E_FORBIDDEN,         /* authenticated, not allowed */
    DADM_E_NOT_FOUND,         /* no such resource, or not visible to the caller */
    DADM_E_METHOD,            /* path exists, method does not */
    DADM_E_CONFLICT,          /* the state of the resource forbids it */
    DADM_E_TOO_LARGE,         /* body over the cap */
    DADM_E_HEADERS_TOO_LARGE, /* headers over the cap */
    DADM_E_UNSUPPORTED_TYPE,  /* Content-Type not accepted */
    DADM_E_RATE_LIMITED,      /* too many attempts */
    DADM_E_DB_UNAVAILABLE,    /* database unreachable: retry later */
    DADM_E_UNAVAILABLE,       /* the service is stopping or not ready */
    DADM_E_NOMEM,             /* allocation failed or a per-request cap was hit */
    DADM_E_INTERNAL,          /* a bug or an unexpected library failure */
} dadm_err;

/* Short French title for the client. Never NULL. */
const char *dadm_err_title(dadm_err e);
/* Stable slug used in the problem `type` (/problems/<slug>). Never NULL. */
const char *dadm_err_slug(dadm_err e);
/* HTTP status code to answer with. */
unsigned dadm_err_http_status(dadm_err e);

#endif
