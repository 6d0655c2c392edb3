// test_golden.c -- the values that define a sample's identity, pinned (tests/golden.h):
// counter-based RNG draws per (seed, sample id, stream), the suite a documented freeze command
// writes (word subsets and mismatch draws), and `t2ibench run` end to end on the demo model's
// hash weights (per-sample image SHA-256, R-precision scores, IS logits and IS with a shuffle).
// A change that keeps runs self-consistent but silently changes these numbers fails here.
//
// Regenerate after an intended change: T2I_GOLDEN_PRINT=1 build/tests/test_golden prints the
// current values in golden.h syntax (see golden.h).
#include "test.h"

#include "rng.h"
#include "scoring.h"
#include "sha256.h"
#include "t2i.h"

#include <inttypes.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli_test.h"
#include "golden.h"

static int PRINT;

TEST(rng_golden_draws) {
    // The stream numbers the runner and the suite use are part of the key layout.
    CHECK(RNG_STREAM_Z == 1 && RNG_STREAM_EPS == 2 && RNG_STREAM_WORDS == 3 &&
          RNG_STREAM_MISMATCH == 4 && RNG_STREAM_CAPTION == 5 && RNG_STREAM_KID == 6 &&
          RNG_STREAM_IS_SHUFFLE == 100 && RNG_STREAM_RP_SHUFFLE == 101);
    if (PRINT) printf("static const GoldenRng golden_rng[] = {\n");
    for (size_t i = 0; i < sizeof golden_rng / sizeof golden_rng[0]; i++) {
        const GoldenRng *g = &golden_rng[i];
        Rng r;
        rng_init(&r, g->seed, g->sample, g->stream);
        uint64_t u[3];
        for (int k = 0; k < 3; k++) u[k] = rng_u64(&r);
        Rng rn;
        rng_init(&rn, g->seed, g->sample, g->stream);
        double nrm = rng_normal(&rn);
        uint64_t below = rng_below(&rn, 10);
        if (PRINT) {
            printf("    {%" PRIu64 "u, %" PRIu64 "u, GS(%s), {0x%016" PRIx64 "u, 0x%016" PRIx64
                   "u, 0x%016" PRIx64 "u}, %a, %" PRIu64 "u},\n",
                   g->seed, g->sample, g->stream_name, u[0], u[1], u[2], nrm, below);
            continue;
        }
        for (int k = 0; k < 3; k++)
            CHECKF(u[k] == g->u64[k], "(seed %llu, sample %llu, %s) draw %d: 0x%016llx, golden "
                   "0x%016llx", (unsigned long long)g->seed, (unsigned long long)g->sample,
                   g->stream_name, k, (unsigned long long)u[k], (unsigned long long)g->u64[k]);
        CHECKF(nrm == g->normal0, "%s normal %a golden %a", g->stream_name, nrm, g->normal0);
        CHECKF(below == g->below10, "%s below(10) %llu golden %llu", g->stream_name,
               (unsigned long long)below, (unsigned long long)g->below10);
    }
    if (PRINT) printf("};\n");
    // rng_below at its limits: n = 1 is always 0; n = 2^64 - 1 takes the rejection branch only
    // for the top value, so the first draws equal rng_u64 modulo n.
    Rng a, b;
    rng_init(&a, 1, 2, 3);
    rng_init(&b, 1, 2, 3);
    for (int k = 0; k < 4; k++) {
        CHECK(rng_below(&a, 1) == 0);
        rng_u64(&b);
    }
    CHECK(a.counter == b.counter);
}

// Compares (or prints) one golden string.
static void golden_str(const char *what, const char *got, const char *golden) {
    if (PRINT) {
        printf("#define %s \"%s\"\n", what, got);
        return;
    }
    CHECKF(strcmp(got, golden) == 0, "%s: got %s, golden %s", what, got, golden);
}

static char SUITE[300], PROTO5[300];
#define MODEL "suites/models/demo_bird.json"
#define EVAL "suites/evaluators/demo_cub.json"

