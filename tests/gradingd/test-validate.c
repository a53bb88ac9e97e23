/* SPDX-License-Identifier: MIT */
/* Unit tests for src/gradingd/validate.c: what a student, a grade, an id
 * and a printed score may be. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grading.h"

static struct json_object *parse(const char *text) {
        struct json_object *o = json_tokener_parse(text);
        if (!o)
                fail_msg("test JSON does not parse: %s", text);
        return o;
}

/* ------------------------------------------------------------ grades ---- */

static int grade(const char *text, struct grade_input *in, const char **error) {
        _cleanup_json_ struct json_object *o = parse(text);
        int r;

        *error = NULL;
        r = grade_from_json(o, in, error);
        if (r < 0) {
                assert_int_equal(r, -EINVAL);
                assert_non_null(*error);
                assert_true(strlen(*error) > 0);
        }
        return r;
}

static void expect_grade_ok(const char *text, const char *title, const char *type, double score) {
        struct json_object *o = parse(text);
        struct grade_input in = { 0 };
        const char *error = NULL;

        if (grade_from_json(o, &in, &error) < 0)
                fail_msg("grade refused (%s): %s", error, text);
        assert_string_equal(in.title, title);
        assert_string_equal(in.type, type);
        assert_true(in.score == score);
        json_object_put(o);
}

static void expect_grade_bad(const char *text, const char *reason_part) {
        struct grade_input in;
        const char *error;

        if (grade(text, &in, &error) == 0)
                fail_msg("grade accepted: %s", text);
        if (reason_part && !strstr(error, reason_part))
                fail_msg("reason '%s' does not mention '%s' (input %s)", error, reason_part, text);
}

static void test_grade_valid(void **state) {
        expect_grade_ok("{\"Title\":\"Quiz 3\",\"Type\":\"Quiz\",\"Score\":90}", "Quiz 3", "Quiz", 90);
        expect_grade_ok("{\"Title\":\"Midterm\",\"Type\":\"Test\",\"Score\":77.5}", "Midterm", "Test", 77.5);
        expect_grade_ok("{\"Title\":\"Final\",\"Type\":\"Exam\",\"Score\":0}", "Final", "Exam", 0);
        expect_grade_ok("{\"Title\":\"HW 1\",\"Type\":\"Homework\",\"Score\":100}", "HW 1", "Homework", 100);
        expect_grade_ok("{\"Title\":\"HW 2\",\"Type\":\"Homework\",\"Score\":100.0}", "HW 2", "Homework", 100);
        expect_grade_ok("{\"Title\":\"HW 3\",\"Type\":\"Homework\",\"Score\":1e2}", "HW 3", "Homework", 100);
        expect_grade_ok("{\"Title\":\"tiny\",\"Type\":\"Quiz\",\"Score\":1e-300}", "tiny", "Quiz", 1e-300);
        /* What the seed's portal sends: json.Marshal of a float32. */
        expect_grade_ok("{\"Title\":\"Quiz 4\",\"Type\":\"Quiz\",\"Score\":85.3}", "Quiz 4", "Quiz", 85.3);
        /* json.Encoder output ends in a newline; extra keys are ignored. */
        expect_grade_ok("{\"Title\":\"x\",\"Type\":\"Quiz\",\"Score\":1,\"ID\":7,\"Extra\":[1,2]}\n", "x", "Quiz", 1);
}

static void test_grade_keys_case_insensitive(void **state) {
        /* Go's decoder matches keys case-insensitively; the seed's clients rely on it. */
        expect_grade_ok("{\"title\":\"Quiz 5\",\"type\":\"Quiz\",\"score\":77.5}", "Quiz 5", "Quiz", 77.5);
        expect_grade_ok("{\"TITLE\":\"Quiz 6\",\"TYPE\":\"Exam\",\"SCORE\":12.5}", "Quiz 6", "Exam", 12.5);
}

static void test_grade_score_bounds(void **state) {
        expect_grade_bad("{\"Title\":\"t\",\"Type\":\"Quiz\",\"Score\":-1}", "Score");
        expect_grade_bad("{\"Title\":\"t\",\"Type\":\"Quiz\",\"Score\":-0.001}", "Score");
        expect_grade_bad("{\"Title\":\"t\",\"Type\":\"Quiz\",\"Score\":100.001}", "Score");
        expect_grade_bad("{\"Title\":\"t\",\"Type\":\"Quiz\",\"Score\":101}", "Score");
        expect_grade_bad("{\"Title\":\"t\",\"Type\":\"Quiz\",\"Score\":1e3}", "Score");
        expect_grade_bad("{\"Title\":\"t\",\"Type\":\"Quiz\",\"Score\":-1e-300}", "Score");
        expect_grade_bad("{\"Title\":\"t\",\"Type\":\"Quiz\",\"Score\":99999999999999999999999}", "Score");
        expect_grade_bad("{\"Title\":\"t\",\"Type\":\"Quiz\",\"Score\":-99999999999999999999999}", "Score");
}

