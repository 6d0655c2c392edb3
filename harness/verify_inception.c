// verify_inception.c -- `t2ibench verify` for the Inception-based fixtures (see verify.h):
// inception_torchvision, inception_fid and damsm_image_encoder, all with hash weights.
#include "verify.h"

#include "blas.h"
#include "damsm_image.h"
#include "inception.h"
#include "inception_tf.h"
#include "npy.h"
#include "ops.h"
#include "t2i.h"
#include "weights.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int load_manifest(const char *dir, cJSON **out) {
    char path[1024];
    snprintf(path, sizeof path, "%s/manifest.json", dir);
    uint8_t *buf;
    size_t   len;
    int      rc = t2i_read_file(path, &buf, &len);
    if (rc) return rc;
    const char *end = NULL;
    *out = cJSON_ParseWithOpts((const char *)buf, &end, 0);
    if (!*out) {
        size_t off = end ? (size_t)(end - (const char *)buf) : 0;
        t2i_free(buf);
        return t2i_error(T2I_EFORMAT, "%s: JSON syntax error at byte %zu", path, off);
    }
    t2i_free(buf);
    return T2I_OK;
}

static const char *manifest_case(const cJSON *m) {
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(m, "case");
    return cJSON_IsString(c) ? c->valuestring : NULL;
}

static const char *config_str(const cJSON *m, const char *key) {
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(m, "config");
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(c, key);
    return cJSON_IsString(v) ? v->valuestring : "";
}

static const cJSON *hash_entry(const cJSON *m, const char *key) {
    return cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(m, "hash_weight_checksums"), key);
}

// What network the manifest describes, from its content (never from the folder or case name):
// the model class / constructor it records, else the weight names it lists.
static InceptionKind manifest_kind(const cJSON *m) {
    const char *cls = config_str(m, "class_"), *ctor = config_str(m, "ctor");
    if (strcmp(cls, "model.CNN_ENCODER") == 0) return IK_DAMSM;
    if (strstr(ctor, "torchvision.models.inception_v3")) return IK_TORCHVISION;
    if (strstr(ctor, "InceptionV3") && strstr(ctor, "fid")) return IK_FID;
    // TF-slim: variables under the EMA restore names (conv0/weights/ExponentialMovingAverage)
    if (hash_entry(m, "conv0/weights/ExponentialMovingAverage")) return IK_SLIM;
    if (!*cls && hash_entry(m, "Conv2d_1a_3x3.conv.weight") && hash_entry(m, "fc.weight"))
        return hash_entry(m, "AuxLogits.fc.weight") ? IK_TORCHVISION : IK_FID;
    return IK_NONE;
}

InceptionKind verify_inception_kind(const cJSON *manifest) { return manifest_kind(manifest); }

