/* SPDX-License-Identifier: MIT */
/* Unit tests for src/logd/entry.c: escaping, the line format and parsing
 * requests (text and JSON) into entries. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "logd.h"

#include "tap.h"

/* log_escape() of len bytes of s into a fresh string (caller frees). */
static char *escape_n(const char *s, size_t len, const char *extra) {
        struct buf b = { 0 };

        log_escape(&b, s, len, extra);
        buf_append(&b, "", 0);
        assert_false(b.failed);
        return b.data;
}

static void expect_escape_n(const char *in, size_t len, const char *extra, const char *want) {
        char *got = escape_n(in, len, extra);

        if (strcmp(got, want) != 0)
                fail_msg("log_escape(%zu bytes): got '%s', expected '%s'", len, got, want);
        free(got);
}

static void expect_escape(const char *in, const char *want) {
        expect_escape_n(in, strlen(in), NULL, want);
}

/* Every byte of s is printable ASCII or part of a valid UTF-8 sequence
 * that is not a control character. */
static bool one_clean_line(const char *s) {
        const unsigned char *p = (const unsigned char *) s;

        for (; *p; p++)
                if (*p < 0x20 || *p == 0x7f)
                        return false;
        return true;
}

static void test_escape_plain(void **state) {
        expect_escape("", "");
        expect_escape("hello, world", "hello, world");
        expect_escape(" !\"#$%&'()*+,-./0123456789:;<=>?@[]^_`{|}~", " !\"#$%&'()*+,-./0123456789:;<=>?@[]^_`{|}~");
        /* Valid UTF-8 passes unchanged: 2, 3 and 4 bytes, U+2028. */
        expect_escape("Notenb\xc3\xbc"
                      "ro \xe2\x98\x83 \xf0\x9f\x98\x80 \xe2\x80\xa8",
                      "Notenb\xc3\xbc"
                      "ro \xe2\x98\x83 \xf0\x9f\x98\x80 \xe2\x80\xa8");
        /* The largest code point and the last before the surrogates. */
        expect_escape("\xf4\x8f\xbf\xbf \xed\x9f\xbf", "\xf4\x8f\xbf\xbf \xed\x9f\xbf");
}

static void test_escape_named(void **state) {
        expect_escape("a\nb", "a\\nb");
        expect_escape("a\rb", "a\\rb");
        expect_escape("a\tb", "a\\tb");
        expect_escape("back\\slash", "back\\\\slash");
        expect_escape("\\n", "\\\\n"); /* a literal backslash-n stays tellable from a newline */
        expect_escape("\r\n", "\\r\\n");
}

static void test_escape_controls(void **state) {
        char in[2] = { 0 };

        for (int c = 1; c < 0x20; c++) {
                char want[8];
                in[0] = (char) c;
                if (c == '\n' || c == '\r' || c == '\t')
                        continue;
                snprintf(want, sizeof(want), "\\x%02x", c);
                expect_escape(in, want);
        }
        expect_escape("del\x7f", "del\\x7f");
        expect_escape("\x1b[31mred", "\\x1b[31mred");
        expect_escape_n("nul\0byte", 8, NULL, "nul\\x00byte");
}

static void test_escape_invalid_utf8(void **state) {
        expect_escape("\xff\xfe", "\\xff\\xfe");
        expect_escape("caf\xe9", "caf\\xe9");                /* Latin-1 */
        expect_escape("\xc0\xaf", "\\xc0\\xaf");             /* overlong '/' */
        expect_escape("\xe0\x80\xaf", "\\xe0\\x80\\xaf");    /* overlong, 3 bytes */
        expect_escape("\xed\xa0\x80", "\\xed\\xa0\\x80");    /* a surrogate */
        expect_escape("\xf4\x90\x80\x80", "\\xf4\\x90\\x80\\x80"); /* above U+10FFFF */
        expect_escape("\xf5\x80\x80\x80", "\\xf5\\x80\\x80\\x80");
        expect_escape("\x80", "\\x80");                      /* a lone continuation byte */
        expect_escape("ok\xe2\x82", "ok\\xe2\\x82");         /* truncated at the end */
        expect_escape("\xe2\x82(", "\\xe2\\x82(");           /* truncated in the middle */
        /* A sequence cut by len is not read past len. */
        expect_escape_n("\xc3\xbc", 1, NULL, "\\xc3");
}

static void test_escape_extra(void **state) {
        expect_escape_n("A]B", 3, "]", "A\\x5dB");
        expect_escape_n("A]B", 3, NULL, "A]B");
        expect_escape_n("x\n]", 3, "]", "x\\n\\x5d");
}

