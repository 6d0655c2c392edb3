// dfgan.c -- see dfgan.h. NetG of DF-GAN (models/GAN.py), one function per PyTorch module.
#include "dfgan.h"
#include "t2i.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

DfGanConfig dfgan_config_bird(void) {
    return (DfGanConfig){.nf = 32, .z_dim = 100, .cond_dim = 256, .imsize = 256, .ch_size = 3};
}

int dfgan_config_check(const DfGanConfig *c) {
    if (c->nf < 1 || c->nf > 4096 || c->z_dim < 1 || c->z_dim > 65536 || c->cond_dim < 0 ||
        c->cond_dim > 65536 || c->ch_size < 1 || c->ch_size > 16)
        return t2i_error(T2I_EARG, "DF-GAN NetG config: sizes out of range (nf %d, z_dim %d, "
                                   "cond_dim %d, ch_size %d)",
                         c->nf, c->z_dim, c->cond_dim, c->ch_size);
    int ok = c->imsize >= 8 && c->imsize <= 2048 && (c->imsize & (c->imsize - 1)) == 0;
    if (!ok)
        return t2i_error(T2I_EARG, "DF-GAN NetG config: imsize %d is not a power of two in "
                                   "8..2048",
                         c->imsize);
    return T2I_OK;
}

// get_G_in_out_chs: layer_num = log2(imsize) - 1 channel counts nf * min(2^i, 8), reversed,
// taken pairwise.
int dfgan_blocks(const DfGanConfig *c, int *in, int *out) {
    int layers = 0;
    while ((2 << layers) <= c->imsize) layers++;   // log2(imsize)
    layers -= 1;
    int ch[DFGAN_MAX_BLOCKS + 1];
    for (int i = 0; i < layers; i++) ch[layers - 1 - i] = c->nf * (i < 3 ? 1 << i : 8);
    for (int k = 0; k + 1 < layers; k++) {
        in[k] = ch[k];
        out[k] = ch[k + 1];
    }
    return layers - 1;
}

// ---- keys ---------------------------------------------------------------------------------

static void bind_linear(BindList *bl, Linear *m, int in, int out, const char *prefix) {
    int w[2] = {out, in}, b[1] = {out};
    *m = (Linear){.in_f = in, .out_f = out};
    bind_param(bl, (float **)&m->w, 2, w, "%s.weight", prefix);
    bind_param(bl, (float **)&m->b, 1, b, "%s.bias", prefix);
}

static void bind_conv(BindList *bl, Conv2d *m, int in, int out, int k, const char *prefix) {
    int w[4] = {out, in, k, k}, b[1] = {out};
    *m = (Conv2d){.in_c = in, .out_c = out, .kh = k, .kw = k, .sh = 1, .sw = 1, .ph = k / 2,
                  .pw = k / 2};
    bind_param(bl, (float **)&m->w, 4, w, "%s.weight", prefix);
    bind_param(bl, (float **)&m->b, 1, b, "%s.bias", prefix);
}

// DFBLK(cond_dim, C) at `prefix`: affine0/1, each fc_gamma and fc_beta = linear1, linear2.
static void bind_dfblk(BindList *bl, DfGanDfblk *m, int cond, int C, const char *prefix) {
    DfGanAffine *aff[2] = {&m->affine0, &m->affine1};
    char p[160];
    for (int a = 0; a < 2; a++) {
        DfGanMlp *mlp[2] = {&aff[a]->fc_gamma, &aff[a]->fc_beta};
        static const char *const names[2] = {"fc_gamma", "fc_beta"};
        for (int j = 0; j < 2; j++) {
            snprintf(p, sizeof p, "%s.affine%d.%s.linear1", prefix, a, names[j]);
            bind_linear(bl, &mlp[j]->linear1, cond, C, p);
            snprintf(p, sizeof p, "%s.affine%d.%s.linear2", prefix, a, names[j]);
            bind_linear(bl, &mlp[j]->linear2, C, C, p);
        }
    }
}

