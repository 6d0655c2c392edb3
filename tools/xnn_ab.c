// xnn_ab.c -- developer tool (`make ab`, build/tools/xnn_ab): the previous NCHW im2col+OpenBLAS
// path against the NHWC XNNPACK path of every network, interleaved in one process (old, new,
// old, new, ...) so that a loaded machine slows both alike, at --batch/--threads; prints
// the CPU seconds per image of each path, their ratio, the share of CPU time inside the XNNPACK
// convolutions and the fraction of the machine's FMA peak they reach, and whether the two
// paths' outputs agree. Every figure is counted in CPU seconds as `t2ibench bench` counts them
// (the calling thread's CPU time x the threads, xconv_stats.cpu_seconds; the FMA peak per CPU
// second of each thread, bench_fma_peak), so other processes taking the cores' wall time do
// not move them; exact at --threads 1, where the calling thread does all the work.
//
//   build/tools/xnn_ab [--batch 8] [--threads 2] [--reps 3] [--nets gbird,gcoco,fid,damsm]
//   build/tools/xnn_ab --layout 1 ...   new path only: W workers x threads/W threads, W = 1..
//                                       (wall-clock images/s, and CPU seconds per image)
//
// Hash weights (no files needed). Not a test: it asserts nothing about speed.
#include "attngan.h"
#include "bench.h"
#include "blas.h"
#include "damsm_image.h"
#include "inception.h"
#include "rng.h"
#include "t2i.h"
#include "weights.h"
#include "xconv.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

// CPU seconds of the calling thread.
static double thread_cpu_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

// ---- networks ------------------------------------------------------------------------------

typedef struct {
    const char *name;
    int         old_path;   // 1 = previous NCHW path
    GNet        g;
    Inception  *inc;
    DamsmImage  dim;
    int         kind;       // 0 G, 1 FID Inception, 2 DAMSM
    int         T;
    Arena       arena;
    float      *in, *out;
    size_t      n_out;
} Net;

static float *randn(size_t n, uint64_t seed, float scale) {
    float *p = t2i_malloc(n * sizeof(float));
    Rng r;
    rng_init(&r, seed, 0, RNG_STREAM_Z);
    for (size_t i = 0; i < n; i++) p[i] = (float)rng_normal(&r) * scale;
    return p;
}

static int net_open(Net *n, const char *name, int old_path, int B, int nth) {
    memset(n, 0, sizeof *n);
    n->name = name;
    n->old_path = old_path;
    int rc;
    if (!strncmp(name, "g", 1)) {
        GNetConfig cfg = !strcmp(name, "gcoco") ? gnet_config_coco() : gnet_config_bird();
        n->T = !strcmp(name, "gcoco") ? 12 : 18;
        if ((rc = gnet_load(&n->g, &cfg, T2I_HASH_WEIGHTS))) return rc;
        if ((rc = gnet_set_path(&n->g, old_path ? GNET_NCHW_BLAS : GNET_NHWC_XNNPACK))) return rc;
        if ((rc = gnet_set_threads(&n->g, nth))) return rc;
        size_t E = 256;
        n->in = randn((size_t)B * (100 + E + E * n->T + 100), 7, 0.3f);
        n->n_out = (size_t)B * 3 * (64 * 64 + 128 * 128 + 256 * 256) +
                   (size_t)B * n->T * (64 * 64 + 128 * 128) + (size_t)3 * B * 100;
        n->out = t2i_malloc(n->n_out * sizeof(float));
        return arena_init(&n->arena, gnet_arena_bytes(&n->g, B, n->T));
    }
    if (!strcmp(name, "fid")) {
        n->kind = 1;
        InceptionConfig cfg;
        inception_config(&cfg, INCEPTION_TF2015);
        cfg.nhwc = !old_path;
        cfg.split_batch = 1;
        if ((rc = inception_create(&cfg, &n->inc))) return rc;
        StateDict sd;
        memset(&sd, 0, sizeof sd);
        if ((rc = weights_load(T2I_HASH_WEIGHTS, inception_keys(n->inc), &sd))) return rc;
        if ((rc = inception_bind(n->inc, &sd, "FID Inception"))) return rc;
        if ((rc = inception_set_threads(n->inc, nth))) return rc;
        n->in = randn((size_t)B * 3 * 299 * 299, 9, 0.5f);
        n->n_out = (size_t)B * 2048;
        n->out = t2i_malloc(n->n_out * sizeof(float));
        return T2I_OK;
    }
    n->kind = 2;
    if ((rc = damsm_image_init(&n->dim, 256))) return rc;
    StateDict sd;
    memset(&sd, 0, sizeof sd);
    if ((rc = weights_load(T2I_HASH_WEIGHTS, damsm_image_keys(&n->dim), &sd))) return rc;
    if ((rc = damsm_image_bind(&n->dim, &sd, "CNN_ENCODER"))) return rc;
    if ((rc = damsm_image_set_nhwc(&n->dim, !old_path))) return rc;
    if ((rc = inception_set_threads(n->dim.trunk, nth))) return rc;
    n->in = randn((size_t)B * 3 * 256 * 256, 11, 0.5f);
    n->n_out = (size_t)B * 256 * (17 * 17 + 1);
    n->out = t2i_malloc(n->n_out * sizeof(float));
    return T2I_OK;
}

