// test_runs.c -- runs under real use (issue 13), through the t2ibench binary (T2I_BIN, default
// build/t2ibench). Run from the repository root.
//
// Covers: a signal in the middle of a block stops the run at the next sample boundary (state,
// not time: the run is "interrupted", fewer than a block of samples were computed after the
// signal, the finished ones are committed), and the resumed run stores exactly the numbers of
// an uninterrupted one; SIGTERM does the same; a run killed with SIGKILL is listed as "stale"
// and resumed by the same command; a second identical command refuses a run that a live
// process computes and names it; progress lines without a terminal (done/total, images/s,
// ETA) and -q silencing them; rerunning a complete run is a no-op and --new starts another;
// `t2ibench help CMD` prints `t2ibench CMD --help`; the sample-set digest is stored.
#include "test.h"

#include "scoring.h"
#include "t2i.h"

#include <signal.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli_test.h"

#define SUITE "suites/cub_smoke.suite"   // blocks of 16 samples
#define PROTO "suites/protocols/smoke.json"
#define MODEL "suites/models/demo_bird.json"
#define EVAL "suites/evaluators/demo_cub.json"
#define LIMIT 16                         // one block

static char REF[300];   // database of the uninterrupted reference run (run 1)

static void nap_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

// Starts `t2ibench run` on db in the background, stderr into errf (not a terminal).
static pid_t spawn(const char *db, const char *errf, const char *extra) {
    pid_t pid = fork();
    if (pid == 0) {
        char cmd[2048];
        snprintf(cmd, sizeof cmd,
                 "exec %s run --suite %s --model %s --protocol %s --evaluators %s --db %s "
                 "--limit %d --batch 1 --threads 2 %s >/dev/null 2>%s",
                 BIN, SUITE, MODEL, PROTO, EVAL, db, LIMIT, extra ? extra : "", errf);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    return pid;
}

// Progress lines in text s.
static int logged_count(const char *s) {
    int n = 0;
    for (const char *p = s; (p = strstr(p, "/16 samples (")); p++) n++;
    return n;
}

static int run_sync(const char *db, const char *extra) {
    return sh("%s run --suite %s --model %s --protocol %s --evaluators %s --db %s --limit %d "
              "--batch 1 --threads 2 %s",
              BIN, SUITE, MODEL, PROTO, EVAL, db, LIMIT, extra ? extra : "");
}

// The largest D of the progress lines "D/16 samples" in file f (-1 when none).
static long logged_done(const char *f) {
    char *s = read_all(f);
    long best = -1;
    for (const char *p = s; p && (p = strstr(p, "/16 samples")); p++) {
        const char *q = p;
        while (q > s && q[-1] >= '0' && q[-1] <= '9') q--;
        long v = strtol(q, NULL, 10);
        if (q < p && v > best) best = v;
    }
    t2i_free(s);
    return best;
}

// Waits until the progress log of child shows at least `n` samples done; 0 if it exits first.
static int wait_logged(const char *f, long n, pid_t child) {
    for (int i = 0; i < 30000; i++) {
        if (logged_done(f) >= n) return 1;
        int st;
        if (waitpid(child, &st, WNOHANG) == child) return 0;
        nap_ms(10);
    }
    return 0;
}

static int wait_exit(pid_t pid) {
    int st = 0;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

// Runs of two databases store bit-identical per-sample outputs and metrics.
static int same_as_ref(const char *db, long long run) {
    char sql[1024];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM samples x JOIN a1.samples y ON x.sample = y.sample"
             " WHERE x.run = %lld AND y.run = 1 AND x.is_logits IS y.is_logits"
             " AND x.rp_rank IS y.rp_rank AND x.rp_scores IS y.rp_scores"
             " AND x.image_sha256 IS y.image_sha256 AND x.checksum IS y.checksum",
             run);
    long long same = q_int2(db, REF, sql);
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM metrics x JOIN a1.metrics y ON x.name = y.name WHERE x.run = "
             "%lld AND y.run = 1 AND x.value IS y.value AND x.std IS y.std AND x.n = y.n",
             run);
    long long msame = q_int2(db, REF, sql);
    if (same != LIMIT || msame != 3)
        fprintf(stderr, "    run %lld vs reference: %lld identical samples, %lld metrics\n", run,
                same, msame);
    return same == LIMIT && msame == 3;
}

