// test_attngan.c -- LSTM, word attention, RNN_ENCODER and G_NET: fast vs reference kernels,
// the oracle fixtures through `t2ibench verify` (every weight file format), the full-size key
// listings of ../shared/reference, and hash-weight models of the released configurations.
#include "attention.h"
#include "attngan.h"
#include "cli.h"
#include "image_io.h"
#include "lstm.h"
#include "npy.h"
#include "t2i.h"
#include "test.h"
#include "testdata.h"
#include "text_encoder.h"
#include "weights.h"

#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

// Scratch files go to a fresh directory under /tmp (build/tests may not exist, e.g. when only
// the sanitizer build ran); tp("x") is "<that dir>/x", from a ring of buffers so that a few
// paths can be used in one expression.
static char tmp_root[64] = "/tmp/t2i_test_attngan_XXXXXX";
static const char *tp(const char *name) {
    static char ring[8][256];
    static int next;
    char *b = ring[next++ % 8];
    snprintf(b, sizeof ring[0], "%s/%s", tmp_root, name);
    return b;
}

static uint64_t lcg = 12345;   // this file's data seed (tests/testdata.h)
static float *rand_buf(size_t n, float scale) { return rand_buf_from(&lcg, n, scale); }

// ---- kernels ------------------------------------------------------------------------------

TEST(lstm_fast_matches_ref) {
    const int B = 5, T = 7, I = 13, H = 11;
    int lens[5] = {7, 3, 7, 1, 0};   // unsorted, one empty sequence
    float *w[8];
    for (int d = 0; d < 2; d++) {
        w[4 * d + 0] = rand_buf((size_t)4 * H * I, 0.5f);
        w[4 * d + 1] = rand_buf((size_t)4 * H * H, 0.5f);
        w[4 * d + 2] = rand_buf((size_t)4 * H, 0.5f);
        w[4 * d + 3] = rand_buf((size_t)4 * H, 0.5f);
    }
    BiLSTM m = {{I, H, w[0], w[1], w[2], w[3]}, {I, H, w[4], w[5], w[6], w[7]}};
    float *x = rand_buf((size_t)B * T * I, 1.5f);
    size_t no = (size_t)B * T * 2 * H, nh = (size_t)B * 2 * H;
    float *o1 = t2i_malloc(sizeof(float) * no), *o2 = t2i_malloc(sizeof(float) * no);
    float *h1 = t2i_malloc(sizeof(float) * nh), *h2 = t2i_malloc(sizeof(float) * nh);
    float *scratch = t2i_malloc(sizeof(float) * bilstm_scratch_floats(&m, B, T));
    test_poison(o1, no);
    test_poison(o2, no);
    test_poison(h1, nh);
    test_poison(h2, nh);
    bilstm_forward(o1, h1, x, lens, &m, B, T, scratch);
    bilstm_forward_ref(o2, h2, x, lens, &m, B, T);
    check_tensor("lstm out", o1, o2, no, 1e-6, 1e-5);
    check_tensor("lstm h_n", h1, h2, nh, 1e-6, 1e-5);
    // padded steps and the empty sequence are zero; h_n forward == out at len-1,
    // backward == out at t = 0
    CHECK(o1[((size_t)1 * T + 5) * 2 * H] == 0.0f && h1[4 * 2 * H + 3] == 0.0f);
    CHECK(h1[(size_t)1 * 2 * H + 2] == o1[((size_t)1 * T + 2) * 2 * H + 2]);
    CHECK(h1[(size_t)2 * 2 * H + H + 1] == o1[((size_t)2 * T + 0) * 2 * H + H + 1]);
    for (int i = 0; i < 8; i++) t2i_free(w[i]);
    t2i_free(x);
    t2i_free(o1);
    t2i_free(o2);
    t2i_free(h1);
    t2i_free(h2);
    t2i_free(scratch);
}

