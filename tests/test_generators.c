// test_generators.c -- the generator interface (engine/nets/generator.h) with DM-GAN and DF-GAN:
//   * `t2ibench verify` on generator_dmgan and generator_dfgan with every weight file they list
//     (zip, legacy, DF-GAN's training-checkpoint dict with 'module.' keys, its text encoder);
//   * the intermediates of both fixtures (memory gates, keys, values, responses; DF-GAN's fc,
//     G_Block outputs and affine parameters) and the uint8 conversion by truncation;
//   * the batch coupling of DM-GAN's memory (mask[r % B]) against per-sample masking;
//   * per-sample determinism: a sample's bytes do not depend on batch size, worker count or
//     resume point (runner, small hash-weight cards);
//   * the full-size key listings of ../shared/reference, MAC counts of summary.json, full-size
//     hash-weight forwards, and the "found X, expected Y" errors for mismatched checkpoints.
// Run from the repository root (T2I_BIN, default build/t2ibench).
#include "test.h"
#include "testdata.h"

#include "cli.h"
#include "dfgan.h"
#include "dmgan.h"
#include "generator.h"
#include "model_card.h"
#include "protocol.h"
#include "npy.h"
#include "resize.h"
#include "sha256.h"
#include "t2i.h"
#include "weights.h"

#include <cjson/cJSON.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli_test.h"

// ---- fixture helpers -----------------------------------------------------------------------

static float *fixture_f32(const char *fixture, const char *name, NpyArray *a) {
    char rel[256], path[1024];
    snprintf(rel, sizeof rel, "%s/%s.npy", fixture, name);
    memset(a, 0, sizeof *a);
    if (npy_load_f32(test_fixture_path(path, sizeof path, rel), a)) {
        fprintf(stderr, "  cannot load %s: %s\n", path, t2i_errmsg());
        return NULL;
    }
    return a->data;
}

// suggested_atol of `name` in the fixture's manifest (0 when absent: the check then fails).
static double fixture_atol(const char *fixture, const char *name) {
    char rel[256], path[1024];
    snprintf(rel, sizeof rel, "%s/manifest.json", fixture);
    char *text = read_all(test_fixture_path(path, sizeof path, rel));
    cJSON *j = text ? cJSON_Parse(text) : NULL;
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(j, "f32_vs_f64"), name);
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(e, "suggested_atol");
    double v = cJSON_IsNumber(a) ? a->valuedouble : 0.0;
    cJSON_Delete(j);
    t2i_free(text);
    return v;
}

static int load_weights_file(const char *fixture, const char *file, StateDict *sd) {
    char rel[256], path[1024];
    snprintf(rel, sizeof rel, "%s/%s", fixture, file);
    return weights_load_file(test_fixture_path(path, sizeof path, rel), sd);
}

// The fixture's G_NET configuration (same numbers in both G_NET fixtures' manifests).
static DmGanConfig dmgan_fixture_config(void) {
    return (DmGanConfig){.gf_dim = 8, .z_dim = 16, .condition_dim = 8, .embedding_dim = 16,
                         .r_num = 2, .branch_num = 3};
}

static DfGanConfig dfgan_fixture_config(void) {
    return (DfGanConfig){.nf = 4, .z_dim = 16, .cond_dim = 16, .imsize = 256, .ch_size = 3};
}

static uint64_t lcg = 424242;   // this file's data seed (tests/testdata.h)

// ---- oracle fixtures through `t2ibench verify` ---------------------------------------------

static int run_verify(const char *fixture) {
    char dir[1024];
    test_fixture_path(dir, sizeof dir, fixture);
    char *argv[2] = {"verify", dir};
    return cmd_verify(2, argv);
}

TEST(verify_dmgan_every_weight_file) { CHECK(run_verify("generator_dmgan") == 0); }

// Holdout-style fixtures of this repository, made by running the original code with other
// sizes (tools/make_generator_holdouts.py): DM-GAN at batch 3 (queryL % B != 0, another
// coupling pattern) with BRANCH_NUM 2, DF-GAN at imsize 64.
TEST(verify_own_holdouts) {
    char *argv[3] = {"verify", "tests/fixtures/generators/dmgan_b3",
                     "tests/fixtures/generators/dfgan_64"};
    CHECK(cmd_verify(3, argv) == 0);
    // the batch-3 maps really depend on the coupling: per-sample masks miss them
    const char *dir = "tests/fixtures/generators/dmgan_b3";
    DmGanConfig cfg = {.gf_dim = 4, .z_dim = 7, .condition_dim = 5, .embedding_dim = 6,
                       .r_num = 1, .branch_num = 2};
    StateDict sd;
    DmGan g;
    char path[512];
    snprintf(path, sizeof path, "%s/model.pth", dir);
    CHECK(weights_load_file(path, &sd) == T2I_OK);
    CHECKF(dmgan_load_sd(&g, &cfg, &sd, "holdout") == T2I_OK, "%s", t2i_errmsg());
    if (test_cur_failed) return;
    NpyArray in[5], att;
    static const char *const names[5] = {"z", "sent_emb", "words_embs", "mask", "eps"};
    for (int i = 0; i < 5; i++) {
        snprintf(path, sizeof path, "%s/%s.npy", dir, names[i]);
        CHECK(npy_load_f32(path, &in[i]) == T2I_OK);
    }
    snprintf(path, sizeof path, "%s/att_1.npy", dir);
    CHECK(npy_load_f32(path, &att) == T2I_OK);
    if (test_cur_failed) return;
    uint8_t mask[15];
    for (int i = 0; i < 15; i++) mask[i] = ((float *)in[3].data)[i] != 0.0f;
    size_t n = (size_t)3 * 5 * 64 * 64;
    float *a = t2i_malloc(sizeof(float) * n);
    Arena ar;
    CHECK(arena_init(&ar, dmgan_arena_bytes(&g, 3, 5)) == T2I_OK);
    for (int mode = 0; mode < 2; mode++) {
        DmGanInputs di = {.z = in[0].data, .sent_emb = in[1].data, .words_emb = in[2].data,
                          .mask = mask, .eps = in[4].data,
                          .mask_mode = mode ? ATT_MASK_BATCH_COUPLED : ATT_MASK_PER_SAMPLE};
        DmGanOutputs o;
        memset(&o, 0, sizeof o);
        o.att[0] = a;
        CHECK(dmgan_forward(&g, &di, &o, 3, 5, &ar) == T2I_OK);
        double worst = 0;
        for (size_t i = 0; i < n; i++) {
            double d = fabs((double)a[i] - ((float *)att.data)[i]);
            if (d > worst) worst = d;
        }
        if (mode) CHECKF(worst <= 1e-6, "coupled: %g", worst);
        else CHECKF(worst > 0.05, "per-sample masks reproduce the coupled holdout (%g)", worst);
    }
    arena_free(&ar);
    t2i_free(a);
    for (int i = 0; i < 5; i++) npy_free(&in[i]);
    npy_free(&att);
    dmgan_free(&g);
}
TEST(verify_dfgan_every_weight_file) { CHECK(run_verify("generator_dfgan") == 0); }

