/* Change requests: a correspondent's proposed change of its profile, of its
 * establishment, of an installation's server data or installed version, or
 * of the establishment's correspondents, waiting for an agency validator.
 *
 * Chapters, their fields and each field's check are one table in
 * tenant_change.c. Every function runs inside the request transaction with
 * the caller's principal set: row-level security applies on top of the
 * handler's role check. On failure a function sets *detail (when given) to
 * a French message for the client (arena-owned or static) and changes
 * nothing the caller's rollback would not undo. */
#ifndef DADM_TENANTS_CHANGE_H
#define DADM_TENANTS_CHANGE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "dadm_error.h"
#include "db.h"

typedef enum {
    TENANT_CHANGE_PROFILE,
    TENANT_CHANGE_ETAB,
    TENANT_CHANGE_SERVER,
    TENANT_CHANGE_VERSION,
    TENANT_CHANGE_CORRESPONDENT_ADD,
    TENANT_CHANGE_CORRESPONDENT_REMOVE,
    TENANT_CHANGE_CORRESPONDENT_UPDATE,
    TENANT_CHANGE_CHAPTER_COUNT
} tenant_change_chapter;

/* What a chapter is about; src/ decides from it who may submit. */
typedef enum {
    TENANT_CHANGE_SCOPE_SELF,           /* the submitter's own account */
    TENANT_CHANGE_SCOPE_ETAB,           /* the establishment record */
    TENANT_CHANGE_SCOPE_INSTALLATION,   /* one product's installation */
    TENANT_CHANGE_SCOPE_CORRESPONDENTS, /* one product's correspondents */
} tenant_change_scope;

/* Limits on `.ver` witness files (version requests). */
#define TENANT_CHANGE_MAX_FILES      5
#define TENANT_CHANGE_MAX_FILE_BYTES (256 * 1024)
/* At most this many correspondents of one nature per product per
 * establishment. */
#define TENANT_CHANGE_QUOTA 2

/* Database spelling of a chapter and back (-1 when unknown). */
const char *tenant_change_chapter_name(tenant_change_chapter c);
int tenant_change_chapter_parse(const char *s);
/* The chapter's scope. */
tenant_change_scope tenant_change_chapter_scope(tenant_change_chapter c);
/* True for a known status name (pending, approved, refused, withdrawn). */
bool tenant_change_status_valid(const char *s);

/* Checks one proposed value of `field` in chapter c. `value` is NULL for a
 * JSON null. Returns NULL when acceptable, otherwise a static French message
 * naming the problem (unknown field, identity field, bad e-mail, …). A
 * version label is only checked for syntax here; whether the product knows
 * it is checked against the database on submission. */
const char *tenant_change_check_value(tenant_change_chapter c, const char *field,
                                      const char *value);
/* Checks a witness file name (`*.ver`, no path). NULL when acceptable,
 * otherwise a static French message. */
const char *tenant_change_check_file_name(const char *name);
/* Strict base64 (RFC 4648, padded, no whitespace). Writes at most `cap`
 * bytes to out and their count to *n. False on bad input or when the
 * decoded data would not fit in cap. */
bool tenant_change_base64_decode(const char *in, size_t len, unsigned char *out, size_t cap,
                                 size_t *n);

/* The parts of a submission known before any tenant data is read: the
 * chapter and the product it concerns (0 for profile and etab). */
typedef struct {
    tenant_change_chapter chapter;
    int64_t product_id;
} tenant_change_head;

/* Reads "chapter" and "product" from a submission body. DADM_E_INVALID
 * with *detail when either is missing, unknown or not allowed. */
dadm_err tenant_change_parse_head(db *d, arena *a, const json_t *body, tenant_change_head *out,
                                  const char **detail);

/* Submits (or amends: one pending request per establishment, chapter and
 * target) a change for establishment etab_id by account submitter_id (the
 * caller). Validates every value with a French message per field
 * (DADM_E_INVALID), the witness files (DADM_E_TOO_LARGE past the limits),
 * the quota of correspondents (DADM_E_CONFLICT). Writes the audit row and
 * queues the mails to the validators. *out is a new object (caller owns
 * it): the request as tenant_change_get gives it; *amended tells whether a
 * pending request was amended. */
__attribute__((warn_unused_result)) dadm_err
tenant_change_submit(db *d, arena *a, int64_t etab_id, int64_t submitter_id,
                     const tenant_change_head *head, const json_t *body, json_t **out,
                     bool *amended, const char **detail);

/* One request visible to the caller; DADM_E_NOT_FOUND otherwise. *out is a
 * new object (caller owns it). */
dadm_err tenant_change_get(db *d, arena *a, int64_t id, json_t **out);

/* Filters of tenant_change_list; NULL or 0 for "any". */
typedef struct {
    int64_t etab_id;
    const char *chapter, *status;
    long limit, offset;
} tenant_change_filter;

/* A page of the requests visible to the caller, newest first. *items is a
 * new array (caller owns it), *total the count of all matching. */
dadm_err tenant_change_list(db *d, arena *a, const tenant_change_filter *f, json_t **items,
                            long *total);

/* The establishment of a request visible to the caller (for the handler's
 * role check); DADM_E_NOT_FOUND otherwise. */
dadm_err tenant_change_etab_of(db *d, arena *a, int64_t id, int64_t *etab_id);

/* Decisions, by validator account decider_id (the caller). The request is
 * locked first, so two validators deciding at once get one winner; the
 * other gets DADM_E_CONFLICT ("already decided"). DADM_E_FORBIDDEN when the
 * decider submitted or amended the request. Approval re-reads the target
 * and answers DADM_E_CONFLICT when it changed since submission, or when the
 * quota would be exceeded; otherwise it applies every value. Refusal needs
 * a motive (DADM_E_INVALID without one). Both write the audit and queue the
 * mail to the submitter. *out as for tenant_change_get. */
__attribute__((warn_unused_result)) dadm_err tenant_change_approve(db *d, arena *a, int64_t id,
                                                                   int64_t decider_id, json_t **out,
                                                                   const char **detail);
__attribute__((warn_unused_result)) dadm_err tenant_change_refuse(db *d, arena *a, int64_t id,
                                                                  int64_t decider_id,
                                                                  const char *motive, json_t **out,
                                                                  const char **detail);
/* Withdrawal by its submitter while pending (DADM_E_FORBIDDEN for anyone
 * else, DADM_E_CONFLICT once decided). Writes the audit. */
__attribute__((warn_unused_result)) dadm_err tenant_change_withdraw(db *d, arena *a, int64_t id,
                                                                    int64_t account_id,
                                                                    json_t **out,
                                                                    const char **detail);

/* A witness file of a request visible to the caller: its name and content,
 * owned by the arena. DADM_E_NOT_FOUND otherwise. */
dadm_err tenant_change_file(db *d, arena *a, int64_t id, int64_t file_id, const char **name,
                            const unsigned char **data, size_t *len);

/* The version a pending `version` request proposes for installation_id, or
 * *label = NULL when none is pending. Filing an assistance request calls
 * this and refuses while *label is set. *label is arena-owned. */
dadm_err tenant_change_pending_version(db *d, arena *a, int64_t installation_id,
                                       const char **label);

#endif
