// xconv.c -- see xconv.h.
#include "xconv.h"

#include "blas.h"
#include "t2i.h"
#include "xwino.h"

#include <assert.h>
#include <cpuinfo.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <xnnpack.h>

static pthread_once_t xnn_once = PTHREAD_ONCE_INIT;
static enum xnn_status xnn_init_status = xnn_status_uninitialized;
static char xnn_desc[160];

static void xnn_init_once(void) {
    xnn_init_status = xnn_initialize(NULL);
    // XNNPACK picks its x86 micro-kernels from the widest of these (its init.c); cpuinfo is
    // initialized by xnn_initialize.
    const char *isa = "sse2";
    if (cpuinfo_initialize()) {
        if (cpuinfo_has_x86_avx512f()) isa = "avx512f";
        else if (cpuinfo_has_x86_fma3() && cpuinfo_has_x86_avx2()) isa = "fma3+avx2";
        else if (cpuinfo_has_x86_avx()) isa = "avx";
    }
    snprintf(xnn_desc, sizeof xnn_desc, "XNNPACK 0.0~git20220216 x86-64 %s + %s", isa,
             XWINO_DESC);
}

int xnn_ready(void) {
    pthread_once(&xnn_once, xnn_init_once);
    if (xnn_init_status != xnn_status_success)
        return t2i_error(T2I_EARG, "XNNPACK cannot run on this CPU (xnn_initialize status %d)",
                         (int)xnn_init_status);
    return T2I_OK;
}

const char *xnn_kernel_desc(void) {
    xnn_ready();
    return xnn_desc;
}

pthreadpool_t xpool_create(int n) { return n > 1 ? pthreadpool_create((size_t)n) : NULL; }

int xpool_threads(pthreadpool_t tp) { return tp ? (int)pthreadpool_get_threads_count(tp) : 1; }

// Kernels cloned per ISA: elementwise float arithmetic with no contraction (-std=c11 keeps
// -ffp-contract=off), so every clone computes the same bits.
#define ISA_CLONES XV16_CLONES

// ---- convolution ---------------------------------------------------------------------------

// Taps of the 3x3 kernel that land on tap k (0..3) of the equivalent 4x4 stride-2 transposed
// conv (padding 1): output row 2q reads input q-1 through tap 3 (= w0) and q through tap 1
// (= w1 + w2); row 2q+1 reads q through tap 2 (= w0 + w1) and q+1 through tap 0 (= w2).
static const int up2_first[4] = {2, 1, 0, 0}, up2_last[4] = {2, 2, 1, 0};