// ---- DM-GAN intermediates ------------------------------------------------------------------

// The generator_dmgan fixture's network (weight file `file`) and inputs (B 4, T 9).
typedef struct {
    DmGan    g;
    NpyArray in[5];                    // z, sent_emb, words_embs, mask, eps
    float   *z, *sent, *words, *eps;   // their data
    uint8_t  mask[4 * 9];              // 1 = padded word
} DmGanFixture;

static void dmgan_fixture_close(DmGanFixture *f) {
    dmgan_free(&f->g);
    for (int i = 0; i < 5; i++) npy_free(&f->in[i]);
}

// 1 when everything loaded; else 0, with the failure counted and `f` freed.
static int dmgan_fixture_open(const char *file, DmGanFixture *f) {
    static const char *const names[5] = {"z", "sent_emb", "words_embs", "mask", "eps"};
    const char *fx = "generator_dmgan";
    DmGanConfig cfg = dmgan_fixture_config();
    StateDict sd;
    memset(f, 0, sizeof *f);
    CHECKF(load_weights_file(fx, file, &sd) == T2I_OK, "%s", t2i_errmsg());
    CHECKF(dmgan_load_sd(&f->g, &cfg, &sd, "fixture") == T2I_OK, "%s", t2i_errmsg());
    float *x[5];
    for (int i = 0; i < 5; i++) x[i] = fixture_f32(fx, names[i], &f->in[i]);
    CHECK(x[0] && x[1] && x[2] && x[3] && x[4]);
    if (test_cur_failed) {
        dmgan_fixture_close(f);
        return 0;
    }
    f->z = x[0], f->sent = x[1], f->words = x[2], f->eps = x[4];
    for (int i = 0; i < 4 * 9; i++) f->mask[i] = x[3][i] != 0.0f;
    return 1;
}

TEST(dmgan_memory_intermediates) {
    const char *fx = "generator_dmgan";
    DmGanFixture f;
    if (!dmgan_fixture_open("model_legacy.pth", &f)) return;
    const int B = 4, Tw = 9, GF = 8;
    // every traced tensor, in the fixture's names
    static const char *const names[2][7] = {
        {"mem1_h_code_avg", "mem1_writing_gate", "mem1_memory", "mem1_key", "mem1_value",
         "mem1_response", "mem1_response_gate"},
        {NULL, "mem2_writing_gate", "mem2_memory", "mem2_key", "mem2_value", NULL,
         "mem2_response_gate"}};
    size_t sizes[2][7];
    for (int st = 0; st < 2; st++) {
        size_t Q = (size_t)(64 << st) * (64 << st);
        size_t v[7] = {(size_t)B * GF, (size_t)B * Tw, (size_t)B * 2 * GF * Tw, (size_t)B * GF * Tw,
                       (size_t)B * GF * Tw, (size_t)B * GF * Q, (size_t)B * Q};
        memcpy(sizes[st], v, sizeof v);
    }
    DmGanOutputs out;
    memset(&out, 0, sizeof out);
    float *buf[2][7] = {{0}};
    for (int st = 0; st < 2; st++) {
        float **slot[7] = {&out.mem[st].h_code_avg, &out.mem[st].writing_gate, &out.mem[st].memory,
                           &out.mem[st].key, &out.mem[st].value, &out.mem[st].response,
                           &out.mem[st].response_gate};
        for (int k = 0; k < 7; k++) {
            buf[st][k] = t2i_malloc(sizeof(float) * sizes[st][k]);
            test_poison(buf[st][k], sizes[st][k]);
            *slot[k] = buf[st][k];
        }
    }
    size_t nh = (size_t)B * GF * 64 * 64;
    out.h_code1 = t2i_malloc(sizeof(float) * nh);
    DmGanInputs in = {.z = f.z, .sent_emb = f.sent, .words_emb = f.words, .mask = f.mask,
                      .eps = f.eps, .mask_mode = ATT_MASK_BATCH_COUPLED};
    Arena a;
    CHECK(arena_init(&a, dmgan_arena_bytes(&f.g, B, Tw)) == T2I_OK);
    CHECKF(dmgan_forward(&f.g, &in, &out, B, Tw, &a) == T2I_OK, "%s", t2i_errmsg());
    NpyArray ref;
    float *r = fixture_f32(fx, "h_code1", &ref);
    if (r) check_tensor("h_code1", out.h_code1, r, nh, fixture_atol(fx, "h_code1"), 0);
    npy_free(&ref);
    for (int st = 0; st < 2; st++)
        for (int k = 0; k < 7; k++) {
            if (!names[st][k]) continue;
            r = fixture_f32(fx, names[st][k], &ref);
            CHECK(r && ref.numel == sizes[st][k]);
            // intermediates without an f32-vs-f64 entry get the outputs' 1e-6
            double atol = fixture_atol(fx, names[st][k]);
            if (r && ref.numel == sizes[st][k])
                check_tensor(names[st][k], buf[st][k], r, ref.numel, atol > 0 ? atol : 1e-6, 0);
            npy_free(&ref);
        }
    for (int st = 0; st < 2; st++)
        for (int k = 0; k < 7; k++) t2i_free(buf[st][k]);
    t2i_free(out.h_code1);
    arena_free(&a);
    dmgan_fixture_close(&f);
}

