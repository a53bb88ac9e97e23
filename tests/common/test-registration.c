/* SPDX-License-Identifier: MIT */
/* Unit tests for src/common/registration.c: the wire types' validation. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "registration.h"

static struct json_object *json(const char *text) {
        struct json_object *o = json_tokener_parse(text);
        if (!o && strcmp(text, "null") != 0)
                fail_msg("test JSON does not parse: %s", text);
        return o;
}

/* registration_from_json() on JSON text; the object is released here. */
static int reg_parse(const char *text, struct registration *r, const char **error) {
        struct json_object *o = json(text);
        int ret;

        *r = (struct registration){ 0 };
        *error = NULL;
        ret = registration_from_json(o, r, error);
        json_object_put(o);
        return ret;
}

static void expect_reg_rejected(const char *text, const char *what) {
        struct registration r;
        const char *error;
        int ret = reg_parse(text, &r, &error);

        if (ret == 0) {
                registration_done(&r);
                fail_msg("accepted: %s", text);
        }
        if (ret != -EINVAL || !error || !strstr(error, what))
                fail_msg("%s: r=%d error='%s', expected '%s'", text, ret, error ?: "(null)", what);
        /* Nothing is handed out on failure. */
        assert_null(r.name);
        assert_null(r.url);
        assert_null(r.required);
}

static int patch_parse(const char *text, struct patch *p, const char **error) {
        struct json_object *o = json(text);
        int ret;

        *p = (struct patch){ 0 };
        *error = NULL;
        ret = patch_from_json(o, p, error);
        json_object_put(o);
        return ret;
}

static void expect_patch_rejected(const char *text, const char *what) {
        struct patch p;
        const char *error;
        int ret = patch_parse(text, &p, &error);

        if (ret == 0) {
                patch_done(&p);
                fail_msg("accepted: %s", text);
        }
        if (ret != -EINVAL || !error || !strstr(error, what))
                fail_msg("%s: r=%d error='%s', expected '%s'", text, ret, error ?: "(null)", what);
        assert_null(p.added);
        assert_null(p.removed);
}

/* --- service_name_valid --- */

static void test_name_valid(void **state) {
        char name[SERVICE_NAME_MAX + 2];

        assert_true(service_name_valid("a", 1));
        assert_true(service_name_valid("Grading Service", 15));
        assert_true(service_name_valid("with/slash and ünïcode", strlen("with/slash and ünïcode")));

        memset(name, 'n', sizeof(name));
        assert_true(service_name_valid(name, SERVICE_NAME_MAX));
        assert_false(service_name_valid(name, SERVICE_NAME_MAX + 1));
        assert_false(service_name_valid("", 0));
}

static void test_name_control_characters(void **state) {
        assert_false(service_name_valid("a\nb", 3));
        assert_false(service_name_valid("a\tb", 3));
        assert_false(service_name_valid("\x01", 1));
        assert_false(service_name_valid("a\x1f", 2));
        assert_false(service_name_valid("a\x7f", 2));
        assert_false(service_name_valid("a\0b", 3)); /* NUL inside the length */
        assert_true(service_name_valid("a b", 3));
        assert_true(service_name_valid("~", 1));
}

/* --- service_url_valid --- */

static void test_url_valid(void **state) {
        static const char *const ok[] = {
                "http://localhost",
                "http://localhost:8080",
                "http://127.0.0.1:4000/",
                "https://example.com/services/update",
                "https://Example.COM:8443/a/b/c",
                "HTTP://host:1/x",
                "http://[::1]:8080/heartbeat",
                "http://host/a%20b",
        };
        for (size_t i = 0; i < ELEMENTSOF(ok); i++)
                if (!service_url_valid(ok[i]))
                        fail_msg("rejected: %s", ok[i]);
}

