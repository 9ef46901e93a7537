/* route.c — FNV-1a 64 namespace routing (see route.h). */
#include "runtime/route.h"

uint64_t duro_route_hash(const void *s, size_t n)
{
    const unsigned char *p = s;
    uint64_t h = 14695981039346656037ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 1099511628211ULL;
    }
    return h;
}

unsigned duro_route_owner(const char *ns, size_t n, unsigned actors)
{
    return (unsigned)(duro_route_hash(ns, n) % actors);
}

unsigned duro_route_shard(const char *ns, size_t n)
{
    return (unsigned)(duro_route_hash(ns, n) & 0xff);
}