static void attention_case(int B, int Q, int T, int idf, int cdf, AttMaskMode mode, int masked) {
    float *wc = rand_buf((size_t)idf * cdf, 0.4f);
    WordAttention m = {idf, cdf, wc};
    float *in = rand_buf((size_t)B * idf * Q, 1.0f), *ctx = rand_buf((size_t)B * cdf * T, 1.0f);
    uint8_t *mask = t2i_calloc((size_t)B * T, 1);
    for (int b = 0; b < B; b++)   // sample b has T - b%3 words (never fully masked)
        for (int t = T - b % 3; t < T; t++) mask[(size_t)b * T + t] = t > 0;
    size_t no = (size_t)B * idf * Q, na = (size_t)B * T * Q;
    float *o1 = t2i_malloc(sizeof(float) * no), *o2 = t2i_malloc(sizeof(float) * no);
    float *a1 = t2i_malloc(sizeof(float) * na), *a2 = t2i_malloc(sizeof(float) * na);
    float *scratch = t2i_malloc(sizeof(float) * word_attention_scratch_floats(&m, B, Q, T));
    test_poison(o1, no);
    test_poison(o2, no);
    test_poison(a1, na);
    test_poison(a2, na);
    const uint8_t *mk = masked ? mask : NULL;
    word_attention_forward(o1, a1, in, ctx, mk, mode, &m, B, Q, T, scratch);
    word_attention_forward_ref(o2, a2, in, ctx, mk, mode, &m, B, Q, T);
    check_tensor("attention out", o1, o2, no, 1e-5, 1e-4);
    check_tensor("attention maps", a1, a2, na, 1e-6, 1e-4);
    // masked words get exactly zero attention in the per-sample mode
    if (masked && mode == ATT_MASK_PER_SAMPLE)
        for (int b = 0; b < B; b++)
            for (int t = 0; t < T; t++)
                if (mask[(size_t)b * T + t]) CHECK(a1[((size_t)b * T + t) * Q] == 0.0f);
    t2i_free(wc);
    t2i_free(in);
    t2i_free(ctx);
    t2i_free(mask);
    t2i_free(o1);
    t2i_free(o2);
    t2i_free(a1);
    t2i_free(a2);
    t2i_free(scratch);
}

TEST(attention_fast_matches_ref) {
    attention_case(3, 35, 7, 5, 9, ATT_MASK_PER_SAMPLE, 1);
    attention_case(3, 35, 7, 5, 9, ATT_MASK_BATCH_COUPLED, 1);
    attention_case(2, 16, 5, 4, 3, ATT_MASK_PER_SAMPLE, 0);
    attention_case(1, 9, 4, 3, 6, ATT_MASK_BATCH_COUPLED, 1);
}

TEST(attention_modes_agree_at_batch_1_and_differ_at_batch_3) {
    const int Q = 10, T = 5, idf = 4, cdf = 6;
    float *wc = rand_buf((size_t)idf * cdf, 0.5f);
    WordAttention m = {idf, cdf, wc};
    float *in = rand_buf((size_t)3 * idf * Q, 1.0f), *ctx = rand_buf((size_t)3 * cdf * T, 1.0f);
    uint8_t mask[15] = {0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1};
    float o1[120], o2[120], a1[150], a2[150];
    float *scratch = t2i_malloc(sizeof(float) * word_attention_scratch_floats(&m, 3, Q, T));
    word_attention_forward(o1, a1, in, ctx, mask, ATT_MASK_PER_SAMPLE, &m, 1, Q, T, scratch);
    word_attention_forward(o2, a2, in, ctx, mask, ATT_MASK_BATCH_COUPLED, &m, 1, Q, T, scratch);
    check_tensor("B=1 modes", a1, a2, (size_t)T * Q, 0, 0);
    word_attention_forward(o1, a1, in, ctx, mask, ATT_MASK_PER_SAMPLE, &m, 3, Q, T, scratch);
    word_attention_forward(o2, a2, in, ctx, mask, ATT_MASK_BATCH_COUPLED, &m, 3, Q, T, scratch);
    double d = 0;
    for (int i = 0; i < 3 * T * Q; i++) d = fmax(d, fabs(a1[i] - a2[i]));
    CHECKF(d > 0.01, "coupled and per-sample masks should differ at B=3 (max diff %g)", d);
    // coupled: sample 0, query q uses mask[q % 3]; q = 2 -> mask row 2 masks words 1..4
    CHECK(a2[(size_t)1 * Q + 2] == 0.0f && a2[(size_t)0 * Q + 2] == 1.0f);
    t2i_free(wc);
    t2i_free(in);
    t2i_free(ctx);
    t2i_free(scratch);
}

