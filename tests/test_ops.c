// test_ops.c -- every fast kernel against its plain twin (or a direct formula) on odd shapes,
// with outputs poisoned with NaN before each call.
#include "blas.h"
#include "ops.h"
#include "t2i.h"
#include "test.h"
#include "testdata.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

// This file's data seed (tests/testdata.h): values in [-1, 1).
static uint64_t rng_state = 0x1234567887654321ULL;
static float frand(void) { return frand_from(&rng_state); }
static float *rand_buf(size_t n) { return rand_buf_from(&rng_state, n, 1); }

TEST(sgemm_vs_ref) {
    const int dims[][3] = {{1, 1, 1}, {7, 5, 3}, {33, 17, 65}, {64, 129, 31}, {5, 300, 2}};
    for (size_t d = 0; d < sizeof dims / sizeof dims[0]; d++) {
        int M = dims[d][0], N = dims[d][1], K = dims[d][2];
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++)
                for (int bi = 0; bi < 2; bi++) {
                    float beta = bi ? 0.5f : 0.0f;
                    int   lda = (ta ? M : K) + 3, ldb = (tb ? K : N) + 1, ldc = N + 2;
                    float *A = rand_buf((size_t)(ta ? K : M) * lda);
                    float *B = rand_buf((size_t)(tb ? N : K) * ldb);
                    float *C1 = bi ? rand_buf((size_t)M * ldc) : nan_buf((size_t)M * ldc);
                    float *C2 = t2i_malloc_aligned((size_t)M * ldc * sizeof(float));
                    memcpy(C2, C1, (size_t)M * ldc * sizeof(float));
                    sgemm(ta, tb, M, N, K, 1.5f, A, lda, B, ldb, beta, C1, ldc);
                    sgemm_ref(ta, tb, M, N, K, 1.5f, A, lda, B, ldb, beta, C2, ldc);
                    for (int i = 0; i < M; i++)
                        check_tensor("sgemm", C1 + (size_t)i * ldc, C2 + (size_t)i * ldc,
                                     (size_t)N, 1e-5, 1e-5);
                    t2i_free(A), t2i_free(B), t2i_free(C1), t2i_free(C2);
                }
    }
}

// conv2d_forward (im2col + sgemm, and the direct 1x1 path) vs conv2d_forward_ref.
static void conv_case(int B, int IC, int OC, int H, int W, int kh, int kw, int sh, int sw, int ph,
                      int pw, int bias) {
    Conv2d m = {.in_c = IC, .out_c = OC, .kh = kh, .kw = kw, .sh = sh, .sw = sw, .ph = ph,
                .pw = pw};
    float *w = rand_buf((size_t)OC * IC * kh * kw);
    float *b = bias ? rand_buf((size_t)OC) : NULL;
    m.w = w;
    m.b = b;
    int OH, OW;
    conv2d_out_hw(&m, H, W, &OH, &OW);
    size_t nin = (size_t)B * IC * H * W, nout = (size_t)B * OC * OH * OW;
    float *in = rand_buf(nin);
    float *o1 = nan_buf(nout), *o2 = nan_buf(nout);
    size_t ns = conv2d_scratch_floats(&m, H, W);
    float *scratch = ns ? nan_buf(ns) : NULL;
    conv2d_forward(o1, in, &m, B, H, W, scratch);
    conv2d_forward_ref(o2, in, &m, B, H, W);
    char what[128];
    snprintf(what, sizeof what, "conv B%d IC%d OC%d %dx%d k%dx%d s%dx%d p%dx%d", B, IC, OC, H, W,
             kh, kw, sh, sw, ph, pw);
    check_tensor(what, o1, o2, nout, 1e-5, 1e-5);
    t2i_free(w), t2i_free(b), t2i_free(in), t2i_free(o1), t2i_free(o2), t2i_free(scratch);
}

