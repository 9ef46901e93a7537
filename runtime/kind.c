/* kind.c — finding, building and freeing a kind's ops (see kind.h). */
#include "runtime/kind.h"

#include <stdio.h>
#include <string.h>

#include "common/codec.h"
#include "common/names.h"

int duro_ops_all(int op)
{
    (void)op;
    return 1;
}

int duro_ops_none(int op)
{
    (void)op;
    return 0;
}

int duro_op_index(const char *const *ops, int n, const char *name, size_t len)
{
    for (int i = 0; i < n; i++)
        if (ops[i] && strlen(ops[i]) == len && memcmp(ops[i], name, len) == 0)
            return i;
    return -1;
}

const duro_kind *duro_op_find(const duro_kinds *t, const char *name, size_t len, int *kind,
                              int *op)
{
    for (int id = 0; id <= DURO_KIND_MAX; id++) {
        const duro_kind *k = t->kinds[id];
        int i = k && k->ops ? duro_op_index(k->ops, k->n_ops, name, len) : -1;
        if (i >= 0) {
            *kind = id;
            *op = i;
            return k;
        }
    }
    return NULL;
}

int duro_op_writes(const duro_kinds *t, const duro_msg *m)
{
    const duro_kind *k = duro_kind_get(t, m->kind);
    return k && k->writes && k->writes(m->op);
}

void duro_op_free(const duro_kinds *t, duro_msg *m)
{
    const duro_kind *k = duro_kind_get(t, m->kind);
    if (m->req && k && k->free)
        k->free(m->req);
    m->req = NULL;
}

int duro_args_decode(const duro_args *a, int op, duro_tree_decode *fn, void **req, char *err,
                     size_t errlen)
{
    const char *why;
    json_t *j = duro_mp_to_json(a->mp, a->len, &why);
    if (!j) {
        snprintf(err, errlen, "bad args: %s", why);
        return DURO_BAD_REQUEST;
    }
    int st = fn(op, j, a, req, err, errlen);
    json_decref(j);
    return st;
}

int duro_op_build(const duro_kinds *t, const duro_op_call *c, duro_msg *m)
{
    const char *why;
    char err[sizeof m->errmsg] = "";
    m->req = NULL;
    const duro_kind *k = c->found;
    if (k) {
        m->kind = c->found_kind;
        m->op = c->found_op;
    } else {
        k = duro_op_find(t, c->op, c->op_len, &m->kind, &m->op);
    }
    if (!k || !k->decode)
        return duro_msg_fail(m, DURO_BAD_REQUEST, "unknown op \"%.*s\"",
                             (int)(c->op_len > 64 ? 64 : c->op_len), c->op);
    const char *ns = c->ns;
    size_t ns_len = c->ns_len;
    if (k->global) { /* every namespace: the call's is not used */
        ns = "*";
        ns_len = 1;
    } else if (duro_ns_valid(ns, ns_len, &why) != 0) {
        return duro_msg_fail(m, DURO_BAD_REQUEST, "invalid namespace: %s", why);
    }
    int st;
    int admin = k->admin && k->admin(m->op);
    duro_args args = c->args;
    if (!k->global && c->allow &&
        (st = c->allow(c->allow_arg, admin ? NULL : ns, admin ? 0 : ns_len, duro_op_writes(t, m),
                       err, sizeof err)) != DURO_OK) {
        /* an op that writes only if its statement does: a read-only caller
         * may run it, and exec refuses what would write (kind.h) */
        char err2[sizeof err];
        if (!(k->writes && k->writes(m->op) == DURO_WRITES_IF_STMT) ||
            c->allow(c->allow_arg, admin ? NULL : ns, admin ? 0 : ns_len, 0, err2,
                     sizeof err2) != DURO_OK)
            return duro_msg_fail(m, st, "%s", err);
        args.read_only = 1;
        err[0] = '\0';
    }
    if ((st = k->decode(m->op, &args, &m->req, err, sizeof err)) != DURO_OK) {
        m->req = NULL;
        return duro_msg_fail(m, st, "%s", st == DURO_NOMEM && !err[0] ? "out of memory" : err);
    }
    if (k->global && c->allow) {
        const char *scope = "*";
        size_t scope_len = 1;
        if (k->scope)
            k->scope(m->req, &scope, &scope_len);
        if ((st = c->allow(c->allow_arg, scope, scope_len, 0, err, sizeof err)) != DURO_OK) {
            duro_op_free(t, m);
            return duro_msg_fail(m, st, "%s", err);
        }
    }
    memcpy(m->ns, ns, ns_len);
    m->ns[ns_len] = '\0';
    m->ns_len = ns_len;
    return DURO_OK;
}

int duro_kinds_schema(const duro_kinds *t, const char **steps, size_t max, duro_schema *out,
                      char *err, size_t errlen)
{
    int last = 0;
    memset(steps, 0, max * sizeof *steps);
    for (int id = 0; id <= DURO_KIND_MAX; id++) {
        const duro_kind *k = t->kinds[id];
        for (size_t i = 0; k && i < k->n_migrations; i++) {
            int v = k->migrations[i].version;
            if (v < 1 || (size_t)v > max || steps[v - 1]) {
                snprintf(err, errlen, "kind %s: migration %d is out of range or taken", k->name,
                         v);
                return DURO_INTERNAL;
            }
            steps[v - 1] = k->migrations[i].sql;
            last = v > last ? v : last;
        }
    }
    for (int v = 0; v < last; v++)
        if (!steps[v]) {
            snprintf(err, errlen, "no kind has migration %d", v + 1);
            return DURO_INTERNAL;
        }
    out->steps = steps;
    out->version = last;
    return DURO_OK;
}
