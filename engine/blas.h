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

// OpenBLAS 0.3.21's DYNAMIC_ARCH does not know AMD Zen 4/5 and falls back to its AVX2 "Haswell"
// kernels, about half the sgemm speed of its AVX-512 ones on those CPUs. The core type is chosen
// when the library loads, so the only fix from inside the process is to re-execute it with
// OPENBLAS_CORETYPE set. This does that (execv of /proc/self/exe with the same arguments) when
// the CPU has AVX-512F, OpenBLAS runs a non-AVX-512 core and neither OPENBLAS_CORETYPE nor
// T2I_BLAS_KEEP_CORE is set. Returns only when nothing was done (0) or the exec failed (-1).
int blas_prefer_avx512(void);

#endif