TEST(conv2d_vs_ref) {
    conv_case(2, 3, 5, 11, 13, 3, 3, 2, 2, 0, 0, 0);    // Inception stem 3x3 s2
    conv_case(3, 7, 9, 10, 9, 3, 3, 1, 1, 1, 1, 1);     // 3x3 pad 1 with bias
    conv_case(2, 6, 4, 9, 11, 1, 7, 1, 1, 0, 3, 0);     // 1x7 pad (0,3)
    conv_case(2, 6, 4, 11, 9, 7, 1, 1, 1, 3, 0, 1);     // 7x1 pad (3,0)
    conv_case(1, 5, 3, 12, 10, 1, 3, 1, 1, 0, 1, 0);    // 1x3 pad (0,1)
    conv_case(1, 5, 3, 12, 10, 3, 1, 1, 1, 1, 0, 0);    // 3x1 pad (1,0)
    conv_case(3, 13, 17, 7, 5, 1, 1, 1, 1, 0, 0, 1);    // pointwise (no im2col)
    conv_case(2, 4, 6, 9, 9, 1, 1, 2, 2, 0, 0, 0);      // strided 1x1 (im2col)
    conv_case(1, 3, 2, 8, 13, 5, 5, 1, 1, 2, 2, 1);     // 5x5 pad 2
    conv_case(2, 3, 4, 6, 7, 2, 3, 3, 2, 1, 2, 0);      // uneven k, s, p
    conv_case(1, 2, 3, 3, 3, 3, 3, 1, 1, 2, 2, 1);      // padding larger than needed
}

// conv2d_forward_cm (channel-major, chunked im2col, epilogue) vs conv2d_forward_ref + formulas.
static void conv_cm_case(int B, int IC, int OC, int H, int W, int kh, int kw, int sh, int sw,
                         int ph, int pw, int bias, int mode) {
    Conv2d m = {.in_c = IC, .out_c = OC, .kh = kh, .kw = kw, .sh = sh, .sw = sw, .ph = ph,
                .pw = pw};
    float *w = rand_buf((size_t)OC * IC * kh * kw), *b = bias ? rand_buf((size_t)OC) : NULL;
    float *mean = rand_buf((size_t)OC), *scale = rand_buf((size_t)OC), *shift = rand_buf((size_t)OC);
    m.w = w;
    m.b = b;
    ConvEpilogue ep = {.relu = mode >= 1};
    if (mode >= 1) ep.shift = shift;
    if (mode == 2) ep.mean = mean, ep.scale = scale;
    int OH, OW;
    conv2d_out_hw(&m, H, W, &OH, &OW);
    size_t HW = (size_t)H * W, OHW = (size_t)OH * OW;
    size_t nin = (size_t)B * IC * HW, nout = (size_t)B * OC * OHW;
    float *in = rand_buf(nin), *in_cm = nan_buf(nin), *o_cm = nan_buf(nout), *o1 = nan_buf(nout);
    float *o2 = nan_buf(nout);
    nchw_to_cm(in_cm, in, B, IC, (int)HW);
    size_t ns = conv2d_cm_scratch_floats(&m, B, H, W);
    float *scratch = ns ? nan_buf(ns) : NULL;
    conv2d_forward_cm(o_cm, in_cm, &m, mode ? &ep : NULL, B, H, W, scratch);
    cm_to_nchw(o1, o_cm, B, OC, (int)OHW);
    conv2d_forward_ref(o2, in, &m, B, H, W);
    for (int bb = 0; bb < B; bb++)
        for (int oc = 0; oc < OC; oc++)
            for (size_t i = 0; i < OHW; i++) {
                float *y = &o2[((size_t)bb * OC + oc) * OHW + i];
                if (mode == 2) *y = (*y - mean[oc]) * scale[oc] + shift[oc];
                else if (mode == 1) *y = *y + shift[oc];
                if (mode && *y < 0) *y = 0;
            }
    char what[128];
    snprintf(what, sizeof what, "conv_cm B%d IC%d OC%d %dx%d k%dx%d s%dx%d p%dx%d mode%d", B, IC,
             OC, H, W, kh, kw, sh, sw, ph, pw, mode);
    check_tensor(what, o1, o2, nout, 2e-5, 1e-5);
    t2i_free(w), t2i_free(b), t2i_free(mean), t2i_free(scale), t2i_free(shift);
    t2i_free(in), t2i_free(in_cm), t2i_free(o_cm), t2i_free(o1), t2i_free(o2), t2i_free(scratch);
}

