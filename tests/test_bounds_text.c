// test_bounds_text.c -- every limit and check of the text parsers (protocol.c, model_card.c,
// evaluators.c, suite.c, the caption table and the vocabulary files) with the value at the
// limit and one past: integer ranges at lo, lo - 1, hi, hi + 1; string capacities at cap - 1
// and cap bytes; every key of every object removed (missing key), an unknown key and a
// duplicate key added; suite fields, field counts, ids and lists at their bounds. Each refusal
// must name the file and the place (JSON path or line and field). JSON documents are varied
// from the shipped protocol, evaluator card and model cards through cJSON.
#include "test.h"

#include "bytes_test.h"
#include "evaluators.h"
#include "jsonx.h"
#include "model_card.h"
#include "protocol.h"
#include "sha256.h"
#include "suite.h"
#include "t2i.h"
#include "vocab.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static char T[64] = "/tmp/t2i_btext_XXXXXX";

static void put_file(const char *path, const char *text, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) abort();
    fwrite(text, 1, n, f);
    fclose(f);
}
static char *tpath(const char *name) {
    static char p[8][128];
    static int  k;
    k = (k + 1) % 8;
    snprintf(p[k], sizeof p[k], "%s/%s", T, name);
    return p[k];
}

// ---- a parser under test: text in, rc out; `file` is the name its messages carry ---------------

typedef struct {
    const char *file;
    int (*parse)(const char *text, size_t len);
    const char *const *optional;   // keys that may be absent (NULL-terminated), may be NULL
} Target;

static int parse_protocol(const char *text, size_t len) {
    char *c = malloc(len ? len : 1);
    memcpy(c, text, len);
    Protocol p;
    int rc = protocol_parse("p.json", c, len, &p);
    protocol_free(&p);
    free(c);
    return rc;
}
static int parse_model(const char *text, size_t len) {
    char *c = malloc(len ? len : 1);
    memcpy(c, text, len);
    ModelCard m;
    int rc = model_card_parse(c, len, "/cards", "m.json", &m);
    model_card_free(&m);
    free(c);
    return rc;
}
static int parse_evalcard(const char *text, size_t len) {
    put_file(tpath("e.json"), text, len);
    EvalCard c;
    int rc = evalcard_load(tpath("e.json"), &c);
    evalcard_free(&c);
    return rc;
}

static int run_json(const Target *t, const cJSON *root) {
    char *s = cJSON_PrintUnformatted(root);
    int rc = t->parse(s, strlen(s));
    cJSON_free(s);
    return rc;
}

// The node at a dotted path ("sampling.words_num.cub"); its parent and key through out-params.
static cJSON *node_at(cJSON *root, const char *path, cJSON **parent, const char **key) {
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    cJSON *o = root, *par = NULL;
    static char last[64];
    for (char *tok = strtok(buf, "."); tok; tok = strtok(NULL, ".")) {
        par = o;
        o = cJSON_GetObjectItemCaseSensitive(o, tok);
        snprintf(last, sizeof last, "%s", tok);
        if (!o) return NULL;
    }
    if (parent) *parent = par;
    if (key) *key = last;
    return o;
}

static void set_at(cJSON *root, const char *path, cJSON *v) {
    cJSON      *par;
    const char *key;
    if (!node_at(root, path, &par, &key)) {
        cJSON_Delete(v);
        return;
    }
    cJSON_ReplaceItemInObjectCaseSensitive(par, key, v);
}

// ---- generic checks ---------------------------------------------------------------------------

typedef struct {
    const char *path;
    double      lo, hi, below, above;   // accepted bounds and the first refused values
    int         is_int;
} Range;

// At lo and hi: not refused by the range (accepted, or refused by another check); at below and
// above: refused naming the file, the path and the range.
static void check_ranges(const Target *t, const char *base, const Range *r, int n) {
    for (int i = 0; i < n; i++) {
        char where[160];
        snprintf(where, sizeof where, "$.%s: ", r[i].path);
        double vals[4] = {r[i].lo, r[i].hi, r[i].below, r[i].above};
        for (int k = 0; k < 4; k++) {
            cJSON *root = cJSON_Parse(base);
            CHECKF(node_at(root, r[i].path, NULL, NULL) != NULL, "%s: no %s", t->file, r[i].path);
            set_at(root, r[i].path, cJSON_CreateNumber(vals[k]));
            int rc = run_json(t, root);
            int by_range = rc != T2I_OK && msg_has(where) && msg_has("is outside");
            if (k < 2)
                CHECKF(!by_range, "%s %s = %.17g refused: %s", t->file, r[i].path, vals[k],
                       t2i_errmsg());
            else
                CHECKF(by_range && msg_has(t->file), "%s %s = %.17g: rc %d %s", t->file,
                       r[i].path, vals[k], rc, rc ? t2i_errmsg() : "accepted");
            cJSON_Delete(root);
        }
        if (r[i].is_int && r[i].hi > r[i].lo) {   // a fraction inside the range
            cJSON *root = cJSON_Parse(base);
            set_at(root, r[i].path, cJSON_CreateNumber(r[i].lo + 0.5));
            int rc = run_json(t, root);
            CHECKF(rc != T2I_OK && msg_has(t->file) && msg_has(where) &&
                       msg_has("expected an integer"),
                   "%s %s = lo + 0.5: %s", t->file, r[i].path, rc ? t2i_errmsg() : "accepted");
            cJSON_Delete(root);
        }
    }
}

typedef struct {
    const char *path;
    size_t      cap;   // longest accepted string
} StrCap;

static void check_strcaps(const Target *t, const char *base, const StrCap *s, int n) {
    for (int i = 0; i < n; i++) {
        char where[160], *str = malloc(s[i].cap + 2);
        snprintf(where, sizeof where, "$.%s: string longer than %zu bytes", s[i].path, s[i].cap);
        for (size_t len = s[i].cap; len <= s[i].cap + 1; len++) {
            memset(str, 'a', len);
            str[len] = 0;
            cJSON *root = cJSON_Parse(base);
            set_at(root, s[i].path, cJSON_CreateString(str));
            int rc = run_json(t, root);
            if (len == s[i].cap)
                CHECKF(!(rc && msg_has("string longer")), "%s %s of %zu bytes: %s", t->file,
                       s[i].path, len, t2i_errmsg());
            else
                CHECKF(rc != T2I_OK && msg_has(t->file) && msg_has(where), "%s %s of %zu: %s",
                       t->file, s[i].path, len, rc ? t2i_errmsg() : "accepted");
            cJSON_Delete(root);
        }
        free(str);
    }
}

static int is_optional(const Target *t, const char *key) {
    for (int i = 0; t->optional && t->optional[i]; i++)
        if (!strcmp(t->optional[i], key)) return 1;
    return 0;
}

