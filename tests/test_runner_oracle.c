// test_runner_oracle.c -- the runner's input preparation against the ORIGINAL AttnGAN code.
//
// tests/fixtures/runner_oracle/ is written by tools/make_runner_oracle.py, which runs the
// original pipeline in PyTorch (datasets.py tokenisation, unknown words dropped, get_caption's
// sorted word subset, RNN_ENCODER, mask = captions == 0, G_NET at batch size 1, the save code's
// ((x + 1) * 127.5).astype(uint8)) on the demo cards' hash weights. From t2ibench it takes only
// what t2ibench defines by design, recomputed from engine/core/rng.c: z, CA eps and the word
// shuffle of each (suite seed, sample id).
//
// Here, for the CUB and COCO demo cards: `suite freeze` of the fixture's caption table (one
// caption per pseudo image, so sample k is row k; smoke protocol: WORDS_NUM 25 / 20, normal z,
// truncation to uint8, per-sample mask), `run --images-out` (the stored bytes), then
// `generate --run 1 --sample k --tensors` per sample (regenerates it, checks it against the stored
// hash, writes the generator's inputs and float images). Compared:
//   captions, cap_lens, mask        exactly
//   z, eps                          bit for bit (the RNG port of the tool)
//   sent_emb, words_emb, images     max abs error <= the fixture's atol_* (10x the float32 vs
//                                   float64 difference of the PyTorch run, as ../shared/fixtures)
//   stored uint8 (256 px run PNG,   equal to the original's truncation of the oracle image, except
//   64 px generate PNG)             by one level where the oracle value lies within 127.5 * atol
//                                   of a step (a float32 reimplementation may land on the other
//                                   side); those flips are counted and bounded.
// Image rows 0,1,2,31,32,61,62,63 (x4 at 256 px) are stored, to keep the fixture small.
//
// And for every sample of the committed suites cub_smoke, cub_examples, coco_smoke and
// coco_examples (suites.npz; the tool also checks the frozen ntok/words fields of every committed
// suite against the original caption handling): the ids, cap_len and mask of the runner's own
// functions (sample_word_ids, sample_encode) against the original's.
#include "test.h"

#include "arena.h"
#include "cli_test.h"
#include "image_io.h"
#include "model_card.h"
#include "npz.h"
#include "sample_inputs.h"
#include "suite.h"
#include "text_encoder.h"
#include "vocab.h"

#include <errno.h>
#include <math.h>
#include <unistd.h>

#define FIX "tests/fixtures/runner_oracle"

static const NpyArray *need(const Npz *z, const char *name, const char *file) {
    const NpyArray *a = npz_get(z, name);
    CHECKF(a != NULL, "%s: no array '%s'", file, name);
    return a;
}

// Max abs difference of n floats.
static double max_abs(const float *a, const float *b, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (!(d <= m)) m = d;   // NaN propagates
    }
    return m;
}

typedef struct {
    double sent, words, img64, img256;
    long   flips, near, values;
} Worst;

