// cmd_verify.c -- `t2ibench verify FIXTURE_DIR... [--out DIR]`: runs oracle fixtures and prints
// one line per output (max abs error, tolerance, PASS/FAIL).
//
// Handled here: RNN_ENCODER (text_encoder), the generators through generator.h (AttnGAN G_NET
// generator_r*, DM-GAN generator_dmgan, DF-GAN NetG generator_dfgan with its text encoder;
// batch-coupled attention mask, as the original code that produced them), and the vocab_pickle
// tokenisation case. Every
// weight file the manifest lists is loaded and run in turn (zip, legacy, legacy py2 .pth).
// Inception-based cases go to verify_inception_case (harness/verify.h).
#include "args.h"
#include "generator.h"
#include "cli.h"
#include "npy.h"
#include "t2i.h"
#include "text_encoder.h"
#include "tokenizer.h"
#include "verify.h"
#include "vocab.h"
#include "weights.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

typedef struct {
    const char *dir;
    const char *out_dir;   // DIR/<case> or NULL
    cJSON      *root;
    const char *case_name;
    int        *failures;
    int         wrote;     // outputs already written (first weight file only)
} Fixture;

// ---- helpers ------------------------------------------------------------------------------

static const cJSON *tensor_entry(const Fixture *f, const char *name) {
    const cJSON *ts = cJSON_GetObjectItemCaseSensitive(f->root, "tensors");
    const cJSON *t;
    cJSON_ArrayForEach(t, ts) {
        const cJSON *n = cJSON_GetObjectItemCaseSensitive(t, "name");
        if (cJSON_IsString(n) && strcmp(n->valuestring, name) == 0) return t;
    }
    return NULL;
}

// Loads tensor `name` of the manifest as float32 (ints converted exactly) and checks its shape.
static int load_tensor(const Fixture *f, const char *name, NpyArray *out) {
    memset(out, 0, sizeof *out);
    const cJSON *t = tensor_entry(f, name);
    const cJSON *file = t ? cJSON_GetObjectItemCaseSensitive(t, "file") : NULL;
    if (!cJSON_IsString(file))
        return t2i_error(T2I_EFORMAT, "%s/manifest.json: no tensor '%s'", f->dir, name);
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", f->dir, file->valuestring);
    int rc = npy_load_f32(path, out);
    if (rc) return rc;
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(t, "shape");
    int nd = cJSON_GetArraySize(shape), ok = nd == out->ndim;
    for (int i = 0; ok && i < nd; i++)
        ok = (int64_t)cJSON_GetArrayItem(shape, i)->valuedouble == out->shape[i];
    if (!ok) {
        npy_free(out);
        return t2i_error(T2I_ESHAPE, "%s: shape differs from the manifest", path);
    }
    return T2I_OK;
}

static double suggested_atol(const Fixture *f, const char *name) {
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(f->root, "f32_vs_f64");
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(d, name);
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(e, "suggested_atol");
    return cJSON_IsNumber(a) ? a->valuedouble : 0.0;
}

static int ensure_dir(const char *path) {
    if (mkdir(path, 0777) == 0 || errno == EEXIST) return T2I_OK;
    return t2i_error(T2I_EIO, "%s: cannot create directory: %s", path, strerror(errno));
}

