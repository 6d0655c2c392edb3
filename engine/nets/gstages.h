// gstages.h -- the parts AttnGAN's G_NET (attngan.h) and DM-GAN's G_NET (dmgan.h) share: the
// configuration, the state_dict keys of CA_NET, INIT_STAGE_G, the ResBlocks and upBlocks of the
// later stages and GET_IMAGE_G, and their NHWC forward on XNNPACK convolutions (xconv.h).
// The two networks differ only in what a later stage puts next to its input h before the
// ResBlocks: AttnGAN the word context, DM-GAN the memory response (then h' twice); the caller
// gives that part as a callback (GStageFill).
//
// Layout: stage s leaves h (B, 64<<s, 64<<s, gstage_h_stride(s)) with its gf channels first;
// the next stage fills channels gf..2gf of the same buffer, which is then the ResBlocks' input
// (2gf channels) and their residual sum. Layout changes happen only at the boundaries (the 4x4
// INIT_STAGE_G map in, images and attention maps out).
//
// Threads: a batch runs as slices side by side on single-threaded operator sets (one per
// thread: XNNPACK keeps per-call state in an operator), one image (or a batch whose samples are
// coupled) runs every layer on a pool. Per-image results are bit-identical for any batch size
// and thread count: convolutions and elementwise epilogues are batch- and thread-invariant, BLAS
// calls (linears, attention, memory) are made per sample with fixed shapes, single-threaded.
#ifndef T2I_GSTAGES_H
#define T2I_GSTAGES_H

#include "arena.h"
#include "attention.h"
#include "ops.h"
#include "state_dict.h"
#include "xconv.h"
#include "xtaps.h"

#include <stddef.h>
#include <stdint.h>

#define GSTAGE_MAX_R_NUM 8

typedef struct {
    int gf_dim;          // cfg.GAN.GF_DIM        (AttnGAN bird 32, coco 48; DM-GAN 64)
    int z_dim;           // cfg.GAN.Z_DIM         (100)
    int condition_dim;   // cfg.GAN.CONDITION_DIM (100)
    int embedding_dim;   // cfg.TEXT.EMBEDDING_DIM (256)
    int r_num;           // cfg.GAN.R_NUM         (bird 2, coco 3), 1..GSTAGE_MAX_R_NUM
    int branch_num;      // cfg.TREE.BRANCH_NUM   (3): 1..3 stages, 64/128/256 px
} GStageConfig;

// Positive sizes, gf_dim usable by INIT_STAGE_G, r_num and branch_num in range; T2I_EARG with a
// message starting with `what` ("G_NET", "DM-GAN G_NET") else.
int gstage_config_check(const GStageConfig *c, const char *what);

typedef struct {
    Conv2d    conv;   // (OC, IC, 3, 3), no bias
    BatchNorm bn;     // OC channels, eps 1e-5
} ConvBN;             // conv3x3 -> BN (-> GLU or residual add by the caller)

typedef struct {
    Linear    ca_fc;                          // ca_net.fc: (4*cond, emb) + bias
    Linear    init_fc;                        // h_net1.fc.0: (16gf*4*4*2, cond+z), no bias
    BatchNorm init_bn;                        // h_net1.fc.1 (BatchNorm1d)
    ConvBN    init_up[4];                     // h_net1.upsample1..4
    ConvBN    res[2][GSTAGE_MAX_R_NUM][2];    // h_net{2,3}.residual.k.block.{0,1} and {3,4}
    ConvBN    up[2];                          // h_net{2,3}.upsample
    Conv2d    img[3];                         // img_net1..3.img.0: (3, gf, 3, 3)
} GStageParams;

// Declares the shared keys of `c` into `bl`, binding the pointers of `p`.
void gstage_keys(GStageParams *p, const GStageConfig *c, BindList *bl);
// conv3x3 (in -> out, no bias) at "<conv>.weight" and BatchNorm2d(out) at `bn`.
void gstage_bind_convbn(BindList *bl, ConvBN *m, int in, int out, const char *conv,
                        const char *bn);

// ---- packed operators and threads ----------------------------------------------------------

typedef struct {
    XConv init_up[4];                   // UP2 ([0], [1]) or UP2_FAST, BatchNorm folded
    XTaps img[3];                       // GET_IMAGE_G: 1x1 to 27 channels + tap sums
    XConv res[2][GSTAGE_MAX_R_NUM][2];  // FAST, BatchNorm folded
    XConv up[2];                        // UP2_FAST, BatchNorm folded
} GStagePacked;

// The operators of one network instance: its own set, a pool of nth threads for one image,
// and nth - 1 single-threaded sets for batch slices.
typedef struct {
    GStagePacked  x;
    int           packed;
    int           nth;
    pthreadpool_t tp;       // NULL for one thread
    GStagePacked *peer;     // nth - 1 sets
    int           npeers;
} GStageExec;

