/* SPDX-License-Identifier: MIT */
/* Unit tests for src/common/conf.c: durations, single keys, and conf_load()
 * with real temporary config files and argv. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "conf.h"
#include "macro.h"

/* A daemon's settings as every daemon declares them: the common ones first. */
struct test_settings {
        struct conf_common common;
        uint64_t interval_ms;
        uint64_t count;
        uint64_t any;
        char *label;
};

static const struct conf_key test_keys[] = {
        { "interval", CONF_DURATION, offsetof(struct test_settings, interval_ms), "DURATION", "how often", 100, 60000 },
        { "count", CONF_UINT, offsetof(struct test_settings, count), "N", "how many", 1, 10 },
        { "any", CONF_UINT, offsetof(struct test_settings, any), "N", "any number at all" },
        { "label", CONF_STRING, offsetof(struct test_settings, label), "TEXT", "a label" },
};

static const struct conf_program test_prog = {
        .name = "test-prog",
        .section = "test",
        .description = "A program for the unit tests.",
        .keys = test_keys,
        .n_keys = ELEMENTSOF(test_keys),
};

#define KEY_INTERVAL (&test_keys[0])
#define KEY_COUNT    (&test_keys[1])
#define KEY_ANY      (&test_keys[2])
#define KEY_LABEL    (&test_keys[3])

static const struct conf_key log_level_key = { "log-level", CONF_LOG_LEVEL,
                                               offsetof(struct test_settings, common.log_level) };

/* Redirects fd 1 or 2 into a temporary file while conf_load() prints. */
struct capture {
        int fd, saved;
        FILE *tmp;
};

static void capture_start(struct capture *c, int fd) {
        fflush(stdout);
        fflush(stderr);
        c->fd = fd;
        c->tmp = tmpfile();
        assert_non_null(c->tmp);
        c->saved = dup(fd);
        assert_true(c->saved >= 0);
        assert_true(dup2(fileno(c->tmp), fd) >= 0);
}

/* Returns what was written, malloc'd. */
static char *capture_end(struct capture *c) {
        char *text;
        long n;

        fflush(stdout);
        fflush(stderr);
        dup2(c->saved, c->fd);
        close(c->saved);
        n = ftell(c->tmp);
        if (n < 0)
                n = 0;
        text = calloc((size_t) n + 1, 1);
        rewind(c->tmp);
        if (text && n > 0 && fread(text, 1, (size_t) n, c->tmp) != (size_t) n)
                text[0] = '\0';
        fclose(c->tmp);
        return text;
}

/* Writes content to a new temporary file; returns its malloc'd path. */
static char *write_temp(const char *content) {
        char *path = strdup("/tmp/grades-test-conf-XXXXXX");
        int fd;

        assert_non_null(path);
        fd = mkstemp(path);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, content, strlen(content)), (ssize_t) strlen(content));
        close(fd);
        return path;
}

/* conf_load() with argv given as a NULL-terminated list; stderr is captured
 * into *ret_err (malloc'd) when ret_err is not NULL. */
static int load_argv(struct test_settings *s, char **argv, char **ret_err) {
        struct capture c;
        int argc = 0, r;

        while (argv[argc])
                argc++;
        if (ret_err)
                capture_start(&c, STDERR_FILENO);
        r = conf_load(&test_prog, s, argc, argv);
        if (ret_err)
                *ret_err = capture_end(&c);
        return r;
}

/* conf_load() with --config=<a file holding content> plus extra options. */
static int load_with_file(struct test_settings *s, const char *content, char **ret_err, const char *opt1,
                          const char *opt2) {
        char *path = write_temp(content), *config_opt = NULL;
        char *argv[5] = { (char *) "test-prog" };
        int argc = 1, r;

        assert_true(asprintf(&config_opt, "--config=%s", path) > 0);
        argv[argc++] = config_opt;
        if (opt1)
                argv[argc++] = (char *) opt1;
        if (opt2)
                argv[argc++] = (char *) opt2;
        argv[argc] = NULL;
        r = load_argv(s, argv, ret_err);
        unlink(path);
        free(path);
        free(config_opt);
        return r;
}

static void settings_defaults(struct test_settings *s) {
        *s = (struct test_settings){ .interval_ms = 5000, .count = 2, .common.log_level = LOG_INFO };
}

/* --- conf_parse_duration --- */

