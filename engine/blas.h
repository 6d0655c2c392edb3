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
// OpenBLAS build configuration string (for run provenance).
const char *blas_config(void);

#endif
