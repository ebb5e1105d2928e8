/* Assistance requests (DA): filing, reading, and every action on a filed
 * DA (exchanges, moves of status, requalification, externalisation).
 *
 * Every function runs inside the request's transaction with the caller's
 * principal set, so row-level security applies on top of the checks made
 * here. A DA the caller may not see is DADM_E_NOT_FOUND, never
 * DADM_E_FORBIDDEN: its existence does not leak. On failure a function sets
 * *detail (when given) to a French message for the client (static or
 * arena-owned) and leaves nothing the caller's rollback would not undo.
 * Objects returned through `out` are new references the caller owns. */
#ifndef DADM_DA_H
#define DADM_DA_H

#include <jansson.h>
#include <stdint.h>

#include "arena.h"
#include "auth_principal.h"
#include "da_lifecycle.h"
#include "dadm_error.h"
#include "db.h"

/* Longest texts accepted, in characters. */
#define DA_TITLE_MAX        200
#define DA_DESCRIPTION_MAX  20000
#define DA_BODY_MAX         20000
#define DA_MOTIVE_MAX       4000
#define DA_INTERNAL_REF_MAX 50

/* Files a DA for `who` (a correspondent of the product in its own
 * establishment) from a request body: product, priority, domain, title,
 * description, version, optional internal_ref and message_code. Checks
 * every field, the caller's role (DADM_E_FORBIDDEN), the installation and
 * its validated version (DADM_E_CONFLICT while a version change awaits
 * validation, DADM_E_INVALID for another version or an unsupported one).
 * Puts the least busy consultant of the product and nature in charge,
 * writes the `filed` and `assignment` events, the acknowledgement mail and
 * the audit row. *out: the DA as da_get gives it. */
__attribute__((warn_unused_result)) dadm_err da_file(db *d, arena *a, const auth_principal *who,
                                                     const json_t *body, json_t **out,
                                                     const char **detail);

/* The DA numbered `number`, when `who` sees it. */
dadm_err da_get(db *d, arena *a, const auth_principal *who, int64_t number, json_t **out);

/* The dated events of a DA `who` sees, oldest first; internal notes only
 * for the agency's consultants of its product. *out is an array. */
dadm_err da_events(db *d, arena *a, const auth_principal *who, int64_t number, json_t **out);

/* Filters of da_list; NULL or 0 for "any". */
typedef struct {
    const char *status, *product;
    int64_t etab_id;
    long limit, offset;
} da_filter;

/* A page of the DAs `who` sees, newest first. DADM_E_INVALID with *detail
 * for an unknown status or product. */
dadm_err da_list(db *d, arena *a, const auth_principal *who, const da_filter *f, json_t **items,
                 long *total, const char **detail);

/* What may be done to a filed DA, one per route. */
typedef enum {
    DA_OP_COMPLEMENT,      /* the site adds information (no move) */
    DA_OP_QUESTION,        /* the agency asks the site (-> ARS) */
    DA_OP_ANSWER,          /* the site answers (-> ECT) */
    DA_OP_SOLUTION,        /* a solution (agency -> AVS, contractor -> AVA) */
    DA_OP_VALIDATION,      /* the site accepts it (-> TER, published) */
    DA_OP_REFUSAL,         /* the site refuses it with a motive (-> INT) */
    DA_OP_NOTE,            /* an internal note of the agency (no move) */
    DA_OP_MOVE,            /* any other move of status / sub-status */
    DA_OP_REQUALIFICATION, /* the agency changes priority and/or domain */
    DA_OP_EXTERNALISATION, /* the agency hands it to a contractor (-> EXT) */
    DA_OP_COUNT
} da_op;

/* Applies `op` to DA `number` for `who` with the request body. The DA row
 * is locked first (SELECT … FOR UPDATE), so concurrent actions see each
 * other's result. DADM_E_NOT_FOUND when who does not see it,
 * DADM_E_FORBIDDEN when who's kind of actor never takes this action,
 * DADM_E_CONFLICT (naming the current status) when the lifecycle table has
 * no such move from the current status, DADM_E_INVALID for a bad field.
 * Writes the event, the mails and the audit row. *out: the DA after. */
__attribute__((warn_unused_result)) dadm_err da_act(db *d, arena *a, const auth_principal *who,
                                                    int64_t number, da_op op, const json_t *body,
                                                    json_t **out, const char **detail);

#endif