static void test_duration_units(void **state) {
        uint64_t ms;

        assert_int_equal(conf_parse_duration("500ms", &ms), 0);
        assert_int_equal(ms, 500);
        assert_int_equal(conf_parse_duration("3s", &ms), 0);
        assert_int_equal(ms, 3000);
        assert_int_equal(conf_parse_duration("2sec", &ms), 0);
        assert_int_equal(ms, 2000);
        assert_int_equal(conf_parse_duration("1min", &ms), 0);
        assert_int_equal(ms, 60000);
        assert_int_equal(conf_parse_duration("2m", &ms), 0);
        assert_int_equal(ms, 120000);
        assert_int_equal(conf_parse_duration("1h", &ms), 0);
        assert_int_equal(ms, 3600000);
        assert_int_equal(conf_parse_duration("0", &ms), 0);
        assert_int_equal(ms, 0);
}

static void test_duration_plain_number_is_seconds(void **state) {
        uint64_t ms = 0;

        assert_int_equal(conf_parse_duration("2", &ms), 0);
        assert_int_equal(ms, 2000);
        assert_int_equal(conf_parse_duration("90", &ms), 0);
        assert_int_equal(ms, 90000);
}

static void test_duration_invalid(void **state) {
        static const char *const bad[] = {
                "abc", "3x", "-1", "", " 3s", "3 s", "1.5s", "+3s", "s", "0x10", "3 min",
        };
        uint64_t ms = 12345;

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                if (conf_parse_duration(bad[i], &ms) != -EINVAL)
                        fail_msg("'%s' was not rejected with -EINVAL", bad[i]);
                assert_int_equal(ms, 12345); /* untouched on failure */
        }
        assert_int_equal(conf_parse_duration(NULL, &ms), -EINVAL);
}

static void test_duration_overflow(void **state) {
        uint64_t ms = 7;

        assert_int_equal(conf_parse_duration("18446744073709551615ms", &ms), 0);
        assert_true(ms == UINT64_MAX);
        assert_int_equal(conf_parse_duration("18446744073709551615s", &ms), -ERANGE);
        assert_int_equal(conf_parse_duration("18446744073709552", &ms), -ERANGE); /* seconds overflow */
        assert_int_equal(conf_parse_duration("99999999999999999999999ms", &ms), -ERANGE);
        assert_true(ms == UINT64_MAX);
}

/* --- conf_set --- */

static void test_set_uint_in_range(void **state) {
        struct test_settings s = { .count = 2 };
        char *error = NULL;

        assert_int_equal(conf_set(KEY_COUNT, &s, "1", &error), 0);
        assert_int_equal(s.count, 1);
        assert_int_equal(conf_set(KEY_COUNT, &s, "10", &error), 0);
        assert_int_equal(s.count, 10);
        assert_null(error);
}

static void test_set_uint_out_of_range(void **state) {
        struct test_settings s = { .count = 2 };
        char *error = NULL;
        int r;

        r = conf_set(KEY_COUNT, &s, "11", &error);
        assert_int_equal(r, -ERANGE);
        assert_non_null(error);
        assert_string_equal(error, "count: 11 is out of range (1..10)");
        free(error);
        error = NULL;

        r = conf_set(KEY_COUNT, &s, "0", &error);
        assert_int_equal(r, -ERANGE);
        assert_non_null(error);
        assert_string_equal(error, "count: 0 is out of range (1..10)");
        free(error);

        assert_int_equal(s.count, 2); /* untouched */
        /* Without a place for the message it still fails. */
        assert_int_equal(conf_set(KEY_COUNT, &s, "11", NULL), -ERANGE);
        assert_int_equal(s.count, 2);
}

static void test_set_uint_not_a_number(void **state) {
        static const char *const bad[] = { "abc", "5x", "", "-1", "+1", " 5", "1.0", "99999999999999999999999" };
        struct test_settings s = { .count = 2 };

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                char *error = NULL, *expected = NULL;
                int r = conf_set(KEY_COUNT, &s, bad[i], &error);

                assert_true(asprintf(&expected, "count: not a number: '%s'", bad[i]) > 0);
                if (r != -EINVAL || !error || strcmp(error, expected) != 0) {
                        fail_msg("'%s': r=%d error=%s", bad[i], r, error ?: "(null)");
                }
                free(error);
                free(expected);
        }
        assert_int_equal(s.count, 2);
        assert_int_equal(conf_set(KEY_COUNT, &s, "abc", NULL), -EINVAL);
}

