// dfgan.c -- see dfgan.h. NetG of DF-GAN (models/GAN.py), one function per PyTorch module.
#include "dfgan.h"
#include "t2i.h"

#include <assert.h>
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

int dfgan_load_sd(DfGan *g, const DfGanConfig *cfg, StateDict *sd, const char *what) {
    memset(g, 0, sizeof *g);
    g->sd = *sd;
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
    if (rc) dfgan_free(g);
    return rc;
}

void dfgan_free(DfGan *g) {
    if (!g) return;
    sd_free(&g->sd);
    memset(g, 0, sizeof *g);
}

// ---- forward ------------------------------------------------------------------------------
// Buffers come from the arena in a fixed order; with a measuring arena the same code runs with
// the arithmetic skipped (live == 0), which is how dfgan_arena_bytes sizes the arena.

typedef struct {
    const DfGan *g;
    Arena       *a;
    int          live;
    int          B;
    const float *cond;      // (B, nz + cond_dim)
    float       *scratch;   // im2col of the largest conv, one image
    float       *hidden, *gamma, *beta;   // (B, C) each, C <= 8nf
} Ctx;

// Affine.forward's parameters: gamma = fc_gamma(cond), beta = fc_beta(cond), each
// linear1 -> ReLU (in place) -> linear2.
void dfgan_affine_params(float *gamma, float *beta, const DfGanAffine *m, const float *cond,
                         int B, float *hidden) {
    const DfGanMlp *mlp[2] = {&m->fc_gamma, &m->fc_beta};
    float *dst[2] = {gamma, beta};
    for (int j = 0; j < 2; j++) {
        linear_forward(hidden, cond, &mlp[j]->linear1, B);
        relu_forward(hidden, hidden, (size_t)B * mlp[j]->linear1.out_f);
        linear_forward(dst[j], hidden, &mlp[j]->linear2, B);
    }
}

// Affine then LeakyReLU(0.2), in place on x (B, C, HW): y = gamma * x + beta per channel.
static void affine_lrelu(Ctx *x, float *h, const DfGanAffine *m, int C, size_t HW) {
    if (!x->live) return;
    dfgan_affine_params(x->gamma, x->beta, m, x->cond, x->B, x->hidden);
    for (int b = 0; b < x->B; b++)
        for (int c = 0; c < C; c++) {
            float gm = x->gamma[(size_t)b * C + c], bt = x->beta[(size_t)b * C + c];
            float *p = h + ((size_t)b * C + c) * HW;
            for (size_t i = 0; i < HW; i++) {
                float y = gm * p[i];   // weight * x ...
                y = y + bt;            // ... + bias, two roundings as in PyTorch
                p[i] = y > 0.0f ? y : y * 0.2f;
            }
        }
}

// DFBLK: h = LeakyReLU(affine1(LeakyReLU(affine0(h)))), in place.
static void dfblk(Ctx *x, float *h, const DfGanDfblk *m, int C, size_t HW) {
    affine_lrelu(x, h, &m->affine0, C, HW);
    affine_lrelu(x, h, &m->affine1, C, HW);
}

// G_Block: x (B, in, R, R) -> out (B, out, 2R, 2R).
static void g_block(Ctx *x, float *out, const float *in, const DfGanBlock *m, int R) {
    int B = x->B, R2 = 2 * R;
    size_t HW = (size_t)R2 * R2;
    size_t mark = arena_mark(x->a);
    float *up = arena_floats(x->a, (size_t)B * m->in_c * HW);
    float *h = arena_floats(x->a, (size_t)B * m->in_c * HW);
    float *h1 = arena_floats(x->a, (size_t)B * m->out_c * HW);
    if (x->live) {
        upsample_nearest2x_forward(up, in, B, m->in_c, R, R);   // F.interpolate(x, 2)
        memcpy(h, up, sizeof(float) * (size_t)B * m->in_c * HW);
    }
    // residual: c2(fuse2(c1(fuse1(x))))
    dfblk(x, h, &m->fuse1, m->in_c, HW);
    if (x->live) conv2d_forward(h1, h, &m->c1, B, R2, R2, x->scratch);
    dfblk(x, h1, &m->fuse2, m->out_c, HW);
    if (x->live) {
        conv2d_forward(out, h1, &m->c2, B, R2, R2, x->scratch);
        // shortcut(x) + residual
        const float *sc = up;
        if (m->in_c != m->out_c) {
            conv2d_forward(h1, up, &m->c_sc, B, R2, R2, x->scratch);
            sc = h1;
        }
        size_t n = (size_t)B * m->out_c * HW;
        for (size_t i = 0; i < n; i++) out[i] = sc[i] + out[i];
    }
    arena_reset_to(x->a, mark);
}