TEST(conv2d_cm_vs_ref) {
    conv_cm_case(3, 3, 5, 11, 13, 3, 3, 2, 2, 0, 0, 0, 0);
    conv_cm_case(2, 6, 4, 9, 11, 1, 7, 1, 1, 0, 3, 0, 1);
    conv_cm_case(3, 6, 4, 11, 9, 7, 1, 1, 1, 3, 0, 1, 2);
    conv_cm_case(5, 13, 17, 7, 5, 1, 1, 1, 1, 0, 0, 1, 1);   // pointwise
    conv_cm_case(4, 5, 3, 12, 10, 1, 3, 1, 1, 0, 1, 0, 2);
    conv_cm_case(3, 4, 6, 9, 9, 3, 3, 2, 2, 0, 0, 1, 0);
    conv_cm_case(7, 2, 3, 50, 47, 3, 3, 1, 1, 1, 1, 0, 1);   // several images per chunk, 2+ chunks
    conv_cm_case(1, 3, 2, 100, 90, 3, 3, 1, 1, 0, 0, 0, 2);  // one image larger than a chunk
}

TEST(layout_roundtrip) {
    int B = 3, C = 5, HW = 7;
    float *x = rand_buf((size_t)B * C * HW), *y = nan_buf((size_t)B * C * HW),
          *z = nan_buf((size_t)B * C * HW);
    nchw_to_cm(y, x, B, C, HW);
    CHECK(y[((size_t)2 * B + 1) * HW + 3] == x[((size_t)1 * C + 2) * HW + 3]);
    cm_to_nchw(z, y, B, C, HW);
    CHECK(memcmp(x, z, sizeof(float) * (size_t)B * C * HW) == 0);
    t2i_free(x), t2i_free(y), t2i_free(z);
}

TEST(conv2d_shapes) {
    Conv2d m = {.in_c = 3, .out_c = 32, .kh = 3, .kw = 3, .sh = 2, .sw = 2};
    int OH, OW;
    conv2d_out_hw(&m, 299, 299, &OH, &OW);
    CHECK(OH == 149 && OW == 149);
    CHECK(conv2d_scratch_floats(&m, 299, 299) == (size_t)27 * 149 * 149);
    Conv2d p = {.in_c = 8, .out_c = 4, .kh = 1, .kw = 1, .sh = 1, .sw = 1};
    CHECK(conv2d_scratch_floats(&p, 17, 17) == 0);
}

TEST(batchnorm_formula) {
    int B = 3, C = 5, HW = 7;
    float *x = rand_buf((size_t)B * C * HW), *y = nan_buf((size_t)B * C * HW);
    float w[5], bb[5], mean[5], var[5];
    for (int c = 0; c < C; c++) {
        w[c] = 1 + frand() / 4, bb[c] = frand() / 4, mean[c] = frand() / 8;
        var[c] = 1 + frand() / 4;
    }
    for (int aff = 0; aff < 2; aff++) {
        BatchNorm m = {.C = C, .eps = 1e-3f, .weight = aff ? w : NULL, .bias = aff ? bb : NULL,
                       .mean = mean, .var = var};
        test_poison(y, (size_t)B * C * HW);
        batchnorm_forward(y, x, &m, B, HW);
        for (int b = 0; b < B; b++)
            for (int c = 0; c < C; c++)
                for (int i = 0; i < HW; i++) {
                    size_t k = ((size_t)b * C + c) * HW + i;
                    double ref = ((double)x[k] - mean[c]) / sqrt((double)var[c] + 1e-3) *
                                     (aff ? w[c] : 1.0) + (aff ? bb[c] : 0.0);
                    CHECK_CLOSE(y[k], ref, 1e-6, 1e-6);
                }
    }
    // in place
    float *z = t2i_malloc_aligned((size_t)B * C * HW * sizeof(float));
    memcpy(z, x, (size_t)B * C * HW * sizeof(float));
    BatchNorm m = {.C = C, .eps = 1e-5f, .weight = w, .bias = bb, .mean = mean, .var = var};
    batchnorm_forward(y, x, &m, B, HW);
    batchnorm_forward(z, z, &m, B, HW);
    CHECK(memcmp(y, z, (size_t)B * C * HW * sizeof(float)) == 0);
    t2i_free(x), t2i_free(y), t2i_free(z);
}

