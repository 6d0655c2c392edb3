// test_harness_shard.c -- scale-out (DESIGN.md §11) through the t2ibench binary (T2I_BIN, default
// build/t2ibench). Run from the repository root.
//
// An 8-sample suite in blocks of 2 (4 blocks) with the demo hash-weight model and an evaluator
// card with FID statistics, so IS, R-precision and FID are all scored:
//   * `run --shard 0/2` and the Slurm array task 1 of 2 (environment only) run blocks {0, 2} and
//     {1, 3}, store their shard and partial metrics, and store per-sample rows identical to an
//     unsharded run's;
//   * `merge` of the two shard databases (in either order) into a database that already holds
//     the unsharded run gives a run whose per-sample rows and metric values/std/n are identical
//     (exact stored values) to the unsharded run's;
//   * merge refuses a missing shard, a duplicated shard and shards with different fingerprints,
//     naming the blocks and files, and leaves the output database's runs untouched;
//   * Slurm (--shard slurm|auto only): SLURM_ARRAY_TASK_MIN offsets the index, step arrays map
//     to consecutive shards, inconsistent variables are errors, one shard count per database
//     (a resubmitted single task is refused), no --shard runs every block; show / list /
//     check say a shard run is partial.
#include "test.h"

#include "fid.h"
#include "t2i.h"

#include <limits.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli_test.h"

// ---- database helpers ----------------------------------------------------------------------


// Per-sample rows of run a (in `pa`) identical to those of run b (in `pb`) for the samples of b:
// returns the number of identical rows (all stored columns but run).
static long long same_rows(const char *pa, long long a, const char *pb, long long b) {
    char sql[1024];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM samples x JOIN a1.samples y ON x.sample = y.sample"
             " WHERE x.run = %lld AND y.run = %lld AND x.block = y.block"
             " AND x.is_logits IS y.is_logits AND x.rp_rank IS y.rp_rank"
             " AND x.rp_scores IS y.rp_scores AND x.fid_feat IS y.fid_feat"
             " AND x.image_sha256 IS y.image_sha256",
             a, b);
    return q_int2(pa, pb, sql);
}

// Metrics of run a (pa) and run b (pb): 1 when the same names with identical value, std, n and
// direction (exact stored doubles), and at least `min` of them.
static int same_metrics(const char *pa, long long a, const char *pb, long long b, int min) {
    char sql[1024];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM metrics WHERE run = %lld", a);
    long long na = q_int(pa, sql);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM metrics WHERE run = %lld", b);
    long long nb = q_int(pb, sql);
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM metrics x JOIN a1.metrics y ON x.name = y.name WHERE"
             " x.run = %lld AND y.run = %lld AND x.value IS y.value AND x.std IS y.std AND"
             " x.n = y.n AND x.direction = y.direction",
             a, b);
    long long same = q_int2(pa, pb, sql);
    if (!(na >= min && na == nb && same == na))
        fprintf(stderr, "    metrics of %s:%lld / %s:%lld: %lld / %lld, identical %lld\n", pa, a,
                pb, b, na, nb, same);
    return na >= min && na == nb && same == na;
}

// ---- fixtures ------------------------------------------------------------------------------

static char SUITE[300], EVAL[300];
#define PROTO "suites/protocols/smoke.json"
#define MODEL "suites/models/demo_bird.json"

static int run_cmd(const char *env, const char *db, const char *proto, const char *extra) {
    return sh("%s %s run --suite %s --model %s --protocol %s --evaluators %s --db %s --limit 8 "
              "--batch 4 -q %s",
              env ? env : "", BIN, SUITE, MODEL, proto, EVAL, db, extra ? extra : "");
}

static char FULL[300], S0[300], S1[300];

// ---- tests ---------------------------------------------------------------------------------