// Packs p's convolutions (e is first freed). T2I_OK, T2I_ENOMEM or T2I_EARG with `what` named.
int  gstage_exec_pack(GStageExec *e, const GStageParams *p, const GStageConfig *c,
                      const char *what);
// nth threads (<= 1: one); packs the peers' operator sets when e is packed.
int  gstage_exec_threads(GStageExec *e, const GStageParams *p, const GStageConfig *c, int nth,
                         const char *what);
void gstage_exec_free(GStageExec *e);   // accepts a zeroed GStageExec

// A network's forward as the exec runs it: run(...) computes samples b0 .. b0+B-1 on operator
// set x with pool tp (NULL = the calling thread) in arena a and returns its status; with
// live 0 (a measuring arena, b0 0) it only makes the same allocations.
typedef struct {
    int  (*run)(void *ctx, const GStagePacked *x, pthreadpool_t tp, int b0, int B, Arena *a,
                int live);
    void *ctx;
} GStageJob;

// Runs a batch of B: cut into min(nth, B) slices run side by side on the single-threaded
// operator sets, or (B == 1, one thread, or `whole`: samples coupled by the batch) as one run
// with every layer on the pool. BLAS is set to one thread meanwhile (restored after), so no
// other thread of the process should use BLAS during the call. `arena` needs
// gstage_exec_arena_bytes(e, B, job) free and is reset to its entry mark.
int    gstage_exec_forward(const GStageExec *e, int B, int whole, const GStageJob *job,
                           Arena *arena);
size_t gstage_exec_arena_bytes(const GStageExec *e, int B, const GStageJob *job);

// ---- forward -------------------------------------------------------------------------------

typedef struct {
    const float   *z;          // (B, z_dim)
    const float   *sent_emb;   // (B, embedding_dim)
    const float   *words_emb;  // (B, embedding_dim, T), zero at padded steps
    const uint8_t *mask;       // (B, T), 1 = padded word (captions == 0); NULL = no mask
    const float   *eps;        // (B, condition_dim) CA_NET noise
    AttMaskMode    mask_mode;  // ATT_MASK_PER_SAMPLE (default) or ATT_MASK_BATCH_COUPLED
} GStageInputs;

// Samples b0.. of `in` (per-sample pointers moved, mask rows too).
GStageInputs gstage_inputs_from(const GStageInputs *in, const GStageConfig *c, int b0, int T);
// The per-sample outputs both networks share, moved to sample b0 (NULL stays NULL).
typedef struct {
    float *img[3];                 // (B, 3, 64<<s, 64<<s)
    float *att[2];                 // (B, T, 64<<s, 64<<s)
    float *mu, *logvar, *c_code;   // (B, cond)
} GStageOutputs;
GStageOutputs gstage_outputs_from(const GStageOutputs *out, const GStageConfig *c, int b0, int T);

// Buffers come from the arena in a fixed order; with a measuring arena (live == 0) the same
// code runs with the arithmetic skipped: that is how the networks size their arenas.

typedef struct {
    Arena              *a;
    int                 live;   // 0 while measuring
    int                 B;      // samples of this run (a batch slice)
    const GStagePacked *x;      // the operator set of this run
    pthreadpool_t       tp;     // NULL or the pool of the instance (one run at a time)
    int                 rc;     // first error of an XNNPACK call
} GRun;

float *grun_floats(GRun *r, size_t n);   // from the arena (n 0 gives one float)

// Floats per pixel of the stage-s output h: 2gf when a later stage fills its second half.
size_t gstage_h_stride(const GStageConfig *c, int s);

// CA_NET: returns c_code (B, cond) from the arena; mu, logvar, c_code_out (B, cond) are filled
// when not NULL.
float *gstage_ca_net(GRun *r, const GStageParams *p, const GStageConfig *c, const float *sent,
                     const float *eps, float *mu, float *logvar, float *c_code_out);
// INIT_STAGE_G's fc, BatchNorm1d and GLU: code (B, 16gf*16) = the NCHW map (B, 16gf, 4, 4).
void gstage_init_code(GRun *r, const GStageParams *p, const GStageConfig *c, float *code,
                      const float *c_code, const float *z);

// Stage s = 1, 2 of the network: h (B, R, R, 2gf) holds the previous stage's h in channels
// 0..gf; the callback fills channels gf..2gf (and may rewrite 0..gf), allocating only from
// r's arena (reset to its entry mark on return) and skipping the arithmetic when !r->live
// (measuring) or r->rc (an earlier layer failed).
typedef void (*GStageFill)(GRun *r, void *arg, int s, float *h, int R);

// The whole G_NET in NHWC: CA_NET, INIT_STAGE_G, GET_IMAGE_G, then per later stage the fill,
// the ResBlocks and the upBlock (out->att is the fill's business). r->rc holds the first
// XNNPACK error.
void gstage_forward(GRun *r, const GStageParams *p, const GStageConfig *c,
                    const GStageInputs *in, const GStageOutputs *out, GStageFill fill,
                    void *fill_arg);

#endif
