// generator.h -- one interface over the text-to-image generators the harness can drive.
//
//   arch      network                                        per-sample inputs
//   attngan   AttnGAN G_NET (attngan.h)                      sent_emb, words_emb + mask, z, eps
//   dmgan     DM-GAN G_NET, dynamic memory (dmgan.h)         sent_emb, words_emb + mask, z, eps
//   dfgan     DF-GAN NetG, deep fusion blocks (dfgan.h)      sent_emb, z
//
// A Generator is created from a GenConfig (the model card's "arch" and dimensions) and a weight
// spec (a checkpoint path or "hash:attngan-oracle-hash-v1"). Checkpoints are checked strictly;
// a file that holds another network than the card names is refused with a message saying what
// was found and what was expected. Two layouts are accepted with a remark in `note` (the caller
// shows it): DataParallel/DistributedDataParallel "module." prefixes on every key, and DF-GAN's
// training checkpoint {'model': {'netG': ...}, ...}.
//
// Every generator writes a 256x256 (imsize) RGB image in [-1, 1]; AttnGAN and DM-GAN can also
// give their 64/128 px stage images, attention (memory addressing) maps and the CA_NET outputs.
// Every forward keeps per-call state in its XNNPACK operators, so other threads take a
// generator_share instance (shared weights).
#ifndef T2I_GENERATOR_H
#define T2I_GENERATOR_H

#include "arena.h"
#include "attention.h"
#include "attngan.h"
#include "dfgan.h"
#include "dmgan.h"

#include <stddef.h>
#include <stdint.h>

typedef enum { GEN_ATTNGAN = 0, GEN_DMGAN = 1, GEN_DFGAN = 2, GEN_N_ARCH = 3 } GenArch;

const char *gen_arch_name(GenArch a);               // "attngan", "dmgan", "dfgan"
int         gen_arch_parse(const char *s, GenArch *out /* OUT */);   // T2I_EARG when unknown

typedef struct {
    GenArch arch;
    union {
        GNetConfig  attngan;
        DmGanConfig dmgan;
        DfGanConfig dfgan;
    } u;
} GenConfig;

// Released configurations: data set "bird"/"cub" or "coco".
int gen_config_released(GenArch arch, const char *dataset, GenConfig *out /* OUT */);
int gen_config_check(const GenConfig *cfg);

// Which per-sample inputs a generator reads, and their widths.
enum {
    GEN_IN_SENT  = 1,   // sentence embedding (B, emb_dim)
    GEN_IN_WORDS = 2,   // word embeddings (B, emb_dim, T) and mask (B, T)
    GEN_IN_Z     = 4,   // noise z (B, z_dim)
    GEN_IN_EPS   = 8,   // CA_NET noise (B, eps_dim)
};

typedef struct {
    unsigned needs;      // GEN_IN_* bits
    int      emb_dim;    // sentence / word embedding width (the text encoder's nhidden)
    int      z_dim;
    int      eps_dim;    // 0 when GEN_IN_EPS is not needed
    int      img_size;   // final image side (256 for the released models)
    int      n_stages;   // images produced, the last being the final one (AttnGAN/DM-GAN 3)
    int      n_att;      // attention map sets (AttnGAN/DM-GAN: n_stages - 1; DF-GAN 0)
} GenIO;

GenIO gen_io(const GenConfig *cfg);

typedef struct {
    const float   *z;          // (B, z_dim)
    const float   *sent_emb;   // (B, emb_dim)
    const float   *words_emb;  // (B, emb_dim, T), zero at padded steps
    const uint8_t *mask;       // (B, T), 1 = padded word; NULL = no mask
    const float   *eps;        // (B, eps_dim)
    AttMaskMode    mask_mode;  // per-sample (default) or the original's batch coupling
} GenInputs;

// Caller-owned; any pointer may be NULL (not computed unless a later output needs it).
typedef struct {
    float *img;            // (B, 3, img_size, img_size) final image in [-1, 1]
    float *stage_img[2];   // (B, 3, 64<<s, 64<<s) for s = 0, 1 (AttnGAN, DM-GAN)
    float *att[2];         // (B, T, 64<<s, 64<<s): maps of stages 1, 2 (AttnGAN, DM-GAN)
    float *mu, *logvar, *c_code;   // (B, eps_dim) CA_NET (AttnGAN, DM-GAN)
} GenOutputs;

typedef struct {
    GenConfig cfg;
    union {
        GNet  *attngan;
        DmGan *dmgan;
        DfGan *dfgan;
    } net;
    char note[512];   // what the loader accepted with a remark ("" when nothing)
    int  borrowed;    // net belongs to another Generator (generator_share): not freed here
} Generator;

// Loads and binds `spec`; on failure `g` is left freed (zeroed).
int  generator_load(Generator *g /* OUT */, const GenConfig *cfg, const char *spec);
void generator_free(Generator *g);   // accepts a zeroed Generator
// A second instance for another thread: its own packed XNNPACK operators over src's weights
// (gnet_share, dmgan_share, dfgan_share: one forward at a time per instance). Free dst with
// generator_free before src.
int  generator_share(Generator *dst /* OUT */, const Generator *src);
// nth threads (AttnGAN, DM-GAN, DF-GAN): batch slices side by side, one image on a pool inside
// every layer.
void generator_set_threads(Generator *g, int nth);
size_t generator_arena_bytes(const Generator *g, int B, int T);
// `arena` needs generator_arena_bytes(g, B, T) free; it is reset to its entry mark. T (the
// word count) is ignored by generators that read no words. T2I_EARG on bad dims / inputs.
int generator_forward(const Generator *g, const GenInputs *in, GenOutputs *out, int B, int T,
                      Arena *arena);
// Multiply-accumulates per image as counted in ../shared/reference/summary.json.
double generator_macs_per_image(const GenConfig *cfg, int T);

// Names the network a state_dict holds, from telltale keys ("a DF-GAN NetG", ...), or NULL.
// *arch is -1 for a network that is not a generator.
const char *generator_identify(const StateDict *sd, GenArch *arch /* OUT */);

#endif