TEST(test_shard_runs) {
    int rc = run_cmd(NULL, FULL, PROTO, NULL);
    CHECKF(rc == 0, "unsharded: %s", OUT);
    CHECK(q_int(FULL, "SELECT count(*) FROM metrics WHERE run = 1 AND name IN "
                      "('images', 'is', 'rp', 'fid')") == 4);
    // Shard 0 of 2 by option; shard 1 of 2 from the Slurm environment (--shard slurm).
    rc = run_cmd(NULL, S0, PROTO, "--shard 0/2");
    CHECKF(rc == 0, "shard 0/2: %s", OUT);
    rc = run_cmd("SLURM_ARRAY_TASK_ID=1 SLURM_ARRAY_TASK_COUNT=2", S1, PROTO, "--shard slurm");
    CHECKF(rc == 0, "slurm shard 1/2: %s", OUT);
    char st[64];
    q_text(S0, "SELECT status FROM runs WHERE id = 1", st, sizeof st);
    CHECKF(!strcmp(st, "shard-complete"), "status '%s'", st);
    q_text(S1, "SELECT status FROM runs WHERE id = 1", st, sizeof st);
    CHECKF(!strcmp(st, "shard-complete"), "status '%s'", st);
    // Blocks b % 2 == i only; the shard is recorded in the provenance.
    char blocks[64];
    q_text(S0, "SELECT group_concat(block, ',') FROM (SELECT block FROM blocks ORDER BY block)",
           blocks, sizeof blocks);
    CHECKF(!strcmp(blocks, "0,2"), "shard 0/2 blocks '%s'", blocks);
    q_text(S1, "SELECT group_concat(block, ',') FROM (SELECT block FROM blocks ORDER BY block)",
           blocks, sizeof blocks);
    CHECKF(!strcmp(blocks, "1,3"), "shard 1/2 blocks '%s'", blocks);
    CHECK(q_int(S0, "SELECT count(*) FROM samples") == 4);
    CHECK(q_int(S1, "SELECT count(*) FROM samples") == 4);
    CHECK(q_int(S0, "SELECT json_extract(provenance, '$.run.shard.index') * 100 + "
                    "json_extract(provenance, '$.run.shard.count') FROM runs WHERE id = 1") == 2);
    CHECK(q_int(S1, "SELECT json_extract(provenance, '$.run.shard.index') * 100 + "
                    "json_extract(provenance, '$.run.shard.count') FROM runs WHERE id = 1") == 102);
    // Fingerprints equal to the unsharded run's; per-sample rows identical to its rows.
    CHECK(q_int2(S0, FULL, "SELECT count(*) FROM runs x JOIN a1.runs y ON x.fingerprint = "
                           "y.fingerprint AND x.model_fingerprint = y.model_fingerprint AND "
                           "x.inputs_fingerprint = y.inputs_fingerprint AND x.n_samples = "
                           "y.n_samples AND x.run_key != y.run_key") == 1);
    CHECK(same_rows(S0, 1, FULL, 1) == 4);
    CHECK(same_rows(S1, 1, FULL, 1) == 4);
    // Partial metrics over the shard's own samples, said so by show / list; check refuses.
    CHECK(q_int(S0, "SELECT n FROM metrics WHERE run = 1 AND name = 'images'") == 4);
    rc = sh("%s show 1 --db %s", BIN, S0);
    CHECKF(rc == 0 && strstr(OUT, "shard 0/2 complete") && strstr(OUT, "PARTIAL"), "%s", OUT);
    rc = sh("%s list --db %s", BIN, S1);
    CHECKF(rc == 0 && strstr(OUT, "shard 1/2 complete"), "%s", OUT);
    rc = sh("%s check --db %s --run 1 --baseline 1 --fail-on is:-0.05", BIN, S0);
    CHECKF(rc == 2 && strstr(OUT, "shard 0/2") && strstr(OUT, "merge"), "exit %d: %s", rc, OUT);
}