// Compares `n` computed floats with the fixture output `name` (shape `shape`), prints the
// line, counts a failure, and writes NAME.npy to out_dir (first weight file only).
static int compare_output(Fixture *f, const char *label, const char *name, const float *x,
                          int ndim, const int64_t *shape) {
    NpyArray ref;
    int rc = load_tensor(f, name, &ref);
    if (rc) return rc;
    int ok = ndim == ref.ndim;
    for (int i = 0; ok && i < ndim; i++) ok = shape[i] == ref.shape[i];
    double atol = suggested_atol(f, name), max_err = 0;
    if (ok) {
        const float *r = ref.data;
        for (size_t i = 0; i < ref.numel; i++) {
            double d = fabs((double)x[i] - (double)r[i]);
            if (isnan(d)) d = INFINITY;
            if (d > max_err) max_err = d;
        }
    } else {
        max_err = INFINITY;
    }
    int pass = ok && max_err <= atol;
    printf("  %-22s %-28s max_abs_err %.3e  tol %.0e  %s%s\n", label, name, max_err, atol,
           pass ? "PASS" : "FAIL", ok ? "" : " (shape mismatch)");
    if (!pass) (*f->failures)++;
    if (f->out_dir && !f->wrote) {
        const cJSON *t = tensor_entry(f, name);
        const char *file = cJSON_GetObjectItemCaseSensitive(t, "file")->valuestring;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", f->out_dir, file);
        rc = npy_save(path, DT_F32, ndim, shape, x);
    }
    npy_free(&ref);
    return rc;
}

static int cfg_int(const cJSON *obj, const char *key, const char *dir, int *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!cJSON_IsNumber(v))
        return t2i_error(T2I_EFORMAT, "%s/manifest.json: config.%s missing", dir, key);
    *out = (int)v->valuedouble;
    return T2I_OK;
}

// Weight specs of the manifest: every "weight-file" entry, or the hash spec when none.
static int weight_files(const Fixture *f, const char **files, int max) {
    int n = 0;
    const cJSON *wf = cJSON_GetObjectItemCaseSensitive(f->root, "weight_files"), *w;
    cJSON_ArrayForEach(w, wf) {
        const cJSON *role = cJSON_GetObjectItemCaseSensitive(w, "role");
        const cJSON *file = cJSON_GetObjectItemCaseSensitive(w, "file");
        if (cJSON_IsString(role) && strcmp(role->valuestring, "weight-file") == 0 &&
            cJSON_IsString(file) && n < max)
            files[n++] = file->valuestring;
    }
    return n;
}

static void weight_path(const Fixture *f, const char *file, char *buf, size_t n) {
    if (strncmp(file, "hash:", 5) == 0)
        snprintf(buf, n, "%s", file);
    else
        snprintf(buf, n, "%s/%s", f->dir, file);
}

// ---- RNN_ENCODER --------------------------------------------------------------------------

static int run_text_encoder(Fixture *f) {
    const cJSON *ctor = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(f->root, "config"), "ctor");
    TextEncoderConfig cfg;
    int rc = cfg_int(ctor, "ntoken", f->dir, &cfg.ntoken);
    if (!rc) rc = cfg_int(ctor, "ninput", f->dir, &cfg.ninput);
    if (!rc) rc = cfg_int(ctor, "nhidden", f->dir, &cfg.nhidden);
    if (rc) return rc;
    NpyArray cap = {0}, lens = {0};
    rc = load_tensor(f, "captions", &cap);
    if (!rc) rc = load_tensor(f, "cap_lens", &lens);
    const char *files[8];
    int nf = weight_files(f, files, 8);
    int B = (int)cap.shape[0], T = (int)cap.shape[1], NH = cfg.nhidden;
    int64_t *ids = NULL;
    int *ln = NULL;
    float *we = NULL, *se = NULL;
    if (!rc) {
        ids = t2i_malloc(sizeof(int64_t) * cap.numel);
        ln = t2i_malloc(sizeof(int) * (size_t)B);
        we = t2i_malloc(sizeof(float) * (size_t)B * NH * T);
        se = t2i_malloc(sizeof(float) * (size_t)B * NH);
        if (!ids || !ln || !we || !se) rc = T2I_ENOMEM;
    }
    if (!rc) {
        for (size_t i = 0; i < cap.numel; i++) ids[i] = (int64_t)((float *)cap.data)[i];
        for (int b = 0; b < B; b++) ln[b] = (int)((float *)lens.data)[b];
    }
    for (int w = 0; !rc && w < nf; w++) {
        char spec[4096];
        weight_path(f, files[w], spec, sizeof spec);
        TextEncoder te;
        rc = text_encoder_load(&te, &cfg, spec);
        if (rc) break;
        Arena a;
        rc = arena_init(&a, text_encoder_arena_bytes(&te, B, T));
        int Tw = 0;
        if (!rc) rc = text_encoder_forward(&te, ids, ln, B, T, we, se, &Tw, &a);
        if (!rc) {
            int64_t ws[3] = {B, NH, Tw}, ss[2] = {B, NH};
            rc = compare_output(f, files[w], "words_emb", we, 3, ws);
            if (!rc) rc = compare_output(f, files[w], "sent_emb", se, 2, ss);
            f->wrote = 1;
        }
        arena_free(&a);
        text_encoder_free(&te);
    }
    if (!rc && nf == 0) rc = t2i_error(T2I_EFORMAT, "%s: no weight files listed", f->dir);
    t2i_free(ids);
    t2i_free(ln);
    t2i_free(we);
    t2i_free(se);
    npy_free(&cap);
    npy_free(&lens);
    return rc;
}