// Hash weights for every key of hash_weight_checksums (state_dict order), each checksum checked.
static int hash_weights_from_manifest(const cJSON *m, const char *dir, int tf_names,
                                      StateDict *sd, int *failures) {
    const cJSON *h = cJSON_GetObjectItemCaseSensitive(m, "hash_weight_checksums");
    if (!cJSON_IsObject(h))
        return t2i_error(T2I_EFORMAT, "%s/manifest.json: $.hash_weight_checksums missing", dir);
    BindList bl;
    bindlist_init(&bl);
    int rc = T2I_OK;
    for (const cJSON *e = h->child; e; e = e->next) {
        const cJSON *shape = cJSON_GetObjectItemCaseSensitive(e, "shape");
        const cJSON *dtype = cJSON_GetObjectItemCaseSensitive(e, "dtype");
        if (!cJSON_IsArray(shape) || !cJSON_IsString(dtype) ||
            cJSON_GetArraySize(shape) > T2I_MAX_DIMS) {
            rc = t2i_error(T2I_EFORMAT, "%s/manifest.json: $.hash_weight_checksums.%s: bad entry",
                           dir, e->string);
            goto done;
        }
        int dims[T2I_MAX_DIMS], nd = 0;
        for (const cJSON *d = shape->child; d; d = d->next) dims[nd++] = d->valueint;
        if (strcmp(dtype->valuestring, "int64") == 0) {
            // bookkeeping row (num_batches_tracked): declared through a float row, then retyped
            bind_param(&bl, NULL, nd, dims, "%s", e->string);
            if (bl.n) bl.rows[bl.n - 1].dtype = DT_I64;
        } else {
            bind_param(&bl, NULL, nd, dims, "%s", e->string);
        }
    }
    if ((rc = tf_names ? hash_weights_fill_tf(&bl, sd) : hash_weights_fill(&bl, sd))) goto done;
    int bad = 0;
    for (const cJSON *e = h->child; e; e = e->next) {
        const cJSON *ck = cJSON_GetObjectItemCaseSensitive(e, "checksum");
        const SDEntry *se = sd_find(sd, e->string);
        if (!cJSON_IsString(ck) || !se) {
            rc = t2i_error(T2I_EFORMAT, "%s/manifest.json: $.hash_weight_checksums.%s.checksum",
                           dir, e->string);
            goto done;
        }
        uint64_t want = strtoull(ck->valuestring, NULL, 16), got = hash_weights_checksum(se);
        if (want != got) {
            if (bad < 5)
                printf("  hash checksum %s: %016" PRIx64 " expected %s FAIL\n", e->string, got,
                       ck->valuestring);
            bad++;
        }
    }
    printf("  hash_weight_checksums %d keys, %d mismatches %s\n", cJSON_GetArraySize(h), bad,
           bad ? "FAIL" : "PASS");
    if (bad) {
        (*failures)++;
        rc = t2i_error(T2I_EFORMAT, "%s: %d hash weight checksums differ", dir, bad);
    }
done:
    bindlist_free(&bl);
    if (rc) sd_free(sd);
    return rc;
}

static double manifest_atol(const cJSON *m, const char *name) {
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(m, "f32_vs_f64");
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(f, name);
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(e, "suggested_atol");
    return cJSON_IsNumber(a) ? a->valuedouble : -1.0;
}

// Tolerance of a tensor: its own suggested_atol, else that of the output it stands for.
static double tensor_atol(const cJSON *m, const char *name) {
    double a = manifest_atol(m, name);
    if (a > 0) return a;
    char base[128];
    snprintf(base, sizeof base, "%s", name);
    char *suf = strstr(base, "_transform_input");
    if (suf) {
        *suf = 0;
        if ((a = manifest_atol(m, base)) > 0) return a;
    }
    if (strcmp(name, "mixed_6e") == 0) return manifest_atol(m, "features");
    if (strcmp(name, "pool") == 0) return manifest_atol(m, "cnn_code");
    return 1e-6;   // x299 and anything else: the manifests' floor
}

// Compares one computed tensor with NAME.npy; prints the line; saves it to out_dir.
static int check_output(const char *dir, const cJSON *m, const char *name, const float *got,
                        int ndim, const int64_t *shape, const char *out_dir, int *failures) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s.npy", dir, name);
    NpyArray ref;
    int      rc = npy_load_f32(path, &ref);
    if (rc) return rc;
    size_t n = 1;
    int    same = ref.ndim == ndim;
    for (int i = 0; i < ndim; i++) {
        n *= (size_t)shape[i];
        if (same) same = ref.shape[i] == shape[i];
    }
    if (!same) {
        npy_free(&ref);
        (*failures)++;
        printf("  %-24s shape mismatch FAIL\n", name);
        return T2I_OK;
    }
    const float *r = ref.data;
    double       max_err = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - (double)r[i]);
        if (!(d <= max_err)) max_err = isnan(d) ? INFINITY : d;
    }
    double tol = tensor_atol(m, name);
    int    ok = max_err <= tol;
    printf("  %-22s %-28s max_abs_err %.3e  tol %.0e  %s\n", "hash weights", name, max_err, tol,
           ok ? "PASS" : "FAIL");
    if (!ok) (*failures)++;
    npy_free(&ref);
    if (out_dir) {
        snprintf(path, sizeof path, "%s/%s.npy", out_dir, name);
        if ((rc = npy_save(path, DT_F32, ndim, shape, got))) return rc;
    }
    return T2I_OK;
}

