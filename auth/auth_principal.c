#include "auth_principal.h"

#include <string.h>

static const char *const role_names[AUTH_ROLE_COUNT] = {
    [AUTH_ROLE_CORRESPONDENT] = "correspondent",
    [AUTH_ROLE_ETAB_ADMIN] = "etab_admin",
    [AUTH_ROLE_CONSULTANT] = "consultant",
    [AUTH_ROLE_CONTRACTOR_CONSULTANT] = "contractor_consultant",
    [AUTH_ROLE_VALIDATOR] = "validator",
    [AUTH_ROLE_ADMIN] = "admin",
};

const char *auth_role_name(auth_role r)
{
    return (unsigned)r < AUTH_ROLE_COUNT ? role_names[r] : "unknown";
}

int auth_role_parse(const char *s)
{
    for (int i = 0; s && i < AUTH_ROLE_COUNT; i++)
        if (strcmp(s, role_names[i]) == 0)
            return i;
    return -1;
}

const char *auth_nature_name(auth_nature n)
{
    switch (n) {
    case AUTH_NATURE_NONE:
        return NULL;
    case AUTH_NATURE_FONCTIONNEL:
        return "fonctionnel";
    case AUTH_NATURE_TECHNIQUE:
        return "technique";
    }
    return NULL;
}

int auth_nature_parse(const char *s)
{
    if (!s)
        return AUTH_NATURE_NONE;
    if (strcmp(s, "fonctionnel") == 0)
        return AUTH_NATURE_FONCTIONNEL;
    if (strcmp(s, "technique") == 0)
        return AUTH_NATURE_TECHNIQUE;
    return -1;
}

bool auth_has_role(const auth_principal *p, auth_role role, int64_t etab_id, int64_t product_id)
{
    if (!p || p->level != AUTH_LEVEL_PERSON)
        return false;
    for (size_t i = 0; i < p->n_grants; i++) {
        const auth_grant *g = &p->grants[i];
        if (g->role == role && (!etab_id || g->etab_id == etab_id) &&
            (!product_id || g->product_id == product_id))
            return true;
    }
    return false;
}

bool auth_is_agency(const auth_principal *p)
{
    return auth_has_role(p, AUTH_ROLE_CONSULTANT, 0, 0) ||
           auth_has_role(p, AUTH_ROLE_VALIDATOR, 0, 0) || auth_has_role(p, AUTH_ROLE_ADMIN, 0, 0);
}

bool auth_may_read_installations(const auth_principal *p, int64_t etab_id)
{
    return etab_id > 0 &&
           (auth_is_agency(p) || auth_has_role(p, AUTH_ROLE_ETAB_ADMIN, etab_id, 0) ||
            auth_has_role(p, AUTH_ROLE_CORRESPONDENT, etab_id, 0));
}

bool auth_may_read_etab(const auth_principal *p, int64_t etab_id)
{
    if (!p || p->level != AUTH_LEVEL_PERSON || etab_id <= 0)
        return false;
    return p->etab_id == etab_id || auth_may_read_installations(p, etab_id);
}

bool auth_may_read_product(const auth_principal *p, int64_t product_id)
{
    if (!p || product_id <= 0)
        return false;
    if (p->level == AUTH_LEVEL_READER)
        return p->product_id == product_id;
    return auth_has_role(p, AUTH_ROLE_CORRESPONDENT, 0, product_id) ||
           auth_has_role(p, AUTH_ROLE_CONSULTANT, 0, product_id) ||
           auth_has_role(p, AUTH_ROLE_ADMIN, 0, 0);
}

bool auth_may_read_directory_runs(const auth_principal *p, int64_t etab_id)
{
    return etab_id > 0 && (auth_is_agency(p) || auth_has_role(p, AUTH_ROLE_ETAB_ADMIN, etab_id, 0));
}

bool auth_is_validator(const auth_principal *p)
{
    return auth_has_role(p, AUTH_ROLE_VALIDATOR, 0, 0);
}

bool auth_has_etab_role(const auth_principal *p, int64_t etab_id)
{
    return etab_id > 0 && (auth_has_role(p, AUTH_ROLE_CORRESPONDENT, etab_id, 0) ||
                           auth_has_role(p, AUTH_ROLE_ETAB_ADMIN, etab_id, 0));
}

bool auth_may_read_changes(const auth_principal *p, int64_t etab_id)
{
    if (auth_is_validator(p) || auth_has_role(p, AUTH_ROLE_ADMIN, 0, 0))
        return etab_id >= 0;
    return auth_has_etab_role(p, etab_id);
}
