// xwino.c -- see xwino.h.
//
// Toom-Cook transforms for a correlation y_i = sum_j g_j d_{i+j} (m outputs, r taps, alpha =
// m + r - 1 points): y = A^T [ (G g) . (B^T d) ], in 2D Y = A^T [ (G g G^T) . (B^T d B) ] A.
// alpha 4, points 0, 1, -1, infinity (F(2,3)):
//   B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1],  A^T = [1 1 1 0; 0 1 -1 -1],  G = g23
// alpha 6, points 0, 1, -1, 2, -2, infinity (F(4,3), F(2,5)):
//   B^T = [4 0 -5 0 1 0; 0 -4 -4 1 1 0; 0 4 -4 -1 1 0; 0 -2 -1 2 1 0; 0 2 -1 -2 1 0;
//          0 4 0 -5 0 1],
//   A^T (m 4) = [1 1 1 1 1 0; 0 1 -1 2 -2 0; 0 1 1 4 4 0; 0 1 -1 8 -8 1],
//   A^T (m 2) = [1 1 1 1 1 0; 0 1 -1 2 -2 1],  G = g43, g25
// alpha 8, points 0, 1, -1, 2, -2, 1/2, -1/2, infinity (F(2,7)):
//   B^T = [-1 0 21/4 0 -21/4 0 1 0; 0 1 1 -17/4 -17/4 1 1 0; 0 -1 1 17/4 -17/4 -1 1 0;
//          0 1/2 1/4 -5/2 -5/4 2 1 0; 0 -1/2 1/4 5/2 -5/4 -2 1 0; 0 2 4 -5/2 -5 1/2 1 0;
//          0 -2 4 5/2 -5 -1/2 1 0; 0 -1 0 21/4 0 -21/4 0 1],
//   A^T = [1 1 1 1 1 1 1 0; 0 1 -1 2 -2 1/2 -1/2 1],  G = g27
// bt() and at() below evaluate these rows in a fixed order of float operations.
#include "xwino.h"

#include "t2i.h"
#include "xconv.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <xnnpack.h>

// The kinds: kernel kh x kw, tile of mh x mw outputs from an (mh+kh-1) x (mw+kw-1) patch. For a
// kernel with two kinds, the second (fewer points per tile) serves convs of more than
// BIG_PAIRS input x output channel pairs: its transformed weights take less than half the
// memory (Inception's 8x8 layers: 448 x 384 x 36 points would be 25 MB per operator set).
typedef struct {
    int kh, kw, mh, mw;
    void (*in)(void *, size_t), (*out)(void *, size_t);
} Kind;
#define BIG_PAIRS 65536

struct XWino {
    Kind           k;
    int            ah, aw, alpha;   // points along y, along x; alpha = ah * aw
    int            ph, pw;          // padding
    int            up;              // 1, or 2: the input is read upsampled x2 (nearest)
    int            IC, OC;
    size_t         si, so;
    float          lo, hi;
    float         *bias;            // OC
    float         *zeros;           // IC zeros: the input outside the image
    xnn_operator_t gemm;            // alpha groups of IC -> OC over the tiles of a block
};

enum { NKINDS = 9 };
static const Kind kinds[NKINDS];

// The kind for m's kernel and channel counts, NULL when none.
static const Kind *find_kind(const Conv2d *m) {
    const Kind *first = NULL, *last = NULL;
    for (int i = 0; i < NKINDS; i++)
        if (kinds[i].kh == m->kh && kinds[i].kw == m->kw) {
            if (!first) first = &kinds[i];
            last = &kinds[i];
        }
    return (long)m->in_c * m->out_c > BIG_PAIRS ? last : first;
}

int xwino_fits(const Conv2d *m) {
    if (!find_kind(m)) return 0;
    return m->sh == 1 && m->sw == 1 && m->in_c > 0 && m->out_c > 0 && m->in_c % 16 == 0 &&
           m->out_c % 16 == 0 && m->ph < m->kh && m->pw < m->kw;
}

int xwino_fits_up2(const Conv2d *m) {
    return xwino_fits(m) && m->kh == 3 && m->kw == 3 && m->ph == 1 && m->pw == 1;
}

// ---- weights -------------------------------------------------------------------------------