// The fixture was made with the original's mask[r % B]; mask[b] must give other maps (the
// README measures 0.44), and the two modes agree at batch size 1.
TEST(dmgan_mask_coupling) {
    DmGanFixture f;
    if (!dmgan_fixture_open("model.pth", &f)) return;
    NpyArray att;
    float *af = fixture_f32("generator_dmgan", "att_1", &att);
    CHECK(af);
    if (!af) {
        dmgan_fixture_close(&f);
        return;
    }
    const float *zf = f.z, *sf = f.sent, *wf = f.words, *ef = f.eps;
    const uint8_t *mask = f.mask;
    const int B = 4, Tw = 9;
    size_t per = (size_t)Tw * 64 * 64, img = (size_t)3 * 256 * 256;
    float *a_ps = t2i_malloc(sizeof(float) * B * per), *a_1 = t2i_malloc(sizeof(float) * per);
    float *i_ps = t2i_malloc(sizeof(float) * img), *i_cp = t2i_malloc(sizeof(float) * img);
    Arena a;
    CHECK(arena_init(&a, dmgan_arena_bytes(&f.g, B, Tw)) == T2I_OK);
    DmGanInputs in = {.z = zf, .sent_emb = sf, .words_emb = wf, .mask = mask, .eps = ef,
                      .mask_mode = ATT_MASK_PER_SAMPLE};
    DmGanOutputs out;
    memset(&out, 0, sizeof out);
    out.att[0] = a_ps;
    CHECK(dmgan_forward(&f.g, &in, &out, B, Tw, &a) == T2I_OK);
    double worst = 0;
    for (size_t i = 0; i < B * per; i++) {
        double d = fabs((double)a_ps[i] - af[i]);
        if (d > worst) worst = d;
    }
    CHECKF(worst > 0.1, "per-sample masks reproduce the coupled fixture (max diff %g)", worst);
    // batch 1, sample 3 (two padded words): coupled == per-sample, bit for bit
    for (int mode = 0; mode < 2; mode++) {
        DmGanInputs one = {.z = zf + 3 * 16, .sent_emb = sf + 3 * 16, .words_emb = wf + 3 * 16 * Tw,
                           .mask = mask + 3 * Tw, .eps = ef + 3 * 8,
                           .mask_mode = mode ? ATT_MASK_BATCH_COUPLED : ATT_MASK_PER_SAMPLE};
        DmGanOutputs o1;
        memset(&o1, 0, sizeof o1);
        o1.att[0] = a_1;
        o1.img[2] = mode ? i_cp : i_ps;
        CHECK(dmgan_forward(&f.g, &one, &o1, 1, Tw, &a) == T2I_OK);
        if (mode == 0)   // per-sample masks: sample 3 alone == sample 3 of the batch, bit for bit
            CHECK(memcmp(a_1, a_ps + 3 * per, sizeof(float) * per) == 0);
    }
    CHECK(memcmp(i_ps, i_cp, sizeof(float) * img) == 0);
    t2i_free(a_ps);
    t2i_free(a_1);
    t2i_free(i_ps);
    t2i_free(i_cp);
    arena_free(&a);
    dmgan_fixture_close(&f);
    npy_free(&att);
}

// ---- DF-GAN intermediates ------------------------------------------------------------------

TEST(dfgan_block_intermediates) {
    const char *fx = "generator_dfgan";
    DfGanConfig cfg = dfgan_fixture_config();
    StateDict sd;
    DfGan g;
    CHECKF(load_weights_file(fx, "model.pth", &sd) == T2I_OK, "%s", t2i_errmsg());
    CHECKF(dfgan_load_sd(&g, &cfg, &sd, "fixture") == T2I_OK, "%s", t2i_errmsg());
    if (test_cur_failed) return;
    CHECK(g.n_blocks == 6);
    NpyArray nz, se;
    float *noise = fixture_f32(fx, "noise", &nz), *sent = fixture_f32(fx, "sent_emb", &se);
    CHECK(noise && sent);
    if (test_cur_failed) return;
    const int B = 3;
    DfGanOutputs out;
    memset(&out, 0, sizeof out);
    size_t nfc = (size_t)B * 512, nb[6];
    out.fc_out = t2i_malloc(sizeof(float) * nfc);
    for (int k = 0; k < 6; k++) {
        nb[k] = (size_t)B * g.blocks[k].out_c * (8 << k) * (8 << k);
        out.block_out[k] = t2i_malloc(sizeof(float) * nb[k]);
        test_poison(out.block_out[k], nb[k]);
    }
    Arena a;
    CHECK(arena_init(&a, dfgan_arena_bytes(&g, B)) == T2I_OK);
    CHECKF(dfgan_forward(&g, noise, sent, &out, B, &a) == T2I_OK, "%s", t2i_errmsg());
    NpyArray ref;
    float *r = fixture_f32(fx, "fc_out", &ref);
    if (r) check_tensor("fc_out", out.fc_out, r, nfc, fixture_atol(fx, "fc_out"), 0);
    npy_free(&ref);
    for (int k = 0; k < 6; k++) {
        char name[32];
        // blocks 3-5 are stored for sample 0 only
        snprintf(name, sizeof name, k < 3 ? "gblock%d_out" : "gblock%d_out_s0", k);
        r = fixture_f32(fx, name, &ref);
        CHECK(r && ref.numel == (k < 3 ? nb[k] : nb[k] / B));
        if (r) check_tensor(name, out.block_out[k], r, ref.numel, fixture_atol(fx, name), 0);
        npy_free(&ref);
    }
    // the four affines of block 0 (fuse1.affine0/1, fuse2.affine0/1): gamma, beta (4, B, 32)
    float cond[3 * 32], hidden[3 * 32], gamma[4 * 3 * 32], beta[4 * 3 * 32];
    for (int b = 0; b < B; b++) {
        memcpy(cond + b * 32, noise + b * 16, sizeof(float) * 16);
        memcpy(cond + b * 32 + 16, sent + b * 16, sizeof(float) * 16);
    }
    const DfGanAffine *aff[4] = {&g.blocks[0].fuse1.affine0, &g.blocks[0].fuse1.affine1,
                                 &g.blocks[0].fuse2.affine0, &g.blocks[0].fuse2.affine1};
    for (int i = 0; i < 4; i++)
        dfgan_affine_params(gamma + i * B * 32, beta + i * B * 32, aff[i], cond, B, hidden);
    r = fixture_f32(fx, "gblock0_affine_gamma", &ref);
    if (r)
        check_tensor("affine gamma", gamma, r, 4 * 3 * 32,
                     fixture_atol(fx, "gblock0_affine_gamma"), 0);
    npy_free(&ref);
    r = fixture_f32(fx, "gblock0_affine_beta", &ref);
    if (r)
        check_tensor("affine beta", beta, r, 4 * 3 * 32, fixture_atol(fx, "gblock0_affine_beta"),
                     0);
    npy_free(&ref);
    t2i_free(out.fc_out);
    for (int k = 0; k < 6; k++) t2i_free(out.block_out[k]);
    arena_free(&a);
    dfgan_free(&g);
    npy_free(&nz);
    npy_free(&se);
}

