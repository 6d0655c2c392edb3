// damsm_image.c -- see damsm_image.h.
#include "damsm_image.h"

#include "blas.h"
#include "ops.h"
#include "resize.h"
#include "t2i.h"

#include <math.h>
#include <string.h>

int damsm_image_init(DamsmImage *m, int nef) {
    memset(m, 0, sizeof *m);
    if (nef <= 0) return t2i_error(T2I_EARG, "CNN_ENCODER: nef %d", nef);
    m->nef = nef;
    InceptionConfig cfg;
    inception_config(&cfg, INCEPTION_TORCHVISION);
    cfg.num_classes = 0;    // CNN_ENCODER keeps no fc
    cfg.aux_logits = 0;     // nor AuxLogits
    int rc = inception_create(&cfg, &m->trunk);
    if (rc) return rc;
    BindList *bl = inception_keys(m->trunk);
    int sf[4] = {nef, 768, 1, 1}, sc[2] = {nef, 2048};
    bind_param(bl, &m->emb_features_w, 4, sf, "emb_features.weight");
    bind_param(bl, &m->emb_cnn_code_w, 2, sc, "emb_cnn_code.weight");
    bind_param(bl, &m->emb_cnn_code_b, 1, &nef, "emb_cnn_code.bias");
    if (bl->failed) {
        damsm_image_free(m);
        return t2i_error(T2I_ENOMEM, "CNN_ENCODER: out of memory declaring keys");
    }
    return T2I_OK;
}

void damsm_image_free(DamsmImage *m) {
    if (!m) return;
    inception_free(m->trunk);
    xconv_free(&m->emb);
    t2i_free(m->nhwc);
    t2i_free(m->x299);
    t2i_free(m->mixed_6e);
    t2i_free(m->pool);
    memset(m, 0, sizeof *m);
}

BindList *damsm_image_keys(DamsmImage *m) { return inception_keys(m->trunk); }

// emb_features as an NHWC 1x1 conv (no bias) when the trunk runs NHWC.
static int pack_emb(DamsmImage *m, int on) {
    xconv_free(&m->emb);
    if (!on) return T2I_OK;
    Conv2d c = {.in_c = 768, .out_c = m->nef, .kh = 1, .kw = 1, .sh = 1, .sw = 1,
                .w = m->emb_features_w};
    return xconv_create(&m->emb, &c, XCONV_PLAIN, NULL, NULL, -INFINITY, INFINITY, 0, 0);
}

int damsm_image_bind(DamsmImage *m, StateDict *sd, const char *what) {
    int rc = inception_bind(m->trunk, sd, what);
    if (!rc) rc = pack_emb(m, 1);
    return rc;
}

int damsm_image_set_nhwc(DamsmImage *m, int on) {
    int rc = inception_set_nhwc(m->trunk, on);
    if (!rc) rc = pack_emb(m, on);
    return rc;
}

int damsm_image_reserve(DamsmImage *m, int B) {
    if (B <= 0) return t2i_error(T2I_EARG, "CNN_ENCODER: batch %d", B);
    if (B <= m->max_B) return T2I_OK;
    t2i_free(m->x299), t2i_free(m->mixed_6e), t2i_free(m->pool), t2i_free(m->nhwc);
    m->nhwc = t2i_malloc_aligned((size_t)B * 289 * (768 + m->nef) * sizeof(float));
    m->x299 = t2i_malloc_aligned((size_t)B * 3 * 299 * 299 * sizeof(float));
    m->mixed_6e = t2i_malloc_aligned((size_t)B * 768 * 17 * 17 * sizeof(float));
    m->pool = t2i_malloc_aligned((size_t)B * 2048 * sizeof(float));
    m->max_B = 0;
    if (!m->x299 || !m->mixed_6e || !m->pool || !m->nhwc) return T2I_ENOMEM;
    int rc = inception_reserve(m->trunk, B);
    if (rc) return rc;
    m->max_B = B;
    return T2I_OK;
}