static void status_of(const char *db, long long run, char *st, size_t n) {
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT status FROM runs WHERE id = %lld", run);
    q_text(db, sql, st, n);
}

// ---- tests ---------------------------------------------------------------------------------

TEST(test_reference_progress_and_noop_rerun) {
    // Progress lines without a terminal: every 4 samples, with done/total, images/s and ETA.
    int rc = run_sync(REF, "--log-interval 4samples");
    CHECKF(rc == 0, "%s", OUT);
    CHECKF(strstr(OUT, "t2ibench: run 1: ") && logged_count(OUT) >= 3 && strstr(OUT, "images/s") &&
               strstr(OUT, "ETA") && strstr(OUT, "16/16 samples (100%)"),
           "%s", OUT);
    char set[128];
    q_text(REF, "SELECT sample_set FROM runs WHERE id = 1", set, sizeof set);
    int64_t ids[LIMIT];
    for (int i = 0; i < LIMIT; i++) ids[i] = i;
    char want[SCORING_SAMPLE_SET_LEN];
    scoring_sample_set(ids, LIMIT, want);
    CHECKF(strcmp(set, want) == 0 && strncmp(set, "16:", 3) == 0, "sample_set '%s'", set);
    // Reading commands leave no -wal/-shm files beside the database.
    char wal[320], shm[320];
    snprintf(wal, sizeof wal, "%s-wal", REF);
    snprintf(shm, sizeof shm, "%s-shm", REF);
    rc = sh("%s list --db %s && %s show 1 --db %s", BIN, REF, BIN, REF);
    CHECKF(rc == 0 && access(wal, F_OK) != 0 && access(shm, F_OK) != 0, "%s", OUT);
    // The same command again: "run 1 is complete", exit 0, nothing computed or added.
    long long gen = q_int(REF, "SELECT images FROM timings WHERE run = 1 AND stage = 'generate'");
    rc = run_sync(REF, NULL);
    CHECKF(rc == 0 && strstr(OUT, "run 1 is complete"), "exit %d: %s", rc, OUT);
    CHECK(q_int(REF, "SELECT count(*) FROM runs") == 1);
    CHECK(q_int(REF, "SELECT images FROM timings WHERE run = 1 AND stage = 'generate'") == gen);
    // -q: no progress lines (and no other chatter on stderr); --new: a fresh run with the same
    // numbers.
    char db[300];
    snprintf(db, sizeof db, "%s/q.db", T);
    for (int i = 0; i < 2; i++) {
        rc = sh("%s run --suite %s --model %s --protocol %s --evaluators %s --db %s --limit 4 "
                "--batch 1 --log-interval 1samples -q %s 2>&1 >/dev/null",
                BIN, SUITE, MODEL, PROTO, EVAL, db, i ? "--new" : "");
        CHECKF(rc == 0 && OUT[0] == 0, "exit %d: '%s'", rc, OUT);
    }
    CHECK(q_int(db, "SELECT count(*) FROM runs") == 2);
    CHECK(q_int(db, "SELECT count(*) FROM samples x JOIN samples y ON x.sample = y.sample AND"
                    " x.run = 1 AND y.run = 2 AND x.checksum = y.checksum") == 4);
}