// The harness's truncating uint8 conversion of our float image against the manifest's record of
// the original statements: only values within float32 noise of a step may land one level off.
static void check_uint8(const char *fx, const char *img_name, const float *img, int B) {
    char rel[256], path[1024];
    snprintf(rel, sizeof rel, "%s/manifest.json", fx);
    char *text = read_all(test_fixture_path(path, sizeof path, rel));
    cJSON *j = text ? cJSON_Parse(text) : NULL;
    const cJSON *imgs = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(j, "uint8"), "images");
    CHECK(cJSON_GetArraySize(imgs) == B);
    size_t n = (size_t)256 * 256 * 3;
    uint8_t *u = t2i_malloc(n);
    for (int b = 0; b < B && b < cJSON_GetArraySize(imgs); b++) {
        const cJSON *e = cJSON_GetArrayItem(imgs, b);
        chw_pm1_to_hwc_u8(u, img + (size_t)b * n, 256, 256, QUANTIZE_TRUNCATE);
        char hex[65];
        sha256_hex(u, n, hex);
        double sum = 0;
        int mn = 255, mx = 0;
        for (size_t i = 0; i < n; i++) {
            sum += u[i];
            if (u[i] < mn) mn = u[i];
            if (u[i] > mx) mx = u[i];
        }
        double ref_sum = cJSON_GetObjectItemCaseSensitive(e, "sum")->valuedouble;
        double near = cJSON_GetObjectItemCaseSensitive(e, "n_values_near_a_step_suggested_atol")
                          ->valuedouble;
        const cJSON *sha = cJSON_GetObjectItemCaseSensitive(e, "sha256_hwc_bytes");
        int same = cJSON_IsString(sha) && strcmp(hex, sha->valuestring) == 0;
        CHECKF(same || fabs(sum - ref_sum) <= near, "%s[%d]: sum %.0f vs %.0f", img_name, b, sum,
               ref_sum);
        CHECK(mn == (int)cJSON_GetObjectItemCaseSensitive(e, "min")->valuedouble);
        CHECK(mx == (int)cJSON_GetObjectItemCaseSensitive(e, "max")->valuedouble);
    }
    t2i_free(u);
    cJSON_Delete(j);
    t2i_free(text);
}

TEST(uint8_conversion_matches_originals) {
    Generator g;
    GenConfig c = {.arch = GEN_DFGAN, .u.dfgan = dfgan_fixture_config()};
    char path[1024];
    CHECKF(generator_load(&g, &c, test_fixture_path(path, sizeof path,
                                                    "generator_dfgan/state_epoch_1220.pth")) == 0,
           "%s", t2i_errmsg());
    if (test_cur_failed) return;
    NpyArray nz, se, w, m, e, z;
    float *img = t2i_malloc(sizeof(float) * 4 * 3 * 256 * 256);
    Arena a;
    CHECK(arena_init(&a, generator_arena_bytes(&g, 3, 1)) == T2I_OK);
    GenInputs in = {.z = fixture_f32("generator_dfgan", "noise", &nz),
                    .sent_emb = fixture_f32("generator_dfgan", "sent_emb", &se)};
    GenOutputs out = {.img = img};
    CHECK(generator_forward(&g, &in, &out, 3, 1, &a) == T2I_OK);
    check_uint8("generator_dfgan", "fake_img", img, 3);
    generator_free(&g);
    npy_free(&nz);
    npy_free(&se);
    // DM-GAN, batch-coupled as the fixture
    c.arch = GEN_DMGAN;
    c.u.dmgan = dmgan_fixture_config();
    CHECK(generator_load(&g, &c, test_fixture_path(path, sizeof path,
                                                   "generator_dmgan/model.pth")) == 0);
    const char *fx = "generator_dmgan";
    float *mf = fixture_f32(fx, "mask", &m);
    uint8_t mask[36];
    for (int i = 0; mf && i < 36; i++) mask[i] = mf[i] != 0.0f;
    GenInputs in2 = {.z = fixture_f32(fx, "z", &z), .sent_emb = fixture_f32(fx, "sent_emb", &se),
                     .words_emb = fixture_f32(fx, "words_embs", &w), .mask = mask,
                     .eps = fixture_f32(fx, "eps", &e), .mask_mode = ATT_MASK_BATCH_COUPLED};
    arena_free(&a);
    CHECK(arena_init(&a, generator_arena_bytes(&g, 4, 9)) == T2I_OK);
    CHECK(generator_forward(&g, &in2, &out, 4, 9, &a) == T2I_OK);
    check_uint8(fx, "fake_img_256", img, 4);
    generator_free(&g);
    npy_free(&z);
    npy_free(&se);
    npy_free(&w);
    npy_free(&m);
    npy_free(&e);
    arena_free(&a);
    t2i_free(img);
}

// ---- batch independence (engine) -----------------------------------------------------------

// Random inputs for a generator of `c` at batch B with T words.
static void random_inputs(const GenIO *io, int B, int Tw, float **buf, uint8_t *mask,
                          GenInputs *in) {
    size_t n = (size_t)B * (io->z_dim + io->emb_dim + (size_t)io->emb_dim * Tw + io->eps_dim);
    *buf = rand_buf_from(&lcg, n, 0.8f);
    for (int b = 0; b < B; b++)
        for (int t = 0; t < Tw; t++) mask[b * Tw + t] = t >= Tw - b;   // sample b: b padded words
    float *p = *buf;
    in->z = p;
    p += (size_t)B * io->z_dim;
    in->sent_emb = p;
    p += (size_t)B * io->emb_dim;
    in->words_emb = p;
    for (int b = 0; b < B; b++)   // padded steps are zero, as the text encoder leaves them
        for (int e = 0; e < io->emb_dim; e++)
            for (int t = Tw - b; t < Tw; t++) p[((size_t)b * io->emb_dim + e) * Tw + t] = 0.0f;
    p += (size_t)B * io->emb_dim * Tw;
    in->eps = p;
    in->mask = mask;
    in->mask_mode = ATT_MASK_PER_SAMPLE;
}

// Per-sample mode: batch B gives each sample what batch 1 gives it.
static void batch_matches_single(const GenConfig *c) {
    Generator g;
    CHECKF(generator_load(&g, c, T2I_HASH_WEIGHTS) == T2I_OK, "%s", t2i_errmsg());
    if (test_cur_failed) return;
    GenIO io = gen_io(c);
    const int B = 3, Tw = 5;
    size_t S = (size_t)3 * io.img_size * io.img_size;
    float *buf, *all = t2i_malloc(sizeof(float) * B * S), *one = t2i_malloc(sizeof(float) * S);
    uint8_t mask[3 * 5];
    GenInputs in;
    random_inputs(&io, B, Tw, &buf, mask, &in);
    Arena a;
    CHECK(arena_init(&a, generator_arena_bytes(&g, B, Tw)) == T2I_OK);
    GenOutputs out = {.img = all};
    test_poison(all, B * S);
    CHECK(generator_forward(&g, &in, &out, B, Tw, &a) == T2I_OK);
    for (int b = 0; b < B; b++) {
        GenInputs i1 = in;
        i1.z = in.z + (size_t)b * io.z_dim;
        i1.sent_emb = in.sent_emb + (size_t)b * io.emb_dim;
        i1.words_emb = in.words_emb + (size_t)b * io.emb_dim * Tw;
        i1.eps = in.eps + (size_t)b * io.eps_dim;
        i1.mask = mask + b * Tw;
        GenOutputs o1 = {.img = one};
        test_poison(one, S);
        CHECK(generator_forward(&g, &i1, &o1, 1, Tw, &a) == T2I_OK);
        char what[64];
        snprintf(what, sizeof what, "%s sample %d, batch 1 vs %d", gen_arch_name(c->arch), b, B);
        check_tensor(what, one, all + b * S, S, 1e-6, 0);
    }
    arena_free(&a);
    t2i_free(buf);
    t2i_free(all);
    t2i_free(one);
    generator_free(&g);
}

