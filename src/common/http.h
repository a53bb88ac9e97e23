/* SPDX-License-Identifier: MIT */
#pragma once

/* Request and response helpers for route handlers: JSON bodies in, JSON
 * replies and {"error": "..."} out, with exact Content-Length and
 * Content-Type. Each reply function returns 0, the value a handler returns. */

#include <stdbool.h>

#define H2O_USE_LIBUV 0
#include <h2o.h>

#include "json.h"
#include "macro.h"

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
/* The same for any application/x-www-form-urlencoded text, such as a form's
 * body; unknown names may be ignored. */
int http_form_parse(h2o_mem_pool_t *pool, const char *text, size_t len, struct http_param *params, size_t n,
                    bool ignore_unknown, const char **ret_error);

/* The request's Content-Type without parameters, or an empty iovec. */
h2o_iovec_t http_content_type(h2o_req_t *req);
bool http_content_type_is(h2o_req_t *req, const char *type);
