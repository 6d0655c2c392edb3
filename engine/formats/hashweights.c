// hashweights.c -- the deterministic synthetic weights "attngan-oracle-hash-v1"
// (../shared/fixtures/README.md, "Hash-formula weights"): every value is a function of the key
// name and the flat element index, so any network can be built and run without a checkpoint.
//
// Rule by key suffix and rank (u in [-1, 1) from SplitMix64 of FNV-1a(key) and the index):
//   num_batches_tracked -> 0 (int64); running_mean -> u/8; running_var -> 1 + u/4;
//   rank 1 weight -> 1 + u/8; rank 1 bias -> u/8; rank >= 2 weight -> u * (float)sqrt(6/fan_in).
// Extension (no fixture covers it; documented so that any AttnGAN network gets weights): the
// LSTM keys of RNN_ENCODER end in "weight_ih_l0", "bias_hh_l0_reverse", ...; a key whose last
// dotted component starts with "weight"/"bias" follows the weight/bias rule of its rank.
#include "t2i.h"
#include "weights.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static uint64_t fnv1a64(const char *s) {
    uint64_t h = 0xcbf29ce484222325ULL;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        h ^= *p;
        h *= 0x100000001b3ULL;
    }
    return h;
}

// u for element i of the key with FNV seed `seed`: exactly representable in float32.
static float hash_u(uint64_t seed, uint64_t i) {
    uint64_t x = seed + (i + 1) * 0x9E3779B97F4A7C15ULL;
    uint64_t z = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    z = z ^ (z >> 31);
    uint32_t k = (uint32_t)(z >> 40);
    return (float)((int32_t)k - 8388608) * 0x1p-23f;
}

static int ends_with(const char *s, const char *suf) {
    size_t n = strlen(s), m = strlen(suf);
    return n >= m && memcmp(s + n - m, suf, m) == 0;
}

// Last dotted component starts with `word` ("weight" matches "weight" and "weight_ih_l0").
static int last_starts_with(const char *s, const char *word) {
    const char *dot = strrchr(s, '.');
    const char *last = dot ? dot + 1 : s;
    return strncmp(last, word, strlen(word)) == 0;
}

enum { R_ZERO_I64, R_MEAN, R_VAR, R_GAMMA, R_BETA, R_US };

static int hash_rule(const BindRow *r, int *rule) {
    const char *k = r->name;
    if (ends_with(k, "num_batches_tracked")) {
        *rule = R_ZERO_I64;
        return r->dtype == DT_I64 ? T2I_OK
                                  : t2i_error(T2I_EARG, "hash weights: '%s' must be int64", k);
    }
    if (r->dtype != DT_F32)
        return t2i_error(T2I_EARG, "hash weights: '%s' has dtype %s, only float32 is hashed", k,
                         dtype_name(r->dtype));
    if (ends_with(k, "running_mean")) *rule = R_MEAN;
    else if (ends_with(k, "running_var")) *rule = R_VAR;
    else if (r->ndim == 1 && last_starts_with(k, "weight")) *rule = R_GAMMA;
    else if (r->ndim == 1 && last_starts_with(k, "bias")) *rule = R_BETA;
    else if (r->ndim >= 2 && last_starts_with(k, "weight")) *rule = R_US;
    else
        return t2i_error(T2I_EARG, "hash weights (%s): no rule for key '%s' of rank %d",
                         T2I_HASH_WEIGHTS, k, r->ndim);
    return T2I_OK;
}

// TF variable names (the fixture README's "Hash weights for TF names"): the rule follows the
// variable name without a trailing "/ExponentialMovingAverage"; fan_in = numel / shape[-1].
static int hash_rule_tf(const BindRow *r, int *rule) {
    char v[512];
    snprintf(v, sizeof v, "%s", r->name);
    size_t n = strlen(v);
    static const char ema[] = "/ExponentialMovingAverage";
    if (n > sizeof ema - 1 && strcmp(v + n - (sizeof ema - 1), ema) == 0) v[n - (sizeof ema - 1)] = 0;
    if (r->dtype != DT_F32)
        return t2i_error(T2I_EARG, "hash weights: '%s' has dtype %s, only float32 is hashed",
                         r->name, dtype_name(r->dtype));
    if (ends_with(v, "BatchNorm/moving_mean")) *rule = R_MEAN;
    else if (ends_with(v, "BatchNorm/moving_variance")) *rule = R_VAR;
    else if (ends_with(v, "BatchNorm/gamma")) *rule = R_GAMMA;
    else if (ends_with(v, "BatchNorm/beta") || ends_with(v, "/biases")) *rule = R_BETA;
    else if (ends_with(v, "/weights") && r->ndim >= 2) *rule = R_US;
    else
        return t2i_error(T2I_EARG, "hash weights (%s, TF names): no rule for '%s' of rank %d",
                         T2I_HASH_WEIGHTS, r->name, r->ndim);
    return T2I_OK;
}

