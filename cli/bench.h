/*
 * bench.h — `duro bench` (bench.c), as the CLI's dispatcher (cli.c) calls it.
 */
#ifndef DURO_CLI_BENCH_H
#define DURO_CLI_BENCH_H

/* Runs `duro bench`: argv[0..argc) is what follows "bench" on the command
 * line (the global options already taken out), url the server's, ns the
 * namespace of -n (NULL when -n was not given: bench uses "bench"). Returns
 * the process exit code. */
int duro_cli_bench(int argc, char **argv, const char *url, const char *ns);

#endif