// Stored bytes `got` (HWC, rows `rows` of a px image) against the oracle's truncation `want`
// (nr, px, 3) of the oracle float rows `ref` (3, nr, px): equal, or one level apart where the
// oracle's (x + 1) * 127.5 lies within 127.5 * atol of an integer.
static void compare_u8(const char *what, const uint8_t *got, int px, const int64_t *rows, int nr,
                       const uint8_t *want, const float *ref, double atol, Worst *w) {
    long bad = 0, flips = 0, near = 0;
    int first = -1;
    for (int r = 0; r < nr; r++)
        for (int x = 0; x < px; x++)
            for (int c = 0; c < 3; c++) {
                int g = got[((size_t)rows[r] * px + x) * 3 + c];
                int o = want[((size_t)r * px + x) * 3 + c];
                float v = (ref[((size_t)c * nr + r) * px + x] + 1.0f) * 127.5f;
                int edge = fabs((double)v - nearbyint((double)v)) <= 127.5 * atol * 1.01;
                near += edge;
                if (g == o) continue;
                if (edge && abs(g - o) == 1) {
                    flips++;
                    continue;
                }
                bad++;
                if (first < 0) first = (r * px + x) * 3 + c;
            }
    CHECKF(bad == 0, "%s: %ld stored bytes differ from the original's truncation (first: row %lld "
           "col %d ch %d)", what, bad, first < 0 ? 0LL : (long long)rows[first / 3 / px],
           first < 0 ? 0 : first / 3 % px, first < 0 ? 0 : first % 3);
    // Flips happen only at near-step values, and even there rarely (the float error is ~10x
    // smaller than atol): more than a quarter of the near-step values flipping is a bias.
    CHECKF(flips * 4 <= near, "%s: %ld one-level flips at %ld near-step values", what, flips, near);
    w->flips += flips;
    w->near += near;
    w->values += (long)nr * px * 3;
}

