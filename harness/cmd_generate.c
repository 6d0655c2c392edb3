// cmd_generate.c -- `t2ibench generate --model CARD --caption "..."`: the original main.py
// gen_example for one caption: tokenise (no WORDS_NUM truncation, as gen_example), encode with
// the DAMSM text encoder, run the card's generator (generator.h) with noise from the
// counter-based RNG (seed, sample 0) -- z ~ N(0,1) and CA eps for AttnGAN and DM-GAN, DF-GAN's
// truncated normal in [-2, 2] x 0.88 (its sample.py) -- and write the stage images as PNG
// (the repositories' uint8 conversion: ((x + 1) * 127.5).astype(uint8)). With --attention, one PNG per word and attention stage:
// the stage's image darkened where the word gets little attention (map min-max normalised,
// nearest-upsampled), a plain-C stand-in for the original's build_super_images2 overlays.
//
// `t2ibench generate --run RUN --sample ID [--out DIR] [--attention] [--tensors]` draws a stored
// sample of a run again (harness/regen.h) and checks its SHA-256 against the stored image hash;
// --tensors also writes DIR/tensors.npz: the generator's inputs as the runner prepared them and
// its float images, for comparison with a PyTorch run of the original code
// (tools/make_runner_oracle.py, tests/test_runner_oracle.c).
#include "args.h"
#include "generator.h"
#include "cli.h"
#include "image_io.h"
#include "model_card.h"
#include "npz.h"
#include "regen.h"
#include "resize.h"
#include "samples.h"
#include "rng.h"
#include "t2i.h"
#include "text_encoder.h"
#include "tokenizer.h"
#include "vocab.h"

#include <stdio.h>
#include <string.h>

#define GENERATE_MAX_WORDS 256    // AttnGAN trained on at most 18 (CUB) / 12 (COCO) words
#define GENERATE_MAX_CHARS 16384

static int write_image(const char *dir, const char *name, const float *chw, int px,
                       uint8_t *rgb) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    chw_pm1_to_hwc_u8(rgb, chw, px, px, QUANTIZE_TRUNCATE);
    int rc = png_write_rgb(path, rgb, px, px);
    if (!rc) printf("%s\n", path);
    return rc;
}

