// attngan.c -- see attngan.h. G_NET forward over an arena, following code/model.py literally.
#include "attngan.h"
#include "attngan_kernels.h"
#include "blas.h"
#include "t2i.h"
#include "weights.h"

#include <assert.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

GNetConfig gnet_config_bird(void) {
    return (GNetConfig){.gf_dim = 32, .z_dim = 100, .condition_dim = 100, .embedding_dim = 256,
                        .r_num = 2, .branch_num = 3};
}

GNetConfig gnet_config_coco(void) {
    return (GNetConfig){.gf_dim = 48, .z_dim = 100, .condition_dim = 100, .embedding_dim = 256,
                        .r_num = 3, .branch_num = 3};
}

int gnet_config_check(const GNetConfig *c) { return gstage_config_check(c, "G_NET"); }

// ---- keys ---------------------------------------------------------------------------------

void gnet_keys(GNet *g, const GNetConfig *cfg, BindList *bl) {
    g->cfg = *cfg;
    gstage_keys(&g->p.st, cfg, bl);
    for (int s = 1; s < cfg->branch_num; s++) {   // h_net2/3.att: conv_context (gf, emb, 1, 1)
        WordAttention *at = &g->p.att[s - 1];
        int cw[4] = {cfg->gf_dim, cfg->embedding_dim, 1, 1};
        at->idf = cfg->gf_dim;
        at->cdf = cfg->embedding_dim;
        bind_param(bl, (float **)&at->w_context, 4, cw, "h_net%d.att.conv_context.weight", s + 1);
    }
}

int gnet_load_sd(GNet *g, const GNetConfig *cfg, StateDict *sd) {
    memset(g, 0, sizeof *g);
    g->sd = *sd;
    memset(sd, 0, sizeof *sd);
    int rc = gnet_config_check(cfg);
    if (rc) {
        gnet_free(g);
        return rc;
    }
    BindList bl;
    bindlist_init(&bl);
    gnet_keys(g, cfg, &bl);
    rc = sd_bind(&g->sd, &bl, NULL, "G_NET");
    bindlist_free(&bl);
    if (!rc) rc = gstage_exec_pack(&g->e, &g->p.st, &g->cfg, "G_NET");
    if (rc) gnet_free(g);
    return rc;
}

int gnet_load(GNet *g, const GNetConfig *cfg, const char *spec) {
    memset(g, 0, sizeof *g);
    int rc = gnet_config_check(cfg);
    if (rc) return rc;
    GNet *tmp = t2i_calloc(1, sizeof *tmp);
    if (!tmp) return T2I_ENOMEM;
    BindList bl;
    bindlist_init(&bl);
    gnet_keys(tmp, cfg, &bl);   // only the key list is needed here
    StateDict sd;
    sd_init(&sd);
    rc = weights_load(spec, &bl, &sd);
    bindlist_free(&bl);
    t2i_free(tmp);
    if (rc) {
        sd_free(&sd);
        return t2i_error_prefix(rc, "generator weights %s", spec);
    }
    rc = gnet_load_sd(g, cfg, &sd);
    if (rc) return t2i_error_prefix(rc, "generator weights %s", spec);
    return T2I_OK;
}

void gnet_free(GNet *g) {
    if (!g) return;
    gstage_exec_free(&g->e);
    sd_free(&g->sd);
    memset(g, 0, sizeof *g);
}

int gnet_share(GNet *dst, const GNet *src) {
    *dst = *src;
    memset(&dst->sd, 0, sizeof dst->sd);   // the weights stay src's
    memset(&dst->e, 0, sizeof dst->e);
    int rc = src->e.packed ? gstage_exec_pack(&dst->e, &dst->p.st, &dst->cfg, "G_NET") : T2I_OK;
    if (!rc) rc = gnet_set_threads(dst, src->e.nth);
    if (rc) gnet_free(dst);
    return rc;
}