// Every object at and below `path` (dotted, "" = root): each key removed, an unknown key added,
// the first key duplicated. Returns the number of keys visited.
static int check_keys(const Target *t, const char *base, const char *path) {
    cJSON *root = cJSON_Parse(base);
    cJSON *o = *path ? node_at(root, path, NULL, NULL) : root;
    int    visited = 0;
    char   jp[200];
    snprintf(jp, sizeof jp, "$%s%s", *path ? "." : "", path);
    if (!cJSON_IsObject(o)) {
        cJSON_Delete(root);
        return 0;
    }
    int nkeys = cJSON_GetArraySize(o);
    for (int i = 0; i < nkeys; i++) {
        cJSON *r2 = cJSON_Parse(base);
        cJSON *o2 = *path ? node_at(r2, path, NULL, NULL) : r2;
        cJSON *c = cJSON_GetArrayItem(o2, i);
        char   key[64], sub[200], want[300];
        snprintf(key, sizeof key, "%s", c->string);
        snprintf(sub, sizeof sub, "%s%s%s", path, *path ? "." : "", key);
        cJSON_DeleteItemFromObjectCaseSensitive(o2, key);
        int rc = run_json(t, r2);
        snprintf(want, sizeof want, "%s.%s: missing key", jp, key);
        if (is_optional(t, key))
            CHECKF(rc == T2I_OK, "%s: without optional %s: %s", t->file, sub, t2i_errmsg());
        else
            CHECKF(rc != T2I_OK && msg_has(t->file) && msg_has(want), "%s: without %s: %s",
                   t->file, sub, rc ? t2i_errmsg() : "accepted");
        cJSON_Delete(r2);
        visited++;
        if (cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(o, key)))
            visited += check_keys(t, base, sub);
    }
    // an unknown key
    cJSON *r3 = cJSON_Parse(base);
    cJSON *o3 = *path ? node_at(r3, path, NULL, NULL) : r3;
    cJSON_AddNumberToObject(o3, "zz_unknown", 1);
    int  rc = run_json(t, r3);
    char want[300];
    snprintf(want, sizeof want, "%s.zz_unknown: unknown key", jp);
    CHECKF(rc != T2I_OK && msg_has(t->file) && msg_has(want), "%s: %s: %s", t->file, want,
           rc ? t2i_errmsg() : "accepted");
    cJSON_Delete(r3);
    // the first key twice
    if (nkeys > 0) {
        cJSON *r4 = cJSON_Parse(base);
        cJSON *o4 = *path ? node_at(r4, path, NULL, NULL) : r4;
        cJSON *first = cJSON_GetArrayItem(o4, 0);
        char   key[64];
        snprintf(key, sizeof key, "%s", first->string);
        cJSON_AddItemToObject(o4, key, cJSON_Duplicate(first, 1));
        rc = run_json(t, r4);
        snprintf(want, sizeof want, "%s.%s: duplicate key", jp, key);
        CHECKF(rc != T2I_OK && msg_has(t->file) && msg_has(want), "%s: %s: %s", t->file, want,
               rc ? t2i_errmsg() : "accepted");
        cJSON_Delete(r4);
    }
    cJSON_Delete(root);
    return visited;
}

static char *slurp(const char *path) {
    uint8_t *d = NULL;
    size_t   n = 0;
    if (t2i_read_file(path, &d, &n)) return NULL;
    char *s = malloc(n + 1);
    memcpy(s, d, n);
    s[n] = 0;
    t2i_free(d);
    return s;
}

// A variant of `base` with one value replaced (NULL v: the key removed).
static char *with(const char *base, const char *path, cJSON *v) {
    cJSON *root = cJSON_Parse(base);
    if (v) set_at(root, path, v);
    else {
        cJSON      *par;
        const char *key;
        if (node_at(root, path, &par, &key)) cJSON_DeleteItemFromObjectCaseSensitive(par, key);
    }
    char *s = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return s;
}
static int try_with(const Target *t, const char *base, const char *path, cJSON *v) {
    char *s = with(base, path, v);
    int   rc = t->parse(s, strlen(s));
    cJSON_free(s);
    return rc;
}

// ---- protocol ---------------------------------------------------------------------------------