static void run_case(const char *ds, const char *model, const char *eval, const char *vocab) {
    char npz_path[300], tsv[300], suite[300], db[300], img[300];
    snprintf(npz_path, sizeof npz_path, FIX "/%s.npz", ds);
    Npz fx;
    int rc = npz_load(npz_path, &fx);
    CHECKF(rc == 0, "%s", t2i_errmsg());
    if (rc) return;
    const NpyArray *caps = need(&fx, "captions", npz_path), *lens = need(&fx, "cap_lens", npz_path),
                   *mask = need(&fx, "mask", npz_path), *z = need(&fx, "z", npz_path),
                   *eps = need(&fx, "eps", npz_path), *sent = need(&fx, "sent_emb", npz_path),
                   *words = need(&fx, "words_emb", npz_path), *i64 = need(&fx, "img64", npz_path),
                   *i256 = need(&fx, "img256", npz_path), *u64 = need(&fx, "u8_64", npz_path),
                   *u256 = need(&fx, "u8_256", npz_path), *r64 = need(&fx, "rows64", npz_path),
                   *r256 = need(&fx, "rows256", npz_path);
    const NpyArray *at_s = need(&fx, "atol_sent_emb", npz_path),
                   *at_w = need(&fx, "atol_words_emb", npz_path),
                   *at_64 = need(&fx, "atol_img64", npz_path),
                   *at_256 = need(&fx, "atol_img256", npz_path);
    if (!caps || !lens || !mask || !z || !eps || !sent || !words || !i64 || !i256 || !u64 ||
        !u256 || !r64 || !r256 || !at_s || !at_w || !at_64 || !at_256) {
        npz_free(&fx);
        return;
    }
    int N = (int)caps->shape[0], W = (int)caps->shape[1], E = (int)sent->shape[1];
    int NR = (int)r64->shape[0];
    double atol_s = ((float *)at_s->data)[0], atol_w = ((float *)at_w->data)[0];
    double atol_64 = ((float *)at_64->data)[0], atol_256 = ((float *)at_256->data)[0];

    // The suite: frozen from the fixture's caption table by the real freeze (word subsets drawn
    // by suite.c), in the scratch dir so that the table path resolves next to it.
    snprintf(tsv, sizeof tsv, "%s/%s_captions.tsv", T, ds);
    snprintf(suite, sizeof suite, "%s/%s.suite", T, ds);
    snprintf(db, sizeof db, "%s/%s.db", T, ds);
    snprintf(img, sizeof img, "%s/%s_img", T, ds);
    rc = sh("cp " FIX "/%s_captions.tsv %s && %s suite freeze --captions %s --protocol "
            "suites/protocols/smoke.json --vocab %s --dataset %s --seed 100 --name oracle_%s "
            "--out %s",
            ds, tsv, BIN, tsv, vocab, ds, ds, suite);
    CHECKF(rc == 0, "%s", OUT);
    // Batch 2: per-sample preparation inside a batch of captions of different lengths.
    if (!rc)
        rc = sh("%s run --suite %s --model %s --protocol suites/protocols/smoke.json --evaluators "
                "%s --db %s --images-out %s --batch 2 --threads 1 -q",
                BIN, suite, model, eval, db, img);
    CHECKF(rc == 0, "%s", OUT);
    Worst w = {0};
    for (int k = 0; k < N && !rc; k++) {
        char dir[300], path[400], what[64];
        snprintf(dir, sizeof dir, "%s/%s_s%d", T, ds, k);
        rc = sh("%s generate --run 1 --sample %d --db %s --out %s --tensors", BIN, k, db, dir);
        CHECKF(rc == 0, "%s", OUT);
        if (rc) break;
        snprintf(path, sizeof path, "%s/tensors.npz", dir);
        Npz g;
        if ((rc = npz_load(path, &g))) {
            CHECKF(0, "%s", t2i_errmsg());
            break;
        }
        const NpyArray *gc = need(&g, "captions", path), *gl = need(&g, "cap_lens", path),
                       *gm = need(&g, "mask", path), *gz = need(&g, "z", path),
                       *ge = need(&g, "eps", path), *gs = need(&g, "sent_emb", path),
                       *gw = need(&g, "words_emb", path), *g64 = need(&g, "fake_img_64", path),
                       *g256 = need(&g, "fake_img_256", path);
        if (gc && gl && gm && gz && ge && gs && gw && g64 && g256) {
            snprintf(what, sizeof what, "%s sample %d", ds, k);
            CHECKF(gc->numel == (size_t)W && gw->numel == (size_t)E * W,
                   "%s: width %zu, the original's WORDS_NUM %d", what, gc->numel, W);
            const int64_t *oc = (const int64_t *)caps->data + (size_t)k * W;
            const int64_t *om = (const int64_t *)mask->data + (size_t)k * W;
            int64_t olen = ((const int64_t *)lens->data)[k];
            CHECKF(((int64_t *)gl->data)[0] == olen, "%s: cap_len %lld, original %lld", what,
                   (long long)((int64_t *)gl->data)[0], (long long)olen);
            for (int t = 0; t < W && gc->numel == (size_t)W; t++) {
                CHECKF(((int64_t *)gc->data)[t] == oc[t], "%s: word %d has id %lld, original %lld",
                       what, t, (long long)((int64_t *)gc->data)[t], (long long)oc[t]);
                CHECKF(((int64_t *)gm->data)[t] == om[t], "%s: mask[%d] = %lld, original %lld",
                       what, t, (long long)((int64_t *)gm->data)[t], (long long)om[t]);
            }
            CHECKF(gz->numel == (size_t)z->shape[1] && !memcmp(gz->data, (float *)z->data + k * gz->numel,
                                                      gz->numel * 4),
                   "%s: z differs from rng.c's stream as the tool computes it", what);
            CHECKF(ge->numel == (size_t)eps->shape[1] &&
                       !memcmp(ge->data, (float *)eps->data + k * ge->numel, ge->numel * 4),
                   "%s: eps differs from rng.c's stream as the tool computes it", what);
            double es = max_abs(gs->data, (float *)sent->data + (size_t)k * E, (size_t)E);
            double ew = gw->numel == (size_t)E * W
                            ? max_abs(gw->data, (float *)words->data + (size_t)k * E * W,
                                      (size_t)E * W)
                            : INFINITY;
            CHECKF(es <= atol_s, "%s: sent_emb max abs error %.3g > %.3g", what, es, atol_s);
            CHECKF(ew <= atol_w, "%s: words_emb max abs error %.3g > %.3g", what, ew, atol_w);
            // The stored rows of both stages.
            double e64 = 0, e256 = 0;
            for (int s = 0; s < 2; s++) {
                int px = s ? 256 : 64;
                const NpyArray *gi = s ? g256 : g64, *oi = s ? i256 : i64, *rows = s ? r256 : r64;
                float *sub = t2i_malloc(sizeof(float) * 3 * NR * px);
                if (!sub) break;
                for (int c = 0; c < 3; c++)
                    for (int r = 0; r < NR; r++)
                        memcpy(sub + ((size_t)c * NR + r) * px,
                               (float *)gi->data +
                                   ((size_t)c * px + ((int64_t *)rows->data)[r]) * px,
                               sizeof(float) * px);
                double e = max_abs(sub, (float *)oi->data + (size_t)k * 3 * NR * px,
                                   (size_t)3 * NR * px);
                *(s ? &e256 : &e64) = e;
                t2i_free(sub);
            }
            CHECKF(e64 <= atol_64, "%s: 64 px image max abs error %.3g > %.3g", what, e64, atol_64);
            CHECKF(e256 <= atol_256, "%s: 256 px image max abs error %.3g > %.3g", what, e256,
                   atol_256);
            if (es > w.sent) w.sent = es;
            if (ew > w.words) w.words = ew;
            if (e64 > w.img64) w.img64 = e64;
            if (e256 > w.img256) w.img256 = e256;
            // The bytes: the run's stored 256 px image and generate's 64 px stage PNG.
            for (int s = 0; s < 2; s++) {
                int px = s ? 256 : 64, H = 0, Wd = 0;
                uint8_t *rgb = NULL;
                if (s) snprintf(path, sizeof path, "%s/%d.png", img, k);
                else snprintf(path, sizeof path, "%s/g0_64.png", dir);
                if (image_read_rgb(path, &rgb, &H, &Wd) || H != px || Wd != px) {
                    CHECKF(0, "%s: cannot read a %d px image: %s", path, px, t2i_errmsg());
                    t2i_free(rgb);
                    continue;
                }
                snprintf(what, sizeof what, "%s sample %d %d px uint8", ds, k, px);
                const NpyArray *ou = s ? u256 : u64, *oi = s ? i256 : i64;
                compare_u8(what, rgb, px, (int64_t *)(s ? r256 : r64)->data, NR,
                           (uint8_t *)ou->data + (size_t)k * NR * px * 3,
                           (float *)oi->data + (size_t)k * 3 * NR * px, s ? atol_256 : atol_64,
                           &w);
                t2i_free(rgb);
            }
        }
        npz_free(&g);
    }
    printf("runner oracle %s (%d samples, WORDS_NUM %d): ids, cap_lens, masks exact, z/eps bit "
           "exact; max abs error sent_emb %.2g (atol %.0g), words_emb %.2g (%.0g), 64 px %.2g "
           "(%.0g), 256 px %.2g (%.0g); uint8 one-level flips %ld of %ld values (%ld near a step)\n",
           ds, N, W, w.sent, atol_s, w.words, atol_w, w.img64, atol_64, w.img256, atol_256,
           w.flips, w.values, w.near);
    npz_free(&fx);
}