int gnet_set_path(GNet *g, GNetPath path) {
    g->path = path;
    int nth = g->e.nth;
    int rc = path == GNET_NHWC_XNNPACK && !g->e.packed
                 ? gstage_exec_pack(&g->e, &g->p.st, &g->cfg, "G_NET") : T2I_OK;
    return rc ? rc : gnet_set_threads(g, nth);   // peers for the NHWC path
}

// ---- forward ------------------------------------------------------------------------------
// Every buffer comes from the arena in a fixed order; with a measuring arena the same code
// runs with compute skipped (`live` == 0), which is how gnet_arena_bytes sizes the arena.
// With gnet_set_threads(g, n > 1) the batch is cut into n contiguous slices, each run by its
// own thread with single-threaded BLAS calls and its own part of the arena.

typedef struct {
    GRun        r;         // arena, live (0 while measuring), B (samples in this slice)
    const GNet *g;
    int         b0, Btot;  // slice offset and whole batch (attention mask rows)
    float      *scratch;   // conv im2col scratch, one image of the largest conv
    float      *att_scratch;
    float      *uprows;    // expanded input rows of the upBlock im2col
} Ctx;

// Output columns per im2col band of the upBlock conv: the scratch holds 9*C x UP_BAND floats
// instead of a whole 256x256 image's columns.
#define UP_BAND 16384

static size_t conv_scratch_max(const GNetConfig *c, int T, size_t *att_out) {
    size_t m = 0, at = 0;
    int gf = c->gf_dim, ngf = 16 * gf;
    for (int k = 0; k < 4; k++) {   // upBlock convs at 8,16,32,64 px (banded im2col)
        int in = ngf >> k, res = 8 << k;
        size_t n = (size_t)in * 9 * (res * res < UP_BAND ? res * res : UP_BAND);
        if (n > m) m = n;
    }
    for (int s = 0; s < c->branch_num; s++) {
        int res = 64 << s;
        size_t n = (size_t)gf * 9 * res * res;   // img conv
        if (n > m) m = n;
        if (s > 0) {
            int q = 32 << s;   // input resolution of NEXT_STAGE_G
            n = (size_t)2 * gf * 9 * q * q;   // residual convs
            if (n > m) m = n;
            n = (size_t)2 * gf * 9 * (4 * q * q < UP_BAND ? 4 * q * q : UP_BAND);   // upBlock
            if (n > m) m = n;
            size_t an = (size_t)gf * T + (size_t)q * q * T;
            if (an > at) at = an;
        }
    }
    *att_out = at;
    return m;
}

static float *fl(Ctx *x, size_t n) { return arena_floats(x->r.a, n); }

// BatchNorm (eval) then GLU in one pass, with the exact formulas of batchnorm_forward and
// glu_forward: in (B, 2C, HW) -> out (B, C, HW). Twin: gnet_bn_glu_ref.
void gnet_bn_glu(float *out, const float *in, const BatchNorm *bn, int B, int C, size_t HW) {
    assert(out != in && bn->C == 2 * C && bn->weight && bn->bias);
    for (int c = 0; c < C; c++) {
        int g = c + C;
        float sa = (1.0f / sqrtf(bn->var[c] + bn->eps)) * bn->weight[c];
        float sg = (1.0f / sqrtf(bn->var[g] + bn->eps)) * bn->weight[g];
        float ma = bn->mean[c], mg = bn->mean[g], ba = bn->bias[c], bg = bn->bias[g];
        for (int b = 0; b < B; b++) {
            const float *xa = in + ((size_t)b * 2 * C + c) * HW;
            const float *xg = in + ((size_t)b * 2 * C + g) * HW;
            float *y = out + ((size_t)b * C + c) * HW;
            for (size_t i = 0; i < HW; i++) {
                float a = (xa[i] - ma) * sa + ba;
                float gt = (xg[i] - mg) * sg + bg;
                y[i] = a * (1.0f / (1.0f + expf(-gt)));
            }
        }
    }
}

