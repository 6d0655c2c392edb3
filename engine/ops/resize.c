// resize.c -- see resize.h.
#include "resize.h"

#include <assert.h>
#include <math.h>
#include <string.h>

// ---- torch bilinear ------------------------------------------------------------------------

// torch 1.13 compute_source_index_and_lambda, as the CPU kernel actually evaluates it (checked
// bit for bit against the damsm_image_encoder x299 fixture): the scale is rounded to float32,
// the source coordinate is computed in double, the weight rounded once to float32.
static void torch_axis(int in, int out, int ac, int d, int *i0, int *i1, float *l0, float *l1) {
    if (in == out) {
        *i0 = *i1 = d;
        *l0 = 1.0f, *l1 = 0.0f;
        return;
    }
    float  scale = ac ? (out > 1 ? (float)(in - 1) / (float)(out - 1) : 0.0f)
                      : (float)in / (float)out;
    double src;
    if (ac) {
        src = (double)scale * d;
    } else {
        src = (double)scale * (d + 0.5) - 0.5;
        if (src < 0.0) src = 0.0;
    }
    int x0 = (int)src;
    *i0 = x0;
    *i1 = x0 + (x0 < in - 1 ? 1 : 0);
    float l = (float)(src - x0);
    if (l < 0.0f) l = 0.0f;
    if (l > 1.0f) l = 1.0f;
    *l1 = l;
    *l0 = 1.0f - l;
}

// Columns whose source indices and weights are computed at once (a stack table per chunk).
#define TORCH_COLS 256

// t0 = x00*w0 + x01*w1 with the first product fused (PyTorch's compiled kernel contracts
// `t0 * w0 + t1 * w1` into fma(t0, w0, t1 * w1)); the same for the rows. fmaf is exact in
// every clone; the "fma" one inlines it (the default one calls libm). The clones are static
// behind a plain entry point: clang 14 emits a target_clones dispatcher only in a translation
// unit that calls the function.
__attribute__((target_clones("fma", "default"))) static void
bilinear_torch_clones(float *out, const float *in, int N, int H, int W, int OH, int OW,
                      int align_corners) {
    assert(out != in);
    int   x0[TORCH_COLS], x1[TORCH_COLS];
    float w0[TORCH_COLS], w1[TORCH_COLS];
    for (int c0 = 0; c0 < OW; c0 += TORCH_COLS) {
        int nc = OW - c0 < TORCH_COLS ? OW - c0 : TORCH_COLS;
        for (int i = 0; i < nc; i++)
            torch_axis(W, OW, align_corners, c0 + i, &x0[i], &x1[i], &w0[i], &w1[i]);
        for (int oy = 0; oy < OH; oy++) {
            int   y0, y1;
            float h0, h1;
            torch_axis(H, OH, align_corners, oy, &y0, &y1, &h0, &h1);
            for (int n = 0; n < N; n++) {
                const float *r0 = in + ((size_t)n * H + y0) * W;
                const float *r1 = in + ((size_t)n * H + y1) * W;
                float       *o = out + ((size_t)n * OH + oy) * OW + c0;
                for (int i = 0; i < nc; i++) {
                    float t0 = fmaf(r0[x0[i]], w0[i], r0[x1[i]] * w1[i]);
                    float t1 = fmaf(r1[x0[i]], w0[i], r1[x1[i]] * w1[i]);
                    o[i] = fmaf(t0, h0, t1 * h1);
                }
            }
        }
    }
}

void resize_bilinear_torch(float *out, const float *in, int N, int H, int W, int OH, int OW,
                           int align_corners) {
    bilinear_torch_clones(out, in, N, H, W, OH, OW, align_corners);
}

// ---- TF1 ResizeBilinear (legacy scaler) ----------------------------------------------------

static void tf1_axis(int in, int out, int d, int *lo, int *hi, float *lerp) {
    float scale = (float)in / (float)out;
    float src = (float)d * scale;
    float f = floorf(src);
    int   l = (int)f, h = (int)ceilf(src);
    *lo = l < 0 ? 0 : l;
    *hi = h < in - 1 ? h : in - 1;
    *lerp = src - f;
}

