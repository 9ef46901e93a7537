/* status.c — duro_errstr() and friends, generated from DURO_STATUS_MAP. */
#include "duro/status.h"

#include <stddef.h>
#include <string.h>

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

int duro_status_from_code(const char *code, size_t len)
{
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        if (rows[i].wire && strlen(rows[i].wire) == len && memcmp(rows[i].wire, code, len) == 0)
            return (int)i;
    return -1;
}

int duro_status_from_http(int http)
{
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        if (rows[i].wire && rows[i].http == http)
            return (int)i;
    return DURO_INTERNAL;
}
