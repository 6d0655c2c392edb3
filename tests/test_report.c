// test_report.c -- per-sample data, regeneration, rescoring, paired comparison and the HTML
// report, through the t2ibench binary (T2I_BIN, default build/t2ibench). Run from the
// repository root. Three runs of the CUB smoke suite into one scratch database: run 1 the demo
// model and run 2 the second demo card (demo_bird_r1) on samples 0..15, run 3 the demo model on
// samples 0..7 only.
//   * generate --run --sample: the regenerated image's bytes hash to the stored image hash (the
//     PNG written decodes to exactly those bytes); a tampered stored hash is an error naming both;
//   * export --samples: npz arrays equal the stored rows (ids, IS logits, R-precision scores and
//     ranks, bit for bit); csv / jsonl have one line per sample;
//   * rescore with the run's own protocol stores a metric set identical (exact doubles) to the
//     stored metrics; other splits change IS's n; a protocol that changes how rows were made is
//     refused; the run's metrics are untouched;
//   * compare / check refuse runs over different sample sets (and --force overrides), compare
//     prints paired intervals and McNemar; check --significant passes a beyond-limit change that
//     the bootstrap cannot tell from zero;
//   * report: every section present, every referenced image exists and decodes, nothing from the
//     network, no script; where chromium is installed, it renders the page headless with no
//     network to a PNG without console messages, every file it loads existing.
#include "test.h"

#include "image_io.h"
#include "npz.h"
#include "sha256.h"
#include "t2i.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli_test.h"

#define SUITE "suites/cub_smoke.suite"
#define PROTO "suites/protocols/smoke.json"
#define EVAL "suites/evaluators/demo_cub.json"

static char DB[300];

static int run_model(const char *model, int limit) {
    return sh("%s run --suite %s --model %s --protocol %s --evaluators %s --db %s --limit %d "
              "--batch 4 -q",
              BIN, SUITE, model, PROTO, EVAL, DB, limit);
}

// A copy of the test database at T/name with `sql` applied; 1 on success.
static int tampered_copy(const char *name, const char *sql, char *path, size_t n) {
    snprintf(path, n, "%s/%s", T, name);
    sqlite3 *db = NULL;
    int ok = sh("cp %s %s", DB, path) == 0 && sqlite3_open(path, &db) == SQLITE_OK &&
             sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK;
    sqlite3_close(db);
    return ok;
}

// ---- regenerate ----------------------------------------------------------------------------

TEST(test_regenerate_by_sample) {
    char stored[80], dir[400], png[500];
    q_text(DB, "SELECT image_sha256 FROM samples WHERE run = 2 AND sample = 5", stored, sizeof stored);
    CHECK(strlen(stored) == 64);
    snprintf(dir, sizeof dir, "%s/gen5", T);
    int rc = sh("%s generate --run 2 --sample 5 --db %s --out %s --attention", BIN, DB, dir);
    CHECKF(rc == 0 && strstr(OUT, stored) && strstr(OUT, "matches"), "exit %d: %s", rc, OUT);
    // The 256 px PNG holds exactly the bytes whose hash the run stored.
    snprintf(png, sizeof png, "%s/g2_256.png", dir);
    uint8_t *px = NULL;
    int H = 0, W = 0;
    CHECK(image_read_rgb(png, &px, &H, &W) == T2I_OK && H == 256 && W == 256);
    if (px) {
        char hex[65];
        sha256_hex(px, (size_t)256 * 256 * 3, hex);
        CHECKF(!strcmp(hex, stored), "png %s vs stored %s", hex, stored);
        t2i_free(px);
    }
    snprintf(png, sizeof png, "%s/g0_64.png", dir);
    CHECK(access(png, F_OK) == 0);
    snprintf(png, sizeof png, "%s/att2_w00_", dir);   // stage-2 map of the first word
    CHECK(sh("ls %s*.png", png) == 0);
    // A stored hash the build does not reproduce: an error naming both hashes, no images.
    char bad[300];
    CHECK(tampered_copy("bad.db", "UPDATE samples SET image_sha256 = 'deadbeef' WHERE run = 2 AND "
                                  "sample = 5", bad, sizeof bad));
    rc = sh("%s generate --run 2 --sample 5 --db %s --out %s/gen5bad", BIN, bad, T);
    CHECKF(rc == 2 && strstr(OUT, "deadbeef") && strstr(OUT, stored), "exit %d: %s", rc, OUT);
    // A sample the run does not hold.
    rc = sh("%s generate --run 3 --sample 12 --db %s --out %s/gen12", BIN, DB, T);
    CHECKF(rc == 2 && strstr(OUT, "no stored sample 12"), "exit %d: %s", rc, OUT);
}