TEST(test_merge_equals_unsharded) {
    // Into the database that holds the unsharded run (run 1): the merged run is run 2.
    int rc = sh("%s merge --out %s %s %s", BIN, FULL, S0, S1);
    CHECKF(rc == 0 && strstr(OUT, "run 2"), "exit %d: %s", rc, OUT);
    char st[64];
    q_text(FULL, "SELECT status FROM runs WHERE id = 2", st, sizeof st);
    CHECKF(!strcmp(st, "complete"), "status '%s'", st);
    CHECK(q_int(FULL, "SELECT count(*) FROM samples WHERE run = 2") == 8);
    CHECK(q_int(FULL, "SELECT count(*) FROM blocks WHERE run = 2") == 4);
    CHECK(same_rows(FULL, 2, FULL, 1) == 8);
    CHECK(same_metrics(FULL, 2, FULL, 1, 4));   // images, is, rp, fid: exact values
    // ... and those values are the ones of the stored rows (recomputed with the metric library).
    CHECK(run_metrics_consistent(FULL, 1) == 0);
    CHECK(run_metrics_consistent(FULL, 2) == 0);
    CHECK(q_int(FULL, "SELECT count(*) FROM metrics WHERE run = 2 AND name = 'fid' AND value IS NOT NULL") == 1);
    // Same fingerprints as the unsharded run, and the unsharded run's key (not a shard's).
    CHECK(q_int(FULL, "SELECT count(*) FROM runs x JOIN runs y ON x.fingerprint = y.fingerprint"
                      " AND x.model_fingerprint = y.model_fingerprint AND x.run_key = y.run_key"
                      " WHERE x.id = 1 AND y.id = 2") == 1);
    // Timings add up over the shards; provenance lists the inputs, no shard.
    CHECK(q_int(FULL, "SELECT images FROM timings WHERE run = 2 AND stage = 'generate'") == 8);
    CHECK(q_int(FULL, "SELECT json_array_length(provenance, '$.run.merged_from') FROM runs WHERE"
                      " id = 2") == 2);
    CHECK(q_int(FULL, "SELECT json_type(provenance, '$.run.shard') IS NULL FROM runs WHERE"
                      " id = 2") == 1);
    // Input order does not matter; a new output database is created.
    char m2[300];
    snprintf(m2, sizeof m2, "%s/m2.db", T);
    rc = sh("%s merge --out %s %s %s -q", BIN, m2, S1, S0);
    CHECKF(rc == 0, "exit %d: %s", rc, OUT);
    CHECK(same_rows(m2, 1, FULL, 1) == 8);
    CHECK(same_metrics(m2, 1, FULL, 1, 4));
    // The merged run is an ordinary complete run: check against the unsharded one passes.
    rc = sh("%s check --db %s --run 2 --baseline 1 --fail-on is:-0%%,rp:-0%%,fid:+0%%", BIN, FULL);
    CHECKF(rc == 0, "exit %d: %s", rc, OUT);
    rc = sh("%s show 2 --db %s", BIN, FULL);
    CHECKF(rc == 0 && strstr(OUT, "[complete]") && !strstr(OUT, "PARTIAL"), "%s", OUT);
    // A shard run with the evaluator card spelled another way (T/./eval.json) is the same card:
    // merged by content. Merge names the run it picked in each file and creates the missing
    // directories of --out.
    char s1b[300], ev2[400], deep[300];
    snprintf(s1b, sizeof s1b, "%s/shard1b.db", T);
    snprintf(ev2, sizeof ev2, "%s/./eval.json", T);
    snprintf(deep, sizeof deep, "%s/new/dir/m3.db", T);
    rc = sh("%s run --suite %s --model %s --protocol %s --evaluators %s --db %s --limit 8 "
            "--batch 4 -q --shard 1/2",
            BIN, SUITE, MODEL, PROTO, ev2, s1b);
    CHECKF(rc == 0, "%s", OUT);
    rc = sh("%s merge --out %s %s %s", BIN, deep, S0, s1b);
    CHECKF(rc == 0 && strstr(OUT, "using run 1 (shard 0/2, shard-complete") &&
               strstr(OUT, "using run 1 (shard 1/2"),
           "exit %d: %s", rc, OUT);
    CHECK(same_rows(deep, 1, FULL, 1) == 8);
    CHECK(same_metrics(deep, 1, FULL, 1, 4));
}