// G for each (m, r): alpha = m + r - 1 rows (Toom-Cook at 0, 1, -1, 2, -2, 1/2, -1/2, infinity
// as many as needed; see the top of the file).
static const double g1[1][1] = {{1}};
static const double g23[4][3] = {{1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}};
static const double g43[6][3] = {{1. / 4, 0, 0},          {-1. / 6, -1. / 6, -1. / 6},
                                 {-1. / 6, 1. / 6, -1. / 6}, {1. / 24, 1. / 12, 1. / 6},
                                 {1. / 24, -1. / 12, 1. / 6}, {0, 0, 1}};
static const double g25[6][5] = {{1. / 4, 0, 0, 0, 0},
                                 {-1. / 6, -1. / 6, -1. / 6, -1. / 6, -1. / 6},
                                 {-1. / 6, 1. / 6, -1. / 6, 1. / 6, -1. / 6},
                                 {1. / 24, 1. / 12, 1. / 6, 1. / 3, 2. / 3},
                                 {1. / 24, -1. / 12, 1. / 6, -1. / 3, 2. / 3},
                                 {0, 0, 0, 0, 1}};
static const double g27[8][7] = {
    {-1, 0, 0, 0, 0, 0, 0},
    {-2. / 9, -2. / 9, -2. / 9, -2. / 9, -2. / 9, -2. / 9, -2. / 9},
    {-2. / 9, 2. / 9, -2. / 9, 2. / 9, -2. / 9, 2. / 9, -2. / 9},
    {1. / 90, 1. / 45, 2. / 45, 4. / 45, 8. / 45, 16. / 45, 32. / 45},
    {1. / 90, -1. / 45, 2. / 45, -4. / 45, 8. / 45, -16. / 45, 32. / 45},
    {32. / 45, 16. / 45, 8. / 45, 4. / 45, 2. / 45, 1. / 45, 1. / 90},
    {32. / 45, -16. / 45, 8. / 45, -4. / 45, 2. / 45, -1. / 45, 1. / 90},
    {0, 0, 0, 0, 0, 0, 1},
};

// G[i][a] of the axis with m outputs per tile and r taps.
static double gcoef(int m, int r, int i, int a) {
    if (r == 1) return g1[i][a];
    if (r == 3) return m == 2 ? g23[i][a] : g43[i][a];
    if (r == 5) return g25[i][a];
    return g27[i][a];
}

// U (alpha, OC, IC), XNNPACK's grouped kernel layout: point (i, j) of (oc, ic) is G g G^T, in
// double from the float taps w * scale (those of the direct conv), rounded once.
static void transform_weights(float *U, const Conv2d *m, const float *scale, const XWino *w) {
    const int IC = m->in_c, OC = m->out_c, KH = m->kh, KW = m->kw;
    double gh[8][7], gw[8][7];   // the two axes' G, looked up once
    for (int i = 0; i < w->ah; i++)
        for (int a = 0; a < KH; a++) gh[i][a] = gcoef(w->k.mh, KH, i, a);
    for (int j = 0; j < w->aw; j++)
        for (int b = 0; b < KW; b++) gw[j][b] = gcoef(w->k.mw, KW, j, b);
    for (int oc = 0; oc < OC; oc++) {
        float s = scale ? scale[oc] : 1.0f;
        for (int ic = 0; ic < IC; ic++) {
            const float *src = m->w + ((size_t)oc * IC + ic) * KH * KW;
            float g[25];
            for (int k = 0; k < KH * KW; k++) g[k] = src[k] * s;
            for (int i = 0; i < w->ah; i++)
                for (int j = 0; j < w->aw; j++) {
                    double acc = 0;
                    for (int a = 0; a < KH; a++)
                        for (int b = 0; b < KW; b++) acc += gh[i][a] * g[a * KW + b] * gw[j][b];
                    U[((size_t)(i * w->aw + j) * OC + oc) * IC + ic] = (float)acc;
                }
        }
    }
}

