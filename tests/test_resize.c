// test_resize.c -- resize kernels, quantization and uint8 mappings against the references in
// tests/fixtures/resize (made by tools/make_resize_fixtures.py with Debian's numpy and PIL):
// exact on uint8, within 1e-6 on float.
#include "npy.h"
#include "resize.h"
#include "t2i.h"
#include "test.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#define RDIR "tests/fixtures/resize/"

static int load(const char *name, NpyArray *a) {
    char path[256];
    snprintf(path, sizeof path, RDIR "%s.npy", name);
    int rc = npy_load(path, a);
    CHECKF(rc == T2I_OK, "%s", t2i_errmsg());
    return rc == T2I_OK;
}

static void pil_case(const char *name) {
    char n_in[64], n_out[64];
    snprintf(n_in, sizeof n_in, "%s_in", name);
    snprintf(n_out, sizeof n_out, "%s_out", name);
    NpyArray in, ref;
    if (!load(n_in, &in)) return;
    if (!load(n_out, &ref)) {
        npy_free(&in);
        return;
    }
    CHECK(in.dtype == DT_U8 && ref.dtype == DT_U8 && in.ndim == 3 && ref.ndim == 3);
    int H = (int)in.shape[0], W = (int)in.shape[1], OH = (int)ref.shape[0], OW = (int)ref.shape[1];
    size_t   nb = resize_pil_scratch_bytes(H, W, 3, OH, OW);
    void    *scratch = t2i_malloc_aligned(nb ? nb : 1);
    uint8_t *out = t2i_malloc_aligned(ref.numel);
    memset(out, 0xA5, ref.numel);
    resize_bilinear_pil_u8(out, in.data, H, W, 3, OH, OW, scratch);
    size_t bad = 0, first = 0;
    const uint8_t *r = ref.data;
    for (size_t i = 0; i < ref.numel; i++)
        if (out[i] != r[i] && bad++ == 0) first = i;
    CHECKF(bad == 0, "%s: %zu of %zu bytes differ (first at %zu: %d vs %d)", name, bad, ref.numel,
           first, out[first], r[first]);
    t2i_free(scratch), t2i_free(out);
    npy_free(&in), npy_free(&ref);
}

TEST(pil_bilinear_u8) {
    pil_case("pil_up");
    pil_case("pil_down");
    pil_case("pil_down2");
    pil_case("pil_mixed");
    pil_case("pil_xonly");
    pil_case("pil_yonly");
}

TEST(pil_identity) {
    uint8_t in[2 * 3 * 3], out[2 * 3 * 3];
    for (int i = 0; i < 18; i++) in[i] = (uint8_t)(i * 13);
    resize_bilinear_pil_u8(out, in, 2, 3, 3, 2, 3, NULL);
    CHECK(memcmp(in, out, sizeof in) == 0);
}

static void float_case(const char *name, int kind) {
    NpyArray in, ref;
    if (!load("float_in", &in)) return;
    if (!load(name, &ref)) {
        npy_free(&in);
        return;
    }
    int N = (int)in.shape[0], H = (int)in.shape[1], W = (int)in.shape[2];
    int OH = (int)ref.shape[1], OW = (int)ref.shape[2];
    float *out = t2i_malloc_aligned(ref.numel * sizeof(float));
    test_poison(out, ref.numel);
    if (kind == 0) resize_bilinear_tf1(out, in.data, N, H, W, OH, OW);
    else resize_bilinear_torch(out, in.data, N, H, W, OH, OW, 1);
    check_tensor(name, out, ref.data, ref.numel, 1e-6, 0);
    t2i_free(out);
    npy_free(&in), npy_free(&ref);
}

TEST(tf1_bilinear) {
    float_case("tf1_up", 0);
    float_case("tf1_down", 0);
}

TEST(torch_bilinear_align_corners) {
    float_case("torch_ac_up", 1);
    float_case("torch_ac_down", 1);
}

