/* SPDX-License-Identifier: MIT */
#include <getopt.h>
#include <ini.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <string.h>
#include <syslog.h>

#include "conf.h"
#include "log.h"

#ifndef SYSCONFDIR
#define SYSCONFDIR "/etc"
#endif
#define DEFAULT_CONFIG_FILE SYSCONFDIR "/grades/grades.conf"

#define COMMON(field) offsetof(struct conf_common, field)

static const struct conf_key common_keys[] = {
        { "listen", CONF_STRING, COMMON(listen), "HOST:PORT", "address to listen on when systemd passes no socket" },
        { "registry", CONF_STRING, COMMON(registry), "URL", "URL of the registry service" },
        { "advertise", CONF_STRING, COMMON(advertise), "URL",
          "URL this daemon registers as (default: derived from the listening socket)" },
        { "state-directory", CONF_STRING, COMMON(state_directory), "DIR",
          "where persistent state lives (default: $STATE_DIRECTORY, else the current directory)" },
        { "logs-directory", CONF_STRING, COMMON(logs_directory), "DIR",
          "where log files live (default: $LOGS_DIRECTORY, else the current directory)" },
        { "log-level", CONF_LOG_LEVEL, COMMON(log_level), "LEVEL", "err, warning, notice, info or debug" },
        { "log-queue", CONF_UINT, COMMON(log_queue), "LINES",
          "lines kept for the central log while it is unreachable (default 10000)", 1, 10000000 },
        { "static-providers", CONF_STRING, COMMON(static_providers), "NAME=URL...",
          "where to find required services while the registry knows none (default none)" },
};

/* The keys of a program: common ones, then its own. */
struct key_iter {
        const struct conf_program *prog;
        size_t i;
};

static const struct conf_key *key_next(struct key_iter *it) {
        size_t n_common = ELEMENTSOF(common_keys);
        size_t i = it->i++;
        if (i < n_common)
                return &common_keys[i];
        if (i - n_common < it->prog->n_keys)
                return &it->prog->keys[i - n_common];
        return NULL;
}

static const struct conf_key *key_find(const struct conf_program *prog, const char *name) {
        struct key_iter it = { prog, 0 };
        for (const struct conf_key *k; (k = key_next(&it));)
                if (streq(k->name, name))
                        return k;
        return NULL;
}

int conf_parse_duration(const char *s, uint64_t *ret_ms) {
        static const struct {
                const char *suffix;
                uint64_t ms;
        } units[] = {
                { "ms", 1 },    { "s", 1000 },    { "sec", 1000 }, { "min", 60000 },
                { "m", 60000 }, { "h", 3600000 }, { "", 1000 },
        };
        char *end;
        uint64_t v;

        if (!s || *s < '0' || *s > '9')
                return -EINVAL;
        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno)
                return -errno;
        for (size_t i = 0; i < ELEMENTSOF(units); i++)
                if (streq(end, units[i].suffix)) {
                        if (v > UINT64_MAX / units[i].ms)
                                return -ERANGE;
                        *ret_ms = v * units[i].ms;
                        return 0;
                }
        return -EINVAL;
}

_printf_(2, 3) static int asprintf_error(char **ret_error, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        if (ret_error && vasprintf(ret_error, fmt, ap) < 0)
                *ret_error = NULL;
        va_end(ap);
        return -EINVAL;
}

int conf_set(const struct conf_key *key, void *settings, const char *value, char **ret_error) {
        void *field = (char *) settings + key->offset;
        uint64_t v;
        char *end;

        switch (key->type) {
        case CONF_STRING: {
                char *copy = strdup(value);
                if (!copy)
                        return -ENOMEM;
                free(*(char **) field);
                *(char **) field = copy;
                return 0;
        }
        case CONF_UINT:
                if (*value < '0' || *value > '9')
                        return asprintf_error(ret_error, "%s: not a number: '%s'", key->name, value);
                errno = 0;
                v = strtoull(value, &end, 10);
                if (errno || *end)
                        return asprintf_error(ret_error, "%s: not a number: '%s'", key->name, value);
                break;
        case CONF_DURATION:
                if (conf_parse_duration(value, &v) < 0)
                        return asprintf_error(ret_error, "%s: not a duration (like 500ms, 3s, 1min): '%s'", key->name,
                                              value);
                break;
        case CONF_LOG_LEVEL: {
                int level = log_level_from_string(value);
                if (level < 0)
                        return asprintf_error(ret_error, "%s: unknown log level '%s'", key->name, value);
                *(int *) field = level;
                return 0;
        }
        default: return -EINVAL;
        }

        if ((key->min || key->max) && (v < key->min || v > key->max)) {
                if (ret_error && asprintf(ret_error, "%s: %s is out of range (%" PRIu64 "..%" PRIu64 "%s)", key->name,
                                          value, key->min, key->max, key->type == CONF_DURATION ? " ms" : "") < 0)
                        *ret_error = NULL;
                return -ERANGE;
        }
        *(uint64_t *) field = v;
        return 0;
}

struct ini_state {
        const struct conf_program *prog;
        void *settings;
        const char *pass; /* the section read in this pass */
        const char *file;
        int r;
};

static int on_ini_entry(void *userdata, const char *section, const char *name, const char *value) {
        struct ini_state *st = userdata;
        const struct conf_key *key;
        _cleanup_free_ char *error = NULL;

        if (!streq(section, "common") && !streq(section, st->prog->section))
                return 1; /* another daemon's section */
        if (!streq(section, st->pass))
                return 1;
        key = key_find(st->prog, name);
        if (!key || streq(name, "config")) {
                fprintf(stderr, "%s: %s: unknown key '%s' in [%s]\n", st->prog->name, st->file, name, section);
                st->r = -EINVAL;
                return 0;
        }
        if (conf_set(key, st->settings, value, &error) < 0) {
                fprintf(stderr, "%s: %s: [%s] %s\n", st->prog->name, st->file, section, error ?: "invalid value");
                st->r = -EINVAL;
                return 0;
        }
        return 1;
}

