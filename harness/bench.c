// bench.c -- `t2ibench bench`: see bench.h.
#include "bench.h"

#include "args.h"
#include "blas.h"
#include "damsm_image.h"
#include "generator.h"
#include "inception.h"
#include "t2i.h"
#include "weights.h"
#include "xconv.h"

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

void bench_convs_begin(void) { xconv_stats = (XConvStats){.enabled = 1}; }

void bench_report(const BenchOpts *o, const char *network, int batch, int images, double seconds,
                  double gmac_per_image) {
    BenchResult r = {.batch = batch, .threads = o->threads, .images = images, .seconds = seconds,
                     .images_per_s = seconds > 0 ? images / seconds : 0,
                     .gmac_per_image = gmac_per_image};
    if (xconv_stats.enabled && xconv_stats.cpu_seconds > 0) {
        r.conv_macs = xconv_stats.macs;
        r.conv_macs_nominal = xconv_stats.macs_nominal;
        r.conv_cpu_seconds = xconv_stats.cpu_seconds;
    }
    xconv_stats.enabled = 0;
    snprintf(r.network, sizeof r.network, "%s", network);
    if (o->result) {
        *o->result = r;
        return;
    }
    printf("%s batch %d threads %d: %.3f img/s\n", network, batch, o->threads, r.images_per_s);
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
    bench_convs_begin();
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
    bench_report(o, name, B, B * o->iters, sec, gm);
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
    bench_report(o, "damsm CNN_ENCODER (256->299)", B, B * o->iters, sec,
                 bench_gmacs("CNN_ENCODER", "gmacs_per_image", 5.768512096));
done:
    t2i_free(buf);
    damsm_image_free(&m);
    return rc;
}

// ---- t2ibench bench: t2ibench and PyTorch, alternately, best of --rounds ---------------------

// One row of the table: a t2ibench network and its torch_baseline.py counterpart.
typedef struct {
    const char *what;      // generator | inception | damsm | run
    const char *config;    // generator config, NULL otherwise
    const char *arch;      // generator architecture, NULL otherwise
    const char *variant;   // inception variant, NULL otherwise
    const char *torch;     // tools/torch_baseline.py network name
} BenchItem;

// `all`: DM-GAN coco (41.9 GMAC, the slowest) only on request: bench generator --arch dmgan
// --config coco. DF-GAN's bird and coco networks are the same.
static const BenchItem ITEMS[] = {
    {"generator", "bird", "attngan", NULL, "g_bird"},
    {"generator", "coco", "attngan", NULL, "g_coco"},
    {"generator", "bird", "dmgan", NULL, "dmgan_bird"},
    {"generator", "bird", "dfgan", NULL, "dfgan"},
    {"damsm", NULL, NULL, NULL, "damsm"},
    {"inception", NULL, NULL, "tf2015", "fid_pool3"},
    {"inception", NULL, NULL, "torchvision", "is_torchvision"},
};

// The torch_baseline.py name of a generator.
static const char *torch_generator(GenArch a, const char *config) {
    int coco = strcmp(config, "coco") == 0;
    if (a == GEN_DMGAN) return coco ? "dmgan_coco" : "dmgan_bird";
    if (a == GEN_DFGAN) return "dfgan";
    return coco ? "g_coco" : "g_bird";
}

typedef struct {
    BenchOpts  o;            // batch, threads, iters, warmup, json as given
    int        rounds;
    double     fma_peak;     // GFLOP/s, all cores
    TorchTool *torch;        // NULL: t2ibench figures only
} BenchSession;

static int run_t2i(const BenchItem *it, const BenchOpts *o) {
    BenchOpts x = *o;
    if (it->config) x.config = it->config;
    if (it->arch) x.arch = it->arch;
    if (it->variant) x.variant = it->variant;
    if (strcmp(it->what, "generator") == 0) return bench_generator(&x);
    if (strcmp(it->what, "inception") == 0) return bench_inception(&x);
    if (strcmp(it->what, "damsm") == 0) return bench_damsm(&x);
    return bench_run(&x);
}

