// test_metrics.c -- IS / FID / KID / R-precision against the numpy/scipy reference values of
// tests/fixtures/metrics/expected.json (written by tools/make_metrics_fixtures.py with the
// original formulas), the exactness of the streaming and merged forms, degenerate inputs, and
// the `t2ibench metric` CLI end to end ($T2I_BIN, default build/t2ibench).
//
// Tolerances: IS 1e-9 relative, FID 1e-6 relative, R-precision 1e-12 (issue #5), KID 1e-9
// relative. FID a_vs_a is exactly 0 in exact arithmetic; FID is a difference of terms of size
// tr S1 + tr S2 (= 56.3 here), and each eigenvalue carries a rounding error of about
// D * eps * |S| (64 * 2.2e-16 * 56 = 8e-13), so |FID| <= 1e-10 (100x that bound) is the
// absolute tolerance; numpy itself gives -7.1e-14.
#include "fid.h"
#include "inception_score.h"
#include "kid.h"
#include "npy.h"
#include "r_precision.h"
#include "rng.h"
#include "stats.h"
#include "t2i.h"
#include "test.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define FIX "tests/fixtures/metrics/"

static cJSON *g_exp;

// ---- helpers --------------------------------------------------------------------------------

static const cJSON *jget(const cJSON *o, const char *path) {
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *tok = strtok(buf, "."); tok && o; tok = strtok(NULL, "."))
        o = cJSON_GetObjectItemCaseSensitive(o, tok);
    return o;
}

static double jnum(const cJSON *o, const char *path) {
    const cJSON *v = jget(o, path);
    if (!cJSON_IsNumber(v)) {
        fprintf(stderr, "expected.json: no number at %s\n", path);
        return NAN;
    }
    return v->valuedouble;
}

// Loads an .npy float array as double; returns NULL (and fails the test) on error.
static double *load_f64(const char *name, int64_t *n, int *d) {
    char p[256];
    snprintf(p, sizeof p, FIX "%s", name);
    NpyArray a;
    int rc = npy_load(p, &a);
    CHECKF(rc == T2I_OK, "%s", t2i_errmsg());
    if (rc) return NULL;
    double *x = malloc(a.numel * sizeof(double));
    rc = stats_to_f64(x, a.data, a.dtype, a.numel);
    CHECKF(rc == T2I_OK, "%s", t2i_errmsg());
    *n = a.shape[0];
    *d = a.ndim > 1 ? (int)a.shape[1] : 1;
    npy_free(&a);
    return x;
}

static int64_t *load_i64(const char *name, int64_t *n, int *d) {
    char p[256];
    snprintf(p, sizeof p, FIX "%s", name);
    NpyArray a;
    int rc = npy_load(p, &a);
    CHECKF(rc == T2I_OK, "%s", t2i_errmsg());
    if (rc) return NULL;
    int64_t *x = malloc(a.numel * sizeof(int64_t));
    for (size_t i = 0; i < a.numel; i++)
        x[i] = a.dtype == DT_I32 ? ((int32_t *)a.data)[i]
             : a.dtype == DT_U8  ? ((uint8_t *)a.data)[i]
                                 : ((int64_t *)a.data)[i];
    *n = a.shape[0];
    *d = a.ndim > 1 ? (int)a.shape[1] : 1;
    npy_free(&a);
    return x;
}

static int same_bits(double a, double b) { return memcmp(&a, &b, sizeof a) == 0; }

// Expects an error status with a non-empty message; prints it when verbose.
#define CHECK_ERR(expr)                                                          \
    do {                                                                         \
        t2i_error(T2I_OK, "%s", "");                                             \
        int rc_ = (expr);                                                        \
        CHECKF(rc_ != T2I_OK && t2i_errmsg()[0] != 0, "%s -> %d '%s'", #expr, rc_, \
               t2i_errmsg());                                                    \
        if (getenv("T2I_TEST_VERBOSE")) fprintf(stderr, "    (expected) %s\n", t2i_errmsg()); \
    } while (0)

// ---- exact sums -----------------------------------------------------------------------------

TEST(xsum_exact_and_rounded) {
    XSum s = {{0, 0, 0}};
    CHECK(xsum_add(&s, 0x1p53) == 0);
    CHECK(xsum_add(&s, 1.0) == 0);
    CHECK(xsum_add(&s, 1.0) == 0);
    CHECK(xsum_value(&s) == 0x1p53 + 2.0);   // naive double sum gives 2^53
    XSum t = {{0, 0, 0}};
    xsum_add(&t, 1.0);
    xsum_add(&t, 1e-30);
    xsum_add(&t, -1.0);
    CHECK_CLOSE(xsum_value(&t), 1e-30, 0, 1e-3);   // resolution 2^-112 = 1.9e-34
    XSum u = {{0, 0, 0}};
    xsum_add(&u, -3.75);
    xsum_add(&u, 0.25);
    CHECK(xsum_value(&u) == -3.5);
    // Order independence, bit for bit, on values of mixed magnitude and sign.
    double v[200];
    uint64_t st = 12345;
    for (int i = 0; i < 200; i++) {
        st = st * 6364136223846793005ull + 1442695040888963407ull;
        v[i] = ((double)(st >> 11) * 0x1p-53 - 0.3) * pow(10.0, (double)(i % 13) - 6);
    }
    XSum f = {{0, 0, 0}}, b = {{0, 0, 0}}, h1 = {{0, 0, 0}}, h2 = {{0, 0, 0}};
    for (int i = 0; i < 200; i++) xsum_add(&f, v[i]);
    for (int i = 199; i >= 0; i--) xsum_add(&b, v[i]);
    for (int i = 0; i < 200; i += 2) xsum_add(&h1, v[i]);
    for (int i = 1; i < 200; i += 2) xsum_add(&h2, v[i]);
    xsum_merge(&h2, &h1);
    CHECK(memcmp(&f, &b, sizeof f) == 0);
    CHECK(memcmp(&f, &h2, sizeof f) == 0);
    CHECK(xsum_add(&f, NAN) == 1);
    CHECK(xsum_add(&f, 0x1p80) == 1);
}

// ---- Inception Score ------------------------------------------------------------------------