void resize_bilinear_tf1(float *out, const float *in, int N, int H, int W, int OH, int OW) {
    assert(out != in);
    for (int oy = 0; oy < OH; oy++) {
        int   y0, y1;
        float ly;
        tf1_axis(H, OH, oy, &y0, &y1, &ly);
        for (int ox = 0; ox < OW; ox++) {
            int   x0, x1;
            float lx;
            tf1_axis(W, OW, ox, &x0, &x1, &lx);
            for (int n = 0; n < N; n++) {
                const float *p = in + (size_t)n * H * W;
                float tl = p[(size_t)y0 * W + x0], tr = p[(size_t)y0 * W + x1];
                float bl = p[(size_t)y1 * W + x0], br = p[(size_t)y1 * W + x1];
                float top = tl + (tr - tl) * lx;
                float bottom = bl + (br - bl) * lx;
                out[((size_t)n * OH + oy) * OW + ox] = top + (bottom - top) * ly;
            }
        }
    }
}

// ---- PIL bilinear on uint8 -----------------------------------------------------------------

#define PIL_PRECISION_BITS (32 - 8 - 2)

static double pil_triangle(double x) {
    if (x < 0.0) x = -x;
    return x < 1.0 ? 1.0 - x : 0.0;
}

static int pil_ksize(int in, int out) {
    double scale = (double)in / out, fs = scale < 1.0 ? 1.0 : scale;
    return (int)ceil(1.0 * fs) * 2 + 1;
}

// Pillow precompute_coeffs + normalize_coeffs_8bpc:
// bounds (out,2) = (xmin, count), kk (out, ksize).
static void pil_coeffs(int in, int out, int ksize, int *bounds, int *kk) {
    double scale = (double)in / out, fs = scale < 1.0 ? 1.0 : scale;
    double support = 1.0 * fs, ss = 1.0 / fs;
    for (int xx = 0; xx < out; xx++) {
        double center = (xx + 0.5) * scale;
        int    xmin = (int)(center - support + 0.5);
        if (xmin < 0) xmin = 0;
        int xmax = (int)(center + support + 0.5);
        if (xmax > in) xmax = in;
        xmax -= xmin;
        double ww = 0.0;
        for (int x = 0; x < xmax; x++) ww += pil_triangle((x + xmin - center + 0.5) * ss);
        int *k = kk + (size_t)xx * ksize;
        for (int x = 0; x < ksize; x++) {
            double w = x < xmax ? pil_triangle((x + xmin - center + 0.5) * ss) : 0.0;
            if (x < xmax && ww != 0.0) w /= ww;
            k[x] = w < 0 ? (int)(-0.5 + w * (1 << PIL_PRECISION_BITS))
                         : (int)(0.5 + w * (1 << PIL_PRECISION_BITS));
        }
        bounds[2 * xx] = xmin;
        bounds[2 * xx + 1] = xmax;
    }
}

static uint8_t pil_clip8(int v) {
    if (v < 0) return 0;
    v >>= PIL_PRECISION_BITS;
    return v > 255 ? 255 : (uint8_t)v;
}

typedef struct {
    int     kh, kv;               // ksize horizontal / vertical
    int    *bh, *kkh, *bv, *kkv;
    uint8_t *tmp;
} PilPlan;

static size_t pil_layout(int H, int W, int C, int OH, int OW, PilPlan *p, void *base) {
    p->kh = pil_ksize(W, OW);
    p->kv = pil_ksize(H, OH);
    size_t off = 0;
    char  *b = base;
#define PIL_TAKE(ptr, type, count)                                    \
    do {                                                              \
        (ptr) = base ? (type *)(void *)(b + off) : NULL;              \
        off += ((size_t)(count) * sizeof(type) + 15) & ~(size_t)15;   \
    } while (0)
    PIL_TAKE(p->bh, int, 2 * (size_t)OW);
    PIL_TAKE(p->kkh, int, (size_t)OW * p->kh);
    PIL_TAKE(p->bv, int, 2 * (size_t)OH);
    PIL_TAKE(p->kkv, int, (size_t)OH * p->kv);
    PIL_TAKE(p->tmp, uint8_t, (size_t)H * OW * C);
#undef PIL_TAKE
    return off;
}

size_t resize_pil_scratch_bytes(int H, int W, int C, int OH, int OW) {
    PilPlan p;
    return pil_layout(H, W, C, OH, OW, &p, NULL);
}

