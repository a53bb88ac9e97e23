/* SPDX-License-Identifier: MIT */
/* Unit tests for src/common/http.c: strict JSON parsing, serialisation and
 * path unescaping (the parts that need no live request). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"

/* json_parse_strict() on a NUL-terminated string; *ret is freed by the caller. */
static int parse(const char *text, struct json_object **ret, const char **ret_error) {
        *ret = NULL;
        *ret_error = NULL;
        return json_parse_strict(text, strlen(text), ret, ret_error);
}

/* text with C escapes for bytes outside printable ASCII, for messages. */
static const char *escaped(const char *text, size_t len) {
        static char buf[1024];
        size_t n = 0;

        for (size_t i = 0; i < len && n + 5 < sizeof(buf); i++) {
                unsigned char c = (unsigned char) text[i];
                if (c >= 0x20 && c < 0x7f && c != '\\')
                        buf[n++] = (char) c;
                else
                        n += (size_t) snprintf(buf + n, sizeof(buf) - n, "\\x%02x", c);
        }
        buf[n] = '\0';
        return buf;
}

/* Inputs a test saw handled wrongly; each one is reported, and the test
 * fails at its end, so one run lists every offending input. */
static int n_wrong;

/* Expects text to be rejected with r and an error message containing what. */
static void expect_rejected(const char *text, size_t len, int r_expected, const char *what) {
        struct json_object *o = NULL;
        const char *error = NULL;
        int r = json_parse_strict(text, len, &o, &error);
        bool ok = r == r_expected && o == NULL && error && strstr(error, what);

        json_object_put(o);
        if (!ok) {
                print_error("'%s': r=%d (expected %d), error='%s' (expected '%s')\n", escaped(text, len), r, r_expected,
                            error ?: "(null)", what);
                n_wrong++;
        }
}

static void assert_none_wrong(void) {
        int n = n_wrong;

        n_wrong = 0;
        if (n > 0)
                fail_msg("%d input(s) handled wrongly, listed above", n);
}

/* The whole literal, embedded NULs included. */
#define REJECT(literal, r_expected, what) expect_rejected(literal, sizeof(literal) - 1, r_expected, what)

static void test_parse_object(void **state) {
        struct json_object *o, *v;
        const char *error;

        assert_int_equal(parse("{\"a\": 1, \"b\": [true, null, \"x\"], \"c\": {\"d\": -2.5}}", &o, &error), 0);
        assert_non_null(o);
        assert_null(error);
        assert_true(json_object_is_type(o, json_type_object));
        assert_true(json_object_object_get_ex(o, "a", &v));
        assert_int_equal(json_object_get_int(v), 1);
        assert_true(json_object_object_get_ex(o, "b", &v));
        assert_int_equal(json_object_array_length(v), 3);
        assert_string_equal(json_object_get_string(json_object_array_get_idx(v, 2)), "x");
        json_object_put(o);

        assert_int_equal(parse("[]", &o, &error), 0);
        assert_true(json_object_is_type(o, json_type_array));
        json_object_put(o);
}

static void test_parse_whitespace_around(void **state) {
        static const char *const ok[] = { "{}\n", "{}\r\n", " \t{\"a\":1}  \n", "\n{}\n\n", "[1] " };
        for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
                struct json_object *o;
                const char *error;
                int r = parse(ok[i], &o, &error);
                bool good = r == 0 && o != NULL;
                json_object_put(o);
                if (!good)
                        fail_msg("'%s' rejected: %d %s", ok[i], r, error ?: "");
        }
}

/* Only len bytes count: the text need not be NUL-terminated. */
static void test_parse_uses_len(void **state) {
        const char text[] = "{\"a\":1}GARBAGE";
        struct json_object *o = NULL, *v;
        const char *error = NULL;

        assert_int_equal(json_parse_strict(text, 7, &o, &error), 0);
        assert_true(json_object_object_get_ex(o, "a", &v));
        assert_int_equal(json_object_get_int(v), 1);
        json_object_put(o);
}

