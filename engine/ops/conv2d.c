// conv2d.c -- Conv2d (groups 1, dilation 1) as im2col + sgemm; 1x1/stride 1/pad 0 convolutions
// multiply the input directly. conv2d_forward_ref is the direct 7-loop twin.
#include "blas.h"
#include "ops.h"
#include "t2i.h"

#include <assert.h>
#include <string.h>

void conv2d_out_hw(const Conv2d *m, int H, int W, int *OH, int *OW) {
    *OH = (H + 2 * m->ph - m->kh) / m->sh + 1;
    *OW = (W + 2 * m->pw - m->kw) / m->sw + 1;
}

static int conv_is_pointwise(const Conv2d *m) {
    return m->kh == 1 && m->kw == 1 && m->sh == 1 && m->sw == 1 && m->ph == 0 && m->pw == 0;
}

size_t conv2d_scratch_floats(const Conv2d *m, int H, int W) {
    if (conv_is_pointwise(m)) return 0;
    int OH, OW;
    conv2d_out_hw(m, H, W, &OH, &OW);
    size_t rows, n;
    T2I_CHECK(t2i_mul_size((size_t)m->in_c * m->kh, (size_t)m->kw, &rows) &&
                  t2i_mul_size(rows, (size_t)OH * (size_t)OW, &n),
              "conv2d scratch size overflow");
    return n;
}

// One im2col plane: the OH x OW values of kernel tap (i, j) over one input plane src (H,W),
// d[oh][ow] = src[oh*sh-ph+i][ow*sw-pw+j], 0 outside.
static void im2col_plane(float *d0, const float *src, const Conv2d *m, int H, int W, int OH,
                         int OW, int i, int j) {
    // valid ow range: 0 <= ow*sw - pw + j < W
    int ow_lo = 0, ow_hi = OW;   // [ow_lo, ow_hi)
    while (ow_lo < OW && ow_lo * m->sw - m->pw + j < 0) ow_lo++;
    while (ow_hi > ow_lo && (ow_hi - 1) * m->sw - m->pw + j >= W) ow_hi--;
    for (int oh = 0; oh < OH; oh++) {
        float *d = d0 + (size_t)oh * OW;
        int    ih = oh * m->sh - m->ph + i;
        if (ih < 0 || ih >= H) {
            memset(d, 0, sizeof(float) * (size_t)OW);
            continue;
        }
        const float *s = src + (size_t)ih * W;
        for (int ow = 0; ow < ow_lo; ow++) d[ow] = 0.0f;
        if (m->sw == 1) {
            if (ow_hi > ow_lo)
                memcpy(d + ow_lo, s + ow_lo - m->pw + j, sizeof(float) * (size_t)(ow_hi - ow_lo));
        } else {
            for (int ow = ow_lo; ow < ow_hi; ow++) d[ow] = s[ow * m->sw - m->pw + j];
        }
        for (int ow = ow_hi; ow < OW; ow++) d[ow] = 0.0f;
    }
}

// in (IC,H,W) -> col (IC*KH*KW, OH*OW): row (c,i,j) holds in[c][oh*sh-ph+i][ow*sw-pw+j], 0 outside.
static void im2col(float *col, const float *in, const Conv2d *m, int H, int W, int OH, int OW) {
    for (int c = 0; c < m->in_c; c++)
        for (int i = 0; i < m->kh; i++)
            for (int j = 0; j < m->kw; j++)
                im2col_plane(col + ((size_t)(c * m->kh + i) * m->kw + j) * OH * OW,
                             in + (size_t)c * H * W, m, H, W, OH, OW, i, j);
}

