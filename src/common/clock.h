/* SPDX-License-Identifier: MIT */
#pragma once

/* Wall-clock times as the wire shows them: RFC 3339, UTC, milliseconds.
 * (Monotonic time for timers is now_ms() in timer.h.) */

#include <stdint.h>

int64_t now_epoch_ms(void);
/* "2026-11-25T12:21:08.123Z" */
void format_time_ms(int64_t ms, char buf[static 32]);
/* Accepts "2026-11-25T12:21:08Z" with optional fraction; UTC only. */
int parse_rfc3339_ms(const char *s, int64_t *ret_ms);