static void test_parse_trailing_garbage(void **state) {
        REJECT("{} x", -EBADMSG, "invalid JSON");
        REJECT("{}x", -EBADMSG, "invalid JSON");
        REJECT("{}\n}", -EBADMSG, "invalid JSON");
        REJECT("{}\0x", -EBADMSG, "invalid JSON");
        assert_none_wrong();
}

static void test_parse_two_values(void **state) {
        REJECT("{}{}", -EBADMSG, "invalid JSON");
        REJECT("{} {}", -EBADMSG, "invalid JSON");
        REJECT("[1]\n[2]\n", -EBADMSG, "invalid JSON");
        assert_none_wrong();
}

static void test_parse_truncated(void **state) {
        REJECT("{\"a\":", -EBADMSG, "unexpected end of input");
        REJECT("{\"a\": [1, 2", -EBADMSG, "unexpected end of input");
        REJECT("{\"a\": \"xy", -EBADMSG, "unexpected end of input");
        REJECT("{\n", -EBADMSG, "unexpected end of input");
        /* A full object cut by len. */
        expect_rejected("{\"a\":1}", 6, -EBADMSG, "unexpected end of input");
        assert_none_wrong();
}

static void test_parse_empty(void **state) {
        REJECT("", -ENODATA, "empty body");
        REJECT(" \r\n\t ", -ENODATA, "empty body");
        expect_rejected("{}", 0, -ENODATA, "empty body");
        assert_none_wrong();
}

static void test_parse_invalid_utf8(void **state) {
        REJECT("{\"a\":\"\xff\"}", -EBADMSG, "not valid UTF-8");
        REJECT("{\"a\":\"\x80\"}", -EBADMSG, "not valid UTF-8"); /* lone continuation byte */
        REJECT("{\"a\":\"\xfe\"}", -EBADMSG, "not valid UTF-8");
        REJECT("{\"\xe2\x82\":1}", -EBADMSG, "not valid UTF-8"); /* truncated, in a key */

        /* Valid multi-byte UTF-8 is fine. */
        struct json_object *o;
        const char *error;
        int r = parse("{\"name\":\"gr\xc3\xa4"
                      "de \xe2\x82\xac \xf0\x9f\x8e\x93\"}",
                      &o, &error);
        json_object_put(o);
        assert_int_equal(r, 0);
        assert_none_wrong();
}

/* Well-formed-looking sequences that are still not UTF-8 (RFC 3629):
 * overlong forms, UTF-16 surrogates, code points past U+10FFFF. */
static void test_parse_invalid_utf8_forms(void **state) {
        REJECT("{\"a\":\"\xc0\xaf\"}", -EBADMSG, "not valid UTF-8");         /* overlong '/' */
        REJECT("{\"a\":\"\xe0\x80\xaf\"}", -EBADMSG, "not valid UTF-8");     /* overlong '/' */
        REJECT("{\"a\":\"\xed\xa0\x80\"}", -EBADMSG, "not valid UTF-8");     /* U+D800 */
        REJECT("{\"a\":\"\xf4\x90\x80\x80\"}", -EBADMSG, "not valid UTF-8"); /* U+110000 */
        REJECT("{\"a\":\"\xf5\x80\x80\x80\"}", -EBADMSG, "not valid UTF-8");
        assert_none_wrong();
}