TEST(runner_oracle_cub) {
    run_case("cub", "suites/models/demo_bird.json", "suites/evaluators/demo_cub.json",
             "suites/vocab/cub_test.vocab.txt");
}

TEST(runner_oracle_coco) {
    run_case("coco", "suites/models/demo_coco.json", "suites/evaluators/demo_coco.json",
             "suites/vocab/coco_test.vocab.txt");
}

// The runner's text preparation for every sample of a committed suite.
static void real_suite(const char *name, const char *card) {
    char path[300], key[96];
    Npz fx = {0};
    ModelCard M = {0};
    Vocab v = {0};
    Suite S = {0};
    TextEncoder te = {0};
    Arena ar = {0};
    int rc = npz_load(FIX "/suites.npz", &fx);
    snprintf(path, sizeof path, "suites/%s.suite", name);
    if (!rc) rc = suite_load(path, &S);
    if (!rc) rc = model_card_load(card, &M);
    if (!rc) rc = vocab_load(M.vocab_path, &v);
    if (!rc) rc = text_encoder_load(&te, &M.te_cfg, M.te_weights);
    int W = S.words_num, E = te.cfg.nhidden;
    if (!rc) rc = arena_init(&ar, text_encoder_arena_bytes(&te, 1, W) + 4096);
    CHECKF(rc == 0, "%s: %s", name, t2i_errmsg());
    snprintf(key, sizeof key, "%s_captions", name);
    const NpyArray *oc = rc ? NULL : need(&fx, key, FIX "/suites.npz");
    snprintf(key, sizeof key, "%s_cap_lens", name);
    const NpyArray *ol = rc ? NULL : need(&fx, key, FIX "/suites.npz");
    int64_t *ids = t2i_calloc((size_t)W, sizeof *ids);
    float *tmp = t2i_calloc((size_t)E * W, sizeof(float)), *we = t2i_calloc((size_t)E * W, 4);
    float *se = t2i_calloc((size_t)E, sizeof(float));
    uint8_t *mask = t2i_calloc((size_t)W, 1);
    if (oc && ol && ids && tmp && we && se && mask) {
        CHECKF(oc->shape[0] == S.n && oc->shape[1] == W, "%s: fixture (%lld, %lld), suite (%lld, %d)",
               name, (long long)oc->shape[0], (long long)oc->shape[1], (long long)S.n, W);
        long bad = 0;
        for (int64_t k = 0; k < S.n && oc->shape[0] == S.n && oc->shape[1] == W; k++) {
            int len = 0;
            memset(ids, 0, sizeof *ids * (size_t)W);
            rc = sample_word_ids(&S, &v, &S.s[k], ids, &len, "model");
            if (!rc) rc = sample_encode(&te, ids, len, W, tmp, we, se, mask, &ar);
            CHECKF(rc == 0, "%s sample %lld: %s", name, (long long)k, t2i_errmsg());
            if (rc) break;
            const int64_t *o = (const int64_t *)oc->data + k * W;
            int64_t olen = ((const int64_t *)ol->data)[k];
            int ok = len == olen;
            for (int t = 0; t < W; t++) ok &= ids[t] == o[t] && mask[t] == (o[t] == 0);
            if (!ok && bad++ == 0)
                CHECKF(0, "%s sample %lld: the runner's ids/mask (len %d) differ from the "
                       "original's (len %lld)", name, (long long)k, len, (long long)olen);
        }
        CHECKF(bad == 0, "%s: %ld samples differ", name, bad);
        printf("runner oracle %s: ids, cap_len and mask of %lld samples (WORDS_NUM %d) exact\n",
               name, (long long)S.n, W);
    }
    void *bufs[] = {ids, tmp, we, se, mask};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) t2i_free(bufs[i]);
    arena_free(&ar);
    text_encoder_free(&te);
    vocab_free(&v);
    suite_free(&S);
    model_card_free(&M);
    npz_free(&fx);
}

TEST(runner_oracle_real_suites) {
    real_suite("cub_smoke", "suites/models/demo_bird.json");
    real_suite("cub_examples", "suites/models/demo_bird.json");
    real_suite("coco_smoke", "suites/models/demo_coco.json");
    real_suite("coco_examples", "suites/models/demo_coco.json");
}

int main(void) {
    BIN = getenv("T2I_BIN") && *getenv("T2I_BIN") ? getenv("T2I_BIN") : "build/t2ibench";
    snprintf(T, sizeof T, "/tmp/t2iro_XXXXXX");
    if (!mkdtemp(T)) {
        fprintf(stderr, "mkdtemp: %s\n", strerror(errno));
        test_failed++;
        return test_report("test_runner_oracle");
    }
    RUN(runner_oracle_real_suites);
    RUN(runner_oracle_cub);
    RUN(runner_oracle_coco);
    if (!test_failed) sh("rm -rf %s", T);
    return test_report("test_runner_oracle");
}