TEST(protocol_limits) {
    Target t = {"p.json", parse_protocol, NULL};
    char  *base = slurp("suites/protocols/smoke.json");
    CHECK(base && parse_protocol(base, strlen(base)) == T2I_OK);
    if (!base) return;
    static const Range r[] = {
        {"sampling.images", 0, 100000000, -1, 100000001, 1},
        {"sampling.passes", 1, 1000, 0, 1001, 1},
        {"sampling.words_num.cub", 1, 1000, 0, 1001, 1},
        {"sampling.words_num.coco", 1, 1000, 0, 1001, 1},
        {"sampling.block_size", 1, 100000, 0, 100001, 1},
        {"sampling.mismatches", 0, 10000, -1, 10001, 1},
        {"generation.noise_bound", 0, 100, -1e-9, 100.000001, 0},
        {"generation.noise_scale", 0, 100, -1e-9, 100.000001, 0},
        {"inception_score.splits", 1, 1000, 0, 1001, 1},
        {"inception_score.temperature", 1e-3, 1e3, 0.000999, 1000.001, 0},
        {"r_precision.k", 1, 10000, 0, 10001, 1},
        {"r_precision.folds", 1, 1000, 0, 1001, 1},
    };
    check_ranges(&t, base, r, (int)(sizeof r / sizeof r[0]));
    static const StrCap s[] = {{"name", 63}, {"description", 2047}, {"reference", 1023}};
    check_strcaps(&t, base, s, 3);
    int nk = check_keys(&t, base, "");
    CHECKF(nk >= 35, "%d keys", nk);
    // Cross checks: truncated noise needs a bound > 0; k may not exceed the mismatches.
    char *tr = with(base, "generation.noise", cJSON_CreateString("truncated"));
    CHECK(try_with(&t, tr, "generation.noise_bound", cJSON_CreateNumber(1e-9)) == T2I_OK);
    CHECK(try_with(&t, tr, "generation.noise_bound", cJSON_CreateNumber(0)) == T2I_EARG &&
          msg_has("p.json: $.generation.noise_bound: must be > 0"));
    cJSON_free(tr);
    char *k = with(base, "sampling.mismatches", cJSON_CreateNumber(5));
    CHECK(try_with(&t, k, "r_precision.k", cJSON_CreateNumber(5)) == T2I_OK);
    CHECK(try_with(&t, k, "r_precision.k", cJSON_CreateNumber(6)) == T2I_EARG &&
          msg_has("p.json: $.r_precision.k: 6 exceeds"));
    char *off = with(k, "r_precision.enabled", cJSON_CreateFalse());   // disabled: not checked
    CHECK(try_with(&t, off, "r_precision.k", cJSON_CreateNumber(6)) == T2I_OK);
    cJSON_free(off), cJSON_free(k);
    // Seeds: 2^53 as a number, UINT64_MAX as a string accepted; one more of each refused.
    CHECK(try_with(&t, base, "r_precision.shuffle_seed", cJSON_CreateNumber(9007199254740992.0)) ==
          T2I_OK);
    CHECK(try_with(&t, base, "r_precision.shuffle_seed", cJSON_CreateNumber(9007199254740994.0)) ==
              T2I_EARG &&
          msg_has("p.json: $.r_precision.shuffle_seed: expected an integer in [0, 2^53]"));
    CHECK(try_with(&t, base, "inception_score.shuffle_seed", cJSON_CreateNumber(-1)) == T2I_EARG);
    CHECKF(try_with(&t, base, "inception_score.shuffle_seed",
                    cJSON_CreateString("18446744073709551615")) == T2I_OK,
           "%s", t2i_errmsg());
    CHECK(try_with(&t, base, "inception_score.shuffle_seed",
                   cJSON_CreateString("18446744073709551616")) == T2I_EARG &&
          msg_has("p.json: $.inception_score.shuffle_seed: bad unsigned integer"));
    CHECK(try_with(&t, base, "inception_score.shuffle_seed", cJSON_CreateString("")) == T2I_EARG);
    // One spelling per seed: "007" (octal 7 to some readers) and "+7" refused, "7" accepted.
    CHECK(try_with(&t, base, "inception_score.shuffle_seed", cJSON_CreateString("7")) == T2I_OK);
    CHECK(try_with(&t, base, "inception_score.shuffle_seed", cJSON_CreateString("007")) ==
              T2I_EARG &&
          msg_has("p.json: $.inception_score.shuffle_seed: bad unsigned integer \"007\" (plain "
                  "decimal digits up to 18446744073709551615, no leading zeros)"));
    CHECK(try_with(&t, base, "inception_score.shuffle_seed", cJSON_CreateString("+7")) == T2I_EARG);
    // ... and as a JSON number (JSON has no leading zeros; cJSON would read 007 as 7): the
    // place is named; a zero before a decimal point or in an exponent is fine.
    static const struct { const char *num; int ok; } z[] = {
        {"7", 1}, {"0", 1}, {"007", 0}, {"-05", 0}, {"00", 0}, {"0.5", 1}, {"1e-07", 1},
        {"1E+05", 1}, {"10", 1}};
    for (size_t i = 0; i < sizeof z / sizeof z[0]; i++) {
        char *p = strstr(base, "\"shuffle_seed\": 0");
        CHECK(p != NULL);
        if (!p) break;
        size_t at = (size_t)(p - base) + strlen("\"shuffle_seed\": ");
        char text[8192];
        snprintf(text, sizeof text, "%.*s%s%s", (int)at, base, z[i].num, base + at + 1);
        int rc = parse_protocol(text, strlen(text));
        if (z[i].ok) {   // accepted, or refused for its value (1e-07 is no integer), not its form
            CHECKF(rc == T2I_OK || !msg_has("leading zero"), "%s: %s", z[i].num, t2i_errmsg());
            continue;
        }
        CHECKF(rc == T2I_EARG && msg_has("p.json: number with a leading zero at line") &&
                   msg_has("JSON numbers have none"),
               "%s: rc %d %s", z[i].num, rc, t2i_errmsg());
    }
    // Optional "differences": from (cap 63) and a non-empty list of non-empty strings.
    cJSON *d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "from", "attngan-2018");
    cJSON *items = cJSON_AddArrayToObject(d, "items");
    cJSON_AddItemToArray(items, cJSON_CreateString("x"));
    cJSON *root = cJSON_Parse(base);
    cJSON_AddItemToObject(root, "differences", d);
    char *db = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    CHECKF(parse_protocol(db, strlen(db)) == T2I_OK, "%s", t2i_errmsg());
    static const StrCap ds[] = {{"differences.from", 63}};
    check_strcaps(&t, db, ds, 1);
    CHECK(try_with(&t, db, "differences.items", cJSON_CreateArray()) == T2I_EARG &&
          msg_has("p.json: $.differences.items: must be a non-empty array"));
    cJSON *two = cJSON_CreateArray();
    cJSON_AddItemToArray(two, cJSON_CreateString("x"));
    cJSON_AddItemToArray(two, cJSON_CreateString(""));
    CHECK(try_with(&t, db, "differences.items", two) == T2I_EARG &&
          msg_has("p.json: $.differences.items[1]: must be a non-empty string"));
    Target td = {"p.json", parse_protocol, NULL};
    check_keys(&td, db, "differences");
    cJSON_free(db);
    free(base);
}

// ---- evaluator card ---------------------------------------------------------------------------

TEST(evaluator_card_limits) {
    Target t = {"e.json", parse_evalcard, NULL};
    char  *base = slurp("suites/evaluators/cub_tf2015.json");
    CHECKF(base && parse_evalcard(base, strlen(base)) == T2I_OK, "%s", t2i_errmsg());
    if (!base) return;
    // first_class 0 so that the cross check stays out of the way of num_classes' bounds
    static const Range r[] = {
        {"inception_score.num_classes", 1, 100000, 0, 100001, 1},
        {"inception_score.first_class", 0, 0, -1, 100001, 1},
        {"inception_score.classes", 2, 1008, 1, 100001, 1},
        {"damsm.text_encoder_config.ntoken", 1, 10000000, 0, 10000001, 1},
        {"damsm.text_encoder_config.ninput", 1, 100000, 0, 100001, 1},
        {"damsm.text_encoder_config.nhidden", 2, 100000, 1, 100001, 1},
    };
    check_ranges(&t, base, r, (int)(sizeof r / sizeof r[0]));
    static const StrCap s[] = {{"name", 63}, {"notes", 2047}};
    check_strcaps(&t, base, s, 2);
    int nk = check_keys(&t, base, "");
    CHECKF(nk >= 20, "%d keys", nk);
    // first_class + classes == num_classes accepted, one more refused.
    char *a = with(base, "inception_score.first_class", cJSON_CreateNumber(8));
    CHECK(try_with(&t, a, "inception_score.classes", cJSON_CreateNumber(1000)) == T2I_OK);
    CHECK(try_with(&t, a, "inception_score.classes", cJSON_CreateNumber(1001)) == T2I_EARG &&
          msg_has("e.json: $.inception_score: first_class + classes exceeds num_classes"));
    cJSON_free(a);
    // Paths: empty refused, one character accepted; sections may be null.
    CHECK(try_with(&t, base, "damsm.vocabulary", cJSON_CreateString("")) == T2I_EARG &&
          msg_has("e.json: $.damsm.vocabulary: empty path"));
    CHECK(try_with(&t, base, "damsm.vocabulary", cJSON_CreateString("v")) == T2I_OK);
    CHECK(try_with(&t, base, "fid.weights", cJSON_CreateString("")) == T2I_EARG &&
          msg_has("$.fid.weights: empty path"));
    CHECK(try_with(&t, base, "fid.statistics", cJSON_CreateString("")) == T2I_EARG &&
          msg_has("$.fid.statistics: empty path"));
    CHECK(try_with(&t, base, "inception_score", cJSON_CreateNull()) == T2I_OK);
    CHECK(try_with(&t, base, "inception_score", cJSON_CreateNumber(1)) == T2I_EARG &&
          msg_has("$.inception_score: expected an object"));
    free(base);
}

// ---- model cards ------------------------------------------------------------------------------

