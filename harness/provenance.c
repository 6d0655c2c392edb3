// provenance.c -- run fingerprints (see provenance.h).
#include "provenance.h"

#include "blas.h"
#include "xconv.h"
#include "sha256.h"
#include "t2i.h"
#include "weights.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>
#include <time.h>


double prov_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void cpu_model(char *buf, size_t n) {
    snprintf(buf, n, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "model name", 10) == 0) {
            char *c = strchr(line, ':');
            if (c) {
                c++;
                while (*c == ' ') c++;
                c[strcspn(c, "\n")] = 0;
                snprintf(buf, n, "%s", c);
            }
            break;
        }
    }
    fclose(f);
}

void prov_init(Provenance *p) {
    memset(p, 0, sizeof *p);
    snprintf(p->git, sizeof p->git, "%s", t2i_build_git);
    snprintf(p->compiler, sizeof p->compiler, "%s", T2I_COMPILER);
    snprintf(p->cflags, sizeof p->cflags, "%s", t2i_build_cflags);
    snprintf(p->blas, sizeof p->blas, "%s", blas_config());
    snprintf(p->conv, sizeof p->conv, "%s", xnn_kernel_desc());
    p->threads = blas_get_threads();
    cpu_model(p->cpu, sizeof p->cpu);
}

int prov_add_digest(Provenance *p, const char *role, const char *path, const char *sha256) {
    if (p->n >= PROV_MAX_FILES) return t2i_error(T2I_EARG, "provenance: too many files");
    ProvFile *f = &p->files[p->n++];
    snprintf(f->role, sizeof f->role, "%s", role);
    snprintf(f->path, sizeof f->path, "%s", path);
    snprintf(f->sha256, sizeof f->sha256, "%s", sha256);
    return T2I_OK;
}

int prov_add_file(Provenance *p, const char *role, const char *path) {
    char hex[65];
    if (strncmp(path, "hash:", 5) == 0) {
        sha256_hex((const uint8_t *)path, strlen(path), hex);
    } else {
        int rc = weights_sha256(path, hex);   // a plain file's digest, or a TF V2 bundle's
        if (rc == T2I_EIO) {   // most often a released weight file not placed yet
            char why[512];
            snprintf(why, sizeof why, "%s", t2i_errmsg());
            return t2i_error(rc, "%s: %s (released weights are not shipped: README.md, \"Using "
                                 "the released AttnGAN, DM-GAN and DF-GAN checkpoints\", says "
                                 "where each file goes)",
                             role, why);
        }
        if (rc) return t2i_error_prefix(rc, "%s (%s)", role, path);
    }
    return prov_add_digest(p, role, path, hex);
}

static void digest(const Provenance *p, int which, char out[65]) {
    // which: 0 inputs, 1 inputs + build, 2 model. Paths are left out (moving a checkout keeps
    // the fingerprint); roles and digests are in.
    size_t cap = 4096 + (size_t)p->n * 128, o = 0;
    char *buf = t2i_malloc(cap);
    if (!buf) {
        memset(out, '0', 64);
        out[64] = 0;
        return;
    }
    for (int i = 0; i < p->n; i++) {
        int is_model = strncmp(p->files[i].role, "model.", 6) == 0;
        if ((which == 2) != is_model) continue;
        o += (size_t)snprintf(buf + o, cap - o, "%s=%s\n", p->files[i].role, p->files[i].sha256);
    }
    // The thread count stays out: every network's per-sample bytes are independent of it
    // (tests/test_invariants.c, tests/test_xconv.c); it is stored beside (prov_json).
    if (which == 1)
        o += (size_t)snprintf(buf + o, cap - o, "git=%s\ncompiler=%s\ncflags=%s\nblas=%s\n"
                                                "conv=%s\ncpu=%s\n",
                              p->git, p->compiler, p->cflags, p->blas, p->conv, p->cpu);
    sha256_hex((const uint8_t *)buf, o, out);
    t2i_free(buf);
}

void prov_fingerprints(const Provenance *p, char fp[65], char inputs_fp[65], char model_fp[65]) {
    digest(p, 1, fp);
    digest(p, 0, inputs_fp);
    digest(p, 2, model_fp);
}

char *prov_json(const Provenance *p, const char *extra) {
    cJSON *j = cJSON_CreateObject();
    char fp[65], ifp[65], mfp[65];
    prov_fingerprints(p, fp, ifp, mfp);
    cJSON_AddStringToObject(j, "fingerprint", fp);
    cJSON_AddStringToObject(j, "inputs_fingerprint", ifp);
    cJSON_AddStringToObject(j, "model_fingerprint", mfp);
    cJSON_AddStringToObject(j, "git_describe", p->git);
    cJSON_AddStringToObject(j, "compiler", p->compiler);
    cJSON_AddStringToObject(j, "cflags", p->cflags);
    cJSON_AddStringToObject(j, "blas", p->blas);
    cJSON_AddStringToObject(j, "conv_kernels", p->conv);
    cJSON_AddNumberToObject(j, "blas_threads", p->threads);
    cJSON_AddStringToObject(j, "cpu", p->cpu);
    cJSON *files = cJSON_AddArrayToObject(j, "files");
    for (int i = 0; i < p->n; i++) {
        cJSON *f = cJSON_CreateObject();
        cJSON_AddStringToObject(f, "role", p->files[i].role);
        cJSON_AddStringToObject(f, "path", p->files[i].path);
        cJSON_AddStringToObject(f, "sha256", p->files[i].sha256);
        cJSON_AddItemToArray(files, f);
    }
    if (extra) {
        cJSON *e = cJSON_Parse(extra);
        if (e) cJSON_AddItemToObject(j, "run", e);
    }
    char *s = cJSON_Print(j);
    cJSON_Delete(j);
    if (!s) return NULL;
    char *out = t2i_strdup(s);
    cJSON_free(s);
    return out;
}