// 1 when the manifest's tensors list has `name`.
static int manifest_lists(const cJSON *m, const char *name) {
    const cJSON *t;
    cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(m, "tensors")) {
        const cJSON *n = cJSON_GetObjectItemCaseSensitive(t, "name");
        if (cJSON_IsString(n) && strcmp(n->valuestring, name) == 0) return 1;
    }
    return 0;
}

// One computed output of a case: compared with DIR/NAME.npy by check_outputs.
typedef struct {
    const char    *name;
    const float   *x;
    int            ndim;
    const int64_t *shape;
    int            if_listed;   // 1: skipped when the manifest's tensors do not list it
} CaseOutput;

// check_output for each of the n outputs in order; stops at the first error.
static int check_outputs(const char *dir, const cJSON *m, const CaseOutput *outs, size_t n,
                         const char *out_dir, int *failures) {
    int rc = T2I_OK;
    for (size_t i = 0; i < n && !rc; i++)
        if (!outs[i].if_listed || manifest_lists(m, outs[i].name))
            rc = check_output(dir, m, outs[i].name, outs[i].x, outs[i].ndim, outs[i].shape,
                              out_dir, failures);
    return rc;
}

// DIR/input.npy as float32, which must be (B,3,299,299).
static int load_input_299(const char *dir, NpyArray *in) {
    char path[1024];
    snprintf(path, sizeof path, "%s/input.npy", dir);
    int rc = npy_load_f32(path, in);
    if (rc) return rc;
    if (in->ndim != 4 || in->shape[1] != 3 || in->shape[2] != 299 || in->shape[3] != 299)
        return t2i_error(T2I_ESHAPE, "%s: expected (B,3,299,299)", path);
    return T2I_OK;
}

static int run_inception(const char *dir, const cJSON *m, int fid, const char *out_dir,
                         int *failures) {
    InceptionConfig cfg;
    inception_config(&cfg, fid ? INCEPTION_TF2015 : INCEPTION_TORCHVISION);
    Inception *net = NULL;
    StateDict  sd;
    NpyArray   in = {0};
    float     *buf = NULL;
    char       path[1024];
    int        rc = inception_create(&cfg, &net);
    if (rc) return rc;
    sd_init(&sd);
    if ((rc = hash_weights_from_manifest(m, dir, 0, &sd, failures))) goto done;
    if ((rc = inception_bind(net, &sd, fid ? "inception_fid" : "inception_torchvision")))
        goto done;
    if ((rc = load_input_299(dir, &in))) goto done;
    int B = (int)in.shape[0], K = cfg.num_classes;
    buf = t2i_malloc_aligned((size_t)B * (2048 + 3 * (size_t)K) * sizeof(float) +
                             in.numel * sizeof(float));
    if (!buf) {
        rc = T2I_ENOMEM;
        goto done;
    }
    float *pool3 = buf, *logits = pool3 + (size_t)B * 2048, *probs = logits + (size_t)B * K;
    float *unb = probs + (size_t)B * K, *x = unb + (size_t)B * K;
    const float *src = in.data;
    if (fid) {
        // pytorch-fid wrapper: resize to 299 (identity here), then 2x - 1
        for (size_t i = 0; i < in.numel; i++) x[i] = 2.0f * src[i] - 1.0f;
    } else {
        memcpy(x, src, in.numel * sizeof(float));
    }
    int64_t sp[2] = {B, 2048}, sl[2] = {B, K};
    for (int ti = 0; ti < (fid ? 1 : 2); ti++) {
        inception_set_transform_input(net, ti);
        InceptionOut o = {.pool3 = pool3, .logits = logits, .logits_unbiased = unb};
        if ((rc = inception_forward(net, x, B, &o))) goto done;
        softmax_rows(probs, logits, B, K);
        const char *suffix = ti ? "_transform_input" : "";
        char        pool3_name[64], logits_name[64];
        snprintf(pool3_name, sizeof pool3_name, "pool3%s", suffix);
        snprintf(logits_name, sizeof logits_name, "logits%s", suffix);
        CaseOutput outs[] = {{pool3_name, pool3, 2, sp, 0}, {logits_name, logits, 2, sl, 0},
                             {"probs", probs, 2, sl, 0}};
        if ((rc = check_outputs(dir, m, outs, ti ? 2 : 3, out_dir, failures))) goto done;
        if (fid && out_dir) {
            snprintf(path, sizeof path, "%s/logits_unbiased.npy", out_dir);
            if ((rc = npy_save(path, DT_F32, 2, sl, unb))) goto done;
        }
    }
done:
    t2i_free(buf);
    npy_free(&in);
    sd_free(&sd);
    inception_free(net);
    return rc;
}

