/* Test harness over cmocka: one cmocka group per test program (each program
 * is its own process); typed asserts that print both values; skipping with a
 * reason. A program whose every test was skipped exits 77, which Meson
 * counts as SKIP. */
#ifndef VMRT_TEST_HARNESS_H
#define VMRT_TEST_HARNESS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#define ASSERT_EQ(a, b)            assert_int_equal((a), (b))
#define ASSERT_NE(a, b)            assert_int_not_equal((a), (b))
#define ASSERT_TRUE(x)             assert_true(x)
#define ASSERT_FALSE(x)            assert_false(x)
#define ASSERT_NULL(x)             assert_null(x)
#define ASSERT_NOT_NULL(x)         assert_non_null(x)
#define ASSERT_STR_EQ(a, b)        assert_string_equal((a), (b))
#define ASSERT_OK(expr)            assert_int_equal((expr), 0)
#define ASSERT_IN_RANGE(v, lo, hi) assert_in_range((v), (lo), (hi))

extern int vt_skipped;
extern int vt_total;

/* Skips the current test, printing why. */
#define VT_SKIP(...)                                                                               \
    do {                                                                                           \
        fprintf(stderr, "SKIP: ");                                                                 \
        fprintf(stderr, __VA_ARGS__);                                                              \
        fputc('\n', stderr);                                                                       \
        vt_skipped++;                                                                              \
        skip();                                                                                    \
    } while (0)

#define VT_DEFINE_GLOBALS int vt_skipped, vt_total

/* Runs the group; exit status 0 pass, 1 fail, 77 all skipped. */
#define VT_RUN(name, tests)                                                                        \
    do {                                                                                           \
        vt_total = (int)(sizeof(tests) / sizeof((tests)[0]));                                      \
        int vt_failed =                                                                            \
            _cmocka_run_group_tests(name, tests, sizeof(tests) / sizeof((tests)[0]), NULL, NULL);  \
        if (vt_failed)                                                                             \
            return 1;                                                                              \
        return vt_skipped == vt_total ? 77 : 0;                                                    \
    } while (0)

#endif
