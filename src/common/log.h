/* SPDX-License-Identifier: MIT */
#pragma once

/* Logging for daemon code. Each line goes to stderr with a "<N>" priority
 * prefix that journald turns into the entry's PRIORITY=; outside the journal
 * the program name is added so that several daemons in one terminal can be
 * told apart. Library code in src/common logs at debug at most. */

#include <stdarg.h>
#include <syslog.h>

#include "macro.h"

void log_setup(const char *ident);
void log_set_max_level(int level);
int log_get_max_level(void);
/* Parses "err", "warning", "info", "debug", ... or a number 0-7. */
int log_level_from_string(const char *s);
const char *log_level_to_string(int level);

/* Receives every line at or above its level after it was written to stderr:
 * the hook the central-log shipper attaches to. */
typedef void (*log_sink_t)(int level, const char *message, void *userdata);
void log_set_sink(log_sink_t sink, int max_level, void *userdata);

/* Logs and returns -abs(error) (or 0 when error is 0), so that
 * "return log_error_errno(r, ...)" logs and propagates in one line.
 * While formatting, errno is set to abs(error) so %m works. */
int log_internal(int level, int error, const char *format, ...) _printf_(3, 4);

#define log_full_errno(level, error, ...)                                                                              \
        ({                                                                                                             \
                int _level = (level), _e = (error);                                                                    \
                _level <= log_get_max_level() ? log_internal(_level, _e, __VA_ARGS__) : (_e > 0 ? -_e : _e);           \
        })
#define log_full(level, ...) (void) log_full_errno(level, 0, __VA_ARGS__)

#define log_debug(...)   log_full(LOG_DEBUG, __VA_ARGS__)
#define log_info(...)    log_full(LOG_INFO, __VA_ARGS__)
#define log_notice(...)  log_full(LOG_NOTICE, __VA_ARGS__)
#define log_warning(...) log_full(LOG_WARNING, __VA_ARGS__)
#define log_error(...)   log_full(LOG_ERR, __VA_ARGS__)

#define log_debug_errno(e, ...)   log_full_errno(LOG_DEBUG, e, __VA_ARGS__)
#define log_info_errno(e, ...)    log_full_errno(LOG_INFO, e, __VA_ARGS__)
#define log_warning_errno(e, ...) log_full_errno(LOG_WARNING, e, __VA_ARGS__)
#define log_error_errno(e, ...)   log_full_errno(LOG_ERR, e, __VA_ARGS__)

#define log_oom() log_error_errno(ENOMEM, "Out of memory.")