// A signal while block 0 (16 samples) is in flight: the run stops at the next sample boundary.
static void interrupt_mid_block(int sig, const char *name) {
    char db[300], err[300];
    snprintf(db, sizeof db, "%s/%s.db", T, name);
    snprintf(err, sizeof err, "%s/%s.err", T, name);
    pid_t pid = spawn(db, err, "--log-interval 1samples");
    CHECK(pid > 0);
    int got = wait_logged(err, 2, pid);
    CHECKF(got, "the run ended before 2 samples were logged");
    long at_signal = logged_done(err);
    kill(pid, sig);
    int code = wait_exit(pid);
    CHECKF(code == 130, "%s: exit %d", name, code);
    char st[32];
    status_of(db, 1, st, sizeof st);
    CHECKF(strcmp(st, "interrupted") == 0, "%s: status '%s'", name, st);
    long long stored = q_int(db, "SELECT count(*) FROM samples WHERE run = 1");
    long long computed = q_int(db, "SELECT images FROM timings WHERE run = 1 AND stage = 'generate'");
    // Committed: at least what was finished when the signal came; the block is not done.
    CHECKF(stored >= at_signal && stored < LIMIT, "%s: %lld stored, %ld done at the signal", name,
           stored, at_signal);
    CHECK(q_int(db, "SELECT count(*) FROM blocks WHERE run = 1") == 0);
    // Fewer than a block's samples were computed after the signal (2 workers, batch 1: at most
    // the 2 samples in flight).
    CHECKF(computed - at_signal < LIMIT && computed - at_signal <= 2,
           "%s: %lld computed in all, %ld at the signal", name, computed, at_signal);
    char *log = read_all(err);
    CHECKF(log && strstr(log, "interrupted: run 1 stopped with") && strstr(log, "committed"),
           "%s", log ? log : "");
    t2i_free(log);
    CHECK(q_int(db, "SELECT count(*) FROM runs WHERE owner_pid IS NOT NULL") == 0);
    // The same command resumes it (computing only the missing samples) = the reference; with
    // --images-out it says that the images of the earlier invocation's samples are missing.
    char extra[400];
    snprintf(extra, sizeof extra, "-q --images-out %s/img_%s", T, name);
    int rc = run_sync(db, extra);
    char want[64];
    snprintf(want, sizeof want, "lacks the images of %lld samples", stored);
    CHECKF(rc == 0 && strstr(OUT, want), "%s", OUT);
    status_of(db, 1, st, sizeof st);
    CHECK(strcmp(st, "complete") == 0);
    CHECK(q_int(db, "SELECT count(*) FROM runs") == 1);
    CHECK(same_as_ref(db, 1));
    long long total = q_int(db, "SELECT images FROM timings WHERE run = 1 AND stage = 'generate'");
    CHECKF(total - computed == LIMIT - stored, "%lld generated on resume, %lld were missing",
           total - computed, LIMIT - stored);
}

TEST(test_sigint_mid_block) { interrupt_mid_block(SIGINT, "int"); }
TEST(test_sigterm_mid_block) { interrupt_mid_block(SIGTERM, "term"); }

TEST(test_stale_after_sigkill_and_one_owner) {
    char db[300], err[300];
    snprintf(db, sizeof db, "%s/kill.db", T);
    snprintf(err, sizeof err, "%s/kill.err", T);
    pid_t pid = spawn(db, err, "--log-interval 1samples");
    CHECK(wait_logged(err, 1, pid));
    // A second identical command refuses the run the first one computes, naming its process.
    int rc = run_sync(db, NULL);
    char want[64];
    snprintf(want, sizeof want, "being computed by process %d", (int)pid);
    CHECKF(rc == 2 && strstr(OUT, want) && strstr(OUT, "nothing was done"), "exit %d: %s", rc,
           OUT);
    CHECK(q_int(db, "SELECT count(*) FROM runs") == 1);
    rc = sh("%s list --db %s", BIN, db);
    CHECKF(rc == 0 && strstr(OUT, "running") && !strstr(OUT, "stale"), "%s", OUT);
    kill(pid, SIGKILL);
    wait_exit(pid);
    // The row still says "running"; list and show say "stale".
    char st[32];
    status_of(db, 1, st, sizeof st);
    CHECK(strcmp(st, "running") == 0);
    rc = sh("%s list --db %s", BIN, db);
    CHECKF(rc == 0 && strstr(OUT, "stale") && !strstr(OUT, "running"), "%s", OUT);
    rc = sh("%s show 1 --db %s", BIN, db);
    CHECKF(strstr(OUT, "stale"), "%s", OUT);
    // The same command resumes the stale run and says so.
    rc = run_sync(db, NULL);
    CHECKF(rc == 0 && strstr(OUT, "stale") && strstr(OUT, "resuming run 1"), "exit %d: %s", rc,
           OUT);
    status_of(db, 1, st, sizeof st);
    CHECK(strcmp(st, "complete") == 0);
    CHECK(same_as_ref(db, 1));
}

