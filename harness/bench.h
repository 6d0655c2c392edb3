// bench.h -- `t2ibench bench generator|inception|damsm|run|all`: images/s of each network, its
// GFLOP/s (from the MAC counts of ../shared/reference/summary.json or the engine's own counts) as
// a fraction of the machine's FMA peak (measured in the same run, bench_fma_peak), and, with
// --pytorch TOOL, the original PyTorch networks timed by tools/torch_baseline.py in the same
// invocation, alternating with t2ibench network by network (best of --rounds). No stored
// baseline: a PyTorch figure is printed only when it was measured in this run.
//
// A network bench builds its model with hash weights, sizes its arena, runs `warmup` batches,
// then times `iters` batches of `batch` images, and calls bench_report() once.
#ifndef T2I_BENCH_H
#define T2I_BENCH_H

#include <stdio.h>
#include <sys/types.h>

// One measurement of one network (what bench_report records).
typedef struct {
    char   network[64];
    int    batch, threads, images;
    double seconds, images_per_s, gmac_per_image;
    // The XNNPACK convolutions of the timed batches (xconv.h xconv_stats): the MACs they did,
    // those of the direct convolutions they stand for (the same but for Winograd and the
    // x2-upsample convs) and their CPU seconds; 0 when the network has none or the bench did not
    // count them.
    double conv_macs, conv_macs_nominal, conv_cpu_seconds;
} BenchResult;

typedef struct {
    int          batch;         // --batch (default 8)
    int          threads;       // --threads (default 2); already applied with blas_set_threads
    const char  *config;        // --config bird|coco (generator)
    const char  *arch;          // --arch attngan|dmgan|dfgan (generator; default attngan)
    const char  *variant;       // --variant tf2015|torchvision (inception)
    int          json;          // --json: one JSON object per measurement on stdout
    int          warmup;        // untimed batches before timing (default 1)
    int          iters;         // timed batches (default 3)
    long         limit;         // bench run: samples of the smoke suite (default 32)
    BenchResult *result;        // where bench_report records the measurement
} BenchOpts;

// Records one measurement into o->result (printed by the caller next to its baseline); with no
// o->result, prints one plain line. gmac_per_image from summary.json or the engine.
void bench_report(const BenchOpts *o, const char *network, int batch, int images, double seconds,
                  double gmac_per_image);

// Starts counting the XNNPACK convolutions (xconv_stats): a network bench calls it after its
// warm-up batches, before the timed ones; bench_report() records the counts and stops counting.
void bench_convs_begin(void);

// The convolutions' own rate as a fraction of one CPU's FMA peak: 2 x r->conv_macs (with
// `nominal`, r->conv_macs_nominal: the effective rate) per r->conv_cpu_seconds against fma_peak
// (bench_fma_peak, summed over `cpus` CPUs) / cpus. Both are counted per CPU second, so the
// figure holds on a loaded machine. -1 when nothing was counted.
double bench_conv_fraction(const BenchResult *r, int nominal, double fma_peak, int cpus);

// Monotonic seconds.
double bench_now(void);
// Peak resident set size of this process in bytes (getrusage), 0 when unknown.
double bench_peak_rss_bytes(void);
// MACs per image from ../shared/reference/summary.json ($T2I_REFERENCE overrides the folder):
// `model` is the summary key ("CNN_ENCODER", "G_NET_bird", ...), `field` the number
// ("gmacs_per_image", "gmacs_to_pool3"); `fallback` when the file is not there.
double bench_gmacs(const char *model, const char *field, double fallback);

// ---- FMA peak (harness/bench_fma.c) ----------------------------------------------------------
// A register-only loop of independent fused multiply-adds on `threads` threads (0 = every online
// CPU), with the widest instruction set the CPU offers (AVX-512F, AVX2+FMA, else scalar; chosen
// at run time, so the binary stays portable). Returns GFLOP/s (2 per FMA lane) summed over the
// threads, each counted per CPU second it ran (the cores' physical rate even while other
// processes share them), best of 3; *isa (optional) receives the name of the path used,
// *wall_gflops (optional) the same work per wall second (what was available while measuring).
double bench_fma_peak(int threads, const char **isa /* OUT */, double *wall_gflops /* OUT */);
int    bench_online_cpus(void);

// ---- the PyTorch baseline coprocess (harness/bench_torch.c) ------------------------------------
typedef struct {
    pid_t pid;
    FILE *to, *from;
    char  version[32];   // torch.__version__ reported by the tool
    char  tool[512];
} TorchTool;

// Starts `python tool --serve` and waits until it has imported torch (nothing of it runs while
// t2ibench measures: it blocks on its stdin). T2I_EIO with a message when it cannot start.
int  bench_torch_start(TorchTool *t, const char *python, const char *tool);
// One measurement of `network` (a torch_baseline.py name: g_bird, damsm, pipeline_bird, ...).
int  bench_torch_measure(TorchTool *t, const char *network, int batch, int threads, int iters,
                         int warmup, BenchResult *out);
void bench_torch_stop(TorchTool *t);   // closes its stdin and reaps it; accepts a zeroed tool
// Parses one reply line of the tool (the JSON interchange); T2I_EFORMAT naming the problem, or
// the tool's own "error" text.
int  bench_torch_parse(const char *line, BenchResult *out);

// Network benches (0 on success, a T2I_E* status with a message otherwise).
int bench_inception(const BenchOpts *o);
int bench_damsm(const BenchOpts *o);
// Implemented by the generator engineer in harness/bench_generator.c.
int bench_generator(const BenchOpts *o);
// End to end (harness/bench_run.c): `t2ibench run` of the CUB smoke suite with the demo model
// and evaluator cards (text, generate, IS, R-precision per image, --threads workers) into a
// scratch database under /tmp; images/s = 1 / the run's time.total per image.
int bench_run(const BenchOpts *o);
// MACs per image of that pipeline (G_NET bird, IS Inception, CNN_ENCODER, 101 captions of 18
// words through the bi-LSTM), from summary.json; 0 when the file is missing.
double bench_pipeline_gmacs(void);

// ---- peak memory of a run with every evaluator (harness/bench_memory.c) ----------------------
// One measurement: `t2ibench run` of `network` (hash weights) on the attngan-2018 suite with
// the demo_cub_slim evaluator card (IS slim-cub, FID tf2015 with statistics, KID with reference
// features, DAMSM R-precision), `workers` workers, --batch `batch`, `samples` samples (one batch
// per worker), in a child process of its own.
#define BENCH_MEMORY_N 3        // AttnGAN, DM-GAN, DF-GAN bird
#define BENCH_MEMORY_LIMIT_MIB 1536.0   // issue 10's target: 1.5 GiB (printed, never asserted)
typedef struct {
    char   network[64];
    int    workers, batch, samples;
    double peak_rss_bytes;
} BenchMemory;
// Makes FID statistics and KID reference features with `run --images-out` + `fid-stats` in a
// scratch folder under /tmp (removed afterwards), then measures each generator with o->threads
// workers and o->batch. T2I_OK, or T2I_EIO naming the command that failed and its output's tail.
int bench_memory(const BenchOpts *o, BenchMemory out[BENCH_MEMORY_N]);
// `t2ibench bench peak-rss OUT run ARGS...`: runs `t2ibench run ARGS...` in this process, then
// writes its peak resident memory in bytes (VmHWM) to OUT. An exit code.
int bench_peak_rss_child(int argc, char **argv);

int cmd_bench(int argc, char **argv);

#endif
