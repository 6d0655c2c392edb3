// bench_run.c -- `t2ibench bench run`: the end-to-end figure users feel (see bench.h). The run is
// an ordinary runner_run() into a scratch database under /tmp that is removed afterwards.
#include "bench.h"
#include "db.h"
#include "results.h"
#include "runner.h"
#include "t2i.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define RUN_SUITE "suites/cub_smoke.suite"
#define RUN_MODEL "suites/models/demo_bird.json"
#define RUN_PROTOCOL "suites/protocols/smoke.json"
#define RUN_EVALUATORS "suites/evaluators/demo_cub.json"

// Removes the database and its -wal/-shm/-journal companions (files this bench created).
static void remove_db(const char *db) {
    static const char *const sfx[] = {"", "-wal", "-shm", "-journal"};
    char p[600];
    for (size_t i = 0; i < sizeof sfx / sizeof *sfx; i++) {
        snprintf(p, sizeof p, "%s%s", db, sfx[i]);
        unlink(p);
    }
}

double bench_pipeline_gmacs(void) {
    // text encoders: the caption, then the true and 99 mismatched captions (18 words each)
    double text = 101.0 * 18 * bench_gmacs("RNN_ENCODER_bird", "macs_per_token", 0) * 1e-9;
    return bench_gmacs("G_NET_bird", "gmacs_per_image", 0) +
           bench_gmacs("inception_v3_torchvision", "gmacs_per_image", 0) +
           bench_gmacs("CNN_ENCODER", "gmacs_per_image", 0) + text;
}

int bench_run(const BenchOpts *o) {
    struct stat sb;
    if (stat(RUN_SUITE, &sb) != 0)
        return t2i_error(T2I_EIO, "bench run: %s not found: run it from the repository root",
                         RUN_SUITE);
    char dir[] = "/tmp/t2ibench-bench-XXXXXX";
    if (!mkdtemp(dir)) return t2i_error(T2I_EIO, "bench run: mkdtemp: %s", strerror(errno));
    char db[600];
    snprintf(db, sizeof db, "%s/run.db", dir);
    RunOpts ro = {.suite = RUN_SUITE, .model = RUN_MODEL, .protocol = RUN_PROTOCOL,
                  .evaluators = RUN_EVALUATORS, .db = db, .limit = o->limit > 0 ? o->limit : 32,
                  .batch = o->batch, .threads = o->threads, .quiet = 1};
    int64_t id = 0;
    int     rc = runner_run(&ro, &id);
    Db      d;
    memset(&d, 0, sizeof d);
    ResRun  r;
    memset(&r, 0, sizeof r);
    if (!rc) rc = db_open(&d, db, 1);
    if (!rc) rc = res_load(&d, id, &r);
    if (!rc) {
        const ResMetric *tot = res_metric(&r, "time.total");
        if (!tot || !(tot->value > 0) || tot->n < 1)
            rc = t2i_error(T2I_EDB, "bench run: the run stored no total time");
        else
            bench_report(o, "end to end (bench run)", o->batch, (int)tot->n,
                         tot->value * (double)tot->n,
                         bench_pipeline_gmacs());
    }
    res_free(&r);
    db_close(&d);
    remove_db(db);
    rmdir(dir);
    return rc;
}
