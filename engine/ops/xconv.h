// xconv.h -- NHWC convolutions on XNNPACK (weights packed once, bias and clamp fused) and the
// NHWC helpers the networks need around them: a thread pool, layout changes at the network
// boundaries, and the elementwise epilogues (GLU, residual add, tanh) split over the pool.
//
// Layout: an NHWC buffer holds B images of H x W pixels; every pixel is `stride` floats apart
// and its C channels come first (stride >= C). A stride larger than C lets a layer write into,
// or read from, a channel slice of a wider buffer: a channel concatenation costs nothing.
//
// Determinism: an XConv computes every output element with the same sequence of operations
// whatever the batch size, the image's place in the batch or the pool's thread count
// (XNNPACK tiles over pixels and output channels only, never over the reduction); the helpers
// here are elementwise. So per-image results are bit-identical at batch 1 and inside a batch,
// on 1 or N threads (tests/test_xconv.c checks it).
//
// Thread safety: an XConv is used by one caller at a time (XNNPACK keeps per-call state in the
// operator). Networks therefore own their XConvs per instance (see gnet_share).
#ifndef T2I_XCONV_H
#define T2I_XCONV_H

#include "ops.h"

#include <pthreadpool.h>
#include <stddef.h>

// Initializes XNNPACK once (thread-safe). T2I_OK, or T2I_EARG when the CPU is unsupported.
int xnn_ready(void);
// "XNNPACK 0.0~git20220216 x86-64 avx512f + Winograd v1 F(4x4,3x3) ..." (the kernel library,
// the ISA path it selects and the version of the Winograd transforms of XCONV_FAST), for run
// provenance: a change in any of them moves stored numbers. Calls xnn_ready.
const char *xnn_kernel_desc(void);

// A pool of n threads for XConv and the helpers (the caller's thread is one of them); n <= 1
// gives NULL (run on the caller's thread). pthreadpool_destroy(NULL) is a no-op.
pthreadpool_t xpool_create(int n);
int           xpool_threads(pthreadpool_t tp);

typedef enum {
    XCONV_PLAIN = 0,   // Conv2d as declared (groups 1, dilation 1)
    XCONV_UP2   = 1,   // nearest x2 upsample then a 3x3 pad-1 stride-1 conv, as one 4x4
                       // stride-2 transposed conv whose taps are sums of the 3x3 taps
    XCONV_FAST  = 2,   // as PLAIN, computed by Winograd where xwino.h says it fits (3x3, 5x5,
                       // 1x7, 7x1, 1x3, 3x1 stride 1; fewer multiply-adds, a little more
                       // rounding), else PLAIN
    XCONV_UP2_FAST = 3,   // as UP2, computed by Winograd F(4x4,3x3) on the upsampled input read in
                          // place where xwino.h says it fits (2.25 multiply-adds per output and
                          // channel pair instead of UP2's 4), else UP2
} XConvKind;

typedef struct {
    void  *op;                           // xnn_operator_t (NULL when wino runs the conv)
    struct XWino *wino;                  // the FAST kinds where they fit
    int    kind;
    int    in_c, out_c, kh, kw, sh, sw, ph, pw;
    size_t in_stride, out_stride;        // floats between pixels (0 at create = in_c / out_c)
} XConv;

// Packs m (weights OIHW) once: y = clamp(sum(x * w * scale[oc]) + bias[oc], lo, hi), with
// scale NULL = 1 (a folded BatchNorm's per-channel factor), bias NULL = m->b (NULL = 0).
// Returns T2I_OK, T2I_ENOMEM, or T2I_EARG (shape XNNPACK refuses, or XCONV_UP2 on a conv that
// is not 3x3/pad 1/stride 1). On failure x is zeroed.
int  xconv_create(XConv *x /* OUT */, const Conv2d *m, XConvKind kind, const float *scale,
                  const float *bias, float lo, float hi, size_t in_stride, size_t out_stride);
