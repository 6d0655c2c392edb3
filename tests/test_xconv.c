// test_xconv.c -- the NHWC XNNPACK path (engine/ops/xconv.h): every fast kernel against its
// plain twin on odd shapes (odd channel counts, H != W, pixel strides wider than the channels,
// batch 1 and 3), outputs poisoned with NaN first; then the reproducibility contract: a
// sample's bytes are the same at batch 1 and inside a batch, on 1 and 2 threads, for each
// kernel and for whole networks (G_NET, DM-GAN G_NET, DF-GAN NetG, Inception, DAMSM image encoder). Tolerance of the twins: atol 1e-5 / rtol 1e-4.
#include "attention.h"
#include "attngan.h"
#include "damsm_image.h"
#include "dfgan.h"
#include "dmgan.h"
#include "inception.h"
#include "ops.h"
#include "t2i.h"
#include "test.h"
#include "testdata.h"
#include "weights.h"
#include "xconv.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#define ATOL 1e-5
#define RTOL 1e-4

static uint64_t rng_state = 0x243f6a8885a308d3ULL;   // this file's data seed (tests/testdata.h)
static float *rand_buf(size_t n, float scale) { return rand_buf_from(&rng_state, n, scale); }

// Compares the `C` channels of every pixel of two strided NHWC buffers.
static void check_pixels_atol(const char *what, const float *a, const float *b, size_t P, int C,
                              size_t stride, double atol) {
    for (size_t p = 0; p < P; p++) {
        char w[128];
        snprintf(w, sizeof w, "%s pixel %zu", what, p);
        if (!check_tensor(w, a + p * stride, b + p * stride, (size_t)C, atol, RTOL)) return;
    }
}

static void check_pixels(const char *what, const float *a, const float *b, size_t P, int C,
                         size_t stride) {
    check_pixels_atol(what, a, b, P, C, stride, ATOL);
}

typedef struct {
    int       ic, oc, kh, kw, sh, sw, ph, pw;
    XConvKind kind;
    int       B, H, W, in_pad, out_pad;   // extra channels in the pixel strides
    int       scaled, relu;
    double    atol;   // 0: ATOL (sums of thousands of terms of magnitude ~20 need more)
} ConvCase;

static void conv_case(ConvCase c) {
    Conv2d m = {.in_c = c.ic, .out_c = c.oc, .kh = c.kh, .kw = c.kw, .sh = c.sh, .sw = c.sw,
                .ph = c.ph, .pw = c.pw};
    float *w = rand_buf((size_t)c.oc * c.ic * c.kh * c.kw, 0.5f), *b = rand_buf((size_t)c.oc, 1);
    float *scale = c.scaled ? rand_buf((size_t)c.oc, 0.5f) : NULL;
    if (scale)
        for (int i = 0; i < c.oc; i++) scale[i] += 1.0f;
    m.w = w;
    size_t si = (size_t)c.ic + c.in_pad, so = (size_t)c.oc + c.out_pad;
    float lo = c.relu ? 0.0f : -INFINITY, hi = INFINITY;
    XConv x;
    CHECKF(xconv_create(&x, &m, c.kind, scale, b, lo, hi, si, so) == T2I_OK, "%s", t2i_errmsg());
    if (test_cur_failed) return;
    int OH, OW;
    xconv_out_hw(&x, c.H, c.W, &OH, &OW);
    size_t P = (size_t)c.B * OH * OW, Pi = (size_t)c.B * c.H * c.W;
    float *in = rand_buf(Pi * si, 1), *fast = nan_buf(P * so), *ref = nan_buf(P * so);
    CHECK(xconv_run(&x, fast, in, c.B, c.H, c.W, NULL) == T2I_OK);
    xconv_run_ref(ref, in, &m, c.kind, scale, b, lo, hi, si, so, c.B, c.H, c.W);
    char what[96];
    snprintf(what, sizeof what, "xconv %dx%d s%d %d->%d kind %d", c.kh, c.kw, c.sh, c.ic, c.oc,
             c.kind);
    check_pixels_atol(what, fast, ref, P, c.oc, so, c.atol > 0 ? c.atol : ATOL);
    // channels past out_c stay untouched (still NaN)
    if (c.out_pad) CHECK(isnan(fast[so - 1]) && isnan(fast[(P - 1) * so + c.oc]));
    // determinism: the last image alone at batch 1, and the whole batch on 2 threads
    size_t per_in = (size_t)c.H * c.W * si, per_out = (size_t)OH * OW * so;
    float *one = nan_buf(per_out), *two = nan_buf(P * so);
    CHECK(xconv_run(&x, one, in + (size_t)(c.B - 1) * per_in, 1, c.H, c.W, NULL) == T2I_OK);
    pthreadpool_t tp = xpool_create(2);
    CHECK(xconv_run(&x, two, in, c.B, c.H, c.W, tp) == T2I_OK);
    pthreadpool_destroy(tp);
    for (size_t p = 0; p < (size_t)OH * OW; p++)
        CHECKF(!memcmp(one + p * so, fast + (size_t)(c.B - 1) * per_out + p * so,
                       sizeof(float) * c.oc),
               "%s: batch 1 differs from the batch at pixel %zu", what, p);
    for (size_t p = 0; p < P; p++)
        CHECKF(!memcmp(two + p * so, fast + p * so, sizeof(float) * c.oc),
               "%s: 2 threads differ from 1 at pixel %zu", what, p);
    xconv_free(&x);
    t2i_free(w), t2i_free(b), t2i_free(scale), t2i_free(in), t2i_free(fast), t2i_free(ref);
    t2i_free(one), t2i_free(two);
}

TEST(xconv_matches_ref_on_odd_shapes) {
    conv_case((ConvCase){5, 7, 3, 3, 1, 1, 1, 1, XCONV_PLAIN, 3, 9, 6, 0, 0, 0, 0});
    conv_case((ConvCase){5, 7, 3, 3, 2, 2, 0, 0, XCONV_PLAIN, 3, 11, 8, 2, 3, 1, 1});
    conv_case((ConvCase){9, 13, 1, 1, 1, 1, 0, 0, XCONV_PLAIN, 1, 5, 7, 4, 0, 1, 1});
    conv_case((ConvCase){6, 5, 1, 7, 1, 1, 0, 3, XCONV_PLAIN, 3, 7, 9, 0, 2, 1, 0});
    conv_case((ConvCase){6, 5, 7, 1, 1, 1, 3, 0, XCONV_PLAIN, 1, 9, 7, 1, 0, 0, 1});
    conv_case((ConvCase){3, 11, 5, 5, 1, 1, 2, 2, XCONV_PLAIN, 3, 6, 10, 0, 0, 1, 1});
    conv_case((ConvCase){3, 4, 3, 3, 1, 1, 1, 1, XCONV_PLAIN, 1, 13, 12, 0, 5, 0, 0});
    // strides and pads that differ between height and width
    conv_case((ConvCase){4, 6, 3, 3, 2, 1, 1, 0, XCONV_PLAIN, 2, 9, 8, 1, 2, 1, 1});
    conv_case((ConvCase){3, 5, 3, 5, 1, 3, 0, 2, XCONV_PLAIN, 1, 7, 11, 0, 0, 0, 0});
}

