/* SPDX-License-Identifier: MIT */
#pragma once

/* Every call into systemd lives here: listening sockets passed by socket
 * activation, readiness and status notifications, and the watchdog. Outside
 * systemd each of these is a silent no-op. */

#include <stdint.h>

#include "macro.h"

/* Returns how many sockets systemd passed (starting at fd 3), 0 if none, or a
 * negative errno when one of them is not a listening stream socket. */
int systemd_listen_sockets(void);
void systemd_notify_ready(const char *status);
void systemd_notify_statusf(const char *format, ...) _printf_(1, 2);
void systemd_notify_stopping(const char *status);
void systemd_notify_watchdog(void);
/* Returns the watchdog interval in microseconds, or 0 when it is off. */
uint64_t systemd_watchdog_usec(void);
