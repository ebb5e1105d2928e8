/* Operations endpoints: liveness, readiness, metrics. */
#include "api.h"

#include <string.h>

#include "metrics.h"
#include "migrate.h"
#include "server_private.h"

dadm_err api_healthz(http_req *r)
{
    return http_reply_json(r, 200, json_pack("{s:s}", "status", "ok"));
}

dadm_err api_readyz(http_req *r)
{
    const char *detail = NULL;
    dadm_err e = migrate_check(r->db, r->a, r->srv->set.migrations, &detail);
    if (e != DADM_OK)
        return http_fail(r, e, detail);
    return http_reply_json(r, 200, json_pack("{s:s}", "status", "ready"));
}

dadm_err api_metrics(http_req *r)
{
    char *text = metrics_render(r->a);
    if (!text)
        return DADM_E_NOMEM;
    return http_reply_text(r, 200, "text/plain; version=0.0.4; charset=utf-8", text, strlen(text));
}
