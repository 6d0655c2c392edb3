// inception_score.c -- see inception_score.h.
#include "inception_score.h"
#include "t2i.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

IsOptions is_options_default(void) {
    IsOptions o = {10, 1.0, 0, 0};
    return o;
}

void is_accum_free(IsAccum *a) {
    if (!a) return;
    t2i_free(a->sum_p);
    t2i_free(a->sum_plogp);
    t2i_free(a->count);
    t2i_free(a->row);
    memset(a, 0, sizeof *a);
}

int is_accum_init(IsAccum *a, int64_t n_total, int n_cols, const IsOptions *opt) {
    memset(a, 0, sizeof *a);
    if (n_cols < 1) return t2i_error(T2I_EARG, "inception score: %d classes", n_cols);
    if (opt->splits < 1) return t2i_error(T2I_EARG, "inception score: splits = %d < 1", opt->splits);
    if (n_total < opt->splits)
        return t2i_error(T2I_EARG, "inception score: N = %lld samples is smaller than the number "
                                   "of splits (%d)", (long long)n_total, opt->splits);
    if (!(opt->temperature > 0) || !isfinite(opt->temperature))
        return t2i_error(T2I_EARG, "inception score: temperature %g must be positive and finite",
                         opt->temperature);
    int end = opt->class_end ? opt->class_end : n_cols;
    if (opt->class_begin < 0 || end > n_cols || opt->class_begin >= end)
        return t2i_error(T2I_EARG, "inception score: class range [%d, %d) is not inside [0, %d)",
                         opt->class_begin, end, n_cols);
    a->opt = *opt;
    a->opt.class_end = end;
    a->n_total = n_total;
    a->n_cols = n_cols;
    a->C = end - opt->class_begin;
    size_t nsp;
    if (!t2i_mul_size((size_t)opt->splits, (size_t)a->C, &nsp))
        return t2i_error(T2I_ENOMEM, "inception score: too many splits x classes");
    a->sum_p = t2i_calloc(nsp, sizeof(XSum));
    a->sum_plogp = t2i_calloc((size_t)opt->splits, sizeof(XSum));
    a->count = t2i_calloc((size_t)opt->splits, sizeof(int64_t));
    a->row = t2i_calloc((size_t)n_cols, sizeof(double));
    if (!a->sum_p || !a->sum_plogp || !a->count || !a->row) {
        is_accum_free(a);
        return t2i_error(T2I_ENOMEM, "inception score: out of memory");
    }
    return T2I_OK;
}

// Split of global sample i: the largest k with floor(k N / S) <= i.
static int split_of(int64_t i, int64_t N, int S) { return (int)(((i + 1) * S - 1) / N); }

static int64_t split_size(int k, int64_t N, int S) {
    return (int64_t)(k + 1) * N / S - (int64_t)k * N / S;
}

// Adds one row given as tempered log-weights l[0..C) (may hold -inf, at least one finite).
static int add_row(IsAccum *a, int k, const double *l) {
    int C = a->C;
    double m = -INFINITY;
    for (int c = 0; c < C; c++)
        if (l[c] > m) m = l[c];
    double z = 0.0;
    for (int c = 0; c < C; c++) z += exp(l[c] - m);
    double logz = log(z), plogp = 0.0;
    XSum *sp = a->sum_p + (size_t)k * C;
    for (int c = 0; c < C; c++) {
        double lp = (l[c] - m) - logz;   // log softmax
        double p = exp(l[c] - m) / z;
        if (p > 0) plogp += p * lp;      // 0 log 0 = 0
        a->overflow |= xsum_add(&sp[c], p);
    }
    a->overflow |= xsum_add(&a->sum_plogp[k], plogp);
    a->count[k]++;
    return T2I_OK;
}

static int add_rows(IsAccum *a, int64_t first, const void *x, DType dt, int64_t n, int probs) {
    if (dt != DT_F64 && dt != DT_F32 && dt != DT_F16)
        return t2i_error(T2I_EARG, "inception score: %s must be float64/32/16, got %s",
                         probs ? "probabilities" : "logits", dtype_name(dt));
    if (n < 0 || first < 0 || first > a->n_total - n)
        return t2i_error(T2I_EARG, "inception score: rows [%lld, %lld) outside the %lld samples",
                         (long long)first, (long long)(first + n), (long long)a->n_total);
    size_t esz = dtype_size(dt);
    const unsigned char *p = x;
    for (int64_t r = 0; r < n; r++) {
        double *row = a->row;
        stats_to_f64(row, p + (size_t)r * a->n_cols * esz, dt, (size_t)a->n_cols);
        double *l = row + a->opt.class_begin;
        int any = 0;
        for (int c = 0; c < a->C; c++) {
            double v = l[c];
            if (probs) {
                if (!(v >= 0) || !isfinite(v))
                    return t2i_error(T2I_EARG, "inception score: probability of sample %lld class "
                                               "%d is %g", (long long)(first + r),
                                     c + a->opt.class_begin, v);
                any |= v > 0;
                l[c] = v > 0 ? log(v) / a->opt.temperature : -INFINITY;
            } else {
                if (!isfinite(v))
                    return t2i_error(T2I_EARG, "inception score: logit of sample %lld class %d is "
                                               "not finite (%g)", (long long)(first + r),
                                     c + a->opt.class_begin, v);
                l[c] = v / a->opt.temperature;   // logits / T, as TISE
                any = 1;
            }
        }
        if (!any)
            return t2i_error(T2I_EARG, "inception score: sample %lld has zero probability on "
                                       "every class in [%d, %d)", (long long)(first + r),
                             a->opt.class_begin, a->opt.class_end);
        add_row(a, split_of(first + r, a->n_total, a->opt.splits), l);
    }
    if (a->overflow) return t2i_error(T2I_EARG, "inception score: exact sums overflowed");
    return T2I_OK;
}