// acc += BatchNorm(in): in, acc (B, C, HW) (the ResBlock's `out + residual`).
// Twin: gnet_bn_add_ref.
void gnet_bn_add(float *acc, const float *in, const BatchNorm *bn, int B, int C, size_t HW) {
    assert(acc != in && bn->C == C && bn->weight && bn->bias);
    for (int c = 0; c < C; c++) {
        float s = (1.0f / sqrtf(bn->var[c] + bn->eps)) * bn->weight[c];
        float m = bn->mean[c], be = bn->bias[c];
        for (int b = 0; b < B; b++) {
            const float *x = in + ((size_t)b * C + c) * HW;
            float *y = acc + ((size_t)b * C + c) * HW;
            for (size_t i = 0; i < HW; i++) y[i] = ((x[i] - m) * s + be) + y[i];
        }
    }
}

// im2col of nearest-x2-upsampled `in` (C,H,W) for a 3x3 pad-1 conv, output rows [oy0, oy1):
// col (C*9, (oy1-oy0)*2W), row (c,i,j) holding up[c][oy+i-1][ox+j-1] with up[y][x] =
// in[y/2][x/2] and 0 outside. The upsampled image is never materialized: each input row is
// expanded once into `rows` (H, 2W+2) = [0, r0, r0, r1, r1, ..., 0] and every column row is a
// copy of 2W floats at offset j.
static void im2col_up2(float *col, float *rows, const float *in, int C, int H, int W, int oy0,
                       int oy1) {
    const int OH = 2 * H, OW = 2 * W, RW = OW + 2;
    const size_t N = (size_t)(oy1 - oy0) * OW;
    const int sy0 = oy0 > 0 ? (oy0 - 1) >> 1 : 0, sy1 = oy1 < OH ? oy1 >> 1 : H - 1;
    for (int c = 0; c < C; c++) {
        for (int sy = sy0; sy <= sy1; sy++) {
            const float *sr = in + ((size_t)c * H + sy) * W;
            float *e = rows + (size_t)sy * RW;
            e[0] = 0.0f;
            for (int x = 0; x < W; x++) e[1 + 2 * x] = e[2 + 2 * x] = sr[x];
            e[RW - 1] = 0.0f;
        }
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 3; j++) {
                float *dst = col + ((size_t)(c * 3 + i) * 3 + j) * N;
                for (int oy = oy0; oy < oy1; oy++) {
                    float *d = dst + (size_t)(oy - oy0) * OW;
                    int uy = oy + i - 1;
                    if (uy < 0 || uy >= OH)
                        memset(d, 0, sizeof(float) * (size_t)OW);
                    else
                        memcpy(d, rows + (size_t)(uy >> 1) * RW + j, sizeof(float) * (size_t)OW);
                }
            }
    }
}

size_t gnet_upconv3x3_col_floats(int C, int H, int W) {
    int OW = 2 * W, band = UP_BAND / OW > 0 ? UP_BAND / OW : 1;
    int rows = band < 2 * H ? band : 2 * H;
    return (size_t)9 * C * rows * OW;
}

size_t gnet_upconv3x3_rows_floats(int H, int W) { return (size_t)H * (2 * W + 2); }

// nearest x2 then conv3x3 (pad 1, no bias): in (B,C,H,W) -> out (B,OC,2H,2W), as banded
// im2col_up2 + sgemm. Twin: gnet_upconv3x3_ref.
void gnet_upconv3x3(float *out, const float *in, const Conv2d *m, int B, int H, int W,
                    float *col, float *rows) {
    assert(out != in && m->kh == 3 && m->kw == 3 && m->sh == 1 && m->sw == 1 && m->ph == 1 &&
           m->pw == 1 && m->b == NULL);
    int C = m->in_c, OC = m->out_c, K = 9 * C, OW = 2 * W;
    int band = UP_BAND / OW > 0 ? UP_BAND / OW : 1;   // output rows per im2col band
    size_t HW4 = (size_t)4 * H * W;
    for (int b = 0; b < B; b++)
        for (int oy0 = 0; oy0 < 2 * H; oy0 += band) {
            int oy1 = oy0 + band < 2 * H ? oy0 + band : 2 * H;
            int N = (oy1 - oy0) * OW;
            im2col_up2(col, rows, in + (size_t)b * C * H * W, C, H, W, oy0, oy1);
            sgemm(0, 0, OC, N, K, 1.0f, m->w, K, col, N, 0.0f,
                  out + (size_t)b * OC * HW4 + (size_t)oy0 * OW, (int)HW4);
        }
}

