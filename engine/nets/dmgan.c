// dmgan.c -- see dmgan.h. DM-GAN's G_NET (code/model.py), one function per PyTorch module,
// on the plain NCHW kernels of ops.h.
#include "dmgan.h"
#include "blas.h"
#include "t2i.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

DmGanConfig dmgan_config_bird(void) {
    return (DmGanConfig){.gf_dim = 64, .z_dim = 100, .condition_dim = 100, .embedding_dim = 256,
                         .r_num = 2, .branch_num = 3};
}

DmGanConfig dmgan_config_coco(void) {
    DmGanConfig c = dmgan_config_bird();
    c.r_num = 3;
    return c;
}

int dmgan_config_check(const DmGanConfig *c) {
    if (c->gf_dim < 1 || c->gf_dim > 4096 || c->z_dim < 0 || c->z_dim > 65536 ||
        c->condition_dim < 1 || c->condition_dim > 65536 || c->embedding_dim < 1 ||
        c->embedding_dim > 65536)
        return t2i_error(T2I_EARG, "DM-GAN G_NET config: sizes out of range (GF_DIM %d, Z_DIM %d, "
                                   "CONDITION_DIM %d, EMBEDDING_DIM %d)",
                         c->gf_dim, c->z_dim, c->condition_dim, c->embedding_dim);
    if (c->branch_num < 1 || c->branch_num > 3)
        return t2i_error(T2I_EARG, "DM-GAN G_NET config: BRANCH_NUM %d not in 1..3", c->branch_num);
    if (c->branch_num > 1 && (c->r_num < 1 || c->r_num > DMGAN_MAX_R_NUM))
        return t2i_error(T2I_EARG, "DM-GAN G_NET config: R_NUM %d not in 1..%d", c->r_num,
                         DMGAN_MAX_R_NUM);
    return T2I_OK;
}

// ---- keys ---------------------------------------------------------------------------------

// Conv2d(in -> out, k x k, pad k/2) at `prefix`.weight (+ .bias when `bias`). A Conv1d(k=1)
// is the same with ndim 3: weight (out, in, 1).
static void bind_conv(BindList *bl, Conv2d *m, int in, int out, int k, int ndim, int bias,
                      const char *prefix) {
    int w[4] = {out, in, k, k}, b[1] = {out};
    *m = (Conv2d){.in_c = in, .out_c = out, .kh = k, .kw = k, .sh = 1, .sw = 1, .ph = k / 2,
                  .pw = k / 2};
    bind_param(bl, (float **)&m->w, ndim, w, "%s.weight", prefix);
    if (bias) bind_param(bl, (float **)&m->b, 1, b, "%s.bias", prefix);
}

// conv3x3(in -> out, no bias) at `conv` + BatchNorm2d(out) at `bn`.
static void bind_conv_bn(BindList *bl, DmGanConvBN *m, int in, int out, const char *conv,
                         const char *bn) {
    bind_conv(bl, &m->conv, in, out, 3, 4, 0, conv);
    m->bn = (BatchNorm){.C = out, .eps = 1e-5f};
    bind_batchnorm(bl, (float **)&m->bn.weight, (float **)&m->bn.bias, (float **)&m->bn.mean,
                   (float **)&m->bn.var, out, "%s", bn);
}

static void bind_linear(BindList *bl, Linear *m, int in, int out, int bias, const char *name) {
    int w[2] = {out, in}, b[1] = {out};
    *m = (Linear){.in_f = in, .out_f = out};
    bind_param(bl, (float **)&m->w, 2, w, "%s.weight", name);
    if (bias) bind_param(bl, (float **)&m->b, 1, b, "%s.bias", name);
}