static void test_grade_score_not_finite(void **state) {
        _cleanup_json_ struct json_object *o = parse("{\"Title\":\"t\",\"Type\":\"Quiz\"}");
        struct grade_input in;
        const char *error;

        json_object_object_add(o, "Score", json_object_new_double(NAN));
        assert_int_equal(grade_from_json(o, &in, &error), -EINVAL);
        json_object_object_add(o, "Score", json_object_new_double(INFINITY));
        assert_int_equal(grade_from_json(o, &in, &error), -EINVAL);
        json_object_object_add(o, "Score", json_object_new_double(-INFINITY));
        assert_int_equal(grade_from_json(o, &in, &error), -EINVAL);
        json_object_object_add(o, "Score", json_object_new_double(50));
        assert_int_equal(grade_from_json(o, &in, &error), 0);
        assert_true(in.score == 50);
}

static void test_grade_score_types(void **state) {
        expect_grade_bad("{\"Title\":\"t\",\"Type\":\"Quiz\",\"Score\":\"90\"}", "Score");
        expect_grade_bad("{\"Title\":\"t\",\"Type\":\"Quiz\",\"Score\":null}", "Score");
        expect_grade_bad("{\"Title\":\"t\",\"Type\":\"Quiz\",\"Score\":true}", "Score");
        expect_grade_bad("{\"Title\":\"t\",\"Type\":\"Quiz\",\"Score\":[90]}", "Score");
        expect_grade_bad("{\"Title\":\"t\",\"Type\":\"Quiz\",\"Score\":{\"v\":90}}", "Score");
        expect_grade_bad("{\"Title\":\"t\",\"Type\":\"Quiz\"}", "Score");
}

static void test_grade_type(void **state) {
        expect_grade_bad("{\"Title\":\"t\",\"Type\":\"Project\",\"Score\":1}", "Type");
        expect_grade_bad("{\"Title\":\"t\",\"Type\":\"quiz\",\"Score\":1}", "Type");
        expect_grade_bad("{\"Title\":\"t\",\"Type\":\"Quiz \",\"Score\":1}", "Type");
        expect_grade_bad("{\"Title\":\"t\",\"Type\":\"\",\"Score\":1}", "Type");
        expect_grade_bad("{\"Title\":\"t\",\"Type\":null,\"Score\":1}", "Type");
        expect_grade_bad("{\"Title\":\"t\",\"Type\":1,\"Score\":1}", "Type");
        expect_grade_bad("{\"Title\":\"t\",\"Type\":[\"Quiz\"],\"Score\":1}", "Type");
        expect_grade_bad("{\"Title\":\"t\",\"Score\":1}", "Type");
}

/* A string with a NUL inside is not "Homework", even though strcmp() stops
 * at the NUL. (The HTTP layer refuses \u0000 in JSON by now; validation
 * must not depend on that.) */
static void test_grade_type_with_nul(void **state) {
        static const char *const types[] = { "Homework\0junk", "Quiz\0", "Exam\0\0\0" };
        static const size_t lens[] = { 13, 5, 7 };

        for (size_t i = 0; i < ELEMENTSOF(types); i++) {
                _cleanup_json_ struct json_object *o = parse("{\"Title\":\"t\",\"Score\":1}");
                struct grade_input in = { 0 };
                const char *error = NULL;

                json_object_object_add(o, "Type", json_object_new_string_len(types[i], (int) lens[i]));
                if (grade_from_json(o, &in, &error) == 0)
                        fail_msg("Type '%s' + NUL + %zu more bytes accepted as '%s'", types[i],
                                 lens[i] - strlen(types[i]) - 1, in.type);
        }
}

