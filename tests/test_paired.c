// test_paired.c -- paired statistics (metrics/paired.h) on synthetic data with known answers:
//   * R-precision hits with a known difference of rates: the bootstrap interval covers it and
//     excludes zero; the same seed gives identical intervals, another seed different ones;
//   * identical runs: every resampled difference is exactly 0 (not significant);
//   * IS: point values equal inception_score() on the same logits (same splits), and a shift
//     of the logits' sharpness gives a significant difference of the right sign;
//   * FID on n < D features: the n x n Gram-matrix evaluation equals fid_from_stats on the
//     full D x D statistics, and a mean shift of run B's features is a significant increase;
//   * McNemar's exact p against hand-computed binomial sums; percentile = numpy's linear rule.
#include "test.h"

#include "fid.h"
#include "inception_score.h"
#include "paired.h"
#include "rng.h"
#include "t2i.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

// Ranks: hit (0) with probability pa / pb, deterministic from the RNG.
static void ranks(int *a, int *b, int n, double pa, double pb) {
    Rng g;
    rng_init(&g, 7, 0, 1);
    for (int i = 0; i < n; i++) {
        double u = rng_uniform(&g);
        a[i] = u < pa ? 0 : 5;
        b[i] = u < pb ? 0 : 7;   // paired: B hits wherever A hits (pb > pa), and more
    }
}

TEST(bootstrap_rp_known_difference) {
    enum { N = 400 };
    int a[N], b[N];
    ranks(a, b, N, 0.30, 0.50);
    PairedData d = {.n = N, .rank_a = a, .rank_b = b, .rp_k = 1};
    PairedDiff r1[3], r2[3], r3[3];
    int n1 = 0, n2 = 0, n3 = 0;
    CHECK(paired_bootstrap(&d, 11, 1000, r1, &n1) == T2I_OK && n1 == 1);
    CHECK(paired_bootstrap(&d, 11, 1000, r2, &n2) == T2I_OK && n2 == 1);
    CHECK(paired_bootstrap(&d, 12, 1000, r3, &n3) == T2I_OK && n3 == 1);
    CHECK(!strcmp(r1[0].metric, "rp") && r1[0].resamples == 1000);
    // The observed difference (about 20 points), the interval around it, excluding zero.
    CHECKF(r1[0].diff > 15 && r1[0].diff < 25, "diff %g", r1[0].diff);
    CHECKF(r1[0].lo < r1[0].diff && r1[0].hi > r1[0].diff && r1[0].lo > 0, "[%g, %g]", r1[0].lo,
           r1[0].hi);
    CHECK(r1[0].significant);
    // Reproducible for a seed (bit for bit), different for another.
    CHECK(memcmp(&r1[0].lo, &r2[0].lo, sizeof(double)) == 0 &&
          memcmp(&r1[0].hi, &r2[0].hi, sizeof(double)) == 0);
    CHECK(r1[0].lo != r3[0].lo || r1[0].hi != r3[0].hi);
    // A known true difference of 20 points is covered by the interval (n = 400: se ~ 2.2).
    CHECKF(r1[0].lo < 20 && r1[0].hi > 20, "[%g, %g]", r1[0].lo, r1[0].hi);
    // Identical runs: every resample difference is 0, never significant.
    PairedData same = {.n = N, .rank_a = a, .rank_b = a, .rp_k = 1};
    CHECK(paired_bootstrap(&same, 11, 200, r1, &n1) == T2I_OK);
    CHECK(r1[0].lo == 0 && r1[0].hi == 0 && !r1[0].significant);
}

TEST(mcnemar_exact_values) {
    int a[10], b[10];
    // 5 discordant pairs all one way: p = 2 * (1/2)^5 = 0.0625.
    for (int i = 0; i < 10; i++) {
        a[i] = i < 5 ? 3 : 0;
        b[i] = 0;
    }
    McNemar m;
    mcnemar_exact(a, b, 10, 1, &m);
    CHECK(m.both == 5 && m.a_only == 0 && m.b_only == 5 && m.neither == 0);
    CHECK_CLOSE(m.p, 0.0625, 1e-12, 0);
    // 1 vs 3 discordant: p = 2 * (1 + 4) / 16 = 0.625.
    int c[4] = {0, 3, 3, 3}, e[4] = {3, 0, 0, 0};
    mcnemar_exact(c, e, 4, 1, &m);
    CHECK(m.a_only == 1 && m.b_only == 3);
    CHECK_CLOSE(m.p, 0.625, 1e-12, 0);
    mcnemar_exact(c, c, 4, 1, &m);
    CHECK(m.p == 1.0);
    double x[5] = {1, 2, 3, 4, 10};
    CHECK_CLOSE(paired_percentile(x, 5, 50), 3, 0, 0);
    CHECK_CLOSE(paired_percentile(x, 5, 97.5), 4 + 0.9 * 6, 1e-12, 0);   // np.percentile
}

