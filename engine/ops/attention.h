// attention.h -- AttnGAN word attention (GlobalAttentionGeneral, code/GlobalAttention.py).
//
//   sourceT = conv_context(context)                 (B,idf,T)    1x1 conv, no bias
//   attn    = softmax_T(input^T . sourceT, masked)  (B,Q,T)      Q = ih*iw query pixels
//   out     = sourceT . attn^T                      (B,idf,Q)    weighted word context
//   att     = attn^T                                (B,T,ih,iw)  the attention maps
// Masked scores are -inf before the softmax (a fully masked row gives NaN, as PyTorch does).
// Mask modes (DESIGN.md §3):
//   ATT_MASK_PER_SAMPLE    query q of sample b uses mask[b] (the intended behaviour, identical
//                          to the original at batch size 1);
//   ATT_MASK_BATCH_COUPLED the original's `mask.repeat(queryL, 1)` on the batch-major
//                          (B*Q, T) score matrix: row r = b*Q + q uses mask[r % B].
#ifndef T2I_ATTENTION_H
#define T2I_ATTENTION_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    ATT_MASK_PER_SAMPLE    = 0,
    ATT_MASK_BATCH_COUPLED = 1,
} AttMaskMode;

typedef struct {
    int          idf, cdf;   // query channels (GF_DIM), context channels (EMBEDDING_DIM)
    const float *w_context;  // (idf, cdf, 1, 1)
} WordAttention;

// Floats of scratch word_attention_forward needs.
size_t word_attention_scratch_floats(const WordAttention *m, int B, int Q, int T);

// input (B,idf,Q), context (B,cdf,T), mask (B,T) 1 = masked word (captions == 0) or NULL
//   -> out (B,idf,Q) weighted context; att (B,T,Q) attention maps, or NULL to skip them.
void word_attention_forward(float *out, float *att, const float *input, const float *context,
                            const uint8_t *mask, AttMaskMode mode, const WordAttention *m,
                            int B, int Q, int T, float *scratch);
// The same for samples b0 .. b0+B-1 of a batch of Btot (used to split a batch over threads):
// input, context, out and att point at sample b0; mask is the WHOLE (Btot, T) mask, because
// in the batch-coupled mode a row's mask depends on the global sample index and batch size.
void word_attention_forward_part(float *out, float *att, const float *input,
                                 const float *context, const uint8_t *mask, AttMaskMode mode,
                                 const WordAttention *m, int B, int Q, int T, int b0, int Btot,
                                 float *scratch);
// NHWC queries (G_NET's NHWC path): input (B,Q,in_stride) with idf channels first, out
// (B,Q,out_stride) receives idf channels (the rest of each pixel untouched, so `out` may be the
// second half of a concatenation buffer whose first half is `input`); context, mask, att and
// scratch as word_attention_forward. Per sample the same operations whatever B, b's place in
// the batch and the thread count (BLAS must run single-threaded: the caller ensures it).
void word_attention_forward_nhwc(float *out, size_t out_stride, float *att, const float *input,
                                 size_t in_stride, const float *context, const uint8_t *mask,
                                 AttMaskMode mode, const WordAttention *m, int B, int Q, int T,
                                 float *scratch);
// Plain loops, same contract (att may be NULL), no scratch.
void word_attention_forward_ref(float *out, float *att, const float *input,
                                const float *context, const uint8_t *mask, AttMaskMode mode,
                                const WordAttention *m, int B, int Q, int T);

#endif
