// inception_tf.c -- see inception_tf.h.
#include "inception_tf.h"

#include "t2i.h"
#include "weights.h"

#include <stdio.h>
#include <string.h>

// ---- name tables ----------------------------------------------------------------------------

// One conv module of a block: torchvision's name, the TF-slim scope (branch scope with Conv,
// Conv_1, ... in call order, inception_model.py) and the tf2015 graph scope (conv, tower/conv_k,
// tower*/mixed/conv_k).
typedef struct {
    const char *torch, *slim, *graph;
} Conv3;

#define END {NULL, NULL, NULL}
static const Conv3 blk_a[] = {   // 35x35: Mixed_5b..5d
    {"branch1x1", "branch1x1/Conv", "conv"},
    {"branch5x5_1", "branch5x5/Conv", "tower/conv"},
    {"branch5x5_2", "branch5x5/Conv_1", "tower/conv_1"},
    {"branch3x3dbl_1", "branch3x3dbl/Conv", "tower_1/conv"},
    {"branch3x3dbl_2", "branch3x3dbl/Conv_1", "tower_1/conv_1"},
    {"branch3x3dbl_3", "branch3x3dbl/Conv_2", "tower_1/conv_2"},
    {"branch_pool", "branch_pool/Conv", "tower_2/conv"},
    END,
};
static const Conv3 blk_b[] = {   // Mixed_6a
    {"branch3x3", "branch3x3/Conv", "conv"},
    {"branch3x3dbl_1", "branch3x3dbl/Conv", "tower/conv"},
    {"branch3x3dbl_2", "branch3x3dbl/Conv_1", "tower/conv_1"},
    {"branch3x3dbl_3", "branch3x3dbl/Conv_2", "tower/conv_2"},
    END,
};
static const Conv3 blk_c[] = {   // 17x17: Mixed_6b..6e
    {"branch1x1", "branch1x1/Conv", "conv"},
    {"branch7x7_1", "branch7x7/Conv", "tower/conv"},
    {"branch7x7_2", "branch7x7/Conv_1", "tower/conv_1"},
    {"branch7x7_3", "branch7x7/Conv_2", "tower/conv_2"},
    {"branch7x7dbl_1", "branch7x7dbl/Conv", "tower_1/conv"},
    {"branch7x7dbl_2", "branch7x7dbl/Conv_1", "tower_1/conv_1"},
    {"branch7x7dbl_3", "branch7x7dbl/Conv_2", "tower_1/conv_2"},
    {"branch7x7dbl_4", "branch7x7dbl/Conv_3", "tower_1/conv_3"},
    {"branch7x7dbl_5", "branch7x7dbl/Conv_4", "tower_1/conv_4"},
    {"branch_pool", "branch_pool/Conv", "tower_2/conv"},
    END,
};
static const Conv3 blk_d[] = {   // Mixed_7a
    {"branch3x3_1", "branch3x3/Conv", "tower/conv"},
    {"branch3x3_2", "branch3x3/Conv_1", "tower/conv_1"},
    {"branch7x7x3_1", "branch7x7x3/Conv", "tower_1/conv"},
    {"branch7x7x3_2", "branch7x7x3/Conv_1", "tower_1/conv_1"},
    {"branch7x7x3_3", "branch7x7x3/Conv_2", "tower_1/conv_2"},
    {"branch7x7x3_4", "branch7x7x3/Conv_3", "tower_1/conv_3"},
    END,
};
// 8x8: Mixed_7b, 7c. Slim's Conv_1 is the 1x3 and Conv_2 the 3x1 (torchvision's _2a / _2b),
// concatenated in that order.
static const Conv3 blk_e[] = {
    {"branch1x1", "branch1x1/Conv", "conv"},
    {"branch3x3_1", "branch3x3/Conv", "tower/conv"},
    {"branch3x3_2a", "branch3x3/Conv_1", "tower/mixed/conv"},
    {"branch3x3_2b", "branch3x3/Conv_2", "tower/mixed/conv_1"},
    {"branch3x3dbl_1", "branch3x3dbl/Conv", "tower_1/conv"},
    {"branch3x3dbl_2", "branch3x3dbl/Conv_1", "tower_1/conv_1"},
    {"branch3x3dbl_3a", "branch3x3dbl/Conv_2", "tower_1/mixed/conv"},
    {"branch3x3dbl_3b", "branch3x3dbl/Conv_3", "tower_1/mixed/conv_1"},
    {"branch_pool", "branch_pool/Conv", "tower_2/conv"},
    END,
};