static int fill_one(const BindRow *r, int tf, StateDict *out) {
    int rule;
    int rc = tf ? hash_rule_tf(r, &rule) : hash_rule(r, &rule);
    if (rc) return rc;
    size_t numel;
    if (!shape_numel(r->ndim, r->shape, &numel))
        return t2i_error(T2I_EARG, "hash weights: '%s' has an invalid shape", r->name);
    size_t bytes;
    if (!t2i_mul_size(numel ? numel : 1, 8, &bytes))
        return t2i_error(T2I_ENOMEM, "hash weights: '%s' too large", r->name);
    void *data = t2i_malloc_aligned(bytes);
    if (!data) return T2I_ENOMEM;
    if (rule == R_ZERO_I64) {
        memset(data, 0, numel * sizeof(int64_t));
    } else {
        float   *f    = data;
        uint64_t seed = fnv1a64(r->name);
        float    s    = 1.0f;
        if (rule == R_US) {
            int64_t out_dim = tf ? r->shape[r->ndim - 1] : r->shape[0];   // TF: units last
            size_t  fan_in = out_dim > 0 ? numel / (size_t)out_dim : 0;
            if (fan_in == 0) {
                t2i_free(data);
                return t2i_error(T2I_EARG, "hash weights: '%s' has fan_in 0", r->name);
            }
            s = (float)sqrt(6.0 / (double)fan_in);
        }
        for (size_t i = 0; i < numel; i++) {
            float u = hash_u(seed, i);
            switch (rule) {
            case R_MEAN: f[i] = u / 8.0f; break;
            case R_VAR: f[i] = 1.0f + u / 4.0f; break;
            case R_GAMMA: f[i] = 1.0f + u / 8.0f; break;
            case R_BETA: f[i] = u / 8.0f; break;
            default: f[i] = u * s; break;
            }
        }
    }
    return sd_add(out, r->name, rule == R_ZERO_I64 ? DT_I64 : DT_F32, r->ndim, r->shape, data);
}

static int fill_all(const BindList *keys, int tf, StateDict *out) {
    sd_init(out);
    if (keys->failed) return t2i_error(T2I_ENOMEM, "hash weights: incomplete key list");
    for (int i = 0; i < keys->n; i++) {
        int rc = fill_one(&keys->rows[i], tf, out);
        if (rc) {
            sd_free(out);
            return rc;
        }
    }
    return T2I_OK;
}

int hash_weights_fill(const BindList *keys, StateDict *out) { return fill_all(keys, 0, out); }
int hash_weights_fill_tf(const BindList *keys, StateDict *out) { return fill_all(keys, 1, out); }

uint64_t hash_weights_checksum(const SDEntry *e) {
    uint64_t sum = 0;
    if (e->dtype == DT_F32) {
        const unsigned char *p = e->data;
        for (size_t i = 0; i < e->numel; i++) {
            uint32_t b;
            memcpy(&b, p + 4 * i, 4);
            sum += (uint64_t)b * (2 * (uint64_t)i + 1);
        }
    } else if (e->dtype == DT_I64) {
        const unsigned char *p = e->data;
        for (size_t i = 0; i < e->numel; i++) {
            uint64_t b;
            memcpy(&b, p + 8 * i, 8);
            sum += b * (2 * (uint64_t)i + 1);
        }
    } else {
        size_t sz = dtype_size(e->dtype);
        const uint8_t *p = e->data;
        for (size_t i = 0; i < e->numel; i++) {
            uint64_t v = 0;
            memcpy(&v, p + i * sz, sz < 8 ? sz : 8);
            sum += v * (2 * (uint64_t)i + 1);
        }
    }
    return sum;
}