void xconv_free(XConv *x);   // accepts a zeroed XConv
// 1 when x holds a packed conv (an XNNPACK operator or a Winograd one), 0 when zeroed.
static inline int xconv_packed(const XConv *x) { return x->op != NULL || x->wino != NULL; }
// The T2I_* code of a failed XNNPACK call: T2I_ENOMEM for xnn_status_out_of_memory, else T2I_EARG.
int  xconv_xnn_rc(int xnn_status);
// Output size for an H x W input.
void xconv_out_hw(const XConv *x, int H, int W, int *OH /* OUT */, int *OW /* OUT */);
// in (B,H,W,in_stride) -> out (B,OH,OW,out_stride) (channels beyond in_c/out_c untouched).
int  xconv_run(const XConv *x, float *out, const float *in, int B, int H, int W, pthreadpool_t tp);
// Plain twin in NHWC (double accumulation), same contract, same scale/bias/clamp, no pool.
void xconv_run_ref(float *out, const float *in, const Conv2d *m, XConvKind kind,
                   const float *scale, const float *bias, float lo, float hi, size_t in_stride,
                   size_t out_stride, int B, int H, int W);

// Optional accounting for benchmarks (off by default; enable while no forward runs): core
// seconds inside xconv_run (wall time x the pool's threads, summed over calling threads), CPU
// seconds (the calling thread's CPU time x the pool's threads: what the convs cost while other
// processes take wall time from the cores; compare with bench_fma_peak, counted the same way),
// the multiply-accumulates done (`macs`, an UP2 conv counted at its 4 taps per output) and those
// of the plain layers it replaces (`macs_nominal`, an UP2 conv counted as upsample + 3x3: 9).
typedef struct {
    int    enabled;
    double core_seconds, cpu_seconds, macs, macs_nominal;
} XConvStats;
extern XConvStats xconv_stats;
// Counting convolution work done on tp, inside xconv_run or outside it (xtaps' tap sums): start
// a timer before the work, then xconv_stats_add adds its core and CPU seconds (as above) and
// its MACs under a lock (any thread, any time). Both do nothing while the accounting is off.
typedef struct {
    int    on;
    double wall, cpu;
} XConvTimer;
XConvTimer xconv_timer_start(void);
void       xconv_stats_add(const XConvTimer *t, pthreadpool_t tp, double macs,
                           double macs_nominal);

// ---- layout changes (boundaries only) ------------------------------------------------------
// (B,C,HW) -> (B,HW,stride) and back; channels beyond C are left untouched.
void nchw_to_nhwc(float *out, const float *in, int B, int C, int HW, size_t stride);
void nhwc_to_nchw(float *out, const float *in, int B, int C, int HW, size_t stride);

// ---- 16-lane float vectors for the elementwise loops (GCC vector extensions: one AVX-512
// register, two AVX2 or four SSE ones; elementwise IEEE operations, the same bits on each) ----
// Loops over them are cloned per ISA (no contraction under -std=c11: every clone, same bits).
#define XV16_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
typedef float   xv16f __attribute__((vector_size(64)));
typedef int32_t xv16i __attribute__((vector_size(64)));

// Macros, not functions: a 64-byte vector passed or returned by value has another ABI without
// AVX-512 (GCC's -Wpsabi), and the default build has none.
#define XV16_LOAD(v, p)  __builtin_memcpy(&(v), (p), sizeof(xv16f))
#define XV16_STORE(p, v) __builtin_memcpy((p), &(v), sizeof(xv16f))
// v = LeakyReLU(0.2)(v) per lane: v > 0 ? v : v * 0.2f (NaN stays NaN, -0 stays -0).
#define XV16_LRELU(v)                                                                 \
    do {                                                                              \
        const xv16f zero_ = {0};                                                      \
        xv16i m_ = (v) > zero_;                                                       \
        (v) = (xv16f)((m_ & (xv16i)(v)) | (~m_ & (xv16i)((v) * 0.2f)));               \
    } while (0)

