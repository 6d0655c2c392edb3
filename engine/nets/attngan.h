// attngan.h -- AttnGAN's generator G_NET (code/model.py), eval mode.
//
//   c_code, mu, logvar = CA_NET(sent_emb)        GLU(fc(sent)); c = eps*exp(0.5*logvar) + mu
//   h1 = INIT_STAGE_G(cat(c_code, z))           fc(no bias)+BN1d+GLU -> (16ngf,4,4) -> 4 upBlocks
//   img64 = GET_IMAGE_G(h1)                     conv3x3 (no bias) -> tanh
//   h2, att1 = NEXT_STAGE_G(h1, words, mask)    word attention, cat(h, ctx), R_NUM ResBlocks, upBlock
//   img128 = GET_IMAGE_G(h2); h3, att2 = NEXT_STAGE_G(h2, ...); img256 = GET_IMAGE_G(h3)
// upBlock = nearest x2, conv3x3 (no bias), BatchNorm (eps 1e-5), GLU. ResBlock: x +
// BN(conv(GLU(BN(conv(x))))). ngf = GF_DIM; stage 1 works on 16ngf..ngf channels, stages 2-3 on
// 2ngf. Exact op semantics: ../shared/fixtures/README.md. Not supported: B_DCGAN, BRANCH_NUM 0.
//
// Memory: weights are loaded once into the GNet; activations come from a caller-owned Arena
// sized once per (B, T) with gnet_arena_bytes() (a measuring pass over the same allocation
// sequence), reset after each forward; nothing is allocated per layer call. The default path
// keeps per-call state in its XNNPACK operators: one forward at a time per GNet; other threads
// use gnet_share instances (shared weights, own packed operators).
#ifndef T2I_ATTNGAN_H
#define T2I_ATTNGAN_H

#include "arena.h"
#include "attention.h"
#include "gstages.h"
#include "ops.h"
#include "state_dict.h"
#include "xconv.h"

#include <stddef.h>
#include <stdint.h>

#define GNET_MAX_R_NUM GSTAGE_MAX_R_NUM

typedef GStageConfig GNetConfig;   // gf_dim bird 32, coco 48; r_num bird 2, coco 3

GNetConfig gnet_config_bird(void);   // cfg/eval_bird.yml
GNetConfig gnet_config_coco(void);   // cfg/eval_coco.yml
// Positive sizes, gf_dim usable by INIT_STAGE_G, r_num and branch_num in range; T2I_EARG else.
int gnet_config_check(const GNetConfig *cfg);

// ---- parameters (pointers into the owned StateDict) ----------------------------------------

typedef ConvBN GNetConvBN;   // conv3x3 -> BN (-> GLU by the caller)

typedef struct {
    GStageParams  st;       // CA_NET, INIT_STAGE_G, ResBlocks, upBlocks, GET_IMAGE_G
    WordAttention att[2];   // h_net2/3.att.conv_context
} GNetParams;

// How gnet_forward computes. Both give the same numbers to float rounding (~1e-6), not bit for bit.
typedef enum {
    GNET_NHWC_XNNPACK = 0,   // default: NHWC end to end, XNNPACK convs (BatchNorm folded in,
                             // upBlock = one 4x4 stride-2 transposed conv), threads inside
                             // every layer, per-image results independent of batch and threads
                             // (gstages.h)
    GNET_NCHW_BLAS    = 1,   // the previous path: NCHW, im2col + OpenBLAS sgemm, batch slices
                             // on threads (kept as the speed baseline of `bench` and as a twin)
} GNetPath;

typedef struct GNet {
    GNetConfig  cfg;
    GNetParams  p;
    StateDict   sd;     // owns the weights (empty in a gnet_share copy)
    int         path;   // GNetPath
    GStageExec  e;      // packed operators (NHWC path), threads (gnet_set_threads)
} GNet;

// Declares every state_dict key of the configuration into `bl` (initialized by the caller),
// binding the pointers of `g` (num_batches_tracked optional).
void gnet_keys(GNet *g, const GNetConfig *cfg, BindList *bl);

// Loads and strictly binds weights from `spec` (path or "hash:attngan-oracle-hash-v1").
// On failure `g` is left freed and the message lists missing/unexpected/mismatched keys.
int  gnet_load(GNet *g /* OUT */, const GNetConfig *cfg, const char *spec);
// Same from a loaded StateDict, whose ownership moves into `g` (even on failure).
int  gnet_load_sd(GNet *g /* OUT */, const GNetConfig *cfg, StateDict *sd);
void gnet_free(GNet *g);   // accepts a zeroed GNet
// A second instance for another thread: shares src's weights (src must outlive dst) and gets
// its own packed operators and thread pool (an instance runs one forward at a time). Free dst
// with gnet_free before src.
int  gnet_share(GNet *dst /* OUT */, const GNet *src);
// Switches the computation path (GNET_NHWC_XNNPACK packs the weights if not yet done).
int  gnet_set_path(GNet *g, GNetPath path);

// ---- forward -------------------------------------------------------------------------------

typedef GStageInputs GNetInputs;   // z, sent_emb, words_emb, mask, eps, mask_mode

// Caller-owned outputs; any pointer may be NULL (that output is then not computed when it is
// not needed for a later stage). Stage s (0-based, s < branch_num) is 64<<s pixels: img[s]
// (B, 3, 64<<s, 64<<s) in [-1, 1]; att[s-1] (B, T, 32<<s, 32<<s) the attention of stage s = 1,
// 2 (64 and 128 px); mu, logvar, c_code (B, condition_dim).
typedef GStageOutputs GNetOutputs;

// Threads. NHWC path: a batch of B >= 2 (per-sample mask mode) is cut into min(nth, B) slices
// run side by side on nth single-threaded operator sets (GStageExec: each holds its own packed
// weights); a single image (or the batch-coupled mask mode) runs
// every layer on a pool of nth threads (XNNPACK tiles, epilogues split by pixels). BLAS
// (attention, linears) is single-threaded; results are bit-identical for any nth and any
// batch size. NCHW path (STYLE.md §16): with nth > 1 the batch is cut into min(nth, B)
// contiguous slices run on nth threads, results identical up to BLAS summation order. Both paths
// set the BLAS thread count to 1 for the duration of the call and restore it afterwards, so no
// other thread of the process should use BLAS meanwhile. Call before gnet_arena_bytes.
// Returns T2I_OK or T2I_ENOMEM (thread pool).
int  gnet_set_threads(GNet *g, int nth);

// Arena bytes gnet_forward needs at batch B with T words.
size_t gnet_arena_bytes(const GNet *g, int B, int T);

// Runs G_NET. `arena` must have at least gnet_arena_bytes(g, B, T) free; it is reset to its
// entry mark before returning. Returns T2I_EARG on bad dims (B < 1, T < 1), else T2I_OK.
int gnet_forward(const GNet *g, const GNetInputs *in, GNetOutputs *out, int B, int T,
                 Arena *arena);

// Multiply-accumulates of one image (convs, linears, attention bmm's), as counted in
// ../shared/reference/summary.json.
double gnet_macs_per_image(const GNetConfig *cfg, int T);

#endif