void dfgan_keys(DfGan *g, const DfGanConfig *cfg, BindList *bl) {
    int in[DFGAN_MAX_BLOCKS], out[DFGAN_MAX_BLOCKS];
    char p[96];
    g->cfg = *cfg;
    g->n_blocks = dfgan_blocks(cfg, in, out);
    int cond = cfg->z_dim + cfg->cond_dim;
    bind_linear(bl, &g->fc, cfg->z_dim, cfg->nf * 8 * 4 * 4, "fc");
    for (int k = 0; k < g->n_blocks; k++) {
        DfGanBlock *b = &g->blocks[k];
        b->in_c = in[k];
        b->out_c = out[k];
        snprintf(p, sizeof p, "GBlocks.%d.c1", k);
        bind_conv(bl, &b->c1, in[k], out[k], 3, p);
        snprintf(p, sizeof p, "GBlocks.%d.c2", k);
        bind_conv(bl, &b->c2, out[k], out[k], 3, p);
        snprintf(p, sizeof p, "GBlocks.%d.fuse1", k);
        bind_dfblk(bl, &b->fuse1, cond, in[k], p);
        snprintf(p, sizeof p, "GBlocks.%d.fuse2", k);
        bind_dfblk(bl, &b->fuse2, cond, out[k], p);
        if (in[k] != out[k]) {
            snprintf(p, sizeof p, "GBlocks.%d.c_sc", k);
            bind_conv(bl, &b->c_sc, in[k], out[k], 1, p);
        }
    }
    bind_conv(bl, &g->to_rgb, cfg->nf, cfg->ch_size, 3, "to_rgb.1");
}

static int  dfgan_pack(DfGan *g);
static void dfgan_unpack(DfGan *g);

int dfgan_load_sd(DfGan *g, const DfGanConfig *cfg, StateDict *sd, const char *what) {
    memset(g, 0, sizeof *g);
    g->sd = *sd;
    g->nth = 1;
    memset(sd, 0, sizeof *sd);
    int rc = dfgan_config_check(cfg);
    if (rc) {
        dfgan_free(g);
        return rc;
    }
    BindList bl;
    bindlist_init(&bl);
    dfgan_keys(g, cfg, &bl);
    rc = sd_bind(&g->sd, &bl, NULL, what ? what : "DF-GAN NetG");
    bindlist_free(&bl);
    if (!rc) rc = dfgan_pack(g);
    if (rc) dfgan_free(g);
    return rc;
}

static void drop_instance(void *g) { dfgan_free(g); }

static void free_peers(DfGan *g) {
    xpeers_free(g->peers, g->npeers, sizeof *g->peers, drop_instance);
    g->peers = NULL;
    g->npeers = 0;
}

void dfgan_free(DfGan *g) {
    if (!g) return;
    dfgan_unpack(g);
    free_peers(g);
    pthreadpool_destroy(g->tp);
    sd_free(&g->sd);
    memset(g, 0, sizeof *g);
}

// An instance over src's weights with nth threads.
static int share_n(DfGan *dst, const DfGan *src, int nth) {
    *dst = *src;
    memset(&dst->sd, 0, sizeof dst->sd);   // the weights stay src's
    memset(&dst->x, 0, sizeof dst->x);
    dst->tp = NULL;
    dst->peers = NULL;
    dst->npeers = 0;
    dst->nth = 1;
    int rc = dfgan_pack(dst);
    if (!rc) rc = dfgan_set_threads(dst, nth);
    if (rc) dfgan_free(dst);
    return rc;
}

static int pack_bands(DfGan *g, int band, int nbands);

static int share_one(void *dst, const void *src) { return share_n(dst, src, 1); }

int dfgan_share(DfGan *dst, const DfGan *src) { return share_n(dst, src, src->nth); }

