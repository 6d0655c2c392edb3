// xtaps.c -- see xtaps.h.
#include "xtaps.h"
#include "t2i.h"

#include <math.h>
#include <string.h>

int xtaps_create(XTaps *t, const Conv2d *m, size_t in_stride) {
    memset(t, 0, sizeof *t);
    if (m->sh != 1 || m->sw != 1 || m->kh < 1 || m->kh > 16 || m->kw < 1 || m->in_c < 1 ||
        m->out_c < 1)
        return t2i_error(T2I_EARG, "xtaps: a stride-1 convolution with at most 16 kernel rows "
                                   "is needed (stride %dx%d, kernel %dx%d)",
                         m->sh, m->sw, m->kh, m->kw);
    const int K = m->kh * m->kw, CK = m->out_c * K;
    float *w = t2i_malloc((size_t)CK * m->in_c * sizeof(float));
    if (!w) return T2I_ENOMEM;
    for (int o = 0; o < m->out_c; o++)   // (o, i, ky, kx) -> (o*K + ky*kw + kx, i)
        for (int i = 0; i < m->in_c; i++)
            for (int k = 0; k < K; k++)
                w[((size_t)o * K + k) * m->in_c + i] = m->w[((size_t)o * m->in_c + i) * K + k];
    Conv2d one = {.in_c = m->in_c, .out_c = CK, .kh = 1, .kw = 1, .sh = 1, .sw = 1, .w = w};
    int rc = xconv_create(&t->taps, &one, XCONV_PLAIN, NULL, NULL, -INFINITY, INFINITY,
                          in_stride, 0);
    t2i_free(w);   // XNNPACK keeps its packed copy
    if (rc) return rc;
    t->in_c = m->in_c, t->out_c = m->out_c, t->kh = m->kh, t->kw = m->kw;
    t->ph = m->ph, t->pw = m->pw, t->bias = m->b;
    return T2I_OK;
}

void xtaps_free(XTaps *t) {
    if (!t) return;
    xconv_free(&t->taps);
    memset(t, 0, sizeof *t);
}

size_t xtaps_scratch_floats(const XTaps *t, int B, int H, int W) {
    return (size_t)B * H * W * t->out_c * t->kh * t->kw;
}

typedef struct {
    const XTaps *t;
    float       *out;
    const float *taps;
    int          H, W, OH, OW;
} SumJob;

// One output pixel: out[o] = sum of its taps (ky, then kx; those in the padding skipped) + bias.
// rows[ky] is the input row of tap row ky (NULL in the padding), kx0..kx1 the valid kx range.
static inline void sum_pixel(float *op, const float *const *rows, int kh, int kw, int kx0,
                             int kx1, int O, int K, size_t CK, int x0, const float *bias) {
    for (int o = 0; o < O; o++) {
        float s = 0.0f;
        for (int ky = 0; ky < kh; ky++) {
            if (!rows[ky]) continue;
            const float *p = rows[ky] + (size_t)o * K + ky * kw;
            for (int kx = kx0; kx < kx1; kx++) s += p[(size_t)(x0 + kx) * CK + kx];
        }
        op[o] = s + (bias ? bias[o] : 0.0f);
    }
}

// sum_pixel for a 3x3 kernel with all three columns inside the input (the same additions in the
// same order).
static inline void sum_pixel3(float *op, const float *const *rows, int O, size_t CK, int x0,
                              const float *bias) {
    for (int o = 0; o < O; o++) {
        float s = 0.0f;
        for (int ky = 0; ky < 3; ky++) {
            if (!rows[ky]) continue;
            const float *p = rows[ky] + (size_t)x0 * CK + (size_t)o * 9 + ky * 3;
            s += p[0];
            s += p[CK + 1];
            s += p[2 * CK + 2];
        }
        op[o] = s + (bias ? bias[o] : 0.0f);
    }
}

// Output rows [r0, r0 + n) of the batch (row r = image r / OH, row r % OH).
static void sum_rows(void *ctx, size_t r0, size_t n) {
    const SumJob *j = ctx;
    const XTaps  *t = j->t;
    const int     O = t->out_c, K = t->kh * t->kw, kw = t->kw;
    const size_t  CK = (size_t)O * K;
    enum { MAX_KH = 16 };
    const float *rows[MAX_KH];
    // interior columns: every kx inside the input
    const int xlo = t->pw < j->OW ? t->pw : j->OW;
    int       xhi = j->W - kw + t->pw + 1;
    if (xhi < xlo) xhi = xlo;
    for (size_t r = r0; r < r0 + n; r++) {
        const int    b = (int)(r / (size_t)j->OH), y = (int)(r % (size_t)j->OH);
        const float *img = j->taps + (size_t)b * j->H * j->W * CK;
        float       *op = j->out + r * (size_t)j->OW * O;
        for (int ky = 0; ky < t->kh; ky++) {
            const int iy = y - t->ph + ky;
            rows[ky] = iy >= 0 && iy < j->H ? img + (size_t)iy * j->W * CK : NULL;
        }
        for (int x = 0; x < j->OW; x++) {
            const int x0 = x - t->pw;   // input column of kx = 0
            int       kx0 = 0, kx1 = kw;
            if (x < xlo || x >= xhi) {
                kx0 = x0 < 0 ? -x0 : 0;
                kx1 = j->W - x0 < kw ? j->W - x0 : kw;
            }
            if (kx0 == 0 && kx1 == 3 && kw == 3 && t->kh == 3)   // the common case, unrolled
                sum_pixel3(op + (size_t)x * O, rows, O, CK, x0, t->bias);
            else
                sum_pixel(op + (size_t)x * O, rows, t->kh, kw, kx0, kx1, O, K, CK, x0, t->bias);
        }
    }
}

int xtaps_sums(const XTaps *t, float *out, const float *scratch, int B, int H, int W,
               pthreadpool_t tp) {
    SumJob j = {.t = t, .out = out, .taps = scratch, .H = H, .W = W,
                .OH = H + 2 * t->ph - t->kh + 1, .OW = W + 2 * t->pw - t->kw + 1};
    if (j.OH < 1 || j.OW < 1)
        return t2i_error(T2I_EARG, "xtaps: a %dx%d input is smaller than the %dx%d kernel", H, W,
                         t->kh, t->kw);
    XConvTimer timer = xconv_timer_start();
    pthreadpool_parallelize_1d_tile_1d(tp, sum_rows, &j, (size_t)B * j.OH, 8, 0);
    xconv_stats_add(&timer, tp, 0, 0);   // the MACs were counted by the 1x1 conv
    return T2I_OK;
}

int xtaps_run(const XTaps *t, float *out, const float *in, float *scratch, int B, int H, int W,
              pthreadpool_t tp) {
    if (H + 2 * t->ph < t->kh || W + 2 * t->pw < t->kw)
        return t2i_error(T2I_EARG, "xtaps: a %dx%d input is smaller than the %dx%d kernel", H, W,
                         t->kh, t->kw);
    int rc = xconv_run(&t->taps, scratch, in, B, H, W, tp);
    return rc ? rc : xtaps_sums(t, out, scratch, B, H, W, tp);
}
