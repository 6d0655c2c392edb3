// test_xtaps.c -- engine/ops/xtaps.h (a KxK conv with few output channels as a 1x1 XNNPACK conv
// to out_c*kh*kw channels + per-pixel tap sums): against xconv_run_ref (double accumulation) on
// odd shapes, outputs poisoned with NaN first; the reproducibility contract (an image's bytes
// the same at batch 1 and inside a batch, on 1 and 2 threads); shapes it refuses; and the
// accounting (the 1x1 conv's MACs are the KxK conv's, the sums' time is reported).
#include "ops.h"
#include "t2i.h"
#include "test.h"
#include "testdata.h"
#include "xconv.h"
#include "xtaps.h"

#include <math.h>
#include <string.h>

static uint64_t rng_state = 0x6a09e667f3bcc909ULL;   // this file's data seed (tests/testdata.h)
static float *rand_buf(size_t n, float scale) { return rand_buf_from(&rng_state, n, scale); }

typedef struct {
    int ic, oc, kh, kw, ph, pw, B, H, W, bias;
} TapCase;

static void tap_case(TapCase c) {
    Conv2d m = {.in_c = c.ic, .out_c = c.oc, .kh = c.kh, .kw = c.kw, .sh = 1, .sw = 1,
                .ph = c.ph, .pw = c.pw};
    float *w = rand_buf((size_t)c.oc * c.ic * c.kh * c.kw, 0.5f);
    float *b = c.bias ? rand_buf((size_t)c.oc, 1) : NULL;
    m.w = w, m.b = b;
    XTaps t;
    CHECKF(xtaps_create(&t, &m, 0) == T2I_OK, "%s", t2i_errmsg());
    if (test_cur_failed) return;
    const int OH = c.H + 2 * c.ph - c.kh + 1, OW = c.W + 2 * c.pw - c.kw + 1;
    const size_t no = (size_t)OH * OW * c.oc, ni = (size_t)c.H * c.W * c.ic;
    float *x = rand_buf((size_t)c.B * ni, 1);
    float *y = nan_buf((size_t)c.B * no), *ref = nan_buf((size_t)c.B * no);
    float *scr = nan_buf(xtaps_scratch_floats(&t, c.B, c.H, c.W));
    CHECKF(xtaps_run(&t, y, x, scr, c.B, c.H, c.W, NULL) == T2I_OK, "%s", t2i_errmsg());
    xconv_run_ref(ref, x, &m, XCONV_PLAIN, NULL, NULL, -INFINITY, INFINITY, 0, 0, c.B, c.H, c.W);
    char what[128];
    snprintf(what, sizeof what, "xtaps %d->%d %dx%d pad %d,%d on %dx%dx%d", c.ic, c.oc, c.kh, c.kw,
             c.ph, c.pw, c.B, c.H, c.W);
    CHECK(check_tensor(what, y, ref, (size_t)c.B * no, 1e-5, 1e-4));
    // every image alone, on 1 and on 2 threads: the bytes of its place in the batch
    pthreadpool_t tp = xpool_create(2);
    float *one = nan_buf(no), *scr1 = nan_buf(xtaps_scratch_floats(&t, 1, c.H, c.W));
    for (int i = 0; i < c.B; i++)
        for (int th = 0; th < 2; th++) {
            memset(one, 0xff, no * sizeof(float));
            CHECK(xtaps_run(&t, one, x + i * ni, scr1, 1, c.H, c.W, th ? tp : NULL) ==
                  T2I_OK);
            CHECKF(!memcmp(one, y + i * no, no * sizeof(float)),
                   "%s: image %d alone on %d thread(s) differs from its place in the batch", what,
                   i, th + 1);
        }
    pthreadpool_destroy(tp);
    xtaps_free(&t);
    xtaps_free(&t);   // twice: a freed XTaps is zeroed
    t2i_free(w), t2i_free(b), t2i_free(x), t2i_free(y), t2i_free(ref), t2i_free(scr);
    t2i_free(one), t2i_free(scr1);
}

TEST(xtaps_matches_reference_and_is_batch_thread_invariant) {
    tap_case((TapCase){.ic = 32, .oc = 3, .kh = 3, .kw = 3, .ph = 1, .pw = 1, .B = 3, .H = 17,
                       .W = 12, .bias = 1});   // DF-GAN's to_rgb shape, odd sizes
    tap_case((TapCase){.ic = 5, .oc = 2, .kh = 5, .kw = 3, .ph = 2, .pw = 1, .B = 2, .H = 9,
                       .W = 7, .bias = 0});
    tap_case((TapCase){.ic = 7, .oc = 1, .kh = 3, .kw = 3, .ph = 0, .pw = 0, .B = 1, .H = 5,
                       .W = 4, .bias = 1});   // no padding: every tap inside
    tap_case((TapCase){.ic = 3, .oc = 4, .kh = 3, .kw = 3, .ph = 1, .pw = 1, .B = 2, .H = 1,
                       .W = 2, .bias = 1});   // images smaller than the kernel
    tap_case((TapCase){.ic = 16, .oc = 3, .kh = 1, .kw = 1, .ph = 0, .pw = 0, .B = 2, .H = 3,
                       .W = 3, .bias = 1});
}