// NEXT_STAGE_G(ngf = GF, nef = EMB) at h_net<n>.
static void bind_next_stage(BindList *bl, DmGanNextStage *m, const DmGanConfig *c, int n) {
    int gf = c->gf_dim, emb = c->embedding_dim;
    char a[96], b[96];
    snprintf(a, sizeof a, "h_net%d.A", n);
    bind_linear(bl, &m->A, emb, 1, 0, a);
    snprintf(a, sizeof a, "h_net%d.B", n);
    bind_linear(bl, &m->Bg, gf, 1, 0, a);
    snprintf(a, sizeof a, "h_net%d.M_r.0", n);
    bind_conv(bl, &m->M_r, gf, 2 * gf, 1, 3, 1, a);
    snprintf(a, sizeof a, "h_net%d.M_w.0", n);
    bind_conv(bl, &m->M_w, emb, 2 * gf, 1, 3, 1, a);
    snprintf(a, sizeof a, "h_net%d.key.0", n);
    bind_conv(bl, &m->key, 2 * gf, gf, 1, 3, 1, a);
    snprintf(a, sizeof a, "h_net%d.value.0", n);
    bind_conv(bl, &m->value, 2 * gf, gf, 1, 3, 1, a);
    snprintf(a, sizeof a, "h_net%d.response_gate.0", n);
    bind_conv(bl, &m->response_gate, 2 * gf, 1, 1, 4, 1, a);
    for (int r = 0; r < c->r_num; r++) {   // ResBlock(2GF)
        snprintf(a, sizeof a, "h_net%d.residual.%d.block.0", n, r);
        snprintf(b, sizeof b, "h_net%d.residual.%d.block.1", n, r);
        bind_conv_bn(bl, &m->res[r][0], 2 * gf, 4 * gf, a, b);
        snprintf(a, sizeof a, "h_net%d.residual.%d.block.3", n, r);
        snprintf(b, sizeof b, "h_net%d.residual.%d.block.4", n, r);
        bind_conv_bn(bl, &m->res[r][1], 2 * gf, 2 * gf, a, b);
    }
    snprintf(a, sizeof a, "h_net%d.upsample.1", n);   // upBlock(2GF, GF)
    snprintf(b, sizeof b, "h_net%d.upsample.2", n);
    bind_conv_bn(bl, &m->up, 2 * gf, 2 * gf, a, b);
}

void dmgan_keys(DmGan *g, const DmGanConfig *c, BindList *bl) {
    char a[96], b[96];
    int gf = c->gf_dim, cond = c->condition_dim, ngf = 16 * gf, F = ngf * 4 * 4 * 2;
    g->cfg = *c;
    bind_linear(bl, &g->ca_fc, c->embedding_dim, 4 * cond, 1, "ca_net.fc");
    // INIT_STAGE_G(ngf = 16 GF): Linear(cond + z -> ngf*4*4*2), BatchNorm1d, GLU, 4 upBlocks
    bind_linear(bl, &g->init_fc, cond + c->z_dim, F, 0, "h_net1.fc.0");
    g->init_bn = (BatchNorm){.C = F, .eps = 1e-5f};
    bind_batchnorm(bl, (float **)&g->init_bn.weight, (float **)&g->init_bn.bias,
                   (float **)&g->init_bn.mean, (float **)&g->init_bn.var, F, "h_net1.fc.1");
    for (int k = 0; k < 4; k++) {
        int in = ngf >> k;   // upBlock(in, in/2): conv in -> in, GLU -> in/2
        snprintf(a, sizeof a, "h_net1.upsample%d.1", k + 1);
        snprintf(b, sizeof b, "h_net1.upsample%d.2", k + 1);
        bind_conv_bn(bl, &g->init_up[k], in, 2 * (in / 2), a, b);
    }
    for (int s = 0; s < c->branch_num; s++) {
        if (s > 0) bind_next_stage(bl, &g->next[s - 1], c, s + 1);
        snprintf(a, sizeof a, "img_net%d.img.0", s + 1);
        bind_conv(bl, &g->img[s], gf, 3, 3, 4, 0, a);
    }
}

