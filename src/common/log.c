/* SPDX-License-Identifier: MIT */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"

static const char *log_ident = "grades";
static bool log_prefix_ident = true;
static int log_max_level = LOG_INFO;
static log_sink_t log_sink;
static int log_sink_level;
static void *log_sink_userdata;

static const char *const level_names[] = {
        "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug",
};

void log_setup(const char *ident) {
        log_ident = ident;
        /* journald knows which unit wrote the line; a terminal does not. */
        log_prefix_ident = getenv("JOURNAL_STREAM") == NULL;
        setvbuf(stderr, NULL, _IOLBF, 0);
}

void log_set_max_level(int level) {
        log_max_level = level;
}

int log_get_max_level(void) {
        return log_max_level;
}

int log_level_from_string(const char *s) {
        if (s[0] >= '0' && s[0] <= '7' && s[1] == '\0')
                return s[0] - '0';
        for (size_t i = 0; i < ELEMENTSOF(level_names); i++)
                if (strcasecmp(s, level_names[i]) == 0)
                        return (int) i;
        if (strcasecmp(s, "error") == 0)
                return LOG_ERR;
        if (strcasecmp(s, "warn") == 0)
                return LOG_WARNING;
        return -EINVAL;
}

const char *log_level_to_string(int level) {
        if (level < 0 || level >= (int) ELEMENTSOF(level_names))
                return "unknown";
        return level_names[level];
}

void log_set_sink(log_sink_t sink, int max_level, void *userdata) {
        log_sink = sink;
        log_sink_level = max_level;
        log_sink_userdata = userdata;
}

int log_internal(int level, int error, const char *format, ...) {
        char message[2048];
        va_list ap;
        int saved_errno = errno;

        if (error < 0)
                error = -error;
        errno = error;
        va_start(ap, format);
        (void) vsnprintf(message, sizeof(message), format, ap);
        va_end(ap);

        /* One line per message: a newline inside would split a journal entry. */
        for (char *p = message; *p; p++)
                if (*p == '\n' || *p == '\r')
                        *p = ' ';

        if (log_prefix_ident)
                fprintf(stderr, "<%d>%s: %s\n", level, log_ident, message);
        else
                fprintf(stderr, "<%d>%s\n", level, message);

        if (log_sink && level <= log_sink_level) {
                log_sink_t sink = log_sink;
                /* A sink that logs must not recurse into itself. */
                log_sink = NULL;
                sink(level, message, log_sink_userdata);
                log_sink = sink;
        }

        errno = saved_errno;
        return -error;
}
