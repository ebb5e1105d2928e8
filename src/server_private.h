/* The server's state, shared by server.c and the handlers that need the
 * pool or the settings (readiness). */
#ifndef DADM_SERVER_PRIVATE_H
#define DADM_SERVER_PRIVATE_H

#include <stdatomic.h>
#include <stdbool.h>

#include "pool.h"
#include "server.h"

struct MHD_Daemon;

struct server {
    server_settings set;
    pool *pool;
    atomic_uint inflight;
    atomic_bool stopping;
    /* One single-threaded daemon per worker, and its requests in flight. */
    unsigned nworkers;
    struct MHD_Daemon **workers;
    atomic_uint *busy;
};

#endif