TEST(test_merge_refusals) {
    long long runs = q_int(FULL, "SELECT count(*) FROM runs");
    long long samples = q_int(FULL, "SELECT count(*) FROM samples");
    long long metrics = q_int(FULL, "SELECT count(*) FROM metrics");
    CHECK(runs == 2 && samples == 16);
    // A missing shard: block 1 and shard 1/2 named, with the input file.
    int rc = sh("%s merge --out %s %s", BIN, FULL, S0);
    CHECKF(rc == 2 && strstr(OUT, "blocks 1, 3") && strstr(OUT, "missing shard 1/2") &&
               strstr(OUT, S0),
           "exit %d: %s", rc, OUT);
    // ... into a new file: nothing is left behind (no schema-only database, no temp file).
    char never[300];
    snprintf(never, sizeof never, "%s/never.db", T);
    rc = sh("%s merge --out %s %s", BIN, never, S0);
    CHECK(rc == 2 && access(never, F_OK) != 0);
    rc = sh("ls %s | grep -c never", T);
    CHECKF(atoi(OUT) == 0, "%s", OUT);
    // A duplicated shard (a copy of shard 0): each duplicated block with both files.
    char dup[300];
    snprintf(dup, sizeof dup, "%s/dup.db", T);
    rc = sh("cp %s %s", S0, dup);
    CHECK(rc == 0);
    rc = sh("%s merge --out %s %s %s %s", BIN, FULL, S0, S1, dup);
    CHECKF(rc == 2 && strstr(OUT, "duplicated") && strstr(OUT, "block 0 is in both") &&
               strstr(OUT, "block 2 is in both") && strstr(OUT, "dup.db") && strstr(OUT, S0),
           "exit %d: %s", rc, OUT);
    // The same file twice.
    rc = sh("%s merge --out %s %s %s %s", BIN, FULL, S0, S1, S1);
    CHECKF(rc == 2 && strstr(OUT, "block 1 is in both"), "exit %d: %s", rc, OUT);
    // Different fingerprints: shard 1/4 under another protocol file (IS with 2 splits). The
    // Slurm variables are inconsistent, but --shard overrides them.
    char p2[300], x1[300];
    snprintf(p2, sizeof p2, "%s/smoke2.json", T);
    snprintf(x1, sizeof x1, "%s/x1.db", T);
    CHECK(patch_file(PROTO, p2, "\"splits\": 4", "\"splits\": 2"));
    rc = run_cmd("SLURM_ARRAY_TASK_ID=7 SLURM_ARRAY_TASK_COUNT=2", x1, p2, "--shard 1/4");
    CHECKF(rc == 0, "%s", OUT);
    rc = sh("%s merge --out %s %s %s", BIN, FULL, S0, x1);
    CHECKF(rc == 2 && strstr(OUT, "not shards of the same run") && strstr(OUT, "fingerprint") &&
               strstr(OUT, "x1.db") && strstr(OUT, S0),
           "exit %d: %s", rc, OUT);
    // Nothing was written to the output database.
    CHECK(q_int(FULL, "SELECT count(*) FROM runs") == runs);
    CHECK(q_int(FULL, "SELECT count(*) FROM samples") == samples);
    CHECK(q_int(FULL, "SELECT count(*) FROM metrics") == metrics);
    CHECK(same_metrics(FULL, 2, FULL, 1, 4));
    // A file without runs / a missing file.
    char none[300];
    snprintf(none, sizeof none, "%s/none.db", T);
    rc = sh("%s merge --out %s %s", BIN, FULL, none);
    CHECKF(rc == 2 && strstr(OUT, "none.db"), "exit %d: %s", rc, OUT);
    rc = sh("%s merge %s", BIN, S0);
    CHECK(rc == 4);
}

