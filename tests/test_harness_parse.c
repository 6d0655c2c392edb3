// test_harness_parse.c -- the harness's strict parsers and the SQLite store through the library
// (fast, no networks; runs under SANITIZE=1): JSON paths in errors, protocol/suite/card
// validation, every truncation of a suite file refused cleanly, database schema/version rules,
// and a database round trip through results.h.
#include "test.h"

#include "db.h"
#include "evaluators.h"
#include "jsonx.h"
#include "model_card.h"
#include "protocol.h"
#include "results.h"
#include "suite.h"
#include "t2i.h"
#include "vocab.h"

#include <math.h>
#include <sys/stat.h>
#include <unistd.h>

static char T[256];

static void write_file(const char *path, const char *text, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return;
    fwrite(text, 1, n, f);
    fclose(f);
}

static char *slurp(const char *path, size_t *n) {
    uint8_t *d = NULL;
    if (t2i_read_file(path, &d, n)) return NULL;
    return (char *)d;
}

TEST(test_jsonx_paths) {
    cJSON *j = NULL;
    const char *bad = "{\n  \"a\": 1,\n  \"b\": [1, 2,]\n}";
    CHECK(jx_parse_buf("x.json", bad, strlen(bad), &j) == T2I_EARG);
    CHECKF(strstr(t2i_errmsg(), "x.json") && strstr(t2i_errmsg(), "line 3"), "%s", t2i_errmsg());
    const char *trail = "{\"a\": 1} x";
    CHECK(jx_parse_buf("t.json", trail, strlen(trail), &j) == T2I_EARG);
    const char *ok = "{\"a\": {\"b\": 2, \"c\": \"s\"}, \"d\": true}";
    CHECK(jx_parse_buf("o.json", ok, strlen(ok), &j) == T2I_OK);
    static const char *const top[] = {"a", "d", NULL}, *const top2[] = {"a", NULL},
                             *const top3[] = {"a", "d", "e", NULL};
    CHECK(jx_keys(j, "o.json", "$", top) == T2I_OK);
    CHECK(jx_keys(j, "o.json", "$", top2) == T2I_EARG);
    CHECKF(strstr(t2i_errmsg(), "$.d: unknown key"), "%s", t2i_errmsg());
    CHECK(jx_keys(j, "o.json", "$", top3) == T2I_EARG);
    CHECKF(strstr(t2i_errmsg(), "$.e: missing key"), "%s", t2i_errmsg());
    const cJSON *a;
    long v;
    const char *s;
    CHECK(jx_obj(j, "o.json", "$", "a", &a) == T2I_OK);
    CHECK(jx_int(a, "o.json", "$.a", "b", 0, 10, &v) == T2I_OK && v == 2);
    CHECK(jx_int(a, "o.json", "$.a", "b", 3, 10, &v) == T2I_EARG);
    CHECK(jx_int(a, "o.json", "$.a", "c", 0, 10, &v) == T2I_EARG);
    CHECKF(strstr(t2i_errmsg(), "$.a.c: expected a number"), "%s", t2i_errmsg());
    CHECK(jx_str(a, "o.json", "$.a", "c", &s) == T2I_OK && !strcmp(s, "s"));
    static const char *const names[] = {"x", "y", NULL};
    int k;
    CHECK(jx_enum(a, "o.json", "$.a", "c", names, &k) == T2I_EARG);
    CHECKF(strstr(t2i_errmsg(), "not one of: x, y"), "%s", t2i_errmsg());
    cJSON_Delete(j);
    const char *dup = "{\"a\": 1, \"a\": 2}";
    CHECK(jx_parse_buf("d.json", dup, strlen(dup), &j) == T2I_OK);
    static const char *const ka[] = {"a", NULL};
    CHECK(jx_keys(j, "d.json", "$", ka) == T2I_EARG);
    CHECKF(strstr(t2i_errmsg(), "duplicate"), "%s", t2i_errmsg());
    cJSON_Delete(j);
}