// ---- oracle fixtures through `t2ibench verify` --------------------------------------------

static int run_verify(const char *fixture, const char *out) {
    char dir[1024];
    test_fixture_path(dir, sizeof dir, fixture);
    char *argv[4] = {"verify", dir, out ? "--out" : NULL, (char *)out};
    return cmd_verify(out ? 4 : 2, argv);
}

TEST(verify_text_encoder_all_formats) { CHECK(run_verify("text_encoder", NULL) == 0); }
TEST(verify_generator_r1_all_formats) { CHECK(run_verify("generator_r1", NULL) == 0); }
TEST(verify_generator_r2_all_formats) { CHECK(run_verify("generator_r2", NULL) == 0); }

TEST(verify_out_writes_npy) {
    const char *out = tp("verify_out");
    CHECK(run_verify("text_encoder", out) == 0);
    NpyArray a;
    char path[1024], ref[1024];
    snprintf(path, sizeof path, "%s/text_encoder/words_emb.npy", out);
    CHECK(npy_load(path, &a) == T2I_OK);
    NpyArray r;
    CHECK(npy_load(test_fixture_path(ref, sizeof ref, "text_encoder/words_emb.npy"), &r) == 0);
    CHECK(a.ndim == 3 && a.shape[2] == 11 && a.numel == r.numel);
    if (a.numel == r.numel) check_tensor("words_emb.npy", a.data, r.data, a.numel, 1e-6, 0);
    npy_free(&a);
    npy_free(&r);
}

static int copy_file(const char *from, const char *to) {
    uint8_t *buf;
    size_t len;
    if (t2i_read_file(from, &buf, &len)) return -1;
    FILE *f = fopen(to, "wb");
    int ok = f && fwrite(buf, 1, len, f) == len;
    if (f) fclose(f);
    t2i_free(buf);
    return ok ? 0 : -1;
}

// verify itself must fail: a fixture copy whose sent_emb is off by 2e-6 in one element (twice
// the tolerance) exits 1; a missing folder exits 2.
TEST(verify_detects_a_wrong_output) {
    const char *dir = tp("verify_bad_te");
    mkdir(dir, 0777);
    const char *files[] = {"manifest.json", "captions.npy", "cap_lens.npy", "words_emb.npy",
                           "model.pth", "model_legacy.pth", "model_legacy_py2.pth"};
    char from[1024], to[1024];
    for (int i = 0; i < 7; i++) {
        snprintf(from, sizeof from, "%s/text_encoder/%s", test_fixtures_dir(), files[i]);
        snprintf(to, sizeof to, "%s/%s", dir, files[i]);
        CHECK(copy_file(from, to) == 0);
    }
    NpyArray a;
    snprintf(from, sizeof from, "%s/text_encoder/sent_emb.npy", test_fixtures_dir());
    CHECK(npy_load(from, &a) == T2I_OK);
    ((float *)a.data)[37] += 2e-6f;
    snprintf(to, sizeof to, "%s/sent_emb.npy", dir);
    CHECK(npy_save(to, a.dtype, a.ndim, a.shape, a.data) == T2I_OK);
    npy_free(&a);
    char *argv[2] = {"verify", (char *)dir};
    printf("(expected: the FAIL lines below come from a deliberately corrupted fixture copy)\n");
    CHECK(cmd_verify(2, argv) == 1);
    char *argv2[2] = {"verify", (char *)tp("no_such_fixture")};
    CHECK(cmd_verify(2, argv2) == 2);
}