/* C1 control characters (U+0080-U+009F, e.g. NEL U+0085 and CSI U+009B,
 * which terminals take as ESC [) are control characters too: they must not
 * reach the file raw. */
static void test_escape_c1_controls(void **state) {
        for (unsigned c = 0x80; c < 0xa0; c++) {
                char in[3] = { (char) 0xc2, (char) c, 0 };
                char *got = escape_n(in, 2, NULL);
                bool raw = strstr(got, in) != NULL;
                if (raw) {
                        free(got);
                        fail_msg("U+%04X (C2 %02X) is written raw", c, c);
                }
                free(got);
        }
}

static void test_escape_never_splits(void **state) {
        /* Every single byte value, alone and between text: always one clean line. */
        for (int c = 0; c < 256; c++) {
                char in[3] = { 'a', (char) c, 'b' };
                char *got = escape_n(in, 3, "]");
                if (!one_clean_line(got))
                        fail_msg("byte 0x%02x: '%s' has a control character", c, got);
                assert_int_equal(got[0], 'a');
                assert_int_equal(got[strlen(got) - 1], 'b');
                free(got);
        }
}

static char *format(const char *service, int priority, const char *message, size_t len) {
        struct buf b = { 0 };
        struct log_entry e = { .service = service, .priority = priority, .message = message, .message_len = len };

        log_format_line(&b, "2026-11-25T12:21:08.123Z", &e);
        buf_append(&b, "", 0);
        assert_false(b.failed);
        return b.data;
}

static void test_format_line(void **state) {
        char *s = format("GradingService", LOG_INFO, "Added student 42.", 17);
        assert_string_equal(s, "2026-11-25T12:21:08.123Z [GradingService] info: Added student 42.\n");
        free(s);
        s = format("RegistryService", LOG_WARNING, "two\nlines", 9);
        assert_string_equal(s, "2026-11-25T12:21:08.123Z [RegistryService] warning: two\\nlines\n");
        free(s);
        s = format("A] emerg: forged [B", LOG_DEBUG, "m", 1);
        assert_string_equal(s, "2026-11-25T12:21:08.123Z [A\\x5d emerg: forged [B] debug: m\n");
        free(s);
        const char *names[] = { "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug" };
        for (int p = 0; p < 8; p++) {
                char want[128];
                s = format("S", p, "m", 1);
                snprintf(want, sizeof(want), "2026-11-25T12:21:08.123Z [S] %s: m\n", names[p]);
                assert_string_equal(s, want);
                free(s);
        }
}

static void test_format_truncation(void **state) {
        size_t n = 10000;
        char *msg = malloc(n), *s, *want;

        assert_non_null(msg);
        memset(msg, 'x', n);
        /* Exactly LOG_MESSAGE_MAX: whole, no marker. */
        s = format("S", LOG_INFO, msg, LOG_MESSAGE_MAX);
        assert_int_equal(strlen(s), strlen("2026-11-25T12:21:08.123Z [S] info: ") + LOG_MESSAGE_MAX + 1);
        assert_null(strstr(s, "truncated"));
        free(s);
        /* One byte more: cut, with the marker counting the bytes cut. */
        s = format("S", LOG_INFO, msg, LOG_MESSAGE_MAX + 1);
        assert_non_null(strstr(s, "x [truncated 1 bytes]\n"));
        free(s);
        s = format("S", LOG_INFO, msg, n);
        assert_true(asprintf(&want, "2026-11-25T12:21:08.123Z [S] info: %.*s [truncated %zu bytes]\n",
                             LOG_MESSAGE_MAX, msg, n - LOG_MESSAGE_MAX) > 0);
        assert_string_equal(s, want);
        free(want);
        free(s);
        /* Escaping after the cut: the limit is on the message's bytes. */
        memset(msg, '\n', n);
        s = format("S", LOG_INFO, msg, n);
        assert_non_null(strstr(s, " [truncated 1808 bytes]\n"));
        assert_int_equal(strchr(s, '\n') - s, (long) strlen(s) - 1);
        free(s);
        free(msg);
}

static void text(const char *body, const char *service, const char *message) {
        struct log_entry e;
        char name[SERVICE_NAME_MAX + 1];

        log_entry_from_text(body, strlen(body), &e, name);
        if (strcmp(e.service, service) != 0 || e.message_len != strlen(message) ||
            memcmp(e.message, message, e.message_len) != 0)
                fail_msg("'%s': got [%s] '%.*s', expected [%s] '%s'", body, e.service, (int) e.message_len, e.message,
                         service, message);
        assert_int_equal(e.priority, LOG_INFO);
}

