// test_invariants.c -- invariants and metric boundaries that a plausible one-token bug breaks:
//   * Inception (torchvision, TF2015) and the DAMSM image encoder at batch 3 give, image for
//     image, exactly their batch-1 results, with the BLAS/helper thread count forced to 1 and
//     to 2 (independent of the machine's core count);
//   * FID's 1e-6 retry adds eps to both diagonals (two-sided formula);
//   * R-precision with the true caption ranked first, second and last, ties, top-R; through
//     rp_hits and through scoring_write on stored ranks;
//   * fold and split remainders, N equal to the split/fold count, KID subsets of size 2;
//   * mismatch sets never contain the query's own image (other-image) or class (other-class);
//   * resume lookup: shard-complete and complete runs are not resumed, others are.
#include "blas.h"
#include "damsm_image.h"
#include "db.h"
#include "fid.h"
#include "inception.h"
#include "inception_score.h"
#include "kid.h"
#include "protocol.h"
#include "r_precision.h"
#include "rng.h"
#include "scoring.h"
#include "state_dict.h"
#include "suite.h"
#include "t2i.h"
#include "test.h"
#include "weights.h"

#include <sqlite3.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmpdir[64] = "/tmp/t2i_test_invariants_XXXXXX";

// ---- batch independence at 1 and 2 threads ---------------------------------------------------

#define NB 3

static float *test_images(int H, int W) {
    size_t per = (size_t)3 * H * W;
    float *x = t2i_malloc_aligned(NB * per * sizeof(float));
    for (int b = 0; b < NB; b++)
        for (size_t i = 0; i < per; i++)
            x[b * per + i] = (float)(((i * (7919 + 104729 * (size_t)b)) + 13 * (size_t)b) % 2001) /
                                 1000.0f - 1.0f;
    return x;
}

// out[b] of a batch of NB equals out of image b alone, bit for bit.
static void same_rows(const char *what, int threads, const float *batch, const float *single,
                      int b, size_t per) {
    size_t bad = 0;
    for (size_t i = 0; i < per; i++) bad += memcmp(&batch[b * per + i], &single[i], 4) != 0;
    CHECKF(bad == 0, "%s, %d thread(s): image %d of the batch differs from its batch-1 result in "
           "%zu of %zu values", what, threads, b, bad, per);
}

// Batch-1 results are computed with BLAS on one thread; the batch of NB is then run with 1 and
// with 2 threads (2 threads split the batch into slices, each running single-threaded BLAS) and
// must equal them bit for bit. (Batch-1 itself with 2 BLAS threads differs in the last bits:
// OpenBLAS's sgemm is not bitwise thread-count independent; the runner evaluates one image per
// call on single-threaded BLAS per worker, see test_golden.)
static void inception_batch(InceptionVariant v, const char *what, int nhwc) {
    InceptionConfig cfg;
    inception_config(&cfg, v);
    Inception *net;
    CHECK(inception_create(&cfg, &net) == T2I_OK);
    StateDict sd;
    CHECK(hash_weights_fill(inception_keys(net), &sd) == T2I_OK);
    CHECK(inception_bind(net, &sd, what) == T2I_OK);
    CHECK(inception_set_nhwc(net, nhwc) == T2I_OK);
    int C = cfg.num_classes;
    float *x = test_images(299, 299);
    size_t per = (size_t)3 * 299 * 299;
    float *pb = t2i_malloc_aligned(NB * 2048 * 4), *lb = t2i_malloc_aligned((size_t)NB * C * 4);
    float *p1 = t2i_malloc_aligned(NB * 2048 * 4), *l1 = t2i_malloc_aligned((size_t)NB * C * 4);
    int saved = blas_get_threads();
    // The first call of the fresh network: a batch split over 2 threads (its arenas are sized
    // by the largest slice, ceil(NB / 2) images).
    float *p2 = t2i_malloc_aligned(NB * 2048 * 4);
    blas_set_threads(2);
    test_poison(p2, NB * 2048);
    InceptionOut o2 = {.pool3 = p2};
    CHECK(inception_forward(net, x, NB, &o2) == T2I_OK);
    blas_set_threads(1);
    for (int b = 0; b < NB; b++) {
        test_poison(p1 + b * 2048, 2048);
        test_poison(l1 + (size_t)b * C, (size_t)C);
        InceptionOut o1 = {.pool3 = p1 + b * 2048, .logits = l1 + (size_t)b * C};
        CHECK(inception_forward(net, x + b * per, 1, &o1) == T2I_OK);
    }
    for (int threads = 1; threads <= 2; threads++) {
        blas_set_threads(threads);
        test_poison(pb, NB * 2048);
        test_poison(lb, (size_t)NB * C);
        InceptionOut o = {.pool3 = pb, .logits = lb};
        CHECK(inception_forward(net, x, NB, &o) == T2I_OK);
        for (int b = 0; b < NB; b++) {
            same_rows(what, threads, pb, p1 + b * 2048, b, 2048);
            same_rows(what, threads, lb, l1 + (size_t)b * C, b, (size_t)C);
        }
    }
    for (int b = 0; b < NB; b++) same_rows(what, 2, p2, p1 + b * 2048, b, 2048);
    blas_set_threads(saved);
    t2i_free(x), t2i_free(pb), t2i_free(lb), t2i_free(p1), t2i_free(l1), t2i_free(p2);
    inception_free(net);
}

