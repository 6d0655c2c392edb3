// test_attngan_kernels.c -- the fused fast kernels of G_NET and of the Inception conv path
// against their plain reference twins (engine/nets/attngan_kernels.h), on odd shapes (odd channel
// counts, H != W, batch 1 and 3), with every output and scratch buffer poisoned with NaN before
// each call. Tolerance: the ops tier of STYLE.md §17, atol 1e-5 / rtol 1e-4.
// T2I_TEST_VERBOSE=1 prints the max |fast - ref| of each kernel.
#include "attention.h"
#include "attngan_kernels.h"
#include "blas.h"
#include "ops.h"
#include "t2i.h"
#include "test.h"
#include "testdata.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#define ATOL 1e-5
#define RTOL 1e-4

// This file's data seed (tests/testdata.h).
static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;
static float *rand_buf(size_t n, float scale) { return rand_buf_from(&rng_state, n, scale); }
static float *copy_buf(const float *x, size_t n) {
    float *p = t2i_malloc_aligned((n ? n : 1) * sizeof(float));
    memcpy(p, x, n * sizeof(float));
    return p;
}

// Largest |fast - ref| per kernel, printed with T2I_TEST_VERBOSE.
static double max_diff[16];
static const char *max_name[16];
static int n_kernels;

static void cmp(int k, const char *kernel, const char *what, const float *fast, const float *ref,
                size_t n) {
    max_name[k] = kernel;
    if (k >= n_kernels) n_kernels = k + 1;
    check_tensor(what, fast, ref, n, ATOL, RTOL);
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)fast[i] - (double)ref[i]);
        if (isnan(d)) d = INFINITY;
        if (d > max_diff[k]) max_diff[k] = d;
    }
}

// Eval BatchNorm with the value ranges of the hash weights (gamma ~ 1, var in [0.75, 1.25)).
typedef struct {
    float    *w, *b, *mean, *var;
    BatchNorm bn;
} BN;
static BN bn_make(int C) {
    BN r;
    r.w = rand_buf((size_t)C, 0.125f), r.b = rand_buf((size_t)C, 0.125f);
    r.mean = rand_buf((size_t)C, 0.125f), r.var = rand_buf((size_t)C, 0.25f);
    for (int c = 0; c < C; c++) r.w[c] += 1.0f, r.var[c] += 1.0f;
    r.bn = (BatchNorm){.C = C, .eps = 1e-5f, .weight = r.w, .bias = r.b, .mean = r.mean,
                       .var = r.var};
    return r;
}
static void bn_free(BN *r) { t2i_free(r->w), t2i_free(r->b), t2i_free(r->mean), t2i_free(r->var); }

// ---- G_NET -------------------------------------------------------------------------------

enum { K_BN_GLU, K_BN_ADD, K_UPCONV, K_UPBLOCK, K_EPILOGUE, K_POOLFUSE, K_LAYOUT, K_ATTPART };

static void bn_glu_case(int B, int C, size_t HW) {
    BN p = bn_make(2 * C);
    size_t nin = (size_t)B * 2 * C * HW, nout = (size_t)B * C * HW;
    float *x = rand_buf(nin, 3.0f), *y1 = nan_buf(nout), *y2 = nan_buf(nout), *tmp = nan_buf(nin);
    gnet_bn_glu(y1, x, &p.bn, B, C, HW);
    gnet_bn_glu_ref(y2, x, &p.bn, B, C, HW, tmp);
    char what[96];
    snprintf(what, sizeof what, "bn_glu B%d C%d HW%zu", B, C, HW);
    cmp(K_BN_GLU, "bn_glu (BatchNorm + GLU)", what, y1, y2, nout);
    bn_free(&p);
    t2i_free(x), t2i_free(y1), t2i_free(y2), t2i_free(tmp);
}