typedef struct {
    const char  *torch, *slim, *graph;   // graph NULL: not in the tf2015 graph
    const Conv3 *convs;                  // NULL: a single conv (stem, aux head)
} Block;

static const Block blocks[] = {
    {"Conv2d_1a_3x3", "conv0", "conv", NULL},
    {"Conv2d_2a_3x3", "conv1", "conv_1", NULL},
    {"Conv2d_2b_3x3", "conv2", "conv_2", NULL},
    {"Conv2d_3b_1x1", "conv3", "conv_3", NULL},
    {"Conv2d_4a_3x3", "conv4", "conv_4", NULL},
    {"Mixed_5b", "mixed_35x35x256a", "mixed", blk_a},
    {"Mixed_5c", "mixed_35x35x288a", "mixed_1", blk_a},
    {"Mixed_5d", "mixed_35x35x288b", "mixed_2", blk_a},
    {"Mixed_6a", "mixed_17x17x768a", "mixed_3", blk_b},
    {"Mixed_6b", "mixed_17x17x768b", "mixed_4", blk_c},
    {"Mixed_6c", "mixed_17x17x768c", "mixed_5", blk_c},
    {"Mixed_6d", "mixed_17x17x768d", "mixed_6", blk_c},
    {"Mixed_6e", "mixed_17x17x768e", "mixed_7", blk_c},
    {"Mixed_7a", "mixed_17x17x1280a", "mixed_8", blk_d},
    {"Mixed_7b", "mixed_8x8x2048a", "mixed_9", blk_e},
    {"Mixed_7c", "mixed_8x8x2048b", "mixed_10", blk_e},
    {"AuxLogits.conv0", "aux_logits/proj", NULL, NULL},
    {"AuxLogits.conv1", "aux_logits/Conv", NULL, NULL},
};

static const char EMA[] = "/ExponentialMovingAverage";

// TF scope of a torchvision conv module ("Mixed_5b.branch5x5_1"), or 0 when unknown.
static int conv_scope(int slim, const char *mod, char *out, size_t cap) {
    for (size_t i = 0; i < sizeof blocks / sizeof blocks[0]; i++) {
        const Block *b = &blocks[i];
        const char  *top = slim ? b->slim : b->graph;
        size_t       n = strlen(b->torch);
        if (!top || strncmp(mod, b->torch, n) != 0) continue;
        if (!b->convs) {
            if (mod[n] != 0) continue;
            snprintf(out, cap, "%s", top);
            return 1;
        }
        if (mod[n] != '.') continue;
        for (const Conv3 *c = b->convs; c->torch; c++)
            if (strcmp(mod + n + 1, c->torch) == 0) {
                snprintf(out, cap, "%s/%s", top, slim ? c->slim : c->graph);
                return 1;
            }
    }
    return 0;
}

typedef enum { L_COPY, L_CONV, L_DENSE } Layout;

// TF name and layout of one torchvision key; 0 when it has no TF counterpart (num_batches_tracked).
static int tf_name(const InceptionConfig *cfg, const char *key, char *out, size_t cap,
                   Layout *lay, int *known) {
    int  slim = cfg->variant == INCEPTION_SLIM;
    char mod[256], scope[320];
    const char *suf = slim ? EMA : "";
    *lay = L_COPY;
    *known = 1;
    const char *dot;
    if (strcmp(key, "fc.weight") == 0 || strcmp(key, "fc.bias") == 0 ||
        strcmp(key, "AuxLogits.fc.weight") == 0 || strcmp(key, "AuxLogits.fc.bias") == 0) {
        int aux = key[0] == 'A', w = strstr(key, ".weight") != NULL;
        if (aux && !slim) return *known = 0, 0;
        const char *base = aux ? "aux_logits/FC" : slim ? "logits/logits" : "softmax";
        snprintf(out, cap, "%s/%s%s", base, w ? "weights" : "biases", suf);
        *lay = w ? L_DENSE : L_COPY;
        return 1;
    }
    if ((dot = strstr(key, ".conv.weight")) && dot[12] == 0) {
        snprintf(mod, sizeof mod, "%.*s", (int)(dot - key), key);
        if (!conv_scope(slim, mod, scope, sizeof scope)) return *known = 0, 0;
        snprintf(out, cap, "%s/%s%s", scope, slim ? "weights" : "conv2d_params", suf);
        *lay = L_CONV;
        return 1;
    }
    if ((dot = strstr(key, ".bn."))) {
        snprintf(mod, sizeof mod, "%.*s", (int)(dot - key), key);
        const char *p = dot + 4;
        if (strcmp(p, "num_batches_tracked") == 0) return 0;
        if (!conv_scope(slim, mod, scope, sizeof scope)) return *known = 0, 0;
        const char *tp = strcmp(p, "weight") == 0         ? "gamma"
                         : strcmp(p, "bias") == 0         ? "beta"
                         : strcmp(p, "running_mean") == 0 ? "moving_mean"
                         : strcmp(p, "running_var") == 0  ? "moving_variance"
                                                          : NULL;
        if (!tp) return *known = 0, 0;
        snprintf(out, cap, "%s/%s/%s%s", scope, slim ? "BatchNorm" : "batchnorm", tp, suf);
        return 1;
    }
    return *known = 0, 0;
}

