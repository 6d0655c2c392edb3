// test_text.c -- tokenizer and caption batching against the vocab_pickle oracle fixture
// (gen_example's test_cap_array / test_cap_lens / test_sorted_indices, exactly), Unicode and
// WORDS_NUM truncation rules, and the strict model-card parser.
#include "cli.h"
#include "model_card.h"
#include "npy.h"
#include "rng.h"
#include "t2i.h"
#include "test.h"
#include "tokenizer.h"
#include "vocab.h"

#include <cjson/cJSON.h>
#include <stdint.h>

static Vocab vocab;
static int vocab_ok;

static cJSON *load_manifest(void) {
    char path[1024];
    uint8_t *buf;
    size_t len;
    if (t2i_read_file(test_fixture_path(path, sizeof path, "vocab_pickle/manifest.json"), &buf,
                      &len))
        return NULL;
    cJSON *j = cJSON_ParseWithLength((const char *)buf, len);
    t2i_free(buf);
    return j;
}

static const char **test_sentences(cJSON *m, int *n) {
    const cJSON *ts = cJSON_GetObjectItemCaseSensitive(m, "test_sentences"), *t;
    *n = cJSON_GetArraySize(ts);
    const char **s = t2i_calloc((size_t)*n, sizeof *s);
    int i = 0;
    cJSON_ArrayForEach(t, ts) s[i++] = cJSON_GetObjectItemCaseSensitive(t, "sentence")->valuestring;
    return s;
}

TEST(vocab_fixture_arrays_exact) {
    CHECK(vocab_ok);
    if (!vocab_ok) return;
    cJSON *m = load_manifest();
    CHECK(m != NULL);
    if (!m) return;
    int n;
    const char **s = test_sentences(m, &n);
    TokenBatch tb;
    CHECK(token_batch_build(&vocab, s, n, 0, TRUNC_HEAD, NULL, TOK_ALLOW_EMPTY, &tb) == T2I_OK);
    NpyArray arr, lens, idx;
    char p[1024];
    CHECK(npy_load(test_fixture_path(p, sizeof p, "vocab_pickle/test_cap_array.npy"), &arr) == 0);
    CHECK(npy_load(test_fixture_path(p, sizeof p, "vocab_pickle/test_cap_lens.npy"), &lens) == 0);
    CHECK(npy_load(test_fixture_path(p, sizeof p, "vocab_pickle/test_sorted_indices.npy"), &idx) == 0);
    CHECK(arr.dtype == DT_I64 && arr.shape[0] == tb.n && arr.shape[1] == tb.max_len);
    if (!test_cur_failed) {
        const int64_t *a = arr.data, *l = lens.data, *o = idx.data;
        for (size_t i = 0; i < arr.numel; i++) CHECKF(a[i] == tb.ids[i], "cap_array[%zu]", i);
        for (int i = 0; i < tb.n; i++) {
            CHECKF(l[i] == tb.lens[i], "cap_lens[%d] %lld vs %d", i, (long long)l[i], tb.lens[i]);
            CHECKF(o[i] == tb.order[i], "sorted_indices[%d] %lld vs %d", i, (long long)o[i],
                   tb.order[i]);
        }
    }
    npy_free(&arr);
    npy_free(&lens);
    npy_free(&idx);
    token_batch_free(&tb);
    t2i_free(s);
    cJSON_Delete(m);
}

TEST(verify_vocab_fixture) {
    char dir[1024];
    char *argv[2] = {"verify", (char *)test_fixture_path(dir, sizeof dir, "vocab_pickle")};
    CHECK(cmd_verify(2, argv) == 0);
}

