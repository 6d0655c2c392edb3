// regen.c -- regenerate one stored sample (see regen.h).
#include "regen.h"

#include "arena.h"
#include "generator.h"
#include "model_card.h"
#include "protocol.h"
#include "sample_inputs.h"
#include "samples.h"
#include "suite.h"
#include "t2i.h"
#include "text_encoder.h"
#include "vocab.h"

#include <stdio.h>
#include <string.h>

struct Regen {
    Suite       S;
    Protocol    P;
    ModelCard   M;
    Vocab       v;
    TextEncoder te;
    Generator   g;
    GenIO       io;
    Arena       arena;
    int         W, E;
    int64_t    *ids;                     // (W)
    float      *words_tmp, *words_emb;   // (E, W)
    float      *sent, *z, *eps;
    uint8_t    *mask;
    float      *img[3], *att[2];
    uint8_t    *u8;
};

void regen_close(Regen *g) {
    if (!g) return;
    suite_free(&g->S);
    protocol_free(&g->P);
    model_card_free(&g->M);
    vocab_free(&g->v);
    text_encoder_free(&g->te);
    generator_free(&g->g);
    arena_free(&g->arena);
    void *b[] = {g->ids, g->words_tmp, g->words_emb, g->sent, g->z, g->eps, g->mask,
                 g->img[0], g->img[1], g->img[2], g->att[0], g->att[1], g->u8};
    for (size_t i = 0; i < sizeof b / sizeof b[0]; i++) t2i_free(b[i]);
    t2i_free(g);
}

int regen_open(Regen **out, const char *prov) {
    *out = NULL;
    Regen *g = t2i_calloc(1, sizeof *g);
    if (!g) return T2I_ENOMEM;
    char path[1024];
    int rc = run_suite_load(prov, &g->S);
    if (!rc) rc = prov_role_check(prov, "protocol", path, sizeof path);
    if (!rc) rc = protocol_load(path, &g->P);
    if (!rc && prov_role_path(prov, "model.card", path, sizeof path, NULL))
        rc = t2i_error(T2I_EARG, "the run has no model card (an eval-images run scores a folder "
                                 "of images; open the images there)");
    // The card and every file it names must be the ones the run used.
    static const char *const roles[] = {"model.card", "model.generator", "model.text_encoder",
                                        "model.vocabulary"};
    for (int i = 0; !rc && i < 4; i++) {
        char p2[1024];
        rc = prov_role_check(prov, roles[i], i ? p2 : path, sizeof path);
    }
    if (!rc) rc = model_card_load(path, &g->M);
    if (!rc && g->P.attention_mask)
        rc = t2i_error(T2I_EARG, "protocol %s uses the batch-coupled attention mask: a sample's "
                                 "image depends on its batch neighbours and cannot be drawn alone",
                       g->P.name);
    if (!rc && (rc = vocab_load(g->M.vocab_path, &g->v))) rc = t2i_error_prefix(rc, "model vocabulary");
    if (!rc && (rc = text_encoder_load(&g->te, &g->M.te_cfg, g->M.te_weights)))
        rc = t2i_error_prefix(rc, "model text encoder %s", g->M.te_weights);
    // The generator as the runner loads it (generator.h).
    if (!rc && (rc = generator_load(&g->g, &g->M.gen_cfg, g->M.gen_weights)))
        rc = t2i_error_prefix(rc, "model card %s", path);
    if (!rc) g->io = gen_io(&g->g.cfg);
    if (!rc && g->io.img_size != 256)
        rc = t2i_error(T2I_EARG, "model card %s: the generator makes %d px images, runs use 256",
                       path, g->io.img_size);
    if (rc) {
        regen_close(g);
        return rc;
    }
    int W = g->W = g->S.words_num, E = g->E = g->te.cfg.nhidden;
    const GenIO *c = &g->io;
    g->ids = t2i_calloc((size_t)W, sizeof(int64_t));
    g->words_tmp = t2i_calloc((size_t)E * W, sizeof(float));
    g->words_emb = t2i_calloc((size_t)E * W, sizeof(float));
    g->sent = t2i_calloc((size_t)E, sizeof(float));
    g->z = t2i_calloc((size_t)c->z_dim, sizeof(float));
    g->eps = t2i_calloc((size_t)(c->eps_dim > 0 ? c->eps_dim : 1), sizeof(float));
    g->mask = t2i_calloc((size_t)W, 1);
    g->u8 = t2i_calloc((size_t)256 * 256 * 3, 1);
    int ok = g->ids && g->words_tmp && g->words_emb && g->sent && g->z && g->eps && g->mask && g->u8;
    for (int s = 0; s < 3; s++) ok = ok && (g->img[s] = t2i_calloc((size_t)3 * (64 << s) * (64 << s), sizeof(float)));
    for (int s = 1; s < 3; s++) ok = ok && (g->att[s - 1] = t2i_calloc((size_t)W * (32 << s) * (32 << s), sizeof(float)));
    size_t a = generator_arena_bytes(&g->g, 1, W), b = text_encoder_arena_bytes(&g->te, 1, W);
    if (!ok || arena_init(&g->arena, (a > b ? a : b) + 4096)) {
        regen_close(g);
        return t2i_error(T2I_ENOMEM, "out of memory");
    }
    *out = g;
    return T2I_OK;
}

