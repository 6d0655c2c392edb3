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

// Resample r of a seed, as documented in paired.h: n draws rng_below(n) from the counter RNG
// (seed, r, RNG_STREAM_BOOTSTRAP).
static void draw_ref(int64_t *idx, int64_t n, uint64_t seed, int r) {
    Rng g;
    rng_init(&g, seed, (uint64_t)r, RNG_STREAM_BOOTSTRAP);
    for (int64_t k = 0; k < n; k++) idx[k] = (int64_t)rng_below(&g, (uint64_t)n);
}

// One resample (R = 1): the interval is that resample's difference, recomputed here from the
// documented draws. Hits are ranks < k (rank k is a miss); a worse run b is significant too.
TEST(bootstrap_rp_single_resample_exact) {
    enum { N = 37 };
    int a[N], b[N];
    for (int i = 0; i < N; i++) {
        a[i] = (i * 7) % 4;   // ranks 0..3 around k = 2
        b[i] = (i * 5 + 1) % 3;
    }
    PairedData d = {.n = N, .rank_a = a, .rank_b = b, .rp_k = 2};
    PairedDiff r[3];
    int n = 0;
    for (int seed = 1; seed <= 3; seed++) {
        CHECK(paired_bootstrap(&d, (uint64_t)seed, 1, r, &n) == T2I_OK && n == 1);
        int64_t idx[N];
        draw_ref(idx, N, (uint64_t)seed, 0);
        double s = 0, ha = 0, hb = 0;
        for (int k = 0; k < N; k++) s += (b[idx[k]] < 2) - (a[idx[k]] < 2);
        for (int i = 0; i < N; i++) ha += a[i] < 2, hb += b[i] < 2;
        double want = 100.0 * s / N;
        CHECKF(r[0].lo == want && r[0].hi == want, "seed %d: [%.17g, %.17g], want %.17g", seed,
               r[0].lo, r[0].hi, want);
        CHECK_CLOSE(r[0].a, 100.0 * ha / N, 1e-12, 0);
        CHECK_CLOSE(r[0].b, 100.0 * hb / N, 1e-12, 0);
        CHECK_CLOSE(r[0].diff, r[0].b - r[0].a, 1e-12, 0);
    }
    // Run b clearly worse: the interval lies below zero, which is significant as well.
    enum { M = 400 };
    int x[M], y[M];
    ranks(x, y, M, 0.30, 0.50);
    PairedData w = {.n = M, .rank_a = y, .rank_b = x, .rp_k = 1};
    CHECK(paired_bootstrap(&w, 11, 500, r, &n) == T2I_OK && n == 1);
    CHECKF(r[0].diff < 0 && r[0].hi < 0 && r[0].significant, "diff %g [%g, %g]", r[0].diff,
           r[0].lo, r[0].hi);
    // Two samples are the fewest a bootstrap takes.
    d.n = 1;
    CHECK(paired_bootstrap(&d, 1, 10, r, &n) != T2I_OK);
    d.n = 2;
    CHECK(paired_bootstrap(&d, 1, 10, r, &n) == T2I_OK && n == 1);
}