static void print_header(const BenchSession *s, const char *isa, double wall) {
    if (s->o.json) {
        printf("{\"fma_peak_gflops\": %.2f, \"fma_wall_gflops\": %.2f, \"fma_isa\": \"%s\", "
               "\"cpus\": %d, \"threads\": %d, \"rounds\": %d, \"blas\": \"%s\", \"pytorch\": ",
               s->fma_peak, wall, isa, bench_online_cpus(), s->o.threads, s->rounds,
               blas_config());
        if (s->torch) printf("\"%s\"}\n", s->torch->version);
        else printf("null}\n");
        return;
    }
    printf("FMA peak: %.1f GFLOP/s (%s, %d CPUs; register-only multiply-add loop per CPU second;"
           "\n          %.1f GFLOP/s per wall second while measuring: the rest went to other "
           "processes)\n",
           s->fma_peak, isa, bench_online_cpus(), wall);
    printf("BLAS: %s\n", blas_config());
    if (s->torch)
        printf("PyTorch %s (%s) measured in this run, alternating with t2ibench network by "
               "network; best of %d round%s each.\n",
               s->torch->version, s->torch->tool, s->rounds, s->rounds == 1 ? "" : "s");
    else
        printf("No PyTorch baseline in this run (give --pytorch tools/torch_baseline.py, or run "
               "`make bench` where /usr/bin/python3 has torch); best of %d round%s.\n",
               s->rounds, s->rounds == 1 ? "" : "s");
    printf("GFLOP/s = 2 x conv/linear MACs per image (../shared/reference/summary.json) x img/s; "
           "%% peak = of the FMA peak.\nconv %% = the XNNPACK convolutions' own GFLOP/s per CPU "
           "second (the multiply-adds they issue over all their time) as a fraction of one CPU's "
           "peak;\nconv eff %% = the same with the multiply-adds of the direct convolutions they "
           "compute\n(Winograd and the x2-upsample convs issue 2-4x fewer).\n\n");
    printf("%-32s %5s %7s %12s %12s %6s %8s %7s %7s %10s\n", "network", "batch", "threads",
           "t2ibench/s", "PyTorch/s", "ratio", "GFLOP/s", "% peak", "conv %", "conv eff %");
}

double bench_conv_fraction(const BenchResult *r, int nominal, double fma_peak, int cpus) {
    double macs = nominal ? r->conv_macs_nominal : r->conv_macs;
    if (macs <= 0 || r->conv_cpu_seconds <= 0 || fma_peak <= 0 || cpus < 1) return -1;
    return 2e-9 * macs / r->conv_cpu_seconds / (fma_peak / cpus);
}

static void print_row(const BenchSession *s, const BenchResult *ours, const BenchResult *theirs,
                      const double *r_ours, const double *r_theirs) {
    double gflops = 2.0 * ours->gmac_per_image * ours->images_per_s;
    double frac = s->fma_peak > 0 ? gflops / s->fma_peak : 0;
    double conv = bench_conv_fraction(ours, 0, s->fma_peak, bench_online_cpus());
    double eff = bench_conv_fraction(ours, 1, s->fma_peak, bench_online_cpus());
    double ratio = theirs ? ours->images_per_s / theirs->images_per_s : 0;
    double rss = bench_peak_rss_bytes() / 1048576.0;
    if (s->o.json) {
        printf("{\"network\": \"%s\", \"batch\": %d, \"threads\": %d, \"rounds\": %d, "
               "\"images_per_s\": %.4f, \"gmac_per_image\": %.6f, \"gflops\": %.2f, "
               "\"fma_peak_gflops\": %.2f, \"frac_of_fma_peak\": %.4f, \"peak_rss_mib\": %.1f, "
               "\"conv_frac_of_fma_peak\": ",
               ours->network, ours->batch, ours->threads, s->rounds, ours->images_per_s,
               ours->gmac_per_image, gflops, s->fma_peak, frac, rss);
        if (conv >= 0) printf("%.4f, ", conv);
        else printf("null, ");
        printf("\"conv_effective_frac_of_fma_peak\": ");
        if (eff >= 0) printf("%.4f, ", eff);
        else printf("null, ");
        printf("\"t2ibench_rounds\": [");
        for (int i = 0; i < s->rounds; i++) printf("%s%.4f", i ? ", " : "", r_ours[i]);
        printf("], \"pytorch_network\": ");
        if (theirs) {
            printf("\"%s\", \"pytorch_images_per_s\": %.4f, \"ratio\": %.4f, \"pytorch_rounds\": [",
                   theirs->network, theirs->images_per_s, ratio);
            for (int i = 0; i < s->rounds; i++) printf("%s%.4f", i ? ", " : "", r_theirs[i]);
            printf("]}\n");
        } else {
            printf("null, \"pytorch_images_per_s\": null, \"ratio\": null}\n");
        }
    } else {
        char pt[32] = "-", ra[32] = "-", cv[32] = "-", ce[32] = "-";
        if (theirs) {
            snprintf(pt, sizeof pt, "%.2f", theirs->images_per_s);
            snprintf(ra, sizeof ra, "%.2f", ratio);
        }
        if (conv >= 0) snprintf(cv, sizeof cv, "%.1f%%", 100 * conv);
        if (eff >= 0) snprintf(ce, sizeof ce, "%.1f%%", 100 * eff);
        printf("%-32s %5d %7d %12.2f %12s %6s %8.1f %6.1f%% %7s %10s\n", ours->network,
               ours->batch, ours->threads, ours->images_per_s, pt, ra, gflops, 100 * frac, cv, ce);
    }
    fflush(stdout);
}