static void net_close(Net *n) {
    gnet_free(&n->g);
    inception_free(n->inc);
    damsm_image_free(&n->dim);
    arena_free(&n->arena);
    t2i_free(n->in);
    t2i_free(n->out);
}

static int net_run(Net *n, int B) {
    if (n->kind == 0) {
        const int T = n->T;
        const size_t E = 256;
        GNetInputs in = {.z = n->in, .sent_emb = n->in + (size_t)B * 100,
                         .words_emb = n->in + (size_t)B * (100 + E),
                         .eps = n->in + (size_t)B * (100 + E + E * T),
                         .mask_mode = ATT_MASK_PER_SAMPLE};
        GNetOutputs out;
        float *p = n->out;
        for (int s = 0; s < 3; s++) out.img[s] = p, p += (size_t)B * 3 * (64 << s) * (64 << s);
        for (int s = 0; s < 2; s++) out.att[s] = p, p += (size_t)B * T * (64 << s) * (64 << s);
        out.mu = p, out.logvar = p + (size_t)B * 100, out.c_code = p + (size_t)2 * B * 100;
        return gnet_forward(&n->g, &in, &out, B, T, &n->arena);
    }
    if (n->kind == 1) {
        InceptionOut o = {.pool3 = n->out};
        return inception_forward(n->inc, n->in, B, &o);
    }
    DamsmImageOut o = {.features = n->out, .cnn_code = n->out + (size_t)B * 256 * 289};
    return damsm_image_forward(&n->dim, n->in, B, 256, 256, &o);
}

typedef struct {
    Net   *n;
    int    B, reps;
    double cpu;   // CPU seconds of the worker's own thread
} LayoutJob;

static void *layout_main(void *p) {
    LayoutJob *j = p;
    double c0 = thread_cpu_s();
    for (int r = 0; r < j->reps; r++) net_run(j->n, j->B);
    j->cpu = thread_cpu_s() - c0;
    return NULL;
}

// --layout W: the new path as W workers x (threads / W) threads, each worker its own instance
// running batches of B; prints the total images/s of each layout with W = 1..threads (wall
// clock: the question is throughput) and its CPU seconds per image (each worker's thread CPU
// time x its threads, as above), which a loaded machine does not move.
static int layout(const char *nets, int B, int nth, int reps) {
    char list[256];
    snprintf(list, sizeof list, "%s", nets);
    for (char *tok = strtok(list, ","); tok; tok = strtok(NULL, ",")) {
        printf("%-6s", tok);
        for (int w = 1; w <= nth; w++) {
            if (nth % w) continue;
            Net n[16];
            for (int k = 0; k < w; k++)
                if (net_open(&n[k], tok, 0, B, nth / w) || net_run(&n[k], B)) {
                    fprintf(stderr, "xnn_ab: %s: %s\n", tok, t2i_errmsg());
                    return 1;
                }
            pthread_t t[16];
            LayoutJob j[16];
            double t0 = now_s();
            for (int k = 0; k < w; k++) {
                j[k] = (LayoutJob){.n = &n[k], .B = B, .reps = reps};
                if (k) pthread_create(&t[k], NULL, layout_main, &j[k]);
            }
            layout_main(&j[0]);
            for (int k = 1; k < w; k++) pthread_join(t[k], NULL);
            double secs = now_s() - t0, cpu = 0;
            for (int k = 0; k < w; k++) cpu += j[k].cpu * (nth / w);
            printf("  %d workers x %d threads: %6.2f img/s, %.3f CPU-s/img", w, nth / w,
                   w * B * reps / secs, cpu / (w * B * reps));
            for (int k = 0; k < w; k++) net_close(&n[k]);
        }
        printf("\n");
        fflush(stdout);
    }
    return 0;
}