TEST(test_protocol_every_key_required) {
    size_t n = 0;
    char *text = slurp("suites/protocols/dmgan-2020.json", &n);
    CHECK(text != NULL);
    if (!text) return;
    Protocol P;
    CHECK(protocol_parse("p.json", text, n, &P) == T2I_OK);
    CHECK(P.rp_fold_rule == FOLDS_DMGAN && P.quantization == PQUANT_TRUNCATE &&
          P.is_resize == RESIZE_BILINEAR_PIL && !strcmp(P.is_classifier[DATASET_CUB], "slim-cub"));
    protocol_free(&P);
    // Removing any one "key": value line makes the file invalid, and the message names the key.
    const char *keys[] = {"\"passes\"", "\"words_num\"", "\"noise_bound\"", "\"splits\"",
                          "\"fold_rule\"", "\"temperature\"", "\"attention_mask\"", "\"k\""};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        char *p = strstr(text, keys[i]);
        CHECK(p != NULL);
        if (!p) continue;
        char *e = strchr(p, '\n');
        char *copy = t2i_malloc(n + 1);
        size_t pre = (size_t)(p - text);
        memcpy(copy, text, pre);
        memcpy(copy + pre, e, n - (size_t)(e - text));
        size_t m = pre + n - (size_t)(e - text);
        int rc = protocol_parse("p.json", copy, m, &P);
        CHECKF(rc == T2I_EARG, "removing %s: rc %d", keys[i], rc);
        char want[64];
        snprintf(want, sizeof want, ".%.*s", (int)strlen(keys[i]) - 2, keys[i] + 1);
        // Either the key itself is reported missing, or the JSON became malformed (a trailing
        // comma left behind): both name the file.
        CHECKF(strstr(t2i_errmsg(), "p.json") &&
                   (strstr(t2i_errmsg(), want) || strstr(t2i_errmsg(), "malformed")),
               "removing %s: %s", keys[i], t2i_errmsg());
        protocol_free(&P);
        t2i_free(copy);
    }
    t2i_free(text);
}

// A tiny caption table and vocabulary: 6 images in 3 classes, 2 captions each.
static void tiny_inputs(char *tsv, char *voc, char *proto) {
    snprintf(tsv, 300, "%s/caps.tsv", T);
    snprintf(voc, 300, "%s/v.txt", T);
    snprintf(proto, 300, "%s/p.json", T);
    const char *t = "image_idx\timage_key\tclass_id\tcap_idx\tcaption\n"
                    "0\ta/0\t1\t0\ta small red bird\n"
                    "0\ta/0\t1\t1\tred bird with a long tail and a very very short thick beak "
                    "that is pointed\n"
                    "1\ta/1\t1\t0\ta red bird\n"
                    "1\ta/1\t1\t1\tthe bird is red\n"
                    "2\tb/2\t2\t0\ta blue bird\n"
                    "2\tb/2\t2\t1\tthe bird is blue\\twith a tab\n"
                    "3\tb/3\t2\t0\ta blue small bird\n"
                    "3\tb/3\t2\t1\tblue bird\n"
                    "4\tc/4\t3\t0\ta green bird\n"
                    "4\tc/4\t3\t1\tthe bird is green\n"
                    "5\tc/5\t3\t0\tgreen small bird\n"
                    "5\tc/5\t3\t1\tgreen bird with a tail\n";
    write_file(tsv, t, strlen(t));
    const char *words[] = {"<end>", "a", "small", "red", "bird", "with", "long", "tail", "and",
                           "very", "short", "thick", "beak", "that", "is", "pointed", "the",
                           "blue", "tab", "green"};
    FILE *f = fopen(voc, "w");
    for (int i = 0; i < 20; i++) fprintf(f, "%d\t%s\n", i, words[i]);
    fclose(f);
    size_t n = 0;
    char *p = slurp("suites/protocols/smoke.json", &n);
    if (!p) return;
    // 5 mismatches, 2 passes, blocks of 3, WORDS_NUM 6.
    char *q = strstr(p, "\"mismatches\": 99");
    if (q) memcpy(q, "\"mismatches\":  5", 16);
    q = strstr(p, "\"block_size\": 16");
    if (q) memcpy(q, "\"block_size\":  3", 16);
    q = strstr(p, "\"passes\": 1");
    if (q) memcpy(q, "\"passes\": 2", 11);
    q = strstr(p, "{\"cub\": 25");
    if (q) memcpy(q, "{\"cub\":  6", 10);
    q = strstr(p, "\"k\": 1,");
    write_file(proto, p, n);
    t2i_free(p);
}