// Measures one item at batch B: t2ibench, PyTorch, t2ibench, PyTorch, ... and prints its row.
// *best_ours / *best_theirs (optional) receive the best rates (0 for none).
static int bench_item(const BenchSession *s, const BenchItem *it, int B, double *best_ours,
                      double *best_theirs) {
    BenchResult best = {0}, tbest = {0}, cur;
    double      r_ours[64] = {0}, r_theirs[64] = {0};
    BenchOpts   o = s->o;
    o.batch = B;
    o.result = &cur;
    int is_run = strcmp(it->what, "run") == 0;
    // batch 1 is timed over more batches; the end-to-end run runs `limit` samples
    if (B == 1) o.iters = 2 * s->o.iters;
    for (int r = 0; r < s->rounds; r++) {
        int rc = run_t2i(it, &o);
        if (rc) return rc;
        r_ours[r] = cur.images_per_s;
        if (cur.images_per_s > best.images_per_s) best = cur;
        if (!s->torch) continue;
        int iters = is_run ? (int)((o.limit > 0 ? o.limit : 32) + B - 1) / B : o.iters;
        rc = bench_torch_measure(s->torch, it->torch, B, o.threads, iters, o.warmup, &cur);
        if (rc) return rc;
        r_theirs[r] = cur.images_per_s;
        if (cur.images_per_s > tbest.images_per_s) tbest = cur;
    }
    print_row(s, &best, s->torch ? &tbest : NULL, r_ours, r_theirs);
    if (best_ours) *best_ours = best.images_per_s;
    if (best_theirs) *best_theirs = s->torch ? tbest.images_per_s : 0;
    return T2I_OK;
}

// The end-to-end rows and the projected time of a 30,000-image CUB protocol.
static int bench_end_to_end(const BenchSession *s) {
    static const BenchItem run = {"run", NULL, NULL, NULL, "pipeline_bird"};
    double ours = 0, theirs = 0;
    int    rc = bench_item(s, &run, s->o.batch, &ours, &theirs);
    if (rc) return rc;
    if (s->o.json) {
        printf("{\"projection\": \"cub-30000\", \"t2ibench_hours\": %.3f, \"pytorch_hours\": ",
               30000 / ours / 3600);
        if (theirs > 0) printf("%.3f}\n", 30000 / theirs / 3600);
        else printf("null}\n");
    } else {
        printf("  end to end: t2ibench `run` of the CUB smoke suite (%ld samples, %d workers: "
               "text, generate, IS, R-precision)\n  vs the same networks in PyTorch (pipeline_bird, "
               "batch %d). A 30,000-image CUB protocol: t2ibench %.2f h",
               s->o.limit > 0 ? s->o.limit : 32, s->o.threads, s->o.batch, 30000 / ours / 3600);
        if (theirs > 0) printf(", PyTorch %.2f h", 30000 / theirs / 3600);
        printf(".\n");
    }
    fflush(stdout);
    return T2I_OK;
}

// The peak-memory rows: a `run` with every evaluator per generator, each in its own process.
static int bench_memory_rows(const BenchSession *s) {
    BenchMemory m[BENCH_MEMORY_N];
    int         rc = bench_memory(&s->o, m);
    if (rc) return rc;
    if (!s->o.json)
        printf("\npeak resident memory of a %d-worker `run` with every evaluator (IS slim-cub, "
               "FID tf2015 with statistics,\nKID with reference features, DAMSM R-precision; "
               "demo_cub_slim card, --batch %d, %d samples), a process each:\n",
               m[0].workers, m[0].batch, m[0].samples);
    for (int i = 0; i < BENCH_MEMORY_N; i++) {
        double mib = m[i].peak_rss_bytes / 1048576.0;
        int    ok = mib <= BENCH_MEMORY_LIMIT_MIB;
        if (s->o.json)
            printf("{\"memory\": \"%s\", \"workers\": %d, \"batch\": %d, \"samples\": %d, "
                   "\"evaluators\": \"is slim-cub, fid tf2015 + statistics, kid, damsm "
                   "r-precision\", "
                   "\"peak_rss_mib\": %.1f, \"limit_mib\": %.0f, \"within_limit\": %s}\n",
                   m[i].network, m[i].workers, m[i].batch, m[i].samples, mib,
                   BENCH_MEMORY_LIMIT_MIB, ok ? "true" : "false");
        else
            printf("  %-14s %6.0f MiB (%.2f GiB)   target <= %.1f GiB: %s\n", m[i].network, mib,
                   mib / 1024, BENCH_MEMORY_LIMIT_MIB / 1024, ok ? "met" : "NOT met");
    }
    fflush(stdout);
    return T2I_OK;
}

