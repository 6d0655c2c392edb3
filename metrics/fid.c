// fid.c -- see fid.h.
#include "fid.h"
#include "npz.h"
#include "t2i.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

void fid_stats_free(FidStats *s) {
    if (!s) return;
    t2i_free(s->mu);
    t2i_free(s->sigma);
    memset(s, 0, sizeof *s);
}

int fid_stats_alloc(FidStats *s, int D) {
    memset(s, 0, sizeof *s);
    size_t dd;
    if (D < 1 || !t2i_mul_size((size_t)D, (size_t)D, &dd))
        return t2i_error(T2I_EARG, "fid: bad feature dimension %d", D);
    s->D = D;
    s->mu = t2i_calloc((size_t)D, sizeof(double));
    s->sigma = t2i_calloc(dd, sizeof(double));
    if (!s->mu || !s->sigma) {
        fid_stats_free(s);
        return t2i_error(T2I_ENOMEM, "fid: out of memory for D=%d statistics", D);
    }
    return T2I_OK;
}

int fid_stats_from_meancov(const MeanCov *mc, FidStats *out) {
    int rc = fid_stats_alloc(out, mc->D);
    if (rc) return rc;
    rc = meancov_finalize(mc, out->mu, out->sigma);
    if (rc) {
        fid_stats_free(out);
        return rc;
    }
    out->n = mc->n;
    return T2I_OK;
}

int fid_stats_from_features(const void *x, DType dt, int64_t n, int D, FidStats *out) {
    memset(out, 0, sizeof *out);
    MeanCov mc;
    int rc = meancov_init(&mc, D, 0);
    if (rc) return rc;
    rc = meancov_add(&mc, x, dt, n);
    if (!rc) rc = fid_stats_from_meancov(&mc, out);
    meancov_free(&mc);
    return rc;
}

// ---- .npz statistics ------------------------------------------------------------------------

int fid_stats_load(const char *path, FidStats *out) {
    memset(out, 0, sizeof *out);
    Npz z;
    int rc = npz_load(path, &z);
    if (rc) return rc;
    const NpyArray *mu = npz_get(&z, "mu"), *sg = npz_get(&z, "sigma");
    if (!mu || !sg) {
        rc = t2i_error(T2I_EFORMAT, "%s: pytorch-fid statistics need members 'mu' and 'sigma'",
                       path);
        goto done;
    }
    if (mu->ndim != 1 || sg->ndim != 2 || sg->shape[0] != mu->shape[0] ||
        sg->shape[1] != mu->shape[0] || mu->shape[0] < 1 || mu->shape[0] > 65536) {
        rc = t2i_error(T2I_ESHAPE, "%s: mu must be (D,) and sigma (D, D); got mu ndim %d, sigma "
                                   "ndim %d", path, mu->ndim, sg->ndim);
        goto done;
    }
    int D = (int)mu->shape[0];
    if ((rc = fid_stats_alloc(out, D))) goto done;
    if ((rc = stats_to_f64(out->mu, mu->data, mu->dtype, (size_t)D)) ||
        (rc = stats_to_f64(out->sigma, sg->data, sg->dtype, (size_t)D * D))) {
        rc = t2i_error_prefix(rc, "%s", path);
        fid_stats_free(out);
        goto done;
    }
    // A covariance is symmetric with a non-negative diagonal; anything else gives a meaningless
    // (e.g. negative) distance, so it is refused with the offending entry.
    for (int i = 0; i < D && !rc; i++) {
        const double *row = out->sigma + (size_t)i * D;
        if (!(row[i] >= 0))
            rc = t2i_error(T2I_EFORMAT, "%s: sigma[%d][%d] = %g: a covariance diagonal must be "
                                        ">= 0", path, i, i, row[i]);
        for (int j = i + 1; j < D && !rc; j++) {
            double a = row[j], b = out->sigma[(size_t)j * D + i];
            if (!(fabs(a - b) <= 1e-6 * (fabs(a) + fabs(b)) + 1e-12))
                rc = t2i_error(T2I_EFORMAT, "%s: sigma is not symmetric: sigma[%d][%d] = %g, "
                                            "sigma[%d][%d] = %g", path, i, j, a, j, i, b);
        }
    }
    if (rc) fid_stats_free(out);
done:
    npz_free(&z);
    return rc;
}

int fid_stats_save(const char *path, const FidStats *s) {
    NpyArray arr[2];
    memset(arr, 0, sizeof arr);
    arr[0].dtype = DT_F64;
    arr[0].ndim = 1;
    arr[0].shape[0] = s->D;
    arr[0].numel = (size_t)s->D;
    arr[0].data = s->mu;
    arr[1].dtype = DT_F64;
    arr[1].ndim = 2;
    arr[1].shape[0] = s->D;
    arr[1].shape[1] = s->D;
    arr[1].numel = (size_t)s->D * (size_t)s->D;
    arr[1].data = s->sigma;
    const char *names[2] = {"mu", "sigma"};
    return npz_save(path, 2, names, arr);
}

// ---- Fréchet distance -----------------------------------------------------------------------