TEST(test_slurm_environment) {
    // SLURM_ARRAY_TASK_MIN offsets the task id: task 5 of an array 4-6 is shard 1/3.
    char db[300], db2[300], db3[300];
    snprintf(db, sizeof db, "%s/slurm.db", T);
    snprintf(db2, sizeof db2, "%s/slurm2.db", T);
    snprintf(db3, sizeof db3, "%s/slurm3.db", T);
    int rc = run_cmd("SLURM_ARRAY_TASK_ID=5 SLURM_ARRAY_TASK_MIN=4 SLURM_ARRAY_TASK_COUNT=3", db,
                     PROTO, "--shard slurm");
    CHECKF(rc == 0, "%s", OUT);
    CHECK(q_int(db, "SELECT json_extract(provenance, '$.run.shard.index') * 100 + "
                    "json_extract(provenance, '$.run.shard.count') FROM runs WHERE id = 1") == 103);
    char blocks[64];
    q_text(db, "SELECT group_concat(block, ',') FROM blocks", blocks, sizeof blocks);
    CHECKF(!strcmp(blocks, "1"), "blocks '%s'", blocks);
    CHECK(same_rows(db, 1, FULL, 1) == 2);
    // A resubmitted single task (--array=1: COUNT 1) is shard 0/1: refused in a database that
    // holds shards of 3 of the same run, naming the run and the shard count.
    rc = run_cmd("SLURM_ARRAY_TASK_ID=1 SLURM_ARRAY_TASK_MIN=1 SLURM_ARRAY_TASK_MAX=1 "
                 "SLURM_ARRAY_TASK_COUNT=1", db, PROTO, "--shard slurm");
    CHECKF(rc == 2 && strstr(OUT, "shard 1/3") && strstr(OUT, "--shard I/3"), "exit %d: %s", rc,
           OUT);
    rc = run_cmd(NULL, db, PROTO, NULL);
    CHECKF(rc == 2 && strstr(OUT, "already holds run 1"), "exit %d: %s", rc, OUT);
    // Step arrays: --array=0-4:2 is tasks 0, 2, 4 = shards 0, 1, 2 of 3.
    rc = run_cmd("SLURM_ARRAY_TASK_ID=2 SLURM_ARRAY_TASK_MIN=0 SLURM_ARRAY_TASK_MAX=4 "
                 "SLURM_ARRAY_TASK_STEP=2 SLURM_ARRAY_TASK_COUNT=3", db2, PROTO, "--shard slurm");
    CHECKF(rc == 0, "%s", OUT);
    CHECK(q_int(db2, "SELECT json_extract(provenance, '$.run.shard.index') * 100 + "
                     "json_extract(provenance, '$.run.shard.count') FROM runs WHERE id = 1") == 103);
    q_text(db2, "SELECT group_concat(block, ',') FROM blocks", blocks, sizeof blocks);
    CHECKF(!strcmp(blocks, "1"), "blocks '%s'", blocks);
    // Inconsistent environments are errors naming the variables (before any work): a task off
    // the step, MAX not MIN + (COUNT-1) * STEP (a list such as --array=0,3,5), COUNT missing.
    rc = run_cmd("SLURM_ARRAY_TASK_ID=1 SLURM_ARRAY_TASK_MAX=4 SLURM_ARRAY_TASK_STEP=2 "
                 "SLURM_ARRAY_TASK_COUNT=3", db3, PROTO, "--shard slurm");
    CHECKF(rc == 2 && strstr(OUT, "STEP") && strstr(OUT, "--shard I/N"), "exit %d: %s", rc, OUT);
    rc = run_cmd("SLURM_ARRAY_TASK_ID=3 SLURM_ARRAY_TASK_MAX=5 SLURM_ARRAY_TASK_COUNT=3", db3,
                 PROTO, "--shard auto");
    CHECKF(rc == 2 && strstr(OUT, "MAX 5"), "exit %d: %s", rc, OUT);
    rc = run_cmd("SLURM_ARRAY_TASK_ID=3 SLURM_ARRAY_TASK_COUNT=2", db3, PROTO, "--shard slurm");
    CHECKF(rc == 2 && strstr(OUT, "SLURM_ARRAY_TASK") && strstr(OUT, "--shard"),
           "exit %d: %s", rc, OUT);
    rc = run_cmd("SLURM_ARRAY_TASK_ID=0 SLURM_ARRAY_TASK_COUNT=", db3, PROTO, "--shard slurm");
    CHECKF(rc == 2 && strstr(OUT, "SLURM_ARRAY_TASK_COUNT"), "exit %d: %s", rc, OUT);
    // --shard slurm outside an array task is an error; --shard auto runs every block.
    rc = run_cmd(NULL, db3, PROTO, "--shard slurm");
    CHECKF(rc == 2 && strstr(OUT, "not a Slurm array task"), "exit %d: %s", rc, OUT);
    CHECK(q_int(db3, "SELECT count(*) FROM runs") <= 0);
    // Without --shard, an array task runs every block (a model sweep).
    rc = run_cmd("SLURM_ARRAY_TASK_ID=1 SLURM_ARRAY_TASK_COUNT=2", db3, PROTO, NULL);
    CHECKF(rc == 0, "exit %d: %s", rc, OUT);
    CHECK(q_int(db3, "SELECT count(*) FROM blocks") == 4);
    // Bad FID statistics are found before the first sample (no run row, nothing computed).
    char bad_ev[300], db4[300];
    snprintf(bad_ev, sizeof bad_ev, "%s/bad_stats_eval.json", T);
    snprintf(db4, sizeof db4, "%s/badstats.db", T);
    char *card = read_all(EVAL);
    CHECK(card != NULL);
    if (card) {
        char *q = strstr(card, "\"statistics\": \"");
        if (q) {
            q += strlen("\"statistics\": \"");
            char *e = strchr(q, '"');
            char rep[4096];
            snprintf(rep, sizeof rep, "%.*s%s%s", (int)(q - card), card, SUITE, e);
            write_file(bad_ev, rep);
            rc = sh("%s run --suite %s --model %s --protocol %s --evaluators %s --db %s --limit 8 "
                    "-q",
                    BIN, SUITE, MODEL, PROTO, bad_ev, db4);
            CHECKF(rc == 2 && strstr(OUT, "FID statistics"), "exit %d: %s", rc, OUT);
            CHECK(q_int(db4, "SELECT count(*) FROM runs") <= 0);
        } else {
            CHECKF(0, "no \"statistics\" in %s", EVAL);
        }
        t2i_free(card);
    }
    // Bad --shard values are usage errors.
    rc = run_cmd(NULL, db, PROTO, "--shard 2/2");
    CHECK(rc == 4);
    rc = run_cmd(NULL, db, PROTO, "--shard x");
    CHECK(rc == 4);
}

