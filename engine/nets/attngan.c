// attngan.c -- see attngan.h. G_NET forward over an arena, following code/model.py literally.
#include "attngan.h"
#include "attngan_kernels.h"
#include "blas.h"
#include "t2i.h"
#include "weights.h"

#include <assert.h>
#include <math.h>
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

int gnet_config_check(const GNetConfig *c) {
    if (c->gf_dim < 1 || c->gf_dim > 4096 || c->z_dim < 0 || c->z_dim > 65536 ||
        c->condition_dim < 1 || c->condition_dim > 65536 || c->embedding_dim < 1 ||
        c->embedding_dim > 65536 || c->z_dim + c->condition_dim < 1)
        return t2i_error(T2I_EARG,
                         "G_NET config: sizes out of range (GF_DIM %d, Z_DIM %d, CONDITION_DIM "
                         "%d, EMBEDDING_DIM %d)",
                         c->gf_dim, c->z_dim, c->condition_dim, c->embedding_dim);
    if (c->branch_num < 1 || c->branch_num > 3)
        return t2i_error(T2I_EARG, "G_NET config: BRANCH_NUM %d not in 1..3", c->branch_num);
    if (c->branch_num > 1 && (c->r_num < 1 || c->r_num > GNET_MAX_R_NUM))
        return t2i_error(T2I_EARG, "G_NET config: R_NUM %d not in 1..%d", c->r_num,
                         GNET_MAX_R_NUM);
    return T2I_OK;
}

static int  gnet_pack(GNet *g);
static void gnet_unpack(GNet *g);

static void drop_instance(void *g) { gnet_free(g); }

static void free_peers(GNet *g) {
    xpeers_free(g->peers, g->npeers, sizeof *g->peers, drop_instance);
    g->peers = NULL;
    g->npeers = 0;
}

// ---- keys ---------------------------------------------------------------------------------

static void bind_conv(BindList *bl, Conv2d *cv, int in, int out, int k, const char *name) {
    int shape[4] = {out, in, k, k};
    cv->in_c = in;
    cv->out_c = out;
    cv->kh = cv->kw = k;
    cv->sh = cv->sw = 1;
    cv->ph = cv->pw = k / 2;
    cv->b = NULL;
    bind_param(bl, (float **)&cv->w, 4, shape, "%s", name);
}

// conv3x3(in -> out) at `conv` + BatchNorm(out) at `bn`
static void bind_convbn(BindList *bl, GNetConvBN *m, int in, int out, const char *conv,
                        const char *bn) {
    bind_conv(bl, &m->conv, in, out, 3, conv);
    m->bn.C = out;
    m->bn.eps = 1e-5f;
    bind_batchnorm(bl, (float **)&m->bn.weight, (float **)&m->bn.bias, (float **)&m->bn.mean,
                   (float **)&m->bn.var, out, "%s", bn);
}

