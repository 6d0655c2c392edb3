// xwino.h -- Winograd convolutions in NHWC, the engine behind xconv's XCONV_FAST (used only
// through xconv.h; this header is xconv.c's).
//
// A stride-1 3x3 conv runs as F(4x4,3x3): every 4x4 block of outputs ("tile") comes from a 6x6
// input patch, transformed to 36 points; each point is one IC -> OC matrix product over all
// tiles; an inverse transform gives the 4x4 outputs. 2.25 multiply-adds per output and channel
// pair instead of 9. Likewise 5x5 as F(2x2,5x5) (9 instead of 25), 1x7 and 7x1 as F(2,7) along
// the long axis (4 instead of 7), 1x3 and 3x1 as F(4,3) (1.5 instead of 3). Convs with more than
// 65536 channel pairs take the smaller tiles F(2x2,3x3) and F(2,3) (4 and 2), whose transformed
// weights are less than half as large.
//
// The matrix products are XNNPACK GEMMs (one grouped 1x1 convolution, a group per point) over
// blocks of tiles; the transforms are plain IEEE additions and multiplications by constants in
// a fixed order. No step mixes tiles, and XNNPACK's GEMM computes each row the same way
// wherever it falls in a block, so an output's bits do not depend on the batch, the image's
// place in it, the block boundaries or the thread count.
//
// Accuracy: the transforms round in float. Against a double-precision direct conv the error is
// a few times that of the direct float conv (tests/test_xconv.c bounds it); the Inception
// fixtures hold with their unchanged tolerances.
#ifndef T2I_XWINO_H
#define T2I_XWINO_H

#include "ops.h"

#include <pthreadpool.h>
#include <stddef.h>

// Part of the run fingerprint (xnn_kernel_desc): bump the version when a transform, its order of
// operations, the choice of kind or the layers that use it change the bits computed. v1: the
// Inception family; v2: also AttnGAN's and DM-GAN's residual and upBlock convs (3x3 on x2-upsampled
// inputs) and their image convs as tap sums (xtaps.h).
#define XWINO_DESC                                                                         \
    "Winograd v2 3x3 F(4x4)|F(2x2) (also x2-upsampled), 5x5 F(2x2), 1x7 F(2), 1x3 F(4)|F(2)"

typedef struct XWino XWino;

// 1 when m runs as Winograd here: 3x3, 5x5, 1x7, 7x1, 1x3 or 3x1, stride 1, dilation 1,
// padding below the kernel size, and channel counts that are multiples of 16.
int  xwino_fits(const Conv2d *m);
// 1 when m runs as Winograd on a x2 nearest-upsampled input: xwino_fits, 3x3, pad 1.
int  xwino_fits_up2(const Conv2d *m);
// As xconv_create (XCONV_PLAIN semantics, or XCONV_UP2 with up2):
// y = clamp(sum(x * w * scale[oc]) + bias[oc], lo, hi). With up2 the tiles read the input
// upsampled x2 (pixel (y, x) of the upsample is input pixel (y/2, x/2)), so an H x W input gives
// a 2H x 2W output: the same multiply-adds per output as without, 2.25 instead of UP2's 4.
int  xwino_create(XWino **out /* OUT */, const Conv2d *m, int up2, const float *scale,
                  const float *bias, float lo, float hi, size_t in_stride, size_t out_stride);
void xwino_free(XWino *w);
// in (B,H,W,in_stride) -> out (B,OH,OW,out_stride). One caller at a time (XNNPACK keeps per-call
// state in the operator); the scratch is the calling thread's. *macs receives the
// multiply-accumulates of the GEMMs.
int  xwino_run(XWino *w, float *out, const float *in, int B, int H, int W, pthreadpool_t tp,
               double *macs /* OUT */);

#endif