TEST(per_sample_batch_independence) {
    GenConfig dm = {.arch = GEN_DMGAN,
                    .u.dmgan = {.gf_dim = 4, .z_dim = 10, .condition_dim = 6, .embedding_dim = 12,
                                .r_num = 1, .branch_num = 3}};
    GenConfig df = {.arch = GEN_DFGAN,
                    .u.dfgan = {.nf = 2, .z_dim = 10, .cond_dim = 12, .imsize = 128, .ch_size = 3}};
    batch_matches_single(&dm);
    batch_matches_single(&df);
}

// ---- full-size configurations --------------------------------------------------------------

// Declares the rows of a reference key listing "key (d0,d1,...) dtype" (as a network would),
// with an optional key prefix, and fills them with hash weights.
static int sd_from_reference(const char *file, const char *prefix, StateDict *sd) {
    char path[1024], line[512];
    snprintf(path, sizeof path, "%s/../reference/%s", test_fixtures_dir(), file);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    BindList bl;
    bindlist_init(&bl);
    float *sink = NULL;
    int rows = 0;
    while (fgets(line, sizeof line, f)) {
        char key[256], dims[128] = "", dt[32];
        int ok = sscanf(line, "%255s (%127[^)]) %31s", key, dims, dt) == 3 ||
                 sscanf(line, "%255s () %31s", key, dt) == 2;
        if (!ok) continue;
        int shape[8], nd = 0;
        for (char *p = dims; *p && nd < 8;) {
            shape[nd++] = (int)strtol(p, &p, 10);
            while (*p == ',' || *p == ' ') p++;
        }
        bind_param(&bl, &sink, nd, shape, "%s%s", prefix, key);
        if (strcmp(dt, "int64") == 0) {   // num_batches_tracked: int64 bookkeeping, no pointer
            bl.rows[bl.n - 1].dtype = DT_I64;
            bl.rows[bl.n - 1].dst = NULL;
        }
        rows++;
    }
    fclose(f);
    int rc = hash_weights_fill(&bl, sd);
    bindlist_free(&bl);
    return rc ? -1 : rows;
}

TEST(reference_listings_bind) {
    StateDict sd;
    DmGan dm;
    DfGan df;
    DmGanConfig bird = dmgan_config_bird(), coco = dmgan_config_coco();
    DfGanConfig dfc = dfgan_config_bird();
    CHECK(sd_from_reference("DMGAN_G_NET_bird.keys.txt", "", &sd) == 119);
    CHECKF(dmgan_load_sd(&dm, &bird, &sd, "DMGAN bird") == T2I_OK, "%s", t2i_errmsg());
    dmgan_free(&dm);
    CHECK(sd_from_reference("DMGAN_G_NET_coco.keys.txt", "", &sd) == 143);
    CHECKF(dmgan_load_sd(&dm, &coco, &sd, "DMGAN coco") == T2I_OK, "%s", t2i_errmsg());
    dmgan_free(&dm);
    CHECK(sd_from_reference("DMGAN_G_NET_coco.keys.txt", "", &sd) == 143);
    CHECK(dmgan_load_sd(&dm, &bird, &sd, "DMGAN coco as bird") == T2I_ESHAPE);
    CHECKF(strstr(t2i_errmsg(), "h_net2.residual.2.block.0.weight") != NULL, "%s", t2i_errmsg());
    CHECK(sd_from_reference("DFGAN_NetG_bird.keys.txt", "", &sd) == 226);
    CHECKF(dfgan_load_sd(&df, &dfc, &sd, "DFGAN bird") == T2I_OK, "%s", t2i_errmsg());
    dfgan_free(&df);
    CHECK(sd_from_reference("DFGAN_NetG_coco.keys.txt", "", &sd) == 226);
    CHECKF(dfgan_load_sd(&df, &dfc, &sd, "DFGAN coco") == T2I_OK, "%s", t2i_errmsg());
    dfgan_free(&df);
    // DataParallel keys: stripped, once, all or nothing
    CHECK(sd_from_reference("DFGAN_NetG_bird.keys.txt", "module.", &sd) == 226);
    CHECK(sd_strip_prefix(&sd, "module.") == 226);
    CHECK(sd_find(&sd, "GBlocks.5.c_sc.weight") != NULL);
    CHECK(sd_find(&sd, "module.fc.weight") == NULL);
    CHECK(sd_strip_prefix(&sd, "module.") == 0);
    CHECK(dfgan_load_sd(&df, &dfc, &sd, "DFGAN bird, stripped") == T2I_OK);
    dfgan_free(&df);
}

// DF-GAN's checkpoint layout in miniature (tools/make_dfgan_ckpt_fixture.py): the loader takes
// ['model']['netG'] (netD and netC are state_dicts too) and says where it found it.
TEST(dfgan_checkpoint_dict) {
    StateDict sd;
    CHECKF(weights_load_file("tests/fixtures/loaders/dfgan_ckpt.pth", &sd) == T2I_OK, "%s",
           t2i_errmsg());
    CHECK(strcmp(sd.container, "['model']['netG']") == 0);
    CHECK(sd.n == 2 && sd_find(&sd, "module.fc.weight") && sd_find(&sd, "module.fc.bias"));
    CHECK(sd_strip_prefix(&sd, "module.") == 2);
    const SDEntry *w = sd_find(&sd, "fc.weight");
    CHECK(w && w->ndim == 2 && w->shape[0] == 4 && w->shape[1] == 3);
    sd_free(&sd);
    // a plain state_dict has no container
    char path[1024];
    CHECK(weights_load_file(test_fixture_path(path, sizeof path, "generator_dfgan/model.pth"),
                            &sd) == T2I_OK);
    CHECK(sd.container[0] == '\0' && sd_strip_prefix(&sd, "module.") == 0);
    sd_free(&sd);
}