TEST(inception_torchvision_batch_equals_batch1) { inception_batch(INCEPTION_TORCHVISION, "tv", 1); }
TEST(inception_tf2015_batch_equals_batch1) { inception_batch(INCEPTION_TF2015, "tf2015", 1); }
// The channel-major twin (bench baseline, tools/xnn_ab) keeps the same contract.
TEST(inception_channel_major_batch_equals_batch1) {
    inception_batch(INCEPTION_TF2015, "tf2015 channel-major", 0);
}

TEST(damsm_image_batch_equals_batch1) {
    DamsmImage m;
    memset(&m, 0, sizeof m);
    CHECK(damsm_image_init(&m, 256) == T2I_OK);
    StateDict sd;
    CHECK(hash_weights_fill(damsm_image_keys(&m), &sd) == T2I_OK);
    CHECK(damsm_image_bind(&m, &sd, "damsm") == T2I_OK);
    CHECK(damsm_image_reserve(&m, NB) == T2I_OK);
    int H = 64, W = 64;
    float *x = test_images(H, W);
    size_t per = (size_t)3 * H * W, fe = (size_t)256 * 17 * 17;
    float *cb = t2i_malloc_aligned(NB * 256 * 4), *fb = t2i_malloc_aligned(NB * fe * 4);
    float *c1 = t2i_malloc_aligned(NB * 256 * 4), *f1 = t2i_malloc_aligned(NB * fe * 4);
    int saved = blas_get_threads();
    blas_set_threads(1);
    for (int b = 0; b < NB; b++) {
        test_poison(c1 + b * 256, 256);
        test_poison(f1 + b * fe, fe);
        DamsmImageOut o1 = {.features = f1 + b * fe, .cnn_code = c1 + b * 256};
        CHECK(damsm_image_forward(&m, x + b * per, 1, H, W, &o1) == T2I_OK);
    }
    for (int threads = 1; threads <= 2; threads++) {
        blas_set_threads(threads);
        test_poison(cb, NB * 256);
        test_poison(fb, NB * fe);
        DamsmImageOut o = {.features = fb, .cnn_code = cb};
        CHECK(damsm_image_forward(&m, x, NB, H, W, &o) == T2I_OK);
        for (int b = 0; b < NB; b++) {
            // cnn_code is one sgemm over the batch rows (M = B), whose OpenBLAS kernel differs
            // from the M = 1 one in the last bits: within float rounding, not bitwise.
            check_tensor("damsm cnn_code", cb + b * 256, c1 + b * 256, 256, 1e-6, 1e-5);
            same_rows("damsm features", threads, fb, f1 + b * fe, b, fe);
        }
    }
    blas_set_threads(saved);
    t2i_free(x), t2i_free(cb), t2i_free(fb), t2i_free(c1), t2i_free(f1);
    damsm_image_free(&m);
}

// ---- FID ---------------------------------------------------------------------------------------

