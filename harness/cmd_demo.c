// cmd_demo.c -- `t2ibench demo` (what `make demo` runs): the CUB smoke suite with the demo model
// card on hash weights and the demo evaluators, stored in results/t2ibench.db, then the
// metrics table. Every step is an ordinary t2ibench command, echoed before it runs.
#include "args.h"
#include "cli.h"
#include "db.h"
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

int cmd_demo(int argc, char **argv) {
    static const char *usage = "t2ibench demo [--db results/t2ibench.db] [--limit N] [--batch B]";
    Args a;
    char *pos[4];
    if (args_init(&a, argc, argv)) return cli_usage("demo", usage);
    if (args_flag(&a, "--help")) return printf("usage: %s\n", usage), EXIT_OK;
    const char *db = args_str(&a, "--db", "results/t2ibench.db");
    const char *limit = args_str(&a, "--limit", "0");
    const char *batch = args_str(&a, "--batch", "8");
    if (args_rest(&a, pos, 4) != 0) return cli_usage("demo", usage);
    struct stat sb;
    if (stat("suites/cub_smoke.suite", &sb) != 0) {
        fprintf(stderr, "t2ibench demo: run it from the repository root (suites/ not found)\n");
        return EXIT_ERROR;
    }
    double t0 = now();
    printf("t2ibench demo -- the CUB smoke suite (64 test captions, one per image, 64 images spread\n"
           "over the 50 test classes) through the whole pipeline: text encoder -> AttnGAN G_NET ->\n"
           "uint8 images -> Inception Score, DAMSM R-precision (99 mismatches per caption).\n\n"
           "  * The model is suites/models/demo_bird.json: the AttnGAN bird architecture at full size\n"
           "    with HASH WEIGHTS (hash:attngan-oracle-hash-v1, deterministic synthetic weights).\n"
           "    The images are noise-like and the scores are NOT those of any trained model.\n"
           "  * Its vocabulary is suites/vocab/cub_test.vocab.txt, BUILT FROM THE CUB TEST CAPTIONS\n"
           "    by `t2ibench vocab build` (step 1 below) -- not the released captions.pickle.\n"
           "  * The evaluators are suites/evaluators/demo_cub.json: torchvision-layout Inception and\n"
           "    DAMSM encoders, also on hash weights. No FID (no reference statistics).\n"
           "  * A second run with suites/models/demo_bird_r1.json (R_NUM 1, also hash weights) is\n"
           "    compared with it; both go into HTML reports under results/report/.\n"
           "  * The runs are stored in %s; rerunning resumes or adds runs.\n",
           db);
    char *v[] = {"vocab", "build", "--captions",
                 "suites/data/cub/test_captions.tsv,suites/data/cub/example_captions.tsv", "--out",
                 "suites/vocab/cub_test.vocab.txt"};
    int rc = step(cmd_vocab_build, 6, v, 1);
    if (rc) return rc;
    mkdir("results", 0777);
    // The demo model, then a second model for the two-run comparison: the same architecture
    // with one residual block per attention stage, also on hash weights.
    static const char *const models[] = {"suites/models/demo_bird.json",
                                         "suites/models/demo_bird_r1.json"};
    for (int m = 0; m < 2; m++) {
        char *r[] = {"run", "--suite", "suites/cub_smoke.suite", "--model", (char *)models[m],
                     "--protocol", "suites/protocols/smoke.json", "--evaluators",
                     "suites/evaluators/demo_cub.json", "--db", (char *)db, "--batch",
                     (char *)batch, "--limit", (char *)limit};
        if ((rc = step(cmd_run, 15, r, 0))) return rc;
    }
    char *l[] = {"list", "--db", (char *)db};
    rc = step(cmd_list, 3, l, 0);
    if (rc) return rc;
    // The two newest runs: the demo model (first) against the second card.
    int64_t last = 0;
    Db d;
    if ((rc = db_open(&d, db, 1)) == T2I_OK) {
        rc = db_run_latest(&d, &last);
        db_close(&d);
    }
    if (rc || last < 2) return cli_fail("demo", rc ? rc : t2i_error(T2I_EDB, "no runs in %s", db));
    char a_id[32], b_id[32];
    snprintf(a_id, sizeof a_id, "%lld", (long long)last - 1);
    snprintf(b_id, sizeof b_id, "%lld", (long long)last);
    char *rp1[] = {"report", a_id, "--db", (char *)db, "--out", "results/report/demo"};
    rc = step(cmd_report, 6, rp1, 0);
    if (rc) return rc;
    char *rp2[] = {"report", a_id, b_id, "--db", (char *)db, "--out", "results/report/compare"};
    rc = step(cmd_report, 7, rp2, 0);
    if (rc) return rc;
    printf("\nreports: results/report/demo/index.html (the demo run) and "
           "results/report/compare/index.html\n(run %s against run %s); open them in a browser.\n",
           a_id, b_id);
    printf("\ndemo finished in %.0f s. Next: `t2ibench show latest`, `t2ibench compare A B`,\n"
           "`t2ibench check --baseline A --fail-on is:-0.05,rp:-1%%`, `t2ibench export latest "
           "--format md`\n(all with --db %s); README.md explains how to use the released AttnGAN "
           "checkpoints.\n",
           now() - t0, db);
    return EXIT_OK;
}