TEST(bootstrap_is) {
    enum { N = 64, C = 10 };
    static float la[N * C], lb[N * C];
    Rng g;
    rng_init(&g, 3, 0, 2);
    for (int i = 0; i < N; i++)
        for (int c = 0; c < C; c++) {
            double v = rng_normal(&g);
            la[i * C + c] = (float)v;
            // B: the same scores with a confident class per sample -> higher IS.
            lb[i * C + c] = (float)(v + (c == i % C ? 6.0 : 0.0));
        }
    IsOptions o = is_options_default();
    o.splits = 4;
    PairedData d = {.n = N, .is_a = la, .is_b = lb, .is_cols = C, .is_opt = o};
    PairedDiff r[3];
    int n = 0;
    CHECK(paired_bootstrap(&d, 5, 500, r, &n) == T2I_OK && n == 1);
    IsResult ia, ib;
    CHECK(inception_score(la, DT_F32, N, C, &o, NULL, &ia) == T2I_OK);
    CHECK(inception_score(lb, DT_F32, N, C, &o, NULL, &ib) == T2I_OK);
    CHECK_CLOSE(r[0].a, ia.mean, 1e-6, 1e-6);
    CHECK_CLOSE(r[0].b, ib.mean, 1e-6, 1e-6);
    CHECK(r[0].diff > 0 && r[0].lo > 0 && r[0].significant);
}

TEST(bootstrap_fid_gram_equals_full) {
    enum { N = 24, D = 40, NR = 60 };
    static float xa[N * D], xb[N * D], xr[NR * D];
    Rng g;
    rng_init(&g, 9, 0, 3);
    for (int i = 0; i < NR * D; i++) xr[i] = (float)rng_normal(&g);
    for (int i = 0; i < N * D; i++) {
        xa[i] = (float)rng_normal(&g);
        xb[i] = (float)(rng_normal(&g) + 1.5);   // mean shift: larger FID
    }
    FidStats ref, sa, sb;
    memset(&ref, 0, sizeof ref);
    memset(&sa, 0, sizeof sa);
    memset(&sb, 0, sizeof sb);
    CHECK(fid_stats_from_features(xr, DT_F32, NR, D, &ref) == T2I_OK);
    CHECK(fid_stats_from_features(xa, DT_F32, N, D, &sa) == T2I_OK);
    CHECK(fid_stats_from_features(xb, DT_F32, N, D, &sb) == T2I_OK);
    FidResult fa, fb;
    CHECK(fid_from_stats(&sa, &ref, &fa) == T2I_OK && fid_from_stats(&sb, &ref, &fb) == T2I_OK);
    PairedData d = {.n = N, .fid_a = xa, .fid_b = xb, .D = D, .fid_ref = &ref};
    PairedDiff r[3];
    int n = 0;
    CHECK(paired_bootstrap(&d, 2, 300, r, &n) == T2I_OK && n == 1);
    CHECK(!strcmp(r[0].metric, "fid") && r[0].direction == -1 && r[0].resamples == 300);
    CHECK_CLOSE(r[0].a, fa.fid, 1e-8, 1e-8);
    CHECK_CLOSE(r[0].b, fb.fid, 1e-8, 1e-8);
    CHECK(r[0].diff > 0 && r[0].lo > 0 && r[0].significant);
    fid_stats_free(&ref);
    fid_stats_free(&sa);
    fid_stats_free(&sb);
}

int main(void) {
    RUN(bootstrap_rp_known_difference);
    RUN(mcnemar_exact_values);
    RUN(bootstrap_is);
    RUN(bootstrap_fid_gram_equals_full);
    return test_report("test_paired");
}