static void test_set_uint_without_range(void **state) {
        struct test_settings s = { .any = 5 };

        assert_int_equal(conf_set(KEY_ANY, &s, "0", NULL), 0);
        assert_int_equal(s.any, 0);
        assert_int_equal(conf_set(KEY_ANY, &s, "18446744073709551615", NULL), 0);
        assert_true(s.any == UINT64_MAX);
}

static void test_set_duration(void **state) {
        struct test_settings s = { .interval_ms = 5000 };
        char *error = NULL;

        assert_int_equal(conf_set(KEY_INTERVAL, &s, "250ms", &error), 0);
        assert_int_equal(s.interval_ms, 250);
        assert_int_equal(conf_set(KEY_INTERVAL, &s, "1min", &error), 0);
        assert_int_equal(s.interval_ms, 60000);
        assert_int_equal(conf_set(KEY_INTERVAL, &s, "100ms", &error), 0);
        assert_int_equal(s.interval_ms, 100);
        assert_null(error);

        assert_int_equal(conf_set(KEY_INTERVAL, &s, "2min", &error), -ERANGE);
        assert_non_null(error);
        assert_string_equal(error, "interval: 2min is out of range (100..60000 ms)");
        free(error);
        error = NULL;
        assert_int_equal(conf_set(KEY_INTERVAL, &s, "99ms", &error), -ERANGE);
        assert_non_null(error);
        assert_string_equal(error, "interval: 99ms is out of range (100..60000 ms)");
        free(error);
        error = NULL;

        assert_int_equal(conf_set(KEY_INTERVAL, &s, "soon", &error), -EINVAL);
        assert_non_null(error);
        assert_string_equal(error, "interval: not a duration (like 500ms, 3s, 1min): 'soon'");
        free(error);
        assert_int_equal(s.interval_ms, 100);
}

static void test_set_string_replaces(void **state) {
        struct test_settings s = { 0 };

        assert_int_equal(conf_set(KEY_LABEL, &s, "first", NULL), 0);
        assert_string_equal(s.label, "first");
        assert_int_equal(conf_set(KEY_LABEL, &s, "second", NULL), 0); /* frees "first" */
        assert_string_equal(s.label, "second");
        assert_int_equal(conf_set(KEY_LABEL, &s, "", NULL), 0);
        assert_string_equal(s.label, "");
        free(s.label);
}

static void test_set_log_level(void **state) {
        struct test_settings s = { .common.log_level = LOG_INFO };
        char *error = NULL;

        assert_int_equal(conf_set(&log_level_key, &s, "debug", NULL), 0);
        assert_int_equal(s.common.log_level, LOG_DEBUG);
        assert_int_equal(conf_set(&log_level_key, &s, "warning", NULL), 0);
        assert_int_equal(s.common.log_level, LOG_WARNING);
        assert_int_equal(conf_set(&log_level_key, &s, "ERR", NULL), 0);
        assert_int_equal(s.common.log_level, LOG_ERR);
        assert_int_equal(conf_set(&log_level_key, &s, "5", NULL), 0);
        assert_int_equal(s.common.log_level, LOG_NOTICE);

        assert_int_equal(conf_set(&log_level_key, &s, "loud", &error), -EINVAL);
        assert_non_null(error);
        assert_string_equal(error, "log-level: unknown log level 'loud'");
        free(error);
        error = NULL;
        assert_int_equal(conf_set(&log_level_key, &s, "8", &error), -EINVAL);
        free(error);
        assert_int_equal(s.common.log_level, LOG_NOTICE);
}

/* --- conf_load --- */

static void test_load_section_beats_common(void **state) {
        struct test_settings s;
        char *err = NULL;
        int r;

        settings_defaults(&s);
        /* [test] comes first in the file, yet [common] is read first. */
        r = load_with_file(&s,
                           "[test]\n"
                           "count = 5\n"
                           "interval = 3s\n"
                           "\n"
                           "[common]\n"
                           "listen = 127.0.0.1:9000\n"
                           "count = 3\n"
                           "label = from-common\n"
                           "log-level = debug\n"
                           "\n"
                           "[other]\n"
                           "count = 9\n"
                           "no-such-key = ignored in another daemon's section\n",
                           &err, NULL, NULL);
        assert_int_equal(r, 1);
        assert_string_equal(err, "");
        assert_int_equal(s.count, 5);
        assert_int_equal(s.interval_ms, 3000);
        assert_string_equal(s.common.listen, "127.0.0.1:9000");
        assert_string_equal(s.label, "from-common");
        assert_int_equal(s.common.log_level, LOG_DEBUG);
        assert_int_equal(s.any, 0);            /* default kept */
        assert_null(s.common.registry);        /* never set */
        assert_non_null(s.common.config_file); /* the --config given */
        free(err);
        conf_free(&test_prog, &s);
        assert_null(s.label);
        assert_null(s.common.listen);
        assert_null(s.common.config_file);
}

