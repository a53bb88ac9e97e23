/* SPDX-License-Identifier: MIT */
#include <string.h>
#include <sys/random.h>

#include "portal.h"

/* Double-submit cookie: a random token is set as a cookie and written into
 * the form; a POST is accepted only when both are present and equal. Another
 * site can make the browser send the cookie, but cannot read it to put it in
 * the form. */

#define CSRF_COOKIE "grades_csrf"
#define CSRF_HEX    32

static bool token_well_formed(const char *s, size_t len) {
        if (len != CSRF_HEX)
                return false;
        for (size_t i = 0; i < len; i++)
                if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
                        return false;
        return true;
}

/* The value of the request's CSRF cookie, or NULL. */
static const char *cookie_token(h2o_req_t *req) {
        for (ssize_t i = -1; (i = h2o_find_header(&req->headers, H2O_TOKEN_COOKIE, i)) >= 0;) {
                h2o_iovec_t v = req->headers.entries[i].value;
                const char *p = v.base, *end = v.base + v.len;

                while (p < end) {
                        const char *semi = memchr(p, ';', (size_t) (end - p)) ?: end;
                        while (p < semi && *p == ' ')
                                p++;
                        size_t n = strlen(CSRF_COOKIE "=");
                        if ((size_t) (semi - p) > n && memcmp(p, CSRF_COOKIE "=", n) == 0 &&
                            token_well_formed(p + n, (size_t) (semi - p) - n))
                                return h2o_strdup(&req->pool, p + n, CSRF_HEX).base;
                        p = semi + 1;
                }
        }
        return NULL;
}

const char *csrf_token(h2o_req_t *req) {
        const char *token = cookie_token(req);
        unsigned char raw[CSRF_HEX / 2];
        char *hex, cookie[128];

        if (token)
                return token;
        if (getrandom(raw, sizeof(raw), 0) != sizeof(raw))
                return NULL;
        hex = h2o_mem_alloc_pool(&req->pool, CSRF_HEX + 1);
        for (size_t i = 0; i < sizeof(raw); i++)
                snprintf(hex + 2 * i, 3, "%02x", raw[i]);
        snprintf(cookie, sizeof(cookie), CSRF_COOKIE "=%s; Path=/; HttpOnly; SameSite=Strict", hex);
        http_add_header(req, H2O_TOKEN_SET_COOKIE, cookie);
        return hex;
}

bool csrf_valid(h2o_req_t *req, const char *form_token) {
        const char *cookie = cookie_token(req);
        unsigned char diff = 0;

        if (!cookie || !form_token || !token_well_formed(form_token, strlen(form_token)))
                return false;
        for (size_t i = 0; i < CSRF_HEX; i++)
                diff |= (unsigned char) (cookie[i] ^ form_token[i]);
        return diff == 0;
}
