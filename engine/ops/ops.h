// ops.h -- the numerical kernels every network is built from.
//
// Conventions (STYLE.md §1-4, §11, §14-16):
//   * pure kernels: output first, inputs const, dims last, void return; no malloc, no I/O;
//   * tensors are contiguous float32 in PyTorch order (NCHW, or (B,T,E));
//   * every fast kernel has a plain `_ref` twin; tests compare them on odd shapes;
//   * formulas copy PyTorch literally (BatchNorm (x-mean)/sqrt(var+eps) with the module's eps);
//   * parallelism: OpenBLAS threads inside sgemm (blas.h); the channel-major conv additionally
//     splits its im2col and epilogue loops over the same thread count (t2i_parallel, blas.h);
//     every other kernel is single-threaded (callers may split planes themselves).
// Not supported: dilation, groups, ceil_mode pooling, antialiased resizing.
#ifndef T2I_OPS_H
#define T2I_OPS_H

#include <stddef.h>
#include <stdint.h>

// ---- convolution ---------------------------------------------------------------------------
// https://pytorch.org/docs/stable/generated/torch.nn.Conv2d.html (groups=1, dilation=1)
typedef struct {
    int          in_c, out_c, kh, kw, sh, sw, ph, pw;
    const float *w;   // (OC, IC, KH, KW)
    const float *b;   // (OC) or NULL
} Conv2d;

void   conv2d_out_hw(const Conv2d *m, int H, int W, int *OH /* OUT */, int *OW /* OUT */);
// Floats of im2col scratch that conv2d_forward needs for one image of H x W.
size_t conv2d_scratch_floats(const Conv2d *m, int H, int W);
// in (B,IC,H,W) -> out (B,OC,OH,OW); scratch holds conv2d_scratch_floats() floats.
void   conv2d_forward(float *out, const float *in, const Conv2d *m, int B, int H, int W,
                      float *scratch);
void   conv2d_forward_ref(float *out, const float *in, const Conv2d *m, int B, int H, int W);

// ---- channel-major convolution --------------------------------------------------------------
// Layout (C,B,H,W): every channel holds the B images' planes back to back. The Inception family
// runs in it because a batch of small maps becomes one wide sgemm (N = B*OH*OW) and a channel
// concatenation is just a row offset into the output. Output rows have stride B*OH*OW.
// Per output channel the epilogue computes y = (y + b[oc] - mean[oc]) * scale[oc] + shift[oc],
// then ReLU when relu != 0 (NULL b/mean/scale/shift mean 0/0/1/0): a conv's bias, an unfolded
// eval BatchNorm, or a BatchNorm folded into the weights (shift only).
typedef struct {
    const float *mean, *scale, *shift;   // (OC) each, or NULL
    int          relu;
} ConvEpilogue;

// Floats of scratch conv2d_forward_cm needs for B images of H x W (0 for 1x1/stride 1/pad 0).
size_t conv2d_cm_scratch_floats(const Conv2d *m, int B, int H, int W);
// in (IC,B,H,W) -> out (OC,B,OH,OW); ep may be NULL (plain conv + bias).
void   conv2d_forward_cm(float *out, const float *in, const Conv2d *m, const ConvEpilogue *ep,
                         int B, int H, int W, float *scratch);
// The epilogue alone (no conv bias) on out (C rows of n floats), for callers that run the
// sgemm with ep == NULL and finish some rows later.
void   conv_epilogue_apply(float *out, int C, size_t n, const ConvEpilogue *ep);
// Plain twin: per row c, y = (y - mean[c]) * scale[c] + shift[c] (NULL = 0 / 1 / 0), then ReLU
// when ep->relu; ep == NULL leaves out unchanged.
void   conv_epilogue_apply_ref(float *out, int C, size_t n, const ConvEpilogue *ep);
// Layout changes: (B,C,HW) <-> (C,B,HW).
void   nchw_to_cm(float *out, const float *in, int B, int C, int HW);
void   cm_to_nchw(float *out, const float *in, int B, int C, int HW);

// ---- normalization and activations ---------------------------------------------------------
// https://pytorch.org/docs/stable/generated/torch.nn.BatchNorm2d.html (eval mode)
typedef struct {
    int          C;
    float        eps;      // 1e-5 (PyTorch default) or 1e-3 (torchvision Inception BasicConv2d)
    const float *weight;   // (C) or NULL (affine=False: gamma 1)
    const float *bias;     // (C) or NULL (beta 0)
    const float *mean;     // (C)
    const float *var;      // (C)
} BatchNorm;

// in (B,C,HW) -> out (B,C,HW); out may equal in.
void batchnorm_forward(float *out, const float *in, const BatchNorm *m, int B, int HW);

// GLU over channels: in (B,2C,HW) -> out (B,C,HW) = in[:, :C] * sigmoid(in[:, C:]).
void glu_forward(float *out, const float *in, int B, int C, int HW);

// Elementwise; out may equal in.
void relu_forward(float *out, const float *in, size_t n);
void leaky_relu_forward(float *out, const float *in, size_t n, float slope);
void sigmoid_forward(float *out, const float *in, size_t n);
void tanh_forward(float *out, const float *in, size_t n);

// Row-wise softmax, accumulated in double: in (rows, cols) -> out (rows, cols). out may equal in.
// A row of all -inf gives NaN, as PyTorch does.
void softmax_rows(float *out, const float *in, int rows, int cols);

// ---- pooling and resampling ----------------------------------------------------------------
// Nearest x2: in (B,C,H,W) -> out (B,C,2H,2W), out[y][x] = in[y/2][x/2].
void upsample_nearest2x_forward(float *out, const float *in, int B, int C, int H, int W);

// Output size of a k/s/p pool with floor rounding.
int  pool_out(int n, int k, int s, int p);
// https://pytorch.org/docs/stable/generated/torch.nn.MaxPool2d.html (padding is -inf)
void maxpool2d_forward(float *out, const float *in, int B, int C, int H, int W, int k, int s,
                       int p);
// https://pytorch.org/docs/stable/generated/torch.nn.AvgPool2d.html
void avgpool2d_forward(float *out, const float *in, int B, int C, int H, int W, int k, int s,
                       int p, int count_include_pad);
// AdaptiveAvgPool2d(1): in (B,C,H,W) -> out (B,C), mean accumulated in double.
void global_avgpool_forward(float *out, const float *in, int B, int C, int HW);

// ---- linear and embedding ------------------------------------------------------------------
// https://pytorch.org/docs/stable/generated/torch.nn.Linear.html
typedef struct {
    int          in_f, out_f;
    const float *w;   // (OUT, IN)
    const float *b;   // (OUT) or NULL
} Linear;

// in (B,IN) -> out (B,OUT)
void linear_forward(float *out, const float *in, const Linear *m, int B);
void linear_forward_ref(float *out, const float *in, const Linear *m, int B);
// The same, one sgemm per sample: every row gets the sgemm shape of batch 1, so a sample's
// result never depends on its batch (with single-threaded BLAS).
void linear_forward_per_sample(float *out, const float *in, const Linear *m, int B);

// ids (n) -> out (n,E) rows of table (ntoken,E). Returns T2I_OK, or T2I_EARG naming the first
// id outside [0, ntoken) (no row is read out of bounds).
int embedding_forward(float *out, const int64_t *ids, size_t n, const float *table, int ntoken,
                      int E);

// ---- channel concatenation -----------------------------------------------------------------
// a (B,Ca,HW), b (B,Cb,HW) -> out (B,Ca+Cb,HW)
void concat_channels(float *out, const float *a, int Ca, const float *b, int Cb, int B, int HW);

#endif
