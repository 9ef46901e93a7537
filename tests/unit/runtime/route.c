/*
 * tests/unit/runtime/route.c — the namespace → owner hash is fixed and spreads names.
 */
#include "runtime/route.h"

#include <stdio.h>
#include <string.h>

#include "test.h"

TEST(fnv1a_known_values)
{
    /* FNV-1a 64 reference values: empty string and "a" */
    ASSERT_EQ(duro_route_hash("", 0), 0xcbf29ce484222325ULL);
    ASSERT_EQ(duro_route_hash("a", 1), 0xaf63dc4c8601ec8cULL);
    ASSERT_EQ(duro_route_hash("foobar", 6), 0x85944171f73967e8ULL);
}

TEST(owner_is_stable_and_in_range)
{
    for (unsigned actors = 1; actors <= 16; actors++) {
        unsigned o = duro_route_owner("app1", 4, actors);
        ASSERT(o < actors);
        ASSERT_EQ(o, duro_route_owner("app1", 4, actors));
        ASSERT_EQ(o, (unsigned)(duro_route_hash("app1", 4) % actors));
    }
    ASSERT(duro_route_shard("app1", 4) < 256);
}

TEST(owners_spread_evenly)
{
    unsigned counts[8] = {0};
    char name[32];
    for (int i = 0; i < 8000; i++) {
        int n = snprintf(name, sizeof name, "tenant-%d", i);
        counts[duro_route_owner(name, (size_t)n, 8)]++;
    }
    for (int i = 0; i < 8; i++)
        ASSERT(counts[i] > 800 && counts[i] < 1200);
}

TEST_MAIN()
