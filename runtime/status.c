/* status.c — duro_errstr() and friends, generated from DURO_STATUS_MAP. */
#include "duro/status.h"

#include <stddef.h>

struct row {
    const char *wire;
    int http;
    const char *msg;
};

static const struct row rows[] = {
#define DURO__ROW(name, num, wire, http, msg) [num] = {wire, http, msg},
    DURO_STATUS_MAP(DURO__ROW)
#undef DURO__ROW
};

static const struct row *find(int rc)
{
    if (rc < 0 || (size_t)rc >= sizeof rows / sizeof rows[0] || rows[rc].wire == NULL)
        return NULL;
    return &rows[rc];
}

const char *duro_errstr(int rc)
{
    const struct row *r = find(rc);
    return r ? r->msg : "unknown status";
}

const char *duro_status_code(int rc)
{
    const struct row *r = find(rc);
    return r ? r->wire : "INTERNAL";
}

int duro_status_http(int rc)
{
    const struct row *r = find(rc);
    return r ? r->http : 500;
}
