/* The rule for personal passwords (DESIGN §4, the guide's rule raised to a
 * length of 12): a mix of upper case, lower case, digits and special
 * characters; none of the accented letters, ç, !, ?, *, @; not a common
 * password. Every part is configurable ([password] section). */
#ifndef DADM_AUTH_POLICY_H
#define DADM_AUTH_POLICY_H

#include <stdbool.h>

#include "arena.h"

/* Longest password accepted (argon2 work is bounded by it, too). */
#define AUTH_POLICY_MAX_LENGTH 128

typedef struct {
    int min_length;          /* [password] min_length, 12 */
    bool need_upper;         /* [password] require_upper */
    bool need_lower;         /* [password] require_lower */
    bool need_digit;         /* [password] require_digit */
    bool need_special;       /* [password] require_special */
    bool forbid_non_ascii;   /* [password] forbid_accented: accented letters, ç, any non-ASCII */
    const char *forbidden;   /* [password] forbidden_chars, "!?*@" */
    const char *common_list; /* [password] common_list: file, one password a line; NULL: none */
} auth_policy_settings;

/* The defaults of README's table (common_list NULL: the caller fills it in). */
extern const auth_policy_settings auth_policy_default;

typedef struct auth_policy auth_policy;

/* A policy with the common passwords of s->common_list loaded (strings of
 * `s` are copied). NULL on failure, with *err an owned message (free()). */
auth_policy *auth_policy_new(const auth_policy_settings *s, char **err);
/* Accepts NULL. */
void auth_policy_free(auth_policy *p);

/* NULL when `password` follows the policy; otherwise a French sentence,
 * owned by `a` (or static when memory ran out), naming everything that is
 * missing or forbidden. The password itself is never part of it. */
const char *auth_policy_check(const auth_policy *p, arena *a, const char *password);

/* Number of common passwords loaded (for the start-up log). */
unsigned auth_policy_common_count(const auth_policy *p);

#endif