TEST(activations) {
    size_t n = 1001;
    float *x = rand_buf(n), *y = nan_buf(n);
    for (size_t i = 0; i < n; i++) x[i] *= 12.0f;
    x[0] = 100.0f, x[1] = -100.0f, x[2] = 0.0f;
    relu_forward(y, x, n);
    for (size_t i = 0; i < n; i++) CHECK(y[i] == (x[i] > 0 ? x[i] : 0.0f));
    test_poison(y, n);
    leaky_relu_forward(y, x, n, 0.2f);
    for (size_t i = 0; i < n; i++) CHECK_CLOSE(y[i], x[i] > 0 ? x[i] : 0.2 * x[i], 1e-6, 1e-6);
    test_poison(y, n);
    sigmoid_forward(y, x, n);
    for (size_t i = 0; i < n; i++) CHECK_CLOSE(y[i], 1.0 / (1.0 + exp(-(double)x[i])), 1e-7, 1e-6);
    test_poison(y, n);
    tanh_forward(y, x, n);
    for (size_t i = 0; i < n; i++) CHECK_CLOSE(y[i], tanh((double)x[i]), 1e-7, 1e-6);
    t2i_free(x), t2i_free(y);
}

TEST(glu) {
    int B = 3, C = 5, HW = 7;
    float *x = rand_buf((size_t)B * 2 * C * HW), *y = nan_buf((size_t)B * C * HW);
    glu_forward(y, x, B, C, HW);
    for (int b = 0; b < B; b++)
        for (int c = 0; c < C; c++)
            for (int i = 0; i < HW; i++) {
                double a = x[((size_t)b * 2 * C + c) * HW + i];
                double g = x[((size_t)b * 2 * C + C + c) * HW + i];
                CHECK_CLOSE(y[((size_t)b * C + c) * HW + i], a / (1 + exp(-g)), 1e-7, 1e-6);
            }
    t2i_free(x), t2i_free(y);
}

TEST(softmax) {
    int rows = 4, cols = 9;
    float *x = rand_buf((size_t)rows * cols), *y = nan_buf((size_t)rows * cols);
    for (int c = 0; c < cols; c++) x[c] *= 50;       // large values: max subtraction
    for (int c = 3; c < cols; c++) x[cols + c] = -INFINITY;   // masked row tail
    for (int c = 0; c < cols; c++) x[3 * cols + c] = -INFINITY;   // fully masked row
    softmax_rows(y, x, rows, cols);
    for (int r = 0; r < 3; r++) {
        double mx = -INFINITY, s = 0;
        for (int c = 0; c < cols; c++) mx = fmax(mx, x[r * cols + c]);
        for (int c = 0; c < cols; c++) s += exp((double)x[r * cols + c] - mx);
        for (int c = 0; c < cols; c++)
            CHECK_CLOSE(y[r * cols + c], exp((double)x[r * cols + c] - mx) / s, 1e-7, 1e-6);
    }
    for (int c = 0; c < cols; c++) CHECK(isnan(y[3 * cols + c]));
    // in place
    float *z = rand_buf((size_t)cols);
    float zc[9];
    memcpy(zc, z, sizeof zc);
    softmax_rows(y, zc, 1, cols);
    softmax_rows(z, z, 1, cols);
    CHECK(memcmp(y, z, sizeof zc) == 0);
    t2i_free(x), t2i_free(y), t2i_free(z);
}

