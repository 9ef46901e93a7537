/*
 * buf.h — a growable byte buffer.
 *
 * duro_buf is a plain value: {data, len, cap}. A zeroed duro_buf is empty and
 * valid. Appends grow it geometrically; duro_buf_free() releases it and leaves
 * it empty. data is not NUL-terminated unless the caller appends one.
 */
#ifndef DURO_BUF_H
#define DURO_BUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct duro_buf {
    char *data;
    size_t len;
    size_t cap;
} duro_buf;

/* Ensures room for `extra` more bytes. 0 on success, -1 on overflow/ENOMEM. */
int duro_buf_reserve(duro_buf *b, size_t extra);

/* Appends n bytes. 0 / -1 (ENOMEM). */
int duro_buf_append(duro_buf *b, const void *p, size_t n);

/* Appends a NUL-terminated string (without the NUL). 0 / -1. */
int duro_buf_puts(duro_buf *b, const char *s);

/* Appends printf-formatted text. 0 / -1. */
int duro_buf_printf(duro_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Hands the bytes to the caller (who frees them with free()) and empties b. */
char *duro_buf_take(duro_buf *b, size_t *len);

void duro_buf_free(duro_buf *b);

/* A msgpack_packer write callback over a duro_buf (data = duro_buf *). */
int duro_buf_mp_write(void *data, const char *buf, size_t len);

#endif
