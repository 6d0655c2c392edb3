// paired.h -- paired statistics for two runs over the same samples (same sample ids in both).
//
// Paired bootstrap: resample r (r = 0, 1, ...) draws n sample positions with replacement from
// the counter RNG (seed, r, RNG_STREAM_BOOTSTRAP), so resample r is the same whatever the number
// of resamples; the metric of each run is recomputed on the same positions and the difference
// B - A recorded. The 95% interval is the 2.5% / 97.5% percentiles (linear interpolation, as
// numpy.percentile). A difference is "significant" only when its interval excludes zero.
//   IS   softmax(logits[class range] / T) per row (double), split as the run's protocol splits
//        (contiguous positions), exp(mean KL) per split, mean over splits (PROTOCOLS.md §2)
//   RP   100 * mean(rank < k) over the resample (the fold mean of equal folds)
//   FID  against the run's reference statistics (mu2, S2). With n < D (the usual small run)
//        every resample is computed exactly from n x n Gram matrices precomputed once
//        (X X^T and X S2 X^T): tr sqrt(S1 S2) = sum sqrt(eig(A S2 A^T)), A = centred resample
//        / sqrt(n - 1). With n >= D each resample needs a D x D covariance and two eigen-
//        decompositions, so FID uses fewer resamples: as many as fit a fixed budget of
//        PAIRED_FID_BUDGET floating-point operations, at least PAIRED_FID_MIN (reported).
// McNemar's exact test on the R-precision hits: two-sided binomial p of the discordant pairs.
#ifndef T2I_PAIRED_H
#define T2I_PAIRED_H

#include "fid.h"
#include "inception_score.h"

#include <stdint.h>

#define RNG_STREAM_BOOTSTRAP 102
#define PAIRED_FID_BUDGET 1e11
#define PAIRED_FID_MIN 20

typedef struct {
    int64_t         n;                     // samples (same positions in both runs)
    const float    *is_a, *is_b;           // (n, is_cols) logits or NULL
    int             is_cols;
    IsOptions       is_opt;
    const int      *rank_a, *rank_b;       // (n) R-precision ranks or NULL
    int             rp_k;
    const float    *fid_a, *fid_b;         // (n, D) features or NULL
    int             D;
    const FidStats *fid_ref;               // reference statistics (NULL = no FID)
} PairedData;

typedef struct {
    char   metric[8];       // "is", "rp", "fid"
    int    direction;       // +1 higher is better, -1 lower
    double a, b, diff;      // on all samples (this module's computation), diff = b - a
    double lo, hi;          // 95% percentile interval of the resampled differences
    int    resamples;
    int    significant;     // the interval excludes zero
} PairedDiff;

// Up to 3 results (is, rp, fid: those with data) into out; *n_out their count.
int paired_bootstrap(const PairedData *d, uint64_t seed, int resamples,
                     PairedDiff *out /* OUT (3) */, int *n_out /* OUT */);

typedef struct {
    int64_t n, both, a_only, b_only, neither;   // hits (rank < k) of A / B
    double  p;                                  // two-sided exact p (1 when no discordant pair)
} McNemar;

void mcnemar_exact(const int *rank_a, const int *rank_b, int64_t n, int k, McNemar *out /* OUT */);

// Percentile q in [0, 100] of sorted x (n >= 1), numpy's linear rule.
double paired_percentile(const double *sorted, int n, double q);

#endif
