// test.h -- the project's tiny test kit (about the size of redis testhelp.h).
//
//   TEST(name) { CHECK(x == 1); CHECK_CLOSE(a, b, 1e-6, 1e-5); }
//   int main(void) { RUN(name); return test_report("test_foo"); }
//
// CHECK counts one assertion; a test passes when all its assertions hold. test_report()
// prints "<suite>: N passed, N failed" and returns non-zero on any failure, which the runner
// (tests/run_tests.sh) sums into the final "N passed, N failed" line.
// check_tensor() follows STYLE.md §17: |x - ref| <= atol + rtol*|ref|; on failure it prints
// max_abs, max_rel, the worst index and the first 5 offending pairs. NaN never passes.
#ifndef T2I_TEST_H
#define T2I_TEST_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int test_cur_failed, test_passed, test_failed;
static const char *test_cur_name = "";

#define CHECK(cond)                                                                   \
    do {                                                                              \
        if (!(cond)) {                                                                \
            fprintf(stderr, "  FAIL %s (%s:%d): %s\n", test_cur_name, __FILE__, __LINE__, \
                    #cond);                                                           \
            test_cur_failed = 1;                                                      \
        }                                                                             \
    } while (0)

// Like CHECK, with a printf-style explanation.
#define CHECKF(cond, ...)                                                             \
    do {                                                                              \
        if (!(cond)) {                                                                \
            fprintf(stderr, "  FAIL %s (%s:%d): %s: ", test_cur_name, __FILE__, __LINE__, \
                    #cond);                                                           \
            fprintf(stderr, __VA_ARGS__);                                             \
            fputc('\n', stderr);                                                      \
            test_cur_failed = 1;                                                      \
        }                                                                             \
    } while (0)

#define CHECK_CLOSE(a, b, atol, rtol)                                                  \
    do {                                                                               \
        double ca_ = (double)(a), cb_ = (double)(b);                                   \
        if (!(fabs(ca_ - cb_) <= (atol) + (rtol) * fabs(cb_))) {                       \
            fprintf(stderr, "  FAIL %s (%s:%d): %s = %.17g, expected %s = %.17g (|d| = %.3g)\n", \
                    test_cur_name, __FILE__, __LINE__, #a, ca_, #b, cb_, fabs(ca_ - cb_)); \
            test_cur_failed = 1;                                                       \
        }                                                                              \
    } while (0)

#define TEST(name) static void name(void)

// T2I_TEST_ONLY=a,b runs only the tests named a and b (tools/mutate.py uses it for the slow
// binaries); unset or empty runs them all.
static inline int test_selected(const char *name) {
    const char *p = getenv("T2I_TEST_ONLY");
    if (!p || !*p) return 1;
    size_t n = strlen(name);
    for (;;) {
        const char *e = strchr(p, ',');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        if (l == n && memcmp(p, name, n) == 0) return 1;
        if (!e) return 0;
        p = e + 1;
    }
}

#define RUN(name)                                                         \
    do {                                                                  \
        if (!test_selected(#name)) break;                                 \
        test_cur_name = #name;                                            \
        test_cur_failed = 0;                                              \
        name();                                                           \
        if (test_cur_failed) {                                            \
            test_failed++;                                                \
            fprintf(stderr, "FAILED %s\n", #name);                        \
        } else {                                                          \
            test_passed++;                                                \
            if (getenv("T2I_TEST_VERBOSE")) fprintf(stderr, "ok %s\n", #name); \
        }                                                                 \
    } while (0)

// Compares n floats; returns 1 when all are within tolerance. `what` names the tensor.
static inline int check_tensor(const char *what, const float *x, const float *ref, size_t n,
                               double atol, double rtol) {
    double max_abs = 0, max_rel = 0;
    size_t worst = 0, bad = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)x[i] - (double)ref[i]);
        double r = d / (fabs((double)ref[i]) + 1e-30);
        int ok = d <= atol + rtol * fabs((double)ref[i]);
        if (isnan(d)) d = INFINITY;
        if (d > max_abs || (!ok && bad == 0)) {
            max_abs = d;
            worst = i;
        }
        if (r > max_rel) max_rel = r;
        if (!ok) {
            if (bad < 5)
                fprintf(stderr, "    %s[%zu]: got %.9g, expected %.9g\n", what, i, x[i], ref[i]);
            bad++;
        }
    }
    if (bad) {
        fprintf(stderr,
                "  FAIL %s: %s: %zu of %zu outside atol %.3g rtol %.3g; max_abs %.3g max_rel %.3g "
                "at [%zu]\n",
                test_cur_name, what, bad, n, atol, rtol, max_abs, max_rel, worst);
        test_cur_failed = 1;
        return 0;
    }
    return 1;
}

// Directory of the read-only oracle fixtures: $T2I_FIXTURES or ../shared/fixtures (CI keeps
// shared/ beside the clone).
static inline const char *test_fixtures_dir(void) {
    const char *d = getenv("T2I_FIXTURES");
    return d && *d ? d : "../shared/fixtures";
}

static inline const char *test_fixture_path(char *buf, size_t n, const char *rel) {
    snprintf(buf, n, "%s/%s", test_fixtures_dir(), rel);
    return buf;
}

// Fills n floats with NaN (outputs are poisoned before each kernel call).
static inline void test_poison(float *x, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] = NAN;
}

static inline int test_report(const char *suite) {
    printf("%s: %d passed, %d failed\n", suite, test_passed, test_failed);
    return test_failed ? 1 : 0;
}

#endif
