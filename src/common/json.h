/* SPDX-License-Identifier: MIT */
#pragma once

/* JSON helpers over json-c: strict parsing, compact output, Go-style member
 * lookup. */

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

#include "macro.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(struct json_object *, json_object_put);
#define _cleanup_json_ _cleanup_(json_object_putp)

/* Checks that text is exactly one JSON value as RFC 8259 defines it
 * (whitespace around it allowed, as Go's encoder ends with a newline):
 * no NaN, no single quotes, no raw control characters in strings, valid
 * UTF-8 only. json-c alone accepts all of those. Beyond the RFC, "\u0000"
 * is refused: every string ends up as a C string, where it would cut it. */
bool json_valid(const char *text, size_t len, const char **ret_error);

/* json_valid(), then json-c's parse. On failure returns a negative errno and
 * a static reason in ret_error. */
int json_parse_strict(const char *text, size_t len, struct json_object **ret, const char **ret_error);

/* Serialises compactly and without "\/" escapes. The string belongs to obj. */
const char *json_to_string(struct json_object *obj, size_t *ret_len);

/* The string of a JSON string value, or NULL when v is not a string or
 * holds a NUL (which a C string would silently cut at). */
const char *json_c_string(struct json_object *v);

/* Object member lookup as Go does it: exact key, else case-insensitive. */
struct json_object *json_get(struct json_object *o, const char *key);