// A copy of the reference database whose run 1 is "running", owned by a process on another
// host with its last commit `age` ago (an SQLite modifier such as '-0 seconds').
static int owned_elsewhere(const char *db, const char *age) {
    char sql[400];
    snprintf(sql, sizeof sql,
             "UPDATE runs SET status = 'running', owner_pid = 4194309,"
             " owner_host = 'elsewhere.example',"
             " heartbeat = strftime('%%Y-%%m-%%dT%%H:%%M:%%SZ', 'now', '%s') WHERE id = 1",
             age);
    if (sh("cp %s %s", REF, db) != 0) return 0;
    sqlite3 *d = NULL;
    int ok = sqlite3_open(db, &d) == SQLITE_OK && sqlite3_exec(d, sql, NULL, NULL, NULL) == SQLITE_OK && sqlite3_changes(d) == 1;
    sqlite3_close(d);
    return ok;
}

// An owner on another host cannot be checked from here: a recent commit makes the run refuse
// (--takeover overrides), one over an hour old lets it resume.
TEST(test_owner_on_another_host) {
    char db[300], st[32];
    snprintf(db, sizeof db, "%s/host.db", T);
    CHECK(owned_elsewhere(db, "-0 seconds"));
    int rc = run_sync(db, "-q");
    CHECKF(rc == 2 && strstr(OUT, "elsewhere.example") && strstr(OUT, "cannot check") &&
               strstr(OUT, "nothing was done"),
           "exit %d: %s", rc, OUT);
    status_of(db, 1, st, sizeof st);
    CHECK(strcmp(st, "running") == 0);
    rc = run_sync(db, "-q --takeover");
    CHECKF(rc == 0, "exit %d: %s", rc, OUT);
    status_of(db, 1, st, sizeof st);
    CHECK(strcmp(st, "complete") == 0 && same_as_ref(db, 1));
    CHECK(owned_elsewhere(db, "-2 hours"));
    rc = run_sync(db, NULL);
    CHECKF(rc == 0 && strstr(OUT, "resuming run 1"), "exit %d: %s", rc, OUT);
    status_of(db, 1, st, sizeof st);
    CHECK(strcmp(st, "complete") == 0 && same_as_ref(db, 1));
}

// A run whose status is "shard-complete" is complete: the same command does nothing.
TEST(test_shard_complete_is_complete) {
    char db[300];
    snprintf(db, sizeof db, "%s/shdone.db", T);
    CHECK(owned_elsewhere(db, "-0 seconds"));
    sqlite3 *d = NULL;
    CHECK(sqlite3_open(db, &d) == SQLITE_OK &&
          sqlite3_exec(d, "UPDATE runs SET status = 'shard-complete', owner_pid = NULL", NULL,
                       NULL, NULL) == SQLITE_OK);
    sqlite3_close(d);
    int rc = run_sync(db, NULL);
    CHECKF(rc == 0 && strstr(OUT, "run 1 is complete") && !strstr(OUT, "resuming"), "exit %d: %s",
           rc, OUT);
    char st[32];
    status_of(db, 1, st, sizeof st);
    CHECK(strcmp(st, "shard-complete") == 0);
}

// --resume N continues run N only with the inputs it was started with (here another --limit),
// and refuses a complete run; nothing is changed.
TEST(test_resume_checks_the_run) {
    char db[300];
    snprintf(db, sizeof db, "%s/resume.db", T);
    CHECK(sh("cp %s %s", REF, db) == 0);
    int rc = sh("%s run --suite %s --model %s --protocol %s --evaluators %s --db %s --limit 8 "
                "--batch 1 --resume 1 -q",
                BIN, SUITE, MODEL, PROTO, EVAL, db);
    CHECKF(rc == 2 && strstr(OUT, "--resume 1") && strstr(OUT, "other inputs"), "exit %d: %s", rc,
           OUT);
    rc = run_sync(db, "--resume 1 -q");
    CHECKF(rc == 2 && strstr(OUT, "already complete"), "exit %d: %s", rc, OUT);
    CHECK(q_int(db, "SELECT count(*) FROM runs") == 1);
}

