/* Background jobs: a table of periodic tasks run by one thread of dadmd on
 * its own database connection, and once on demand by dadmctl. Each run of a
 * job holds a PostgreSQL advisory lock on its name, so among several dadmd
 * instances exactly one runs it at a time. */
#ifndef DADM_JOBS_H
#define DADM_JOBS_H

#include <stdbool.h>
#include <stddef.h>

#include "arena.h"
#include "conf.h"
#include "dadm_error.h"
#include "db.h"

/* One run of a job: `d` is connected and outside any transaction, `a` dies
 * after the run. The job manages its own transactions. */
typedef dadm_err (*jobs_fn)(db *d, arena *a);

typedef struct {
    const char *name;          /* also the configuration section of its keys */
    unsigned interval_seconds; /* default period, `[name] interval_seconds` overrides */
    jobs_fn fn;
} jobs_entry;

/* Every job dadm knows. */
extern const jobs_entry jobs_table[];
extern const size_t jobs_count;

typedef struct jobs jobs;

/* Starts the job thread on a new connection to `conninfo`, reading each
 * job's period from `c` ([<name>] interval_seconds) and the polling period
 * from [jobs] poll_seconds. Returns NULL when [jobs] enabled is false, or
 * on failure (logged). The caller owns the result: stop it with jobs_stop. */
jobs *jobs_start(conf *c, const char *conninfo);
/* Asks the thread to stop, waits for the job under way to finish, closes
 * its connection and frees. Accepts NULL. */
void jobs_stop(jobs *j);

/* Runs job `name` once on `d` under its advisory lock. DADM_E_NOT_FOUND for
 * an unknown job, DADM_E_CONFLICT when another instance holds the lock. */
dadm_err jobs_run_once(db *d, const char *name);

/* The job that provisions accounts from the directories whose schedule is
 * due (each under its own per-establishment lock). */
dadm_err jobs_ldap_sync(db *d, arena *a);

/* The ARS / AVS timers of assistance requests (reminders, automatic
 * closures) as of `at`, an SQL timestamptz literal, or NULL for now(): one
 * transaction calling dadm.da_timers_run. On success the counts of
 * reminders and closures go to *reminders and *closures (either may be
 * NULL). DADM_E_INVALID when `at` is not a timestamp. */
__attribute__((warn_unused_result)) dadm_err jobs_da_timers_at(db *d, arena *a, const char *at,
                                                               long *reminders, long *closures);
/* The job entry: jobs_da_timers_at(d, a, NULL, …). */
dadm_err jobs_da_timers(db *d, arena *a);

/* The job that seals the audit rows appended since its last run into the
 * hash chain (sql/0014_audit_seal.sql). */
dadm_err jobs_audit_seal(db *d, arena *a);

#endif
