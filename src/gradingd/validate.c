/* SPDX-License-Identifier: MIT */
#include <math.h>
#include <string.h>

#include "grading.h"
#include "registration.h"
#include "utf8.h"

static bool text_ok(struct json_object *v) {
        const char *s = json_c_string(v);
        return s && utf8_is_text(s, strlen(s), 1, TEXT_MAX_CHARS);
}

int student_from_json(struct json_object *o, struct student_input *ret, const char **ret_error) {
        struct json_object *first, *last;

        if (!json_object_is_type(o, json_type_object)) {
                *ret_error = "expected an object {\"FirstName\", \"LastName\"}";
                return -EINVAL;
        }
        first = json_get(o, "FirstName");
        last = json_get(o, "LastName");
        if (!text_ok(first) || !text_ok(last)) {
                *ret_error = "FirstName and LastName must be 1-100 characters without control characters";
                return -EINVAL;
        }
        *ret = (struct student_input){ json_object_get_string(first), json_object_get_string(last) };
        return 0;
}

static bool type_ok(const char *type) {
        static const char *const types[] = { "Quiz", "Test", "Exam", "Homework" };
        for (size_t i = 0; i < ELEMENTSOF(types); i++)
                if (streq(type, types[i]))
                        return true;
        return false;
}

int grade_from_json(struct json_object *o, struct grade_input *ret, const char **ret_error) {
        struct json_object *title, *type, *score;
        double s;

        if (!json_object_is_type(o, json_type_object)) {
                *ret_error = "expected an object {\"Title\", \"Type\", \"Score\"}";
                return -EINVAL;
        }
        title = json_get(o, "Title");
        type = json_get(o, "Type");
        score = json_get(o, "Score");
        if (!text_ok(title)) {
                *ret_error = "Title must be 1-100 characters without control characters";
                return -EINVAL;
        }
        if (!json_c_string(type) || !type_ok(json_c_string(type))) {
                *ret_error = "Type must be " GRADE_TYPES;
                return -EINVAL;
        }
        if (!score || !(json_object_is_type(score, json_type_int) || json_object_is_type(score, json_type_double))) {
                *ret_error = "Score must be a number from 0 to 100";
                return -EINVAL;
        }
        s = json_object_get_double(score);
        if (!isfinite(s) || s < 0 || s > 100) {
                *ret_error = "Score must be a number from 0 to 100";
                return -EINVAL;
        }
        *ret = (struct grade_input){ json_object_get_string(title), json_object_get_string(type), s };
        return 0;
}

struct json_object *json_score(double score) {
        char s[64];

        if (score == 0)
                score = 0; /* never "-0" */
        /* Fixed notation, as Go prints these numbers ("100", not "1e+02"),
         * with the fewest decimals that read back as the same double. */
        for (int decimals = 0; decimals <= 20; decimals++) {
                snprintf(s, sizeof(s), "%.*f", decimals, score);
                if (strtod(s, NULL) == score)
                        return json_object_new_double_s(score, s);
        }
        snprintf(s, sizeof(s), "%.17g", score);
        return json_object_new_double_s(score, s);
}
