/*
 * route.h — which actor owns a namespace, and where its file lives.
 *
 * The hash is FNV-1a 64 over the namespace name's bytes, unseeded, so it is the
 * same in every process and every run:
 *     owner = fnv1a64(ns) mod actors
 *     file  = <data>/ns/<fnv1a64(ns) mod 256, two hex digits>/<ns>.db
 * A restart with another actor count only changes which thread opens a file.
 */
#ifndef DURO_ROUTE_H
#define DURO_ROUTE_H

#include <stddef.h>
#include <stdint.h>

uint64_t duro_route_hash(const void *s, size_t n);

/* The owning actor of a namespace among `actors` (> 0). */
unsigned duro_route_owner(const char *ns, size_t n, unsigned actors);

/* The shard directory (0..255) of a namespace's file. */
unsigned duro_route_shard(const char *ns, size_t n);

#endif
