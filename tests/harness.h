// harness.h — a tiny test harness: CHECK / CHECK_NEAR print file:line and the values on failure;
// SKIP(why) records a check that could not run here and prints "skipped: <why>" (a skip is never
// silent, and never a pass); test_summary() prints "N passed, M failed, K skipped" and returns
// the exit status (non-zero on failure).
#ifndef MOESIM_HARNESS_H
#define MOESIM_HARNESS_H

#include <math.h>
#include <stdio.h>

static int test_passed, test_failed, test_skipped;

#define CHECK(cond) do { \
    if (cond) test_passed++; \
    else { test_failed++; fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); } \
} while (0)

// |a - b| <= atol + rtol*|b|, and both finite.
#define CHECK_NEAR(a, b, atol, rtol) do { \
    double a_ = (double)(a), b_ = (double)(b); \
    if (isfinite(a_) && isfinite(b_) && fabs(a_ - b_) <= (atol) + (rtol) * fabs(b_)) test_passed++; \
    else { test_failed++; fprintf(stderr, "%s:%d: CHECK_NEAR failed: %s = %.9g, %s = %.9g (atol %g, rtol %g)\n", \
                                  __FILE__, __LINE__, #a, a_, #b, b_, (double)(atol), (double)(rtol)); } \
} while (0)

#define CHECK_MSG(cond, ...) do { \
    if (cond) test_passed++; \
    else { test_failed++; fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond); \
           fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); } \
} while (0)

#define SKIP(...) do { \
    test_skipped++; printf("%s:%d: skipped: ", __FILE__, __LINE__); printf(__VA_ARGS__); putchar('\n'); \
} while (0)

static inline int test_summary(const char *name) {
    printf("%s: %d passed, %d failed, %d skipped\n", name, test_passed, test_failed, test_skipped);
    return test_failed ? 1 : 0;
}

#endif