static int load_file(const struct conf_program *prog, void *settings, const char *file, bool explicit) {
        _cleanup_fclose_ FILE *f = fopen(file, "re");
        const char *passes[] = { "common", prog->section };

        if (!f) {
                if (errno == ENOENT && !explicit)
                        return 0;
                fprintf(stderr, "%s: cannot read %s: %m\n", prog->name, file);
                return -errno;
        }
        for (size_t i = 0; i < ELEMENTSOF(passes); i++) {
                struct ini_state st = { prog, settings, passes[i], file, 0 };
                int line;

                rewind(f);
                line = ini_parse_file(f, on_ini_entry, &st);
                if (st.r < 0)
                        return st.r;
                if (line != 0) {
                        fprintf(stderr, "%s: %s:%d: syntax error\n", prog->name, file, line);
                        return -EINVAL;
                }
        }
        return 0;
}

static void print_help(const struct conf_program *prog) {
        struct key_iter it = { prog, 0 };

        printf("Usage: %s [OPTION]...\n%s\n\n", prog->name, prog->description);
        printf("Settings are read from [common] and [%s] in the config file, then from\n"
               "these options, which win:\n\n",
               prog->section);
        printf("  %-30s %s\n", "--config=FILE", "config file (default " DEFAULT_CONFIG_FILE ")");
        for (const struct conf_key *k; (k = key_next(&it));) {
                char opt[64];
                snprintf(opt, sizeof(opt), "--%s=%s", k->name, k->metavar);
                printf("  %-30s %s\n", opt, k->help);
        }
        printf("  %-30s %s\n  %-30s %s\n", "-h, --help", "show this help and exit", "--version",
               "show the version and exit");
}

enum { OPT_HELP = 'h', OPT_VERSION = 0x100, OPT_CONFIG, OPT_KEY_BASE = 0x200 };

int conf_load(const struct conf_program *prog, void *settings, int argc, char **argv) {
        struct conf_common *common = settings;
        size_t n_keys = ELEMENTSOF(common_keys) + prog->n_keys;
        _cleanup_free_ struct option *options = calloc(n_keys + 4, sizeof(struct option));
        /* Options are applied after the file, in the order given. */
        _cleanup_free_ int *given_key = calloc(argc + 1, sizeof(int));
        _cleanup_free_ char **given_value = calloc(argc + 1, sizeof(char *));
        size_t n_given = 0;
        bool explicit_config = false;
        struct key_iter it = { prog, 0 };
        int c, r;

        if (!options || !given_key || !given_value)
                return -ENOMEM;

        options[0] = (struct option){ "help", no_argument, NULL, OPT_HELP };
        options[1] = (struct option){ "version", no_argument, NULL, OPT_VERSION };
        options[2] = (struct option){ "config", required_argument, NULL, OPT_CONFIG };
        for (size_t i = 0; i < n_keys; i++)
                options[3 + i] =
                        (struct option){ key_next(&it)->name, required_argument, NULL, OPT_KEY_BASE + (int) i };

        optind = 0;
        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case OPT_HELP: print_help(prog); return 0;
                case OPT_VERSION: printf("%s (%s) %s\n", prog->name, PACKAGE_NAME, PACKAGE_VERSION); return 0;
                case OPT_CONFIG:
                        r = conf_set(
                                &(struct conf_key){ "config", CONF_STRING, offsetof(struct conf_common, config_file) },
                                settings, optarg, NULL);
                        if (r < 0)
                                return r;
                        explicit_config = true;
                        break;
                case '?': fprintf(stderr, "Try '%s --help' for more information.\n", prog->name); return -EINVAL;
                default: given_key[n_given] = c - OPT_KEY_BASE; given_value[n_given++] = optarg;
                }
        if (optind < argc) {
                fprintf(stderr, "%s: unexpected argument '%s'\nTry '%s --help' for more information.\n", prog->name,
                        argv[optind], prog->name);
                return -EINVAL;
        }

        r = load_file(prog, settings, common->config_file ?: DEFAULT_CONFIG_FILE, explicit_config);
        if (r < 0)
                return r;

        for (size_t i = 0; i < n_given; i++) {
                _cleanup_free_ char *error = NULL;
                struct key_iter kit = { prog, 0 };
                const struct conf_key *k = NULL;

                for (int j = 0; j <= given_key[i]; j++)
                        k = key_next(&kit);
                r = conf_set(k, settings, given_value[i], &error);
                if (r < 0) {
                        fprintf(stderr, "%s: --%s\n", prog->name, error ?: "invalid value");
                        return r;
                }
        }

        /* Outside systemd, take the directories the way systemd would pass them. */
        if (!common->state_directory &&
            (r = conf_set(key_find(prog, "state-directory"), settings, getenv("STATE_DIRECTORY") ?: ".", NULL)) < 0)
                return r;
        if (!common->logs_directory &&
            (r = conf_set(key_find(prog, "logs-directory"), settings, getenv("LOGS_DIRECTORY") ?: ".", NULL)) < 0)
                return r;
        return 1;
}

void conf_free(const struct conf_program *prog, void *settings) {
        struct conf_common *common = settings;
        struct key_iter it = { prog, 0 };

        free(common->config_file);
        common->config_file = NULL;
        for (const struct conf_key *k; (k = key_next(&it));)
                if (k->type == CONF_STRING) {
                        char **p = (char **) ((char *) settings + k->offset);
                        free(*p);
                        *p = NULL;
                }
}
