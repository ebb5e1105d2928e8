/* Provisioning an establishment's accounts from its LDAP directory.
 *
 * A run reads the directory (paged search, RFC 2696; or content
 * synchronisation, RFC 4533 refreshOnly, with the cookie kept in
 * PostgreSQL; or a modifyTimestamp filter when the server offers no
 * synchronisation), streams the entries with COPY into a staging table and
 * applies them in one set-based statement per kind of change, in one
 * transaction: the run has one outcome. Accounts whose entries disappeared
 * are disabled and their sessions ended, never deleted; roles are never
 * granted nor removed. All SQL goes through the SECURITY DEFINER functions of
 * sql/0006_ldap.sql, so the same code runs as the owner (dadmctl) and as the
 * daemon's role (dadmd's job thread). */
#ifndef DADM_TENANTS_LDAP_H
#define DADM_TENANTS_LDAP_H

#include <glib.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "arena.h"
#include "dadm_error.h"
#include "db.h"

/* The directory attributes a run reads, by role. */
typedef enum {
    TENANT_LDAP_KEY,           /* stable key: entryUUID */
    TENANT_LDAP_EPPN,          /* eduPersonPrincipalName: login and SSO key */
    TENANT_LDAP_MAIL,          /* mail */
    TENANT_LDAP_GIVEN_NAME,    /* givenName */
    TENANT_LDAP_FAMILY_NAME,   /* sn */
    TENANT_LDAP_DISPLAY_NAME,  /* displayName */
    TENANT_LDAP_PHONE,         /* telephoneNumber */
    TENANT_LDAP_ENTITY,        /* supannEntiteAffectation */
    TENANT_LDAP_AFFILIATION,   /* eduPersonAffiliation */
    TENANT_LDAP_ETABLISSEMENT, /* supannEtablissement ({UAI}…) */
    TENANT_LDAP_NFIELDS
} tenant_ldap_field;

/* Attribute name per field. */
typedef struct {
    char attr[TENANT_LDAP_NFIELDS][64];
} tenant_ldap_map;

/* Name of a field in the configured mapping ("key", "eppn", "mail", …). */
const char *tenant_ldap_field_name(tenant_ldap_field f);

/* Fills *out with the SUPANN / eduPerson defaults, then the overrides of
 * `map` (a JSON object field name -> attribute name; NULL for none).
 * DADM_E_INVALID with a message in *why (static) for an unknown field or an
 * attribute name that is not a descriptor or an OID. */
dadm_err tenant_ldap_map_parse(const json_t *map, tenant_ldap_map *out, const char **why);

/* RFC 4515 escaping of one filter value of `len` bytes (NUL bytes allowed):
 * the arena owns the result; NULL when out of memory. */
char *tenant_ldap_escape(arena *a, const char *value, size_t len);

/* The filter of an incremental run without synchronisation:
 * (&FILTER(modifyTimestamp>=SINCE)), SINCE escaped. NULL when out of
 * memory. */
char *tenant_ldap_since_filter(arena *a, const char *filter, const char *since);

/* True when `filter` is one well-formed RFC 4515 filter in parentheses. */
bool tenant_ldap_filter_valid(const char *filter);
/* True when `dn` is a well-formed LDAPv3 distinguished name (RFC 4514). */
bool tenant_ldap_dn_valid(const char *dn);

/* A person read from an entry, ready for staging. Strings point into
 * storage owned by the arena given to tenant_ldap_person_from_values. */
typedef struct {
    const char *key, *login, *eppn, *given_name, *family_name, *email, *phone;
    const char *info_json; /* {"display_name", "affiliation", "entity"} */
} tenant_ldap_person;

/* The values of each field of one entry: vals[f] is an array of bervals
 * ending with one whose bv_val is NULL (as ldap_get_attribute_ber gives
 * them), or NULL when the attribute is absent. */
struct berval;
typedef struct berval *tenant_ldap_values[TENANT_LDAP_NFIELDS];

/* Checks and normalises an entry of establishment `uai`, whose eppn must be
 * scoped to `eppn_domain` (NULL: any). Returns NULL and fills *out when the
 * entry is usable, else the reason to skip it (a static slug:
 * "missing_key", "invalid_value", "missing_eppn", "invalid_eppn",
 * "eppn_scope", "missing_mail", "invalid_mail", "foreign_etab"). */
const char *tenant_ldap_person_from_values(arena *a, tenant_ldap_values vals, const char *uai,
                                           const char *eppn_domain, tenant_ldap_person *out);

/* The text form of a 16-byte binary UUID (as RFC 4533 sends them) into out;
 * false when `len` is not 16. */
bool tenant_ldap_uuid_text(const void *bin, size_t len, char out[37]);

/* Appends `s` to buf (NULL: \N) in COPY text format. Returns false when
 * out of memory. */
bool tenant_ldap_copy_field(GString *buf, const char *s);

/* What a run is asked to do. */
typedef struct {
    bool full;      /* a complete listing (paged), whatever the server offers */
    bool dry_run;   /* compute the counts, change nothing */
    FILE *progress; /* a terminal to draw progress on, or NULL */
    int timeout;    /* network timeout in seconds */
} tenant_ldap_options;

/* What a run did. */
typedef struct {
    int64_t run_id;   /* 0 for a dry run */
    const char *mode; /* "full", "sync" or "timestamp" */
    long seen, created, updated, disabled, reenabled, skipped;
    json_t *skipped_entries; /* owned by the arena of the run */
    bool unchanged;          /* full: nothing moved since the last listing, none made */
    double read_seconds;     /* reading the directory and staging */
    double apply_seconds;    /* applying to the accounts, committing */
} tenant_ldap_result;

/* Runs the provisioning of establishment `etab_id` on `d` (which must not be
 * inside a transaction), under a session-level advisory lock on the
 * establishment: DADM_E_CONFLICT when another run holds it. On success
 * fills *res (its strings and JSON owned by `a`). On failure returns the
 * code, sets *msg to an arena-owned English and French message naming the
 * cause (unreachable server, refused TLS, bad credentials, bad filter, …),
 * changes no account, and records a failed run unless it is a dry run.
 * Passwords never reach a log line nor *msg. */
dadm_err tenant_ldap_sync(db *d, arena *a, int64_t etab_id, const tenant_ldap_options *opt,
                          tenant_ldap_result *res, const char **msg);

/* A page of the run records of `etab_id` visible to the caller (row-level
 * security), newest first. *items is a new array (caller owns it). */
dadm_err tenant_ldap_runs_list(db *d, arena *a, int64_t etab_id, long limit, long offset,
                               json_t **items, long *total);
/* One run record with its list of skipped entries; DADM_E_NOT_FOUND when
 * absent or not visible. *out is a new object (caller owns it). */
dadm_err tenant_ldap_run_get(db *d, arena *a, int64_t etab_id, int64_t run_id, json_t **out);

#endif
