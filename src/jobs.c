#include "jobs.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "tenant_ldap.h"

const jobs_entry jobs_table[] = {
    {"ldap", 300, jobs_ldap_sync},
    {"da_timers", 900, jobs_da_timers},
    {"audit_seal", 10, jobs_audit_seal},
};
const size_t jobs_count = sizeof(jobs_table) / sizeof(jobs_table[0]);

struct jobs {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop;
    db *d;
    unsigned poll_seconds;
    unsigned interval[sizeof(jobs_table) / sizeof(jobs_table[0])];
};

/* Network timeout of directory runs started by the thread. */
static int ldap_timeout = 30;

static const jobs_entry *find_job(const char *name)
{
    for (size_t i = 0; i < jobs_count; i++)
        if (strcmp(jobs_table[i].name, name) == 0)
            return &jobs_table[i];
    return NULL;
}

dadm_err jobs_run_once(db *d, const char *name)
{
    const jobs_entry *job = find_job(name);
    if (!job)
        return DADM_E_NOT_FOUND;
    arena *a = arena_new(0);
    if (!a)
        return DADM_E_NOMEM;
    const char *params[] = {name};
    dadm_err e = DADM_OK;
    PGresult *r =
        db_exec(d, a, "SELECT pg_try_advisory_lock(hashtext('dadm.job.' || $1))", 1, params, &e);
    if (r && strcmp(PQgetvalue(r, 0, 0), "t") != 0)
        e = DADM_E_CONFLICT;
    if (r && e == DADM_OK) {
        e = job->fn(d, a);
        db_rollback(d);
        db_exec(d, a, "SELECT pg_advisory_unlock(hashtext('dadm.job.' || $1))", 1, params, NULL);
    }
    arena_free(a);
    return e;
}

dadm_err jobs_ldap_sync(db *d, arena *a)
{
    dadm_err e = DADM_OK;
    PGresult *due = db_exec(d, a, "SELECT * FROM dadm.ldap_due()", 0, NULL, &e);
    if (!due)
        return e;
    dadm_err worst = DADM_OK;
    for (int i = 0; i < PQntuples(due); i++) {
        int64_t etab = strtoll(PQgetvalue(due, i, 0), NULL, 10);
        arena *ra = arena_new(0);
        if (!ra)
            return DADM_E_NOMEM;
        tenant_ldap_options opt = {.timeout = ldap_timeout,
                                   .full = strcmp(PQgetvalue(due, i, 1), "t") == 0};
        tenant_ldap_result res;
        const char *msg = NULL;
        e = tenant_ldap_sync(d, ra, etab, &opt, &res, &msg);
        /* Another instance on this establishment is not a failure. */
        if (e != DADM_OK && e != DADM_E_CONFLICT)
            worst = e;
        arena_free(ra);
    }
    return worst;
}

dadm_err jobs_da_timers_at(db *d, arena *a, const char *at, long *reminders, long *closures)
{
    const char *params[] = {at};
    dadm_err e = DADM_OK;
    /* One statement, so one transaction: a failure leaves no half run. */
    PGresult *r = db_exec(d, a,
                          "SELECT reminders, closures"
                          " FROM dadm.da_timers_run(coalesce($1::timestamptz, now()))",
                          1, params, &e);
    if (!r)
        return e;
    if (reminders)
        *reminders = (long)db_i64(r, 0, 0);
    if (closures)
        *closures = (long)db_i64(r, 0, 1);
    if (PQgetvalue(r, 0, 0)[0] != '0' || PQgetvalue(r, 0, 1)[0] != '0')
        log_kv(LOG_INFO, "da_timers.run", "reminders", PQgetvalue(r, 0, 0), "closures",
               PQgetvalue(r, 0, 1), NULL);
    return DADM_OK;
}

dadm_err jobs_da_timers(db *d, arena *a)
{
    return jobs_da_timers_at(d, a, NULL, NULL, NULL);
}

