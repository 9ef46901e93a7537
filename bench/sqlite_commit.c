/* bench_sqlite_commit — the no-group-commit durability ceiling of this machine.
 *
 * A fresh SQLite database in WAL mode with synchronous=FULL (durod's default),
 * table kv(key TEXT PRIMARY KEY, value BLOB) WITHOUT ROWID; one transaction per
 * row (BEGIN; INSERT random key, 100-byte value; COMMIT), for SECONDS seconds.
 *
 * usage: bench_sqlite_commit [SECONDS [PARENT_DIR]]
 *   SECONDS     default 5
 *   PARENT_DIR  where the temporary database directory is made (default $TMPDIR
 *               or /tmp); the directory and its files are removed at the end.
 *
 * Output (first line is what bench/run.sh parses):
 *   commits/s N
 *   commit_latency_ms p50 X p99 Y max Z
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* mkdtemp, clock_gettime under -std=c11 */
#endif
#include <sqlite3.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define VALUE_BYTES 100

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t rng_state;
static uint64_t rng_next(void) /* xorshift64* */
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1DULL;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int exec(sqlite3 *db, const char *sql)
{
    char *err = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
        fprintf(stderr, "sqlite: %s: %s\n", sql, err ? err : "?");
        sqlite3_free(err);
        return -1;
    }
    return 0;
}

static int step_reset(sqlite3 *db, sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        fprintf(stderr, "sqlite step: %s\n", sqlite3_errmsg(db));
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    double seconds = 5;
    if (argc > 3 || (argc > 1 && (argv[1][0] == '-'))) {
        fprintf(stderr, "usage: %s [SECONDS [PARENT_DIR]]\n", argv[0]);
        return 2;
    }
    if (argc > 1) {
        char *end;
        seconds = strtod(argv[1], &end);
        if (*end != '\0' || !(seconds > 0) || seconds > 3600) {
            fprintf(stderr, "bad SECONDS: %s\n", argv[1]);
            return 2;
        }
    }
    const char *parent = argc > 2 ? argv[2] : getenv("TMPDIR");
    if (!parent || !*parent)
        parent = "/tmp";

    char dir[4096], path[4200];
    if (snprintf(dir, sizeof dir, "%s/sqlite_commit.XXXXXX", parent) >= (int)sizeof dir) {
        fprintf(stderr, "PARENT_DIR too long\n");
        return 2;
    }
    if (!mkdtemp(dir)) {
        perror(dir);
        return 1;
    }
    snprintf(path, sizeof path, "%s/probe.db", dir);

    int status = 1;
    sqlite3 *db = NULL;
    sqlite3_stmt *begin = NULL, *ins = NULL, *commit = NULL;
    double *lat = NULL;
    size_t nlat = 0, caplat = 0;

    if (sqlite3_open(path, &db) != SQLITE_OK) {
        fprintf(stderr, "sqlite open %s: %s\n", path, db ? sqlite3_errmsg(db) : "?");
        goto out;
    }
    if (exec(db, "PRAGMA journal_mode=WAL") || exec(db, "PRAGMA synchronous=FULL") ||
        exec(db, "CREATE TABLE kv(key TEXT PRIMARY KEY, value BLOB) WITHOUT ROWID"))
        goto out;
    if (sqlite3_prepare_v2(db, "BEGIN", -1, &begin, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO kv(key, value) VALUES(?1, ?2)", -1, &ins,
                           NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "COMMIT", -1, &commit, NULL) != SQLITE_OK) {
        fprintf(stderr, "sqlite prepare: %s\n", sqlite3_errmsg(db));
        goto out;
    }

    unsigned char value[VALUE_BYTES];
    rng_state = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32) ^ 0x9E3779B97F4A7C15ULL;
    for (size_t i = 0; i < sizeof value; i++)
        value[i] = (unsigned char)('a' + rng_next() % 26);

    double start = now_s(), deadline = start + seconds, t = start;
    uint64_t commits = 0;
    while (t < deadline) {
        char key[32];
        int klen = snprintf(key, sizeof key, "k%016llx", (unsigned long long)rng_next());
        double t0 = t;
        sqlite3_bind_text(ins, 1, key, klen, SQLITE_TRANSIENT);
        sqlite3_bind_blob(ins, 2, value, (int)sizeof value, SQLITE_STATIC);
        if (step_reset(db, begin) || step_reset(db, ins) || step_reset(db, commit))
            goto out;
        commits++;
        t = now_s();
        if (nlat == caplat) {
            size_t ncap = caplat ? caplat * 2 : 65536;
            double *n = realloc(lat, ncap * sizeof *n);
            if (!n) {
                fprintf(stderr, "out of memory\n");
                goto out;
            }
            lat = n;
            caplat = ncap;
        }
        lat[nlat++] = (t - t0) * 1e3;
    }
    double elapsed = t - start;
    qsort(lat, nlat, sizeof *lat, cmp_double);
    printf("commits/s %.0f\n", (double)commits / elapsed);
    if (nlat > 0)
        printf("commit_latency_ms p50 %.3f p99 %.3f max %.3f\n", lat[nlat / 2],
               lat[(size_t)((double)(nlat - 1) * 0.99)], lat[nlat - 1]);
    status = 0;

out:
    sqlite3_finalize(begin);
    sqlite3_finalize(ins);
    sqlite3_finalize(commit);
    sqlite3_close(db);
    free(lat);
    static const char *const suffixes[] = {"", "-wal", "-shm", "-journal"};
    for (size_t i = 0; i < sizeof suffixes / sizeof *suffixes; i++) {
        char f[4300];
        snprintf(f, sizeof f, "%s%s", path, suffixes[i]);
        unlink(f);
    }
    rmdir(dir);
    return status;
}