int dmgan_load_sd(DmGan *g, const DmGanConfig *cfg, StateDict *sd, const char *what) {
    memset(g, 0, sizeof *g);
    g->sd = *sd;
    memset(sd, 0, sizeof *sd);
    int rc = dmgan_config_check(cfg);
    if (rc) {
        dmgan_free(g);
        return rc;
    }
    BindList bl;
    bindlist_init(&bl);
    dmgan_keys(g, cfg, &bl);
    rc = sd_bind(&g->sd, &bl, NULL, what ? what : "DM-GAN G_NET");
    bindlist_free(&bl);
    if (rc) dmgan_free(g);
    return rc;
}

void dmgan_free(DmGan *g) {
    if (!g) return;
    sd_free(&g->sd);
    memset(g, 0, sizeof *g);
}

// ---- forward ------------------------------------------------------------------------------
// Buffers come from the arena in a fixed order; with a measuring arena the same code runs with
// the arithmetic skipped (live == 0): that is how dmgan_arena_bytes sizes the arena.

typedef struct {
    const DmGan       *g;
    Arena             *a;
    int                live;
    int                B, T;
    const DmGanInputs *in;
    float             *scratch;   // im2col of the largest conv, one image
} Ctx;

static float *fl(Ctx *x, size_t n) { return arena_floats(x->a, n ? n : 1); }

// upBlock: nearest x2 -> conv3x3 -> BatchNorm -> GLU. in (B, C, H, W) -> out (B, OC/2, 2H, 2W).
static void up_block(Ctx *x, float *out, const float *in, const DmGanConvBN *m, int H, int W) {
    int B = x->B, OC = m->conv.out_c;
    size_t HW4 = (size_t)4 * H * W, mark = arena_mark(x->a);
    float *up = fl(x, (size_t)B * m->conv.in_c * HW4);
    float *cv = fl(x, (size_t)B * OC * HW4);
    if (x->live) {
        upsample_nearest2x_forward(up, in, B, m->conv.in_c, H, W);
        conv2d_forward(cv, up, &m->conv, B, 2 * H, 2 * W, x->scratch);
        batchnorm_forward(cv, cv, &m->bn, B, (int)HW4);
        glu_forward(out, cv, B, OC / 2, (int)HW4);
    }
    arena_reset_to(x->a, mark);
}

// ResBlock: x += BN(conv(GLU(BN(conv(x))))), in place on x (B, C, H, W).
static void res_block(Ctx *x, float *h, const DmGanConvBN m[2], int H, int W) {
    int B = x->B, C = m[1].conv.out_c;
    size_t HW = (size_t)H * W, n = (size_t)B * C * HW, mark = arena_mark(x->a);
    float *t1 = fl(x, 2 * n), *t2 = fl(x, n), *t3 = fl(x, n);
    if (x->live) {
        conv2d_forward(t1, h, &m[0].conv, B, H, W, x->scratch);
        batchnorm_forward(t1, t1, &m[0].bn, B, (int)HW);
        glu_forward(t2, t1, B, C, (int)HW);
        conv2d_forward(t3, t2, &m[1].conv, B, H, W, x->scratch);
        batchnorm_forward(t3, t3, &m[1].bn, B, (int)HW);
        for (size_t i = 0; i < n; i++) h[i] += t3[i];   // out += residual
    }
    arena_reset_to(x->a, mark);
}

// GET_IMAGE_G: conv3x3 (GF -> 3) -> tanh.
static void get_image(Ctx *x, float *img, const float *h, const Conv2d *m, int H, int W) {
    if (!x->live || !img) return;
    conv2d_forward(img, h, m, x->B, H, W, x->scratch);
    tanh_forward(img, img, (size_t)x->B * 3 * H * W);
}