// in (B,IC,H,W) w (OC,IC,KH,KW) -> out (B,OC,OH,OW)
void conv2d_forward(float *out, const float *in, const Conv2d *m, int B, int H, int W,
                    float *scratch) {
    assert(out != in && B > 0);
    int OH, OW;
    conv2d_out_hw(m, H, W, &OH, &OW);
    int    K   = m->in_c * m->kh * m->kw;
    int    N   = OH * OW;
    int    pw  = conv_is_pointwise(m);
    size_t isz = (size_t)m->in_c * H * W, osz = (size_t)m->out_c * N;
    for (int b = 0; b < B; b++) {
        const float *x = in + (size_t)b * isz;
        float       *y = out + (size_t)b * osz;
        const float *col = x;
        if (!pw) {
            assert(scratch);
            im2col(scratch, x, m, H, W, OH, OW);
            col = scratch;
        }
        float beta = 0.0f;
        if (m->b) {
            for (int oc = 0; oc < m->out_c; oc++) {
                float *yo = y + (size_t)oc * N;
                for (int n = 0; n < N; n++) yo[n] = m->b[oc];
            }
            beta = 1.0f;
        }
        sgemm(0, 0, m->out_c, N, K, 1.0f, m->w, K, col, N, beta, y, N);
    }
}

void conv2d_forward_ref(float *out, const float *in, const Conv2d *m, int B, int H, int W) {
    int OH, OW;
    conv2d_out_hw(m, H, W, &OH, &OW);
    for (int b = 0; b < B; b++)
        for (int oc = 0; oc < m->out_c; oc++)
            for (int oh = 0; oh < OH; oh++)
                for (int ow = 0; ow < OW; ow++) {
                    double acc = m->b ? m->b[oc] : 0.0;
                    for (int c = 0; c < m->in_c; c++)
                        for (int i = 0; i < m->kh; i++) {
                            int ih = oh * m->sh - m->ph + i;
                            if (ih < 0 || ih >= H) continue;
                            for (int j = 0; j < m->kw; j++) {
                                int iw = ow * m->sw - m->pw + j;
                                if (iw < 0 || iw >= W) continue;
                                acc += (double)in[(((size_t)b * m->in_c + c) * H + ih) * W + iw] *
                                       (double)m->w[(((size_t)oc * m->in_c + c) * m->kh + i) *
                                                        m->kw + j];
                            }
                        }
                    out[(((size_t)b * m->out_c + oc) * OH + oh) * OW + ow] = (float)acc;
                }
}

// ---- channel-major (C,B,H,W) -------------------------------------------------------------

// Images per sgemm: enough columns for an efficient sgemm, few enough to bound the scratch.
#define CM_COLS 8192
static int cm_images_per_chunk(int B, int OHW) {
    size_t total = (size_t)B * OHW;
    int nchunks = (int)((total + CM_COLS - 1) / CM_COLS);
    if (nchunks < 1) nchunks = 1;
    if (nchunks > B) nchunks = B;
    return (B + nchunks - 1) / nchunks;
}

size_t conv2d_cm_scratch_floats(const Conv2d *m, int B, int H, int W) {
    if (conv_is_pointwise(m)) return 0;
    int OH, OW;
    conv2d_out_hw(m, H, W, &OH, &OW);
    int ipc = cm_images_per_chunk(B, OH * OW);
    size_t rows, n;
    T2I_CHECK(t2i_mul_size((size_t)m->in_c * m->kh, (size_t)m->kw, &rows) &&
                  t2i_mul_size(rows, (size_t)ipc * OH * OW, &n),
              "conv2d scratch size overflow");
    return n;
}

// 4-wide vectors through GCC vector extensions: the generic x86-64 -O2 build does not
// auto-vectorize these loops, and they run over every activation.
typedef float v4f __attribute__((vector_size(16)));
typedef int   v4i __attribute__((vector_size(16)));
static inline v4f ld4(const float *p) {
    v4f v;
    memcpy(&v, p, sizeof v);
    return v;
}
static inline void st4(float *p, v4f v) { memcpy(p, &v, sizeof v); }
// max(v, 0) with NaN -> 0 on both paths (the scalar tail below does the same)
static inline v4f relu4(v4f v) {
    v4f z = {0, 0, 0, 0};
    return (v4f)((v4i)v & (v > z));
}