static void test_parse_not_strict_json(void **state) {
        REJECT("{\"a\":1,}", -EBADMSG, "invalid JSON");
        REJECT("[1,]", -EBADMSG, "invalid JSON");
        REJECT("{a:1}", -EBADMSG, "invalid JSON");
        REJECT("{\"a\":'x'}", -EBADMSG, "invalid JSON");
        REJECT("{\"a\":nan}", -EBADMSG, "invalid JSON");
        REJECT("{\"a\":TRUE}", -EBADMSG, "invalid JSON");
        REJECT("{\"a\":01}", -EBADMSG, "invalid JSON");
        REJECT("{\"a\":+1}", -EBADMSG, "invalid JSON");
        REJECT("{\"a\":.5}", -EBADMSG, "invalid JSON");
        REJECT("{\"a\":0x10}", -EBADMSG, "invalid JSON");
        REJECT("{\"a\":\"\\x41\"}", -EBADMSG, "invalid JSON");
        REJECT("{\"a\":1} /* c */", -EBADMSG, "invalid JSON");
        REJECT("{\"a\":1 // c\n}", -EBADMSG, "invalid JSON");
        assert_none_wrong();
}

/* JSON has no NaN or infinities (RFC 8259 section 6). */
static void test_parse_rejects_nan_and_infinity(void **state) {
        REJECT("{\"a\":NaN}", -EBADMSG, "invalid JSON");
        REJECT("{\"a\":Infinity}", -EBADMSG, "invalid JSON");
        REJECT("{\"a\":-Infinity}", -EBADMSG, "invalid JSON");
        REJECT("[NaN]", -EBADMSG, "invalid JSON");
        assert_none_wrong();
}

/* More of json-c's extensions that JSON_TOKENER_STRICT still lets through:
 * single-quoted keys, a number ending in '.', raw control characters inside
 * a string (RFC 8259 section 7 requires them escaped). */
static void test_parse_rejects_lenient_syntax(void **state) {
        REJECT("{'a':1}", -EBADMSG, "invalid JSON");
        REJECT("{\"a\":1.}", -EBADMSG, "invalid JSON");
        REJECT("{\"a\":\"x\ny\"}", -EBADMSG, "invalid JSON");
        REJECT("{\"a\":\"x\ty\"}", -EBADMSG, "invalid JSON");
        assert_none_wrong();
}

/* "Exactly one JSON value": a scalar is one too, with or without the
 * newline Go's encoder ends it with. */
static void test_parse_scalar_values(void **state) {
        static const char *const ok[] = { "42", "42\n", "-1.5e3", "true", "false\n", "null", "\"s\"" };

        for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
                struct json_object *o = NULL;
                const char *error = NULL;
                int r = parse(ok[i], &o, &error);
                json_object_put(o);
                if (r != 0) {
                        print_error("'%s' rejected: %d %s\n", escaped(ok[i], strlen(ok[i])), r, error ?: "");
                        n_wrong++;
                }
        }
        assert_none_wrong();
}

static void test_to_string_compact_no_slash_escape(void **state) {
        struct json_object *o = json_object_new_object();
        size_t len = 0;
        const char *s;

        json_object_object_add(o, "URL", json_object_new_string("http://127.0.0.1:8080/a/b"));
        json_object_object_add(o, "N", json_object_new_int(3));
        json_object_object_add(o, "L", json_object_new_array());
        s = json_to_string(o, &len);
        assert_string_equal(s, "{\"URL\":\"http://127.0.0.1:8080/a/b\",\"N\":3,\"L\":[]}");
        assert_int_equal(len, strlen(s));
        json_object_put(o);
}

static void test_error_body(void **state) {
        h2o_mem_pool_t pool;
        h2o_iovec_t body;
        const char message[] = "bad \"name\" / here\nTRAILING";

        h2o_mem_init_pool(&pool);
        body = http_error_body(&pool, message, strlen("bad \"name\" / here"));
        assert_int_equal(body.len, strlen("{\"error\":\"bad \\\"name\\\" / here\"}"));
        assert_memory_equal(body.base, "{\"error\":\"bad \\\"name\\\" / here\"}", body.len);
        h2o_mem_clear_pool(&pool);
}

