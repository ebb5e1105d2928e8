/* dadmd: the dadm HTTP daemon. */
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_auth.h"
#include "auth_saml.h"
#include "conf.h"
#include "jobs.h"
#include "log.h"
#include "migrate.h"
#include "server.h"
#include "settings.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: dadmd [-c FILE]\n"
               "  -c FILE   configuration file (default: $DADM_CONFIG)\n"
               "Every key can be overridden by DADM_<SECTION>_<KEY>; see the README.\n");
}

int main(int argc, char **argv)
{
    const char *conf_path = NULL;
    int opt;
    while ((opt = getopt(argc, argv, "c:h")) != -1) {
        switch (opt) {
        case 'c':
            conf_path = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    /* Blocked here so every thread inherits the mask and only the main
     * thread's sigwait() sees them. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    int rc = 1;
    char *err = NULL;
    migrate_set *migrations = NULL;
    auth_policy *policy = NULL;
    conf *c = conf_load(settings_config_path(conf_path), &err);
    if (!c) {
        log_kv(LOG_ERROR, "config.load_failed", "detail", err, NULL);
        free(err);
        return 1;
    }
    bool ok = true;
    int level = log_level_parse(conf_str(c, "log", "level", "info"));
    if (level < 0) {
        log_kv(LOG_ERROR, "config.invalid", "key", "log.level", NULL);
        goto out;
    }
    log_set_level((log_level)level);
    server_settings s = {
        .listen_addr = conf_str(c, "http", "listen", "127.0.0.1"),
        .port = (unsigned)conf_int(c, "http", "port", 8080, 1, 65535, &ok),
        .threads = (unsigned)conf_int(c, "http", "threads", 4, 1, 256, &ok),
        .db_conninfo = conf_str(c, "db", "conninfo", "dbname=dadm user=dadm_app"),
        .max_body = (size_t)conf_int(c, "http", "max_body_bytes", 1 << 20, 1024, 1L << 30, &ok),
        .max_headers = (size_t)conf_int(c, "http", "max_header_bytes", 16384, 1024, 1 << 20, &ok),
        .shutdown_grace = (unsigned)conf_int(c, "http", "shutdown_grace_seconds", 10, 0, 600, &ok),
        .connection_timeout =
            (unsigned)conf_int(c, "http", "connection_timeout_seconds", 30, 1, 3600, &ok),
    };
    s.attachment_max_bytes =
        (size_t)conf_int(c, "attachments", "max_bytes", 20971520, 1, 1L << 30, &ok);
    /* The multipart envelope of one file: boundaries and part headers. */
    s.max_upload_body = s.attachment_max_bytes + 65536;
    const char *clamd = conf_str(c, "clamd", "address", "");
    s.clamd_address = clamd && *clamd ? clamd : NULL;
    s.clamd_timeout = (unsigned)conf_int(c, "clamd", "timeout_seconds", 30, 1, 600, &ok);
    if (!ok) {
        log_kv(LOG_ERROR, "config.invalid", "detail", "a numeric key is out of range", NULL);
        goto out;
    }
    policy = api_auth_configure(c, &s);
    if (!policy)
        goto out;
    migrations = migrate_scan(settings_sql_dir(c), &err);
    if (!migrations) {
        log_kv(LOG_ERROR, "migrations.unreadable", "detail", err, NULL);
        free(err);
        goto out;
    }
    s.migrations = migrations;
    /* lasso is initialised here, before any worker thread exists. */
    if (auth_saml_global_init(c) != DADM_OK)
        goto out;
    /* The job thread has its own connection; it waits one poll period
     * before its first run, and stops after the server has drained. */
    jobs *bg = jobs_start(c, s.db_conninfo);
    rc = server_run(&s);
    jobs_stop(bg);
out:
    auth_policy_free(policy);
    auth_saml_global_shutdown();
    migrate_set_free(migrations);
    conf_free(c);
    return rc;
}
