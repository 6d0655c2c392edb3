// blas.c -- see blas.h. The only file that includes OpenBLAS's cblas.h.
#include "blas.h"

#include <cblas.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

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

// ---- helper threads for the loops around the sgemms -----------------------------------------

#define PAR_MAX 8

static struct {
    pthread_mutex_t mu;
    pthread_cond_t  go, done;
    int             started;        // helper threads running
    unsigned long   gen;            // bumped for every job
    int             nth, pending;   // helpers still working on the current job
    int             busy;           // a caller owns the helpers
    void          (*fn)(void *, int, int);
    void           *ctx;
} g_par = {.mu = PTHREAD_MUTEX_INITIALIZER, .go = PTHREAD_COND_INITIALIZER,
           .done = PTHREAD_COND_INITIALIZER};
static _Thread_local int g_in_parallel;

static void *par_worker(void *arg) {
    int           ith = (int)(intptr_t)arg;
    unsigned long seen = 0;
    pthread_mutex_lock(&g_par.mu);
    for (;;) {
        while (g_par.gen == seen) pthread_cond_wait(&g_par.go, &g_par.mu);
        seen = g_par.gen;
        if (ith >= g_par.nth) continue;
        void (*fn)(void *, int, int) = g_par.fn;
        void *ctx = g_par.ctx;
        int   nth = g_par.nth;
        pthread_mutex_unlock(&g_par.mu);
        g_in_parallel = 1;
        fn(ctx, ith, nth);
        pthread_mutex_lock(&g_par.mu);
        if (--g_par.pending == 0) pthread_cond_signal(&g_par.done);
    }
    return NULL;
}

void t2i_parallel(void (*fn)(void *ctx, int ith, int nth), void *ctx) {
    t2i_parallel_n(fn, ctx, blas_get_threads());
}

void t2i_parallel_n(void (*fn)(void *ctx, int ith, int nth), void *ctx, int nth) {
    if (nth > PAR_MAX) nth = PAR_MAX;
    if (nth <= 1 || g_in_parallel) {
        fn(ctx, 0, 1);
        return;
    }
    pthread_mutex_lock(&g_par.mu);
    if (g_par.busy) {   // another thread is using the helpers: run serially
        pthread_mutex_unlock(&g_par.mu);
        fn(ctx, 0, 1);
        return;
    }
    while (g_par.started < nth - 1) {
        pthread_t t;
        if (pthread_create(&t, NULL, par_worker, (void *)(intptr_t)(g_par.started + 1)) != 0)
            break;
        pthread_detach(t);
        g_par.started++;
    }
    if (g_par.started < nth - 1) nth = g_par.started + 1;
    if (nth <= 1) {
        pthread_mutex_unlock(&g_par.mu);
        fn(ctx, 0, 1);
        return;
    }
    g_par.busy = 1;
    g_par.fn = fn;
    g_par.ctx = ctx;
    g_par.nth = nth;
    g_par.pending = nth - 1;
    g_par.gen++;
    pthread_cond_broadcast(&g_par.go);
    pthread_mutex_unlock(&g_par.mu);
    g_in_parallel = 1;
    fn(ctx, 0, nth);
    g_in_parallel = 0;
    pthread_mutex_lock(&g_par.mu);
    while (g_par.pending > 0) pthread_cond_wait(&g_par.done, &g_par.mu);
    g_par.busy = 0;
    pthread_mutex_unlock(&g_par.mu);
}

const char *blas_config(void) {
    const char *s = openblas_get_config();
    return s ? s : "OpenBLAS (unknown config)";
}
