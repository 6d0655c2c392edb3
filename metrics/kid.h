// kid.h -- Kernel Inception Distance: unbiased polynomial-kernel MMD^2 averaged over subsets.
//
// Mirrors torch-fidelity torch_fidelity/metric_kid.py (PROTOCOLS.md §5), after MMD-GAN:
//   k(x, y) = (gamma x.y + coef0)^degree, defaults degree 3, gamma 1/D, coef0 1;
//   per subset (m rows of each set): MMD^2 = (sum_{i!=j} Kxx + sum_{i!=j} Kyy) / (m(m-1))
//                                          - 2 sum Kxy / m^2;
//   result: mean and population std (np.std) over `subsets` subsets of `subset_size` rows.
// Differences from torch-fidelity, by necessity: subsets are drawn without replacement by a
// partial Fisher-Yates shuffle from the caller's counter-based Rng (engine/core/rng.h), not from
// np.random.RandomState(2020), so the subset choice (not the formula) differs; explicit index
// lists can be passed instead to reproduce any given draw. Kernels are computed in double
// (torch-fidelity uses the features' float32 unless its internal dtype is float64).
// torch-fidelity refuses subset_size > N; so do we.
#ifndef T2I_KID_H
#define T2I_KID_H

#include <stdint.h>

#include "rng.h"

typedef struct {
    int    subsets;       // >= 1 (torch-fidelity default 100)
    int    subset_size;   // m >= 2 (torch-fidelity default 1000)
    int    degree;        // >= 1 (3)
    double gamma;         // <= 0 selects 1/D
    double coef0;         // (1)
} KidOptions;

KidOptions kid_options_default(void);   // 100 subsets of 1000, degree 3, gamma 1/D, coef0 1

typedef struct {
    double mean;
    double std;       // population std over subsets
    int    subsets;
    int    subset_size;
} KidResult;

// Unbiased MMD^2 of X (m, D) and Y (m, D), double, row-major.
int kid_mmd2_unbiased(const double *X, const double *Y, int m, int D, const KidOptions *opt,
                      double *out /* OUT */);

// KID of A (n1, D) and B (n2, D). Subset s uses rows idx_a[s*m .. s*m+m) of A and idx_b[...]
// of B when idx_a/idx_b are given (each index in range, distinct within a subset); otherwise
// both are drawn from rng, subset by subset: first A's m indices, then B's. Callers seed it as
// rng_init(&r, seed, 0, RNG_STREAM_KID). per_subset (subsets entries) may be NULL.
int kid_compute(const double *A, int64_t n1, const double *B, int64_t n2, int D,
                const KidOptions *opt, const int64_t *idx_a, const int64_t *idx_b, Rng *rng,
                double *per_subset /* OUT, may be NULL */, KidResult *out /* OUT */);

#define KID_VARIANT "torch-fidelity-kid(poly deg %d, gamma %.6g, coef0 %g; unbiased; %d x %d)"

#endif