TEST(bn_glu_vs_ref) {
    bn_glu_case(1, 5, (size_t)7 * 9);
    bn_glu_case(3, 3, (size_t)13 * 11);
    bn_glu_case(3, 7, 1);     // INIT_STAGE_G: BatchNorm1d over 2C features, GLU
    bn_glu_case(1, 1, 1);
    bn_glu_case(3, 9, (size_t)17 * 5);
}

static void bn_add_case(int B, int C, size_t HW) {
    BN p = bn_make(C);
    size_t n = (size_t)B * C * HW;
    float *x = rand_buf(n, 3.0f), *acc = rand_buf(n, 2.0f), *tmp = nan_buf(n);
    float *a1 = copy_buf(acc, n), *a2 = copy_buf(acc, n);   // in-place output: start equal
    gnet_bn_add(a1, x, &p.bn, B, C, HW);
    gnet_bn_add_ref(a2, x, &p.bn, B, C, HW, tmp);
    char what[96];
    snprintf(what, sizeof what, "bn_add B%d C%d HW%zu", B, C, HW);
    cmp(K_BN_ADD, "bn_add (BatchNorm + residual)", what, a1, a2, n);
    // the result really is acc + BN(x): a NaN-free, changed accumulator
    int changed = 0;
    for (size_t i = 0; i < n; i++) changed |= a1[i] != acc[i];
    CHECK(changed);
    bn_free(&p);
    t2i_free(x), t2i_free(acc), t2i_free(tmp), t2i_free(a1), t2i_free(a2);
}

TEST(bn_add_vs_ref) {
    bn_add_case(1, 5, (size_t)7 * 9);
    bn_add_case(3, 3, (size_t)13 * 11);
    bn_add_case(3, 1, 1);
}

static Conv2d conv3x3(int C, int OC, float **w) {
    *w = rand_buf((size_t)OC * C * 9, 1.0f / sqrtf(9.0f * C));
    return (Conv2d){.in_c = C, .out_c = OC, .kh = 3, .kw = 3, .sh = 1, .sw = 1, .ph = 1, .pw = 1,
                    .w = *w, .b = NULL};
}

static void upconv_case(int B, int C, int OC, int H, int W) {
    float *w;
    Conv2d m = conv3x3(C, OC, &w);
    size_t nin = (size_t)B * C * H * W, nout = (size_t)B * OC * 4 * H * W;
    size_t ncol = gnet_upconv3x3_col_floats(C, H, W), nrow = gnet_upconv3x3_rows_floats(H, W);
    float *x = rand_buf(nin, 1.0f), *y1 = nan_buf(nout), *y2 = nan_buf(nout);
    float *col = nan_buf(ncol), *rows = nan_buf(nrow), *up = nan_buf((size_t)4 * nin);
    gnet_upconv3x3(y1, x, &m, B, H, W, col, rows);
    gnet_upconv3x3_ref(y2, x, &m, B, H, W, up);
    char what[96];
    snprintf(what, sizeof what, "upconv3x3 B%d C%d OC%d %dx%d", B, C, OC, H, W);
    cmp(K_UPCONV, "upconv3x3 (nearest x2 + conv3x3)", what, y1, y2, nout);
    t2i_free(w), t2i_free(x), t2i_free(y1), t2i_free(y2), t2i_free(col), t2i_free(rows);
    t2i_free(up);
}

TEST(upconv3x3_vs_ref) {
    upconv_case(1, 3, 5, 4, 7);
    upconv_case(3, 5, 7, 5, 3);
    upconv_case(3, 1, 3, 1, 1);    // one pixel: every tap but the centre ones is padding
    upconv_case(1, 2, 3, 1, 6);    // one input row
    upconv_case(3, 3, 5, 9, 2);
    // 142 x 130 output rows: more than one im2col band (band boundary inside the image)
    CHECK(gnet_upconv3x3_col_floats(3, 71, 65) < (size_t)9 * 3 * 142 * 130);
    upconv_case(1, 3, 5, 71, 65);
    upconv_case(3, 2, 3, 67, 69);
}

