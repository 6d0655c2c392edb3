// lstm.c -- see lstm.h.
#include "lstm.h"
#include "blas.h"

#include <assert.h>
#include <math.h>
#include <string.h>

static float sigm(float x) { return 1.0f / (1.0f + expf(-x)); }

// One LSTM cell update from the summed gate pre-activations g (4H, order i f g o).
static void cell(float *h, float *c, const float *g, int H) {
    for (int j = 0; j < H; j++) {
        float ig = sigm(g[j]);
        float fg = sigm(g[H + j]);
        float gg = tanhf(g[2 * H + j]);
        float og = sigm(g[3 * H + j]);
        float cn = fg * c[j] + ig * gg;
        c[j] = cn;
        h[j] = og * tanhf(cn);
    }
}

// ---- fast path --------------------------------------------------------------------------

size_t bilstm_scratch_floats(const BiLSTM *m, int B, int T) {
    size_t G = 4 * (size_t)m->fwd.H;
    // xg (B*T, 4H), hg (B, 4H), h (B, H), c (B, H), hin (B, H)
    return (size_t)B * (size_t)T * G + (size_t)B * G + 3 * (size_t)B * (size_t)m->fwd.H;
}

// Runs one direction over all sequences. dir 0 = forward, 1 = backward. Writes h_t into
// out[:, t, off:off+H] (row stride 2H) and the final h into h_n[:, off:off+H].
static void run_dir(float *out, float *h_n, const float *x, const int *lens, const LSTMDir *d,
                    int B, int T, int reverse, int off, float *scratch) {
    const int H = d->H, I = d->I, G = 4 * H;
    float *xg = scratch;                               // (B*T, 4H)
    float *hg = xg + (size_t)B * T * G;                // (B, 4H)
    float *h = hg + (size_t)B * G;                     // (B, H)
    float *c = h + (size_t)B * H;                      // (B, H)
    int maxlen = 0;
    for (int b = 0; b < B; b++)
        if (lens[b] > maxlen) maxlen = lens[b];
    // xg = x W_ih^T + b_ih, for every token at once
    sgemm(0, 1, B * T, G, I, 1.0f, x, I, d->w_ih, I, 0.0f, xg, G);
    for (size_t r = 0; r < (size_t)B * T; r++) {
        float *row = xg + r * G;
        for (int j = 0; j < G; j++) row[j] += d->b_ih[j];
    }
    memset(h, 0, sizeof(float) * (size_t)B * H);
    memset(c, 0, sizeof(float) * (size_t)B * H);
    for (int s = 0; s < maxlen; s++) {
        // hg = h W_hh^T + b_hh for all rows (finished rows are ignored below)
        sgemm(0, 1, B, G, H, 1.0f, h, H, d->w_hh, H, 0.0f, hg, G);
        for (int b = 0; b < B; b++) {
            if (s >= lens[b]) continue;
            int t = reverse ? lens[b] - 1 - s : s;
            float *gb = hg + (size_t)b * G;
            const float *xb = xg + ((size_t)b * T + t) * G;
            for (int j = 0; j < G; j++) gb[j] = xb[j] + (gb[j] + d->b_hh[j]);
            cell(h + (size_t)b * H, c + (size_t)b * H, gb, H);
            if (out) memcpy(out + ((size_t)b * T + t) * 2 * H + off, h + (size_t)b * H,
                            sizeof(float) * H);
        }
    }
    if (h_n)
        for (int b = 0; b < B; b++) memcpy(h_n + (size_t)b * 2 * H + off, h + (size_t)b * H,
                                           sizeof(float) * H);
}

void bilstm_forward(float *out, float *h_n, const float *x, const int *lens, const BiLSTM *m,
                    int B, int T, float *scratch) {
    assert(B > 0 && T > 0 && m->fwd.H == m->bwd.H && m->fwd.I == m->bwd.I);
    const int H = m->fwd.H;
    if (out) {
        // steps past each sequence's length stay zero (pad_packed_sequence)
        memset(out, 0, sizeof(float) * (size_t)B * T * 2 * H);
    }
    run_dir(out, h_n, x, lens, &m->fwd, B, T, 0, 0, scratch);
    run_dir(out, h_n, x, lens, &m->bwd, B, T, 1, H, scratch);
}

// ---- reference ----------------------------------------------------------------------------

static void ref_dir(float *out, float *h_n, const float *x, const int *lens, const LSTMDir *d,
                    int B, int T, int reverse, int off) {
    const int H = d->H, I = d->I, G = 4 * H;
    for (int b = 0; b < B; b++) {
        float hb[512], cb[512], g[2048];   // H <= 512 in the reference twin
        assert(H <= 512);
        for (int j = 0; j < H; j++) hb[j] = cb[j] = 0.0f;
        for (int s = 0; s < lens[b]; s++) {
            int t = reverse ? lens[b] - 1 - s : s;
            const float *xt = x + ((size_t)b * T + t) * I;
            for (int r = 0; r < G; r++) {
                float xi = 0.0f, hh = 0.0f;
                for (int k = 0; k < I; k++) xi += d->w_ih[(size_t)r * I + k] * xt[k];
                for (int k = 0; k < H; k++) hh += d->w_hh[(size_t)r * H + k] * hb[k];
                g[r] = (xi + d->b_ih[r]) + (hh + d->b_hh[r]);
            }
            cell(hb, cb, g, H);
            if (out) memcpy(out + ((size_t)b * T + t) * 2 * H + off, hb, sizeof(float) * H);
        }
        if (h_n) memcpy(h_n + (size_t)b * 2 * H + off, hb, sizeof(float) * H);
    }
}

void bilstm_forward_ref(float *out, float *h_n, const float *x, const int *lens,
                        const BiLSTM *m, int B, int T) {
    assert(B > 0 && T > 0 && m->fwd.H == m->bwd.H && m->fwd.I == m->bwd.I);
    if (out) memset(out, 0, sizeof(float) * (size_t)B * T * 2 * m->fwd.H);
    ref_dir(out, h_n, x, lens, &m->fwd, B, T, 0, 0);
    ref_dir(out, h_n, x, lens, &m->bwd, B, T, 1, m->fwd.H);
}