TEST(fid_retry_formula_two_sided) {
    // Zero covariances: tr sqrt((0 + e)(0 + e)) = D e with eps on both diagonals (one-sided
    // gives 0); eps 0 gives 0.
    double z[9] = {0}, tr = -1, mn = 0;
    int nc = 0;
    CHECK(fid_trace_sqrt_product(z, z, 3, FID_OFFSET_EPS, &tr, &nc, &mn) == T2I_OK);
    CHECK_CLOSE(tr, 3 * FID_OFFSET_EPS, 0, 1e-9);
    CHECK(fid_trace_sqrt_product(z, z, 3, 0.0, &tr, &nc, &mn) == T2I_OK);
    CHECK_CLOSE(tr, 0.0, 1e-12, 0);
    // Diagonal S1 = diag(1, 4), S2 = diag(9, 0): tr = sqrt((1+e)(9+e)) + sqrt((4+e)e).
    double s1[4] = {1, 0, 0, 4}, s2[4] = {9, 0, 0, 0};
    double e = FID_OFFSET_EPS;
    CHECK(fid_trace_sqrt_product(s1, s2, 2, e, &tr, &nc, &mn) == T2I_OK);
    CHECK_CLOSE(tr, sqrt((1 + e) * (9 + e)) + sqrt((4 + e) * e), 1e-12, 1e-12);
    CHECK(fid_trace_sqrt_product(s2, s1, 2, e, &tr, &nc, &mn) == T2I_OK);
    CHECK_CLOSE(tr, sqrt((1 + e) * (9 + e)) + sqrt((4 + e) * e), 1e-12, 1e-12);
    CHECK(fid_trace_sqrt_product(s1, s2, 2, 0.0, &tr, &nc, &mn) == T2I_OK);
    CHECK_CLOSE(tr, 3.0, 1e-12, 1e-12);
    // A negative eigenvalue of the product (an indefinite S2) is clipped to 0, counted and
    // reported: S1 = I, S2 = diag(1, -4) gives tr = 1.
    double eye[4] = {1, 0, 0, 1}, ind[4] = {1, 0, 0, -4};
    nc = 0, mn = 0;
    CHECK(fid_trace_sqrt_product(eye, ind, 2, 0.0, &tr, &nc, &mn) == T2I_OK);
    CHECK_CLOSE(tr, 1.0, 1e-12, 1e-12);
    CHECK(nc == 1);
    CHECK_CLOSE(mn, -4.0, 1e-12, 1e-12);
    // A singular but finite pair needs no retry: FID = |mu1 - mu2|^2 + tr S1 + tr S2 - 2 tr.
    double mu1[2] = {1, 2}, mu2[2] = {0, 0};
    FidResult r;
    CHECK(fid_frechet_distance(mu1, s1, mu2, s2, 2, &r) == T2I_OK);
    CHECK(!r.offset_used);
    CHECK_CLOSE(r.fid, 5 + 5 + 9 - 6, 1e-9, 1e-12);
    CHECK_CLOSE(r.mean_term, 5, 0, 1e-15);
}

// ---- R-precision -------------------------------------------------------------------------------

// One query, K = 3 mismatches. Image code (1, 0); sentence j at angle theta_j.
static int rp_one(const double *cosines, int K, int R) {
    double img[2] = {1, 0}, sent[2 * 8];
    int64_t cand[8];
    for (int j = 0; j <= K; j++) {
        sent[2 * j] = cosines[j];
        sent[2 * j + 1] = sqrt(1 - cosines[j] * cosines[j]);
        cand[j] = j;
    }
    uint8_t hit = 7;
    int64_t nh = -1;
    int rc = rp_hits(img, 1, sent, K + 1, 2, cand, K, R, &hit, &nh);
    CHECK(rc == T2I_OK && nh == hit);
    return rc ? -1 : hit;
}

TEST(rp_rank_first_second_last_ties) {
    const double first[4] = {0.9, 0.5, 0.1, -0.3}, second[4] = {0.5, 0.9, 0.1, -0.3},
                 last[4] = {-0.3, 0.9, 0.5, 0.1}, tie[4] = {0.5, 0.5, 0.1, 0.5};
    CHECK(rp_one(first, 3, 1) == 1);
    CHECK(rp_one(second, 3, 1) == 0);
    CHECK(rp_one(second, 3, 2) == 1);
    CHECK(rp_one(last, 3, 1) == 0);
    CHECK(rp_one(last, 3, 3) == 0);
    CHECK(rp_one(last, 3, 4) == 1);   // R = K + 1: every rank is a hit
    CHECK(rp_one(tie, 3, 1) == 1);    // ties go to the true caption (first maximum)
    double img[2] = {1, 0}, sent[8] = {1, 0, 1, 0, 1, 0, 1, 0};
    int64_t cand[4] = {0, 1, 2, 3};
    uint8_t h;
    int64_t nh;
    CHECK(rp_hits(img, 1, sent, 4, 2, cand, 3, 0, &h, &nh) != T2I_OK);   // R < 1
    CHECK(rp_hits(img, 1, sent, 4, 2, cand, 3, 5, &h, &nh) != T2I_OK);   // R > K + 1
    cand[3] = 4;
    CHECK(rp_hits(img, 1, sent, 4, 2, cand, 3, 1, &h, &nh) != T2I_OK);   // id == n_sent
}