int is_accum_add_logits(IsAccum *a, int64_t first_index, const void *logits, DType dt,
                        int64_t n) {
    return add_rows(a, first_index, logits, dt, n, 0);
}

int is_accum_add_probs(IsAccum *a, int64_t first_index, const void *probs, DType dt, int64_t n) {
    return add_rows(a, first_index, probs, dt, n, 1);
}

int is_accum_merge(IsAccum *dst, const IsAccum *src) {
    if (dst->n_total != src->n_total || dst->n_cols != src->n_cols ||
        dst->opt.splits != src->opt.splits || dst->opt.temperature != src->opt.temperature ||
        dst->opt.class_begin != src->opt.class_begin || dst->opt.class_end != src->opt.class_end)
        return t2i_error(T2I_ESHAPE, "inception score merge: accumulators differ (N %lld/%lld, "
                                     "splits %d/%d, classes [%d,%d)/[%d,%d), T %g/%g)",
                         (long long)dst->n_total, (long long)src->n_total, dst->opt.splits,
                         src->opt.splits, dst->opt.class_begin, dst->opt.class_end,
                         src->opt.class_begin, src->opt.class_end, dst->opt.temperature,
                         src->opt.temperature);
    size_t nsp = (size_t)dst->opt.splits * dst->C;
    for (size_t i = 0; i < nsp; i++) dst->overflow |= xsum_merge(&dst->sum_p[i], &src->sum_p[i]);
    for (int k = 0; k < dst->opt.splits; k++) {
        dst->overflow |= xsum_merge(&dst->sum_plogp[k], &src->sum_plogp[k]);
        dst->count[k] += src->count[k];
    }
    dst->overflow |= src->overflow;
    if (dst->overflow) return t2i_error(T2I_EARG, "inception score merge: exact sums overflowed");
    return T2I_OK;
}

int is_accum_finalize(const IsAccum *a, double *split_scores, IsResult *out) {
    memset(out, 0, sizeof *out);
    if (a->overflow) return t2i_error(T2I_EARG, "inception score: exact sums overflowed");
    int S = a->opt.splits, C = a->C;
    double sum = 0.0;
    double *sc = split_scores;
    double local[64];
    double *tmp = NULL;
    if (!sc) {
        if (S <= 64) {
            sc = local;
        } else {
            tmp = t2i_malloc((size_t)S * sizeof(double));
            if (!tmp) return t2i_error(T2I_ENOMEM, "inception score: out of memory");
            sc = tmp;
        }
    }
    for (int k = 0; k < S; k++) {
        int64_t want = split_size(k, a->n_total, S);
        if (a->count[k] != want) {
            t2i_free(tmp);
            return t2i_error(T2I_EARG, "inception score: split %d has %lld samples, expected %lld "
                                       "(rows [%lld, %lld) missing or added twice)", k,
                             (long long)a->count[k], (long long)want,
                             (long long)((int64_t)k * a->n_total / S),
                             (long long)((int64_t)(k + 1) * a->n_total / S));
        }
        double n = (double)want, h = 0.0;
        const XSum *sp = a->sum_p + (size_t)k * C;
        for (int c = 0; c < C; c++) {
            double pbar = xsum_value(&sp[c]) / n;
            if (pbar > 0) h += pbar * log(pbar);
        }
        double kl = xsum_value(&a->sum_plogp[k]) / n - h;
        sc[k] = exp(kl);
        sum += sc[k];
    }
    double mean = sum / S, var = 0.0;
    for (int k = 0; k < S; k++) var += (sc[k] - mean) * (sc[k] - mean);
    out->mean = mean;
    out->std = sqrt(var / S);
    out->n = a->n_total;
    out->splits = S;
    t2i_free(tmp);
    return T2I_OK;
}

int inception_score(const void *logits, DType dt, int64_t n, int n_cols, const IsOptions *opt,
                    double *split_scores, IsResult *out) {
    IsAccum a;
    memset(out, 0, sizeof *out);
    int rc = is_accum_init(&a, n, n_cols, opt);
    if (rc) return rc;
    rc = is_accum_add_logits(&a, 0, logits, dt, n);
    if (!rc) rc = is_accum_finalize(&a, split_scores, out);
    is_accum_free(&a);
    return rc;
}

const char *is_variant_name(const IsOptions *opt, int n_cols, char *buf, int n) {
    int end = opt->class_end ? opt->class_end : n_cols;
    int cub = opt->class_begin == 1 && end == 51 && n_cols == 51;
    int coco = opt->class_begin == 0 && end == 1008 && n_cols == 1008;
    const char *name = "is";
    if (opt->temperature == 1.0)
        name = cub ? "stackgan-cub-is" : coco ? "improved-gan-is" : "is";
    else
        name = cub && opt->temperature == IS_T_CUB     ? "tise-cub-is*"
               : coco && opt->temperature == IS_T_COCO ? "tise-coco-is*"
                                                       : "is*";
    snprintf(buf, (size_t)n, "%s(classes [%d,%d) of %d, %d splits, T=%.17g)", name,
             opt->class_begin, end, n_cols, opt->splits, opt->temperature);
    return buf;
}