// An interrupted run whose blocks are all done: resuming does no work and its progress counts
// each stored sample once (16 of 16, not the done block's samples again as partial ones).
TEST(test_resume_counts_done_blocks_once) {
    char db[300];
    snprintf(db, sizeof db, "%s/counted.db", T);
    CHECK(sh("cp %s %s", REF, db) == 0);
    sqlite3 *d = NULL;
    CHECK(sqlite3_open(db, &d) == SQLITE_OK &&
          sqlite3_exec(d, "UPDATE runs SET status = 'interrupted' WHERE id = 1", NULL, NULL,
                       NULL) == SQLITE_OK);
    sqlite3_close(d);
    long long gen = q_int(db, "SELECT images FROM timings WHERE run = 1 AND stage = 'generate'");
    // The done blocks' rows (their measured seconds) are not committed a second time.
    const char *blocks_sql = "SELECT group_concat(block || ':' || state || ':' || samples || ':' "
                             "|| quote(seconds), ',') FROM (SELECT * FROM blocks WHERE run = 1 "
                             "ORDER BY block)";
    char before[4096], after[4096];
    q_text(db, blocks_sql, before, sizeof before);
    int rc = run_sync(db, NULL);
    CHECKF(rc == 0 && strstr(OUT, "resuming run 1") && strstr(OUT, " 16/16 samples") &&
               !strstr(OUT, "32/16"),
           "exit %d: %s", rc, OUT);
    CHECK(q_int(db, "SELECT images FROM timings WHERE run = 1 AND stage = 'generate'") == gen);
    q_text(db, blocks_sql, after, sizeof after);
    CHECKF(before[0] && strcmp(before, after) == 0, "blocks before %s, after %s", before, after);
}