TEST(rp_fold_remainders) {
    // n = 10, 3 folds. exact: [0,3) [3,6) [6,10); dmgan: n/F = 3, [0,2) [3,5) [6,8).
    const uint8_t hits[10] = {1, 1, 0, 1, 0, 0, 1, 1, 1, 1};
    double fm[3];
    RpResult r;
    CHECK(rp_folds(hits, 10, 3, RP_FOLD_EXACT, fm, &r) == T2I_OK);
    CHECK_CLOSE(fm[0], 2.0 / 3, 0, 1e-15);
    CHECK_CLOSE(fm[1], 1.0 / 3, 0, 1e-15);
    CHECK_CLOSE(fm[2], 4.0 / 4, 0, 1e-15);
    CHECK(r.n == 10 && r.n_used == 10 && r.folds == 3);
    double mean = (2.0 / 3 + 1.0 / 3 + 1.0) / 3;
    CHECK_CLOSE(r.mean, mean, 0, 1e-15);
    double var = (pow(2.0 / 3 - mean, 2) + pow(1.0 / 3 - mean, 2) + pow(1.0 - mean, 2)) / 3;
    CHECK_CLOSE(r.std, sqrt(var), 0, 1e-12);
    CHECK(rp_folds(hits, 10, 3, RP_FOLD_DMGAN, fm, &r) == T2I_OK);
    CHECK_CLOSE(fm[0], 1.0, 0, 1e-15);
    CHECK_CLOSE(fm[1], 0.5, 0, 1e-15);
    CHECK_CLOSE(fm[2], 1.0, 0, 1e-15);
    CHECK(r.n_used == 6);
    // n = 11, 3 folds: exact boundaries f*n/F are 0, 3, 7, 11 (not multiples of n/F).
    const uint8_t h11[11] = {0, 0, 0, 1, 1, 1, 0, 1, 1, 1, 1};
    CHECK(rp_folds(h11, 11, 3, RP_FOLD_EXACT, fm, &r) == T2I_OK);
    CHECK(fm[0] == 0 && fm[1] == 0.75 && fm[2] == 1 && r.n_used == 11);
    // N equal to the fold count (exact): one element per fold.
    CHECK(rp_folds(hits, 3, 3, RP_FOLD_EXACT, fm, &r) == T2I_OK);
    CHECK(fm[0] == 1 && fm[1] == 1 && fm[2] == 0 && r.n_used == 3);
    CHECK(rp_folds(hits, 2, 3, RP_FOLD_EXACT, fm, &r) != T2I_OK);
    // dmgan needs n/F >= 2: n = 2F works, 2F - 1 does not.
    CHECK(rp_folds(hits, 6, 3, RP_FOLD_DMGAN, fm, &r) == T2I_OK);
    CHECK(fm[0] == 1 && fm[1] == 0 && fm[2] == 0 && r.n_used == 3);   // hits 0, 2, 4
    CHECK(rp_folds(hits, 5, 3, RP_FOLD_DMGAN, fm, &r) != T2I_OK);
    CHECK(rp_folds(hits, 1, 1, RP_FOLD_EXACT, fm, &r) == T2I_OK && fm[0] == 1);
    CHECK(rp_folds(hits, 1, 0, RP_FOLD_EXACT, fm, &r) != T2I_OK);
}

// ---- Inception Score ---------------------------------------------------------------------------

// Reference IS of one split (rows lo..hi of logits (n, C)), in double.
static double is_split_ref(const double *x, int lo, int hi, int C) {
    double pbar[8] = {0}, p[64][8];
    for (int i = lo; i < hi; i++) {
        double m = -INFINITY, s = 0;
        for (int c = 0; c < C; c++) m = fmax(m, x[i * C + c]);
        for (int c = 0; c < C; c++) s += exp(x[i * C + c] - m);
        for (int c = 0; c < C; c++) {
            p[i][c] = exp(x[i * C + c] - m) / s;
            pbar[c] += p[i][c] / (hi - lo);
        }
    }
    double kl = 0;
    for (int i = lo; i < hi; i++)
        for (int c = 0; c < C; c++) kl += p[i][c] * (log(p[i][c]) - log(pbar[c]));
    return exp(kl / (hi - lo));
}

