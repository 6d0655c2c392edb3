// cmd_demo.c -- `t2ibench demo` (what `make demo` runs): the CUB smoke suite with the demo model
// cards (AttnGAN, DM-GAN, DF-GAN, and a second AttnGAN card, all on hash weights) and the demo
// evaluators, stored in results/t2ibench.db, then one comparison table of the runs and two HTML
// reports (the AttnGAN run; it against the second AttnGAN card). Every step is an ordinary
// t2ibench command, echoed before it runs.
#include "args.h"
#include "cli.h"
#include "runner.h"
#include "t2i.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

// Echoes `t2ibench argv...` and calls fn with argv + skip (argv[skip] = its command name).
static int step(int (*fn)(int, char **), int argc, char **argv, int skip) {
    printf("\n$ t2ibench");
    for (int i = 0; i < argc; i++) printf(" %s", argv[i]);
    printf("\n");
    fflush(stdout);
    return fn(argc - skip, argv + skip);
}

// The demo model cards: one per generator architecture, plus a second AttnGAN card for the
// two-run report; hash weights, full size.
static const struct {
    const char *card, *what;
} demo_models[] = {
    {"suites/models/demo_bird.json", "AttnGAN G_NET (GF_DIM 32, R_NUM 2)"},
    {"suites/models/demo_dmgan_bird.json", "DM-GAN G_NET (GF_DIM 64, R_NUM 2, dynamic memory)"},
    {"suites/models/demo_dfgan_bird.json", "DF-GAN NetG (nf 32, six deep-fusion blocks)"},
    {"suites/models/demo_bird_r1.json", "AttnGAN G_NET with R_NUM 1 (a second AttnGAN)"},
};
enum { N_DEMO_MODELS = sizeof demo_models / sizeof demo_models[0] };

// Echoes the `t2ibench run` command line of `o`, then runs it (runner_run gives the run id the
// comparison needs).
static int demo_run(const RunOpts *o, int64_t *id) {
    printf("\n$ t2ibench run --suite %s --model %s --protocol %s --evaluators %s --db %s "
           "--batch %d --limit %ld\n",
           o->suite, o->model, o->protocol, o->evaluators, o->db, o->batch, o->limit);
    fflush(stdout);
    double t0 = now();
    int rc = runner_run(o, id);
    if (rc) return cli_fail("run", rc);
    printf("stored as run %lld (%.0f s); its metrics are in the table below\n", (long long)*id,
           now() - t0);
    return EXIT_OK;
}