static void up_block_case(int B, int C, int OCh, int H, int W) {
    float *w;
    GNetConvBN m;
    m.conv = conv3x3(C, 2 * OCh, &w);
    BN p = bn_make(2 * OCh);
    m.bn = p.bn;
    size_t nin = (size_t)B * C * H * W, HW4 = (size_t)4 * H * W;
    size_t ncv = (size_t)B * 2 * OCh * HW4, nout = (size_t)B * OCh * HW4;
    float *x = rand_buf(nin, 1.0f), *y1 = nan_buf(nout), *y2 = nan_buf(nout);
    float *cv1 = nan_buf(ncv), *cv2 = nan_buf(ncv), *up = nan_buf(4 * nin);
    float *col = nan_buf(gnet_upconv3x3_col_floats(C, H, W));
    float *rows = nan_buf(gnet_upconv3x3_rows_floats(H, W));
    gnet_up_block(y1, x, &m, B, H, W, cv1, col, rows);
    gnet_up_block_ref(y2, x, &m, B, H, W, up, cv2);
    char what[96];
    snprintf(what, sizeof what, "up_block B%d C%d OC%d %dx%d", B, C, 2 * OCh, H, W);
    cmp(K_UPBLOCK, "up_block (upsample + conv + BN + GLU)", what, y1, y2, nout);
    bn_free(&p);
    t2i_free(w), t2i_free(x), t2i_free(y1), t2i_free(y2), t2i_free(cv1), t2i_free(cv2);
    t2i_free(up), t2i_free(col), t2i_free(rows);
}

TEST(up_block_vs_ref) {
    up_block_case(1, 3, 1, 6, 5);
    up_block_case(3, 5, 3, 3, 4);
    up_block_case(3, 4, 5, 5, 7);   // OC > C
    up_block_case(1, 7, 3, 70, 66); // two im2col bands
}

// ---- channel-major conv epilogue and the Inception pool-branch trick ---------------------

static void epilogue_case(int C, size_t n, int kind, int relu) {
    float *mean = rand_buf((size_t)C, 0.5f), *scale = rand_buf((size_t)C, 1.5f);
    float *shift = rand_buf((size_t)C, 0.5f), *y0 = rand_buf((size_t)C * n, 2.0f);
    for (size_t i = 0; i < (size_t)C * n; i += 7) y0[i] = 0.0f;   // exact zeros at the ReLU edge
    ConvEpilogue ep = {.relu = relu};
    if (kind >= 1) ep.shift = shift;                         // folded BatchNorm
    if (kind >= 2) ep.mean = mean, ep.scale = scale;         // unfolded BatchNorm
    if (kind == 3) ep.shift = NULL;                          // scale/mean only
    float *y1 = copy_buf(y0, (size_t)C * n), *y2 = copy_buf(y0, (size_t)C * n);
    conv_epilogue_apply(y1, C, n, &ep);
    conv_epilogue_apply_ref(y2, C, n, &ep);
    char what[96];
    snprintf(what, sizeof what, "epilogue C%d n%zu kind%d relu%d", C, n, kind, relu);
    cmp(K_EPILOGUE, "conv_epilogue_apply", what, y1, y2, (size_t)C * n);
    if (relu)
        for (size_t i = 0; i < (size_t)C * n; i++) CHECK(y1[i] >= 0.0f);
    t2i_free(mean), t2i_free(scale), t2i_free(shift), t2i_free(y0), t2i_free(y1), t2i_free(y2);
}

TEST(conv_epilogue_vs_ref) {
    const size_t ns[] = {1, 3, 13, 1001};   // vector body and scalar tails
    const int    cs[] = {1, 5, 7};
    for (int a = 0; a < 3; a++)
        for (int b = 0; b < 4; b++)
            for (int kind = 0; kind < 4; kind++)
                for (int relu = 0; relu < 2; relu++) epilogue_case(cs[a], ns[b], kind, relu);
    // ep == NULL is a no-op
    float *y = rand_buf(35, 1.0f), *z = copy_buf(y, 35);
    conv_epilogue_apply(y, 5, 7, NULL);
    CHECK(memcmp(y, z, 35 * sizeof(float)) == 0);
    t2i_free(y), t2i_free(z);
}

