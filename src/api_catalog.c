/* Public catalogue: products, their domains and versions. */
#include "api.h"

#include "tenant_product.h"

dadm_err api_products_list(http_req *r)
{
    long limit, offset, total = 0;
    dadm_err e = http_page(r, &limit, &offset);
    if (e != DADM_OK)
        return e;
    json_t *items = NULL;
    e = tenant_product_list(r->db, r->a, limit, offset, &items, &total);
    if (e != DADM_OK)
        return e;
    return http_reply_page(r, items, total, limit, offset);
}
