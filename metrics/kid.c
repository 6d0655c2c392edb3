// kid.c -- see kid.h.
#include "kid.h"
#include "t2i.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

KidOptions kid_options_default(void) {
    KidOptions o = {100, 1000, 3, 0.0, 1.0};
    return o;
}

static double ipow(double x, int k) {
    double r = 1.0;
    for (int i = 0; i < k; i++) r *= x;
    return r;
}

// Sum of all entries (off_diag: all but the diagonal) of k(X Y^T) (m, m); K is scratch.
static double kernel_sum(const double *X, const double *Y, int m, int D, double gamma,
                         double coef0, int degree, int off_diag, double *K) {
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, m, D, 1.0, X, D, Y, D, 0.0, K, m);
    double total = 0.0;
    for (int i = 0; i < m; i++) {
        double row = 0.0;
        for (int j = 0; j < m; j++) {
            if (off_diag && i == j) continue;
            row += ipow(K[(size_t)i * m + j] * gamma + coef0, degree);
        }
        total += row;
    }
    return total;
}

int kid_mmd2_unbiased(const double *X, const double *Y, int m, int D, const KidOptions *opt,
                      double *out) {
    if (m < 2) return t2i_error(T2I_EARG, "kid: subset size %d < 2", m);
    if (D < 1) return t2i_error(T2I_EARG, "kid: feature dimension %d < 1", D);
    if (opt->degree < 1) return t2i_error(T2I_EARG, "kid: kernel degree %d < 1", opt->degree);
    size_t mm;
    if (!t2i_mul_size((size_t)m, (size_t)m, &mm))
        return t2i_error(T2I_ENOMEM, "kid: subset size %d too large", m);
    double *K = t2i_malloc(mm * sizeof(double));
    if (!K) return t2i_error(T2I_ENOMEM, "kid: out of memory for a %d x %d kernel", m, m);
    double gamma = opt->gamma > 0 ? opt->gamma : 1.0 / D;
    double sxx = kernel_sum(X, X, m, D, gamma, opt->coef0, opt->degree, 1, K);
    double syy = kernel_sum(Y, Y, m, D, gamma, opt->coef0, opt->degree, 1, K);
    double sxy = kernel_sum(X, Y, m, D, gamma, opt->coef0, opt->degree, 0, K);
    t2i_free(K);
    double md = (double)m;
    double v = (sxx + syy) / (md * (md - 1.0)) - 2.0 * sxy / (md * md);
    if (!isfinite(v)) return t2i_error(T2I_EARG, "kid: MMD^2 is not finite (features too large?)");
    *out = v;
    return T2I_OK;
}

// m distinct indices from [0, n): the first m steps of a Fisher-Yates shuffle of 0..n-1.
static int draw_subset(Rng *rng, int64_t n, int m, int64_t *perm, int64_t *out) {
    for (int64_t i = 0; i < n; i++) perm[i] = i;
    for (int i = 0; i < m; i++) {
        int64_t j = i + (int64_t)rng_below(rng, (uint64_t)(n - i));
        int64_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
        out[i] = perm[i];
    }
    return T2I_OK;
}

// Copies rows idx[0..m) of F into dst; indices must be in range and distinct (mark: n bytes).
static int gather(const double *F, int64_t n, int D, const int64_t *idx, int m, double *dst,
                  unsigned char *mark, const char *which, int subset) {
    int rc = T2I_OK;
    memset(mark, 0, (size_t)n);
    for (int i = 0; i < m; i++) {
        int64_t r = idx[i];
        if (r < 0 || r >= n) {
            rc = t2i_error(T2I_EARG, "kid: subset %d index %d of %s is %lld, outside [0, %lld)",
                           subset, i, which, (long long)r, (long long)n);
            break;
        }
        if (mark[r]) {
            rc = t2i_error(T2I_EARG, "kid: subset %d of %s repeats row %lld (subsets are drawn "
                                     "without replacement)", subset, which, (long long)r);
            break;
        }
        mark[r] = 1;
        memcpy(dst + (size_t)i * D, F + (size_t)r * D, (size_t)D * sizeof(double));
    }
    return rc;
}

int kid_compute(const double *A, int64_t n1, const double *B, int64_t n2, int D,
                const KidOptions *opt, const int64_t *idx_a, const int64_t *idx_b, Rng *rng,
                double *per_subset, KidResult *out) {
    memset(out, 0, sizeof *out);
    int m = opt->subset_size, S = opt->subsets;
    if (S < 1) return t2i_error(T2I_EARG, "kid: subsets = %d < 1", S);
    if (m < 2) return t2i_error(T2I_EARG, "kid: subset size %d < 2", m);
    if (D < 1) return t2i_error(T2I_EARG, "kid: feature dimension %d < 1", D);
    if (n1 < m || n2 < m)
        return t2i_error(T2I_EARG, "kid: subset size %d is larger than the number of samples "
                                   "(a: %lld, b: %lld); pass a smaller --subset-size", m,
                         (long long)n1, (long long)n2);
    if ((!idx_a || !idx_b) && !rng)
        return t2i_error(T2I_EARG, "kid: need explicit subset indices or a generator");
    int rc = T2I_OK;
    size_t md = (size_t)m * D;
    double *X = t2i_malloc(md * sizeof(double)), *Y = t2i_malloc(md * sizeof(double));
    int64_t *ia = t2i_malloc((size_t)m * sizeof(int64_t)), *ib = t2i_malloc((size_t)m * sizeof(int64_t));
    int64_t *perm = t2i_malloc((size_t)(n1 > n2 ? n1 : n2) * sizeof(int64_t));
    double *vals = t2i_malloc((size_t)S * sizeof(double));
    unsigned char *mark = t2i_malloc((size_t)(n1 > n2 ? n1 : n2));
    if (!X || !Y || !ia || !ib || !perm || !vals || !mark) {
        rc = t2i_error(T2I_ENOMEM, "kid: out of memory");
        goto done;
    }
    double sum = 0.0;
    for (int s = 0; s < S; s++) {
        const int64_t *sa, *sb;
        if (idx_a && idx_b) {
            sa = idx_a + (size_t)s * m;
            sb = idx_b + (size_t)s * m;
        } else {
            draw_subset(rng, n1, m, perm, ia);
            draw_subset(rng, n2, m, perm, ib);
            sa = ia;
            sb = ib;
        }
        if ((rc = gather(A, n1, D, sa, m, X, mark, "a", s)) ||
            (rc = gather(B, n2, D, sb, m, Y, mark, "b", s)))
            goto done;
        if ((rc = kid_mmd2_unbiased(X, Y, m, D, opt, &vals[s]))) goto done;
        sum += vals[s];
    }
    double mean = sum / S, var = 0.0;
    for (int s = 0; s < S; s++) var += (vals[s] - mean) * (vals[s] - mean);
    out->mean = mean;
    out->std = sqrt(var / S);
    out->subsets = S;
    out->subset_size = m;
    if (per_subset) memcpy(per_subset, vals, (size_t)S * sizeof(double));
done:
    t2i_free(X);
    t2i_free(Y);
    t2i_free(ia);
    t2i_free(ib);
    t2i_free(perm);
    t2i_free(vals);
    t2i_free(mark);
    return rc;
}