// Winograd (xwino.h): F(4x4,3x3) with both paddings, odd sizes (partial tiles), more tiles than
// one block (B 3 x 29 x 29 = 192 tiles, blocks of 147), strided pixels; F(2x2,3x3) above 65536
// channel pairs; F(2x2,5x5); F(2,7), F(4,3) and F(2,3) along x and along y; shapes that do not
// fit run as PLAIN.
TEST(xconv_fast_matches_ref) {
    conv_case((ConvCase){16, 32, 3, 3, 1, 1, 1, 1, XCONV_FAST, 3, 29, 29, 0, 0, 1, 1});
    conv_case((ConvCase){32, 16, 3, 3, 1, 1, 0, 0, XCONV_FAST, 2, 9, 12, 16, 5, 0, 0});
    conv_case((ConvCase){48, 16, 3, 3, 1, 1, 1, 0, XCONV_FAST, 1, 2, 3, 0, 0, 1, 1});
    conv_case((ConvCase){16, 32, 5, 5, 1, 1, 2, 2, XCONV_FAST, 2, 11, 9, 0, 3, 1, 1});
    conv_case((ConvCase){16, 48, 1, 7, 1, 1, 0, 3, XCONV_FAST, 3, 17, 17, 3, 0, 1, 1});
    conv_case((ConvCase){32, 32, 7, 1, 1, 1, 3, 0, XCONV_FAST, 2, 17, 9, 0, 16, 0, 1});
    conv_case((ConvCase){16, 16, 1, 7, 1, 1, 0, 0, XCONV_FAST, 1, 3, 8, 0, 0, 1, 0});
    conv_case((ConvCase){32, 16, 1, 3, 1, 1, 0, 1, XCONV_FAST, 2, 8, 7, 0, 0, 1, 1});
    conv_case((ConvCase){16, 32, 3, 1, 1, 1, 1, 0, XCONV_FAST, 2, 9, 8, 0, 0, 0, 1});
    conv_case((ConvCase){5, 7, 3, 3, 1, 1, 1, 1, XCONV_FAST, 3, 9, 6, 0, 0, 0, 0});
    conv_case((ConvCase){16, 16, 3, 3, 2, 2, 1, 1, XCONV_FAST, 2, 9, 9, 0, 0, 1, 1});
    conv_case((ConvCase){256, 272, 3, 3, 1, 1, 1, 1, XCONV_FAST, 2, 7, 9, 0, 16, 1, 1, 5e-5});
    conv_case((ConvCase){272, 256, 1, 3, 1, 1, 0, 1, XCONV_FAST, 2, 5, 7, 16, 0, 0, 1, 5e-5});
    conv_case((ConvCase){256, 256, 3, 1, 1, 1, 1, 0, XCONV_FAST, 1, 7, 4, 0, 0, 1, 1, 5e-5});
    float w[16 * 16 * 9] = {0};
    Conv2d fits = {.in_c = 16, .out_c = 16, .kh = 3, .kw = 3, .sh = 1, .sw = 1, .ph = 1, .pw = 1,
                   .w = w},
           odd = fits, strided = fits;
    odd.in_c = 5, strided.sh = 2;
    XConv x;
    CHECK(xconv_create(&x, &fits, XCONV_FAST, NULL, NULL, 0, INFINITY, 0, 0) == T2I_OK);
    CHECK(x.wino != NULL && x.op == NULL);
    xconv_free(&x);
    CHECK(xconv_create(&x, &odd, XCONV_FAST, NULL, NULL, 0, INFINITY, 0, 0) == T2I_OK);
    CHECK(x.wino == NULL && x.op != NULL);
    xconv_free(&x);
    CHECK(xconv_create(&x, &strided, XCONV_FAST, NULL, NULL, 0, INFINITY, 0, 0) == T2I_OK);
    CHECK(x.wino == NULL && x.op != NULL);
    xconv_free(&x);
}

TEST(xconv_up2_matches_upsample_then_conv) {
    conv_case((ConvCase){5, 7, 3, 3, 1, 1, 1, 1, XCONV_UP2, 3, 4, 5, 0, 0, 1, 0});
    conv_case((ConvCase){7, 6, 3, 3, 1, 1, 1, 1, XCONV_UP2, 1, 1, 3, 3, 2, 0, 0});
    conv_case((ConvCase){4, 10, 3, 3, 1, 1, 1, 1, XCONV_UP2, 3, 7, 2, 1, 0, 1, 0});
}