// ---- generators (AttnGAN G_NET, DM-GAN G_NET, DF-GAN NetG) --------------------------------

// The generator configuration of a fixture manifest (config.cfg for the G_NETs, config.ctor for
// DF-GAN's NetG).
static int fixture_gen_config(const Fixture *f, GenArch arch, GenConfig *out) {
    const cJSON *conf = cJSON_GetObjectItemCaseSensitive(f->root, "config");
    memset(out, 0, sizeof *out);
    out->arch = arch;
    int rc;
    if (arch == GEN_DFGAN) {
        const cJSON *ct = cJSON_GetObjectItemCaseSensitive(conf, "ctor");
        DfGanConfig *c = &out->u.dfgan;
        rc = cfg_int(ct, "ngf", f->dir, &c->nf);
        if (!rc) rc = cfg_int(ct, "nz", f->dir, &c->z_dim);
        if (!rc) rc = cfg_int(ct, "cond_dim", f->dir, &c->cond_dim);
        if (!rc) rc = cfg_int(ct, "imsize", f->dir, &c->imsize);
        if (!rc) rc = cfg_int(ct, "ch_size", f->dir, &c->ch_size);
        return rc;
    }
    const cJSON *cj = cJSON_GetObjectItemCaseSensitive(conf, "cfg");
    GNetConfig g;   // same six fields for AttnGAN and DM-GAN
    rc = cfg_int(cj, "GAN.GF_DIM", f->dir, &g.gf_dim);
    if (!rc) rc = cfg_int(cj, "GAN.Z_DIM", f->dir, &g.z_dim);
    if (!rc) rc = cfg_int(cj, "TEXT.EMBEDDING_DIM", f->dir, &g.embedding_dim);
    if (!rc) rc = cfg_int(cj, "GAN.CONDITION_DIM", f->dir, &g.condition_dim);
    if (!rc) rc = cfg_int(cj, "GAN.R_NUM", f->dir, &g.r_num);
    if (!rc) rc = cfg_int(cj, "TREE.BRANCH_NUM", f->dir, &g.branch_num);
    if (arch == GEN_DMGAN)
        out->u.dmgan = (DmGanConfig){.gf_dim = g.gf_dim, .z_dim = g.z_dim,
                                     .condition_dim = g.condition_dim,
                                     .embedding_dim = g.embedding_dim, .r_num = g.r_num,
                                     .branch_num = g.branch_num};
    else
        out->u.attngan = g;
    return rc;
}

// 1 when weight file entry `file` of the manifest lists an RNN_ENCODER state_dict (DF-GAN's
// fixture ships the text encoder that made its sent_emb).
static int weight_file_is_text_encoder(const Fixture *f, const char *file) {
    const cJSON *wf = cJSON_GetObjectItemCaseSensitive(f->root, "weight_files"), *w;
    cJSON_ArrayForEach(w, wf) {
        const cJSON *fn = cJSON_GetObjectItemCaseSensitive(w, "file");
        if (!cJSON_IsString(fn) || strcmp(fn->valuestring, file) != 0) continue;
        const cJSON *k0 = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(w, "state_dict"), 0);
        const cJSON *key = cJSON_GetObjectItemCaseSensitive(k0, "key");
        return cJSON_IsString(key) && strcmp(key->valuestring, "encoder.weight") == 0;
    }
    return 0;
}