void gnet_keys(GNet *g, const GNetConfig *cfg, BindList *bl) {
    GNetParams *p = &g->p;
    char a[128], b[128];
    const int gf = cfg->gf_dim, cond = cfg->condition_dim, emb = cfg->embedding_dim;
    g->cfg = *cfg;
    // CA_NET: Linear(emb -> 4*cond) with bias
    int caw[2] = {4 * cond, emb}, cab[1] = {4 * cond};
    p->ca_fc = (Linear){.in_f = emb, .out_f = 4 * cond};
    bind_param(bl, (float **)&p->ca_fc.w, 2, caw, "ca_net.fc.weight");
    bind_param(bl, (float **)&p->ca_fc.b, 1, cab, "ca_net.fc.bias");
    // INIT_STAGE_G(ngf = 16*gf): Linear(cond+z -> ngf*4*4*2, no bias), BatchNorm1d, GLU
    int ngf = 16 * gf, F = ngf * 4 * 4 * 2;
    int fw[2] = {F, cond + cfg->z_dim};
    p->init_fc = (Linear){.in_f = cond + cfg->z_dim, .out_f = F, .b = NULL};
    bind_param(bl, (float **)&p->init_fc.w, 2, fw, "h_net1.fc.0.weight");
    p->init_bn.C = F;
    p->init_bn.eps = 1e-5f;
    bind_batchnorm(bl, (float **)&p->init_bn.weight, (float **)&p->init_bn.bias,
                   (float **)&p->init_bn.mean, (float **)&p->init_bn.var, F, "h_net1.fc.1");
    for (int k = 0; k < 4; k++) {
        int in = ngf >> k;   // upBlock(in, in/2): conv in -> in, GLU -> in/2
        snprintf(a, sizeof a, "h_net1.upsample%d.1.weight", k + 1);
        snprintf(b, sizeof b, "h_net1.upsample%d.2", k + 1);
        bind_convbn(bl, &p->init_up[k], in, 2 * (in / 2), a, b);
    }
    for (int s = 0; s < cfg->branch_num; s++) {
        if (s > 0) {
            WordAttention *at = &p->att[s - 1];
            int cw[4] = {gf, emb, 1, 1};
            at->idf = gf;
            at->cdf = emb;
            bind_param(bl, (float **)&at->w_context, 4, cw, "h_net%d.att.conv_context.weight",
                       s + 1);
            for (int r = 0; r < cfg->r_num; r++) {
                snprintf(a, sizeof a, "h_net%d.residual.%d.block.0.weight", s + 1, r);
                snprintf(b, sizeof b, "h_net%d.residual.%d.block.1", s + 1, r);
                bind_convbn(bl, &p->res[s - 1][r][0], 2 * gf, 4 * gf, a, b);
                snprintf(a, sizeof a, "h_net%d.residual.%d.block.3.weight", s + 1, r);
                snprintf(b, sizeof b, "h_net%d.residual.%d.block.4", s + 1, r);
                bind_convbn(bl, &p->res[s - 1][r][1], 2 * gf, 2 * gf, a, b);
            }
            snprintf(a, sizeof a, "h_net%d.upsample.1.weight", s + 1);
            snprintf(b, sizeof b, "h_net%d.upsample.2", s + 1);
            bind_convbn(bl, &p->next_up[s - 1], 2 * gf, 2 * gf, a, b);
        }
        snprintf(a, sizeof a, "img_net%d.img.0.weight", s + 1);
        bind_conv(bl, &p->img[s], gf, 3, 3, a);
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
    if (!rc) rc = gnet_pack(g);
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
    gnet_unpack(g);
    free_peers(g);
    pthreadpool_destroy(g->tp);
    sd_free(&g->sd);
    memset(g, 0, sizeof *g);
}

// An instance over src's weights with nth threads.
static int share_n(GNet *dst, const GNet *src, int nth) {
    *dst = *src;
    memset(&dst->sd, 0, sizeof dst->sd);   // the weights stay src's
    memset(&dst->x, 0, sizeof dst->x);
    dst->packed = 0;
    dst->tp = NULL;
    dst->peers = NULL;
    dst->npeers = 0;
    dst->nth = 1;
    int rc = src->packed ? gnet_pack(dst) : T2I_OK;
    if (!rc) rc = gnet_set_threads(dst, nth);
    if (rc) gnet_free(dst);
    return rc;
}

static int share_one(void *dst, const void *src) { return share_n(dst, src, 1); }

int gnet_share(GNet *dst, const GNet *src) { return share_n(dst, src, src->nth); }

int gnet_set_path(GNet *g, GNetPath path) {
    g->path = path;
    int rc = path == GNET_NHWC_XNNPACK && !g->packed ? gnet_pack(g) : T2I_OK;
    return rc ? rc : gnet_set_threads(g, g->nth);   // peers for the NHWC path
}

// ---- packing (NHWC path) -------------------------------------------------------------------

// conv3x3 + eval BatchNorm folded: w * s, bias beta - mean * s, s = gamma / sqrt(var + eps).
static int pack_convbn(XConv *x, const GNetConvBN *m, XConvKind kind, size_t in_stride) {
    int OC = m->conv.out_c;
    float *sb = t2i_malloc_aligned(2 * (size_t)OC * sizeof(float));
    if (!sb) return T2I_ENOMEM;
    for (int c = 0; c < OC; c++) {
        sb[c] = (1.0f / sqrtf(m->bn.var[c] + m->bn.eps)) * m->bn.weight[c];
        sb[OC + c] = m->bn.bias[c] - m->bn.mean[c] * sb[c];
    }
    int rc = xconv_create(x, &m->conv, kind, sb, sb + OC, -INFINITY, INFINITY, in_stride, 0);
    t2i_free(sb);
    return rc;
}

// Channels per pixel of the stage-s output buffer h: 2gf when a later stage concatenates its
// word context next to h, else gf.
static size_t h_stride(const GNetConfig *c, int s) {
    return (size_t)(s + 1 < c->branch_num ? 2 : 1) * c->gf_dim;
}

static void gnet_unpack(GNet *g) {
    GNetPacked *x = &g->x;
    for (int k = 0; k < 4; k++) xconv_free(&x->init_up[k]);
    for (int s = 0; s < 3; s++) xconv_free(&x->img[s]);
    for (int s = 0; s < 2; s++) {
        xconv_free(&x->next_up[s]);
        for (int r = 0; r < GNET_MAX_R_NUM; r++)
            xconv_free(&x->res[s][r][0]), xconv_free(&x->res[s][r][1]);
    }
    g->packed = 0;
}

static int gnet_pack(GNet *g) {
    const GNetConfig *c = &g->cfg;
    const GNetParams *p = &g->p;
    GNetPacked *x = &g->x;
    size_t s2 = 2 * (size_t)c->gf_dim;
    int rc = T2I_OK;
    gnet_unpack(g);
    for (int k = 0; k < 4 && !rc; k++) rc = pack_convbn(&x->init_up[k], &p->init_up[k], XCONV_UP2, 0);
    for (int s = 0; s < c->branch_num && !rc; s++) {
        if (s > 0) {
            for (int r = 0; r < c->r_num && !rc; r++) {
                rc = pack_convbn(&x->res[s - 1][r][0], &p->res[s - 1][r][0], XCONV_PLAIN, s2);
                if (!rc) rc = pack_convbn(&x->res[s - 1][r][1], &p->res[s - 1][r][1], XCONV_PLAIN, 0);
            }
            if (!rc) rc = pack_convbn(&x->next_up[s - 1], &p->next_up[s - 1], XCONV_UP2, s2);
        }
        if (!rc)
            rc = xconv_create(&x->img[s], &p->img[s], XCONV_PLAIN, NULL, NULL, -INFINITY,
                              INFINITY, h_stride(c, s), 0);
    }
    if (rc) {
        gnet_unpack(g);
        return t2i_error_prefix(rc, "G_NET: packing the convolutions for XNNPACK");
    }
    g->packed = 1;
    return T2I_OK;
}

// ---- forward ------------------------------------------------------------------------------
// Every buffer comes from the arena in a fixed order; with a measuring arena the same code
// runs with compute skipped (`live` == 0), which is how gnet_arena_bytes sizes the arena.
// With gnet_set_threads(g, n > 1) the batch is cut into n contiguous slices, each run by its
// own thread with single-threaded BLAS calls and its own part of the arena.

typedef struct {
    const GNet *g;
    Arena      *a;
    int         live;      // 0 while measuring
    int         B;         // samples in this slice
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

static float *fl(Ctx *x, size_t n) { return arena_floats(x->a, n); }

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
    size_t mark = arena_mark(x->a);
    float *cv = fl(x, (size_t)x->B * m->conv.out_c * 4 * H * W);
    if (x->live) gnet_up_block(out, in, m, x->B, H, W, cv, x->scratch, x->uprows);
    arena_reset_to(x->a, mark);
}

// GET_IMAGE_G: conv3x3 (gf -> 3) -> tanh
static void get_image(Ctx *x, float *img, const float *h, const Conv2d *m, int H, int W) {
    if (!x->live || !img) return;
    conv2d_forward(img, h, m, x->B, H, W, x->scratch);
    tanh_forward(img, img, (size_t)x->B * 3 * H * W);
}

// CA_NET: c_code (B, cond) from the arena; mu / logvar / c_code outputs when requested.
static float *ca_net(Ctx *x, const GNetInputs *in, GNetOutputs *out) {
    const GNet *g = x->g;
    int B = x->B, cond = g->cfg.condition_dim;
    float *ca = fl(x, (size_t)B * 4 * cond);
    float *glu = fl(x, (size_t)B * 2 * cond);
    float *c_code = fl(x, (size_t)B * cond);
    if (!x->live) return c_code;
    linear_forward_per_sample(ca, in->sent_emb, &g->p.ca_fc, B);
    glu_forward(glu, ca, B, 2 * cond, 1);
    for (int b = 0; b < B; b++) {
        const float *mu = glu + (size_t)b * 2 * cond, *lv = mu + cond;
        for (int j = 0; j < cond; j++) {
            float std = expf(lv[j] * 0.5f);                  // logvar.mul(0.5).exp_()
            float t = in->eps[(size_t)b * cond + j] * std;   // eps.mul(std)
            c_code[(size_t)b * cond + j] = t + mu[j];        // .add_(mu), rounded separately
        }
        if (out->mu) memcpy(out->mu + (size_t)b * cond, mu, sizeof(float) * cond);
        if (out->logvar) memcpy(out->logvar + (size_t)b * cond, lv, sizeof(float) * cond);
    }
    if (out->c_code) memcpy(out->c_code, c_code, sizeof(float) * (size_t)B * cond);
    return c_code;
}

// INIT_STAGE_G's fc, BatchNorm1d and GLU: code (B, ngf*16) = the NCHW map (B, ngf, 4, 4).
static void init_code(Ctx *x, float *code, const float *c_code, const float *z) {
    const GNetParams *p = &x->g->p;
    const GNetConfig *c = &x->g->cfg;
    int B = x->B, F = 16 * c->gf_dim * 32, in_f = c->condition_dim + c->z_dim;
    size_t mark = arena_mark(x->a);
    float *cz = fl(x, (size_t)B * in_f);
    float *fc = fl(x, (size_t)B * F);
    if (x->live) {
        // cat(c_code, z): c first
        for (int b = 0; b < B; b++) {
            memcpy(cz + (size_t)b * in_f, c_code + (size_t)b * c->condition_dim,
                   sizeof(float) * c->condition_dim);
            memcpy(cz + (size_t)b * in_f + c->condition_dim, z + (size_t)b * c->z_dim,
                   sizeof(float) * c->z_dim);
        }
        linear_forward_per_sample(fc, cz, &p->init_fc, B);
        gnet_bn_glu(code, fc, &p->init_bn, B, F / 2, 1);   // BatchNorm1d(F), GLU
    }
    arena_reset_to(x->a, mark);
}

// INIT_STAGE_G: h (B, gf, 64, 64)
static void init_stage(Ctx *x, float *h, const float *c_code, const float *z) {
    const GNetParams *p = &x->g->p;
    const GNetConfig *c = &x->g->cfg;
    int B = x->B, ngf = 16 * c->gf_dim, F = ngf * 32, in_f = c->condition_dim + c->z_dim;
    size_t mark = arena_mark(x->a);
    (void)in_f;
    // ping-pong buffers big enough for every upBlock output: (B, ngf>>k+1, 8<<k, 8<<k)
    size_t big = 0;
    for (int k = 0; k < 4; k++) {
        size_t n = (size_t)B * (ngf >> (k + 1)) * (8 << k) * (8 << k);
        if (n > big) big = n;
    }
    float *b0 = fl(x, big > (size_t)B * F / 2 ? big : (size_t)B * F / 2);
    float *b1 = fl(x, big);
    init_code(x, b0, c_code, z);
    float *cur = b0, *nxt = b1;
    for (int k = 0; k < 4; k++) {
        int res = 4 << k;
        float *dst = k == 3 ? h : nxt;
        up_block(x, dst, cur, &p->init_up[k], res, res);
        nxt = cur;
        cur = dst;
    }
    arena_reset_to(x->a, mark);
}

// NEXT_STAGE_G (stage s = 1, 2): h_in (B, gf, R, R) -> h_out (B, gf, 2R, 2R), att (B, T, R*R)
static void next_stage(Ctx *x, int s, float *h_out, float *att, const float *h_in, int R,
                       const GNetInputs *in, int T) {
    const GNetParams *p = &x->g->p;
    const GNetConfig *c = &x->g->cfg;
    int B = x->B, gf = c->gf_dim;
    size_t Q = (size_t)R * R;
    size_t mark = arena_mark(x->a);
    float *hc = fl(x, (size_t)B * 2 * gf * Q);
    float *ctx = fl(x, (size_t)B * gf * Q);
    if (x->live) {
        word_attention_forward_part(ctx, att, h_in, in->words_emb, in->mask, in->mask_mode,
                                    &p->att[s - 1], B, (int)Q, T, x->b0, x->Btot,
                                    x->att_scratch);
        concat_channels(hc, h_in, gf, ctx, gf, B, (int)Q);   // cat(h_code, c_code): h first
    }
    // residual blocks: x = x + BN(conv(GLU(BN(conv(x)))))
    size_t mark2 = arena_mark(x->a);
    float *t1 = fl(x, (size_t)B * 4 * gf * Q);
    float *t2 = fl(x, (size_t)B * 2 * gf * Q);
    float *t3 = fl(x, (size_t)B * 2 * gf * Q);
    if (x->live) {
        for (int r = 0; r < c->r_num; r++) {
            const GNetConvBN *m0 = &p->res[s - 1][r][0], *m1 = &p->res[s - 1][r][1];
            conv2d_forward(t1, hc, &m0->conv, B, R, R, x->scratch);
            gnet_bn_glu(t2, t1, &m0->bn, B, 2 * gf, Q);
            conv2d_forward(t3, t2, &m1->conv, B, R, R, x->scratch);
            gnet_bn_add(hc, t3, &m1->bn, B, 2 * gf, Q);
        }
    }
    arena_reset_to(x->a, mark2);
    up_block(x, h_out, hc, &p->next_up[s - 1], R, R);
    arena_reset_to(x->a, mark);
}

// The whole network for the slice described by x; `in` and `out` point at the slice.
static void run(Ctx *x, const GNetInputs *in, GNetOutputs *out, int T) {
    const GNet *g = x->g;
    const GNetConfig *c = &g->cfg;
    int B = x->B, gf = c->gf_dim;
    size_t att_n;
    x->scratch = fl(x, conv_scratch_max(c, T, &att_n));
    x->att_scratch = fl(x, att_n);
    // largest upBlock input: (H, 2W+2) with H = W = 64 << (branch_num - 2), or 32 in stage 1
    int up_in = c->branch_num > 1 ? 32 << (c->branch_num - 1) : 32;
    x->uprows = fl(x, (size_t)up_in * (2 * up_in + 2));
    float *c_code = ca_net(x, in, out);
    float *h = fl(x, (size_t)B * gf * 64 * 64);
    init_stage(x, h, c_code, in->z);
    get_image(x, out->img[0], h, &g->p.img[0], 64, 64);
    for (int s = 1; s < c->branch_num; s++) {
        int R = 32 << s;
        float *hn = fl(x, (size_t)B * gf * 4 * R * R);
        next_stage(x, s, hn, out->att[s - 1], h, R, in, T);
        get_image(x, out->img[s], hn, &g->p.img[s], 2 * R, 2 * R);
        h = hn;
    }
}


// ---- forward, NHWC on XNNPACK (GNET_NHWC_XNNPACK) -----------------------------------------
// Activations are (B, H, W, stride). Stage s leaves h (B, 64<<s, 64<<s, h_stride(s)) with its
// gf channels first; the next stage writes the word context into channels gf..2gf of the same
// buffer, which is then the ResBlocks' input cat(h_code, c_code) and their residual sum.

typedef struct {
    Ctx           c;       // arena, batch, live flag, attention scratch
    GNetPacked   *x;
    pthreadpool_t tp;
    int           rc;
} NCtx;

// upBlock: UP2 conv (BN folded) into cv (B,2H,2W,OC), GLU into out (stride so): OC/2 channels.
static void nhwc_up_block(NCtx *n, float *out, size_t so, const float *in, XConv *xc, int H,
                          int W) {
    Ctx *x = &n->c;
    size_t mark = arena_mark(x->a);
    size_t P = (size_t)x->B * 4 * H * W;
    float *cv = fl(x, P * xc->out_c);
    if (x->live && !n->rc) {
        n->rc = xconv_run(xc, cv, in, x->B, H, W, n->tp);
        if (!n->rc) nhwc_glu(out, so, cv, (size_t)xc->out_c, P, xc->out_c / 2, n->tp);
    }
    arena_reset_to(x->a, mark);
}

// GET_IMAGE_G: conv3x3 (gf -> 3) on h, tanh, NCHW image out.
static void nhwc_get_image(NCtx *n, float *img, const float *h, XConv *xc, int R) {
    Ctx *x = &n->c;
    size_t mark = arena_mark(x->a);
    float *t = fl(x, (size_t)x->B * R * R * 3);
    if (x->live && img && !n->rc) {
        n->rc = xconv_run(xc, t, h, x->B, R, R, n->tp);
        if (!n->rc) nhwc_tanh_to_nchw(img, t, x->B, 3, R * R, 3, n->tp);
    }
    arena_reset_to(x->a, mark);
}

static void run_nhwc(NCtx *n, const GNetInputs *in, GNetOutputs *out, int T) {
    Ctx *x = &n->c;
    const GNet *g = x->g;
    const GNetConfig *c = &g->cfg;
    const int B = x->B, gf = c->gf_dim, ngf = 16 * gf;
    size_t att_n = 0;
    for (int s = 1; s < c->branch_num; s++) {
        size_t q = (size_t)(32 << s) * (32 << s), an = (size_t)gf * T + q * T;
        if (an > att_n) att_n = an;
    }
    x->att_scratch = fl(x, att_n);
    float *c_code = ca_net(x, in, out);
    // INIT_STAGE_G: fc -> (B, ngf, 4, 4) NCHW -> NHWC, four upBlocks to (B, 64, 64, gf)
    float *h = fl(x, (size_t)B * 64 * 64 * h_stride(c, 0));
    {
        size_t mark = arena_mark(x->a);
        size_t big = 0;   // largest upBlock output of the first three
        for (int k = 0; k < 3; k++) {
            size_t q = (size_t)B * (ngf >> (k + 1)) * (8 << k) * (8 << k);
            if (q > big) big = q;
        }
        float *code = fl(x, (size_t)B * ngf * 16);
        float *b0 = fl(x, big > (size_t)B * ngf * 16 ? big : (size_t)B * ngf * 16);
        float *b1 = fl(x, big);
        init_code(x, code, c_code, in->z);
        if (x->live) nchw_to_nhwc(b0, code, B, ngf, 16, (size_t)ngf);
        float *cur = b0, *nxt = b1;
        for (int k = 0; k < 4; k++) {
            int res = 4 << k;
            int last = k == 3;
            nhwc_up_block(n, last ? h : nxt, last ? h_stride(c, 0) : (size_t)(ngf >> (k + 1)),
                          cur, &n->x->init_up[k], res, res);
            float *t = cur;
            cur = nxt;
            nxt = t;
        }
        arena_reset_to(x->a, mark);
    }
    nhwc_get_image(n, out->img[0], h, &n->x->img[0], 64);
    for (int s = 1; s < c->branch_num; s++) {
        const int R = 32 << s;
        const size_t Q = (size_t)R * R, P = (size_t)B * Q, s2 = 2 * (size_t)gf;
        float *hn = fl(x, (size_t)B * 4 * Q * h_stride(c, s));
        size_t mark = arena_mark(x->a);
        float *t1 = fl(x, P * 4 * gf), *t2 = fl(x, P * s2), *t3 = fl(x, P * s2);
        if (x->live && !n->rc) {
            // h holds h_code in channels 0..gf; the word context goes next to it
            word_attention_forward_nhwc(h + gf, s2, out->att[s - 1], h, s2, in->words_emb,
                                        in->mask, in->mask_mode, &g->p.att[s - 1], B, (int)Q, T,
                                        x->att_scratch);
            for (int r = 0; r < c->r_num && !n->rc; r++) {
                n->rc = xconv_run(&n->x->res[s - 1][r][0], t1, h, B, R, R, n->tp);
                if (n->rc) break;
                nhwc_glu(t2, s2, t1, 4 * (size_t)gf, P, 2 * gf, n->tp);
                n->rc = xconv_run(&n->x->res[s - 1][r][1], t3, t2, B, R, R, n->tp);
                if (!n->rc) nhwc_add(h, s2, t3, s2, P, 2 * gf, n->tp);
            }
        }
        arena_reset_to(x->a, mark);
        nhwc_up_block(n, hn, h_stride(c, s), h, &n->x->next_up[s - 1], R, R);
        nhwc_get_image(n, out->img[s], hn, &n->x->img[s], 2 * R);
        h = hn;
    }
}

static size_t nhwc_bytes(const GNet *g, int B, int T) {
    Arena a;
    arena_init_measure(&a);
    NCtx n = {.c = {.g = g, .a = &a, .live = 0, .B = B, .b0 = 0, .Btot = B},
              .x = (GNetPacked *)&g->x};
    GNetInputs in;
    GNetOutputs out;
    memset(&in, 0, sizeof in);
    memset(&out, 0, sizeof out);
    run_nhwc(&n, &in, &out, T);
    return a.high + 64;
}

static int forward_nhwc(const GNet *g, const GNetInputs *in, GNetOutputs *out, int B, int T,
                        Arena *arena) {
    if (!g->packed) return t2i_error(T2I_EARG, "G_NET: weights not packed for the NHWC path");
    size_t mark = arena_mark(arena);
    NCtx n = {.c = {.g = g, .a = arena, .live = 1, .B = B, .b0 = 0, .Btot = B},
              .x = (GNetPacked *)&g->x, .tp = g->tp};
    int saved = blas_get_threads();
    if (saved != 1) blas_set_threads(1);
    run_nhwc(&n, in, out, T);
    if (saved != 1) blas_set_threads(saved);
    arena_reset_to(arena, mark);
    return n.rc;
}

int gnet_set_threads(GNet *g, int nth) {
    free_peers(g);
    g->nth = nth > 1 ? nth : 1;
    pthreadpool_destroy(g->tp);
    g->tp = xpool_create(g->nth);
    if (g->nth > 1 && !g->tp) {
        g->nth = 1;
        return t2i_error(T2I_ENOMEM, "G_NET: cannot start %d threads", nth);
    }
    if (g->nth > 1 && g->packed) {   // single-threaded peers for batch slices
        int rc;
        g->peers = xpeers_create(g->nth - 1, sizeof *g->peers, share_one, drop_instance, g, &rc);
        if (!g->peers) return rc;
        g->npeers = g->nth - 1;
    }
    return T2I_OK;
}

static int n_slices(const GNet *g, int B) {
    int n = g->nth > 1 ? g->nth : 1;
    return n < B ? n : B;
}

static size_t slice_bytes(const GNet *g, int B, int Btot, int T) {
    if (g->path == GNET_NHWC_XNNPACK) return nhwc_bytes(g, B, T);
    Arena a;
    arena_init_measure(&a);
    Ctx x = {.g = g, .a = &a, .live = 0, .B = B, .b0 = 0, .Btot = Btot};
    GNetInputs in;
    GNetOutputs out;
    memset(&in, 0, sizeof in);
    memset(&out, 0, sizeof out);
    run(&x, &in, &out, T);
    return a.high + 64;
}

size_t gnet_arena_bytes(const GNet *g, int B, int T) {
    int n = n_slices(g, B);
    size_t total = 0;
    for (int k = 0; k < n; k++) {
        int b0 = (int)((long)B * k / n), b1 = (int)((long)B * (k + 1) / n);
        total += slice_bytes(g, b1 - b0, B, T) + 64;
    }
    if (g->path == GNET_NHWC_XNNPACK) {   // or the whole batch on the pool (coupled masks)
        size_t one = nhwc_bytes(g, B, T) + 64;
        if (one > total) total = one;
    }
    return total;
}

typedef struct {
    NCtx         n;       // n.c for the NCHW path
    int          nhwc;
    GNetInputs   in;
    GNetOutputs  out;
    Arena        arena;
    int          T;
} Slice;

static void slice_run(void *ctx, int k) {
    Slice *s = (Slice *)ctx + k;
    if (s->nhwc) run_nhwc(&s->n, &s->in, &s->out, s->T);
    else run(&s->n.c, &s->in, &s->out, s->T);
}

int gnet_forward(const GNet *g, const GNetInputs *in, GNetOutputs *out, int B, int T,
                 Arena *arena) {
    if (B < 1 || T < 1) return t2i_error(T2I_EARG, "G_NET: batch %d with %d words", B, T);
    if (!in->z && g->cfg.z_dim > 0) return t2i_error(T2I_EARG, "G_NET: no noise z");
    if (!in->sent_emb || !in->eps || (g->cfg.branch_num > 1 && !in->words_emb))
        return t2i_error(T2I_EARG, "G_NET: missing input (sent_emb, eps or words_emb)");
    const int nhwc = g->path == GNET_NHWC_XNNPACK;
    // NHWC: slices on the peers for a per-sample batch, else every layer on the pool
    if (nhwc && (g->npeers == 0 || B < 2 || in->mask_mode == ATT_MASK_BATCH_COUPLED))
        return forward_nhwc(g, in, out, B, T, arena);
    size_t mark = arena_mark(arena);
    int n = n_slices(g, B);
    if (nhwc && n > g->npeers + 1) n = g->npeers + 1;
    if (n <= 1) {
        Ctx x = {.g = g, .a = arena, .live = 1, .B = B, .b0 = 0, .Btot = B};
        run(&x, in, out, T);
        arena_reset_to(arena, mark);
        return T2I_OK;
    }
    enum { MAX_SLICES = 64 };
    if (n > MAX_SLICES) n = MAX_SLICES;
    Slice sl[MAX_SLICES];
    const GNetConfig *c = &g->cfg;
    size_t E = (size_t)c->embedding_dim, cond = (size_t)c->condition_dim;
    for (int k = 0; k < n; k++) {
        int b0 = (int)((long)B * k / n), b1 = (int)((long)B * (k + 1) / n), Bs = b1 - b0;
        Slice *s = &sl[k];
        memset(s, 0, sizeof *s);
        size_t need = slice_bytes(g, Bs, B, T);
        s->arena.base = arena_alloc(arena, need);
        s->arena.cap = need;
        s->n.c = (Ctx){.g = g, .a = &s->arena, .live = 1, .B = Bs, .b0 = b0, .Btot = B};
        s->nhwc = nhwc;
        if (nhwc) {   // instance k: its own packed operators, one thread, local sample indices
            const GNet *gk = k == 0 ? g : &g->peers[k - 1];
            s->n.c.g = gk, s->n.c.b0 = 0, s->n.c.Btot = Bs;
            s->n.x = (GNetPacked *)&gk->x;
        }
        s->T = T;
        s->in = *in;
        if (nhwc && in->mask) s->in.mask = in->mask + (size_t)b0 * T;   // per-sample rows
        s->in.z = in->z ? in->z + (size_t)b0 * c->z_dim : NULL;
        s->in.sent_emb = in->sent_emb + (size_t)b0 * E;
        s->in.words_emb = in->words_emb ? in->words_emb + (size_t)b0 * E * T : NULL;
        s->in.eps = in->eps + (size_t)b0 * cond;
        // mask stays whole: rows are looked up by global sample index (attention.h)
        for (int st = 0; st < 3; st++)
            s->out.img[st] = out->img[st] ? out->img[st] + (size_t)b0 * 3 * (64 << st) * (64 << st)
                                          : NULL;
        for (int st = 0; st < 2; st++)
            s->out.att[st] = out->att[st] ? out->att[st] + (size_t)b0 * T * (64 << st) * (64 << st)
                                          : NULL;
        s->out.mu = out->mu ? out->mu + (size_t)b0 * cond : NULL;
        s->out.logvar = out->logvar ? out->logvar + (size_t)b0 * cond : NULL;
        s->out.c_code = out->c_code ? out->c_code + (size_t)b0 * cond : NULL;
    }
    xslices_run(n, slice_run, sl);   // one BLAS thread per slice meanwhile
    arena_reset_to(arena, mark);
    for (int k = 0; k < n; k++)
        if (sl[k].n.rc) return sl[k].n.rc;
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