static void is_case(const char *name) {
    char path[128];
    snprintf(path, sizeof path, "inception_score.cases.%s", name);
    const cJSON *c = jget(g_exp, path);
    CHECKF(c != NULL, "missing case %s", name);
    if (!c) return;
    const char *file = cJSON_GetObjectItemCaseSensitive(c, "logits")->valuestring;
    char p[256];
    snprintf(p, sizeof p, FIX "%s", file);
    NpyArray a;
    int rc = npy_load(p, &a);
    CHECKF(rc == T2I_OK, "%s", t2i_errmsg());
    if (rc) return;
    IsOptions o = {(int)jnum(c, "splits"), jnum(c, "temperature"), (int)jnum(c, "class_begin"),
                   (int)jnum(c, "class_end")};
    double sc[16];
    IsResult r;
    rc = inception_score(a.data, a.dtype, a.shape[0], (int)a.shape[1], &o, sc, &r);
    CHECKF(rc == T2I_OK, "%s", t2i_errmsg());
    CHECK_CLOSE(r.mean, jnum(c, "mean"), 0, 1e-9);
    CHECK_CLOSE(r.std, jnum(c, "std"), 1e-15, 1e-9);
    CHECK(r.n == (int64_t)jnum(c, "n") && r.splits == o.splits);
    const cJSON *ss = cJSON_GetObjectItemCaseSensitive(c, "split_scores");
    CHECK(cJSON_GetArraySize(ss) == o.splits);
    double worst = 0;
    for (int k = 0; k < o.splits && k < cJSON_GetArraySize(ss); k++) {
        double ref = cJSON_GetArrayItem(ss, k)->valuedouble;
        CHECK_CLOSE(sc[k], ref, 0, 1e-9);
        if (fabs(sc[k] - ref) / ref > worst) worst = fabs(sc[k] - ref) / ref;
    }
    if (getenv("T2I_TEST_VERBOSE"))
        fprintf(stderr, "    IS %-14s mean %.15g (ref %.15g) rel %.2g, worst split rel %.2g\n", name,
                r.mean, jnum(c, "mean"), fabs(r.mean - jnum(c, "mean")) / jnum(c, "mean"), worst);
    npy_free(&a);
}

TEST(is_matches_numpy) {
    const char *cases[] = {"cub_s10", "cub_s1",  "cub_star_s10",  "cub_all51_s10",
                           "coco_s10", "coco_s1", "coco_star_s10", "coco_s7"};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) is_case(cases[i]);
}

// Chunked adds, shards in any order and merge trees give the one-pass bits.
TEST(is_streaming_and_merge_bit_exact) {
    int64_t n;
    int C;
    double *x = load_f64("is_logits_cub.npy", &n, &C);
    if (!x) return;
    IsOptions o = {10, IS_T_CUB, 1, 51};
    double ref_sc[10], sc[10];
    IsResult ref, r;
    CHECK(inception_score(x, DT_F64, n, C, &o, ref_sc, &ref) == T2I_OK);
    // 1) streaming in uneven chunks
    IsAccum a;
    CHECK(is_accum_init(&a, n, C, &o) == T2I_OK);
    for (int64_t i = 0, step = 1; i < n; i += step, step = step * 3 % 97 + 1) {
        int64_t m = i + step > n ? n - i : step;
        CHECK(is_accum_add_logits(&a, i, x + i * C, DT_F64, m) == T2I_OK);
    }
    CHECK(is_accum_finalize(&a, sc, &r) == T2I_OK);
    CHECK(same_bits(r.mean, ref.mean) && same_bits(r.std, ref.std));
    for (int k = 0; k < 10; k++) CHECK(same_bits(sc[k], ref_sc[k]));
    is_accum_free(&a);
    // 2) shards with boundaries that cut splits, added in reverse order and merged two ways
    const int64_t cut[] = {0, 37, 250, 251, 600, 997};
    IsAccum sh[5];
    for (int s = 4; s >= 0; s--) {
        CHECK(is_accum_init(&sh[s], n, C, &o) == T2I_OK);
        CHECK(is_accum_add_logits(&sh[s], cut[s], x + cut[s] * C, DT_F64, cut[s + 1] - cut[s]) ==
              T2I_OK);
    }
    IsAccum m1, m2;
    is_accum_init(&m1, n, C, &o);
    is_accum_init(&m2, n, C, &o);
    for (int s = 0; s < 5; s++) CHECK(is_accum_merge(&m1, &sh[s]) == T2I_OK);
    CHECK(is_accum_merge(&sh[3], &sh[4]) == T2I_OK);   // (3+4), (1+2), then 0 + ...
    CHECK(is_accum_merge(&sh[1], &sh[2]) == T2I_OK);
    CHECK(is_accum_merge(&m2, &sh[3]) == T2I_OK);
    CHECK(is_accum_merge(&m2, &sh[0]) == T2I_OK);
    CHECK(is_accum_merge(&m2, &sh[1]) == T2I_OK);
    for (int v = 0; v < 2; v++) {
        CHECK(is_accum_finalize(v ? &m2 : &m1, sc, &r) == T2I_OK);
        CHECK(same_bits(r.mean, ref.mean) && same_bits(r.std, ref.std));
        for (int k = 0; k < 10; k++) CHECK(same_bits(sc[k], ref_sc[k]));
    }
    // 3) a duplicated shard is detected
    CHECK(is_accum_merge(&m1, &sh[0]) == T2I_OK);
    CHECK_ERR(is_accum_finalize(&m1, sc, &r));
    for (int s = 0; s < 5; s++) is_accum_free(&sh[s]);
    is_accum_free(&m1);
    is_accum_free(&m2);
    free(x);
}