// Every test sentence: tokens after lower/\w+/ASCII filter and ids as the manifest lists them.
TEST(test_sentences_tokens_and_ids) {
    cJSON *m = load_manifest();
    CHECK(m != NULL && vocab_ok);
    if (!m || !vocab_ok) return;
    const cJSON *ts = cJSON_GetObjectItemCaseSensitive(m, "test_sentences"), *t;
    cJSON_ArrayForEach(t, ts) {
        const char *s = cJSON_GetObjectItemCaseSensitive(t, "sentence")->valuestring;
        const cJSON *want = cJSON_GetObjectItemCaseSensitive(t, "tokens_ascii");
        const cJSON *wids = cJSON_GetObjectItemCaseSensitive(t, "ids");
        char **tok;
        int n;
        CHECK(tokenize_words(s, &tok, &n) == T2I_OK);
        CHECKF(n == cJSON_GetArraySize(want), "%s: %d tokens", s, n);
        for (int i = 0; i < n && i < cJSON_GetArraySize(want); i++)
            CHECKF(strcmp(tok[i], cJSON_GetArrayItem(want, i)->valuestring) == 0, "%s: token %d '%s'",
                   s, i, tok[i]);
        tokenizer_free_tokens(tok, n);
        int64_t *ids;
        CHECK(tokenize_caption(&vocab, s, &ids, &n) == T2I_OK);
        CHECKF(n == cJSON_GetArraySize(wids), "%s: %d ids", s, n);
        for (int i = 0; i < n && i < cJSON_GetArraySize(wids); i++)
            CHECK(ids[i] == (int64_t)cJSON_GetArrayItem(wids, i)->valuedouble);
        t2i_free(ids);
    }
    cJSON_Delete(m);
}

static int toks_equal(const char *text, const char *const *want, int nwant) {
    char **tok;
    int n, ok;
    if (tokenize_words(text, &tok, &n)) return 0;
    ok = n == nwant;
    for (int i = 0; ok && i < n; i++) ok = strcmp(tok[i], want[i]) == 0;
    if (!ok) {
        fprintf(stderr, "    tokens of \"%s\":", text);
        for (int i = 0; i < n; i++) fprintf(stderr, " [%s]", tok[i]);
        fprintf(stderr, "\n");
    }
    tokenizer_free_tokens(tok, n);
    return ok;
}

// Python 3.11: re.findall(r'\w+', s.lower()) then encode('ascii', 'ignore') per token.
TEST(unicode_rules_match_python) {
    const char *a[] = {"caf", "na", "ve"};   // U+00E9 is \w; U+2019 is not
    CHECK(toks_equal("Caf\xc3\xa9 na\xe2\x80\x99ve", a, 3));
    const char *b[] = {"i", "stanbul"};   // U+0130 lowers to "i" + U+0307 (not \w)
    CHECK(toks_equal("\xc4\xb0STANBUL", b, 2));
    const char *c[] = {"kelvin"};   // U+212A KELVIN SIGN lowers to 'k'
    CHECK(toks_equal("\xe2\x84\xaa" "ELVIN", c, 1));
    const char *d[] = {"ab"};   // fullwidth letters are \w but not ASCII: dropped inside
    CHECK(toks_equal("a\xef\xbd\x86" "b", d, 1));
    const char *e[] = {"x_1", "y"};   // '_' and digits are \w; an invalid byte separates
    CHECK(toks_equal("X_1\xffY", e, 2));
    const char *f[] = {"bird"};   // an all-non-ASCII token is dropped (U+00B2 is \w)
    CHECK(toks_equal("\xc2\xb2\xc2\xb2 bird \xe4\xb8\xad\xe6\x96\x87", f, 1));
    CHECK(toks_equal("", NULL, 0));
}

TEST(no_known_word_is_an_error_naming_the_caption) {
    CHECK(vocab_ok);
    if (!vocab_ok) return;
    const char *caps[2] = {"a red bird", "ostrich emu kiwi"};
    TokenBatch tb;
    CHECK(token_batch_build(&vocab, caps, 2, 18, TRUNC_HEAD, NULL, 0, &tb) == T2I_EARG);
    CHECKF(strstr(t2i_errmsg(), "ostrich emu kiwi") != NULL, "%s", t2i_errmsg());
    CHECK(tb.ids == NULL && tb.n == 0);
}