TEST(test_suite_freeze_load_and_truncations) {
    char tsv[300], voc[300], proto[300], out[300];
    tiny_inputs(tsv, voc, proto);
    snprintf(out, sizeof out, "%s/s.suite", T);
    Protocol P;
    Vocab V;
    int rc = protocol_load(proto, &P);
    CHECKF(rc == T2I_OK, "%s", t2i_errmsg());
    CHECK(vocab_load_text(voc, &V) == T2I_OK);
    if (rc) return;
    FreezeOpts o = {.name = "tiny", .captions = "caps.tsv", .captions_open = tsv, .protocol = &P,
                    .protocol_path = proto, .vocab = &V, .vocab_sha256 = "0", .dataset = DATASET_CUB,
                    .seed = 3};
    int64_t n = 0;
    rc = suite_freeze(&o, out, &n);
    CHECKF(rc == T2I_OK && n == 12, "rc %d n %lld: %s", rc, (long long)n, t2i_errmsg());
    Suite s;
    rc = suite_load(out, &s);
    CHECKF(rc == T2I_OK, "%s", t2i_errmsg());
    if (!rc) {
        CHECK(s.n == 12 && s.block_size == 3 && s.mismatches == 5 && suite_blocks(&s) == 4);
        int other = 1, trunc = 0;
        for (int64_t i = 0; i < s.n; i++) {
            for (int k = 0; k < 5; k++)
                other &= s.table.class_id[s.table.image_slot[s.s[i].mismatch[k]]] != s.s[i].class_id;
            // Two passes: sample i and i + 6 show the same image.
            if (i < 6) CHECK(s.s[i].image_slot == s.s[i + 6].image_slot);
            if (s.s[i].n_words) {
                trunc++;
                CHECK(s.s[i].n_words == 6 && s.s[i].ntok > 6);
                for (int w = 1; w < 6; w++) CHECK(s.s[i].words[w] > s.s[i].words[w - 1]);
            }
        }
        CHECK(other);
        // Escapes survive: the tab caption is stored unescaped in memory.
        int tab = 0;
        for (int64_t r = 0; r < s.table.n_rows; r++) tab += strchr(s.table.caption[r], '\t') != NULL;
        CHECK(tab == 1);
        (void)trunc;
    }
    suite_free(&s);
    // Every proper prefix of the file is refused with a message (never a crash or a success).
    size_t len = 0;
    char *text = slurp(out, &len);
    char cut[300];
    snprintf(cut, sizeof cut, "%s/cut.suite", T);
    int ok = 1;
    for (size_t k = 0; text && k + 1 < len; k++) {
        write_file(cut, text, k);
        Suite x;
        int r2 = suite_load(cut, &x);
        if (r2 == T2I_OK || !*t2i_errmsg()) {
            fprintf(stderr, "    prefix %zu accepted\n", k);
            ok = 0;
            suite_free(&x);
            break;
        }
    }
    CHECK(ok);
    // Flipping any byte of the body is caught (hashes, counts, cross-checks with the table)
    // unless it is the caption-id-preserving case of a digit... every flip must not crash.
    for (size_t k = 0; text && k < len; k += 7) {
        char c = text[k];
        text[k] = c == '1' ? '2' : '1';
        write_file(cut, text, len);
        Suite x;
        if (suite_load(cut, &x) == T2I_OK) suite_free(&x);
        text[k] = c;
    }
    t2i_free(text);
    // The table hash is checked.
    char *t = slurp(tsv, &len);
    if (t) {
        t[len - 2] = 'X';
        write_file(tsv, t, len);
        Suite x;
        CHECK(suite_load(out, &x) == T2I_EFORMAT);
        CHECKF(strstr(t2i_errmsg(), "caps.tsv") && strstr(t2i_errmsg(), "sha256"), "%s",
               t2i_errmsg());
        t2i_free(t);
    }
    protocol_free(&P);
    vocab_free(&V);
}