int dfgan_set_threads(DfGan *g, int nth) {
    free_peers(g);
    pthreadpool_destroy(g->tp);
    g->nth = nth > 1 ? nth : 1;
    g->tp = xpool_create(g->nth);
    if (g->nth > 1 && !g->tp) {
        g->nth = 1;
        return t2i_error(T2I_ENOMEM, "DF-GAN NetG: cannot start %d threads", nth);
    }
    if (g->nth > 1) {   // single-threaded peers for batch slices and bands of one image
        int rc;
        g->peers = xpeers_create(g->nth - 1, sizeof *g->peers, share_one, drop_instance, g, &rc);
        if (!g->peers) return rc;
        g->npeers = g->nth - 1;
        rc = pack_bands(g, 0, g->nth);
        for (int p = 0; p < g->npeers && !rc; p++) rc = pack_bands(&g->peers[p], p + 1, g->nth);
        if (rc) return rc;
    }
    return T2I_OK;
}

// ---- packing -------------------------------------------------------------------------------

static void dfgan_unpack(DfGan *g) {
    for (int k = 0; k < DFGAN_MAX_BLOCKS; k++) {
        xconv_free(&g->x.c1[k]);
        xconv_free(&g->x.c2[k]);
        xconv_free(&g->x.c_sc[k]);
        xconv_free(&g->x.c2v[k]);
        xconv_free(&g->x.c1b[k]);
    }
    xtaps_free(&g->x.to_rgb);
    g->x.bands = 0;
}

static int dfgan_pack(DfGan *g) {
    int rc = T2I_OK;
    dfgan_unpack(g);
    for (int k = 0; k < g->n_blocks && !rc; k++) {
        const DfGanBlock *b = &g->blocks[k];
        rc = xconv_create(&g->x.c1[k], &b->c1, XCONV_UP2_FAST, NULL, NULL, -INFINITY, INFINITY,
                          0, 0);
        if (!rc)
            rc = xconv_create(&g->x.c2[k], &b->c2, XCONV_FAST, NULL, NULL, -INFINITY, INFINITY,
                              0, 0);
        if (!rc && b->in_c != b->out_c)
            rc = xconv_create(&g->x.c_sc[k], &b->c_sc, XCONV_PLAIN, NULL, NULL, -INFINITY,
                              INFINITY, 0, 0);
    }
    if (!rc) rc = xtaps_create(&g->x.to_rgb, &g->to_rgb, 0);
    if (rc) {
        dfgan_unpack(g);
        return t2i_error_prefix(rc, "DF-GAN NetG: packing the convolutions for XNNPACK");
    }
    return T2I_OK;
}

// Band `band` of `nbands`: c2 without vertical padding, and c1 over the band's output channels
// (bands of 16 channels, XNNPACK's tile; a band may get none).
static int pack_bands(DfGan *g, int band, int nbands) {
    if (g->x.bands) return T2I_OK;
    int rc = T2I_OK;
    for (int k = 0; k < g->n_blocks && !rc; k++) {
        Conv2d v = g->blocks[k].c2;
        v.ph = 0;   // the rows above and below come from the band's input (guard rows: zeros)
        rc = xconv_create(&g->x.c2v[k], &v, XCONV_FAST, NULL, NULL, -INFINITY, INFINITY, 0, 0);
        const Conv2d *c1 = &g->blocks[k].c1;
        int tiles = (c1->out_c + 15) / 16;
        int c0 = 16 * (int)((long)tiles * band / nbands);
        int e = 16 * (int)((long)tiles * (band + 1) / nbands);
        if (e > c1->out_c) e = c1->out_c;
        g->x.c1b_c0[k] = c0;
        if (rc || e <= c0) continue;
        Conv2d sub = *c1;   // output channels [c0, e): OIHW rows c0.. of the weights
        sub.out_c = e - c0;
        sub.w = c1->w + (size_t)c0 * c1->in_c * c1->kh * c1->kw;
        sub.b = c1->b ? c1->b + c0 : NULL;
        rc = xconv_create(&g->x.c1b[k], &sub, XCONV_UP2_FAST, NULL, NULL, -INFINITY, INFINITY,
                          0, (size_t)c1->out_c);
    }
    if (rc) {
        for (int k = 0; k < g->n_blocks; k++) xconv_free(&g->x.c2v[k]), xconv_free(&g->x.c1b[k]);
        return t2i_error_prefix(rc, "DF-GAN NetG: packing the band convolutions for XNNPACK");
    }
    g->x.bands = 1 + band;
    return T2I_OK;
}