dadm_err jobs_audit_seal(db *d, arena *a)
{
    dadm_err e = DADM_OK;
    PGresult *r = db_exec(d, a, "SELECT dadm.audit_seal()", 0, NULL, &e);
    if (r && strcmp(PQgetvalue(r, 0, 0), "0") != 0)
        log_kv(LOG_DEBUG, "audit.sealed", "rows", PQgetvalue(r, 0, 0), NULL);
    return r ? DADM_OK : e;
}

static void *loop(void *arg)
{
    jobs *j = arg;
    time_t last[sizeof(jobs_table) / sizeof(jobs_table[0])] = {0};
    pthread_mutex_lock(&j->mu);
    for (;;) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += j->poll_seconds;
        while (!j->stop && pthread_cond_timedwait(&j->cv, &j->mu, &until) == 0)
            ;
        if (j->stop)
            break;
        pthread_mutex_unlock(&j->mu);
        for (size_t i = 0; i < jobs_count; i++) {
            time_t now = time(NULL);
            if (last[i] && now - last[i] < (time_t)j->interval[i])
                continue;
            last[i] = now;
            if (db_ensure(j->d) != DADM_OK)
                break;
            dadm_err e = jobs_run_once(j->d, jobs_table[i].name);
            if (e != DADM_OK && e != DADM_E_CONFLICT)
                log_kv(LOG_WARN, "job.failed", "job", jobs_table[i].name, "error", dadm_err_slug(e),
                       NULL);
            pthread_mutex_lock(&j->mu);
            bool stop = j->stop;
            pthread_mutex_unlock(&j->mu);
            if (stop)
                break;
        }
        pthread_mutex_lock(&j->mu);
    }
    pthread_mutex_unlock(&j->mu);
    return NULL;
}

jobs *jobs_start(conf *c, const char *conninfo)
{
    bool ok = true;
    if (!conf_bool(c, "jobs", "enabled", true, &ok) || !ok) {
        if (!ok)
            log_kv(LOG_ERROR, "config.invalid", "key", "jobs.enabled", NULL);
        return NULL;
    }
    jobs *j = calloc(1, sizeof(*j));
    if (!j)
        return NULL;
    j->poll_seconds = (unsigned)conf_int(c, "jobs", "poll_seconds", 30, 1, 86400, &ok);
    for (size_t i = 0; i < jobs_count; i++)
        j->interval[i] = (unsigned)conf_int(c, jobs_table[i].name, "interval_seconds",
                                            jobs_table[i].interval_seconds, 1, 604800, &ok);
    ldap_timeout = (int)conf_int(c, "ldap", "timeout_seconds", 30, 1, 3600, &ok);
    if (!ok) {
        log_kv(LOG_ERROR, "config.invalid", "detail", "a [jobs] or [ldap] key is out of range",
               NULL);
        free(j);
        return NULL;
    }
    j->d = db_new(conninfo);
    pthread_mutex_init(&j->mu, NULL);
    pthread_cond_init(&j->cv, NULL);
    if (!j->d || pthread_create(&j->thread, NULL, loop, j) != 0) {
        log_kv(LOG_ERROR, "jobs.start_failed", NULL);
        db_free(j->d);
        pthread_cond_destroy(&j->cv);
        pthread_mutex_destroy(&j->mu);
        free(j);
        return NULL;
    }
    log_kv(LOG_INFO, "jobs.started", NULL);
    return j;
}

void jobs_stop(jobs *j)
{
    if (!j)
        return;
    pthread_mutex_lock(&j->mu);
    j->stop = true;
    pthread_cond_signal(&j->cv);
    pthread_mutex_unlock(&j->mu);
    pthread_join(j->thread, NULL);
    db_free(j->d);
    pthread_cond_destroy(&j->cv);
    pthread_mutex_destroy(&j->mu);
    free(j);
    log_kv(LOG_INFO, "jobs.stopped", NULL);
}