// ---- export --------------------------------------------------------------------------------

// 1 when blob column `col` of (run, sample) equals n floats at p bit for bit.
static int blob_eq(sqlite3 *db, const char *col, int run, long long sample, const void *p, size_t n) {
    char sql[200];
    snprintf(sql, sizeof sql, "SELECT %s FROM samples WHERE run = %d AND sample = %lld", col, run,
             sample);
    sqlite3_stmt *st;
    int ok = 0;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) return 0;
    if (sqlite3_step(st) == SQLITE_ROW)
        ok = (size_t)sqlite3_column_bytes(st, 0) == n * sizeof(float) &&
             memcmp(sqlite3_column_blob(st, 0), p, n * sizeof(float)) == 0;
    sqlite3_finalize(st);
    return ok;
}

TEST(test_export_roundtrip) {
    char npz[300];
    snprintf(npz, sizeof npz, "%s/s.npz", T);
    int rc = sh("%s export 1 --samples --format npz --out %s --db %s", BIN, npz, DB);
    CHECKF(rc == 0, "exit %d: %s", rc, OUT);
    Npz z;
    memset(&z, 0, sizeof z);
    CHECK(npz_load(npz, &z) == T2I_OK);
    const NpyArray *id = npz_get(&z, "sample_id"), *is = npz_get(&z, "is_logits");
    const NpyArray *sc = npz_get(&z, "rp_scores"), *rk = npz_get(&z, "rp_rank");
    const NpyArray *cl = npz_get(&z, "class_id");
    CHECK(id && is && sc && rk && cl);
    CHECK(!npz_get(&z, "fid_features"));   // the demo evaluators store no FID features
    sqlite3 *db = dbo(DB, NULL);
    if (id && is && sc && rk && cl && db) {
        CHECK(id->dtype == DT_I64 && id->ndim == 1 && id->shape[0] == 16);
        CHECK(is->dtype == DT_F32 && is->ndim == 2 && is->shape[0] == 16 && is->shape[1] == 1000);
        CHECK(sc->ndim == 2 && sc->shape[1] == 100);
        int same = 0;
        for (int i = 0; i < 16; i++) {
            long long s = ((const int64_t *)id->data)[i];
            char sql[160];
            snprintf(sql, sizeof sql, "SELECT rp_rank FROM samples WHERE run = 1 AND sample = %lld", s);
            same += s == i &&
                    blob_eq(db, "is_logits", 1, s, (const float *)is->data + (size_t)i * 1000, 1000) &&
                    blob_eq(db, "rp_scores", 1, s, (const float *)sc->data + (size_t)i * 100, 100) &&
                    q_int(DB, sql) == ((const int64_t *)rk->data)[i];
        }
        CHECKF(same == 16, "%d of 16 rows equal", same);
        CHECK(((const int32_t *)cl->data)[0] == 1);   // suite sample 0 is class 1
    }
    sqlite3_close(db);
    npz_free(&z);
    rc = sh("%s export 1 --samples --format csv --db %s | wc -l", BIN, DB);
    CHECKF(rc == 0 && atoi(OUT) == 17, "%s", OUT);
    rc = sh("%s export 1 --samples --format jsonl --db %s | grep -c '\"image_sha256\"'", BIN, DB);
    CHECKF(rc == 0 && atoi(OUT) == 16, "%s", OUT);
    rc = sh("%s export 1 --samples --format csv --db %s | sed -n 2p", BIN, DB);
    CHECKF(strstr(OUT, "the crown of the bird") != NULL, "%s", OUT);
    rc = sh("%s export 1 --samples --format npz --db %s", BIN, DB);   // npz needs --out
    CHECK(rc == 4);
}

// ---- rescore -------------------------------------------------------------------------------

