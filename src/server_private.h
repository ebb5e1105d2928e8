/* The server's state, shared by server.c and the handlers that need the
 * pool or the settings (readiness). */
#ifndef DADM_SERVER_PRIVATE_H
#define DADM_SERVER_PRIVATE_H

#include <stdatomic.h>
#include <stdbool.h>

#include "pool.h"
#include "server.h"

struct server {
    server_settings set;
    pool *pool;
    atomic_uint inflight;
    atomic_bool stopping;
};

#endif