// DF-GAN's text path: its RNN_ENCODER on the (unsorted) captions gives sent_emb.
static int run_fixture_text_encoder(Fixture *f, const char *file) {
    const cJSON *te = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(f->root, "config"), "text_encoder");
    const cJSON *ctor = cJSON_GetObjectItemCaseSensitive(te, "ctor");
    TextEncoderConfig cfg;
    int rc = cfg_int(ctor, "ntoken", f->dir, &cfg.ntoken);
    if (!rc) rc = cfg_int(ctor, "ninput", f->dir, &cfg.ninput);
    if (!rc) rc = cfg_int(ctor, "nhidden", f->dir, &cfg.nhidden);
    if (rc) return rc;
    NpyArray cap = {0}, lens = {0};
    rc = load_tensor(f, "captions", &cap);
    if (!rc) rc = load_tensor(f, "cap_lens", &lens);
    int B = rc ? 0 : (int)cap.shape[0], T = rc ? 0 : (int)cap.shape[1];
    int64_t *ids = NULL;
    int *ln = NULL;
    float *se = NULL;
    TextEncoder enc;
    memset(&enc, 0, sizeof enc);
    Arena a = {0};
    char spec[4096];
    weight_path(f, file, spec, sizeof spec);
    if (!rc) {
        ids = t2i_malloc(sizeof(int64_t) * cap.numel);
        ln = t2i_malloc(sizeof(int) * (size_t)B);
        se = t2i_malloc(sizeof(float) * (size_t)B * cfg.nhidden);
        if (!ids || !ln || !se) rc = T2I_ENOMEM;
    }
    if (!rc) {
        for (size_t i = 0; i < cap.numel; i++) ids[i] = (int64_t)((float *)cap.data)[i];
        for (int b = 0; b < B; b++) ln[b] = (int)((float *)lens.data)[b];
        rc = text_encoder_load(&enc, &cfg, spec);
    }
    if (!rc) rc = arena_init(&a, text_encoder_arena_bytes(&enc, B, T));
    if (!rc) rc = text_encoder_forward(&enc, ids, ln, B, T, NULL, se, NULL, &a);
    if (!rc) {
        int64_t ss[2] = {B, cfg.nhidden};
        int wrote = f->wrote;
        f->wrote = 0;
        rc = compare_output(f, file, "sent_emb", se, 2, ss);
        f->wrote = wrote;
    }
    arena_free(&a);
    text_encoder_free(&enc);
    t2i_free(ids);
    t2i_free(ln);
    t2i_free(se);
    npy_free(&cap);
    npy_free(&lens);
    return rc;
}

