// attngan_kernels.h -- internal: the fused fast kernels of the G_NET forward (attngan.c) and of
// the channel-major conv epilogue (conv2d.c), each next to its plain reference twin, exposed so
// that tests/test_attngan_kernels.c can compare the two on odd shapes (STYLE.md §3.2). Not a
// public API: networks call these through gnet_forward / conv2d_forward_cm.
//
// Conventions as in ops.h: output first, inputs const, dims last, caller-owned memory, no
// allocation. A twin is composed from the simple ops of ops.h (or a direct loop) and takes its
// temporaries from the caller; fast and twin agree to float rounding (atol 1e-5 / rtol 1e-4).
#ifndef T2I_ATTNGAN_KERNELS_H
#define T2I_ATTNGAN_KERNELS_H

#include "attngan.h"
#include "ops.h"

#include <stddef.h>

// ---- G_NET (attngan.c) ---------------------------------------------------------------------

// BatchNorm (eval, bn->C == 2C, affine) then GLU over channels: in (B,2C,HW) -> out (B,C,HW).
// With HW = 1 this is INIT_STAGE_G's BatchNorm1d + GLU. out != in.
void gnet_bn_glu(float *out, const float *in, const BatchNorm *bn, int B, int C, size_t HW);
// batchnorm_forward into tmp (B,2C,HW), then glu_forward.
void gnet_bn_glu_ref(float *out, const float *in, const BatchNorm *bn, int B, int C, size_t HW,
                     float *tmp);

// ResBlock tail: acc (B,C,HW) += BatchNorm(in) (bn->C == C, affine). acc != in.
void gnet_bn_add(float *acc, const float *in, const BatchNorm *bn, int B, int C, size_t HW);
// batchnorm_forward into tmp (B,C,HW), then an elementwise add.
void gnet_bn_add_ref(float *acc, const float *in, const BatchNorm *bn, int B, int C, size_t HW,
                     float *tmp);

// Nearest x2 upsample fused into a 3x3 pad-1 stride-1 conv without bias:
// in (B,C,H,W) -> out (B,OC,2H,2W). The upsampled image is never materialized: `col` holds
// gnet_upconv3x3_col_floats(C,H,W) floats (one band of im2col columns), `rows` holds
// gnet_upconv3x3_rows_floats(H,W) floats (expanded input rows).
size_t gnet_upconv3x3_col_floats(int C, int H, int W);
size_t gnet_upconv3x3_rows_floats(int H, int W);
void   gnet_upconv3x3(float *out, const float *in, const Conv2d *m, int B, int H, int W,
                      float *col, float *rows);
// upsample_nearest2x_forward into up (B,C,2H,2W), then conv2d_forward_ref.
void   gnet_upconv3x3_ref(float *out, const float *in, const Conv2d *m, int B, int H, int W,
                          float *up);

// upBlock = gnet_upconv3x3 into cv (B,OC,2H,2W), then gnet_bn_glu: out (B,OC/2,2H,2W).
void gnet_up_block(float *out, const float *in, const GNetConvBN *m, int B, int H, int W,
                   float *cv, float *col, float *rows);
// upsample, conv2d_forward_ref, batchnorm_forward, glu_forward; up (B,C,2H,2W), cv (B,OC,2H,2W).
void gnet_up_block_ref(float *out, const float *in, const GNetConvBN *m, int B, int H, int W,
                       float *up, float *cv);

#endif