// CA_NET: c_code (B, cond) = eps * exp(0.5 * logvar) + mu with (mu, logvar) = GLU(fc(sent)).
static void ca_net(Ctx *x, float *c_code, DmGanOutputs *out) {
    const DmGan *g = x->g;
    int B = x->B, cond = g->cfg.condition_dim;
    float *fc = fl(x, (size_t)B * 4 * cond), *glu = fl(x, (size_t)B * 2 * cond);
    if (!x->live) return;
    linear_forward(fc, x->in->sent_emb, &g->ca_fc, B);
    glu_forward(glu, fc, B, 2 * cond, 1);
    for (int b = 0; b < B; b++) {
        const float *mu = glu + (size_t)b * 2 * cond, *lv = mu + cond;
        for (int j = 0; j < cond; j++) {
            float std = expf(lv[j] * 0.5f);                     // logvar.mul(0.5).exp_()
            float t = x->in->eps[(size_t)b * cond + j] * std;   // eps.mul(std)
            c_code[(size_t)b * cond + j] = t + mu[j];           // .add_(mu)
        }
        if (out->mu) memcpy(out->mu + (size_t)b * cond, mu, sizeof(float) * cond);
        if (out->logvar) memcpy(out->logvar + (size_t)b * cond, lv, sizeof(float) * cond);
    }
    if (out->c_code) memcpy(out->c_code, c_code, sizeof(float) * (size_t)B * cond);
}

// INIT_STAGE_G: h (B, GF, 64, 64) from cat(c_code, z).
static void init_stage(Ctx *x, float *h, const float *c_code) {
    const DmGan *g = x->g;
    const DmGanConfig *c = &g->cfg;
    int B = x->B, ngf = 16 * c->gf_dim, F = ngf * 32, in_f = c->condition_dim + c->z_dim;
    size_t mark = arena_mark(x->a);
    float *cz = fl(x, (size_t)B * in_f), *fc = fl(x, (size_t)B * F);
    size_t big = (size_t)B * F / 2;   // ping-pong buffers for the upBlock outputs
    for (int k = 0; k < 4; k++) {
        size_t n = (size_t)B * (ngf >> (k + 1)) * (8 << k) * (8 << k);
        if (n > big) big = n;
    }
    float *buf[2] = {fl(x, big), fl(x, big)};
    if (x->live) {
        for (int b = 0; b < B; b++) {   // torch.cat((c_code, z_code), 1)
            memcpy(cz + (size_t)b * in_f, c_code + (size_t)b * c->condition_dim,
                   sizeof(float) * c->condition_dim);
            memcpy(cz + (size_t)b * in_f + c->condition_dim, x->in->z + (size_t)b * c->z_dim,
                   sizeof(float) * c->z_dim);
        }
        linear_forward(fc, cz, &g->init_fc, B);
        batchnorm_forward(fc, fc, &g->init_bn, B, 1);   // BatchNorm1d(F)
        glu_forward(buf[0], fc, B, F / 2, 1);           // -> view (B, ngf, 4, 4)
    }
    int cur = 0;
    for (int k = 0; k < 4; k++) {
        int res = 4 << k;
        float *dst = k == 3 ? h : buf[1 - cur];
        up_block(x, dst, buf[cur], &g->init_up[k], res, res);
        cur = 1 - cur;
    }
    arena_reset_to(x->a, mark);
}

// Conv1d(k=1) + bias then ReLU over one sample: in (C, n) -> out (OC, n).
static void conv1x1_relu(float *out, const float *in, const Conv2d *m, int n) {
    conv2d_forward(out, in, m, 1, 1, n, NULL);
    relu_forward(out, out, (size_t)m->out_c * n);
}