static void test_grade_title(void **state) {
        char text[1024], title[512];

        expect_grade_bad("{\"Title\":\"\",\"Type\":\"Quiz\",\"Score\":1}", "Title");
        expect_grade_bad("{\"Type\":\"Quiz\",\"Score\":1}", "Title");
        expect_grade_bad("{\"Title\":null,\"Type\":\"Quiz\",\"Score\":1}", "Title");
        expect_grade_bad("{\"Title\":5,\"Type\":\"Quiz\",\"Score\":1}", "Title");
        expect_grade_bad("{\"Title\":\"a\\nb\",\"Type\":\"Quiz\",\"Score\":1}", "Title");
        expect_grade_bad("{\"Title\":\"a\\tb\",\"Type\":\"Quiz\",\"Score\":1}", "Title");
        expect_grade_bad("{\"Title\":\"a\\rb\",\"Type\":\"Quiz\",\"Score\":1}", "Title");
        expect_grade_bad("{\"Title\":\"\\u001b[31mred\",\"Type\":\"Quiz\",\"Score\":1}", "Title");
        expect_grade_bad("{\"Title\":\"a\\u007fb\",\"Type\":\"Quiz\",\"Score\":1}", "Title");
        expect_grade_bad("{\"Title\":\"a\\u0085b\",\"Type\":\"Quiz\",\"Score\":1}", "Title"); /* C1 */
        expect_grade_bad("{\"Title\":\"a\\u0000b\",\"Type\":\"Quiz\",\"Score\":1}", "Title");

        /* 100 characters: fine; 101: too long. */
        memset(title, 'x', 100);
        title[100] = '\0';
        snprintf(text, sizeof(text), "{\"Title\":\"%s\",\"Type\":\"Quiz\",\"Score\":1}", title);
        expect_grade_ok(text, title, "Quiz", 1);
        memset(title, 'x', 101);
        title[101] = '\0';
        snprintf(text, sizeof(text), "{\"Title\":\"%s\",\"Type\":\"Quiz\",\"Score\":1}", title);
        expect_grade_bad(text, "Title");

        /* Characters, not bytes: 100 two-byte and 100 four-byte characters. */
        title[0] = '\0';
        for (int i = 0; i < 100; i++)
                strcat(title, "\xc3\xa4");
        snprintf(text, sizeof(text), "{\"Title\":\"%s\",\"Type\":\"Quiz\",\"Score\":1}", title);
        expect_grade_ok(text, title, "Quiz", 1);
        title[0] = '\0';
        for (int i = 0; i < 100; i++)
                strcat(title, "\xf0\x9f\x93\x9a");
        snprintf(text, sizeof(text), "{\"Title\":\"%s\",\"Type\":\"Quiz\",\"Score\":1}", title);
        expect_grade_ok(text, title, "Quiz", 1);
        strcat(title, "\xc3\xa4");
        snprintf(text, sizeof(text), "{\"Title\":\"%s\",\"Type\":\"Quiz\",\"Score\":1}", title);
        expect_grade_bad(text, "Title");
}

static void test_grade_title_invalid_utf8(void **state) {
        static const char *const bad[] = {
                "\xff",
                "ab\xfe",
                "\xc0\xaf",         /* overlong '/' */
                "\xe2\x82",         /* truncated */
                "\xed\xa0\x80",     /* surrogate */
                "\xf4\x90\x80\x80", /* past U+10FFFF */
                "\x80",             /* lone continuation byte */
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                _cleanup_json_ struct json_object *o = parse("{\"Type\":\"Quiz\",\"Score\":1}");
                struct grade_input in;
                const char *error = NULL;

                json_object_object_add(o, "Title", json_object_new_string(bad[i]));
                if (grade_from_json(o, &in, &error) == 0)
                        fail_msg("title with invalid UTF-8 accepted (case %zu)", i);
                assert_non_null(error);
        }
}

static void test_grade_not_an_object(void **state) {
        expect_grade_bad("[]", NULL);
        expect_grade_bad("[{\"Title\":\"t\",\"Type\":\"Quiz\",\"Score\":1}]", NULL);
        expect_grade_bad("\"Quiz\"", NULL);
        expect_grade_bad("42", NULL);
        expect_grade_bad("true", NULL);
        expect_grade_bad("{}", NULL);
        {
                struct grade_input in;
                const char *error = NULL;
                assert_int_equal(grade_from_json(NULL, &in, &error), -EINVAL); /* JSON null */
                assert_non_null(error);
        }
}

/* ---------------------------------------------------------- students ---- */

static void expect_student_ok(const char *text, const char *first, const char *last) {
        _cleanup_json_ struct json_object *o = parse(text);
        struct student_input in = { 0 };
        const char *error = NULL;

        if (student_from_json(o, &in, &error) < 0)
                fail_msg("student refused (%s): %s", error, text);
        assert_string_equal(in.first_name, first);
        assert_string_equal(in.last_name, last);
}

