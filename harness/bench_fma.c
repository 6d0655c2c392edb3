// bench_fma.c -- the machine's FMA peak (see bench.h): every thread runs ACC independent chains
// x = x * b + a held in registers, so nothing but the multiply-add units is measured. ACC = 12
// chains cover an FMA latency of 4 cycles on 2 pipes (and more) without spilling on AVX2's 16
// registers. The peak is counted per CPU second of each thread, so that other processes on a
// shared machine (which take wall time, not the cores' speed) do not lower it; the wall-time
// figure is returned beside it. The kernel is picked at run time with __builtin_cpu_supports;
// the AVX kernels are compiled with target attributes, so the rest of the binary needs no -m
// flags.
#include "bench.h"
#include "t2i.h"

#include <pthread.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#define T2I_FMA_X86 1
#include <immintrin.h>
#endif

enum { ACC = 12 };

typedef float (*FmaKernel)(long n, float a);

// Repeats OP(i) for the 12 chains.
#define FMA_CHAINS(OP) OP(0) OP(1) OP(2) OP(3) OP(4) OP(5) OP(6) OP(7) OP(8) OP(9) OP(10) OP(11)

// b < 1 keeps every chain finite (it converges to a / (1 - b)).
static float fma_scalar(long n, float a) {
    const float b = 0.999f;
    float x[ACC];
    for (int k = 0; k < ACC; k++) x[k] = 0.01f * (float)k;
    for (long i = 0; i < n; i++) {
#define STEP(k) x[k] = x[k] * b + a;
        FMA_CHAINS(STEP)
#undef STEP
    }
    float s = 0;
    for (int k = 0; k < ACC; k++) s += x[k];
    return s;
}

#ifdef T2I_FMA_X86
// One kernel per vector ISA, written once: VT is the vector type, PS(f) names its intrinsic f,
// LANES its float lanes (defined before each expansion below).
#define DECL(k) VT x##k = PS(set1_ps)(0.01f * (float)(k));
#define STEP(k) x##k = PS(fmadd_ps)(x##k, vb, va);
#define SUM(k)                        \
    PS(storeu_ps)(out, x##k);         \
    for (int j = 0; j < LANES; j++) s += out[j];
#define FMA_KERNEL(NAME, TARGET)                                         \
    __attribute__((target(TARGET))) static float NAME(long n, float a) { \
        const VT va = PS(set1_ps)(a), vb = PS(set1_ps)(0.999f);          \
        FMA_CHAINS(DECL)                                                 \
        for (long i = 0; i < n; i++) {                                   \
            FMA_CHAINS(STEP)                                             \
        }                                                                \
        float out[LANES], s = 0;                                         \
        FMA_CHAINS(SUM)                                                  \
        return s;                                                        \
    }
#define VT __m256
#define PS(f) _mm256_##f
#define LANES 8
FMA_KERNEL(fma_avx2, "avx2,fma")
#undef VT
#undef PS
#undef LANES
#define VT __m512
#define PS(f) _mm512_##f
#define LANES 16
FMA_KERNEL(fma_avx512, "avx512f")
#undef VT
#undef PS
#undef LANES
#endif

// The widest kernel this CPU runs, its lanes per FMA and its name.
static FmaKernel pick_kernel(int *lanes, const char **isa) {
#ifdef T2I_FMA_X86
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) {
        *lanes = 16, *isa = "AVX-512F";
        return fma_avx512;
    }
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        *lanes = 8, *isa = "AVX2+FMA";
        return fma_avx2;
    }
#endif
    *lanes = 1, *isa = "scalar";
    return fma_scalar;
}

int bench_online_cpus(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > 256 ? 256 : (int)n;
}

typedef struct {
    FmaKernel kernel;
    long      n;
    float     sink;
    double    cpu;   // CPU seconds of this thread
} FmaJob;

static double thread_cpu_seconds(void) {
    struct timespec ts;
    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0) return 0;
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void *fma_job(void *p) {
    FmaJob *j = p;
    double  c0 = thread_cpu_seconds();
    j->sink = j->kernel(j->n, 1e-3f);
    j->cpu = thread_cpu_seconds() - c0;
    return NULL;
}

// Wall seconds for `threads` threads each running n iterations (the caller's thread is one of
// them); *cpu_rate (optional) receives the sum over threads of iterations per CPU second.
static double run_threads(FmaKernel k, long n, int threads, float *sink, double *cpu_rate) {
    FmaJob    jobs[256];
    pthread_t tid[256];
    int       started[256] = {0};
    double    t0 = bench_now();
    for (int i = 0; i < threads; i++) jobs[i] = (FmaJob){.kernel = k, .n = n};
    for (int i = 1; i < threads; i++)
        started[i] = pthread_create(&tid[i], NULL, fma_job, &jobs[i]) == 0;
    fma_job(&jobs[0]);
    for (int i = 1; i < threads; i++)
        if (started[i]) pthread_join(tid[i], NULL);
        else fma_job(&jobs[i]);   // no thread: run its share here (slower, never wrong)
    double dt = bench_now() - t0;
    double rate = 0;
    for (int i = 0; i < threads; i++) {
        *sink += jobs[i].sink;
        rate += jobs[i].cpu > 0 ? (double)n / jobs[i].cpu : (double)n / dt;
    }
    if (cpu_rate) *cpu_rate = rate;
    return dt;
}

double bench_fma_peak(int threads, const char **isa, double *wall_gflops) {
    int         lanes;
    const char *name;
    FmaKernel   k = pick_kernel(&lanes, &name);
    if (isa) *isa = name;
    if (threads <= 0) threads = bench_online_cpus();
    if (threads > 256) threads = 256;
    float sink = 0;
    // Calibrate on one thread to ~0.2 s per round.
    long n = 1 << 16;
    double dt;
    while ((dt = run_threads(k, n, 1, &sink, NULL)) < 0.05 && n < (1L << 40)) n *= 2;
    n = (long)((double)n * 0.2 / dt) + 1;
    double best = 0, best_wall = 0, per_flop = 2.0 * ACC * lanes * 1e-9, rate;
    for (int r = 0; r < 3; r++) {
        dt = run_threads(k, n, threads, &sink, &rate);
        if (rate * per_flop > best) best = rate * per_flop;
        double wall = per_flop * (double)n * threads / dt;
        if (wall > best_wall) best_wall = wall;
    }
    if (wall_gflops) *wall_gflops = best_wall;
    volatile float keep = sink;   // the chains' results are used
    (void)keep;
    return best;
}