// Direct-loop 3x3 stride-1 pad-1 average pool (plain twin of the avgpool3s1 fast path).
static void avgpool3_plain(float *out, const float *in, int planes, int H, int W, int cip) {
    for (int p = 0; p < planes; p++)
        for (int oh = 0; oh < H; oh++)
            for (int ow = 0; ow < W; ow++) {
                double s = 0;
                int cnt = 0;
                for (int i = -1; i <= 1; i++)
                    for (int j = -1; j <= 1; j++) {
                        int ih = oh + i, iw = ow + j;
                        if (ih < 0 || iw < 0 || ih >= H || iw >= W) continue;
                        s += in[((size_t)p * H + ih) * W + iw];
                        cnt++;
                    }
                out[((size_t)p * H + oh) * W + ow] = (float)(s / (cip ? 9 : cnt));
            }
}

// Plain epilogue on NCHW data: y = (y - mean) * scale + shift, ReLU.
static void epilogue_nchw(float *y, int B, int C, size_t HW, const ConvEpilogue *ep) {
    for (int b = 0; b < B; b++) conv_epilogue_apply_ref(y + (size_t)b * C * HW, C, HW, ep);
}

// inception.c runs an Inception block's 1x1 convs that read the block input as one stacked
// sgemm (channel-major), applies the BatchNorm/ReLU epilogue to the leading rows only, and runs
// the pool branch as conv1x1 -> avg pool -> BatchNorm/ReLU on the trailing rows (a bias-free 1x1
// conv commutes with an average pool, whatever the divisor). This replays that sequence of
// kernels and compares it with the plain PyTorch order per branch: conv -> BN -> ReLU, and
// avg pool -> conv -> BN -> ReLU for the pool branch.
static void pool_fuse_case(int B, int IC, int H, int W, int cip, int folded) {
    enum { NP = 3 };
    const int oc[NP] = {3, 5, 7};   // two plain branches, then the pool branch
    int OC = oc[0] + oc[1] + oc[2];
    size_t HW = (size_t)H * W, P = (size_t)B * HW;
    float *w = rand_buf((size_t)OC * IC, 1.0f / sqrtf((float)IC));
    float *mean = rand_buf((size_t)OC, 0.3f), *scale = rand_buf((size_t)OC, 1.0f);
    float *shift = rand_buf((size_t)OC, 0.3f);
    for (int c = 0; c < OC; c++) scale[c] += 1.5f;
    ConvEpilogue ep = {.shift = shift, .relu = 1};
    if (!folded) ep.mean = mean, ep.scale = scale;
    float *x = rand_buf((size_t)B * IC * HW, 1.0f), *x_cm = nan_buf((size_t)B * IC * HW);
    nchw_to_cm(x_cm, x, B, IC, (int)HW);
    // fast: stacked sgemm, epilogue on the leading rows, pool then epilogue on the pool rows
    Conv2d all = {.in_c = IC, .out_c = OC, .kh = 1, .kw = 1, .sh = 1, .sw = 1, .w = w};
    float *t = nan_buf((size_t)OC * P), *pooled = nan_buf((size_t)oc[2] * P);
    float *fast = nan_buf((size_t)OC * P), *fast_nchw = nan_buf((size_t)OC * P);
    CHECK(conv2d_cm_scratch_floats(&all, B, H, W) == 0);
    conv2d_forward_cm(t, x_cm, &all, NULL, B, H, W, NULL);
    int lead = oc[0] + oc[1];
    conv_epilogue_apply(t, lead, P, &ep);
    avgpool2d_forward(pooled, t + (size_t)lead * P, 1, oc[2] * B, H, W, 3, 1, 1, cip);
    ConvEpilogue ep_pool = ep;
    ep_pool.shift += lead;
    if (ep_pool.mean) ep_pool.mean += lead, ep_pool.scale += lead;
    conv_epilogue_apply(pooled, oc[2], P, &ep_pool);
    memcpy(fast, t, sizeof(float) * (size_t)lead * P);
    memcpy(fast + (size_t)lead * P, pooled, sizeof(float) * (size_t)oc[2] * P);
    cm_to_nchw(fast_nchw, fast, B, OC, (int)HW);
    // plain: each branch on its own, in PyTorch order, NCHW
    float *ref = nan_buf((size_t)OC * P), *xp = nan_buf((size_t)B * IC * HW);
    avgpool3_plain(xp, x, B * IC, H, W, cip);
    int row = 0;
    for (int k = 0; k < NP; k++) {
        Conv2d m = {.in_c = IC, .out_c = oc[k], .kh = 1, .kw = 1, .sh = 1, .sw = 1,
                    .w = w + (size_t)row * IC};
        ConvEpilogue e = ep;
        e.shift += row;
        if (e.mean) e.mean += row, e.scale += row;
        float *yk = nan_buf((size_t)oc[k] * P);
        conv2d_forward_ref(yk, k == NP - 1 ? xp : x, &m, B, H, W);
        epilogue_nchw(yk, B, oc[k], HW, &e);
        for (int b = 0; b < B; b++)   // into the block's NCHW channel concatenation
            memcpy(ref + ((size_t)b * OC + row) * HW, yk + (size_t)b * oc[k] * HW,
                   sizeof(float) * (size_t)oc[k] * HW);
        t2i_free(yk);
        row += oc[k];
    }
    char what[96];
    snprintf(what, sizeof what, "pool-branch B%d IC%d %dx%d cip%d folded%d", B, IC, H, W, cip,
             folded);
    cmp(K_POOLFUSE, "Inception stacked 1x1 + conv-then-pool branch", what, fast_nchw, ref,
        (size_t)OC * P);
    t2i_free(w), t2i_free(mean), t2i_free(scale), t2i_free(shift), t2i_free(x), t2i_free(x_cm);
    t2i_free(t), t2i_free(pooled), t2i_free(fast), t2i_free(fast_nchw), t2i_free(ref);
    t2i_free(xp);
}

