// inception.h -- Inception v3, one implementation with variant flags, bound strictly to the
// state_dict names of torchvision / pytorch-fid (e.g. "Mixed_6e.branch7x7dbl_3.conv.weight").
//
// Variants (inception_config):
//   * INCEPTION_TORCHVISION: torchvision.models.inception_v3, 1000 classes, pool branches
//     avg_pool2d(3,1,1) with count_include_pad=True, optional transform_input.
//   * INCEPTION_TF2015: pytorch-fid's FID Inception (the TF 2015-12-05 graph ported, also
//     torch-fidelity's layout): count_include_pad=False in Mixed_5b-5d, 6b-6e, 7b,
//     max_pool2d(3,1,1) in Mixed_7c, 1008 classes. Outputs pool3, logits = fc(pool3) and the
//     bias-free logits_unbiased = pool3 . fc.weight^T (improved-gan IS).
//   * INCEPTION_SLIM: flags for TF-slim's inception_v3 (avg pools excluding padding everywhere,
//     BatchNorm without gamma, a configurable class count); its TF checkpoint names are mapped
//     by inception_tf.h and checked by the inception_slim fixture.
// BasicConv2d = conv (no bias) -> BatchNorm (eps 0.001) -> ReLU. AuxLogits.* keys are accepted and
// ignored (declared, never evaluated, when cfg.aux_logits is set). Eval mode only; dropout is a
// no-op. By default (cfg.nhwc) activations are NHWC and every conv is an XNNPACK operator packed
// at bind time, each branch writing its channel slice of the block output in place. With
// cfg.nhwc = 0 activations are channel-major (C,B,H,W) (ops.h) so every convolution of a
// batch (slice) is one sgemm; the 1x1 convs reading a block's input are one sgemm; the avg-pool
// branch runs conv -> pool (they commute); BatchNorm is folded into the conv weights when
// cfg.fold_bn is set (the fixtures pass either way). With T BLAS threads the batch is cut into T
// slices run in parallel with single-threaded sgemm (cfg.split_batch).
// Not supported: training, the auxiliary classifier's forward.
#ifndef T2I_INCEPTION_H
#define T2I_INCEPTION_H

#include <stddef.h>

#include "state_dict.h"

typedef enum {
    INCEPTION_TORCHVISION = 0,
    INCEPTION_TF2015      = 1,
    INCEPTION_SLIM        = 2,
} InceptionVariant;
typedef enum { IPOOL_AVG_PAD = 0, IPOOL_AVG_NOPAD = 1, IPOOL_MAX = 2 } InceptionPool;

typedef struct {
    InceptionVariant variant;
    int   num_classes;       // fc outputs; 0: no fc (trunk only, e.g. DAMSM CNN_ENCODER)
    int   fc_bias;           // fc has a bias (all known layouts)
    int   transform_input;   // torchvision's ImageNet re-normalisation of a [-1,1] input
    int   pool_branch;       // InceptionPool of the pool branch in Mixed_5b-5d, 6b-6e, 7b
    int   pool_7c;           // InceptionPool of Mixed_7c's pool branch
    int   bn_gamma;          // BatchNorm has a weight (gamma); 0 for TF-slim (scale=False)
    float bn_eps;            // 0.001
    int   aux_logits;        // declare AuxLogits.* keys (torchvision layout; never evaluated)
    int   fold_bn;           // fold BatchNorm into the conv weights at bind time
    int   split_batch;       // with T BLAS threads, run T slices of the batch in parallel, each
                             // with single-threaded BLAS (default 1; 0: one pass, threaded BLAS)
                             // (channel-major path only)
    int   nhwc;              // 1 (default): NHWC end to end on XNNPACK convolutions (BatchNorm
                             // folded, ReLU as the conv's clamp), threads inside every layer,
                             // per-image results independent of batch and threads; 0: the
                             // channel-major im2col + OpenBLAS path (bench baseline, twin)
} InceptionConfig;

// Defaults of a variant: torchvision (1000 classes, aux_logits 1, transform_input 0),
// tf2015 (1008 classes, aux_logits 0), slim (1001 classes, no gamma; set num_classes).
void inception_config(InceptionConfig *cfg /* OUT */, InceptionVariant v);
const char *inception_variant_name(InceptionVariant v);
int inception_variant_parse(const char *name, InceptionVariant *v /* OUT */);

typedef struct Inception Inception;

// Creates the network and declares its keys (state_dict names and shapes).
int inception_create(const InceptionConfig *cfg, Inception **out /* OUT */);
void inception_free(Inception *net);   // accepts NULL

// The declared keys. A wrapper network (CNN_ENCODER) may add its own rows before binding; then
// those rows' dst pointers are filled by inception_bind too.
BindList *inception_keys(Inception *net);

// Binds `sd` strictly against the keys (missing / unexpected / mismatched keys are listed;
// "AuxLogits." keys are accepted and ignored) and prepares the weights. Takes ownership of *sd
// (the net frees it; *sd is zeroed). `what` names the model in messages.
int inception_bind(Inception *net, StateDict *sd, const char *what);

// Threads of the NHWC path (a pool inside the net; 1 = the caller's thread only). T2I_OK or
// T2I_ENOMEM. Until it is called, the NHWC path follows the BLAS thread count at each forward
// (as the channel-major path's batch slices do): runner workers (BLAS 1) run single-threaded.
int inception_set_threads(Inception *net, int nth);
// The NHWC path's thread pool (NULL = one thread), for wrappers that run layers of their own.
struct pthreadpool;
struct pthreadpool *inception_threadpool(const Inception *net);
// Switches between the NHWC (on) and channel-major (off) paths after binding (packs the
// XNNPACK weights when needed). T2I_OK, or an error from packing.
int inception_set_nhwc(Inception *net, int on);
// Frees the raw (OIHW) conv weights of a bound NHWC network: XNNPACK holds its packed copy, so
// this halves the network's memory; the channel-major path is unavailable afterwards.
int inception_release_unpacked(Inception *net);

// Switches torchvision's transform_input on or off after creation (same weights).
void inception_set_transform_input(Inception *net, int on);

// Sizes the activation arenas for batches of up to B images (at the current BLAS thread count)
// by a measuring pass and allocates them once. inception_forward calls it itself when a larger
// batch (or more threads) arrives.
int inception_reserve(Inception *net, int B);
// Bytes of activation memory currently reserved.
size_t inception_arena_bytes(const Inception *net);

typedef struct {
    float *mixed_6e;          // (B,768,17,17) Mixed_6e output, or NULL
    float *pool3;             // (B,2048) mean over the 8x8 Mixed_7c map, or NULL
    float *logits;            // (B,num_classes) fc(pool3), or NULL
    float *logits_unbiased;   // (B,num_classes) pool3 . fc.weight^T, or NULL
} InceptionOut;

// x (B,3,299,299) already in the network's input range ([-1,1] for all three layouts; the
// torchvision transform_input is applied here when configured). Outputs are caller-owned.
int inception_forward(Inception *net, const float *x, int B, InceptionOut *out);

// Multiply-accumulates of one image to pool3 (conv layers only), for the bench.
double inception_gmacs_to_pool3(void);

#endif
