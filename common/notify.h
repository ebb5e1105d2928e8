/* Audit rows and outgoing mail, written in the caller's transaction so
 * they exist exactly when the event they record does. */
#ifndef DADM_COMMON_NOTIFY_H
#define DADM_COMMON_NOTIFY_H

#include <jansson.h>
#include <stdint.h>

#include "arena.h"
#include "dadm_error.h"
#include "db.h"

/* Appends to the hash-chained audit trail. `action` is a dotted lower-case
 * name ("auth.login", "change.approve"); `target` and `detail` may be NULL;
 * etab_id 0 for none. The account is the request's principal. `detail` is
 * borrowed. Never put a secret, token or password in it. */
__attribute__((warn_unused_result)) dadm_err notify_audit(db *d, arena *a, const char *action,
                                                          const char *target, int64_t etab_id,
                                                          const json_t *detail);

/* Queues one mail in the outbox; the sender delivers it after commit.
 * etab_id 0 for none. */
__attribute__((warn_unused_result)) dadm_err notify_mail(db *d, arena *a, int64_t etab_id,
                                                         const char *to, const char *subject,
                                                         const char *body);

#endif