// ---- elementwise NHWC epilogues over P = B*H*W pixels --------------------------------------
// GLU over channels: out[p][c] = in[p][c] * sigmoid(in[p][C + c]), c < C; in has 2C channels
// at stride si, out C channels at stride so. out != in.
void nhwc_glu(float *out, size_t so, const float *in, size_t si, size_t P, int C,
              pthreadpool_t tp);
void nhwc_glu_ref(float *out, size_t so, const float *in, size_t si, size_t P, int C);
// acc[p][c] += in[p][c] (the ResBlock's `out + residual`).
void nhwc_add(float *acc, size_t sa, const float *in, size_t si, size_t P, int C,
              pthreadpool_t tp);
void nhwc_add_ref(float *acc, size_t sa, const float *in, size_t si, size_t P, int C);
// acc (B,2H,2W,sa) = in' + acc, in' the nearest-x2 upsample of in (B,H,W,si), over C channels
// (a residual shortcut computed at low resolution, where it commutes with the upsample); with
// lrelu != 0 each sum then goes through LeakyReLU(0.2). acc != in.
void nhwc_add_up2(float *acc, size_t sa, const float *in, size_t si, int B, int H, int W, int C,
                  int lrelu, pthreadpool_t tp);
// out (B,C,HW) NCHW = tanh(in (B,HW,stride)): GET_IMAGE_G's tail and the layout change at once.
void nhwc_tanh_to_nchw(float *out, const float *in, int B, int C, int HW, size_t stride,
                       pthreadpool_t tp);


// ---- batch slices side by side ------------------------------------------------------------
// Runs fn(ctx, k) for k = 0..n-1 at the same time, k = 0 on the caller's thread and the others
// on threads started for this call (a slice whose thread cannot start runs on the caller's
// afterwards), with OpenBLAS single-threaded meanwhile. Networks give each slice its own
// single-threaded instance (own XConvs), so per-image results stay those of one thread.
void xslices_run(int n, void (*fn)(void *ctx, int k), void *ctx);
// The single-threaded instances of those slices: an array of n instances of `size` bytes, each
// made by share1(&array[k], src). NULL with *rc set when one cannot be made (those made are
// released with drop, the array freed). xpeers_free releases n instances and the array.
void *xpeers_create(int n, size_t size, int (*share1)(void *dst, const void *src),
                    void (*drop)(void *inst), const void *src, int *rc /* OUT */);
void  xpeers_free(void *peers, int n, size_t size, void (*drop)(void *inst));

// ---- pooling -------------------------------------------------------------------------------
typedef enum { XPOOL_MAX = 0, XPOOL_AVG_PAD = 1, XPOOL_AVG_NOPAD = 2 } XPoolKind;
// 3x3 pooling with stride s and padding p (floor mode) over C channels: in (B,H,W,si) ->
// out (B,OH,OW,so), OH = pool_out(H, 3, s, p). Max pads with -inf and propagates NaN; average
// divides by the window clipped to the padded extent (XPOOL_AVG_PAD, count_include_pad=True) or
// to the input (XPOOL_AVG_NOPAD), summing in the order of ops.h's avgpool2d_forward 3x3/s1/p1
// path (bit-equal to it there; other strides sum columns first, equal to float rounding). With bias != NULL each output then becomes max(y + bias[c], 0): a BatchNorm shift
// and ReLU after a pool that was moved behind the bias-free conv it commutes with.
void nhwc_pool3(float *out, size_t so, const float *in, size_t si, int B, int H, int W, int C,
                int s, int p, XPoolKind kind, const float *bias, pthreadpool_t tp);
// Through the NCHW ops (maxpool2d_forward / avgpool2d_forward); tmp holds 2*B*C*H*W floats.
void nhwc_pool3_ref(float *out, size_t so, const float *in, size_t si, int B, int H, int W,
                    int C, int s, int p, XPoolKind kind, const float *bias, float *tmp);

#endif
