// dmgan.h -- DM-GAN's generator G_NET (MinfengZhu/DM-GAN code/model.py, CVPR 2019), eval mode.
//
//   c_code, mu, logvar = CA_NET(sent_emb)        GLU(fc(sent)); c = eps*exp(0.5*logvar) + mu
//   h1 = INIT_STAGE_G(cat(c_code, z))           fc(no bias)+BN1d+GLU -> (16ngf,4,4) -> 4 upBlocks
//   img64 = GET_IMAGE_G(h1)                     conv3x3 (no bias) -> tanh
//   h2, att1 = NEXT_STAGE_G(h1, words, mask)    dynamic memory (below), R_NUM ResBlocks, upBlock
//   img128 = GET_IMAGE_G(h2); h3, att2 = NEXT_STAGE_G(h2, ...); img256 = GET_IMAGE_G(h3)
// NEXT_STAGE_G (c_code is passed but not used):
//   h_avg = mean of h over the map                                  (B, GF)
//   g     = sigmoid(A(w_t) + B(h_avg))            writing gate      (B, 1, T)
//   M     = ReLU(M_w(words))*g + ReLU(M_r(h_avg repeated T times))*(1-g)        (B, 2GF, T)
//   key, value = ReLU(Conv1d(M)), ReLU(Conv1d(M))                   (B, GF, T) each
//   a_qt  = softmax_T(h_q . key_t), masked        memory addressing (B, T, H, W) = att
//   o_q   = sum_t value_t a_qt;  r = sigmoid(conv1x1(cat(h, o)));  h' = h(1-r) + r o
//   out   = upBlock(ResBlocks(cat(h', h')))     2GF channels -> GF at twice the size
// CA_NET, INIT_STAGE_G, upBlock, ResBlock and GET_IMAGE_G are AttnGAN's. The masked softmax has
// AttnGAN's batch coupling (row r = b*Q + q uses mask[r % B]) in ATT_MASK_BATCH_COUPLED mode;
// ATT_MASK_PER_SAMPLE uses mask[b] (identical at batch size 1). Exact semantics:
// ../shared/fixtures/README.md "DM-GAN G_NET". Not supported: B_DCGAN.
//
// Computation: NHWC end to end on XNNPACK convolutions, the stages shared with AttnGAN
// (gstages.h: BatchNorm folded into the convs, upBlock = one 4x4 stride-2 transposed conv); the
// memory writes its response o next to h (channels gf..2gf of the ResBlocks' input), the
// response gate, the blend and cat(h', h') are one per-pixel pass. Threads and reproducibility
// as gstages.h: per-image bytes do not depend on the batch size, the sample's place in it or
// the thread count (in ATT_MASK_BATCH_COUPLED mode the batch is, by definition, one unit).
//
// Memory: weights in the owned StateDict; activations from a caller-owned Arena sized by
// dmgan_arena_bytes(B, T), reset after each forward. One forward at a time per DmGan (its
// XNNPACK operators keep per-call state); other threads use dmgan_share instances.
#ifndef T2I_DMGAN_H
#define T2I_DMGAN_H

#include "arena.h"
#include "attention.h"
#include "gstages.h"
#include "ops.h"
#include "state_dict.h"

#include <stddef.h>
#include <stdint.h>

#define DMGAN_MAX_R_NUM GSTAGE_MAX_R_NUM

typedef GStageConfig DmGanConfig;   // gf_dim 64; r_num bird 2, coco 3

DmGanConfig dmgan_config_bird(void);   // cfg/bird_DMGAN.yml, eval_bird.yml
DmGanConfig dmgan_config_coco(void);   // cfg/coco_DMGAN.yml, eval_coco.yml
int dmgan_config_check(const DmGanConfig *cfg);   // T2I_EARG with the reason

// ---- parameters (pointers into the owned StateDict) ----------------------------------------

typedef struct {
    Linear A;               // Linear(EMB -> 1), no bias
    Linear Bg;              // Linear(GF -> 1), no bias (PyTorch name "B")
    Conv2d M_r, M_w;        // Conv1d(k=1) + bias: GF -> 2GF, EMB -> 2GF (ReLU after)
    Conv2d key, value;      // Conv1d(k=1) + bias: 2GF -> GF (ReLU after)
    Conv2d response_gate;   // Conv2d(2GF -> 1, 1x1) + bias (sigmoid after)
} DmGanMemory;              // h_net2/3 without their ResBlocks and upBlock (GStageParams)

typedef struct {
    DmGanConfig  cfg;
    GStageParams st;       // CA_NET, INIT_STAGE_G, ResBlocks, upBlocks, GET_IMAGE_G
    DmGanMemory  mem[2];   // h_net2, h_net3
    StateDict    sd;       // owns the weights (empty in a dmgan_share copy)
    GStageExec   e;        // packed operators, threads
} DmGan;

// Declares every state_dict key of `cfg` into `bl`, binding the pointers of `g`.
void dmgan_keys(DmGan *g, const DmGanConfig *cfg, BindList *bl);
// Binds a loaded StateDict (ownership moves into `g`, even on failure), strictly, and packs
// the convolutions.
int  dmgan_load_sd(DmGan *g /* OUT */, const DmGanConfig *cfg, StateDict *sd, const char *what);
void dmgan_free(DmGan *g);   // accepts a zeroed DmGan
// A second instance for another thread over src's weights (src must outlive dst): its own
// packed operators and threads. Free dst with dmgan_free before src.
int  dmgan_share(DmGan *dst /* OUT */, const DmGan *src);
// nth threads: a batch is cut into min(nth, B) slices run side by side, one image (or a
// coupled batch) runs every layer on a pool of nth. Call before dmgan_arena_bytes.
int  dmgan_set_threads(DmGan *g, int nth);

// ---- forward -------------------------------------------------------------------------------

typedef GStageInputs DmGanInputs;   // z, sent_emb, words_emb, mask, eps, mask_mode

// Debugging view of one memory stage (each pointer may be NULL).
typedef struct {
    float *h_code_avg;      // (B, GF)
    float *writing_gate;    // (B, T)
    float *memory;          // (B, 2GF, T)
    float *key, *value;     // (B, GF, T)
    float *response;        // (B, GF, H, W)
    float *response_gate;   // (B, 1, H, W)
} DmGanMemoryTrace;

// Caller-owned outputs; any pointer may be NULL. Stage s is 64 << s pixels.
typedef struct {
    float *img[3];    // (B, 3, 64<<s, 64<<s) in [-1, 1]
    float *att[2];    // (B, T, 32<<s, 32<<s): memory addressing of stage s = 1, 2
    float *mu, *logvar, *c_code;   // (B, condition_dim)
    float *h_code1;                // (B, GF, 64, 64)
    DmGanMemoryTrace mem[2];
} DmGanOutputs;

size_t dmgan_arena_bytes(const DmGan *g, int B, int T);
// `arena` needs dmgan_arena_bytes(g, B, T) free and is reset to its entry mark. T2I_EARG on bad
// dims or a missing input.
int dmgan_forward(const DmGan *g, const DmGanInputs *in, DmGanOutputs *out, int B, int T,
                  Arena *arena);

// Multiply-accumulates of one image as counted in ../shared/reference/summary.json.
double dmgan_macs_per_image(const DmGanConfig *cfg, int T);

#endif
