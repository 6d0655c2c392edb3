// sample_inputs.c -- one suite sample's generator inputs and image hash (see sample_inputs.h).
#include "sample_inputs.h"

#include "resize.h"
#include "rng.h"
#include "sha256.h"
#include "t2i.h"
#include "tokenizer.h"

#include <math.h>
#include <string.h>

int sample_word_ids(const Suite *S, const Vocab *v, const SuiteSample *x, int64_t *out, int *len,
                    const char *which) {
    int64_t *ids = NULL;
    int n = 0;
    int rc = tokenize_caption(v, x->caption, &ids, &n);
    if (rc) return rc;
    if (n != x->ntok) {
        t2i_free(ids);
        return t2i_error(T2I_EARG,
                         "suite %s sample %lld: the %s vocabulary finds %d words in \"%s\", the "
                         "suite was frozen with a vocabulary finding %d (freeze the suite with "
                         "this vocabulary)",
                         S->path, (long long)x->id, which, n, x->caption, x->ntok);
    }
    if (x->n_words > 0) {
        for (int i = 0; i < x->n_words; i++) out[i] = ids[x->words[i]];
        *len = x->n_words;
    } else {
        memcpy(out, ids, sizeof(int64_t) * (size_t)n);
        *len = n;
    }
    t2i_free(ids);
    return T2I_OK;
}

// One caption per call, re-padded to the fixed width W: a sample's numbers never depend on its
// batch neighbours (OpenBLAS results depend on matrix shapes at the bit level).
int sample_encode(const TextEncoder *te, const int64_t *ids, int len, int W, float *words_tmp,
                  float *words_emb, float *sent_emb, uint8_t *mask, Arena *arena) {
    int E = te->cfg.nhidden, Tw = 0;
    int rc = text_encoder_forward(te, ids, &len, 1, W, words_tmp, sent_emb, &Tw, arena);
    if (rc) return rc;
    memset(words_emb, 0, sizeof(float) * (size_t)E * W);
    for (int e = 0; e < E; e++)
        memcpy(words_emb + (size_t)e * W, words_tmp + (size_t)e * Tw, sizeof(float) * (size_t)Tw);
    for (int t = 0; t < W; t++) mask[t] = t >= len;
    return T2I_OK;
}

void sample_noise(const Protocol *P, const SuiteSample *x, int z_dim, int cond_dim, float *z,
                  float *eps) {
    Rng g;
    rng_init(&g, x->noise_seed, (uint64_t)x->id, RNG_STREAM_Z);
    for (int i = 0; i < z_dim; i++) {
        double v = rng_normal(&g);
        if (P->noise == NOISE_TRUNCATED)
            while (fabs(v) > P->noise_bound) v = rng_normal(&g);
        z[i] = (float)(v * P->noise_scale);
    }
    rng_init(&g, x->noise_seed, (uint64_t)x->id, RNG_STREAM_EPS);
    for (int i = 0; i < cond_dim; i++) eps[i] = (float)rng_normal(&g);
}

void sample_image_bytes(const Protocol *P, const float *img, int px, uint8_t *u8, float *img_q,
                        char hex[65]) {
    size_t per = (size_t)3 * px * px;
    Quantize q = P->quantization == PQUANT_ROUND   ? QUANTIZE_ROUND
                 : P->quantization == PQUANT_FLOAT ? QUANTIZE_NONE
                                                   : QUANTIZE_TRUNCATE;
    if (q != QUANTIZE_NONE) {
        chw_pm1_to_hwc_u8(u8, img, px, px, q);
        if (img_q) quantize_pm1(img_q, img, per, q);
        sha256_hex(u8, per, hex);
    } else {
        if (img_q) memcpy(img_q, img, per * sizeof(float));
        sha256_hex(img, per * sizeof(float), hex);
        chw_pm1_to_hwc_u8(u8, img, px, px, QUANTIZE_ROUND);
    }
}
