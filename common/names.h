/*
 * names.h — the rules for namespace names and keys, and strict percent-decoding
 * of paths and query strings. Pure functions; no allocation unless stated.
 */
#ifndef DURO_NAMES_H
#define DURO_NAMES_H

#include <stddef.h>

#define DURO_NS_MAX 128
#define DURO_KEY_MAX 2048

/* A user namespace: 1–128 bytes of [A-Za-z0-9._-], not starting with '_' or
 * '.'. Returns 0, or -1 with *why set to a static message. */
int duro_ns_valid(const char *s, size_t n, const char **why);

/* A key: 1–2048 bytes of well-formed UTF-8 without NUL. 0, or -1 with *why. */
int duro_key_valid(const char *s, size_t n, const char **why);

/* Strictly percent-decodes src[0..n) ('+' is NOT a space; a '%' must be
 * followed by two hex digits). Writes into a new malloc'd, NUL-terminated
 * buffer (*out, length *outlen, the caller frees). Returns 0, or -1 on a bad
 * escape (nothing allocated) or ENOMEM. */
int duro_pct_decode(const char *src, size_t n, char **out, size_t *outlen);

/* Finds parameter `name` in a raw query string ("a=1&b=x%2Fy", no leading '?';
 * may be NULL) and percent-decodes its value into *out (malloc'd,
 * NUL-terminated, the caller frees; "" for "a" or "a="). In a query '+' decodes
 * to a space. The first occurrence wins.
 * Returns 1 if found, 0 if absent (*out = NULL), -1 on a bad escape or ENOMEM. */
int duro_query_get(const char *query, const char *name, char **out, size_t *outlen);

#endif