static void test_from_text(void **state) {
        text("[GradingService] - Added student 42.", "GradingService", "Added student 42.");
        text("[GradingService] - msg\n", "GradingService", "msg");
        text("[GradingService] - msg\r\n", "GradingService", "msg");
        text("[GradingService] - msg\n\n", "GradingService", "msg\n");
        text("[A] - x", "A", "x");
        text("[Grading Service] - x", "Grading Service", "x");
        text("[A] - [B] - x", "A", "[B] - x");
        text("plain", "unknown", "plain");
        text("plain\n", "unknown", "plain");
        text("", "unknown", "");
        text("\n", "unknown", "");
        text("\r\n", "unknown", "");
        text("[A] - ", "A", "");
        text("[A]- x", "unknown", "[A]- x");
        text("[A] -x", "unknown", "[A] -x");
        text("[A]  - x", "unknown", "[A]  - x");
        text("[] - x", "unknown", "[] - x");
        text("[A\tB] - x", "unknown", "[A\tB] - x");
        text("A] - x", "unknown", "A] - x");
        text("[A", "unknown", "[A");
        text("[A]", "unknown", "[A]");
        text(" [A] - x", "unknown", " [A] - x");
        {
                char body[200], name64[65];
                memset(name64, 'N', 64);
                name64[64] = '\0';
                snprintf(body, sizeof(body), "[%s] - x", name64);
                text(body, name64, "x");
                snprintf(body, sizeof(body), "[%sN] - x", name64);
                text(body, "unknown", body);
        }
}

static void test_from_text_nul(void **state) {
        struct log_entry e;
        char name[SERVICE_NAME_MAX + 1];
        const char body[] = "[A] - x\0y";

        log_entry_from_text(body, sizeof(body) - 1, &e, name);
        assert_string_equal(e.service, "A");
        assert_int_equal(e.message_len, 3);
        assert_memory_equal(e.message, "x\0y", 3);
}

static struct json_object *parse(const char *text) {
        struct json_object *o = json_tokener_parse(text);
        if (!o)
                fail_msg("test JSON does not parse: %s", text);
        return o;
}

static void json_ok(const char *text, const char *service, int priority, const char *message) {
        struct json_object *o = parse(text);
        struct log_entry e;
        const char *error = NULL;
        int r = log_entry_from_json(o, &e, &error);

        if (r < 0)
                fail_msg("%s: rejected: %s", text, error);
        assert_string_equal(e.service, service);
        assert_int_equal(e.priority, priority);
        assert_int_equal(e.message_len, strlen(message));
        assert_memory_equal(e.message, message, e.message_len);
        json_object_put(o);
}

static void json_bad(const char *text, const char *what) {
        struct json_object *o = json_tokener_parse(text);
        struct log_entry e;
        const char *error = NULL;
        int r = log_entry_from_json(o, &e, &error);

        if (r >= 0)
                fail_msg("accepted: %s", text);
        assert_int_equal(r, -EINVAL);
        if (!error || !strstr(error, what))
                fail_msg("%s: error '%s', expected it to mention '%s'", text, error ?: "(null)", what);
        json_object_put(o);
}

static void test_from_json(void **state) {
        json_ok("{\"service\": \"S\", \"priority\": \"err\", \"message\": \"m\", \"time\": \"2026-01-01T00:00:00Z\"}",
                "S", LOG_ERR, "m");
        json_ok("{\"service\": \"S\", \"message\": \"no priority\"}", "S", LOG_INFO, "no priority");
        json_ok("{\"service\": \"S\", \"priority\": 0, \"message\": \"m\"}", "S", LOG_EMERG, "m");
        json_ok("{\"service\": \"S\", \"priority\": 7, \"message\": \"m\"}", "S", LOG_DEBUG, "m");
        json_ok("{\"service\": \"S\", \"priority\": \"WARNING\", \"message\": \"m\"}", "S", LOG_WARNING, "m");
        json_ok("{\"service\": \"S\", \"priority\": \"warn\", \"message\": \"m\"}", "S", LOG_WARNING, "m");
        json_ok("{\"service\": \"S\", \"priority\": \"error\", \"message\": \"m\"}", "S", LOG_ERR, "m");
        json_ok("{\"service\": \"S\", \"priority\": \"5\", \"message\": \"m\"}", "S", LOG_NOTICE, "m");
        json_ok("{\"service\": \"S\", \"message\": \"m\", \"time\": null}", "S", LOG_INFO, "m");
        json_ok("{\"Service\": \"S\", \"MESSAGE\": \"m\", \"Priority\": \"crit\"}", "S", LOG_CRIT, "m");
        json_ok("{\"service\": \"S\", \"message\": \"m\", \"extra\": [1, 2]}", "S", LOG_INFO, "m");
        json_ok("{\"service\": \"S\", \"message\": \"two\\nlines\"}", "S", LOG_INFO, "two\nlines");
        /* An embedded NUL is part of the message (escaped when written). */
        {
                struct json_object *o = parse("{\"service\": \"S\", \"message\": \"a\\u0000b\"}");
                struct log_entry e;
                const char *error;
                assert_int_equal(log_entry_from_json(o, &e, &error), 0);
                assert_int_equal(e.message_len, 3);
                assert_memory_equal(e.message, "a\0b", 3);
                json_object_put(o);
        }
}