// ---- forward ------------------------------------------------------------------------------
// Activations are NHWC (B, H, W, C), channels contiguous. Buffers come from the arena in a fixed
// order; with a measuring arena the same code runs with the arithmetic skipped (live == 0),
// which is how dfgan_arena_bytes sizes the arena.

typedef struct {
    const DfGan  *g;        // this slice's instance (its own XConvs)
    Arena        *a;
    int           live;
    int           B;
    int           rc;
    pthreadpool_t tp;
    const float  *cond;     // (B, nz + cond_dim)
    float        *hidden;   // (B, C), C <= 8nf
    float        *aff[4];   // gamma0, beta0, gamma1, beta1 of one DFBLK, (B, C) each
    int           nbands;   // > 1: one image; c2, c_sc and to_rgb's 1x1 conv run as nbands bands
                            // of rows on the pool, c1 as bands of output channels, band b by
                            // instance b (0 = g, then its peers)
} Ctx;

// ---- bands: one image split between single-threaded instances ----------------------------
// XNNPACK computes each output element with the same operations whichever rows or output
// channels are computed with it, and a zero guard row read as input gives the same products as
// its padding (which points at a zero buffer): a band's outputs have the bytes of the whole
// image's. c2, c_sc and to_rgb's 1x1 conv split the rows, the upsampling c1 (whose padding
// cannot be moved into guard rows) its output channels; each thread then runs its own part with
// a single-threaded operator (as batch slices do), instead of every layer being cut into tiles
// over both threads. The pool's wait for the slower band is outside the convolutions' time.

enum { BAND_C2, BAND_SC, BAND_RGB, BAND_C1 };
#define DFGAN_MAX_BANDS 16

typedef struct {
    const DfGan *g;
    int          which, k, nb, H, W, halo;
    size_t       ci, co;   // channels of a pixel in and out
    float       *out;
    const float *in;
    int          rc[DFGAN_MAX_BANDS];
} BandJob;

static void band_task(void *ctx, size_t b) {
    BandJob     *j = ctx;
    const DfGan *inst = b == 0 ? j->g : &j->g->peers[b - 1];
    j->rc[b] = T2I_OK;
    if (j->which == BAND_C1) {   // all rows, this instance's output channels
        const XConv *op = &inst->x.c1b[j->k];
        if (xconv_packed(op))   // a band may have no channels
            j->rc[b] = xconv_run(op, j->out + inst->x.c1b_c0[j->k], j->in, 1, j->H, j->W, NULL);
        return;
    }
    const XConv *op = j->which == BAND_C2   ? &inst->x.c2v[j->k]
                      : j->which == BAND_SC ? &inst->x.c_sc[j->k]
                                            : &inst->x.to_rgb.taps;
    // rows in fours, a multiple of every Winograd tile height (4, 2, 1: xwino.c's kinds), so
    // c2's tiles (XCONV_FAST) start where the whole image's do
    int quads = (j->H + 3) / 4;
    int r0 = 4 * (int)((long)quads * (long)b / j->nb);
    int r1 = 4 * (int)((long)quads * (long)(b + 1) / j->nb);
    if (r1 > j->H) r1 = j->H;
    if (r1 > r0)   // input rows [r0 - halo, r1 + halo) -> output rows [r0, r1)
        j->rc[b] = xconv_run(op, j->out + (size_t)r0 * j->W * j->co,
                             j->in + ((ptrdiff_t)r0 - j->halo) * (ptrdiff_t)(j->W * j->ci), 1,
                             r1 - r0 + 2 * j->halo, j->W, NULL);
}