// TF shape of a torchvision shape under a layout.
static void tf_shape(Layout lay, const BindRow *r, int64_t *s) {
    memcpy(s, r->shape, sizeof(int64_t) * (size_t)r->ndim);
    if (lay == L_CONV) {   // (OC,IC,KH,KW) -> [KH,KW,IC,OC]
        s[0] = r->shape[2], s[1] = r->shape[3], s[2] = r->shape[1], s[3] = r->shape[0];
    }
    if (lay == L_DENSE) s[0] = r->shape[1], s[1] = r->shape[0];
}

static int variant_ok(const InceptionConfig *cfg) {
    if (cfg->variant == INCEPTION_SLIM || cfg->variant == INCEPTION_TF2015) return T2I_OK;
    return t2i_error(T2I_EARG, "TensorFlow names are mapped for the slim (StackGAN CUB "
                     "classifier) and tf2015 (classify_image_graph_def.pb) Inceptions only, not %s",
                     inception_variant_name(cfg->variant));
}

// ---- conversion -----------------------------------------------------------------------------

int inception_sd_is_tf(const StateDict *sd) {
    if (sd_find(sd, "fc.weight") || sd_find(sd, "Conv2d_1a_3x3.conv.weight")) return 0;
    for (int i = 0; i < sd->n; i++)   // TF scopes use '/', torch modules '.'
        if (strchr(sd->e[i].name, '/')) return 1;
    return 0;
}

int inception_tf_keys(const InceptionConfig *cfg, const BindList *keys, BindList *out) {
    bindlist_init(out);
    int rc = variant_ok(cfg);
    if (rc) return rc;
    for (int i = 0; i < keys->n; i++) {
        const BindRow *r = &keys->rows[i];
        char   name[512];
        Layout lay;
        int    known, shape[T2I_MAX_DIMS];
        int64_t s[T2I_MAX_DIMS];
        if (!tf_name(cfg, r->name, name, sizeof name, &lay, &known)) {
            if (known) continue;
            bindlist_free(out);
            return t2i_error(T2I_EARG, "inception: key '%s' has no TensorFlow name", r->name);
        }
        tf_shape(lay, r, s);
        for (int d = 0; d < r->ndim; d++) shape[d] = (int)s[d];
        bind_param(out, NULL, r->ndim, shape, "%s", name);
    }
    if (out->failed) {
        bindlist_free(out);
        return t2i_error(T2I_ENOMEM, "inception: out of memory listing TF names");
    }
    return T2I_OK;
}

// Converts one tensor; `e` holds TF data in layout `lay` with the torch row's shape transposed.
static int convert(SDEntry *e, const BindRow *r, Layout lay, StateDict *out) {
    const float *src = sd_f32(e);
    if (!src) return T2I_ENOMEM;
    size_t numel = e->numel;
    float *dst = t2i_malloc_aligned((numel ? numel : 1) * sizeof(float));
    if (!dst) return t2i_error(T2I_ENOMEM, "out of memory converting '%s'", e->name);
    if (lay == L_CONV) {   // [kh,kw,ic,oc] -> [oc,ic,kh,kw]
        size_t OC = (size_t)r->shape[0], IC = (size_t)r->shape[1], KH = (size_t)r->shape[2],
               KW = (size_t)r->shape[3];
        for (size_t kh = 0; kh < KH; kh++)
            for (size_t kw = 0; kw < KW; kw++)
                for (size_t ic = 0; ic < IC; ic++)
                    for (size_t oc = 0; oc < OC; oc++)
                        dst[((oc * IC + ic) * KH + kh) * KW + kw] =
                            src[((kh * KW + kw) * IC + ic) * OC + oc];
    } else if (lay == L_DENSE) {   // [in,out] -> [out,in]
        size_t O = (size_t)r->shape[0], I = (size_t)r->shape[1];
        for (size_t i = 0; i < I; i++)
            for (size_t o = 0; o < O; o++) dst[o * I + i] = src[i * O + o];
    } else {
        memcpy(dst, src, numel * sizeof(float));
    }
    return sd_add(out, r->name, DT_F32, r->ndim, r->shape, dst);
}

