// bench.h -- `t2ibench bench generator|inception|damsm|all`: images/s, GFLOP/s (from the MAC
// counts of ../shared/reference/summary.json) and the fraction of the machine's sgemm peak,
// which the bench measures itself in the same run (bench_sgemm_peak).
//
// A network bench builds its model with hash weights, sizes its arena, runs `warmup` batches,
// then times `iters` batches of `batch` images, and calls bench_report() once.
#ifndef T2I_BENCH_H
#define T2I_BENCH_H

typedef struct {
    int         batch;          // --batch (default 8)
    int         threads;        // --threads (default 2); already applied with blas_set_threads
    const char *config;         // --config bird|coco (generator)
    const char *arch;           // --arch attngan|dmgan|dfgan (generator; default attngan)
    const char *variant;        // --variant tf2015|torchvision (inception)
    int         json;           // --json: one JSON object per measurement on stdout
    int         warmup;         // untimed batches before timing (default 1)
    int         iters;          // timed batches (default 3)
    double      peak_gflops;    // measured sgemm peak (GFLOP/s) at `threads`, 0 when unknown
    double      baseline_ips;   // PyTorch images/s to print next to ours (0: none)
} BenchOpts;

// Prints one measurement: human-readable line, or one JSON object with --json.
// gmac_per_image from summary.json; GFLOP/s = 2 * gmac_per_image * images / seconds.
// Also prints the measured sgemm peak fraction, the PyTorch baseline and the process's peak
// resident set (bench_peak_rss_bytes()).
void bench_report(const BenchOpts *o, const char *network, int batch, int images, double seconds,
                  double gmac_per_image);

// Monotonic seconds.
double bench_now(void);
// Peak resident set size of this process in bytes (getrusage), 0 when unknown.
double bench_peak_rss_bytes(void);
// Measures the sgemm peak GFLOP/s at the current BLAS thread count (large square sgemm).
double bench_sgemm_peak(void);
// MACs per image from ../shared/reference/summary.json ($T2I_REFERENCE overrides the folder):
// `model` is the summary key ("CNN_ENCODER", "G_NET_bird", ...), `field` the number
// ("gmacs_per_image", "gmacs_to_pool3"); `fallback` when the file is not there.
double bench_gmacs(const char *model, const char *field, double fallback);

// Network benches (0 on success, a T2I_E* status with a message otherwise).
int bench_inception(const BenchOpts *o);
int bench_damsm(const BenchOpts *o);
// Implemented by the generator engineer in harness/bench_generator.c.
int bench_generator(const BenchOpts *o);

int cmd_bench(int argc, char **argv);

#endif