static void test_load_defaults_kept(void **state) {
        struct test_settings s;
        char *err = NULL;

        settings_defaults(&s);
        assert_int_equal(load_with_file(&s, "[common]\nregistry = http://127.0.0.1:3000\n", &err, NULL, NULL), 1);
        assert_int_equal(s.interval_ms, 5000);
        assert_int_equal(s.count, 2);
        assert_null(s.label);
        assert_int_equal(s.common.log_level, LOG_INFO);
        assert_string_equal(s.common.registry, "http://127.0.0.1:3000");
        free(err);
        conf_free(&test_prog, &s);
}

static void test_load_options_win(void **state) {
        struct test_settings s;
        char *err = NULL;

        settings_defaults(&s);
        assert_int_equal(load_with_file(&s,
                                        "[common]\nlabel = file-common\nlisten = 127.0.0.1:1\n"
                                        "[test]\ncount = 5\nlabel = file-test\n",
                                        &err, "--count=7", "--label=cli"),
                         1);
        assert_int_equal(s.count, 7);
        assert_string_equal(s.label, "cli");
        assert_string_equal(s.common.listen, "127.0.0.1:1");
        free(err);
        conf_free(&test_prog, &s);
}

static void test_load_options_in_order(void **state) {
        struct test_settings s;
        char *argv[] = { "test-prog", "--any=1", "--label", "one", "--label=two", NULL };
        char *argv2[] = { "test-prog", "--count=4", "--count", "6", NULL };
        char *err = NULL;

        /* A pre-set (not explicit) config file may be missing. */
        settings_defaults(&s);
        s.common.config_file = strdup("/nonexistent/grades-test.conf");
        assert_int_equal(load_argv(&s, argv, &err), 1);
        assert_string_equal(s.label, "two");
        assert_int_equal(s.any, 1);
        free(err);
        conf_free(&test_prog, &s);

        settings_defaults(&s);
        s.common.config_file = strdup("/nonexistent/grades-test.conf");
        assert_int_equal(load_argv(&s, argv2, &err), 1);
        assert_int_equal(s.count, 6);
        free(err);
        conf_free(&test_prog, &s);
}

static void test_load_unknown_key_in_section(void **state) {
        struct test_settings s;
        char *err = NULL;

        settings_defaults(&s);
        assert_int_equal(load_with_file(&s, "[test]\ncount = 3\nbogus = 1\n", &err, NULL, NULL), -EINVAL);
        assert_non_null(strstr(err, "unknown key 'bogus' in [test]"));
        assert_non_null(strstr(err, "test-prog: "));
        free(err);
        conf_free(&test_prog, &s);
}

static void test_load_unknown_key_in_common(void **state) {
        struct test_settings s;
        char *err = NULL;

        settings_defaults(&s);
        assert_int_equal(load_with_file(&s, "[common]\nlistn = 127.0.0.1:1\n", &err, NULL, NULL), -EINVAL);
        assert_non_null(strstr(err, "unknown key 'listn' in [common]"));
        free(err);
        conf_free(&test_prog, &s);

        /* "config" is an option, not a key a file may set. */
        settings_defaults(&s);
        assert_int_equal(load_with_file(&s, "[common]\nconfig = /etc/other.conf\n", &err, NULL, NULL), -EINVAL);
        assert_non_null(strstr(err, "unknown key 'config' in [common]"));
        free(err);
        conf_free(&test_prog, &s);
}

static void test_load_bad_value_in_file(void **state) {
        struct test_settings s;
        char *err = NULL;

        settings_defaults(&s);
        assert_int_equal(load_with_file(&s, "[test]\ncount = 11\n", &err, NULL, NULL), -EINVAL);
        assert_non_null(strstr(err, "[test] count: 11 is out of range (1..10)"));
        free(err);
        conf_free(&test_prog, &s);

        settings_defaults(&s);
        assert_int_equal(load_with_file(&s, "[common]\nlog-level = chatty\n", &err, NULL, NULL), -EINVAL);
        assert_non_null(strstr(err, "[common] log-level: unknown log level 'chatty'"));
        free(err);
        conf_free(&test_prog, &s);
}