// tr sqrt(S1 S2) = tr sqrt(D^1/2 V S2 V^T D^1/2) where S1 = V^T D V (rows of V = eigenvectors):
// the matrix inside is similar to sqrt(S1) S2 sqrt(S1). eps is added to both diagonals.
int fid_trace_sqrt_product(const double *s1, const double *s2, int D, double eps,
                              double *tr, int *n_clipped, double *most_neg) {
    size_t dd = (size_t)D * D;
    double *V = t2i_malloc(dd * sizeof(double));
    double *B = t2i_malloc(dd * sizeof(double));
    double *P = t2i_malloc(dd * sizeof(double));
    double *w = t2i_malloc((size_t)D * sizeof(double));
    double *lam = t2i_malloc((size_t)D * sizeof(double));
    int rc = T2I_OK;
    if (!V || !B || !P || !w || !lam) {
        rc = t2i_error(T2I_ENOMEM, "fid: out of memory (D=%d)", D);
        goto done;
    }
    for (int i = 0; i < D; i++) {
        for (int j = 0; j < D; j++) {
            size_t ij = (size_t)i * D + j, ji = (size_t)j * D + i;
            V[ij] = 0.5 * (s1[ij] + s1[ji]);
            B[ij] = 0.5 * (s2[ij] + s2[ji]);
        }
        V[(size_t)i * D + i] += eps;
        B[(size_t)i * D + i] += eps;
    }
    if ((rc = sym_eig(D, V, w, 1))) goto done;
    for (int i = 0; i < D; i++) {
        if (w[i] < 0) {
            (*n_clipped)++;
            if (w[i] < *most_neg) *most_neg = w[i];
            w[i] = 0;
        }
        w[i] = sqrt(w[i]);
    }
    // P = V S2 ; G = P V^T (stored in B) ; G_ij *= sqrt(w_i) sqrt(w_j).
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, D, D, D, 1.0, V, D, B, D, 0.0, P, D);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, D, D, D, 1.0, P, D, V, D, 0.0, B, D);
    for (int i = 0; i < D; i++)
        for (int j = i; j < D; j++) {
            size_t ij = (size_t)i * D + j, ji = (size_t)j * D + i;
            double g = 0.5 * (B[ij] + B[ji]) * w[i] * w[j];
            B[ij] = g;
            B[ji] = g;
        }
    if ((rc = sym_eig(D, B, lam, 0))) goto done;
    double t = 0.0;
    for (int i = 0; i < D; i++) {
        if (lam[i] < 0) {
            (*n_clipped)++;
            if (lam[i] < *most_neg) *most_neg = lam[i];
            continue;
        }
        t += sqrt(lam[i]);
    }
    *tr = t;
done:
    t2i_free(V);
    t2i_free(B);
    t2i_free(P);
    t2i_free(w);
    t2i_free(lam);
    return rc;
}

int fid_frechet_distance(const double *mu1, const double *sigma1, const double *mu2,
                         const double *sigma2, int D, FidResult *out) {
    memset(out, 0, sizeof *out);
    if (D < 1) return t2i_error(T2I_EARG, "fid: feature dimension %d < 1", D);
    size_t dd = (size_t)D * D;
    for (int i = 0; i < D; i++)
        if (!isfinite(mu1[i]) || !isfinite(mu2[i]))
            return t2i_error(T2I_EARG, "fid: mu%d[%d] is not finite", isfinite(mu1[i]) ? 2 : 1, i);
    for (size_t i = 0; i < dd; i++)
        if (!isfinite(sigma1[i]) || !isfinite(sigma2[i]))
            return t2i_error(T2I_EARG, "fid: sigma%d[%zu][%zu] is not finite",
                             isfinite(sigma1[i]) ? 2 : 1, i / (size_t)D, i % (size_t)D);
    double diff2 = 0.0, tr1 = 0.0, tr2 = 0.0;
    for (int i = 0; i < D; i++) {
        double d = mu1[i] - mu2[i];
        diff2 += d * d;
        tr1 += sigma1[(size_t)i * D + i];
        tr2 += sigma2[(size_t)i * D + i];
    }
    double tr = NAN;
    int rc = fid_trace_sqrt_product(sigma1, sigma2, D, 0.0, &tr, &out->n_clipped, &out->most_negative);
    if (rc == T2I_ENOMEM) return rc;
    if (rc || !isfinite(tr)) {
        // pytorch-fid: "fid calculation produces singular product; adding 1e-6 to diagonal"
        out->offset_used = 1;
        out->n_clipped = 0;
        out->most_negative = 0;
        rc = fid_trace_sqrt_product(sigma1, sigma2, D, FID_OFFSET_EPS, &tr, &out->n_clipped,
                                &out->most_negative);
        if (rc) return t2i_error_prefix(rc, "fid (after the 1e-6 diagonal retry)");
    }
    double fid = diff2 + tr1 + tr2 - 2.0 * tr;
    if (!isfinite(fid))
        return t2i_error(T2I_EARG, "fid: result is not finite (tr sqrt = %g)", tr);
    // The distance is >= 0; rounding gives e.g. -7.5e-08 for identical statistics. The value is
    // clamped at 0 and the unclamped one kept (`metric fid --json` prints it as "raw").
    out->fid_raw = fid;
    out->fid = fid < 0 ? 0.0 : fid;
    out->mean_term = diff2;
    out->trace_term = tr1 + tr2 - 2.0 * tr;
    out->tr_covmean = tr;
    return T2I_OK;
}

int fid_from_stats(const FidStats *a, const FidStats *b, FidResult *out) {
    memset(out, 0, sizeof *out);
    if (a->D != b->D)
        return t2i_error(T2I_ESHAPE, "fid: feature dimensions differ (%d vs %d)", a->D, b->D);
    return fid_frechet_distance(a->mu, a->sigma, b->mu, b->sigma, a->D, out);
}
