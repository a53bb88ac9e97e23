/* SPDX-License-Identifier: MIT */
#pragma once

/* Settings from /etc/grades/grades.conf and the command line.
 *
 * Every daemon describes its settings once, as a table of keys. Each key is
 * read from the [common] section, then from the daemon's own section, then
 * from a long option of the same name: later wins. --help is generated from
 * the same tables, so a key cannot exist in one place and not the other. */

#include <stddef.h>
#include <stdint.h>

enum conf_type {
        CONF_STRING,    /* char *, malloc'd */
        CONF_UINT,      /* uint64_t, within [min, max] */
        CONF_DURATION,  /* uint64_t milliseconds: "500ms", "3s", "1min", or plain seconds */
        CONF_LOG_LEVEL, /* int, syslog level from a name or a digit */
};

struct conf_key {
        const char *name; /* key in the file, and --name on the command line */
        enum conf_type type;
        size_t offset; /* where the value lives in the settings struct */
        const char *metavar;
        const char *help;
        uint64_t min, max;
};

/* Settings every daemon has; embedded first in each daemon's settings. */
struct conf_common {
        char *config_file;
        char *listen;
        char *registry;
        char *advertise;
        char *state_directory;
        char *logs_directory;
        int log_level;
        uint64_t log_queue; /* lines kept while the log service is unreachable */
        char *static_providers;
};

struct conf_program {
        const char *name;        /* "grades-registryd" */
        const char *section;     /* "registry" */
        const char *description; /* one line for --help */
        const struct conf_key *keys;
        size_t n_keys;
};

/* Fills settings (whose first member is a struct conf_common) from defaults
 * already in it, the config file and argv. Returns 1 to go on, 0 when the
 * program should exit successfully (--help, --version), or a negative errno
 * after printing a one-line reason to stderr. */
int conf_load(const struct conf_program *prog, void *settings, int argc, char **argv);
void conf_free(const struct conf_program *prog, void *settings);

/* Exposed for unit tests. */
int conf_parse_duration(const char *s, uint64_t *ret_ms);
int conf_set(const struct conf_key *key, void *settings, const char *value, char **ret_error);