int main(void) {
    BIN = getenv("T2I_BIN") && *getenv("T2I_BIN") ? getenv("T2I_BIN") : "build/t2ibench";
    snprintf(T, sizeof T, "/tmp/t2ishard_%d", (int)getpid());
    mkdir(T, 0777);
    snprintf(SUITE, sizeof SUITE, "%s/t.suite", T);
    snprintf(FULL, sizeof FULL, "%s/full.db", T);
    snprintf(S0, sizeof S0, "%s/shard0.db", T);
    snprintf(S1, sizeof S1, "%s/shard1.db", T);
    int rc = sh("%s suite freeze --captions suites/data/cub/test_captions.tsv --protocol %s "
                "--vocab suites/vocab/cub_test.vocab.txt --dataset cub --seed 7 --images 8 "
                "--block-size 2 --name t --out %s",
                BIN, PROTO, SUITE);
    if (rc != 0 || !make_fid_eval_card(EVAL, sizeof EVAL)) {
        fprintf(stderr, "cannot set up the test suite / evaluator card: %s\n", OUT);
        test_failed++;
        return test_report("test_harness_shard");
    }
    RUN(test_shard_runs);
    RUN(test_merge_equals_unsharded);
    RUN(test_merge_refusals);
    RUN(test_slurm_environment);
    if (!test_failed) sh("rm -rf %s", T);
    return test_report("test_harness_shard");
}