TEST(test_rescore) {
    long long before = q_int(DB, "SELECT count(*) FROM metrics");
    int rc = sh("%s rescore 1 --protocol %s --db %s", BIN, PROTO, DB);
    CHECKF(rc == 0 && strstr(OUT, "identical"), "exit %d: %s", rc, OUT);
    // Exact doubles, std, n and direction equal to the stored metrics.
    CHECK(q_int(DB, "SELECT count(*) FROM metric_set_values v JOIN metrics m ON m.run = v.run AND"
                    " m.name = v.name WHERE v.run = 1 AND v.set_name = 'smoke' AND"
                    " m.value IS v.value AND m.std IS v.std AND m.n = v.n AND"
                    " m.direction = v.direction") == 3);
    CHECK(q_int(DB, "SELECT count(*) FROM metric_set_values WHERE run = 1 AND set_name = 'smoke'") == 3);
    // Other splits and folds: a second set; IS over 2 splits.
    char p2[300];
    snprintf(p2, sizeof p2, "%s/two.json", T);
    CHECK(patch_file(PROTO, p2, "\"splits\": 4", "\"splits\": 2"));
    rc = sh("%s rescore 1 --protocol %s --db %s --name two-splits", BIN, p2, DB);
    CHECKF(rc == 0, "exit %d: %s", rc, OUT);
    CHECK(q_int(DB, "SELECT n FROM metric_set_values WHERE run = 1 AND set_name = 'two-splits' AND"
                    " name = 'is'") == 2);
    // A protocol that changes how the rows were made is refused.
    char p3[300];
    snprintf(p3, sizeof p3, "%s/round.json", T);
    CHECK(patch_file(PROTO, p3, "\"quantization\": \"truncate\"", "\"quantization\": \"round\""));
    rc = sh("%s rescore 1 --protocol %s --db %s", BIN, p3, DB);
    CHECKF(rc == 2 && strstr(OUT, "quantization"), "exit %d: %s", rc, OUT);
    CHECK(q_int(DB, "SELECT count(*) FROM metrics") == before);
    rc = sh("%s show 1 --db %s", BIN, DB);
    CHECKF(rc == 0 && strstr(OUT, "metric set \"two-splits\""), "%s", OUT);
}

// ---- compare / check -----------------------------------------------------------------------

TEST(test_compare_check_sample_sets) {
    int rc = sh("%s compare 1 3 --db %s", BIN, DB);
    CHECKF(rc == 2 && strstr(OUT, "different sample sets") && strstr(OUT, "16") &&
               strstr(OUT, "8"), "exit %d: %s", rc, OUT);
    rc = sh("%s check --run 3 --baseline 1 --fail-on is:-50%% --db %s", BIN, DB);
    CHECKF(rc == 2 && strstr(OUT, "different sample sets"), "exit %d: %s", rc, OUT);
    rc = sh("%s check --run 3 --baseline 1 --fail-on is:-50%% --db %s --force", BIN, DB);
    CHECKF(rc == 0, "exit %d: %s", rc, OUT);
    rc = sh("%s compare 1 2 --db %s --resamples 200 --seed 4", BIN, DB);
    CHECKF(rc == 0 && strstr(OUT, "95% interval") && strstr(OUT, "McNemar") &&
               strstr(OUT, "200 resamples"), "exit %d: %s", rc, OUT);
    // The header: run ids, then the whole model names (they were cut at 26 columns with the
    // "run N (" prefix); the image count is a whole number.
    CHECKF(strstr(OUT, "\nmodel              demo-bird-hash             demo-bird-hash-r1 ") &&
               strstr(OUT, "diff vs run 1") && strstr(OUT, "\nimages             16 "),
           "%s", OUT);
    // The paired IS difference is the difference of the stored IS values (the protocol's 4
    // splits, not the default 10); R-precision likewise.
    static const char *const ms[] = {"is", "rp"};
    for (int k = 0; k < 2; k++) {
        char key[16], sql[160];
        snprintf(key, sizeof key, "\n  %-4s ", ms[k]);
        const char *p = strstr(OUT, key);
        double diff = NAN;
        if (p) sscanf(p + strlen(key), "%lf", &diff);
        snprintf(sql, sizeof sql, "SELECT b.value - a.value FROM metrics a, metrics b WHERE a.run = 1"
                 " AND b.run = 2 AND a.name = '%s' AND b.name = '%s'", ms[k], ms[k]);
        char wt[64] = "";
        q_text(DB, sql, wt, sizeof wt);
        double want = wt[0] ? strtod(wt, NULL) : NAN;
        CHECKF(fabs(diff - want) <= 1e-5 * fabs(want) + 1e-9, "%s: compare says %.9g, stored "
               "metrics differ by %.9g", ms[k], diff, want);
    }
    // Run 2 without R-precision ranks: no paired R-precision, no McNemar (a missing rank is
    // not a miss).
    char db2[300];
    CHECK(tampered_copy("norank.db", "UPDATE samples SET rp_rank = NULL, checksum = NULL"
                        " WHERE run = 2", db2, sizeof db2));
    rc = sh("%s compare 1 2 --db %s --resamples 50 --seed 4", BIN, db2);
    CHECKF(rc == 0 && strstr(OUT, "\n  is ") && !strstr(OUT, "\n  rp ") && !strstr(OUT, "McNemar"),
           "exit %d: %s", rc, OUT);
    rc = sh("%s compare 1 2 --db %s --resamples 200 --seed 4", BIN, DB);
    char first[4096];
    snprintf(first, sizeof first, "%s", OUT);
    rc = sh("%s compare 1 2 --db %s --resamples 200 --seed 4", BIN, DB);
    CHECKF(rc == 0 && !strcmp(first, OUT), "not reproducible:\n%s\n%s", first, OUT);
}