// y = (y + b) + t, y = y + c, or y = (y + b - mu) * s + t; then ReLU when asked.
static void epilogue_row(float *y, size_t n, float b, float mu, float s, float t, int mode,
                         int relu) {
    size_t i = 0;
    if (mode == 0) {   // one add (c = b + t with one of them 0)
        float c = b + t;
        v4f   cv = {c, c, c, c};
        if (relu) {
            for (; i + 4 <= n; i += 4) st4(y + i, relu4(ld4(y + i) + cv));
            for (; i < n; i++) {
                float v = y[i] + c;
                y[i] = v > 0.0f ? v : 0.0f;
            }
        } else {
            for (; i + 4 <= n; i += 4) st4(y + i, ld4(y + i) + cv);
            for (; i < n; i++) y[i] += c;
        }
        return;
    }
    if (mode == 1) {   // conv bias and folded shift: two adds
        v4f bv = {b, b, b, b}, tv = {t, t, t, t};
        for (; i + 4 <= n; i += 4) st4(y + i, (ld4(y + i) + bv) + tv);
        for (; i < n; i++) y[i] = (y[i] + b) + t;
    } else {   // unfolded BatchNorm: (x - mean) * (gamma / sqrt(var + eps)) + beta
        v4f bv = {b, b, b, b}, mv = {mu, mu, mu, mu}, sv = {s, s, s, s}, tv = {t, t, t, t};
        for (; i + 4 <= n; i += 4) st4(y + i, (ld4(y + i) + bv - mv) * sv + tv);
        for (; i < n; i++) y[i] = (y[i] + b - mu) * s + t;
    }
    if (relu) {
        for (i = 0; i + 4 <= n; i += 4) st4(y + i, relu4(ld4(y + i)));
        for (; i < n; i++) y[i] = y[i] > 0.0f ? y[i] : 0.0f;
    }
}

static void conv_epilogue(float *out, const Conv2d *m, const ConvEpilogue *ep, size_t n) {
    const float *mean = ep ? ep->mean : NULL, *scale = ep ? ep->scale : NULL;
    const float *shift = ep ? ep->shift : NULL;
    int relu = ep ? ep->relu : 0;
    if (!m->b && !mean && !scale && !shift && !relu) return;
    int mode = (mean || scale) ? 2 : (m->b && shift) ? 1 : 0;
    for (int oc = 0; oc < m->out_c; oc++)
        epilogue_row(out + (size_t)oc * n, n, m->b ? m->b[oc] : 0.0f, mean ? mean[oc] : 0.0f,
                     scale ? scale[oc] : 1.0f, shift ? shift[oc] : 0.0f, mode, relu);
}

// in (IC,B,H,W): columns [b0, b0+nb) of channels [c0, c1) -> col (IC*KH*KW, nb*OH*OW).
static void im2col_cm(float *col, const float *in, const Conv2d *m, int B, int H, int W, int OH,
                      int OW, int b0, int nb, int c0, int c1) {
    size_t ncols = (size_t)nb * OH * OW;
    for (int c = c0; c < c1; c++)
        for (int i = 0; i < m->kh; i++)
            for (int j = 0; j < m->kw; j++) {
                float *row = col + ((size_t)(c * m->kh + i) * m->kw + j) * ncols;
                for (int b = 0; b < nb; b++)
                    im2col_plane(row + (size_t)b * OH * OW, in + ((size_t)c * B + b0 + b) * H * W,
                                 m, H, W, OH, OW, i, j);
            }
}

// The memory-bound parts split over the helper threads (blas.h t2i_parallel).
typedef struct {
    float        *col, *out;
    const float  *in;
    const Conv2d *m;
    const ConvEpilogue *ep;
    int           B, H, W, OH, OW, b0, nb;
    size_t        n;
} CmJob;

static void im2col_job(void *p, int ith, int nth) {
    const CmJob *j = p;
    int c0 = (int)((long)j->m->in_c * ith / nth), c1 = (int)((long)j->m->in_c * (ith + 1) / nth);
    im2col_cm(j->col, j->in, j->m, j->B, j->H, j->W, j->OH, j->OW, j->b0, j->nb, c0, c1);
}

