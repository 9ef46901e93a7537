/*
 * tests/unit/transport/config.c — flags, environment, defaults and errors of durod's config.
 */
#include "transport/config.h"

#include <stdlib.h>
#include <string.h>

#include "test.h"

static int load(duro_config *c, int argc, char **argv)
{
    char err[256];
    return duro_config_load(c, argc, argv, err, sizeof err);
}

TEST(defaults)
{
    duro_config c;
    char *argv[] = {"durod"};
    ASSERT_EQ(load(&c, 1, argv), DURO_CONFIG_OK);
    ASSERT_STREQ(c.listen_host, "127.0.0.1");
    ASSERT_EQ(c.listen_port, 8787);
    ASSERT_STREQ(c.data_dir, "./data");
    ASSERT(c.actors >= 1);
    ASSERT_EQ(c.max_value_bytes, 2097152);
    ASSERT_EQ(c.max_reply_bytes, 16777216);
    ASSERT_EQ(c.sync_full, 1);
}

TEST(flags_env_and_precedence)
{
    duro_config c;
    setenv("DURO_CACHE_MB", "64", 1);
    setenv("DURO_ACTORS", "3", 1);
    char *argv[] = {"durod", "--listen", "127.0.0.1:9000", "--actors=5", "--sync", "normal"};
    ASSERT_EQ(load(&c, 6, argv), DURO_CONFIG_OK);
    ASSERT_EQ(c.cache_mb, 64);
    ASSERT_EQ(c.actors, 5);
    ASSERT_EQ(c.listen_port, 9000);
    ASSERT_EQ(c.sync_full, 0);
    unsetenv("DURO_CACHE_MB");
    unsetenv("DURO_ACTORS");
}

TEST(errors)
{
    duro_config c;
    char err[256];
    char *a1[] = {"durod", "--nope", "1"};
    ASSERT_EQ(duro_config_load(&c, 3, a1, err, sizeof err), DURO_CONFIG_ERROR);
    ASSERT(strstr(err, "--nope") != NULL);
    char *a2[] = {"durod", "--actors", "abc"};
    ASSERT_EQ(load(&c, 3, a2), DURO_CONFIG_ERROR);
    char *a3[] = {"durod", "--actors", "0"};
    ASSERT_EQ(load(&c, 3, a3), DURO_CONFIG_ERROR);
    char *a4[] = {"durod", "--listen", "nohostport"};
    ASSERT_EQ(load(&c, 3, a4), DURO_CONFIG_ERROR);
    char *a5[] = {"durod", "--listen"};
    ASSERT_EQ(load(&c, 2, a5), DURO_CONFIG_ERROR);
    char *a6[] = {"durod", "--log-level", "loud"};
    ASSERT_EQ(load(&c, 3, a6), DURO_CONFIG_ERROR);
    setenv("DURO_MAX_BODY_BYTES", "-1", 1);
    char *a7[] = {"durod"};
    ASSERT_EQ(duro_config_load(&c, 1, a7, err, sizeof err), DURO_CONFIG_ERROR);
    ASSERT(strstr(err, "DURO_MAX_BODY_BYTES") != NULL);
    unsetenv("DURO_MAX_BODY_BYTES");
    char *a9[] = {"durod", "--max-reply-bytes", "65535"}; /* below the minimum */
    ASSERT_EQ(load(&c, 3, a9), DURO_CONFIG_ERROR);
    char *a8[] = {"durod", "--help"};
    ASSERT_EQ(load(&c, 2, a8), DURO_CONFIG_HELP);
}

TEST_MAIN()