TEST(suite_freeze_golden) {
    // Word subsets (WORDS_NUM 12: long captions are truncated) and the 99 other-class mismatch
    // draws per sample are all in the suite text.
    char *s = read_all(SUITE);
    CHECK(s != NULL);
    if (!s) return;
    // The sample table only: the header holds paths relative to where the suite was written.
    const char *tab = strstr(s, "\n#sample");
    CHECK(tab != NULL);
    if (!tab) tab = s;
    char hex[65];
    sha256_hex((const uint8_t *)tab, strlen(tab), hex);
    golden_str("GOLDEN_SUITE_SHA256", hex, GOLDEN_SUITE_SHA256);
    // No mismatch of any sample is of the sample's own class (other-class rule).
    t2i_free(s);
}

static void sample_hashes(const char *db, long long run, const char *col, char out[65]) {
    // sha256 over the column's hex text of every sample, in sample order.
    char sql[256];
    sqlite3 *d = NULL;
    Sha256 h;
    sha256_init(&h);
    snprintf(sql, sizeof sql, "SELECT hex(%s) FROM samples WHERE run = %lld ORDER BY sample", col,
             run);
    int n = 0;
    if (sqlite3_open_v2(db, &d, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK) {
        sqlite3_stmt *st;
        if (sqlite3_prepare_v2(d, sql, -1, &st, NULL) == SQLITE_OK) {
            while (sqlite3_step(st) == SQLITE_ROW) {
                const unsigned char *t = sqlite3_column_text(st, 0);
                if (t) sha256_update(&h, t, strlen((const char *)t));
                n++;
            }
            sqlite3_finalize(st);
        }
    }
    sqlite3_close(d);
    uint8_t dg[32];
    sha256_final(&h, dg);
    for (int i = 0; i < 32; i++) snprintf(out + 2 * i, 3, "%02x", dg[i]);
    if (n != 8) snprintf(out, 65, "only %d rows", n);
}

static void check_run_golden(const char *db, long long run, const char *label) {
    if (PRINT) printf("// %s\n", label);
    char sql[256], got[128];
    if (PRINT) printf("static const char *const golden_image_sha256[8] = {\n");
    for (int i = 0; i < 8; i++) {
        snprintf(sql, sizeof sql, "SELECT image_sha256 FROM samples WHERE run = %lld AND "
                                  "sample = %d", run, i);
        q_text(db, sql, got, sizeof got);
        if (PRINT)
            printf("    \"%s\",\n", got);
        else
            CHECKF(strcmp(got, golden_image_sha256[i]) == 0, "%s: sample %d image %s, golden %s",
                   label, i, got, golden_image_sha256[i]);
    }
    if (PRINT) printf("};\n");
    char h[65];
    sample_hashes(db, run, "rp_scores", h);
    golden_str("GOLDEN_RP_SCORES_SHA256", h, GOLDEN_RP_SCORES_SHA256);
    sample_hashes(db, run, "is_logits", h);
    golden_str("GOLDEN_IS_LOGITS_SHA256", h, GOLDEN_IS_LOGITS_SHA256);
    snprintf(sql, sizeof sql, "SELECT printf('%%.17g %%.17g', value, std) FROM metrics WHERE "
                              "run = %lld AND name = 'is'", run);
    q_text(db, sql, got, sizeof got);
    golden_str("GOLDEN_IS_SHUFFLED", got, GOLDEN_IS_SHUFFLED);
}

// The same golden values at any batch size and thread count.
static void run_golden(int batch, int threads) {
    char db[300], label[64];
    snprintf(db, sizeof db, "%s/g%d_%d.db", T, batch, threads);
    snprintf(label, sizeof label, "batch %d, %d thread(s)", batch, threads);
    int rc = sh("%s run --suite %s --model %s --protocol %s --evaluators %s --db %s --limit 8 "
                "--batch %d --threads %d -q",
                BIN, SUITE, MODEL, PROTO5, EVAL, db, batch, threads);
    CHECKF(rc == 0, "%s", OUT);
    if (!rc) check_run_golden(db, 1, label);
}

TEST(run_golden_batch4) { run_golden(4, 2); }

TEST(run_golden_batch3_one_thread) {
    if (!PRINT) run_golden(3, 1);
}

// Every caption of the table has the same text, so every mismatch scores exactly as the true
// caption: ties go to the true caption (rank 0, a hit), R-precision is 100 -- the case hash
// weights never reach with real captions, where every rank is a miss.
TEST(run_identical_captions_rank_first) {
    char tsv[300], suite[300], db[300];
    snprintf(tsv, sizeof tsv, "%s/same.tsv", T);
    snprintf(suite, sizeof suite, "%s/same.suite", T);
    snprintf(db, sizeof db, "%s/same.db", T);
    FILE *f = fopen(tsv, "w");
    CHECK(f != NULL);
    if (!f) return;
    fprintf(f, "attngan_test_idx\tmmvae_sorted_idx\timage_key\tclass_id\tcap_idx\tcaption\n");
    for (int i = 0; i < 8; i++)
        for (int c = 0; c < 2; c++)
            fprintf(f, "%d\t%d\t%03d.Bird/Bird_%d\t%d\t%d\tthis bird has red wings and a short "
                       "black beak.\n", i, i, 1 + i % 2, i, 1 + i % 2, c);
    fclose(f);
    int rc = sh("%s suite freeze --captions %s --protocol suites/protocols/smoke.json --vocab "
                "suites/vocab/cub_test.vocab.txt --dataset cub --seed 7 --images 8 --block-size 4 "
                "--name same --out %s", BIN, tsv, suite);
    CHECKF(rc == 0, "%s", OUT);
    if (rc) return;
    rc = sh("%s run --suite %s --model %s --protocol suites/protocols/smoke.json --evaluators %s "
            "--db %s --limit 4 --batch 4 -q", BIN, suite, MODEL, EVAL, db);
    CHECKF(rc == 0, "%s", OUT);
    CHECK(q_int(db, "SELECT count(*) FROM samples WHERE run = 1 AND rp_rank = 0") == 4);
    char v[64];
    q_text(db, "SELECT value FROM metrics WHERE run = 1 AND name = 'rp'", v, sizeof v);
    CHECKF(atof(v) == 100.0, "R-precision '%s'", v);
}

int main(void) {
    PRINT = getenv("T2I_GOLDEN_PRINT") != NULL;
    BIN = getenv("T2I_BIN") && *getenv("T2I_BIN") ? getenv("T2I_BIN") : "build/t2ibench";
    snprintf(T, sizeof T, "/tmp/t2ig_%d", (int)getpid());
    mkdir(T, 0700);
    snprintf(SUITE, sizeof SUITE, "%s/g.suite", T);
    snprintf(PROTO5, sizeof PROTO5, "%s/smoke5.json", T);
    // The golden protocol: smoke with WORDS_NUM 12 for CUB (long captions truncated, also the
    // mismatch captions; short ones padded, so the attention mask matters) and an IS sample
    // shuffle (seed 3).
    char tmp[300];
    snprintf(tmp, sizeof tmp, "%s/smoke_a.json", T);
    int ok = patch_file("suites/protocols/smoke.json", tmp, "\"cub\": 25", "\"cub\": 12") &&
             patch_file(tmp, PROTO5, "\"shuffle_seed\": 0,\n    \"temperature\"",
                        "\"shuffle_seed\": 3,\n    \"temperature\"");
    int rc = ok ? sh("%s suite freeze --captions suites/data/cub/test_captions.tsv --protocol %s "
                     "--vocab suites/vocab/cub_test.vocab.txt --dataset cub --seed 7 --images 12 "
                     "--block-size 4 --name golden --out %s",
                     BIN, PROTO5, SUITE)
                : -1;
    if (rc != 0) {
        fprintf(stderr, "cannot prepare the golden suite (patch %d): %s\n", ok, OUT);
        test_failed++;
        return test_report("test_golden");
    }
    RUN(rng_golden_draws);
    RUN(suite_freeze_golden);
    RUN(run_golden_batch4);
    RUN(run_golden_batch3_one_thread);
    if (!PRINT) RUN(run_identical_captions_rank_first);
    if (!test_failed) sh("rm -rf %s", T);
    return test_report("test_golden");
}