static void expect_student_bad(const char *text) {
        struct json_object *o = json_tokener_parse(text); /* may be NULL: JSON null */
        struct student_input in;
        const char *error = NULL;
        int r = student_from_json(o, &in, &error);

        json_object_put(o);
        if (r == 0)
                fail_msg("student accepted: %s", text);
        assert_int_equal(r, -EINVAL);
        assert_non_null(error);
}

static void test_student_valid(void **state) {
        expect_student_ok("{\"FirstName\":\"Nick\",\"LastName\":\"Carter\"}", "Nick", "Carter");
        expect_student_ok("{\"firstname\":\"Emma\",\"lastname\":\"Stone\"}", "Emma", "Stone");
        expect_student_ok("{\"FirstName\":\"\xe5\xbc\xa0\",\"LastName\":\"\xe4\xb8\x89\",\"ID\":99,\"Grades\":[]}",
                          "\xe5\xbc\xa0", "\xe4\xb8\x89");
        expect_student_ok("{\"FirstName\":\"Jean-Luc\",\"LastName\":\"O'Neil <b>\"}", "Jean-Luc", "O'Neil <b>");
}

static void test_student_invalid(void **state) {
        char text[1024], name[256];

        expect_student_bad("{\"LastName\":\"Carter\"}");
        expect_student_bad("{\"FirstName\":\"Nick\"}");
        expect_student_bad("{}");
        expect_student_bad("{\"FirstName\":\"\",\"LastName\":\"Carter\"}");
        expect_student_bad("{\"FirstName\":\"Nick\",\"LastName\":\"\"}");
        expect_student_bad("{\"FirstName\":null,\"LastName\":\"Carter\"}");
        expect_student_bad("{\"FirstName\":1,\"LastName\":\"Carter\"}");
        expect_student_bad("{\"FirstName\":[\"Nick\"],\"LastName\":\"Carter\"}");
        expect_student_bad("{\"FirstName\":\"Ni\\nck\",\"LastName\":\"Carter\"}");
        expect_student_bad("{\"FirstName\":\"Nick\",\"LastName\":\"Car\\u0000ter\"}");
        expect_student_bad("{\"FirstName\":\"Nick\",\"LastName\":\"\\u001b[2J\"}");
        expect_student_bad("[]");
        expect_student_bad("\"Nick Carter\"");
        expect_student_bad("null");

        memset(name, 'n', 100);
        name[100] = '\0';
        snprintf(text, sizeof(text), "{\"FirstName\":\"%s\",\"LastName\":\"%s\"}", name, name);
        expect_student_ok(text, name, name);
        memset(name, 'n', 101);
        name[101] = '\0';
        snprintf(text, sizeof(text), "{\"FirstName\":\"%s\",\"LastName\":\"L\"}", name);
        expect_student_bad(text);
        snprintf(text, sizeof(text), "{\"FirstName\":\"F\",\"LastName\":\"%s\"}", name);
        expect_student_bad(text);
}

static void test_student_invalid_utf8(void **state) {
        _cleanup_json_ struct json_object *o = parse("{\"LastName\":\"Carter\"}");
        struct student_input in;
        const char *error = NULL;

        json_object_object_add(o, "FirstName", json_object_new_string("Ni\xc3"));
        assert_int_equal(student_from_json(o, &in, &error), -EINVAL);
        json_object_object_add(o, "FirstName", json_object_new_string("Nick"));
        assert_int_equal(student_from_json(o, &in, &error), 0);
        json_object_object_add(o, "LastName", json_object_new_string("\xed\xbf\xbf"));
        assert_int_equal(student_from_json(o, &in, &error), -EINVAL);
}

/* ---------------------------------------------------------------- ids ---- */

static bool id_of(const char *s, int64_t *ret) {
        *ret = -12345;
        return route_parse_id(h2o_iovec_init(s, strlen(s)), ret);
}

static void test_parse_id_valid(void **state) {
        int64_t id;

        assert_true(id_of("1", &id));
        assert_int_equal(id, 1);
        assert_true(id_of("42", &id));
        assert_int_equal(id, 42);
        assert_true(id_of("1000000", &id));
        assert_int_equal(id, 1000000);
        assert_true(id_of("999999999999999999", &id)); /* 18 digits */
        assert_true(id == INT64_C(999999999999999999));
        /* Only the segment counts, not what follows it in memory. */
        assert_true(route_parse_id(h2o_iovec_init("12/grades", 2), &id));
        assert_int_equal(id, 12);
}