// One of the band convolutions of a batch-1 image over H x W (c2: `in` has a zero guard row
// above and below).
static void bands(Ctx *x, int which, int k, float *out, const float *in, int H, int W, int ci,
                  int co) {
    if (!x->live || x->rc) return;
    BandJob j = {.g = x->g, .which = which, .k = k, .nb = x->nbands, .H = H, .W = W,
                 .halo = which == BAND_C2, .ci = (size_t)ci, .co = (size_t)co, .out = out,
                 .in = in};
    pthreadpool_parallelize_1d(x->tp, band_task, &j, (size_t)j.nb, 0);
    for (int b = 0; b < j.nb && !x->rc; b++) x->rc = j.rc[b];
}

// Affine.forward's parameters: gamma = fc_gamma(cond), beta = fc_beta(cond), each
// linear1 -> ReLU (in place) -> linear2.
void dfgan_affine_params(float *gamma, float *beta, const DfGanAffine *m, const float *cond,
                         int B, float *hidden) {
    const DfGanMlp *mlp[2] = {&m->fc_gamma, &m->fc_beta};
    float *dst[2] = {gamma, beta};
    for (int j = 0; j < 2; j++) {
        linear_forward_per_sample(hidden, cond, &mlp[j]->linear1, B);
        relu_forward(hidden, hidden, (size_t)B * mlp[j]->linear1.out_f);
        linear_forward_per_sample(dst[j], hidden, &mlp[j]->linear2, B);
    }
}

// DFBLK on n pixels of one sample: y = LeakyReLU(g1 * LeakyReLU(g0 * x + b0) + b1) per channel,
// a multiply then an add (two roundings, as PyTorch's `weight * x + bias`). Elementwise, so
// every ISA clone computes the same bits; y may be x.
XV16_CLONES static void dfblk_px(float *y, const float *x, size_t n, int C, const float *g0,
                               const float *b0, const float *g1, const float *b1) {
    const int CV = C / 16 * 16;
    for (size_t p = 0; p < n; p++, x += C, y += C) {
        for (int c = 0; c < CV; c += 16) {
            xv16f v, w0, c0, w1, c1;
            XV16_LOAD(v, x + c);
            XV16_LOAD(w0, g0 + c), XV16_LOAD(c0, b0 + c);
            XV16_LOAD(w1, g1 + c), XV16_LOAD(c1, b1 + c);
            v = w0 * v;
            v = v + c0;
            XV16_LRELU(v);
            v = w1 * v;
            v = v + c1;
            XV16_LRELU(v);
            XV16_STORE(y + c, v);
        }
        for (int c = CV; c < C; c++) {
            float v = g0[c] * x[c];
            v = v + b0[c];
            v = v > 0.0f ? v : v * 0.2f;
            v = g1[c] * v;
            v = v + b1[c];
            y[c] = v > 0.0f ? v : v * 0.2f;
        }
    }
}

typedef struct {
    float       *out;
    const float *in;
    float *const *aff;
    size_t       HW;
    int          C;
} DfblkJob;

#define DF_TILE 256   // pixels per pool task

static void dfblk_tile(void *ctx, size_t p0, size_t n) {
    const DfblkJob *j = ctx;
    const size_t C = (size_t)j->C;
    while (n > 0) {   // split at sample boundaries: each sample has its own affine parameters
        size_t b = p0 / j->HW, m = (b + 1) * j->HW - p0;
        if (m > n) m = n;
        dfblk_px(j->out + p0 * C, j->in + p0 * C, m, j->C, j->aff[0] + b * C, j->aff[1] + b * C,
                 j->aff[2] + b * C, j->aff[3] + b * C);
        p0 += m, n -= m;
    }
}