int xconv_create(XConv *x, const Conv2d *m, XConvKind kind, const float *scale,
                 const float *bias, float lo, float hi, size_t in_stride, size_t out_stride) {
    memset(x, 0, sizeof *x);
    int rc = xnn_ready();
    if (rc) return rc;
    const int IC = m->in_c, OC = m->out_c, up2 = kind == XCONV_UP2 || kind == XCONV_UP2_FAST;
    if (up2 && (m->kh != 3 || m->kw != 3 || m->sh != 1 || m->sw != 1 || m->ph != 1 || m->pw != 1))
        return t2i_error(T2I_EARG, "xconv: the x2-upsample conv needs a 3x3 pad-1 stride-1 conv");
    int wino = kind == XCONV_FAST ? xwino_fits(m) : kind == XCONV_UP2_FAST ? xwino_fits_up2(m) : 0;
    if (!wino) kind = up2 ? XCONV_UP2 : XCONV_PLAIN;   // the FAST kinds' fallbacks
    const int KH = kind == XCONV_UP2 ? 4 : m->kh, KW = kind == XCONV_UP2 ? 4 : m->kw;
    size_t si = in_stride ? in_stride : (size_t)IC, so = out_stride ? out_stride : (size_t)OC;
    XConv geom = {.kind = kind, .in_c = IC, .out_c = OC, .kh = m->kh, .kw = m->kw, .sh = m->sh,
                  .sw = m->sw, .ph = m->ph, .pw = m->pw, .in_stride = si, .out_stride = so};
    if (wino) {
        rc = xwino_create(&geom.wino, m, up2, scale, bias, lo, hi, si, so);
        if (rc == T2I_OK) *x = geom;
        return rc;
    }
    float *w = t2i_malloc_aligned((size_t)OC * KH * KW * IC * sizeof(float));
    float *b = t2i_malloc_aligned((size_t)OC * sizeof(float));
    if (!w || !b) {
        t2i_free(w), t2i_free(b);
        return T2I_ENOMEM;
    }
    // OIHW -> OHWI, times the per-channel scale
    for (int oc = 0; oc < OC; oc++) {
        float s = scale ? scale[oc] : 1.0f;
        b[oc] = bias ? bias[oc] : m->b ? m->b[oc] : 0.0f;
        for (int ky = 0; ky < KH; ky++)
            for (int kx = 0; kx < KW; kx++)
                for (int ic = 0; ic < IC; ic++) {
                    const float *src = m->w + ((size_t)oc * IC + ic) * m->kh * m->kw;
                    float v;
                    if (kind == XCONV_UP2) {
                        double acc = 0;
                        for (int i = up2_first[ky]; i <= up2_last[ky]; i++)
                            for (int j = up2_first[kx]; j <= up2_last[kx]; j++)
                                acc += (double)src[i * 3 + j] * s;
                        v = (float)acc;
                    } else {
                        v = src[ky * m->kw + kx] * s;
                    }
                    w[(((size_t)oc * KH + ky) * KW + kx) * IC + ic] = v;
                }
    }
    xnn_operator_t op = NULL;
    enum xnn_status st;
    if (kind == XCONV_UP2)
        st = xnn_create_deconvolution2d_nhwc_f32(1, 1, 1, 1, 4, 4, 2, 2, 1, 1, 1, (size_t)IC,
                                                 (size_t)OC, si, so, w, b, lo, hi, 0, &op);
    else
        st = xnn_create_convolution2d_nhwc_f32(
            (uint32_t)m->ph, (uint32_t)m->pw, (uint32_t)m->ph, (uint32_t)m->pw, (uint32_t)m->kh,
            (uint32_t)m->kw, (uint32_t)m->sh, (uint32_t)m->sw, 1, 1, 1, (size_t)IC, (size_t)OC,
            si, so, w, b, lo, hi, 0, &op);
    t2i_free(w);
    t2i_free(b);
    if (st != xnn_status_success)
        return t2i_error(xconv_xnn_rc(st),
                         "xconv: XNNPACK refused a %dx%d conv %d -> %d channels (status %d)",
                         m->kh, m->kw, IC, OC, (int)st);
    geom.op = op;
    *x = geom;
    return T2I_OK;
}

int xconv_xnn_rc(int xnn_status) {
    return xnn_status == xnn_status_out_of_memory ? T2I_ENOMEM : T2I_EARG;
}

void xconv_free(XConv *x) {
    if (x && x->op) xnn_delete_operator(x->op);
    if (x) xwino_free(x->wino);
    if (x) memset(x, 0, sizeof *x);
}

void xconv_out_hw(const XConv *x, int H, int W, int *OH, int *OW) {
    if (x->kind == XCONV_UP2 || x->kind == XCONV_UP2_FAST) {
        *OH = 2 * H, *OW = 2 * W;
        return;
    }
    *OH = (H + 2 * x->ph - x->kh) / x->sh + 1;
    *OW = (W + 2 * x->pw - x->kw) / x->sw + 1;
}

XConvStats xconv_stats;
static pthread_mutex_t stats_lock = PTHREAD_MUTEX_INITIALIZER;

