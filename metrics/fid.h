// fid.h -- Fréchet Inception Distance from feature statistics (mu, sigma).
//
// Mirrors pytorch-fid src/pytorch_fid/fid_score.py (PROTOCOLS.md §4):
//   mu = mean of the (N, D) features, sigma = np.cov(features, rowvar=False) (ddof 1);
//   FID = |mu1 - mu2|^2 + tr S1 + tr S2 - 2 tr sqrt(S1 S2).
// pytorch-fid takes tr Re sqrtm(S1 S2) with scipy's Schur method. Here tr sqrt(S1 S2) is computed
// as tr sqrt(sqrt(S1) S2 sqrt(S1)): the two matrices have the same eigenvalues, and the second
// is symmetric positive semi-definite, so two symmetric eigendecompositions (LAPACK dsyevd) give
// it, with tiny negative eigenvalues (rounding; rank-deficient sigma when N <= D) clipped to 0.
// As in pytorch-fid, when the result is not finite (or LAPACK fails) it is recomputed once with
// 1e-6 added to both diagonals, and the result says so. sigma is symmetrized ((S + S^T) / 2).
//
// Statistics files are pytorch-fid .npz (members `mu` (D) and `sigma` (D, D), float64 or float32).
// Features are accumulated with MeanCov (stats.h): streaming, mergeable, double.
#ifndef T2I_FID_H
#define T2I_FID_H

#include <stdint.h>

#include "stats.h"
#include "tensor.h"

#define FID_OFFSET_EPS 1e-6

typedef struct {
    int      D;
    int64_t  n;        // number of feature rows (0 when loaded from a .npz, which has no count)
    double  *mu;       // (D), owned
    double  *sigma;    // (D, D), owned
} FidStats;

void fid_stats_free(FidStats *s);   // accepts a zeroed FidStats
int  fid_stats_alloc(FidStats *s, int D);

// Statistics of a finished accumulator. Error when fewer than 2 rows.
int  fid_stats_from_meancov(const MeanCov *mc, FidStats *out /* OUT */);
// One pass over features x (n, D) of dtype F64/F32/F16 (MeanCov with the default block).
int  fid_stats_from_features(const void *x, DType dt, int64_t n, int D, FidStats *out /* OUT */);

// pytorch-fid .npz statistics.
int  fid_stats_load(const char *path, FidStats *out /* OUT */);
int  fid_stats_save(const char *path, const FidStats *s);

typedef struct {
    double fid;             // clamped at 0
    double fid_raw;         // before the clamp (a tiny negative number from rounding)
    double mean_term;       // |mu1 - mu2|^2
    double trace_term;      // tr S1 + tr S2 - 2 tr sqrt(S1 S2)
    double tr_covmean;      // tr sqrt(S1 S2)
    int    offset_used;     // 1 when the 1e-6 diagonal retry was needed
    int    n_clipped;       // eigenvalues < 0 set to 0 (S1 and the product, summed)
    double most_negative;   // most negative eigenvalue clipped (0 when none)
} FidResult;

// mu (D), sigma (D, D) row-major. Errors: D < 1, non-finite input, LAPACK failure after the
// retry, a non-finite result after the retry.
int  fid_frechet_distance(const double *mu1, const double *sigma1, const double *mu2,
                          const double *sigma2, int D, FidResult *out /* OUT */);
// tr sqrt((S1 + eps I)(S2 + eps I)) (both sigmas symmetrized, eps on both diagonals): the
// trace term fid_frechet_distance uses, with eps = 0 and, on its retry, FID_OFFSET_EPS. Negative
// eigenvalues are clipped to 0, counted in *n_clipped (added to) and the most negative kept in
// *most_neg (initialize both). Exposed so that tests can check the retry's formula.
int  fid_trace_sqrt_product(const double *s1, const double *s2, int D, double eps, double *tr,
                            int *n_clipped, double *most_neg);
int  fid_from_stats(const FidStats *a, const FidStats *b, FidResult *out /* OUT */);

#define FID_VARIANT "pytorch-fid-frechet(np.cov ddof1; tr sqrtm via eigh; 1e-6 retry)"

#endif
