// test_breakdown.c -- per-group tables and the sample-set rules on hand-built runs (no network,
// no database), with answers worked out by hand:
//   * length buckets 1-5, 6-10, ..., 21-25, 26+ and "no words" at every bucket edge;
//   * R-precision hits (rank < k, ranks -1 not counted), mean true and top scores with the top
//     score in the last column; IS per group from exactly BREAKDOWN_IS_MIN samples, not below;
//   * FID per group: NaN for a group of one sample, a number from two on;
//   * worst captions: the largest rank increase first, ties by the worse rank of run b, then by
//     sample id; rows where either run has no rank left out; at most `top` rows;
//   * samples_same_set: equal counts with different ids are not the same set;
//   * golden digests: the sample-set digest ("N:" + SHA-256 of "id\n" lines) and the stored row
//     checksum (length-prefixed fields), both computed independently with Python's hashlib,
//     so that databases written by earlier builds keep comparing and verifying;
//   * res_same_samples compares the whole digest;
//   * a run's KID against a reference with fewer rows than the run: subsets of the smaller
//     size; a reference file changed since the run started is refused.
#include "test.h"

#include "breakdown.h"
#include "db.h"
#include "fid.h"
#include "npy.h"
#include "results.h"
#include "samples.h"
#include "scoring.h"
#include "sha256.h"
#include "suite.h"
#include "t2i.h"

#include <math.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#define NMAX 32

static SuiteSample ss[NMAX];
static Suite       S;
static int64_t     ids[NMAX];
static int         rank[NMAX];
static float       scores[NMAX * 3];
static float       logits[NMAX * 3];
static float       feats[NMAX * 4];

// A suite of n samples with the given word counts and classes, and a run over all of them.
static void make(RunSamples *r, int n, const int *words, const int *cls) {
    memset(&S, 0, sizeof S);
    memset(ss, 0, sizeof ss);
    S.n = n;
    S.s = ss;
    S.path = "hand-built.suite";
    memset(r, 0, sizeof *r);
    r->n = n;
    r->id = ids;
    r->rp_rank = rank;
    for (int i = 0; i < n; i++) {
        ss[i].id = i;
        ss[i].n_words = words ? words[i] : 1;
        ss[i].ntok = words ? words[i] : 1;
        ss[i].class_id = cls ? cls[i] : 0;
        ids[i] = i;
        rank[i] = 0;
    }
}

TEST(length_bucket_edges) {
    static const int words[] = {0, 1, 5, 6, 10, 11, 25, 26, 40};
    static const int want_key[] = {0, 1, 6, 11, 21, 26};
    static const int64_t want_n[] = {1, 2, 2, 1, 1, 2};
    static const char *const want_label[] = {"no words", "1-5 words", "6-10 words",
                                             "11-15 words", "21-25 words", "26+ words"};
    RunSamples r;
    make(&r, 9, words, NULL);
    ScoreSpec sp;
    memset(&sp, 0, sizeof sp);
    sp.rp_k = 1;
    BreakRow *rows = NULL;
    int n = 0;
    CHECK(breakdown(&r, &S, &sp, BREAK_LENGTH, &rows, &n) == T2I_OK);
    CHECKF(n == 6, "%d groups", n);
    for (int g = 0; g < n && g < 6; g++) {
        CHECKF(rows[g].key == want_key[g] && rows[g].n == want_n[g] &&
                   !strcmp(rows[g].label, want_label[g]),
               "group %d: key %d n %lld '%s'", g, rows[g].key, (long long)rows[g].n, rows[g].label);
    }
    t2i_free(rows);
    // A sample of no words (ntok 0) that kept no positions falls in "no words" too.
    ss[0].n_words = 0, ss[0].ntok = 0;
    ss[1].n_words = 0, ss[1].ntok = 3;   // n_words 0 = not truncated: the token count decides
    CHECK(breakdown(&r, &S, &sp, BREAK_LENGTH, &rows, &n) == T2I_OK);
    CHECK(n >= 1 && rows[0].key == 0 && rows[0].n == 1 && rows[1].key == 1 && rows[1].n == 2);
    t2i_free(rows);
}