// Above this relative change of the FMA peak between the start and the end of a bench, its
// peak-relative columns are reported as unreliable.
#define BENCH_PEAK_DRIFT 0.10

static const char *const USAGE =
    "t2ibench bench generator|inception|damsm|run|memory|all [--batch B] [--threads T]\n"
    "       [--config bird|coco] [--arch attngan|dmgan|dfgan] [--variant tf2015|torchvision]\n"
    "       [--iters N] [--warmup N] [--rounds N] [--limit N] [--pytorch TOOL [--python PATH]]\n"
    "       [--json]\n"
    "  Images/s of each network (hash weights, --iters timed batches after --warmup), its GFLOP/s\n"
    "  (MACs of ../shared/reference/summary.json) as a fraction of the FMA peak measured first,\n"
    "  and its convolutions' own fraction of one CPU's peak (conv %: the multiply-adds they\n"
    "  issue per CPU second; conv eff %: counted with the multiply-adds of the direct\n"
    "  convolutions they compute, of which Winograd and the upsampling convs issue 2-4x fewer).\n"
    "  `generator --arch` picks AttnGAN, DM-GAN or DF-GAN. `run` times `t2ibench run` end to end\n"
    "  on the CUB smoke suite (--limit samples, default 32) and projects a 30,000-image CUB\n"
    "  protocol. `memory`: peak resident memory of a --threads-worker `t2ibench run` with\n"
    "  every evaluator (IS, FID with statistics, KID, R-precision) for the AttnGAN, DM-GAN and\n"
    "  DF-GAN demo cards, each in a process of its own, next to the 1.5 GiB target (statistics\n"
    "  made by `run --images-out` + `fid-stats` in a scratch folder under /tmp).\n"
    "  `all`: every network at batch 8 and at batch 1, then `run`, then `memory`.\n"
    "  (`bench peak-rss OUT run ARGS...`: runs `t2ibench run ARGS...` and writes its peak\n"
    "  resident memory in bytes to OUT; what `memory` starts.)\n"
    "  --pytorch tools/torch_baseline.py also times the original PyTorch networks in this run\n"
    "  (started with --python, default /usr/bin/python3), alternating with t2ibench network by\n"
    "  network, best of --rounds (default 1), and prints the ratio. Without it no PyTorch figure\n"
    "  is printed: baselines are never remembered from another machine or run.";