int main(int argc, char **argv) {
    int B = 8, nth = 2, reps = 3, lay = 0;
    const char *nets = "gbird,gcoco,fid,damsm";
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--batch")) B = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--threads")) nth = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--reps")) reps = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--nets")) nets = argv[i + 1];
        else if (!strcmp(argv[i], "--layout")) lay = atoi(argv[i + 1]);
        else {
            fprintf(stderr, "usage: xnn_ab [--batch 8] [--threads 2] [--reps 3] [--nets LIST]\n");
            return 2;
        }
    }
    blas_set_threads(lay ? 1 : nth);
    if (lay) return layout(nets, B, nth, reps);
    const char *isa;
    double peak = bench_fma_peak(nth, &isa, NULL);
    printf("%s; FMA peak (%s) %.1f GFLOP/s per CPU second on %d threads (measured again "
           "before every rep); batch %d; times in CPU seconds (calling thread x %d)\n",
           xnn_kernel_desc(), isa, peak, nth, B, nth);
    char list[256];
    snprintf(list, sizeof list, "%s", nets);
    for (char *tok = strtok(list, ","); tok; tok = strtok(NULL, ",")) {
        Net old, nw;
        if (net_open(&old, tok, 1, B, nth) || net_open(&nw, tok, 0, B, nth)) {
            fprintf(stderr, "xnn_ab: %s: %s\n", tok, t2i_errmsg());
            return 1;
        }
        // warm up both, compare outputs
        if (net_run(&old, B) || net_run(&nw, B)) {
            fprintf(stderr, "xnn_ab: %s: %s\n", tok, t2i_errmsg());
            return 1;
        }
        double maxd = 0;
        for (size_t i = 0; i < old.n_out; i++) {
            double d = fabs((double)old.out[i] - nw.out[i]);
            if (d > maxd) maxd = d;
        }
        double t_old = 0, t_new = 0, conv_s = 0, conv_macs = 0, conv_nom = 0, pk = 0;
        for (int r = 0; r < reps; r++) {
            pk += bench_fma_peak(nth, NULL, NULL) / reps;   // interleaved with the runs
            double t0 = thread_cpu_s();
            net_run(&old, B);
            t_old += (thread_cpu_s() - t0) * nth;
            xconv_stats = (XConvStats){.enabled = 1};
            t0 = thread_cpu_s();
            net_run(&nw, B);
            t_new += (thread_cpu_s() - t0) * nth;
            conv_s += xconv_stats.cpu_seconds, conv_macs += xconv_stats.macs;
            conv_nom += xconv_stats.macs_nominal;
            xconv_stats.enabled = 0;
        }
        double ips_old = B * reps / t_old, ips_new = B * reps / t_new;
        // the convs' FLOP rate per CPU second of each of the nth threads against the peak
        double gf = 2 * conv_macs / conv_s / 1e9 * nth, gf_nom = 2 * conv_nom / conv_s / 1e9 * nth;
        printf("%-6s old %7.3f CPU-s/img  new %7.3f CPU-s/img  x%.2f | convs %4.1f%% of CPU "
               "time, %6.1f GFLOP/s = %3.0f%% of FMA peak (nominal %6.1f = %3.0f%%) | "
               "max|old-new| %.2e\n",
               tok, 1 / ips_old, 1 / ips_new, ips_new / ips_old, 100 * conv_s / t_new, gf,
               100 * gf / pk, gf_nom, 100 * gf_nom / pk, maxd);
        fflush(stdout);
        net_close(&old);
        net_close(&nw);
    }
    return 0;
}
