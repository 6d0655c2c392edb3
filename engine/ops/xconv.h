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
// "XNNPACK 0.0~git20220216 x86-64 avx512f" (the kernel library and the ISA path it selects),
// for run provenance. Calls xnn_ready.
const char *xnn_kernel_desc(void);

// A pool of n threads for XConv and the helpers (the caller's thread is one of them); n <= 1
// gives NULL (run on the caller's thread). pthreadpool_destroy(NULL) is a no-op.
pthreadpool_t xpool_create(int n);
int           xpool_threads(pthreadpool_t tp);

typedef enum {
    XCONV_PLAIN = 0,   // Conv2d as declared (groups 1, dilation 1)
    XCONV_UP2   = 1,   // nearest x2 upsample then a 3x3 pad-1 stride-1 conv, as one 4x4
                       // stride-2 transposed conv whose taps are sums of the 3x3 taps
} XConvKind;

typedef struct {
    void  *op;                           // xnn_operator_t
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

// ---- layout changes (boundaries only) ------------------------------------------------------
// (B,C,HW) -> (B,HW,stride) and back; channels beyond C are left untouched.
void nchw_to_nhwc(float *out, const float *in, int B, int C, int HW, size_t stride);
void nhwc_to_nchw(float *out, const float *in, int B, int C, int HW, size_t stride);

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
// out (B,C,HW) NCHW = tanh(in (B,HW,stride)): GET_IMAGE_G's tail and the layout change at once.
void nhwc_tanh_to_nchw(float *out, const float *in, int B, int C, int HW, size_t stride,
                       pthreadpool_t tp);


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
