// paired.c -- paired bootstrap and McNemar's exact test (see paired.h).
#include "paired.h"

#include "rng.h"
#include "stats.h"
#include "t2i.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

double paired_percentile(const double *x, int n, double q) {
    double pos = q / 100.0 * (n - 1);
    int i = (int)floor(pos);
    if (i >= n - 1) return x[n - 1];
    if (i < 0) return x[0];
    double f = pos - i;
    return x[i] + (x[i + 1] - x[i]) * f;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void draw(int64_t *idx, int64_t n, uint64_t seed, int r) {
    Rng g;
    rng_init(&g, seed, (uint64_t)r, RNG_STREAM_BOOTSTRAP);
    for (int64_t k = 0; k < n; k++) idx[k] = (int64_t)rng_below(&g, (uint64_t)n);
}

// ---- IS ------------------------------------------------------------------------------------

typedef struct {
    int64_t n;
    int     C;
    float  *p;   // (n, C) probabilities over the class range, tempered
    double *h;   // (n) sum p log p
} IsRows;

static int is_rows(IsRows *r, const float *logits, int64_t n, int cols, const IsOptions *o) {
    int b = o->class_begin, e = o->class_end ? o->class_end : cols;
    r->n = n;
    r->C = e - b;
    r->p = t2i_malloc(sizeof(float) * (size_t)n * (size_t)r->C);
    r->h = t2i_malloc(sizeof(double) * (size_t)n);
    if (!r->p || !r->h) return T2I_ENOMEM;
    for (int64_t i = 0; i < n; i++) {
        const float *l = logits + (size_t)i * cols;
        double mx = -INFINITY, z = 0, h = 0;
        for (int c = b; c < e; c++) mx = fmax(mx, (double)l[c] / o->temperature);
        for (int c = b; c < e; c++) z += exp((double)l[c] / o->temperature - mx);
        double lz = log(z);
        for (int c = b; c < e; c++) {
            double lp = (double)l[c] / o->temperature - mx - lz;
            r->p[(size_t)i * r->C + (c - b)] = (float)exp(lp);
            h += exp(lp) * lp;
        }
        r->h[i] = h;
    }
    return T2I_OK;
}

// IS of the rows at positions idx (NULL = identity), `splits` contiguous splits.
static double is_of(const IsRows *r, const int64_t *idx, int splits, double *acc) {
    int64_t n = r->n;
    double total = 0;
    for (int s = 0; s < splits; s++) {
        int64_t k0 = (int64_t)s * n / splits, k1 = (int64_t)(s + 1) * n / splits;
        memset(acc, 0, sizeof(double) * (size_t)r->C);
        double hs = 0;
        for (int64_t k = k0; k < k1; k++) {
            int64_t i = idx ? idx[k] : k;
            const float *p = r->p + (size_t)i * r->C;
            for (int c = 0; c < r->C; c++) acc[c] += p[c];
            hs += r->h[i];
        }
        double m = (double)(k1 - k0), cross = 0;
        for (int c = 0; c < r->C; c++) {
            double pb = acc[c] / m;
            if (pb > 0) cross += pb * log(pb);
        }
        total += exp(hs / m - cross);
    }
    return total / splits;
}

// ---- FID -----------------------------------------------------------------------------------

typedef struct {
    int64_t n;
    int     D;
    int     gram;        // 1: n x n Gram path
    double *L, *K;       // (n, n) X X^T, X S2 X^T
    double *v;           // (n) X mu2
    double  mm2, tr2;    // mu2 . mu2, tr S2
    const float   *X;
    const FidStats *ref;
    double *M, *w;       // (n, n), (n) scratch
} FidRows;

static int fid_rows(FidRows *f, const float *X, int64_t n, int D, const FidStats *ref) {
    memset(f, 0, sizeof *f);
    f->n = n;
    f->D = D;
    f->X = X;
    f->ref = ref;
    f->gram = n < D;
    f->mm2 = 0;
    f->tr2 = 0;
    for (int j = 0; j < D; j++) {
        f->mm2 += ref->mu[j] * ref->mu[j];
        f->tr2 += ref->sigma[(size_t)j * D + j];
    }
    if (!f->gram) return T2I_OK;
    size_t nn = (size_t)n * (size_t)n;
    f->L = t2i_malloc(sizeof(double) * nn);
    f->K = t2i_malloc(sizeof(double) * nn);
    f->M = t2i_malloc(sizeof(double) * nn);
    f->v = t2i_malloc(sizeof(double) * (size_t)n);
    f->w = t2i_malloc(sizeof(double) * (size_t)n);
    double *y = t2i_malloc(sizeof(double) * (size_t)n * D);
    if (!f->L || !f->K || !f->M || !f->v || !f->w || !y) {
        t2i_free(y);
        return T2I_ENOMEM;
    }
    // y = X S2 (n, D), row by row; then K = y X^T, L = X X^T, v = X mu2.
    for (int64_t i = 0; i < n; i++) {
        double *yi = y + (size_t)i * D;
        memset(yi, 0, sizeof(double) * (size_t)D);
        for (int k = 0; k < D; k++) {
            double xk = X[(size_t)i * D + k];
            const double *s = ref->sigma + (size_t)k * D;
            for (int j = 0; j < D; j++) yi[j] += xk * s[j];
        }
    }
    for (int64_t i = 0; i < n; i++) {
        double vi = 0;
        for (int k = 0; k < D; k++) vi += (double)X[(size_t)i * D + k] * ref->mu[k];
        f->v[i] = vi;
        for (int64_t j = 0; j < n; j++) {
            double kl = 0, ll = 0;
            for (int k = 0; k < D; k++) {
                kl += y[(size_t)i * D + k] * X[(size_t)j * D + k];
                ll += (double)X[(size_t)i * D + k] * X[(size_t)j * D + k];
            }
            f->K[(size_t)i * n + j] = kl;
            f->L[(size_t)i * n + j] = ll;
        }
    }
    // Symmetrize K (rounding).
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = i + 1; j < n; j++) {
            double m = 0.5 * (f->K[(size_t)i * n + j] + f->K[(size_t)j * n + i]);
            f->K[(size_t)i * n + j] = f->K[(size_t)j * n + i] = m;
        }
    t2i_free(y);
    return T2I_OK;
}

