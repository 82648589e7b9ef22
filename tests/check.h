/*
 * A small assertion kit for the C tests.
 *
 * Each test file is one executable that CTest runs. CHECK prints the
 * failing expression with its file and line and counts the failure, so
 * one run reports every broken case; main returns check_summary(),
 * which prints the totals and exits nonzero on any failure.
 */
#ifndef JOURNEY_TESTS_CHECK_H
#define JOURNEY_TESTS_CHECK_H

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static int check_failures;
static int check_count;

#define CHECK(cond)                                                        \
    do {                                                                   \
        check_count++;                                                     \
        if (!(cond)) {                                                     \
            check_failures++;                                              \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__,         \
                    __LINE__, #cond);                                      \
        }                                                                  \
    } while (0)

#define CHECK_INT_EQ(actual, expected)                                     \
    do {                                                                   \
        long long check_a_ = (long long)(actual);                          \
        long long check_e_ = (long long)(expected);                        \
        check_count++;                                                     \
        if (check_a_ != check_e_) {                                        \
            check_failures++;                                              \
            fprintf(stderr, "%s:%d: %s is %lld, expected %lld\n",          \
                    __FILE__, __LINE__, #actual, check_a_, check_e_);      \
        }                                                                  \
    } while (0)

#define CHECK_STR_EQ(actual, expected)                                     \
    do {                                                                   \
        const char *check_a_ = (actual);                                   \
        const char *check_e_ = (expected);                                 \
        check_count++;                                                     \
        if (check_a_ == NULL || strcmp(check_a_, check_e_) != 0) {         \
            check_failures++;                                              \
            fprintf(stderr, "%s:%d: %s is \"%s\", expected \"%s\"\n",      \
                    __FILE__, __LINE__, #actual,                           \
                    check_a_ ? check_a_ : "(null)", check_e_);             \
        }                                                                  \
    } while (0)

/* Checks that haystack contains needle, for error messages. */
#define CHECK_CONTAINS(haystack, needle)                                   \
    do {                                                                   \
        const char *check_h_ = (haystack);                                 \
        check_count++;                                                     \
        if (check_h_ == NULL || strstr(check_h_, (needle)) == NULL) {      \
            check_failures++;                                              \
            fprintf(stderr, "%s:%d: \"%s\" does not contain \"%s\"\n",     \
                    __FILE__, __LINE__, check_h_ ? check_h_ : "(null)",    \
                    (needle));                                             \
        }                                                                  \
    } while (0)

/* Returns the next value of a xorshift64 generator, for tests that need
 * the same random cases on every run. The state must not be zero. */
static inline uint64_t check_random(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *state = x;
    return x;
}

static inline int check_summary(const char *name)
{
    printf("%s: %d checks, %d failed\n", name, check_count, check_failures);
    return check_failures == 0 ? 0 : 1;
}

#endif