// Per-sample masks at B=4 must NOT reproduce the batch-coupled oracle: proves the mode is used.
TEST(generator_per_sample_mask_differs_from_oracle) {
    char path[1024];
    StateDict sd;
    GNetConfig cfg = {.gf_dim = 8, .z_dim = 16, .condition_dim = 8, .embedding_dim = 16,
                      .r_num = 1, .branch_num = 3};
    GNet g;
    CHECK(weights_load(test_fixture_path(path, sizeof path, "generator_r1/model.pth"), NULL,
                       &sd) == T2I_OK);
    if (test_cur_failed) return;
    CHECK(gnet_load_sd(&g, &cfg, &sd) == T2I_OK);
    const char *names[5] = {"z", "sent_emb", "words_embs", "mask", "eps"};
    NpyArray in[5], att;
    for (int i = 0; i < 5; i++) {
        snprintf(path, sizeof path, "%s/generator_r1/%s.npy", test_fixtures_dir(), names[i]);
        CHECK(npy_load_f32(path, &in[i]) == T2I_OK);
    }
    CHECK(npy_load_f32(test_fixture_path(path, sizeof path, "generator_r1/att_1.npy"), &att) == 0);
    int B = 4, T = 10;
    uint8_t m8[40];
    for (int i = 0; i < 40; i++) m8[i] = ((float *)in[3].data)[i] != 0;
    float *a1 = t2i_malloc(sizeof(float) * B * T * 64 * 64);
    Arena a;
    CHECK(arena_init(&a, gnet_arena_bytes(&g, B, T)) == 0);
    GNetInputs gi = {in[0].data, in[1].data, in[2].data, m8, in[4].data, ATT_MASK_PER_SAMPLE};
    GNetOutputs go = {.att = {a1, NULL}};
    CHECK(gnet_forward(&g, &gi, &go, B, T, &a) == T2I_OK);
    double d = 0;
    for (size_t i = 0; i < att.numel; i++) d = fmax(d, fabs(a1[i] - ((float *)att.data)[i]));
    CHECKF(d > 0.1, "per-sample att_1 should differ from the coupled oracle (max diff %g)", d);
    // and the sample whose mask row is its own (b = 0: rows r = q use mask[q % 4]; q % 4 == 0)
    // matches for those queries
    const float *ref = att.data;
    double d0 = 0;
    for (int t = 0; t < T; t++)
        for (int q = 0; q < 64 * 64; q += 4)
            d0 = fmax(d0, fabs(a1[(size_t)t * 4096 + q] - ref[(size_t)t * 4096 + q]));
    CHECKF(d0 < 5e-6, "sample 0, queries q %% 4 == 0 use mask[0] in both modes (diff %g)", d0);
    arena_free(&a);
    t2i_free(a1);
    for (int i = 0; i < 5; i++) npy_free(&in[i]);
    npy_free(&att);
    gnet_free(&g);
}

// The batch split over threads (uneven slices 1,1,2) reproduces the batch-coupled oracle.
TEST(generator_threads_match_oracle) {
    char path[1024];
    GNetConfig cfg = {.gf_dim = 8, .z_dim = 16, .condition_dim = 8, .embedding_dim = 16,
                      .r_num = 2, .branch_num = 3};
    GNet g;
    CHECKF(gnet_load(&g, &cfg, test_fixture_path(path, sizeof path, "generator_r2/model.pth")) ==
               T2I_OK, "%s", t2i_errmsg());
    if (test_cur_failed) return;
    gnet_set_threads(&g, 3);
    const char *names[7] = {"z", "sent_emb", "words_embs", "mask", "eps", "att_1", "fake_img_256"};
    NpyArray t[7];
    for (int i = 0; i < 7; i++) {
        snprintf(path, sizeof path, "%s/generator_r2/%s.npy", test_fixtures_dir(), names[i]);
        CHECK(npy_load_f32(path, &t[i]) == T2I_OK);
    }
    int B = 4, T = 9;
    uint8_t m8[36];
    for (int i = 0; i < 36; i++) m8[i] = ((float *)t[3].data)[i] != 0;
    float *att = t2i_malloc(sizeof(float) * t[5].numel), *img = t2i_malloc(sizeof(float) * t[6].numel);
    test_poison(att, t[5].numel);
    test_poison(img, t[6].numel);
    Arena a;
    CHECK(arena_init(&a, gnet_arena_bytes(&g, B, T)) == 0);
    GNetInputs gi = {t[0].data, t[1].data, t[2].data, m8, t[4].data, ATT_MASK_BATCH_COUPLED};
    GNetOutputs go = {.img = {NULL, NULL, img}, .att = {att, NULL}};
    CHECK(gnet_forward(&g, &gi, &go, B, T, &a) == T2I_OK);
    check_tensor("att_1 (3 threads)", att, t[5].data, t[5].numel, 8e-6, 0);
    check_tensor("fake_img_256 (3 threads)", img, t[6].data, t[6].numel, 3e-5, 0);
    arena_free(&a);
    t2i_free(att);
    t2i_free(img);
    for (int i = 0; i < 7; i++) npy_free(&t[i]);
    gnet_free(&g);
}