static void test_url_invalid(void **state) {
        static const char *const bad[] = {
                "",
                "ftp://host/file",
                "file:///etc/passwd",
                "httpx://host",
                "localhost:8080",
                "//host/path",
                "http://",
                "http:///",
                "http://user:pass@host/",
                "http://user@host/",
                "http://:secret@host/",
                "http://host/?query=1",
                "http://host/path?",
                "http://host/#frag",
                "http://host/a b",
                " http://host/",
                "http://host/\n",
                "http://host/\x7f",
                "http://host:99999/",
                "http://host:port/",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                if (service_url_valid(bad[i]))
                        fail_msg("accepted: '%s'", bad[i]);
}

/* An empty fragment is still a fragment: "#" has no place in a service URL. */
static void test_url_empty_fragment(void **state) {
        assert_false(service_url_valid("http://host/path#"));
        assert_false(service_url_valid("http://host:80#"));
}

static void test_url_length(void **state) {
        char url[SERVICE_URL_MAX + 2];
        size_t prefix = strlen("http://h/");

        memcpy(url, "http://h/", prefix);
        memset(url + prefix, 'p', SERVICE_URL_MAX - prefix);
        url[SERVICE_URL_MAX] = '\0';
        assert_true(service_url_valid(url));
        url[SERVICE_URL_MAX] = 'p';
        url[SERVICE_URL_MAX + 1] = '\0';
        assert_false(service_url_valid(url));
}

/* --- registration_from_json --- */

static void test_reg_all_fields(void **state) {
        struct registration r;
        const char *error;

        assert_int_equal(reg_parse("{\"ServiceName\": \"Grading\", \"ServiceURL\": \"http://127.0.0.1:6000\","
                                   " \"RequiredServices\": [\"Log\", \"Student\"],"
                                   " \"ServiceUpdateURL\": \"http://127.0.0.1:6000/services\","
                                   " \"HeartbeatURL\": \"http://127.0.0.1:6000/heartbeat\"}",
                                   &r, &error),
                         0);
        assert_null(error);
        assert_string_equal(r.name, "Grading");
        assert_string_equal(r.url, "http://127.0.0.1:6000");
        assert_int_equal(r.n_required, 2);
        assert_string_equal(r.required[0], "Log");
        assert_string_equal(r.required[1], "Student");
        assert_null(r.required[2]);
        assert_string_equal(r.update_url, "http://127.0.0.1:6000/services");
        assert_string_equal(r.heartbeat_url, "http://127.0.0.1:6000/heartbeat");
        assert_true(registration_requires(&r, "Log"));
        assert_true(registration_requires(&r, "Student"));
        assert_false(registration_requires(&r, "log"));
        assert_false(registration_requires(&r, "Grading"));
        registration_done(&r);
        assert_null(r.name);
        assert_null(r.required);
}

static void test_reg_minimal(void **state) {
        struct registration r;
        const char *error;

        assert_int_equal(reg_parse("{\"ServiceName\": \"Log\", \"ServiceURL\": \"http://localhost:4000\"}", &r, &error),
                         0);
        assert_string_equal(r.name, "Log");
        assert_string_equal(r.url, "http://localhost:4000");
        assert_int_equal(r.n_required, 0);
        assert_non_null(r.required); /* an empty NULL-terminated list */
        assert_null(r.required[0]);
        assert_null(r.update_url);
        assert_null(r.heartbeat_url);
        registration_done(&r);

        /* null, [] and "" mean "none" as well; unknown keys are ignored. */
        assert_int_equal(reg_parse("{\"ServiceName\": \"Log\", \"ServiceURL\": \"http://localhost:4000\","
                                   " \"RequiredServices\": null, \"ServiceUpdateURL\": \"\", \"HeartbeatURL\": null,"
                                   " \"Extra\": {\"x\": 1}}",
                                   &r, &error),
                         0);
        assert_int_equal(r.n_required, 0);
        assert_null(r.update_url);
        assert_null(r.heartbeat_url);
        registration_done(&r);

        assert_int_equal(reg_parse("{\"ServiceName\": \"Log\", \"ServiceURL\": \"http://localhost:4000\","
                                   " \"RequiredServices\": []}",
                                   &r, &error),
                         0);
        assert_int_equal(r.n_required, 0);
        registration_done(&r);
}

static void test_reg_case_insensitive_keys(void **state) {
        struct registration r;
        const char *error;

        assert_int_equal(reg_parse("{\"servicename\": \"Grading\", \"SERVICEURL\": \"http://h:1\","
                                   " \"requiredServices\": [\"Log\"], \"serviceupdateurl\": \"http://h:1/u\","
                                   " \"heartbeaturl\": \"http://h:1/hb\"}",
                                   &r, &error),
                         0);
        assert_string_equal(r.name, "Grading");
        assert_string_equal(r.url, "http://h:1");
        assert_int_equal(r.n_required, 1);
        assert_string_equal(r.required[0], "Log");
        assert_string_equal(r.update_url, "http://h:1/u");
        assert_string_equal(r.heartbeat_url, "http://h:1/hb");
        registration_done(&r);

        /* An exact match wins over a case-insensitive one. */
        assert_int_equal(
                reg_parse("{\"servicename\": \"lower\", \"ServiceName\": \"Exact\", \"ServiceURL\": \"http://h\"}", &r,
                          &error),
                0);
        assert_string_equal(r.name, "Exact");
        registration_done(&r);
}

static void test_reg_missing_fields(void **state) {
        expect_reg_rejected("{\"ServiceURL\": \"http://h:1\"}", "ServiceName is missing");
        expect_reg_rejected("{\"ServiceName\": null, \"ServiceURL\": \"http://h:1\"}", "ServiceName is missing");
        expect_reg_rejected("{\"ServiceName\": \"Log\"}", "ServiceURL is missing");
        expect_reg_rejected("{\"ServiceName\": \"Log\", \"ServiceURL\": \"\"}", "ServiceURL is missing");
        expect_reg_rejected("{\"ServiceName\": \"Log\", \"ServiceURL\": null}", "ServiceURL is missing");
        expect_reg_rejected("{}", "ServiceName is missing");
}

static void test_reg_not_an_object(void **state) {
        expect_reg_rejected("[]", "expected a JSON object");
        expect_reg_rejected("\"Log\"", "expected a JSON object");
        expect_reg_rejected("null", "expected a JSON object");
}

static void test_reg_wrong_types(void **state) {
        struct registration r;
        const char *error;

        /* The message for a non-string ServiceName has its own test below. */
        assert_int_equal(reg_parse("{\"ServiceName\": 5, \"ServiceURL\": \"http://h:1\"}", &r, &error), -EINVAL);
        assert_null(r.name);
        assert_int_equal(reg_parse("{\"ServiceName\": [\"Log\"], \"ServiceURL\": \"http://h:1\"}", &r, &error),
                         -EINVAL);
        assert_null(r.name);

        expect_reg_rejected("{\"ServiceName\": \"Log\", \"ServiceURL\": 8080}", "a URL must be a string");
        expect_reg_rejected("{\"ServiceName\": \"Log\", \"ServiceURL\": \"http://h:1\", \"HeartbeatURL\": true}",
                            "optional URLs must be strings");
        expect_reg_rejected("{\"ServiceName\": \"Log\", \"ServiceURL\": \"http://h:1\", \"ServiceUpdateURL\": {}}",
                            "optional URLs must be strings");
        expect_reg_rejected("{\"ServiceName\": \"Log\", \"ServiceURL\": \"http://h:1\", \"RequiredServices\": \"A\"}",
                            "RequiredServices must be an array");
        expect_reg_rejected("{\"ServiceName\": \"Log\", \"ServiceURL\": \"http://h:1\", \"RequiredServices\": {}}",
                            "RequiredServices must be an array");
        expect_reg_rejected("{\"ServiceName\": \"Log\", \"ServiceURL\": \"http://h:1\","
                            " \"ServiceUpdateURL\": \"http://h:1/u\", \"RequiredServices\": [\"A\", 3]}",
                            "RequiredServices holds an invalid name");
        expect_reg_rejected("{\"ServiceName\": \"Log\", \"ServiceURL\": \"http://h:1\","
                            " \"ServiceUpdateURL\": \"http://h:1/u\", \"RequiredServices\": [null]}",
                            "RequiredServices holds an invalid name");
        expect_reg_rejected("{\"ServiceName\": \"Log\", \"ServiceURL\": \"http://h:1\","
                            " \"ServiceUpdateURL\": \"http://h:1/u\", \"RequiredServices\": [\"\"]}",
                            "RequiredServices holds an invalid name");
        expect_reg_rejected("{\"ServiceName\": \"Log\", \"ServiceURL\": \"http://h:1\","
                            " \"ServiceUpdateURL\": \"http://h:1/u\", \"RequiredServices\": [\"A\\nB\"]}",
                            "RequiredServices holds an invalid name");
}

/* A ServiceName that is there but not a string is not "missing". */
static void test_reg_name_wrong_type_message(void **state) {
        expect_reg_rejected("{\"ServiceName\": 5, \"ServiceURL\": \"http://h:1\"}", "ServiceName must be a string");
}

static void test_reg_invalid_values(void **state) {
        char text[512];

        expect_reg_rejected("{\"ServiceName\": \"\", \"ServiceURL\": \"http://h:1\"}",
                            "ServiceName must be 1-64 bytes");
        expect_reg_rejected("{\"ServiceName\": \"a\\u0001b\", \"ServiceURL\": \"http://h:1\"}",
                            "ServiceName must be 1-64 bytes");
        snprintf(text, sizeof(text), "{\"ServiceName\": \"%065d\", \"ServiceURL\": \"http://h:1\"}", 0);
        expect_reg_rejected(text, "ServiceName must be 1-64 bytes");
        expect_reg_rejected("{\"ServiceName\": \"Log\", \"ServiceURL\": \"ftp://h:1\"}", "not of the form http(s)://");
        expect_reg_rejected("{\"ServiceName\": \"Log\", \"ServiceURL\": \"http://h:1/?x=1\"}",
                            "not of the form http(s)://");
        expect_reg_rejected("{\"ServiceName\": \"Log\", \"ServiceURL\": \"http://h:1\", \"HeartbeatURL\": \"hb\"}",
                            "not of the form http(s)://");
        expect_reg_rejected("{\"ServiceName\": \"Log\", \"ServiceURL\": \"http://h:1\","
                            " \"ServiceUpdateURL\": \"http://u:p@h:1/\"}",
                            "not of the form http(s)://");

        /* 64 bytes is still fine. */
        struct registration r;
        const char *error;
        snprintf(text, sizeof(text), "{\"ServiceName\": \"%064d\", \"ServiceURL\": \"http://h:1\"}", 0);
        assert_int_equal(reg_parse(text, &r, &error), 0);
        assert_int_equal(strlen(r.name), 64);
        registration_done(&r);
}

static void test_reg_required_dedup(void **state) {
        struct registration r;
        const char *error;

        assert_int_equal(reg_parse("{\"ServiceName\": \"G\", \"ServiceURL\": \"http://h:1\","
                                   " \"ServiceUpdateURL\": \"http://h:1/u\","
                                   " \"RequiredServices\": [\"Log\", \"Student\", \"Log\", \"log\", \"Student\"]}",
                                   &r, &error),
                         0);
        assert_int_equal(r.n_required, 3); /* names are case-sensitive */
        assert_string_equal(r.required[0], "Log");
        assert_string_equal(r.required[1], "Student");
        assert_string_equal(r.required[2], "log");
        assert_null(r.required[3]);
        registration_done(&r);
}

/* {"ServiceName": "G", ..., "RequiredServices": ["s0", ..., "s<n-1>"]} */
static char *reg_with_required(size_t n) {
        size_t size = 256 + n * 16, len;
        char *text = malloc(size);

        assert_non_null(text);
        len = (size_t) snprintf(text, size,
                                "{\"ServiceName\": \"G\", \"ServiceURL\": \"http://h:1\","
                                " \"ServiceUpdateURL\": \"http://h:1/u\", \"RequiredServices\": [");
        for (size_t i = 0; i < n; i++)
                len += (size_t) snprintf(text + len, size - len, "%s\"s%zu\"", i ? ", " : "", i);
        snprintf(text + len, size - len, "]}");
        return text;
}

static void test_reg_too_many_required(void **state) {
        struct registration r;
        const char *error;
        char *text;

        text = reg_with_required(REQUIRED_SERVICES_MAX);
        assert_int_equal(reg_parse(text, &r, &error), 0);
        assert_int_equal(r.n_required, REQUIRED_SERVICES_MAX);
        assert_string_equal(r.required[REQUIRED_SERVICES_MAX - 1], "s63");
        registration_done(&r);
        free(text);

        text = reg_with_required(REQUIRED_SERVICES_MAX + 1);
        expect_reg_rejected(text, "RequiredServices has too many names");
        free(text);
}

static void test_reg_update_url_required(void **state) {
        expect_reg_rejected("{\"ServiceName\": \"G\", \"ServiceURL\": \"http://h:1\", \"RequiredServices\": [\"Log\"]}",
                            "ServiceUpdateURL is required");
        expect_reg_rejected("{\"ServiceName\": \"G\", \"ServiceURL\": \"http://h:1\", \"RequiredServices\": [\"Log\"],"
                            " \"ServiceUpdateURL\": \"\"}",
                            "ServiceUpdateURL is required");
}

/* --- registration_to_json --- */

static void test_reg_to_json(void **state) {
        struct registration r, back;
        struct json_object *o, *v;
        const char *error;

        assert_int_equal(reg_parse("{\"servicename\": \"Grading\", \"ServiceURL\": \"http://h:6000\","
                                   " \"RequiredServices\": [\"Log\", \"Student\", \"Log\"],"
                                   " \"ServiceUpdateURL\": \"http://h:6000/services\","
                                   " \"HeartbeatURL\": \"http://h:6000/heartbeat\"}",
                                   &r, &error),
                         0);
        o = registration_to_json(&r);
        assert_non_null(o);
        /* The seed's exact key spelling. */
        assert_true(json_object_object_get_ex(o, "ServiceName", &v));
        assert_string_equal(json_object_get_string(v), "Grading");
        assert_true(json_object_object_get_ex(o, "ServiceURL", &v));
        assert_string_equal(json_object_get_string(v), "http://h:6000");
        assert_true(json_object_object_get_ex(o, "RequiredServices", &v));
        assert_true(json_object_is_type(v, json_type_array));
        assert_int_equal(json_object_array_length(v), 2);
        assert_string_equal(json_object_get_string(json_object_array_get_idx(v, 1)), "Student");
        assert_true(json_object_object_get_ex(o, "ServiceUpdateURL", &v));
        assert_string_equal(json_object_get_string(v), "http://h:6000/services");
        assert_true(json_object_object_get_ex(o, "HeartbeatURL", &v));
        assert_string_equal(json_object_get_string(v), "http://h:6000/heartbeat");
        assert_int_equal(json_object_object_length(o), 5);

        /* And back. */
        assert_int_equal(registration_from_json(o, &back, &error), 0);
        json_object_put(o);
        assert_string_equal(back.name, r.name);
        assert_string_equal(back.url, r.url);
        assert_int_equal(back.n_required, r.n_required);
        for (size_t i = 0; i < r.n_required; i++)
                assert_string_equal(back.required[i], r.required[i]);
        assert_string_equal(back.update_url, r.update_url);
        assert_string_equal(back.heartbeat_url, r.heartbeat_url);
        registration_done(&back);
        registration_done(&r);
}

static void test_reg_to_json_minimal(void **state) {
        struct registration r, back;
        struct json_object *o, *v;
        const char *error;

        assert_int_equal(reg_parse("{\"ServiceName\": \"Log\", \"ServiceURL\": \"http://h:4000\"}", &r, &error), 0);
        o = registration_to_json(&r);
        /* Absent optional URLs are written as "" (as the seed does), the list as []. */
        assert_true(json_object_object_get_ex(o, "ServiceUpdateURL", &v));
        assert_string_equal(json_object_get_string(v), "");
        assert_true(json_object_object_get_ex(o, "HeartbeatURL", &v));
        assert_string_equal(json_object_get_string(v), "");
        assert_true(json_object_object_get_ex(o, "RequiredServices", &v));
        assert_true(json_object_is_type(v, json_type_array));
        assert_int_equal(json_object_array_length(v), 0);

        assert_int_equal(registration_from_json(o, &back, &error), 0);
        json_object_put(o);
        assert_string_equal(back.name, "Log");
        assert_null(back.update_url);
        assert_null(back.heartbeat_url);
        assert_int_equal(back.n_required, 0);
        registration_done(&back);
        registration_done(&r);
}

/* --- patch_from_json --- */

static void test_patch_full(void **state) {
        struct patch p;
        const char *error;

        assert_int_equal(patch_parse("{\"Added\": [{\"Name\": \"Log\", \"URL\": \"http://h:4000\"},"
                                     " {\"Name\": \"Log\", \"URL\": \"http://h:4001\"}],"
                                     " \"Removed\": [{\"Name\": \"Student\", \"URL\": \"https://s:5000/x\"}],"
                                     " \"Version\": 7}",
                                     &p, &error),
                         0);
        assert_int_equal(p.n_added, 2);
        assert_string_equal(p.added[0].name, "Log");
        assert_string_equal(p.added[0].url, "http://h:4000");
        assert_string_equal(p.added[1].url, "http://h:4001");
        assert_int_equal(p.n_removed, 1);
        assert_string_equal(p.removed[0].name, "Student");
        assert_string_equal(p.removed[0].url, "https://s:5000/x");
        assert_int_equal(p.version, 7);
        patch_done(&p);
        assert_null(p.added);
        assert_int_equal(p.n_added, 0);
}

static void test_patch_null_and_empty(void **state) {
        struct patch p;
        const char *error;

        /* The seed's registry sends null lists and no Version. */
        assert_int_equal(patch_parse("{\"Added\": null, \"Removed\": null}", &p, &error), 0);
        assert_int_equal(p.n_added, 0);
        assert_int_equal(p.n_removed, 0);
        assert_int_equal(p.version, 0);
        patch_done(&p);

        assert_int_equal(patch_parse("{}", &p, &error), 0);
        assert_int_equal(p.n_added + p.n_removed, 0);
        patch_done(&p);

        assert_int_equal(patch_parse("{\"Added\": [], \"Removed\": [], \"Version\": null}", &p, &error), 0);
        assert_int_equal(p.n_added + p.n_removed, 0);
        assert_int_equal(p.version, 0);
        patch_done(&p);
}

static void test_patch_case_insensitive(void **state) {
        struct patch p;
        const char *error;

        assert_int_equal(patch_parse("{\"added\": [{\"name\": \"Log\", \"url\": \"http://h:4000\"}],"
                                     " \"REMOVED\": [], \"version\": 3}",
                                     &p, &error),
                         0);
        assert_int_equal(p.n_added, 1);
        assert_string_equal(p.added[0].name, "Log");
        assert_string_equal(p.added[0].url, "http://h:4000");
        assert_int_equal(p.version, 3);
        patch_done(&p);
}

static void test_patch_bad_lists(void **state) {
        expect_patch_rejected("[]", "expected a JSON object");
        expect_patch_rejected("{\"Added\": {}}", "Added and Removed must be arrays");
        expect_patch_rejected("{\"Removed\": \"Log\"}", "Added and Removed must be arrays");
        expect_patch_rejected("{\"Added\": 1}", "Added and Removed must be arrays");
}

static void test_patch_bad_entries(void **state) {
        static const char *const bad[] = {
                "{\"Added\": [\"Log\"]}",
                "{\"Added\": [null]}",
                "{\"Added\": [{\"Name\": \"Log\"}]}",
                "{\"Added\": [{\"URL\": \"http://h:1\"}]}",
                "{\"Added\": [{\"Name\": 1, \"URL\": \"http://h:1\"}]}",
                "{\"Added\": [{\"Name\": \"Log\", \"URL\": [\"http://h:1\"]}]}",
                "{\"Added\": [{\"Name\": \"\", \"URL\": \"http://h:1\"}]}",
                "{\"Added\": [{\"Name\": \"Log\", \"URL\": \"ftp://h:1\"}]}",
                "{\"Added\": [{\"Name\": \"Log\", \"URL\": \"\"}]}",
                /* A bad entry after good ones: the good ones are freed. */
                "{\"Added\": [{\"Name\": \"A\", \"URL\": \"http://a\"}, {\"Name\": \"B\", \"URL\": \"http://b\"},"
                " {\"Name\": \"C\"}]}",
                "{\"Added\": [{\"Name\": \"A\", \"URL\": \"http://a\"}],"
                " \"Removed\": [{\"Name\": \"B\", \"URL\": \"http://b\"}, 7]}",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                expect_patch_rejected(bad[i], "a patch entry must be");
}

static void test_patch_version_types(void **state) {
        struct patch p;
        const char *error;

        expect_patch_rejected("{\"Version\": \"3\"}", "Version must be a non-negative integer");
        expect_patch_rejected("{\"Version\": -1}", "Version must be a non-negative integer");
        expect_patch_rejected("{\"Version\": 1.5}", "Version must be a non-negative integer");
        expect_patch_rejected("{\"Version\": true}", "Version must be a non-negative integer");
        expect_patch_rejected("{\"Version\": [1]}", "Version must be a non-negative integer");
        /* The lists are freed when the Version is bad. */
        expect_patch_rejected("{\"Added\": [{\"Name\": \"A\", \"URL\": \"http://a\"}], \"Version\": \"x\"}",
                              "Version must be a non-negative integer");

        assert_int_equal(patch_parse("{\"Version\": 0}", &p, &error), 0);
        assert_int_equal(p.version, 0);
        patch_done(&p);
        assert_int_equal(patch_parse("{\"Version\": 9007199254740993}", &p, &error), 0);
        assert_true(p.version == 9007199254740993ULL);
        patch_done(&p);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_name_valid),
                cmocka_unit_test(test_name_control_characters),
                cmocka_unit_test(test_url_valid),
                cmocka_unit_test(test_url_invalid),
                cmocka_unit_test(test_url_empty_fragment),
                cmocka_unit_test(test_url_length),
                cmocka_unit_test(test_reg_all_fields),
                cmocka_unit_test(test_reg_minimal),
                cmocka_unit_test(test_reg_case_insensitive_keys),
                cmocka_unit_test(test_reg_missing_fields),
                cmocka_unit_test(test_reg_not_an_object),
                cmocka_unit_test(test_reg_wrong_types),
                cmocka_unit_test(test_reg_name_wrong_type_message),
                cmocka_unit_test(test_reg_invalid_values),
                cmocka_unit_test(test_reg_required_dedup),
                cmocka_unit_test(test_reg_too_many_required),
                cmocka_unit_test(test_reg_update_url_required),
                cmocka_unit_test(test_reg_to_json),
                cmocka_unit_test(test_reg_to_json_minimal),
                cmocka_unit_test(test_patch_full),
                cmocka_unit_test(test_patch_null_and_empty),
                cmocka_unit_test(test_patch_case_insensitive),
                cmocka_unit_test(test_patch_bad_lists),
                cmocka_unit_test(test_patch_bad_entries),
                cmocka_unit_test(test_patch_version_types),
        };

        return cmocka_run_group_tests_name("registration", tests, NULL, NULL);
}
