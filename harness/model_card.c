// model_card.c -- see model_card.h. Strict JSON through jsonx.h.
#include "model_card.h"
#include "jsonx.h"
#include "t2i.h"
#include "weights.h"

#include <stdio.h>
#include <string.h>

int weights_spec_is_hash(const char *spec) { return strncmp(spec, "hash:", 5) == 0; }

// Resolves `p` against base_dir (hash specs and absolute paths stay as they are).
static char *resolve(const char *base_dir, const char *p) {
    if (weights_spec_is_hash(p) || p[0] == '/' || !base_dir || !*base_dir) return t2i_strdup(p);
    size_t n = strlen(base_dir) + strlen(p) + 2;
    char *s = t2i_malloc(n);
    if (s) snprintf(s, n, "%s/%s", base_dir, p);
    return s;
}

static int get_int(const cJSON *o, const char *file, const char *path, const char *key, long lo,
                   long hi, int *out) {
    long v;
    int rc = jx_int(o, file, path, key, lo, hi, &v);
    if (!rc) *out = (int)v;
    return rc;
}

static int weights_str(const cJSON *o, const char *file, const char *path, const char *base,
                       char **out) {
    const char *s;
    int rc = jx_str(o, file, path, "weights", &s);
    if (rc) return rc;
    if (!*s) return t2i_error(T2I_EARG, "%s: %s.weights: empty", file, path);
    if (weights_spec_is_hash(s) && strcmp(s, T2I_HASH_WEIGHTS) != 0)
        return t2i_error(T2I_EARG, "%s: %s.weights: unknown hash rule '%s' (known: %s)", file,
                         path, s, T2I_HASH_WEIGHTS);
    *out = resolve(base, s);
    return *out ? T2I_OK : T2I_ENOMEM;
}

// generator.config of an AttnGAN or DM-GAN card (cfg.GAN / cfg.TEXT / cfg.TREE names) or of a
// DF-GAN card (the names of DF-GAN's cfg/*.yml).
static int parse_gen_config(const cJSON *gc, const char *file, GenConfig *cfg) {
    static const char *const gkeys[] = {"GF_DIM", "Z_DIM", "CONDITION_DIM", "EMBEDDING_DIM",
                                        "R_NUM", "BRANCH_NUM", NULL};
    static const char *const dkeys[] = {"nf", "z_dim", "cond_dim", "imsize", "ch_size", NULL};
    const char *gp = "$.generator.config";
    int rc;
    if (cfg->arch == GEN_DFGAN) {
        DfGanConfig *d = &cfg->u.dfgan;
        rc = jx_keys(gc, file, gp, dkeys);
        if (!rc) rc = get_int(gc, file, gp, "nf", 1, 4096, &d->nf);
        if (!rc) rc = get_int(gc, file, gp, "z_dim", 1, 65536, &d->z_dim);
        if (!rc) rc = get_int(gc, file, gp, "cond_dim", 0, 65536, &d->cond_dim);
        if (!rc) rc = get_int(gc, file, gp, "imsize", 8, 2048, &d->imsize);
        if (!rc) rc = get_int(gc, file, gp, "ch_size", 3, 3, &d->ch_size);   // RGB only
    } else {
        GNetConfig g = {0};   // AttnGAN and DM-GAN read the same six keys
        rc = jx_keys(gc, file, gp, gkeys);
        if (!rc) rc = get_int(gc, file, gp, "GF_DIM", 1, 4096, &g.gf_dim);
        if (!rc) rc = get_int(gc, file, gp, "Z_DIM", 0, 65536, &g.z_dim);
        if (!rc) rc = get_int(gc, file, gp, "CONDITION_DIM", 1, 65536, &g.condition_dim);
        if (!rc) rc = get_int(gc, file, gp, "EMBEDDING_DIM", 1, 65536, &g.embedding_dim);
        if (!rc) rc = get_int(gc, file, gp, "R_NUM", 1, GNET_MAX_R_NUM, &g.r_num);
        if (!rc) rc = get_int(gc, file, gp, "BRANCH_NUM", 1, 3, &g.branch_num);
        if (cfg->arch == GEN_DMGAN)
            cfg->u.dmgan = (DmGanConfig){.gf_dim = g.gf_dim, .z_dim = g.z_dim,
                                         .condition_dim = g.condition_dim,
                                         .embedding_dim = g.embedding_dim, .r_num = g.r_num,
                                         .branch_num = g.branch_num};
        else
            cfg->u.attngan = g;
    }
    if (!rc && gen_config_check(cfg)) rc = t2i_error_prefix(T2I_EARG, "%s: %s", file, gp);
    return rc;
}