// Probabilities in, same score (softmax(log p / T) over the class range = softmax(logits / T)).
TEST(is_from_probs) {
    int64_t n;
    int C;
    double *x = load_f64("is_logits_cub.npy", &n, &C);
    if (!x) return;
    double *p = malloc((size_t)n * C * sizeof(double));
    for (int64_t i = 0; i < n; i++) {   // softmax over all 51 columns (background included)
        double m = -INFINITY, z = 0;
        for (int c = 0; c < C; c++) m = fmax(m, x[i * C + c]);
        for (int c = 0; c < C; c++) z += exp(x[i * C + c] - m);
        for (int c = 0; c < C; c++) p[i * C + c] = exp(x[i * C + c] - m) / z;
    }
    IsOptions o = {10, IS_T_CUB, 1, 51};
    IsResult r1, r2;
    IsAccum a;
    CHECK(inception_score(x, DT_F64, n, C, &o, NULL, &r1) == T2I_OK);
    CHECK(is_accum_init(&a, n, C, &o) == T2I_OK);
    CHECK(is_accum_add_probs(&a, 0, p, DT_F64, n) == T2I_OK);
    CHECK(is_accum_finalize(&a, NULL, &r2) == T2I_OK);
    CHECK_CLOSE(r2.mean, r1.mean, 0, 1e-12);
    CHECK_CLOSE(r2.std, r1.std, 1e-14, 1e-10);
    CHECK_CLOSE(r1.mean, jnum(g_exp, "inception_score.cases.cub_star_s10.mean"), 0, 1e-9);
    is_accum_free(&a);
    free(p);
    free(x);
}

TEST(is_degenerate_inputs) {
    double lg[6 * 4];
    for (int i = 0; i < 24; i++) lg[i] = (double)(i % 5) - 1.0;
    IsOptions o = {10, 1.0, 0, 0};
    IsResult r;
    CHECK_ERR(inception_score(lg, DT_F64, 6, 4, &o, NULL, &r));   // N = 6 < 10 splits
    CHECK(strstr(t2i_errmsg(), "smaller than the number of splits") != NULL);
    o.splits = 0;
    CHECK_ERR(inception_score(lg, DT_F64, 6, 4, &o, NULL, &r));
    o.splits = 2;
    o.temperature = 0;
    CHECK_ERR(inception_score(lg, DT_F64, 6, 4, &o, NULL, &r));
    o.temperature = NAN;
    CHECK_ERR(inception_score(lg, DT_F64, 6, 4, &o, NULL, &r));
    o.temperature = 1;
    o.class_begin = 3;
    o.class_end = 3;
    CHECK_ERR(inception_score(lg, DT_F64, 6, 4, &o, NULL, &r));
    o.class_begin = 0;
    o.class_end = 5;
    CHECK_ERR(inception_score(lg, DT_F64, 6, 4, &o, NULL, &r));
    o.class_end = 0;
    lg[7] = NAN;
    CHECK_ERR(inception_score(lg, DT_F64, 6, 4, &o, NULL, &r));
    lg[7] = INFINITY;
    CHECK_ERR(inception_score(lg, DT_F64, 6, 4, &o, NULL, &r));
    lg[7] = 0;
    CHECK(inception_score(lg, DT_F64, 6, 4, &o, NULL, &r) == T2I_OK && isfinite(r.mean));
    CHECK_ERR(inception_score(lg, DT_I32, 6, 4, &o, NULL, &r));
    IsAccum a, b;
    CHECK(is_accum_init(&a, 6, 4, &o) == T2I_OK);
    CHECK_ERR(is_accum_add_logits(&a, 4, lg, DT_F64, 3));   // rows 4..6 outside N = 6
    CHECK(is_accum_add_logits(&a, 0, lg, DT_F64, 5) == T2I_OK);
    CHECK_ERR(is_accum_finalize(&a, NULL, &r));             // sample 5 missing
    double pz[4] = {0, 0, 0, 0};
    CHECK_ERR(is_accum_add_probs(&a, 5, pz, DT_F64, 1));    // no probability mass
    double pn[4] = {0.5, -0.1, 0.3, 0.3};
    CHECK_ERR(is_accum_add_probs(&a, 5, pn, DT_F64, 1));
    IsOptions o3 = o;
    o3.splits = 3;
    CHECK(is_accum_init(&b, 6, 4, &o3) == T2I_OK);
    CHECK_ERR(is_accum_merge(&a, &b));                      // different split count
    is_accum_free(&a);
    is_accum_free(&b);
}

// ---- FID ------------------------------------------------------------------------------------

static int stats_of(const char *name, FidStats *st) {
    int64_t n;
    int D;
    double *x = load_f64(name, &n, &D);
    if (!x) return 1;
    int rc = fid_stats_from_features(x, DT_F64, n, D, st);
    CHECKF(rc == T2I_OK, "%s", t2i_errmsg());
    free(x);
    return rc;
}

TEST(fid_matches_pytorch_fid) {
    FidStats a, b, c;
    if (stats_of("feat_a.npy", &a) || stats_of("feat_b.npy", &b) || stats_of("feat_c.npy", &c))
        return;
    struct {
        const char *name;
        FidStats *x, *y;
    } cases[] = {{"a_vs_b", &a, &b}, {"a_vs_c", &a, &c}, {"c_vs_a", &c, &a}};
    for (int i = 0; i < 3; i++) {
        FidResult r;
        char key[64];
        CHECK(fid_from_stats(cases[i].x, cases[i].y, &r) == T2I_OK);
        snprintf(key, sizeof key, "fid.cases.%s.fid", cases[i].name);
        double ref = jnum(g_exp, key);
        CHECK_CLOSE(r.fid, ref, 0, 1e-6);
        CHECK(!r.offset_used);
        snprintf(key, sizeof key, "fid.cases.%s.eigh_crosscheck", cases[i].name);
        // numpy eigh of the same method. With N = 40 < D = 64, S_c has 25 zero eigenvalues,
        // which any method sees as rounding noise of about 1e-16 |S|; sqrt turns each into up to
        // ~1e-8, so the rank-deficient cases agree only to ~1e-8 relative (scipy's sqrtm and
        // numpy eigh differ by 5e-9 there too); full-rank a_vs_b agrees to 1e-13.
        CHECK_CLOSE(r.fid, jnum(g_exp, key), 0, i == 0 ? 1e-11 : 1e-7);
        if (getenv("T2I_TEST_VERBOSE"))
            fprintf(stderr, "    FID %s %.15g (scipy sqrtm %.15g, rel %.2g; clipped %d)\n",
                    cases[i].name, r.fid, ref, fabs(r.fid - ref) / ref, r.n_clipped);
    }
    FidResult r;
    CHECK(fid_from_stats(&a, &a, &r) == T2I_OK);
    double tr = jnum(g_exp, "fid.cases.a_vs_a.trace_sigma_a");
    CHECK(fabs(r.fid) <= 1e-10);
    CHECK(fabs(jnum(g_exp, "fid.cases.a_vs_a.fid")) <= 1e-10);
    CHECK(tr > 1 && tr < 100);   // the bound in the file comment assumes tr S of this size
    if (getenv("T2I_TEST_VERBOSE")) fprintf(stderr, "    FID a_vs_a %.3g\n", r.fid);
    fid_stats_free(&a);
    fid_stats_free(&b);
    fid_stats_free(&c);
}