// XCONV_UP2_FAST: Winograd on the upsampled input read in place; odd sizes (tiles cut by the
// output edge), more tiles than one block (2 x 18 x 20 -> 36 x 40: 180 tiles, blocks of 147),
// strided pixels, F(2x2,3x3) above 65536 channel pairs; convs that do not fit run as UP2. Its
// bytes are those of XCONV_FAST on the upsampled image (up2_fast_is_fast_on_upsample), so the
// error is Winograd's: 5e-5 here, where each output sums 144-432 products with the BatchNorm-like
// scale up to 1.5 (one output of the first case lands at 3.4e-5).
static void up2_fast_is_fast_on_upsample(int IC, int OC, int B, int H, int W, size_t si) {
    Conv2d m = {.in_c = IC, .out_c = OC, .kh = 3, .kw = 3, .sh = 1, .sw = 1, .ph = 1, .pw = 1};
    float *w = rand_buf((size_t)OC * IC * 9, 0.5f), *in = rand_buf((size_t)B * H * W * si, 1);
    float *up = nan_buf((size_t)B * 4 * H * W * si);
    for (int b = 0; b < B; b++)
        for (int y = 0; y < 2 * H; y++)
            for (int x = 0; x < 2 * W; x++)
                memcpy(up + (((size_t)b * 2 * H + y) * 2 * W + x) * si,
                       in + (((size_t)b * H + y / 2) * W + x / 2) * si, si * sizeof(float));
    m.w = w;
    XConv u, f;
    CHECK(xconv_create(&u, &m, XCONV_UP2_FAST, NULL, NULL, 0, INFINITY, si, 0) == T2I_OK);
    CHECK(xconv_create(&f, &m, XCONV_FAST, NULL, NULL, 0, INFINITY, si, 0) == T2I_OK);
    size_t n = (size_t)B * 4 * H * W * OC;
    float *a = nan_buf(n), *b = nan_buf(n);
    CHECK(u.wino && f.wino);
    CHECK(xconv_run(&u, a, in, B, H, W, NULL) == T2I_OK);
    CHECK(xconv_run(&f, b, up, B, 2 * H, 2 * W, NULL) == T2I_OK);
    CHECKF(!memcmp(a, b, n * sizeof(float)),
           "UP2_FAST %d->%d on %dx%d differs from FAST on the upsampled input", IC, OC, H, W);
    xconv_free(&u), xconv_free(&f);
    t2i_free(w), t2i_free(in), t2i_free(up), t2i_free(a), t2i_free(b);
}

TEST(xconv_up2_fast_matches_upsample_then_conv) {
    conv_case((ConvCase){16, 32, 3, 3, 1, 1, 1, 1, XCONV_UP2_FAST, 3, 14, 12, 0, 0, 1, 1, 5e-5});
    conv_case((ConvCase){32, 16, 3, 3, 1, 1, 1, 1, XCONV_UP2_FAST, 2, 18, 20, 16, 5, 1, 0, 5e-5});
    conv_case((ConvCase){16, 16, 3, 3, 1, 1, 1, 1, XCONV_UP2_FAST, 1, 1, 3, 0, 0, 0, 0, 5e-5});
    conv_case((ConvCase){48, 32, 3, 3, 1, 1, 1, 1, XCONV_UP2_FAST, 2, 5, 7, 0, 3, 1, 1, 5e-5});
    conv_case((ConvCase){272, 256, 3, 3, 1, 1, 1, 1, XCONV_UP2_FAST, 1, 3, 5, 0, 0, 1, 1, 5e-5});
    up2_fast_is_fast_on_upsample(16, 32, 2, 9, 7, 16);
    up2_fast_is_fast_on_upsample(32, 48, 1, 6, 11, 40);
    up2_fast_is_fast_on_upsample(272, 256, 1, 3, 4, 272);
    conv_case((ConvCase){5, 7, 3, 3, 1, 1, 1, 1, XCONV_UP2_FAST, 3, 4, 5, 0, 0, 1, 0});
    float w[16 * 16 * 9] = {0};
    Conv2d fits = {.in_c = 16, .out_c = 16, .kh = 3, .kw = 3, .sh = 1, .sw = 1, .ph = 1, .pw = 1,
                   .w = w},
           odd = fits;
    odd.out_c = 12;
    XConv x;
    CHECK(xconv_create(&x, &fits, XCONV_UP2_FAST, NULL, NULL, 0, INFINITY, 0, 0) == T2I_OK);
    CHECK(x.wino != NULL && x.op == NULL && x.kind == XCONV_UP2_FAST);
    int OH, OW;
    xconv_out_hw(&x, 5, 7, &OH, &OW);
    CHECK(OH == 10 && OW == 14);
    xconv_free(&x);
    CHECK(xconv_create(&x, &odd, XCONV_UP2_FAST, NULL, NULL, 0, INFINITY, 0, 0) == T2I_OK);
    CHECK(x.wino == NULL && x.op != NULL && x.kind == XCONV_UP2);
    xconv_free(&x);
    fits.ph = 0;   // not an upBlock conv: refused as UP2 is
    CHECK(xconv_create(&x, &fits, XCONV_UP2_FAST, NULL, NULL, 0, INFINITY, 0, 0) == T2I_EARG);
}

TEST(xconv_up2_rejects_other_convs) {
    float w[2 * 2 * 5 * 5] = {0};
    Conv2d m = {.in_c = 2, .out_c = 2, .kh = 5, .kw = 5, .sh = 1, .sw = 1, .ph = 2, .pw = 2,
                .w = w};
    XConv x;
    CHECK(xconv_create(&x, &m, XCONV_UP2, NULL, NULL, -INFINITY, INFINITY, 0, 0) == T2I_EARG);
    CHECK(x.op == NULL);
    // 3x3 but padded on one side only, or strided: refused as well
    float w3[2 * 2 * 3 * 3] = {0};
    Conv2d m3[3] = {
        {.in_c = 2, .out_c = 2, .kh = 3, .kw = 3, .sh = 1, .sw = 1, .ph = 1, .pw = 0, .w = w3},
        {.in_c = 2, .out_c = 2, .kh = 3, .kw = 3, .sh = 1, .sw = 1, .ph = 0, .pw = 1, .w = w3},
        {.in_c = 2, .out_c = 2, .kh = 3, .kw = 3, .sh = 1, .sw = 2, .ph = 1, .pw = 1, .w = w3},
    };
    for (int i = 0; i < 3; i++) {
        CHECKF(xconv_create(&x, &m3[i], XCONV_UP2, NULL, NULL, -INFINITY, INFINITY, 0, 0) ==
                   T2I_EARG,
               "case %d accepted", i);
        xconv_free(&x);
    }
}

