// linear.c -- Linear via sgemm (and its naive twin), embedding lookup, channel concatenation.
#include "blas.h"
#include "ops.h"
#include "t2i.h"

#include <assert.h>
#include <inttypes.h>
#include <string.h>

// in (B,IN) w (OUT,IN) -> out (B,OUT) = in w^T + b
void linear_forward(float *out, const float *in, const Linear *m, int B) {
    assert(out != in);
    float beta = 0.0f;
    if (m->b) {
        for (int b = 0; b < B; b++)
            memcpy(out + (size_t)b * m->out_f, m->b, sizeof(float) * (size_t)m->out_f);
        beta = 1.0f;
    }
    sgemm(0, 1, B, m->out_f, m->in_f, 1.0f, in, m->in_f, m->w, m->in_f, beta, out, m->out_f);
}

void linear_forward_per_sample(float *out, const float *in, const Linear *m, int B) {
    for (int b = 0; b < B; b++)
        linear_forward(out + (size_t)b * m->out_f, in + (size_t)b * m->in_f, m, 1);
}

void linear_forward_ref(float *out, const float *in, const Linear *m, int B) {
    for (int b = 0; b < B; b++)
        for (int o = 0; o < m->out_f; o++) {
            double acc = m->b ? m->b[o] : 0.0;
            for (int i = 0; i < m->in_f; i++)
                acc += (double)in[(size_t)b * m->in_f + i] * (double)m->w[(size_t)o * m->in_f + i];
            out[(size_t)b * m->out_f + o] = (float)acc;
        }
}

// https://pytorch.org/docs/stable/generated/torch.nn.Embedding.html
// ids (n) -> out (n,E)
int embedding_forward(float *out, const int64_t *ids, size_t n, const float *table, int ntoken,
                      int E) {
    for (size_t i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= ntoken)
            return t2i_error(T2I_EARG, "embedding: id %" PRId64 " at position %zu outside [0, %d)",
                             ids[i], i, ntoken);
    for (size_t i = 0; i < n; i++)
        memcpy(out + i * (size_t)E, table + (size_t)ids[i] * E, sizeof(float) * (size_t)E);
    return T2I_OK;
}

// a (B,Ca,HW), b (B,Cb,HW) -> out (B,Ca+Cb,HW)
void concat_channels(float *out, const float *a, int Ca, const float *b, int Cb, int B, int HW) {
    size_t na = (size_t)Ca * HW, nb = (size_t)Cb * HW;
    for (int i = 0; i < B; i++) {
        memcpy(out + (size_t)i * (na + nb), a + (size_t)i * na, sizeof(float) * na);
        memcpy(out + (size_t)i * (na + nb) + na, b + (size_t)i * nb, sizeof(float) * nb);
    }
}