// ---- full-size configurations -------------------------------------------------------------

// Builds a StateDict of zeros from a reference key listing "key (d0,d1,...) dtype".
static int sd_from_listing(const char *file, StateDict *sd, const char *drop_key) {
    char path[1024];
    snprintf(path, sizeof path, "%s/../reference/%s", test_fixtures_dir(), file);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    sd_init(sd);
    char line[512];
    int n = 0;
    while (fgets(line, sizeof line, f)) {
        char key[256], dims[128], dt[32];
        if (sscanf(line, "%255s (%127[^)]) %31s", key, dims, dt) != 3) {
            if (sscanf(line, "%255s () %31s", key, dt) != 2) continue;
            dims[0] = '\0';
        }
        if (drop_key && strcmp(key, drop_key) == 0) continue;
        int64_t shape[8];
        int nd = 0;
        for (char *p = dims; *p && nd < 8;) {
            shape[nd++] = strtoll(p, &p, 10);
            while (*p == ',' || *p == ' ') p++;
        }
        DType t = strcmp(dt, "int64") == 0 ? DT_I64 : DT_F32;
        size_t numel = 1;
        for (int i = 0; i < nd; i++) numel *= (size_t)shape[i];
        void *data = t2i_malloc_aligned(numel * dtype_size(t) + 1);
        memset(data, 0, numel * dtype_size(t) + 1);
        if (sd_add(sd, key, t, nd, shape, data)) return -1;
        n++;
    }
    fclose(f);
    return n;
}

TEST(binder_accepts_reference_listings) {
    StateDict sd;
    GNet g;
    TextEncoder te;
    GNetConfig bird = gnet_config_bird(), coco = gnet_config_coco();
    TextEncoderConfig tb = text_encoder_config_bird(), tc = text_encoder_config_coco();
    CHECK(sd_from_listing("G_NET_bird.keys.txt", &sd, NULL) == 97);
    CHECKF(gnet_load_sd(&g, &bird, &sd) == T2I_OK, "%s", t2i_errmsg());
    gnet_free(&g);
    CHECK(sd_from_listing("G_NET_coco.keys.txt", &sd, NULL) == 121);
    CHECKF(gnet_load_sd(&g, &coco, &sd) == T2I_OK, "%s", t2i_errmsg());
    gnet_free(&g);
    CHECK(sd_from_listing("RNN_ENCODER_bird.keys.txt", &sd, NULL) == 9);
    CHECKF(text_encoder_load_sd(&te, &tb, &sd) == T2I_OK, "%s", t2i_errmsg());
    text_encoder_free(&te);
    CHECK(sd_from_listing("RNN_ENCODER_coco.keys.txt", &sd, NULL) == 9);
    CHECKF(text_encoder_load_sd(&te, &tc, &sd) == T2I_OK, "%s", t2i_errmsg());
    text_encoder_free(&te);
    // pre-0.4 checkpoints have no num_batches_tracked
    CHECK(sd_from_listing("G_NET_bird.keys.txt", &sd, "h_net2.upsample.2.num_batches_tracked") == 96);
    CHECK(gnet_load_sd(&g, &bird, &sd) == T2I_OK);
    gnet_free(&g);
    // strictness: a missing key, and the coco listing against the bird config
    CHECK(sd_from_listing("G_NET_bird.keys.txt", &sd, "h_net3.residual.1.block.4.running_var") == 96);
    CHECK(gnet_load_sd(&g, &bird, &sd) == T2I_ESHAPE);
    CHECKF(strstr(t2i_errmsg(), "h_net3.residual.1.block.4.running_var") != NULL, "%s",
           t2i_errmsg());
    CHECK(sd_from_listing("G_NET_coco.keys.txt", &sd, NULL) == 121);
    CHECK(gnet_load_sd(&g, &bird, &sd) == T2I_ESHAPE);
    CHECKF(strstr(t2i_errmsg(), "h_net2.residual.2.block.0.weight") != NULL, "%s",
           t2i_errmsg());
    CHECK(sd_from_listing("RNN_ENCODER_coco.keys.txt", &sd, NULL) == 9);
    CHECK(text_encoder_load_sd(&te, &tb, &sd) == T2I_ESHAPE);
    CHECKF(strstr(t2i_errmsg(), "encoder.weight") != NULL, "%s", t2i_errmsg());
}

