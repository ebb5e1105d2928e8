/* The principal of a request: who is calling and with which role grants.
 * Built from the session by auth_session_begin(); the role checks of every
 * handler go through the predicates here (deny by default). */
#ifndef DADM_AUTH_PRINCIPAL_H
#define DADM_AUTH_PRINCIPAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    AUTH_ROLE_CORRESPONDENT,
    AUTH_ROLE_ETAB_ADMIN,
    AUTH_ROLE_CONSULTANT,
    AUTH_ROLE_CONTRACTOR_CONSULTANT,
    AUTH_ROLE_VALIDATOR,
    AUTH_ROLE_ADMIN,
    AUTH_ROLE_COUNT
} auth_role;

typedef enum { AUTH_NATURE_NONE, AUTH_NATURE_FONCTIONNEL, AUTH_NATURE_TECHNIQUE } auth_nature;

typedef enum { AUTH_LEVEL_ANONYMOUS = 0, AUTH_LEVEL_READER = 1, AUTH_LEVEL_PERSON = 2 } auth_level;

typedef struct {
    auth_role role;
    auth_nature nature;
    int64_t product_id, etab_id, contractor_id; /* 0 when not part of the scope */
} auth_grant;

typedef struct {
    auth_level level;
    int64_t session_id;
    int64_t account_id;    /* level 2 */
    int64_t product_id;    /* level 1: the product of the reader login */
    int64_t etab_id;       /* the account's establishment, 0 for agency/contractor */
    int64_t contractor_id; /* the account's contractor, 0 otherwise */
    const char *login, *given_name, *family_name, *email;
    size_t n_grants;
    const auth_grant *grants;
} auth_principal;

/* Database spelling of a role ("correspondent", …) and back; -1 when unknown. */
const char *auth_role_name(auth_role r);
int auth_role_parse(const char *s);
const char *auth_nature_name(auth_nature n);
int auth_nature_parse(const char *s);

/* True for consultants, validators and administrators of the agency. */
bool auth_is_agency(const auth_principal *p);
/* True when p holds `role`, restricted to the establishment and product
 * given (0 = any). */
bool auth_has_role(const auth_principal *p, auth_role role, int64_t etab_id, int64_t product_id);
/* May p read the establishment record `etab_id`? Agency, a role in it, or
 * membership. */
bool auth_may_read_etab(const auth_principal *p, int64_t etab_id);
/* May p list installations of `etab_id`? Agency, its administrator, or one
 * of its correspondents (who then sees only the products of its grants). */
bool auth_may_read_installations(const auth_principal *p, int64_t etab_id);
/* True for agency validators: the only ones who approve or refuse change
 * requests. */
bool auth_is_validator(const auth_principal *p);
/* Does p hold a role in establishment `etab_id` (a correspondent of any of
 * its products, or its administrator)? */
bool auth_has_etab_role(const auth_principal *p, int64_t etab_id);
/* May p read the change requests of `etab_id`? Validators and the agency's
 * administrators for every establishment (etab_id 0: all of them); anyone
 * with a role in the establishment for its own. */
bool auth_may_read_changes(const auth_principal *p, int64_t etab_id);
/* May p read the directory provisioning runs of `etab_id`? The agency, or
 * that establishment's administrator; not its correspondents. */
bool auth_may_read_directory_runs(const auth_principal *p, int64_t etab_id);
/* May p read the deliveries and documentation of `product_id` (level 1)?
 * The product's reader session; at level 2, a correspondent or an agency
 * consultant of that product, or an agency administrator. */
bool auth_may_read_product(const auth_principal *p, int64_t product_id);

#endif
