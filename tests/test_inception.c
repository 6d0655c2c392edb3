// test_inception.c -- hash weights (README self-check values, every manifest checksum) and the
// three Inception-based fixtures (torchvision, FID, DAMSM CNN_ENCODER) through
// verify_inception_case, plus strict binding errors.
#include "damsm_image.h"
#include "inception.h"
#include "npy.h"
#include "state_dict.h"
#include "t2i.h"
#include "test.h"
#include "verify.h"
#include "weights.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static uint32_t f32_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

// The self-check values printed in ../shared/fixtures/README.md.
TEST(hash_readme_values) {
    BindList bl;
    bindlist_init(&bl);
    int s4[4] = {32, 3, 3, 3}, s1 = 32, sf[2] = {1000, 2048}, sb = 1000;
    bind_param(&bl, NULL, 4, s4, "Conv2d_1a_3x3.conv.weight");
    bind_param(&bl, NULL, 1, &s1, "Conv2d_1a_3x3.bn.weight");
    bind_param(&bl, NULL, 1, &s1, "Conv2d_1a_3x3.bn.bias");
    bind_param(&bl, NULL, 1, &s1, "Conv2d_1a_3x3.bn.running_mean");
    bind_param(&bl, NULL, 1, &s1, "Conv2d_1a_3x3.bn.running_var");
    bind_param(&bl, NULL, 2, sf, "fc.weight");
    bind_param(&bl, NULL, 1, &sb, "fc.bias");
    bind_param(&bl, NULL, 0, NULL, "Conv2d_1a_3x3.bn.num_batches_tracked");
    bl.rows[bl.n - 1].dtype = DT_I64;
    StateDict sd;
    int rc = hash_weights_fill(&bl, &sd);
    CHECKF(rc == T2I_OK, "%s", t2i_errmsg());
    if (rc) return;
    const struct { const char *key; int i; uint32_t bits; } v[] = {
        {"Conv2d_1a_3x3.conv.weight", 0, 0xbe1ba1d0}, {"Conv2d_1a_3x3.conv.weight", 1, 0x3df8ac5a},
        {"Conv2d_1a_3x3.conv.weight", 2, 0xbe9bf8f1}, {"Conv2d_1a_3x3.bn.weight", 0, 0x3f84a55f},
        {"Conv2d_1a_3x3.bn.weight", 1, 0x3f6fa85b},   {"Conv2d_1a_3x3.bn.bias", 0, 0x3d9c789e},
        {"Conv2d_1a_3x3.bn.running_mean", 0, 0x3ddb2e16},
        {"Conv2d_1a_3x3.bn.running_var", 0, 0x3f880d44},
        {"Conv2d_1a_3x3.bn.running_var", 1, 0x3f516669}, {"fc.weight", 0, 0xbad9dc40},
        {"fc.weight", 1, 0x3d2510f3},                 {"fc.bias", 0, 0xbbb714a0},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        const SDEntry *e = sd_find(&sd, v[i].key);
        CHECK(e != NULL);
        if (e) CHECKF(f32_bits(((float *)e->data)[v[i].i]) == v[i].bits, "%s[%d]", v[i].key, v[i].i);
    }
    const SDEntry *nb = sd_find(&sd, "Conv2d_1a_3x3.bn.num_batches_tracked");
    CHECK(nb && nb->dtype == DT_I64 && nb->numel == 1 && ((int64_t *)nb->data)[0] == 0);
    CHECK(nb && hash_weights_checksum(nb) == 0);
    // the manifests' checksum of Conv2d_1a_3x3.conv.weight
    CHECK(hash_weights_checksum(sd_find(&sd, "Conv2d_1a_3x3.conv.weight")) == 0x00058cb482f5d625ULL);
    sd_free(&sd);
    // a key no rule covers is an error naming it
    bind_param(&bl, NULL, 1, &s1, "x.scale");
    CHECK(hash_weights_fill(&bl, &sd) == T2I_EARG);
    CHECK(strstr(t2i_errmsg(), "x.scale") != NULL);
    bindlist_free(&bl);
}