static void test_reason(void **state) {
        assert_string_equal(http_reason(200), "OK");
        assert_string_equal(http_reason(404), "Not Found");
        assert_string_equal(http_reason(409), "Conflict");
        assert_string_equal(http_reason(415), "Unsupported Media Type");
        assert_string_equal(http_reason(410), "Gone");
        /* A status without a phrase of its own gets its class's. */
        assert_string_equal(http_reason(299), "Success");
        assert_string_equal(http_reason(451), "Client Error");
        assert_string_equal(http_reason(599), "Server Error");
}

static char *unescape(h2o_mem_pool_t *pool, const char *s) {
        return http_unescape(pool, h2o_iovec_init(s, strlen(s)));
}

static void test_unescape_valid(void **state) {
        h2o_mem_pool_t pool;
        char *s;

        h2o_mem_init_pool(&pool);
        assert_string_equal(unescape(&pool, "plain"), "plain");
        assert_string_equal(unescape(&pool, ""), "");
        assert_string_equal(unescape(&pool, "a%20b"), "a b");
        assert_string_equal(unescape(&pool, "%2F%2f"), "//");
        assert_string_equal(unescape(&pool, "%41%62c"), "Abc");
        assert_string_equal(unescape(&pool, "100%25"), "100%");
        assert_string_equal(unescape(&pool, "%C3%A4"), "\xc3\xa4");
        assert_string_equal(unescape(&pool, "+"), "+"); /* not a query string */

        /* Only v.len bytes are read, and the result is NUL-terminated. */
        s = http_unescape(&pool, h2o_iovec_init("abc%41def", 6));
        assert_string_equal(s, "abcA");
        h2o_mem_clear_pool(&pool);
}

static void test_unescape_malformed(void **state) {
        static const char *const bad[] = { "%", "a%", "%4", "a%4", "%zz", "%4g", "%g4", "%%41", "%00", "a%00b" };
        h2o_mem_pool_t pool;

        h2o_mem_init_pool(&pool);
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                if (unescape(&pool, bad[i]) != NULL)
                        fail_msg("'%s' was decoded", bad[i]);
        /* An escape cut by len is malformed even if the buffer goes on. */
        assert_null(http_unescape(&pool, h2o_iovec_init("ab%41", 4)));
        h2o_mem_clear_pool(&pool);
}

/* --- http_form_parse, http_query_parse --- */

static void test_form_parse(void **state) {
        struct http_param params[] = { { "name" }, { "q" }, { "empty" }, { "absent" } };
        const char text[] = "name=Grading+Service&q=a%2Bb%26c%3D&empty";
        const char *error = NULL;
        h2o_mem_pool_t pool;

        h2o_mem_init_pool(&pool);
        params[3].value = (char *) "stale"; /* reset by the parser */
        assert_int_equal(http_form_parse(&pool, text, strlen(text), params, 4, false, &error), 0);
        assert_string_equal(params[0].value, "Grading Service");
        assert_string_equal(params[1].value, "a+b&c=");
        assert_string_equal(params[2].value, "");
        assert_null(params[3].value);

        /* Empty text, empty pairs and only len bytes. */
        assert_int_equal(http_form_parse(&pool, "", 0, params, 4, false, &error), 0);
        for (size_t i = 0; i < 4; i++)
                assert_null(params[i].value);
        assert_int_equal(http_form_parse(&pool, "&&q=1&&", 7, params, 4, false, &error), 0);
        assert_string_equal(params[1].value, "1");
        assert_int_equal(http_form_parse(&pool, "q=12&name=x", 4, params, 4, false, &error), 0);
        assert_string_equal(params[1].value, "12");
        assert_null(params[0].value);

        /* Names are decoded too. */
        assert_int_equal(http_form_parse(&pool, "%71=x", 5, params, 4, false, &error), 0);
        assert_string_equal(params[1].value, "x");
        h2o_mem_clear_pool(&pool);
}

