// bench.c -- `t2ibench bench`: see bench.h.
#include "bench.h"

#include "args.h"
#include "blas.h"
#include "damsm_image.h"
#include "inception.h"
#include "t2i.h"
#include "weights.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

double bench_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

double bench_peak_rss_bytes(void) {
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0) return 0;
    return (double)ru.ru_maxrss * 1024.0;   // Linux: kilobytes
}

double bench_sgemm_peak(void) {
    const int n = 2048;
    size_t    nn = (size_t)n * n;
    float    *a = t2i_malloc_aligned(3 * nn * sizeof(float));
    if (!a) return 0;
    float *b = a + nn, *c = b + nn;
    for (size_t i = 0; i < 2 * nn; i++) a[i] = (float)((i * 2654435761u) % 1000) * 1e-3f - 0.5f;
    double best = 1e30;
    for (int r = 0; r < 4; r++) {   // first run warms up threads and caches
        double t0 = bench_now();
        sgemm(0, 0, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
        double dt = bench_now() - t0;
        if (r > 0 && dt < best) best = dt;
    }
    t2i_free(a);
    return 2.0 * n * (double)n * n / best * 1e-9;
}

double bench_gmacs(const char *model, const char *field, double fallback) {
    const char *dir = getenv("T2I_REFERENCE");
    char        path[1024];
    snprintf(path, sizeof path, "%s/summary.json", dir && *dir ? dir : "../shared/reference");
    uint8_t *buf;
    size_t   len;
    if (t2i_read_file(path, &buf, &len)) return fallback;
    cJSON *j = cJSON_ParseWithLength((const char *)buf, len);
    t2i_free(buf);
    double       v = fallback;
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(j, model);
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(m, field);
    if (cJSON_IsNumber(f)) v = f->valuedouble;
    cJSON_Delete(j);
    return v;
}

void bench_report(const BenchOpts *o, const char *network, int batch, int images, double seconds,
                  double gmac_per_image) {
    double ips = images / seconds;
    double gflops = 2.0 * gmac_per_image * ips;
    double frac = o->peak_gflops > 0 ? gflops / o->peak_gflops : 0;
    double rss = bench_peak_rss_bytes() / (1024.0 * 1024.0);
    if (o->json) {
        printf("{\"network\": \"%s\", \"batch\": %d, \"threads\": %d, \"images\": %d, "
               "\"seconds\": %.4f, \"images_per_s\": %.3f, \"gmac_per_image\": %.6f, "
               "\"gflops\": %.2f, \"sgemm_peak_gflops\": %.2f, \"frac_of_peak\": %.4f, "
               "\"pytorch_images_per_s\": %.2f, \"speedup_vs_pytorch\": %.3f, "
               "\"peak_rss_mib\": %.1f}\n",
               network, batch, o->threads, images, seconds, ips, gmac_per_image, gflops,
               o->peak_gflops, frac, o->baseline_ips,
               o->baseline_ips > 0 ? ips / o->baseline_ips : 0.0, rss);
    } else {
        printf("%-28s batch %2d threads %d: %7.2f img/s  %6.1f GFLOP/s  %5.1f%% of sgemm peak "
               "(%.0f GFLOP/s)",
               network, batch, o->threads, ips, gflops, 100 * frac, o->peak_gflops);
        if (o->baseline_ips > 0)
            printf("  PyTorch %.1f img/s (x%.2f)", o->baseline_ips, ips / o->baseline_ips);
        printf("  peak RSS %.0f MiB\n", rss);
    }
    fflush(stdout);
}

// Deterministic input in [-1, 1).
static void fill_input(float *x, size_t n) {
    uint64_t s = 0x9E3779B97F4A7C15ULL;
    for (size_t i = 0; i < n; i++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        x[i] = (float)((int32_t)(s >> 40) - (1 << 23)) * 0x1p-23f;
    }
}

static int time_batches(const BenchOpts *o, double *seconds, int (*run)(void *ctx), void *ctx) {
    for (int i = 0; i < o->warmup; i++) {
        int rc = run(ctx);
        if (rc) return rc;
    }
    double t0 = bench_now();
    for (int i = 0; i < o->iters; i++) {
        int rc = run(ctx);
        if (rc) return rc;
    }
    *seconds = bench_now() - t0;
    return T2I_OK;
}

typedef struct {
    Inception   *net;
    DamsmImage  *damsm;
    const float *x;
    int          B;
    float       *pool3, *logits, *features, *cnn_code;
} BenchCtx;

static int run_inception(void *p) {
    BenchCtx    *c = p;
    InceptionOut o = {.pool3 = c->pool3, .logits = c->logits};
    return inception_forward(c->net, c->x, c->B, &o);
}

static int run_damsm(void *p) {
    BenchCtx     *c = p;
    DamsmImageOut o = {.features = c->features, .cnn_code = c->cnn_code};
    return damsm_image_forward(c->damsm, c->x, c->B, 256, 256, &o);
}

int bench_inception(const BenchOpts *o) {
    InceptionVariant v = INCEPTION_TF2015;
    int              rc = inception_variant_parse(o->variant ? o->variant : "tf2015", &v);
    if (rc) return rc;
    InceptionConfig cfg;
    inception_config(&cfg, v);
    Inception *net = NULL;
    StateDict  sd;
    float     *buf = NULL;
    if ((rc = inception_create(&cfg, &net))) return rc;
    if ((rc = hash_weights_fill(inception_keys(net), &sd))) goto done;
    if ((rc = inception_bind(net, &sd, "bench"))) goto done;
    int    B = o->batch;
    size_t nx = (size_t)B * 3 * 299 * 299;
    buf = t2i_malloc_aligned((nx + (size_t)B * (2048 + cfg.num_classes)) * sizeof(float));
    if (!buf) {
        rc = T2I_ENOMEM;
        goto done;
    }
    fill_input(buf, nx);
    if ((rc = inception_reserve(net, B))) goto done;
    // tf2015 is measured to pool3 (what FID needs); torchvision to the logits (IS).
    int      to_logits = v != INCEPTION_TF2015;
    BenchCtx c = {.net = net, .x = buf, .B = B, .pool3 = buf + nx,
                  .logits = to_logits ? buf + nx + (size_t)B * 2048 : NULL};
    double   sec;
    if ((rc = time_batches(o, &sec, run_inception, &c))) goto done;
    char name[64];
    snprintf(name, sizeof name, "inception %s%s", inception_variant_name(v),
             to_logits ? " (logits)" : " (pool3)");
    double gm = to_logits ? bench_gmacs("inception_v3_torchvision", "gmacs_per_image", 5.713216096)
                          : bench_gmacs("inception_v3_fid", "gmacs_to_pool3", 5.711168096);
    BenchOpts oo = *o;
    if (oo.baseline_ips == 0 && v == INCEPTION_TF2015) oo.baseline_ips = 14.2;
    bench_report(&oo, name, B, B * o->iters, sec, gm);
    if (!o->json)
        printf("  activation arenas %.0f MiB\n", (double)inception_arena_bytes(net) / 1048576.0);
done:
    t2i_free(buf);
    inception_free(net);
    return rc;
}

int bench_damsm(const BenchOpts *o) {
    DamsmImage m;
    StateDict  sd;
    float     *buf = NULL;
    int        rc = damsm_image_init(&m, 256);
    if (rc) return rc;
    if ((rc = hash_weights_fill(damsm_image_keys(&m), &sd))) goto done;
    if ((rc = damsm_image_bind(&m, &sd, "bench"))) goto done;
    int    B = o->batch;
    size_t nx = (size_t)B * 3 * 256 * 256;
    buf = t2i_malloc_aligned((nx + (size_t)B * 256 * (289 + 1)) * sizeof(float));
    if (!buf) {
        rc = T2I_ENOMEM;
        goto done;
    }
    fill_input(buf, nx);
    if ((rc = damsm_image_reserve(&m, B))) goto done;
    BenchCtx c = {.damsm = &m, .x = buf, .B = B, .features = buf + nx,
                  .cnn_code = buf + nx + (size_t)B * 256 * 289};
    double   sec;
    if ((rc = time_batches(o, &sec, run_damsm, &c))) goto done;
    BenchOpts oo = *o;
    if (oo.baseline_ips == 0) oo.baseline_ips = 13.8;
    bench_report(&oo, "damsm CNN_ENCODER (256->299)", B, B * o->iters, sec,
                 bench_gmacs("CNN_ENCODER", "gmacs_per_image", 5.768512096));
    if (!o->json)
        printf("  activation memory %.0f MiB\n", (double)damsm_image_bytes(&m) / 1048576.0);
done:
    t2i_free(buf);
    damsm_image_free(&m);
    return rc;
}

static const char *const USAGE =
    "t2ibench bench generator|inception|damsm|all [--batch B] [--threads T] [--config bird|coco]\n"
    "       [--arch attngan|dmgan|dfgan] [--variant tf2015|torchvision] [--iters N] [--warmup N]\n"
    "       [--json]\n"
    "  images/s, GFLOP/s (MACs of ../shared/reference/summary.json) and the fraction of the sgemm\n"
    "  peak measured in the same run; `all` runs every network at batch 8 with 2 threads next to\n"
    "  the PyTorch 1.13 baselines of DESIGN.md section 10.";

int cmd_bench(int argc, char **argv) {
    Args a;
    if (args_init(&a, argc, argv)) return cli_usage("bench", USAGE);
    if (args_flag(&a, "--help")) {
        printf("usage: %s\n", USAGE);
        return EXIT_OK;
    }
    BenchOpts o = {0};
    // Read as long and range-checked before narrowing (--threads 4294967297 is not 1).
    long batch = args_long(&a, "--batch", 8), threads = args_long(&a, "--threads", 2);
    o.config = args_str(&a, "--config", "bird");
    o.arch = args_str(&a, "--arch", "attngan");
    o.variant = args_str(&a, "--variant", "tf2015");
    long iters = args_long(&a, "--iters", 3), warmup = args_long(&a, "--warmup", 1);
    o.json = args_flag(&a, "--json");
    char *pos[4];
    int   np = args_rest(&a, pos, 4);
    if (np != 1) return cli_usage("bench", USAGE);
    if (batch < 1 || batch > 4096 || threads < 1 || threads > 256 || iters < 1 ||
        iters > 1000000 || warmup < 0 || warmup > 1000000) {
        t2i_error(T2I_EARG, "--batch %ld / --threads %ld / --iters %ld / --warmup %ld out of range "
                            "([1, 4096] / [1, 256] / [1, 1000000] / [0, 1000000])",
                  batch, threads, iters, warmup);
        return cli_usage("bench", USAGE);
    }
    o.batch = (int)batch;
    o.threads = (int)threads;
    o.iters = (int)iters;
    o.warmup = (int)warmup;
    if (strcmp(o.config, "bird") && strcmp(o.config, "coco")) {
        t2i_error(T2I_EARG, "--config must be bird or coco, not '%s'", o.config);
        return cli_usage("bench", USAGE);
    }
    const char *what = pos[0];
    int         all = strcmp(what, "all") == 0;
    if (!all && strcmp(what, "generator") && strcmp(what, "inception") && strcmp(what, "damsm")) {
        t2i_error(T2I_EARG, "unknown network '%s'", what);
        return cli_usage("bench", USAGE);
    }
    InceptionVariant v;
    if (strcmp(what, "inception") == 0 && inception_variant_parse(o.variant, &v))
        return cli_usage("bench", USAGE);
    if (all) o.batch = 8, o.threads = 2;
    blas_set_threads(o.threads);
    o.peak_gflops = bench_sgemm_peak();
    if (!o.json)
        printf("sgemm peak (2048^3, %d threads): %.1f GFLOP/s   BLAS: %s\n", o.threads,
               o.peak_gflops, blas_config());
    int rc = T2I_OK;
    if (all) {
        static const struct { const char *config; double ips; } gens[] = {{"bird", 7.7},
                                                                          {"coco", 3.1}};
        for (int i = 0; i < 2 && !rc; i++) {
            BenchOpts g = o;
            g.config = gens[i].config;
            g.baseline_ips = gens[i].ips;
            rc = bench_generator(&g);
        }
        BenchOpts d = o;
        d.baseline_ips = 13.8;
        if (!rc) rc = bench_damsm(&d);
        BenchOpts in = o;
        in.variant = "tf2015";
        in.baseline_ips = 14.2;
        if (!rc) rc = bench_inception(&in);
    } else if (strcmp(what, "generator") == 0) {
        if (strcmp(o.arch, "attngan") == 0) o.baseline_ips = strcmp(o.config, "coco") == 0 ? 3.1 : 7.7;
        rc = bench_generator(&o);
    } else if (strcmp(what, "inception") == 0) {
        rc = bench_inception(&o);
    } else {
        rc = bench_damsm(&o);
    }
    return rc ? cli_fail("bench", rc) : EXIT_OK;
}