size_t damsm_image_bytes(const DamsmImage *m) {
    return inception_arena_bytes(m->trunk) +
           (size_t)m->max_B * (3 * 299 * 299 + 768 * 17 * 17 + 2048 + 289 * (768 + (size_t)m->nef)) *
               sizeof(float);
}

// The resize to 299 split by planes over the helper threads (blas.h t2i_parallel).
typedef struct {
    float       *out;
    const float *in;
    int          planes, H, W, ac;
} ResizeJob;

static void resize_job(void *ctx, int ith, int nth) {
    const ResizeJob *j = ctx;
    int p0 = j->planes * ith / nth, p1 = j->planes * (ith + 1) / nth;
    if (p1 > p0)
        resize_bilinear_torch(j->out + (size_t)p0 * 299 * 299, j->in + (size_t)p0 * j->H * j->W,
                              p1 - p0, j->H, j->W, 299, 299, j->ac);
}

int damsm_image_forward(DamsmImage *m, const float *x, int B, int H, int W, DamsmImageOut *o) {
    if (H <= 0 || W <= 0) return t2i_error(T2I_EARG, "CNN_ENCODER: image %dx%d", H, W);
    int rc = damsm_image_reserve(m, B);
    if (rc) return rc;
    if (H == 299 && W == 299 && !m->align_corners) {
        memcpy(m->x299, x, (size_t)B * 3 * 299 * 299 * sizeof(float));   // identity resize
    } else {
        ResizeJob j = {.out = m->x299, .in = x, .planes = B * 3, .H = H, .W = W,
                       .ac = m->align_corners};
        t2i_parallel(resize_job, &j);
    }
    InceptionOut io = {.mixed_6e = m->mixed_6e, .pool3 = m->pool};
    if ((rc = inception_forward(m->trunk, m->x299, B, &io))) return rc;
    int saved = blas_get_threads();   // per-image sgemms, single-threaded: batch- and
    if (xconv_packed(&m->emb) && saved != 1) blas_set_threads(1);   // thread-independent bytes
    if (o->features && xconv_packed(&m->emb)) {
        float *t = m->nhwc, *u = t + (size_t)B * 289 * 768;
        nchw_to_nhwc(t, m->mixed_6e, B, 768, 289, 768);
        rc = xconv_run(&m->emb, u, t, B, 17, 17, inception_threadpool(m->trunk));
        if (!rc) nhwc_to_nchw(o->features, u, B, m->nef, 289, (size_t)m->nef);
    } else if (o->features) {
        // emb_features: 1x1 conv, no bias: per image (nef,768) x (768,289)
        Conv2d c = {.in_c = 768, .out_c = m->nef, .kh = 1, .kw = 1, .sh = 1, .sw = 1,
                    .w = m->emb_features_w};
        conv2d_forward(o->features, m->mixed_6e, &c, B, 17, 17, NULL);
    }
    if (o->cnn_code && !rc) {
        Linear l = {.in_f = 2048, .out_f = m->nef, .w = m->emb_cnn_code_w, .b = m->emb_cnn_code_b};
        int steps = xconv_packed(&m->emb) ? B : 1, rows = xconv_packed(&m->emb) ? 1 : B;
        for (int i = 0; i < steps; i++)
            linear_forward(o->cnn_code + (size_t)i * m->nef, m->pool + (size_t)i * 2048, &l, rows);
    }
    if (xconv_packed(&m->emb) && saved != 1) blas_set_threads(saved);
    if (rc) return rc;
    if (o->x299) memcpy(o->x299, m->x299, (size_t)B * 3 * 299 * 299 * sizeof(float));
    if (o->mixed_6e) memcpy(o->mixed_6e, m->mixed_6e, (size_t)B * 768 * 289 * sizeof(float));
    if (o->pool) memcpy(o->pool, m->pool, (size_t)B * 2048 * sizeof(float));
    return T2I_OK;
}