static void run_case(const char *name) {
    char dir[512];
    test_fixture_path(dir, sizeof dir, name);
    int failures = 0;
    int rc = verify_inception_case(dir, NULL, &failures);
    CHECKF(rc == T2I_OK, "%s: %s", name, t2i_errmsg());
    CHECKF(failures == 0, "%s: %d failing tensors", name, failures);
}

TEST(fixture_inception_torchvision) { run_case("inception_torchvision"); }
TEST(fixture_inception_fid) { run_case("inception_fid"); }
TEST(fixture_damsm_image_encoder) { run_case("damsm_image_encoder"); }
TEST(fixture_inception_slim) { run_case("inception_slim"); }

// verify dispatches on what the manifest describes: the slim fixture copied under another
// folder name, with another case name, still verifies.
TEST(fixture_copied_under_another_name) {
    char src[512], dir[] = "/tmp/t2i_test_incep_XXXXXX", sub[600], cmd[2048];
    test_fixture_path(src, sizeof src, "inception_slim");
    if (access(src, R_OK) != 0 || !mkdtemp(dir)) {
        printf("  skip: %s not readable\n", src);
        return;
    }
    snprintf(sub, sizeof sub, "%s/holdout_copy", dir);
    snprintf(cmd, sizeof cmd,
             "mkdir '%s' && ln -s \"$(cd '%s' && pwd)\"/*.npy '%s'/ && sed 's/\"case\": "
             "\"inception_slim\"/\"case\": \"holdout_case\"/' '%s/manifest.json' > "
             "'%s/manifest.json'",
             sub, src, sub, src, sub);
    CHECK(system(cmd) == 0);
    int failures = 0;
    int rc = verify_inception_case(sub, NULL, &failures);
    CHECKF(rc == T2I_OK && failures == 0, "%s: rc %d, %d failures: %s", sub, rc, failures,
           t2i_errmsg());
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
}

// The declared keys equal the reference listings exactly (names and shapes).
static void keys_match(const BindList *bl, const char *listing) {
    char path[512];
    snprintf(path, sizeof path, "%s/../reference/%s", test_fixtures_dir(), listing);
    uint8_t *buf;
    size_t len;
    int rc = t2i_read_file(path, &buf, &len);
    CHECKF(rc == T2I_OK, "%s", t2i_errmsg());
    if (rc) return;
    int lines = 0, found = 0;
    for (char *line = strtok((char *)buf, "\n"); line; line = strtok(NULL, "\n")) {
        char name[256], shape[128];
        if (sscanf(line, "%255s %127s", name, shape) != 2) continue;
        lines++;
        for (int i = 0; i < bl->n; i++) {
            if (strcmp(bl->rows[i].name, name) != 0) continue;
            char mine[128] = "(";
            size_t o = 1;
            for (int d = 0; d < bl->rows[i].ndim; d++)
                o += (size_t)snprintf(mine + o, sizeof mine - o, "%s%lld", d ? "," : "",
                                      (long long)bl->rows[i].shape[d]);
            snprintf(mine + o, sizeof mine - o, ")");
            CHECKF(strcmp(mine, shape) == 0, "%s: %s vs %s", name, mine, shape);
            found++;
            break;
        }
    }
    CHECKF(lines == bl->n && found == lines, "%s: %d lines, %d declared, %d matched", listing,
           lines, bl->n, found);
    t2i_free(buf);
}

TEST(keys_match_reference) {
    InceptionConfig cfg;
    Inception *net;
    inception_config(&cfg, INCEPTION_TORCHVISION);
    CHECK(inception_create(&cfg, &net) == T2I_OK);
    keys_match(inception_keys(net), "inception_v3_torchvision.keys.txt");
    inception_free(net);
    inception_config(&cfg, INCEPTION_TF2015);
    CHECK(inception_create(&cfg, &net) == T2I_OK);
    keys_match(inception_keys(net), "inception_v3_fid.keys.txt");
    inception_free(net);
    DamsmImage d;
    CHECK(damsm_image_init(&d, 256) == T2I_OK);
    keys_match(damsm_image_keys(&d), "CNN_ENCODER.keys.txt");
    damsm_image_free(&d);
}