// Runs the generator of one weight file through the generator interface and compares every
// output of the manifest. The inputs come from the fixture; the mask is batch-coupled, as in
// the original code that produced the fixtures.
static int run_fixture_generator(Fixture *f, const GenConfig *cfg, const char *file) {
    GenIO io = gen_io(cfg);
    int dfgan = cfg->arch == GEN_DFGAN;
    NpyArray z = {0}, sent = {0}, words = {0}, mask = {0}, eps = {0};
    int rc = load_tensor(f, dfgan ? "noise" : "z", &z);
    if (!rc) rc = load_tensor(f, "sent_emb", &sent);
    if (!rc && (io.needs & GEN_IN_WORDS)) rc = load_tensor(f, "words_embs", &words);
    if (!rc && (io.needs & GEN_IN_WORDS)) rc = load_tensor(f, "mask", &mask);
    if (!rc && (io.needs & GEN_IN_EPS)) rc = load_tensor(f, "eps", &eps);
    int B = rc ? 0 : (int)z.shape[0], T = words.data ? (int)words.shape[2] : 1;
    size_t cond = (size_t)io.eps_dim, S = (size_t)io.img_size;
    uint8_t *m8 = NULL;
    float *img[3] = {0}, *att[2] = {0}, *mu = NULL, *lv = NULL, *cc = NULL;
    for (int s = 0; !rc && s < io.n_stages; s++) {
        size_t px = s == io.n_stages - 1 ? S : (size_t)64 << s;
        if (!(img[s] = t2i_malloc(sizeof(float) * B * 3 * px * px))) rc = T2I_ENOMEM;
        if (!rc && s > 0 && !(att[s - 1] = t2i_malloc(sizeof(float) * B * T * (px / 2) * (px / 2))))
            rc = T2I_ENOMEM;
    }
    if (!rc && cond) {
        mu = t2i_malloc(sizeof(float) * B * cond);
        lv = t2i_malloc(sizeof(float) * B * cond);
        cc = t2i_malloc(sizeof(float) * B * cond);
        if (!mu || !lv || !cc) rc = T2I_ENOMEM;
    }
    if (!rc && mask.data) {
        if (!(m8 = t2i_malloc(mask.numel))) rc = T2I_ENOMEM;
        for (size_t i = 0; !rc && i < mask.numel; i++) m8[i] = ((float *)mask.data)[i] != 0.0f;
    }
    char spec[4096];
    weight_path(f, file, spec, sizeof spec);
    Generator g;
    memset(&g, 0, sizeof g);
    Arena a = {0};
    if (!rc) rc = generator_load(&g, cfg, spec);
    if (!rc && g.note[0]) fprintf(stderr, "t2ibench verify: %s\n", g.note);
    if (!rc) rc = arena_init(&a, generator_arena_bytes(&g, B, T));
    if (!rc) {
        GenInputs in = {.z = z.data, .sent_emb = sent.data, .words_emb = words.data, .mask = m8,
                        .eps = eps.data, .mask_mode = ATT_MASK_BATCH_COUPLED};
        GenOutputs out = {.img = img[io.n_stages - 1], .stage_img = {img[0], img[1]},
                          .att = {att[0], att[1]}, .mu = mu, .logvar = lv, .c_code = cc};
        rc = generator_forward(&g, &in, &out, B, T, &a);
    }
    for (int s = 0; !rc && s < io.n_stages; s++) {
        char name[32];
        int64_t px = s == io.n_stages - 1 ? (int64_t)S : (int64_t)64 << s, is[4] = {B, 3, px, px};
        if (dfgan) snprintf(name, sizeof name, "fake_img");
        else snprintf(name, sizeof name, "fake_img_%d", (int)px);
        rc = compare_output(f, file, name, img[s], 4, is);
        if (!rc && s > 0) {
            int64_t as[4] = {B, T, px / 2, px / 2};
            snprintf(name, sizeof name, "att_%d", s);
            rc = compare_output(f, file, name, att[s - 1], 4, as);
        }
    }
    int64_t cs[2] = {B, (int64_t)cond};
    if (!rc && cond) rc = compare_output(f, file, "mu", mu, 2, cs);
    if (!rc && cond) rc = compare_output(f, file, "logvar", lv, 2, cs);
    if (!rc && cond) rc = compare_output(f, file, "c_code", cc, 2, cs);
    f->wrote = 1;
    arena_free(&a);
    generator_free(&g);
    for (int s = 0; s < 3; s++) t2i_free(img[s]);
    t2i_free(att[0]);
    t2i_free(att[1]);
    t2i_free(m8);
    t2i_free(mu);
    t2i_free(lv);
    t2i_free(cc);
    npy_free(&z);
    npy_free(&sent);
    npy_free(&words);
    npy_free(&mask);
    npy_free(&eps);
    return rc;
}