// Our mu/sigma vs numpy's (stats_a.npz written with np.mean / np.cov), and .npz round trip.
TEST(fid_stats_match_np_cov_and_npz_roundtrip) {
    FidStats a, z, back;
    if (stats_of("feat_a.npy", &a)) return;
    int rc = fid_stats_load(FIX "stats_a.npz", &z);
    CHECKF(rc == T2I_OK, "%s", t2i_errmsg());
    if (rc) return;
    CHECK(z.D == a.D && a.n == 400 && z.n == 0);
    double max_mu = 0, max_sg = 0;
    for (int i = 0; i < a.D; i++) max_mu = fmax(max_mu, fabs(a.mu[i] - z.mu[i]));
    for (int i = 0; i < a.D * a.D; i++) max_sg = fmax(max_sg, fabs(a.sigma[i] - z.sigma[i]));
    CHECKF(max_mu <= 1e-14 && max_sg <= 1e-14, "max |d mu| %.3g, max |d sigma| %.3g", max_mu,
           max_sg);
    for (int i = 0; i < a.D; i++)
        for (int j = 0; j < a.D; j++) CHECK(same_bits(a.sigma[i * a.D + j], a.sigma[j * a.D + i]));
    char tmp[] = "/tmp/t2i_metrics_XXXXXX";
    CHECK(mkdtemp(tmp) != NULL);
    char path[128];
    snprintf(path, sizeof path, "%s/stats.npz", tmp);
    CHECK(fid_stats_save(path, &a) == T2I_OK);
    CHECK(fid_stats_load(path, &back) == T2I_OK);
    CHECK(back.D == a.D && memcmp(back.mu, a.mu, (size_t)a.D * sizeof(double)) == 0 &&
          memcmp(back.sigma, a.sigma, (size_t)a.D * a.D * sizeof(double)) == 0);
    FidResult r1, r2;
    FidStats b;
    if (!stats_of("feat_b.npy", &b)) {
        CHECK(fid_from_stats(&z, &b, &r1) == T2I_OK);
        CHECK(fid_from_stats(&a, &b, &r2) == T2I_OK);
        CHECK_CLOSE(r1.fid, jnum(g_exp, "fid.cases.a_vs_b.fid"), 0, 1e-6);
        CHECK_CLOSE(r1.fid, r2.fid, 0, 1e-12);
        fid_stats_free(&b);
    }
    remove(path);
    rmdir(tmp);
    fid_stats_free(&a);
    fid_stats_free(&z);
    fid_stats_free(&back);
}

static void mc_result(const MeanCov *mc, double *mu, double *sg) {
    int rc = meancov_finalize(mc, mu, sg);
    CHECKF(rc == T2I_OK, "%s", t2i_errmsg());
}

// Chunking and block-aligned shard merges in any order reproduce the one-pass bits.
TEST(meancov_streaming_and_merge_bit_exact) {
    int64_t n;
    int D;
    double *x = load_f64("feat_a.npy", &n, &D);
    if (!x) return;
    const int BR = 32;
    size_t dd = (size_t)D * D;
    double *mu0 = malloc(D * sizeof(double)), *sg0 = malloc(dd * sizeof(double));
    double *mu = malloc(D * sizeof(double)), *sg = malloc(dd * sizeof(double));
    MeanCov one;
    CHECK(meancov_init(&one, D, BR) == T2I_OK);
    CHECK(meancov_add(&one, x, DT_F64, n) == T2I_OK);
    mc_result(&one, mu0, sg0);
    // chunked: 1, 5, 33, 100, ... rows per call
    MeanCov ch;
    meancov_init(&ch, D, BR);
    for (int64_t i = 0, step = 1; i < n; i += step, step = step * 5 % 101 + 1) {
        int64_t m = i + step > n ? n - i : step;
        CHECK(meancov_add(&ch, x + i * D, DT_F64, m) == T2I_OK);
    }
    mc_result(&ch, mu, sg);
    CHECK(memcmp(mu, mu0, D * sizeof(double)) == 0 && memcmp(sg, sg0, dd * sizeof(double)) == 0);
    // finalize did not change the accumulator: add nothing, finalize again, same bits
    mc_result(&ch, mu, sg);
    CHECK(memcmp(sg, sg0, dd * sizeof(double)) == 0);
    // shards at multiples of 32 rows (the last one partial), merged in two different orders
    const int64_t cut[] = {0, 64, 96, 288, 400};
    MeanCov sh[4], m1, m2;
    for (int s = 0; s < 4; s++) {
        meancov_init(&sh[s], D, BR);
        CHECK(meancov_add(&sh[s], x + cut[s] * D, DT_F64, cut[s + 1] - cut[s]) == T2I_OK);
    }
    meancov_init(&m1, D, BR);
    meancov_init(&m2, D, BR);
    for (int s = 0; s < 4; s++) CHECK(meancov_merge(&m1, &sh[s]) == T2I_OK);
    mc_result(&m1, mu, sg);
    CHECK(memcmp(mu, mu0, D * sizeof(double)) == 0 && memcmp(sg, sg0, dd * sizeof(double)) == 0);
    CHECK(meancov_merge(&sh[1], &sh[2]) == T2I_OK);   // 0 + ((1 + 2) + 3)
    CHECK(meancov_merge(&sh[1], &sh[3]) == T2I_OK);
    CHECK(meancov_merge(&m2, &sh[0]) == T2I_OK);
    CHECK(meancov_merge(&m2, &sh[1]) == T2I_OK);
    mc_result(&m2, mu, sg);
    CHECK(memcmp(mu, mu0, D * sizeof(double)) == 0 && memcmp(sg, sg0, dd * sizeof(double)) == 0);
    CHECK(m2.n == n);
    // float32 input: the same bits as the float64 copy of the same values
    MeanCov f32;
    meancov_init(&f32, D, BR);
    float *xf = malloc((size_t)n * D * sizeof(float));
    for (int64_t i = 0; i < n * D; i++) xf[i] = (float)x[i];   // exact: the fixture is float32
    CHECK(meancov_add(&f32, xf, DT_F32, n) == T2I_OK);
    mc_result(&f32, mu, sg);
    CHECK(memcmp(sg, sg0, dd * sizeof(double)) == 0);
    // unaligned shards still agree to rounding
    MeanCov u1, u2;
    meancov_init(&u1, D, BR);
    meancov_init(&u2, D, BR);
    meancov_add(&u1, x, DT_F64, 77);
    meancov_add(&u2, x + 77 * D, DT_F64, n - 77);
    CHECK(meancov_merge(&u1, &u2) == T2I_OK);
    mc_result(&u1, mu, sg);
    double worst = 0;
    for (size_t i = 0; i < dd; i++) worst = fmax(worst, fabs(sg[i] - sg0[i]));
    CHECKF(worst <= 1e-14, "unaligned merge differs by %.3g", worst);
    MeanCov other;
    meancov_init(&other, D, 16);
    CHECK_ERR(meancov_merge(&u1, &other));   // different block size
    meancov_free(&other);
    meancov_free(&u1);
    meancov_free(&u2);
    meancov_free(&f32);
    free(xf);
    for (int s = 0; s < 4; s++) meancov_free(&sh[s]);
    meancov_free(&one);
    meancov_free(&ch);
    meancov_free(&m1);
    meancov_free(&m2);
    free(mu0), free(sg0), free(mu), free(sg), free(x);
}

