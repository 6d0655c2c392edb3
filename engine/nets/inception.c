// inception.c -- see inception.h. Layer names and shapes follow torchvision's inception.py:
// Conv2d_1a_3x3 .. Conv2d_4a_3x3, Mixed_5b..5d (InceptionA), Mixed_6a (B), Mixed_6b..6e (C),
// Mixed_7a (D), Mixed_7b, 7c (E), fc. Activations are channel-major (C,B,H,W).
#include "inception.h"

#include "arena.h"
#include "blas.h"
#include "ops.h"
#include "t2i.h"
#include "xconv.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

// ---- modules -------------------------------------------------------------------------------

#define MAX_SLICES 8

// BasicConv2d: conv (no bias) -> BatchNorm -> ReLU.
typedef struct {
    Conv2d       c;            // geometry; c.w = the weights used (raw or folded)
    ConvEpilogue ep;           // BatchNorm (unfolded: mean/scale/shift; folded: shift) + ReLU
    float       *w, *gamma, *beta, *mean, *var;   // bound state_dict tensors
    float       *own;          // folded weights + epilogue arrays (owned)
    XConv        x[MAX_SLICES];   // NHWC path: the packed conv (+ bias, + ReLU unless linear),
                                  // one per batch slice that runs side by side (x[0] always)
    float       *xbias;        // its per-channel bias; applied after the pool when linear (owned)
    size_t       xso;          // its output pixel stride: the block's width when it writes its
                               // slice of the block output in place, else 0 (dense)
    int          xlin;         // linear: the avg-pool branch conv run before its pool
} BConv;

// Several 1x1 BasicConv2d reading the same input, run as one sgemm (rows stacked).
typedef struct {
    Conv2d       c;
    ConvEpilogue ep;
    float       *own;
    int          n;
    BConv       *parts[4];
} Fused;

typedef struct { BConv b1, b5_1, b5_2, d1, d2, d3, pool; Fused f; int pf, pool_fused; } BlockA;
typedef struct { BConv b3, d1, d2, d3; } BlockB;
typedef struct {
    BConv b1, s1, s2, s3, d1, d2, d3, d4, d5, pool;
    Fused f;
    int   c7, pool_fused;
} BlockC;
typedef struct { BConv a1, a2, b1, b2, b3, b4; Fused f; } BlockD;
typedef struct { BConv b1, a1, a2a, a2b, d1, d2, d3a, d3b, pool; Fused f; int pool_fused; } BlockE;

#define MAX_CONVS 128
#define MAX_FUSED 16

struct Inception {
    InceptionConfig cfg;
    BindList        keys;
    StateDict       sd;
    int             bound;
    BConv           c1a, c2a, c2b, c3b, c4a;
    BlockA          m5b, m5c, m5d;
    BlockB          m6a;
    BlockC          m6b, m6c, m6d, m6e;
    BlockD          m7a;
    BlockE          m7b, m7c;
    float          *fc_w, *fc_b;
    float          *aux_sink;   // AuxLogits tensors are bound here and never read
    BConv          *convs[MAX_CONVS];
    int             nconvs;
    Fused          *fused[MAX_FUSED];
    int             nfused;
    Arena           arena[MAX_SLICES][2];   // per batch slice, ping-pong: a layer reads one
                                            // arena and writes the other
    int             reserved_S, reserved_slices;   // largest slice (images) the arenas hold
    pthreadpool_t   tp;                     // NHWC path threads (inception_set_threads)
    int             nth;                    // set by inception_set_threads; 0: follow BLAS
    int             auto_nth;               // pool size chosen while following BLAS
    int             nsets;                  // packed operator sets (BConv.x)
    int             raw_released;           // inception_release_unpacked was called
};

void inception_config(InceptionConfig *cfg, InceptionVariant v) {
    memset(cfg, 0, sizeof *cfg);
    cfg->variant = v;
    cfg->fc_bias = 1;
    cfg->bn_gamma = 1;
    cfg->bn_eps = 0.001f;
    cfg->fold_bn = 1;
    cfg->split_batch = 1;
    cfg->nhwc = 1;
    switch (v) {
    case INCEPTION_TORCHVISION:
        cfg->num_classes = 1000;
        cfg->pool_branch = cfg->pool_7c = IPOOL_AVG_PAD;
        cfg->aux_logits = 1;
        break;
    case INCEPTION_TF2015:
        cfg->num_classes = 1008;
        cfg->pool_branch = IPOOL_AVG_NOPAD;
        cfg->pool_7c = IPOOL_MAX;
        break;
    case INCEPTION_SLIM:
        cfg->num_classes = 1001;
        cfg->pool_branch = cfg->pool_7c = IPOOL_AVG_NOPAD;
        cfg->bn_gamma = 0;
        break;
    }
}

const char *inception_variant_name(InceptionVariant v) {
    return v == INCEPTION_TORCHVISION ? "torchvision" : v == INCEPTION_TF2015 ? "tf2015" : "slim";
}

int inception_variant_parse(const char *name, InceptionVariant *v) {
    if (strcmp(name, "torchvision") == 0) *v = INCEPTION_TORCHVISION;
    else if (strcmp(name, "tf2015") == 0 || strcmp(name, "fid") == 0) *v = INCEPTION_TF2015;
    else if (strcmp(name, "slim") == 0) *v = INCEPTION_SLIM;
    else
        return t2i_error(T2I_EARG, "unknown Inception variant '%s' (torchvision, tf2015, slim)",
                         name);
    return T2I_OK;
}

// ---- declaration ---------------------------------------------------------------------------

static void decl_conv(Inception *n, BConv *b, int ic, int oc, int kh, int kw, int sh, int sw,
                      int ph, int pw, const char *fmt, ...) __attribute__((format(printf, 11, 12)));