TEST(test_check_significant) {
    // Run 2 made equal to run 1 except sample 0, its stored IS moved past a tight limit: the
    // limit alone calls it a regression, the bootstrap cannot tell it from zero.
    char db2[300];
    CHECK(tampered_copy("sig.db",
                        "UPDATE samples SET is_logits = (SELECT s.is_logits FROM samples s"
                        " WHERE s.run = 1 AND s.sample = samples.sample), checksum = NULL"
                        " WHERE run = 2 AND sample > 0;"   // NULL: rows check cannot verify
                        "UPDATE metrics SET value = (SELECT value FROM metrics WHERE run = 1"
                        " AND name = 'is') - 0.01 WHERE run = 2 AND name = 'is'",
                        db2, sizeof db2));
    int rc = sh("%s check --run 2 --baseline 1 --fail-on is:-0.001 --db %s", BIN, db2);
    CHECKF(rc == 1, "exit %d: %s", rc, OUT);
    rc = sh("%s check --run 2 --baseline 1 --fail-on is:-0.001 --significant --db %s", BIN, db2);
    CHECKF(rc == 0 && strstr(OUT, "not significant"), "exit %d: %s", rc, OUT);
    // The untampered runs 1 and 2 differ significantly: a regression with or without the test.
    rc = sh("%s check --run 2 --baseline 1 --fail-on is:-0.0001 --significant --db %s", BIN, DB);
    CHECKF(rc == 1 && strstr(OUT, "interval"), "exit %d: %s", rc, OUT);
}

TEST(test_check_kid_rule) {
    // KID (stored by runs with --kid-reference): lower is better, so +LIMIT is the bad way.
    char db2[300];
    CHECK(tampered_copy("kid.db",
                        "INSERT INTO metrics (run, name, value, std, n, direction) VALUES"
                        " (1, 'kid', 0.010, 0.001, 100, -1), (2, 'kid', 0.013, 0.001, 100, -1)",
                        db2, sizeof db2));
    int rc = sh("%s check --run 2 --baseline 1 --fail-on kid:+0.005 --db %s", BIN, db2);
    CHECKF(rc == 0 && strstr(OUT, "kid: 0.01 -> 0.013"), "exit %d: %s", rc, OUT);
    rc = sh("%s check --run 2 --baseline 1 --fail-on KID:+20%% --db %s", BIN, db2);
    CHECKF(rc == 1 && strstr(OUT, "REGRESSION"), "exit %d: %s", rc, OUT);
    rc = sh("%s check --run 2 --baseline 1 --fail-on kid:-0.005 --db %s", BIN, db2);
    CHECKF(rc == 4 && strstr(OUT, "kid is lower-is-better"), "exit %d: %s", rc, OUT);
}