TEST(model_card_limits) {
    static const char *const opt[] = {"notes", "arch", NULL};
    Target t = {"m.json", parse_model, opt};
    char  *base = slurp("suites/models/demo_bird.json");
    CHECKF(base && parse_model(base, strlen(base)) == T2I_OK, "%s", t2i_errmsg());
    if (!base) return;
    static const Range r[] = {
        {"generator.config.GF_DIM", 1, 4096, 0, 4097, 1},
        {"generator.config.Z_DIM", 0, 65536, -1, 65537, 1},
        {"generator.config.CONDITION_DIM", 1, 65536, 0, 65537, 1},
        {"generator.config.EMBEDDING_DIM", 1, 65536, 0, 65537, 1},
        {"generator.config.R_NUM", 1, 8, 0, 9, 1},
        {"generator.config.BRANCH_NUM", 1, 3, 0, 4, 1},
        {"text_encoder.config.ntoken", 1, 1 << 26, 0, (1 << 26) + 1, 1},
        {"text_encoder.config.ninput", 1, 1 << 20, 0, (1 << 20) + 1, 1},
        {"text_encoder.config.nhidden", 2, 1024, 1, 1025, 1},
        {"WORDS_NUM", 1, 4096, 0, 4097, 1},
    };
    check_ranges(&t, base, r, (int)(sizeof r / sizeof r[0]));
    int nk = check_keys(&t, base, "");
    CHECKF(nk >= 15, "%d keys", nk);
    // The encoder width must equal the generator's embedding width (256 both: accepted above).
    CHECK(try_with(&t, base, "text_encoder.config.nhidden", cJSON_CreateNumber(254)) == T2I_EARG &&
          msg_has("m.json: $.text_encoder.config.nhidden: 254 differs from the generator's "
                  "embedding width 256"));
    CHECK(try_with(&t, base, "generator.weights", cJSON_CreateString("")) == T2I_EARG &&
          msg_has("m.json: $.generator.weights: empty"));
    CHECK(try_with(&t, base, "text_encoder.weights", cJSON_CreateString("hash:other")) ==
              T2I_EARG &&
          msg_has("m.json: $.text_encoder.weights: unknown hash rule 'hash:other'"));
    CHECK(try_with(&t, base, "vocabulary", cJSON_CreateString("")) == T2I_EARG &&
          msg_has("m.json: $.vocabulary: empty"));
    CHECK(try_with(&t, base, "vocabulary", cJSON_CreateString("hash:attngan-oracle-hash-v1")) ==
              T2I_EARG &&
          msg_has("m.json: $.vocabulary: must be a file"));
    free(base);
    // DF-GAN cards read their own config keys.
    Target td = {"m.json", parse_model, opt};
    base = slurp("suites/models/demo_dfgan_bird.json");
    CHECKF(base && parse_model(base, strlen(base)) == T2I_OK, "%s", t2i_errmsg());
    if (!base) return;
    static const Range rd[] = {
        {"generator.config.nf", 1, 4096, 0, 4097, 1},
        {"generator.config.z_dim", 1, 65536, 0, 65537, 1},
        {"generator.config.cond_dim", 0, 65536, -1, 65537, 1},
        {"generator.config.imsize", 8, 2048, 7, 2049, 1},
        {"generator.config.ch_size", 3, 3, 2, 4, 1},
    };
    check_ranges(&td, base, rd, (int)(sizeof rd / sizeof rd[0]));
    check_keys(&td, base, "generator");
    CHECK(try_with(&td, base, "text_encoder.config.nhidden", cJSON_CreateNumber(258)) ==
              T2I_EARG &&
          msg_has("($.generator.config.cond_dim"));
    CHECK(try_with(&td, base, "arch", cJSON_CreateString("nope")) == T2I_EARG &&
          msg_has("m.json: $.arch"));
    free(base);
}

// ---- caption tables ---------------------------------------------------------------------------

#define TH "image_idx\timage_key\tclass_id\tcap_idx\tcaption\n"

static int table_try(const char *text) {
    put_file(tpath("c.tsv"), text, strlen(text));
    CaptionTable t;
    int rc = caption_table_load(tpath("c.tsv"), &t);
    caption_table_free(&t);
    return rc;
}

TEST(caption_table_limits) {
    CHECK(table_try(TH "0\tk\t1\t0\ta b\n") == T2I_OK);
    CHECK(table_try(TH "0\tk\t1\t0\ta b") == T2I_OK);   // no final newline
    // Each required column missing.
    static const char *const cols[] = {"image_idx", "image_key", "class_id", "cap_idx", "caption"};
    for (int i = 0; i < 5; i++) {
        char h[200] = "";
        for (int k = 0; k < 5; k++)
            if (k != i) strcat(h, cols[k]), strcat(h, "\t");
        strcat(h, "other\n0\tk\t1\t0\n");
        CHECKF(table_try(h) == T2I_EFORMAT && msg_has("c.tsv:1: header must name"), "no %s: %s",
               cols[i], t2i_errmsg());
    }
    CHECK(table_try("attngan_test_idx\timage_key\tclass_id\tcap_idx\tcaption\n0\tk\t1\t0\tx\n") ==
          T2I_OK);
    // Columns: 15 accepted; 16 refused at the header.
    char h15[400] = "image_idx\timage_key\tclass_id\tcap_idx\tcaption", r15[200] = "0\tk\t1\t0\tx";
    for (int i = 5; i < 15; i++) strcat(h15, "\tz"), strcat(r15, "\t0");
    char text[800];
    snprintf(text, sizeof text, "%s\n%s\n", h15, r15);
    CHECKF(table_try(text) == T2I_OK, "%s", t2i_errmsg());
    snprintf(text, sizeof text, "%s\tz\n%s\t0\n", h15, r15);
    CHECK(table_try(text) == T2I_EFORMAT && msg_has("c.tsv:1: 16 columns, at most 15"));
    // Field counts per row: as many as the header, one fewer or one more refused.
    CHECK(table_try(TH "0\tk\t1\t0\n") == T2I_EFORMAT &&
          msg_has("c.tsv:2: 4 fields, the header has 5"));
    CHECK(table_try(TH "0\tk\t1\t0\tx\ty\n") == T2I_EFORMAT &&
          msg_has("c.tsv:2: 6 fields, the header has 5"));
    CHECK(table_try(TH "0\tk\t1\t0\tx\n\n1\tk\t1\t0\tx\n") == T2I_EFORMAT &&
          msg_has("c.tsv:3: 1 fields"));
    // Ranges: image index 0 .. 2^24 - 1, class id int32, cap_idx 0 .. 1000.
    static const struct {
        const char *row;
        int         ok;
    } rr[] = {{"16777215\tk\t1\t0\tx\n", 1}, {"16777216\tk\t1\t0\tx\n", 0},
              {"-1\tk\t1\t0\tx\n", 0},       {"0\tk\t-2147483648\t0\tx\n", 1},
              {"0\tk\t-2147483649\t0\tx\n", 0}, {"0\tk\t2147483647\t0\tx\n", 1},
              {"0\tk\t2147483648\t0\tx\n", 0}, {"0\tk\t1\t1000\tx\n", 1},
              {"0\tk\t1\t1001\tx\n", 0},     {"0\tk\t1\t-1\tx\n", 0},
              {"00\tk\t1\t0\tx\n", 0},       {"+1\tk\t1\t0\tx\n", 0}};
    for (size_t i = 0; i < sizeof rr / sizeof rr[0]; i++) {
        snprintf(text, sizeof text, TH "%s", rr[i].row);
        int rc = table_try(text);
        CHECKF(rr[i].ok ? rc == T2I_OK
                        : rc == T2I_EFORMAT && msg_has("c.tsv:2: bad image index, class id or "
                                                       "cap_idx"),
               "row '%s': rc %d %s", rr[i].row, rc, rc ? t2i_errmsg() : "");
    }
    // The same image with another class or key refused; with the same, a second caption.
    CHECK(table_try(TH "0\tk\t1\t0\tx\n0\tk\t1\t1\ty\n") == T2I_OK);
    CHECK(table_try(TH "0\tk\t1\t0\tx\n0\tk\t2\t1\ty\n") == T2I_EFORMAT &&
          msg_has("c.tsv:3: image 0 appears with another key or class"));
    CHECK(table_try(TH "0\tk\t1\t0\tx\n0\tj\t1\t1\ty\n") == T2I_EFORMAT &&
          msg_has("c.tsv:3: image 0 appears"));
    // No rows.
    CHECK(table_try(TH) == T2I_EFORMAT && msg_has("c.tsv: no caption rows"));
}