TEST(fid_degenerate_inputs) {
    double x[3 * 4] = {1, 2, 3, 4, 2, 3, 4, 5, 0, 1, 0, 1};
    FidStats s, t;
    CHECK_ERR(fid_stats_from_features(x, DT_F64, 1, 4, &s));   // N < 2
    CHECK(strstr(t2i_errmsg(), "at least 2") != NULL);
    CHECK_ERR(fid_stats_from_features(x, DT_F64, 0, 4, &s));
    x[5] = NAN;
    CHECK_ERR(fid_stats_from_features(x, DT_F64, 3, 4, &s));
    x[5] = 3;
    CHECK_ERR(fid_stats_from_features(x, DT_F64, 3, 0, &s));
    CHECK(fid_stats_from_features(x, DT_F64, 3, 4, &s) == T2I_OK);
    CHECK(fid_stats_from_features(x, DT_F64, 4, 3, &t) == T2I_OK);
    FidResult r;
    CHECK_ERR(fid_from_stats(&s, &t, &r));   // D 4 vs 3
    CHECK(strstr(t2i_errmsg(), "dimensions differ") != NULL);
    double big = 1e39;
    MeanCov mc;
    meancov_init(&mc, 1, 0);
    CHECK_ERR(meancov_add(&mc, &big, DT_F64, 1));   // |x|^2 beyond the exact range
    meancov_free(&mc);
    s.sigma[5] = INFINITY;
    CHECK_ERR(fid_frechet_distance(s.mu, s.sigma, s.mu, s.sigma, 4, &r));
    s.sigma[5] = 1;
    // Rank-deficient sigma (N = 3 < D = 4) works, clipping tiny negative eigenvalues.
    FidStats u;
    CHECK(fid_stats_from_features(x, DT_F64, 3, 4, &u) == T2I_OK);
    CHECK(fid_from_stats(&u, &u, &r) == T2I_OK && fabs(r.fid) < 1e-12);
    fid_stats_free(&u);
    CHECK_ERR(fid_stats_load(FIX "feat_a.npy", &u));   // not a zip
    fid_stats_free(&s);
    fid_stats_free(&t);
    fid_stats_free(&u);
}

// ---- KID ------------------------------------------------------------------------------------

TEST(kid_matches_torch_fidelity) {
    int64_t na, nb, sa, sb;
    int D, Db, ma, mb;
    double *A = load_f64("feat_a.npy", &na, &D), *B = load_f64("feat_b.npy", &nb, &Db);
    int64_t *ia = load_i64("kid_subsets_a.npy", &sa, &ma), *ib = load_i64("kid_subsets_b.npy", &sb, &mb);
    if (!A || !B || !ia || !ib) return;
    KidOptions o = kid_options_default();
    o.subsets = (int)sa;
    o.subset_size = ma;
    double per[8];
    KidResult r;
    CHECK(kid_compute(A, na, B, nb, D, &o, ia, ib, NULL, per, &r) == T2I_OK);
    CHECK_CLOSE(r.mean, jnum(g_exp, "kid.subsets_a_vs_b.mean"), 0, 1e-9);
    CHECK_CLOSE(r.std, jnum(g_exp, "kid.subsets_a_vs_b.std"), 0, 1e-9);
    const cJSON *ps = jget(g_exp, "kid.subsets_a_vs_b.per_subset");
    for (int s = 0; s < o.subsets; s++) CHECK_CLOSE(per[s], cJSON_GetArrayItem(ps, s)->valuedouble, 0, 1e-9);
    // one full subset: all 400 rows of each set
    int64_t *all = malloc(400 * sizeof(int64_t));
    for (int i = 0; i < 400; i++) all[i] = i;
    o.subsets = 1;
    o.subset_size = 400;
    CHECK(kid_compute(A, na, B, nb, D, &o, all, all, NULL, NULL, &r) == T2I_OK);
    CHECK_CLOSE(r.mean, jnum(g_exp, "kid.full_a_vs_b.mean"), 0, 1e-9);
    CHECK(r.std == 0);
    CHECK(kid_compute(A, na, A, na, D, &o, all, all, NULL, NULL, &r) == T2I_OK);
    CHECK_CLOSE(r.mean, jnum(g_exp, "kid.full_a_vs_a.mean"), 0, 1e-9);
    if (getenv("T2I_TEST_VERBOSE"))
        fprintf(stderr, "    KID full %.15g (ref %.15g)\n", r.mean, jnum(g_exp, "kid.full_a_vs_a.mean"));
    // generator-drawn subsets: deterministic per seed, different across seeds
    o.subsets = 5;
    o.subset_size = 100;
    Rng g1, g2, g3;
    KidResult r1, r2, r3;
    rng_init(&g1, 2020, 0, RNG_STREAM_KID);
    rng_init(&g2, 2020, 0, RNG_STREAM_KID);
    rng_init(&g3, 2021, 0, RNG_STREAM_KID);
    CHECK(kid_compute(A, na, B, nb, D, &o, NULL, NULL, &g1, NULL, &r1) == T2I_OK);
    CHECK(kid_compute(A, na, B, nb, D, &o, NULL, NULL, &g2, NULL, &r2) == T2I_OK);
    CHECK(kid_compute(A, na, B, nb, D, &o, NULL, NULL, &g3, NULL, &r3) == T2I_OK);
    CHECK(same_bits(r1.mean, r2.mean) && same_bits(r1.std, r2.std));
    CHECK(!same_bits(r1.mean, r3.mean));
    CHECK(fabs(r1.mean - jnum(g_exp, "kid.full_a_vs_b.mean")) < 0.1);
    // degenerate
    o.subset_size = 401;
    CHECK_ERR(kid_compute(A, na, B, nb, D, &o, NULL, NULL, &g1, NULL, &r));
    CHECK(strstr(t2i_errmsg(), "larger than the number of samples") != NULL);
    o.subset_size = 1;
    CHECK_ERR(kid_compute(A, na, B, nb, D, &o, NULL, NULL, &g1, NULL, &r));
    o.subsets = 1;
    o.subset_size = 400;
    all[10] = 11;   // repeated row
    CHECK_ERR(kid_compute(A, na, B, nb, D, &o, all, all, NULL, NULL, &r));
    all[10] = 400;  // out of range
    CHECK_ERR(kid_compute(A, na, B, nb, D, &o, all, all, NULL, NULL, &r));
    free(all), free(A), free(B), free(ia), free(ib);
}

