/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "clock.h"

int64_t now_epoch_ms(void) {
        struct timeval tv;
        gettimeofday(&tv, NULL);
        return (int64_t) tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

void format_time_ms(int64_t ms, char buf[static 32]) {
        time_t sec = (time_t) (ms / 1000);
        struct tm tm;
        size_t n;

        gmtime_r(&sec, &tm);
        n = strftime(buf, 32, "%Y-%m-%dT%H:%M:%S", &tm);
        snprintf(buf + n, 32 - n, ".%03dZ", (int) (ms % 1000));
}

int parse_rfc3339_ms(const char *s, int64_t *ret_ms) {
        struct tm tm = { 0 };
        const char *end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
        int ms = 0;

        if (!end)
                return -EINVAL;
        if (*end == '.') {
                int digits = 0;
                for (end++; *end >= '0' && *end <= '9'; end++, digits++)
                        if (digits < 3)
                                ms = ms * 10 + (*end - '0');
                if (digits == 0)
                        return -EINVAL;
                for (; digits < 3; digits++)
                        ms *= 10;
        }
        if (strcmp(end, "Z") != 0)
                return -EINVAL;
        *ret_ms = (int64_t) timegm(&tm) * 1000 + ms;
        return 0;
}
