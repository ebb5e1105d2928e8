#include "routes.h"

#include "api.h"

const route routes_table[] = {
    {{"GET", "/healthz"}, api_healthz, 0},
    {{"GET", "/readyz"}, api_readyz, ROUTE_DB},
    {{"GET", "/metrics"}, api_metrics, 0},
    {{"GET", "/api/v1/me"}, api_me, ROUTE_TX},
    {{"GET", "/api/v1/products"}, api_products_list, ROUTE_TX},
    {{"GET", "/api/v1/etabs"}, api_etabs_list, ROUTE_TX},
    {{"GET", "/api/v1/etabs/{id}"}, api_etab_get, ROUTE_TX},
    {{"GET", "/api/v1/etabs/{id}/installations"}, api_etab_installations, ROUTE_TX},
};

const size_t routes_count = sizeof(routes_table) / sizeof(routes_table[0]);