TEST(test_check_counts_unverified_rows) {
    // Rows without a checksum (an older database, or one cleared since) cannot be verified:
    // check says how many, for the run and for the baseline, and goes on (a warning, not an
    // error); a damaged row that has a checksum is still an error.
    long long n = q_int(DB, "SELECT count(*) FROM samples WHERE run = 2");
    int rc = sh("%s check --run 2 --baseline 1 --fail-on is:-100 --db %s", BIN, DB);
    CHECKF(rc == 0 && !strstr(OUT, "WARNING"), "exit %d: %s", rc, OUT);
    char db2[300], want[200];
    CHECK(tampered_copy("unverified.db",
                        "UPDATE samples SET checksum = NULL WHERE run = 2 AND sample < 3;"
                        "UPDATE samples SET checksum = NULL WHERE run = 1 AND sample = 0",
                        db2, sizeof db2));
    rc = sh("%s check --run 2 --baseline 1 --fail-on is:-100 --db %s", BIN, db2);
    snprintf(want, sizeof want, "WARNING run 2: 3 of its %lld sample rows have no checksum", n);
    CHECKF(rc == 0 && strstr(OUT, want), "exit %d, expected '%s': %s", rc, want, OUT);
    snprintf(want, sizeof want, "WARNING baseline run 1: 1 of its %lld sample rows", n);
    CHECKF(strstr(OUT, want) && strstr(OUT, "not verified"), "expected '%s': %s", want, OUT);
    CHECK(strstr(OUT, "t2ibench check: WARNING run 2: 3 of"));   // on stderr too
    rc = sh("%s check --run 2 --baseline 1 --fail-on is:-100 --json --db %s 2>/dev/null", BIN, db2);
    cJSON *j = cJSON_Parse(OUT);
    const cJSON *uv = cJSON_GetObjectItemCaseSensitive(j, "unverified_rows");
    const cJSON *ur = cJSON_GetObjectItemCaseSensitive(uv, "run");
    const cJSON *ub = cJSON_GetObjectItemCaseSensitive(uv, "baseline");
    CHECKF(rc == 0 && cJSON_IsNumber(ur) && ur->valueint == 3 && cJSON_IsNumber(ub) &&
               ub->valueint == 1,
           "exit %d: %s", rc, OUT);
    cJSON_Delete(j);
    // --junit: a skipped case per run with the warning, and the counts as properties.
    char xml_path[300];
    snprintf(xml_path, sizeof xml_path, "%s/unverified.xml", T);
    rc = sh("%s check --run 2 --baseline 1 --fail-on is:-100 --junit %s --db %s", BIN, xml_path,
            db2);
    char *x = read_all(xml_path);
    CHECKF(rc == 0 && x, "exit %d: %s", rc, OUT);
    if (x) {
        snprintf(want, sizeof want, "<testcase classname=\"t2ibench.check\" name=\"stored rows "
                                    "of run 2\">\n      <skipped message=\"run 2: 3 of its %lld",
                 n);
        CHECKF(strstr(x, want) && strstr(x, "name=\"stored rows of baseline run 1\">\n      "
                                           "<skipped message=\"baseline run 1: 1 of its"),
               "%s", x);
        CHECKF(strstr(x, "tests=\"3\" failures=\"0\" errors=\"0\" skipped=\"2\"") &&
                   strstr(x, "<property name=\"unverified_rows.run\" value=\"3\"/>") &&
                   strstr(x, "<property name=\"unverified_rows.baseline\" value=\"1\"/>"),
               "%s", x);
    }
    t2i_free(x);
    rc = sh("%s check --run 2 --baseline 1 --fail-on is:-100 --junit %s --db %s", BIN, xml_path,
            DB);
    x = read_all(xml_path);
    CHECKF(rc == 0 && x && !strstr(x, "<skipped") && strstr(x, "skipped=\"0\"") &&
               strstr(x, "<property name=\"unverified_rows.run\" value=\"0\"/>"),
           "exit %d: %s", rc, x ? x : OUT);
    t2i_free(x);
    // a schema-1 database (no checksum column; check opens it read-only, so it stays at 1)
    CHECK(tampered_copy("v1.db", "ALTER TABLE samples DROP COLUMN checksum; PRAGMA user_version=1",
                        db2, sizeof db2));
    rc = sh("%s check --run 2 --baseline 1 --fail-on is:-100 --db %s", BIN, db2);
    snprintf(want, sizeof want, "WARNING run 2: %lld of its %lld sample rows have no checksum", n, n);
    CHECKF(rc == 0 && strstr(OUT, want), "exit %d, expected '%s': %s", rc, want, OUT);
    // the verified rows are still verified: damage to one of them is an error
    CHECK(tampered_copy("unverified2.db",
                        "UPDATE samples SET checksum = NULL WHERE run = 2 AND sample < 3;"
                        "UPDATE samples SET image_sha256 = 'deadbeef' WHERE run = 2 AND sample = 3",
                        db2, sizeof db2));
    rc = sh("%s check --run 2 --baseline 1 --fail-on is:-100 --db %s", BIN, db2);
    CHECKF(rc == 2 && strstr(OUT, "sample 3 do not match their checksum"), "exit %d: %s", rc, OUT);
}