TEST(test_sample_sets_and_stored_bytes) {
    // q.db holds two 4-sample runs (test_reference_progress_and_noop_rerun); a 2-sample run of
    // the same inputs has another sample set: compare and check refuse it, naming both.
    char db[300], js[300];
    snprintf(db, sizeof db, "%s/q.db", T);
    snprintf(js, sizeof js, "%s/ref16.json", T);
    int rc = sh("%s run --suite %s --model %s --protocol %s --evaluators %s --db %s --limit 2 "
                "--batch 1 -q 2>/dev/null",
                BIN, SUITE, MODEL, PROTO, EVAL, db);
    CHECKF(rc == 0, "%s", OUT);
    rc = sh("%s compare 1 3 --db %s", BIN, db);
    CHECKF(rc == 2 && strstr(OUT, "different sample sets"), "exit %d: %s", rc, OUT);
    rc = sh("%s check --db %s --run 3 --baseline 1 --fail-on is:-1", BIN, db);
    CHECKF(rc == 2 && strstr(OUT, "different sample sets"), "exit %d: %s", rc, OUT);
    // ... also against an exported baseline (the digest travels in the JSON).
    rc = sh("%s export 1 --db %s --out %s", BIN, REF, js);
    CHECK(rc == 0);
    rc = sh("%s check --db %s --run 1 --baseline %s --fail-on is:-1", BIN, db, js);
    CHECKF(rc == 2 && (strstr(OUT, "covers 16 samples") || strstr(OUT, "has 16")), "exit %d: %s",
           rc, OUT);
    rc = sh("%s compare 1 2 --db %s", BIN, db);
    CHECKF(rc == 0 && strstr(OUT, "IS ") && strstr(OUT, "RP (%)"), "exit %d: %s", rc, OUT);
    // Names: the table's "IS" is what --fail-on takes; a failing rule says REGRESSION once.
    rc = sh("%s check --db %s --run 2 --baseline 1 --fail-on IS:-0,RP:-0,time.total:+1000000%%",
            BIN, db);
    CHECKF(rc == 0 && strstr(OUT, "timing rules:") && strstr(OUT, "check: pass"), "exit %d: %s",
           rc, OUT);
    // A flipped byte in a stored output: check notices it by the row checksum.
    char cp[300];
    snprintf(cp, sizeof cp, "%s/flip.db", T);
    rc = sh("cp %s %s", db, cp);
    sqlite3 *d = NULL;
    CHECK(sqlite3_open(cp, &d) == SQLITE_OK);
    CHECK(sqlite3_exec(d, "UPDATE samples SET is_logits = substr(is_logits, 1, 7) || x'ff' || "
                          "substr(is_logits, 9) WHERE run = 2 AND sample = 1",
                       NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(d);
    rc = sh("%s check --db %s --run 2 --baseline 1 --fail-on is:-1", BIN, cp);
    CHECKF(rc == 2 && strstr(OUT, "sample 1 do not match their checksum"), "exit %d: %s", rc, OUT);
    // A damaged page: check refuses the database (PRAGMA quick_check) instead of trusting it.
    rc = sh("cp %s %s && dd if=/dev/urandom of=%s bs=1024 seek=5 count=3 conv=notrunc 2>/dev/null",
            db, cp, cp);
    CHECK(rc == 0);
    rc = sh("%s check --db %s --run 2 --baseline 1 --fail-on is:-1", BIN, cp);
    CHECKF(rc == 2 && (strstr(OUT, "damaged") || strstr(OUT, "malformed")), "exit %d: %s", rc,
           OUT);
    // Inputs must be regular files: /dev/zero and a FIFO are refused at once, naming them.
    char fifo[300];
    snprintf(fifo, sizeof fifo, "%s/fifo", T);
    CHECK(mkfifo(fifo, 0600) == 0);
    const char *bad[] = {"/dev/zero", fifo};
    for (int i = 0; i < 2; i++) {
        rc = sh("timeout 60 %s run --suite %s --model %s --protocol %s --evaluators %s --db %s "
                "--limit 2 -q",
                BIN, SUITE, MODEL, bad[i], EVAL, db);
        CHECKF(rc == 2 && strstr(OUT, bad[i]) && strstr(OUT, "not a regular file"),
               "exit %d: %s", rc, OUT);
    }
    CHECK(q_int(db, "SELECT count(*) FROM runs") == 3);
    // A foreign SQLite file is refused before anything in it changes (no switch to WAL).
    char foreign[300];
    snprintf(foreign, sizeof foreign, "%s/foreign.db", T);
    sqlite3 *f = NULL;
    CHECK(sqlite3_open(foreign, &f) == SQLITE_OK &&
          sqlite3_exec(f, "CREATE TABLE notes(x); INSERT INTO notes VALUES (1);", NULL, NULL,
                       NULL) == SQLITE_OK);
    sqlite3_close(f);
    rc = sh("%s run --suite %s --model %s --protocol %s --evaluators %s --db %s --limit 2 -q",
            BIN, SUITE, MODEL, PROTO, EVAL, foreign);
    CHECKF(rc == 2 && strstr(OUT, "not a t2ibench database"), "exit %d: %s", rc, OUT);
    unsigned char hdr[20] = {0};
    FILE *fh = fopen(foreign, "rb");
    CHECK(fh && fread(hdr, 1, 20, fh) == 20 && hdr[18] == 1);   // still rollback journal
    if (fh) fclose(fh);
    // check: a run that is not there and "--baseline 0" are named as given.
    rc = sh("%s check --db %s --run 99 --baseline 1 --fail-on is:-1", BIN, db);
    CHECKF(rc == 2 && strstr(OUT, "no run 99") && strstr(OUT, "(run 99 vs baseline 1)"),
           "exit %d: %s", rc, OUT);
    rc = sh("%s check --db %s --baseline 0 --fail-on is:-1", BIN, db);
    CHECKF(rc == 4 && strstr(OUT, "'0' is not a run id"), "exit %d: %s", rc, OUT);
    // Said plainly: a directory as --db; --threads above 64 capped with a message.
    rc = sh("%s run --suite %s --model %s --protocol %s --evaluators %s --db %s --limit 2 -q",
            BIN, SUITE, MODEL, PROTO, EVAL, T);
    CHECKF(rc == 2 && strstr(OUT, "is a directory"), "exit %d: %s", rc, OUT);
    rc = sh("%s list --db %s", BIN, T);
    CHECKF(rc == 2 && strstr(OUT, "is a directory"), "exit %d: %s", rc, OUT);
    rc = sh("%s run --suite %s --model %s --protocol /dev/zero --evaluators %s --db %s --threads 100",
            BIN, SUITE, MODEL, EVAL, db);
    CHECKF(rc == 2 && strstr(OUT, "--threads 100 capped at 64"), "exit %d: %s", rc, OUT);
}

TEST(test_outputs_and_caps) {
    // A failed export/JUnit write removes only a regular file it created: a symlink to
    // /dev/full (in the scratch dir) stays (as root the old code deleted /dev/full itself).
    struct stat fb;
    if (stat("/dev/full", &fb) == 0 && S_ISCHR(fb.st_mode)) {
        char link[300];
        snprintf(link, sizeof link, "%s/full", T);
        CHECK(symlink("/dev/full", link) == 0);
        int rc = sh("%s export 1 --db %s --out %s", BIN, REF, link);
        CHECKF(rc == 2 && strstr(OUT, "nothing removed"), "exit %d: %s", rc, OUT);
        rc = sh("%s check --db %s --run 1 --baseline 1 --fail-on is:-1 --junit %s", BIN, REF, link);
        CHECKF(rc == 2 && strstr(OUT, "nothing removed"), "exit %d: %s", rc, OUT);
        struct stat lb;
        CHECK(lstat(link, &lb) == 0 && S_ISLNK(lb.st_mode));
    } else {
        fprintf(stderr, "    /dev/full is not a character device here: export part skipped\n");
    }
    // generate: a caption past the cap is refused before any network runs.
    char *cap = malloc(20001), capf[300];
    for (int i = 0; i < 20000; i++) cap[i] = i % 5 == 4 ? ' ' : 'a';
    cap[20000] = 0;
    snprintf(capf, sizeof capf, "%s/caption.txt", T);
    write_file(capf, cap);
    free(cap);
    int rc = sh("%s generate --model %s --out %s/gen --caption \"$(cat %s)\"", BIN, MODEL, T,
                capf);
    CHECKF(rc == 2 && strstr(OUT, "at most 16384"), "exit %d: %.300s", rc, OUT);
    // FID of identical statistics: clamped at 0, the unclamped value in the JSON as "raw".
    rc = sh("%s metric fid --a tests/fixtures/metrics/stats_a.npz --b "
            "tests/fixtures/metrics/stats_a.npz --json", BIN);
    CHECKF(rc == 0 && strstr(OUT, "\"raw\": ") && !strstr(OUT, "\"value\": -"), "%s", OUT);
}

TEST(test_batch_coupled_key) {
    // A batch-coupled protocol: --batch is part of "the same command". The same command is a
    // no-op, another --batch a new run (never a resume that mixes batch sizes).
    char proto[300], db[300];
    snprintf(proto, sizeof proto, "%s/coupled.json", T);
    snprintf(db, sizeof db, "%s/coupled.db", T);
    CHECK(patch_file(PROTO, proto, "\"attention_mask\": \"per-sample\"",
                     "\"attention_mask\": \"batch-coupled\""));
    const char *batches[] = {"2", "2", "1"};
    const char *want[] = {NULL, "run 1 is complete", NULL};
    for (int i = 0; i < 3; i++) {
        int rc = sh("%s run --suite %s --model %s --protocol %s --evaluators %s --db %s --limit 2 "
                    "--batch %s --threads 1",
                    BIN, SUITE, MODEL, proto, EVAL, db, batches[i]);
        CHECKF(rc == 0 && (!want[i] || strstr(OUT, want[i])), "batch %s: exit %d: %s",
               batches[i], rc, OUT);
    }
    CHECK(q_int(db, "SELECT count(*) FROM runs") == 2);
    CHECK(q_int(db, "SELECT count(DISTINCT run_key) FROM runs") == 2);
    CHECK(q_int(db, "SELECT count(*) FROM runs WHERE json_extract(provenance,"
                    " '$.run.batch_coupled') = 1") == 2);
}

// Hostile finding 4, merge side: shards of a batch-coupled protocol run with different --batch
// values are refused by merge (their samples were computed with different batch coupling),
// while the same shards at one --batch merge.
TEST(test_merge_refuses_mixed_coupled_batches) {
    char proto[300], d0[300], d1[300], d1b[300], out[300];
    snprintf(proto, sizeof proto, "%s/coupled_merge.json", T);
    snprintf(d0, sizeof d0, "%s/cm_s0.db", T);
    snprintf(d1, sizeof d1, "%s/cm_s1.db", T);
    snprintf(d1b, sizeof d1b, "%s/cm_s1b.db", T);
    snprintf(out, sizeof out, "%s/cm_out.db", T);
    CHECK(patch_file(PROTO, proto, "\"attention_mask\": \"per-sample\"",
                     "\"attention_mask\": \"batch-coupled\""));
    // --limit 20 with the suite's 16-sample blocks: shard 0/2 holds block 0, shard 1/2 block 1.
    const char *dbs[] = {d0, d1, d1b};
    const char *shard[] = {"0/2", "1/2", "1/2"};
    const char *batch[] = {"2", "1", "2"};
    for (int i = 0; i < 3; i++) {
        int rc = sh("%s run --suite %s --model %s --protocol %s --evaluators %s --db %s --limit 20 "
                    "--shard %s --batch %s --threads 1 -q",
                    BIN, SUITE, MODEL, proto, EVAL, dbs[i], shard[i], batch[i]);
        CHECKF(rc == 0, "shard %s batch %s: exit %d: %s", shard[i], batch[i], rc, OUT);
    }
    int rc = sh("%s merge --out %s %s %s", BIN, out, d0, d1);
    CHECKF(rc == 2 && strstr(OUT, "--batch"), "mixed batches: exit %d: %s", rc, OUT);
    struct stat st;
    CHECK(stat(out, &st) != 0);   // a refused merge leaves no output database behind
    rc = sh("%s merge --out %s %s %s", BIN, out, d0, d1b);
    CHECKF(rc == 0, "same batch: exit %d: %s", rc, OUT);
    CHECK(q_int(out, "SELECT count(*) FROM samples") == 20);
}

TEST(test_help_cmd) {
    const char *cmds[] = {"run", "eval-images", "list", "show", "compare", "check", "export",
                          "merge", "suite", "metric", "generate", "bench", "fid-stats"};
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        char a[1 << 14];
        int r1 = sh("%s %s --help", BIN, cmds[i]);
        snprintf(a, sizeof a, "%s", OUT);
        int r2 = sh("%s help %s", BIN, cmds[i]);
        CHECKF(r1 == 0 && r2 == 0 && strcmp(a, OUT) == 0 && strstr(OUT, cmds[i]),
               "help %s (exit %d/%d):\n%s\n---\n%s", cmds[i], r1, r2, a, OUT);
    }
    int rc = sh("%s help nosuch", BIN);
    CHECK(rc == 4 && strstr(OUT, "nosuch"));
}

int main(void) {
    BIN = getenv("T2I_BIN") && *getenv("T2I_BIN") ? getenv("T2I_BIN") : "build/t2ibench";
    snprintf(T, sizeof T, "/tmp/t2iruns_%d", (int)getpid());
    mkdir(T, 0777);
    snprintf(REF, sizeof REF, "%s/ref.db", T);
    RUN(test_reference_progress_and_noop_rerun);
    RUN(test_sigint_mid_block);
    RUN(test_sigterm_mid_block);
    RUN(test_stale_after_sigkill_and_one_owner);
    RUN(test_owner_on_another_host);
    RUN(test_shard_complete_is_complete);
    RUN(test_resume_checks_the_run);
    RUN(test_resume_counts_done_blocks_once);
    RUN(test_sample_sets_and_stored_bytes);
    RUN(test_outputs_and_caps);
    RUN(test_batch_coupled_key);
    RUN(test_merge_refuses_mixed_coupled_batches);
    RUN(test_help_cmd);
    if (!test_failed) sh("rm -rf %s", T);
    return test_report("test_runs");
}
