// stats.h -- exact mergeable sums, streaming mean/covariance (np.cov, ddof 1), symmetric eigen.
//
// Why exact sums: DESIGN.md §11 asks that shards merged in any order reproduce a single-process
// run bit for bit. Floating-point addition is not associative, so every quantity that is summed
// over samples is accumulated here in a 192-bit fixed-point integer (XSum: binary point at bit
// XSUM_FRAC_BITS, range +-2^79, resolution 2^-112). Each double is rounded once (to nearest) on
// entry, then integer addition is exact and associative: any split into chunks, shards and
// merge orders gives identical bits. Converting back to double is correctly rounded.
//
// MeanCov (FID statistics) sums x and x x^T. Rows are buffered into blocks of `block_rows`
// consecutive rows; each full block's Gram matrix is computed in double by OpenBLAS dsyrk and
// then added exactly. Results are bit-identical for any chunking of the add calls, and for
// merges of accumulators whose row ranges start at multiples of block_rows (merge order free),
// given the same OpenBLAS build and thread count. Covariance = (Q - s s^T / n) / (n - 1) from
// the raw sums: relative error of an entry is about 1e-16 * block_rows * (mean^2 / variance).
//
// Not supported: weighted samples, streaming removal, |x| >= 2^32 (an error, never a silent
// overflow; pool3/CLIP/DAMSM features are far below), block_rows > 4096.
#ifndef T2I_STATS_H
#define T2I_STATS_H

#include <stddef.h>
#include <stdint.h>

#include "tensor.h"

// ---- exact fixed-point sums -----------------------------------------------------------------

#define XSUM_FRAC_BITS 112

typedef struct {
    uint64_t w[3];   // two's complement, w[0] least significant
} XSum;

// Adds `v` (rounded to a multiple of 2^-112) to *s. Returns 0, or 1 when v is not finite, when
// |v| >= 2^76, or when the sum overflowed (the caller reports an error).
int    xsum_add(XSum *s, double v);
// *dst += *src exactly; returns 1 on overflow.
int    xsum_merge(XSum *dst, const XSum *src);
// Correctly rounded (to nearest even) double value of *s.
double xsum_value(const XSum *s);

// ---- rows of any float dtype --------------------------------------------------------------

// Converts n elements of `src` (DT_F64, DT_F32 or DT_F16, native little-endian) to double.
// Returns T2I_EARG for any other dtype.
int stats_to_f64(double *dst, const void *src, DType dt, size_t n);

// ---- streaming mean and covariance ----------------------------------------------------------

#define MEANCOV_BLOCK_ROWS 128
#define MEANCOV_MAX_BLOCK  4096         // block Gram entries stay below 4096 * 2^64 = 2^76
#define MEANCOV_MAX_ABS    4294967296.0 // |x| < 2^32 (an error otherwise)

typedef struct {
    int       D;            // feature dimension
    int       block_rows;   // rows per exact block
    int64_t   n;            // rows seen (folded + pending)
    int64_t   n_folded;     // rows already in sum / gram
    int       overflow;     // set when an exact sum overflowed
    XSum     *sum;          // (D) exact sum of x
    XSum     *gram;         // (D*(D+1)/2) exact sum of x x^T, packed upper triangle row by row
    double   *pending;      // (block_rows, D) rows of the block in progress
    int       n_pending;
    double   *scratch;      // (D, D) block Gram from dsyrk
} MeanCov;

// block_rows <= 0 selects MEANCOV_BLOCK_ROWS. Merged accumulators must use the same value.
int  meancov_init(MeanCov *mc, int D, int block_rows);
void meancov_free(MeanCov *mc);   // accepts a zeroed MeanCov

// Appends n rows x (n, D) row-major of dtype dt (F64/F32/F16). Non-finite values or |x| >= 2^32
// are an error naming the row (relative to this call) and column; rows before it stay added.
int  meancov_add(MeanCov *mc, const void *x, DType dt, int64_t n);

// dst <- rows of dst followed by rows of src (src unchanged). Bit-identical to having added
// src's rows to dst when dst->n is a multiple of block_rows; otherwise equal up to rounding.
int  meancov_merge(MeanCov *dst, const MeanCov *src);

// mu (D) = mean, sigma (D, D) = covariance with ddof 1 (np.cov(x, rowvar=False)). Does not
// change mc (pending rows are included without folding them). Error when n < 2.
int  meancov_finalize(const MeanCov *mc, double *mu /* OUT */, double *sigma /* OUT */);

// ---- symmetric eigendecomposition (LAPACK dsyevd from OpenBLAS) ----------------------------

// a (n, n) symmetric, row-major; only its upper triangle (row-major) is read. On return w holds
// the eigenvalues in ascending order; with vectors = 1, row i of a holds the unit eigenvector
// of w[i], otherwise a is destroyed. Returns T2I_EFORMAT when LAPACK reports no convergence.
int  sym_eig(int n, double *a, double *w /* OUT */, int vectors);

#endif