static void test_load_syntax_error(void **state) {
        struct test_settings s;
        char *err = NULL;

        settings_defaults(&s);
        assert_int_equal(load_with_file(&s, "[test]\ncount = 3\nthis line has no equals sign\n", &err, NULL, NULL),
                         -EINVAL);
        assert_non_null(strstr(err, ":3: syntax error"));
        free(err);
        conf_free(&test_prog, &s);
}

static void test_load_bad_option_value(void **state) {
        struct test_settings s;
        char *err = NULL;

        settings_defaults(&s);
        assert_int_equal(load_with_file(&s, "[test]\ncount = 3\n", &err, "--interval=forever", NULL), -EINVAL);
        assert_non_null(strstr(err, "test-prog: --interval: not a duration"));
        free(err);
        conf_free(&test_prog, &s);

        settings_defaults(&s);
        assert_int_equal(load_with_file(&s, "", &err, "--count=0", NULL), -ERANGE);
        assert_non_null(strstr(err, "--count: 0 is out of range (1..10)"));
        free(err);
        conf_free(&test_prog, &s);
}

static void test_load_unknown_option_and_argument(void **state) {
        struct test_settings s;
        char *argv1[] = { "test-prog", "--no-such-option", NULL };
        char *argv2[] = { "test-prog", "stray", NULL };
        char *err = NULL;

        settings_defaults(&s);
        assert_int_equal(load_argv(&s, argv1, &err), -EINVAL);
        assert_non_null(strstr(err, "Try 'test-prog --help'"));
        free(err);
        conf_free(&test_prog, &s);

        settings_defaults(&s);
        assert_int_equal(load_argv(&s, argv2, &err), -EINVAL);
        assert_non_null(strstr(err, "unexpected argument 'stray'"));
        free(err);
        conf_free(&test_prog, &s);
}

static void test_load_help(void **state) {
        struct test_settings s;
        char *argv[] = { "test-prog", "--help", NULL };
        char *argv_short[] = { "test-prog", "-h", NULL };
        struct capture c;
        char *out;

        settings_defaults(&s);
        capture_start(&c, STDOUT_FILENO);
        int r = load_argv(&s, argv, NULL);
        out = capture_end(&c);
        assert_int_equal(r, 0);
        assert_non_null(strstr(out, "Usage: test-prog"));
        assert_non_null(strstr(out, "A program for the unit tests."));
        assert_non_null(strstr(out, "[common] and [test]"));
        /* Generated from the same tables as the file keys. */
        assert_non_null(strstr(out, "--interval=DURATION"));
        assert_non_null(strstr(out, "--count=N"));
        assert_non_null(strstr(out, "--label=TEXT"));
        assert_non_null(strstr(out, "--listen=HOST:PORT"));
        assert_non_null(strstr(out, "--log-level=LEVEL"));
        assert_non_null(strstr(out, "--config=FILE"));
        free(out);
        conf_free(&test_prog, &s);

        settings_defaults(&s);
        capture_start(&c, STDOUT_FILENO);
        r = load_argv(&s, argv_short, NULL);
        out = capture_end(&c);
        assert_int_equal(r, 0);
        assert_non_null(strstr(out, "Usage: test-prog"));
        free(out);
        conf_free(&test_prog, &s);
}

static void test_load_version(void **state) {
        struct test_settings s;
        char *argv[] = { "test-prog", "--version", NULL };
        struct capture c;
        char *out;
        int r;

        settings_defaults(&s);
        capture_start(&c, STDOUT_FILENO);
        r = load_argv(&s, argv, NULL);
        out = capture_end(&c);
        assert_int_equal(r, 0);
        assert_string_equal(out, "test-prog (" PACKAGE_NAME ") " PACKAGE_VERSION "\n");
        free(out);
        conf_free(&test_prog, &s);
}

static void test_load_missing_explicit_config(void **state) {
        struct test_settings s;
        char *argv[] = { "test-prog", "--config=/nonexistent/dir/grades.conf", NULL };
        char *err = NULL;

        settings_defaults(&s);
        assert_int_equal(load_argv(&s, argv, &err), -ENOENT);
        assert_non_null(strstr(err, "cannot read /nonexistent/dir/grades.conf"));
        free(err);
        conf_free(&test_prog, &s);
}

