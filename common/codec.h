/*
 * codec.h — JSON and msgpack on the wire, values between encodings, and the
 * reply "tape".
 *
 * Stored values carry an encoding tag: DURO_ENC_JSON (UTF-8 JSON text, compact)
 * or DURO_ENC_MSGPACK (one msgpack object). Values must be representable in
 * both: msgpack input may use nil, bool, int (within int64), finite float, str,
 * bin, array and map with str keys; ext, non-str keys, uint64 > INT64_MAX are
 * rejected.
 *
 * BYTES. The one JSON form of bytes, product-wide, is an object with exactly
 * one member, "$bytes", whose value is standard base64 with padding (RFC 4648
 * section 4, canonical: unused bits zero): {"$bytes":"AAEC"}. Every converter
 * here maps msgpack bin <-> that object: msgpack → JSON text / jansson tree
 * writes it, jansson tree → msgpack turns any object that is exactly
 * {"$bytes": <valid base64 string>} into a bin. An object with "$bytes" and
 * other members, or whose "$bytes" is not a string of valid base64, is an
 * ordinary object. (So a msgpack map {"$bytes": "<base64>"} also reads back
 * as bin: that spelling is reserved for bytes.)
 *
 * The tape is what an actor writes as a reply body: msgpack, where an ext of type
 * DURO_TAPE_EXT_JSON holds a raw JSON text (a stored JSON value spliced in
 * unparsed). Stored msgpack values are spliced into the tape as they are. The
 * I/O thread turns the tape into the client's encoding with
 * duro_tape_to_json() or duro_tape_to_mp(), converting embedded values only
 * when their encoding differs from the output.
 *
 * Untrusted msgpack never reaches msgpack-c before duro_mp_check() accepted it
 * (see DEPS.md: msgpack-c allocates from untrusted container headers).
 */
#ifndef DURO_CODEC_H
#define DURO_CODEC_H

#include <jansson.h>
#include <stddef.h>

#include "common/buf.h"

enum { DURO_ENC_JSON = 0, DURO_ENC_MSGPACK = 1 };

#define DURO_TAPE_EXT_JSON 1
#define DURO_MP_MAX_DEPTH 64   /* containers nested deeper are rejected */
#define DURO_JSON_MAX_DEPTH 64 /* same cap for JSON request bodies */

/* Heap-free structural check of exactly one msgpack object at the start of
 * buf[0..len): every length and container count fits in the bytes left (each
 * element needs at least one byte), nesting <= max_depth, no 0xc1. On success
 * stores the object's size in *used and returns 0; returns -1 otherwise.
 * Allocates nothing, recursion-free (explicit bounded stack). */
int duro_mp_check(const void *buf, size_t len, int max_depth, size_t *used);

/* Decodes buf (exactly one msgpack object, no trailing bytes) into a new jansson
 * tree. Runs duro_mp_check first. Rejects the non-JSON types listed above.
 * Returns a new reference, or NULL with *err set to a static message. */
json_t *duro_mp_to_json(const void *buf, size_t len, const char **err);

/* Parses JSON text (any value at top level, duplicate keys rejected, \u0000
 * allowed, nesting <= DURO_JSON_MAX_DEPTH). Returns a new reference, or NULL
 * with *err set to a static message. */
json_t *duro_json_parse(const void *buf, size_t len, const char **err);

/* Appends v encoded as msgpack (ints as the smallest int, reals as float64,
 * strings as str). 0 / -1 (ENOMEM, or nesting > DURO_MP_MAX_DEPTH). */
int duro_json_to_mp(const json_t *v, duro_buf *out);

/* Appends v as compact JSON text. 0 / -1. */
int duro_json_to_text(const json_t *v, duro_buf *out);

/* Appends the stored value (enc, v[0..n)) in the other encoding or the same
 * one (copied). Trusts that stored values are well formed but still bounds
 * every read. 0 / -1. */
int duro_value_to_json(int enc, const void *v, size_t n, duro_buf *out);
int duro_value_to_mp(int enc, const void *v, size_t n, duro_buf *out);

/* Appends the tape as JSON text / as plain msgpack (ext JSON values converted).
 * 0 / -1 on a malformed tape or ENOMEM. */
int duro_tape_to_json(const void *tape, size_t len, duro_buf *out);
int duro_tape_to_mp(const void *tape, size_t len, duro_buf *out);

/* A copy (malloc'd) of the string member name of the map a tape holds, or
 * NULL if there is none (or it is no plain string). */
char *duro_tape_str_field(const void *tape, size_t len, const char *name);

#define DURO_BYTES_KEY "$bytes"

/* Appends the JSON form of the bytes p[0..n): {"$bytes":"<base64>"}. 0 / -1. */
int duro_json_put_bytes(duro_buf *out, const void *p, size_t n);

/* A new jansson object {"$bytes": "<base64 of p[0..n)>"}, or NULL (ENOMEM). */
json_t *duro_json_bytes_new(const void *p, size_t n);

/* Is v the JSON form of bytes (exactly {"$bytes": <valid base64 string>})?
 * 1 yes (the decoded bytes appended to out, unless out is NULL), 0 no, -1
 * ENOMEM (out unchanged). */
int duro_json_bytes(const json_t *v, duro_buf *out);

/* 1 if the tree v holds the JSON form of bytes anywhere (depth-capped at
 * DURO_MP_MAX_DEPTH: deeper trees answer 0 and fail to encode anyway). */
int duro_json_has_bytes(const json_t *v);

/* If buf[0..len) is exactly one msgpack bin, stores its payload in *p, *n and
 * returns 1; else 0. */
int duro_mp_is_bin(const void *buf, size_t len, const void **p, size_t *n);

/* Appends the msgpack bin header of an n-byte payload (the smallest). 0 / -1. */
int duro_mp_put_bin_header(duro_buf *out, size_t n);

/* Appends s[0..n) as a JSON string literal with quotes and escapes. 0 / -1. */
int duro_json_put_str(duro_buf *out, const char *s, size_t n);

/* 1 if s[0..n) is well-formed UTF-8 (no overlongs, no surrogates), else 0. */
int duro_utf8_valid(const void *s, size_t n);

#endif
