/* buf.c — the growable byte buffer of buf.h. */
#include "common/buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int duro_buf_reserve(duro_buf *b, size_t extra)
{
    if (extra <= b->cap - b->len)
        return 0;
    if (extra > SIZE_MAX / 2 - b->len)
        return -1;
    size_t need = b->len + extra;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap *= 2;
    char *p = realloc(b->data, cap);
    if (!p)
        return -1;
    b->data = p;
    b->cap = cap;
    return 0;
}

int duro_buf_append(duro_buf *b, const void *p, size_t n)
{
    if (n == 0)
        return 0;
    if (duro_buf_reserve(b, n) != 0)
        return -1;
    memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

int duro_buf_puts(duro_buf *b, const char *s)
{
    return duro_buf_append(b, s, strlen(s));
}

int duro_buf_printf(duro_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char tmp[256];
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0)
        return -1;
    if ((size_t)n < sizeof tmp)
        return duro_buf_append(b, tmp, (size_t)n);
    if (duro_buf_reserve(b, (size_t)n + 1) != 0)
        return -1;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

char *duro_buf_take(duro_buf *b, size_t *len)
{
    char *p = b->data;
    if (len)
        *len = b->len;
    b->data = NULL;
    b->len = b->cap = 0;
    return p;
}

void duro_buf_free(duro_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

int duro_buf_mp_write(void *data, const char *buf, size_t len)
{
    return duro_buf_append(data, buf, len);
}