static void test_load_missing_default_config(void **state) {
        struct test_settings s;
        char *argv[] = { "test-prog", "--count=3", NULL };
        char *err = NULL;

        /* A default path (pre-set, not given with --config) may be missing. */
        settings_defaults(&s);
        s.common.config_file = strdup("/nonexistent/dir/grades.conf");
        assert_int_equal(load_argv(&s, argv, &err), 1);
        assert_string_equal(err, "");
        assert_int_equal(s.count, 3);
        free(err);
        conf_free(&test_prog, &s);

        /* The built-in default, SYSCONFDIR/grades/grades.conf. */
        if (access(SYSCONFDIR "/grades/grades.conf", F_OK) == 0)
                skip();
        settings_defaults(&s);
        assert_int_equal(load_argv(&s, argv, &err), 1);
        assert_string_equal(err, "");
        assert_int_equal(s.count, 3);
        free(err);
        conf_free(&test_prog, &s);
}

static void test_load_directories(void **state) {
        struct test_settings s;
        char *argv[] = { "test-prog", "--config=/dev/null", NULL };
        char *argv_opt[] = { "test-prog", "--config=/dev/null", "--state-directory=/srv/state", NULL };

        unsetenv("STATE_DIRECTORY");
        unsetenv("LOGS_DIRECTORY");
        settings_defaults(&s);
        assert_int_equal(load_argv(&s, argv, NULL), 1);
        assert_string_equal(s.common.state_directory, ".");
        assert_string_equal(s.common.logs_directory, ".");
        conf_free(&test_prog, &s);

        setenv("STATE_DIRECTORY", "/var/lib/grades", 1);
        setenv("LOGS_DIRECTORY", "/var/log/grades", 1);
        settings_defaults(&s);
        assert_int_equal(load_argv(&s, argv, NULL), 1);
        assert_string_equal(s.common.state_directory, "/var/lib/grades");
        assert_string_equal(s.common.logs_directory, "/var/log/grades");
        conf_free(&test_prog, &s);

        settings_defaults(&s);
        assert_int_equal(load_argv(&s, argv_opt, NULL), 1);
        assert_string_equal(s.common.state_directory, "/srv/state");
        assert_string_equal(s.common.logs_directory, "/var/log/grades");
        conf_free(&test_prog, &s);
        unsetenv("STATE_DIRECTORY");
        unsetenv("LOGS_DIRECTORY");
}

static void test_load_twice_resets_getopt(void **state) {
        struct test_settings s;
        char *argv[] = { "test-prog", "--config=/dev/null", "--count=8", NULL };

        for (int i = 0; i < 3; i++) {
                settings_defaults(&s);
                assert_int_equal(load_argv(&s, argv, NULL), 1);
                assert_int_equal(s.count, 8);
                conf_free(&test_prog, &s);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_duration_units),
                cmocka_unit_test(test_duration_plain_number_is_seconds),
                cmocka_unit_test(test_duration_invalid),
                cmocka_unit_test(test_duration_overflow),
                cmocka_unit_test(test_set_uint_in_range),
                cmocka_unit_test(test_set_uint_out_of_range),
                cmocka_unit_test(test_set_uint_not_a_number),
                cmocka_unit_test(test_set_uint_without_range),
                cmocka_unit_test(test_set_duration),
                cmocka_unit_test(test_set_string_replaces),
                cmocka_unit_test(test_set_log_level),
                cmocka_unit_test(test_load_section_beats_common),
                cmocka_unit_test(test_load_defaults_kept),
                cmocka_unit_test(test_load_options_win),
                cmocka_unit_test(test_load_options_in_order),
                cmocka_unit_test(test_load_unknown_key_in_section),
                cmocka_unit_test(test_load_unknown_key_in_common),
                cmocka_unit_test(test_load_bad_value_in_file),
                cmocka_unit_test(test_load_syntax_error),
                cmocka_unit_test(test_load_bad_option_value),
                cmocka_unit_test(test_load_unknown_option_and_argument),
                cmocka_unit_test(test_load_help),
                cmocka_unit_test(test_load_version),
                cmocka_unit_test(test_load_missing_explicit_config),
                cmocka_unit_test(test_load_missing_default_config),
                cmocka_unit_test(test_load_directories),
                cmocka_unit_test(test_load_twice_resets_getopt),
        };

        return cmocka_run_group_tests_name("conf", tests, NULL, NULL);
}
