/* SPDX-License-Identifier: MIT */
#include <stdint.h>

#include "utf8.h"

size_t utf8_sequence(const char *str, size_t len) {
        const unsigned char *s = (const unsigned char *) str;
        unsigned char c = s[0];
        size_t n;
        uint32_t cp;

        if (c < 0x80)
                return 1;
        if (c >= 0xc2 && c <= 0xdf)
                n = 2, cp = c & 0x1f;
        else if (c >= 0xe0 && c <= 0xef)
                n = 3, cp = c & 0x0f;
        else if (c >= 0xf0 && c <= 0xf4)
                n = 4, cp = c & 0x07;
        else
                return 0;
        if (len < n)
                return 0;
        for (size_t i = 1; i < n; i++) {
                if ((s[i] & 0xc0) != 0x80)
                        return 0;
                cp = (cp << 6) | (s[i] & 0x3f);
        }
        if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) || (cp >= 0xd800 && cp <= 0xdfff))
                return 0;
        return n;
}

bool utf8_is_text(const char *s, size_t len, size_t min_chars, size_t max_chars) {
        size_t chars = 0;

        for (size_t i = 0; i < len;) {
                unsigned char c = (unsigned char) s[i];
                size_t n = utf8_sequence(s + i, len - i);

                if (n == 0 || c < 0x20 || c == 0x7f)
                        return false;
                /* C1 controls U+0080-U+009F are encoded as C2 80-C2 9F. */
                if (n == 2 && c == 0xc2 && (unsigned char) s[i + 1] < 0xa0)
                        return false;
                i += n;
                chars++;
        }
        return chars >= min_chars && chars <= max_chars;
}