// Image of size px darkened by the normalised map att (R x R, R divides px).
static int write_attention(const char *dir, int stage, int t, const char *word, const float *img,
                           const float *att, int R, int px, uint8_t *rgb) {
    float mn = att[0], mx = att[0];
    for (int i = 1; i < R * R; i++) {
        if (att[i] < mn) mn = att[i];
        if (att[i] > mx) mx = att[i];
    }
    float range = mx > mn ? mx - mn : 1.0f;
    chw_pm1_to_hwc_u8(rgb, img, px, px, QUANTIZE_TRUNCATE);
    int f = px / R;
    for (int y = 0; y < px; y++)
        for (int x = 0; x < px; x++) {
            float a = (att[(y / f) * R + x / f] - mn) / range;
            for (int c = 0; c < 3; c++) {
                uint8_t *p = rgb + ((size_t)y * px + x) * 3 + c;
                *p = (uint8_t)((float)*p * (0.15f + 0.85f * a));
            }
        }
    char path[4096], clean[64];
    size_t k = 0;
    for (const char *s = word; *s && k + 1 < sizeof clean; s++)
        clean[k++] = ((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9')) ? *s : '_';
    clean[k] = '\0';
    snprintf(path, sizeof path, "%s/att%d_w%02d_%s.png", dir, stage, t, clean);
    int rc = png_write_rgb(path, rgb, px, px);
    if (!rc) printf("%s\n", path);
    return rc;
}

// The stage images and attention maps of one regenerated sample into dir.
static int write_sample(const char *dir, const RegenSample *x, int want_att) {
    uint8_t *rgb = t2i_malloc(256 * 256 * 3);
    if (!rgb) return T2I_ENOMEM;
    int rc = dir_make(dir);
    for (int s = 0; !rc && s < 2 && x->img[s]; s++) {   // stages: AttnGAN, DM-GAN
        char name[64];
        snprintf(name, sizeof name, "g%d_%d.png", s, 64 << s);
        rc = write_image(dir, name, x->img[s], 64 << s, rgb);
    }
    if (!rc) {   // the 256 px image: exactly the bytes the run hashed
        char path[4096];
        snprintf(path, sizeof path, "%s/g2_256.png", dir);
        rc = png_write_rgb(path, x->u8, 256, 256);
        if (!rc) printf("%s\n", path);
    }
    for (int s = 1; !rc && want_att && s < 3 && x->att[s - 1]; s++)
        for (int t = 0; !rc && t < x->len; t++)
            rc = write_attention(dir, s, t, x->words[t], x->img[s],
                                 x->att[s - 1] + (size_t)t * (32 << s) * (32 << s), 32 << s,
                                 64 << s, rgb);
    t2i_free(rgb);
    return rc;
}

// Appends array `name`, a header over caller-owned data, to a[*n] / names[*n]; the shape ends
// at the first 0 (d0 is always used).
static void add_view(NpyArray *arrays, const char **names, int *n, const char *name, DType dt,
                     const void *data, int64_t d0, int64_t d1, int64_t d2, int64_t d3) {
    const int64_t d[4] = {d0, d1, d2, d3};
    NpyArray *a = &arrays[*n];
    names[(*n)++] = name;
    memset(a, 0, sizeof *a);
    a->dtype = dt;
    a->numel = 1;
    for (int i = 0; i < 4 && (i == 0 || d[i] > 0); i++) {
        a->shape[a->ndim++] = d[i];
        a->numel *= (size_t)d[i];
    }
    a->data = (void *)data;
}

// DIR/tensors.npz of one regenerated sample, with the original code's names and batch-1 shapes:
// captions (1,W) int64 (0 = padding), cap_lens (1), mask (1,W) int64 (1 = padding, the
// original's `captions == 0`), words_emb (1,E,W), sent_emb (1,E), z (1,z_dim), eps (1,eps_dim)
// when the generator has CA_NET, fake_img_64/128/256 (1,3,px,px) float32 in [-1,1].
static int write_tensors(const char *dir, const RegenSample *x) {
    int W = x->W;
    int64_t *cl = t2i_malloc(sizeof(int64_t) * (size_t)(2 * W + 1));
    if (!cl) return T2I_ENOMEM;
    int64_t *caps = cl, *mask = cl + W, *len = cl + 2 * W;
    for (int t = 0; t < W; t++) {
        caps[t] = x->ids[t];
        mask[t] = x->mask[t];
    }
    *len = x->len;
    NpyArray a[10];
    const char *names[10];
    int n = 0;
    int64_t E = x->E;
    add_view(a, names, &n, "captions", DT_I64, caps, 1, W, 0, 0);
    add_view(a, names, &n, "cap_lens", DT_I64, len, 1, 0, 0, 0);
    add_view(a, names, &n, "mask", DT_I64, mask, 1, W, 0, 0);
    add_view(a, names, &n, "words_emb", DT_F32, x->words_emb, 1, E, W, 0);
    add_view(a, names, &n, "sent_emb", DT_F32, x->sent_emb, 1, E, 0, 0);
    add_view(a, names, &n, "z", DT_F32, x->z, 1, x->z_dim, 0, 0);
    if (x->eps_dim > 0) add_view(a, names, &n, "eps", DT_F32, x->eps, 1, x->eps_dim, 0, 0);
    static const char *const img_names[3] = {"fake_img_64", "fake_img_128", "fake_img_256"};
    for (int s = 0; s < 3; s++)
        if (x->img[s])
            add_view(a, names, &n, img_names[s], DT_F32, x->img[s], 1, 3, 64 << s, 64 << s);
    char path[4096];
    snprintf(path, sizeof path, "%s/tensors.npz", dir);
    int rc = npz_save(path, n, names, a);
    if (!rc) printf("%s\n", path);
    t2i_free(cl);
    return rc;
}

static int generate_from_run(const char *db_path, const char *run_arg, long sample,
                             const char *out, int want_att, int want_tensors) {
    Db d;
    ResRun r;
    char stored[65];
    int rc = run_open(db_path, 1, run_arg, &d, &r);
    if (rc) return rc;
    rc = run_sample_sha(&d, r.id, sample, stored);
    db_close(&d);
    Regen *g = NULL;
    RegenSample x;
    if (!rc) rc = regen_open(&g, r.provenance);
    if (!rc) rc = regen_sample(g, sample, stored, &x);
    if (!rc) {
        char dir[4096];
        snprintf(dir, sizeof dir, "%s", out ? out : "");
        if (!out) snprintf(dir, sizeof dir, "results/generate/run%lld_sample%ld", (long long)r.id, sample);
        rc = write_sample(dir, &x, want_att);
        if (!rc && want_tensors) rc = write_tensors(dir, &x);
        if (!rc)
            fprintf(stderr, "t2ibench generate: run %lld sample %ld \"%s\": sha256 %s matches the "
                            "stored image hash\n",
                    (long long)r.id, sample, x.caption, x.sha256);
    }
    regen_close(g);
    res_free(&r);
    return rc;
}

int cmd_generate(int argc, char **argv) {
    static const char usage[] =
        "t2ibench generate --model CARD --caption TEXT [--seed N] [--out DIR] [--attention]\n"
        "       t2ibench generate --run RUN --sample ID [--db FILE] [--out DIR] [--attention]\n"
        "                         [--tensors]";
    Args a;
    if (args_init(&a, argc, argv)) return cli_usage("generate", usage);
    if (args_flag(&a, "--help")) {
        printf("usage: %s\nWrites the images of one caption as PNG (default --out "
               "results/generate, --seed 0):\nAttnGAN and DM-GAN cards give 64/128/256 px "
               "stages, DF-GAN cards one 256 px image;\n--attention adds one map per word and "
               "attention (memory) stage.\nWith --run, draws stored sample ID of a run again (same "
               "caption, word subset and noise)\nand checks its SHA-256 against the stored image "
               "hash (a mismatch is an error naming both). --tensors also writes tensors.npz: the\n"
               "generator's inputs as the run prepared them (captions, cap_lens, mask, words_emb,\n"
               "sent_emb, z, eps) and its float images (fake_img_64/128/256), named and shaped as\n"
               "in the original code at batch size 1.\n", usage);
        return EXIT_OK;
    }
    const char *run_arg = args_str(&a, "--run", NULL);
    if (run_arg) {
        long sample = args_long(&a, "--sample", -1);
        const char *dbp = args_str(&a, "--db", "results/t2ibench.db");
        const char *o = args_str(&a, "--out", NULL);
        int att = args_flag(&a, "--attention");
        int tens = args_flag(&a, "--tensors");
        char *rest[1];
        int64_t rid;
        if (args_rest(&a, rest, 1) != 0 || sample < 0 || res_run_arg(run_arg, &rid)) {
            if (sample < 0) t2i_error(T2I_EARG, "--run needs --sample ID (a sample id >= 0)");
            return cli_usage("generate", usage);
        }
        int rc = generate_from_run(dbp, run_arg, sample, o, att, tens);
        return rc ? cli_fail("generate", rc) : EXIT_OK;
    }
    const char *card_path = args_str(&a, "--model", NULL);
    const char *caption = args_str(&a, "--caption", NULL);
    const char *out = args_str(&a, "--out", "results/generate");
    long seed = args_long(&a, "--seed", 0);
    int want_att = args_flag(&a, "--attention");
    char *rest[1];
    if (args_rest(&a, rest, 1) != 0) return cli_usage("generate", usage);
    if (!card_path || !caption || seed < 0) {
        t2i_error(T2I_EARG, "%s",
                  seed < 0 ? "--seed must be >= 0" : "--model and --caption are required");
        return cli_usage("generate", usage);
    }

    ModelCard mc;
    Vocab v;
    TextEncoder te;
    Generator g;
    memset(&g, 0, sizeof g);
    TokenBatch tb;
    Arena arena;
    memset(&v, 0, sizeof v);
    memset(&te, 0, sizeof te);
    memset(&tb, 0, sizeof tb);
    memset(&arena, 0, sizeof arena);
    float *buf = NULL;
    uint8_t *rgb = NULL;
    int rc = model_card_load(card_path, &mc);
    if (rc) return cli_fail("generate", rc);
    rc = vocab_load(mc.vocab_path, &v);
    if (!rc && v.n_words > mc.te_cfg.ntoken)
        rc = t2i_error(T2I_EFORMAT, "%s: $.text_encoder.config.ntoken %d is smaller than the %d "
                                    "words of the vocabulary %s", card_path, mc.te_cfg.ntoken,
                       v.n_words, mc.vocab_path);
    // No truncation (as gen_example), but a cap: memory and time grow with the word count
    // (20,000 words took 3 GB).
    if (!rc && strlen(caption) > GENERATE_MAX_CHARS)
        rc = t2i_error(T2I_EARG, "--caption: %zu characters; at most %d", strlen(caption),
                       GENERATE_MAX_CHARS);
    if (!rc) rc = token_batch_build(&v, &caption, 1, 0, TRUNC_HEAD, NULL, 0, &tb);
    if (!rc && tb.max_len > GENERATE_MAX_WORDS)
        rc = t2i_error(T2I_EARG, "--caption: %d words in the model vocabulary; at most %d (the "
                                 "attention maps grow with the word count)",
                       tb.max_len, GENERATE_MAX_WORDS);
    if (!rc) rc = text_encoder_load(&te, &mc.te_cfg, mc.te_weights);
    if (!rc) rc = generator_load(&g, &mc.gen_cfg, mc.gen_weights);
    if (!rc && g.note[0]) fprintf(stderr, "t2ibench generate: %s\n", g.note);
    GenIO io = gen_io(&mc.gen_cfg);
    int T = rc ? 0 : tb.max_len, E = mc.te_cfg.nhidden, nb = io.n_stages;
    size_t n_img = 0, n_att = 0;
    for (int s = 0; s < nb; s++) {
        int px = s == nb - 1 ? io.img_size : 64 << s;
        n_img += (size_t)3 * px * px;
        if (s > 0) n_att += (size_t)T * (32 << s) * (32 << s);
    }
    size_t n_buf = (size_t)E * T + E + io.z_dim + io.eps_dim + n_img + n_att;
    if (!rc) {
        size_t need = text_encoder_arena_bytes(&te, 1, T);
        size_t gneed = generator_arena_bytes(&g, 1, T);
        rc = arena_init(&arena, need > gneed ? need : gneed);
    }
    if (!rc && (!(buf = t2i_malloc(sizeof(float) * n_buf)) || !(rgb = t2i_malloc((size_t)3 * io.img_size * io.img_size))))
        rc = T2I_ENOMEM;
    if (!rc) {
        float *words = buf, *sent = words + (size_t)E * T, *z = sent + E, *eps = z + io.z_dim;
        float *p = eps + io.eps_dim, *img[3] = {0};
        GenOutputs o;
        memset(&o, 0, sizeof o);
        for (int s = 0; s < nb; s++) {
            int px = s == nb - 1 ? io.img_size : 64 << s;
            img[s] = p;
            p += (size_t)3 * px * px;
        }
        o.img = img[nb - 1];
        for (int s = 0; s + 1 < nb; s++) o.stage_img[s] = img[s];
        for (int s = 1; s < nb; s++) {
            o.att[s - 1] = p;
            p += (size_t)T * (32 << s) * (32 << s);
        }
        int Tw = 0;
        rc = text_encoder_forward(&te, tb.ids, tb.lens, 1, T, words, sent, &Tw, &arena);
        Rng rz, re;
        rng_init(&rz, (uint64_t)seed, 0, RNG_STREAM_Z);
        rng_init(&re, (uint64_t)seed, 0, RNG_STREAM_EPS);
        int trunc = mc.gen_cfg.arch == GEN_DFGAN;
        for (int i = 0; i < io.z_dim; i++) {
            double x = rng_normal(&rz);
            while (trunc && (x < -2.0 || x > 2.0)) x = rng_normal(&rz);
            z[i] = trunc ? (float)x * 0.88f : (float)x;
        }
        for (int i = 0; i < io.eps_dim; i++) eps[i] = (float)rng_normal(&re);
        GenInputs in = {z, sent, words, NULL, eps, ATT_MASK_PER_SAMPLE};   // no padding at B=1
        if (!rc) rc = generator_forward(&g, &in, &o, 1, T, &arena);
        if (!rc) rc = dir_make(out);
        for (int s = 0; !rc && s < nb; s++) {
            char name[64];
            int px = s == nb - 1 ? io.img_size : 64 << s;
            snprintf(name, sizeof name, "g%d_%d.png", s, px);
            rc = write_image(out, name, img[s], px, rgb);
        }
        for (int s = 1; !rc && want_att && s < nb; s++)
            for (int t = 0; !rc && t < T; t++) {
                int64_t id = tb.ids[t];
                const char *w = id >= 0 && id < v.n_words ? v.ixtoword[id] : "?";
                // as gen_example: stage s's map over the image it conditions (64 << s px)
                rc = write_attention(out, s, t, w, img[s],
                                     o.att[s - 1] + (size_t)t * (32 << s) * (32 << s), 32 << s,
                                     64 << s, rgb);
            }
    }
    t2i_free(buf);
    t2i_free(rgb);
    arena_free(&arena);
    generator_free(&g);
    text_encoder_free(&te);
    token_batch_free(&tb);
    vocab_free(&v);
    model_card_free(&mc);
    return rc ? cli_fail("generate", rc) : EXIT_OK;
}