// ---- R-precision ----------------------------------------------------------------------------

TEST(rp_matches_dmgan) {
    int64_t ni, ns, nc, nh;
    int E, Es, kc, one;
    double *I = load_f64("rp_image_codes.npy", &ni, &E), *S = load_f64("rp_sentence_codes.npy", &ns, &Es);
    int64_t *C = load_i64("rp_candidates.npy", &nc, &kc), *H = load_i64("rp_hits.npy", &nh, &one);
    if (!I || !S || !C || !H) return;
    CHECK(E == Es && nc == ni && nh == ni);
    uint8_t *hits = malloc((size_t)ni);
    int64_t n_hits;
    CHECK(rp_hits(I, ni, S, ns, E, C, kc - 1, 1, hits, &n_hits) == T2I_OK);
    CHECK(n_hits == (int64_t)jnum(g_exp, "r_precision.hits"));
    int same = 1;
    for (int64_t i = 0; i < ni; i++) same &= hits[i] == H[i];
    CHECK(same);
    const cJSON *tie = cJSON_GetArrayItem(jget(g_exp, "r_precision.tie_rows"), 0);
    CHECK(tie && hits[tie->valueint] == 1);   // exact tie with a mismatch counts as a hit
    const cJSON *folds = jget(g_exp, "r_precision.folds"), *f;
    int ncases = 0;
    cJSON_ArrayForEach(f, folds) {
        int F = (int)jnum(f, "folds");
        RpFoldRule rule = (RpFoldRule)rp_fold_rule_parse(cJSON_GetObjectItemCaseSensitive(f, "rule")->valuestring);
        double fm[16];
        RpResult r;
        CHECK(rp_folds(hits, ni, F, rule, fm, &r) == T2I_OK);
        CHECK_CLOSE(r.mean, jnum(f, "mean"), 1e-12, 0);
        CHECK_CLOSE(r.std, jnum(f, "std"), 1e-12, 0);
        const cJSON *ref = cJSON_GetObjectItemCaseSensitive(f, "fold_means");
        for (int k = 0; k < F; k++) CHECK_CLOSE(fm[k], cJSON_GetArrayItem(ref, k)->valuedouble, 1e-12, 0);
        if (getenv("T2I_TEST_VERBOSE"))
            fprintf(stderr, "    RP %s: %.17g +- %.17g (ref %.17g +- %.17g)\n", f->string, r.mean,
                    r.std, jnum(f, "mean"), jnum(f, "std"));
        ncases++;
    }
    CHECK(ncases == 4);
    // R = K + 1 makes every row a hit; R = 2 at least as many as R = 1.
    int64_t h2, hall;
    CHECK(rp_hits(I, ni, S, ns, E, C, kc - 1, 2, hits, &h2) == T2I_OK && h2 >= n_hits);
    CHECK(rp_hits(I, ni, S, ns, E, C, kc - 1, kc, hits, &hall) == T2I_OK && hall == ni);
    free(hits), free(I), free(S), free(C), free(H);
}

TEST(rp_degenerate_inputs) {
    double img[2 * 3] = {1, 0, 0, 0, 1, 0};
    double sent[3 * 3] = {1, 0.1, 0, 0, 1, 0.2, 0.5, 0.5, 0.5};
    int64_t cand[2 * 3] = {0, 1, 2, 1, 0, 2};
    uint8_t hits[2];
    int64_t nh;
    CHECK(rp_hits(img, 2, sent, 3, 3, cand, 2, 1, hits, &nh) == T2I_OK && nh == 2);
    img[3] = img[4] = 0;   // zero-norm image code
    CHECK_ERR(rp_hits(img, 2, sent, 3, 3, cand, 2, 1, hits, &nh));
    CHECK(strstr(t2i_errmsg(), "zero norm") != NULL);
    img[4] = 1;
    sent[6] = sent[7] = sent[8] = 0;   // zero-norm sentence code
    CHECK_ERR(rp_hits(img, 2, sent, 3, 3, cand, 2, 1, hits, &nh));
    sent[6] = NAN;
    CHECK_ERR(rp_hits(img, 2, sent, 3, 3, cand, 2, 1, hits, &nh));
    sent[6] = sent[7] = sent[8] = 0.5;
    cand[2] = 3;   // out of range
    CHECK_ERR(rp_hits(img, 2, sent, 3, 3, cand, 2, 1, hits, &nh));
    cand[2] = 2;
    CHECK_ERR(rp_hits(img, 2, sent, 3, 3, cand, 2, 4, hits, &nh));   // R > K + 1
    CHECK_ERR(rp_hits(img, 2, sent, 3, 0, cand, 2, 1, hits, &nh));   // E = 0
    RpResult r;
    uint8_t h[5] = {1, 0, 1, 1, 0};
    CHECK_ERR(rp_folds(h, 5, 10, RP_FOLD_EXACT, NULL, &r));   // fewer results than folds
    CHECK_ERR(rp_folds(h, 5, 3, RP_FOLD_DMGAN, NULL, &r));    // folds of 1 - 1 = 0 elements
    CHECK_ERR(rp_folds(h, 5, 0, RP_FOLD_EXACT, NULL, &r));
    CHECK(rp_folds(h, 5, 2, RP_FOLD_DMGAN, NULL, &r) == T2I_OK && r.n_used == 2);
    CHECK_CLOSE(r.mean, 1.0, 1e-15, 0);   // folds R[0:1] = {1}, R[2:3] = {1}
    CHECK(rp_fold_rule_parse("DMGAN") < 0 && rp_mismatch_rule_parse("frozen") == RP_MISMATCH_FROZEN);
}

