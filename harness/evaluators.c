// evaluators.c -- strict evaluator cards (see evaluators.h).
#include "evaluators.h"

#include "jsonx.h"
#include "protocol.h"
#include "sha256.h"
#include "t2i.h"

#include <stdio.h>
#include <string.h>

char *path_resolve(const char *file, const char *p) {
    if (p[0] == '/' || strncmp(p, "hash:", 5) == 0) return t2i_strdup(p);
    const char *sl = strrchr(file, '/');
    size_t dl = sl ? (size_t)(sl - file + 1) : 0;
    size_t n = dl + strlen(p) + 1;
    char *o = t2i_malloc(n);
    if (o) snprintf(o, n, "%.*s%s", (int)dl, file, p);
    return o;
}

void evalcard_free(EvalCard *c) {
    if (!c) return;
    t2i_free(c->is_weights);
    t2i_free(c->damsm_image);
    t2i_free(c->damsm_text);
    t2i_free(c->damsm_vocab);
    t2i_free(c->fid_weights);
    t2i_free(c->fid_stats);
    t2i_free(c->path);
    memset(c, 0, sizeof *c);
}

static int path_key(const cJSON *o, const char *f, const char *path, const char *key,
                    char **out) {
    const char *s;
    int rc = jx_str(o, f, path, key, &s);
    if (rc) return rc;
    if (!*s) return t2i_error(T2I_EARG, "%s: %s.%s: empty path", f, path, key);
    *out = path_resolve(f, s);
    return *out ? T2I_OK : T2I_ENOMEM;
}

static int parse(const cJSON *j, const char *f, EvalCard *c) {
    static const char *const top[] = {"format", "name", "dataset", "notes", "inception_score",
                                      "damsm", "fid", NULL};
    static const char *const isk[] = {"variant", "weights", "num_classes", "first_class",
                                      "classes", NULL};
    static const char *const dk[] = {"image_encoder", "text_encoder", "text_encoder_config",
                                     "vocabulary", NULL};
    static const char *const tck[] = {"ntoken", "ninput", "nhidden", NULL};
    static const char *const fk[] = {"variant", "weights", "statistics", NULL};
    static const char *const formats[] = {"t2ibench-evaluators/1", NULL};
    static const char *const isv[] = {"torchvision", "tf2015", "slim-cub", NULL};
    static const char *const fidv[] = {"tf2015", "torchvision", NULL};
    int rc, k;
    long v;
    if ((rc = jx_keys(j, f, "$", top))) return rc;
    if ((rc = jx_enum(j, f, "$", "format", formats, &k))) return rc;
    if ((rc = jx_str_copy(j, f, "$", "name", c->name, sizeof c->name))) return rc;
    if ((rc = jx_enum(j, f, "$", "dataset", dataset_names, &c->dataset))) return rc;
    if ((rc = jx_str_copy(j, f, "$", "notes", c->notes, sizeof c->notes))) return rc;

    const cJSON *is = cJSON_GetObjectItemCaseSensitive(j, "inception_score");
    if (!cJSON_IsNull(is)) {
        if ((rc = jx_obj(j, f, "$", "inception_score", &is))) return rc;
        if ((rc = jx_keys(is, f, "$.inception_score", isk))) return rc;
        if ((rc = jx_enum(is, f, "$.inception_score", "variant", isv, &k))) return rc;
        snprintf(c->is_variant, sizeof c->is_variant, "%s", isv[k]);
        if ((rc = path_key(is, f, "$.inception_score", "weights", &c->is_weights))) return rc;
        if ((rc = jx_int(is, f, "$.inception_score", "num_classes", 1, 100000, &v))) return rc;
        c->is_num_classes = (int)v;
        if ((rc = jx_int(is, f, "$.inception_score", "first_class", 0, 100000, &v))) return rc;
        c->is_first_class = (int)v;
        if ((rc = jx_int(is, f, "$.inception_score", "classes", 2, 100000, &v))) return rc;
        c->is_classes = (int)v;
        if (c->is_first_class + c->is_classes > c->is_num_classes)
            return t2i_error(T2I_EARG, "%s: $.inception_score: first_class + classes exceeds "
                                       "num_classes",
                             f);
        c->has_is = 1;
    }
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(j, "damsm");
    if (!cJSON_IsNull(d)) {
        const cJSON *tc;
        if ((rc = jx_obj(j, f, "$", "damsm", &d))) return rc;
        if ((rc = jx_keys(d, f, "$.damsm", dk))) return rc;
        if ((rc = path_key(d, f, "$.damsm", "image_encoder", &c->damsm_image))) return rc;
        if ((rc = path_key(d, f, "$.damsm", "text_encoder", &c->damsm_text))) return rc;
        if ((rc = path_key(d, f, "$.damsm", "vocabulary", &c->damsm_vocab))) return rc;
        if ((rc = jx_obj(d, f, "$.damsm", "text_encoder_config", &tc))) return rc;
        if ((rc = jx_keys(tc, f, "$.damsm.text_encoder_config", tck))) return rc;
        if ((rc = jx_int(tc, f, "$.damsm.text_encoder_config", "ntoken", 1, 10000000, &v)))
            return rc;
        c->damsm_text_cfg.ntoken = (int)v;
        if ((rc = jx_int(tc, f, "$.damsm.text_encoder_config", "ninput", 1, 100000, &v)))
            return rc;
        c->damsm_text_cfg.ninput = (int)v;
        if ((rc = jx_int(tc, f, "$.damsm.text_encoder_config", "nhidden", 2, 100000, &v)))
            return rc;
        c->damsm_text_cfg.nhidden = (int)v;
        if (text_encoder_config_check(&c->damsm_text_cfg))
            return t2i_error_prefix(T2I_EARG, "%s: $.damsm.text_encoder_config", f);
        c->has_damsm = 1;
    }
    const cJSON *fid = cJSON_GetObjectItemCaseSensitive(j, "fid");
    if (!cJSON_IsNull(fid)) {
        if ((rc = jx_obj(j, f, "$", "fid", &fid))) return rc;
        if ((rc = jx_keys(fid, f, "$.fid", fk))) return rc;
        if ((rc = jx_enum(fid, f, "$.fid", "variant", fidv, &k))) return rc;
        snprintf(c->fid_variant, sizeof c->fid_variant, "%s", fidv[k]);
        if ((rc = path_key(fid, f, "$.fid", "weights", &c->fid_weights))) return rc;
        const cJSON *st = cJSON_GetObjectItemCaseSensitive(fid, "statistics");
        if (!cJSON_IsNull(st))
            if ((rc = path_key(fid, f, "$.fid", "statistics", &c->fid_stats))) return rc;
        c->has_fid = 1;
    }
    return T2I_OK;
}

static int evalcard_load_1(const char *path, EvalCard *c) {
    memset(c, 0, sizeof *c);
    uint8_t *data = NULL;
    size_t len = 0;
    int rc = t2i_read_file(path, &data, &len);
    if (rc) return rc;
    sha256_hex(data, len, c->sha256);
    cJSON *j = NULL;
    rc = jx_parse_buf(path, (const char *)data, len, &j);
    t2i_free(data);
    if (rc) return rc;
    c->path = t2i_strdup(path);
    rc = parse(j, path, c);
    cJSON_Delete(j);
    if (rc) evalcard_free(c);
    return rc;
}

int evalcard_load(const char *path, EvalCard *c) {
    t2i_error_clear();
    return t2i_error_name_file(evalcard_load_1(path, c), path);
}