TEST(words_num_truncation) {
    int64_t ids[10], orig[10];
    for (int i = 0; i < 10; i++) ids[i] = orig[i] = 100 + i;
    CHECK(caption_truncate(ids, 10, 4, TRUNC_HEAD, NULL) == 4);
    CHECK(ids[0] == 100 && ids[3] == 103);
    CHECK(caption_truncate(ids, 3, 4, TRUNC_HEAD, NULL) == 3);   // short: unchanged
    Rng r1, r2, r3;
    rng_init(&r1, 7, 42, RNG_STREAM_WORDS);
    rng_init(&r2, 7, 42, RNG_STREAM_WORDS);
    rng_init(&r3, 7, 43, RNG_STREAM_WORDS);
    int64_t a[10], b[10], c[10];
    memcpy(a, orig, sizeof a);
    memcpy(b, orig, sizeof b);
    memcpy(c, orig, sizeof c);
    CHECK(caption_truncate(a, 10, 6, TRUNC_RANDOM_SUBSET, &r1) == 6);
    CHECK(caption_truncate(b, 10, 6, TRUNC_RANDOM_SUBSET, &r2) == 6);
    CHECK(caption_truncate(c, 10, 6, TRUNC_RANDOM_SUBSET, &r3) == 6);
    CHECK(memcmp(a, b, 6 * sizeof(int64_t)) == 0);   // same stream, same subset
    for (int i = 1; i < 6; i++) CHECK(a[i] > a[i - 1]);   // word order kept, no repeats
    int differs = memcmp(a, c, 6 * sizeof(int64_t)) != 0;
    // another sample's stream: different subsets over a few trials
    for (int k = 0; k < 5 && !differs; k++) {
        memcpy(c, orig, sizeof c);
        caption_truncate(c, 10, 6, TRUNC_RANDOM_SUBSET, &r3);
        differs = memcmp(a, c, 6 * sizeof(int64_t)) != 0;
    }
    CHECK(differs);
    // batch with truncation: rows are at most WORDS_NUM wide
    if (vocab_ok) {
        const char *caps[3] = {"this bird has a blue crown and a striped tail", "black bill",
                               "a small red bird with a white belly and grey wings"};
        Rng rs[3];
        for (int i = 0; i < 3; i++) rng_init(&rs[i], 1, (uint64_t)i, RNG_STREAM_WORDS);
        TokenBatch tb;
        CHECK(token_batch_build(&vocab, caps, 3, 5, TRUNC_RANDOM_SUBSET, rs, 0, &tb) == T2I_OK);
        CHECK(tb.max_len == 5 && tb.lens[0] == 5 && tb.lens[1] == 5 && tb.lens[2] == 2);
        CHECK(tb.order[2] == 1 && tb.order[0] == 2);   // ties: later caption first
        token_batch_free(&tb);
        CHECK(token_batch_build(&vocab, caps, 3, 5, TRUNC_HEAD, NULL, 0, &tb) == T2I_OK);
        CHECK(tb.ids[0] == vocab_lookup(&vocab, "a") && tb.ids[3] == vocab_lookup(&vocab, "bird"));
        token_batch_free(&tb);
    }
}

// ---- model cards --------------------------------------------------------------------------

static const char *card_ok =
    "{\"name\": \"m\", \"dataset\": \"cub\", \"WORDS_NUM\": 18, \"vocabulary\": \"v.pickle\","
    " \"generator\": {\"weights\": \"g.pth\", \"config\": {\"GF_DIM\": 32, \"Z_DIM\": 100,"
    " \"CONDITION_DIM\": 100, \"EMBEDDING_DIM\": 256, \"R_NUM\": 2, \"BRANCH_NUM\": 3}},"
    " \"text_encoder\": {\"weights\": \"hash:attngan-oracle-hash-v1\", \"config\":"
    " {\"ntoken\": 5450, \"ninput\": 300, \"nhidden\": 256}}}";

