/* SPDX-License-Identifier: MIT */
#pragma once

/* Request and response helpers for route handlers: JSON bodies in, JSON
 * replies and {"error": "..."} out, with exact Content-Length and
 * Content-Type. Each reply function returns 0, the value a handler returns. */

#include <json-c/json.h>
#include <stdbool.h>

#define H2O_USE_LIBUV 0
#include <h2o.h>

#include "macro.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(struct json_object *, json_object_put);
#define _cleanup_json_ _cleanup_(json_object_putp)

const char *http_reason(int status);

/* Adds a response header; the value is copied into the request's pool (h2o
 * itself keeps only the pointer). */
void http_add_header(h2o_req_t *req, const h2o_token_t *token, const char *value);

int http_reply(h2o_req_t *req, int status, const char *content_type, const char *body, size_t len);
int http_reply_json(h2o_req_t *req, int status, struct json_object *obj);
int http_reply_empty(h2o_req_t *req, int status);
int http_reply_error(h2o_req_t *req, int status, const char *format, ...) _printf_(3, 4);

/* {"error": message} serialised into the request's pool. */
h2o_iovec_t http_error_body(h2o_mem_pool_t *pool, const char *message, size_t len);

/* Serialises compactly and without "\/" escapes. The string belongs to obj. */
const char *json_to_string(struct json_object *obj, size_t *ret_len);

/* Parses text that must hold exactly one JSON value (whitespace around it is
 * allowed, as Go's encoder ends with a newline) of valid UTF-8. On failure
 * returns a negative errno and a static reason in ret_error. */
int json_parse_strict(const char *text, size_t len, struct json_object **ret, const char **ret_error);

/* Reads the request body as strict JSON. Checks Content-Type when one is
 * given (application/json, 415 otherwise). On failure it has already sent the
 * error reply and returns false. */
bool http_json_body(h2o_req_t *req, struct json_object **ret);

/* Decodes %XX escapes of a path segment into the request's pool; returns a
 * NUL-terminated string, or NULL when an escape is malformed or decodes to
 * a NUL byte. */
char *http_unescape(h2o_mem_pool_t *pool, h2o_iovec_t v);

/* Query parameters the handler knows, filled from the request's query
 * string (decoded, "+" as space; value NULL when absent). Unknown or
 * repeated names and bad escapes fail with a static reason. */
struct http_param {
        const char *name;
        char *value;
};
int http_query_parse(h2o_req_t *req, struct http_param *params, size_t n, const char **ret_error);

/* The request's Content-Type without parameters, or an empty iovec. */
h2o_iovec_t http_content_type(h2o_req_t *req);
bool http_content_type_is(h2o_req_t *req, const char *type);