TEST(is_split_remainders) {
    enum { N = 10, C = 4 };
    double x[N * C];
    for (int i = 0; i < N * C; i++) x[i] = sin(1.7 * i) * 3;
    IsOptions o = is_options_default();
    for (int splits = 1; splits <= N; splits++) {
        o.splits = splits;
        double sc[N];
        IsResult r;
        CHECK(inception_score(x, DT_F64, N, C, &o, sc, &r) == T2I_OK);
        double mean = 0;
        for (int k = 0; k < splits; k++) {
            double ref = is_split_ref(x, k * N / splits, (k + 1) * N / splits, C);
            CHECKF(fabs(sc[k] - ref) <= 1e-12 * ref, "splits %d, split %d: %.17g vs %.17g",
                   splits, k, sc[k], ref);
            mean += ref / splits;
        }
        CHECK_CLOSE(r.mean, mean, 0, 1e-12);
        CHECK(r.n == N && r.splits == splits);
        if (splits == N) CHECK_CLOSE(r.mean, 1.0, 0, 1e-15);   // one sample per split: KL 0
    }
    o.splits = N + 1;
    IsResult r;
    CHECK(inception_score(x, DT_F64, N, C, &o, NULL, &r) != T2I_OK);
}

// ---- KID ---------------------------------------------------------------------------------------

TEST(kid_subset_size_two) {
    // m = 2, D = 1, degree 1, gamma 1, coef0 0: k(x, y) = x y.
    // MMD^2 = (2 x0 x1 + 2 y0 y1) / 2 - 2 (x0 + x1)(y0 + y1) / 4.
    double X[2] = {1, 3}, Y[2] = {2, 5}, v;
    KidOptions o = kid_options_default();
    o.degree = 1, o.gamma = 1, o.coef0 = 0, o.subset_size = 2, o.subsets = 1;
    CHECK(kid_mmd2_unbiased(X, Y, 2, 1, &o, &v) == T2I_OK);
    CHECK_CLOSE(v, (2.0 * 3 + 2.0 * 10) / 2 - 2.0 * 4 * 7 / 4, 1e-12, 0);
    // Cubic default kernel, gamma 1/D, coef0 1, by hand.
    KidOptions d = kid_options_default();
    d.subset_size = 2, d.subsets = 1;
    CHECK(kid_mmd2_unbiased(X, Y, 2, 1, &d, &v) == T2I_OK);
    double k = 0;
    k += 2 * pow(1 * 3 + 1.0, 3) + 2 * pow(2 * 5 + 1.0, 3);
    double kxy = pow(1 * 2 + 1.0, 3) + pow(1 * 5 + 1.0, 3) + pow(3 * 2 + 1.0, 3) + pow(3 * 5 + 1.0, 3);
    CHECK_CLOSE(v, k / 2 - 2 * kxy / 4, 1e-9, 1e-12);
    // Subsets of size 2 through kid_compute with explicit indices; subset_size = N works,
    // N + 1 and 1 are refused.
    double A[3] = {1, 3, 7}, B[3] = {2, 5, 4};
    int64_t ia[2] = {0, 1}, ib[2] = {0, 1};
    KidResult r;
    CHECK(kid_compute(A, 3, B, 3, 1, &o, ia, ib, NULL, NULL, &r) == T2I_OK);
    CHECK_CLOSE(r.mean, (2.0 * 3 + 2.0 * 10) / 2 - 2.0 * 4 * 7 / 4, 1e-12, 0);
    Rng g;
    rng_init(&g, 1, 0, RNG_STREAM_KID);
    o.subset_size = 3;
    CHECK(kid_compute(A, 3, B, 3, 1, &o, NULL, NULL, &g, NULL, &r) == T2I_OK);
    o.subset_size = 4;
    CHECK(kid_compute(A, 3, B, 3, 1, &o, NULL, NULL, &g, NULL, &r) != T2I_OK);
    o.subset_size = 1;
    CHECK(kid_compute(A, 3, B, 3, 1, &o, NULL, NULL, &g, NULL, &r) != T2I_OK);
    // Distinct indices within a subset are required.
    o.subset_size = 2;
    int64_t dup[2] = {1, 1};
    CHECK(kid_compute(A, 3, B, 3, 1, &o, dup, ib, NULL, NULL, &r) != T2I_OK);
    // Indices run up to n - 1: row n is refused in either set.
    int64_t last[2] = {0, 2}, past[2] = {0, 3};
    CHECK(kid_compute(A, 3, B, 3, 1, &o, last, last, NULL, NULL, &r) == T2I_OK);
    CHECK(kid_compute(A, 3, B, 3, 1, &o, past, ib, NULL, NULL, &r) != T2I_OK);
    CHECK(kid_compute(A, 3, B, 3, 1, &o, ia, past, NULL, NULL, &r) != T2I_OK);
    // ... also when the memory after the last row holds a finite value (rows of a are checked
    // against a's count, rows of b against b's).
    double A5[5] = {1, 3, 7, 2, 9}, B4[4] = {2, 5, 4, 1};
    CHECK(kid_compute(A5, 5, B4, 3, 1, &o, ia, past, NULL, NULL, &r) != T2I_OK);
    CHECK(kid_compute(B4, 3, A5, 5, 1, &o, past, ia, NULL, NULL, &r) != T2I_OK);
    // Sets of different sizes: subsets of b are drawn from b's rows (5 subsets of 2 from 5 rows
    // of a and 2 of b), and a subset larger than the smaller set is refused whichever it is.
    o.subsets = 5;
    rng_init(&g, 3, 0, RNG_STREAM_KID);
    CHECKF(kid_compute(A5, 5, B, 2, 1, &o, NULL, NULL, &g, NULL, &r) == T2I_OK, "%s",
           t2i_errmsg());
    o.subsets = 1;
    o.subset_size = 3;
    CHECK(kid_compute(A5, 5, B, 2, 1, &o, NULL, NULL, &g, NULL, &r) != T2I_OK);
    CHECK(kid_compute(B, 2, A5, 5, 1, &o, NULL, NULL, &g, NULL, &r) != T2I_OK);
}