TEST(rp_mismatch_samplers) {
    enum { NI = 30, CPI = 5, K = 99 };
    int64_t cls[NI];
    for (int i = 0; i < NI; i++) cls[i] = i / 3;
    RpMismatchSpec sp = {RP_MISMATCH_SAME_CLASS, NI, CPI, cls, NULL, 0};
    int64_t out[K], out2[K];
    for (int q = 0; q < NI; q++) {
        Rng r1, r2;
        rng_init(&r1, 100, (uint64_t)q, RNG_STREAM_MISMATCH);
        rng_init(&r2, 100, (uint64_t)q, RNG_STREAM_MISMATCH);
        CHECK(rp_draw_mismatches(&sp, q, K, &r1, out) == T2I_OK);
        CHECK(rp_draw_mismatches(&sp, q, K, &r2, out2) == T2I_OK);
        CHECK(memcmp(out, out2, sizeof out) == 0);
        int ok = 1;
        for (int j = 0; j < K; j++) ok &= out[j] >= 0 && out[j] < NI * CPI && cls[out[j] / CPI] != cls[q];
        CHECK(ok);
    }
    // every caption slot of other classes is reachable (uniform image, then caption)
    int seen[NI * CPI] = {0};
    for (int q = 0; q < 200; q++) {
        Rng r;
        rng_init(&r, 7, (uint64_t)q, RNG_STREAM_MISMATCH);
        CHECK(rp_draw_mismatches(&sp, 0, K, &r, out) == T2I_OK);
        for (int j = 0; j < K; j++) seen[out[j]]++;
    }
    int covered = 0;
    for (int s = 3 * CPI; s < NI * CPI; s++) covered += seen[s] > 0;
    CHECK(covered == (NI - 3) * CPI);
    sp.rule = RP_MISMATCH_SAME_IMAGE;
    Rng r;
    rng_init(&r, 1, 4, RNG_STREAM_MISMATCH);
    CHECK(rp_draw_mismatches(&sp, 4, K, &r, out) == T2I_OK);
    int ok = 1, same_class_seen = 0;
    for (int j = 0; j < K; j++) {
        ok &= out[j] / CPI != 4;
        same_class_seen |= cls[out[j] / CPI] == cls[4];
    }
    CHECK(ok && same_class_seen);
    int64_t frozen[2 * 3] = {5, 6, 7, 8, 9, 150};
    RpMismatchSpec fz = {RP_MISMATCH_FROZEN, NI, CPI, NULL, frozen, 2};
    CHECK(rp_draw_mismatches(&fz, 0, 3, NULL, out) == T2I_OK && out[0] == 5 && out[2] == 7);
    CHECK_ERR(rp_draw_mismatches(&fz, 1, 3, NULL, out));   // 150 >= 30 * 5
    CHECK_ERR(rp_draw_mismatches(&fz, 2, 3, NULL, out));   // no such row
    int64_t one_class[NI] = {0};
    RpMismatchSpec bad = {RP_MISMATCH_SAME_CLASS, NI, CPI, one_class, NULL, 0};
    CHECK_ERR(rp_draw_mismatches(&bad, 0, K, &r, out));
    CHECK_ERR(rp_draw_mismatches(&sp, NI, K, &r, out));    // query out of range
}

// ---- CLI end to end -------------------------------------------------------------------------

static const char *bin(void) {
    const char *b = getenv("T2I_BIN");
    return b && *b ? b : "build/t2ibench";
}