// upBlock: nearest x2 -> conv3x3 -> BN -> GLU. in (B,C,H,W) -> out (B,OC/2,2H,2W); cv holds
// the conv output (B,OC,2H,2W). Twin: gnet_up_block_ref.
void gnet_up_block(float *out, const float *in, const GNetConvBN *m, int B, int H, int W,
                   float *cv, float *col, float *rows) {
    gnet_upconv3x3(cv, in, &m->conv, B, H, W, col, rows);
    gnet_bn_glu(out, cv, &m->bn, B, m->conv.out_c / 2, (size_t)4 * H * W);
}

static void up_block(Ctx *x, float *out, const float *in, const GNetConvBN *m, int H, int W) {
    size_t mark = arena_mark(x->r.a);
    float *cv = fl(x, (size_t)x->r.B * m->conv.out_c * 4 * H * W);
    if (x->r.live) gnet_up_block(out, in, m, x->r.B, H, W, cv, x->scratch, x->uprows);
    arena_reset_to(x->r.a, mark);
}

// GET_IMAGE_G: conv3x3 (gf -> 3) -> tanh
static void get_image(Ctx *x, float *img, const float *h, const Conv2d *m, int H, int W) {
    if (!x->r.live || !img) return;
    conv2d_forward(img, h, m, x->r.B, H, W, x->scratch);
    tanh_forward(img, img, (size_t)x->r.B * 3 * H * W);
}

// INIT_STAGE_G: h (B, gf, 64, 64)
static void init_stage(Ctx *x, float *h, const float *c_code, const float *z) {
    const GNetParams *p = &x->g->p;
    const GNetConfig *c = &x->g->cfg;
    int B = x->r.B, ngf = 16 * c->gf_dim, F = ngf * 32, in_f = c->condition_dim + c->z_dim;
    size_t mark = arena_mark(x->r.a);
    (void)in_f;
    // ping-pong buffers big enough for every upBlock output: (B, ngf>>k+1, 8<<k, 8<<k)
    size_t big = 0;
    for (int k = 0; k < 4; k++) {
        size_t n = (size_t)B * (ngf >> (k + 1)) * (8 << k) * (8 << k);
        if (n > big) big = n;
    }
    float *b0 = fl(x, big > (size_t)B * F / 2 ? big : (size_t)B * F / 2);
    float *b1 = fl(x, big);
    gstage_init_code(&x->r, &p->st, c, b0, c_code, z);
    float *cur = b0, *nxt = b1;
    for (int k = 0; k < 4; k++) {
        int res = 4 << k;
        float *dst = k == 3 ? h : nxt;
        up_block(x, dst, cur, &p->st.init_up[k], res, res);
        nxt = cur;
        cur = dst;
    }
    arena_reset_to(x->r.a, mark);
}

