// attention.c -- see attention.h.
#include "attention.h"
#include "blas.h"
#include "ops.h"

#include <assert.h>
#include <math.h>
#include <string.h>

// Mask row used by score row q of sample b.
static const uint8_t *mask_row(const uint8_t *mask, AttMaskMode mode, int b, int q, int B, int Q,
                               int T) {
    if (!mask) return NULL;
    size_t r = mode == ATT_MASK_BATCH_COUPLED ? ((size_t)b * Q + q) % (size_t)B : (size_t)b;
    return mask + r * T;
}

// Scores sc (Q,T) of sample b of B: masked words to -inf, then the row softmax.
static void masked_softmax(float *sc, const uint8_t *mask, AttMaskMode mode, int b, int B, int Q,
                           int T) {
    if (mask) {
        for (int q = 0; q < Q; q++) {
            const uint8_t *mr = mask_row(mask, mode, b, q, B, Q, T);
            float *row = sc + (size_t)q * T;
            for (int t = 0; t < T; t++)
                if (mr[t]) row[t] = -INFINITY;
        }
    }
    softmax_rows(sc, sc, Q, T);
}

size_t word_attention_scratch_floats(const WordAttention *m, int B, int Q, int T) {
    (void)B;
    return (size_t)m->idf * T + (size_t)Q * T;
}

void word_attention_forward(float *out, float *att, const float *input, const float *context,
                            const uint8_t *mask, AttMaskMode mode, const WordAttention *m,
                            int B, int Q, int T, float *scratch) {
    word_attention_forward_part(out, att, input, context, mask, mode, m, B, Q, T, 0, B, scratch);
}

void word_attention_forward_part(float *out, float *att, const float *input,
                                 const float *context, const uint8_t *mask, AttMaskMode mode,
                                 const WordAttention *m, int B, int Q, int T, int b0, int Btot,
                                 float *scratch) {
    assert(B > 0 && Q > 0 && T > 0 && b0 >= 0 && b0 + B <= Btot);
    const int idf = m->idf, cdf = m->cdf;
    float *src = scratch;                        // (idf, T)
    float *sc = src + (size_t)idf * T;           // (Q, T)
    for (int b = 0; b < B; b++) {
        const float *in_b = input + (size_t)b * idf * Q;
        // sourceT = conv_context(context_b): (idf,cdf) x (cdf,T)
        sgemm(0, 0, idf, T, cdf, 1.0f, m->w_context, cdf, context + (size_t)b * cdf * T, T,
              0.0f, src, T);
        // scores = target^T . sourceT: (Q,idf) x (idf,T)
        sgemm(1, 0, Q, T, idf, 1.0f, in_b, Q, src, T, 0.0f, sc, T);
        masked_softmax(sc, mask, mode, b0 + b, Btot, Q, T);
        // weighted context = sourceT . attn^T: (idf,T) x (T,Q)
        sgemm(0, 1, idf, Q, T, 1.0f, src, T, sc, T, 0.0f, out + (size_t)b * idf * Q, Q);
        if (att) {
            float *ab = att + (size_t)b * T * Q;
            for (int q = 0; q < Q; q++)
                for (int t = 0; t < T; t++) ab[(size_t)t * Q + q] = sc[(size_t)q * T + t];
        }
    }
}

void word_attention_forward_nhwc(float *out, size_t out_stride, float *att, const float *input,
                                 size_t in_stride, const float *context, const uint8_t *mask,
                                 AttMaskMode mode, const WordAttention *m, int B, int Q, int T,
                                 float *scratch) {
    assert(B > 0 && Q > 0 && T > 0);
    const int idf = m->idf, cdf = m->cdf;
    float *src = scratch;                        // (idf, T)
    float *sc = src + (size_t)idf * T;           // (Q, T)
    for (int b = 0; b < B; b++) {
        const float *in_b = input + (size_t)b * Q * in_stride;
        // sourceT = conv_context(context_b): (idf,cdf) x (cdf,T)
        sgemm(0, 0, idf, T, cdf, 1.0f, m->w_context, cdf, context + (size_t)b * cdf * T, T,
              0.0f, src, T);
        // scores = target . sourceT: (Q,idf) x (idf,T), target rows strided
        sgemm(0, 0, Q, T, idf, 1.0f, in_b, (int)in_stride, src, T, 0.0f, sc, T);
        masked_softmax(sc, mask, mode, b, B, Q, T);
        // weighted context = attn . sourceT^T: (Q,T) x (T,idf), rows strided
        sgemm(0, 1, Q, idf, T, 1.0f, sc, T, src, T, 0.0f, out + (size_t)b * Q * out_stride,
              (int)out_stride);
        if (att) {
            float *ab = att + (size_t)b * T * Q;
            for (int q = 0; q < Q; q++)
                for (int t = 0; t < T; t++) ab[(size_t)t * Q + q] = sc[(size_t)q * T + t];
        }
    }
}

void word_attention_forward_ref(float *out, float *att, const float *input,
                                const float *context, const uint8_t *mask, AttMaskMode mode,
                                const WordAttention *m, int B, int Q, int T) {
    assert(B > 0 && Q > 0 && T > 0 && T <= 4096 && m->idf <= 4096);
    const int idf = m->idf, cdf = m->cdf;
    for (int b = 0; b < B; b++) {
        const float *in_b = input + (size_t)b * idf * Q;
        const float *ctx = context + (size_t)b * cdf * T;
        for (int q = 0; q < Q; q++) {
            const uint8_t *mr = mask_row(mask, mode, b, q, B, Q, T);
            double p[4096];
            double mx = -INFINITY;
            for (int t = 0; t < T; t++) {
                double s = 0;
                for (int i = 0; i < idf; i++) {
                    double st = 0;   // sourceT[i][t]
                    for (int k = 0; k < cdf; k++)
                        st += (double)m->w_context[(size_t)i * cdf + k] * ctx[(size_t)k * T + t];
                    s += (double)in_b[(size_t)i * Q + q] * (float)st;
                }
                p[t] = (mr && mr[t]) ? -INFINITY : (double)(float)s;
                if (p[t] > mx) mx = p[t];
            }
            double sum = 0;
            for (int t = 0; t < T; t++) {
                p[t] = exp(p[t] - mx);
                sum += p[t];
            }
            for (int t = 0; t < T; t++) {
                p[t] = (float)(p[t] / sum);
                if (att) att[((size_t)b * T + t) * Q + q] = (float)p[t];
            }
            for (int i = 0; i < idf; i++) {
                double acc = 0;
                for (int t = 0; t < T; t++) {
                    double st = 0;
                    for (int k = 0; k < cdf; k++)
                        st += (double)m->w_context[(size_t)i * cdf + k] * ctx[(size_t)k * T + t];
                    acc += (float)st * p[t];
                }
                out[((size_t)b * idf + i) * Q + q] = (float)acc;
            }
        }
    }
}