int cmd_bench(int argc, char **argv) {
    if (argc >= 2 && strcmp(argv[1], "peak-rss") == 0)
        return bench_peak_rss_child(argc - 1, argv + 1);
    Args a;
    if (args_init(&a, argc, argv)) return cli_usage("bench", USAGE);
    if (args_flag(&a, "--help")) {
        printf("usage: %s\n", USAGE);
        return EXIT_OK;
    }
    BenchSession s = {0};
    BenchOpts   *o = &s.o;
    // Read as long and range-checked before narrowing (--threads 4294967297 is not 1).
    long batch = args_long(&a, "--batch", 8), threads = args_long(&a, "--threads", 2);
    o->config = args_str(&a, "--config", "bird");
    o->arch = args_str(&a, "--arch", "attngan");
    o->variant = args_str(&a, "--variant", "tf2015");
    long iters = args_long(&a, "--iters", 3), warmup = args_long(&a, "--warmup", 1);
    long rounds = args_long(&a, "--rounds", 1), limit = args_long(&a, "--limit", 32);
    const char *tool = args_str(&a, "--pytorch", NULL);
    const char *python = args_str(&a, "--python", "/usr/bin/python3");
    o->json = args_flag(&a, "--json");
    char *pos[4];
    int   np = args_rest(&a, pos, 4);
    if (np != 1) return cli_usage("bench", USAGE);
    if (batch < 1 || batch > 4096 || threads < 1 || threads > 256 || iters < 1 ||
        iters > 1000000 || warmup < 0 || warmup > 1000000 || rounds < 1 || rounds > 64 ||
        limit < 1 || limit > 1000000) {
        t2i_error(T2I_EARG, "--batch %ld / --threads %ld / --iters %ld / --warmup %ld / --rounds "
                            "%ld / --limit %ld out of range ([1, 4096] / [1, 256] / [1, 1000000] "
                            "/ [0, 1000000] / [1, 64] / [1, 1000000])",
                  batch, threads, iters, warmup, rounds, limit);
        return cli_usage("bench", USAGE);
    }
    o->batch = (int)batch;
    o->threads = (int)threads;
    o->iters = (int)iters;
    o->warmup = (int)warmup;
    o->limit = limit;
    s.rounds = (int)rounds;
    if (strcmp(o->config, "bird") && strcmp(o->config, "coco")) {
        t2i_error(T2I_EARG, "--config must be bird or coco, not '%s'", o->config);
        return cli_usage("bench", USAGE);
    }
    const char *what = pos[0];
    int         all = strcmp(what, "all") == 0;
    if (!all && strcmp(what, "generator") && strcmp(what, "inception") &&
        strcmp(what, "damsm") && strcmp(what, "run") && strcmp(what, "memory")) {
        t2i_error(T2I_EARG, "unknown network '%s' (generator, inception, damsm, run, memory or "
                            "all)",
                  what);
        return cli_usage("bench", USAGE);
    }
    InceptionVariant v;
    if (inception_variant_parse(o->variant, &v)) return cli_usage("bench", USAGE);
    GenArch arch;
    if (gen_arch_parse(o->arch, &arch)) return cli_usage("bench", USAGE);
    TorchTool torch;
    memset(&torch, 0, sizeof torch);
    int rc = T2I_OK;
    if (tool) {
        if ((rc = bench_torch_start(&torch, python, tool))) return cli_fail("bench", rc);
        s.torch = &torch;
    }
    blas_set_threads(o->threads);
    const char *isa = "";
    double      wall = 0;
    s.fma_peak = bench_fma_peak(0, &isa, &wall);
    print_header(&s, isa, wall);
    if (all) {
        static const int batches[] = {8, 1};
        for (int b = 0; b < 2 && !rc; b++)
            for (size_t i = 0; i < sizeof ITEMS / sizeof *ITEMS && !rc; i++)
                rc = bench_item(&s, &ITEMS[i], batches[b], NULL, NULL);
        if (!rc) rc = bench_end_to_end(&s);
        if (!rc) rc = bench_memory_rows(&s);
    } else if (strcmp(what, "run") == 0) {
        rc = bench_end_to_end(&s);
    } else if (strcmp(what, "memory") == 0) {
        rc = bench_memory_rows(&s);
    } else {
        BenchItem one = {what, NULL, NULL, NULL, what};
        if (strcmp(what, "generator") == 0) {
            one.config = o->config;
            one.arch = o->arch;
            one.torch = torch_generator(arch, o->config);
        } else if (strcmp(what, "inception") == 0) {
            one.variant = o->variant;
            one.torch = v == INCEPTION_TF2015 ? "fid_pool3" : "is_torchvision";
        }
        rc = bench_item(&s, &one, o->batch, NULL, NULL);
    }
    bench_torch_stop(&torch);
    // The peak again: on a shared host another tenant on the cores' sibling hyperthreads halves
    // it for minutes at a time (seen: 234 -> 119 GFLOP/s per CPU second), and the % peak and conv
    // columns then mean nothing. Say so rather than print them as if they did.
    double end_peak = rc ? 0 : bench_fma_peak(0, NULL, NULL), drift = 0;
    if (end_peak > 0 && s.fma_peak > 0) drift = fabs(end_peak / s.fma_peak - 1);
    if (!rc && o->json)
        printf("{\"fma_peak_end_gflops\": %.2f, \"fma_peak_drift\": %.4f}\n", end_peak, drift);
    else if (!rc && drift > BENCH_PEAK_DRIFT)
        printf("\nWARNING: the FMA peak measured again at the end is %.1f GFLOP/s, %.0f%% off the "
               "%.1f at the start:\nthe CPUs' speed changed during the run (another tenant on "
               "the cores?), so %% peak, conv %% and\nconv eff %% are unreliable; the ratios, "
               "measured side by side, still hold. Run it again.\n",
               end_peak, 100 * drift, s.fma_peak);
    else if (!rc)
        printf("\nFMA peak at the end: %.1f GFLOP/s (within %.0f%% of the start)\n", end_peak,
               100 * BENCH_PEAK_DRIFT);
    if (!rc && !o->json)
        printf("peak resident memory of this process: %.0f MiB\n",
               bench_peak_rss_bytes() / 1048576.0);
    return rc ? cli_fail("bench", rc) : EXIT_OK;
}