// ---- suites -----------------------------------------------------------------------------------

// The table: images 0..3 (classes 0, 1, 0, 1), two captions each; row r = 2 * image + cap.
static const char *const TABLE =
    TH "0\tk0\t0\t0\tr0\n0\tk0\t0\t1\tr1\n1\tk1\t1\t0\tr2\n1\tk1\t1\t1\tr3\n"
       "2\tk2\t0\t0\tr4\n2\tk2\t0\t1\tr5\n3\tk3\t1\t0\tr6\n3\tk3\t1\t1\tr7\n";

// Sample lines: 11 fields each (words_num 3, mismatches 2).
typedef struct {
    char f[11][64];
} Line;

static void line_for(Line *l, int i, int row, int ntok, const char *words, const char *mm) {
    int img = row / 2;
    snprintf(l->f[0], 64, "%d", i);
    snprintf(l->f[1], 64, "k%d", img);
    snprintf(l->f[2], 64, "%d", img % 2);
    snprintf(l->f[3], 64, "%d", img);
    snprintf(l->f[4], 64, "%d", row);
    snprintf(l->f[5], 64, "%d", row % 2);
    snprintf(l->f[6], 64, "3");
    snprintf(l->f[7], 64, "%d", ntok);
    snprintf(l->f[8], 64, "%s", words);
    snprintf(l->f[9], 64, "%s", mm);
    snprintf(l->f[10], 64, "r%d", row);
}

static void base_lines(Line *l) {
    line_for(&l[0], 0, 0, 2, "-", "2,3");
    line_for(&l[1], 1, 3, 5, "0,2,4", "0,1");
    line_for(&l[2], 2, 7, 3, "-", "4,7");
}

// SHA-256 of the mismatch ids (uint32 LE, sample-major), from the lines' field 9 where numeric.
static void mm_hash(const Line *l, int n, char hex[65]) {
    uint8_t b[256];
    size_t  o = 0;
    for (int i = 0; i < n; i++) {
        const char *p = l[i].f[9];
        while (*p && *p != '*' && *p != '-') {
            unsigned long v = strtoul(p, (char **)&p, 10);
            for (int k = 0; k < 4; k++) b[o++] = (uint8_t)(v >> (8 * k));
            if (*p == ',') p++;
            else break;
        }
    }
    sha256_hex(b, o, hex);
}

// Writes the suite: header JSON (hdr = NULL: the default one, fixing samples/hashes), lines, an
// extra field appended to line `extra_at` (-1 none) or the last field dropped (drop_at).
static const char *g_table = NULL;   // the table written with the suite (NULL: TABLE)

static int suite_try(const char *hdr, const Line *l, int n, int extra_at, int drop_at) {
    char        tsha[65], mh[65];
    const char *table = g_table ? g_table : TABLE;
    sha256_hex((const uint8_t *)table, strlen(table), tsha);
    put_file(tpath("caps.tsv"), table, strlen(table));
    mm_hash(l, n, mh);
    char h[1200];
    if (!hdr) {
        snprintf(h, sizeof h,
                 "{\"name\":\"t\",\"dataset\":\"cub\",\"protocol\":\"p\",\"protocol_sha256\":\"0\","
                 "\"captions\":\"caps.tsv\",\"captions_sha256\":\"%s\",\"vocab_sha256\":\"0\","
                 "\"seed\":\"3\",\"words_num\":3,\"truncation\":\"random-subset\","
                 "\"mismatches\":2,\"mismatch_rule\":\"other-class\",\"mismatch_storage\":"
                 "\"inline\",\"mismatch_sha256\":\"%s\",\"block_size\":2,\"samples\":%d}",
                 tsha, mh, n);
        hdr = h;
    }
    FILE *f = fopen(tpath("s.suite"), "wb");
    fprintf(f, "t2ibench-suite/1\n%s\n#sample\timage_key\tclass_id\timage_idx\tcaption_id\tcap_idx"
               "\tnoise_seed\tntok\twords\tmismatch\tcaption\n",
            hdr);
    for (int i = 0; i < n; i++) {
        int nf = i == drop_at ? 10 : 11;
        for (int k = 0; k < nf; k++) fprintf(f, k ? "\t%s" : "%s", l[i].f[k]);
        if (i == extra_at) fputs("\tx", f);
        fputc('\n', f);
    }
    fclose(f);
    Suite s;
    int   rc = suite_load(tpath("s.suite"), &s);
    suite_free(&s);
    return rc;
}

// The default header of the base lines, as text (for JSON variations).
static char *default_header(void) {
    Line l[3];
    base_lines(l);
    char tsha[65], mh[65];
    sha256_hex((const uint8_t *)TABLE, strlen(TABLE), tsha);
    mm_hash(l, 3, mh);
    char *h = malloc(1200);
    snprintf(h, 1200,
             "{\"name\":\"t\",\"dataset\":\"cub\",\"protocol\":\"p\",\"protocol_sha256\":\"0\","
             "\"captions\":\"caps.tsv\",\"captions_sha256\":\"%s\",\"vocab_sha256\":\"0\","
             "\"seed\":\"3\",\"words_num\":3,\"truncation\":\"random-subset\","
             "\"mismatches\":2,\"mismatch_rule\":\"other-class\",\"mismatch_storage\":"
             "\"inline\",\"mismatch_sha256\":\"%s\",\"block_size\":2,\"samples\":3}",
             tsha, mh);
    return h;
}

static int parse_suite_header(const char *text, size_t len) {
    char *h = malloc(len + 1);
    memcpy(h, text, len);
    h[len] = 0;
    Line l[3];
    base_lines(l);
    int rc = suite_try(h, l, 3, -1, -1);
    free(h);
    return rc;
}