TEST(macs_match_reference_summary) {
    GNetConfig bird = gnet_config_bird(), coco = gnet_config_coco();
    CHECK_CLOSE(gnet_macs_per_image(&bird, 18), 8255311872.0, 0, 1e-12);
    CHECK_CLOSE(gnet_macs_per_image(&coco, 12), 23582347264.0, 0, 1e-12);
}

// A hash-weight model of each released configuration builds and runs at batch 1.
static void hash_generator_runs(GNetConfig cfg) {
    GNet g;
    CHECKF(gnet_load(&g, &cfg, T2I_HASH_WEIGHTS) == T2I_OK, "%s", t2i_errmsg());
    if (test_cur_failed) return;
    const int T = 7;
    float *z = rand_buf(100, 1), *sent = rand_buf(256, 0.3f), *eps = rand_buf(100, 1);
    float *words = rand_buf((size_t)256 * T, 0.3f);
    uint8_t mask[7] = {0, 0, 0, 0, 0, 1, 1};
    size_t n = (size_t)3 * 256 * 256;
    float *img = t2i_malloc(sizeof(float) * n), *att = t2i_malloc(sizeof(float) * T * 128 * 128);
    test_poison(img, n);
    Arena a;
    CHECK(arena_init(&a, gnet_arena_bytes(&g, 1, T)) == T2I_OK);
    GNetInputs in = {z, sent, words, mask, eps, ATT_MASK_PER_SAMPLE};
    GNetOutputs out = {.img = {NULL, NULL, img}, .att = {NULL, att}};
    CHECK(gnet_forward(&g, &in, &out, 1, T, &a) == T2I_OK);
    int finite = 1;
    double mn = 1, mx = -1;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(img[i])) finite = 0;
        mn = fmin(mn, img[i]);
        mx = fmax(mx, img[i]);
    }
    CHECK(finite && mn >= -1 && mx <= 1 && mx - mn > 0.1);
    double s = 0;   // each query's attention sums to 1; masked words get 0
    for (int t = 0; t < T; t++) s += att[(size_t)t * 16384 + 777];
    CHECK_CLOSE(s, 1.0, 1e-5, 0);
    CHECK(att[(size_t)5 * 16384 + 777] == 0.0f && att[(size_t)6 * 16384] == 0.0f);
    arena_free(&a);
    gnet_free(&g);
    t2i_free(z);
    t2i_free(sent);
    t2i_free(eps);
    t2i_free(words);
    t2i_free(img);
    t2i_free(att);
}

TEST(hash_generator_bird_runs) { hash_generator_runs(gnet_config_bird()); }
TEST(hash_generator_coco_runs) { hash_generator_runs(gnet_config_coco()); }

