// scoring_kid.c -- KID of a run's stored FID features against reference features (see
// scoring.h). The reference file is checked against the SHA-256 recorded when the run started.
#include "kid.h"
#include "npy.h"
#include "rng.h"
#include "scoring.h"
#include "sha256.h"
#include "t2i.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define KID_SUBSETS 100
#define KID_SUBSET_MAX 1000

int scoring_kid(const ScoreSpec *sp, const float *feat, int64_t n, ScoreValue *out, int *have) {
    *have = 0;
    if (sp->kid_ref_sha256[0]) {
        char hex[65];
        int rc = sha256_file(sp->kid_ref, hex);
        if (rc) return t2i_error_prefix(rc, "KID reference %s", sp->kid_ref);
        if (strcmp(hex, sp->kid_ref_sha256) != 0)
            return t2i_error(T2I_EARG, "KID reference %s changed since the run was started "
                                       "(sha256 %.16s, recorded %.16s)",
                             sp->kid_ref, hex, sp->kid_ref_sha256);
    }
    NpyArray ref;
    memset(&ref, 0, sizeof ref);
    int rc = npy_load_f32(sp->kid_ref, &ref);
    if (rc) return t2i_error_prefix(rc, "KID reference %s", sp->kid_ref);
    if (ref.ndim != 2 || ref.shape[1] != 2048) {
        npy_free(&ref);
        return t2i_error(T2I_ESHAPE, "KID reference %s: features (N, 2048) expected (made by "
                                     "`t2ibench fid-stats DIR ... --features FILE.npy`)",
                         sp->kid_ref);
    }
    int64_t nr = ref.shape[0], m = KID_SUBSET_MAX;
    if (n < m) m = n;
    if (nr < m) m = nr;
    if (m < 2) {
        npy_free(&ref);
        fprintf(stderr, "t2ibench: KID not computed: subsets need 2 rows of each set\n");
        return T2I_OK;
    }
    double *A = t2i_malloc(sizeof(double) * (size_t)n * 2048);
    double *B = t2i_malloc(sizeof(double) * (size_t)nr * 2048);
    if (!A || !B) {
        rc = t2i_error(T2I_ENOMEM, "out of memory for KID");
    } else {
        for (size_t i = 0; i < (size_t)n * 2048; i++) A[i] = feat[i];
        const float *rf = ref.data;
        for (size_t i = 0; i < (size_t)nr * 2048; i++) B[i] = rf[i];
        KidOptions opt = kid_options_default();
        opt.subsets = KID_SUBSETS;
        opt.subset_size = (int)m;
        Rng g;
        rng_init(&g, 0, 0, RNG_STREAM_KID);
        KidResult kr;
        rc = kid_compute(A, n, B, nr, 2048, &opt, NULL, NULL, &g, NULL, &kr);
        if (!rc && !isfinite(kr.mean))
            rc = t2i_error(T2I_EFORMAT, "KID against %s is not finite", sp->kid_ref);
        if (!rc) {
            memset(out, 0, sizeof *out);
            snprintf(out->name, sizeof out->name, "kid");
            out->value = kr.mean;
            out->std = kr.std;
            out->n = kr.subsets;
            out->direction = -1;
            *have = 1;
        }
        if (!rc && m < KID_SUBSET_MAX)
            fprintf(stderr, "t2ibench: KID subsets of %lld rows (fewer than torch-fidelity's "
                            "1000: %lld samples, %lld reference rows)\n",
                    (long long)m, (long long)n, (long long)nr);
    }
    t2i_free(A);
    t2i_free(B);
    npy_free(&ref);
    return rc;
}