int regen_sample(Regen *g, int64_t id, const char *stored_sha, RegenSample *s) {
    memset(s, 0, sizeof *s);
    if (id < 0 || id >= g->S.n)
        return t2i_error(T2I_EARG, "sample %lld is not in suite %s (samples 0..%lld)",
                         (long long)id, g->S.path, (long long)g->S.n - 1);
    const SuiteSample *x = &g->S.s[id];
    int W = g->W, len = 0;
    memset(g->ids, 0, sizeof(int64_t) * (size_t)W);
    int rc = sample_word_ids(&g->S, &g->v, x, g->ids, &len, "model");
    if (!rc) rc = sample_encode(&g->te, g->ids, len, W, g->words_tmp, g->words_emb, g->sent,
                                g->mask, &g->arena);
    if (rc) return rc;
    sample_noise(&g->P, x, g->io.z_dim, g->io.eps_dim, g->z, g->eps);
    GenInputs in = {.z = g->z, .sent_emb = g->sent, .words_emb = g->words_emb, .mask = g->mask,
                    .eps = g->eps, .mask_mode = ATT_MASK_PER_SAMPLE};
    GenOutputs o;
    memset(&o, 0, sizeof o);
    o.img = g->img[2];
    for (int k = 0; k + 1 < g->io.n_stages && k < 2; k++) o.stage_img[k] = g->img[k];
    for (int k = 0; k < g->io.n_att && k < 2; k++) o.att[k] = g->att[k];
    if ((rc = generator_forward(&g->g, &in, &o, 1, W, &g->arena))) return rc;
    sample_image_bytes(&g->P, g->img[2], 256, g->u8, NULL, s->sha256);
    s->sample = id;
    s->W = W;
    s->len = len;
    s->class_id = x->class_id;
    snprintf(s->caption, sizeof s->caption, "%s", x->caption);
    for (int t = 0; t < len && t < REGEN_MAX_WORDS; t++) {
        int64_t w = g->ids[t];
        snprintf(s->words[t], sizeof s->words[t], "%s",
                 w >= 0 && w < g->v.n_words ? g->v.ixtoword[w] : "?");
    }
    // Stage images and attention maps only where the architecture has them (DF-GAN: none).
    s->img[2] = g->img[2];
    for (int k = 0; k + 1 < g->io.n_stages && k < 2; k++) s->img[k] = g->img[k];
    for (int k = 0; k < g->io.n_att && k < 2; k++) s->att[k] = g->att[k];
    s->u8 = g->u8;
    s->ids = g->ids;
    s->mask = g->mask;
    s->words_emb = g->words_emb;
    s->sent_emb = g->sent;
    s->z = g->z;
    s->eps = g->eps;
    s->E = g->E;
    s->z_dim = g->io.z_dim;
    s->eps_dim = g->io.eps_dim > 0 ? g->io.eps_dim : 0;
    if (stored_sha && stored_sha[0] && strcmp(stored_sha, s->sha256) != 0)
        return t2i_error(T2I_EFORMAT, "sample %lld regenerated with hash %s but the run stored %s: "
                                      "this build or BLAS core computes different bytes than the "
                                      "one that made the run (compare `t2ibench version` with "
                                      "`t2ibench show RUN`)",
                         (long long)id, s->sha256, stored_sha);
    return T2I_OK;
}