TEST(test_check_timing_spread) {
    // Run 10 repeats run 1's command (a copy of its rows) but took twice as long: one baseline
    // run makes that a timing regression; with run 10 itself as a repeated run of the same
    // command the spread of the repeats decides, and a repeat never leaves its own spread.
    char db2[300];
    CHECK(tampered_copy("spread.db",
                        // Through temporary copies, so added columns do not matter.
                        "CREATE TEMP TABLE r AS SELECT * FROM runs WHERE id = 1;"
                        "UPDATE r SET id = 10, run_key = run_key || 'x';"
                        "INSERT INTO runs SELECT * FROM r;"
                        "CREATE TEMP TABLE s AS SELECT * FROM samples WHERE run = 1;"
                        "UPDATE s SET run = 10; INSERT INTO samples SELECT * FROM s;"
                        "CREATE TEMP TABLE b AS SELECT * FROM blocks WHERE run = 1;"
                        "UPDATE b SET run = 10; INSERT INTO blocks SELECT * FROM b;"
                        "CREATE TEMP TABLE m AS SELECT * FROM metrics WHERE run = 1;"
                        "UPDATE m SET run = 10; INSERT INTO metrics SELECT * FROM m;"
                        "CREATE TEMP TABLE t AS SELECT * FROM timings WHERE run = 1;"
                        "UPDATE t SET run = 10, seconds = 2 * seconds;"
                        "INSERT INTO timings SELECT * FROM t",
                        db2, sizeof db2));
    int rc = sh("%s check --run 10 --baseline 1 --fail-on time.total:+10%% --db %s", BIN, db2);
    CHECKF(rc == 0 && strstr(OUT, "2 repeated baseline runs") &&
               strstr(OUT, "within 3 std"), "exit %d: %s", rc, OUT);
    // Against run 1 exported to a file (no repeats known) the limit alone decides.
    char js[300];
    snprintf(js, sizeof js, "%s/run1.json", T);
    rc = sh("%s export 1 --format json --db %s --out %s && %s check --run 10 --baseline %s "
            "--fail-on time.total:+10%% --db %s",
            BIN, DB, js, BIN, js, db2);
    CHECKF(rc == 1 && !strstr(OUT, "repeated"), "exit %d: %s", rc, OUT);
}

