/* SPDX-License-Identifier: MIT */
#pragma once

/* Small language helpers shared by every file: cleanup attributes in the
 * style of systemd, array sizes and ownership transfer. */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define _cleanup_(f)   __attribute__((cleanup(f)))
#define _unused_       __attribute__((unused))
#define _printf_(a, b) __attribute__((format(printf, a, b)))

#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))

/* Hands a pointer out of a _cleanup_ variable: returns it and leaves NULL. */
#define TAKE_PTR(p)                                                                                                    \
        ({                                                                                                             \
                typeof(p) _p = (p);                                                                                    \
                (p) = NULL;                                                                                            \
                _p;                                                                                                    \
        })

#define DEFINE_TRIVIAL_CLEANUP_FUNC(type, func)                                                                        \
        static inline void func##p(type *p) {                                                                          \
                if (*p)                                                                                                \
                        func(*p);                                                                                      \
        }

static inline void freep(void *p) {
        free(*(void **) p);
}
#define _cleanup_free_ _cleanup_(freep)

static inline void closep(int *fd) {
        if (*fd >= 0)
                (void) close(*fd);
}
#define _cleanup_close_ _cleanup_(closep)

static inline void fclosep(FILE **f) {
        if (*f)
                (void) fclose(*f);
}
#define _cleanup_fclose_ _cleanup_(fclosep)

/* Frees a NULL-terminated array of strings and the array itself. */
static inline void strv_free(char **v) {
        if (!v)
                return;
        for (char **s = v; *s; s++)
                free(*s);
        free(v);
}
DEFINE_TRIVIAL_CLEANUP_FUNC(char **, strv_free);
#define _cleanup_strv_free_ _cleanup_(strv_freep)

static inline int negative_errno(void) {
        return errno > 0 ? -errno : -EIO;
}

#define streq(a, b) (strcmp((a), (b)) == 0)

/* main() for a daemon whose run() returns 0, 1 to mean "exit 0 now", or a
 * negative errno: the exit status is 0 or 1. */
#define DEFINE_MAIN_FUNCTION(run)                                                                                      \
        int main(int argc, char **argv) {                                                                              \
                int _r = run(argc, argv);                                                                              \
                return _r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;                                                           \
        }