static int run_damsm(const char *dir, const cJSON *m, const char *out_dir, int *failures) {
    DamsmImage net;
    StateDict  sd;
    NpyArray   in = {0};
    float     *buf = NULL;
    char       path[1024];
    sd_init(&sd);
    int rc = damsm_image_init(&net, 256);
    if (rc) return rc;
    if ((rc = hash_weights_from_manifest(m, dir, 0, &sd, failures))) goto done;
    if ((rc = damsm_image_bind(&net, &sd, "damsm_image_encoder"))) goto done;
    snprintf(path, sizeof path, "%s/input.npy", dir);
    if ((rc = npy_load_f32(path, &in))) goto done;
    if (in.ndim != 4 || in.shape[1] != 3) {
        rc = t2i_error(T2I_ESHAPE, "%s: expected (B,3,H,W)", path);
        goto done;
    }
    int    B = (int)in.shape[0];
    size_t nf = (size_t)B * 256 * 289, nc = (size_t)B * 256, nx = (size_t)B * 3 * 299 * 299;
    size_t nm = (size_t)B * 768 * 289, np = (size_t)B * 2048;
    buf = t2i_malloc_aligned((nf + nc + nx + nm + np) * sizeof(float));
    if (!buf) {
        rc = T2I_ENOMEM;
        goto done;
    }
    DamsmImageOut o = {.features = buf, .cnn_code = buf + nf, .x299 = buf + nf + nc,
                       .mixed_6e = buf + nf + nc + nx, .pool = buf + nf + nc + nx + nm};
    if ((rc = damsm_image_forward(&net, in.data, B, (int)in.shape[2], (int)in.shape[3], &o)))
        goto done;
    int64_t sf[4] = {B, 256, 17, 17}, sc[2] = {B, 256}, sx[4] = {B, 3, 299, 299};
    int64_t sm[4] = {B, 768, 17, 17}, sp[2] = {B, 2048};
    const CaseOutput outs[] = {{"features", o.features, 4, sf, 0}, {"cnn_code", o.cnn_code, 2, sc, 0},
                               {"x299", o.x299, 4, sx, 0}, {"mixed_6e", o.mixed_6e, 4, sm, 0},
                               {"pool", o.pool, 2, sp, 0}};
    rc = check_outputs(dir, m, outs, sizeof outs / sizeof outs[0], out_dir, failures);
done:
    t2i_free(buf);
    npy_free(&in);
    sd_free(&sd);
    damsm_image_free(&net);
    return rc;
}

// Class count of the slim logits layer: [2048, nc] in the hash list (the weights define it).
static int slim_classes(const cJSON *m) {
    const cJSON *e = hash_entry(m, "logits/logits/weights/ExponentialMovingAverage");
    const cJSON *sh = cJSON_GetObjectItemCaseSensitive(e, "shape");
    if (cJSON_GetArraySize(sh) == 2 && cJSON_IsNumber(cJSON_GetArrayItem(sh, 1)))
        return cJSON_GetArrayItem(sh, 1)->valueint;
    const cJSON *nc = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(m, "config"),
                                                       "num_classes");
    return cJSON_IsNumber(nc) ? nc->valueint : 0;
}

