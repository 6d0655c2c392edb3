// gstages.c -- see gstages.h. The shared stages of AttnGAN's and DM-GAN's G_NET (code/model.py
// of both repositories: CA_NET, INIT_STAGE_G, ResBlock, upBlock, GET_IMAGE_G).
#include "gstages.h"
#include "attngan_kernels.h"
#include "blas.h"
#include "t2i.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

int gstage_config_check(const GStageConfig *c, const char *what) {
    if (c->gf_dim < 1 || c->gf_dim > 4096 || c->z_dim < 0 || c->z_dim > 65536 ||
        c->condition_dim < 1 || c->condition_dim > 65536 || c->embedding_dim < 1 ||
        c->embedding_dim > 65536 || c->z_dim + c->condition_dim < 1)
        return t2i_error(T2I_EARG,
                         "%s config: sizes out of range (GF_DIM %d, Z_DIM %d, CONDITION_DIM "
                         "%d, EMBEDDING_DIM %d)",
                         what, c->gf_dim, c->z_dim, c->condition_dim, c->embedding_dim);
    if (c->branch_num < 1 || c->branch_num > 3)
        return t2i_error(T2I_EARG, "%s config: BRANCH_NUM %d not in 1..3", what, c->branch_num);
    if (c->branch_num > 1 && (c->r_num < 1 || c->r_num > GSTAGE_MAX_R_NUM))
        return t2i_error(T2I_EARG, "%s config: R_NUM %d not in 1..%d", what, c->r_num,
                         GSTAGE_MAX_R_NUM);
    return T2I_OK;
}

// ---- keys ---------------------------------------------------------------------------------

static void bind_conv3(BindList *bl, Conv2d *cv, int in, int out, const char *name) {
    int shape[4] = {out, in, 3, 3};
    *cv = (Conv2d){.in_c = in, .out_c = out, .kh = 3, .kw = 3, .sh = 1, .sw = 1, .ph = 1,
                   .pw = 1, .b = NULL};
    bind_param(bl, (float **)&cv->w, 4, shape, "%s", name);
}

void gstage_bind_convbn(BindList *bl, ConvBN *m, int in, int out, const char *conv,
                        const char *bn) {
    bind_conv3(bl, &m->conv, in, out, conv);
    m->bn = (BatchNorm){.C = out, .eps = 1e-5f};
    bind_batchnorm(bl, (float **)&m->bn.weight, (float **)&m->bn.bias, (float **)&m->bn.mean,
                   (float **)&m->bn.var, out, "%s", bn);
}

void gstage_keys(GStageParams *p, const GStageConfig *c, BindList *bl) {
    char a[128], b[128];
    const int gf = c->gf_dim, cond = c->condition_dim, emb = c->embedding_dim;
    // CA_NET: Linear(emb -> 4*cond) with bias
    int caw[2] = {4 * cond, emb}, cab[1] = {4 * cond};
    p->ca_fc = (Linear){.in_f = emb, .out_f = 4 * cond};
    bind_param(bl, (float **)&p->ca_fc.w, 2, caw, "ca_net.fc.weight");
    bind_param(bl, (float **)&p->ca_fc.b, 1, cab, "ca_net.fc.bias");
    // INIT_STAGE_G(ngf = 16*gf): Linear(cond+z -> ngf*4*4*2, no bias), BatchNorm1d, GLU
    int ngf = 16 * gf, F = ngf * 4 * 4 * 2;
    int fw[2] = {F, cond + c->z_dim};
    p->init_fc = (Linear){.in_f = cond + c->z_dim, .out_f = F, .b = NULL};
    bind_param(bl, (float **)&p->init_fc.w, 2, fw, "h_net1.fc.0.weight");
    p->init_bn = (BatchNorm){.C = F, .eps = 1e-5f};
    bind_batchnorm(bl, (float **)&p->init_bn.weight, (float **)&p->init_bn.bias,
                   (float **)&p->init_bn.mean, (float **)&p->init_bn.var, F, "h_net1.fc.1");
    for (int k = 0; k < 4; k++) {
        int in = ngf >> k;   // upBlock(in, in/2): conv in -> in, GLU -> in/2
        snprintf(a, sizeof a, "h_net1.upsample%d.1.weight", k + 1);
        snprintf(b, sizeof b, "h_net1.upsample%d.2", k + 1);
        gstage_bind_convbn(bl, &p->init_up[k], in, 2 * (in / 2), a, b);
    }
    for (int s = 0; s < c->branch_num; s++) {
        if (s > 0) {
            for (int r = 0; r < c->r_num; r++) {   // ResBlock(2gf)
                snprintf(a, sizeof a, "h_net%d.residual.%d.block.0.weight", s + 1, r);
                snprintf(b, sizeof b, "h_net%d.residual.%d.block.1", s + 1, r);
                gstage_bind_convbn(bl, &p->res[s - 1][r][0], 2 * gf, 4 * gf, a, b);
                snprintf(a, sizeof a, "h_net%d.residual.%d.block.3.weight", s + 1, r);
                snprintf(b, sizeof b, "h_net%d.residual.%d.block.4", s + 1, r);
                gstage_bind_convbn(bl, &p->res[s - 1][r][1], 2 * gf, 2 * gf, a, b);
            }
            snprintf(a, sizeof a, "h_net%d.upsample.1.weight", s + 1);   // upBlock(2gf, gf)
            snprintf(b, sizeof b, "h_net%d.upsample.2", s + 1);
            gstage_bind_convbn(bl, &p->up[s - 1], 2 * gf, 2 * gf, a, b);
        }
        snprintf(a, sizeof a, "img_net%d.img.0.weight", s + 1);
        bind_conv3(bl, &p->img[s], gf, 3, a);
    }
}

