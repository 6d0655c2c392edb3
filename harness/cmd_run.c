// cmd_run.c -- `t2ibench run` and `t2ibench eval-images` (harness/runner.h).
#include "args.h"
#include "cli.h"
#include "db.h"
#include "results.h"
#include "runner.h"
#include "scoring.h"
#include "t2i.h"

#include <stdio.h>
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

static int common(int argc, char **argv, int images_mode) {
    static const char *usage_run =
        "t2ibench run --suite S --model CARD --protocol P [--evaluators CARD]\n"
        "             (default evaluators: the card of the protocol's IS classifier, demo_*.json\n"
        "              for a model on hash weights: CUB slim-cub -> [demo_]cub_slim.json,\n"
        "              tf2015 -> [demo_]<dataset>_tf2015.json, else demo_<dataset>.json /\n"
        "              <dataset>_tf2015.json)\n"
        "             [--db results/t2ibench.db] [--limit N] [--batch B] [--threads T]\n"
        "             [--images-out DIR] [--fid-stats FILE.npz] [--resume RUN] [--shard I/N]\n"
        "             [--kid-ref FILE.npy] [-q] [-v]\n"
        "  --fid-stats FILE.npz  FID reference statistics (mu, sigma) to use instead of the\n"
        "               evaluator card's (make them with `t2ibench fid-stats DIR`)\n"
        "  --kid-ref FILE.npy    reference pool3 features (N, 2048) for KID (`t2ibench\n"
        "               fid-stats DIR --features FILE.npy` writes them)\n"
        "  --shard I/N  run only the blocks b with b % N == I (into this --db; combine the shard\n"
        "               databases with `t2ibench merge`). Without --shard, a Slurm array task\n"
        "               (SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN of SLURM_ARRAY_TASK_COUNT)\n"
        "               selects its shard; --shard 0/1 runs every block.";
    static const char *usage_img =
        "t2ibench eval-images DIR --protocol P --evaluators CARD [--fid-stats FILE.npz]\n"
        "                     [--kid-ref FILE.npy]\n"
        "t2ibench eval-images DIR --suite S --protocol P [--evaluators CARD] [--mapping FILE.tsv]\n"
        "             [--db results/t2ibench.db] [--limit N] [--batch B] [--threads T]\n"
        "             [--max-pixels N] [--resume RUN] [--shard I/N] [-q] [-v]\n"
        "  Without --suite: every image under DIR (sub-folders too, sorted by path) is scored\n"
        "  for the caption-free metrics (IS, FID); files that are not images are listed.\n"
        "  With --suite: DIR/<id>.png (or %06d.png, .jpg) is sample <id>, or --mapping gives a\n"
        "  PATH<TAB>SAMPLE_ID line per sample (PATH relative to DIR), for any folder layout.\n"
        "  Images of any size (PNG, JPEG, BMP, PPM/PGM, TIFF, WebP) go straight to the\n"
        "  evaluator's 299x299 input with the protocol's resize kernel.\n"
        "  --images DIR     the same as the DIR argument\n"
        "  --fid-stats FILE FID reference statistics instead of the evaluator card's\n"
        "  --kid-ref FILE   reference pool3 features (N, 2048) for KID (fid-stats --features)\n"
        "  --max-pixels N   refuse larger images (checked from the file header; default\n"
        "                   100000000)";
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
    long threads = args_long(&a, "--threads", 2);
    o.resume = args_long(&a, "--resume", 0);
    o.quiet = args_flag(&a, "-q") | args_flag(&a, "--quiet");
    o.verbose = args_flag(&a, "-v") | args_flag(&a, "--verbose");
    const char *shard = args_str(&a, "--shard", NULL);
    o.fid_stats = args_str(&a, "--fid-stats", NULL);
    o.kid_ref = args_str(&a, "--kid-ref", NULL);
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
    o.batch = (int)batch;
    o.threads = (int)threads;
    if (shard) {
        if (scoring_parse_shard(shard, &o.shard_index, &o.shard_count))
            return cli_usage(cmd, usage);   // prints the message, then the usage
    } else {
        int found = 0;
        if (scoring_slurm_shard(&o.shard_index, &o.shard_count, &found))
            return cli_fail(cmd, T2I_EARG);
        if (found && !o.quiet)
            fprintf(stderr, "t2ibench: Slurm array task: shard %d/%d (from SLURM_ARRAY_TASK_ID; "
                            "--shard overrides)\n",
                    o.shard_index, o.shard_count);
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
