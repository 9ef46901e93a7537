/* status.c — duro_errstr() and friends, generated from DURO_STATUS_MAP. */
#include "duro/status.h"

#include <stddef.h>
#include <string.h>

#include "common/status_int.h"

struct row {
    const char *wire;
    int http;
    const char *reason;
    const char *msg;
};

static const struct row rows[] = {
#define DURO__ROW(name, num, wire, http, reason, msg) [num] = {wire, http, reason, msg},
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

int duro_status_known(int rc)
{
    return find(rc) != NULL;
}

int duro_status_from_code(const char *code, size_t len)
{
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        if (rows[i].wire && strlen(rows[i].wire) == len && memcmp(rows[i].wire, code, len) == 0)
            return (int)i;
    return -1;
}

/* The first status of the table with HTTP status http, or -1. */
static int first_with_http(int http)
{
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        if (rows[i].wire && rows[i].http == http)
            return (int)i;
    return -1;
}

duro_status duro_status_from_http(int http)
{
    int rc = first_with_http(http);
    return rc >= 0 ? (duro_status)rc : DURO_INTERNAL;
}

const char *duro_http_reason(int http)
{
    int rc = first_with_http(http);
    if (rc >= 0)
        return rows[rc].reason;
    /* the numbers the HTTP server sends that are no status of the table */
    switch (http) {
    case 100: return "Continue";
    case 204: return "No Content";
    case 206: return "Partial Content";
    default: return "Unknown";
    }
}
