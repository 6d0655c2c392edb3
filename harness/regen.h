// regen.h -- draw a stored sample of a run again, exactly (issue: "any stored sample can be
// drawn again"): the run's suite, protocol and model card are reopened from the paths in its
// provenance (each must still hash to its recorded SHA-256), the sample's inputs are prepared by
// the runner's own functions (sample_inputs.h), the generator (generator.h) runs at batch 1 with the run's WORDS_NUM
// width, and the result is quantized as the protocol says. The image hash is then compared with
// the one stored for the sample: a different build or BLAS core can change the bytes, and a
// mismatch is reported with both hashes instead of showing a silently different picture.
//
// Not supported: eval-images runs (their images come from a folder) and runs with the
// batch-coupled attention mask (their images depend on the batch; only batch 1 reproduces).
#ifndef T2I_REGEN_H
#define T2I_REGEN_H

#include <stdint.h>

#define REGEN_MAX_WORDS 64

typedef struct Regen Regen;

typedef struct {
    int64_t  sample;
    int      W;                          // padded word width (suite WORDS_NUM)
    int      len;                        // words of the caption actually used
    char     words[REGEN_MAX_WORDS][32]; // vocabulary words of the used ids
    char     caption[1024];
    int      class_id;
    float   *img[3];                     // (3, 64<<s, 64<<s) in [-1, 1]; img[0], img[1] NULL
                                         // when the generator has no stages (DF-GAN)
    float   *att[2];                     // att[s-1] (W, 32<<s, 32<<s), s = 1, 2; NULL when the
                                         // generator has no attention (DF-GAN)
    uint8_t *u8;                         // (256, 256, 3) the stored bytes (or rounded floats)
    // The generator's inputs as the runner prepared them (sample_inputs.h), owned by the Regen:
    const int64_t *ids;                  // (W) word ids, 0 past len
    const uint8_t *mask;                 // (W) 1 = padding
    const float   *words_emb, *sent_emb; // (E, W) zero past len, (E)
    const float   *z, *eps;              // (z_dim), (eps_dim; eps_dim 0: none)
    int            E, z_dim, eps_dim;
    char     sha256[65];                 // of the regenerated image as the run hashes it
} RegenSample;

// Loads the run's inputs and networks. `provenance` is the run's provenance JSON text.
int  regen_open(Regen **out /* OUT */, const char *provenance);
void regen_close(Regen *g);   // accepts NULL
// Generates sample `id` into *s (buffers owned by g, valid until the next call). When
// stored_sha is not NULL/empty, a different hash is T2I_EFORMAT naming both hashes.
int  regen_sample(Regen *g, int64_t id, const char *stored_sha, RegenSample *s /* OUT */);

#endif