// Input pixels wider than in_c (GET_IMAGE_G reads h, whose pixels also hold the next stage's
// context): the same bytes as on the dense input.
TEST(xtaps_reads_strided_pixels) {
    const int IC = 32, B = 2, H = 9, W = 11;
    const size_t si = 64;
    Conv2d m = {.in_c = IC, .out_c = 3, .kh = 3, .kw = 3, .sh = 1, .sw = 1, .ph = 1, .pw = 1};
    float *w = rand_buf((size_t)3 * IC * 9, 0.5f);
    m.w = w;
    XTaps dense, wide;
    CHECK(xtaps_create(&dense, &m, 0) == T2I_OK);
    CHECK(xtaps_create(&wide, &m, si) == T2I_OK);
    const size_t P = (size_t)B * H * W, no = P * 3;
    float *xw = rand_buf(P * si, 1), *xd = nan_buf(P * IC);
    for (size_t p = 0; p < P; p++) memcpy(xd + p * IC, xw + p * si, IC * sizeof(float));
    float *yd = nan_buf(no), *yw = nan_buf(no);
    float *scr = nan_buf(xtaps_scratch_floats(&dense, B, H, W));
    CHECK(xtaps_run(&dense, yd, xd, scr, B, H, W, NULL) == T2I_OK);
    CHECK(xtaps_run(&wide, yw, xw, scr, B, H, W, NULL) == T2I_OK);
    CHECK(!memcmp(yd, yw, no * sizeof(float)));
    xtaps_free(&dense), xtaps_free(&wide);
    t2i_free(w), t2i_free(xw), t2i_free(xd), t2i_free(yd), t2i_free(yw), t2i_free(scr);
}

TEST(xtaps_refuses_strides_and_small_inputs) {
    float w[3 * 2 * 9] = {0};
    Conv2d m = {.in_c = 2, .out_c = 3, .kh = 3, .kw = 3, .sh = 2, .sw = 2, .ph = 1, .pw = 1,
                .w = w};
    XTaps t;
    memset(&t, 0x55, sizeof t);
    CHECK(xtaps_create(&t, &m, 0) == T2I_EARG);
    CHECK(strstr(t2i_errmsg(), "stride"));
    CHECK(t.taps.op == NULL && t.bias == NULL);   // zeroed on failure
    m.sh = m.sw = 1, m.ph = m.pw = 0;
    CHECK(xtaps_create(&t, &m, 0) == T2I_OK);
    float x[2 * 2 * 2] = {0}, y[3] = {0}, scr[2 * 2 * 27];
    CHECK(xtaps_run(&t, y, x, scr, 1, 2, 2, NULL) == T2I_EARG);   // 2x2 < 3x3, no pad
    CHECK(strstr(t2i_errmsg(), "smaller than"));
    xtaps_free(&t);
}

// With xconv_stats on, the 1x1 conv counts the KxK conv's MACs and the sums add their time
// (and no MACs); with it off nothing is counted.
TEST(xtaps_accounting) {
    Conv2d m = {.in_c = 8, .out_c = 3, .kh = 3, .kw = 3, .sh = 1, .sw = 1, .ph = 1, .pw = 1};
    float *w = rand_buf(3 * 8 * 9, 0.5f);
    m.w = w;
    XTaps t;
    CHECK(xtaps_create(&t, &m, 0) == T2I_OK);
    const int B = 2, H = 64, W = 48;
    float *x = rand_buf((size_t)B * H * W * 8, 1), *y = nan_buf((size_t)B * H * W * 3);
    float *scr = nan_buf(xtaps_scratch_floats(&t, B, H, W));
    xconv_stats = (XConvStats){.enabled = 1};
    CHECK(xtaps_run(&t, y, x, scr, B, H, W, NULL) == T2I_OK);
    XConvStats st = xconv_stats;
    CHECKF(st.macs == (double)B * H * W * 3 * 8 * 9, "macs %g", st.macs);
    xconv_stats = (XConvStats){.enabled = 1};   // the sums alone, on the taps just computed
    CHECK(xtaps_sums(&t, y, scr, B, H, W, NULL) == T2I_OK);
    st = xconv_stats;
    CHECK(st.cpu_seconds > 0 && st.core_seconds > 0 && st.macs == 0 && st.macs_nominal == 0);
    xconv_stats = (XConvStats){0};   // stats off: nothing
    CHECK(xtaps_run(&t, y, x, scr, B, H, W, NULL) == T2I_OK);
    st = xconv_stats;
    CHECK(st.cpu_seconds == 0 && st.core_seconds == 0 && st.macs == 0 && st.macs_nominal == 0);
    xtaps_free(&t);
    t2i_free(w), t2i_free(x), t2i_free(y), t2i_free(scr);
}

int main(void) {
    RUN(xtaps_matches_reference_and_is_batch_thread_invariant);
    RUN(xtaps_reads_strided_pixels);
    RUN(xtaps_refuses_strides_and_small_inputs);
    RUN(xtaps_accounting);
    return test_report("test_xtaps");
}
