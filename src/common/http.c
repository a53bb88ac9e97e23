/* SPDX-License-Identifier: MIT */
#include <stdarg.h>
#include <string.h>
#include <strings.h>

#include "http.h"

const char *http_reason(int status) {
        switch (status) {
        case 200: return "OK";
        case 201: return "Created";
        case 202: return "Accepted";
        case 204: return "No Content";
        case 302: return "Found";
        case 303: return "See Other";
        case 304: return "Not Modified";
        case 400: return "Bad Request";
        case 401: return "Unauthorized";
        case 403: return "Forbidden";
        case 404: return "Not Found";
        case 405: return "Method Not Allowed";
        case 406: return "Not Acceptable";
        case 408: return "Request Timeout";
        case 409: return "Conflict";
        case 410: return "Gone";
        case 411: return "Length Required";
        case 412: return "Precondition Failed";
        case 413: return "Payload Too Large";
        case 415: return "Unsupported Media Type";
        case 416: return "Range Not Satisfiable";
        case 418: return "I'm a teapot";
        case 422: return "Unprocessable Entity";
        case 429: return "Too Many Requests";
        case 500: return "Internal Server Error";
        case 501: return "Not Implemented";
        case 502: return "Bad Gateway";
        case 503: return "Service Unavailable";
        case 504: return "Gateway Timeout";
        default:
                return status < 200   ? "Informational"
                       : status < 300 ? "Success"
                       : status < 400 ? "Redirection"
                       : status < 500 ? "Client Error"
                                      : "Server Error";
        }
}

void http_add_header(h2o_req_t *req, const h2o_token_t *token, const char *value) {
        h2o_iovec_t v = h2o_strdup(&req->pool, value, strlen(value));
        h2o_add_header(&req->pool, &req->res.headers, token, NULL, v.base, v.len);
}

int http_reply(h2o_req_t *req, int status, const char *content_type, const char *body, size_t len) {
        req->res.status = status;
        req->res.reason = http_reason(status);
        req->res.content_length = len;
        if (content_type)
                http_add_header(req, H2O_TOKEN_CONTENT_TYPE, content_type);
        h2o_send_inline(req, body, len);
        return 0;
}

int http_reply_empty(h2o_req_t *req, int status) {
        return http_reply(req, status, NULL, "", 0);
}

int http_reply_json(h2o_req_t *req, int status, struct json_object *obj) {
        size_t len;
        const char *s = json_to_string(obj, &len);
        return http_reply(req, status, "application/json", s, len);
}

h2o_iovec_t http_error_body(h2o_mem_pool_t *pool, const char *message, size_t len) {
        _cleanup_json_ struct json_object *o = json_object_new_object();
        const char *s;
        size_t n;

        json_object_object_add(o, "error", json_object_new_string_len(message, (int) len));
        s = json_to_string(o, &n);
        return h2o_strdup(pool, s, n);
}

int http_reply_error(h2o_req_t *req, int status, const char *format, ...) {
        char message[512];
        va_list ap;
        h2o_iovec_t body;

        va_start(ap, format);
        (void) vsnprintf(message, sizeof(message), format, ap);
        va_end(ap);
        body = http_error_body(&req->pool, message, strlen(message));
        return http_reply(req, status, "application/json", body.base, body.len);
}

h2o_iovec_t http_content_type(h2o_req_t *req) {
        ssize_t i = h2o_find_header(&req->headers, H2O_TOKEN_CONTENT_TYPE, -1);
        h2o_iovec_t v;

        if (i < 0)
                return h2o_iovec_init(NULL, 0);
        v = req->headers.entries[i].value;
        for (size_t n = 0; n < v.len; n++)
                if (v.base[n] == ';') {
                        v.len = n;
                        break;
                }
        while (v.len > 0 && v.base[v.len - 1] == ' ')
                v.len--;
        return v;
}

bool http_content_type_is(h2o_req_t *req, const char *type) {
        h2o_iovec_t v = http_content_type(req);
        return v.len == strlen(type) && strncasecmp(v.base, type, v.len) == 0;
}

bool http_json_body(h2o_req_t *req, struct json_object **ret) {
        h2o_iovec_t type = http_content_type(req);
        const char *error;

        if (type.len > 0 && !http_content_type_is(req, "application/json")) {
                http_reply_error(req, 415, "expected Content-Type application/json, got '%.*s'", (int) type.len,
                                 type.base);
                return false;
        }
        if (json_parse_strict(req->entity.base ?: "", req->entity.len, ret, &error) < 0) {
                http_reply_error(req, 400, "%s", error);
                return false;
        }
        return true;
}

static int hex_value(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

char *http_unescape(h2o_mem_pool_t *pool, h2o_iovec_t v) {
        char *out = h2o_mem_alloc_pool(pool, v.len + 1), *o = out;

        for (size_t i = 0; i < v.len; i++) {
                if (v.base[i] != '%') {
                        *o++ = v.base[i];
                        continue;
                }
                int hi = i + 2 < v.len ? hex_value(v.base[i + 1]) : -1;
                int lo = hi >= 0 ? hex_value(v.base[i + 2]) : -1;
                if (lo < 0 || (hi == 0 && lo == 0))
                        return NULL;
                *o++ = (char) (hi * 16 + lo);
                i += 2;
        }
        *o = '\0';
        return out;
}

int http_form_parse(h2o_mem_pool_t *pool, const char *q, size_t len, struct http_param *params, size_t n,
                    bool ignore_unknown, const char **ret_error) {
        const char *end = q + len;

        for (size_t i = 0; i < n; i++)
                params[i].value = NULL;
        while (q < end) {
                const char *amp = memchr(q, '&', (size_t) (end - q)) ?: end;
                const char *eq = memchr(q, '=', (size_t) (amp - q)) ?: amp;
                const char *v = eq < amp ? eq + 1 : eq;
                char *key = h2o_strdup(pool, q, (size_t) (eq - q)).base;
                char *value = h2o_strdup(pool, v, (size_t) (amp - v)).base;
                size_t i;

                q = amp + 1;
                if (!*key)
                        continue;
                for (char *p = key; *p; p++)
                        if (*p == '+')
                                *p = ' ';
                for (char *p = value; *p; p++)
                        if (*p == '+')
                                *p = ' ';
                key = http_unescape(pool, h2o_iovec_init(key, strlen(key)));
                value = http_unescape(pool, h2o_iovec_init(value, strlen(value)));
                if (!key || !value) {
                        *ret_error = "malformed %-escape";
                        return -EINVAL;
                }
                for (i = 0; i < n && !streq(params[i].name, key); i++)
                        ;
                if (i == n) {
                        if (ignore_unknown)
                                continue;
                        *ret_error = "unknown parameter";
                        return -EINVAL;
                }
                if (params[i].value) {
                        *ret_error = "repeated parameter";
                        return -EINVAL;
                }
                params[i].value = value;
        }
        return 0;
}

int http_query_parse(h2o_req_t *req, struct http_param *params, size_t n, const char **ret_error) {
        if (req->query_at == SIZE_MAX) {
                for (size_t i = 0; i < n; i++)
                        params[i].value = NULL;
                return 0;
        }
        return http_form_parse(&req->pool, req->path.base + req->query_at + 1, req->path.len - req->query_at - 1,
                               params, n, false, ret_error);
}
