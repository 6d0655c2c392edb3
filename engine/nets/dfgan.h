// dfgan.h -- DF-GAN's generator NetG (tobran/DF-GAN code/models/GAN.py, CVPR 2022), eval mode.
//
//   out  = fc(noise).view(B, 8nf, 4, 4)                 Linear(nz -> 8nf*4*4) with bias
//   cond = cat(noise, sent_emb)                         noise FIRST: (B, nz + cond_dim)
//   for each G_Block (in -> out channels):
//       x   = interpolate(x, scale_factor=2)            nearest
//       out = shortcut(x) + c2(fuse2(c1(fuse1(x, cond)), cond))
//             shortcut = c_sc (1x1 conv, bias) when in != out, else x; c1, c2 conv3x3 (bias)
//   img = tanh(conv3x3(LeakyReLU_0.2(out)))             to_rgb
// DFBLK(x) = LeakyReLU_0.2(affine1(LeakyReLU_0.2(affine0(x)))); Affine(x) = gamma * x + beta
// per channel, gamma = linear2(ReLU(linear1(cond))), beta from its own MLP (a multiply, then an
// add). imsize 256 gives 6 blocks with channels nf * [8,8,8,8,4,2,1] taken pairwise. No
// normalisation, no CA noise, no attention: every sample depends only on its own noise row and
// sentence embedding. Exact semantics: ../shared/fixtures/README.md "DF-GAN NetG".
// Not supported: NetD/NetC (the discriminators are never needed to sample).
//
// Computation: NHWC end to end on XNNPACK convolutions (xconv.h), layouts changed only at the
// network's boundaries (fc output in, image out). Affine and LeakyReLU are per pixel and commute
// with nearest upsampling, so a G_Block runs fuse1 at the input resolution and c1 as one UP2
// conv (upsample + 3x3 in a 4x4 stride-2 transposed conv); the 1x1 shortcut also runs at the
// input resolution and is upsampled inside the residual add. The affine MLPs and fc are
// per-sample sgemms. Per-image results are bit-identical at any batch size or thread count.
//
// Memory: weights live in the owned StateDict (a dfgan_share instance borrows them) and are
// packed once per instance for XNNPACK; activations come from a caller-owned Arena sized by
// dfgan_arena_bytes(B) (a measuring pass over the same allocation sequence). XNNPACK keeps
// per-call state in its operators: one forward at a time per DfGan; other threads take a
// dfgan_share instance.
#ifndef T2I_DFGAN_H
#define T2I_DFGAN_H

#include "arena.h"
#include "ops.h"
#include "state_dict.h"
#include "xconv.h"
#include "xtaps.h"

#include <stddef.h>

#define DFGAN_MAX_BLOCKS 10   // imsize up to 2048

typedef struct {
    int nf;         // cfg.nf        (32): base channel count (NetG's ngf)
    int z_dim;      // cfg.z_dim     (100): noise width (nz)
    int cond_dim;   // cfg.cond_dim  (256): sentence embedding width
    int imsize;     // cfg.imsize    (256): output pixels, a power of two >= 8
    int ch_size;    // cfg.ch_size   (3): output channels
} DfGanConfig;

DfGanConfig dfgan_config_bird(void);   // cfg/bird.yml (coco.yml is the same network)
// Sizes in range, imsize a power of two in 8..2048; T2I_EARG with the reason else.
int dfgan_config_check(const DfGanConfig *cfg);
// Number of G_Blocks (log2(imsize) - 2) and their channels (in[k] -> out[k]).
int dfgan_blocks(const DfGanConfig *cfg, int *in /* OUT, DFGAN_MAX_BLOCKS */,
                 int *out /* OUT, DFGAN_MAX_BLOCKS */);

// ---- parameters (pointers into the owned StateDict) ----------------------------------------

typedef struct {
    Linear linear1;   // (C, nz + cond_dim) + bias
    Linear linear2;   // (C, C) + bias
} DfGanMlp;           // linear1 -> ReLU -> linear2

typedef struct {
    DfGanMlp fc_gamma, fc_beta;
} DfGanAffine;

typedef struct {
    DfGanAffine affine0, affine1;
} DfGanDfblk;

typedef struct {
    int        in_c, out_c;
    Conv2d     c1, c2;      // 3x3, pad 1, bias
    Conv2d     c_sc;        // 1x1 with bias; only when in_c != out_c
    DfGanDfblk fuse1;       // on in_c channels
    DfGanDfblk fuse2;       // on out_c channels
} DfGanBlock;

