#include "db_json.h"

#include <stdlib.h>

/* Type OIDs from PostgreSQL's pg_type.dat; stable across versions. */
enum {
    OID_BOOL = 16,
    OID_INT8 = 20,
    OID_INT2 = 21,
    OID_INT4 = 23,
    OID_JSON = 114,
    OID_FLOAT4 = 700,
    OID_FLOAT8 = 701,
    OID_NUMERIC = 1700,
    OID_JSONB = 3802,
};

static json_t *value(const PGresult *r, int row, int col)
{
    if (PQgetisnull(r, row, col))
        return json_null();
    const char *v = PQgetvalue(r, row, col);
    switch (PQftype(r, col)) {
    case OID_BOOL:
        return json_boolean(v[0] == 't');
    case OID_INT2:
    case OID_INT4:
    case OID_INT8:
        return json_integer(strtoll(v, NULL, 10));
    case OID_FLOAT4:
    case OID_FLOAT8:
    case OID_NUMERIC:
        return json_real(strtod(v, NULL));
    case OID_JSON:
    case OID_JSONB:
        return json_loads(v, JSON_DECODE_ANY, NULL);
    default:
        return json_string(v);
    }
}

json_t *db_json_row(const PGresult *r, int row)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    int n = PQnfields(r);
    for (int c = 0; c < n; c++) {
        json_t *v = value(r, row, c);
        if (!v || json_object_set_new(o, PQfname(r, c), v) != 0) {
            json_decref(o);
            return NULL;
        }
    }
    return o;
}

json_t *db_json_rows(const PGresult *r)
{
    json_t *arr = json_array();
    if (!arr)
        return NULL;
    int n = PQntuples(r);
    for (int i = 0; i < n; i++) {
        json_t *o = db_json_row(r, i);
        if (!o || json_array_append_new(arr, o) != 0) {
            json_decref(arr);
            return NULL;
        }
    }
    return arr;
}

json_t *db_json_page(const PGresult *r, long *total)
{
    int col = PQfnumber(r, "total");
    if (PQntuples(r) > 0 && col >= 0)
        *total = strtol(PQgetvalue(r, 0, col), NULL, 10);
    json_t *arr = db_json_rows(r);
    size_t i;
    json_t *o;
    json_array_foreach(arr, i, o) json_object_del(o, "total");
    return arr;
}

static void release(void *j)
{
    json_decref(j);
}

json_t *db_json_own(arena *a, json_t *j)
{
    if (!j || arena_defer(a, release, j) != 0)
        return NULL;
    return j;
}
