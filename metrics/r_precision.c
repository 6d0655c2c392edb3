// r_precision.c -- see r_precision.h.
#include "r_precision.h"
#include "t2i.h"

#include <math.h>
#include <string.h>

static const char *const fold_names[] = {"contiguous", "dmgan"};
static const char *const mismatch_names[] = {"same-class", "same-image", "frozen"};

int rp_fold_rule_parse(const char *s) {
    for (int i = 0; i < 2; i++)
        if (s && strcmp(s, fold_names[i]) == 0) return i;
    return -1;
}

const char *rp_fold_rule_name(RpFoldRule r) { return (unsigned)r < 2 ? fold_names[r] : "?"; }

int rp_mismatch_rule_parse(const char *s) {
    for (int i = 0; i < 3; i++)
        if (s && strcmp(s, mismatch_names[i]) == 0) return i;
    return -1;
}

const char *rp_mismatch_rule_name(RpMismatchRule r) {
    return (unsigned)r < 3 ? mismatch_names[r] : "?";
}

static double dot(const double *a, const double *b, int E) {
    double s = 0.0;
    for (int i = 0; i < E; i++) s += a[i] * b[i];
    return s;
}

static int code_norm(const double *x, int E, const char *what, int64_t row, double *out) {
    for (int i = 0; i < E; i++)
        if (!isfinite(x[i]))
            return t2i_error(T2I_EARG, "r-precision: %s code %lld has a non-finite entry at %d",
                             what, (long long)row, i);
    double n = sqrt(dot(x, x, E));
    if (!(n > 0))
        return t2i_error(T2I_EARG, "r-precision: %s code %lld has zero norm (cosine undefined)",
                         what, (long long)row);
    *out = n;
    return T2I_OK;
}

int rp_hits(const double *img, int64_t n, const double *sent, int64_t n_sent, int E,
            const int64_t *cand, int K, int R, uint8_t *hits, int64_t *n_hits) {
    *n_hits = 0;
    if (E < 1) return t2i_error(T2I_EARG, "r-precision: code dimension %d < 1", E);
    if (K < 1) return t2i_error(T2I_EARG, "r-precision: %d mismatched captions (need >= 1)", K);
    if (R < 1 || R > K + 1)
        return t2i_error(T2I_EARG, "r-precision: R = %d outside [1, %d]", R, K + 1);
    if (n < 1) return t2i_error(T2I_EARG, "r-precision: no queries");
    int64_t total = 0;
    for (int64_t i = 0; i < n; i++) {
        const double *a = img + (size_t)i * E;
        double na;
        int rc = code_norm(a, E, "image", i, &na);
        if (rc) return rc;
        const int64_t *c = cand + (size_t)i * (K + 1);
        double s_true = 0.0;
        int above = 0;
        for (int j = 0; j <= K; j++) {
            if (c[j] < 0 || c[j] >= n_sent)
                return t2i_error(T2I_EARG, "r-precision: candidate %d of query %lld is sentence "
                                           "%lld, outside [0, %lld)", j, (long long)i,
                                 (long long)c[j], (long long)n_sent);
            const double *b = sent + (size_t)c[j] * E;
            double nb;
            if ((rc = code_norm(b, E, "sentence", c[j], &nb))) return rc;
            double den = na * nb;
            double s = dot(a, b, E) / (den > 1e-8 ? den : 1e-8);   // DM-GAN: norm.clamp(1e-8)
            if (j == 0)
                s_true = s;
            else if (s > s_true)
                above++;
        }
        hits[i] = above < R;
        total += hits[i];
    }
    *n_hits = total;
    return T2I_OK;
}