static int parse_variant(const char *from, const char *to) {
    char buf[2048];
    const char *p = strstr(card_ok, from);
    if (!p) return -100;
    snprintf(buf, sizeof buf, "%.*s%s%s", (int)(p - card_ok), card_ok, to, p + strlen(from));
    ModelCard mc;
    int rc = model_card_parse(buf, strlen(buf), "/cards", "card.json", &mc);
    model_card_free(&mc);
    return rc;
}

TEST(model_card_strict) {
    ModelCard mc;
    CHECKF(model_card_parse(card_ok, strlen(card_ok), "/cards", "card.json", &mc) == T2I_OK, "%s",
           t2i_errmsg());
    CHECK(strcmp(mc.gen_weights, "/cards/g.pth") == 0);
    CHECK(strcmp(mc.te_weights, "hash:attngan-oracle-hash-v1") == 0);
    CHECK(strcmp(mc.vocab_path, "/cards/v.pickle") == 0);
    CHECK(mc.gen_cfg.arch == GEN_ATTNGAN && mc.gen_cfg.u.attngan.r_num == 2);   // no "arch"
    CHECK(mc.te_cfg.ntoken == 5450 && mc.words_num == 18);
    model_card_free(&mc);
    CHECK(parse_variant("\"R_NUM\": 2, ", "") == T2I_EARG);
    CHECKF(strstr(t2i_errmsg(), "$.generator.config.R_NUM") != NULL, "%s", t2i_errmsg());
    CHECK(parse_variant("\"ninput\": 300", "\"ninput\": 300, \"dropout\": 0.5") == T2I_EARG);
    CHECKF(strstr(t2i_errmsg(), "$.text_encoder.config.dropout") != NULL, "%s", t2i_errmsg());
    CHECK(parse_variant("\"WORDS_NUM\": 18", "\"WORDS_NUM\": \"18\"") == T2I_EARG);
    CHECKF(strstr(t2i_errmsg(), "$.WORDS_NUM") != NULL, "%s", t2i_errmsg());
    CHECK(parse_variant("\"nhidden\": 256", "\"nhidden\": 128") == T2I_EARG);
    CHECK(parse_variant("hash:attngan-oracle-hash-v1", "hash:other") == T2I_EARG);
    CHECK(parse_variant("\"dataset\": \"cub\", ", "\"notes\": \"x\", \"dataset\": \"cub\", ") ==
          T2I_OK);
    CHECK(parse_variant("\"name\": \"m\"", "\"name\": \"m\",") == T2I_EARG);   // bad JSON
}

TEST(shipped_cards_parse) {
    const char *cards[] = {"suites/models/attngan_bird.json", "suites/models/attngan_coco.json",
                           "suites/models/demo_bird.json", "suites/models/demo_coco.json"};
    for (int i = 0; i < 4; i++) {
        ModelCard mc;
        CHECKF(model_card_load(cards[i], &mc) == T2I_OK, "%s", t2i_errmsg());
        model_card_free(&mc);
    }
}

int main(void) {
    char p[1024];
    vocab_ok = vocab_load_pickle(test_fixture_path(p, sizeof p, "vocab_pickle/captions.pickle"),
                                 &vocab) == T2I_OK;
    if (!vocab_ok) fprintf(stderr, "vocab: %s\n", t2i_errmsg());
    RUN(vocab_fixture_arrays_exact);
    RUN(verify_vocab_fixture);
    RUN(test_sentences_tokens_and_ids);
    RUN(unicode_rules_match_python);
    RUN(no_known_word_is_an_error_naming_the_caption);
    RUN(words_num_truncation);
    RUN(model_card_strict);
    RUN(shipped_cards_parse);
    vocab_free(&vocab);
    return test_report("test_text");
}