// FID and KID through the CLI: two runs of 4 samples with an evaluator card that has FID
// statistics (separate database).
TEST(test_fid_paths) {
    char eval[300], fdb[300];
    snprintf(fdb, sizeof fdb, "%s/fid.db", T);
    CHECK(make_fid_eval_card(eval, sizeof eval));
    for (int m = 0; m < 2; m++) {
        int rc = sh("%s run --suite %s --model suites/models/%s.json --protocol %s --evaluators %s "
                    "--db %s --limit 4 --batch 4 -q",
                    BIN, SUITE, m ? "demo_bird_r1" : "demo_bird", PROTO, eval, fdb);
        CHECKF(rc == 0, "run %d: %s", m, OUT);
    }
    int rc = sh("%s compare 1 2 --db %s --resamples 50", BIN, fdb);
    CHECKF(rc == 0 && strstr(OUT, "  fid ") && strstr(OUT, "50 resamples"), "exit %d: %s", rc, OUT);
    rc = sh("%s breakdown 1 --by length --fid --db %s", BIN, fdb);
    CHECKF(rc == 0 && strstr(OUT, "FID"), "exit %d: %s", rc, OUT);
    // The recorded statistics file again: the same FID, bit for bit; KID against run 2.
    char stats[300];
    snprintf(stats, sizeof stats, "%s/stats.npz", T);
    rc = sh("%s rescore 1 --protocol %s --fid-stats %s --kid-reference 2 --kid-subsets 5 "
            "--kid-subset-size 3 --name fk --db %s",
            BIN, PROTO, stats, fdb);
    CHECKF(rc == 0, "exit %d: %s", rc, OUT);
    CHECK(q_int(fdb, "SELECT count(*) FROM metric_set_values v JOIN metrics m ON m.run = v.run AND"
                     " m.name = v.name WHERE v.run = 1 AND v.set_name = 'fk' AND v.name = 'fid' AND"
                     " m.value IS v.value") == 1);
    CHECK(q_int(fdb, "SELECT n FROM metric_set_values WHERE run = 1 AND set_name = 'fk' AND"
                     " name = 'kid'") == 5);
    // A features file (what --kid-reference takes in run / eval-images) is named, not run 0.
    rc = sh("%s rescore 1 --protocol %s --kid-reference %s/ref.npy --db %s", BIN, PROTO, T, fdb);
    CHECKF(rc == 2 && strstr(OUT, "ref.npy: rescore takes a reference run"), "exit %d: %s", rc,
           OUT);
    char npz[300];
    snprintf(npz, sizeof npz, "%s/f.npz", T);
    rc = sh("%s export 1 --samples --format npz --out %s --db %s", BIN, npz, fdb);
    Npz z;
    memset(&z, 0, sizeof z);
    CHECK(rc == 0 && npz_load(npz, &z) == T2I_OK);
    const NpyArray *f = npz_get(&z, "fid_features");
    CHECK(f && f->ndim == 2 && f->shape[0] == 4 && f->shape[1] == 2048);
    npz_free(&z);
}

// ---- report --------------------------------------------------------------------------------

static char REP[300];

TEST(test_report_structure) {
    snprintf(REP, sizeof REP, "%s/report", T);
    int rc = sh("%s report 1 2 --db %s --out %s", BIN, DB, REP);
    CHECKF(rc == 0 && strstr(OUT, "index.html"), "exit %d: %s", rc, OUT);
    char path[400];
    snprintf(path, sizeof path, "%s/index.html", REP);
    char *html = read_all(path);
    CHECK(html != NULL);
    if (!html) return;
    static const char *const sections[] = {"metrics", "comparison", "samples", "stages", "attention",
                                           "classes", "worst", "timings", "history", "provenance"};
    for (size_t i = 0; i < sizeof sections / sizeof sections[0]; i++) {
        char id[64];
        snprintf(id, sizeof id, "<section id=\"%s\">", sections[i]);
        CHECKF(strstr(html, id) != NULL, "section %s missing", sections[i]);
    }
    CHECK(strstr(html, "<svg") != NULL && strstr(html, "<polyline") != NULL);
    CHECK(strstr(html, "<script") == NULL);
    // No network: the only URL is the SVG namespace.
    int net = 0;
    for (const char *p = html; (p = strstr(p, "http")) != NULL; p++)
        net += strncmp(p, "http://www.w3.org/2000/svg", 26) != 0 && (p[4] == ':' || p[4] == 's');
    CHECKF(net == 0, "%d network references", net);
    // Every referenced image exists and decodes.
    int imgs = 0, good = 0, att = 0, stages = 0;
    for (const char *p = html; (p = strstr(p, "src=\"")) != NULL;) {
        p += 5;
        const char *e = strchr(p, '"');
        if (!e) break;
        char rel[256], full[700];
        snprintf(rel, sizeof rel, "%.*s", (int)(e - p), p);
        snprintf(full, sizeof full, "%s/%s", REP, rel);
        uint8_t *px = NULL;
        int H = 0, W = 0;
        imgs++;
        if (image_read_rgb(full, &px, &H, &W) == T2I_OK && H > 0 && W > 0) good++;
        else fprintf(stderr, "    %s does not decode\n", full);
        att += strstr(rel, "_att.png") != NULL;
        stages += strstr(rel, "_stages.png") != NULL;
        t2i_free(px);
    }
    CHECKF(imgs >= 2 * 8 + 4 && good == imgs, "%d of %d images decode", good, imgs);
    CHECK(att == 4 && stages == 4);
    // Sample anchors link the per-class table to the grid.
    CHECK(strstr(html, "href=\"#s0\"") != NULL && strstr(html, "id=\"s0\"") != NULL);
    CHECK(strstr(html, "McNemar") != NULL && strstr(html, "95%") != NULL);
    t2i_free(html);
    // Runs over different sample sets: marked not comparable, still a report.
    rc = sh("%s report 1 3 --db %s --out %s/report13", BIN, DB, T);
    CHECKF(rc == 0, "exit %d: %s", rc, OUT);
    snprintf(path, sizeof path, "%s/report13/index.html", T);
    html = read_all(path);
    CHECK(html && strstr(html, "NOT COMPARABLE") && strstr(html, "run 3 has 8"));
    t2i_free(html);
}

