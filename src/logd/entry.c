/* SPDX-License-Identifier: MIT */
#include <string.h>

#include "http.h"
#include "log.h"
#include "logd.h"
#include "registration.h"
#include "utf8.h"

void log_escape(struct buf *out, const char *s, size_t len, const char *extra) {
        const unsigned char *p = (const unsigned char *) s;

        for (size_t i = 0; i < len;) {
                unsigned char c = p[i];
                size_t n;

                if (c >= 0x20 && c < 0x7f && c != '\\' && !(extra && strchr(extra, c))) {
                        buf_putc(out, (char) c);
                        i++;
                        continue;
                }
                switch (c) {
                case '\\':
                        buf_append(out, "\\\\", 2);
                        i++;
                        continue;
                case '\n':
                        buf_append(out, "\\n", 2);
                        i++;
                        continue;
                case '\r':
                        buf_append(out, "\\r", 2);
                        i++;
                        continue;
                case '\t':
                        buf_append(out, "\\t", 2);
                        i++;
                        continue;
                }
                n = c >= 0x80 ? utf8_sequence(s + i, len - i) : 0;
                /* C1 controls (U+0080-U+009F) too: U+009B is a terminal's CSI. */
                if (n == 2 && c == 0xc2 && p[i + 1] < 0xa0)
                        n = 0;
                if (n > 0) {
                        buf_append(out, p + i, n);
                        i += n;
                } else {
                        buf_appendf(out, "\\x%02x", c);
                        i++;
                }
        }
}

void log_format_line(struct buf *out, const char *time, const struct log_entry *e) {
        size_t len = e->message_len > LOG_MESSAGE_MAX ? LOG_MESSAGE_MAX : e->message_len;

        buf_append(out, time, strlen(time));
        buf_append(out, " [", 2);
        log_escape(out, e->service, strlen(e->service), "]");
        const char *priority = log_level_to_string(e->priority);
        buf_append(out, "] ", 2);
        buf_append(out, priority, strlen(priority));
        buf_append(out, ": ", 2);
        log_escape(out, e->message, len, NULL);
        if (len < e->message_len)
                buf_appendf(out, " [truncated %zu bytes]", e->message_len - len);
        buf_putc(out, '\n');
}

/* The seed's services send "[GradingService] - message". */
static bool seed_prefix(const char *body, size_t len, size_t *ret_name_len) {
        const char *close;
        size_t name_len;

        if (len < 5 || body[0] != '[')
                return false;
        close = memchr(body + 1, ']', len - 1 < SERVICE_NAME_MAX + 1 ? len - 1 : SERVICE_NAME_MAX + 1);
        if (!close)
                return false;
        name_len = (size_t) (close - body - 1);
        if (len - name_len - 2 < 3 || memcmp(close + 1, " - ", 3) != 0 ||
            !utf8_is_text(body + 1, name_len, 1, SERVICE_NAME_MAX))
                return false;
        *ret_name_len = name_len;
        return true;
}

void log_entry_from_text(const char *body, size_t len, struct log_entry *ret, char service[static 65]) {
        size_t name_len;

        /* One trailing newline ends the message; it is not part of it. */
        if (len > 0 && body[len - 1] == '\n')
                len--;
        if (len > 0 && body[len - 1] == '\r')
                len--;
        *ret = (struct log_entry){
                .service = LOG_SERVICE_UNKNOWN, .priority = LOG_INFO, .message = body, .message_len = len
        };
        if (seed_prefix(body, len, &name_len)) {
                memcpy(service, body + 1, name_len);
                service[name_len] = '\0';
                ret->service = service;
                ret->message = body + name_len + 5;
                ret->message_len = len - name_len - 5;
        }
}

int log_priority_from_json(struct json_object *v) {
        if (!v)
                return LOG_INFO;
        if (json_object_is_type(v, json_type_int)) {
                int64_t p = json_object_get_int64(v);
                return p >= 0 && p <= 7 ? (int) p : -EINVAL;
        }
        if (json_object_is_type(v, json_type_string))
                return log_level_from_string(json_object_get_string(v));
        return -EINVAL;
}

int log_entry_from_json(struct json_object *o, struct log_entry *ret, const char **ret_error) {
        struct json_object *service, *message, *time;
        int priority;

        if (!json_object_is_type(o, json_type_object)) {
                *ret_error = "an entry must be an object {\"service\", \"priority\", \"message\", \"time\"}";
                return -EINVAL;
        }
        service = json_get(o, "service");
        message = json_get(o, "message");
        time = json_get(o, "time");
        if (!service || !json_object_is_type(service, json_type_string) ||
            !service_name_valid(json_object_get_string(service), (size_t) json_object_get_string_len(service))) {
                *ret_error = "\"service\" must be a name of 1-64 bytes without control characters";
                return -EINVAL;
        }
        if (!message || !json_object_is_type(message, json_type_string) || json_object_get_string_len(message) == 0) {
                *ret_error = "\"message\" must be a non-empty string";
                return -EINVAL;
        }
        priority = log_priority_from_json(json_get(o, "priority"));
        if (priority < 0) {
                *ret_error = "\"priority\" must be emerg, alert, crit, err, warning, notice, info, debug or 0-7";
                return -EINVAL;
        }
        if (time && !json_object_is_type(time, json_type_string) && !json_object_is_type(time, json_type_null)) {
                *ret_error = "\"time\" must be a string";
                return -EINVAL;
        }
        *ret = (struct log_entry){ .service = json_object_get_string(service),
                                   .priority = priority,
                                   .message = json_object_get_string(message),
                                   .message_len = (size_t) json_object_get_string_len(message) };
        return 0;
}
