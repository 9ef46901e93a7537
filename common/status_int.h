/*
 * status_int.h — what the server and libduro read from the status table
 * (include/duro/status.h) beyond the public accessors. Not API: hidden in
 * libduro.so.
 */
#ifndef DURO_STATUS_INT_H
#define DURO_STATUS_INT_H

/* The reason phrase of HTTP status http for a status line: the table's for
 * the HTTP statuses of its rows ("Not Found" for 404), else that of the few
 * other statuses the server sends (100, 204, 304), else "Unknown".
 * Static; never NULL. */
const char *duro_http_reason(int http);

/* 1 if rc is the number of a row of the table (a status a peer may send),
 * else 0. */
int duro_status_known(int rc);

#endif
