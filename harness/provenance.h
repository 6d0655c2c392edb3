// provenance.h -- the fingerprint of a run (DESIGN.md §6) and per-stage timers.
//
// A Provenance collects every file a run depends on (role, path, SHA-256), the build (git
// describe, compiler, CFLAGS), OpenBLAS configuration and thread count, the convolution kernel
// library with its ISA path (XNNPACK avx512f, ...), and the CPU model.
// Three digests come out of it:
//   inputs_fingerprint  roles not starting with "model." (suite, captions, protocol, evaluator
//                       card and its weights, vocabulary and statistics)
//   fingerprint         inputs + build + BLAS configuration + conv kernels and ISA path + CPU:
//                       runs are comparable only when equal. Not the thread count: outputs do
//                       not depend on it (it is stored in the JSON as blas_threads)
//   model_fingerprint   roles starting with "model." (model card, generator and text-encoder
//                       weights, model vocabulary)
// Hash weights ("hash:...") are recorded with the SHA-256 of the spec string itself.
#ifndef T2I_PROVENANCE_H
#define T2I_PROVENANCE_H

#define PROV_MAX_FILES 32

typedef struct {
    char role[48];
    char path[512];
    char sha256[65];
} ProvFile;

typedef struct {
    ProvFile files[PROV_MAX_FILES];
    int      n;
    char     git[128];
    char     compiler[128];
    char     cflags[256];
    char     blas[256];
    char     conv[192];   // convolution kernel library, its ISA path, our Winograd (xnn_kernel_desc)
    int      threads;
    char     cpu[160];
} Provenance;

// Fills the build/BLAS/CPU fields (call after setting the BLAS thread count).
void prov_init(Provenance *p /* OUT */);
// Hashes `path` (or the spec string of hash weights) under `role`; T2I_EIO names a missing file.
int  prov_add_file(Provenance *p, const char *role, const char *path);
// Records an already known digest.
int  prov_add_digest(Provenance *p, const char *role, const char *path, const char *sha256);
void prov_fingerprints(const Provenance *p, char fp[65], char inputs_fp[65], char model_fp[65]);
// JSON object text (t2i_malloc'd) with every field and the three fingerprints; `extra` (may be
// NULL) is a JSON object text merged in under "run".
char *prov_json(const Provenance *p, const char *extra);

// Monotonic seconds.
double prov_now(void);

#endif