// Direct pooling formulas written the PyTorch way (window, then divisor).
static void pool_check(int B, int C, int H, int W, int k, int s, int p) {
    int OH = pool_out(H, k, s, p), OW = pool_out(W, k, s, p);
    size_t nin = (size_t)B * C * H * W, nout = (size_t)B * C * OH * OW;
    float *x = rand_buf(nin), *mx = nan_buf(nout), *a1 = nan_buf(nout), *a0 = nan_buf(nout);
    maxpool2d_forward(mx, x, B, C, H, W, k, s, p);
    avgpool2d_forward(a1, x, B, C, H, W, k, s, p, 1);
    avgpool2d_forward(a0, x, B, C, H, W, k, s, p, 0);
    for (int bc = 0; bc < B * C; bc++)
        for (int oh = 0; oh < OH; oh++)
            for (int ow = 0; ow < OW; ow++) {
                double m = -INFINITY, sum = 0;
                int cnt = 0, cnt_pad = 0;
                for (int i = 0; i < k; i++)
                    for (int j = 0; j < k; j++) {
                        int ih = oh * s - p + i, iw = ow * s - p + j;
                        if (ih < H + p && iw < W + p) cnt_pad++;
                        if (ih < 0 || iw < 0 || ih >= H || iw >= W) continue;
                        double v = x[((size_t)bc * H + ih) * W + iw];
                        m = fmax(m, v), sum += v, cnt++;
                    }
                size_t o = ((size_t)bc * OH + oh) * OW + ow;
                CHECK(mx[o] == (float)m);
                CHECK_CLOSE(a1[o], sum / cnt_pad, 1e-6, 1e-6);
                CHECK_CLOSE(a0[o], sum / cnt, 1e-6, 1e-6);
            }
    t2i_free(x), t2i_free(mx), t2i_free(a1), t2i_free(a0);
}

TEST(pools) {
    pool_check(2, 3, 9, 11, 3, 2, 0);    // Inception max pool 3/2
    pool_check(2, 3, 8, 7, 3, 1, 1);     // Inception branch pool 3/1/1
    pool_check(1, 2, 8, 8, 8, 8, 0);     // CNN_ENCODER avg_pool2d(8)
    pool_check(1, 2, 10, 9, 4, 3, 2);    // window beyond the input
    pool_check(1, 1, 5, 5, 2, 2, 1);
}

// A NaN inside a window wins, as in PyTorch's max pool (both the 3x3 fast path and the generic one).
TEST(maxpool_nan) {
    int    H = 7, W = 9;
    float *x = rand_buf((size_t)H * W), *y = nan_buf((size_t)H * W), *z = nan_buf((size_t)H * W);
    x[3 * W + 4] = NAN;
    maxpool2d_forward(y, x, 1, 1, H, W, 3, 1, 1);   // fast path
    maxpool2d_forward(z, x, 1, 1, H, W, 4, 1, 1);   // generic path (k=4)
    for (int oh = 0; oh < H; oh++)
        for (int ow = 0; ow < W; ow++) {
            int in3 = oh >= 2 && oh <= 4 && ow >= 3 && ow <= 5;
            CHECK((isnan(y[oh * W + ow]) != 0) == in3);
        }
    CHECK(isnan(z[3 * pool_out(W, 4, 1, 1) + 4]));
    t2i_free(x), t2i_free(y), t2i_free(z);
}

// t2i_parallel: every ith runs exactly once; a call nested in a split runs serially (with
// n == 1 nothing is split and the inner call may split).
typedef struct {
    int hits[8];
    int nested_nth[8];
} ParCtx;
static void par_inner(void *p, int ith, int nth) {
    (void)ith;
    *(int *)p = nth;
}
static void par_outer(void *p, int ith, int nth) {
    ParCtx *c = p;
    c->hits[ith] += nth;
    t2i_parallel(par_inner, &c->nested_nth[ith]);
}
TEST(parallel_helper) {
    for (int n = 1; n <= 4; n++) {
        ParCtx c;
        memset(&c, 0, sizeof c);
        t2i_parallel_n(par_outer, &c, n);
        for (int i = 0; i < n; i++)
            CHECKF(c.hits[i] == n && (n == 1 || c.nested_nth[i] == 1),
                   "n %d i %d hits %d nested %d", n, i, c.hits[i], c.nested_nth[i]);
        for (int i = n; i < 8; i++) CHECK(c.hits[i] == 0);
    }
}

TEST(global_avgpool) {
    int B = 2, C = 3, HW = 17;
    float *x = rand_buf((size_t)B * C * HW), *y = nan_buf((size_t)B * C);
    global_avgpool_forward(y, x, B, C, HW);
    for (int i = 0; i < B * C; i++) {
        double s = 0;
        for (int j = 0; j < HW; j++) s += x[(size_t)i * HW + j];
        CHECK_CLOSE(y[i], s / HW, 1e-7, 1e-6);
    }
    t2i_free(x), t2i_free(y);
}