TEST(suite_header_limits) {
    Line l[3];
    base_lines(l);
    CHECKF(suite_try(NULL, l, 3, -1, -1) == T2I_OK, "%s", t2i_errmsg());
    Target t = {"s.suite:2 (header)", parse_suite_header, NULL};
    char  *base = default_header();
    static const Range r[] = {
        {"words_num", 3, 1000, 0, 1001, 1},
        {"mismatches", 2, 10000, -1, 10001, 1},
        {"block_size", 1, 100000, 0, 100001, 1},
        {"samples", 3, 10000000, 0, 10000001, 1},
    };
    check_ranges(&t, base, r, (int)(sizeof r / sizeof r[0]));
    static const StrCap s[] = {{"name", 63},          {"protocol", 63},
                               {"protocol_sha256", 64}, {"captions_sha256", 64},
                               {"vocab_sha256", 64},  {"mismatch_sha256", 64}};
    check_strcaps(&t, base, s, (int)(sizeof s / sizeof s[0]));
    int nk = check_keys(&t, base, "");
    CHECKF(nk == 16, "%d keys", nk);
    // The header's sample count against the lines: 3 lines, header 2 or 4 refused.
    char *h2 = with(base, "samples", cJSON_CreateNumber(2));
    CHECK(parse_suite_header(h2, strlen(h2)) == T2I_EFORMAT &&
          msg_has("s.suite:6: more sample lines than the header's 2"));
    cJSON_free(h2);
    char *h4 = with(base, "samples", cJSON_CreateNumber(4));
    CHECK(parse_suite_header(h4, strlen(h4)) == T2I_EFORMAT &&
          msg_has("s.suite: 3 sample lines, the header says 4"));
    cJSON_free(h4);
    // The mismatch hash (one hex digit off) and the table hash.
    char *hx = strdup(base);
    char *mp = strstr(hx, "mismatch_sha256\":\"") + 18;
    *mp = *mp == '0' ? '1' : '0';
    CHECK(parse_suite_header(hx, strlen(hx)) == T2I_EFORMAT &&
          msg_has("s.suite: mismatch ids hash to"));
    strcpy(hx, base);
    mp = strstr(hx, "captions_sha256\":\"") + 18;
    *mp = *mp == '0' ? '1' : '0';
    CHECK(parse_suite_header(hx, strlen(hx)) == T2I_EFORMAT &&
          msg_has("s.suite: caption table") && msg_has("caps.tsv has sha256"));
    free(hx);
    free(base);
}

// One field of one line replaced: rc.
static int line_try(int li, int field, const char *v) {
    Line l[3];
    base_lines(l);
    snprintf(l[li].f[field], 64, "%s", v);
    return suite_try(NULL, l, 3, -1, -1);
}

TEST(suite_line_limits) {
    // Field counts: 11 (above); 10 and 12 refused.
    Line l[3];
    base_lines(l);
    CHECK(suite_try(NULL, l, 3, 1, -1) == T2I_EFORMAT &&
          msg_has("s.suite:5: expected 11 tab-separated fields, found 12"));
    CHECK(suite_try(NULL, l, 3, -1, 1) == T2I_EFORMAT &&
          msg_has("s.suite:5: expected 11 tab-separated fields, found 10"));
    // Each numeric field at its limit and one past: (line, field, at-limit value, whether it is
    // then accepted, one-past value, the field named).
    static const struct {
        int         li, field;
        const char *at;
        int         at_ok;
        const char *past, *name;
    } c[] = {
        {0, 0, "0", 1, "1", "sample (must count 0, 1, ...)"},
        {1, 0, "1", 1, "01", "sample (must count 0, 1, ...)"},
        {0, 2, "-2147483648", 0, "-2147483649", "class_id"},
        {0, 2, "2147483647", 0, "2147483648", "class_id"},
        {0, 3, "0", 1, "-1", "image_idx"},
        {0, 3, "2147483647", 0, "2147483648", "image_idx"},
        {2, 4, "7", 1, "8", "caption_id"},
        {0, 4, "0", 1, "-1", "caption_id"},
        {0, 5, "1000", 0, "1001", "cap_idx"},
        {0, 5, "0", 1, "-1", "cap_idx"},
        {0, 6, "18446744073709551615", 1, "18446744073709551616", "noise_seed"},
        {0, 6, "0", 1, "-1", "noise_seed"},
        {0, 6, "7", 1, "07", "noise_seed"},   // one spelling per value: no leading zeros,
        {0, 6, "7", 1, "+7", "noise_seed"},   // no sign, no spaces
        {0, 6, "7", 1, " 7", "noise_seed"},
        {0, 6, "10", 1, "010", "noise_seed"},
        {0, 2, "0", 1, "-0", "class_id"},
        {0, 2, "0", 1, "00", "class_id"},
        {0, 7, "1", 1, "0", "ntok"},
        {1, 7, "100000", 1, "100001", "ntok"},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        int rc = line_try(c[i].li, c[i].field, c[i].at);
        char name[120];
        snprintf(name, sizeof name, "field %s: bad value", c[i].name);
        CHECKF(c[i].at_ok ? rc == T2I_OK : rc != T2I_OK && !msg_has(name),
               "%s = %s: rc %d %s", c[i].name, c[i].at, rc, rc ? t2i_errmsg() : "");
        rc = line_try(c[i].li, c[i].field, c[i].past);
        char ln[32];
        snprintf(ln, sizeof ln, "s.suite:%d: ", 4 + c[i].li);
        CHECKF(rc == T2I_EFORMAT && msg_has(ln) && msg_has(name), "%s = %s: rc %d %s", c[i].name,
               c[i].past, rc, rc ? t2i_errmsg() : "accepted");
    }
    // The message quotes the value and says what is expected.
    CHECK(line_try(0, 6, "007") == T2I_EFORMAT &&
          msg_has("s.suite:4: field noise_seed: bad value '007' (plain decimal, no sign or "
                  "leading zeros"));
    CHECK(line_try(0, 2, "-05") == T2I_EFORMAT && msg_has("field class_id: bad value '-05'"));
    // Cross checks with the table row: class, image, cap_idx, key, caption text.
    CHECK(line_try(0, 2, "1") == T2I_EFORMAT &&
          msg_has("s.suite:4: image_key/class_id/image_idx/cap_idx disagree with caption row 0"));
    CHECK(line_try(0, 1, "k1") == T2I_EFORMAT && msg_has("disagree"));
    CHECK(line_try(0, 10, "r9") == T2I_EFORMAT &&
          msg_has("s.suite:4: caption text differs from caption row 0"));
    // Words: "-" needs ntok <= words_num (3 accepted on line 2; 4 refused).
    CHECK(line_try(2, 7, "4") == T2I_EFORMAT &&
          msg_has("s.suite:6: field words: 4 tokens > words_num 3 need a word subset"));
    // a subset needs ntok > words_num, exactly words_num positions below ntok, ascending
    static const struct {
        const char *w, *ntok;
        int         ok;
    } w[] = {{"0,2,4", "5", 1}, {"0,2,5", "5", 0}, {"0,2", "5", 0}, {"0,1,2,3", "5", 0},
             {"0,2,2", "5", 0}, {"0,4,2", "5", 0}, {"0,1,2", "3", 0}, {"0,1,3", "4", 1},
             {"0,,2", "5", 0},  {"0,2,", "5", 0},  {"-1,0,2", "5", 0}};
    for (size_t i = 0; i < sizeof w / sizeof w[0]; i++) {
        base_lines(l);
        snprintf(l[1].f[8], 64, "%s", w[i].w);
        snprintf(l[1].f[7], 64, "%s", w[i].ntok);
        int rc = suite_try(NULL, l, 3, -1, -1);
        CHECKF(w[i].ok ? rc == T2I_OK
                       : rc == T2I_EFORMAT && msg_has("s.suite:5: field words: "),
               "words '%s' ntok %s: rc %d %s", w[i].w, w[i].ntok, rc, rc ? t2i_errmsg() : "");
    }
    // Mismatch lists: exactly 2 ids below 8.
    static const struct {
        const char *m;
        int         ok;
    } m[] = {{"7,0", 1}, {"8,0", 0}, {"7", 0}, {"1,2,3", 0}, {"-1,2", 0}, {"", 0}, {"*", 0},
             {"-", 0}};
    for (size_t i = 0; i < sizeof m / sizeof m[0]; i++) {
        int rc = line_try(0, 9, m[i].m);
        CHECKF(m[i].ok ? rc == T2I_OK
                       : rc == T2I_EFORMAT &&
                             msg_has("s.suite:4: field mismatch: expected 2 caption ids below 8"),
               "mismatch '%s': rc %d %s", m[i].m, rc, rc ? t2i_errmsg() : "");
    }
}