// The DFBLK `m` on (B, HW, C) `in` into `out` (may be `in`).
static void dfblk(Ctx *x, float *out, const float *in, const DfGanDfblk *m, int C, size_t HW) {
    if (!x->live || x->rc) return;
    dfgan_affine_params(x->aff[0], x->aff[1], &m->affine0, x->cond, x->B, x->hidden);
    dfgan_affine_params(x->aff[2], x->aff[3], &m->affine1, x->cond, x->B, x->hidden);
    DfblkJob j = {.out = out, .in = in, .aff = x->aff, .HW = HW, .C = C};
    pthreadpool_parallelize_1d_tile_1d(x->tp, dfblk_tile, &j, (size_t)x->B * HW, DF_TILE, 0);
}

static void conv(Ctx *x, const XConv *xc, float *out, const float *in, int R) {
    if (x->live && !x->rc) x->rc = xconv_run(xc, out, in, x->B, R, R, x->tp);
}

// G_Block k: in (B, R, R, in_c) -> out (B, 2R, 2R, out_c), LeakyReLU(0.2) at the end with
// `lrelu` (to_rgb's first layer). c1(fuse1(up(x))) = UP2 conv of fuse1(x); shortcut(up(x)) =
// up(c_sc(x)) (or up(x)), added as the last step.
static void g_block(Ctx *x, float *out, const float *in, int k, int R, int lrelu) {
    const DfGan *g = x->g;
    const DfGanBlock *m = &g->blocks[k];
    const size_t lo = (size_t)x->B * R * R, hi = 4 * lo;
    size_t mark = arena_mark(x->a);
    const size_t row = (size_t)2 * R * m->out_c;   // one row of h
    float *f = arena_floats(x->a, lo * m->in_c);
    float *h = arena_floats(x->a, hi * m->out_c + 2 * row) + row;   // guard rows around
    float *sc = m->in_c != m->out_c ? arena_floats(x->a, lo * m->out_c) : NULL;
    if (x->live && x->nbands > 1) {   // (batch 1) the zero rows above and below c2's input
        memset(h - row, 0, row * sizeof(float));
        memset(h + hi * m->out_c, 0, row * sizeof(float));
    }
    dfblk(x, f, in, &m->fuse1, m->in_c, (size_t)R * R);
    if (x->nbands > 1) bands(x, BAND_C1, k, h, f, R, R, m->in_c, m->out_c);
    else conv(x, &g->x.c1[k], h, f, R);
    dfblk(x, h, h, &m->fuse2, m->out_c, 4 * (size_t)R * R);
    if (x->nbands > 1) bands(x, BAND_C2, k, out, h, 2 * R, 2 * R, m->out_c, m->out_c);
    else conv(x, &g->x.c2[k], out, h, 2 * R);
    if (sc && x->nbands > 1) bands(x, BAND_SC, k, sc, in, R, R, m->in_c, m->out_c);
    else if (sc) conv(x, &g->x.c_sc[k], sc, in, R);
    if (x->live && !x->rc)
        nhwc_add_up2(out, (size_t)m->out_c, sc ? sc : in, (size_t)(sc ? m->out_c : m->in_c),
                     x->B, R, R, m->out_c, lrelu, x->tp);
    arena_reset_to(x->a, mark);
}

