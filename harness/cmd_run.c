// cmd_run.c -- `t2ibench run` and `t2ibench eval-images` (harness/runner.h).
#define _GNU_SOURCE   // sched_getaffinity, CPU_COUNT
#include "args.h"
#include "cli.h"
#include "db.h"
#include "results.h"
#include "runner.h"
#include "scoring.h"
#include "t2i.h"

#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>

void results_print_metrics(const ResRun *r, FILE *f);

// Prints the stored metrics of a finished run.
static void print_run(const char *dbp, int64_t id) {
    Db d;
    ResRun r;
    if (db_open(&d, dbp, 1)) return;
    if (!res_load(&d, id, &r)) {
        char st[64];
        res_status_label(&r, st, sizeof st);
        printf("run %lld [%s] suite %s, protocol %s, model %s, evaluators %s, %lld samples\n",
               (long long)r.id, st, r.suite, r.protocol, r.model, r.evaluators,
               (long long)r.samples_done);
        if (r.shard_count > 1)
            printf("  partial metrics: shard %d/%d scores only its own %lld of %lld samples; "
                   "`t2ibench merge` the shard databases for the run's metrics\n",
                   r.shard_index, r.shard_count, (long long)r.samples_done,
                   (long long)r.n_samples);
        results_print_metrics(&r, stdout);
        res_free(&r);
    }
    db_close(&d);
}

#define RUN_COMMON_HELP                                                                          \
    "  Rerunning the command of a complete run prints \"run N is complete\" and exits 0 without\n"  \
    "  work; an interrupted or stale run is resumed; --new starts a fresh run instead.\n"          \
    "  A run has one live owner: a second identical command refuses while the first computes\n"   \
    "  it (--takeover: the owner was on another host and is gone).\n"                             \
    "  --threads T   workers (default: the CPUs this process may use: affinity mask, or\n"        \
    "                SLURM_CPUS_PER_TASK; at most 64)\n"                                          \
    "  --shard I/N   run only the blocks b with b % N == I (into this --db; combine the shard\n"  \
    "                databases with `t2ibench merge`); one shard count per database.\n"          \
    "  --shard slurm the shard of this Slurm array task: (SLURM_ARRAY_TASK_ID - MIN) / STEP of\n" \
    "                SLURM_ARRAY_TASK_COUNT; --shard auto: the same in an array task, else every\n"\
    "                block. Without --shard every block runs, in or out of Slurm.\n"           \
    "  --log-interval without a terminal (CI, Slurm, nohup) a progress line with done/total,\n" \
    "                images/s and ETA every N seconds (default 30) or every N samples\n"        \
    "                (\"100samples\"); -q silences it. SIGINT/SIGTERM: the samples finished so\n"\
    "                far are committed within seconds, the run is marked \"interrupted\" (exit\n"\
    "                130) and the same command resumes it."

// "30", "30s" -> seconds; "100samples" -> samples. T2I_EARG otherwise.
static int parse_log_interval(const char *s, double *sec, long *samples) {
    char *end = NULL;
    double v = s ? strtod(s, &end) : 0;
    if (!s || end == s || !(v > 0) || v > 1e7)
        return t2i_error(T2I_EARG, "--log-interval '%s': expected seconds (30, 30s) or samples "
                                   "(100samples), > 0",
                         s ? s : "");
    if (!*end || !strcmp(end, "s")) {
        *sec = v;
        return T2I_OK;
    }
    if (!strcmp(end, "samples") && v == (double)(long)v) {
        *samples = (long)v;
        *sec = 1e9;
        return T2I_OK;
    }
    return t2i_error(T2I_EARG, "--log-interval '%s': expected seconds (30, 30s) or samples "
                               "(100samples)",
                     s);
}

// Workers by default: the CPUs this process may use (SLURM_CPUS_PER_TASK inside a Slurm job,
// else the affinity mask), at least 1.
static long default_threads(void) {
    const char *sl = getenv("SLURM_CPUS_PER_TASK");
    char *end = NULL;
    long v = sl ? strtol(sl, &end, 10) : 0;
    if (sl && *sl && end && !*end && v >= 1) return v;
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) >= 1) return CPU_COUNT(&set);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n >= 1 ? n : 1;
}