static void hash_text_encoder_runs(TextEncoderConfig cfg) {
    TextEncoder te;
    CHECKF(text_encoder_load(&te, &cfg, T2I_HASH_WEIGHTS) == T2I_OK, "%s", t2i_errmsg());
    if (test_cur_failed) return;
    int64_t caps[2 * 6] = {5, 17, 3000, 4, 9, 1, 44, 2, 0, 0, 0, 0};
    int lens[2] = {6, 2}, Tw = 0;
    float we[2 * 256 * 6], se[2 * 256];
    test_poison(we, 2 * 256 * 6);
    Arena a;
    CHECK(arena_init(&a, text_encoder_arena_bytes(&te, 2, 6)) == T2I_OK);
    CHECK(text_encoder_forward(&te, caps, lens, 2, 6, we, se, &Tw, &a) == T2I_OK);
    CHECK(Tw == 6);
    // sent_emb forward half == words_emb at the last valid step; padding is zero
    CHECK(se[256 + 7] == we[(size_t)(256 + 7) * 6 + 1] && we[(size_t)(256 + 7) * 6 + 2] == 0);
    CHECK(isfinite(se[0]) && isfinite(se[255]));
    // an id outside the vocabulary is an error, not a read out of bounds
    caps[3] = cfg.ntoken;
    CHECK(text_encoder_forward(&te, caps, lens, 2, 6, we, se, &Tw, &a) == T2I_EARG);
    arena_free(&a);
    text_encoder_free(&te);
}

TEST(hash_text_encoder_bird_runs) { hash_text_encoder_runs(text_encoder_config_bird()); }
TEST(hash_text_encoder_coco_runs) { hash_text_encoder_runs(text_encoder_config_coco()); }

// BRANCH_NUM 1 and 2 build only their stages; hash weights depend on the key name only, so
// their images equal the first stages of the BRANCH_NUM 3 network exactly.
TEST(branch_num_1_2_3_agree) {
    const int B = 2, T = 3;
    float *z = rand_buf(B * 5, 1), *sent = rand_buf(B * 6, 1), *eps = rand_buf(B * 3, 1);
    float *words = rand_buf((size_t)B * 6 * T, 1);
    uint8_t mask[6] = {0, 0, 1, 0, 0, 0};
    float *img[3][3];
    for (int nb = 1; nb <= 3; nb++) {
        GNetConfig cfg = {.gf_dim = 4, .z_dim = 5, .condition_dim = 3, .embedding_dim = 6,
                          .r_num = 1, .branch_num = nb};
        GNet g;
        CHECKF(gnet_load(&g, &cfg, T2I_HASH_WEIGHTS) == T2I_OK, "%s", t2i_errmsg());
        CHECK(g.sd.n == 33 + 20 * (nb - 1));   // stage 1: 33 keys; each next stage (R_NUM 1): 20
        GNetOutputs out;
        memset(&out, 0, sizeof out);
        for (int s = 0; s < 3; s++) {
            img[nb - 1][s] = s < nb ? t2i_malloc(sizeof(float) * B * 3 * (64 << s) * (64 << s)) : NULL;
            out.img[s] = img[nb - 1][s];
        }
        Arena a;
        CHECK(arena_init(&a, gnet_arena_bytes(&g, B, T)) == T2I_OK);
        GNetInputs in = {z, sent, words, mask, eps, ATT_MASK_PER_SAMPLE};
        CHECK(gnet_forward(&g, &in, &out, B, T, &a) == T2I_OK);
        arena_free(&a);
        gnet_free(&g);
    }
    check_tensor("img64 nb1 vs nb3", img[0][0], img[2][0], (size_t)B * 3 * 64 * 64, 0, 0);
    check_tensor("img64 nb2 vs nb3", img[1][0], img[2][0], (size_t)B * 3 * 64 * 64, 0, 0);
    check_tensor("img128 nb2 vs nb3", img[1][1], img[2][1], (size_t)B * 3 * 128 * 128, 0, 0);
    for (int i = 0; i < 3; i++)
        for (int s = 0; s < 3; s++) t2i_free(img[i][s]);
    t2i_free(z);
    t2i_free(sent);
    t2i_free(eps);
    t2i_free(words);
}

TEST(config_errors) {
    GNetConfig c = gnet_config_bird();
    c.branch_num = 4;
    CHECK(gnet_config_check(&c) == T2I_EARG);
    c = gnet_config_bird();
    c.r_num = 0;
    CHECK(gnet_config_check(&c) == T2I_EARG);
    TextEncoderConfig t = {10, 5, 7};
    CHECK(text_encoder_config_check(&t) == T2I_EARG);
}

