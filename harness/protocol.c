// protocol.c -- strict protocol JSON (see protocol.h and suites/README.md).
#include "protocol.h"

#include "jsonx.h"
#include "sha256.h"
#include "t2i.h"

#include <stdio.h>
#include <string.h>

const char *const dataset_names[] = {"cub", "coco", NULL};
const char *const resize_names[] = {"bilinear", "bilinear-align-corners", "bilinear-tf1",
                                    "bilinear-pil", NULL};

int dataset_index(const char *name) {
    for (int i = 0; dataset_names[i]; i++)
        if (strcmp(name, dataset_names[i]) == 0) return i;
    return -1;
}

static int per_dataset_int(const cJSON *o, const char *f, const char *path, const char *key,
                           long lo, long hi, int *out) {
    const cJSON *m;
    char sub[128];
    int rc = jx_obj(o, f, path, key, &m);
    if (rc) return rc;
    snprintf(sub, sizeof sub, "%s.%s", path, key);
    if ((rc = jx_keys(m, f, sub, dataset_names))) return rc;
    for (int d = 0; d < DATASET_N; d++) {
        long v;
        if ((rc = jx_int(m, f, sub, dataset_names[d], lo, hi, &v))) return rc;
        out[d] = (int)v;
    }
    return T2I_OK;
}

static int per_dataset_enum(const cJSON *o, const char *f, const char *path, const char *key,
                            const char *const *names, char out[][32]) {
    const cJSON *m;
    char sub[128];
    int rc = jx_obj(o, f, path, key, &m);
    if (rc) return rc;
    snprintf(sub, sizeof sub, "%s.%s", path, key);
    if ((rc = jx_keys(m, f, sub, dataset_names))) return rc;
    for (int d = 0; d < DATASET_N; d++) {
        int k;
        if ((rc = jx_enum(m, f, sub, dataset_names[d], names, &k))) return rc;
        snprintf(out[d], 32, "%s", names[k]);
    }
    return T2I_OK;
}

// Optional "differences": {"from": "<protocol name>", "items": ["...", ...]}: what a protocol
// changes relative to another one, written for the reader (stored with the protocol text).
static int parse_differences(const cJSON *j, const char *f, Protocol *p) {
    static const char *const dk[] = {"from", "items", NULL};
    const cJSON *d, *items, *it;
    int rc, i = 0;
    if ((rc = jx_obj(j, f, "$", "differences", &d))) return rc;
    if ((rc = jx_keys(d, f, "$.differences", dk))) return rc;
    if ((rc = jx_str_copy(d, f, "$.differences", "from", p->differences_from,
                          sizeof p->differences_from)))
        return rc;
    items = cJSON_GetObjectItemCaseSensitive(d, "items");
    if (!cJSON_IsArray(items) || cJSON_GetArraySize(items) < 1)
        return t2i_error(T2I_EARG, "%s: $.differences.items: must be a non-empty array of strings",
                         f);
    cJSON_ArrayForEach(it, items) {
        if (!cJSON_IsString(it) || !it->valuestring[0])
            return t2i_error(T2I_EARG, "%s: $.differences.items[%d]: must be a non-empty string",
                             f, i);
        i++;
    }
    return T2I_OK;
}