static void test_from_json_bad(void **state) {
        json_bad("[]", "object");
        json_bad("\"m\"", "object");
        json_bad("42", "object");
        json_bad("{\"message\": \"m\"}", "service");
        json_bad("{\"service\": null, \"message\": \"m\"}", "service");
        json_bad("{\"service\": 1, \"message\": \"m\"}", "service");
        json_bad("{\"service\": \"\", \"message\": \"m\"}", "service");
        json_bad("{\"service\": \"A\\nB\", \"message\": \"m\"}", "service");
        json_bad("{\"service\": \"A\\u0000B\", \"message\": \"m\"}", "service");
        json_bad("{\"service\": \"A\\u007fB\", \"message\": \"m\"}", "service");
        json_bad("{\"service\": \"NNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNN\", \"message\": \"m\"}",
                 "service");
        json_bad("{\"service\": \"S\"}", "message");
        json_bad("{\"service\": \"S\", \"message\": \"\"}", "message");
        json_bad("{\"service\": \"S\", \"message\": null}", "message");
        json_bad("{\"service\": \"S\", \"message\": 5}", "message");
        json_bad("{\"service\": \"S\", \"message\": [\"m\"]}", "message");
        json_bad("{\"service\": \"S\", \"message\": \"m\", \"priority\": \"bogus\"}", "priority");
        json_bad("{\"service\": \"S\", \"message\": \"m\", \"priority\": \"\"}", "priority");
        json_bad("{\"service\": \"S\", \"message\": \"m\", \"priority\": 8}", "priority");
        json_bad("{\"service\": \"S\", \"message\": \"m\", \"priority\": -1}", "priority");
        json_bad("{\"service\": \"S\", \"message\": \"m\", \"priority\": 3.0}", "priority");
        json_bad("{\"service\": \"S\", \"message\": \"m\", \"priority\": true}", "priority");
        json_bad("{\"service\": \"S\", \"message\": \"m\", \"priority\": {}}", "priority");
        json_bad("{\"service\": \"S\", \"message\": \"m\", \"priority\": 4294967302}", "priority");
        json_bad("{\"service\": \"S\", \"message\": \"m\", \"time\": 5}", "time");
        json_bad("{\"service\": \"S\", \"message\": \"m\", \"time\": {}}", "time");
        json_bad("{\"service\": \"S\", \"message\": \"m\", \"time\": false}", "time");
}

static void test_priority_from_json(void **state) {
        struct json_object *o;

        assert_int_equal(log_priority_from_json(NULL), LOG_INFO);
        o = json_object_new_int(3);
        assert_int_equal(log_priority_from_json(o), LOG_ERR);
        json_object_put(o);
        o = json_object_new_string("debug");
        assert_int_equal(log_priority_from_json(o), LOG_DEBUG);
        json_object_put(o);
        o = json_object_new_string("emerg");
        assert_int_equal(log_priority_from_json(o), LOG_EMERG);
        json_object_put(o);
        o = json_object_new_int(8);
        assert_true(log_priority_from_json(o) < 0);
        json_object_put(o);
        o = json_object_new_double(1.0);
        assert_true(log_priority_from_json(o) < 0);
        json_object_put(o);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_escape_plain),
                cmocka_unit_test(test_escape_named),
                cmocka_unit_test(test_escape_controls),
                cmocka_unit_test(test_escape_invalid_utf8),
                cmocka_unit_test(test_escape_extra),
                cmocka_unit_test(test_escape_c1_controls),
                cmocka_unit_test(test_escape_never_splits),
                cmocka_unit_test(test_format_line),
                cmocka_unit_test(test_format_truncation),
                cmocka_unit_test(test_from_text),
                cmocka_unit_test(test_from_text_nul),
                cmocka_unit_test(test_from_json),
                cmocka_unit_test(test_from_json_bad),
                cmocka_unit_test(test_priority_from_json),
        };

        return cmocka_run_group_tests_name("logd entry", tests, NULL, NULL);
}