TEST(macs_match_reference_summary) {
    DmGanConfig bird = dmgan_config_bird(), coco = dmgan_config_coco();
    DfGanConfig df = dfgan_config_bird();
    CHECK_CLOSE(dmgan_macs_per_image(&bird, 18), 32822080640.0, 0, 1e-12);
    CHECK_CLOSE(dmgan_macs_per_image(&coco, 12), 41865357440.0, 0, 1e-12);
    CHECK_CLOSE(dmgan_macs_per_image(&bird, 25), 32841237120.0, 0, 1e-12);
    CHECK_CLOSE(dfgan_macs_per_image(&df), 7486097920.0, 0, 1e-12);
}

// The released sizes on hash weights run and give finite images in [-1, 1].
TEST(full_size_hash_forward) {
    for (int arch = GEN_DMGAN; arch <= GEN_DFGAN; arch++) {
        GenConfig c;
        CHECK(gen_config_released((GenArch)arch, "bird", &c) == T2I_OK);
        Generator g;
        CHECKF(generator_load(&g, &c, T2I_HASH_WEIGHTS) == T2I_OK, "%s", t2i_errmsg());
        if (test_cur_failed) return;
        GenIO io = gen_io(&c);
        const int Tw = 6;
        float *buf;
        uint8_t mask[6];
        GenInputs in;
        random_inputs(&io, 1, Tw, &buf, mask, &in);
        size_t S = (size_t)3 * 256 * 256;
        float *img = t2i_malloc(sizeof(float) * S);
        test_poison(img, S);
        Arena a;
        CHECK(arena_init(&a, generator_arena_bytes(&g, 1, Tw)) == T2I_OK);
        GenOutputs out = {.img = img};
        CHECK(generator_forward(&g, &in, &out, 1, Tw, &a) == T2I_OK);
        int bad = 0;
        for (size_t i = 0; i < S; i++) bad += !(img[i] >= -1.0f && img[i] <= 1.0f);
        CHECKF(bad == 0, "%s: %d values outside [-1, 1] or NaN", gen_arch_name(c.arch), bad);
        arena_free(&a);
        t2i_free(img);
        t2i_free(buf);
        generator_free(&g);
    }
}

// ---- bad input -----------------------------------------------------------------------------

// The inputs and sizes a card implies: stage count -> image size, attention stages, word
// features from two stages on; DM-GAN like AttnGAN; DF-GAN sentence + noise only.
// A file holding only a first stage (h_net1) may be a one-stage AttnGAN or DM-GAN, never a
// DF-GAN: a DF-GAN card names it as the wrong architecture.
TEST(one_stage_file_on_dfgan_card) {
    char dir[] = "/tmp/t2i_onestage_XXXXXX", path[128];
    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/g1.safetensors", dir);
    static const char hdr[] = "{\"h_net1.fc.0.weight\":{\"dtype\":\"F32\",\"shape\":[1],"
                              "\"data_offsets\":[0,4]}}";
    uint64_t hl = sizeof hdr - 1;
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (!f) return;
    uint8_t le[8], zero[4] = {0};
    for (int i = 0; i < 8; i++) le[i] = (uint8_t)(hl >> (8 * i));
    fwrite(le, 1, 8, f);
    fwrite(hdr, 1, hl, f);
    fwrite(zero, 1, 4, f);
    CHECK(fclose(f) == 0);
    Generator g;
    GenConfig df = {.arch = GEN_DFGAN, .u.dfgan = dfgan_fixture_config()};
    CHECK(generator_load(&g, &df, path) == T2I_ESHAPE);
    CHECKF(strstr(t2i_errmsg(), "one-stage AttnGAN/DM-GAN") && strstr(t2i_errmsg(), "DF-GAN NetG"),
           "%s", t2i_errmsg());
    unlink(path);
    rmdir(dir);
}

TEST(gen_io_follows_stage_count) {
    for (int a = 0; a < 2; a++)
        for (int br = 1; br <= 3; br++) {
            GenConfig c;
            CHECK(gen_config_released(a ? GEN_DMGAN : GEN_ATTNGAN, "bird", &c) == T2I_OK);
            if (a) c.u.dmgan.branch_num = br;
            else c.u.attngan.branch_num = br;
            GenIO io = gen_io(&c);
            CHECKF(io.img_size == (64 << (br - 1)) && io.n_stages == br && io.n_att == br - 1 &&
                       !!(io.needs & GEN_IN_WORDS) == (br > 1) && (io.needs & GEN_IN_EPS) &&
                       (io.needs & GEN_IN_Z) && (io.needs & GEN_IN_SENT),
                   "arch %d, %d stages: size %d, %d stages, %d attention, needs %#x", a, br,
                   io.img_size, io.n_stages, io.n_att, (unsigned)io.needs);
        }
    GenConfig d;
    CHECK(gen_config_released(GEN_DFGAN, "bird", &d) == T2I_OK);
    GenIO io = gen_io(&d);
    CHECK(io.n_stages == 1 && io.img_size == d.u.dfgan.imsize &&
          io.needs == (GEN_IN_SENT | GEN_IN_Z));
}

TEST(wrong_architecture_is_named) {
    char path[1024];
    Generator g;
    GenConfig att;
    CHECK(gen_config_released(GEN_ATTNGAN, "bird", &att) == T2I_OK);
    // a DF-GAN training checkpoint on an AttnGAN card
    test_fixture_path(path, sizeof path, "generator_dfgan/state_epoch_1220.pth");
    CHECK(generator_load(&g, &att, path) == T2I_ESHAPE);
    const char *m = t2i_errmsg();
    CHECKF(strstr(m, "found a DF-GAN NetG") && strstr(m, "arch \"attngan\"") &&
               strstr(m, "AttnGAN G_NET") && strstr(m, "\"arch\": \"dfgan\"") &&
               strstr(m, "state_epoch_1220.pth"),
           "%s", m);
    // a DM-GAN G_NET on a DF-GAN card, and on an AttnGAN card
    GenConfig df = {.arch = GEN_DFGAN, .u.dfgan = dfgan_fixture_config()};
    test_fixture_path(path, sizeof path, "generator_dmgan/model_legacy.pth");
    CHECK(generator_load(&g, &df, path) == T2I_ESHAPE);
    CHECKF(strstr(t2i_errmsg(), "found a DM-GAN G_NET") && strstr(t2i_errmsg(), "DF-GAN NetG"),
           "%s", t2i_errmsg());
    CHECK(generator_load(&g, &att, path) == T2I_ESHAPE);
    CHECKF(strstr(t2i_errmsg(), "found a DM-GAN G_NET"), "%s", t2i_errmsg());
    // an AttnGAN G_NET on a DM-GAN card
    GenConfig dm = {.arch = GEN_DMGAN, .u.dmgan = dmgan_fixture_config()};
    test_fixture_path(path, sizeof path, "generator_r2/model.pth");
    CHECK(generator_load(&g, &dm, path) == T2I_ESHAPE);
    CHECKF(strstr(t2i_errmsg(), "found an AttnGAN G_NET"), "%s", t2i_errmsg());
    // the text encoder given as a generator
    test_fixture_path(path, sizeof path, "generator_dfgan/text_encoder.pth");
    CHECK(generator_load(&g, &df, path) == T2I_ESHAPE);
    CHECKF(strstr(t2i_errmsg(), "RNN_ENCODER") && strstr(t2i_errmsg(), "not a generator"), "%s",
           t2i_errmsg());
    // right architecture, wrong dimensions: the strict binding lists the keys
    GenConfig df_big = {.arch = GEN_DFGAN, .u.dfgan = dfgan_config_bird()};
    test_fixture_path(path, sizeof path, "generator_dfgan/model.pth");
    CHECK(generator_load(&g, &df_big, path) == T2I_ESHAPE);
    CHECKF(strstr(t2i_errmsg(), "fc.weight"), "%s", t2i_errmsg());
    // accepted layouts say so
    test_fixture_path(path, sizeof path, "generator_dfgan/state_epoch_1220.pth");
    CHECK(generator_load(&g, &df, path) == T2I_OK);
    CHECKF(strstr(g.note, "['model']['netG']") && strstr(g.note, "'module.'") &&
               !strchr(g.note, '\n'),
           "note: %s", g.note);
    generator_free(&g);
    test_fixture_path(path, sizeof path, "generator_dfgan/model.pth");
    CHECK(generator_load(&g, &df, path) == T2I_OK);
    CHECK(g.note[0] == '\0');
    generator_free(&g);
}

