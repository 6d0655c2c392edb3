// sample_inputs.h -- everything the generator gets for one suite sample, in one place, so that
// `t2ibench run` and `t2ibench generate --run RUN --sample ID` prepare it identically
// (DESIGN.md §7: a sample's image is a function of the sample, never of its batch):
//   word ids     the caption tokenized with the model vocabulary, the suite's frozen word subset
//                applied; the count must equal the suite's ntok (else another vocabulary)
//   text codes   the text encoder run on that one caption padded to WORDS_NUM, words_emb (E, W)
//                zero past the caption, sent_emb (E), mask (W) 1 = padding
//   z, eps       the counter RNG of (noise_seed, sample id, RNG_STREAM_Z / RNG_STREAM_EPS),
//                z truncated and scaled as the protocol says
//   image hash   SHA-256 of the image bytes as stored: the quantized HWC uint8 image, or the
//                float CHW image when the protocol keeps floats
#ifndef T2I_SAMPLE_INPUTS_H
#define T2I_SAMPLE_INPUTS_H

#include "arena.h"
#include "protocol.h"
#include "suite.h"
#include "text_encoder.h"
#include "vocab.h"

#include <stdint.h>

// Word ids of sample x under vocabulary v into out (W entries available), *len = their count.
// `which` names the vocabulary in messages ("model", "DAMSM").
int  sample_word_ids(const Suite *S, const Vocab *v, const SuiteSample *x, int64_t *out,
                     int *len /* OUT */, const char *which);

// Encodes one caption (ids (W), len) with te: words_emb (E, W) zero-padded, sent_emb (E),
// mask (W). words_tmp holds E * W floats of scratch.
int  sample_encode(const TextEncoder *te, const int64_t *ids, int len, int W, float *words_tmp,
                   float *words_emb, float *sent_emb, uint8_t *mask, Arena *arena);

// z (z_dim) and eps (cond_dim) of sample x under protocol P.
void sample_noise(const Protocol *P, const SuiteSample *x, int z_dim, int cond_dim, float *z,
                  float *eps);

// The protocol's quantization of one 256 px image img (3, px, px) in [-1, 1]: u8 (px, px, 3)
// bytes (QUANTIZE_ROUND bytes for display when the protocol keeps floats), img_q (may be NULL)
// the quantized float view, hex the stored image hash.
void sample_image_bytes(const Protocol *P, const float *img, int px, uint8_t *u8, float *img_q,
                        char hex[65] /* OUT */);

#endif