// align_corners=False is checked bit for bit against the DAMSM fixture's x299 (256 -> 299).
TEST(torch_bilinear_x299) {
    char p1[512], p2[512];
    NpyArray in, ref;
    int rc = npy_load(test_fixture_path(p1, sizeof p1, "damsm_image_encoder/input.npy"), &in);
    CHECKF(rc == T2I_OK, "%s", t2i_errmsg());
    if (rc) return;
    rc = npy_load(test_fixture_path(p2, sizeof p2, "damsm_image_encoder/x299.npy"), &ref);
    CHECKF(rc == T2I_OK, "%s", t2i_errmsg());
    if (!rc) {
        float *out = t2i_malloc_aligned(ref.numel * sizeof(float));
        test_poison(out, ref.numel);
        resize_bilinear_torch(out, in.data, (int)(in.shape[0] * in.shape[1]), (int)in.shape[2],
                              (int)in.shape[3], 299, 299, 0);
        check_tensor("x299", out, ref.data, ref.numel, 1e-6, 0);
        CHECK(memcmp(out, ref.data, ref.numel * sizeof(float)) == 0);   // in fact bit-exact
        t2i_free(out);
        npy_free(&ref);
    }
    npy_free(&in);
}

TEST(torch_bilinear_identity) {
    float in[12], out[12];
    for (int i = 0; i < 12; i++) in[i] = (float)i / 7.0f;
    resize_bilinear_torch(out, in, 1, 3, 4, 3, 4, 0);
    CHECK(memcmp(in, out, sizeof in) == 0);
}

TEST(quantization) {
    NpyArray in, tr, rd;
    if (!load("quant_in", &in)) return;
    if (load("quant_truncate", &tr) && load("quant_round", &rd)) {
        uint8_t *o = t2i_malloc_aligned(in.numel);
        quantize_u8(o, in.data, in.numel, QUANTIZE_TRUNCATE);
        CHECK(memcmp(o, tr.data, in.numel) == 0);
        quantize_u8(o, in.data, in.numel, QUANTIZE_ROUND);
        CHECK(memcmp(o, rd.data, in.numel) == 0);
        float *f = t2i_malloc_aligned(in.numel * sizeof(float));
        quantize_pm1(f, in.data, in.numel, QUANTIZE_TRUNCATE);
        for (size_t i = 0; i < in.numel; i++)
            CHECK(f[i] == (float)((const uint8_t *)tr.data)[i] / 127.5f - 1.0f);
        quantize_pm1(f, in.data, in.numel, QUANTIZE_NONE);
        CHECK(memcmp(f, in.data, in.numel * sizeof(float)) == 0);
        t2i_free(o), t2i_free(f);
        npy_free(&tr), npy_free(&rd);
    }
    npy_free(&in);
    // out of range and NaN clamp
    float odd[4] = {-1.5f, 1.5f, NAN, -1.0f};
    uint8_t q[4];
    quantize_u8(q, odd, 4, QUANTIZE_TRUNCATE);
    CHECK(q[0] == 0 && q[1] == 255 && q[2] == 0 && q[3] == 0);
}

TEST(u8_mappings) {
    const char *names[] = {"u8_pm1_127", "u8_unit", "u8_pm1_norm", "u8_tf_128"};
    const U8Map maps[] = {U8_PM1_127, U8_UNIT, U8_PM1_NORM, U8_TF_128};
    uint8_t u[256];
    for (int i = 0; i < 256; i++) u[i] = (uint8_t)i;
    for (int k = 0; k < 4; k++) {
        NpyArray ref;
        if (!load(names[k], &ref)) continue;
        float out[256];
        test_poison(out, 256);
        u8_to_float(out, u, 256, maps[k]);
        CHECKF(memcmp(out, ref.data, sizeof out) == 0, "%s", names[k]);
        npy_free(&ref);
    }
    // layout helpers round trip through truncation
    float chw[3 * 2 * 2];
    uint8_t hwc[12] = {0, 1, 2, 127, 128, 129, 200, 254, 255, 3, 4, 5}, back[12];
    hwc_u8_to_chw_float(chw, hwc, 2, 2, U8_PM1_127);
    CHECK(chw[0] == -1.0f && chw[4 + 1] == 128.0f / 127.5f - 1.0f);
    chw_pm1_to_hwc_u8(back, chw, 2, 2, QUANTIZE_ROUND);
    CHECK(memcmp(back, hwc, sizeof hwc) == 0);
}

int main(void) {
    RUN(pil_bilinear_u8);
    RUN(pil_identity);
    RUN(tf1_bilinear);
    RUN(torch_bilinear_align_corners);
    RUN(torch_bilinear_x299);
    RUN(torch_bilinear_identity);
    RUN(quantization);
    RUN(u8_mappings);
    return test_report("test_resize");
}