static int common(int argc, char **argv, int images_mode) {
    static const char *usage_run =
        "t2ibench run --suite S --model CARD --protocol P [--evaluators CARD]\n"
        "             [--db results/t2ibench.db] [--limit N] [--batch B] [--threads T]\n"
        "             [--images-out DIR] [--fid-stats FILE.npz] [--kid-reference FILE.npy]\n"
        "             [--resume RUN] [--new] [--takeover] [--shard I/N|slurm|auto]\n"
        "             [--log-interval N[s]|Nsamples] [-q] [-v]\n"
        "  Generates every sample of suite S with the model card and scores it with the\n"
        "  protocol's metrics; per-sample outputs, metrics and provenance go to --db. e.g.\n"
        "    t2ibench run --suite suites/cub_smoke.suite --model suites/models/demo_bird.json\n"
        "                 --protocol suites/protocols/smoke.json\n"
        "  --evaluators CARD  the scoring networks (IS Inception, DAMSM, FID). Default (said\n"
        "                on stderr), in suites/evaluators/ by the protocol's IS classifier and\n"
        "                the suite's data set: slim-cub on CUB -> cub_slim.json, else\n"
        "                <dataset>_tf2015.json; for a model on hash weights the demo card:\n"
        "                demo_cub_slim.json, demo_<dataset>_tf2015.json (tf2015), else\n"
        "                demo_<dataset>.json\n"
        "  --limit N     only the first N samples of the suite (default 0: all)\n"
        "  --batch B     batch size (default 8); a sample's image does not depend on it, except\n"
        "                under a protocol with \"attention_mask\": \"batch-coupled\"\n"
        "  --images-out DIR  also write each sample's 256 px image as DIR/<sample id>.png\n"
        "  --resume RUN  continue run RUN of --db (by default the command's own latest run)\n"
        "  -v            one more line on the work to do; -q: no progress or notes\n"
        "  --fid-stats FILE.npz  FID reference statistics (mu, sigma) to use instead of the\n"
        "               evaluator card's (make them with `t2ibench fid-stats DIR`)\n"
        "  --kid-reference FILE.npy  reference pool3 features (N, 2048) for KID (`t2ibench\n"
        "               fid-stats DIR --features FILE.npy` writes them; old spelling --kid-ref)\n"
        RUN_COMMON_HELP;
    static const char *usage_img =
        "t2ibench eval-images DIR --protocol P --evaluators CARD [options]\n"
        "       t2ibench eval-images DIR --suite S --protocol P [--evaluators CARD]\n"
        "                            [--mapping FILE.tsv] [options]\n"
        "  options: [--fid-stats FILE.npz] [--kid-reference FILE.npy] [--max-pixels N]\n"
        "           [--db results/t2ibench.db] [--limit N] [--batch B] [--threads T]\n"
        "           [--resume RUN] [--new] [--takeover] [--shard I/N|slurm|auto]\n"
        "           [--log-interval N[s]|Nsamples] [-q] [-v]\n"
        "  Without --suite: every image under DIR (sub-folders too, sorted by path) is scored\n"
        "  for the caption-free metrics (IS, FID); files that are not images are listed.\n"
        "  With --suite: DIR/<id>.png (or %06d.png, .jpg) is sample <id>, or --mapping gives a\n"
        "  PATH<TAB>SAMPLE_ID line per sample (PATH relative to DIR), for any folder layout.\n"
        "  Images of any size (PNG, JPEG, BMP, PPM/PGM, TIFF, WebP) go straight to the\n"
        "  evaluator's 299x299 input with the protocol's resize kernel.\n"
        "  --images DIR     the same as the DIR argument\n"
        "  --fid-stats FILE FID reference statistics instead of the evaluator card's\n"
        "  --kid-reference FILE  reference pool3 features (N, 2048) for KID (written by\n"
        "                   fid-stats --features; old spelling --kid-ref)\n"
        "  --max-pixels N   refuse larger images (checked from the file header; default\n"
        "                   100000000)\n"
        RUN_COMMON_HELP;
    const char *cmd = images_mode ? "eval-images" : "run";
    const char *usage = images_mode ? usage_img : usage_run;
    Args a;
    char *pos[4];
    if (args_init(&a, argc, argv)) return cli_usage(cmd, usage);
    if (args_flag(&a, "--help")) return printf("usage: %s\n", usage), EXIT_OK;
    RunOpts o;
    memset(&o, 0, sizeof o);
    o.suite = args_str(&a, "--suite", NULL);
    o.protocol = args_str(&a, "--protocol", NULL);
    o.evaluators = args_str(&a, "--evaluators", NULL);
    o.db = args_str(&a, "--db", "results/t2ibench.db");
    o.limit = args_long(&a, "--limit", 0);
    long batch = args_long(&a, "--batch", 8);
    long threads = args_long(&a, "--threads", LONG_MIN);   // LONG_MIN: not given
    o.resume = args_long(&a, "--resume", 0);
    o.new_run = args_flag(&a, "--new");
    o.takeover = args_flag(&a, "--takeover");
    const char *logi = args_str(&a, "--log-interval", NULL);
    o.quiet = args_flag(&a, "-q") | args_flag(&a, "--quiet");
    o.verbose = args_flag(&a, "-v") | args_flag(&a, "--verbose");
    const char *shard = args_str(&a, "--shard", NULL);
    o.fid_stats = args_str(&a, "--fid-stats", NULL);
    o.kid_ref = args_str(&a, "--kid-reference", NULL);
    const char *kid_ref_old = args_str(&a, "--kid-ref", NULL);   // the spelling before round 4
    if (kid_ref_old && o.kid_ref) {
        t2i_error(T2I_EARG, "--kid-ref is the old spelling of --kid-reference: give one of them");
        return cli_usage(cmd, usage);
    }
    if (kid_ref_old) o.kid_ref = kid_ref_old;
    long long max_pixels = 0;
    if (images_mode) {
        o.images_dir = args_str(&a, "--images", NULL);
        o.mapping = args_str(&a, "--mapping", NULL);
        max_pixels = args_long(&a, "--max-pixels", 0);
    } else {
        o.model = args_str(&a, "--model", NULL);
        o.images_out = args_str(&a, "--images-out", NULL);
    }
    int npos = args_rest(&a, pos, 4);
    if (images_mode && npos == 1 && !o.images_dir) o.images_dir = pos[0], npos = 0;
    if (npos != 0) {
        if (npos > 0) t2i_error(T2I_EARG, "unexpected argument '%s'", pos[0]);
        return cli_usage(cmd, usage);
    }
    if (images_mode && (!o.protocol || !o.images_dir)) {
        t2i_error(T2I_EARG, "the image folder DIR and --protocol are required");
        return cli_usage(cmd, usage);
    }
    if (images_mode && o.mapping && !o.suite) {
        t2i_error(T2I_EARG, "--mapping maps files to suite samples: give --suite too");
        return cli_usage(cmd, usage);
    }
    if (max_pixels < 0) {
        t2i_error(T2I_EARG, "--max-pixels %lld must be >= 1", max_pixels);
        return cli_usage(cmd, usage);
    }
    o.max_pixels = max_pixels;
    if (!images_mode && (!o.suite || !o.protocol || !o.model)) {
        t2i_error(T2I_EARG, "--suite, --protocol and --model are required");
        return cli_usage(cmd, usage);
    }
    if (o.limit < 0) {
        t2i_error(T2I_EARG, "--limit %ld must be >= 0", o.limit);
        return cli_usage(cmd, usage);
    }
    if (logi && parse_log_interval(logi, &o.log_seconds, &o.log_samples))
        return cli_usage(cmd, usage);
    if (o.new_run && o.resume) {
        t2i_error(T2I_EARG, "--new and --resume exclude each other");
        return cli_usage(cmd, usage);
    }
    int threads_given = threads != LONG_MIN;
    if (!threads_given) threads = default_threads();
    if (!threads_given && threads > 64) threads = 64;
    if (batch < 1 || batch > 256 || threads < 1 || threads > 256) {
        int b = batch < 1 || batch > 256;
        t2i_error(T2I_EARG, "%s %ld is outside 1..256", b ? "--batch" : "--threads",
                  b ? batch : threads);
        return cli_usage(cmd, usage);
    }
    if (o.resume < 0) {
        t2i_error(T2I_EARG, "--resume %lld must be a run id (>= 1)", (long long)o.resume);
        return cli_usage(cmd, usage);
    }
    if (threads > 64) {
        if (!o.quiet)
            fprintf(stderr, "t2ibench: --threads %ld capped at 64 workers\n", threads);
        threads = 64;
    }
    o.batch = (int)batch;
    o.threads = (int)threads;
    if (shard && (!strcmp(shard, "slurm") || !strcmp(shard, "auto"))) {
        int found = 0;
        if (scoring_slurm_shard(&o.shard_index, &o.shard_count, &found))
            return cli_fail(cmd, T2I_EARG);
        if (!found && !strcmp(shard, "slurm")) {
            t2i_error(T2I_EARG, "--shard slurm: SLURM_ARRAY_TASK_ID is not set (not a Slurm "
                                "array task); use --shard auto to run every block outside one");
            return cli_fail(cmd, T2I_EARG);
        }
        if (found && !o.quiet)
            fprintf(stderr, "t2ibench: Slurm array task %s: shard %d/%d\n",
                    getenv("SLURM_ARRAY_TASK_ID"), o.shard_index, o.shard_count);
    } else if (shard) {
        if (scoring_parse_shard(shard, &o.shard_index, &o.shard_count))
            return cli_usage(cmd, usage);   // prints the message, then the usage
    } else if (getenv("SLURM_ARRAY_TASK_ID") && *getenv("SLURM_ARRAY_TASK_ID") && !o.quiet) {
        fprintf(stderr, "t2ibench: note: Slurm array task %s runs every block (no --shard); pass "
                        "--shard slurm to split the suite over the array\n",
                getenv("SLURM_ARRAY_TASK_ID"));
    }
    int64_t id = 0;
    int rc = runner_run(&o, &id);
    if (rc) {
        int code = cli_fail(cmd, rc);
        return code;
    }
    if (!o.quiet) print_run(o.db, id);
    return EXIT_OK;
}

int cmd_run(int argc, char **argv) { return common(argc, argv, 0); }
int cmd_eval_images(int argc, char **argv) { return common(argc, argv, 1); }