// TF-slim Inception v3 of the CUB IS: hash weights under the TF restore names (checksums
// checked), mapped onto the network by inception_tf.c; logits, IS probs = softmax(logits[:,1:]),
// predictions = softmax(logits) and pool3 compared. The end-point probes are not produced.
static int run_slim(const char *dir, const cJSON *m, const char *out_dir, int *failures) {
    InceptionConfig cfg;
    inception_config(&cfg, INCEPTION_SLIM);
    cfg.num_classes = slim_classes(m);
    if (cfg.num_classes < 2)
        return t2i_error(T2I_EFORMAT, "%s/manifest.json: no logits/logits/weights shape", dir);
    Inception *net = NULL;
    StateDict  sd;
    NpyArray   in = {0};
    float     *buf = NULL;
    int        rc = inception_create(&cfg, &net);
    if (rc) return rc;
    sd_init(&sd);
    if ((rc = hash_weights_from_manifest(m, dir, 1, &sd, failures))) goto done;
    if ((rc = inception_from_tf(&cfg, inception_keys(net), &sd, dir))) goto done;
    if ((rc = inception_bind(net, &sd, "inception_slim"))) goto done;
    if ((rc = load_input_299(dir, &in))) goto done;
    int B = (int)in.shape[0], K = cfg.num_classes;
    buf = t2i_malloc_aligned((size_t)B * (2048 + 3 * (size_t)K) * sizeof(float));
    if (!buf) {
        rc = T2I_ENOMEM;
        goto done;
    }
    float *pool3 = buf, *logits = pool3 + (size_t)B * 2048, *pred = logits + (size_t)B * K;
    float *probs = pred + (size_t)B * K;
    InceptionOut o = {.pool3 = pool3, .logits = logits};
    if ((rc = inception_forward(net, in.data, B, &o))) goto done;
    softmax_rows(pred, logits, B, K);
    for (int b = 0; b < B; b++)   // the IS pred_op: softmax over the K-1 real classes
        softmax_rows(probs + (size_t)b * (K - 1), logits + (size_t)b * K + 1, 1, K - 1);
    int64_t sp[2] = {B, 2048}, sl[2] = {B, K}, sq[2] = {B, K - 1};
    const CaseOutput outs[] = {{"logits", logits, 2, sl, 1}, {"probs", probs, 2, sq, 1},
                               {"predictions", pred, 2, sl, 1}, {"pool3", pool3, 2, sp, 1}};
    if (!manifest_lists(m, "logits"))
        rc = t2i_error(T2I_EFORMAT, "%s/manifest.json: no 'logits' tensor", dir);
    else
        rc = check_outputs(dir, m, outs, sizeof outs / sizeof outs[0], out_dir, failures);
done:
    t2i_free(buf);
    npy_free(&in);
    sd_free(&sd);
    inception_free(net);
    return rc;
}

int verify_inception_case(const char *dir, const char *out_dir, int *failures) {
    cJSON *m;
    int    rc = load_manifest(dir, &m);
    if (rc) return rc;
    const char *c = manifest_case(m);
    InceptionKind k = manifest_kind(m);
    static const char *const kn[] = {"?", "torchvision Inception v3", "pytorch-fid Inception",
                                     "CNN_ENCODER", "TF-slim Inception v3"};
    printf("%s (%s: %s)\n", dir, c ? c : "?", kn[k]);
    switch (k) {
    case IK_TORCHVISION: rc = run_inception(dir, m, 0, out_dir, failures); break;
    case IK_FID: rc = run_inception(dir, m, 1, out_dir, failures); break;
    case IK_DAMSM: rc = run_damsm(dir, m, out_dir, failures); break;
    case IK_SLIM: rc = run_slim(dir, m, out_dir, failures); break;
    default: rc = t2i_error(T2I_EARG, "%s: the manifest describes no Inception-based network", dir);
    }
    cJSON_Delete(m);
    return rc;
}