static void fid_rows_free(FidRows *f) {
    t2i_free(f->L);
    t2i_free(f->K);
    t2i_free(f->M);
    t2i_free(f->v);
    t2i_free(f->w);
}

// FID of the resample idx (NULL = identity) against the reference.
static int fid_of(FidRows *f, const int64_t *idx, double *out) {
    int64_t n = f->n;
    if (!f->gram) {
        float *x = t2i_malloc(sizeof(float) * (size_t)n * f->D);
        if (!x) return T2I_ENOMEM;
        for (int64_t k = 0; k < n; k++)
            memcpy(x + (size_t)k * f->D, f->X + (size_t)(idx ? idx[k] : k) * f->D,
                   sizeof(float) * (size_t)f->D);
        FidStats a;
        FidResult r;
        memset(&a, 0, sizeof a);
        int rc = fid_stats_from_features(x, DT_F32, n, f->D, &a);
        if (!rc) rc = fid_from_stats(&a, f->ref, &r);
        fid_stats_free(&a);
        t2i_free(x);
        if (!rc) *out = r.fid;
        return rc;
    }
    // Row means of K and L over the resample's columns.
    double *rk = f->w;   // reused below as eigenvalues after M is formed
    double qK = 0, qL = 0, sv = 0, trS1 = 0;
    double *rl = t2i_malloc(sizeof(double) * (size_t)n);
    double *rkk = t2i_malloc(sizeof(double) * (size_t)n);
    if (!rl || !rkk) {
        t2i_free(rl);
        t2i_free(rkk);
        return T2I_ENOMEM;
    }
    for (int64_t a = 0; a < n; a++) {
        int64_t ia = idx ? idx[a] : a;
        double sk = 0, sl = 0;
        for (int64_t b = 0; b < n; b++) {
            int64_t ib = idx ? idx[b] : b;
            sk += f->K[(size_t)ia * n + ib];
            sl += f->L[(size_t)ia * n + ib];
        }
        rkk[a] = sk / n;
        rl[a] = sl / n;
        qK += rkk[a];
        qL += rl[a];
        sv += f->v[ia];
    }
    qK /= n;
    qL /= n;
    sv /= n;
    for (int64_t a = 0; a < n; a++) {
        int64_t ia = idx ? idx[a] : a;
        trS1 += f->L[(size_t)ia * n + ia] - 2 * rl[a] + qL;
        for (int64_t b = 0; b < n; b++) {
            int64_t ib = idx ? idx[b] : b;
            f->M[(size_t)a * n + b] =
                (f->K[(size_t)ia * n + ib] - rkk[a] - rkk[b] + qK) / (double)(n - 1);
        }
    }
    trS1 /= (double)(n - 1);
    t2i_free(rl);
    t2i_free(rkk);
    int rc = sym_eig((int)n, f->M, rk, 0);
    if (rc) return rc;
    double trc = 0;
    for (int64_t a = 0; a < n; a++) trc += rk[a] > 0 ? sqrt(rk[a]) : 0;
    double mean_term = qL - 2 * sv + f->mm2;
    *out = mean_term + trS1 + f->tr2 - 2 * trc;
    return T2I_OK;
}