// Tiles per block: a block's transformed inputs and products in about 1 MiB (L2), a multiple
// of 7 (XNNPACK's f32 GEMM row tile on AVX-512), at least 28. Weights over 2 MiB (the 8x8
// layers of Inception: 11 MB of points) are streamed once per block, so there a block takes up
// to 8 MiB and the whole batch when it fits.
static size_t block_tiles(const XWino *w, size_t T) {
    size_t per = (size_t)w->alpha * (size_t)(w->IC + w->OC) * sizeof(float);
    size_t n = ((size_t)1 << 20) / per / 7 * 7;
    if (n < 28) n = 28;
    size_t weights = (size_t)w->alpha * w->IC * w->OC * sizeof(float);
    if (weights > ((size_t)2 << 20)) {
        size_t big = ((size_t)8 << 20) / per;
        if (big > n) n = big < T ? big / 7 * 7 : T;
    }
    return n < T ? n : T;
}

// Each calling thread's scratch (the blocks' transformed inputs and products), kept between
// calls and grown as needed: the convs of a network run one after another on their thread, so
// they share it. Freed when the thread ends.
static pthread_key_t  scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;
typedef struct {
    float *p;
    size_t cap;   // floats
} Scratch;

static void scratch_drop(void *ptr) {
    Scratch *s = ptr;
    t2i_free(s->p);
    free(s);
}

static void scratch_init(void) {
    if (pthread_key_create(&scratch_key, scratch_drop)) abort();
}

static float *scratch(size_t floats) {
    pthread_once(&scratch_once, scratch_init);
    Scratch *s = pthread_getspecific(scratch_key);
    if (!s) {
        if (!(s = calloc(1, sizeof *s))) return NULL;
        if (pthread_setspecific(scratch_key, s)) {
            free(s);
            return NULL;
        }
    }
    if (s->cap < floats) {
        t2i_free(s->p);
        s->cap = 0;
        if (!(s->p = t2i_malloc_aligned(floats * sizeof(float)))) return NULL;
        s->cap = floats;
    }
    return s->p;
}

int xwino_create(XWino **out, const Conv2d *m, int up2, const float *scale, const float *bias,
                 float lo, float hi, size_t si, size_t so) {
    *out = NULL;
    if (up2 ? !xwino_fits_up2(m) : !xwino_fits(m))
        return t2i_error(T2I_EARG, "xwino: a %dx%d conv%s does not fit", m->kh, m->kw,
                         up2 ? " after a x2 upsample" : "");
    XWino *w = calloc(1, sizeof *w);
    if (!w) return T2I_ENOMEM;
    w->k = *find_kind(m);
    w->ah = w->k.mh + w->k.kh - 1, w->aw = w->k.mw + w->k.kw - 1, w->alpha = w->ah * w->aw;
    w->ph = m->ph, w->pw = m->pw, w->up = up2 ? 2 : 1, w->IC = m->in_c, w->OC = m->out_c;
    w->si = si ? si : (size_t)m->in_c, w->so = so ? so : (size_t)m->out_c;
    w->lo = lo, w->hi = hi;
    const size_t A = (size_t)w->alpha, IC = (size_t)w->IC, OC = (size_t)w->OC;
    float *U = t2i_malloc_aligned(A * OC * IC * sizeof(float));
    w->bias = t2i_malloc_aligned(OC * sizeof(float));
    w->zeros = t2i_malloc_aligned(IC * sizeof(float));
    if (!U || !w->bias || !w->zeros) {
        t2i_free(U);
        xwino_free(w);
        return T2I_ENOMEM;
    }
    memset(w->zeros, 0, IC * sizeof(float));
    for (size_t oc = 0; oc < OC; oc++) w->bias[oc] = bias ? bias[oc] : m->b ? m->b[oc] : 0.0f;
    transform_weights(U, m, scale, w);
    enum xnn_status st = xnn_create_convolution2d_nhwc_f32(
        0, 0, 0, 0, 1, 1, 1, 1, 1, 1, (uint32_t)A, IC, OC, A * IC, A * OC, U, NULL, -INFINITY,
        INFINITY, 0, &w->gemm);
    t2i_free(U);
    if (st != xnn_status_success) {
        xwino_free(w);
        return t2i_error(xconv_xnn_rc(st),
                         "xwino: XNNPACK refused the %d GEMMs of a %dx%d conv %d -> %d (status %d)",
                         (int)A, m->kh, m->kw, m->in_c, m->out_c, (int)st);
    }
    *out = w;
    return T2I_OK;
}

void xwino_free(XWino *w) {
    if (!w) return;
    if (w->gemm) xnn_delete_operator(w->gemm);
    t2i_free(w->bias);
    t2i_free(w->zeros);
    free(w);
}

