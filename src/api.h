/* HTTP handlers, one function per route (see routes.c). */
#ifndef DADM_API_H
#define DADM_API_H

#include "http.h"

dadm_err api_healthz(http_req *r);
dadm_err api_readyz(http_req *r);
dadm_err api_metrics(http_req *r);
dadm_err api_me(http_req *r);
dadm_err api_products_list(http_req *r);
dadm_err api_etabs_list(http_req *r);
dadm_err api_etab_get(http_req *r);
dadm_err api_etab_installations(http_req *r);

#endif