// NEXT_STAGE_G (stage s = 1, 2): h_in (B, gf, R, R) -> h_out (B, gf, 2R, 2R), att (B, T, R*R)
static void next_stage(Ctx *x, int s, float *h_out, float *att, const float *h_in, int R,
                       const GNetInputs *in, int T) {
    const GNetParams *p = &x->g->p;
    const GNetConfig *c = &x->g->cfg;
    int B = x->r.B, gf = c->gf_dim;
    size_t Q = (size_t)R * R;
    size_t mark = arena_mark(x->r.a);
    float *hc = fl(x, (size_t)B * 2 * gf * Q);
    float *ctx = fl(x, (size_t)B * gf * Q);
    if (x->r.live) {
        word_attention_forward_part(ctx, att, h_in, in->words_emb, in->mask, in->mask_mode,
                                    &p->att[s - 1], B, (int)Q, T, x->b0, x->Btot,
                                    x->att_scratch);
        concat_channels(hc, h_in, gf, ctx, gf, B, (int)Q);   // cat(h_code, c_code): h first
    }
    // residual blocks: x = x + BN(conv(GLU(BN(conv(x)))))
    size_t mark2 = arena_mark(x->r.a);
    float *t1 = fl(x, (size_t)B * 4 * gf * Q);
    float *t2 = fl(x, (size_t)B * 2 * gf * Q);
    float *t3 = fl(x, (size_t)B * 2 * gf * Q);
    if (x->r.live) {
        for (int r = 0; r < c->r_num; r++) {
            const GNetConvBN *m0 = &p->st.res[s - 1][r][0], *m1 = &p->st.res[s - 1][r][1];
            conv2d_forward(t1, hc, &m0->conv, B, R, R, x->scratch);
            gnet_bn_glu(t2, t1, &m0->bn, B, 2 * gf, Q);
            conv2d_forward(t3, t2, &m1->conv, B, R, R, x->scratch);
            gnet_bn_add(hc, t3, &m1->bn, B, 2 * gf, Q);
        }
    }
    arena_reset_to(x->r.a, mark2);
    up_block(x, h_out, hc, &p->st.up[s - 1], R, R);
    arena_reset_to(x->r.a, mark);
}

// The whole network for the slice described by x; `in` and `out` point at the slice.
static void run(Ctx *x, const GNetInputs *in, GNetOutputs *out, int T) {
    const GNet *g = x->g;
    const GNetConfig *c = &g->cfg;
    int B = x->r.B, gf = c->gf_dim;
    size_t att_n;
    x->scratch = fl(x, conv_scratch_max(c, T, &att_n));
    x->att_scratch = fl(x, att_n);
    // largest upBlock input: (H, 2W+2) with H = W = 64 << (branch_num - 2), or 32 in stage 1
    int up_in = c->branch_num > 1 ? 32 << (c->branch_num - 1) : 32;
    x->uprows = fl(x, (size_t)up_in * (2 * up_in + 2));
    float *c_code = gstage_ca_net(&x->r, &g->p.st, c, in->sent_emb, in->eps, out->mu,
                                  out->logvar, out->c_code);
    float *h = fl(x, (size_t)B * gf * 64 * 64);
    init_stage(x, h, c_code, in->z);
    get_image(x, out->img[0], h, &g->p.st.img[0], 64, 64);
    for (int s = 1; s < c->branch_num; s++) {
        int R = 32 << s;
        float *hn = fl(x, (size_t)B * gf * 4 * R * R);
        next_stage(x, s, hn, out->att[s - 1], h, R, in, T);
        get_image(x, out->img[s], hn, &g->p.st.img[s], 2 * R, 2 * R);
        h = hn;
    }
}


// ---- forward, NHWC on XNNPACK (GNET_NHWC_XNNPACK): gstages.h ------------------------------

typedef struct {
    const GNet         *g;
    const GNetInputs   *in;
    const GNetOutputs  *out;
    int                 T;
} Fill;

// NEXT_STAGE_G's word attention: h holds h_code in channels 0..gf; the context goes next to it.
static void fill_attention(GRun *r, void *arg, int s, float *h, int R) {
    const Fill *f = arg;
    const GNetConfig *c = &f->g->cfg;
    const int gf = c->gf_dim, Q = R * R, T = f->T;
    const size_t s2 = 2 * (size_t)gf;
    size_t mark = arena_mark(r->a);
    float *scratch = grun_floats(r, (size_t)gf * T + (size_t)Q * T);
    if (r->live && !r->rc)
        word_attention_forward_nhwc(h + gf, s2, f->out->att[s - 1], h, s2, f->in->words_emb,
                                    f->in->mask, f->in->mask_mode, &f->g->p.att[s - 1], r->B, Q,
                                    T, scratch);
    arena_reset_to(r->a, mark);
}