static void shape_str(int nd, const int64_t *s, char *buf, size_t n) {
    size_t o = (size_t)snprintf(buf, n, "[");
    for (int d = 0; d < nd && o < n; d++)
        o += (size_t)snprintf(buf + o, n - o, "%s%lld", d ? "," : "", (long long)s[d]);
    if (o < n) snprintf(buf + o, n - o, "]");
}

int inception_from_tf(const InceptionConfig *cfg, const BindList *keys, StateDict *sd,
                      const char *what) {
    int rc = variant_ok(cfg);
    if (rc) return rc;
    StateDict out;
    sd_init(&out);
    char   msg[2048];
    size_t mo = 0;
    int    missing = 0, bad = 0, raw_only = 0;
    msg[0] = 0;
    for (int i = 0; i < keys->n && !rc; i++) {
        const BindRow *r = &keys->rows[i];
        char   name[512];
        Layout lay;
        int    known;
        if (!tf_name(cfg, r->name, name, sizeof name, &lay, &known)) {
            if (!known) rc = t2i_error(T2I_EARG, "inception: key '%s' has no TF name", r->name);
            continue;
        }
        SDEntry *e = (SDEntry *)sd_find(sd, name);
        int64_t  want[T2I_MAX_DIMS];
        tf_shape(lay, r, want);
        if (!e) {
            if (cfg->variant == INCEPTION_SLIM) {   // raw variable present, average absent?
                char raw[512];
                snprintf(raw, sizeof raw, "%.*s", (int)(strlen(name) - (sizeof EMA - 1)), name);
                raw_only += sd_find(sd, raw) != NULL;
            }
            if (missing++ < 4 && mo < sizeof msg)
                mo += (size_t)snprintf(msg + mo, sizeof msg - mo, "%s missing: %s", mo ? ";" : "",
                                       name);
            continue;
        }
        int same = e->ndim == r->ndim;
        for (int d = 0; same && d < r->ndim; d++) same = e->shape[d] == want[d];
        if (!same) {
            char a[96], b[96];
            shape_str(e->ndim, e->shape, a, sizeof a);
            shape_str(r->ndim, want, b, sizeof b);
            if (bad++ < 4 && mo < sizeof msg)
                mo += (size_t)snprintf(msg + mo, sizeof msg - mo, "%s %s is %s, the network "
                                       "wants %s", mo ? ";" : "", name, a, b);
            continue;
        }
        rc = convert(e, r, lay, &out);
    }
    if (!rc && (missing || bad)) {
        rc = t2i_error(T2I_ESHAPE, "%s: %d TensorFlow tensor(s) missing, %d of another shape "
                       "for the %s Inception:%s%s%s", what, missing, bad,
                       inception_variant_name(cfg->variant), msg,
                       missing > 4 || bad > 4 ? "; ..." : "",
                       raw_only ? " (the file holds the raw variables but not their "
                                  "ExponentialMovingAverage shadows, which the IS script restores)"
                                : "");
    }
    if (rc) {
        sd_free(&out);
        return rc;
    }
    sd_free(sd);
    *sd = out;
    return T2I_OK;
}

int inception_weights_load(const InceptionConfig *cfg, const BindList *keys, const char *spec,
                           StateDict *out) {
    int rc;
    sd_init(out);
    if (strncmp(spec, "hash:", 5) == 0 && cfg->variant == INCEPTION_SLIM) {
        // The slim classifier's hash weights are keyed by its TF restore names in TF layouts
        // (as the inception_slim fixture): generate those, then map them like a checkpoint.
        if (strcmp(spec, T2I_HASH_WEIGHTS) != 0) return weights_load(spec, keys, out);
        BindList tk;
        if ((rc = inception_tf_keys(cfg, keys, &tk))) return rc;
        rc = hash_weights_fill_tf(&tk, out);
        bindlist_free(&tk);
        if (!rc) rc = inception_from_tf(cfg, keys, out, spec);
        if (rc) sd_free(out);
        return rc;
    }
    if ((rc = weights_load(spec, keys, out))) return rc;
    if (strncmp(spec, "hash:", 5) == 0 || !inception_sd_is_tf(out) ||
        (cfg->variant != INCEPTION_SLIM && cfg->variant != INCEPTION_TF2015))
        return T2I_OK;   // torchvision names: inception_bind checks them strictly
    if ((rc = inception_from_tf(cfg, keys, out, spec))) sd_free(out);
    return rc;
}
