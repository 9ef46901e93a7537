/*
 * fuzz_http1.c — the HTTP/1.1 request-head parser and body framing
 * (transport/http1.c): any bytes, never a crash, and an accepted head yields
 * a path that starts with '/' (or is "*").
 */
#include <event2/keyvalq_struct.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "duro/status.h"
#include "transport/http1.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 1 << 16)
        return 0;
    duro_hreq *r = calloc(1, sizeof *r);
    if (!r)
        return 0;
    TAILQ_INIT(&r->in);
    TAILQ_INIT(&r->out);
    r->head = malloc(size + 1);
    memcpy(r->head, data, size);
    r->head[size] = '\0';
    char err[160];
    if (duro_http1_parse_head(r, size, err, sizeof err) == DURO_OK) {
        if (!r->path || (r->path[0] != '/' && strcmp(r->path, "*") != 0))
            abort();
        uint64_t len;
        int chunked;
        if (duro_http1_framing(r, &len, &chunked, err, sizeof err) == DURO_OK && chunked && len)
            abort();
    }
    duro_hreq_free(r);
    return 0;
}
