/*
 * session_req.h — building session requests (objects/session.h) from wire
 * input, shared by HTTP and the binary protocol.
 *
 * The caller has parsed the body (JSON, or msgpack checked and converted) into
 * a jansson tree; the session id or user id may come from the path. Everything
 * the contract asks is checked here, so the object only runs valid requests.
 */
#ifndef DURO_SESSION_REQUEST_H
#define DURO_SESSION_REQUEST_H

#include <jansson.h>
#include <stddef.h>

#include "duro/status.h"
#include "objects/session.h"
#include "runtime/kind.h"

/* "session.create" | "session.get" | "session.put" | "session.delete" |
 * "session.list_user" | "session.revoke_user" -> enum duro_session_op, or -1.
 * duro_session_op_name() is the reverse (NULL if out of range). */
extern const char *const duro_session_op_names[DURO_SESSION_OP_COUNT];
int duro_session_op_from_name(const char *name, size_t len);
const char *duro_session_op_name(int op);

/* Builds the request of op. id_or_user[0..len) is the session id (GET, PUT,
 * DELETE) or the user id (LIST_USER, REVOKE_USER) taken from an HTTP path; if
 * id_or_user is NULL it is read from args instead ("id" or "userId", a
 * string). It is ignored for CREATE. args (NULL, or an object; required for
 * CREATE and PUT) may hold exactly these members (the id / userId only when
 * it does not come from the path):
 *   CREATE       {data: object, ttlMs: int, userId?: string, rolling?: bool}
 *   GET, DELETE  {id}
 *   PUT          {id, data: object, ttlMs?: int}
 *   LIST_USER    {userId}
 *   REVOKE_USER  {userId, exceptId?: session id}
 * Any other member is DURO_BAD_REQUEST (`unknown field "<name>"`); ttlMs
 * must be a JSON integer and rolling a JSON bool.
 * ttlMs is an integer 1..DURO_SESSION_TTL_MAX; data's compact JSON text is at
 * most DURO_SESSION_DATA_MAX bytes (else DURO_PAYLOAD_TOO_LARGE); a user id is
 * 1..DURO_SESSION_USER_MAX bytes of UTF-8 without NUL. A null field counts as
 * absent. A malformed session id is not an error: the request is built with
 * id_ok = 0 and the object answers as for an unknown id (a malformed exceptId
 * is DURO_BAD_REQUEST). DURO_OK with *out set (free with
 * duro_session_req_free), or an error status with a message in err. */
int duro_session_request(int op, const char *id_or_user, size_t len, const json_t *args,
                         duro_session_req **out, char *err, size_t errlen);

/* The kind's decode (runtime/kind.h): duro_session_request on the call's
 * args (the id or user id in them). */
int duro_session_decode_args(int op, const duro_args *a, void **req, char *err, size_t errlen);

#endif