TEST(upsample_nearest) {
    int B = 2, C = 3, H = 5, W = 7;
    float *x = rand_buf((size_t)B * C * H * W), *y = nan_buf((size_t)B * C * 4 * H * W);
    upsample_nearest2x_forward(y, x, B, C, H, W);
    for (int bc = 0; bc < B * C; bc++)
        for (int oh = 0; oh < 2 * H; oh++)
            for (int ow = 0; ow < 2 * W; ow++)
                CHECK(y[((size_t)bc * 2 * H + oh) * 2 * W + ow] ==
                      x[((size_t)bc * H + oh / 2) * W + ow / 2]);
    t2i_free(x), t2i_free(y);
}

TEST(linear_vs_ref) {
    const int dims[][3] = {{1, 1, 1}, {3, 7, 5}, {5, 33, 300}, {8, 256, 2048}};
    for (size_t d = 0; d < sizeof dims / sizeof dims[0]; d++)
        for (int bias = 0; bias < 2; bias++) {
            int B = dims[d][0], O = dims[d][1], I = dims[d][2];
            float *w = rand_buf((size_t)O * I), *b = bias ? rand_buf((size_t)O) : NULL;
            for (size_t i = 0; i < (size_t)O * I; i++) w[i] /= sqrtf((float)I);   // fan-in scale
            Linear m = {.in_f = I, .out_f = O, .w = w, .b = b};
            float *x = rand_buf((size_t)B * I), *y1 = nan_buf((size_t)B * O),
                  *y2 = nan_buf((size_t)B * O);
            linear_forward(y1, x, &m, B);
            linear_forward_ref(y2, x, &m, B);
            check_tensor("linear", y1, y2, (size_t)B * O, 1e-5, 1e-5);
            t2i_free(w), t2i_free(b), t2i_free(x), t2i_free(y1), t2i_free(y2);
        }
}

TEST(embedding) {
    int ntoken = 6, E = 5;
    float *table = rand_buf((size_t)ntoken * E), *out = nan_buf(4 * (size_t)E);
    int64_t ids[4] = {5, 0, 3, 5};
    CHECK(embedding_forward(out, ids, 4, table, ntoken, E) == T2I_OK);
    for (int i = 0; i < 4; i++)
        CHECK(memcmp(out + i * E, table + ids[i] * E, sizeof(float) * (size_t)E) == 0);
    int64_t bad[3] = {1, 6, 2};
    CHECK(embedding_forward(out, bad, 3, table, ntoken, E) == T2I_EARG);
    CHECK(strstr(t2i_errmsg(), "6") != NULL);
    int64_t neg[1] = {-1};
    CHECK(embedding_forward(out, neg, 1, table, ntoken, E) == T2I_EARG);
    t2i_free(table), t2i_free(out);
}

TEST(concat) {
    int B = 2, Ca = 3, Cb = 2, HW = 5;
    float *a = rand_buf((size_t)B * Ca * HW), *b = rand_buf((size_t)B * Cb * HW);
    float *y = nan_buf((size_t)B * (Ca + Cb) * HW);
    concat_channels(y, a, Ca, b, Cb, B, HW);
    for (int i = 0; i < B; i++) {
        CHECK(memcmp(y + (size_t)i * (Ca + Cb) * HW, a + (size_t)i * Ca * HW,
                     sizeof(float) * Ca * HW) == 0);
        CHECK(memcmp(y + ((size_t)i * (Ca + Cb) + Ca) * HW, b + (size_t)i * Cb * HW,
                     sizeof(float) * Cb * HW) == 0);
    }
    t2i_free(a), t2i_free(b), t2i_free(y);
}

int main(void) {
    blas_set_threads(2);
    RUN(sgemm_vs_ref);
    RUN(conv2d_vs_ref);
    RUN(conv2d_cm_vs_ref);
    RUN(layout_roundtrip);
    RUN(conv2d_shapes);
    RUN(batchnorm_formula);
    RUN(activations);
    RUN(glu);
    RUN(softmax);
    RUN(pools);
    RUN(maxpool_nan);
    RUN(parallel_helper);
    RUN(global_avgpool);
    RUN(upsample_nearest);
    RUN(linear_vs_ref);
    RUN(embedding);
    RUN(concat);
    return test_report("test_ops");
}