TEST(hits_scores_and_is_minimum) {
    // Class 3: 10 samples (IS computed), class 5: 9 samples (too few).
    int cls[19];
    for (int i = 0; i < 19; i++) cls[i] = i < 10 ? 3 : 5;
    RunSamples r;
    make(&r, 19, NULL, cls);
    r.n_rp = 3;
    r.rp_scores = scores;
    r.n_is = 3;
    r.is = logits;
    for (int i = 0; i < 19; i++) {
        rank[i] = i % 4 == 3 ? -1 : i % 4;   // 0, 1, 2, -1, ...
        scores[i * 3 + 0] = 0.5f;            // the true caption
        scores[i * 3 + 1] = 0.25f;
        scores[i * 3 + 2] = i < 10 ? 0.75f : 0.125f;   // the top score in the last column
        for (int c = 0; c < 3; c++) logits[i * 3 + c] = (float)((i * 7 + c * 3) % 5);
    }
    ScoreSpec sp;
    memset(&sp, 0, sizeof sp);
    sp.rp_k = 2;
    BreakRow *rows = NULL;
    int n = 0;
    CHECK(breakdown(&r, &S, &sp, BREAK_CLASS, &rows, &n) == T2I_OK);
    CHECK(n == 2);
    if (n != 2) return;
    // Class 3: i = 0..9, ranks 0 1 2 -1 0 1 2 -1 0 1: hits (rank < 2) at 0 1 4 5 8 9.
    CHECKF(rows[0].key == 3 && rows[0].n == 10 && rows[0].hits == 6, "hits %lld",
           (long long)rows[0].hits);
    CHECK_CLOSE(rows[0].rp, 60.0, 1e-12, 0);
    CHECK_CLOSE(rows[0].true_score, 0.5, 1e-12, 0);
    CHECK_CLOSE(rows[0].top_score, 0.75, 1e-12, 0);
    CHECKF(rows[0].is_state == 0 && isfinite(rows[0].is), "state %d is %g", rows[0].is_state,
           rows[0].is);
    // Class 5: i = 10..18, ranks 2 -1 0 1 2 -1 0 1 2: hits at 12 13 16 17.
    CHECKF(rows[1].key == 5 && rows[1].n == 9 && rows[1].hits == 4, "hits %lld",
           (long long)rows[1].hits);
    CHECK_CLOSE(rows[1].top_score, 0.5, 1e-12, 0);
    CHECK(rows[1].is_state == 1 && isnan(rows[1].is));
    t2i_free(rows);
}

TEST(fid_per_group_needs_two) {
    static const int cls[] = {1, 2, 2, 2};
    RunSamples r;
    make(&r, 4, NULL, cls);
    r.n_fid = 4;
    r.fid = feats;
    for (int i = 0; i < 4 * 4; i++) feats[i] = (float)((i * 5) % 7) * 0.25f;
    FidStats ref;
    memset(&ref, 0, sizeof ref);
    CHECK(fid_stats_from_features(feats, DT_F32, 4, 4, &ref) == T2I_OK);
    ScoreSpec sp;
    memset(&sp, 0, sizeof sp);
    sp.rp_k = 1;
    BreakRow *rows = NULL;
    int n = 0;
    CHECK(breakdown(&r, &S, &sp, BREAK_CLASS, &rows, &n) == T2I_OK && n == 2);
    if (n == 2) {
        CHECK(breakdown_fid(&r, &S, BREAK_CLASS, &ref, rows, n) == T2I_OK);
        CHECKF(isnan(rows[0].fid), "one sample: FID %g", rows[0].fid);
        CHECKF(isfinite(rows[1].fid), "three samples: FID %g", rows[1].fid);
    }
    t2i_free(rows);
    fid_stats_free(&ref);
}

TEST(worst_captions_order) {
    static int64_t id[6] = {0, 1, 2, 3, 4, 5};
    static int ra[6] = {0, 0, 1, 0, 2, 0}, rb[6] = {3, 2, 4, -1, 5, 1};
    RunSamples a, b;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    a.n = b.n = 6;
    a.id = b.id = id;
    a.rp_rank = ra;
    b.rp_rank = rb;
    WorstRow *w = NULL;
    int n = 0;
    // Increases: s0 +3 (b 3), s1 +2, s2 +3 (b 4), s3 no rank in b, s4 +3 (b 5), s5 +1.
    CHECK(breakdown_worst(&a, &b, 10, &w, &n) == T2I_OK);
    static const int64_t want[] = {4, 2, 0, 1, 5};
    CHECKF(n == 5, "%d rows", n);
    for (int i = 0; i < n && i < 5; i++)
        CHECKF(w[i].sample == want[i], "row %d: sample %lld", i, (long long)w[i].sample);
    t2i_free(w);
    CHECK(breakdown_worst(&a, &b, 2, &w, &n) == T2I_OK && n == 2 && w[0].sample == 4);
    t2i_free(w);
    // Run a without a rank: left out as well.
    ra[4] = -1;
    CHECK(breakdown_worst(&a, &b, 10, &w, &n) == T2I_OK && n == 4 && w[0].sample == 2);
    t2i_free(w);
    ra[4] = 2;
}

