// text_encoder.h -- AttnGAN's DAMSM text encoder RNN_ENCODER (code/model.py), eval mode.
//
//   emb       = encoder(captions)                              (B,T,ninput)   nn.Embedding
//   out, h_n  = bi-LSTM(pack_padded_sequence(emb, cap_lens))   hidden nhidden/2 per direction
//   words_emb = pad_packed_sequence(out).transpose(1, 2)       (B,nhidden,Tw), Tw = max(cap_lens)
//   sent_emb  = [h_n forward, h_n backward]                    (B,nhidden)
// words_emb is zero at t >= cap_lens[b]; its width is max(cap_lens), NOT the captions width.
// Rows need not be sorted (each sequence is independent). Dropout is inactive (eval).
// Weights (state_dict names, strict): encoder.weight (ntoken,ninput), rnn.weight_ih_l0 (2*nhidden,
// ninput), rnn.weight_hh_l0 (2*nhidden,nhidden/2), rnn.bias_ih_l0, rnn.bias_hh_l0 (2*nhidden),
// and the same five rnn.*_reverse. Not supported: GRU (RNN_TYPE 'GRU'), nlayers > 1.
#ifndef T2I_TEXT_ENCODER_H
#define T2I_TEXT_ENCODER_H

#include "arena.h"
#include "lstm.h"
#include "state_dict.h"

#include <stddef.h>
#include <stdint.h>

typedef struct {
    int ntoken;    // vocabulary size (bird 5450, coco 27297)
    int ninput;    // word embedding size (300)
    int nhidden;   // both directions together, even (256); sent_emb/words_emb width
} TextEncoderConfig;

typedef struct {
    TextEncoderConfig cfg;
    const float      *encoder;   // (ntoken, ninput)
    BiLSTM            rnn;       // H = nhidden/2
    StateDict         sd;        // owns the weights
} TextEncoder;

// Released configurations: nhidden 256, ninput 300.
TextEncoderConfig text_encoder_config_bird(void);   // ntoken 5450
TextEncoderConfig text_encoder_config_coco(void);   // ntoken 27297

// Checks a configuration (positive sizes, even nhidden); T2I_EARG with a message otherwise.
int text_encoder_config_check(const TextEncoderConfig *cfg);

// Declares every state_dict key of the configuration into `bl` (initialized by the caller),
// binding the pointers of `te`. Used by text_encoder_load and by `tensors`/tests.
void text_encoder_keys(TextEncoder *te, const TextEncoderConfig *cfg, BindList *bl);

// Loads and strictly binds weights from `spec` (a .pth/.safetensors/.npz path or
// "hash:attngan-oracle-hash-v1", see weights.h). On failure `te` is left freed.
int text_encoder_load(TextEncoder *te /* OUT */, const TextEncoderConfig *cfg, const char *spec);
// Same from an already loaded StateDict, whose ownership moves into `te` (even on failure).
int text_encoder_load_sd(TextEncoder *te /* OUT */, const TextEncoderConfig *cfg,
                         StateDict *sd);
void text_encoder_free(TextEncoder *te);   // accepts a zeroed TextEncoder

// Arena bytes text_encoder_forward takes for B captions of width T (measuring pass).
size_t text_encoder_arena_bytes(const TextEncoder *te, int B, int T);

// captions (B,T) token ids (zero padded), cap_lens (B) with 1 <= cap_lens[b] <= T
//   -> words_emb (B, nhidden, Tw) with Tw = max(cap_lens) (written to *Tw_out if not NULL),
//      sent_emb (B, nhidden). Either output may be NULL.
// Scratch comes from `arena` and is released (reset to its mark) before returning.
// Returns T2I_EARG for an id outside [0, ntoken) or a bad length (nothing is read out of bounds).
int text_encoder_forward(const TextEncoder *te, const int64_t *captions, const int *cap_lens,
                         int B, int T, float *words_emb, float *sent_emb, int *Tw_out,
                         Arena *arena);

#endif
