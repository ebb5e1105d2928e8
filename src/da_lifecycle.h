/* The status lifecycle of assistance requests (DA): the statuses and
 * sub-statuses of the guide's table, the kinds of actor, and the one table
 * (da_lifecycle.c) that says which actor may move a DA from which status to
 * which, through which action. Pure: no database, no allocation. */
#ifndef DADM_DA_LIFECYCLE_H
#define DADM_DA_LIFECYCLE_H

#include <stdbool.h>
#include <stddef.h>

/* The statuses of the guide, in the order of dadm.da_status. */
typedef enum {
    DA_NEW,
    DA_ECT,
    DA_INT,
    DA_EXT,
    DA_EXP,
    DA_AVA,
    DA_ARS,
    DA_AVS,
    DA_ATD,
    DA_ADV,
    DA_INF,
    DA_DMF,
    DA_DEV,
    DA_PEC,
    DA_CTR,
    DA_TER,
    DA_EXC,
    DA_REJ,
    DA_ABN,
    DA_REM,
    DA_STATUS_COUNT
} da_status;

/* Sub-statuses (DEV: INI, EC, SUS, CLO; PEC: none, INI, TND, CLO; CTR:
 * none, EC, CLO). DA_SUB_ANY only appears as the "from" of a table row. */
typedef enum {
    DA_SUB_NONE,
    DA_SUB_INI,
    DA_SUB_EC,
    DA_SUB_SUS,
    DA_SUB_CLO,
    DA_SUB_TND,
    DA_SUB_COUNT,
    DA_SUB_ANY = DA_SUB_COUNT
} da_sub;

/* Who acts on a DA. */
typedef enum {
    DA_ACTOR_SITE,       /* a correspondent of the DA's establishment and product */
    DA_ACTOR_AGENCY,     /* an agency consultant of the DA's product */
    DA_ACTOR_CONTRACTOR, /* a consultant of the contractor the DA is externalised to */
    DA_ACTOR_SYSTEM,     /* the timers (reminders, automatic closure) */
    DA_ACTOR_COUNT
} da_actor;

/* The actions that move a DA; each writes a da_event of the same name
 * (dadm.da_event_kind). */
typedef enum {
    DA_ACTION_FILED,           /* NEW -> ECT on insertion */
    DA_ACTION_QUESTION,        /* a question to the site */
    DA_ACTION_ANSWER,          /* the site answers */
    DA_ACTION_SOLUTION,        /* a solution proposed (to the site, or by a contractor) */
    DA_ACTION_VALIDATION,      /* the site accepts the solution */
    DA_ACTION_REFUSAL,         /* the site refuses it, with a motive */
    DA_ACTION_EXTERNALISATION, /* handed to a contractor */
    DA_ACTION_STATUS,          /* any other move of status or sub-status */
    DA_ACTION_AUTO_CLOSURE,    /* closed by the timers, without an answer */
    DA_ACTION_COUNT
} da_action;

/* One allowed move. */
typedef struct {
    da_actor actor;
    da_action action;
    da_status from;
    da_sub from_sub; /* DA_SUB_ANY: whatever the sub-status */
    da_status to;
    da_sub to_sub;
} da_move;

/* Database spelling ("ECT", "INI", "agency", "question") and back; parse
 * returns -1 when unknown (and for NULL). A sub-status name of "" or NULL
 * parses as DA_SUB_NONE; da_sub_name(DA_SUB_NONE) is NULL. */
const char *da_status_name(da_status s);
int da_status_parse(const char *s);
const char *da_sub_name(da_sub s);
int da_sub_parse(const char *s);
const char *da_actor_name(da_actor a);
const char *da_action_name(da_action a);
/* French label of a status ("En cours de traitement"). */
const char *da_status_label(da_status s);

/* True for TER, EXC, REJ, ABN and REM: closed_at is set on entering them. */
bool da_status_closed(da_status s);
/* True when (status, sub) is a valid pair: sub-statuses only on DEV (one
 * required), PEC and CTR (optional). */
bool da_sub_valid(da_status s, da_sub sub);

/* The table itself, for tests and documentation. */
const da_move *da_lifecycle_table(size_t *n);

/* The row allowing `actor` to take `action` from (from, from_sub) to (to,
 * to_sub); NULL when the table has none. */
const da_move *da_lifecycle_find(da_actor actor, da_action action, da_status from, da_sub from_sub,
                                 da_status to, da_sub to_sub);
/* For actions whose target the table fixes (question, answer, solution,
 * validation, refusal, externalisation): the first row of `actor` and
 * `action` from (from, from_sub); NULL when none. */
const da_move *da_lifecycle_target(da_actor actor, da_action action, da_status from,
                                   da_sub from_sub);
/* Does the table give `actor` the action `action` from any status at all?
 * (A refusal then is "forbidden", not "not now".) */
bool da_lifecycle_actor_may(da_actor actor, da_action action);

#endif