TEST(sample_sets) {
    static int64_t x[3] = {0, 1, 2}, y[3] = {0, 1, 3};
    RunSamples a, b;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    a.n = b.n = 3;
    a.id = x;
    b.id = y;
    char why[256];
    CHECK(samples_same_set(&a, 1, &a, 2, why, sizeof why) == 1 && why[0] == 0);
    CHECK(samples_same_set(&a, 1, &b, 2, why, sizeof why) == 0);
    CHECKF(strstr(why, "position 2") != NULL, "%s", why);
    b.n = 2;
    CHECK(samples_same_set(&a, 1, &b, 2, why, sizeof why) == 0);

    // Golden: "4:" + sha256("0\n1\n2\n10\n") (hashlib).
    static const int64_t set[4] = {0, 1, 2, 10};
    char d[SCORING_SAMPLE_SET_LEN];
    scoring_sample_set(set, 4, d);
    CHECKF(!strcmp(d, "4:aee2563c648e9150d7bf2ecb937839145d22237f0116698f4b7db2dfdd447151"), "%s",
           d);
    // Two runs of 4 samples with other ids: not the same set, though the counts agree.
    static const int64_t other[4] = {0, 1, 2, 11};
    ResRun ra, rb;
    memset(&ra, 0, sizeof ra);
    memset(&rb, 0, sizeof rb);
    ra.id = 1, rb.id = 2;
    ra.n_samples = rb.n_samples = 4;
    scoring_sample_set(set, 4, ra.sample_set);
    scoring_sample_set(other, 4, rb.sample_set);
    CHECK(res_same_samples(&ra, &ra, why, sizeof why) == 1);
    CHECK(res_same_samples(&ra, &rb, why, sizeof why) == 0 && strstr(why, "not comparable"));
    // The whole digest counts: one that differs in its last character only is another set.
    rb = ra;
    rb.id = 2;
    size_t L = strlen(rb.sample_set);
    rb.sample_set[L - 1] = rb.sample_set[L - 1] == '0' ? '1' : '0';
    CHECK(res_same_samples(&ra, &rb, why, sizeof why) == 0);
}

TEST(row_checksum_golden) {
    // sha256 over le64 sample, le64 block, then each blob as le64 length (-1 when absent) and
    // bytes, the rank as le64 (hashlib, tools-free: see the header).
    static const float isl[3] = {1.0f, -2.0f, 0.5f}, rps[2] = {0.25f, 0.75f};
    char sha[65];
    for (int i = 0; i < 32; i++) memcpy(sha + 2 * i, "ab", 2);
    sha[64] = 0;
    DbRow w = {.sample = 7, .block = 1, .is_logits = isl, .is_bytes = sizeof isl, .rp_rank = 3,
               .rp_scores = rps, .rp_bytes = sizeof rps, .fid_feat = NULL, .fid_bytes = 0,
               .image_sha256 = sha};
    char hex[65];
    db_row_checksum(&w, hex);
    CHECKF(!strcmp(hex, "3118306a2a8827821aefd74a5c2d984d7d4bef1db0ba82cf6fa90997e79a7c3c"), "%s",
           hex);
    // Moving the rank or the bytes between columns changes it.
    char h2[65];
    w.rp_rank = 4;
    db_row_checksum(&w, h2);
    CHECK(strcmp(hex, h2) != 0);
    w.rp_rank = 3;
    w.is_bytes = 8, w.rp_scores = isl, w.rp_bytes = 4;   // 12 bytes of isl split 8 + 4
    db_row_checksum(&w, h2);
    CHECK(strcmp(hex, h2) != 0);
}

TEST(kid_against_small_reference) {
    char dir[] = "/tmp/t2i_breakdown_XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    static float ref[2 * 2048], run[3 * 2048];
    for (int i = 0; i < 2 * 2048; i++) ref[i] = (float)((i * 13) % 11) * 0.1f;
    for (int i = 0; i < 3 * 2048; i++) run[i] = (float)((i * 7) % 5) * 0.2f;
    ScoreSpec sp;
    memset(&sp, 0, sizeof sp);
    snprintf(sp.kid_ref, sizeof sp.kid_ref, "%s/ref.npy", dir);
    int64_t shape[2] = {2, 2048};
    CHECK(npy_save(sp.kid_ref, DT_F32, 2, shape, ref) == T2I_OK);
    ScoreValue v;
    int have = 0;
    // 3 samples, 2 reference rows: subsets of 2 rows.
    CHECKF(scoring_kid(&sp, run, 3, &v, &have) == T2I_OK && have == 1, "%s", t2i_errmsg());
    CHECK(have && !strcmp(v.name, "kid") && v.n == 100 && isfinite(v.value));
    // The recorded digest of the file: a changed file is refused.
    CHECK(sha256_file(sp.kid_ref, sp.kid_ref_sha256) == T2I_OK);
    CHECK(scoring_kid(&sp, run, 3, &v, &have) == T2I_OK && have == 1);
    ref[5] += 1.0f;
    CHECK(npy_save(sp.kid_ref, DT_F32, 2, shape, ref) == T2I_OK);
    CHECK(scoring_kid(&sp, run, 3, &v, &have) != T2I_OK && have == 0);
    CHECKF(strstr(t2i_errmsg(), "changed since the run was started"), "%s", t2i_errmsg());
    unlink(sp.kid_ref);
    rmdir(dir);
}

int main(void) {
    RUN(length_bucket_edges);
    RUN(hits_scores_and_is_minimum);
    RUN(fid_per_group_needs_two);
    RUN(worst_captions_order);
    RUN(sample_sets);
    RUN(row_checksum_golden);
    RUN(kid_against_small_reference);
    return test_report("test_breakdown");
}