typedef struct {
    const GNet        *g;
    const GNetInputs  *in;    // whole batch
    const GNetOutputs *out;
    int                T;
} Job;

// Samples b0 .. b0+B-1 on operator set x with pool tp (GStageJob.run).
static int run_nhwc(void *ctx, const GStagePacked *x, pthreadpool_t tp, int b0, int B, Arena *a,
                    int live) {
    const Job *j = ctx;
    GRun r = {.a = a, .live = live, .B = B, .x = x, .tp = tp};
    GNetInputs in;
    GNetOutputs out;
    memset(&in, 0, sizeof in);
    memset(&out, 0, sizeof out);
    if (r.live) {
        in = gstage_inputs_from(j->in, &j->g->cfg, b0, j->T);
        out = gstage_outputs_from(j->out, &j->g->cfg, b0, j->T);
    }
    Fill f = {.g = j->g, .in = &in, .out = &out, .T = j->T};
    gstage_forward(&r, &j->g->p.st, &j->g->cfg, &in, &out, fill_attention, &f);
    return r.rc;
}

int gnet_set_threads(GNet *g, int nth) {
    return gstage_exec_threads(&g->e, &g->p.st, &g->cfg, nth, "G_NET");
}

static int n_slices(const GNet *g, int B) {
    int n = g->e.nth > 1 ? g->e.nth : 1;
    if (n > 64) n = 64;
    return n < B ? n : B;
}

static size_t nchw_bytes(const GNet *g, int B, int Btot, int T) {
    Arena a;
    arena_init_measure(&a);
    Ctx x = {.r = {.a = &a, .live = 0, .B = B}, .g = g, .b0 = 0, .Btot = Btot};
    GNetInputs in;
    GNetOutputs out;
    memset(&in, 0, sizeof in);
    memset(&out, 0, sizeof out);
    run(&x, &in, &out, T);
    return a.high + 64;
}

size_t gnet_arena_bytes(const GNet *g, int B, int T) {
    if (g->path == GNET_NHWC_XNNPACK) {
        Job j = {.g = g, .T = T};
        GStageJob job = {.run = run_nhwc, .ctx = &j};
        return gstage_exec_arena_bytes(&g->e, B, &job);
    }
    int n = n_slices(g, B);
    size_t total = 0;
    for (int k = 0; k < n; k++) {
        int b0 = (int)((long)B * k / n), b1 = (int)((long)B * (k + 1) / n);
        total += nchw_bytes(g, b1 - b0, B, T) + 64;
    }
    return total;
}

typedef struct {
    const GNet        *g;
    const GNetInputs  *in;
    const GNetOutputs *out;
    int                B, T, n;
    Arena              part[64];
} NchwSlices;

static void nchw_slice(void *arg, int k) {
    NchwSlices *j = arg;
    int b0 = (int)((long)j->B * k / j->n), b1 = (int)((long)j->B * (k + 1) / j->n);
    Ctx x = {.r = {.a = &j->part[k], .live = 1, .B = b1 - b0}, .g = j->g, .b0 = b0,
             .Btot = j->B};
    GNetInputs in = gstage_inputs_from(j->in, &j->g->cfg, b0, j->T);
    in.mask = j->in->mask;   // whole: rows are looked up by global sample index (attention.h)
    GNetOutputs out = gstage_outputs_from(j->out, &j->g->cfg, b0, j->T);
    run(&x, &in, &out, j->T);
}