static int run_generator(Fixture *f, GenArch arch) {
    GenConfig cfg;
    int rc = fixture_gen_config(f, arch, &cfg);
    if (!rc) rc = gen_config_check(&cfg);
    if (rc) return rc;
    const char *files[8];
    int nf = weight_files(f, files, 8);
    if (nf == 0) return t2i_error(T2I_EFORMAT, "%s: no weight files listed", f->dir);
    for (int w = 0; !rc && w < nf; w++)
        rc = weight_file_is_text_encoder(f, files[w]) ? run_fixture_text_encoder(f, files[w])
                                                      : run_fixture_generator(f, &cfg, files[w]);
    return rc;
}

// ---- vocab_pickle -------------------------------------------------------------------------

static int compare_exact(Fixture *f, const char *name, const int64_t *x, int ndim,
                         const int64_t *shape) {
    size_t n = 1;
    for (int i = 0; i < ndim; i++) n *= (size_t)shape[i];
    float *xf = t2i_malloc(sizeof(float) * (n ? n : 1));
    if (!xf) return T2I_ENOMEM;
    for (size_t i = 0; i < n; i++) xf[i] = (float)x[i];   // small ids: exact in float32
    int wrote = f->wrote;
    f->wrote = 1;   // written below as int64, the fixture's dtype
    int rc = compare_output(f, "captions.pickle", name, xf, ndim, shape);
    f->wrote = wrote;
    t2i_free(xf);
    if (!rc && f->out_dir) {
        const cJSON *t = tensor_entry(f, name);
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", f->out_dir,
                 cJSON_GetObjectItemCaseSensitive(t, "file")->valuestring);
        rc = npy_save(path, DT_I64, ndim, shape, x);
    }
    return rc;
}

static int run_vocab(Fixture *f) {
    char path[4096];
    snprintf(path, sizeof path, "%s/captions.pickle", f->dir);
    Vocab v;
    memset(&v, 0, sizeof v);
    int rc = vocab_load_pickle(path, &v);
    if (rc) return rc;
    const cJSON *ts = cJSON_GetObjectItemCaseSensitive(f->root, "test_sentences"), *t;
    int n = cJSON_GetArraySize(ts), i = 0;
    const char **sents = t2i_calloc((size_t)(n ? n : 1), sizeof *sents);
    if (!sents) rc = T2I_ENOMEM;
    cJSON_ArrayForEach(t, ts) {
        const cJSON *s = cJSON_GetObjectItemCaseSensitive(t, "sentence");
        if (!rc && !cJSON_IsString(s))
            rc = t2i_error(T2I_EFORMAT, "%s: test_sentences[%d].sentence missing", f->dir, i);
        if (!rc) sents[i++] = s->valuestring;
    }
    TokenBatch tb;
    memset(&tb, 0, sizeof tb);
    // gen_example: no WORDS_NUM truncation, empty captions kept as zero rows
    if (!rc) rc = token_batch_build(&v, sents, n, 0, TRUNC_HEAD, NULL, TOK_ALLOW_EMPTY, &tb);
    if (!rc) {
        int64_t as[2] = {tb.n, tb.max_len}, ls[1] = {tb.n};
        int64_t *tmp = t2i_malloc(sizeof(int64_t) * (size_t)(tb.n ? tb.n : 1));
        if (!tmp) rc = T2I_ENOMEM;
        if (!rc) rc = compare_exact(f, "test_cap_array", tb.ids, 2, as);
        for (int k = 0; !rc && k < tb.n; k++) tmp[k] = tb.lens[k];
        if (!rc) rc = compare_exact(f, "test_cap_lens", tmp, 1, ls);
        for (int k = 0; !rc && k < tb.n; k++) tmp[k] = tb.order[k];
        if (!rc) rc = compare_exact(f, "test_sorted_indices", tmp, 1, ls);
        t2i_free(tmp);
    }
    token_batch_free(&tb);
    t2i_free(sents);
    vocab_free(&v);
    return rc;
}

// ---- command ------------------------------------------------------------------------------