int cmd_demo(int argc, char **argv) {
    static const char *usage =
        "t2ibench demo [--db results/t2ibench.db] [--limit N] [--batch B]\n"
        "  What `make demo` runs: the CUB smoke suite with the demo AttnGAN, DM-GAN and DF-GAN\n"
        "  cards and a second AttnGAN card (hash weights, no downloads) and the demo evaluators,\n"
        "  one comparison table of the four runs, and two HTML reports under results/report/.\n"
        "  Every step is printed as the ordinary t2ibench command it runs.\n"
        "  --limit N  samples per model (default 16; 0 = all 64)   --batch B  default 8";
    Args a;
    char *pos[4];
    if (args_init(&a, argc, argv)) return cli_usage("demo", usage);
    if (args_flag(&a, "--help")) return printf("usage: %s\n", usage), EXIT_OK;
    const char *db = args_str(&a, "--db", "results/t2ibench.db");
    long limit = args_long(&a, "--limit", 16);
    long batch = args_long(&a, "--batch", 8);
    if (args_rest(&a, pos, 4) != 0) return cli_usage("demo", usage);
    if (limit < 0 || batch < 1 || batch > 256) {
        t2i_error(T2I_EARG, "--limit must be >= 0 (0 = all 64 samples) and --batch in 1..256");
        return cli_usage("demo", usage);
    }
    struct stat sb;
    if (stat("suites/cub_smoke.suite", &sb) != 0) {
        fprintf(stderr, "t2ibench demo: run it from the repository root (suites/ not found)\n");
        return EXIT_ERROR;
    }
    double t0 = now();
    printf("t2ibench demo -- the CUB smoke suite (one test caption per image, images spread over\n"
           "the 50 test classes; the first %ld samples) through the whole pipeline, once per\n"
           "generator architecture: text encoder -> generator -> uint8 images -> Inception Score,\n"
           "DAMSM R-precision (99 mismatches per caption), then one comparison table and HTML\n"
           "reports.\n\n"
           "  * The models are four cards on HASH WEIGHTS (hash:attngan-oracle-hash-v1,\n"
           "    deterministic synthetic weights) at the released bird sizes:\n",
           limit ? limit : 64L);
    for (int i = 0; i < N_DEMO_MODELS; i++)
        printf("      %-38s %s\n", demo_models[i].card, demo_models[i].what);
    printf("    The images are noise-like and the scores are NOT those of any trained model.\n"
           "  * Their vocabulary is suites/vocab/cub_test.vocab.txt, BUILT FROM THE CUB TEST\n"
           "    CAPTIONS by `t2ibench vocab build` (step 1 below) -- not the released\n"
           "    captions.pickle.\n"
           "  * The evaluators are suites/evaluators/demo_cub.json: torchvision-layout Inception\n"
           "    and DAMSM encoders, also on hash weights. No FID (no reference statistics).\n"
           "  * The runs are stored in %s; rerunning resumes or adds runs.\n",
           db);
    char *v[] = {"vocab", "build", "--captions",
                 "suites/data/cub/test_captions.tsv,suites/data/cub/example_captions.tsv", "--out",
                 "suites/vocab/cub_test.vocab.txt"};
    int rc = step(cmd_vocab_build, 6, v, 1);
    if (rc) return rc;
    mkdir("results", 0777);
    int64_t ids[N_DEMO_MODELS];
    char idbuf[N_DEMO_MODELS][24];
    for (int i = 0; i < N_DEMO_MODELS; i++) {
        RunOpts o;
        memset(&o, 0, sizeof o);
        o.suite = "suites/cub_smoke.suite";
        o.model = demo_models[i].card;
        o.protocol = "suites/protocols/smoke.json";
        o.evaluators = "suites/evaluators/demo_cub.json";
        o.db = db;
        o.limit = limit;
        o.batch = (int)batch;
        o.threads = 2;
        o.quiet = 1;
        if ((rc = demo_run(&o, &ids[i]))) return rc;
        snprintf(idbuf[i], sizeof idbuf[i], "%lld", (long long)ids[i]);
    }
    char *c[] = {"compare", idbuf[0], idbuf[1], idbuf[2], idbuf[3], "--db", (char *)db};
    rc = step(cmd_compare, 7, c, 0);
    if (rc) return rc;
    // HTML reports: the AttnGAN demo run, and it against the second AttnGAN card.
    char *rp1[] = {"report", idbuf[0], "--db", (char *)db, "--out", "results/report/demo"};
    if ((rc = step(cmd_report, 6, rp1, 0))) return rc;
    char *rp2[] = {"report", idbuf[0], idbuf[3], "--db", (char *)db, "--out",
                   "results/report/compare"};
    if ((rc = step(cmd_report, 7, rp2, 0))) return rc;
    printf("\nreports: results/report/demo/index.html (run %s) and "
           "results/report/compare/index.html\n(run %s against run %s); open them in a browser.\n",
           idbuf[0], idbuf[0], idbuf[3]);
    char dbopt[1100] = "";   // the --db of the next commands, when not the default
    if (strcmp(db, "results/t2ibench.db") != 0) snprintf(dbopt, sizeof dbopt, " --db %s", db);
    char next[4][1300];
    snprintf(next[0], sizeof next[0], "t2ibench list%s", dbopt);
    snprintf(next[1], sizeof next[1], "t2ibench show %s%s", idbuf[0], dbopt);
    snprintf(next[2], sizeof next[2], "t2ibench check --baseline %s --run %s --fail-on is:-0.05%s",
             idbuf[0], idbuf[3], dbopt);
    snprintf(next[3], sizeof next[3], "t2ibench export %s --format md%s", idbuf[0], dbopt);
    const char *what[4] = {"the stored runs", "one run in full", "CI gate: exit 1 if IS fell > 0.05",
                           "a Markdown table"};
    printf("\ndemo finished in %.0f s. Next:\n", now() - t0);
    for (int k = 0; k < 4; k++) printf("  %-58s  %s\n", next[k], what[k]);
    printf("README.md explains how to score the released AttnGAN, DM-GAN and DF-GAN checkpoints.\n");
    return EXIT_OK;
}
