// text_encoder.c -- see text_encoder.h.
#include "text_encoder.h"
#include "ops.h"
#include "t2i.h"
#include "weights.h"

#include <string.h>

TextEncoderConfig text_encoder_config_bird(void) {
    return (TextEncoderConfig){.ntoken = 5450, .ninput = 300, .nhidden = 256};
}

TextEncoderConfig text_encoder_config_coco(void) {
    return (TextEncoderConfig){.ntoken = 27297, .ninput = 300, .nhidden = 256};
}

int text_encoder_config_check(const TextEncoderConfig *cfg) {
    if (cfg->ntoken < 1 || cfg->ninput < 1 || cfg->nhidden < 2 || cfg->nhidden % 2 ||
        cfg->nhidden > 1024 || cfg->ninput > (1 << 20) || cfg->ntoken > (1 << 26))
        return t2i_error(T2I_EARG,
                         "text encoder config: need ntoken >= 1, ninput >= 1 and an even "
                         "nhidden in [2, 1024] (got ntoken %d, ninput %d, nhidden %d)",
                         cfg->ntoken, cfg->ninput, cfg->nhidden);
    return T2I_OK;
}

static void keys_dir(BindList *bl, LSTMDir *d, int I, int H, const char *sfx) {
    int wih[2] = {4 * H, I}, whh[2] = {4 * H, H}, b[1] = {4 * H};
    d->I = I;
    d->H = H;
    bind_param(bl, (float **)&d->w_ih, 2, wih, "rnn.weight_ih_l0%s", sfx);
    bind_param(bl, (float **)&d->w_hh, 2, whh, "rnn.weight_hh_l0%s", sfx);
    bind_param(bl, (float **)&d->b_ih, 1, b, "rnn.bias_ih_l0%s", sfx);
    bind_param(bl, (float **)&d->b_hh, 1, b, "rnn.bias_hh_l0%s", sfx);
}

void text_encoder_keys(TextEncoder *te, const TextEncoderConfig *cfg, BindList *bl) {
    int H = cfg->nhidden / 2;
    int enc[2] = {cfg->ntoken, cfg->ninput};
    te->cfg = *cfg;
    bind_param(bl, (float **)&te->encoder, 2, enc, "encoder.weight");
    keys_dir(bl, &te->rnn.fwd, cfg->ninput, H, "");
    keys_dir(bl, &te->rnn.bwd, cfg->ninput, H, "_reverse");
}

int text_encoder_load_sd(TextEncoder *te, const TextEncoderConfig *cfg, StateDict *sd) {
    memset(te, 0, sizeof *te);
    te->sd = *sd;
    memset(sd, 0, sizeof *sd);
    int rc = text_encoder_config_check(cfg);
    if (rc) {
        text_encoder_free(te);
        return rc;
    }
    BindList bl;
    bindlist_init(&bl);
    text_encoder_keys(te, cfg, &bl);
    rc = sd_bind(&te->sd, &bl, NULL, "RNN_ENCODER");
    bindlist_free(&bl);
    if (rc) text_encoder_free(te);
    return rc;
}

int text_encoder_load(TextEncoder *te, const TextEncoderConfig *cfg, const char *spec) {
    memset(te, 0, sizeof *te);
    int rc = text_encoder_config_check(cfg);
    if (rc) return rc;
    TextEncoder tmp;
    memset(&tmp, 0, sizeof tmp);
    BindList bl;
    bindlist_init(&bl);
    text_encoder_keys(&tmp, cfg, &bl);   // only the key list is needed here
    StateDict sd;
    sd_init(&sd);
    rc = weights_load(spec, &bl, &sd);
    bindlist_free(&bl);
    if (rc) {
        sd_free(&sd);
        return t2i_error_prefix(rc, "text encoder weights %s", spec);
    }
    rc = text_encoder_load_sd(te, cfg, &sd);
    if (rc) return t2i_error_prefix(rc, "text encoder weights %s", spec);
    return T2I_OK;
}

void text_encoder_free(TextEncoder *te) {
    if (!te) return;
    sd_free(&te->sd);
    memset(te, 0, sizeof *te);
}

// ---- forward ------------------------------------------------------------------------------

typedef struct {
    float *emb;       // (B, T, ninput)
    float *out;       // (B, T, nhidden)
    float *hn;        // (B, nhidden)
    float *scratch;   // bilstm scratch
    int   *lens;      // (B)
} TeBufs;

static void te_alloc(const TextEncoder *te, int B, int T, Arena *a, TeBufs *t) {
    size_t BT = (size_t)B * T;
    t->emb = arena_floats(a, BT * te->cfg.ninput);
    t->out = arena_floats(a, BT * te->cfg.nhidden);
    t->hn = arena_floats(a, (size_t)B * te->cfg.nhidden);
    t->scratch = arena_floats(a, bilstm_scratch_floats(&te->rnn, B, T));
    t->lens = arena_alloc(a, sizeof(int) * (size_t)B);
}

size_t text_encoder_arena_bytes(const TextEncoder *te, int B, int T) {
    Arena a;
    TeBufs t;
    arena_init_measure(&a);
    te_alloc(te, B, T, &a, &t);
    return a.high + 64;
}

int text_encoder_forward(const TextEncoder *te, const int64_t *captions, const int *cap_lens,
                         int B, int T, float *words_emb, float *sent_emb, int *Tw_out,
                         Arena *arena) {
    if (B < 1 || T < 1) return t2i_error(T2I_EARG, "text encoder: batch %d x %d words", B, T);
    int Tw = 0;
    for (int b = 0; b < B; b++) {
        if (cap_lens[b] < 1 || cap_lens[b] > T)
            return t2i_error(T2I_EARG, "text encoder: caption %d has length %d (need 1..%d)", b,
                             cap_lens[b], T);
        if (cap_lens[b] > Tw) Tw = cap_lens[b];
    }
    size_t mark = arena_mark(arena);
    TeBufs t;
    te_alloc(te, B, T, arena, &t);
    const int E = te->cfg.ninput, NH = te->cfg.nhidden;
    int rc = embedding_forward(t.emb, captions, (size_t)B * T, te->encoder, te->cfg.ntoken, E);
    if (rc) {
        arena_reset_to(arena, mark);
        return t2i_error_prefix(rc, "text encoder");
    }
    memcpy(t.lens, cap_lens, sizeof(int) * (size_t)B);
    bilstm_forward(t.out, t.hn, t.emb, t.lens, &te->rnn, B, T, t.scratch);
    if (words_emb) {
        // (B,T,NH) -> (B,NH,Tw); the LSTM output is already zero at t >= len
        for (int b = 0; b < B; b++)
            for (int c = 0; c < NH; c++) {
                float *dst = words_emb + ((size_t)b * NH + c) * Tw;
                const float *src = t.out + (size_t)b * T * NH + c;
                for (int s = 0; s < Tw; s++) dst[s] = src[(size_t)s * NH];
            }
    }
    if (sent_emb) memcpy(sent_emb, t.hn, sizeof(float) * (size_t)B * NH);
    if (Tw_out) *Tw_out = Tw;
    arena_reset_to(arena, mark);
    return T2I_OK;
}