TEST(inception_pool_branch_vs_plain) {
    for (int cip = 0; cip < 2; cip++)   // torchvision (count_include_pad) and FID (without)
        for (int folded = 0; folded < 2; folded++) {
            pool_fuse_case(1, 5, 7, 9, cip, folded);
            pool_fuse_case(3, 9, 5, 3, cip, folded);
            pool_fuse_case(3, 3, 1, 4, cip, folded);
        }
}

TEST(layout_vs_index_formula) {
    const int shapes[][3] = {{1, 5, 21}, {3, 5, 21}, {3, 1, 7}, {3, 7, 1}};
    for (int s = 0; s < 4; s++) {
        int B = shapes[s][0], C = shapes[s][1], HW = shapes[s][2];
        size_t n = (size_t)B * C * HW;
        float *x = rand_buf(n, 1.0f), *cm = nan_buf(n), *back = nan_buf(n), *ref = nan_buf(n);
        nchw_to_cm(cm, x, B, C, HW);
        for (int b = 0; b < B; b++)
            for (int c = 0; c < C; c++)
                for (int i = 0; i < HW; i++)
                    ref[((size_t)c * B + b) * HW + i] = x[((size_t)b * C + c) * HW + i];
        cmp(K_LAYOUT, "nchw_to_cm / cm_to_nchw", "nchw_to_cm", cm, ref, n);
        cm_to_nchw(back, cm, B, C, HW);
        cmp(K_LAYOUT, "nchw_to_cm / cm_to_nchw", "cm_to_nchw", back, x, n);
        t2i_free(x), t2i_free(cm), t2i_free(back), t2i_free(ref);
    }
}

