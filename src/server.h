/* The HTTP daemon: libmicrohttpd with a pool of worker threads, one
 * database connection per worker, graceful stop. */
#ifndef DADM_SERVER_H
#define DADM_SERVER_H

#include <stddef.h>

#include "auth_login.h"
#include "auth_policy.h"
#include "migrate.h"

typedef struct {
    const char *listen_addr; /* IPv4 address to bind */
    unsigned port;
    unsigned threads;
    const char *db_conninfo;
    size_t max_body;         /* bytes */
    size_t max_upload_body;  /* bytes, for ROUTE_UPLOAD routes: a file and its envelope */
    size_t max_headers;      /* bytes, all header lines together */
    unsigned shutdown_grace; /* seconds to let in-flight requests finish */
    unsigned connection_timeout;
    const migrate_set *migrations;      /* what /readyz expects to find applied */
    auth_login_settings login;          /* [session], [login]: sessions and login limits */
    const auth_policy *password_policy; /* [password]: the rule for new passwords */
    const char *public_url;             /* [login] public_url: base of the links in mails */
    size_t attachment_max_bytes;        /* [attachments] max_bytes: largest attached file */
    const char *clamd_address;          /* [clamd] address; NULL: no scan */
    unsigned clamd_timeout;             /* [clamd] timeout_seconds */
} server_settings;

/* Serves until SIGTERM or SIGINT, then stops accepting, lets in-flight
 * requests finish (up to shutdown_grace seconds) and returns 0; non-zero
 * when the server cannot start. The caller blocks those signals first. */
int server_run(const server_settings *s);

#endif