// ---- packing -------------------------------------------------------------------------------

size_t gstage_h_stride(const GStageConfig *c, int s) {
    return (size_t)(s + 1 < c->branch_num ? 2 : 1) * c->gf_dim;
}

// conv3x3 + eval BatchNorm folded: w * s, bias beta - mean * s, s = gamma / sqrt(var + eps).
static int pack_convbn(XConv *x, const ConvBN *m, XConvKind kind, size_t in_stride) {
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

static void unpack(GStagePacked *x) {
    for (int k = 0; k < 4; k++) xconv_free(&x->init_up[k]);
    for (int s = 0; s < 3; s++) xtaps_free(&x->img[s]);
    for (int s = 0; s < 2; s++) {
        xconv_free(&x->up[s]);
        for (int r = 0; r < GSTAGE_MAX_R_NUM; r++)
            xconv_free(&x->res[s][r][0]), xconv_free(&x->res[s][r][1]);
    }
}

static int pack(GStagePacked *x, const GStageParams *p, const GStageConfig *c) {
    size_t s2 = 2 * (size_t)c->gf_dim;
    int rc = T2I_OK;
    memset(x, 0, sizeof *x);
    // Winograd (xwino.h) for the residual convs and the upBlocks, except INIT_STAGE_G's first
    // two (to 8 and 16 px, 16 and 8 x gf_dim channels): little work, and with that many
    // channels most of the rounding Winograd would add to the images.
    for (int k = 0; k < 4 && !rc; k++)
        rc = pack_convbn(&x->init_up[k], &p->init_up[k], k >= 2 ? XCONV_UP2_FAST : XCONV_UP2, 0);
    for (int s = 0; s < c->branch_num && !rc; s++) {
        if (s > 0) {
            for (int r = 0; r < c->r_num && !rc; r++) {
                rc = pack_convbn(&x->res[s - 1][r][0], &p->res[s - 1][r][0], XCONV_FAST, s2);
                if (!rc)
                    rc = pack_convbn(&x->res[s - 1][r][1], &p->res[s - 1][r][1], XCONV_FAST, 0);
            }
            if (!rc) rc = pack_convbn(&x->up[s - 1], &p->up[s - 1], XCONV_UP2_FAST, s2);
        }
        if (!rc)
            rc = xtaps_create(&x->img[s], &p->img[s], gstage_h_stride(c, s));
    }
    if (rc) unpack(x);
    return rc;
}

static void free_peers(GStageExec *e) {
    for (int k = 0; k < e->npeers; k++) unpack(&e->peer[k]);
    t2i_free(e->peer);
    e->peer = NULL;
    e->npeers = 0;
}

void gstage_exec_free(GStageExec *e) {
    if (!e) return;
    free_peers(e);
    if (e->packed) unpack(&e->x);
    pthreadpool_destroy(e->tp);
    memset(e, 0, sizeof *e);
}

int gstage_exec_pack(GStageExec *e, const GStageParams *p, const GStageConfig *c,
                     const char *what) {
    gstage_exec_free(e);
    int rc = pack(&e->x, p, c);
    if (rc) return t2i_error_prefix(rc, "%s: packing the convolutions for XNNPACK", what);
    e->packed = 1;
    e->nth = 1;
    return T2I_OK;
}

int gstage_exec_threads(GStageExec *e, const GStageParams *p, const GStageConfig *c, int nth,
                        const char *what) {
    free_peers(e);
    pthreadpool_destroy(e->tp);
    e->nth = nth > 1 ? nth : 1;
    e->tp = xpool_create(e->nth);
    if (e->nth > 1 && !e->tp) {
        e->nth = 1;
        return t2i_error(T2I_ENOMEM, "%s: cannot start %d threads", what, nth);
    }
    if (e->nth > 1 && e->packed) {   // single-threaded operator sets for batch slices
        e->peer = t2i_calloc((size_t)e->nth - 1, sizeof *e->peer);
        if (!e->peer) return T2I_ENOMEM;
        for (int k = 0; k < e->nth - 1; k++) {
            int rc = pack(&e->peer[k], p, c);
            if (rc) {
                free_peers(e);
                return t2i_error_prefix(rc, "%s: packing the convolutions for XNNPACK", what);
            }
            e->npeers = k + 1;
        }
    }
    return T2I_OK;
}

static int n_slices(const GStageExec *e, int B) {
    int n = e->npeers + 1 < B ? e->npeers + 1 : B;
    return n > 64 ? 64 : n;
}

static size_t job_bytes(const GStageExec *e, const GStageJob *job, int B) {
    Arena a;
    arena_init_measure(&a);
    job->run(job->ctx, &e->x, NULL, 0, B, &a, 0);
    return a.high + 64;
}

size_t gstage_exec_arena_bytes(const GStageExec *e, int B, const GStageJob *job) {
    int n = n_slices(e, B);
    size_t total = 0;
    for (int k = 0; k < n; k++) {
        int b0 = (int)((long)B * k / n), b1 = (int)((long)B * (k + 1) / n);
        total += job_bytes(e, job, b1 - b0) + 64;
    }
    size_t one = job_bytes(e, job, B) + 64;   // the whole batch on the pool
    return one > total ? one : total;
}

typedef struct {
    const GStageExec *e;
    const GStageJob  *job;
    int               B, n;
    Arena             part[64];   // slice k's part of the caller's arena
    int               rc[64];
} Slices;

static void run_slice(void *arg, int k) {
    Slices *j = arg;
    int b0 = (int)((long)j->B * k / j->n), b1 = (int)((long)j->B * (k + 1) / j->n);
    j->rc[k] = j->job->run(j->job->ctx, k == 0 ? &j->e->x : &j->e->peer[k - 1], NULL, b0,
                           b1 - b0, &j->part[k], 1);
}

int gstage_exec_forward(const GStageExec *e, int B, int whole, const GStageJob *job,
                        Arena *arena) {
    if (!e->packed) return t2i_error(T2I_EARG, "G_NET: weights not packed for the NHWC path");
    size_t mark = arena_mark(arena);
    int saved = blas_get_threads(), rc = T2I_OK;
    if (saved != 1) blas_set_threads(1);
    int n = n_slices(e, B);
    if (n <= 1 || whole) {
        rc = job->run(job->ctx, &e->x, e->tp, 0, B, arena, 1);
    } else {
        Slices j = {.e = e, .job = job, .B = B, .n = n};
        for (int k = 0; k < n; k++) {
            int b0 = (int)((long)B * k / n), b1 = (int)((long)B * (k + 1) / n);
            size_t need = job_bytes(e, job, b1 - b0);
            j.part[k] = (Arena){.base = arena_alloc(arena, need), .cap = need};
        }
        xslices_run(n, run_slice, &j);
        for (int k = 0; k < n && !rc; k++) rc = j.rc[k];
    }
    if (saved != 1) blas_set_threads(saved);
    arena_reset_to(arena, mark);
    return rc;
}

// ---- forward ------------------------------------------------------------------------------

float *grun_floats(GRun *r, size_t n) { return arena_floats(r->a, n ? n : 1); }

float *gstage_ca_net(GRun *r, const GStageParams *p, const GStageConfig *c, const float *sent,
                     const float *eps, float *mu_out, float *logvar_out, float *c_code_out) {
    int B = r->B, cond = c->condition_dim;
    float *ca = grun_floats(r, (size_t)B * 4 * cond);
    float *glu = grun_floats(r, (size_t)B * 2 * cond);
    float *c_code = grun_floats(r, (size_t)B * cond);
    if (!r->live) return c_code;
    linear_forward_per_sample(ca, sent, &p->ca_fc, B);
    glu_forward(glu, ca, B, 2 * cond, 1);
    for (int b = 0; b < B; b++) {
        const float *mu = glu + (size_t)b * 2 * cond, *lv = mu + cond;
        for (int j = 0; j < cond; j++) {
            float std = expf(lv[j] * 0.5f);               // logvar.mul(0.5).exp_()
            float t = eps[(size_t)b * cond + j] * std;    // eps.mul(std)
            c_code[(size_t)b * cond + j] = t + mu[j];     // .add_(mu), rounded separately
        }
        if (mu_out) memcpy(mu_out + (size_t)b * cond, mu, sizeof(float) * cond);
        if (logvar_out) memcpy(logvar_out + (size_t)b * cond, lv, sizeof(float) * cond);
    }
    if (c_code_out) memcpy(c_code_out, c_code, sizeof(float) * (size_t)B * cond);
    return c_code;
}

void gstage_init_code(GRun *r, const GStageParams *p, const GStageConfig *c, float *code,
                      const float *c_code, const float *z) {
    int B = r->B, F = 16 * c->gf_dim * 32, in_f = c->condition_dim + c->z_dim;
    size_t mark = arena_mark(r->a);
    float *cz = grun_floats(r, (size_t)B * in_f);
    float *fc = grun_floats(r, (size_t)B * F);
    if (r->live) {
        for (int b = 0; b < B; b++) {   // torch.cat((c_code, z_code), 1)
            memcpy(cz + (size_t)b * in_f, c_code + (size_t)b * c->condition_dim,
                   sizeof(float) * c->condition_dim);
            if (c->z_dim)
                memcpy(cz + (size_t)b * in_f + c->condition_dim, z + (size_t)b * c->z_dim,
                       sizeof(float) * c->z_dim);
        }
        linear_forward_per_sample(fc, cz, &p->init_fc, B);
        gnet_bn_glu(code, fc, &p->init_bn, B, F / 2, 1);   // BatchNorm1d(F), GLU
    }
    arena_reset_to(r->a, mark);
}

// upBlock: UP2 conv (BN folded) into cv (B,2H,2W,OC), GLU into out (stride so): OC/2 channels.
static void up_block(GRun *r, float *out, size_t so, const float *in, const XConv *xc, int H,
                     int W) {
    size_t mark = arena_mark(r->a);
    size_t P = (size_t)r->B * 4 * H * W;
    float *cv = grun_floats(r, P * xc->out_c);
    if (r->live && !r->rc) {
        r->rc = xconv_run(xc, cv, in, r->B, H, W, r->tp);
        if (!r->rc) nhwc_glu(out, so, cv, (size_t)xc->out_c, P, xc->out_c / 2, r->tp);
    }
    arena_reset_to(r->a, mark);
}

// GET_IMAGE_G: conv3x3 (gf -> 3) on h, tanh, NCHW image out.
static void get_image(GRun *r, float *img, const float *h, const XTaps *xt, int R) {
    size_t mark = arena_mark(r->a);
    float *t = grun_floats(r, (size_t)r->B * R * R * 3);
    float *taps = grun_floats(r, xtaps_scratch_floats(xt, r->B, R, R));
    if (r->live && img && !r->rc) {
        r->rc = xtaps_run(xt, t, h, taps, r->B, R, R, r->tp);
        if (!r->rc) nhwc_tanh_to_nchw(img, t, r->B, 3, R * R, 3, r->tp);
    }
    arena_reset_to(r->a, mark);
}

// INIT_STAGE_G: fc -> (B, ngf, 4, 4) NCHW -> NHWC, four upBlocks to h (B, 64, 64, stride).
static void init_stage(GRun *r, const GStageParams *p, const GStageConfig *c, float *h,
                       size_t stride, const float *c_code, const float *z) {
    const int B = r->B, ngf = 16 * c->gf_dim;
    size_t mark = arena_mark(r->a);
    size_t big = 0;   // largest upBlock output of the first three
    for (int k = 0; k < 3; k++) {
        size_t q = (size_t)B * (ngf >> (k + 1)) * (8 << k) * (8 << k);
        if (q > big) big = q;
    }
    float *code = grun_floats(r, (size_t)B * ngf * 16);
    float *b0 = grun_floats(r, big > (size_t)B * ngf * 16 ? big : (size_t)B * ngf * 16);
    float *b1 = grun_floats(r, big);
    gstage_init_code(r, p, c, code, c_code, z);
    if (r->live) nchw_to_nhwc(b0, code, B, ngf, 16, (size_t)ngf);
    float *cur = b0, *nxt = b1;
    for (int k = 0; k < 4; k++) {
        int res = 4 << k, last = k == 3;
        up_block(r, last ? h : nxt, last ? stride : (size_t)(ngf >> (k + 1)), cur,
                 &r->x->init_up[k], res, res);
        float *t = cur;
        cur = nxt;
        nxt = t;
    }
    arena_reset_to(r->a, mark);
}

// R_NUM ResBlocks on h (B, R, R, 2gf): h += BN(conv(GLU(BN(conv(h))))), BN folded.
static void res_blocks(GRun *r, const GStageConfig *c, int s, float *h, int R) {
    const size_t P = (size_t)r->B * R * R, s2 = 2 * (size_t)c->gf_dim;
    size_t mark = arena_mark(r->a);
    float *t1 = grun_floats(r, P * 2 * s2), *t2 = grun_floats(r, P * s2);
    float *t3 = grun_floats(r, P * s2);
    for (int k = 0; r->live && k < c->r_num && !r->rc; k++) {
        r->rc = xconv_run(&r->x->res[s - 1][k][0], t1, h, r->B, R, R, r->tp);
        if (r->rc) break;
        nhwc_glu(t2, s2, t1, 2 * s2, P, (int)s2, r->tp);
        r->rc = xconv_run(&r->x->res[s - 1][k][1], t3, t2, r->B, R, R, r->tp);
        if (!r->rc) nhwc_add(h, s2, t3, s2, P, (int)s2, r->tp);
    }
    arena_reset_to(r->a, mark);
}

GStageInputs gstage_inputs_from(const GStageInputs *in, const GStageConfig *c, int b0, int T) {
    GStageInputs s = *in;
    size_t E = (size_t)c->embedding_dim;
    s.z = in->z ? in->z + (size_t)b0 * c->z_dim : NULL;
    s.sent_emb = in->sent_emb ? in->sent_emb + (size_t)b0 * E : NULL;
    s.words_emb = in->words_emb ? in->words_emb + (size_t)b0 * E * T : NULL;
    s.mask = in->mask ? in->mask + (size_t)b0 * T : NULL;
    s.eps = in->eps ? in->eps + (size_t)b0 * c->condition_dim : NULL;
    return s;
}

GStageOutputs gstage_outputs_from(const GStageOutputs *out, const GStageConfig *c, int b0,
                                  int T) {
    GStageOutputs s;
    size_t cond = (size_t)c->condition_dim;
    for (int st = 0; st < 3; st++)
        s.img[st] = out->img[st] ? out->img[st] + (size_t)b0 * 3 * (64 << st) * (64 << st) : NULL;
    for (int st = 0; st < 2; st++)
        s.att[st] = out->att[st] ? out->att[st] + (size_t)b0 * T * (64 << st) * (64 << st) : NULL;
    s.mu = out->mu ? out->mu + b0 * cond : NULL;
    s.logvar = out->logvar ? out->logvar + b0 * cond : NULL;
    s.c_code = out->c_code ? out->c_code + b0 * cond : NULL;
    return s;
}

void gstage_forward(GRun *r, const GStageParams *p, const GStageConfig *c,
                    const GStageInputs *in, const GStageOutputs *io, GStageFill fill,
                    void *fill_arg) {
    const int B = r->B;
    float *c_code = gstage_ca_net(r, p, c, in->sent_emb, in->eps, io->mu, io->logvar,
                                  io->c_code);
    float *h = grun_floats(r, (size_t)B * 64 * 64 * gstage_h_stride(c, 0));
    init_stage(r, p, c, h, gstage_h_stride(c, 0), c_code, in->z);
    get_image(r, io->img[0], h, &r->x->img[0], 64);
    for (int s = 1; s < c->branch_num; s++) {
        const int R = 32 << s;
        float *hn = grun_floats(r, (size_t)B * 4 * R * R * gstage_h_stride(c, s));
        fill(r, fill_arg, s, h, R);
        res_blocks(r, c, s, h, R);
        up_block(r, hn, gstage_h_stride(c, s), h, &r->x->up[s - 1], R, R);
        get_image(r, io->img[s], hn, &r->x->img[s], 2 * R);
        h = hn;
    }
}
