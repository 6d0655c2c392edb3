// xtaps.h -- a stride-1 KxK convolution with few output channels (DF-GAN's 32 -> 3 to_rgb conv,
// AttnGAN's and DM-GAN's GET_IMAGE_G)
// as one 1x1 XNNPACK convolution to out_c*kh*kw channels followed by a per-pixel sum of the
// taps. XNNPACK's f32 kernels tile 16 output channels, so a 3-channel conv keeps 3 of 16 lanes
// busy (~20 GFLOP/s here); the 1x1 conv to 27 channels keeps 27 of 32 busy and does the same
// multiply-accumulates.
//
// Determinism: the 1x1 conv is batch- and thread-invariant (xconv.h), and each output is then
// the sum of its kh*kw taps in a fixed order (ky, then kx; taps in the padding skipped) plus the
// bias: a pixel's bytes do not depend on the batch, the threads or the rows computed with it.
// The results differ from a direct XNNPACK KxK conv by float rounding (~1e-7 relative).
#ifndef T2I_XTAPS_H
#define T2I_XTAPS_H

#include "xconv.h"

typedef struct {
    XConv        taps;   // 1x1: in_c -> out_c*kh*kw (channel (o*kh + ky)*kw + kx)
    int          in_c, out_c, kh, kw, ph, pw;
    const float *bias;   // the Conv2d's (not copied: it must outlive the XTaps), NULL = 0
} XTaps;

// Packs m (OIHW weights, stride 1, no dilation) for inputs whose pixels are in_stride floats
// apart (0 = in_c). T2I_OK, T2I_ENOMEM or T2I_EARG (another stride, or a shape XNNPACK refuses);
// on failure t is zeroed.
int  xtaps_create(XTaps *t /* OUT */, const Conv2d *m, size_t in_stride);
void xtaps_free(XTaps *t);   // accepts a zeroed XTaps
// Floats of scratch xtaps_run needs for B images of H x W.
size_t xtaps_scratch_floats(const XTaps *t, int B, int H, int W);
// in (B,H,W,in_stride) -> out (B,OH,OW,out_c), OH = H + 2ph - kh + 1 (OW likewise); scratch holds
// xtaps_scratch_floats and may not overlap in or out. The tap sums run on tp. With xconv_stats
// enabled, xconv_run counts the 1x1 conv (its MACs are those of the KxK conv), and the sums'
// CPU and core seconds are added as part of the same convolution (xconv_stats_add, no MACs).
int xtaps_run(const XTaps *t, float *out, const float *in, float *scratch, int B, int H, int W,
              pthreadpool_t tp);
// The second half of xtaps_run alone: scratch already holds t->taps's output (B,H,W,out_c*kh*kw)
// (e.g. computed in bands of rows by several instances' t->taps, which give the same bytes).
int xtaps_sums(const XTaps *t, float *out, const float *scratch, int B, int H, int W,
               pthreadpool_t tp);

#endif
