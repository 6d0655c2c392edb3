// dmgan.c -- see dmgan.h. DM-GAN's G_NET (code/model.py): the stages shared with AttnGAN
// (gstages.c) and the dynamic memory of NEXT_STAGE_G, in NHWC.
#include "dmgan.h"
#include "blas.h"
#include "t2i.h"
#include "xconv.h"

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

int dmgan_config_check(const DmGanConfig *c) { return gstage_config_check(c, "DM-GAN G_NET"); }

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

static void bind_linear(BindList *bl, Linear *m, int in, int out, int bias, const char *name) {
    int w[2] = {out, in}, b[1] = {out};
    *m = (Linear){.in_f = in, .out_f = out};
    bind_param(bl, (float **)&m->w, 2, w, "%s.weight", name);
    if (bias) bind_param(bl, (float **)&m->b, 1, b, "%s.bias", name);
}

// NEXT_STAGE_G(ngf = GF, nef = EMB)'s memory at h_net<n>.
static void bind_memory(BindList *bl, DmGanMemory *m, const DmGanConfig *c, int n) {
    int gf = c->gf_dim, emb = c->embedding_dim;
    char a[96];
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
}

void dmgan_keys(DmGan *g, const DmGanConfig *c, BindList *bl) {
    g->cfg = *c;
    gstage_keys(&g->st, c, bl);
    for (int s = 1; s < c->branch_num; s++) bind_memory(bl, &g->mem[s - 1], c, s + 1);
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
    if (!rc) rc = gstage_exec_pack(&g->e, &g->st, &g->cfg, "DM-GAN G_NET");
    if (rc) dmgan_free(g);
    return rc;
}

void dmgan_free(DmGan *g) {
    if (!g) return;
    gstage_exec_free(&g->e);
    sd_free(&g->sd);
    memset(g, 0, sizeof *g);
}

int dmgan_set_threads(DmGan *g, int nth) {
    return gstage_exec_threads(&g->e, &g->st, &g->cfg, nth, "DM-GAN G_NET");
}

int dmgan_share(DmGan *dst, const DmGan *src) {
    *dst = *src;
    memset(&dst->sd, 0, sizeof dst->sd);   // the weights stay src's
    memset(&dst->e, 0, sizeof dst->e);
    int rc = gstage_exec_pack(&dst->e, &dst->st, &dst->cfg, "DM-GAN G_NET");
    if (!rc) rc = dmgan_set_threads(dst, src->e.nth);
    if (rc) dmgan_free(dst);
    return rc;
}

// ---- forward ------------------------------------------------------------------------------

typedef struct {
    const DmGan        *g;
    const DmGanInputs  *in;    // this run's samples (zeroed while measuring)
    const DmGanOutputs *out;
    int                 T;
} Fill;

// Conv1d(k=1) + bias then ReLU over one sample: in (C, n) -> out (OC, n).
static void conv1x1_relu(float *out, const float *in, const Conv2d *m, int n) {
    conv2d_forward(out, in, m, 1, 1, n, NULL);
    relu_forward(out, out, (size_t)m->out_c * n);
}

// The key response over pixels of one sample: hc (Q, 2gf) holds h in channels 0..gf and the
// memory output o in gf..2gf; r = sigmoid(w . cat(h, o) + bias), h' = h (1 - r) + r o is
// written to both halves (torch.cat((h_code_new, h_code_new), 1)); rg (Q) receives r or NULL.
typedef struct {
    float       *hc, *rg;
    const float *w, *bias;
    int          gf;
} Blend;

static void blend_tile(void *ctx, size_t p0, size_t n) {
    const Blend *j = ctx;
    const int gf = j->gf;
    for (size_t p = p0; p < p0 + n; p++) {
        float *h = j->hc + p * 2 * gf, *o = h + gf;
        float acc = 0.0f;
        for (int c = 0; c < 2 * gf; c++) acc += j->w[c] * h[c];
        float r = 1.0f / (1.0f + expf(-(acc + j->bias[0])));
        if (j->rg) j->rg[p] = r;
        for (int c = 0; c < gf; c++) {
            float a = h[c] * (1.0f - r), b = r * o[c];
            h[c] = o[c] = a + b;
        }
    }
}