TEST(test_caption_table_errors) {
    char p[300];
    snprintf(p, sizeof p, "%s/bad.tsv", T);
    const char *a = "image_key\tcaption\nx\ty\n";
    write_file(p, a, strlen(a));
    CaptionTable t;
    CHECK(caption_table_load(p, &t) == T2I_EFORMAT);
    CHECKF(strstr(t2i_errmsg(), "bad.tsv:1"), "%s", t2i_errmsg());
    const char *b = "image_idx\timage_key\tclass_id\tcap_idx\tcaption\n0\tk\t1\t0\tok\n0\tk\t2\t1\tx\n";
    write_file(p, b, strlen(b));
    CHECK(caption_table_load(p, &t) == T2I_EFORMAT);
    CHECKF(strstr(t2i_errmsg(), "bad.tsv:3"), "%s", t2i_errmsg());
    const char *c = "image_idx\timage_key\tclass_id\tcap_idx\tcaption\n0\tk\t1\tzz\tok\n";
    write_file(p, c, strlen(c));
    CHECK(caption_table_load(p, &t) == T2I_EFORMAT);
    const char *d = "image_idx\timage_key\tclass_id\tcap_idx\tcaption\n0\tk\t1\t0\n";
    write_file(p, d, strlen(d));
    CHECK(caption_table_load(p, &t) == T2I_EFORMAT);
    CHECKF(strstr(t2i_errmsg(), "fields"), "%s", t2i_errmsg());
}