// Memory writing, key addressing and value reading, key response of one NEXT_STAGE_G on
// h (B, GF, R, R): h is replaced by h' = h*(1-r) + r*o. att (B, T, R*R) or NULL.
static void memory_stage(Ctx *x, const DmGanNextStage *m, float *h, float *att, int R,
                         DmGanMemoryTrace *tr) {
    const DmGanConfig *c = &x->g->cfg;
    const DmGanInputs *in = x->in;
    int B = x->B, T = x->T, gf = c->gf_dim, emb = c->embedding_dim, Q = R * R;
    size_t mark = arena_mark(x->a);
    float *havg = fl(x, (size_t)gf);          // h_code_avg (GF)
    float *avg = fl(x, (size_t)gf * T);       // h_code_avg.repeat(1, 1, T) (GF, T)
    float *wT = fl(x, (size_t)T * emb);       // word_embs^T (T, EMB)
    float *gate = fl(x, (size_t)T);           // writing gate (1, T)
    float *mw = fl(x, (size_t)2 * gf * T), *mr = fl(x, (size_t)2 * gf * T);
    float *mem = fl(x, (size_t)2 * gf * T);   // memory (2GF, T)
    float *key = fl(x, (size_t)gf * T), *val = fl(x, (size_t)gf * T);
    float *score = fl(x, (size_t)Q * T);      // addressing weights (Q, T)
    float *o = fl(x, (size_t)gf * Q);         // response, memory_out (GF, Q)
    float *ho = fl(x, (size_t)2 * gf * Q);    // cat(h, o) (2GF, Q)
    float *r = fl(x, (size_t)Q);              // response gate (1, Q)
    for (int b = 0; x->live && b < B; b++) {
        float *hb = h + (size_t)b * gf * Q;
        const float *words = in->words_emb + (size_t)b * emb * T;
        // ---- memory writing
        for (int ch = 0; ch < gf; ch++) {   // AvgPool2d(kernel_size=R): mean over the map
            double s = 0;
            for (int q = 0; q < Q; q++) s += hb[(size_t)ch * Q + q];
            havg[ch] = (float)(s / Q);
            for (int t = 0; t < T; t++) avg[(size_t)ch * T + t] = havg[ch];
        }
        for (int e = 0; e < emb; e++)
            for (int t = 0; t < T; t++) wT[(size_t)t * emb + e] = words[(size_t)e * T + t];
        float gate2;
        linear_forward(gate, wT, &m->A, T);       // gate1 = A(word_embs^T)^T  (1, T)
        linear_forward(&gate2, havg, &m->Bg, 1);  // gate2 = B(h_code_avg^T), repeated over T
        for (int t = 0; t < T; t++) gate[t] = gate[t] + gate2;
        sigmoid_forward(gate, gate, (size_t)T);
        conv1x1_relu(mw, words, &m->M_w, T);      // M_w(word_embs)
        conv1x1_relu(mr, avg, &m->M_r, T);        // M_r(h_code_avg)
        for (int i = 0; i < 2 * gf; i++)
            for (int t = 0; t < T; t++) {
                size_t k = (size_t)i * T + t;
                float a = mw[k] * gate[t], bb = mr[k] * (1.0f - gate[t]);
                mem[k] = a + bb;
            }
        // ---- key addressing and value reading (Memory.forward)
        conv1x1_relu(key, mem, &m->key, T);
        conv1x1_relu(val, mem, &m->value, T);
        sgemm(1, 0, Q, T, gf, 1.0f, hb, Q, key, T, 0.0f, score, T);   // h^T . key  (Q, T)
        if (in->mask) {
            // Rows are batch-major (r = b*Q + q); the original masks row r with mask[r % B].
            for (int q = 0; q < Q; q++) {
                int mb = in->mask_mode == ATT_MASK_BATCH_COUPLED
                             ? (int)(((int64_t)b * Q + q) % B) : b;
                const uint8_t *mk = in->mask + (size_t)mb * T;
                for (int t = 0; t < T; t++)
                    if (mk[t]) score[(size_t)q * T + t] = -INFINITY;
            }
        }
        softmax_rows(score, score, Q, T);
        if (att)
            for (int q = 0; q < Q; q++)
                for (int t = 0; t < T; t++)
                    att[((size_t)b * T + t) * Q + q] = score[(size_t)q * T + t];
        sgemm(0, 1, gf, Q, T, 1.0f, val, T, score, T, 0.0f, o, Q);    // value . weight^T
        // ---- key response
        memcpy(ho, hb, sizeof(float) * (size_t)gf * Q);
        memcpy(ho + (size_t)gf * Q, o, sizeof(float) * (size_t)gf * Q);
        conv2d_forward(r, ho, &m->response_gate, 1, R, R, NULL);
        sigmoid_forward(r, r, (size_t)Q);
        if (tr->h_code_avg) memcpy(tr->h_code_avg + (size_t)b * gf, havg, sizeof(float) * gf);
        if (tr->writing_gate) memcpy(tr->writing_gate + (size_t)b * T, gate, sizeof(float) * T);
        if (tr->memory)
            memcpy(tr->memory + (size_t)b * 2 * gf * T, mem, sizeof(float) * 2 * gf * T);
        if (tr->key) memcpy(tr->key + (size_t)b * gf * T, key, sizeof(float) * gf * T);
        if (tr->value) memcpy(tr->value + (size_t)b * gf * T, val, sizeof(float) * gf * T);
        if (tr->response) memcpy(tr->response + (size_t)b * gf * Q, o, sizeof(float) * gf * Q);
        if (tr->response_gate) memcpy(tr->response_gate + (size_t)b * Q, r, sizeof(float) * Q);
        // h_code_new = h_code * (1 - response_gate) + response_gate * memory_out
        for (int ch = 0; ch < gf; ch++)
            for (int q = 0; q < Q; q++) {
                size_t k = (size_t)ch * Q + q;
                float a = hb[k] * (1.0f - r[q]), bb = r[q] * o[k];
                hb[k] = a + bb;
            }
    }
    arena_reset_to(x->a, mark);
}