// ---- bootstrap -----------------------------------------------------------------------------

static void finish(PairedDiff *p, const char *name, int dir, double a, double b, double *d, int R) {
    snprintf(p->metric, sizeof p->metric, "%s", name);
    p->direction = dir;
    p->a = a;
    p->b = b;
    p->diff = b - a;
    qsort(d, (size_t)R, sizeof(double), cmp_double);
    p->lo = paired_percentile(d, R, 2.5);
    p->hi = paired_percentile(d, R, 97.5);
    p->resamples = R;
    p->significant = p->lo > 0 || p->hi < 0;
}

int paired_bootstrap(const PairedData *d, uint64_t seed, int R, PairedDiff *out, int *n_out) {
    *n_out = 0;
    int64_t n = d->n;
    if (n < 2 || R < 1) return t2i_error(T2I_EARG, "paired bootstrap: %lld samples, %d resamples",
                                         (long long)n, R);
    int rc = T2I_OK;
    int64_t *idx = t2i_malloc(sizeof(int64_t) * (size_t)n);
    double *diff = t2i_malloc(sizeof(double) * (size_t)R);
    IsRows ia, ib;
    FidRows fa, fb;
    memset(&ia, 0, sizeof ia);
    memset(&ib, 0, sizeof ib);
    memset(&fa, 0, sizeof fa);
    memset(&fb, 0, sizeof fb);
    double *acc = NULL;
    if (!idx || !diff) {
        rc = T2I_ENOMEM;
        goto done;
    }
    if (d->is_a && d->is_b && n >= d->is_opt.splits) {
        if ((rc = is_rows(&ia, d->is_a, n, d->is_cols, &d->is_opt)) ||
            (rc = is_rows(&ib, d->is_b, n, d->is_cols, &d->is_opt)))
            goto done;
        if (!(acc = t2i_malloc(sizeof(double) * (size_t)ia.C))) {
            rc = T2I_ENOMEM;
            goto done;
        }
        int S = d->is_opt.splits;
        double a = is_of(&ia, NULL, S, acc), b = is_of(&ib, NULL, S, acc);
        for (int r = 0; r < R; r++) {
            draw(idx, n, seed, r);
            diff[r] = is_of(&ib, idx, S, acc) - is_of(&ia, idx, S, acc);
        }
        finish(&out[(*n_out)++], "is", 1, a, b, diff, R);
    }
    if (d->rank_a && d->rank_b) {
        double a = 0, b = 0;
        for (int64_t i = 0; i < n; i++) {
            a += d->rank_a[i] >= 0 && d->rank_a[i] < d->rp_k;
            b += d->rank_b[i] >= 0 && d->rank_b[i] < d->rp_k;
        }
        for (int r = 0; r < R; r++) {
            draw(idx, n, seed, r);
            double s = 0;
            for (int64_t k = 0; k < n; k++) {
                int64_t i = idx[k];
                s += (d->rank_b[i] >= 0 && d->rank_b[i] < d->rp_k) -
                     (d->rank_a[i] >= 0 && d->rank_a[i] < d->rp_k);
            }
            diff[r] = 100.0 * s / (double)n;
        }
        finish(&out[(*n_out)++], "rp", 1, 100.0 * a / n, 100.0 * b / n, diff, R);
    }
    if (d->fid_a && d->fid_b && d->fid_ref && d->fid_ref->D == d->D) {
        if ((rc = fid_rows(&fa, d->fid_a, n, d->D, d->fid_ref)) ||
            (rc = fid_rows(&fb, d->fid_b, n, d->D, d->fid_ref)))
            goto done;
        double D = d->D, nn = (double)n;
        double cost = fa.gram ? 4 * nn * nn + 10 * nn * nn * nn : 2 * nn * D * D + 20 * D * D * D;
        int Rf = R;
        if (cost * 2 * R > PAIRED_FID_BUDGET) {
            double fit = PAIRED_FID_BUDGET / (2 * cost);
            Rf = fit < PAIRED_FID_MIN ? PAIRED_FID_MIN : (int)fit;
            if (Rf > R) Rf = R;
        }
        double a, b;
        if ((rc = fid_of(&fa, NULL, &a)) || (rc = fid_of(&fb, NULL, &b))) goto done;
        for (int r = 0; r < Rf && !rc; r++) {
            double x, y;
            draw(idx, n, seed, r);
            if (!(rc = fid_of(&fa, idx, &x)) && !(rc = fid_of(&fb, idx, &y))) diff[r] = y - x;
        }
        if (rc) goto done;
        finish(&out[(*n_out)++], "fid", -1, a, b, diff, Rf);
    }
done:
    t2i_free(idx);
    t2i_free(diff);
    t2i_free(acc);
    t2i_free(ia.p);
    t2i_free(ia.h);
    t2i_free(ib.p);
    t2i_free(ib.h);
    fid_rows_free(&fa);
    fid_rows_free(&fb);
    return rc;
}

// ---- McNemar -------------------------------------------------------------------------------

void mcnemar_exact(const int *ra, const int *rb, int64_t n, int k, McNemar *o) {
    memset(o, 0, sizeof *o);
    o->n = n;
    for (int64_t i = 0; i < n; i++) {
        int a = ra[i] >= 0 && ra[i] < k, b = rb[i] >= 0 && rb[i] < k;
        if (a && b) o->both++;
        else if (a) o->a_only++;
        else if (b) o->b_only++;
        else o->neither++;
    }
    int64_t m = o->a_only + o->b_only, lo = o->a_only < o->b_only ? o->a_only : o->b_only;
    if (m == 0) {
        o->p = 1.0;
        return;
    }
    // 2 * P(X <= lo), X ~ Binomial(m, 1/2), summed in log space.
    double s = 0, lm = lgamma((double)m + 1) - (double)m * log(2.0);
    for (int64_t i = 0; i <= lo; i++)
        s += exp(lm - lgamma((double)i + 1) - lgamma((double)(m - i) + 1));
    o->p = 2 * s < 1 ? 2 * s : 1.0;
}