static void run(Ctx *x, const float *noise, const float *sent, DfGanOutputs *out) {
    const DfGan *g = x->g;
    const DfGanConfig *c = &g->cfg;
    const int B = x->B, nz = c->z_dim, cw = c->z_dim + c->cond_dim, C0 = 8 * c->nf;
    const int S = c->imsize, last = g->n_blocks - 1;
    float *cond = arena_floats(x->a, (size_t)B * cw);
    x->hidden = arena_floats(x->a, (size_t)B * C0);
    for (int i = 0; i < 4; i++) x->aff[i] = arena_floats(x->a, (size_t)B * C0);
    x->cond = cond;
    // the two largest activations of consecutive blocks, used in turn
    size_t big = (size_t)B * C0 * 16;
    for (int k = 0; k < g->n_blocks; k++) {
        size_t n = (size_t)B * g->blocks[k].out_c * (8 << k) * (8 << k);
        if (n > big) big = n;
    }
    float *buf[2] = {arena_floats(x->a, big), arena_floats(x->a, big)};
    float *fc = arena_floats(x->a, (size_t)B * C0 * 16);
    if (x->live) {
        linear_forward_per_sample(fc, noise, &g->fc, B);   // .view(B, 8nf, 4, 4)
        if (out->fc_out) memcpy(out->fc_out, fc, sizeof(float) * (size_t)B * C0 * 16);
        nchw_to_nhwc(buf[0], fc, B, C0, 16, (size_t)C0);
        for (int b = 0; b < B; b++) {   // cat(noise, c)
            memcpy(cond + (size_t)b * cw, noise + (size_t)b * nz, sizeof(float) * nz);
            memcpy(cond + (size_t)b * cw + nz, sent + (size_t)b * c->cond_dim,
                   sizeof(float) * c->cond_dim);
        }
    }
    // to_rgb's LeakyReLU goes into the last residual add unless that block's output is wanted
    const int fuse_lrelu = out->img && !out->block_out[last];
    int cur = 0;
    for (int k = 0; k < g->n_blocks; k++) {
        int R = 4 << k;
        g_block(x, buf[1 - cur], buf[cur], k, R, k == last && fuse_lrelu);
        cur = 1 - cur;
        if (x->live && !x->rc && out->block_out[k])
            nhwc_to_nchw(out->block_out[k], buf[cur], B, g->blocks[k].out_c, 4 * R * R,
                         (size_t)g->blocks[k].out_c);
    }
    // to_rgb: LeakyReLU(0.2) -> conv3x3 -> tanh, the image back to NCHW
    float *rgb = arena_floats(x->a, (size_t)B * S * S * c->ch_size);
    // to_rgb's 1x1 conv output goes into the other block buffer when it fits
    size_t nt = xtaps_scratch_floats(&g->x.to_rgb, B, S, S);
    float *taps = nt <= big ? buf[1 - cur] : arena_floats(x->a, nt);
    if (x->live && !x->rc && out->img) {
        if (!fuse_lrelu)
            leaky_relu_forward(buf[cur], buf[cur], (size_t)B * c->nf * S * S, 0.2f);
        if (x->nbands > 1) {
            bands(x, BAND_RGB, 0, taps, buf[cur], S, S, c->nf, g->x.to_rgb.taps.out_c);
            if (!x->rc) x->rc = xtaps_sums(&g->x.to_rgb, rgb, taps, B, S, S, x->tp);
        } else {
            x->rc = xtaps_run(&g->x.to_rgb, rgb, buf[cur], taps, B, S, S, x->tp);
        }
        if (!x->rc) nhwc_tanh_to_nchw(out->img, rgb, B, c->ch_size, S * S, (size_t)c->ch_size, x->tp);
    }
}

static size_t slice_bytes(const DfGan *g, int B) {
    Arena a;
    arena_init_measure(&a);
    Ctx x = {.g = g, .a = &a, .live = 0, .B = B};
    DfGanOutputs out;
    memset(&out, 0, sizeof out);
    run(&x, NULL, NULL, &out);
    return a.high + 64;
}

static int n_slices(const DfGan *g, int B) { return B < g->npeers + 1 ? B : g->npeers + 1; }

size_t dfgan_arena_bytes(const DfGan *g, int B) {
    int n = n_slices(g, B);
    size_t total = 0;
    for (int k = 0; k < n; k++) {
        int b0 = (int)((long)B * k / n), b1 = (int)((long)B * (k + 1) / n);
        total += slice_bytes(g, b1 - b0) + 64;
    }
    return total;
}

typedef struct {
    Ctx          x;
    Arena        arena;
    const float *noise, *sent;
    DfGanOutputs out;
} Slice;