// Runs one fixture folder; adds failing outputs to *failures. T2I_OK when the case ran.
static int verify_dir(const char *dir, const char *out_root, int *failures) {
    char path[4096], outd[4096];
    snprintf(path, sizeof path, "%s/manifest.json", dir);
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = t2i_read_file(path, &buf, &len);
    if (rc) return rc;
    cJSON *root = cJSON_ParseWithLength((const char *)buf, len);
    t2i_free(buf);
    if (!root) return t2i_error(T2I_EFORMAT, "%s: malformed JSON", path);
    const cJSON *cs = cJSON_GetObjectItemCaseSensitive(root, "case");
    const cJSON *cls = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(root, "config"), "class_");
    Fixture f = {.dir = dir, .root = root, .failures = failures,
                 .case_name = cJSON_IsString(cs) ? cs->valuestring : "?"};
    int inception = verify_inception_kind(root) != IK_NONE;
    if (!inception) printf("%s (%s)\n", dir, f.case_name);   // the Inception cases print their own
    if (out_root) {
        snprintf(outd, sizeof outd, "%s/%s", out_root, f.case_name);
        rc = ensure_dir(out_root);
        if (!rc) rc = ensure_dir(outd);
        f.out_dir = outd;
    }
    const char *cname = cJSON_IsString(cls) ? cls->valuestring : "";
    if (rc) {
    } else if (strcmp(cname, "model.RNN_ENCODER") == 0) {
        rc = run_text_encoder(&f);
    } else if (strcmp(cname, "model.G_NET") == 0) {
        rc = run_generator(&f, GEN_ATTNGAN);
    } else if (strcmp(cname, "model.G_NET (DM-GAN)") == 0) {
        rc = run_generator(&f, GEN_DMGAN);
    } else if (strcmp(cname, "models.GAN.NetG (DF-GAN)") == 0) {
        rc = run_generator(&f, GEN_DFGAN);
    } else if (cJSON_IsString(cJSON_GetObjectItemCaseSensitive(
                   cJSON_GetObjectItemCaseSensitive(root, "config"), "pickle"))) {
        rc = run_vocab(&f);   // a captions.pickle tokenisation case (config.pickle says how)
    } else if (inception) {
        rc = verify_inception_case(dir, out_root ? outd : NULL, failures);
    } else {
        rc = t2i_error(T2I_EFORMAT, "%s: unknown fixture case '%s'", dir, f.case_name);
    }
    cJSON_Delete(root);
    return rc;
}

int cmd_verify(int argc, char **argv) {
    static const char usage[] = "t2ibench verify FIXTURE_DIR... [--out DIR]";
    Args a;
    if (args_init(&a, argc, argv)) return cli_usage("verify", usage);
    if (args_flag(&a, "--help")) {
        printf("usage: %s\n"
               "Runs each fixture folder's inputs and weights (../shared/fixtures/*/, or a copy)\n"
               "and compares every output with its manifest's suggested_atol, one line per output.\n"
               "--out DIR also writes the computed outputs as DIR/<case>/NAME.npy.\n"
               "Exit 0 all pass, 1 an output outside its tolerance, 2 a fixture could not run.\n",
               usage);
        return EXIT_OK;
    }
    const char *out = args_str(&a, "--out", NULL);
    char *dirs[256];
    int n = args_rest(&a, dirs, 256);
    if (n < 1) return cli_usage("verify", usage);
    int failures = 0, errors = 0;
    for (int i = 0; i < n; i++) {
        struct stat st;
        int rc = stat(dirs[i], &st) != 0 ? t2i_error(T2I_EIO, "no such fixture folder")
               : !S_ISDIR(st.st_mode)    ? t2i_error(T2I_EARG, "not a fixture folder (a fixture "
                                                     "is a directory holding manifest.json)")
                                        : verify_dir(dirs[i], out, &failures);
        if (rc) {
            fprintf(stderr, "t2ibench verify: %s: %s\n", dirs[i], t2i_errmsg());
            errors++;
        }
    }
    printf("verify: %d fixture(s), %d failing output(s), %d error(s)\n", n, failures, errors);
    if (errors) return EXIT_ERROR;
    return failures ? EXIT_REGRESSION : EXIT_OK;
}