TEST(suite_mismatch_storage) {
    // mismatches 0: the field must be "-".
    Line l[3];
    base_lines(l);
    char *base = default_header();
    char *h0 = with(base, "mismatches", cJSON_CreateNumber(0));
    for (int i = 0; i < 3; i++) snprintf(l[i].f[9], 64, "-");
    // the hash of no ids
    char e[65];
    sha256_hex((const uint8_t *)"", 0, e);
    char *h0h = with(h0, "mismatch_sha256", cJSON_CreateString(e));
    CHECKF(suite_try(h0h, l, 3, -1, -1) == T2I_OK, "%s", t2i_errmsg());
    snprintf(l[1].f[9], 64, "0");
    CHECK(suite_try(h0h, l, 3, -1, -1) == T2I_EFORMAT &&
          msg_has("s.suite:5: field mismatch: expected \"-\""));
    // derived: "*" on every line, hash of the re-drawn ids
    base_lines(l);
    for (int i = 0; i < 3; i++) snprintf(l[i].f[9], 64, "*");
    char *hd = with(base, "mismatch_storage", cJSON_CreateString("derived"));
    int   rc = suite_try(hd, l, 3, -1, -1);   // hash of the inline ids: the draw differs
    CHECK(rc == T2I_EFORMAT && msg_has("s.suite: mismatch ids hash to") &&
          msg_has("the derived draw changed"));
    snprintf(l[2].f[9], 64, "4,7");
    CHECK(suite_try(hd, l, 3, -1, -1) == T2I_EFORMAT &&
          msg_has("s.suite:6: field mismatch: expected \"*\" (derived)"));
    // A derived draw needs an eligible image: other-class with two classes gets to the hash
    // check, with one class it is refused; other-image with two images likewise, with one not.
    static const char *const one_class =
        TH "0\tk0\t0\t0\tr0\n0\tk0\t0\t1\tr1\n1\tk1\t0\t0\tr2\n1\tk1\t0\t1\tr3\n"
           "2\tk2\t0\t0\tr4\n2\tk2\t0\t1\tr5\n3\tk3\t0\t0\tr6\n3\tk3\t0\t1\tr7\n";
    static const char *const one_image =
        TH "0\tk0\t0\t0\tr0\n0\tk0\t0\t1\tr1\n0\tk0\t0\t2\tr2\n0\tk0\t0\t3\tr3\n"
           "0\tk0\t0\t4\tr4\n0\tk0\t0\t5\tr5\n0\tk0\t0\t6\tr6\n0\tk0\t0\t7\tr7\n";
    char *hi = with(hd, "mismatch_rule", cJSON_CreateString("other-image"));
    for (int k = 0; k < 4; k++) {
        base_lines(l);
        for (int i = 0; i < 3; i++) {
            snprintf(l[i].f[9], 64, "*");
            if (k == 1) snprintf(l[i].f[2], 64, "0");
            if (k == 3) {
                snprintf(l[i].f[1], 64, "k0"), snprintf(l[i].f[2], 64, "0");
                snprintf(l[i].f[3], 64, "0"), snprintf(l[i].f[5], 64, "%s", l[i].f[4]);
            }
        }
        g_table = k == 1 ? one_class : k == 3 ? one_image : NULL;
        char tsha[65];
        sha256_hex((const uint8_t *)(g_table ? g_table : TABLE), strlen(g_table ? g_table : TABLE),
                   tsha);
        char *hk = with(k < 2 ? hd : hi, "captions_sha256", cJSON_CreateString(tsha));
        rc = suite_try(hk, l, 3, -1, -1);
        cJSON_free(hk);
        g_table = NULL;
        CHECKF(k == 1   ? rc == T2I_EARG && msg_has("s.suite: every image of the caption table "
                                                    "is of class 0")
               : k == 3 ? rc == T2I_EARG && msg_has("s.suite: the caption table has 1 image(s)")
                        : rc == T2I_EFORMAT && msg_has("hash to"),
               "case %d: rc %d %s", k, rc, t2i_errmsg());
    }
    cJSON_free(hi);
    cJSON_free(h0), cJSON_free(h0h), cJSON_free(hd);
    free(base);
    // First lines: magic and column line exactly, header present.
    static const char *const heads[] = {"t2ibench-suite/1 \n", "t2ibench-suite/2\n",
                                        "t2ibench-suite/1\n"};
    for (int i = 0; i < 3; i++) {
        put_file(tpath("s.suite"), heads[i], strlen(heads[i]));
        Suite s;
        CHECK(suite_load(tpath("s.suite"), &s) == T2I_EFORMAT &&
              msg_has(i < 2 ? "s.suite:1: not a t2ibench suite" : "s.suite:2: missing header"));
    }
}

// ---- vocabularies ------------------------------------------------------------------------------

static int vtext(const char *text, size_t n) {
    put_file(tpath("v.txt"), text, n);
    Vocab v;
    int   rc = vocab_load_text(tpath("v.txt"), &v);
    if (!rc) vocab_free(&v);
    return rc;
}