TEST(model_card_arch) {
    // arch absent = attngan; dmgan/dfgan read their own config keys; errors name the path
    const char *base =
        "{\"name\": \"x\", \"dataset\": \"cub\", %s \"generator\": {\"weights\": "
        "\"hash:attngan-oracle-hash-v1\", \"config\": %s}, \"text_encoder\": {\"weights\": "
        "\"hash:attngan-oracle-hash-v1\", \"config\": {\"ntoken\": 50, \"ninput\": 8, "
        "\"nhidden\": %d}}, \"vocabulary\": \"v.txt\", \"WORDS_NUM\": 18}";
    const char *gcfg = "{\"GF_DIM\": 4, \"Z_DIM\": 10, \"CONDITION_DIM\": 6, \"EMBEDDING_DIM\": "
                       "12, \"R_NUM\": 1, \"BRANCH_NUM\": 3}";
    const char *dcfg = "{\"nf\": 2, \"z_dim\": 10, \"cond_dim\": 12, \"imsize\": 256, "
                       "\"ch_size\": 3}";
    struct {
        const char *arch, *cfg;
        int nhidden, ok;
        const char *err;
    } cases[] = {
        {"", gcfg, 12, 1, NULL},
        {"\"arch\": \"dmgan\",", gcfg, 12, 1, NULL},
        {"\"arch\": \"dfgan\",", dcfg, 12, 1, NULL},
        {"\"arch\": \"dfgan\",", gcfg, 12, 0, "$.generator.config"},
        {"\"arch\": \"dmgan\",", dcfg, 12, 0, "$.generator.config"},
        {"\"arch\": \"stylegan\",", gcfg, 12, 0, "$.arch"},
        {"\"arch\": \"dfgan\",", dcfg, 16, 0, "cond_dim"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[2048];
        snprintf(text, sizeof text, base, cases[i].arch, cases[i].cfg, cases[i].nhidden);
        char card_path[300];
        snprintf(card_path, sizeof card_path, "%s/card%zu.json", T, i);
        write_file(card_path, text);
        int rc = sh("%s generate --model %s --caption 'a bird' --out %s/gen%zu", BIN, card_path,
                    T, i);
        if (cases[i].ok) {
            // the card parses; generation then stops at the missing vocabulary file
            CHECKF(strstr(OUT, "v.txt") != NULL, "case %zu: %s", i, OUT);
        } else {
            CHECKF(rc != 0 && strstr(OUT, cases[i].err) != NULL, "case %zu: %s", i, OUT);
        }
    }
}

// The shipped cards and protocols of the new architectures load.
TEST(shipped_cards_and_protocols) {
    static const char *const cards[] = {"dmgan_bird",      "dmgan_coco",      "dfgan_bird",
                                        "dfgan_coco",      "demo_dmgan_bird", "demo_dfgan_bird",
                                        "demo_dmgan_coco", "demo_dfgan_coco", "attngan_bird",
                                        "demo_bird"};
    static const int archs[] = {GEN_DMGAN, GEN_DMGAN, GEN_DFGAN, GEN_DFGAN, GEN_DMGAN,
                                GEN_DFGAN, GEN_DMGAN, GEN_DFGAN, GEN_ATTNGAN, GEN_ATTNGAN};
    for (size_t i = 0; i < sizeof cards / sizeof cards[0]; i++) {
        char p[256];
        snprintf(p, sizeof p, "suites/models/%s.json", cards[i]);
        ModelCard mc;
        CHECKF(model_card_load(p, &mc) == T2I_OK, "%s: %s", p, t2i_errmsg());
        CHECK(mc.gen_cfg.arch == (GenArch)archs[i] && gen_io(&mc.gen_cfg).img_size == 256);
        model_card_free(&mc);
    }
    static const char *const protos[] = {"dmgan-2020", "dfgan-2022"};
    for (int i = 0; i < 2; i++) {
        char p[256];
        snprintf(p, sizeof p, "suites/protocols/%s.json", protos[i]);
        Protocol P;
        CHECKF(protocol_load(p, &P) == T2I_OK, "%s: %s", p, t2i_errmsg());
        CHECK(strcmp(P.name, protos[i]) == 0 && strcmp(P.differences_from, "attngan-2018") == 0);
        if (i == 1)
            CHECK(P.noise == NOISE_TRUNCATED && P.noise_bound == 2 && P.noise_scale == 0.88 &&
                  P.quantization == PQUANT_FLOAT && P.fid_enabled && !P.is_enabled);
        protocol_free(&P);
    }
    // a malformed differences block is refused with its path
    char *text = read_all("suites/protocols/dfgan-2022.json");
    Protocol P;
    if (text) {
        char *d = strstr(text, "\"differences\"");
        CHECK(d != NULL);
        if (d) {
            char buf[16384];
            snprintf(buf, sizeof buf, "%.*s\"differences\": {\"from\": \"x\", \"items\": []}\n}\n",
                     (int)(d - text), text);
            CHECK(protocol_parse("p.json", buf, strlen(buf), &P) == T2I_EARG);
            CHECKF(strstr(t2i_errmsg(), "$.differences.items"), "%s", t2i_errmsg());
            protocol_free(&P);
        }
    }
    t2i_free(text);
}

// ---- per-sample determinism through the runner ---------------------------------------------

static char SUITE[300], PROTO[300];

// Small DM-GAN and DF-GAN cards on hash weights, with the test vocabulary of suites/vocab.
static void write_cards(void) {
    static const char *const gen[2][2] = {
        {"dmgan", "{\"GF_DIM\": 4, \"Z_DIM\": 100, \"CONDITION_DIM\": 100, \"EMBEDDING_DIM\": "
                  "256, \"R_NUM\": 1, \"BRANCH_NUM\": 3}"},
        {"dfgan", "{\"nf\": 2, \"z_dim\": 100, \"cond_dim\": 256, \"imsize\": 256, "
                  "\"ch_size\": 3}"}};
    char cwd[1024], p[300], text[2048];
    if (!getcwd(cwd, sizeof cwd)) return;
    for (int k = 0; k < 2; k++) {
        snprintf(p, sizeof p, "%s/%s.json", T, gen[k][0]);
        snprintf(text, sizeof text,
                 "{\"name\": \"%s-small\", \"dataset\": \"cub\", \"arch\": \"%s\", "
                 "\"generator\": {\"weights\": \"hash:attngan-oracle-hash-v1\", \"config\": %s}, "
                 "\"text_encoder\": {\"weights\": \"hash:attngan-oracle-hash-v1\", \"config\": "
                 "{\"ntoken\": 5450, \"ninput\": 300, \"nhidden\": 256}}, \"vocabulary\": "
                 "\"%s/suites/vocab/cub_test.vocab.txt\", \"WORDS_NUM\": 18}",
                 gen[k][0], gen[k][0], gen[k][1], cwd);
        write_file(p, text);
    }
}

static int run_arch(const char *arch, const char *db, int batch, int threads) {
    return sh("%s run --suite %s --model %s/%s.json --protocol %s --evaluators "
              "suites/evaluators/demo_cub.json --db %s --batch %d --threads %d -q",
              BIN, SUITE, T, arch, PROTO, db, batch, threads);
}

// Samples of run `a` in db_a whose image digest equals the same sample's in run `b` of db_b.
static long long same_images(const char *db_a, long long a, const char *db_b, long long b) {
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM samples x JOIN a1.samples y ON x.sample = y.sample WHERE x.run = "
             "%lld AND y.run = %lld AND x.image_sha256 = y.image_sha256",
             a, b);
    return q_int2(db_a, db_b, sql);
}