void resize_bilinear_pil_u8(uint8_t *out, const uint8_t *in, int H, int W, int C, int OH, int OW,
                            void *scratch) {
    assert(out != in);
    if (H == OH && W == OW) {   // Image.resize returns a copy
        memcpy(out, in, (size_t)H * W * C);
        return;
    }
    PilPlan p;
    pil_layout(H, W, C, OH, OW, &p, scratch);
    pil_coeffs(W, OW, p.kh, p.bh, p.kkh);
    pil_coeffs(H, OH, p.kv, p.bv, p.kkv);
    int need_h = OW != W, need_v = OH != H;
    // Rows of the source the vertical pass reads.
    int y_first = p.bv[0], y_last = p.bv[2 * OH - 2] + p.bv[2 * OH - 1];
    const uint8_t *src = in;
    int            sh = H, sw = W, y_off = 0;
    if (need_h) {
        int rows = y_last - y_first;
        for (int y = 0; y < rows; y++)
            for (int xx = 0; xx < OW; xx++) {
                int        xmin = p.bh[2 * xx], xmax = p.bh[2 * xx + 1];
                const int *k = p.kkh + (size_t)xx * p.kh;
                for (int c = 0; c < C; c++) {
                    int ss = 1 << (PIL_PRECISION_BITS - 1);
                    for (int x = 0; x < xmax; x++)
                        ss += in[((size_t)(y + y_first) * W + x + xmin) * C + c] * k[x];
                    p.tmp[((size_t)y * OW + xx) * C + c] = pil_clip8(ss);
                }
            }
        src = p.tmp, sh = rows, sw = OW, y_off = y_first;
        if (!need_v) {
            memcpy(out, p.tmp, (size_t)OH * OW * C);
            return;
        }
    }
    (void)sh;
    for (int yy = 0; yy < OH; yy++) {
        int        ymin = p.bv[2 * yy] - y_off, ymax = p.bv[2 * yy + 1];
        const int *k = p.kkv + (size_t)yy * p.kv;
        for (int xx = 0; xx < sw; xx++)
            for (int c = 0; c < C; c++) {
                int ss = 1 << (PIL_PRECISION_BITS - 1);
                for (int y = 0; y < ymax; y++)
                    ss += src[((size_t)(y + ymin) * sw + xx) * C + c] * k[y];
                out[((size_t)yy * OW + xx) * C + c] = pil_clip8(ss);
            }
    }
}

// ---- quantization and mappings -------------------------------------------------------------

static uint8_t quant1(float x, Quantize mode) {
    float v = (x + 1.0f) * 127.5f;
    if (!(v > 0.0f)) return 0;   // also NaN
    if (v >= 255.0f) return 255;
    if (mode == QUANTIZE_ROUND) return (uint8_t)nearbyintf(v);
    return (uint8_t)v;   // truncation toward zero
}

void quantize_u8(uint8_t *out, const float *in, size_t n, Quantize mode) {
    assert(mode == QUANTIZE_ROUND || mode == QUANTIZE_TRUNCATE);
    for (size_t i = 0; i < n; i++) out[i] = quant1(in[i], mode);
}

void quantize_pm1(float *out, const float *in, size_t n, Quantize mode) {
    if (mode == QUANTIZE_NONE) {
        if (out != in) memmove(out, in, n * sizeof(float));
        return;
    }
    for (size_t i = 0; i < n; i++) out[i] = (float)quant1(in[i], mode) / 127.5f - 1.0f;
}

static float map1(uint8_t x, U8Map map) {
    float v = (float)x;
    switch (map) {
    case U8_PM1_127: return v / 127.5f - 1.0f;
    case U8_UNIT: return v / 255.0f;
    case U8_PM1_NORM: return (v / 255.0f - 0.5f) / 0.5f;
    case U8_TF_128: return (v - 128.0f) / 128.0f;
    default: return v;
    }
}

void u8_to_float(float *out, const uint8_t *in, size_t n, U8Map map) {
    for (size_t i = 0; i < n; i++) out[i] = map1(in[i], map);
}

void hwc_u8_to_chw_float(float *out, const uint8_t *in, int H, int W, U8Map map) {
    size_t HW = (size_t)H * W;
    for (size_t i = 0; i < HW; i++)
        for (int c = 0; c < 3; c++) out[c * HW + i] = map1(in[i * 3 + c], map);
}

void chw_pm1_to_hwc_u8(uint8_t *out, const float *in, int H, int W, Quantize mode) {
    size_t HW = (size_t)H * W;
    for (size_t i = 0; i < HW; i++)
        for (int c = 0; c < 3; c++) out[i * 3 + c] = quant1(in[c * HW + i], mode);
}
