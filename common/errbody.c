/* errbody.c — the error body of every reply (errbody.h). */
#include "common/errbody.h"

#include <assert.h>
#include <string.h>

#include "duro/status.h"
#include "common/codec.h"

int duro_errbody_json(duro_buf *out, int shape, int status, const char *msg)
{
    if (!msg)
        msg = duro_errstr(status);
    int rc = duro_buf_puts(out, shape == DURO_ERRBODY_ENVELOPE
                                    ? "{\"success\":false,\"error\":{\"code\":\""
                                    : "{\"code\":\"");
    rc |= duro_buf_puts(out, duro_status_code(status));
    rc |= duro_buf_puts(out, "\",\"message\":");
    rc |= duro_json_put_str(out, msg, strlen(msg));
    rc |= duro_buf_puts(out, shape == DURO_ERRBODY_ENVELOPE ? "}}" : "}");
    return rc;
}

/* A name: a fixstr. */
static int put_name(duro_buf *out, const char *s)
{
    size_t n = strlen(s);
    assert(n < 32);
    unsigned char h = (unsigned char)(0xa0 | n);
    return duro_buf_append(out, &h, 1) | duro_buf_append(out, s, n);
}

int duro_errbody_mp(duro_buf *out, int shape, int status, const char *msg)
{
    if (!msg)
        msg = duro_errstr(status);
    int rc = 0;
    if (shape == DURO_ERRBODY_ENVELOPE) {
        rc |= duro_buf_append(out, "\x82", 1);
        rc |= put_name(out, "success");
        rc |= duro_buf_append(out, "\xc2", 1);
        rc |= put_name(out, "error");
    }
    rc |= duro_buf_append(out, "\x82", 1);
    rc |= put_name(out, "code");
    rc |= put_name(out, duro_status_code(status));
    rc |= put_name(out, "message");
    size_t n = strlen(msg);
    unsigned char h[5];
    size_t hl;
    if (n <= 0xffff) {
        h[0] = 0xda;
        h[1] = (unsigned char)(n >> 8);
        h[2] = (unsigned char)n;
        hl = 3;
    } else {
        h[0] = 0xdb;
        h[1] = (unsigned char)(n >> 24);
        h[2] = (unsigned char)(n >> 16);
        h[3] = (unsigned char)(n >> 8);
        h[4] = (unsigned char)n;
        hl = 5;
    }
    rc |= duro_buf_append(out, h, hl);
    rc |= duro_buf_append(out, msg, n);
    return rc;
}