// Strict binding: a missing key and an unexpected key are both named; AuxLogits is ignored.
TEST(strict_binding) {
    InceptionConfig cfg;
    Inception *net;
    inception_config(&cfg, INCEPTION_TF2015);
    CHECK(inception_create(&cfg, &net) == T2I_OK);
    StateDict sd;
    CHECK(hash_weights_fill(inception_keys(net), &sd) == T2I_OK);
    // drop one key by renaming it
    for (int i = 0; i < sd.n; i++)
        if (strcmp(sd.e[i].name, "Mixed_7c.branch_pool.conv.weight") == 0) {
            t2i_free(sd.e[i].name);
            sd.e[i].name = t2i_strdup("Mixed_7c.branch_pool.conv.weight_renamed");
        }
    int rc = inception_bind(net, &sd, "test");
    CHECK(rc == T2I_ESHAPE);
    CHECK(strstr(t2i_errmsg(), "missing keys: Mixed_7c.branch_pool.conv.weight") != NULL);
    CHECK(strstr(t2i_errmsg(), "unexpected keys: Mixed_7c.branch_pool.conv.weight_renamed") != NULL);
    float x = 0;
    InceptionOut o = {.pool3 = &x};
    CHECK(inception_forward(net, &x, 1, &o) == T2I_EARG);   // unbound
    inception_free(net);
    // tf2015 layout + AuxLogits keys from a torchvision-style checkpoint: accepted and ignored
    inception_config(&cfg, INCEPTION_TF2015);
    CHECK(inception_create(&cfg, &net) == T2I_OK);
    InceptionConfig tv;
    inception_config(&tv, INCEPTION_TORCHVISION);
    tv.num_classes = 1008;
    Inception *tvnet;
    CHECK(inception_create(&tv, &tvnet) == T2I_OK);
    CHECK(hash_weights_fill(inception_keys(tvnet), &sd) == T2I_OK);
    rc = inception_bind(net, &sd, "test");
    CHECKF(rc == T2I_OK, "%s", t2i_errmsg());
    inception_free(tvnet);
    inception_free(net);
}

// Runs the FID fixture through the API directly: BatchNorm folded and unfolded both hold the
// tolerance, and a batch of 1 gives the same pool3 as the batch of 2 (batch independence).
static int load_f32(const char *rel, NpyArray *a) {
    char p[512];
    int rc = npy_load_f32(test_fixture_path(p, sizeof p, rel), a);
    CHECKF(rc == T2I_OK, "%s", t2i_errmsg());
    return rc == T2I_OK;
}

static void fid_pool3(int fold, int B, const float *x01, float *pool3, float *unbiased,
                      float *logits) {
    InceptionConfig cfg;
    inception_config(&cfg, INCEPTION_TF2015);
    cfg.fold_bn = fold;
    Inception *net;
    CHECK(inception_create(&cfg, &net) == T2I_OK);
    StateDict sd;
    CHECK(hash_weights_fill(inception_keys(net), &sd) == T2I_OK);
    CHECK(inception_bind(net, &sd, "test") == T2I_OK);
    size_t n = (size_t)B * 3 * 299 * 299;
    float *x = t2i_malloc_aligned(n * sizeof(float));
    for (size_t i = 0; i < n; i++) x[i] = 2.0f * x01[i] - 1.0f;
    InceptionOut o = {.pool3 = pool3, .logits_unbiased = unbiased, .logits = logits};
    CHECKF(inception_forward(net, x, B, &o) == T2I_OK, "%s", t2i_errmsg());
    t2i_free(x);
    inception_free(net);
}