// ---- mismatch sets -----------------------------------------------------------------------------

TEST(rp_mismatch_never_the_query) {
    // 5 images x 2 captions; classes {0, 0, 1, 1, 2}.
    int64_t cls[5] = {0, 0, 1, 1, 2};
    RpMismatchSpec sp = {.rule = RP_MISMATCH_SAME_CLASS, .n_images = 5, .captions_per_image = 2,
                         .class_ids = cls};
    int64_t out[50];
    for (int rule = 0; rule <= 1; rule++) {
        sp.rule = rule ? RP_MISMATCH_SAME_IMAGE : RP_MISMATCH_SAME_CLASS;
        int bad = 0;
        for (int64_t q = 0; q < 5; q++) {
            Rng g;
            rng_init(&g, 9, (uint64_t)q, RNG_STREAM_MISMATCH);
            CHECK(rp_draw_mismatches(&sp, q, 50, &g, out) == T2I_OK);
            for (int k = 0; k < 50; k++) {
                int64_t img = out[k] / 2;
                bad += rule ? img == q : cls[img] == cls[q];
                bad += out[k] < 0 || out[k] >= 10;
            }
        }
        CHECKF(bad == 0, "rule %d: %d forbidden draws", rule, bad);
    }
    // Two images of one class: same-class has nothing to draw, same-image has one image.
    int64_t one[2] = {4, 4};
    RpMismatchSpec s2 = {.rule = RP_MISMATCH_SAME_CLASS, .n_images = 2, .captions_per_image = 1,
                         .class_ids = one};
    Rng g;
    rng_init(&g, 1, 0, RNG_STREAM_MISMATCH);
    CHECK(rp_draw_mismatches(&s2, 0, 3, &g, out) != T2I_OK);
    s2.rule = RP_MISMATCH_SAME_IMAGE;
    CHECK(rp_draw_mismatches(&s2, 0, 3, &g, out) == T2I_OK);
    CHECK(out[0] == 1 && out[1] == 1 && out[2] == 1);
    s2.n_images = 1;
    CHECK(rp_draw_mismatches(&s2, 0, 3, &g, out) != T2I_OK);
}