TEST(nhwc_helpers_match_refs) {
    const int B = 3, C = 5, HW = 7 * 3;
    const size_t P = (size_t)B * HW, si = 2 * C + 3, so = C + 2;
    float *in = rand_buf(P * si, 4), *fast = nan_buf(P * so), *ref = nan_buf(P * so);
    in[C] = 100.0f, in[si + C + 1] = -100.0f, in[2 * si + C + 4] = 87.5f;   // saturated gates
    pthreadpool_t tp = xpool_create(2);
    nhwc_glu(fast, so, in, si, P, C, tp);
    nhwc_glu_ref(ref, so, in, si, P, C);
    check_pixels("nhwc_glu", fast, ref, P, C, so);
    // GLU equals glu_forward on the NCHW layout
    float *nchw = nan_buf((size_t)B * 2 * C * HW), *g = nan_buf((size_t)B * C * HW);
    float *back = nan_buf((size_t)B * C * HW);
    nhwc_to_nchw(nchw, in, B, 2 * C, HW, si);
    glu_forward(g, nchw, B, C, HW);
    nhwc_to_nchw(back, fast, B, C, HW, so);
    CHECK(check_tensor("nhwc_glu vs glu_forward", back, g, (size_t)B * C * HW, ATOL, RTOL));
    // add
    float *acc = rand_buf(P * so, 1), *acc2 = nan_buf(P * so);
    memcpy(acc2, acc, P * so * sizeof(float));
    nhwc_add(acc, so, in, si, P, C, tp);
    nhwc_add_ref(acc2, so, in, si, P, C);
    check_pixels("nhwc_add", acc, acc2, P, C, so);
    // layout round trip and tanh at the boundary
    float *rt = nan_buf(P * si);
    nchw_to_nhwc(rt, nchw, B, 2 * C, HW, si);
    check_pixels("nchw_to_nhwc(nhwc_to_nchw)", rt, in, P, 2 * C, si);
    float *t = nan_buf((size_t)B * 2 * C * HW), *t2 = nan_buf((size_t)B * 2 * C * HW);
    nhwc_tanh_to_nchw(t, in, B, 2 * C, HW, si, tp);
    tanh_forward(t2, nchw, (size_t)B * 2 * C * HW);
    CHECK(check_tensor("nhwc_tanh_to_nchw", t, t2, (size_t)B * 2 * C * HW, 0, 0));
    pthreadpool_destroy(tp);
    t2i_free(in), t2i_free(fast), t2i_free(ref), t2i_free(nchw), t2i_free(g), t2i_free(back);
    t2i_free(acc), t2i_free(acc2), t2i_free(rt), t2i_free(t), t2i_free(t2);
}

// The shortcut add of DF-GAN's G_Block: upsample (NCHW op) then add equals nhwc_add_up2 bit for
// bit, strided, with and without the LeakyReLU after it, on 1 and 2 threads.
TEST(nhwc_add_up2_matches_upsample_then_add) {
    const int B = 3, C = 5, H = 3, W = 4;
    const size_t si = C + 2, sa = C + 3, HW = (size_t)H * W, P = (size_t)B * 4 * HW;
    float *in = rand_buf((size_t)B * HW * si, 2), *acc0 = rand_buf(P * sa, 2);
    float *nchw = nan_buf((size_t)B * C * HW), *up = nan_buf((size_t)B * C * 4 * HW);
    float *upx = nan_buf(P * sa), *ref = nan_buf(P * sa), *fast = nan_buf(P * sa);
    nhwc_to_nchw(nchw, in, B, C, (int)HW, si);
    upsample_nearest2x_forward(up, nchw, B, C, H, W);
    nchw_to_nhwc(upx, up, B, C, (int)(4 * HW), sa);
    for (int nth = 1; nth <= 2; nth++)
        for (int lrelu = 0; lrelu < 2; lrelu++) {
            memcpy(ref, acc0, P * sa * sizeof(float));
            memcpy(fast, acc0, P * sa * sizeof(float));
            for (size_t p = 0; p < P; p++)
                for (int c = 0; c < C; c++) {
                    float v = upx[p * sa + c] + ref[p * sa + c];
                    ref[p * sa + c] = lrelu && v <= 0.0f ? v * 0.2f : v;
                }
            pthreadpool_t tp = xpool_create(nth);
            nhwc_add_up2(fast, sa, in, si, B, H, W, C, lrelu, tp);
            pthreadpool_destroy(tp);
            for (size_t p = 0; p < P; p++)   // the channels beyond C stay untouched too
                if (!check_tensor("nhwc_add_up2", fast + p * sa, ref + p * sa, sa, 0, 0)) break;
        }
    t2i_free(in), t2i_free(acc0), t2i_free(nchw), t2i_free(up), t2i_free(upx), t2i_free(ref);
    t2i_free(fast);
}

// NHWC pools equal the NCHW ops bit for bit (same summation order), strided, with the
// bias + ReLU epilogue, every kind, stride 1 and 2, channel counts above the row buffer.
static void pool_case(int B, int H, int W, int C, int s, int p, XPoolKind kind, int with_bias,
                      int pad_in, int pad_out) {
    int OH = pool_out(H, 3, s, p), OW = pool_out(W, 3, s, p);
    size_t si = (size_t)C + pad_in, so = (size_t)C + pad_out, Po = (size_t)B * OH * OW;
    float *in = rand_buf((size_t)B * H * W * si, 2), *bias = with_bias ? rand_buf((size_t)C, 1) : NULL;
    float *fast = nan_buf(Po * so), *ref = nan_buf(Po * so);
    float *tmp = nan_buf((size_t)2 * B * C * H * W);
    pthreadpool_t tp = xpool_create(2);
    nhwc_pool3(fast, so, in, si, B, H, W, C, s, p, kind, bias, tp);
    pthreadpool_destroy(tp);
    nhwc_pool3_ref(ref, so, in, si, B, H, W, C, s, p, kind, bias, tmp);
    char what[64];
    snprintf(what, sizeof what, "nhwc_pool3 kind %d s%d p%d C %d", kind, s, p, C);
    // bit-equal where avgpool2d_forward sums in the same order (max, and the 3x3/s1/p1 average)
    double tol = kind != XPOOL_MAX && (s != 1 || p != 1) ? 1e-6 : 0;
    for (size_t q = 0; q < Po; q++)
        if (!check_tensor(what, fast + q * so, ref + q * so, (size_t)C, tol, tol)) break;
    t2i_free(in), t2i_free(bias), t2i_free(fast), t2i_free(ref), t2i_free(tmp);
}

TEST(nhwc_pool3_matches_nchw_pools) {
    for (int k = 0; k < 3; k++) {
        pool_case(3, 7, 6, 5, 1, 1, (XPoolKind)k, 0, 2, 3);
        pool_case(1, 9, 8, 7, 2, 0, (XPoolKind)k, 0, 0, 1);
        pool_case(2, 5, 5, 3, 1, 1, (XPoolKind)k, 1, 1, 0);
    }
    pool_case(1, 4, 6, 6000, 1, 1, XPOOL_AVG_NOPAD, 1, 0, 0);   // sliced channels
    pool_case(1, 5, 150, 130, 2, 0, XPOOL_MAX, 0, 0, 0);        // wide rows
}