static int parse(const cJSON *j, const char *f, Protocol *p) {
    static const char *const top_all[] = {"format", "name", "description", "reference",
                                          "sampling", "generation", "inception_score",
                                          "r_precision", "fid", "differences", NULL};
    // "differences" is optional: without it the list stops before it
    int has_diff = cJSON_GetObjectItemCaseSensitive(j, "differences") != NULL;
    const char *top[11];
    memcpy(top, top_all, sizeof top_all);
    if (!has_diff) top[9] = NULL;
    static const char *const samp[] = {"images", "passes", "caption_choice", "words_num",
                                       "truncation", "block_size", "mismatches",
                                       "mismatch_rule", NULL};
    static const char *const gen[] = {"noise", "noise_bound", "noise_scale", "quantization",
                                      "attention_mask", NULL};
    static const char *const isk[] = {"enabled", "classifier", "resize", "splits",
                                      "shuffle_seed", "temperature", NULL};
    static const char *const rpk[] = {"enabled", "resize", "k", "folds", "fold_rule",
                                      "shuffle_seed", NULL};
    static const char *const fidk[] = {"enabled", "resize", NULL};
    static const char *const formats[] = {"t2ibench-protocol/1", NULL};
    static const char *const choices[] = {"all", "random-per-pass", "first", NULL};
    static const char *const truncs[] = {"random-subset", "head", NULL};
    static const char *const mrules[] = {"other-class", "other-image", NULL};
    static const char *const noises[] = {"normal", "truncated", NULL};
    static const char *const quants[] = {"truncate", "round", "float", NULL};
    static const char *const masks[] = {"per-sample", "batch-coupled", NULL};
    static const char *const classifiers[] = {"torchvision", "tf2015", "slim-cub", NULL};
    static const char *const folds[] = {"dmgan", "contiguous", NULL};
    const cJSON *s, *g, *is, *rp, *fid;
    long v;
    int k, rc;
    if ((rc = jx_keys(j, f, "$", top))) return rc;
    if ((rc = jx_enum(j, f, "$", "format", formats, &k))) return rc;
    if ((rc = jx_str_copy(j, f, "$", "name", p->name, sizeof p->name))) return rc;
    if ((rc = jx_str_copy(j, f, "$", "description", p->description, sizeof p->description)))
        return rc;
    if ((rc = jx_str_copy(j, f, "$", "reference", p->reference, sizeof p->reference))) return rc;
    if (has_diff && (rc = parse_differences(j, f, p))) return rc;

    if ((rc = jx_obj(j, f, "$", "sampling", &s))) return rc;
    if ((rc = jx_keys(s, f, "$.sampling", samp))) return rc;
    if ((rc = jx_int(s, f, "$.sampling", "images", 0, 100000000, &p->images))) return rc;
    if ((rc = jx_int(s, f, "$.sampling", "passes", 1, 1000, &v))) return rc;
    p->passes = (int)v;
    if ((rc = jx_enum(s, f, "$.sampling", "caption_choice", choices, &p->caption_choice)))
        return rc;
    if ((rc = per_dataset_int(s, f, "$.sampling", "words_num", 1, 1000, p->words_num))) return rc;
    if ((rc = jx_enum(s, f, "$.sampling", "truncation", truncs, &p->truncation))) return rc;
    if ((rc = jx_int(s, f, "$.sampling", "block_size", 1, 100000, &v))) return rc;
    p->block_size = (int)v;
    if ((rc = jx_int(s, f, "$.sampling", "mismatches", 0, 10000, &v))) return rc;
    p->mismatches = (int)v;
    if ((rc = jx_enum(s, f, "$.sampling", "mismatch_rule", mrules, &p->mismatch_rule)))
        return rc;

    if ((rc = jx_obj(j, f, "$", "generation", &g))) return rc;
    if ((rc = jx_keys(g, f, "$.generation", gen))) return rc;
    if ((rc = jx_enum(g, f, "$.generation", "noise", noises, &p->noise))) return rc;
    if ((rc = jx_num(g, f, "$.generation", "noise_bound", 0, 100, &p->noise_bound))) return rc;
    if ((rc = jx_num(g, f, "$.generation", "noise_scale", 0, 100, &p->noise_scale))) return rc;
    if (p->noise == NOISE_TRUNCATED && p->noise_bound <= 0)
        return t2i_error(T2I_EARG, "%s: $.generation.noise_bound: must be > 0 for truncated noise",
                         f);
    if ((rc = jx_enum(g, f, "$.generation", "quantization", quants, &p->quantization))) return rc;
    if ((rc = jx_enum(g, f, "$.generation", "attention_mask", masks, &p->attention_mask)))
        return rc;

    if ((rc = jx_obj(j, f, "$", "inception_score", &is))) return rc;
    if ((rc = jx_keys(is, f, "$.inception_score", isk))) return rc;
    if ((rc = jx_bool(is, f, "$.inception_score", "enabled", &p->is_enabled))) return rc;
    if ((rc = per_dataset_enum(is, f, "$.inception_score", "classifier", classifiers,
                               p->is_classifier)))
        return rc;
    if ((rc = jx_enum(is, f, "$.inception_score", "resize", resize_names, &p->is_resize)))
        return rc;
    if ((rc = jx_int(is, f, "$.inception_score", "splits", 1, 1000, &v))) return rc;
    p->is_splits = (int)v;
    if ((rc = jx_u64(is, f, "$.inception_score", "shuffle_seed", &p->is_shuffle_seed))) return rc;
    if ((rc = jx_num(is, f, "$.inception_score", "temperature", 1e-3, 1e3, &p->is_temperature)))
        return rc;

    if ((rc = jx_obj(j, f, "$", "r_precision", &rp))) return rc;
    if ((rc = jx_keys(rp, f, "$.r_precision", rpk))) return rc;
    if ((rc = jx_bool(rp, f, "$.r_precision", "enabled", &p->rp_enabled))) return rc;
    if ((rc = jx_enum(rp, f, "$.r_precision", "resize", resize_names, &p->rp_resize))) return rc;
    if ((rc = jx_int(rp, f, "$.r_precision", "k", 1, 10000, &v))) return rc;
    p->rp_k = (int)v;
    if ((rc = jx_int(rp, f, "$.r_precision", "folds", 1, 1000, &v))) return rc;
    p->rp_folds = (int)v;
    if ((rc = jx_enum(rp, f, "$.r_precision", "fold_rule", folds, &p->rp_fold_rule))) return rc;
    if ((rc = jx_u64(rp, f, "$.r_precision", "shuffle_seed", &p->rp_shuffle_seed))) return rc;
    if (p->rp_enabled && p->mismatches < p->rp_k)
        return t2i_error(T2I_EARG, "%s: $.r_precision.k: %d exceeds 1 + $.sampling.mismatches - 1",
                         f, p->rp_k);

    if ((rc = jx_obj(j, f, "$", "fid", &fid))) return rc;
    if ((rc = jx_keys(fid, f, "$.fid", fidk))) return rc;
    if ((rc = jx_bool(fid, f, "$.fid", "enabled", &p->fid_enabled))) return rc;
    if ((rc = jx_enum(fid, f, "$.fid", "resize", resize_names, &p->fid_resize))) return rc;
    return T2I_OK;
}

int protocol_parse(const char *what, const char *text, size_t len, Protocol *p) {
    memset(p, 0, sizeof *p);
    cJSON *j = NULL;
    int rc = jx_parse_buf(what, text, len, &j);
    if (rc) return rc;
    rc = parse(j, what, p);
    cJSON_Delete(j);
    if (rc) return rc;
    sha256_hex((const uint8_t *)text, len, p->sha256);
    p->json = t2i_malloc(len + 1);
    if (!p->json) return T2I_ENOMEM;
    memcpy(p->json, text, len);
    p->json[len] = 0;
    return T2I_OK;
}

static int protocol_load_1(const char *path, Protocol *p) {
    uint8_t *data = NULL;
    size_t len = 0;
    memset(p, 0, sizeof *p);
    int rc = t2i_read_file(path, &data, &len);
    if (rc) return rc;
    rc = protocol_parse(path, (const char *)data, len, p);
    t2i_free(data);
    if (rc) protocol_free(p);
    return rc;
}

int protocol_load(const char *path, Protocol *p) {
    t2i_error_clear();
    return t2i_error_name_file(protocol_load_1(path, p), path);
}

void protocol_free(Protocol *p) {
    if (!p) return;
    t2i_free(p->json);
    p->json = NULL;
}