// The XNNPACK operators of one instance, packed from the Conv2d weights.
typedef struct {
    XConv c1[DFGAN_MAX_BLOCKS];     // XCONV_UP2: upsample + c1 over the low-resolution input
    XConv c2[DFGAN_MAX_BLOCKS];
    XConv c_sc[DFGAN_MAX_BLOCKS];   // 1x1 at the input resolution (only when in_c != out_c)
    XTaps to_rgb;                   // 3x3 -> 3: a 1x1 conv to 27 channels + tap sums (xtaps.h)
    // c2 without vertical padding, run on bands of rows over zero guard rows: one image on
    // several threads as independent single-threaded operators (packed when bands == 1: in an
    // instance with threads and in its peers)
    XConv c2v[DFGAN_MAX_BLOCKS];
    // c1 (the upsampling conv) restricted to this instance's band of output channels
    // [c1b_c0, c1b_c0 + c1b.out_c), written at the full pixel stride (the other channels are
    // another instance's): one image on several threads, the channels split instead of the rows
    XConv c1b[DFGAN_MAX_BLOCKS];
    int   c1b_c0[DFGAN_MAX_BLOCKS];
    int   bands;   // 1 + this instance's band index when c2v and c1b are packed, else 0
} DfGanPacked;

typedef struct DfGan {
    DfGanConfig   cfg;
    int           n_blocks;
    Linear        fc;                         // (8nf*16, nz) + bias
    DfGanBlock    blocks[DFGAN_MAX_BLOCKS];   // GBlocks.k
    Conv2d        to_rgb;                     // to_rgb.1: (ch_size, nf, 3, 3) + bias
    StateDict     sd;                         // owns the weights (empty in a dfgan_share copy)
    DfGanPacked   x;                          // packed at load
    int           nth;                        // threads (dfgan_set_threads); 1 = one
    pthreadpool_t tp;                         // nth threads inside every layer, NULL for one
    struct DfGan *peers;                      // nth - 1 single-threaded instances (batch slices)
    int           npeers;
} DfGan;

// Declares every NetG state_dict key of `cfg` into `bl`, binding the pointers of `g`.
void dfgan_keys(DfGan *g, const DfGanConfig *cfg, BindList *bl);
// Binds a loaded StateDict (ownership moves into `g`, even on failure); strict like
// load_state_dict. `what` names the file in messages.
int  dfgan_load_sd(DfGan *g /* OUT */, const DfGanConfig *cfg, StateDict *sd, const char *what);
void dfgan_free(DfGan *g);   // accepts a zeroed DfGan (free shares before their source)
// A second instance for another thread over src's weights (src must outlive it), with its own
// packed operators and src's thread count.
int  dfgan_share(DfGan *dst /* OUT */, const DfGan *src);
// nth threads: a batch of B >= 2 is cut into min(nth, B) contiguous slices run side by side by
// this instance and nth - 1 single-threaded dfgan_share peers; one image runs every layer on a
// pool of nth threads. T2I_ENOMEM when the threads or peers cannot be made (then one thread).
int  dfgan_set_threads(DfGan *g, int nth);

// ---- forward -------------------------------------------------------------------------------

// Optional debugging outputs besides the image; any pointer may be NULL.
typedef struct {
    float *img;                         // (B, ch_size, imsize, imsize) in [-1, 1]
    float *fc_out;                      // (B, 8nf*16)
    float *block_out[DFGAN_MAX_BLOCKS]; // (B, out_c, 8<<k, 8<<k), before to_rgb's LeakyReLU
} DfGanOutputs;

size_t dfgan_arena_bytes(const DfGan *g, int B);
// noise (B, z_dim), sent_emb (B, cond_dim) -> out. `arena` needs dfgan_arena_bytes(g, B) free
// and is reset to its entry mark. T2I_EARG when B < 1 or an input is missing.
// T2I_ENOMEM / T2I_EARG when XNNPACK fails.
int dfgan_forward(const DfGan *g, const float *noise, const float *sent_emb, DfGanOutputs *out,
                  int B, Arena *arena);

// The per-channel affine pair of one Affine for a batch: cond (B, nz+cond_dim) -> gamma, beta
// (B, C), one sgemm per sample; hidden holds (B, C) floats. Exposed for the fixture's affine
// intermediates.
void dfgan_affine_params(float *gamma, float *beta, const DfGanAffine *m, const float *cond,
                         int B, float *hidden);

// Multiply-accumulates of one image as counted in ../shared/reference/summary.json (convs and
// linears, the affine MLPs included, the per-pixel modulation not).
double dfgan_macs_per_image(const DfGanConfig *cfg);

#endif