TEST(test_db_round_trip_and_versions) {
    char p[300];
    snprintf(p, sizeof p, "%s/r.db", T);
    Db d;
    CHECK(db_open(&d, p, 1) != T2I_OK);   // read-only open of a missing file
    CHECK(db_open(&d, p, 0) == T2I_OK);
    DbRun r = {.status = "running", .kind = "run", .run_key = "k", .fingerprint = "f",
               .inputs_fingerprint = "i", .model_fingerprint = "m", .suite = "s",
               .suite_sha256 = "h", .protocol = "p", .model = "mo", .evaluators = "e",
               .n_samples = 3, .n_blocks = 2, .block_size = 2, .provenance = "{\"x\": 1}"};
    int64_t id = 0;
    CHECK(db_begin(&d) == T2I_OK);
    CHECK(db_run_insert(&d, &r, &id) == T2I_OK && id == 1);
    float lg[3] = {1, 2, 3}, sc[2] = {0.5f, 0.25f};
    DbSample s = {.sample = 0, .block = 0, .is_logits = lg, .n_is = 3, .rp_rank = 1,
                  .rp_scores = sc, .n_rp = 2, .image_sha256 = "abc"};
    CHECK(db_sample_put(&d, id, &s) == T2I_OK);
    CHECK(db_block_done(&d, id, 0, 2, 1.5) == T2I_OK);
    CHECK(db_timing_add(&d, id, "generate", 2.0, 2) == T2I_OK);
    CHECK(db_timing_add(&d, id, "generate", 1.0, 2) == T2I_OK);
    CHECK(db_metric_put(&d, id, "is", 4.5, 0.25, 10, 1) == T2I_OK);
    CHECK(db_metric_put(&d, id, "fid", 12.0, NAN, 3, -1) == T2I_OK);
    CHECK(db_commit(&d) == T2I_OK);
    int64_t found = 0;
    CHECK(db_run_find_incomplete(&d, "k", &found) == T2I_OK && found == id);
    CHECK(db_run_find_incomplete(&d, "other", &found) == T2I_OK && found == 0);
    uint8_t done[2];
    CHECK(db_blocks_done(&d, id, done, 2) == T2I_OK && done[0] == 1 && done[1] == 0);
    CHECK(db_begin(&d) == T2I_OK);
    CHECK(db_run_set_status(&d, id, "complete") == T2I_OK);
    CHECK(db_commit(&d) == T2I_OK);
    db_close(&d);
    // Read back through results.h.
    CHECK(db_open(&d, p, 1) == T2I_OK);
    ResRun rr;
    int64_t latest = 0;
    CHECK(res_parse_run(&d, "latest", &latest) == T2I_OK && latest == id);
    CHECK(res_parse_run(&d, "7", &latest) == T2I_EARG);
    CHECK(res_parse_run(&d, "x", &latest) == T2I_EARG);
    CHECK(res_load(&d, id, &rr) == T2I_OK);
    const ResMetric *m = res_metric(&rr, "is");
    CHECK(m && m->value == 4.5 && m->std == 0.25 && m->n == 10 && m->direction == 1);
    m = res_metric(&rr, "fid");
    CHECK(m && m->value == 12.0 && isnan(m->std) && m->direction == -1);
    m = res_metric(&rr, "time.generate");
    CHECK(m && m->value == 0.75 && m->n == 4 && m->direction == -1);
    CHECK(!strcmp(rr.status, "complete") && rr.blocks_done == 1 && rr.samples_done == 2);
    // JSON export round trip.
    char *js = res_to_json(&rr);
    char jp[300];
    snprintf(jp, sizeof jp, "%s/r.json", T);
    if (js) write_file(jp, js, strlen(js));
    t2i_free(js);
    ResRun back;
    CHECKF(res_load_json(jp, &back) == T2I_OK, "%s", t2i_errmsg());
    m = res_metric(&back, "is");
    CHECK(m && m->value == 4.5 && !strcmp(back.inputs_fingerprint, "i"));
    res_free(&back);
    res_free(&rr);
    db_close(&d);
    // Newer schema and foreign application ids are refused, naming the file.
    sqlite3 *h = NULL;
    char q[300];
    snprintf(q, sizeof q, "%s/newer.db", T);
    sqlite3_open(q, &h);
    sqlite3_exec(h, "PRAGMA application_id=1949459810; PRAGMA user_version=2; CREATE TABLE a(b);",
                 NULL, NULL, NULL);
    sqlite3_close(h);
    CHECK(db_open(&d, q, 0) == T2I_EDB);
    CHECKF(strstr(t2i_errmsg(), "newer.db") && strstr(t2i_errmsg(), "newer"), "%s", t2i_errmsg());
    snprintf(q, sizeof q, "%s/foreign.db", T);
    sqlite3_open(q, &h);
    sqlite3_exec(h, "PRAGMA application_id=42; CREATE TABLE a(b);", NULL, NULL, NULL);
    sqlite3_close(h);
    CHECK(db_open(&d, q, 0) == T2I_EDB);
    CHECKF(strstr(t2i_errmsg(), "not a t2ibench database"), "%s", t2i_errmsg());
    snprintf(q, sizeof q, "%s/plain.db", T);
    sqlite3_open(q, &h);
    sqlite3_exec(h, "CREATE TABLE a(b);", NULL, NULL, NULL);
    sqlite3_close(h);
    CHECK(db_open(&d, q, 0) == T2I_EDB);
}

TEST(test_evaluator_card_errors) {
    char p[300];
    snprintf(p, sizeof p, "%s/e.json", T);
    const char *base =
        "{\"format\": \"t2ibench-evaluators/1\", \"name\": \"e\", \"dataset\": \"cub\", "
        "\"notes\": \"\", \"inception_score\": {\"variant\": \"torchvision\", \"weights\": "
        "\"hash:attngan-oracle-hash-v1\", \"num_classes\": 1000, \"first_class\": 990, "
        "\"classes\": 20}, \"damsm\": null, \"fid\": null}";
    write_file(p, base, strlen(base));
    EvalCard c;
    CHECK(evalcard_load(p, &c) == T2I_EARG);
    CHECKF(strstr(t2i_errmsg(), "e.json") && strstr(t2i_errmsg(), "$.inception_score"), "%s",
           t2i_errmsg());
    const char *ok =
        "{\"format\": \"t2ibench-evaluators/1\", \"name\": \"e\", \"dataset\": \"coco\", "
        "\"notes\": \"\", \"inception_score\": null, \"damsm\": null, \"fid\": {\"variant\": "
        "\"tf2015\", \"weights\": \"w.pth\", \"statistics\": \"s.npz\"}}";
    write_file(p, ok, strlen(ok));
    CHECK(evalcard_load(p, &c) == T2I_OK);
    CHECK(c.has_fid && !c.has_is && c.dataset == DATASET_COCO);
    CHECK(c.fid_stats && strstr(c.fid_stats, T) && strstr(c.fid_weights, "/w.pth"));
    evalcard_free(&c);
}