TEST(fid_fold_unfold_batch1) {
    NpyArray in, ref, lref;
    if (!load_f32("inception_fid/input.npy", &in)) return;
    if (!load_f32("inception_fid/pool3.npy", &ref) || !load_f32("inception_fid/logits.npy", &lref)) {
        npy_free(&in);
        return;
    }
    float *p = t2i_malloc_aligned(2 * 2048 * sizeof(float)), *u = t2i_malloc_aligned(2 * 1008 * 4);
    float *l = t2i_malloc_aligned(2 * 1008 * sizeof(float));
    test_poison(p, 2 * 2048);
    fid_pool3(0, 2, in.data, p, NULL, NULL);   // unfolded BatchNorm
    check_tensor("pool3 (unfolded BN)", p, ref.data, 2 * 2048, 1e-5, 0);
    test_poison(p, 2048);
    test_poison(u, 1008);
    test_poison(l, 1008);
    fid_pool3(1, 1, in.data, p, u, l);   // image 0 alone
    check_tensor("pool3 (batch 1)", p, ref.data, 2048, 1e-5, 0);
    check_tensor("logits (batch 1)", l, lref.data, 1008, 1e-5, 0);
    // logits_unbiased = logits - fc.bias, so it differs from logits by exactly the bias rule
    double maxd = 0;
    for (int i = 0; i < 1008; i++) maxd = fmax(maxd, fabs((double)l[i] - u[i]));
    CHECK(maxd > 1e-3 && maxd <= 0.125 + 1e-6);   // |bias| = |u/8| < 1/8
    t2i_free(p), t2i_free(u), t2i_free(l);
    npy_free(&in), npy_free(&ref), npy_free(&lref);
}

// TF-slim flag set with torchvision-named weights: BatchNorm without gamma, a configurable class
// count, and a finite forward pass (the TF-named fixture runs in fixture_inception_slim).
TEST(slim_layout_smoke) {
    InceptionConfig cfg;
    inception_config(&cfg, INCEPTION_SLIM);
    cfg.num_classes = 51;
    Inception *net;
    CHECK(inception_create(&cfg, &net) == T2I_OK);
    BindList *bl = inception_keys(net);
    int gamma = 0, fc = 0;
    for (int i = 0; i < bl->n; i++) {
        size_t n = strlen(bl->rows[i].name);
        if (n > 10 && strcmp(bl->rows[i].name + n - 10, ".bn.weight") == 0) gamma++;
        if (strcmp(bl->rows[i].name, "fc.weight") == 0 && bl->rows[i].shape[0] == 51) fc++;
    }
    CHECK(gamma == 0 && fc == 1);
    StateDict sd;
    CHECK(hash_weights_fill(bl, &sd) == T2I_OK);
    CHECK(inception_bind(net, &sd, "slim") == T2I_OK);
    float *x = t2i_malloc_aligned(3 * 299 * 299 * sizeof(float)), logits[51], pool3[2048];
    for (int i = 0; i < 3 * 299 * 299; i++) x[i] = (float)((i * 7919) % 2001) / 1000.0f - 1.0f;
    test_poison(logits, 51);
    InceptionOut o = {.pool3 = pool3, .logits = logits};
    CHECK(inception_forward(net, x, 1, &o) == T2I_OK);
    int finite = 1;
    for (int i = 0; i < 51; i++) finite &= isfinite(logits[i]);
    CHECK(finite);
    t2i_free(x);
    inception_free(net);
}

int main(void) {
    RUN(hash_readme_values);
    RUN(keys_match_reference);
    RUN(strict_binding);
    RUN(fixture_inception_torchvision);
    RUN(fixture_inception_fid);
    RUN(fixture_damsm_image_encoder);
    RUN(fixture_inception_slim);
    RUN(fixture_copied_under_another_name);
    RUN(fid_fold_unfold_batch1);
    RUN(slim_layout_smoke);
    return test_report("test_inception");
}
