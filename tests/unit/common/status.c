/*
 * test_status.c — unit tests for common/status.c: the status table's
 * accessors, and the HTTP reason phrases of every status line the server
 * writes.
 */
#include "tests/test.h"
#include "duro/status.h"
#include "common/status_int.h"

/* The phrases of every HTTP status the server sends, as its status lines have
 * always spelled them. */
static const struct {
    int http;
    const char *reason;
} phrases[] = {
    {100, "Continue"},
    {200, "OK"},
    {201, "Created"},
    {204, "No Content"},
    {206, "Partial Content"},
    {304, "Not Modified"},
    {400, "Bad Request"},
    {401, "Unauthorized"},
    {403, "Forbidden"},
    {404, "Not Found"},
    {405, "Method Not Allowed"},
    {409, "Conflict"},
    {412, "Precondition Failed"},
    {413, "Payload Too Large"},
    {415, "Unsupported Media Type"},
    {429, "Too Many Requests"},
    {500, "Internal Server Error"},
    {503, "Service Unavailable"},
    {507, "Insufficient Storage"},
};

TEST(http_reasons)
{
    for (size_t i = 0; i < sizeof phrases / sizeof phrases[0]; i++)
        ASSERT_STREQ(duro_http_reason(phrases[i].http), phrases[i].reason);
    ASSERT_STREQ(duro_http_reason(418), "Unknown");
    ASSERT_STREQ(duro_http_reason(0), "Unknown");
    ASSERT_STREQ(duro_http_reason(-1), "Unknown");
}

/* Every row's HTTP status has its one phrase, whichever row names it. */
TEST(rows_agree_on_reasons)
{
#define ROW(name, num, wire, http, reason, msg) ASSERT_STREQ(duro_http_reason(http), reason);
    DURO_STATUS_MAP(ROW)
#undef ROW
}

TEST(accessors)
{
    ASSERT_STREQ(duro_status_code(DURO_NOT_FOUND), "NOT_FOUND");
    ASSERT_EQ(duro_status_http(DURO_RATE_LIMITED), 429);
    ASSERT_STREQ(duro_errstr(DURO_LOCKED), "data directory is locked by another process");
    ASSERT_EQ(duro_status_from_code("PRECONDITION_FAILED", 19), DURO_PRECONDITION_FAILED);
    ASSERT_EQ(duro_status_from_code("NOPE", 4), -1);
    ASSERT_EQ(duro_status_from_http(503), DURO_UNAVAILABLE);
    ASSERT_EQ(duro_status_from_http(418), DURO_INTERNAL);
    /* the success a write that created its target answers on the binary protocol */
    ASSERT_EQ(DURO_CREATED, 17);
    ASSERT_EQ(duro_status_http(DURO_CREATED), 201);
    ASSERT_EQ(duro_status_from_http(201), DURO_CREATED);
    ASSERT(duro_status_known(DURO_OK) && duro_status_known(DURO_CREATED));
    ASSERT_EQ(duro_status_http(DURO_NOT_MODIFIED), 304);
    ASSERT_EQ(duro_status_http(DURO_RANGE_NOT_SATISFIABLE), 416);
    ASSERT(!duro_status_known(20) && !duro_status_known(-1) && !duro_status_known(200));
    /* outside the table */
    ASSERT_STREQ(duro_errstr(-1), "unknown status");
    ASSERT_STREQ(duro_status_code(1000), "INTERNAL");
    ASSERT_EQ(duro_status_http(1000), 500);
}

TEST_MAIN()