// A hand-made caption table of 3 images (classes 5, 5, 6) with 2 caption rows each: the
// other-image rule never returns the query's rows, the other-class rule never its class.
TEST(suite_mismatch_small_table) {
    int32_t image_slot[6] = {0, 0, 1, 1, 2, 2}, class_id[3] = {5, 5, 6}, first[4] = {0, 2, 4, 6};
    int32_t rows_of[6] = {0, 1, 2, 3, 4, 5};
    CaptionTable t;
    memset(&t, 0, sizeof t);
    t.image_slot = image_slot, t.n_rows = 6, t.n_images = 3, t.class_id = class_id;
    t.first = first, t.rows_of = rows_of;
    int32_t out[200];
    int own = 0, same_class = 0, seen[6] = {0};
    for (int32_t q = 0; q < 3; q++) {
        suite_draw_mismatch(&t, 3, q, q, MISMATCH_OTHER_IMAGE, 200, out);
        for (int k = 0; k < 200; k++) {
            own += image_slot[out[k]] == q;
            seen[out[k]]++;
        }
        suite_draw_mismatch(&t, 3, q, q, MISMATCH_OTHER_CLASS, 200, out);
        for (int k = 0; k < 200; k++) same_class += class_id[image_slot[out[k]]] == class_id[q];
    }
    CHECKF(own == 0 && same_class == 0, "%d own-image and %d same-class draws", own, same_class);
    for (int r = 0; r < 6; r++) CHECKF(seen[r] > 0, "caption row %d never drawn", r);
}

TEST(suite_mismatch_never_the_query) {
    Suite s;
    int rc = suite_load("suites/cub_smoke.suite", &s);
    CHECKF(rc == T2I_OK, "%s", t2i_errmsg());
    if (rc) return;
    const CaptionTable *t = &s.table;
    int32_t out[64];
    int bad_class = 0, bad_image = 0, draws = 0;
    for (int64_t i = 0; i < s.n; i++) {
        int32_t slot = s.s[i].image_slot;
        suite_draw_mismatch(t, 11, i, slot, MISMATCH_OTHER_CLASS, 64, out);
        for (int k = 0; k < 64; k++)
            bad_class += t->class_id[t->image_slot[out[k]]] == t->class_id[slot];
        suite_draw_mismatch(t, 11, i, slot, MISMATCH_OTHER_IMAGE, 64, out);
        for (int k = 0; k < 64; k++, draws++) bad_image += t->image_slot[out[k]] == slot;
        // and the suite's own stored mismatches (other-class)
        for (int k = 0; k < s.mismatches; k++)
            bad_class += t->class_id[t->image_slot[s.s[i].mismatch[k]]] == s.s[i].class_id;
    }
    CHECKF(bad_class == 0 && bad_image == 0, "%d other-class and %d other-image violations in %d",
           bad_class, bad_image, draws);
    suite_free(&s);
}

// ---- scoring on stored ranks; resume lookup ----------------------------------------------------

static Db DB;
static int64_t add_run(const char *key, const char *status, int64_t n, int block) {
    DbRun r = {.status = status, .kind = "run", .run_key = key, .fingerprint = "f",
               .inputs_fingerprint = "i", .model_fingerprint = "m", .suite = "s",
               .suite_sha256 = "h", .protocol = "p", .model = "m", .evaluators = "e",
               .n_samples = n, .n_blocks = (n + block - 1) / block, .block_size = block,
               .provenance = "{}"};
    int64_t id = 0;
    CHECK(db_begin(&DB) == T2I_OK);
    CHECK(db_run_insert(&DB, &r, &id) == T2I_OK);
    CHECK(db_commit(&DB) == T2I_OK);
    return id;
}

static double metric(int64_t run, const char *name) {
    sqlite3_stmt *st;
    double v = NAN;
    if (sqlite3_prepare_v2(db_handle(&DB), "SELECT value FROM metrics WHERE run = ? AND name = ?",
                           -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, run);
        sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW) v = sqlite3_column_double(st, 0);
        sqlite3_finalize(st);
    }
    return v;
}

TEST(scoring_rp_from_stored_ranks) {
    // 4 samples ranked 0 (first), 1 (second), 99 (last of 99 mismatches), 0; k = 1, 2, 99, 100.
    const int ranks[4] = {0, 1, 99, 0};
    const double want[4][2] = {{1, 50}, {2, 75}, {99, 75}, {100, 100}};
    for (int c = 0; c < 4; c++) {
        int64_t run = add_run("rp", "running", 4, 2);
        CHECK(db_begin(&DB) == T2I_OK);
        for (int i = 0; i < 4; i++) {
            DbSample s = {.sample = i, .block = i / 2, .rp_rank = ranks[i]};
            CHECK(db_sample_put(&DB, run, &s) == T2I_OK);
        }
        for (int b = 0; b < 2; b++) CHECK(db_block_done(&DB, run, b, 2, 0.0) == T2I_OK);
        ScoreSpec sp;
        memset(&sp, 0, sizeof sp);
        sp.n = 4, sp.block_size = 2, sp.use_rp = 1, sp.rp_k = (int)want[c][0], sp.rp_folds = 1;
        int rc = scoring_write(&DB, run, &sp);
        CHECKF(rc == T2I_OK, "%s", t2i_errmsg());
        CHECK(db_commit(&DB) == T2I_OK);
        double v = metric(run, "rp");
        CHECKF(v == want[c][1], "k = %d: rp %g, expected %g", (int)want[c][0], v, want[c][1]);
    }
}