// ---- transforms ----------------------------------------------------------------------------

typedef struct {
    const XWino *w;
    float       *V, *M;   // the block's transformed inputs and products
    float       *out;
    const float *in;
    int          H, W, OH, OW, TH, TW;
    size_t       t0;   // the block's first tile
} TileJob;

#define ISA_CLONES XV16_CLONES
#define INLINE     static inline __attribute__((always_inline))

// Tile t of the batch: its image b and its output origin (oy, ox).
static void tile_origin(const TileJob *j, size_t t, int *b, int *oy, int *ox) {
    size_t per = (size_t)j->TH * j->TW, r = t % per;
    *b = (int)(t / per);
    *oy = (int)(r / (size_t)j->TW) * j->w->k.mh;
    *ox = (int)(r % (size_t)j->TW) * j->w->k.mw;
}

// The pixel (y, x) of image b as the conv reads it (of the x2 upsample when up is 2: input pixel
// (y / 2, x / 2)), or the zeros outside the image.
INLINE const float *pixel(const TileJob *j, int b, int y, int x) {
    const int up = j->w->up;
    if (y < 0 || y >= up * j->H || x < 0 || x >= up * j->W) return j->w->zeros;
    return j->in + (((size_t)b * j->H + y / up) * j->W + x / up) * j->w->si;
}

// o[k * os] = (B^T d)[k] for the n points of d[i * s] (n = 1: a copy).
INLINE void bt(int n, const xv16f *d, int s, xv16f *o, int os) {
    if (n == 1) {
        o[0] = d[0];
    } else if (n == 4) {
        o[0] = d[0] - d[2 * s];
        o[os] = d[s] + d[2 * s];
        o[2 * os] = d[2 * s] - d[s];
        o[3 * os] = d[s] - d[3 * s];
    } else if (n == 6) {
        xv16f d0 = d[0], d1 = d[s], d2 = d[2 * s], d3 = d[3 * s], d4 = d[4 * s], d5 = d[5 * s];
        o[0] = (d0 * 4.0f - d2 * 5.0f) + d4;
        o[os] = (d4 + d3) - (d1 + d2) * 4.0f;
        o[2 * os] = (d4 - d3) + (d1 - d2) * 4.0f;
        o[3 * os] = (d4 - d2) + (d3 - d1) * 2.0f;
        o[4 * os] = (d4 - d2) - (d3 - d1) * 2.0f;
        o[5 * os] = (d1 * 4.0f - d3 * 5.0f) + d5;
    } else {   // 8
        xv16f x[8], e, q;
        _Pragma("GCC unroll 36")
        for (int i = 0; i < 8; i++) x[i] = d[i * s];
        o[0] = (x[6] - x[0]) + (x[2] - x[4]) * 5.25f;
        o[7 * os] = (x[7] - x[1]) + (x[3] - x[5]) * 5.25f;
        e = (x[2] + x[6]) - x[4] * 4.25f;
        q = (x[1] + x[5]) - x[3] * 4.25f;
        o[os] = e + q, o[2 * os] = e - q;
        e = (x[2] * 0.25f + x[6]) - x[4] * 1.25f;
        q = (x[1] * 0.5f - x[3] * 2.5f) + x[5] * 2.0f;
        o[3 * os] = e + q, o[4 * os] = e - q;
        e = (x[2] * 4.0f + x[6]) - x[4] * 5.0f;
        q = (x[1] * 2.0f - x[3] * 2.5f) + x[5] * 0.5f;
        o[5 * os] = e + q, o[6 * os] = e - q;
    }
}

// y[k * ys] = (A^T m)[k]: m outputs from the n points of p[i * s].
INLINE void at(int mo, int n, const xv16f *p, int s, xv16f *y, int ys) {
    if (n == 1) {
        y[0] = p[0];
    } else if (n == 4) {   // -> 2
        y[0] = (p[0] + p[s]) + p[2 * s];
        y[ys] = (p[s] - p[2 * s]) - p[3 * s];
    } else if (n == 6) {
        xv16f a = p[s] + p[2 * s], b = p[s] - p[2 * s], c = p[3 * s] + p[4 * s],
              e = p[3 * s] - p[4 * s];
        y[0] = (p[0] + a) + c;
        if (mo == 4) {
            y[ys] = b + e * 2.0f;
            y[2 * ys] = a + c * 4.0f;
            y[3 * ys] = (b + e * 8.0f) + p[5 * s];
        } else {
            y[ys] = (b + e * 2.0f) + p[5 * s];
        }
    } else {   // 8 -> 2
        xv16f m[8];
        _Pragma("GCC unroll 36")
        for (int i = 0; i < 8; i++) m[i] = p[i * s];
        y[0] = ((m[0] + (m[1] + m[2])) + (m[3] + m[4])) + (m[5] + m[6]);
        y[ys] = (((m[1] - m[2]) + (m[3] - m[4]) * 2.0f) + (m[5] - m[6]) * 0.5f) + m[7];
    }
}