static void epilogue_job(void *p, int ith, int nth) {
    const CmJob *j = p;
    int o0 = (int)((long)j->m->out_c * ith / nth), o1 = (int)((long)j->m->out_c * (ith + 1) / nth);
    if (o1 <= o0) return;
    Conv2d       sub = *j->m;
    ConvEpilogue e = j->ep ? *j->ep : (ConvEpilogue){0};
    sub.out_c = o1 - o0;
    if (sub.b) sub.b += o0;
    if (e.mean) e.mean += o0;
    if (e.scale) e.scale += o0;
    if (e.shift) e.shift += o0;
    conv_epilogue(j->out + (size_t)o0 * j->n, &sub, &e, j->n);
}

void conv_epilogue_apply(float *out, int C, size_t n, const ConvEpilogue *ep) {
    Conv2d m = {.out_c = C};
    CmJob  j = {.out = out, .m = &m, .ep = ep, .n = n};
    t2i_parallel(epilogue_job, &j);
}

// Plain twin of conv_epilogue_apply: one formula per element, no vectors, no threads.
void conv_epilogue_apply_ref(float *out, int C, size_t n, const ConvEpilogue *ep) {
    if (!ep) return;
    for (int c = 0; c < C; c++) {
        float mu = ep->mean ? ep->mean[c] : 0.0f, s = ep->scale ? ep->scale[c] : 1.0f;
        float t = ep->shift ? ep->shift[c] : 0.0f;
        float *y = out + (size_t)c * n;
        for (size_t i = 0; i < n; i++) {
            float v = (y[i] - mu) * s + t;
            y[i] = ep->relu && !(v > 0.0f) ? 0.0f : v;
        }
    }
}

// in (IC,B,H,W) w (OC,IC,KH,KW) -> out (OC,B,OH,OW)
void conv2d_forward_cm(float *out, const float *in, const Conv2d *m, const ConvEpilogue *ep,
                       int B, int H, int W, float *scratch) {
    assert(out != in && B > 0);
    int OH, OW;
    conv2d_out_hw(m, H, W, &OH, &OW);
    int    K   = m->in_c * m->kh * m->kw;
    int    OHW = OH * OW;
    size_t N   = (size_t)B * OHW;
    if (conv_is_pointwise(m)) {
        sgemm(0, 0, m->out_c, (int)N, K, 1.0f, m->w, K, in, (int)N, 0.0f, out, (int)N);
    } else {
        assert(scratch);
        int ipc = cm_images_per_chunk(B, OHW);
        for (int b0 = 0; b0 < B; b0 += ipc) {
            int nb = B - b0 < ipc ? B - b0 : ipc;
            CmJob j = {.col = scratch, .in = in, .m = m, .B = B, .H = H, .W = W, .OH = OH,
                       .OW = OW, .b0 = b0, .nb = nb};
            t2i_parallel(im2col_job, &j);
            sgemm(0, 0, m->out_c, nb * OHW, K, 1.0f, m->w, K, scratch, nb * OHW, 0.0f,
                  out + (size_t)b0 * OHW, (int)N);
        }
    }
    if (m->b || ep) {
        CmJob j = {.out = out, .m = m, .ep = ep, .n = N};
        t2i_parallel(epilogue_job, &j);
    }
}

void nchw_to_cm(float *out, const float *in, int B, int C, int HW) {
    for (int b = 0; b < B; b++)
        for (int c = 0; c < C; c++)
            memcpy(out + ((size_t)c * B + b) * HW, in + ((size_t)b * C + c) * HW,
                   sizeof(float) * (size_t)HW);
}

void cm_to_nchw(float *out, const float *in, int B, int C, int HW) {
    for (int b = 0; b < B; b++)
        for (int c = 0; c < C; c++)
            memcpy(out + ((size_t)b * C + c) * HW, in + ((size_t)c * B + b) * HW,
                   sizeof(float) * (size_t)HW);
}