TEST(resume_lookup_by_status) {
    // The newest run with the key that is neither complete nor shard-complete is resumed.
    int64_t id;
    int64_t a = add_run("k1", "running", 4, 2);
    CHECK(db_run_find_incomplete(&DB, "k1", &id) == T2I_OK && id == a);
    CHECK(db_begin(&DB) == T2I_OK);
    CHECK(db_run_set_status(&DB, a, "shard-complete") == T2I_OK);
    CHECK(db_commit(&DB) == T2I_OK);
    CHECK(db_run_find_incomplete(&DB, "k1", &id) == T2I_OK && id == 0);
    CHECK(db_begin(&DB) == T2I_OK);
    CHECK(db_run_set_status(&DB, a, "complete") == T2I_OK);
    CHECK(db_commit(&DB) == T2I_OK);
    CHECK(db_run_find_incomplete(&DB, "k1", &id) == T2I_OK && id == 0);
    int64_t b = add_run("k1", "interrupted", 4, 2);
    int64_t c = add_run("k1", "failed", 4, 2);
    add_run("k2", "running", 4, 2);
    CHECK(db_run_find_incomplete(&DB, "k1", &id) == T2I_OK && id == c);
    CHECK(db_begin(&DB) == T2I_OK);
    CHECK(db_run_set_status(&DB, c, "complete") == T2I_OK);
    CHECK(db_commit(&DB) == T2I_OK);
    CHECK(db_run_find_incomplete(&DB, "k1", &id) == T2I_OK && id == b);
    CHECK(db_run_find_incomplete(&DB, "k3", &id) == T2I_OK && id == 0);
    // Committed blocks are reported per block.
    uint8_t done[3] = {9, 9, 9};
    CHECK(db_begin(&DB) == T2I_OK);
    CHECK(db_block_done(&DB, b, 1, 2, 0.0) == T2I_OK);
    CHECK(db_commit(&DB) == T2I_OK);
    CHECK(db_blocks_done(&DB, b, done, 3) == T2I_OK);
    CHECK(done[0] == 0 && done[1] == 1 && done[2] == 0);
    // Shard membership: block b of shard i/n when b % n == i.
    CHECK(scoring_block_in_shard(4, 1, 3) && !scoring_block_in_shard(4, 0, 3) &&
          scoring_block_in_shard(4, 0, 1) && scoring_block_in_shard(4, 0, 0));
    for (int blk = 0; blk < 12; blk++)
        for (int i = 0; i < 3; i++)
            CHECKF(scoring_block_in_shard(blk, i, 3) == (blk % 3 == i), "block %d shard %d/3",
                   blk, i);
}

int main(void) {
    if (!mkdtemp(tmpdir)) return 1;
    char path[128];
    snprintf(path, sizeof path, "%s/r.db", tmpdir);
    if (db_open(&DB, path, 0)) {
        fprintf(stderr, "%s\n", t2i_errmsg());
        return 1;
    }
    RUN(fid_retry_formula_two_sided);
    RUN(rp_rank_first_second_last_ties);
    RUN(rp_fold_remainders);
    RUN(is_split_remainders);
    RUN(kid_subset_size_two);
    RUN(rp_mismatch_never_the_query);
    RUN(suite_mismatch_small_table);
    RUN(suite_mismatch_never_the_query);
    RUN(scoring_rp_from_stored_ranks);
    RUN(resume_lookup_by_status);
    RUN(inception_torchvision_batch_equals_batch1);
    RUN(inception_tf2015_batch_equals_batch1);
    RUN(inception_channel_major_batch_equals_batch1);
    RUN(damsm_image_batch_equals_batch1);
    db_close(&DB);
    unlink(path);
    char j[160];
    snprintf(j, sizeof j, "%s-journal", path);
    unlink(j);
    rmdir(tmpdir);
    return test_report("test_invariants");
}