int gnet_forward(const GNet *g, const GNetInputs *in, GNetOutputs *out, int B, int T,
                 Arena *arena) {
    if (B < 1 || T < 1) return t2i_error(T2I_EARG, "G_NET: batch %d with %d words", B, T);
    if (!in->z && g->cfg.z_dim > 0) return t2i_error(T2I_EARG, "G_NET: no noise z");
    if (!in->sent_emb || !in->eps || (g->cfg.branch_num > 1 && !in->words_emb))
        return t2i_error(T2I_EARG, "G_NET: missing input (sent_emb, eps or words_emb)");
    if (g->path == GNET_NHWC_XNNPACK) {
        Job j = {.g = g, .in = in, .out = out, .T = T};
        GStageJob job = {.run = run_nhwc, .ctx = &j};
        return gstage_exec_forward(&g->e, B, in->mask_mode == ATT_MASK_BATCH_COUPLED, &job,
                                   arena);
    }
    size_t mark = arena_mark(arena);
    int n = n_slices(g, B);
    if (n <= 1) {
        Ctx x = {.r = {.a = arena, .live = 1, .B = B}, .g = g, .b0 = 0, .Btot = B};
        run(&x, in, out, T);
        arena_reset_to(arena, mark);
        return T2I_OK;
    }
    NchwSlices j = {.g = g, .in = in, .out = out, .B = B, .T = T, .n = n};
    for (int k = 0; k < n; k++) {
        int b0 = (int)((long)B * k / n), b1 = (int)((long)B * (k + 1) / n);
        size_t need = nchw_bytes(g, b1 - b0, B, T);
        j.part[k] = (Arena){.base = arena_alloc(arena, need), .cap = need};
    }
    xslices_run(n, nchw_slice, &j);   // one BLAS thread per slice meanwhile
    arena_reset_to(arena, mark);
    return T2I_OK;
}

// ---- reference twins of the fused kernels (plain ops, no fusion) ---------------------------

void gnet_bn_glu_ref(float *out, const float *in, const BatchNorm *bn, int B, int C, size_t HW,
                     float *tmp) {
    assert(bn->C == 2 * C && HW <= (size_t)INT32_MAX);
    batchnorm_forward(tmp, in, bn, B, (int)HW);
    glu_forward(out, tmp, B, C, (int)HW);
}

void gnet_bn_add_ref(float *acc, const float *in, const BatchNorm *bn, int B, int C, size_t HW,
                     float *tmp) {
    assert(bn->C == C && HW <= (size_t)INT32_MAX);
    batchnorm_forward(tmp, in, bn, B, (int)HW);
    size_t n = (size_t)B * C * HW;
    for (size_t i = 0; i < n; i++) acc[i] = acc[i] + tmp[i];
}

void gnet_upconv3x3_ref(float *out, const float *in, const Conv2d *m, int B, int H, int W,
                        float *up) {
    upsample_nearest2x_forward(up, in, B, m->in_c, H, W);
    conv2d_forward_ref(out, up, m, B, 2 * H, 2 * W);
}

void gnet_up_block_ref(float *out, const float *in, const GNetConvBN *m, int B, int H, int W,
                       float *up, float *cv) {
    int HW4 = 4 * H * W;
    gnet_upconv3x3_ref(cv, in, &m->conv, B, H, W, up);
    batchnorm_forward(cv, cv, &m->bn, B, HW4);   // in place
    glu_forward(out, cv, B, m->conv.out_c / 2, HW4);
}

double gnet_macs_per_image(const GNetConfig *c, int T) {
    double gf = c->gf_dim, ngf = 16.0 * gf, m = 0;
    m += (double)c->embedding_dim * 4 * c->condition_dim;
    m += (double)(c->condition_dim + c->z_dim) * ngf * 32;
    for (int k = 0; k < 4; k++) {
        double in = (double)(c->gf_dim * 16 >> k), res = 8 << k;
        m += in * in * 9 * res * res;
    }
    for (int s = 0; s < c->branch_num; s++) {
        double res = 64 << s;
        m += 3 * gf * 9 * res * res;
        if (s > 0) {
            double Q = (32 << s) * (32 << s);
            m += (4 * gf * 2 * gf * 9 + 2 * gf * 2 * gf * 9) * Q * c->r_num;
            m += 2 * gf * 2 * gf * 9 * 4 * Q;
            m += gf * c->embedding_dim * T + 2 * Q * gf * T;
        }
    }
    return m;
}