// B^T d B of a tile's ah x aw patch, 16 channels at a time, into its alpha rows of V.
INLINE void in_tile(const TileJob *j, size_t i, const int ah, const int aw) {
    const XWino *w = j->w;
    int b, oy, ox;
    tile_origin(j, j->t0 + i, &b, &oy, &ox);
    const float *p[36];
    for (int y = 0; y < ah; y++)
        for (int x = 0; x < aw; x++) p[y * aw + x] = pixel(j, b, oy - w->ph + y, ox - w->pw + x);
    const size_t IC = (size_t)w->IC;
    float *dst = j->V + i * (size_t)(ah * aw) * IC;
    for (size_t c = 0; c < IC; c += 16) {
        xv16f d[36], r[36], v[36];
        _Pragma("GCC unroll 36")
        for (int k = 0; k < ah * aw; k++) XV16_LOAD(d[k], p[k] + c);
        _Pragma("GCC unroll 36")
        for (int x = 0; x < aw; x++) bt(ah, d + x, aw, r + x, aw);   // along y
        _Pragma("GCC unroll 36")
        for (int y = 0; y < ah; y++) bt(aw, r + y * aw, 1, v + y * aw, 1);   // along x
        _Pragma("GCC unroll 36")
        for (int k = 0; k < ah * aw; k++) XV16_STORE(dst + k * IC + c, v[k]);
    }
}

// v = clamp(v + bias, lo, hi) with XNNPACK's NaN behaviour (max(lo, v) then min(hi, v): a NaN
// stays NaN).
#define CLAMP_BIAS(v, bias, lo, hi)                                                          \
    do {                                                                                     \
        (v) = (v) + (bias);                                                                  \
        xv16i m_ = (lo) > (v);                                                               \
        (v) = (xv16f)((m_ & (xv16i)(lo)) | (~m_ & (xv16i)(v)));                              \
        m_ = (hi) < (v);                                                                     \
        (v) = (xv16f)((m_ & (xv16i)(hi)) | (~m_ & (xv16i)(v)));                              \
    } while (0)

// A^T m A: a tile's mh x mw outputs (those inside the output) plus bias, clamped.
INLINE void out_tile(const TileJob *j, size_t i, const int ah, const int aw, const int mh,
                     const int mw) {
    const XWino *w = j->w;
    int b, oy, ox;
    tile_origin(j, j->t0 + i, &b, &oy, &ox);
    float *o[16];
    for (int y = 0; y < mh; y++)
        for (int x = 0; x < mw; x++) {
            int inside = oy + y < j->OH && ox + x < j->OW;
            o[y * mw + x] =
                inside ? j->out + (((size_t)b * j->OH + oy + y) * j->OW + ox + x) * w->so : NULL;
        }
    const size_t OC = (size_t)w->OC;
    const float *src = j->M + i * (size_t)(ah * aw) * OC;
    xv16f lo, hi;
    for (int k = 0; k < 16; k++) lo[k] = w->lo, hi[k] = w->hi;
    for (size_t c = 0; c < OC; c += 16) {
        xv16f m[36], s[36], y[16], bias;
        _Pragma("GCC unroll 36")
        for (int k = 0; k < ah * aw; k++) XV16_LOAD(m[k], src + k * OC + c);
        XV16_LOAD(bias, w->bias + c);
        _Pragma("GCC unroll 36")
        for (int x = 0; x < aw; x++) at(mh, ah, m + x, aw, s + x, aw);   // along y
        _Pragma("GCC unroll 36")
        for (int r = 0; r < mh; r++) at(mw, aw, s + r * aw, 1, y + r * mw, 1);   // along x
        _Pragma("GCC unroll 36")
        for (int k = 0; k < mh * mw; k++) {
            if (!o[k]) continue;
            CLAMP_BIAS(y[k], bias, lo, hi);
            XV16_STORE(o[k] + c, y[k]);
        }
    }
}