// Hostile finding 11 of issue 13: an allocation failure anywhere inside a card, protocol, suite
// or vocabulary loader gives a message that names the file (a bare T2I_ENOMEM from a helper used
// to print an empty or stale text). Every allocation fails in turn until the load succeeds.
typedef int (*LoadFn)(const char *path, void *obj);
typedef void (*FreeFn)(void *obj);
static int ld_card(const char *p, void *o) { return model_card_load(p, o); }
static void fr_card(void *o) { model_card_free(o); }
static int ld_eval(const char *p, void *o) { return evalcard_load(p, o); }
static void fr_eval(void *o) { evalcard_free(o); }
static int ld_proto(const char *p, void *o) { return protocol_load(p, o); }
static void fr_proto(void *o) { protocol_free(o); }
static int ld_suite(const char *p, void *o) { return suite_load(p, o); }
static void fr_suite(void *o) { suite_free(o); }
static int ld_vocab(const char *p, void *o) { return vocab_load(p, o); }
static void fr_vocab(void *o) { vocab_free(o); }

TEST(test_alloc_failures_name_the_file) {
    static union {
        ModelCard mc;
        EvalCard ec;
        Protocol pr;
        Suite su;
        Vocab vo;
    } obj;
    const struct {
        const char *path;
        LoadFn load;
        FreeFn free;
    } cases[] = {
        {"suites/models/demo_bird.json", ld_card, fr_card},
        {"suites/models/demo_dfgan_bird.json", ld_card, fr_card},
        {"suites/evaluators/demo_cub.json", ld_eval, fr_eval},
        {"suites/protocols/smoke.json", ld_proto, fr_proto},
        {"suites/cub_smoke.suite", ld_suite, fr_suite},
        {"suites/vocab/cub_test.vocab.txt", ld_vocab, fr_vocab},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        int ok = 0, failures = 0;
        // Every one of the first 64 allocations, then steps growing by a quarter (a suite
        // makes thousands of allocations; each step reloads the whole file).
        for (long n = 0; n < 100000000 && !ok; n = n < 64 ? n + 1 : n + n / 4) {
            t2i_error(T2I_EIO, "stale message from an earlier failure");
            memset(&obj, 0, sizeof obj);
            t2i_alloc_fail_after(n);
            int rc = cases[c].load(cases[c].path, &obj);
            t2i_alloc_fail_after(-1);
            if (rc == T2I_OK) {
                ok = 1;
            } else {
                failures++;
                CHECKF(strstr(t2i_errmsg(), cases[c].path) && !strstr(t2i_errmsg(), "stale"),
                       "%s, allocation %ld failing: rc %d, message '%s'", cases[c].path, n, rc,
                       t2i_errmsg());
            }
            cases[c].free(&obj);
            if (test_failed) return;
        }
        CHECKF(ok && failures > 0, "%s: loaded %d, %d failing allocations", cases[c].path, ok,
               failures);
    }
}

int main(void) {
    snprintf(T, sizeof T, "/tmp/t2ihp_%d", (int)getpid());
    mkdir(T, 0777);
    RUN(test_jsonx_paths);
    RUN(test_protocol_every_key_required);
    RUN(test_suite_freeze_load_and_truncations);
    RUN(test_caption_table_errors);
    RUN(test_db_round_trip_and_versions);
    RUN(test_evaluator_card_errors);
    RUN(test_alloc_failures_name_the_file);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf %s", T);
    if (!test_failed && system(cmd) != 0) fprintf(stderr, "cannot remove %s\n", T);
    return test_report("test_harness_parse");
}