// NEXT_STAGE_G: h_in (B, GF, R, R) -> h_out (B, GF, 2R, 2R); h_in is overwritten (h').
static void next_stage(Ctx *x, const DmGanNextStage *m, float *h_out, float *h_in, float *att,
                       int R, DmGanMemoryTrace *tr) {
    int B = x->B, gf = x->g->cfg.gf_dim;
    size_t Q = (size_t)R * R, mark = arena_mark(x->a);
    memory_stage(x, m, h_in, att, R, tr);
    float *hc = fl(x, (size_t)B * 2 * gf * Q);   // torch.cat((h_code_new, h_code_new), 1)
    if (x->live)
        for (int b = 0; b < B; b++) {
            const float *src = h_in + (size_t)b * gf * Q;
            memcpy(hc + (size_t)b * 2 * gf * Q, src, sizeof(float) * gf * Q);
            memcpy(hc + ((size_t)b * 2 + 1) * gf * Q, src, sizeof(float) * gf * Q);
        }
    for (int k = 0; k < x->g->cfg.r_num; k++) res_block(x, hc, m->res[k], R, R);
    up_block(x, h_out, hc, &m->up, R, R);
    arena_reset_to(x->a, mark);
}

// Largest im2col scratch over the convs of the configuration (one image).
static size_t scratch_floats(const DmGan *g) {
    const DmGanConfig *c = &g->cfg;
    size_t m = 0;
    for (int k = 0; k < 4; k++) {
        size_t n = conv2d_scratch_floats(&g->init_up[k].conv, 8 << k, 8 << k);
        if (n > m) m = n;
    }
    for (int s = 0; s < c->branch_num; s++) {
        size_t n = conv2d_scratch_floats(&g->img[s], 64 << s, 64 << s);
        if (n > m) m = n;
        if (s == 0) continue;
        const DmGanNextStage *ns = &g->next[s - 1];
        int R = 32 << s;
        size_t v[3] = {c->r_num ? conv2d_scratch_floats(&ns->res[0][0].conv, R, R) : 0,
                       c->r_num ? conv2d_scratch_floats(&ns->res[0][1].conv, R, R) : 0,
                       conv2d_scratch_floats(&ns->up.conv, 2 * R, 2 * R)};
        for (int i = 0; i < 3; i++)
            if (v[i] > m) m = v[i];
    }
    return m;
}