static void test_form_parse_errors(void **state) {
        struct http_param params[] = { { "a" }, { "b" } };
        const char *error;
        h2o_mem_pool_t pool;

        h2o_mem_init_pool(&pool);
        error = NULL;
        assert_int_equal(http_form_parse(&pool, "a=1&c=2", 7, params, 2, false, &error), -EINVAL);
        assert_non_null(error);
        assert_non_null(strstr(error, "unknown"));
        error = NULL;
        assert_int_equal(http_form_parse(&pool, "a=1&c=2", 7, params, 2, true, &error), 0);
        assert_null(error);
        assert_string_equal(params[0].value, "1");

        error = NULL;
        assert_int_equal(http_form_parse(&pool, "a=1&b=2&a=3", 11, params, 2, false, &error), -EINVAL);
        assert_non_null(error);
        assert_non_null(strstr(error, "repeated"));

        error = NULL;
        assert_int_equal(http_form_parse(&pool, "a=%zz", 5, params, 2, false, &error), -EINVAL);
        assert_non_null(error);
        assert_non_null(strstr(error, "escape"));
        error = NULL;
        assert_int_equal(http_form_parse(&pool, "a=x%00y", 7, params, 2, true, &error), -EINVAL);
        assert_non_null(error);
        h2o_mem_clear_pool(&pool);
}

static void test_query_parse(void **state) {
        h2o_req_t *req = calloc(1, sizeof(*req));
        struct http_param params[] = { { "since" }, { "limit" } };
        const char path[] = "/log?limit=5&since=2026-01-01T00%3A00%3A00Z";
        const char *error = NULL;

        assert_non_null(req);
        h2o_mem_init_pool(&req->pool);
        req->path = h2o_iovec_init(path, strlen(path));
        req->query_at = strlen("/log");
        assert_int_equal(http_query_parse(req, params, 2, &error), 0);
        assert_string_equal(params[0].value, "2026-01-01T00:00:00Z");
        assert_string_equal(params[1].value, "5");

        /* No query string at all. */
        req->path = h2o_iovec_init("/log", 4);
        req->query_at = SIZE_MAX;
        assert_int_equal(http_query_parse(req, params, 2, &error), 0);
        assert_null(params[0].value);
        assert_null(params[1].value);

        req->path = h2o_iovec_init("/log?", 5);
        req->query_at = 4;
        assert_int_equal(http_query_parse(req, params, 2, &error), 0);
        assert_null(params[0].value);

        req->path = h2o_iovec_init("/log?verbose=1", 14);
        assert_int_equal(http_query_parse(req, params, 2, &error), -EINVAL);
        assert_non_null(error);
        h2o_mem_clear_pool(&req->pool);
        free(req);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse_object),
                cmocka_unit_test(test_parse_whitespace_around),
                cmocka_unit_test(test_parse_uses_len),
                cmocka_unit_test(test_parse_trailing_garbage),
                cmocka_unit_test(test_parse_two_values),
                cmocka_unit_test(test_parse_truncated),
                cmocka_unit_test(test_parse_empty),
                cmocka_unit_test(test_parse_invalid_utf8),
                cmocka_unit_test(test_parse_invalid_utf8_forms),
                cmocka_unit_test(test_parse_not_strict_json),
                cmocka_unit_test(test_parse_rejects_nan_and_infinity),
                cmocka_unit_test(test_parse_rejects_lenient_syntax),
                cmocka_unit_test(test_parse_scalar_values),
                cmocka_unit_test(test_to_string_compact_no_slash_escape),
                cmocka_unit_test(test_error_body),
                cmocka_unit_test(test_reason),
                cmocka_unit_test(test_unescape_valid),
                cmocka_unit_test(test_unescape_malformed),
                cmocka_unit_test(test_form_parse),
                cmocka_unit_test(test_form_parse_errors),
                cmocka_unit_test(test_query_parse),
        };

        return cmocka_run_group_tests_name("http", tests, NULL, NULL);
}
