/* notice.c — packing and reading change notices (see notice.h). */
#include "runtime/notice.h"

#include <string.h>

#include "runtime/errinj.h"

static void put(char **w, const void *v, size_t n)
{
    if (n) /* v may be NULL when n is 0 (a CLEAR has no key) */
        memcpy(*w, v, n);
    *w += n;
}

int duro_notice_add(duro_buf *b, const duro_notice *n)
{
    if (n->type_len > DURO_RESOURCE_TYPE_MAX || n->key_len > UINT32_MAX ||
        (n->meta && n->meta_len >= UINT32_MAX))
        return -1;
    size_t need = 2 + n->type_len + 4 + n->key_len;
    if (n->op == DURO_NOTICE_PUT)
        need += 4 * 8 + 4 + (n->meta ? n->meta_len : 0);
    if (duro_errinj_hit(DURO_ERRINJ_ALLOC) || duro_buf_reserve(b, need) != 0)
        return -1;
    char *w = b->data + b->len;
    uint8_t op = (uint8_t)n->op, tl = (uint8_t)n->type_len;
    uint32_t kl = (uint32_t)n->key_len;
    put(&w, &op, 1);
    put(&w, &tl, 1);
    put(&w, n->type, n->type_len);
    put(&w, &kl, 4);
    put(&w, n->key, n->key_len);
    if (n->op == DURO_NOTICE_PUT) {
        int64_t v[4] = {n->size, n->created_at, n->updated_at, n->expires_at};
        uint32_t ml = n->meta ? (uint32_t)n->meta_len : UINT32_MAX;
        put(&w, v, sizeof v);
        put(&w, &ml, 4);
        if (n->meta)
            put(&w, n->meta, n->meta_len);
    }
    b->len += need;
    return 0;
}

static int take(const char **p, const char *end, void *v, size_t n)
{
    if ((size_t)(end - *p) < n)
        return -1;
    memcpy(v, *p, n);
    *p += n;
    return 0;
}

int duro_notice_next(const char **p, const char *end, duro_notice *n)
{
    if (*p >= end)
        return 0;
    uint8_t op, tl;
    uint32_t kl;
    memset(n, 0, sizeof *n);
    if (take(p, end, &op, 1) || take(p, end, &tl, 1) || (size_t)(end - *p) < tl)
        return -1;
    n->op = op;
    n->type = *p;
    n->type_len = tl;
    *p += tl;
    if (take(p, end, &kl, 4) || (size_t)(end - *p) < kl)
        return -1;
    n->key = *p;
    n->key_len = kl;
    *p += kl;
    if (op == DURO_NOTICE_PUT) {
        int64_t v[4];
        uint32_t ml;
        if (take(p, end, v, sizeof v) || take(p, end, &ml, 4))
            return -1;
        n->size = v[0];
        n->created_at = v[1];
        n->updated_at = v[2];
        n->expires_at = v[3];
        if (ml != UINT32_MAX) {
            if ((size_t)(end - *p) < ml)
                return -1;
            n->meta = *p;
            n->meta_len = ml;
            *p += ml;
        }
    } else if (op != DURO_NOTICE_DEL && op != DURO_NOTICE_CLEAR) {
        return -1;
    }
    return 1;
}