static double clock_s(clockid_t id) {
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

// The XNNPACK operator of x on a batch.
static int run_xnn(const XConv *x, float *out, const float *in, int B, int H, int W,
                   pthreadpool_t tp) {
    enum xnn_status st;
    if (x->kind == XCONV_UP2)
        st = xnn_setup_deconvolution2d_nhwc_f32(x->op, (size_t)B, (size_t)H, (size_t)W, 0, 0, in,
                                                out, tp);
    else
        st = xnn_setup_convolution2d_nhwc_f32(x->op, (size_t)B, (size_t)H, (size_t)W, in, out,
                                              tp);
    if (st == xnn_status_success) st = xnn_run_operator(x->op, tp);
    if (st != xnn_status_success)
        return t2i_error(xconv_xnn_rc(st),
                         "xconv: XNNPACK failed on a batch of %d images of %dx%d (status %d)", B,
                         H, W, (int)st);
    return T2I_OK;
}

XConvTimer xconv_timer_start(void) {
    XConvTimer t = {.on = xconv_stats.enabled};
    if (t.on) t.wall = clock_s(CLOCK_MONOTONIC), t.cpu = clock_s(CLOCK_THREAD_CPUTIME_ID);
    return t;
}

void xconv_stats_add(const XConvTimer *t, pthreadpool_t tp, double macs, double macs_nominal) {
    if (!t->on) return;
    double cs = (clock_s(CLOCK_MONOTONIC) - t->wall) * xpool_threads(tp);
    double cpu = (clock_s(CLOCK_THREAD_CPUTIME_ID) - t->cpu) * xpool_threads(tp);
    pthread_mutex_lock(&stats_lock);
    xconv_stats.core_seconds += cs;
    xconv_stats.cpu_seconds += cpu;
    xconv_stats.macs += macs;
    xconv_stats.macs_nominal += macs_nominal;
    pthread_mutex_unlock(&stats_lock);
}

int xconv_run(const XConv *x, float *out, const float *in, int B, int H, int W, pthreadpool_t tp) {
    XConvTimer t = xconv_timer_start();
    double macs = 0;   // those done: the GEMMs' under Winograd
    int rc = x->wino ? xwino_run(x->wino, out, in, B, H, W, tp, &macs)
                     : run_xnn(x, out, in, B, H, W, tp);
    if (rc) return rc;
    if (t.on) {
        int OH, OW;
        xconv_out_hw(x, H, W, &OH, &OW);
        double per = (double)B * OH * OW * x->out_c * x->in_c;
        if (!x->wino) macs = per * (x->kind == XCONV_UP2 ? 4 : x->kh * x->kw);
        xconv_stats_add(&t, tp, macs, per * x->kh * x->kw);
    }
    return T2I_OK;
}

void xconv_run_ref(float *out, const float *in, const Conv2d *m, XConvKind kind,
                   const float *scale, const float *bias, float lo, float hi, size_t in_stride,
                   size_t out_stride, int B, int H, int W) {
    const int IC = m->in_c, OC = m->out_c;
    const int up = kind == XCONV_UP2 || kind == XCONV_UP2_FAST ? 2 : 1;
    const int UH = H * up, UW = W * up;   // the (virtually) upsampled input
    const int OH = (UH + 2 * m->ph - m->kh) / m->sh + 1, OW = (UW + 2 * m->pw - m->kw) / m->sw + 1;
    size_t si = in_stride ? in_stride : (size_t)IC, so = out_stride ? out_stride : (size_t)OC;
    for (int b = 0; b < B; b++)
        for (int oy = 0; oy < OH; oy++)
            for (int ox = 0; ox < OW; ox++)
                for (int oc = 0; oc < OC; oc++) {
                    double acc = 0;
                    for (int ky = 0; ky < m->kh; ky++)
                        for (int kx = 0; kx < m->kw; kx++) {
                            int uy = oy * m->sh - m->ph + ky, ux = ox * m->sw - m->pw + kx;
                            if (uy < 0 || uy >= UH || ux < 0 || ux >= UW) continue;
                            const float *px =
                                in + (((size_t)b * H + uy / up) * W + ux / up) * si;
                            for (int ic = 0; ic < IC; ic++)
                                acc += (double)px[ic] *
                                       m->w[(((size_t)oc * IC + ic) * m->kh + ky) * m->kw + kx];
                        }
                    double v = acc * (scale ? scale[oc] : 1.0f) +
                               (bias ? bias[oc] : m->b ? m->b[oc] : 0.0f);
                    v = v < lo ? lo : v > hi ? hi : v;
                    out[(((size_t)b * OH + oy) * OW + ox) * so + oc] = (float)v;
                }
}

// ---- layout changes ------------------------------------------------------------------------

void nchw_to_nhwc(float *out, const float *in, int B, int C, int HW, size_t stride) {
    for (int b = 0; b < B; b++)
        for (int c = 0; c < C; c++) {
            const float *src = in + ((size_t)b * C + c) * HW;
            float *dst = out + (size_t)b * HW * stride + c;
            for (int p = 0; p < HW; p++) dst[(size_t)p * stride] = src[p];
        }
}

void nhwc_to_nchw(float *out, const float *in, int B, int C, int HW, size_t stride) {
    for (int b = 0; b < B; b++)
        for (int c = 0; c < C; c++) {
            const float *src = in + (size_t)b * HW * stride + c;
            float *dst = out + ((size_t)b * C + c) * HW;
            for (int p = 0; p < HW; p++) dst[p] = src[(size_t)p * stride];
        }
}

// ---- elementwise epilogues -----------------------------------------------------------------

typedef struct {
    float       *out;
    const float *in;
    size_t       so, si;
    int          C;
} EwJob;

// Pixels per pool task: large enough to amortize the dispatch, small enough to balance.
#define EW_TILE 256

// exp(x) in straight-line float arithmetic, 4 lanes at a time (GCC vector extensions, so the
// generic x86-64 build vectorizes it): x = n ln2 + r with |r| <= ln2/2 (n rounded by the
// 1.5 * 2^23 trick), exp(r) by its degree-6 Taylor polynomial (relative error < 2e-7, about
// expf's last bit), times 2^n built in the exponent field. x is clamped to [-87, 88] (exp stays
// a normal float; the sigmoid saturates there anyway). The scalar tail runs the same IEEE
// operations, so a value's bits do not depend on its lane, thread or batch position.
typedef float   v4f __attribute__((vector_size(16)));
typedef int32_t v4i __attribute__((vector_size(16)));

static inline v4f exp4(v4f x) {
    const v4f lo = {-87.0f, -87.0f, -87.0f, -87.0f}, hi = {88.0f, 88.0f, 88.0f, 88.0f};
    v4i m = x < lo;
    x = (v4f)((m & (v4i)lo) | (~m & (v4i)x));
    m = x > hi;
    x = (v4f)((m & (v4i)hi) | (~m & (v4i)x));
    const float shifter = 12582912.0f;   // 1.5 * 2^23
    v4f n = (x * 1.44269504f + shifter) - shifter;
    v4f r = (x - n * 0.693145752f) - n * 1.42860677e-6f;   // ln2 split hi + lo
    v4f p = r * (1.0f / 720) + 1.0f / 120;
    p = p * r + 1.0f / 24;
    p = p * r + 1.0f / 6;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    v4i e = (__builtin_convertvector(n, v4i) + 127) << 23;
    return p * (v4f)e;
}

static inline float exp1(float x) {
    v4f v = {x, x, x, x};
    return exp4(v)[0];
}

static void glu_tile(void *ctx, size_t p0, size_t n) {
    const EwJob *j = ctx;
    const int C = j->C;
    for (size_t p = p0; p < p0 + n; p++) {
        const float *x = j->in + p * j->si;
        float *y = j->out + p * j->so;
        int c = 0;
        for (; c + 4 <= C; c += 4) {
            v4f a, g;
            memcpy(&a, x + c, sizeof a);
            memcpy(&g, x + C + c, sizeof g);
            v4f r = a / (1.0f + exp4(-g));
            memcpy(y + c, &r, sizeof r);
        }
        for (; c < C; c++) y[c] = x[c] / (1.0f + exp1(-x[C + c]));
    }
}

void nhwc_glu(float *out, size_t so, const float *in, size_t si, size_t P, int C,
              pthreadpool_t tp) {
    EwJob j = {.out = out, .in = in, .so = so, .si = si, .C = C};
    pthreadpool_parallelize_1d_tile_1d(tp, glu_tile, &j, P, EW_TILE, 0);
}

void nhwc_glu_ref(float *out, size_t so, const float *in, size_t si, size_t P, int C) {
    for (size_t p = 0; p < P; p++)
        for (int c = 0; c < C; c++) {
            double a = in[p * si + c], g = in[p * si + C + c];
            out[p * so + c] = (float)(a / (1.0 + exp(-g)));
        }
}

static void add_tile(void *ctx, size_t p0, size_t n) {
    const EwJob *j = ctx;
    for (size_t p = p0; p < p0 + n; p++) {
        const float *x = j->in + p * j->si;
        float *y = j->out + p * j->so;
        for (int c = 0; c < j->C; c++) y[c] = x[c] + y[c];
    }
}

void nhwc_add(float *acc, size_t sa, const float *in, size_t si, size_t P, int C,
              pthreadpool_t tp) {
    EwJob j = {.out = acc, .in = in, .so = sa, .si = si, .C = C};
    pthreadpool_parallelize_1d_tile_1d(tp, add_tile, &j, P, EW_TILE, 0);
}

void nhwc_add_ref(float *acc, size_t sa, const float *in, size_t si, size_t P, int C) {
    for (size_t p = 0; p < P; p++)
        for (int c = 0; c < C; c++) acc[p * sa + c] += in[p * si + c];
}

typedef struct {
    float       *acc;
    const float *in;
    size_t       sa, si;
    int          H, W, C, lrelu;
} AddUpJob;

// One output row (b, oy) of every channel: row oy reads input row oy / 2.
ISA_CLONES static void add_up2_row(void *ctx, size_t row) {
    const AddUpJob *j = ctx;
    const size_t b = row / (2 * (size_t)j->H), oy = row % (2 * (size_t)j->H);
    const int OW = 2 * j->W, C = j->C;
    const float *src = j->in + (b * j->H + oy / 2) * j->W * j->si;
    float *dst = j->acc + (b * 2 * j->H + oy) * OW * j->sa;
    const int lrelu = j->lrelu, CV = C / 16 * 16;
    for (int ox = 0; ox < OW; ox++) {
        const float *x = src + (size_t)(ox / 2) * j->si;
        float *y = dst + (size_t)ox * j->sa;
        for (int c = 0; c < CV; c += 16) {
            xv16f a, v;
            XV16_LOAD(a, x + c);
            XV16_LOAD(v, y + c);
            v = a + v;
            if (lrelu) XV16_LRELU(v);
            XV16_STORE(y + c, v);
        }
        for (int c = CV; c < C; c++) {
            float v = x[c] + y[c];
            y[c] = lrelu && !(v > 0.0f) ? v * 0.2f : v;
        }
    }
}

void nhwc_add_up2(float *acc, size_t sa, const float *in, size_t si, int B, int H, int W, int C,
                  int lrelu, pthreadpool_t tp) {
    AddUpJob j = {.acc = acc, .in = in, .sa = sa, .si = si, .H = H, .W = W, .C = C,
                  .lrelu = lrelu};
    pthreadpool_parallelize_1d(tp, add_up2_row, &j, (size_t)B * 2 * H, 0);
}

typedef struct {
    float       *out;
    const float *in;
    size_t       stride;
    int          C, HW;
} TanhJob;

// Pixels [p0, p0 + n) of image b (tasks over pixel ranges, so one image also uses the pool).
static void tanh_pixels(void *ctx, size_t b, size_t p0, size_t n) {
    const TanhJob *j = ctx;
    for (int c = 0; c < j->C; c++) {
        const float *src = j->in + (b * j->HW + p0) * j->stride + c;
        float *dst = j->out + (b * j->C + c) * j->HW + p0;
        for (size_t p = 0; p < n; p++) dst[p] = tanhf(src[p * j->stride]);
    }
}

void nhwc_tanh_to_nchw(float *out, const float *in, int B, int C, int HW, size_t stride,
                       pthreadpool_t tp) {
    TanhJob j = {.out = out, .in = in, .stride = stride, .C = C, .HW = HW};
    pthreadpool_parallelize_2d_tile_1d(tp, tanh_pixels, &j, (size_t)B, (size_t)HW, 4096, 0);
}

// ---- batch slices side by side ------------------------------------------------------------

typedef struct {
    void (*fn)(void *ctx, int k);
    void *ctx;
    int   k;
} SliceArg;

static void *slice_main(void *p) {
    SliceArg *a = p;
    a->fn(a->ctx, a->k);
    return NULL;
}

void xslices_run(int n, void (*fn)(void *ctx, int k), void *ctx) {
    enum { MAX_SLICES = 64 };
    assert(n >= 1 && n <= MAX_SLICES);
    int saved = blas_get_threads();
    if (saved != 1) blas_set_threads(1);
    pthread_t tid[MAX_SLICES];
    SliceArg arg[MAX_SLICES];
    int started[MAX_SLICES] = {0};
    for (int k = 0; k < n; k++) arg[k] = (SliceArg){.fn = fn, .ctx = ctx, .k = k};
    for (int k = 1; k < n; k++)
        started[k] = pthread_create(&tid[k], NULL, slice_main, &arg[k]) == 0;
    fn(ctx, 0);
    for (int k = 1; k < n; k++) {
        if (started[k]) pthread_join(tid[k], NULL);
        else fn(ctx, k);
    }
    if (saved != 1) blas_set_threads(saved);
}

void *xpeers_create(int n, size_t size, int (*share1)(void *dst, const void *src),
                    void (*drop)(void *inst), const void *src, int *rc) {
    char *p = t2i_calloc((size_t)n, size);
    *rc = p ? T2I_OK : T2I_ENOMEM;
    for (int k = 0; p && k < n; k++) {
        *rc = share1(p + (size_t)k * size, src);
        if (*rc) {
            xpeers_free(p, k, size, drop);
            p = NULL;
        }
    }
    return p;
}

void xpeers_free(void *peers, int n, size_t size, void (*drop)(void *inst)) {
    for (int k = 0; k < n; k++) drop((char *)peers + (size_t)k * size);
    t2i_free(peers);
}

// ---- pooling -------------------------------------------------------------------------------

typedef struct {
    float       *out;
    const float *in;
    size_t       so, si;
    int          H, W, C, OH, OW, s, p, kind;
    const float *bias;
} PoolJob;

// Row buffers of pool_row: W*C floats of vertical reductions; wider rows go in channel slices.
#define POOL_ROW_FLOATS 16384

static inline float max_nan1(float a, float b) { return (b > a || b != b) ? b : a; }

// Elementwise over channels, so every ISA clone computes the same bits. 8-float vectors (GCC
// vector extensions: one AVX2 register or two SSE ones) because -O2 leaves these loops scalar,
// and the scalar max with its NaN test branches on every element (it took 12% of Inception's
// time). Not xconv.h's 16-lane vectors: GCC 12 compiles this max (two compares OR-ed, then a
// select) on them to scalar code in the AVX-512F clone.
#define POOL_CLONES __attribute__((target_clones("avx2", "default")))
typedef float v8f __attribute__((vector_size(32)));
typedef int   v8i __attribute__((vector_size(32)));
// An unaligned view of 8 floats (no helper functions: a vector return value would depend on
// the clone's ISA).
typedef float v8f_u __attribute__((vector_size(32), aligned(4), may_alias));
#define LD8(p) (*(const v8f_u *)(p))
#define ST8(p) (*(v8f_u *)(p))

POOL_CLONES static void vmax(float *restrict y, const float *restrict x, int n) {
    int c = 0;
    for (; c + 8 <= n; c += 8) {
        v8f a = LD8(y + c), b = LD8(x + c);
        v8i take_b = (b > a) | (b != b);   // max_nan1, lane by lane
        ST8(y + c) = (v8f)((take_b & (v8i)b) | (~take_b & (v8i)a));
    }
    for (; c < n; c++) y[c] = max_nan1(y[c], x[c]);
}
POOL_CLONES static void vadd(float *restrict y, const float *restrict x, int n) {
    int c = 0;
    for (; c + 8 <= n; c += 8) ST8(y + c) = LD8(y + c) + LD8(x + c);
    for (; c < n; c++) y[c] += x[c];
}
POOL_CLONES static void vdiv_bias_relu(float *restrict y, const float *restrict acc, float div,
                                       const float *restrict bias, int n) {
    int c = 0;
    if (!bias) {
        for (; c + 8 <= n; c += 8) ST8(y + c) = LD8(acc + c) / div;
        for (; c < n; c++) y[c] = acc[c] / div;
        return;
    }
    const v8f zero = {0};
    for (; c + 8 <= n; c += 8) {
        v8f v = LD8(acc + c) / div + LD8(bias + c);
        v8i pos = v > zero;   // v > 0 ? v : 0, as the scalar tail (NaN -> 0)
        ST8(y + c) = (v8f)(pos & (v8i)v);
    }
    for (; c < n; c++) {
        float v = acc[c] / div + bias[c];
        y[c] = v > 0.0f ? v : 0.0f;
    }
}

// One output row (b, oh) of every channel: the window's rows reduced per input column (in
// ascending row order), then each output's columns (ascending) -- the order of ops.h's
// avgpool2d_forward 3x3 path.
static void pool_row(void *ctx, size_t row) {
    const PoolJob *j = ctx;
    const int b = (int)(row / (size_t)j->OH), oh = (int)(row % (size_t)j->OH), C = j->C;
    const int mx = j->kind == XPOOL_MAX;
    float col[POOL_ROW_FLOATS], acc[POOL_ROW_FLOATS / 4];
    int h0 = oh * j->s - j->p, h1 = h0 + 3;
    int hp = (h1 > j->H + j->p ? j->H + j->p : h1) - h0;   // window within the padded extent
    if (h0 < 0) h0 = 0;
    if (h1 > j->H) h1 = j->H;
    for (int w = 0; w < j->W; w++) {
        float *cw = col + (size_t)w * C;
        const float *x = j->in + (((size_t)b * j->H + h0) * j->W + w) * j->si;
        memcpy(cw, x, sizeof(float) * (size_t)C);
        for (int h = h0 + 1; h < h1; h++) {
            x = j->in + (((size_t)b * j->H + h) * j->W + w) * j->si;
            if (mx) vmax(cw, x, C);
            else vadd(cw, x, C);
        }
    }
    for (int ow = 0; ow < j->OW; ow++) {
        int w0 = ow * j->s - j->p, w1 = w0 + 3;
        int wp = (w1 > j->W + j->p ? j->W + j->p : w1) - w0;
        if (w0 < 0) w0 = 0;
        if (w1 > j->W) w1 = j->W;
        float *y = j->out + (((size_t)b * j->OH + oh) * j->OW + ow) * j->so;
        memcpy(acc, col + (size_t)w0 * C, sizeof(float) * (size_t)C);
        for (int w = w0 + 1; w < w1; w++) {
            if (mx) vmax(acc, col + (size_t)w * C, C);
            else vadd(acc, col + (size_t)w * C, C);
        }
        if (mx) {
            memcpy(y, acc, sizeof(float) * (size_t)C);
            if (j->bias) vdiv_bias_relu(y, acc, 1.0f, j->bias, C);   // x / 1 == x
        } else {
            float div = (float)(j->kind == XPOOL_AVG_PAD ? hp * wp : (h1 - h0) * (w1 - w0));
            vdiv_bias_relu(y, acc, div, j->bias, C);
        }
    }
}

void nhwc_pool3(float *out, size_t so, const float *in, size_t si, int B, int H, int W, int C,
                int s, int p, XPoolKind kind, const float *bias, pthreadpool_t tp) {
    PoolJob j = {.out = out, .in = in, .so = so, .si = si, .H = H, .W = W, .C = C,
                 .OH = pool_out(H, 3, s, p), .OW = pool_out(W, 3, s, p), .s = s, .p = p,
                 .kind = kind, .bias = bias};
    assert(W <= POOL_ROW_FLOATS);
    int cmax = POOL_ROW_FLOATS / W < POOL_ROW_FLOATS / 4 ? POOL_ROW_FLOATS / W : POOL_ROW_FLOATS / 4;
    if (C > cmax) {   // wider than the row buffers: in slices of channels
        for (int c0 = 0; c0 < C; c0 += cmax) {
            int n = C - c0 < cmax ? C - c0 : cmax;
            nhwc_pool3(out + c0, so, in + c0, si, B, H, W, n, s, p, kind, bias ? bias + c0 : NULL,
                       tp);
        }
        return;
    }
    pthreadpool_parallelize_1d(tp, pool_row, &j, (size_t)B * j.OH, 0);
}

void nhwc_pool3_ref(float *out, size_t so, const float *in, size_t si, int B, int H, int W,
                    int C, int s, int p, XPoolKind kind, const float *bias, float *tmp) {
    int OH = pool_out(H, 3, s, p), OW = pool_out(W, 3, s, p);
    float *a = tmp, *o = tmp + (size_t)B * C * H * W;
    nhwc_to_nchw(a, in, B, C, H * W, si);
    if (kind == XPOOL_MAX) maxpool2d_forward(o, a, B, C, H, W, 3, s, p);
    else avgpool2d_forward(o, a, B, C, H, W, 3, s, p, kind == XPOOL_AVG_PAD);
    if (bias)
        for (int b = 0; b < B; b++)
            for (int c = 0; c < C; c++) {
                float *pl = o + ((size_t)b * C + c) * OH * OW;
                for (int i = 0; i < OH * OW; i++) {
                    float v = pl[i] + bias[c];
                    pl[i] = v > 0.0f ? v : 0.0f;
                }
            }
    nchw_to_nhwc(out, o, B, C, OH * OW, so);
}
