// blas.h -- the one place that calls OpenBLAS: row-major sgemm, its naive twin, thread setup.
#ifndef T2I_BLAS_H
#define T2I_BLAS_H

// C (M,N) = alpha * op(A) op(B) + beta * C, row-major; op = transpose when trans_* is 1.
// A is (M,K) (or (K,M) transposed), B is (K,N) (or (N,K) transposed).
void sgemm(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A, int lda,
           const float *B, int ldb, float beta, float *C, int ldc);
void sgemm_ref(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A,
               int lda, const float *B, int ldb, float beta, float *C, int ldc);

// Sets the OpenBLAS thread count once (harness); 0 leaves the library default.
void blas_set_threads(int n);
int  blas_get_threads(void);
// Runs fn(ctx, ith, nth) for ith = 0..nth-1 and returns when all have finished: the caller runs
// ith 0, persistent helper threads the others; nth = the BLAS thread count (at most 8). Used by
// the memory-bound loops around the sgemms (im2col, epilogues, pools), never inside a BLAS call
// and never nested (a nested call runs serially with nth 1). Not reentrant across threads: one
// caller thread at a time (the forward pass).
void t2i_parallel(void (*fn)(void *ctx, int ith, int nth), void *ctx);
// The same with an explicit nth (1..8), e.g. to split a batch while BLAS runs single-threaded.
void t2i_parallel_n(void (*fn)(void *ctx, int ith, int nth), void *ctx, int nth);

// OpenBLAS build configuration string (for run provenance).
const char *blas_config(void);

#endif