// ---- word attention split over batch slices (gnet_set_threads) ---------------------------

// word_attention_forward_part on slices [0,1) and [1,3) of a batch of 3 (and [0,3) at once)
// against word_attention_forward_ref on the whole batch: in the batch-coupled mode the rows a
// slice reads depend on the global sample index and batch size.
static void attention_part_case(int Q, int T, int idf, int cdf, AttMaskMode mode) {
    const int B = 3;
    float *wc = rand_buf((size_t)idf * cdf, 0.4f);
    WordAttention m = {idf, cdf, wc};
    float *in = rand_buf((size_t)B * idf * Q, 1.0f), *ctx = rand_buf((size_t)B * cdf * T, 1.0f);
    uint8_t *mask = t2i_calloc((size_t)B * T, 1);
    for (int b = 0; b < B; b++)   // sample b has T - b words (at least one)
        for (int t = T - b; t < T; t++) mask[(size_t)b * T + t] = t > 0;
    size_t no = (size_t)B * idf * Q, na = (size_t)B * T * Q;
    float *o1 = nan_buf(no), *o2 = nan_buf(no), *a1 = nan_buf(na), *a2 = nan_buf(na);
    float *scratch = nan_buf(word_attention_scratch_floats(&m, B, Q, T));
    const int cuts[2][3] = {{0, 1, 3}, {0, 3, 3}};
    word_attention_forward_ref(o2, a2, in, ctx, mask, mode, &m, B, Q, T);
    for (int c = 0; c < 2; c++) {
        test_poison(o1, no);
        test_poison(a1, na);
        for (int s = 0; s < 2; s++) {
            int b0 = cuts[c][s], b1 = cuts[c][s + 1];
            if (b1 <= b0) continue;
            word_attention_forward_part(o1 + (size_t)b0 * idf * Q, a1 + (size_t)b0 * T * Q,
                                        in + (size_t)b0 * idf * Q, ctx + (size_t)b0 * cdf * T,
                                        mask, mode, &m, b1 - b0, Q, T, b0, B, scratch);
        }
        char what[96];
        snprintf(what, sizeof what, "attention part Q%d T%d mode%d cut%d out", Q, T, (int)mode, c);
        cmp(K_ATTPART, "word_attention_forward_part (batch slices)", what, o1, o2, no);
        snprintf(what, sizeof what, "attention part Q%d T%d mode%d cut%d maps", Q, T, (int)mode, c);
        cmp(K_ATTPART, "word_attention_forward_part (batch slices)", what, a1, a2, na);
    }
    t2i_free(wc), t2i_free(in), t2i_free(ctx), t2i_free(mask), t2i_free(o1), t2i_free(o2);
    t2i_free(a1), t2i_free(a2), t2i_free(scratch);
}

TEST(attention_slices_vs_ref) {
    attention_part_case(35, 7, 5, 9, ATT_MASK_BATCH_COUPLED);   // Q % B != 0
    attention_part_case(35, 7, 5, 9, ATT_MASK_PER_SAMPLE);
    attention_part_case(12, 5, 3, 7, ATT_MASK_BATCH_COUPLED);   // Q % B == 0
}

int main(void) {
    blas_set_threads(2);
    RUN(bn_glu_vs_ref);
    RUN(bn_add_vs_ref);
    RUN(upconv3x3_vs_ref);
    RUN(up_block_vs_ref);
    RUN(conv_epilogue_vs_ref);
    RUN(inception_pool_branch_vs_plain);
    RUN(layout_vs_index_formula);
    RUN(attention_slices_vs_ref);
    if (getenv("T2I_TEST_VERBOSE"))
        for (int k = 0; k < n_kernels; k++)
            if (max_name[k]) printf("max |fast - ref| %-48s %.3g\n", max_name[k], max_diff[k]);
    return test_report("test_attngan_kernels");
}