static void test_parse_id_invalid(void **state) {
        static const char *const bad[] = {
                "",     "0",     "00",  "01",   "007", "-1", "+1",  " 1", "1 ", "1a", "a1", "abc", "1.0", "1e3",
                "0x10", "%31",   "１",  "9223372036854775808", "99999999999999999999999999", "1/", "\t1",
        };
        int64_t id;

        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                if (id_of(bad[i], &id))
                        fail_msg("'%s' parsed as id %" PRId64, bad[i], id);
        assert_false(route_parse_id(h2o_iovec_init("", 0), &id));
        /* A NUL in the segment is not a digit. */
        assert_false(route_parse_id(h2o_iovec_init("1\0" "2", 3), &id));
}

static void test_parse_id_no_overflow(void **state) {
        int64_t id;

        /* 19 digits would overflow for some values: refused, never wrapped. */
        assert_false(id_of("9999999999999999999", &id));
        assert_false(id_of("1000000000000000000", &id));
        assert_true(id_of("100000000000000000", &id));
        assert_true(id > 0);
}

/* -------------------------------------------------------------- score ---- */

static void expect_score(double v, const char *expected) {
        _cleanup_json_ struct json_object *o = json_score(v);
        const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);

        assert_non_null(o);
        if (!streq(s, expected))
                fail_msg("json_score(%.17g) printed '%s', expected '%s'", v, s, expected);
        assert_true(json_object_get_double(o) == v);
}

static void test_json_score_shortest(void **state) {
        expect_score(85, "85");
        expect_score(77.5, "77.5");
        expect_score(12.5, "12.5");
        expect_score(0.1, "0.1");
        expect_score(85.3, "85.3");
        expect_score(0, "0");
        expect_score(1, "1");
        expect_score(5, "5");
        expect_score(9.5, "9.5");
        expect_score(87, "87");
        expect_score(93.66666666666667, "93.66666666666667");
        expect_score(100.0 / 3.0, "33.333333333333336");
        expect_score(47.333333333333336, "47.333333333333336");
}

/* Go (encoding/json, the seed) prints 100 and 90 as "100" and "90"; so must
 * we: "1e+02" is neither the seed's bytes nor the shortest form. */
static void test_json_score_no_exponent(void **state) {
        expect_score(100, "100");
        expect_score(90, "90");
        expect_score(10, "10");
        expect_score(20, "20");
        expect_score(50, "50");
        expect_score(60, "60");
        expect_score(70, "70");
        expect_score(80, "80");
        expect_score(0.001, "0.001");
        expect_score(0.25, "0.25");
}

static void test_json_score_roundtrip(void **state) {
        /* Every score a float32 from the seed's portal can carry, as a double,
         * reads back exactly from what is printed. */
        for (int i = 0; i <= 10000; i++) {
                double v = (double) (float) (i / 100.0);
                _cleanup_json_ struct json_object *o = json_score(v);
                const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
                if (strtod(s, NULL) != v)
                        fail_msg("json_score(%.17g) printed '%s', which reads back as %.17g", v, s, strtod(s, NULL));
                assert_true(strlen(s) <= 24);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_grade_valid),
                cmocka_unit_test(test_grade_keys_case_insensitive),
                cmocka_unit_test(test_grade_score_bounds),
                cmocka_unit_test(test_grade_score_not_finite),
                cmocka_unit_test(test_grade_score_types),
                cmocka_unit_test(test_grade_type),
                cmocka_unit_test(test_grade_type_with_nul),
                cmocka_unit_test(test_grade_title),
                cmocka_unit_test(test_grade_title_invalid_utf8),
                cmocka_unit_test(test_grade_not_an_object),
                cmocka_unit_test(test_student_valid),
                cmocka_unit_test(test_student_invalid),
                cmocka_unit_test(test_student_invalid_utf8),
                cmocka_unit_test(test_parse_id_valid),
                cmocka_unit_test(test_parse_id_invalid),
                cmocka_unit_test(test_parse_id_no_overflow),
                cmocka_unit_test(test_json_score_shortest),
                cmocka_unit_test(test_json_score_no_exponent),
                cmocka_unit_test(test_json_score_roundtrip),
        };
        return cmocka_run_group_tests_name("gradingd: validate", tests, NULL, NULL);
}
