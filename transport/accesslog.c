/* accesslog.c — the --access-log sink (see accesslog.h). */
#include "transport/accesslog.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "duro/status.h"
#include "common/buf.h"
#include "common/codec.h"
#include "common/log.h"

static int log_fd = -1;     /* read by every I/O thread (relaxed): swapped on reopen */
static char *log_path;      /* NULL: stderr */
static pthread_mutex_t reopen_lock = PTHREAD_MUTEX_INITIALIZER;

static int open_path(const char *path)
{
    if (!path)
        return dup(STDERR_FILENO);
    return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
}

int duro_accesslog_open(const char *path)
{
    int stderr_log = strcmp(path, "-") == 0;
    int fd = open_path(stderr_log ? NULL : path);
    if (fd < 0)
        return -1;
    log_path = stderr_log ? NULL : strdup(path);
    __atomic_store_n(&log_fd, fd, __ATOMIC_RELEASE);
    return 0;
}

int duro_accesslog_reopen(void)
{
    pthread_mutex_lock(&reopen_lock);
    int rc = 0, old = __atomic_load_n(&log_fd, __ATOMIC_ACQUIRE);
    if (old >= 0) {
        int fd = open_path(log_path);
        if (fd < 0) {
            rc = -1;
        } else {
            /* the new file takes the old one's number, so a thread in write()
             * on it finishes on one of the two, never on a closed fd */
            rc = dup2(fd, old) < 0 ? -1 : 0;
            close(fd);
        }
    }
    pthread_mutex_unlock(&reopen_lock);
    return rc;
}

int duro_accesslog_on(void) { return __atomic_load_n(&log_fd, __ATOMIC_RELAXED) >= 0; }

void duro_accesslog_close(void)
{
    int fd = __atomic_exchange_n(&log_fd, -1, __ATOMIC_ACQ_REL);
    if (fd >= 0)
        close(fd);
    free(log_path);
    log_path = NULL;
}

/* {"time":"...","request_id":... — the start every line shares. */
static void begin(duro_buf *b, const char *proto)
{
    char stamp[80];
    duro_log_stamp(stamp, sizeof stamp);
    duro_buf_printf(b, "{\"time\":\"%s\",\"proto\":\"%s\"", stamp, proto);
}

static void field(duro_buf *b, const char *name, const char *s, size_t n)
{
    duro_buf_printf(b, ",\"%s\":", name);
    duro_json_put_str(b, s, n);
}

static void emit(duro_buf *b)
{
    duro_buf_puts(b, "}\n");
    int fd = __atomic_load_n(&log_fd, __ATOMIC_RELAXED);
    if (fd >= 0 && b->len) {
        ssize_t w = write(fd, b->data, b->len); /* one line, one write (O_APPEND) */
        (void)w;                                /* a lost line is no reason to fail a request */
    }
    duro_buf_free(b);
}

void duro_accesslog_http(const char *request_id, const char *peer, const char *method,
                         const char *path, const char *query, const char *ns, int status,
                         size_t bytes, uint64_t us)
{
    if (!duro_accesslog_on())
        return;
    duro_buf b = {0};
    begin(&b, "http");
    field(&b, "request_id", request_id, strlen(request_id));
    field(&b, "peer", peer, strlen(peer));
    field(&b, "method", method, strlen(method));
    /* the path, and of the query only its names: "/storage/k?ns&meta" */
    duro_buf p = {0};
    duro_buf_append(&p, path, strlen(path) > 2048 ? 2048 : strlen(path));
    for (const char *q = query; q && *q && p.len < 4096;) {
        size_t seg = strcspn(q, "&"), name = strcspn(q, "=&");
        duro_buf_puts(&p, q == query ? "?" : "&");
        duro_buf_append(&p, q, name > 64 ? 64 : name);
        q += seg;
        if (*q == '&')
            q++;
    }
    field(&b, "path", p.data ? p.data : "", p.len);
    duro_buf_free(&p);
    field(&b, "ns", ns, strlen(ns));
    duro_buf_printf(&b, ",\"status\":%d,\"bytes\":%zu,\"us\":%llu", status, bytes,
                    (unsigned long long)us);
    emit(&b);
}

void duro_accesslog_rpc(uint64_t msgid, const char *peer, const char *op, size_t op_len,
                        const char *ns, size_t ns_len, int status, size_t bytes, uint64_t us)
{
    if (!duro_accesslog_on())
        return;
    duro_buf b = {0};
    begin(&b, "rpc");
    duro_buf_printf(&b, ",\"request_id\":\"%llu\"", (unsigned long long)msgid);
    field(&b, "peer", peer, strlen(peer));
    field(&b, "op", op, op_len > 64 ? 64 : op_len);
    field(&b, "ns", ns, ns_len > 128 ? 128 : ns_len);
    duro_buf_printf(&b, ",\"status\":\"%s\",\"bytes\":%zu,\"us\":%llu", duro_status_code(status),
                    bytes, (unsigned long long)us);
    emit(&b);
}
