/* SPDX-License-Identifier: MIT */
#pragma once

/* Included by cmocka tests after <cmocka.h>. */

#include <stdio.h>

/* cmocka's TAP output drops fail_msg()'s text: say it as a TAP diagnostic. */
#undef fail_msg
#define fail_msg(...)                                                                                                  \
        do {                                                                                                           \
                printf("# ");                                                                                          \
                printf(__VA_ARGS__);                                                                                   \
                printf("\n");                                                                                          \
                fflush(stdout);                                                                                        \
                fail();                                                                                                \
        } while (0)