static void decl_conv(Inception *n, BConv *b, int ic, int oc, int kh, int kw, int sh, int sw,
                      int ph, int pw, const char *fmt, ...) {
    char name[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    memset(b, 0, sizeof *b);
    b->c = (Conv2d){.in_c = ic, .out_c = oc, .kh = kh, .kw = kw, .sh = sh, .sw = sw, .ph = ph,
                    .pw = pw};
    int shape[4] = {oc, ic, kh, kw};
    bind_param(&n->keys, &b->w, 4, shape, "%s.conv.weight", name);
    bind_batchnorm(&n->keys, n->cfg.bn_gamma ? &b->gamma : NULL, &b->beta, &b->mean, &b->var, oc,
                   "%s.bn", name);
    T2I_CHECK(n->nconvs < MAX_CONVS, "too many convs");
    n->convs[n->nconvs++] = b;
}

#define C1(n, b, ic, oc, ...) decl_conv(n, b, ic, oc, 1, 1, 1, 1, 0, 0, __VA_ARGS__)

// p3 (the pool branch's conv) joins the group when the pool branch averages: a 1x1 conv without
// bias commutes with an average pool (both are linear per position, whatever the divisor), so
// the block runs conv -> avg pool -> BatchNorm/ReLU on pf channels instead of pooling all input
// channels first, and the conv joins the block's one wide sgemm.
static void decl_fused(Inception *n, Fused *f, int cnt, BConv *p0, BConv *p1, BConv *p2,
                       BConv *p3) {
    memset(f, 0, sizeof *f);
    f->n = cnt;
    f->parts[0] = p0, f->parts[1] = p1, f->parts[2] = p2, f->parts[3] = p3;
    T2I_CHECK(n->nfused < MAX_FUSED, "too many fused groups");
    n->fused[n->nfused++] = f;
}

static void decl_a(Inception *n, BlockA *m, int in, int pf, int pk, const char *name) {
    m->pf = pf;
    m->pool_fused = pk != IPOOL_MAX;
    C1(n, &m->b1, in, 64, "%s.branch1x1", name);
    C1(n, &m->b5_1, in, 48, "%s.branch5x5_1", name);
    decl_conv(n, &m->b5_2, 48, 64, 5, 5, 1, 1, 2, 2, "%s.branch5x5_2", name);
    C1(n, &m->d1, in, 64, "%s.branch3x3dbl_1", name);
    decl_conv(n, &m->d2, 64, 96, 3, 3, 1, 1, 1, 1, "%s.branch3x3dbl_2", name);
    decl_conv(n, &m->d3, 96, 96, 3, 3, 1, 1, 1, 1, "%s.branch3x3dbl_3", name);
    C1(n, &m->pool, in, pf, "%s.branch_pool", name);
    decl_fused(n, &m->f, 3 + m->pool_fused, &m->b1, &m->b5_1, &m->d1, &m->pool);
}

static void decl_b(Inception *n, BlockB *m, int in, const char *name) {
    decl_conv(n, &m->b3, in, 384, 3, 3, 2, 2, 0, 0, "%s.branch3x3", name);
    C1(n, &m->d1, in, 64, "%s.branch3x3dbl_1", name);
    decl_conv(n, &m->d2, 64, 96, 3, 3, 1, 1, 1, 1, "%s.branch3x3dbl_2", name);
    decl_conv(n, &m->d3, 96, 96, 3, 3, 2, 2, 0, 0, "%s.branch3x3dbl_3", name);
}

static void decl_c(Inception *n, BlockC *m, int in, int c7, int pk, const char *name) {
    m->c7 = c7;
    m->pool_fused = pk != IPOOL_MAX;
    C1(n, &m->b1, in, 192, "%s.branch1x1", name);
    C1(n, &m->s1, in, c7, "%s.branch7x7_1", name);
    decl_conv(n, &m->s2, c7, c7, 1, 7, 1, 1, 0, 3, "%s.branch7x7_2", name);
    decl_conv(n, &m->s3, c7, 192, 7, 1, 1, 1, 3, 0, "%s.branch7x7_3", name);
    C1(n, &m->d1, in, c7, "%s.branch7x7dbl_1", name);
    decl_conv(n, &m->d2, c7, c7, 7, 1, 1, 1, 3, 0, "%s.branch7x7dbl_2", name);
    decl_conv(n, &m->d3, c7, c7, 1, 7, 1, 1, 0, 3, "%s.branch7x7dbl_3", name);
    decl_conv(n, &m->d4, c7, c7, 7, 1, 1, 1, 3, 0, "%s.branch7x7dbl_4", name);
    decl_conv(n, &m->d5, c7, 192, 1, 7, 1, 1, 0, 3, "%s.branch7x7dbl_5", name);
    C1(n, &m->pool, in, 192, "%s.branch_pool", name);
    decl_fused(n, &m->f, 3 + m->pool_fused, &m->b1, &m->s1, &m->d1, &m->pool);
}

static void decl_d(Inception *n, BlockD *m, int in, const char *name) {
    C1(n, &m->a1, in, 192, "%s.branch3x3_1", name);
    decl_conv(n, &m->a2, 192, 320, 3, 3, 2, 2, 0, 0, "%s.branch3x3_2", name);
    C1(n, &m->b1, in, 192, "%s.branch7x7x3_1", name);
    decl_conv(n, &m->b2, 192, 192, 1, 7, 1, 1, 0, 3, "%s.branch7x7x3_2", name);
    decl_conv(n, &m->b3, 192, 192, 7, 1, 1, 1, 3, 0, "%s.branch7x7x3_3", name);
    decl_conv(n, &m->b4, 192, 192, 3, 3, 2, 2, 0, 0, "%s.branch7x7x3_4", name);
    decl_fused(n, &m->f, 2, &m->a1, &m->b1, NULL, NULL);
}

static void decl_e(Inception *n, BlockE *m, int in, int pk, const char *name) {
    m->pool_fused = pk != IPOOL_MAX;
    C1(n, &m->b1, in, 320, "%s.branch1x1", name);
    C1(n, &m->a1, in, 384, "%s.branch3x3_1", name);
    decl_conv(n, &m->a2a, 384, 384, 1, 3, 1, 1, 0, 1, "%s.branch3x3_2a", name);
    decl_conv(n, &m->a2b, 384, 384, 3, 1, 1, 1, 1, 0, "%s.branch3x3_2b", name);
    C1(n, &m->d1, in, 448, "%s.branch3x3dbl_1", name);
    decl_conv(n, &m->d2, 448, 384, 3, 3, 1, 1, 1, 1, "%s.branch3x3dbl_2", name);
    decl_conv(n, &m->d3a, 384, 384, 1, 3, 1, 1, 0, 1, "%s.branch3x3dbl_3a", name);
    decl_conv(n, &m->d3b, 384, 384, 3, 1, 1, 1, 1, 0, "%s.branch3x3dbl_3b", name);
    C1(n, &m->pool, in, 192, "%s.branch_pool", name);
    decl_fused(n, &m->f, 3 + m->pool_fused, &m->b1, &m->a1, &m->d1, &m->pool);
}

// torchvision InceptionAux(768, num_classes): declared so that checkpoints and hash weights carry
// the same key set; never evaluated (eval mode).
static void decl_aux(Inception *n) {
    float      **sink = &n->aux_sink;   // bound pointers nobody reads
    int          nc = n->cfg.num_classes > 0 ? n->cfg.num_classes : 1000;
    int          s0[4] = {128, 768, 1, 1}, s1[4] = {768, 128, 5, 5}, sf[2] = {nc, 768};
    bind_param(&n->keys, NULL, 4, s0, "AuxLogits.conv0.conv.weight");
    bind_batchnorm(&n->keys, n->cfg.bn_gamma ? sink : NULL, sink, sink, sink, 128,
                   "AuxLogits.conv0.bn");
    bind_param(&n->keys, NULL, 4, s1, "AuxLogits.conv1.conv.weight");
    bind_batchnorm(&n->keys, n->cfg.bn_gamma ? sink : NULL, sink, sink, sink, 768,
                   "AuxLogits.conv1.bn");
    bind_param(&n->keys, NULL, 2, sf, "AuxLogits.fc.weight");
    bind_param(&n->keys, NULL, 1, &nc, "AuxLogits.fc.bias");
}

int inception_create(const InceptionConfig *cfg, Inception **out) {
    *out = NULL;
    if (cfg->num_classes < 0)
        return t2i_error(T2I_EARG, "inception: num_classes %d", cfg->num_classes);
    Inception *n = t2i_calloc(1, sizeof *n);
    if (!n) return T2I_ENOMEM;
    n->cfg = *cfg;
    bindlist_init(&n->keys);
    sd_init(&n->sd);
    decl_conv(n, &n->c1a, 3, 32, 3, 3, 2, 2, 0, 0, "Conv2d_1a_3x3");
    decl_conv(n, &n->c2a, 32, 32, 3, 3, 1, 1, 0, 0, "Conv2d_2a_3x3");
    decl_conv(n, &n->c2b, 32, 64, 3, 3, 1, 1, 1, 1, "Conv2d_2b_3x3");
    decl_conv(n, &n->c3b, 64, 80, 1, 1, 1, 1, 0, 0, "Conv2d_3b_1x1");
    decl_conv(n, &n->c4a, 80, 192, 3, 3, 1, 1, 0, 0, "Conv2d_4a_3x3");
    int pk = cfg->pool_branch;
    decl_a(n, &n->m5b, 192, 32, pk, "Mixed_5b");
    decl_a(n, &n->m5c, 256, 64, pk, "Mixed_5c");
    decl_a(n, &n->m5d, 288, 64, pk, "Mixed_5d");
    decl_b(n, &n->m6a, 288, "Mixed_6a");
    decl_c(n, &n->m6b, 768, 128, pk, "Mixed_6b");
    decl_c(n, &n->m6c, 768, 160, pk, "Mixed_6c");
    decl_c(n, &n->m6d, 768, 160, pk, "Mixed_6d");
    decl_c(n, &n->m6e, 768, 192, pk, "Mixed_6e");
    if (cfg->aux_logits) decl_aux(n);
    decl_d(n, &n->m7a, 768, "Mixed_7a");
    decl_e(n, &n->m7b, 1280, pk, "Mixed_7b");
    decl_e(n, &n->m7c, 2048, cfg->pool_7c, "Mixed_7c");
    if (cfg->num_classes > 0) {
        int sw[2] = {cfg->num_classes, 2048};
        bind_param(&n->keys, &n->fc_w, 2, sw, "fc.weight");
        if (cfg->fc_bias) bind_param(&n->keys, &n->fc_b, 1, &cfg->num_classes, "fc.bias");
    }
    if (n->keys.failed) {
        inception_free(n);
        return t2i_error(T2I_ENOMEM, "inception: out of memory declaring keys");
    }
    *out = n;
    return T2I_OK;
}

void inception_free(Inception *n) {
    if (!n) return;
    for (int i = 0; i < n->nconvs; i++) {
        t2i_free(n->convs[i]->own);
        t2i_free(n->convs[i]->xbias);
        for (int k = 0; k < MAX_SLICES; k++) xconv_free(&n->convs[i]->x[k]);
    }
    for (int i = 0; i < n->nfused; i++) t2i_free(n->fused[i]->own);
    pthreadpool_destroy(n->tp);
    bindlist_free(&n->keys);
    sd_free(&n->sd);
    for (int i = 0; i < MAX_SLICES; i++) arena_free(&n->arena[i][0]), arena_free(&n->arena[i][1]);
    t2i_free(n);
}

BindList *inception_keys(Inception *net) { return &net->keys; }

void inception_set_transform_input(Inception *net, int on) { net->cfg.transform_input = on != 0; }

// ---- weight preparation --------------------------------------------------------------------

// Folded: w' = w * s (in place: the net owns the bound state_dict), shift = beta - mean * s with
// s = gamma / sqrt(var + eps). Unfolded: the epilogue computes (y - mean) * s + beta.
static int prep_conv(const InceptionConfig *cfg, BConv *b) {
    int    OC = b->c.out_c;
    size_t K  = (size_t)b->c.in_c * b->c.kh * b->c.kw;
    b->own = t2i_malloc_aligned(3 * (size_t)OC * sizeof(float));
    if (!b->own) return T2I_ENOMEM;
    float *scale = b->own, *shift = scale + OC, *mean = shift + OC;
    for (int oc = 0; oc < OC; oc++) {
        float g = b->gamma ? b->gamma[oc] : 1.0f;
        scale[oc] = g / sqrtf(b->var[oc] + cfg->bn_eps);
        mean[oc] = b->mean[oc];
        shift[oc] = cfg->fold_bn ? b->beta[oc] - b->mean[oc] * scale[oc] : b->beta[oc];
    }
    b->ep = (ConvEpilogue){.shift = shift, .relu = 1};
    b->c.w = b->w;
    if (cfg->fold_bn) {
        for (int oc = 0; oc < OC; oc++)
            for (size_t k = 0; k < K; k++) b->w[oc * K + k] *= scale[oc];
    } else {
        b->ep.mean = mean;
        b->ep.scale = scale;
    }
    return T2I_OK;
}

static int prep_fused(const InceptionConfig *cfg, Fused *f) {
    int OC = 0, IC = f->parts[0]->c.in_c;
    for (int i = 0; i < f->n; i++) OC += f->parts[i]->c.out_c;
    f->own = t2i_malloc_aligned(((size_t)OC * IC + 3 * (size_t)OC) * sizeof(float));
    if (!f->own) return T2I_ENOMEM;
    float *w = f->own, *mean = w + (size_t)OC * IC, *scale = mean + OC, *shift = scale + OC;
    int    row = 0;
    for (int i = 0; i < f->n; i++) {
        const BConv *p = f->parts[i];
        int          oc = p->c.out_c;
        memcpy(w + (size_t)row * IC, p->c.w, sizeof(float) * (size_t)oc * IC);
        memcpy(shift + row, p->ep.shift, sizeof(float) * (size_t)oc);
        if (!cfg->fold_bn) {
            memcpy(mean + row, p->ep.mean, sizeof(float) * (size_t)oc);
            memcpy(scale + row, p->ep.scale, sizeof(float) * (size_t)oc);
        }
        row += oc;
    }
    f->c = (Conv2d){.in_c = IC, .out_c = OC, .kh = 1, .kw = 1, .sh = 1, .sw = 1, .w = w};
    f->ep = (ConvEpilogue){.shift = shift, .relu = 1};
    if (!cfg->fold_bn) f->ep.mean = mean, f->ep.scale = scale;
    return T2I_OK;
}

// NHWC path: the XNNPACK conv of b with the BatchNorm in its weights and bias (folded or not
// by prep_conv), ReLU as its clamp. `linear`: no bias and no clamp in the conv; the bias and
// ReLU come after the average pool that the conv was moved in front of (nhwc_pool3).
static int pack_conv(const InceptionConfig *cfg, BConv *b, int set) {
    int OC = b->c.out_c;
    xconv_free(&b->x[set]);
    if (set == 0) {
        t2i_free(b->xbias);
        b->xbias = t2i_malloc_aligned((size_t)OC * sizeof(float));
        if (!b->xbias) return T2I_ENOMEM;
    }
    const float *scale = cfg->fold_bn ? NULL : b->ep.scale;
    for (int oc = 0; oc < OC && set == 0; oc++)
        b->xbias[oc] = cfg->fold_bn ? b->ep.shift[oc] : b->ep.shift[oc] - b->ep.mean[oc] * scale[oc];
    if (b->xlin)
        return xconv_create(&b->x[set], &b->c, XCONV_FAST, scale, NULL, -INFINITY, INFINITY, 0,
                            0);
    return xconv_create(&b->x[set], &b->c, XCONV_FAST, scale, b->xbias, 0.0f, INFINITY, 0,
                        b->xso);
}

// Operator sets 1..want-1 for batch slices side by side (needs the raw weights).
static int pack_sets(Inception *n, int want) {
    if (want > MAX_SLICES) want = MAX_SLICES;
    for (int k = n->nsets; k < want; k++) {
        if (n->raw_released) return T2I_OK;   // stays at nsets: the pool runs the rest
        for (int i = 0; i < n->nconvs; i++) {
            int rc = pack_conv(&n->cfg, n->convs[i], k);
            if (rc) return rc;
        }
        n->nsets = k + 1;
    }
    return T2I_OK;
}

// The branch convs that write their slice of a block output of `width` channels in place.
static void slices(size_t width, BConv *a, BConv *b, BConv *c, BConv *d, BConv *e) {
    BConv *all[5] = {a, b, c, d, e};
    for (int i = 0; i < 5; i++)
        if (all[i]) all[i]->xso = width;
}

static int pack_all(Inception *n) {
    for (int i = 0; i < n->nconvs; i++) n->convs[i]->xso = 0, n->convs[i]->xlin = 0;
    BlockA *as[3] = {&n->m5b, &n->m5c, &n->m5d};
    BlockC *cs[4] = {&n->m6b, &n->m6c, &n->m6d, &n->m6e};
    BlockE *es[2] = {&n->m7b, &n->m7c};
    for (int k = 0; k < 3; k++) {
        BlockA *m = as[k];
        slices((size_t)224 + m->pf, &m->b1, &m->b5_2, &m->d3, m->pool_fused ? NULL : &m->pool,
               NULL);
        m->pool.xlin = m->pool_fused;
    }
    slices(768, &n->m6a.b3, &n->m6a.d3, NULL, NULL, NULL);
    for (int k = 0; k < 4; k++) {
        BlockC *m = cs[k];
        slices(768, &m->b1, &m->s3, &m->d5, m->pool_fused ? NULL : &m->pool, NULL);
        m->pool.xlin = m->pool_fused;
    }
    slices(1280, &n->m7a.a2, &n->m7a.b4, NULL, NULL, NULL);
    for (int k = 0; k < 2; k++) {
        BlockE *m = es[k];
        slices(2048, &m->b1, &m->a2a, &m->a2b, &m->d3a, &m->d3b);
        if (!m->pool_fused) m->pool.xso = 2048;
        m->pool.xlin = m->pool_fused;
    }
    for (int i = 0; i < n->nconvs; i++)
        for (int k = 1; k < MAX_SLICES; k++) xconv_free(&n->convs[i]->x[k]);
    n->nsets = 0;
    for (int i = 0; i < n->nconvs; i++) {
        int rc = pack_conv(&n->cfg, n->convs[i], 0);
        if (rc) return rc;
    }
    n->nsets = 1;
    return T2I_OK;
}

int inception_set_threads(Inception *n, int nth) {
    pthreadpool_destroy(n->tp);
    n->auto_nth = 0;
    n->nth = nth > 1 ? nth : 1;
    n->tp = xpool_create(n->nth);
    if (n->nth > 1 && !n->tp) {
        n->nth = 1;
        return t2i_error(T2I_ENOMEM, "inception: cannot start %d threads", nth);
    }
    return T2I_OK;
}

struct pthreadpool *inception_threadpool(const Inception *n) { return n->tp; }

// The channel-major path's stacked 1x1 groups (copies of their parts' weights).
static int prep_all_fused(Inception *n) {
    for (int i = 0; i < n->nfused; i++) {
        if (n->fused[i]->own) continue;
        int rc = prep_fused(&n->cfg, n->fused[i]);
        if (rc) return rc;
    }
    return T2I_OK;
}

int inception_set_nhwc(Inception *n, int on) {
    if (!on && n->raw_released)
        return t2i_error(T2I_EARG, "inception: the channel-major path needs the raw weights, "
                                   "which were released after packing");
    n->cfg.nhwc = on != 0;
    n->reserved_S = n->reserved_slices = 0;   // the arenas are re-measured for the new path
    int rc = T2I_OK;
    int packed = xconv_packed(&n->c1a.x[0]);
    if (n->bound) rc = on ? (packed ? T2I_OK : pack_all(n)) : prep_all_fused(n);
    if (rc) return t2i_error_prefix(rc, "inception: preparing the convolutions");
    return T2I_OK;
}

int inception_bind(Inception *n, StateDict *sd, const char *what) {
    static const char *const ignore[] = {"AuxLogits.", NULL};
    sd_free(&n->sd);
    n->sd = *sd;
    memset(sd, 0, sizeof *sd);
    n->bound = 0;
    int rc = sd_bind(&n->sd, &n->keys, n->cfg.aux_logits ? NULL : ignore, what);
    if (rc) return rc;
    for (int i = 0; i < n->nconvs; i++) {
        t2i_free(n->convs[i]->own);
        n->convs[i]->own = NULL;
        if ((rc = prep_conv(&n->cfg, n->convs[i]))) return rc;
    }
    for (int i = 0; i < n->nfused; i++) {
        t2i_free(n->fused[i]->own);
        n->fused[i]->own = NULL;
    }
    n->raw_released = 0;
    rc = n->cfg.nhwc ? pack_all(n) : prep_all_fused(n);
    if (rc) return t2i_error_prefix(rc, "%s: preparing the convolutions", what);
    n->bound = 1;
    return T2I_OK;
}

int inception_release_unpacked(Inception *n) {
    if (!n->bound || !n->cfg.nhwc)
        return t2i_error(T2I_EARG, "inception: only a bound NHWC network can drop its raw weights");
    for (int i = 0; i < n->sd.n; i++) {
        SDEntry *e = &n->sd.e[i];
        int conv = 0;
        for (int k = 0; k < n->nconvs && !conv; k++) conv = e->f32 && e->f32 == n->convs[k]->w;
        if (!conv) continue;
        if (e->f32 != e->data) t2i_free(e->f32);
        t2i_free(e->data);
        e->data = NULL;
        e->f32 = NULL;
    }
    for (int k = 0; k < n->nconvs; k++) n->convs[k]->w = NULL, n->convs[k]->c.w = NULL;
    n->raw_released = 1;
    return T2I_OK;
}

// ---- forward -------------------------------------------------------------------------------

typedef struct {
    Arena *a[2];
    int    nxt;   // arena that receives the current layer's output and temporaries
    int    run;   // 0 in the measuring pass: allocate only
    int    B;
    pthreadpool_t tp;   // NHWC path
    int    rc;          // NHWC path: first XNNPACK failure
    int    xs;          // NHWC path: the operator set of this slice
} Fwd;

// In the measuring pass the arena returns NULL; a dummy base keeps the (never dereferenced)
// pointer arithmetic of the layer code away from NULL.
static float fwd_dummy[16];
static float *fwd_floats(Fwd *f, size_t n) {
    float *p = arena_floats(f->a[f->nxt], n);
    return f->run ? p : fwd_dummy;
}

// Starts a layer: its output and temporaries go into the arena the previous layer did not write.
static void fwd_layer(Fwd *f) {
    f->nxt ^= 1;
    arena_reset(f->a[f->nxt]);
}

static void run_conv(Fwd *f, const Conv2d *c, const ConvEpilogue *ep, float *out, const float *in,
                     int H, int W) {
    Arena *a = f->a[f->nxt];
    size_t mark = arena_mark(a);
    size_t ns = conv2d_cm_scratch_floats(c, f->B, H, W);
    float *scratch = ns ? arena_floats(a, ns) : NULL;
    if (f->run) conv2d_forward_cm(out, in, c, ep, f->B, H, W, scratch);
    arena_reset_to(a, mark);
}

static void bconv(Fwd *f, const BConv *b, float *out, const float *in, int H, int W) {
    run_conv(f, &b->c, &b->ep, out, in, H, W);
}

// 3x3 pools split by planes over the helper threads (blas.h t2i_parallel).
typedef struct {
    float       *out;
    const float *in;
    int          planes, H, W, s, p, kind;   // kind: IPOOL_*
} PoolJob;

static void pool_job(void *ctx, int ith, int nth) {
    const PoolJob *j = ctx;
    int p0 = (int)((long)j->planes * ith / nth), p1 = (int)((long)j->planes * (ith + 1) / nth);
    if (p1 <= p0) return;
    int    OH = pool_out(j->H, 3, j->s, j->p), OW = pool_out(j->W, 3, j->s, j->p);
    float *out = j->out + (size_t)p0 * OH * OW;
    const float *in = j->in + (size_t)p0 * j->H * j->W;
    if (j->kind == IPOOL_MAX) maxpool2d_forward(out, in, 1, p1 - p0, j->H, j->W, 3, j->s, j->p);
    else
        avgpool2d_forward(out, in, 1, p1 - p0, j->H, j->W, 3, j->s, j->p,
                          j->kind == IPOOL_AVG_PAD);
}

static void pool3(float *out, const float *in, int planes, int H, int W, int s, int p, int kind) {
    PoolJob j = {.out = out, .in = in, .planes = planes, .H = H, .W = W, .s = s, .p = p,
                 .kind = kind};
    t2i_parallel(pool_job, &j);
}

// Single-conv stem layer: (IC,B,H,W) -> new (OC,B,OH,OW).
static float *stem_conv(Fwd *f, const BConv *b, const float *in, int *H, int *W) {
    int OH, OW;
    conv2d_out_hw(&b->c, *H, *W, &OH, &OW);
    fwd_layer(f);
    float *out = fwd_floats(f, (size_t)b->c.out_c * f->B * OH * OW);
    bconv(f, b, out, in, *H, *W);
    *H = OH, *W = OW;
    return out;
}

static float *stem_maxpool(Fwd *f, const float *in, int C, int *H, int *W) {
    int OH = pool_out(*H, 3, 2, 0), OW = pool_out(*W, 3, 2, 0);
    fwd_layer(f);
    float *out = fwd_floats(f, (size_t)C * f->B * OH * OW);
    if (f->run) pool3(out, in, C * f->B, *H, *W, 2, 0, IPOOL_MAX);
    *H = OH, *W = OW;
    return out;
}

// The fused 1x1 sgemm; the epilogue runs on the first `ep_rows` rows only (the pool branch's
// rows, when fused, get theirs after pooling).
static void fused_conv(Fwd *f, const Fused *g, float *out, const float *in, int H, int W,
                       int ep_rows) {
    run_conv(f, &g->c, NULL, out, in, H, W);
    if (f->run) conv_epilogue_apply(out, ep_rows, (size_t)f->B * H * W, &g->ep);
}

// Pool branch with the conv done first: out = BN/ReLU(avgpool(conv rows)).
static void pool_after_conv(Fwd *f, const BConv *b, float *out, const float *conv_rows, int H,
                            int W, int kind) {
    if (!f->run) return;
    int oc = b->c.out_c;
    pool3(out, conv_rows, oc * f->B, H, W, 1, 1, kind);
    conv_epilogue_apply(out, oc, (size_t)f->B * H * W, &b->ep);
}

// The pool branch of blocks A, C and E into out: with `fused`, from the pool conv's rows of the
// fused 1x1 sgemm (conv_rows); otherwise conv(pool3x3 s1 p1 (in)) on the IC input channels.
static void pool_branch_out(Fwd *f, const BConv *b, int fused, float *out, const float *conv_rows,
                            const float *in, int IC, int H, int W, int kind) {
    if (fused) {
        pool_after_conv(f, b, out, conv_rows, H, W, kind);
        return;
    }
    float *p = fwd_floats(f, (size_t)IC * f->B * H * W);
    if (f->run) pool3(p, in, IC * f->B, H, W, 1, 1, kind);
    bconv(f, b, out, p, H, W);
}

static void copy_rows(Fwd *f, float *dst, const float *src, size_t n) {
    if (f->run) memcpy(dst, src, n * sizeof(float));
}

static float *block_a(Fwd *f, const BlockA *m, const float *in, int IC, int H, int W, int pk) {
    size_t P = (size_t)f->B * H * W;
    fwd_layer(f);
    float *out = fwd_floats(f, (size_t)(224 + m->pf) * P);
    float *t = fwd_floats(f, (size_t)m->f.c.out_c * P);
    fused_conv(f, &m->f, t, in, H, W, 176);   // rows: b1 64 | b5_1 48 | d1 64 (| pool pf)
    copy_rows(f, out, t, 64 * P);
    bconv(f, &m->b5_2, out + 64 * P, t + 64 * P, H, W);
    float *t2 = fwd_floats(f, 96 * P);
    bconv(f, &m->d2, t2, t + 112 * P, H, W);
    bconv(f, &m->d3, out + 128 * P, t2, H, W);
    pool_branch_out(f, &m->pool, m->pool_fused, out + 224 * P, t + 176 * P, in, IC, H, W,
                    pk);
    return out;
}

static float *block_b(Fwd *f, const BlockB *m, const float *in, int IC, int *H, int *W) {
    int OH = pool_out(*H, 3, 2, 0), OW = pool_out(*W, 3, 2, 0);
    size_t P = (size_t)f->B * *H * *W, Q = (size_t)f->B * OH * OW;
    fwd_layer(f);
    float *out = fwd_floats(f, (size_t)(480 + IC) * Q);
    bconv(f, &m->b3, out, in, *H, *W);
    float *t = fwd_floats(f, 64 * P), *t2 = fwd_floats(f, 96 * P);
    bconv(f, &m->d1, t, in, *H, *W);
    bconv(f, &m->d2, t2, t, *H, *W);
    bconv(f, &m->d3, out + 384 * Q, t2, *H, *W);
    if (f->run) pool3(out + 480 * Q, in, IC * f->B, *H, *W, 2, 0, IPOOL_MAX);
    *H = OH, *W = OW;
    return out;
}

static float *block_c(Fwd *f, const BlockC *m, const float *in, int H, int W, int pk) {
    size_t P = (size_t)f->B * H * W, c7 = (size_t)m->c7;
    fwd_layer(f);
    float *out = fwd_floats(f, 768 * P);
    float *t = fwd_floats(f, (size_t)m->f.c.out_c * P);
    // rows: b1 192 | s1 c7 | d1 c7 (| pool 192)
    fused_conv(f, &m->f, t, in, H, W, 192 + 2 * (int)c7);
    copy_rows(f, out, t, 192 * P);
    float *u = fwd_floats(f, c7 * P), *v = fwd_floats(f, c7 * P);
    bconv(f, &m->s2, u, t + 192 * P, H, W);
    bconv(f, &m->s3, out + 192 * P, u, H, W);
    bconv(f, &m->d2, u, t + (192 + c7) * P, H, W);
    bconv(f, &m->d3, v, u, H, W);
    bconv(f, &m->d4, u, v, H, W);
    bconv(f, &m->d5, out + 384 * P, u, H, W);
    pool_branch_out(f, &m->pool, m->pool_fused, out + 576 * P, t + (192 + 2 * c7) * P, in, 768,
                    H, W, pk);
    return out;
}

static float *block_d(Fwd *f, const BlockD *m, const float *in, int IC, int *H, int *W) {
    int OH = pool_out(*H, 3, 2, 0), OW = pool_out(*W, 3, 2, 0);
    size_t P = (size_t)f->B * *H * *W, Q = (size_t)f->B * OH * OW;
    fwd_layer(f);
    float *out = fwd_floats(f, (size_t)(512 + IC) * Q);
    float *t = fwd_floats(f, 384 * P);
    fused_conv(f, &m->f, t, in, *H, *W, 384);   // rows: a1 192 | b1 192
    bconv(f, &m->a2, out, t, *H, *W);
    float *u = fwd_floats(f, 192 * P), *v = fwd_floats(f, 192 * P);
    bconv(f, &m->b2, u, t + 192 * P, *H, *W);
    bconv(f, &m->b3, v, u, *H, *W);
    bconv(f, &m->b4, out + 320 * Q, v, *H, *W);
    if (f->run) pool3(out + 512 * Q, in, IC * f->B, *H, *W, 2, 0, IPOOL_MAX);
    *H = OH, *W = OW;
    return out;
}

static float *block_e(Fwd *f, const BlockE *m, const float *in, int IC, int H, int W, int pk) {
    size_t P = (size_t)f->B * H * W;
    fwd_layer(f);
    float *out = fwd_floats(f, 2048 * P);
    float *t = fwd_floats(f, (size_t)m->f.c.out_c * P);
    fused_conv(f, &m->f, t, in, H, W, 1152);   // rows: b1 320 | a1 384 | d1 448 (| pool 192)
    copy_rows(f, out, t, 320 * P);
    bconv(f, &m->a2a, out + 320 * P, t + 320 * P, H, W);
    bconv(f, &m->a2b, out + 704 * P, t + 320 * P, H, W);
    float *u = fwd_floats(f, 384 * P);
    bconv(f, &m->d2, u, t + 704 * P, H, W);
    bconv(f, &m->d3a, out + 1088 * P, u, H, W);
    bconv(f, &m->d3b, out + 1472 * P, u, H, W);
    pool_branch_out(f, &m->pool, m->pool_fused, out + 1856 * P, t + 1152 * P, in, IC, H, W,
                    pk);
    return out;
}


// logits = fc(pool3), logits_unbiased = pool3 . fc.weight^T; `per_sample`: one sgemm per image
// (the same shape whatever the batch: batch-independent bytes).
static void fc_head(const Inception *n, const InceptionOut *o, const float *pool3, int B,
                    int per_sample) {
    if (n->cfg.num_classes <= 0) return;
    const int K = n->cfg.num_classes;
    Linear fc = {.in_f = 2048, .out_f = K, .w = n->fc_w, .b = n->fc_b};
    Linear fu = fc;
    fu.b = NULL;
    int steps = per_sample ? B : 1, rows = per_sample ? 1 : B;
    for (int i = 0; i < steps; i++) {
        const float *x = pool3 + (size_t)i * 2048;
        if (o->logits) linear_forward(o->logits + (size_t)i * K, x, &fc, rows);
        if (o->logits_unbiased) linear_forward(o->logits_unbiased + (size_t)i * K, x, &fu, rows);
    }
}

// ---- forward, NHWC on XNNPACK (cfg.nhwc) ----------------------------------------------------
// Activations (B,H,W,C). Each branch's last conv writes its channel slice of the block output
// in place (pixel stride = the block's width, fixed when packing: pack_all); max pools write
// their slice the same way.

static XPoolKind xpool_kind(int ipool) {
    return ipool == IPOOL_MAX ? XPOOL_MAX : ipool == IPOOL_AVG_PAD ? XPOOL_AVG_PAD : XPOOL_AVG_NOPAD;
}

static void xc(Fwd *f, const BConv *b, float *out, const float *in, int H, int W) {
    if (f->run && !f->rc) f->rc = xconv_run(&b->x[f->xs], out, in, f->B, H, W, f->tp);
}

static float *nstem_conv(Fwd *f, const BConv *b, const float *in, int *H, int *W) {
    int OH, OW;
    conv2d_out_hw(&b->c, *H, *W, &OH, &OW);
    fwd_layer(f);
    float *out = fwd_floats(f, (size_t)f->B * OH * OW * b->c.out_c);
    xc(f, b, out, in, *H, *W);
    *H = OH, *W = OW;
    return out;
}

static float *nstem_maxpool(Fwd *f, const float *in, int C, int *H, int *W) {
    int OH = pool_out(*H, 3, 2, 0), OW = pool_out(*W, 3, 2, 0);
    fwd_layer(f);
    float *out = fwd_floats(f, (size_t)f->B * OH * OW * C);
    if (f->run) nhwc_pool3(out, C, in, C, f->B, *H, *W, C, 2, 0, XPOOL_MAX, NULL, f->tp);
    *H = OH, *W = OW;
    return out;
}

// The pool branch into its slice of out (stride `width`): a linear conv, then the average pool
// with the bias and ReLU (b->xlin); or the pool on the IC input channels, then the conv.
static void npool_branch(Fwd *f, const BConv *b, float *out, size_t width, const float *in, int IC,
                         int H, int W, int kind) {
    size_t P = (size_t)f->B * H * W;
    if (b->xlin) {
        int oc = b->c.out_c;
        float *t = fwd_floats(f, P * oc);
        xc(f, b, t, in, H, W);
        if (f->run && !f->rc)
            nhwc_pool3(out, width, t, (size_t)oc, f->B, H, W, oc, 1, 1, xpool_kind(kind),
                       b->xbias, f->tp);
        return;
    }
    float *t = fwd_floats(f, P * IC);
    if (f->run) nhwc_pool3(t, IC, in, IC, f->B, H, W, IC, 1, 1, xpool_kind(kind), NULL, f->tp);
    xc(f, b, out, t, H, W);
}

static float *nblock_a(Fwd *f, const BlockA *m, const float *in, int IC, int H, int W, int pk) {
    size_t P = (size_t)f->B * H * W, Ct = (size_t)224 + m->pf;
    fwd_layer(f);
    float *out = fwd_floats(f, Ct * P);
    float *t48 = fwd_floats(f, 48 * P), *t64 = fwd_floats(f, 64 * P), *t96 = fwd_floats(f, 96 * P);
    xc(f, &m->b1, out, in, H, W);
    xc(f, &m->b5_1, t48, in, H, W);
    xc(f, &m->b5_2, out + 64, t48, H, W);
    xc(f, &m->d1, t64, in, H, W);
    xc(f, &m->d2, t96, t64, H, W);
    xc(f, &m->d3, out + 128, t96, H, W);
    npool_branch(f, &m->pool, out + 224, Ct, in, IC, H, W, pk);
    return out;
}

static float *nblock_b(Fwd *f, const BlockB *m, const float *in, int IC, int *H, int *W) {
    int OH = pool_out(*H, 3, 2, 0), OW = pool_out(*W, 3, 2, 0);
    size_t P = (size_t)f->B * *H * *W, Q = (size_t)f->B * OH * OW, Ct = (size_t)480 + IC;
    fwd_layer(f);
    float *out = fwd_floats(f, Ct * Q);
    float *t64 = fwd_floats(f, 64 * P), *t96 = fwd_floats(f, 96 * P);
    xc(f, &m->b3, out, in, *H, *W);
    xc(f, &m->d1, t64, in, *H, *W);
    xc(f, &m->d2, t96, t64, *H, *W);
    xc(f, &m->d3, out + 384, t96, *H, *W);
    if (f->run) nhwc_pool3(out + 480, Ct, in, IC, f->B, *H, *W, IC, 2, 0, XPOOL_MAX, NULL, f->tp);
    *H = OH, *W = OW;
    return out;
}

static float *nblock_c(Fwd *f, const BlockC *m, const float *in, int H, int W, int pk) {
    size_t P = (size_t)f->B * H * W, c7 = (size_t)m->c7;
    fwd_layer(f);
    float *out = fwd_floats(f, 768 * P);
    float *u = fwd_floats(f, c7 * P), *v = fwd_floats(f, c7 * P);
    xc(f, &m->b1, out, in, H, W);
    xc(f, &m->s1, u, in, H, W);
    xc(f, &m->s2, v, u, H, W);
    xc(f, &m->s3, out + 192, v, H, W);
    xc(f, &m->d1, u, in, H, W);
    xc(f, &m->d2, v, u, H, W);
    xc(f, &m->d3, u, v, H, W);
    xc(f, &m->d4, v, u, H, W);
    xc(f, &m->d5, out + 384, v, H, W);
    npool_branch(f, &m->pool, out + 576, 768, in, 768, H, W, pk);
    return out;
}

static float *nblock_d(Fwd *f, const BlockD *m, const float *in, int IC, int *H, int *W) {
    int OH = pool_out(*H, 3, 2, 0), OW = pool_out(*W, 3, 2, 0);
    size_t P = (size_t)f->B * *H * *W, Q = (size_t)f->B * OH * OW, Ct = (size_t)512 + IC;
    fwd_layer(f);
    float *out = fwd_floats(f, Ct * Q);
    float *t = fwd_floats(f, 192 * P), *u = fwd_floats(f, 192 * P), *v = fwd_floats(f, 192 * P);
    xc(f, &m->a1, t, in, *H, *W);
    xc(f, &m->a2, out, t, *H, *W);
    xc(f, &m->b1, u, in, *H, *W);
    xc(f, &m->b2, v, u, *H, *W);
    xc(f, &m->b3, u, v, *H, *W);
    xc(f, &m->b4, out + 320, u, *H, *W);
    if (f->run) nhwc_pool3(out + 512, Ct, in, IC, f->B, *H, *W, IC, 2, 0, XPOOL_MAX, NULL, f->tp);
    *H = OH, *W = OW;
    return out;
}

static float *nblock_e(Fwd *f, const BlockE *m, const float *in, int IC, int H, int W, int pk) {
    size_t P = (size_t)f->B * H * W;
    fwd_layer(f);
    float *out = fwd_floats(f, 2048 * P);
    float *t = fwd_floats(f, 384 * P), *d = fwd_floats(f, 448 * P), *u = fwd_floats(f, 384 * P);
    xc(f, &m->b1, out, in, H, W);
    xc(f, &m->a1, t, in, H, W);
    xc(f, &m->a2a, out + 320, t, H, W);
    xc(f, &m->a2b, out + 704, t, H, W);
    xc(f, &m->d1, d, in, H, W);
    xc(f, &m->d2, u, d, H, W);
    xc(f, &m->d3a, out + 1088, u, H, W);
    xc(f, &m->d3b, out + 1472, u, H, W);
    npool_branch(f, &m->pool, out + 1856, 2048, in, IC, H, W, pk);
    return out;
}

// The layers of one path: channel-major im2col + OpenBLAS, or NHWC on XNNPACK.
typedef struct {
    float *(*stem_conv)(Fwd *, const BConv *, const float *, int *, int *);
    float *(*stem_maxpool)(Fwd *, const float *, int, int *, int *);
    float *(*a)(Fwd *, const BlockA *, const float *, int, int, int, int);
    float *(*b)(Fwd *, const BlockB *, const float *, int, int *, int *);
    float *(*c)(Fwd *, const BlockC *, const float *, int, int, int);
    float *(*d)(Fwd *, const BlockD *, const float *, int, int *, int *);
    float *(*e)(Fwd *, const BlockE *, const float *, int, int, int, int);
    int nhwc;
} Path;

static const Path cm_path = {stem_conv, stem_maxpool, block_a, block_b, block_c, block_d, block_e, 0};
static const Path nhwc_path = {nstem_conv, nstem_maxpool, nblock_a, nblock_b, nblock_c, nblock_d,
                               nblock_e, 1};

// torchvision transform_input, in float32 as torchvision computes it (mul, then add), on
// channel c of x at element i * stride + c * cstride.
static void transform_input(float *x, size_t n, size_t stride, size_t cstride) {
    static const double mean[3] = {0.485, 0.456, 0.406}, stdv[3] = {0.229, 0.224, 0.225};
    for (int c = 0; c < 3; c++) {
        float  s = (float)(stdv[c] / 0.5), t = (float)((mean[c] - 0.5) / 0.5);
        float *p = x + (size_t)c * cstride;
        for (size_t i = 0; i < n; i++) {
            float v = p[i * stride] * s;
            p[i * stride] = v + t;
        }
    }
}

static void forward_pass(Inception *n, Fwd *f, const float *x, InceptionOut *o) {
    const Path *P = n->cfg.nhwc ? &nhwc_path : &cm_path;
    int B = f->B, H = 299, W = 299;
    const InceptionConfig *cfg = &n->cfg;
    const size_t HW0 = (size_t)H * W;
    f->nxt = 1;
    fwd_layer(f);   // arena 0
    float *cur = fwd_floats(f, (size_t)3 * B * H * W);
    if (f->run) {
        if (P->nhwc) nchw_to_nhwc(cur, x, B, 3, H * W, 3);
        else nchw_to_cm(cur, x, B, 3, H * W);
        if (cfg->transform_input)
            transform_input(cur, B * HW0, P->nhwc ? 3 : 1, P->nhwc ? 1 : B * HW0);
    }
    cur = P->stem_conv(f, &n->c1a, cur, &H, &W);
    cur = P->stem_conv(f, &n->c2a, cur, &H, &W);
    cur = P->stem_conv(f, &n->c2b, cur, &H, &W);
    cur = P->stem_maxpool(f, cur, 64, &H, &W);
    cur = P->stem_conv(f, &n->c3b, cur, &H, &W);
    cur = P->stem_conv(f, &n->c4a, cur, &H, &W);
    cur = P->stem_maxpool(f, cur, 192, &H, &W);
    int pk = cfg->pool_branch;
    cur = P->a(f, &n->m5b, cur, 192, H, W, pk);
    cur = P->a(f, &n->m5c, cur, 256, H, W, pk);
    cur = P->a(f, &n->m5d, cur, 288, H, W, pk);
    cur = P->b(f, &n->m6a, cur, 288, &H, &W);
    cur = P->c(f, &n->m6b, cur, H, W, pk);
    cur = P->c(f, &n->m6c, cur, H, W, pk);
    cur = P->c(f, &n->m6d, cur, H, W, pk);
    cur = P->c(f, &n->m6e, cur, H, W, pk);
    if (f->run && o->mixed_6e) {
        if (P->nhwc) nhwc_to_nchw(o->mixed_6e, cur, B, 768, H * W, 768);
        else cm_to_nchw(o->mixed_6e, cur, B, 768, H * W);
    }
    cur = P->d(f, &n->m7a, cur, 768, &H, &W);
    cur = P->e(f, &n->m7b, cur, 1280, H, W, pk);
    cur = P->e(f, &n->m7c, cur, 2048, H, W, cfg->pool_7c);
    // pool3 (B,2048): mean over the 8x8 map, accumulated in double
    fwd_layer(f);
    float *pool3 = o->pool3;
    if (!pool3) pool3 = fwd_floats(f, (size_t)B * 2048);
    if (f->run && !f->rc) {
        int HW = H * W;
        // element i of (b, c): NHWC (b*HW + i)*2048 + c; channel-major (c*B + b)*HW + i
        for (int c = 0; c < 2048; c++)
            for (int b = 0; b < B; b++) {
                const float *p = P->nhwc ? cur + (size_t)b * HW * 2048 + c
                                         : cur + ((size_t)c * B + b) * HW;
                size_t step = P->nhwc ? 2048 : 1;
                double s = 0;
                for (int i = 0; i < HW; i++) s += p[(size_t)i * step];
                pool3[(size_t)b * 2048 + c] = (float)(s / HW);
            }
        fc_head(n, o, pool3, B, P->nhwc);
    }
}

// Slices a batch of B runs in: the BLAS thread count when splitting, else 1.
static int slice_count(const Inception *n, int B) {
    int nth = n->cfg.nhwc ? (n->nth ? n->nth : blas_get_threads())
                          : n->cfg.split_batch ? blas_get_threads() : 1;
    if (n->cfg.nhwc && nth > n->nsets) nth = n->nsets;   // packed sets (pack_sets)
    if (nth > MAX_SLICES) nth = MAX_SLICES;
    if (nth > B) nth = B;
    return nth < 1 ? 1 : nth;
}

static int reserve_slices(Inception *n, int B, int nth) {
    // The arenas hold slices of up to reserved_S images: a call with fewer slices of the same
    // batch has larger slices and needs more (B and nth alone do not tell).
    int S = (B + nth - 1) / nth;   // largest slice
    if (S <= n->reserved_S && nth <= n->reserved_slices) return T2I_OK;
    if (S < n->reserved_S) S = n->reserved_S;
    if (nth < n->reserved_slices) nth = n->reserved_slices;
    Arena m[2];
    arena_init_measure(&m[0]);
    arena_init_measure(&m[1]);
    Fwd f = {.a = {&m[0], &m[1]}, .run = 0, .B = S};
    InceptionOut none = {0};
    forward_pass(n, &f, NULL, &none);
    for (int i = 0; i < MAX_SLICES; i++) arena_free(&n->arena[i][0]), arena_free(&n->arena[i][1]);
    n->reserved_S = n->reserved_slices = 0;
    for (int i = 0; i < nth; i++)
        for (int k = 0; k < 2; k++)
            if (arena_init(&n->arena[i][k], m[k].high))
                return t2i_error(T2I_ENOMEM, "inception: cannot allocate %zu bytes of activations",
                                 m[k].high);
    n->reserved_S = S;
    n->reserved_slices = nth;
    return T2I_OK;
}

int inception_reserve(Inception *n, int B) {
    if (B <= 0) return t2i_error(T2I_EARG, "inception: batch %d", B);
    return reserve_slices(n, B, slice_count(n, B));
}

size_t inception_arena_bytes(const Inception *n) {
    size_t s = 0;
    for (int i = 0; i < MAX_SLICES; i++) s += n->arena[i][0].cap + n->arena[i][1].cap;
    return s;
}

typedef struct {
    Inception          *n;
    const float        *x;
    const InceptionOut *o;
    int                 B;
    int                 rc[MAX_SLICES];
} SliceJob;

static float *slice_ptr(float *p, size_t per_image, int b0) {
    return p ? p + per_image * (size_t)b0 : NULL;
}

static void slice_job(void *ctx, int ith, int nth) {
    SliceJob *j = ctx;
    int b0 = j->B * ith / nth, b1 = j->B * (ith + 1) / nth;
    if (b1 <= b0) return;
    size_t K = (size_t)j->n->cfg.num_classes;
    InceptionOut o = {.mixed_6e = slice_ptr(j->o->mixed_6e, 768 * 289, b0),
                      .pool3 = slice_ptr(j->o->pool3, 2048, b0),
                      .logits = slice_ptr(j->o->logits, K, b0),
                      .logits_unbiased = slice_ptr(j->o->logits_unbiased, K, b0)};
    Fwd f = {.a = {&j->n->arena[ith][0], &j->n->arena[ith][1]}, .run = 1, .B = b1 - b0,
             .xs = ith};
    forward_pass(j->n, &f, j->x + (size_t)b0 * 3 * 299 * 299, &o);
    j->rc[ith] = f.rc;
}

int inception_forward(Inception *n, const float *x, int B, InceptionOut *o) {
    if (!n->bound) return t2i_error(T2I_EARG, "inception: forward before weights were bound");
    if (B <= 0) return t2i_error(T2I_EARG, "inception: batch %d", B);
    if ((o->logits || o->logits_unbiased) && n->cfg.num_classes <= 0)
        return t2i_error(T2I_EARG, "inception: logits requested from a network without fc");
    int want = n->nth ? n->nth : blas_get_threads();
    if (n->cfg.nhwc && B > 1 && want > n->nsets) {   // operator sets for slices side by side
        int rc = pack_sets(n, want < B ? want : B);
        if (rc) return t2i_error_prefix(rc, "inception: packing operators for %d threads", want);
    }
    int nth = slice_count(n, B);
    int rc = reserve_slices(n, B, nth);
    if (rc) return rc;
    if (n->cfg.nhwc && nth == 1) {   // threads inside each layer; BLAS (the fc) single-threaded
        int pool = blas_get_threads() > 1 ? blas_get_threads() : 1;
        if (n->nth == 0 && pool != n->auto_nth) {   // unset: follow the BLAS thread count
            pthreadpool_destroy(n->tp);
            n->tp = xpool_create(pool);
            n->auto_nth = n->tp ? pool : 1;
        }
        Fwd f = {.a = {&n->arena[0][0], &n->arena[0][1]}, .run = 1, .B = B, .tp = n->tp};
        int saved = blas_get_threads();
        if (saved != 1) blas_set_threads(1);
        forward_pass(n, &f, x, o);
        if (saved != 1) blas_set_threads(saved);
        return f.rc;
    }
    SliceJob j = {.n = n, .x = x, .o = o, .B = B};
    if (nth == 1) {
        slice_job(&j, 0, 1);
        return j.rc[0];
    }
    // Each slice runs single-threaded (its sgemms; NHWC: its own operator set); the slices
    // run on the helper threads.
    int saved = blas_get_threads();
    blas_set_threads(1);
    t2i_parallel_n(slice_job, &j, nth);
    blas_set_threads(saved);
    for (int k = 0; k < nth; k++)
        if (j.rc[k]) return j.rc[k];
    return T2I_OK;
}

double inception_gmacs_to_pool3(void) { return 5.711168096; }