TEST(runner_per_sample_determinism) {
    write_cards();
    const char *arch[2] = {"dmgan", "dfgan"};
    for (int k = 0; k < 2; k++) {
        char db1[300], db2[300];
        snprintf(db1, sizeof db1, "%s/%s_b1.db", T, arch[k]);
        snprintf(db2, sizeof db2, "%s/%s_b4.db", T, arch[k]);
        // batch 1 with one worker, then batch 4 with two workers
        CHECKF(run_arch(arch[k], db1, 1, 1) == 0, "%s", OUT);
        CHECKF(run_arch(arch[k], db2, 4, 2) == 0, "%s", OUT);
        long long n = q_int(db1, "SELECT count(*) FROM samples WHERE run = 1");
        CHECKF(n == 6, "%s: %lld samples", arch[k], n);
        long long same = same_images(db1, 1, db2, 1);
        CHECKF(same == 6, "%s: %lld of 6 samples identical at batch 1 and 4", arch[k], same);
        // distinct samples give distinct images (the digest is not a constant)
        CHECK(q_int(db1, "SELECT count(DISTINCT image_sha256) FROM samples") == 6);
        // resume: drop the last two blocks of the batch-4 run, rerun, compare again
        sqlite3 *d = NULL;
        CHECK(sqlite3_open(db2, &d) == SQLITE_OK);
        CHECK(sqlite3_exec(d, "DELETE FROM samples WHERE block >= 1; DELETE FROM blocks WHERE "
                              "block >= 1; UPDATE runs SET status = 'running'",
                           NULL, NULL, NULL) == SQLITE_OK);
        sqlite3_close(d);
        CHECKF(run_arch(arch[k], db2, 3, 1) == 0, "%s", OUT);
        CHECK(q_int(db2, "SELECT max(id) FROM runs") == 1);
        same = same_images(db1, 1, db2, 1);
        CHECKF(same == 6, "%s after resume: %lld of 6 samples identical", arch[k], same);
    }
}

int main(void) {
    BIN = getenv("T2I_BIN") ? getenv("T2I_BIN") : "build/t2ibench";
    snprintf(T, sizeof T, "/tmp/t2i_test_generators_XXXXXX");
    if (!mkdtemp(T)) return 1;
    // a 6-sample CUB suite in blocks of 2, and the smoke protocol with IS and R-precision off
    // (only the generator's bytes matter here)
    snprintf(PROTO, sizeof PROTO, "%s/proto.json", T);
    patch_file("suites/protocols/smoke.json", PROTO, "\"enabled\": true,\n    \"classifier\"",
               "\"enabled\": false,\n    \"classifier\"");
    char tmp[300];
    snprintf(tmp, sizeof tmp, "%s/proto0.json", T);
    rename(PROTO, tmp);
    patch_file(tmp, PROTO, "\"r_precision\": {\n    \"enabled\": true",
               "\"r_precision\": {\n    \"enabled\": false");
    snprintf(SUITE, sizeof SUITE, "%s/s.suite", T);
    int rc = sh("%s suite freeze --captions suites/data/cub/test_captions.tsv --protocol %s "
                "--vocab suites/vocab/cub_test.vocab.txt --dataset cub --seed 7 --images 6 "
                "--block-size 2 --out %s",
                BIN, PROTO, SUITE);
    if (rc) fprintf(stderr, "suite freeze failed: %s\n", OUT);
    RUN(verify_dmgan_every_weight_file);
    RUN(verify_dfgan_every_weight_file);
    RUN(verify_own_holdouts);
    RUN(dmgan_memory_intermediates);
    RUN(dmgan_mask_coupling);
    RUN(dfgan_block_intermediates);
    RUN(uint8_conversion_matches_originals);
    RUN(per_sample_batch_independence);
    RUN(reference_listings_bind);
    RUN(dfgan_checkpoint_dict);
    RUN(macs_match_reference_summary);
    RUN(full_size_hash_forward);
    RUN(gen_io_follows_stage_count);
    RUN(one_stage_file_on_dfgan_card);
    RUN(wrong_architecture_is_named);
    RUN(model_card_arch);
    RUN(shipped_cards_and_protocols);
    RUN(runner_per_sample_determinism);
    sh("rm -rf %s", T);
    return test_report("test_generators");
}
