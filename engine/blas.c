// blas.c -- see blas.h. The only file that includes OpenBLAS's cblas.h.
#include "blas.h"

#include <cblas.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void sgemm(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A, int lda,
           const float *B, int ldb, float beta, float *C, int ldc) {
    if (M <= 0 || N <= 0) return;
    if (K <= 0) {
        // C = beta * C; beta 0 must not read C (it may hold NaN poison).
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++)
                C[(size_t)i * ldc + j] = beta == 0.0f ? 0.0f : beta * C[(size_t)i * ldc + j];
        return;
    }
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                trans_b ? CblasTrans : CblasNoTrans, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

// Naive twin: each dot product accumulated in double, rounded once to float.
void sgemm_ref(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A,
               int lda, const float *B, int ldb, float beta, float *C, int ldc) {
    for (int i = 0; i < M; i++) {
        for (int j = 0; j < N; j++) {
            double acc = 0.0;
            for (int k = 0; k < K; k++) {
                float a = trans_a ? A[(size_t)k * lda + i] : A[(size_t)i * lda + k];
                float b = trans_b ? B[(size_t)j * ldb + k] : B[(size_t)k * ldb + j];
                acc += (double)a * (double)b;
            }
            float *c = &C[(size_t)i * ldc + j];
            double v = (double)alpha * acc;
            if (beta != 0.0f) v += (double)beta * (double)*c;
            *c = (float)v;
        }
    }
}

static int g_threads;   // last value set by the harness (0: library default)

void blas_set_threads(int n) {
    if (n > 0) {
        openblas_set_num_threads(n);
        g_threads = n;
    }
}

int blas_get_threads(void) {
    int n = openblas_get_num_threads();
    return n > 0 ? n : (g_threads > 0 ? g_threads : 1);
}

const char *blas_config(void) {
    const char *s = openblas_get_config();
    return s ? s : "OpenBLAS (unknown config)";
}

int blas_prefer_avx512(void) {
#if defined(__x86_64__) && defined(__GNUC__)
    if (getenv("OPENBLAS_CORETYPE") || getenv("T2I_BLAS_KEEP_CORE")) return 0;
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx512f")) return 0;
    const char *cfg = blas_config();
    if (strstr(cfg, "SkylakeX") || strstr(cfg, "Cooperlake") || strstr(cfg, "SapphireRapids"))
        return 0;
    FILE *f = fopen("/proc/self/cmdline", "rb");
    if (!f) return -1;
    static char buf[65536];
    size_t      n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    if (n == 0 || n >= sizeof buf - 1) return -1;
    buf[n] = 0;
    static char *argv[512];
    int          argc = 0;
    for (size_t i = 0; i < n && argc < 511; i += strlen(buf + i) + 1) argv[argc++] = buf + i;
    argv[argc] = NULL;
    setenv("OPENBLAS_CORETYPE", __builtin_cpu_supports("avx512bf16") ? "Cooperlake" : "SkylakeX",
           1);
    execv("/proc/self/exe", argv);
    return -1;
#else
    return 0;
#endif
}