// Memory writing, key addressing, value reading and key response of NEXT_STAGE_G s on
// h (B, R, R, 2gf) (GStageFill): channels 0..gf hold h_code; afterwards both halves hold h'.
static void fill_memory(GRun *r, void *arg, int s, float *h, int R) {
    const Fill *f = arg;
    const DmGan *g = f->g;
    const DmGanMemory *m = &g->mem[s - 1];
    const int B = r->B, T = f->T, gf = g->cfg.gf_dim, emb = g->cfg.embedding_dim, Q = R * R;
    const size_t s2 = 2 * (size_t)gf;
    size_t mark = arena_mark(r->a);
    double *sum = arena_alloc(r->a, sizeof(double) * (size_t)gf);
    float *havg = grun_floats(r, (size_t)gf);          // h_code_avg (GF)
    float *avg = grun_floats(r, (size_t)gf * T);       // h_code_avg.repeat(1, 1, T) (GF, T)
    float *wT = grun_floats(r, (size_t)T * emb);       // word_embs^T (T, EMB)
    float *gate = grun_floats(r, (size_t)T);           // writing gate (1, T)
    float *mw = grun_floats(r, s2 * T), *mr = grun_floats(r, s2 * T);
    float *mem = grun_floats(r, s2 * T);               // memory (2GF, T)
    float *key = grun_floats(r, (size_t)gf * T), *val = grun_floats(r, (size_t)gf * T);
    float *score = grun_floats(r, (size_t)Q * T);      // addressing weights (Q, T)
    float *rg = grun_floats(r, (size_t)Q);             // response gate (Q)
    const DmGanMemoryTrace *tr = &f->out->mem[s - 1];
    if (r->live && !r->rc && s == 1 && f->out->h_code1)
        nhwc_to_nchw(f->out->h_code1, h, B, gf, Q, s2);
    for (int b = 0; r->live && !r->rc && b < B; b++) {
        float *hb = h + (size_t)b * Q * s2;
        const float *words = f->in->words_emb + (size_t)b * emb * T;
        // ---- memory writing
        for (int c = 0; c < gf; c++) sum[c] = 0;
        for (int q = 0; q < Q; q++)   // AvgPool2d(kernel_size=R): mean over the map
            for (int c = 0; c < gf; c++) sum[c] += hb[(size_t)q * s2 + c];
        for (int c = 0; c < gf; c++) {
            havg[c] = (float)(sum[c] / Q);
            for (int t = 0; t < T; t++) avg[(size_t)c * T + t] = havg[c];
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
        for (size_t i = 0; i < s2; i++)
            for (int t = 0; t < T; t++) {
                size_t k = i * T + t;
                float a = mw[k] * gate[t], bb = mr[k] * (1.0f - gate[t]);
                mem[k] = a + bb;
            }
        // ---- key addressing and value reading (Memory.forward)
        conv1x1_relu(key, mem, &m->key, T);
        conv1x1_relu(val, mem, &m->value, T);
        sgemm(0, 0, Q, T, gf, 1.0f, hb, (int)s2, key, T, 0.0f, score, T);   // h^T . key (Q, T)
        if (f->in->mask) {
            // Rows are batch-major (r = b*Q + q); the original masks row r with mask[r % B].
            for (int q = 0; q < Q; q++) {
                int mb = f->in->mask_mode == ATT_MASK_BATCH_COUPLED
                             ? (int)(((int64_t)b * Q + q) % B) : b;
                const uint8_t *mk = f->in->mask + (size_t)mb * T;
                for (int t = 0; t < T; t++)
                    if (mk[t]) score[(size_t)q * T + t] = -INFINITY;
            }
        }
        softmax_rows(score, score, Q, T);
        if (f->out->att[s - 1]) {
            float *att = f->out->att[s - 1] + (size_t)b * T * Q;
            for (int q = 0; q < Q; q++)
                for (int t = 0; t < T; t++) att[(size_t)t * Q + q] = score[(size_t)q * T + t];
        }
        // memory_out (Q, GF) = weight . value^T, next to h
        sgemm(0, 1, Q, gf, T, 1.0f, score, T, val, T, 0.0f, hb + gf, (int)s2);
        if (tr->response) nhwc_to_nchw(tr->response + (size_t)b * gf * Q, hb + gf, 1, gf, Q, s2);
        // ---- key response, h' twice
        Blend bl = {.hc = hb, .rg = rg, .w = m->response_gate.w, .bias = m->response_gate.b,
                    .gf = gf};
        pthreadpool_parallelize_1d_tile_1d(r->tp, blend_tile, &bl, (size_t)Q, 256, 0);
        if (tr->h_code_avg) memcpy(tr->h_code_avg + (size_t)b * gf, havg, sizeof(float) * gf);
        if (tr->writing_gate) memcpy(tr->writing_gate + (size_t)b * T, gate, sizeof(float) * T);
        if (tr->memory) memcpy(tr->memory + (size_t)b * s2 * T, mem, sizeof(float) * s2 * T);
        if (tr->key) memcpy(tr->key + (size_t)b * gf * T, key, sizeof(float) * gf * T);
        if (tr->value) memcpy(tr->value + (size_t)b * gf * T, val, sizeof(float) * gf * T);
        if (tr->response_gate) memcpy(tr->response_gate + (size_t)b * Q, rg, sizeof(float) * Q);
    }
    arena_reset_to(r->a, mark);
}

typedef struct {
    const DmGan        *g;
    const DmGanInputs  *in;    // whole batch
    const DmGanOutputs *out;
    int                 T;
} Job;

static float *at(float *p, int b0, size_t per) { return p ? p + (size_t)b0 * per : NULL; }

// Samples b0 .. b0+B-1 on operator set x with pool tp (GStageJob.run).
static int run(void *ctx, const GStagePacked *x, pthreadpool_t tp, int b0, int B, Arena *a,
               int live) {
    const Job *j = ctx;
    const DmGanConfig *c = &j->g->cfg;
    const size_t gf = (size_t)c->gf_dim, T = (size_t)j->T;
    GRun r = {.a = a, .live = live, .B = B, .x = x, .tp = tp};
    DmGanInputs in;
    DmGanOutputs out;
    memset(&in, 0, sizeof in);
    memset(&out, 0, sizeof out);
    if (r.live) {
        in = gstage_inputs_from(j->in, c, b0, j->T);   // coupled masks: b0 0, whole batch
        const DmGanOutputs *o = j->out;
        for (int s = 0; s < 3; s++) out.img[s] = at(o->img[s], b0, 3 * (size_t)(64 << s) * (64 << s));
        for (int s = 0; s < 2; s++) {
            size_t Q = (size_t)(64 << s) * (64 << s);
            const DmGanMemoryTrace *t = &o->mem[s];
            out.att[s] = at(o->att[s], b0, T * Q);
            out.mem[s] = (DmGanMemoryTrace){
                .h_code_avg = at(t->h_code_avg, b0, gf), .writing_gate = at(t->writing_gate, b0, T),
                .memory = at(t->memory, b0, 2 * gf * T), .key = at(t->key, b0, gf * T),
                .value = at(t->value, b0, gf * T), .response = at(t->response, b0, gf * Q),
                .response_gate = at(t->response_gate, b0, Q)};
        }
        size_t cond = (size_t)c->condition_dim;
        out.mu = at(o->mu, b0, cond);
        out.logvar = at(o->logvar, b0, cond);
        out.c_code = at(o->c_code, b0, cond);
        out.h_code1 = at(o->h_code1, b0, gf * 64 * 64);
    }
    GStageOutputs so = {.img = {out.img[0], out.img[1], out.img[2]},
                        .att = {out.att[0], out.att[1]}, .mu = out.mu, .logvar = out.logvar,
                        .c_code = out.c_code};
    Fill f = {.g = j->g, .in = &in, .out = &out, .T = j->T};
    gstage_forward(&r, &j->g->st, c, &in, &so, fill_memory, &f);
    return r.rc;
}

size_t dmgan_arena_bytes(const DmGan *g, int B, int T) {
    Job j = {.g = g, .T = T};
    GStageJob job = {.run = run, .ctx = &j};
    return gstage_exec_arena_bytes(&g->e, B, &job);
}

int dmgan_forward(const DmGan *g, const DmGanInputs *in, DmGanOutputs *out, int B, int T,
                  Arena *arena) {
    if (B < 1 || T < 1) return t2i_error(T2I_EARG, "DM-GAN G_NET: batch %d with %d words", B, T);
    if ((!in->z && g->cfg.z_dim > 0) || !in->sent_emb || !in->eps ||
        (g->cfg.branch_num > 1 && !in->words_emb))
        return t2i_error(T2I_EARG, "DM-GAN G_NET: missing input (z, sent_emb, eps or words_emb)");
    Job j = {.g = g, .in = in, .out = out, .T = T};
    GStageJob job = {.run = run, .ctx = &j};
    return gstage_exec_forward(&g->e, B, in->mask_mode == ATT_MASK_BATCH_COUPLED, &job, arena);
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
