// resize.h -- image resampling to the evaluators' input size, image quantization and the
// uint8 <-> float mappings each network expects.
//
// Kernels (all antialiasing off except where PIL itself widens its filter on downscaling):
//   * resize_bilinear_torch: F.interpolate(mode='bilinear', align_corners=False|True), torch 1.13
//     CPU formula in float32: src = scale*(dst+0.5)-0.5 clamped at 0 (False) or
//     src = dst*(in-1)/(out-1) (True); out = (x00*l0 + x01*l1)*h0 + (x10*l0 + x11*l1)*h1.
//   * resize_bilinear_tf1: TF1 ResizeBilinear with align_corners=False, half_pixel_centers=False
//     (the kernel torch-fidelity reproduces): src = dst*in/out, top + (bottom-top)*ly.
//   * resize_bilinear_pil_u8: Pillow's Image.resize(BILINEAR) on uint8 bands, what
//     scipy.misc.imresize(..., 'bilinear') and torchvision Resize on PIL images do: triangle
//     filter with support scaled by the downscale factor, 22-bit fixed-point coefficients,
//     horizontal pass then vertical pass, each rounded and clipped to uint8.
// Not supported: bicubic/lanczos, antialiased torch resize, TF2 half-pixel resize.
#ifndef T2I_RESIZE_H
#define T2I_RESIZE_H

#include <stddef.h>
#include <stdint.h>

// in (N,H,W) float planes -> out (N,OH,OW). out must not alias in.
void resize_bilinear_torch(float *out, const float *in, int N, int H, int W, int OH, int OW,
                           int align_corners);
void resize_bilinear_tf1(float *out, const float *in, int N, int H, int W, int OH, int OW);

// in (H,W,C) uint8 interleaved -> out (OH,OW,C); scratch holds resize_pil_scratch_bytes().
size_t resize_pil_scratch_bytes(int H, int W, int C, int OH, int OW);
void   resize_bilinear_pil_u8(uint8_t *out, const uint8_t *in, int H, int W, int C, int OH, int OW,
                              void *scratch);

// ---- quantization --------------------------------------------------------------------------
typedef enum {
    QUANTIZE_NONE     = 0,   // keep float
    QUANTIZE_ROUND    = 1,   // round half to even of (x+1)*127.5, clamped to [0,255]
    QUANTIZE_TRUNCATE = 2,   // AttnGAN's ((x+1)*127.5).astype(uint8): float32 math, toward 0
} Quantize;

// x in [-1,1] -> uint8. Out-of-range values clamp to 0/255 and NaN gives 0 (numpy's cast is
// undefined there). QUANTIZE_NONE is not valid here.
void quantize_u8(uint8_t *out, const float *in, size_t n, Quantize mode);
// The float image an evaluator sees after saving/loading with `mode`: quantize, then x/127.5-1
// (QUANTIZE_NONE copies). out may equal in.
void quantize_pm1(float *out, const float *in, size_t n, Quantize mode);

// ---- uint8 -> float ------------------------------------------------------------------------
typedef enum {
    U8_PM1_127    = 0,   // x/127.5 - 1          StackGAN IS script, AttnGAN data loader
    U8_UNIT       = 1,   // x/255                ToTensor (pytorch-fid input in [0,1])
    U8_PM1_NORM   = 2,   // (x/255 - 0.5)/0.5    ToTensor + Normalize((0.5,)*3, (0.5,)*3)
    U8_TF_128     = 3,   // (x - 128)/128        TF 2015 graph, torch-fidelity
    U8_RAW        = 4,   // x                    (values 0..255 as float)
} U8Map;

void u8_to_float(float *out, const uint8_t *in, size_t n, U8Map map);
// (H,W,3) uint8 -> (3,H,W) float with `map`.
void hwc_u8_to_chw_float(float *out, const uint8_t *in, int H, int W, U8Map map);
// [-1,1] float (3,H,W) -> (H,W,3) uint8 by `mode` (ROUND or TRUNCATE).
void chw_pm1_to_hwc_u8(uint8_t *out, const float *in, int H, int W, Quantize mode);

#endif