int rp_folds(const uint8_t *hits, int64_t n, int folds, RpFoldRule rule, double *fold_means,
             RpResult *out) {
    memset(out, 0, sizeof *out);
    if (folds < 1) return t2i_error(T2I_EARG, "r-precision: folds = %d < 1", folds);
    if (n < folds)
        return t2i_error(T2I_EARG, "r-precision: %lld results is fewer than the %d folds",
                         (long long)n, folds);
    if (rule != RP_FOLD_EXACT && rule != RP_FOLD_DMGAN)
        return t2i_error(T2I_EARG, "r-precision: unknown fold rule %d", (int)rule);
    int64_t fn = n / folds;
    if (rule == RP_FOLD_DMGAN && fn < 2)
        return t2i_error(T2I_EARG, "r-precision: dmgan folds of %lld - 1 elements are empty "
                                   "(%lld results, %d folds)", (long long)fn, (long long)n, folds);
    double sum = 0.0, local[64], *fm = fold_means;
    double *tmp = NULL;
    if (!fm) {
        if (folds <= 64) {
            fm = local;
        } else {
            tmp = t2i_malloc((size_t)folds * sizeof(double));
            if (!tmp) return t2i_error(T2I_ENOMEM, "r-precision: out of memory");
            fm = tmp;
        }
    }
    int64_t used = 0;
    for (int f = 0; f < folds; f++) {
        int64_t lo, hi;
        if (rule == RP_FOLD_EXACT) {
            lo = (int64_t)f * n / folds;
            hi = (int64_t)(f + 1) * n / folds;
        } else {
            lo = (int64_t)f * fn;
            hi = (int64_t)(f + 1) * fn - 1;
        }
        int64_t c = 0;
        for (int64_t i = lo; i < hi; i++) c += hits[i] != 0;
        fm[f] = (double)c / (double)(hi - lo);
        sum += fm[f];
        used += hi - lo;
    }
    double mean = sum / folds, var = 0.0;
    for (int f = 0; f < folds; f++) var += (fm[f] - mean) * (fm[f] - mean);
    out->mean = mean;
    out->std = sqrt(var / folds);
    out->folds = folds;
    out->n = n;
    out->n_used = used;
    t2i_free(tmp);
    return T2I_OK;
}

int rp_draw_mismatches(const RpMismatchSpec *spec, int64_t query, int K, Rng *rng, int64_t *out) {
    if (K < 1) return t2i_error(T2I_EARG, "r-precision: K = %d < 1", K);
    int64_t ni = spec->n_images;
    int cpi = spec->captions_per_image;
    if (ni < 1 || cpi < 1)
        return t2i_error(T2I_EARG, "r-precision: %lld images x %d captions", (long long)ni, cpi);
    int64_t n_sent = ni * cpi;
    if (spec->rule == RP_MISMATCH_FROZEN) {
        if (!spec->frozen) return t2i_error(T2I_EARG, "r-precision: frozen sampler without a table");
        if (query < 0 || query >= spec->n_queries)
            return t2i_error(T2I_EARG, "r-precision: query %lld outside the frozen table (%lld rows)",
                             (long long)query, (long long)spec->n_queries);
        const int64_t *row = spec->frozen + (size_t)query * K;
        for (int j = 0; j < K; j++) {
            if (row[j] < 0 || row[j] >= n_sent)
                return t2i_error(T2I_EARG, "r-precision: frozen mismatch %d of query %lld is "
                                           "sentence %lld, outside [0, %lld)", j, (long long)query,
                                 (long long)row[j], (long long)n_sent);
            out[j] = row[j];
        }
        return T2I_OK;
    }
    if (spec->rule != RP_MISMATCH_SAME_CLASS && spec->rule != RP_MISMATCH_SAME_IMAGE)
        return t2i_error(T2I_EARG, "r-precision: unknown mismatch rule %d", (int)spec->rule);
    if (query < 0 || query >= ni)
        return t2i_error(T2I_EARG, "r-precision: query image %lld outside [0, %lld)",
                         (long long)query, (long long)ni);
    if (!rng) return t2i_error(T2I_EARG, "r-precision: the sampler needs a generator");
    const int64_t *cls = spec->class_ids;
    if (spec->rule == RP_MISMATCH_SAME_CLASS) {
        if (!cls) return t2i_error(T2I_EARG, "r-precision: same-class sampler without class ids");
        int64_t other = 0;
        for (int64_t i = 0; i < ni; i++) other += cls[i] != cls[query];
        if (other == 0)
            return t2i_error(T2I_EARG, "r-precision: every image has the query's class %lld; no "
                                       "mismatch can be drawn", (long long)cls[query]);
    } else if (ni < 2) {
        return t2i_error(T2I_EARG, "r-precision: a single image has no mismatches");
    }
    int j = 0;
    while (j < K) {
        int64_t idx = (int64_t)rng_below(rng, (uint64_t)ni);
        if (spec->rule == RP_MISMATCH_SAME_CLASS ? cls[idx] == cls[query] : idx == query) continue;
        int64_t cap = (int64_t)rng_below(rng, (uint64_t)cpi);
        out[j++] = idx * cpi + cap;
    }
    return T2I_OK;
}
