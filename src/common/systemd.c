/* SPDX-License-Identifier: MIT */
#include <stdarg.h>
#include <stdio.h>
#include <sys/socket.h>
#include <systemd/sd-daemon.h>

#include "systemd.h"

int systemd_listen_sockets(void) {
        int n = sd_listen_fds(/* unset_environment= */ 1);
        if (n < 0)
                return n;
        for (int fd = SD_LISTEN_FDS_START; fd < SD_LISTEN_FDS_START + n; fd++)
                if (sd_is_socket(fd, AF_UNSPEC, SOCK_STREAM, /* listening= */ 1) <= 0)
                        return -ENOTSOCK;
        return n;
}

void systemd_notify_ready(const char *status) {
        (void) sd_notifyf(0, "READY=1\nSTATUS=%s", status);
}

void systemd_notify_statusf(const char *format, ...) {
        char status[256];
        va_list ap;

        va_start(ap, format);
        (void) vsnprintf(status, sizeof(status), format, ap);
        va_end(ap);
        (void) sd_notifyf(0, "STATUS=%s", status);
}

void systemd_notify_stopping(const char *status) {
        (void) sd_notifyf(0, "STOPPING=1\nSTATUS=%s", status);
}

void systemd_notify_watchdog(void) {
        (void) sd_notify(0, "WATCHDOG=1");
}

uint64_t systemd_watchdog_usec(void) {
        uint64_t usec = 0;
        if (sd_watchdog_enabled(/* unset_environment= */ 0, &usec) <= 0)
                return 0;
        return usec;
}
