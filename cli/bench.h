/*
 * bench.h — `duro bench` (bench.c), as the CLI's dispatcher (cli.c) calls it.
 */
#ifndef DURO_CLI_BENCH_H
#define DURO_CLI_BENCH_H

#include <stddef.h>

/* Runs `duro bench`: argv[0..argc) is what follows "bench" on the command
 * line (the global options already taken out), url the server's, ns the
 * namespace of -n (NULL when -n was not given: bench uses "bench"), token the
 * access token of --token / DURO_TOKEN (NULL: none). Returns the process exit
 * code. */
int duro_cli_bench(int argc, char **argv, const char *url, const char *ns, const char *token);

/* url as messages may show it: without its query (which may hold a token=),
 * "?..." in its place. Written into buf (n bytes); returns buf. */
const char *duro_cli_url_shown(const char *url, char *buf, size_t n);

#endif