TEST(word_attention_nhwc_matches_nchw) {
    const int B = 3, Q = 11, T = 5, idf = 7, cdf = 9;
    const size_t s2 = 2 * idf;
    float *wc = rand_buf((size_t)idf * cdf, 0.5f), *ctx = rand_buf((size_t)B * cdf * T, 1);
    float *q = rand_buf((size_t)B * Q * s2, 1);   // queries in channels 0..idf
    uint8_t mask[15] = {0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    WordAttention m = {.idf = idf, .cdf = cdf, .w_context = wc};
    float *scratch = nan_buf(word_attention_scratch_floats(&m, B, Q, T));
    float *att = nan_buf((size_t)B * T * Q), *att_ref = nan_buf((size_t)B * T * Q);
    float *q_nchw = nan_buf((size_t)B * idf * Q), *out_ref = nan_buf((size_t)B * idf * Q);
    float *out_nchw = nan_buf((size_t)B * idf * Q);
    for (int mode = 0; mode < 2; mode++) {
        word_attention_forward_nhwc(q + idf, s2, att, q, s2, ctx, mask, (AttMaskMode)mode, &m, B,
                                    Q, T, scratch);
        // the query channels are untouched, the context landed next to them
        nhwc_to_nchw(q_nchw, q, B, idf, Q, s2);
        word_attention_forward_ref(out_ref, att_ref, q_nchw, ctx, mask, (AttMaskMode)mode, &m,
                                   B, Q, T);
        nhwc_to_nchw(out_nchw, q + idf, B, idf, Q, s2);
        CHECK(check_tensor("attention context (NHWC)", out_nchw, out_ref, (size_t)B * idf * Q,
                           ATOL, RTOL));
        CHECK(check_tensor("attention maps (NHWC)", att, att_ref, (size_t)B * T * Q, ATOL, RTOL));
    }
    t2i_free(wc), t2i_free(ctx), t2i_free(q), t2i_free(scratch), t2i_free(att);
    t2i_free(att_ref), t2i_free(q_nchw), t2i_free(out_ref), t2i_free(out_nchw);
}

// ---- whole networks: per-sample bytes independent of batch and threads ----------------------

typedef struct {
    float *img[3], *att[2], *mu;
} GOut;

// Runs a small hash-weight G_NET on samples [0, B) of the inputs; outputs per sample.
static void g_run(GNet *g, int nth, int B, int T, const float *z, const float *sent,
                  const float *words, const uint8_t *mask, const float *eps, GOut *o) {
    CHECK(gnet_set_threads(g, nth) == T2I_OK);
    Arena a;
    CHECK(arena_init(&a, gnet_arena_bytes(g, B, T)) == T2I_OK);
    GNetInputs in = {z, sent, words, mask, eps, ATT_MASK_PER_SAMPLE};
    GNetOutputs out = {.img = {o->img[0], o->img[1], o->img[2]}, .att = {o->att[0], o->att[1]},
                       .mu = o->mu};
    CHECKF(gnet_forward(g, &in, &out, B, T, &a) == T2I_OK, "%s", t2i_errmsg());
    arena_free(&a);
}

static void g_alloc(GOut *o, int B, int T, const GNetConfig *c) {
    for (int s = 0; s < 3; s++) o->img[s] = nan_buf((size_t)B * 3 * (64 << s) * (64 << s));
    for (int s = 0; s < 2; s++) o->att[s] = nan_buf((size_t)B * T * (64 << s) * (64 << s));
    o->mu = nan_buf((size_t)B * c->condition_dim);
}
static void g_free(GOut *o) {
    for (int s = 0; s < 3; s++) t2i_free(o->img[s]);
    for (int s = 0; s < 2; s++) t2i_free(o->att[s]);
    t2i_free(o->mu);
}

TEST(generator_sample_bytes_independent_of_batch_and_threads) {
    GNetConfig c = {.gf_dim = 4, .z_dim = 10, .condition_dim = 6, .embedding_dim = 12,
                    .r_num = 2, .branch_num = 3};
    GNet g;
    CHECKF(gnet_load(&g, &c, T2I_HASH_WEIGHTS) == T2I_OK, "%s", t2i_errmsg());
    if (test_cur_failed) return;
    const int B = 8, T = 5, k = 5;   // sample k of the batch of 8
    float *z = rand_buf((size_t)B * 10, 1), *sent = rand_buf((size_t)B * 12, 0.5f);
    float *words = rand_buf((size_t)B * 12 * T, 0.5f), *eps = rand_buf((size_t)B * 6, 1);
    uint8_t mask[8 * 5] = {0};
    for (int b = 0; b < B; b++) mask[b * T + 4] = (uint8_t)(b & 1);
    GOut full1, full2, one;
    g_alloc(&full1, B, T, &c), g_alloc(&full2, B, T, &c), g_alloc(&one, 1, T, &c);
    g_run(&g, 1, B, T, z, sent, words, mask, eps, &full1);
    g_run(&g, 2, B, T, z, sent, words, mask, eps, &full2);
    g_run(&g, 2, 1, T, z + k * 10, sent + k * 12, words + (size_t)k * 12 * T, mask + k * T,
          eps + k * 6, &one);
    for (int s = 0; s < 3; s++) {
        size_t n = (size_t)3 * (64 << s) * (64 << s);
        CHECKF(!memcmp(full1.img[s], full2.img[s], B * n * sizeof(float)),
               "stage %d images: 2 threads differ from 1", s);
        CHECKF(!memcmp(one.img[s], full1.img[s] + k * n, n * sizeof(float)),
               "stage %d image: batch 1 differs from sample %d of a batch of 8", s, k);
    }
    for (int s = 0; s < 2; s++) {
        size_t n = (size_t)T * (64 << s) * (64 << s);
        CHECK(!memcmp(full1.att[s], full2.att[s], B * n * sizeof(float)));
        CHECK(!memcmp(one.att[s], full1.att[s] + k * n, n * sizeof(float)));
    }
    CHECK(!memcmp(one.mu, full1.mu + k * 6, 6 * sizeof(float)));
    // the NHWC path agrees with the previous NCHW path to float rounding
    GOut old;
    g_alloc(&old, B, T, &c);
    CHECK(gnet_set_path(&g, GNET_NCHW_BLAS) == T2I_OK);
    g_run(&g, 1, B, T, z, sent, words, mask, eps, &old);
    CHECK(check_tensor("G_NET 256px NHWC vs NCHW", full1.img[2], old.img[2],
                       (size_t)B * 3 * 256 * 256, ATOL, RTOL));
    CHECK(check_tensor("G_NET att_2 NHWC vs NCHW", full1.att[1], old.att[1],
                       (size_t)B * T * 128 * 128, ATOL, RTOL));
    // a shared instance computes the same bytes
    CHECK(gnet_set_path(&g, GNET_NHWC_XNNPACK) == T2I_OK);
    GNet g2;
    CHECK(gnet_share(&g2, &g) == T2I_OK);
    GOut sh;
    g_alloc(&sh, 1, T, &c);
    g_run(&g2, 1, 1, T, z + k * 10, sent + k * 12, words + (size_t)k * 12 * T, mask + k * T,
          eps + k * 6, &sh);
    CHECK(!memcmp(sh.img[2], one.img[2], (size_t)3 * 256 * 256 * sizeof(float)));
    gnet_free(&g2);
    g_free(&full1), g_free(&full2), g_free(&one), g_free(&old), g_free(&sh);
    gnet_free(&g);
    t2i_free(z), t2i_free(sent), t2i_free(words), t2i_free(eps);
}

// DM-GAN's G_NET (hash weights, small): run `B` samples with `nth` threads in `mode`.
static void dm_run(DmGan *g, int nth, int B, int T, const float *z, const float *sent,
                   const float *words, const uint8_t *mask, const float *eps, AttMaskMode mode,
                   GOut *o, float *h_code1) {
    CHECK(dmgan_set_threads(g, nth) == T2I_OK);
    Arena a;
    CHECK(arena_init(&a, dmgan_arena_bytes(g, B, T)) == T2I_OK);
    DmGanInputs in = {z, sent, words, mask, eps, mode};
    DmGanOutputs out;
    memset(&out, 0, sizeof out);
    for (int s = 0; s < 3; s++) out.img[s] = o->img[s];
    out.att[0] = o->att[0], out.att[1] = o->att[1], out.mu = o->mu, out.h_code1 = h_code1;
    CHECKF(dmgan_forward(g, &in, &out, B, T, &a) == T2I_OK, "%s", t2i_errmsg());
    arena_free(&a);
}

// Bytes of sample k of `a` (a batch) against sample j of `b`, every output.
static void dm_same(const char *what, const GOut *a, int k, const GOut *b, int j, int T,
                    int cond) {
    for (int s = 0; s < 3; s++) {
        size_t n = (size_t)3 * (64 << s) * (64 << s);
        CHECKF(!memcmp(a->img[s] + k * n, b->img[s] + j * n, n * sizeof(float)),
               "DM-GAN stage %d image: %s", s, what);
    }
    for (int s = 0; s < 2; s++) {
        size_t n = (size_t)T * (64 << s) * (64 << s);
        CHECKF(!memcmp(a->att[s] + k * n, b->att[s] + j * n, n * sizeof(float)),
               "DM-GAN memory addressing %d: %s", s, what);
    }
    CHECKF(!memcmp(a->mu + k * cond, b->mu + j * cond, cond * sizeof(float)), "DM-GAN mu: %s",
           what);
}

TEST(dmgan_sample_bytes_independent_of_batch_and_threads) {
    DmGanConfig c = {.gf_dim = 4, .z_dim = 10, .condition_dim = 6, .embedding_dim = 12,
                     .r_num = 2, .branch_num = 3};
    BindList bl;
    bindlist_init(&bl);
    DmGan keys, g;
    memset(&keys, 0, sizeof keys);
    dmgan_keys(&keys, &c, &bl);
    StateDict sd;
    sd_init(&sd);
    CHECKF(weights_load(T2I_HASH_WEIGHTS, &bl, &sd) == T2I_OK, "%s", t2i_errmsg());
    bindlist_free(&bl);
    CHECKF(dmgan_load_sd(&g, &c, &sd, "test DM-GAN") == T2I_OK, "%s", t2i_errmsg());
    if (test_cur_failed) return;
    const int B = 8, T = 5, k = 5;   // sample k of the batch of 8
    float *z = rand_buf((size_t)B * 10, 1), *sent = rand_buf((size_t)B * 12, 0.5f);
    float *words = rand_buf((size_t)B * 12 * T, 0.5f), *eps = rand_buf((size_t)B * 6, 1);
    uint8_t mask[8 * 5] = {0};
    for (int b = 0; b < B; b++) mask[b * T + 4] = (uint8_t)(b & 1), mask[b * T + 3] = b == k;
    const size_t nh = (size_t)4 * 64 * 64;
    float *h8 = nan_buf(B * nh), *h1 = nan_buf(nh);
    GOut full1, full2, one1, one2, cp1, cp2;
    g_alloc(&full1, B, T, &c), g_alloc(&full2, B, T, &c), g_alloc(&one1, 1, T, &c);
    g_alloc(&one2, 1, T, &c), g_alloc(&cp1, B, T, &c), g_alloc(&cp2, B, T, &c);
    const float *zk = z + k * 10, *sk = sent + k * 12, *wk = words + (size_t)k * 12 * T;
    // per-sample masks: batch 8 on 1 thread and as 2 slices, sample k alone on 1 and on a pool of 2
    dm_run(&g, 1, B, T, z, sent, words, mask, eps, ATT_MASK_PER_SAMPLE, &full1, h8);
    dm_run(&g, 2, B, T, z, sent, words, mask, eps, ATT_MASK_PER_SAMPLE, &full2, NULL);
    dm_run(&g, 1, 1, T, zk, sk, wk, mask + k * T, eps + k * 6, ATT_MASK_PER_SAMPLE, &one1, h1);
    dm_run(&g, 2, 1, T, zk, sk, wk, mask + k * T, eps + k * 6, ATT_MASK_PER_SAMPLE, &one2, NULL);
    for (int b = 0; b < B; b++) dm_same("batch 8: 2 threads differ from 1", &full2, b, &full1, b, T, 6);
    dm_same("batch 1 differs from sample 5 of a batch of 8", &one1, 0, &full1, k, T, 6);
    dm_same("batch 1: a pool of 2 differs from 1 thread", &one2, 0, &one1, 0, T, 6);
    CHECK(!memcmp(h1, h8 + k * nh, nh * sizeof(float)));   // h_code1 trace
    // the batch-coupled masks (the original's mask[r % B]): the batch is one unit, computed on
    // the pool; 1 and 2 threads agree, and at batch 1 the two modes are the same computation
    dm_run(&g, 1, B, T, z, sent, words, mask, eps, ATT_MASK_BATCH_COUPLED, &cp1, NULL);
    dm_run(&g, 2, B, T, z, sent, words, mask, eps, ATT_MASK_BATCH_COUPLED, &cp2, NULL);
    for (int b = 0; b < B; b++) dm_same("coupled batch 8: 2 threads differ from 1", &cp2, b, &cp1, b, T, 6);
    CHECK(memcmp(cp1.att[0], full1.att[0], (size_t)B * T * 64 * 64 * sizeof(float)) != 0);
    GOut one_cp;
    g_alloc(&one_cp, 1, T, &c);
    dm_run(&g, 2, 1, T, zk, sk, wk, mask + k * T, eps + k * 6, ATT_MASK_BATCH_COUPLED, &one_cp, NULL);
    dm_same("batch 1: coupled differs from per-sample", &one_cp, 0, &one1, 0, T, 6);
    // a shared instance (another thread's) computes the same bytes
    DmGan g2;
    CHECK(dmgan_share(&g2, &g) == T2I_OK);
    GOut sh;
    g_alloc(&sh, 1, T, &c);
    dm_run(&g2, 1, 1, T, zk, sk, wk, mask + k * T, eps + k * 6, ATT_MASK_PER_SAMPLE, &sh, NULL);
    dm_same("a dmgan_share instance differs", &sh, 0, &one1, 0, T, 6);
    dmgan_free(&g2);
    g_free(&full1), g_free(&full2), g_free(&one1), g_free(&one2), g_free(&cp1), g_free(&cp2);
    g_free(&one_cp), g_free(&sh);
    dmgan_free(&g);
    t2i_free(z), t2i_free(sent), t2i_free(words), t2i_free(eps), t2i_free(h8), t2i_free(h1);
}

// DF-GAN NetG (hash weights; 64 px: an identity-shortcut block and three 1x1-shortcut blocks):
// sample k gives the same image bytes at batch 1 on 1 and on 2 threads (every layer on the
// pool), inside a batch of 8 on 1 thread and on 2 threads (two batch slices), inside a batch
// of 3 (uneven slices), and on a dfgan_share instance.
static void df_run(DfGan *g, int nth, int B, const float *z, const float *sent, float *img) {
    CHECK(dfgan_set_threads(g, nth) == T2I_OK);
    Arena a;
    CHECK(arena_init(&a, dfgan_arena_bytes(g, B)) == T2I_OK);
    DfGanOutputs o;
    memset(&o, 0, sizeof o);
    o.img = img;
    test_poison(img, (size_t)B * 3 * g->cfg.imsize * g->cfg.imsize);
    CHECKF(dfgan_forward(g, z, sent, &o, B, &a) == T2I_OK, "%s", t2i_errmsg());
    arena_free(&a);
}

TEST(dfgan_sample_bytes_independent_of_batch_and_threads) {
    DfGanConfig c = {.nf = 8, .z_dim = 20, .cond_dim = 24, .imsize = 64, .ch_size = 3};
    BindList bl;
    bindlist_init(&bl);
    DfGan g;
    memset(&g, 0, sizeof g);
    dfgan_keys(&g, &c, &bl);
    StateDict sd;
    memset(&sd, 0, sizeof sd);
    CHECKF(weights_load(T2I_HASH_WEIGHTS, &bl, &sd) == T2I_OK, "%s", t2i_errmsg());
    bindlist_free(&bl);
    CHECKF(dfgan_load_sd(&g, &c, &sd, "test DF-GAN") == T2I_OK, "%s", t2i_errmsg());
    if (test_cur_failed) return;
    CHECK(g.blocks[0].in_c == g.blocks[0].out_c && g.blocks[1].in_c != g.blocks[1].out_c);
    const int B = 8, k = 5;
    const size_t n = (size_t)3 * 64 * 64;
    float *z = rand_buf((size_t)B * 20, 1), *sent = rand_buf((size_t)B * 24, 0.5f);
    float *b8t1 = nan_buf(B * n), *b8t2 = nan_buf(B * n), *b3t2 = nan_buf(3 * n);
    float *b1t1 = nan_buf(n), *b1t2 = nan_buf(n), *b1t3 = nan_buf(n), *sh = nan_buf(n);
    df_run(&g, 1, B, z, sent, b8t1);
    df_run(&g, 2, B, z, sent, b8t2);
    df_run(&g, 2, 3, z + (k - 1) * 20, sent + (k - 1) * 24, b3t2);   // k is its middle sample
    df_run(&g, 1, 1, z + k * 20, sent + k * 24, b1t1);
    df_run(&g, 2, 1, z + k * 20, sent + k * 24, b1t2);
    df_run(&g, 3, 1, z + k * 20, sent + k * 24, b1t3);   // 3 row bands: 8 rows cut 0 | 4 | 4
    CHECKF(!memcmp(b8t1, b8t2, B * n * sizeof(float)), "batch of 8: 2 threads differ from 1");
    CHECKF(!memcmp(b1t1, b8t1 + k * n, n * sizeof(float)),
           "batch 1 differs from sample %d of a batch of 8", k);
    CHECKF(!memcmp(b1t2, b1t1, n * sizeof(float)), "batch 1: 2 threads differ from 1");
    CHECKF(!memcmp(b1t3, b1t1, n * sizeof(float)), "batch 1: 3 threads differ from 1");
    CHECKF(!memcmp(b3t2 + n, b1t1, n * sizeof(float)), "batch of 3 on 2 threads differs");
    DfGan g2;
    CHECK(dfgan_share(&g2, &g) == T2I_OK);
    df_run(&g2, 1, 1, z + k * 20, sent + k * 24, sh);
    CHECK(!memcmp(sh, b1t1, n * sizeof(float)));
    // the image is an image: finite, in [-1, 1], not constant
    float lo = 1, hi = -1;
    for (size_t i = 0; i < B * n; i++) {
        CHECK(b8t1[i] >= -1.0f && b8t1[i] <= 1.0f);
        lo = b8t1[i] < lo ? b8t1[i] : lo, hi = b8t1[i] > hi ? b8t1[i] : hi;
    }
    CHECK(hi - lo > 0.1f);
    dfgan_free(&g2);
    dfgan_free(&g);
    t2i_free(z), t2i_free(sent), t2i_free(b8t1), t2i_free(b8t2), t2i_free(b3t2);
    t2i_free(b1t1), t2i_free(b1t2), t2i_free(b1t3), t2i_free(sh);
}

// Inception of `variant` with hash weights: batch B on 1 thread, on 2 threads (two batch slices
// with their own operator sets), and sample k alone (on the 2-thread pool) give the same pool3
// and logits bytes.
static void inception_case(InceptionVariant v, int B, int k) {
    InceptionConfig cfg;
    inception_config(&cfg, v);
    Inception *n = NULL;
    CHECK(inception_create(&cfg, &n) == T2I_OK);
    StateDict sd;
    memset(&sd, 0, sizeof sd);
    CHECKF(weights_load(T2I_HASH_WEIGHTS, inception_keys(n), &sd) == T2I_OK, "%s", t2i_errmsg());
    CHECKF(inception_bind(n, &sd, "test Inception") == T2I_OK, "%s", t2i_errmsg());
    if (test_cur_failed) {
        inception_free(n);
        return;
    }
    const size_t per = (size_t)3 * 299 * 299, K = (size_t)cfg.num_classes;
    float *x = rand_buf(B * per, 1);
    float *p1 = nan_buf(B * 2048), *p2 = nan_buf(B * 2048), *p3 = nan_buf(2048);
    float *l1 = nan_buf(B * K), *l2 = nan_buf(B * K), *l3 = nan_buf(K);
    InceptionOut o1 = {.pool3 = p1, .logits = l1}, o2 = {.pool3 = p2, .logits = l2};
    InceptionOut o3 = {.pool3 = p3, .logits = l3};
    CHECK(inception_set_threads(n, 1) == T2I_OK);
    CHECK(inception_forward(n, x, B, &o1) == T2I_OK);
    CHECK(inception_set_threads(n, 2) == T2I_OK);
    CHECK(inception_forward(n, x, B, &o2) == T2I_OK);
    CHECK(inception_forward(n, x + k * per, 1, &o3) == T2I_OK);
    CHECKF(!memcmp(p1, p2, B * 2048 * sizeof(float)), "%s pool3: 2 threads differ from 1",
           inception_variant_name(v));
    CHECKF(!memcmp(l1, l2, B * K * sizeof(float)), "%s logits: 2 threads differ from 1",
           inception_variant_name(v));
    CHECKF(!memcmp(p3, p1 + k * 2048, 2048 * sizeof(float)),
           "%s pool3: batch 1 differs from sample %d of a batch of %d", inception_variant_name(v),
           k, B);
    CHECK(!memcmp(l3, l1 + k * K, K * sizeof(float)));
    // the channel-major path agrees to float rounding
    float *p4 = nan_buf(B * 2048);
    InceptionOut o4 = {.pool3 = p4};
    CHECK(inception_set_nhwc(n, 0) == T2I_OK);
    CHECK(inception_forward(n, x, B, &o4) == T2I_OK);
    CHECK(check_tensor("pool3 NHWC vs channel-major", p1, p4, B * 2048, ATOL, RTOL));
    inception_free(n);
    t2i_free(x), t2i_free(p1), t2i_free(p2), t2i_free(p3), t2i_free(p4);
    t2i_free(l1), t2i_free(l2), t2i_free(l3);
}

TEST(inception_sample_bytes_independent_of_batch_and_threads) {
    inception_case(INCEPTION_TF2015, 8, 6);
    inception_case(INCEPTION_SLIM, 3, 1);
}

TEST(damsm_image_sample_bytes_independent_of_batch_and_threads) {
    DamsmImage m;
    CHECK(damsm_image_init(&m, 256) == T2I_OK);
    StateDict sd;
    memset(&sd, 0, sizeof sd);
    CHECKF(weights_load(T2I_HASH_WEIGHTS, damsm_image_keys(&m), &sd) == T2I_OK, "%s",
           t2i_errmsg());
    CHECKF(damsm_image_bind(&m, &sd, "test CNN_ENCODER") == T2I_OK, "%s", t2i_errmsg());
    if (test_cur_failed) {
        damsm_image_free(&m);
        return;
    }
    const int B = 8, k = 3;
    const size_t per = (size_t)3 * 256 * 256, nf = (size_t)256 * 289;
    float *x = rand_buf(B * per, 1);
    float *f1 = nan_buf(B * nf), *f2 = nan_buf(B * nf), *f3 = nan_buf(nf);
    float *c1 = nan_buf(B * 256), *c2 = nan_buf(B * 256), *c3 = nan_buf(256);
    DamsmImageOut o1 = {.features = f1, .cnn_code = c1}, o2 = {.features = f2, .cnn_code = c2};
    DamsmImageOut o3 = {.features = f3, .cnn_code = c3};
    CHECK(inception_set_threads(m.trunk, 1) == T2I_OK);
    CHECK(damsm_image_forward(&m, x, B, 256, 256, &o1) == T2I_OK);
    CHECK(inception_set_threads(m.trunk, 2) == T2I_OK);
    CHECK(damsm_image_forward(&m, x, B, 256, 256, &o2) == T2I_OK);
    CHECK(damsm_image_forward(&m, x + k * per, 1, 256, 256, &o3) == T2I_OK);
    CHECK(!memcmp(f1, f2, B * nf * sizeof(float)) && !memcmp(c1, c2, B * 256 * sizeof(float)));
    CHECKF(!memcmp(f3, f1 + k * nf, nf * sizeof(float)), "features: batch 1 differs from batch 8");
    CHECK(!memcmp(c3, c1 + k * 256, 256 * sizeof(float)));
    damsm_image_free(&m);
    t2i_free(x), t2i_free(f1), t2i_free(f2), t2i_free(f3), t2i_free(c1), t2i_free(c2);
    t2i_free(c3);
}

int main(void) {
    RUN(xconv_matches_ref_on_odd_shapes);
    RUN(xconv_fast_matches_ref);
    RUN(xconv_up2_matches_upsample_then_conv);
    RUN(xconv_up2_fast_matches_upsample_then_conv);
    RUN(xconv_up2_rejects_other_convs);
    RUN(nhwc_helpers_match_refs);
    RUN(nhwc_add_up2_matches_upsample_then_add);
    RUN(nhwc_pool3_matches_nchw_pools);
    RUN(word_attention_nhwc_matches_nchw);
    RUN(generator_sample_bytes_independent_of_batch_and_threads);
    RUN(dmgan_sample_bytes_independent_of_batch_and_threads);
    RUN(dfgan_sample_bytes_independent_of_batch_and_threads);
    RUN(inception_sample_bytes_independent_of_batch_and_threads);
    RUN(damsm_image_sample_bytes_independent_of_batch_and_threads);
    return test_report("test_xconv");
}
