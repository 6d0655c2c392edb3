// test_provenance.c -- what enters a run's fingerprints (harness/provenance.c): every file
// digest, the build, the BLAS configuration, the convolution kernels with their ISA path and the
// CPU; not the thread count (outputs do not depend on it), which is stored beside.
#include "test.h"

#include "blas.h"
#include "provenance.h"
#include "t2i.h"
#include "xconv.h"

typedef struct {
    char fp[65], ifp[65], mfp[65];
} Fps;

static Fps fps(const Provenance *p) {
    Fps f;
    prov_fingerprints(p, f.fp, f.ifp, f.mfp);
    return f;
}

static void add_files(Provenance *p) {
    CHECK(prov_add_digest(p, "suite", "a/suite.json", "11") == T2I_OK);
    CHECK(prov_add_digest(p, "evaluators", "a/eval.json", "22") == T2I_OK);
    CHECK(prov_add_digest(p, "model.card", "a/model.json", "33") == T2I_OK);
}

TEST(test_threads_not_fingerprinted) {
    int        saved = blas_get_threads();
    Provenance a, b;
    blas_set_threads(1);
    prov_init(&a);
    blas_set_threads(2);
    prov_init(&b);
    blas_set_threads(saved);
    add_files(&a);
    add_files(&b);
    CHECK(a.threads == 1);
    Fps fa = fps(&a), fb = fps(&b);
    CHECK(strcmp(fa.fp, fb.fp) == 0);
    CHECK(strcmp(fa.ifp, fb.ifp) == 0 && strcmp(fa.mfp, fb.mfp) == 0);
    b.threads = 64;   // any count
    CHECK(strcmp(fps(&b).fp, fa.fp) == 0);
    // ... but it is stored
    char *ja = prov_json(&a, NULL);
    CHECK(ja && strstr(ja, "\"blas_threads\":\t1"));
    t2i_free(ja);
}

TEST(test_build_and_kernels_fingerprinted) {
    Provenance base;
    prov_init(&base);
    add_files(&base);
    // the kernel library and ISA path are recorded as XNNPACK reports them
    CHECK(strcmp(base.conv, xnn_kernel_desc()) == 0);
    CHECK(strstr(base.conv, "XNNPACK") != NULL);
    Fps f0 = fps(&base);
    char *j = prov_json(&base, NULL);
    CHECK(j && strstr(j, "\"conv_kernels\"") && strstr(j, base.conv));
    t2i_free(j);
    // each build component moves the fingerprint, and only it (inputs and model stay)
    for (int k = 0; k < 6; k++) {
        Provenance p = base;
        char      *field[6] = {p.git, p.compiler, p.cflags, p.blas, p.conv, p.cpu};
        field[k][0] ^= 1;
        Fps f = fps(&p);
        CHECKF(strcmp(f.fp, f0.fp) != 0, "build component %d left the fingerprint unchanged", k);
        CHECK(strcmp(f.ifp, f0.ifp) == 0 && strcmp(f.mfp, f0.mfp) == 0);
    }
    // an input digest moves the fingerprint and the inputs fingerprint; a model file only the
    // model fingerprint; a path (moving a checkout) nothing
    Provenance p = base;
    p.files[1].sha256[0] = '9';
    Fps f = fps(&p);
    CHECK(strcmp(f.fp, f0.fp) != 0 && strcmp(f.ifp, f0.ifp) != 0 && strcmp(f.mfp, f0.mfp) == 0);
    p = base;
    p.files[2].sha256[0] = '9';
    f = fps(&p);
    CHECK(strcmp(f.fp, f0.fp) == 0 && strcmp(f.ifp, f0.ifp) == 0 && strcmp(f.mfp, f0.mfp) != 0);
    p = base;
    snprintf(p.files[0].path, sizeof p.files[0].path, "elsewhere/suite.json");
    f = fps(&p);
    CHECK(strcmp(f.fp, f0.fp) == 0 && strcmp(f.ifp, f0.ifp) == 0 && strcmp(f.mfp, f0.mfp) == 0);
}

int main(void) {
    RUN(test_threads_not_fingerprinted);
    RUN(test_build_and_kernels_fingerprinted);
    return test_report("test_provenance");
}
