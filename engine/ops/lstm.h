// lstm.h -- single-layer (bi)directional LSTM over padded batches with per-sequence lengths.
//
// Mirrors torch.nn.LSTM(batch_first=True) run on a pack_padded_sequence, as AttnGAN's
// RNN_ENCODER uses it: https://pytorch.org/docs/stable/generated/torch.nn.LSTM.html
//   gates = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh, rows in PyTorch order i, f, g, o (H rows each)
//   c_t = sigmoid(f) * c_{t-1} + sigmoid(i) * tanh(g);  h_t = sigmoid(o) * tanh(c_t)
// h0 = c0 = 0. The backward direction runs t = len-1 .. 0 of each sequence. Steps t >= len
// produce zeros in `out`. Not supported: multiple layers, dropout (eval only), projections.
#ifndef T2I_LSTM_H
#define T2I_LSTM_H

#include <stddef.h>

typedef struct {
    int          I, H;     // input size, hidden size
    const float *w_ih;     // (4H, I)
    const float *w_hh;     // (4H, H)
    const float *b_ih;     // (4H)
    const float *b_hh;     // (4H)
} LSTMDir;

typedef struct {
    LSTMDir fwd, bwd;      // same I and H
} BiLSTM;

// Floats of scratch bilstm_forward needs for B sequences of (padded) length T.
size_t bilstm_scratch_floats(const BiLSTM *m, int B, int T);

// x (B,T,I), lens (B) with 0 <= lens[b] <= T
//   -> out (B,T,2H): [:, t, :H] forward h_t, [:, t, H:] backward h_t; zeros at t >= lens[b]
//   -> h_n (B,2H): [forward h after the last valid token, backward h after token 0] (zeros
//      for an empty sequence). out or h_n may be NULL.
// Fast path: one sgemm for all input projections, one sgemm per time step for the recurrence.
void bilstm_forward(float *out, float *h_n, const float *x, const int *lens, const BiLSTM *m,
                    int B, int T, float *scratch);
// Plain loops, same contract, no scratch.
void bilstm_forward_ref(float *out, float *h_n, const float *x, const int *lens,
                        const BiLSTM *m, int B, int T);

#endif
