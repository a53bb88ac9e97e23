/* SPDX-License-Identifier: MIT */
#include <stdarg.h>
#include <string.h>

#include "buf.h"

static bool reserve(struct buf *b, size_t more) {
        size_t want = b->len + more + 1, n;
        char *p;

        if (b->failed)
                return false;
        if (want <= b->allocated)
                return true;
        n = b->allocated ? b->allocated : 256;
        while (n < want)
                n *= 2;
        p = realloc(b->data, n);
        if (!p) {
                b->failed = true;
                return false;
        }
        b->data = p;
        b->allocated = n;
        return true;
}

void buf_append(struct buf *b, const void *data, size_t len) {
        if (!reserve(b, len))
                return;
        memcpy(b->data + b->len, data, len);
        b->len += len;
        b->data[b->len] = '\0';
}

void buf_appendf(struct buf *b, const char *format, ...) {
        va_list ap;
        int n;

        va_start(ap, format);
        n = vsnprintf(NULL, 0, format, ap);
        va_end(ap);
        if (n < 0 || !reserve(b, (size_t) n))
                return;
        va_start(ap, format);
        vsnprintf(b->data + b->len, (size_t) n + 1, format, ap);
        va_end(ap);
        b->len += (size_t) n;
}

void buf_done(struct buf *b) {
        free(b->data);
        *b = (struct buf){ 0 };
}