// Headless chromium with no network renders the report; no console messages, every file it
// loads exists, the screenshot decodes and is not blank.
TEST(test_report_in_browser) {
    if (sh("command -v chromium") != 0) {
        fprintf(stderr, "  skip test_report_in_browser: chromium is not installed\n");
        return;
    }
    char prof[300], shot[300], log[300];
    snprintf(prof, sizeof prof, "%s/chromium-profile", T);
    snprintf(shot, sizeof shot, "%s/report.png", T);
    snprintf(log, sizeof log, "%s/chromium.log", T);
    mkdir(prof, 0700);
    int rc = sh("timeout 120 chromium --headless --no-sandbox --disable-gpu --disable-quic "
                "--no-first-run --disable-background-networking --disable-component-update "
                "--disable-sync --user-data-dir=%s --host-resolver-rules='MAP * ~NOTFOUND' "
                "--enable-logging=stderr --v=1 --window-size=1400,3000 --screenshot=%s "
                "file://%s/index.html 2>%s; echo chromium-exit=$?",
                prof, shot, REP, log);
    CHECKF(strstr(OUT, "chromium-exit=0") != NULL, "%s", OUT);
    rc = sh("grep -c 'CONSOLE' %s", log);
    CHECKF(atoi(OUT) == 0, "console messages:\n%s", OUT);
    // Every file the page loaded exists (a broken link would be a missing file).
    rc = sh("grep -o 'FileURLLoader::Start: file://[^ ]*' %s | sed 's|.*file://||' | "
            "while read f; do [ -e \"$f\" ] || echo \"missing $f\"; done; "
            "grep -c 'FileURLLoader::Start: file://' %s",
            log, log);
    CHECKF(rc == 0 && !strstr(OUT, "missing") && atoi(OUT) >= 20, "%s", OUT);
    uint8_t *px = NULL;
    int H = 0, W = 0;
    CHECK(image_read_rgb(shot, &px, &H, &W) == T2I_OK && W == 1400 && H == 3000);
    if (px) {
        size_t n = (size_t)H * W * 3, diff = 0;
        for (size_t i = 3; i < n; i++) diff += px[i] != px[0];
        CHECK(diff > n / 10);   // images and text, not a blank page
        t2i_free(px);
    }
    fprintf(stderr, "  screenshot: %s\n", shot);
}

int main(void) {
    BIN = getenv("T2I_BIN") && *getenv("T2I_BIN") ? getenv("T2I_BIN") : "build/t2ibench";
    snprintf(T, sizeof T, "/tmp/t2ireport_%d", (int)getpid());
    mkdir(T, 0777);
    snprintf(DB, sizeof DB, "%s/r.db", T);
    if (run_model("suites/models/demo_bird.json", 16) || run_model("suites/models/demo_bird_r1.json", 16) ||
        run_model("suites/models/demo_bird.json", 8)) {
        fprintf(stderr, "cannot make the test runs: %s\n", OUT);
        test_failed++;
        return test_report("test_report");
    }
    RUN(test_regenerate_by_sample);
    RUN(test_export_roundtrip);
    RUN(test_rescore);
    RUN(test_compare_check_sample_sets);
    RUN(test_check_significant);
    RUN(test_check_kid_rule);
    RUN(test_check_counts_unverified_rows);
    RUN(test_check_timing_spread);
    RUN(test_fid_paths);
    RUN(test_report_structure);
    RUN(test_report_in_browser);
    if (!test_failed) sh("rm -rf %s", T);
    return test_report("test_report");
}