// One clone set per patch and tile shape.
#define TILE_FNS(name, ah, aw, mh, mw)                                                        \
    ISA_CLONES static void in_##name(void *ctx, size_t i) { in_tile(ctx, i, ah, aw); }       \
    ISA_CLONES static void out_##name(void *ctx, size_t i) { out_tile(ctx, i, ah, aw, mh, mw); }
TILE_FNS(f44_33, 6, 6, 4, 4)
TILE_FNS(f22_33, 4, 4, 2, 2)
TILE_FNS(f22_55, 6, 6, 2, 2)
TILE_FNS(f2_17, 1, 8, 1, 2)
TILE_FNS(f2_71, 8, 1, 2, 1)
TILE_FNS(f4_13, 1, 6, 1, 4)
TILE_FNS(f2_13, 1, 4, 1, 2)
TILE_FNS(f4_31, 6, 1, 4, 1)
TILE_FNS(f2_31, 4, 1, 2, 1)

static const Kind kinds[NKINDS] = {
    {3, 3, 4, 4, in_f44_33, out_f44_33},   // F(4x4,3x3): 36 points, 2.25 MACs per output and
                                           // channel pair (direct: 9)
    {3, 3, 2, 2, in_f22_33, out_f22_33},   // F(2x2,3x3): 16 points, 4
    {5, 5, 2, 2, in_f22_55, out_f22_55},   // F(2x2,5x5): 36 points, 9 (direct: 25)
    {1, 7, 1, 2, in_f2_17, out_f2_17},     // F(2,7) along x: 8 points, 4 (direct: 7)
    {7, 1, 2, 1, in_f2_71, out_f2_71},     // F(2,7) along y
    {1, 3, 1, 4, in_f4_13, out_f4_13},     // F(4,3) along x: 6 points, 1.5 (direct: 3)
    {1, 3, 1, 2, in_f2_13, out_f2_13},     // F(2,3) along x: 4 points, 2
    {3, 1, 4, 1, in_f4_31, out_f4_31},     // F(4,3) along y
    {3, 1, 2, 1, in_f2_31, out_f2_31},     // F(2,3) along y
};

int xwino_run(XWino *w, float *out, const float *in, int B, int H, int W, pthreadpool_t tp,
              double *macs) {
    const Kind *k = &w->k;
    int OH = w->up * H + 2 * w->ph - k->kh + 1, OW = w->up * W + 2 * w->pw - k->kw + 1;
    *macs = 0;
    if (OH <= 0 || OW <= 0 || B <= 0) return T2I_OK;
    TileJob j = {.w = w, .out = out, .in = in, .H = H, .W = W, .OH = OH, .OW = OW,
                 .TH = (OH + k->mh - 1) / k->mh, .TW = (OW + k->mw - 1) / k->mw};
    const size_t T = (size_t)B * j.TH * j.TW, block = block_tiles(w, T);
    const size_t A = (size_t)w->alpha;
    j.V = scratch(block * A * (size_t)(w->IC + w->OC));
    if (!j.V)
        return t2i_error(T2I_ENOMEM, "xwino: no memory for %zu tiles of %zu points", block, A);
    j.M = j.V + block * A * (size_t)w->IC;
    for (size_t t0 = 0; t0 < T; t0 += block) {
        size_t n = T - t0 < block ? T - t0 : block;
        j.t0 = t0;
        pthreadpool_parallelize_1d(tp, k->in, &j, n, 0);
        enum xnn_status st = xnn_setup_convolution2d_nhwc_f32(w->gemm, 1, 1, n, j.V, j.M, tp);
        if (st == xnn_status_success) st = xnn_run_operator(w->gemm, tp);
        if (st != xnn_status_success)
            return t2i_error(xconv_xnn_rc(st),
                             "xwino: XNNPACK failed on %zu tiles (status %d)", n, (int)st);
        pthreadpool_parallelize_1d(tp, k->out, &j, n, 0);
    }
    *macs = (double)T * w->alpha * w->IC * w->OC;
    return T2I_OK;
}