static void slice_run(void *ctx, int k) {
    Slice *s = (Slice *)ctx + k;
    run(&s->x, s->noise, s->sent, &s->out);
}

int dfgan_forward(const DfGan *g, const float *noise, const float *sent_emb, DfGanOutputs *out,
                  int B, Arena *arena) {
    if (B < 1) return t2i_error(T2I_EARG, "DF-GAN NetG: batch %d", B);
    if (!noise || (!sent_emb && g->cfg.cond_dim > 0))
        return t2i_error(T2I_EARG, "DF-GAN NetG: missing input (noise or sent_emb)");
    enum { MAX_SLICES = 64 };
    int n = n_slices(g, B);
    if (n > MAX_SLICES) n = MAX_SLICES;
    Slice sl[MAX_SLICES];
    const DfGanConfig *c = &g->cfg;
    size_t mark = arena_mark(arena);
    // one image: every layer on the pool; a batch: contiguous slices on single-threaded peers
    for (int k = 0; k < n; k++) {
        int b0 = (int)((long)B * k / n), b1 = (int)((long)B * (k + 1) / n), Bs = b1 - b0;
        Slice *s = &sl[k];
        memset(s, 0, sizeof *s);
        size_t need = slice_bytes(g, Bs);
        s->arena.base = arena_alloc(arena, need);
        s->arena.cap = need;
        const DfGan *gk = k == 0 ? g : &g->peers[k - 1];
        s->x = (Ctx){.g = gk, .a = &s->arena, .live = 1, .B = Bs, .tp = n == 1 ? g->tp : NULL};
        // one image on threads: bands of rows on the instance and its peers (all packed)
        int nb = 1 + g->npeers <= DFGAN_MAX_BANDS ? 1 + g->npeers : 1;
        for (int p = 0; p < g->npeers && g->x.bands; p++)
            if (g->peers[p].x.bands != p + 2) nb = 1;   // every band packed, in order
        if (B == 1 && n == 1 && g->tp && g->x.bands) s->x.nbands = nb;
        s->noise = noise + (size_t)b0 * c->z_dim;
        s->sent = sent_emb ? sent_emb + (size_t)b0 * c->cond_dim : NULL;
        size_t S2 = (size_t)c->imsize * c->imsize;
        s->out.img = out->img ? out->img + (size_t)b0 * c->ch_size * S2 : NULL;
        s->out.fc_out = out->fc_out ? out->fc_out + (size_t)b0 * 8 * c->nf * 16 : NULL;
        for (int i = 0; i < g->n_blocks; i++) {
            size_t per = (size_t)g->blocks[i].out_c * (8 << i) * (8 << i);
            s->out.block_out[i] = out->block_out[i] ? out->block_out[i] + (size_t)b0 * per : NULL;
        }
    }
    xslices_run(n, slice_run, sl);
    arena_reset_to(arena, mark);
    for (int k = 0; k < n; k++)
        if (sl[k].x.rc) return sl[k].x.rc;
    return T2I_OK;
}

double dfgan_macs_per_image(const DfGanConfig *c) {
    int in[DFGAN_MAX_BLOCKS], out[DFGAN_MAX_BLOCKS];
    int n = dfgan_blocks(c, in, out);
    double cw = c->z_dim + c->cond_dim, m = (double)c->z_dim * c->nf * 8 * 16;
    for (int k = 0; k < n; k++) {
        double R2 = (double)(8 << k) * (8 << k), ci = in[k], co = out[k];
        m += co * ci * 9 * R2 + co * co * 9 * R2;
        if (in[k] != out[k]) m += co * ci * R2;
        m += 4 * (ci * cw + ci * ci) + 4 * (co * cw + co * co);   // 2 DFBLKs x 2 affines x 2 MLPs
    }
    m += (double)c->ch_size * c->nf * 9 * c->imsize * c->imsize;
    return m;
}