// IS with exactly as many samples as splits, and with a remainder: the point values equal
// inception_score() (uneven splits as there), one resample is recomputed from the draws.
TEST(bootstrap_is_split_edges) {
    enum { N = 66, C = 7 };
    static float la[N * C], lb[N * C];
    Rng g;
    rng_init(&g, 4, 0, 2);
    for (int i = 0; i < N * C; i++) {
        la[i] = (float)rng_normal(&g);
        lb[i] = (float)(2 * rng_normal(&g));
    }
    IsOptions o = is_options_default();
    PairedDiff r[3];
    int n = 0;
    IsResult ia, ib;
    for (int k = 0; k < 2; k++) {
        int64_t nn = k ? N : 4;
        o.splits = 4;
        PairedData d = {.n = nn, .is_a = la, .is_b = lb, .is_cols = C, .is_opt = o};
        CHECKF(paired_bootstrap(&d, 5, 1, r, &n) == T2I_OK && n == 1, "n %lld: %d results",
               (long long)nn, n);
        if (n != 1) continue;
        CHECK(inception_score(la, DT_F32, nn, C, &o, NULL, &ia) == T2I_OK);
        CHECK(inception_score(lb, DT_F32, nn, C, &o, NULL, &ib) == T2I_OK);
        CHECK_CLOSE(r[0].a, ia.mean, 1e-6, 1e-6);   // paired.c keeps float probabilities
        CHECK_CLOSE(r[0].b, ib.mean, 1e-6, 1e-6);
        // The resample: rows idx[k] in order, split as inception_score splits N rows.
        int64_t idx[N];
        draw_ref(idx, nn, 5, 0);
        static float ra[N * C], rb[N * C];
        for (int64_t q = 0; q < nn; q++) {
            memcpy(ra + q * C, la + idx[q] * C, sizeof(float) * C);
            memcpy(rb + q * C, lb + idx[q] * C, sizeof(float) * C);
        }
        CHECK(inception_score(ra, DT_F32, nn, C, &o, NULL, &ia) == T2I_OK);
        CHECK(inception_score(rb, DT_F32, nn, C, &o, NULL, &ib) == T2I_OK);
        CHECK_CLOSE(r[0].lo, ib.mean - ia.mean, 1e-6, 1e-6);
    }
}

// FID: one resample equals fid_from_stats on the resampled rows (Gram path, n < D).
TEST(bootstrap_fid_single_resample) {
    enum { N = 12, D = 20, NR = 30 };
    static float xa[N * D], xb[N * D], xr[NR * D], ga[N * D], gb[N * D];
    Rng g;
    rng_init(&g, 6, 0, 3);
    for (int i = 0; i < NR * D; i++) xr[i] = (float)rng_normal(&g);
    for (int i = 0; i < N * D; i++) {
        xa[i] = (float)rng_normal(&g);
        xb[i] = (float)(rng_normal(&g) * 1.3 + 0.5);
    }
    FidStats ref, sa, sb;
    memset(&ref, 0, sizeof ref);
    memset(&sa, 0, sizeof sa);
    memset(&sb, 0, sizeof sb);
    CHECK(fid_stats_from_features(xr, DT_F32, NR, D, &ref) == T2I_OK);
    PairedData d = {.n = N, .fid_a = xa, .fid_b = xb, .D = D, .fid_ref = &ref};
    PairedDiff r[3];
    int n = 0;
    CHECK(paired_bootstrap(&d, 8, 1, r, &n) == T2I_OK && n == 1);
    int64_t idx[N];
    draw_ref(idx, N, 8, 0);
    for (int k = 0; k < N; k++) {
        memcpy(ga + k * D, xa + idx[k] * D, sizeof(float) * D);
        memcpy(gb + k * D, xb + idx[k] * D, sizeof(float) * D);
    }
    FidResult fa, fb;
    CHECK(fid_stats_from_features(ga, DT_F32, N, D, &sa) == T2I_OK &&
          fid_stats_from_features(gb, DT_F32, N, D, &sb) == T2I_OK);
    CHECK(fid_from_stats(&sa, &ref, &fa) == T2I_OK && fid_from_stats(&sb, &ref, &fb) == T2I_OK);
    CHECK_CLOSE(r[0].lo, fb.fid - fa.fid, 1e-6, 1e-6);
    fid_stats_free(&ref);
    fid_stats_free(&sa);
    fid_stats_free(&sb);
}

TEST(mcnemar_balanced_is_one) {
    // 2 vs 2 discordant: 2 * (1 + 4 + 6) / 16 > 1, reported as 1.
    int a[4] = {0, 0, 3, 3}, b[4] = {3, 3, 0, 0};
    McNemar m;
    mcnemar_exact(a, b, 4, 1, &m);
    CHECK(m.a_only == 2 && m.b_only == 2 && m.p == 1.0);
}

int main(void) {
    RUN(bootstrap_rp_known_difference);
    RUN(mcnemar_exact_values);
    RUN(bootstrap_is);
    RUN(bootstrap_fid_gram_equals_full);
    RUN(bootstrap_rp_single_resample_exact);
    RUN(bootstrap_is_split_edges);
    RUN(bootstrap_fid_single_resample);
    RUN(mcnemar_balanced_is_one);
    return test_report("test_paired");
}
