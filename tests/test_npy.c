// test_npy.c -- .npy reader/writer and the state_dict binder.
#include "npy.h"
#include "state_dict.h"
#include "t2i.h"
#include "test.h"

#include <stdint.h>
#include <string.h>

TEST(npy_fixture_loads) {
    char p[512];
    NpyArray a;
    int rc = npy_load(test_fixture_path(p, sizeof p, "generator_r1/z.npy"), &a);
    CHECKF(rc == T2I_OK, "%s", t2i_errmsg());
    CHECK(a.dtype == DT_F32 && a.ndim == 2 && a.shape[0] == 4 && a.shape[1] == 16);
    npy_free(&a);
    rc = npy_load(test_fixture_path(p, sizeof p, "generator_r1/cap_lens.npy"), &a);
    CHECKF(rc == T2I_OK, "%s", t2i_errmsg());
    CHECK(a.dtype == DT_I64 && a.ndim == 1 && a.shape[0] == 4);
    npy_free(&a);
}

TEST(npy_roundtrip) {
    const DType types[] = {DT_F32, DT_F64, DT_I64, DT_I32, DT_U8, DT_BOOL};
    const int64_t shapes[][3] = {{3, 5, 7}, {1, 1, 1}, {4, 0, 2}};
    for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
        for (int s = 0; s < 3; s++) {
            for (int nd = 0; nd <= 3; nd++) {
                size_t numel = 1;
                for (int d = 0; d < nd; d++) numel *= (size_t)shapes[s][d];
                size_t bytes = numel * dtype_size(types[t]);
                uint8_t *data = malloc(bytes + 1);
                for (size_t i = 0; i < bytes; i++) data[i] = (uint8_t)(i * 37 + 11);
                if (types[t] == DT_BOOL)
                    for (size_t i = 0; i < bytes; i++) data[i] &= 1;
                uint8_t *buf;
                size_t len;
                CHECK(npy_serialize(types[t], nd, shapes[s], data, &buf, &len) == T2I_OK);
                CHECK((len - bytes) % 64 == 0);
                NpyArray a;
                int rc = npy_parse(buf, len, "mem", &a);
                CHECKF(rc == T2I_OK, "%s", t2i_errmsg());
                if (rc == T2I_OK) {
                    CHECK(a.dtype == types[t] && a.ndim == nd && a.numel == numel);
                    for (int d = 0; d < nd; d++) CHECK(a.shape[d] == shapes[s][d]);
                    CHECK(bytes == 0 || memcmp(a.data, data, bytes) == 0);
                }
                npy_free(&a);
                free(buf);
                free(data);
            }
        }
    }
}

TEST(npy_rejects_bad_input) {
    const float v[4] = {1, 2, 3, 4};
    const int64_t shape[1] = {4};
    uint8_t *buf;
    size_t len;
    CHECK(npy_serialize(DT_F32, 1, shape, v, &buf, &len) == T2I_OK);
    NpyArray a;
    // Every prefix in its own exactly-sized allocation (ASan sees a read past it), refused with
    // a message naming the input and the place (test_bounds covers each check at its boundary).
    for (size_t cut = 0; cut < len; cut++) {
        uint8_t *c = malloc(cut ? cut : 1);
        if (cut) memcpy(c, buf, cut);
        int rc = npy_parse(c, cut, "cut", &a);
        CHECKF(rc == T2I_EFORMAT && strstr(t2i_errmsg(), "cut") &&
                   (strstr(t2i_errmsg(), "byte") || strstr(t2i_errmsg(), "bytes")),
               "cut %zu: rc %d %s", cut, rc, t2i_errmsg());
        free(c);
    }
    // Fortran order, big-endian and object dtypes.
    const char *bad[] = {"{'descr': '<f4', 'fortran_order': True, 'shape': (4,), }",
                         "{'descr': '>f4', 'fortran_order': False, 'shape': (4,), }",
                         "{'descr': '|O', 'fortran_order': False, 'shape': (4,), }",
                         "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999,), }",
                         "{'descr': '<f4', 'fortran_order': False, 'shape': (4,), 'x': 1}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint8_t img[256];
        size_t hl = strlen(bad[i]);
        memcpy(img, "\x93NUMPY\x01\x00", 8);
        img[8] = (uint8_t)hl;
        img[9] = 0;
        memcpy(img + 10, bad[i], hl);
        memcpy(img + 10 + hl, v, 16);
        int rc = npy_parse(img, 10 + hl + 16, "bad", &a);
        CHECKF(rc == T2I_EFORMAT, "case %zu rc %d", i, rc);
        CHECK(strstr(t2i_errmsg(), "bad") != NULL);
    }
    free(buf);
}

TEST(bind_strict) {
    StateDict sd;
    sd_init(&sd);
    int64_t s2[2] = {2, 3}, s1[1] = {3};
    float *w = t2i_malloc_aligned(6 * 4), *b = t2i_malloc_aligned(3 * 8);
    for (int i = 0; i < 6; i++) w[i] = (float)i;
    double *bd = (double *)b;
    for (int i = 0; i < 3; i++) bd[i] = 0.5 * i;
    CHECK(sd_add(&sd, "fc.weight", DT_F32, 2, s2, w) == T2I_OK);
    CHECK(sd_add(&sd, "fc.bias", DT_F64, 1, s1, b) == T2I_OK);
    CHECK(sd_add(&sd, "fc.bias", DT_F32, 1, s1, t2i_malloc_aligned(12)) == T2I_EFORMAT);

    float *pw = NULL, *pb = NULL;
    BindList bl;
    bindlist_init(&bl);
    bind_param(&bl, &pw, 2, (int[]){2, 3}, "fc.weight");
    bind_param(&bl, &pb, 1, (int[]){3}, "fc.bias");
    CHECKF(sd_bind(&sd, &bl, NULL, "test") == T2I_OK, "%s", t2i_errmsg());
    CHECK(pw && pw[5] == 5.0f && pb && pb[2] == 1.0f);
    bindlist_free(&bl);

    bindlist_init(&bl);
    bind_param(&bl, &pw, 2, (int[]){3, 2}, "fc.weight");
    bind_param(&bl, &pb, 1, (int[]){3}, "fc.missing");
    CHECK(sd_bind(&sd, &bl, NULL, "net") == T2I_ESHAPE);
    CHECK(strstr(t2i_errmsg(), "fc.missing") && strstr(t2i_errmsg(), "fc.bias") &&
          strstr(t2i_errmsg(), "fc.weight is (2, 3), expected (3, 2)"));
    bindlist_free(&bl);
    sd_free(&sd);
}

TEST(alloc_fail_hook) {
    t2i_alloc_fail_after(0);
    void *p = t2i_malloc(16);
    CHECK(p == NULL);
    t2i_alloc_fail_after(-1);
    p = t2i_malloc(16);
    CHECK(p != NULL);
    t2i_free(p);
    size_t out;
    CHECK(!t2i_mul_size(SIZE_MAX / 2, 3, &out));
    CHECK(t2i_mul_size(1000, 1000, &out) && out == 1000000);
}

int main(void) {
    RUN(npy_fixture_loads);
    RUN(npy_roundtrip);
    RUN(npy_rejects_bad_input);
    RUN(bind_strict);
    RUN(alloc_fail_hook);
    return test_report("test_npy");
}