static size_t scratch_floats(const DfGan *g) {
    size_t m = conv2d_scratch_floats(&g->to_rgb, g->cfg.imsize, g->cfg.imsize);
    for (int k = 0; k < g->n_blocks; k++) {
        const DfGanBlock *b = &g->blocks[k];
        int R2 = 8 << k;
        size_t s[3] = {conv2d_scratch_floats(&b->c1, R2, R2), conv2d_scratch_floats(&b->c2, R2, R2),
                       b->in_c != b->out_c ? conv2d_scratch_floats(&b->c_sc, R2, R2) : 0};
        for (int i = 0; i < 3; i++)
            if (s[i] > m) m = s[i];
    }
    return m;
}

static void run(Ctx *x, const float *noise, const float *sent, DfGanOutputs *out) {
    const DfGan *g = x->g;
    const DfGanConfig *c = &g->cfg;
    int B = x->B, nz = c->z_dim, cw = c->z_dim + c->cond_dim, C0 = 8 * c->nf;
    x->scratch = arena_floats(x->a, scratch_floats(g) + 1);
    float *cond = arena_floats(x->a, (size_t)B * cw);
    x->hidden = arena_floats(x->a, (size_t)B * C0);
    x->gamma = arena_floats(x->a, (size_t)B * C0);
    x->beta = arena_floats(x->a, (size_t)B * C0);
    x->cond = cond;
    // the two largest activations of consecutive blocks, used in turn
    size_t big = (size_t)B * C0 * 16;
    for (int k = 0; k < g->n_blocks; k++) {
        size_t n = (size_t)B * g->blocks[k].out_c * (8 << k) * (8 << k);
        if (n > big) big = n;
    }
    float *buf[2] = {arena_floats(x->a, big), arena_floats(x->a, big)};
    if (x->live) {
        linear_forward(buf[0], noise, &g->fc, B);   // .view(B, 8nf, 4, 4)
        if (out->fc_out) memcpy(out->fc_out, buf[0], sizeof(float) * (size_t)B * C0 * 16);
        for (int b = 0; b < B; b++) {               // cat(noise, c)
            memcpy(cond + (size_t)b * cw, noise + (size_t)b * nz, sizeof(float) * nz);
            memcpy(cond + (size_t)b * cw + nz, sent + (size_t)b * c->cond_dim,
                   sizeof(float) * c->cond_dim);
        }
    }
    int cur = 0;
    for (int k = 0; k < g->n_blocks; k++) {
        int R = 4 << k;
        g_block(x, buf[1 - cur], buf[cur], &g->blocks[k], R);
        cur = 1 - cur;
        if (x->live && out->block_out[k])
            memcpy(out->block_out[k], buf[cur],
                   sizeof(float) * (size_t)B * g->blocks[k].out_c * 4 * R * R);
    }
    if (x->live && out->img) {
        // to_rgb: LeakyReLU(0.2, inplace) -> conv3x3 -> tanh
        size_t n = (size_t)B * c->nf * c->imsize * c->imsize;
        leaky_relu_forward(buf[cur], buf[cur], n, 0.2f);
        conv2d_forward(out->img, buf[cur], &g->to_rgb, B, c->imsize, c->imsize, x->scratch);
        tanh_forward(out->img, out->img, (size_t)B * c->ch_size * c->imsize * c->imsize);
    }
}

size_t dfgan_arena_bytes(const DfGan *g, int B) {
    Arena a;
    arena_init_measure(&a);
    Ctx x = {.g = g, .a = &a, .live = 0, .B = B};
    DfGanOutputs out;
    memset(&out, 0, sizeof out);
    run(&x, NULL, NULL, &out);
    return a.high + 64;
}

int dfgan_forward(const DfGan *g, const float *noise, const float *sent_emb, DfGanOutputs *out,
                  int B, Arena *arena) {
    if (B < 1) return t2i_error(T2I_EARG, "DF-GAN NetG: batch %d", B);
    if (!noise || (!sent_emb && g->cfg.cond_dim > 0))
        return t2i_error(T2I_EARG, "DF-GAN NetG: missing input (noise or sent_emb)");
    size_t mark = arena_mark(arena);
    Ctx x = {.g = g, .a = arena, .live = 1, .B = B};
    run(&x, noise, sent_emb, out);
    arena_reset_to(arena, mark);
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