// ---- `t2ibench generate` ------------------------------------------------------------------

static int generate(const char *card, const char *caption, const char *seed, const char *out,
                    int attention) {
    char *argv[12] = {"generate", "--model", (char *)card, "--caption", (char *)caption,
                      "--seed", (char *)seed, "--out", (char *)out, NULL};
    int argc = 9;
    if (attention) argv[argc++] = "--attention";
    return cmd_generate(argc, argv);
}

static uint8_t *read_png(const char *dir, const char *name, int *H, int *W) {
    char path[1024];
    uint8_t *px = NULL;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (image_read_rgb(path, &px, H, W)) return NULL;
    return px;
}

TEST(generate_demo_card) {
    const char *card = "suites/models/demo_bird.json";
    CHECKF(generate(card, "A small red bird with a white belly", "3", tp("gen_a"), 1) == 0,
           "%s", t2i_errmsg());
    CHECK(generate(card, "A small red bird with a white belly", "3", tp("gen_b"), 0) == 0);
    CHECK(generate(card, "A small red bird with a white belly", "4", tp("gen_c"), 0) == 0);
    int H, W, H2, W2;
    uint8_t *a = read_png(tp("gen_a"), "g2_256.png", &H, &W);
    uint8_t *b = read_png(tp("gen_b"), "g2_256.png", &H2, &W2);
    uint8_t *c = read_png(tp("gen_c"), "g2_256.png", &H2, &W2);
    CHECK(a && b && c && H == 256 && W == 256);
    if (a && b && c) {
        CHECK(memcmp(a, b, 256 * 256 * 3) == 0);   // same seed, same image
        CHECK(memcmp(a, c, 256 * 256 * 3) != 0);   // another seed, another image
    }
    t2i_free(a);
    t2i_free(b);
    t2i_free(c);
    uint8_t *s = read_png(tp("gen_a"), "g0_64.png", &H, &W);
    CHECK(s && H == 64 && W == 64);
    t2i_free(s);
    // one map per word and attention stage: "a small red bird with a white belly" = 8 words
    s = read_png(tp("gen_a"), "att2_w07_belly.png", &H, &W);
    CHECK(s && H == 256);
    t2i_free(s);
    s = read_png(tp("gen_a"), "att1_w03_bird.png", &H, &W);
    CHECK(s && H == 128);
    t2i_free(s);
    // a caption without a known word is an error naming it
    CHECK(generate(card, "zzqx vvqk", "1", tp("gen_d"), 0) == 2);
    CHECKF(strstr(t2i_errmsg(), "zzqx vvqk") != NULL, "%s", t2i_errmsg());
}

int main(void) {
    if (!mkdtemp(tmp_root)) {
        perror("mkdtemp");
        return 1;
    }
    RUN(lstm_fast_matches_ref);
    RUN(attention_fast_matches_ref);
    RUN(attention_modes_agree_at_batch_1_and_differ_at_batch_3);
    RUN(verify_text_encoder_all_formats);
    RUN(verify_generator_r1_all_formats);
    RUN(verify_generator_r2_all_formats);
    RUN(verify_out_writes_npy);
    RUN(verify_detects_a_wrong_output);
    RUN(generator_per_sample_mask_differs_from_oracle);
    RUN(generator_threads_match_oracle);
    RUN(binder_accepts_reference_listings);
    RUN(macs_match_reference_summary);
    RUN(hash_generator_bird_runs);
    RUN(hash_generator_coco_runs);
    RUN(hash_text_encoder_bird_runs);
    RUN(hash_text_encoder_coco_runs);
    RUN(branch_num_1_2_3_agree);
    RUN(config_errors);
    RUN(generate_demo_card);
    char rm[128];
    snprintf(rm, sizeof rm, "rm -rf '%s'", tmp_root);
    if (system(rm) != 0) fprintf(stderr, "could not remove %s\n", tmp_root);
    return test_report("test_attngan");
}
