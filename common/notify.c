#include "notify.h"

#include <stdio.h>
#include <stdlib.h>

dadm_err notify_audit(db *d, arena *a, const char *action, const char *target, int64_t etab_id,
                      const json_t *detail)
{
    char etab[24];
    snprintf(etab, sizeof(etab), "%lld", (long long)etab_id);
    char *text = detail ? json_dumps(detail, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    if (detail && !text)
        return DADM_E_NOMEM;
    const char *params[] = {action, target, etab_id ? etab : NULL, text};
    dadm_err e = DADM_OK;
    db_exec(d, a, "SELECT dadm.audit_append($1, $2, $3, coalesce($4::jsonb, '{}'))", 4, params, &e);
    free(text);
    return e;
}

dadm_err notify_mail(db *d, arena *a, int64_t etab_id, const char *to, const char *subject,
                     const char *body)
{
    char etab[24];
    snprintf(etab, sizeof(etab), "%lld", (long long)etab_id);
    const char *params[] = {etab_id ? etab : NULL, to, subject, body};
    dadm_err e = DADM_OK;
    db_exec(d, a, "SELECT dadm.outbox_push($1, $2, $3, $4)", 4, params, &e);
    return e;
}