static int parse(const cJSON *root, const char *file, const char *base, ModelCard *mc) {
    static const char *const top[] = {"name", "dataset", "generator", "text_encoder",
                                      "vocabulary", "WORDS_NUM", "notes", "arch", NULL};
    static const char *const net[] = {"weights", "config", NULL};
    static const char *const tcfg[] = {"ntoken", "ninput", "nhidden", NULL};
    int has_notes = cJSON_IsObject(root) && cJSON_GetObjectItemCaseSensitive(root, "notes");
    int has_arch = cJSON_IsObject(root) && cJSON_GetObjectItemCaseSensitive(root, "arch");
    // "notes" and "arch" are optional: drop them from the allowed list when absent, so that
    // jx_keys still reports every required key that is missing.
    const char *keys[9];
    int nk = 0;
    for (int i = 0; top[i]; i++)
        if ((strcmp(top[i], "notes") != 0 || has_notes) &&
            (strcmp(top[i], "arch") != 0 || has_arch))
            keys[nk++] = top[i];
    keys[nk] = NULL;
    int rc = jx_keys(root, file, "$", keys);
    const char *s;
    const cJSON *g, *gc, *t, *tc;
    if (!rc) rc = jx_str(root, file, "$", "name", &s);
    if (!rc && !(mc->name = t2i_strdup(s))) rc = T2I_ENOMEM;
    if (!rc) rc = jx_str(root, file, "$", "dataset", &s);
    if (!rc && !(mc->dataset = t2i_strdup(s))) rc = T2I_ENOMEM;
    if (!rc && has_notes) rc = jx_str(root, file, "$", "notes", &s);
    if (!rc && has_notes && !(mc->notes = t2i_strdup(s))) rc = T2I_ENOMEM;
    mc->gen_cfg.arch = GEN_ATTNGAN;   // cards written before "arch" existed
    if (!rc && has_arch) rc = jx_str(root, file, "$", "arch", &s);
    if (!rc && has_arch && gen_arch_parse(s, &mc->gen_cfg.arch))
        rc = t2i_error_prefix(T2I_EARG, "%s: $.arch", file);
    // generator
    if (!rc) rc = jx_obj(root, file, "$", "generator", &g);
    if (!rc) rc = jx_keys(g, file, "$.generator", net);
    if (!rc) rc = weights_str(g, file, "$.generator", base, &mc->gen_weights);
    if (!rc) rc = jx_obj(g, file, "$.generator", "config", &gc);
    if (!rc) rc = parse_gen_config(gc, file, &mc->gen_cfg);
    // text encoder
    if (!rc) rc = jx_obj(root, file, "$", "text_encoder", &t);
    if (!rc) rc = jx_keys(t, file, "$.text_encoder", net);
    if (!rc) rc = weights_str(t, file, "$.text_encoder", base, &mc->te_weights);
    if (!rc) rc = jx_obj(t, file, "$.text_encoder", "config", &tc);
    if (!rc) rc = jx_keys(tc, file, "$.text_encoder.config", tcfg);
    const char *tp = "$.text_encoder.config";
    if (!rc) rc = get_int(tc, file, tp, "ntoken", 1, 1 << 26, &mc->te_cfg.ntoken);
    if (!rc) rc = get_int(tc, file, tp, "ninput", 1, 1 << 20, &mc->te_cfg.ninput);
    if (!rc) rc = get_int(tc, file, tp, "nhidden", 2, 1024, &mc->te_cfg.nhidden);
    if (!rc && text_encoder_config_check(&mc->te_cfg))
        rc = t2i_error_prefix(T2I_EARG, "%s: %s", file, tp);
    if (!rc && mc->te_cfg.nhidden != gen_io(&mc->gen_cfg).emb_dim)
        rc = t2i_error(T2I_EARG,
                       "%s: $.text_encoder.config.nhidden: %d differs from the generator's "
                       "embedding width %d ($.generator.config.%s; the generator reads the "
                       "encoder's embeddings)",
                       file, mc->te_cfg.nhidden, gen_io(&mc->gen_cfg).emb_dim,
                       mc->gen_cfg.arch == GEN_DFGAN ? "cond_dim" : "EMBEDDING_DIM");
    // vocabulary, WORDS_NUM
    if (!rc) rc = jx_str(root, file, "$", "vocabulary", &s);
    if (!rc && !*s) rc = t2i_error(T2I_EARG, "%s: $.vocabulary: empty", file);
    if (!rc && weights_spec_is_hash(s))
        rc = t2i_error(T2I_EARG, "%s: $.vocabulary: must be a file, not '%s'", file, s);
    if (!rc && !(mc->vocab_path = resolve(base, s))) rc = T2I_ENOMEM;
    if (!rc) rc = get_int(root, file, "$", "WORDS_NUM", 1, 4096, &mc->words_num);
    return rc;
}

int model_card_parse(const char *json, size_t len, const char *base_dir, const char *what,
                     ModelCard *out) {
    memset(out, 0, sizeof *out);
    cJSON *root = NULL;
    const char *file = what ? what : "model card";
    int rc = jx_parse_buf(file, json, len, &root);
    if (!rc) rc = parse(root, file, base_dir, out);
    cJSON_Delete(root);
    if (rc) model_card_free(out);
    return rc;
}

static int model_card_load_1(const char *path, ModelCard *out) {
    memset(out, 0, sizeof *out);
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = t2i_read_file(path, &buf, &len);
    if (rc) return rc;
    // base dir = dirname(path)
    char *dir = t2i_strdup(path);
    if (!dir) {
        t2i_free(buf);
        return T2I_ENOMEM;
    }
    char *slash = strrchr(dir, '/');
    if (slash == dir)
        dir[1] = '\0';
    else if (slash)
        *slash = '\0';
    else
        strcpy(dir, ".");
    rc = model_card_parse((const char *)buf, len, dir, path, out);
    t2i_free(dir);
    t2i_free(buf);
    if (!rc && !(out->path = t2i_strdup(path))) {
        model_card_free(out);
        rc = T2I_ENOMEM;
    }
    return rc;
}

int model_card_load(const char *path, ModelCard *out) {
    t2i_error_clear();
    return t2i_error_name_file(model_card_load_1(path, out), path);
}

void model_card_free(ModelCard *mc) {
    if (!mc) return;
    t2i_free(mc->path);
    t2i_free(mc->name);
    t2i_free(mc->dataset);
    t2i_free(mc->notes);
    t2i_free(mc->gen_weights);
    t2i_free(mc->te_weights);
    t2i_free(mc->vocab_path);
    memset(mc, 0, sizeof *mc);
}