TEST(vocab_text_limits) {
    CHECK(vtext("0\t<end>\n1\ta\n", 12) == T2I_OK);
    CHECK(vtext("0\t<end>\n1\ta", 11) == T2I_OK);
    CHECK(vtext("0\t<end>\r\n1\ta\r\n", 14) == T2I_OK);
    CHECK(vtext("", 0) == T2I_EFORMAT && msg_has("v.txt: empty vocabulary"));
    // ids: the next dense id only, in plain decimal (one spelling per id: "01", "+1", " 1"
    // and "1 " refused, as is UINT64_MAX + 1); 23 characters read as a number, 24 refused
    CHECK(vtext("0\t<end>\n2\ta\n", 12) == T2I_EFORMAT &&
          msg_has("v.txt:2: id '2' (byte 8) is not the next dense id 1"));
    static const char *const nonplain[] = {"0\t<end>\n01\ta\n", "0\t<end>\n+1\ta\n",
                                           "0\t<end>\n 1\ta\n", "0\t<end>\n1 \ta\n",
                                           "00\t<end>\n1\ta\n"};
    for (int i = 0; i < 5; i++)
        CHECKF(vtext(nonplain[i], strlen(nonplain[i])) == T2I_EFORMAT &&
                   msg_has("is not plain decimal (digits without sign, spaces or leading zeros)"),
               "'%s': %s", nonplain[i], t2i_errmsg());
    CHECK(vtext("0\t<end>\n01\ta\n", 13) == T2I_EFORMAT && msg_has("v.txt:2: id '01' (byte 8)"));
    const char *u64p1 = "0\t<end>\n18446744073709551616\ta\n";
    CHECK(vtext(u64p1, strlen(u64p1)) == T2I_EFORMAT && msg_has("is not plain decimal"));
    const char *id23 = "0\t<end>\n99999999999999999999999\ta\n";
    CHECK(vtext(id23, strlen(id23)) == T2I_EFORMAT && msg_has("is not plain decimal"));
    const char *id24 = "0\t<end>\n999999999999999999999999\ta\n";
    CHECK(vtext(id24, strlen(id24)) == T2I_EFORMAT &&
          msg_has("v.txt:2: expected \"id<TAB>word\" (byte 8)"));
    // line shapes
    static const char *const bad[] = {"0\t<end>\n1a\n", "0\t<end>\n\ta\n", "0\t<end>\n1\t\n",
                                      "0\t<end>\n1\ta\tb\n", "0\t<end>\n1\ta b\n"};
    for (int i = 0; i < 5; i++)
        CHECKF(vtext(bad[i], strlen(bad[i])) == T2I_EFORMAT && msg_has("v.txt:2: expected"),
               "'%s': %s", bad[i], t2i_errmsg());
    CHECK(vtext("0\t<end>\n1\ta\0b\n", 13) == T2I_EFORMAT && msg_has("v.txt:2: expected"));
    CHECK(vtext("0\tend\n", 6) == T2I_EFORMAT && msg_has("v.txt:1: id 0 must be \"<end>\""));
    CHECK(vtext("0\t<end>\n1\ta\n2\ta\n", 16) == T2I_EFORMAT &&
          msg_has("v.txt:3: vocabulary: duplicate word 'a'"));
}

// A captions pickle (protocol 2): [train, test, ixtoword, wordtoix] with 2 words, captions
// [[id]] each; `tid` is the test caption's word id (BININT, signed).
static size_t vocab_pickle(uint8_t *b, int32_t tid, int ix1, int wi1, int extra_root) {
    size_t n = 0;
#define P(...)                                                                                     \
    do {                                                                                           \
        const uint8_t x_[] = {__VA_ARGS__};                                                        \
        memcpy(b + n, x_, sizeof x_);                                                              \
        n += sizeof x_;                                                                            \
    } while (0)
    P(0x80, 2, ']', '(');
    P(']', '(', ']', '(', 'K', 1, 'e', 'e');   // train [[1]]
    P(']', '(', ']', '(', 'J', (uint8_t)tid, (uint8_t)(tid >> 8), (uint8_t)(tid >> 16),
      (uint8_t)(tid >> 24), 'e', 'e');         // test [[tid]]
    P('}', '(', 'K', 0, 'X', 5, 0, 0, 0, '<', 'e', 'n', 'd', '>', 'K', (uint8_t)ix1, 'X', 1, 0, 0,
      0, 'a', 'u');                            // ixtoword {0: '<end>', ix1: 'a'}
    P('}', '(', 'X', 5, 0, 0, 0, '<', 'e', 'n', 'd', '>', 'K', 0, 'X', 1, 0, 0, 0, 'a', 'K',
      (uint8_t)wi1, 'u');                      // wordtoix {'<end>': 0, 'a': wi1}
    if (extra_root) P('K', 0);
    P('e', '.');
#undef P
    return n;
}

static int vpickle(const uint8_t *b, size_t n) {
    put_file(tpath("v.pickle"), (const char *)b, n);
    Vocab v;
    int   rc = vocab_load_pickle(tpath("v.pickle"), &v);
    if (!rc) vocab_free(&v);
    return rc;
}

TEST(vocab_pickle_limits) {
    uint8_t b[256];
    size_t  n = vocab_pickle(b, 1, 1, 1, 0);
    CHECKF(vpickle(b, n) == T2I_OK, "%s", t2i_errmsg());
    // caption word ids in [0, 2): 1 accepted (above), 2 and -1 refused
    n = vocab_pickle(b, 2, 1, 1, 0);
    CHECK(vpickle(b, n) == T2I_EFORMAT &&
          msg_has("v.pickle: test_captions[0][0] (byte") && msg_has("is not a word id in [0, 2)"));
    n = vocab_pickle(b, -1, 1, 1, 0);
    CHECK(vpickle(b, n) == T2I_EFORMAT && msg_has("test_captions[0][0]"));
    n = vocab_pickle(b, 0, 1, 1, 0);
    CHECK(vpickle(b, n) == T2I_OK);
    // ixtoword ids in [0, 2), each new: 2 refused, 0 (again) refused
    n = vocab_pickle(b, 1, 2, 1, 0);
    CHECK(vpickle(b, n) == T2I_EFORMAT &&
          msg_has("v.pickle: ixtoword entry at byte") && msg_has("is not a new id in [0, 2)"));
    n = vocab_pickle(b, 1, 0, 1, 0);
    CHECK(vpickle(b, n) == T2I_EFORMAT && msg_has("is not a new id"));
    // wordtoix ids in [0, 2)
    n = vocab_pickle(b, 1, 1, 2, 0);
    CHECK(vpickle(b, n) == T2I_EFORMAT &&
          msg_has("v.pickle: wordtoix entry at byte") && msg_has("is not word -> id in [0, 2)"));
    // the root list: 4 items (above), 5 refused
    n = vocab_pickle(b, 1, 1, 1, 1);
    CHECK(vpickle(b, n) == T2I_EFORMAT && msg_has("v.pickle: captions pickle is not"));
    // one stray byte after the STOP refused
    n = vocab_pickle(b, 1, 1, 1, 0);
    b[n] = 0;
    CHECK(vpickle(b, n + 1) == T2I_EFORMAT &&
          msg_has("v.pickle: 1 stray bytes after the pickle"));
}

int main(void) {
    if (!mkdtemp(T)) return 1;
    RUN(protocol_limits);
    RUN(evaluator_card_limits);
    RUN(model_card_limits);
    RUN(caption_table_limits);
    RUN(suite_header_limits);
    RUN(suite_line_limits);
    RUN(suite_mismatch_storage);
    RUN(vocab_text_limits);
    RUN(vocab_pickle_limits);
    static const char *const files[] = {"e.json", "c.tsv", "caps.tsv", "s.suite", "v.txt",
                                        "v.pickle"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) unlink(tpath(files[i]));
    rmdir(T);
    return test_report("test_bounds_text");
}