// Runs `bin args`, captures stdout (parsed as JSON when json != NULL) and the exit status.
static int run_cli(const char *args, cJSON **json, char *err, size_t errn) {
    char cmd[2048], errf[] = "/tmp/t2i_metric_err_XXXXXX";
    int fd = mkstemp(errf);
    if (fd >= 0) close(fd);
    snprintf(cmd, sizeof cmd, "%s %s 2>%s", bin(), args, errf);
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    char out[65536];
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = 0;
    int st = pclose(p);
    if (err) {
        FILE *e = fopen(errf, "r");
        size_t m = e ? fread(err, 1, errn - 1, e) : 0;
        err[m] = 0;
        if (e) fclose(e);
    }
    remove(errf);
    if (json) {
        *json = cJSON_Parse(out);
        CHECKF(*json != NULL, "not JSON: %s", out);
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

TEST(cli_metric_end_to_end) {
    if (access(bin(), X_OK) != 0) {
        CHECKF(0, "binary %s not found (run make first)", bin());
        return;
    }
    cJSON *j;
    char err[1024];
    // is: CUB IS* with the background dropped
    CHECK(run_cli("metric is --logits " FIX "is_logits_cub.npy --splits 10 --classes 1:51 "
                  "--temperature 0.5980541706085205 --json", &j, NULL, 0) == 0);
    if (j) {
        CHECK_CLOSE(jnum(j, "value"), jnum(g_exp, "inception_score.cases.cub_star_s10.mean"), 0, 1e-9);
        CHECK_CLOSE(jnum(j, "std"), jnum(g_exp, "inception_score.cases.cub_star_s10.std"), 0, 1e-9);
        CHECK(jnum(j, "n") == 997);
        CHECK(cJSON_IsString(jget(j, "variant")) && strstr(jget(j, "variant")->valuestring, "tise-cub-is*"));
        cJSON_Delete(j);
    }
    CHECK(run_cli("metric is --logits " FIX "is_logits_coco.npy --splits 1 --json", &j, NULL, 0) == 0);
    if (j) {
        CHECK_CLOSE(jnum(j, "value"), jnum(g_exp, "inception_score.cases.coco_s1.mean"), 0, 1e-9);
        cJSON_Delete(j);
    }
    // fid: features vs features, .npz vs features, and --save-stats
    CHECK(run_cli("metric fid --a " FIX "feat_a.npy --b " FIX "feat_c.npy --json", &j, NULL, 0) == 0);
    if (j) {
        CHECK_CLOSE(jnum(j, "value"), jnum(g_exp, "fid.cases.a_vs_c.fid"), 0, 1e-6);
        CHECK(jnum(j, "n") == 400 && jnum(j, "n_b") == 40);
        CHECK(cJSON_IsNull(jget(j, "std")) && cJSON_IsString(jget(j, "variant")));
        cJSON_Delete(j);
    }
    char tmp[] = "/tmp/t2i_metric_cli_XXXXXX", args[512];
    CHECK(mkdtemp(tmp) != NULL);
    snprintf(args, sizeof args, "metric fid --a " FIX "feat_b.npy --save-stats %s/b.npz --json", tmp);
    CHECK(run_cli(args, &j, NULL, 0) == 0);
    cJSON_Delete(j);
    snprintf(args, sizeof args, "metric fid --a " FIX "stats_a.npz --b %s/b.npz --json", tmp);
    CHECK(run_cli(args, &j, NULL, 0) == 0);
    if (j) {
        CHECK_CLOSE(jnum(j, "value"), jnum(g_exp, "fid.cases.a_vs_b.fid"), 0, 1e-6);
        cJSON_Delete(j);
    }
    snprintf(args, sizeof args, "%s/b.npz", tmp);
    remove(args);
    rmdir(tmp);
    // kid with the fixture's explicit subsets
    CHECK(run_cli("metric kid --a " FIX "feat_a.npy --b " FIX "feat_b.npy --subset-index-a " FIX
                  "kid_subsets_a.npy --subset-index-b " FIX "kid_subsets_b.npy --json", &j, NULL, 0) == 0);
    if (j) {
        CHECK_CLOSE(jnum(j, "value"), jnum(g_exp, "kid.subsets_a_vs_b.mean"), 0, 1e-9);
        CHECK_CLOSE(jnum(j, "std"), jnum(g_exp, "kid.subsets_a_vs_b.std"), 0, 1e-9);
        cJSON_Delete(j);
    }
    // rp, both fold rules
    const char *rules[] = {"contiguous", "dmgan"};
    for (int i = 0; i < 2; i++) {
        snprintf(args, sizeof args, "metric rp --image-codes " FIX "rp_image_codes.npy "
                 "--sentence-codes " FIX "rp_sentence_codes.npy --candidates " FIX
                 "rp_candidates.npy --folds 10 --fold-rule %s --json", rules[i]);
        CHECK(run_cli(args, &j, NULL, 0) == 0);
        if (!j) continue;
        char key[64];
        snprintf(key, sizeof key, "r_precision.folds.%s_f10.mean", rules[i]);
        CHECK_CLOSE(jnum(j, "value"), jnum(g_exp, key), 1e-12, 0);
        snprintf(key, sizeof key, "r_precision.folds.%s_f10.std", rules[i]);
        CHECK_CLOSE(jnum(j, "std"), jnum(g_exp, key), 1e-12, 0);
        CHECK(jnum(j, "hits") == jnum(g_exp, "r_precision.hits") && jnum(j, "n") == 205);
        cJSON_Delete(j);
    }
    // errors: exit 2 with a message, usage errors exit 4
    CHECK(run_cli("metric is --logits " FIX "is_logits_coco.npy --splits 251", NULL, err, sizeof err) == 2);
    CHECKF(strstr(err, "smaller than the number of splits") != NULL, "stderr: %s", err);
    CHECK(run_cli("metric fid --a " FIX "feat_a.npy --b " FIX "rp_image_codes.npy", NULL, err, sizeof err) == 2);
    CHECKF(strstr(err, "dimensions differ") != NULL, "stderr: %s", err);
    CHECK(run_cli("metric kid --a " FIX "feat_a.npy --b " FIX "feat_c.npy", NULL, err, sizeof err) == 2);
    CHECKF(strstr(err, "larger than the number of samples") != NULL, "stderr: %s", err);
    CHECK(run_cli("metric rp --image-codes " FIX "rp_image_codes.npy --sentence-codes " FIX
                  "feat_a.npy --candidates " FIX "rp_candidates.npy", NULL, err, sizeof err) == 2);
    CHECKF(strstr(err, "dimension") != NULL, "stderr: %s", err);
    CHECK(run_cli("metric rp --image-codes x.npy --fold-rule sideways", NULL, err, sizeof err) == 4);
    CHECK(run_cli("metric is --logits " FIX "feat_a.npy --bogus", NULL, err, sizeof err) == 4);
    CHECK(run_cli("metric nope", NULL, err, sizeof err) == 4);
}

int main(void) {
    uint8_t *buf;
    size_t len;
    if (t2i_read_file(FIX "expected.json", &buf, &len) != T2I_OK) {
        fprintf(stderr, "cannot read " FIX "expected.json (run from the repository root): %s\n",
                t2i_errmsg());
        return 1;
    }
    g_exp = cJSON_ParseWithLength((const char *)buf, len);
    t2i_free(buf);
    if (!g_exp) {
        fprintf(stderr, FIX "expected.json: JSON syntax error\n");
        return 1;
    }
    RUN(xsum_exact_and_rounded);
    RUN(is_matches_numpy);
    RUN(is_streaming_and_merge_bit_exact);
    RUN(is_from_probs);
    RUN(is_degenerate_inputs);
    RUN(fid_matches_pytorch_fid);
    RUN(fid_stats_match_np_cov_and_npz_roundtrip);
    RUN(meancov_streaming_and_merge_bit_exact);
    RUN(fid_degenerate_inputs);
    RUN(kid_matches_torch_fidelity);
    RUN(rp_matches_dmgan);
    RUN(rp_degenerate_inputs);
    RUN(rp_mismatch_samplers);
    RUN(cli_metric_end_to_end);
    cJSON_Delete(g_exp);
    return test_report("test_metrics");
}