static void run(Ctx *x, DmGanOutputs *out) {
    const DmGan *g = x->g;
    const DmGanConfig *c = &g->cfg;
    int B = x->B, gf = c->gf_dim;
    x->scratch = fl(x, scratch_floats(g));
    float *c_code = fl(x, (size_t)B * c->condition_dim);
    ca_net(x, c_code, out);
    float *h = fl(x, (size_t)B * gf * 64 * 64);
    init_stage(x, h, c_code);
    if (x->live && out->h_code1) memcpy(out->h_code1, h, sizeof(float) * (size_t)B * gf * 4096);
    get_image(x, out->img[0], h, &g->img[0], 64, 64);
    for (int s = 1; s < c->branch_num; s++) {
        int R = 32 << s;
        float *hn = fl(x, (size_t)B * gf * 4 * R * R);
        next_stage(x, &g->next[s - 1], hn, h, out->att[s - 1], R, &out->mem[s - 1]);
        get_image(x, out->img[s], hn, &g->img[s], 2 * R, 2 * R);
        h = hn;
    }
}

size_t dmgan_arena_bytes(const DmGan *g, int B, int T) {
    Arena a;
    arena_init_measure(&a);
    DmGanInputs in;
    DmGanOutputs out;
    memset(&in, 0, sizeof in);
    memset(&out, 0, sizeof out);
    Ctx x = {.g = g, .a = &a, .live = 0, .B = B, .T = T, .in = &in};
    run(&x, &out);
    return a.high + 64;
}

int dmgan_forward(const DmGan *g, const DmGanInputs *in, DmGanOutputs *out, int B, int T,
                  Arena *arena) {
    if (B < 1 || T < 1) return t2i_error(T2I_EARG, "DM-GAN G_NET: batch %d with %d words", B, T);
    if ((!in->z && g->cfg.z_dim > 0) || !in->sent_emb || !in->eps ||
        (g->cfg.branch_num > 1 && !in->words_emb))
        return t2i_error(T2I_EARG, "DM-GAN G_NET: missing input (z, sent_emb, eps or words_emb)");
    size_t mark = arena_mark(arena);
    Ctx x = {.g = g, .a = arena, .live = 1, .B = B, .T = T, .in = in};
    run(&x, out);
    arena_reset_to(arena, mark);
    return T2I_OK;
}

double dmgan_macs_per_image(const DmGanConfig *c, int T) {
    double gf = c->gf_dim, ngf = 16.0 * gf, emb = c->embedding_dim, m = 0;
    m += emb * 4 * c->condition_dim;                          // ca_net.fc
    m += (double)(c->condition_dim + c->z_dim) * ngf * 32;   // h_net1.fc
    for (int k = 0; k < 4; k++) {
        double in = (double)(c->gf_dim * 16 >> k), res = 8 << k;
        m += in * in * 9 * res * res;                         // upBlocks
    }
    for (int s = 0; s < c->branch_num; s++) {
        double px = (double)(64 << s) * (64 << s);
        m += 3 * gf * 9 * px;                                 // img_net
        if (s == 0) continue;
        double Q = (double)(32 << s) * (32 << s);
        m += T * emb + gf;                                    // A, B
        m += T * 2 * gf * gf + T * 2 * gf * emb;              // M_r, M_w
        m += 2 * (T * gf * 2 * gf);                           // key, value
        m += 2 * Q * gf * T;                                  // the two Memory bmm's
        m += Q * 2 * gf;                                      // response_gate
        m += (4 * gf * 2 * gf * 9 + 2 * gf * 2 * gf * 9) * Q * c->r_num;   // ResBlocks
        m += 2 * gf * 2 * gf * 9 * 4 * Q;                     // upBlock
    }
    return m;
}
