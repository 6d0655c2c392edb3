// runner.c -- the run loop (see runner.h).
#include "runner.h"

#include "arena.h"
#include "generator.h"
#include "blas.h"
#include "damsm_image.h"
#include "db.h"
#include "evaluators.h"
#include "fid.h"
#include "image_io.h"
#include "image_set.h"
#include "runner_images.h"
#include "inception.h"
#include "inception_tf.h"
#include "inception_score.h"
#include "model_card.h"
#include "protocol.h"
#include "provenance.h"
#include "r_precision.h"
#include "resize.h"
#include "rng.h"
#include "sample_inputs.h"
#include "scoring.h"
#include "sha256.h"
#include "suite.h"
#include "t2i.h"
#include "text_encoder.h"
#include "tokenizer.h"
#include "vocab.h"
#include "weights.h"

#include <cjson/cJSON.h>
#ifdef __GLIBC__
#include <malloc.h>   // malloc_trim
#endif
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define IMG 256
#define INC 299

// ---- signals -------------------------------------------------------------------------------

static volatile sig_atomic_t g_stop;
// SIGINT/SIGTERM only set the flag: the workers check it between samples (at every stage of a
// batch), the samples finished so far are committed and the run is marked "interrupted". A
// second signal does the same (it cannot be faster); a third one ends the process at once (the
// run then shows as "stale" in `list` and resumes from its last commit).
static void on_signal(int sig) {
    if (++g_stop >= 3) {
        signal(sig, SIG_DFL);
        raise(sig);
    }
}

// ---- state ---------------------------------------------------------------------------------

typedef enum { ST_TEXT, ST_GEN, ST_IS, ST_RP, ST_FID, ST_STORE, ST_N } Stage;
enum { EVAL_IS, EVAL_FID, EVAL_RP, EVAL_N };
static const char *const stage_names[ST_N] = {"text", "generate", "is", "rp", "fid", "store"};

typedef struct {
    const RunOpts *o;
    Protocol       P;
    Suite          S;
    EvalCard       E;
    ModelCard      M;
    int            have_model;
    Vocab          mvocab, evocab;
    TextEncoder    te, dte;
    Generator      g;
    Inception     *is_net, *fid_net;
    DamsmImage     dim;
    // The evaluator networks (IS classifier, FID Inception, DAMSM image encoder) are worker 0's,
    // shared by every worker, one forward at a time per network (eval_lock): a second copy per
    // worker would double their packed weights (~160 MB per Inception with its Winograd
    // transforms) for a few percent of speed. dimp points at worker 0's dim.
    DamsmImage      *dimp;
    pthread_mutex_t *eval_lock;    // [EVAL_IS], [EVAL_FID], [EVAL_RP] (worker 0's array)
    int              shares_evals; // worker k > 0: the networks above are worker 0's
    int            use_is, use_rp, use_fid;
    int            is_cols;        // logits per sample
    int            is_unbiased;    // tf2015: bias-free logits
    U8Map          is_map, fid_map;
    Arena          arena;
    int            words_num;
    int64_t        n;              // samples of this run
    int64_t        n_work;         // samples of this process (its shard's blocks)
    int            B;
    // batch buffers
    int64_t       *cap;            // (B, words_num)
    int           *lens;           // (B)
    float         *words_emb;      // (B, 256, words_num)
    float         *words_tmp;      // (B, 256, words_num)
    float         *sent_emb;       // (B, 256)
    uint8_t       *mask;           // (B, words_num)
    float         *z, *eps;        // (B, z_dim), (B, cond)
    float         *img;            // (B, 3, 256, 256) generator output [-1,1]
    float         *img_q;          // (B, 3, 256, 256) quantized view [-1,1]
    uint8_t       *u8;             // (B, 256, 256, 3) quantized bytes (or loaded images)
    float         *x299;           // (B, 3, 299, 299)
    uint8_t       *u8_299;         // (299, 299, 3)
    void          *pil_scratch;
    float         *tmpf;           // (3, 256, 256) float staging
    float         *is_out;         // (B, classes)
    float         *pool3;          // (B, 2048)
    float         *cnn_code;       // (B, 256)
    // R-precision text batch (1 + M captions of one sample)
    int64_t       *rp_cap;         // ((1+M), words_num)
    int           *rp_lens;
    float         *rp_sent;        // ((1+M), nhidden)
    float         *rp_scores;      // (B, 1+M)
    int           *rp_rank;        // (B)
    char         (*img_sha)[65];   // (B)
    // eval-images: the files of the run, and each batch's images at their own sizes
    ImageSet       imgs;           // shared by the workers (owned by worker 0)
    uint8_t      **ld;             // (B) (H,W,3) images of the batch in flight
    int           *ldH, *ldW;      // (B)
    double         t[ST_N];
    int64_t        t_images[ST_N];
    struct ProgLog  *plog;         // progress lines without a terminal (worker 0 writes)
    // progress bar state (shared by the workers; worker 0 draws)
    double           prog_t0;
    int64_t          prog_done0;
    _Atomic int64_t *prog_count;
    int              widx;         // worker index (0 = the main context, owns shared state)
} Run;

static void progress(const Run *r, int64_t done, int64_t total, double t_start, int64_t done0,
                     const char *stage);
// A stage boundary: draws the progress and is where a stop request is honoured (T2I_EINTR:
// the batch in flight is dropped, the finished ones are committed).
static int stage(const Run *r, const char *name) {
    if (r->widx == 0 && r->prog_count)
        progress(r, atomic_load(r->prog_count), r->n_work, r->prog_t0, r->prog_done0, name);
    return g_stop ? T2I_EINTR : T2I_OK;
}

static int fail_oom(void) { return t2i_error(T2I_ENOMEM, "out of memory"); }

static int load_inception(const char *variant, const char *spec, int num_classes,
                          Inception **out, const char *what) {
    InceptionVariant v;
    InceptionConfig cfg;
    const char *vn = strcmp(variant, "slim-cub") == 0 ? "slim" : variant;
    if (inception_variant_parse(vn, &v))
        return t2i_error(T2I_EARG, "%s: unknown Inception variant '%s'", what, variant);
    inception_config(&cfg, v);
    cfg.num_classes = num_classes;
    if (v == INCEPTION_TORCHVISION) cfg.aux_logits = 1;
    int rc = inception_create(&cfg, out);
    if (rc) return rc;
    StateDict sd;
    memset(&sd, 0, sizeof sd);
    rc = inception_weights_load(&cfg, inception_keys(*out), spec, &sd);   // torch or TF names
    if (rc) return t2i_error_prefix(rc, "%s weights %s", what, spec);
    rc = inception_bind(*out, &sd, what);
    if (!rc) rc = inception_release_unpacked(*out);   // XNNPACK keeps the packed copy
    if (rc) return t2i_error_prefix(rc, "%s weights %s", what, spec);
    return T2I_OK;
}

int runner_fid_net(const Protocol *P, const EvalCard *E, Inception **net, U8Map *map) {
    int rc = load_inception(E->fid_variant, E->fid_weights,
                            strcmp(E->fid_variant, "tf2015") == 0 ? 1008 : 1000, net,
                            "FID Inception");
    *map = P->fid_resize == RESIZE_BILINEAR_TF1 ? U8_TF_128 : U8_PM1_127;
    return rc;
}

// Frees what a worker owns (all of it for worker 0 via run_free).
static void worker_free(Run *r) {
    generator_free(&r->g);   // worker k > 0: its own instance (generator_share)
    if (!r->shares_evals) {
        if (r->fid_net != r->is_net) inception_free(r->fid_net);   // one net may serve both
        inception_free(r->is_net);
        damsm_image_free(&r->dim);
    }
    for (int b = 0; r->ld && b < r->B; b++) t2i_free(r->ld[b]);
    t2i_free(r->ld);
    t2i_free(r->ldH);
    t2i_free(r->ldW);
    arena_free(&r->arena);
    void *bufs[] = {r->cap,   r->lens,     r->words_emb, r->words_tmp, r->sent_emb, r->mask,
                    r->z,     r->eps,      r->img,       r->img_q,     r->u8,       r->x299,
                    r->u8_299, r->pil_scratch, r->tmpf,  r->is_out,    r->pool3,    r->cnn_code,
                    r->rp_cap, r->rp_lens, r->rp_sent,   r->rp_scores, r->rp_rank,  r->img_sha};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) t2i_free(bufs[i]);
}

static void run_free(Run *r) {
    protocol_free(&r->P);
    suite_free(&r->S);
    evalcard_free(&r->E);
    model_card_free(&r->M);
    vocab_free(&r->mvocab);
    vocab_free(&r->evocab);
    text_encoder_free(&r->te);
    text_encoder_free(&r->dte);
    image_set_free(&r->imgs);
    worker_free(r);
    if (r->eval_lock)
        for (int i = 0; i < EVAL_N; i++) pthread_mutex_destroy(&r->eval_lock[i]);
    t2i_free(r->eval_lock);
    r->eval_lock = NULL;
}

// ---- loading and checks --------------------------------------------------------------------

static int check_compat(Run *r) {
    const Suite *S = &r->S;
    const Protocol *P = &r->P;
    const char *sp = S->path;
    if (S->words_num != P->words_num[S->dataset] || S->truncation != P->truncation)
        return t2i_error(T2I_EARG,
                         "suite %s was frozen with WORDS_NUM %d (%s); protocol %s asks for %d (%s) "
                         "on %s: freeze the suite with this protocol",
                         sp, S->words_num, S->truncation ? "head" : "random-subset", P->name,
                         P->words_num[S->dataset], P->truncation ? "head" : "random-subset",
                         dataset_names[S->dataset]);
    if (P->rp_enabled && (S->mismatches != P->mismatches || S->mismatch_rule != P->mismatch_rule))
        return t2i_error(T2I_EARG, "suite %s has %d mismatches per sample (%s); protocol %s asks "
                                   "for %d (%s)",
                         sp, S->mismatches, S->mismatch_rule ? "other-image" : "other-class",
                         P->name, P->mismatches, P->mismatch_rule ? "other-image" : "other-class");
    if (r->E.dataset != S->dataset)
        return t2i_error(T2I_EARG, "evaluator card %s is for %s, suite %s is %s", r->E.path,
                         dataset_names[r->E.dataset], sp, dataset_names[S->dataset]);
    if (r->have_model && dataset_index(r->M.dataset) != S->dataset)
        return t2i_error(T2I_EARG, "model card %s was trained for '%s', suite %s is %s",
                         r->o->model, r->M.dataset, sp, dataset_names[S->dataset]);
    if (P->is_enabled) {
        if (!r->E.has_is)
            return t2i_error(T2I_EARG, "protocol %s scores IS but evaluator card %s has no "
                                       "inception_score section",
                             P->name, r->E.path);
        if (strcmp(r->E.is_variant, P->is_classifier[S->dataset]) != 0)
            return t2i_error(T2I_EARG,
                             "protocol %s wants the '%s' IS classifier on %s; evaluator card %s "
                             "has '%s'",
                             P->name, P->is_classifier[S->dataset], dataset_names[S->dataset],
                             r->E.path, r->E.is_variant);
    }
    if (P->rp_enabled) {
        if (!r->E.has_damsm)
            return t2i_error(T2I_EARG, "protocol %s scores R-precision but evaluator card %s has no "
                                       "damsm section",
                             P->name, r->E.path);
        if (P->rp_resize != RESIZE_BILINEAR && P->rp_resize != RESIZE_BILINEAR_AC)
            return t2i_error(T2I_EARG, "protocol %s: $.r_precision.resize: the DAMSM image encoder "
                                       "resizes with torch bilinear only (\"bilinear\" or "
                                       "\"bilinear-align-corners\")",
                             P->name);
    }
    return T2I_OK;
}

// A file that cannot be read is named with its option (which of the paths was wrong).
static int named(int rc, const char *option) {
    return rc == T2I_EIO ? t2i_error_prefix(rc, "%s", option) : rc;
}

static int load_all(Run *r) {
    const RunOpts *o = r->o;
    int rc;
    if ((rc = protocol_load(o->protocol, &r->P))) return named(rc, "--protocol");
    if (o->suite && (rc = suite_load(o->suite, &r->S))) return named(rc, "--suite");
    if (o->model) {
        if ((rc = model_card_load(o->model, &r->M))) return named(rc, "--model");
        r->have_model = 1;
    }
    const char *ev = o->evaluators;
    char evbuf[256];
    if (!ev && !o->suite)
        return t2i_error(T2I_EARG, "eval-images without --suite needs --evaluators CARD (the "
                                   "instruments to score the folder with, e.g. "
                                   "suites/evaluators/cub_tf2015.json)");
    if (!ev) {
        // Default instruments of the suite's data set with the protocol's IS classifier: the
        // demo (hash-weight) card for a model on hash weights, else the real card (whose
        // weights the user supplies). Said aloud.
        int demo = r->have_model && weights_spec_is_hash(r->M.gen_weights);
        const char *ds = dataset_names[r->S.dataset];
        const char *cls = r->P.is_enabled ? r->P.is_classifier[r->S.dataset] : "";
        if (strcmp(cls, "slim-cub") == 0 && r->S.dataset == DATASET_CUB)
            snprintf(evbuf, sizeof evbuf, "suites/evaluators/%scub_slim.json", demo ? "demo_" : "");
        else if (demo && strcmp(cls, "tf2015") == 0)
            snprintf(evbuf, sizeof evbuf, "suites/evaluators/demo_%s_tf2015.json", ds);
        else
            snprintf(evbuf, sizeof evbuf, "suites/evaluators/%s%s%s.json", demo ? "demo_" : "", ds,
                     demo ? "" : "_tf2015");
        ev = evbuf;
        fprintf(stderr, "t2ibench: no --evaluators given: using %s%s\n", ev,
                demo ? " (hash-weight demo instruments)" : "");
    }
    if ((rc = evalcard_load(ev, &r->E))) return named(rc, "--evaluators");
    if ((rc = images_override_stats(o, &r->E))) return rc;
    if (!o->suite && (rc = images_folder_suite(o, &r->P, r->E.dataset, &r->imgs, &r->S))) return rc;
    if ((rc = check_compat(r))) return rc;
    r->words_num = r->S.words_num;
    // The card's WORDS_NUM (cfg.TEXT.WORDS_NUM of training) is recorded in the provenance; the
    // protocol decides the evaluation truncation, and a difference is said aloud.
    if (r->have_model && r->M.words_num != r->S.words_num && !o->quiet)
        fprintf(stderr, "t2ibench: note: model card %s was trained with WORDS_NUM %d; protocol %s "
                        "evaluates captions truncated to %d words (suite %s)\n",
                o->model, r->M.words_num, r->P.name, r->S.words_num, r->S.path);
    r->n = o->limit > 0 && o->limit < r->S.n ? o->limit : r->S.n;
    r->use_is = r->P.is_enabled;
    r->use_rp = r->P.rp_enabled && r->S.mismatches > 0 && o->suite;
    r->use_fid = r->P.fid_enabled && r->E.has_fid;   // features stored; FID needs statistics
    if (o->images_dir && o->suite)
        rc = o->mapping ? image_set_mapping(o->mapping, o->images_dir, r->S.n, r->n, &r->imgs)
                        : image_set_by_id(o->images_dir, r->n, &r->imgs);
    if (!rc && o->images_dir) rc = image_set_check(&r->imgs, o->max_pixels);   // before any run row
    return rc;
}

static int add_provenance(Run *r, Provenance *pv) {
    int rc;
    prov_init(pv);
    if (r->o->suite) {
        if ((rc = prov_add_digest(pv, "suite", r->S.path, r->S.sha256))) return rc;
        if ((rc = prov_add_digest(pv, "suite.captions", r->S.captions_path, r->S.table.sha256)))
            return rc;
    }
    if (r->o->mapping && (rc = prov_add_file(pv, "images.mapping", r->o->mapping))) return rc;
    if ((rc = prov_add_digest(pv, "protocol", r->o->protocol, r->P.sha256))) return rc;
    if ((rc = prov_add_digest(pv, "evaluators", r->E.path, r->E.sha256))) return rc;
    if (r->use_is && (rc = prov_add_file(pv, "evaluators.is_weights", r->E.is_weights))) return rc;
    if (r->use_rp) {
        if ((rc = prov_add_file(pv, "evaluators.damsm_image", r->E.damsm_image))) return rc;
        if ((rc = prov_add_file(pv, "evaluators.damsm_text", r->E.damsm_text))) return rc;
        if ((rc = prov_add_file(pv, "evaluators.damsm_vocab", r->E.damsm_vocab))) return rc;
    }
    if (r->use_fid) {
        if ((rc = prov_add_file(pv, "evaluators.fid_weights", r->E.fid_weights))) return rc;
        if (r->E.fid_stats &&
            (rc = prov_add_file(pv, "evaluators.fid_statistics", r->E.fid_stats)))
            return rc;
        if (r->o->kid_ref && (rc = prov_add_file(pv, "evaluators.kid_reference", r->o->kid_ref)))
            return rc;
    }
    if (r->have_model) {
        if ((rc = prov_add_file(pv, "model.card", r->o->model))) return rc;
        if ((rc = prov_add_file(pv, "model.generator", r->M.gen_weights))) return rc;
        if ((rc = prov_add_file(pv, "model.text_encoder", r->M.te_weights))) return rc;
        if ((rc = prov_add_file(pv, "model.vocabulary", r->M.vocab_path))) return rc;
    }
    return T2I_OK;
}

// The FID statistics are read and checked (size, finiteness, symmetric covariance with a
// non-negative diagonal, 2048 features) before the first sample, not after the generation.
static int check_fid_stats(const Run *r) {
    if (!r->use_fid || !r->E.fid_stats) return T2I_OK;
    FidStats st;
    int rc = fid_stats_load(r->E.fid_stats, &st);
    if (rc) return t2i_error_prefix(rc, "evaluator card %s: FID statistics", r->E.path);
    int D = st.D;
    for (size_t i = 0; i < (size_t)D && !rc; i++)
        if (!isfinite(st.mu[i]))
            rc = t2i_error(T2I_EFORMAT, "%s: mu[%zu] is not finite", r->E.fid_stats, i);
    for (size_t i = 0; i < (size_t)D * D && !rc; i++)
        if (!isfinite(st.sigma[i]))
            rc = t2i_error(T2I_EFORMAT, "%s: sigma[%zu][%zu] is not finite", r->E.fid_stats,
                           i / (size_t)D, i % (size_t)D);
    fid_stats_free(&st);
    if (!rc && D != 2048)
        rc = t2i_error(T2I_ESHAPE, "%s: statistics of %d features; the FID Inception gives 2048",
                       r->E.fid_stats, D);
    return rc;
}

static int load_worker_nets(Run *r);

static int load_networks(Run *r) {
    int rc;
    const EvalCard *E = &r->E;
    if (r->have_model) {
        if ((rc = vocab_load(r->M.vocab_path, &r->mvocab)))
            return t2i_error_prefix(rc, "model vocabulary");
        if ((rc = text_encoder_load(&r->te, &r->M.te_cfg, r->M.te_weights)))
            return t2i_error_prefix(rc, "model text encoder %s", r->M.te_weights);
        if ((rc = generator_load(&r->g, &r->M.gen_cfg, r->M.gen_weights)))
            return t2i_error_prefix(rc, "model card %s", r->o->model);
        if (r->g.note[0]) fprintf(stderr, "t2ibench: %s\n", r->g.note);
        GenIO io = gen_io(&r->g.cfg);
        if (io.emb_dim != r->te.cfg.nhidden)
            return t2i_error(T2I_ESHAPE, "model card %s: text encoder nhidden %d != generator "
                                         "embedding width %d",
                             r->o->model, r->te.cfg.nhidden, io.emb_dim);
        if (r->mvocab.n_words > r->te.cfg.ntoken)
            return t2i_error(T2I_ESHAPE, "model card %s: vocabulary has %d words, text encoder "
                                         "ntoken is %d",
                             r->o->model, r->mvocab.n_words, r->te.cfg.ntoken);
        if (io.img_size != IMG)
            return t2i_error(T2I_EARG, "model card %s: the generator makes %d px images; the "
                                       "evaluators take %d px (AttnGAN/DM-GAN BRANCH_NUM 3, "
                                       "DF-GAN imsize 256)",
                             r->o->model, io.img_size, IMG);
    }
    if (r->use_rp) {
        if ((rc = vocab_load(E->damsm_vocab, &r->evocab)))
            return t2i_error_prefix(rc, "evaluator DAMSM vocabulary");
        if ((rc = text_encoder_load(&r->dte, &E->damsm_text_cfg, E->damsm_text)))
            return t2i_error_prefix(rc, "evaluator DAMSM text encoder %s", E->damsm_text);
        if (r->evocab.n_words > r->dte.cfg.ntoken)
            return t2i_error(T2I_ESHAPE, "evaluator card %s: DAMSM vocabulary has %d words, text "
                                         "encoder ntoken is %d",
                             E->path, r->evocab.n_words, r->dte.cfg.ntoken);
    }
    return load_worker_nets(r);
}

// The evaluator networks (they keep activation buffers inside): IS classifier, FID Inception,
// DAMSM image encoder, loaded by worker 0 and shared by every worker under eval_lock. Text
// encoders and G_NET weights are shared too (read-only, arena per worker); each worker has its
// own generator instance.
static int load_worker_nets(Run *r) {
    int rc;
    const EvalCard *E = &r->E;
    r->dimp = &r->dim;
    r->eval_lock = t2i_calloc(EVAL_N, sizeof *r->eval_lock);
    if (!r->eval_lock) return fail_oom();
    for (int i = 0; i < EVAL_N; i++) pthread_mutex_init(&r->eval_lock[i], NULL);
    if (r->use_is) {
        if ((rc = load_inception(E->is_variant, E->is_weights, E->is_num_classes, &r->is_net,
                                 "IS classifier")))
            return rc;
        r->is_cols = E->is_num_classes;
        r->is_unbiased = strcmp(E->is_variant, "tf2015") == 0;
        r->is_map = r->P.is_resize == RESIZE_BILINEAR_TF1 && r->is_unbiased ? U8_TF_128 : U8_PM1_127;
    }
    int fid_classes = r->use_fid && strcmp(E->fid_variant, "tf2015") == 0 ? 1008 : 1000;
    if (r->use_fid && r->use_is && !strcmp(E->fid_variant, E->is_variant) &&
        !strcmp(E->fid_weights, E->is_weights) && fid_classes == E->is_num_classes) {
        r->fid_net = r->is_net;   // the same network and weights: one copy serves both
        r->fid_map = r->P.fid_resize == RESIZE_BILINEAR_TF1 ? U8_TF_128 : U8_PM1_127;
    } else if (r->use_fid) {
        if ((rc = runner_fid_net(&r->P, E, &r->fid_net, &r->fid_map))) return rc;
    }
    if (r->use_rp) {
        if ((rc = damsm_image_init(&r->dim, r->dte.cfg.nhidden))) return rc;
        r->dim.align_corners = r->P.rp_resize == RESIZE_BILINEAR_AC;
        StateDict sd;
        memset(&sd, 0, sizeof sd);
        if ((rc = weights_load(E->damsm_image, damsm_image_keys(&r->dim), &sd)))
            return t2i_error_prefix(rc, "evaluator DAMSM image encoder %s", E->damsm_image);
        if ((rc = damsm_image_bind(&r->dim, &sd, "DAMSM image encoder")) ||
            (rc = inception_release_unpacked(r->dim.trunk)))
            return t2i_error_prefix(rc, "evaluator DAMSM image encoder %s", E->damsm_image);
    }
    return T2I_OK;
}

// The evaluator networks (IS classifier, FID Inception, DAMSM image encoder) take the images of
// a batch EVAL_CHUNK at a time: their activation arenas then hold EVAL_CHUNK images, not --batch
// (an Inception's is ~72 MB at 8 images, and a worker has up to three), at the same speed (the
// convolutions' work per image does not change), and a sample's bytes stay the same (XNNPACK's
// per-image results do not depend on the batch: tests/test_xconv.c).
#define EVAL_CHUNK 2
static int eval_chunk(int nb, int b0) { return nb - b0 < EVAL_CHUNK ? nb - b0 : EVAL_CHUNK; }

static int alloc_buffers(Run *r) {
    int B = r->B, W = r->words_num, M = r->S.mismatches;
    size_t img = (size_t)B * 3 * IMG * IMG;
    int emb = r->have_model ? r->te.cfg.nhidden : 1;
    GenIO io = r->have_model ? gen_io(&r->g.cfg) : (GenIO){.z_dim = 1, .eps_dim = 1};
    int zd = io.z_dim > 0 ? io.z_dim : 1, cd = io.eps_dim > 0 ? io.eps_dim : 1;
    r->cap = t2i_calloc((size_t)B * W, sizeof(int64_t));
    r->lens = t2i_calloc((size_t)B, sizeof(int));
    r->words_emb = t2i_calloc((size_t)B * emb * W, sizeof(float));
    r->words_tmp = t2i_calloc((size_t)B * emb * W, sizeof(float));
    r->sent_emb = t2i_calloc((size_t)B * emb, sizeof(float));
    r->mask = t2i_calloc((size_t)B * W, 1);
    r->z = t2i_calloc((size_t)B * zd, sizeof(float));
    r->eps = t2i_calloc((size_t)B * cd, sizeof(float));
    r->img = t2i_calloc(img, sizeof(float));
    r->img_q = t2i_calloc(img, sizeof(float));
    r->u8 = t2i_calloc(img, 1);
    r->x299 = t2i_calloc((size_t)B * 3 * INC * INC, sizeof(float));
    r->u8_299 = t2i_calloc((size_t)INC * INC * 3, 1);
    r->tmpf = t2i_calloc((size_t)3 * IMG * IMG, sizeof(float));
    r->is_out = t2i_calloc((size_t)B * (r->is_cols ? r->is_cols : 1), sizeof(float));
    r->pool3 = t2i_calloc((size_t)B * 2048, sizeof(float));
    r->cnn_code = t2i_calloc((size_t)B * 256 + 1, sizeof(float));
    r->rp_cap = t2i_calloc((size_t)(1 + M) * W, sizeof(int64_t));
    r->rp_lens = t2i_calloc((size_t)(1 + M), sizeof(int));
    r->rp_sent = t2i_calloc((size_t)(1 + M) * (r->use_rp ? r->dte.cfg.nhidden : 1), sizeof(float));
    r->rp_scores = t2i_calloc((size_t)B * (1 + M), sizeof(float));
    r->rp_rank = t2i_calloc((size_t)B, sizeof(int));
    r->img_sha = t2i_calloc((size_t)B, 65);
    r->ld = t2i_calloc((size_t)B, sizeof(uint8_t *));
    r->ldH = t2i_calloc((size_t)B, sizeof(int));
    r->ldW = t2i_calloc((size_t)B, sizeof(int));
    r->pil_scratch = t2i_malloc(resize_pil_scratch_bytes(IMG, IMG, 3, INC, INC) + 64);
    if (!r->cap || !r->lens || !r->words_emb || !r->words_tmp || !r->sent_emb || !r->mask ||
        !r->z || !r->eps || !r->img || !r->img_q || !r->u8 || !r->x299 || !r->u8_299 ||
        !r->tmpf || !r->is_out || !r->pool3 || !r->cnn_code || !r->rp_cap || !r->rp_lens ||
        !r->rp_sent || !r->rp_scores || !r->rp_rank || !r->img_sha || !r->pil_scratch ||
        !r->ld || !r->ldH || !r->ldW)
        return fail_oom();
    size_t need = 0;
    if (r->have_model) {
        int gb = r->P.attention_mask ? B : 1;
        size_t a = generator_arena_bytes(&r->g, gb, W), b = text_encoder_arena_bytes(&r->te, 1, W);
        need = a > b ? a : b;
    }
    if (r->use_rp) {
        size_t c = text_encoder_arena_bytes(&r->dte, 1 + M, W);
        if (c > need) need = c;
        int rc = damsm_image_reserve(r->dimp, eval_chunk(B, 0));
        if (rc) return rc;
    }
    if (r->use_is && inception_reserve(r->is_net, eval_chunk(B, 0))) return T2I_ENOMEM;
    if (r->use_fid && inception_reserve(r->fid_net, eval_chunk(B, 0))) return T2I_ENOMEM;
    return arena_init(&r->arena, need + 4096);
}

// ---- per-sample text -----------------------------------------------------------------------

// Word ids of suite sample s under vocabulary v, with the suite's word subset applied.
static int sample_ids(Run *r, const Vocab *v, const SuiteSample *x, int64_t *out, int *len,
                      const char *which) {
    return sample_word_ids(&r->S, v, x, out, len, which);
}

// Ids of mismatch k of sample `sample` (caption row `row`), truncated by its own stream.
static int mismatch_ids(Run *r, int64_t sample, int k, int32_t row, int64_t *out, int *len) {
    int64_t *ids = NULL;
    int n = 0;
    int rc = tokenize_caption(&r->evocab, r->S.table.caption[row], &ids, &n);
    if (rc) return rc;
    if (n == 0) {
        t2i_free(ids);
        return t2i_error(T2I_EARG, "caption row %d of %s has no word in the DAMSM vocabulary %s",
                         row, r->S.captions_path, r->E.damsm_vocab);
    }
    if (n > r->words_num) {
        Rng g;
        rng_init(&g, r->S.seed, (uint64_t)sample, RNG_STREAM_WORDS + ((uint64_t)(k + 1) << 16));
        n = caption_truncate(ids, n, r->words_num, (TruncRule)r->S.truncation, &g);
    }
    memcpy(out, ids, sizeof(int64_t) * (size_t)n);
    *len = n;
    t2i_free(ids);
    return T2I_OK;
}

static double cosine(const float *a, const float *b, int E) {
    double d = 0, na = 0, nb = 0;
    for (int i = 0; i < E; i++) {
        d += (double)a[i] * b[i];
        na += (double)a[i] * a[i];
        nb += (double)b[i] * b[i];
    }
    double den = sqrt(na) * sqrt(nb);
    return d / (den > 1e-8 ? den : 1e-8);
}

// ---- image helpers -------------------------------------------------------------------------

// One image (3,256,256) [-1,1] float `f` and its bytes `u8` (HWC) -> (3,299,299) for an
// Inception, with the protocol's kernel and the network's input map.
static void to_299(Run *r, const float *f, const uint8_t *u8, int kind, U8Map map, float *out) {
    size_t plane = (size_t)3 * IMG * IMG;
    int quant = r->P.quantization != PQUANT_FLOAT || !r->have_model;
    if (kind == RESIZE_BILINEAR_PIL && quant) {
        resize_bilinear_pil_u8(r->u8_299, u8, IMG, IMG, 3, INC, INC, r->pil_scratch);
        hwc_u8_to_chw_float(out, r->u8_299, INC, INC, map);
        return;
    }
    const float *src = f;
    if (quant) {
        hwc_u8_to_chw_float(r->tmpf, u8, IMG, IMG, map);
        src = r->tmpf;
    } else if (map == U8_TF_128) {
        // Float images (no quantization): [-1,1] -> the TF graph's (x-128)/128 of (x+1)*127.5.
        for (size_t i = 0; i < plane; i++) r->tmpf[i] = (float)(((f[i] + 1.0) * 127.5 - 128.0) / 128.0);
        src = r->tmpf;
    }
    if (kind == RESIZE_BILINEAR_TF1) resize_bilinear_tf1(out, src, 3, IMG, IMG, INC, INC);
    else resize_bilinear_torch(out, src, 3, IMG, IMG, INC, INC, kind == RESIZE_BILINEAR_AC);
}

// ---- one batch -----------------------------------------------------------------------------

typedef struct {
    double *t;
    int64_t *ti;
} Clock;

// ---- the evaluator stages of a batch ---------------------------------------------------------
// IS, FID and R-precision each read the batch's images and write only their own outputs, so
// their order changes no number. Their networks are shared by the workers, one forward at a time
// (eval_lock): a worker first runs a stage whose network is free and waits only when every stage
// it has left is busy, so two workers evaluating at once use different networks instead of
// queueing for one (with batches of 8 that queueing left a core idle about a quarter of the time).

static pthread_mutex_t *eval_lock_of(Run *r, int e) {
    if (e == EVAL_FID && r->fid_net == r->is_net) e = EVAL_IS;   // one network serves both
    return &r->eval_lock[e];
}

// IS logits (e == EVAL_IS) or FID pool3 features of the batch; called with eval_lock_of(r, e)
// held, which it releases.
static int eval_inception(Run *r, int e, int nb) {
    const size_t per = (size_t)3 * IMG * IMG, per299 = (size_t)3 * INC * INC;
    const int is = e == EVAL_IS, kind = is ? r->P.is_resize : r->P.fid_resize;
    const U8Map map = is ? r->is_map : r->fid_map;
    Inception *net = is ? r->is_net : r->fid_net;
    int rc = T2I_OK;
    for (int b = 0; b < nb && !rc; b++)
        if (r->have_model)
            to_299(r, r->img_q + per * b, r->u8 + per * b, kind, map, r->x299 + per299 * b);
        else
            rc = image_to_input(r->ld[b], r->ldH[b], r->ldW[b], kind, map, INC, INC,
                                r->x299 + per299 * b);
    for (int b0 = 0; b0 < nb && !rc; b0 += EVAL_CHUNK) {   // per-image bytes: the same
        InceptionOut io;
        memset(&io, 0, sizeof io);
        if (!is) io.pool3 = r->pool3 + (size_t)b0 * 2048;
        else if (r->is_unbiased) io.logits_unbiased = r->is_out + (size_t)b0 * r->is_cols;
        else io.logits = r->is_out + (size_t)b0 * r->is_cols;
        rc = inception_forward(net, r->x299 + per299 * b0, eval_chunk(nb, b0), &io);
    }
    pthread_mutex_unlock(eval_lock_of(r, e));
    return rc;
}

// R-precision of the batch: the DAMSM image encoder, called with eval_lock[EVAL_RP] held (it
// releases it), then each sample's caption and mismatches through this worker's text encoder.
static int eval_rp(Run *r, const SuiteSample *ss, int nb) {
    const size_t per = (size_t)3 * IMG * IMG;
    int M = r->S.mismatches, E = r->dte.cfg.nhidden, W = r->words_num, rc = T2I_OK;
    // DM-GAN scores the generator's float output (not the saved uint8 image).
    for (int b = 0; !r->have_model && b < nb && !rc; b++) {   // loaded images at their sizes
        DamsmImageOut dout;
        memset(&dout, 0, sizeof dout);
        dout.cnn_code = r->cnn_code + (size_t)b * E;
        rc = images_damsm(r->dimp, r->ld[b], r->ldH[b], r->ldW[b], &dout);
    }
    for (int b0 = 0; !rc && r->have_model && b0 < nb; b0 += EVAL_CHUNK) {
        DamsmImageOut dout;
        memset(&dout, 0, sizeof dout);
        dout.cnn_code = r->cnn_code + (size_t)b0 * E;
        rc = damsm_image_forward(r->dimp, r->img + per * b0, eval_chunk(nb, b0), IMG, IMG,
                                 &dout);
    }
    pthread_mutex_unlock(&r->eval_lock[EVAL_RP]);
    if (rc) return rc;
    for (int b = 0; b < nb; b++) {
        memset(r->rp_cap, 0, sizeof(int64_t) * (size_t)(1 + M) * W);
        if ((rc = sample_ids(r, &r->evocab, &ss[b], r->rp_cap, &r->rp_lens[0], "DAMSM")))
            return rc;
        for (int k = 0; k < M; k++)
            if ((rc = mismatch_ids(r, ss[b].id, k, ss[b].mismatch[k],
                                   r->rp_cap + (size_t)(k + 1) * W, &r->rp_lens[k + 1])))
                return rc;
        if ((rc = text_encoder_forward(&r->dte, r->rp_cap, r->rp_lens, 1 + M, W, NULL,
                                       r->rp_sent, NULL, &r->arena)))
            return rc;
        const float *code = r->cnn_code + (size_t)b * E;
        float *sc = r->rp_scores + (size_t)b * (1 + M);
        double s0 = cosine(code, r->rp_sent, E);
        int rank = 0;
        for (int j = 0; j <= M; j++) {
            double s = j ? cosine(code, r->rp_sent + (size_t)j * E, E) : s0;
            sc[j] = (float)s;
            if (j && (float)s > (float)s0) rank++;
        }
        r->rp_rank[b] = rank;
    }
    return T2I_OK;
}

static int run_evals(Run *r, const SuiteSample *ss, int nb) {
    static const char *const name[EVAL_N] = {"is", "fid", "rp"};
    static const int slot[EVAL_N] = {ST_IS, ST_FID, ST_RP};
    int todo[EVAL_N] = {r->use_is, r->use_fid, r->use_rp};
    for (;;) {
        double t0 = prov_now();   // a stage's time includes its wait for the network
        int e = -1;
        for (int k = 0; k < EVAL_N && e < 0; k++)
            if (todo[k] && pthread_mutex_trylock(eval_lock_of(r, k)) == 0) e = k;
        if (e < 0) {   // every network left is busy: wait for the first
            for (int k = 0; k < EVAL_N && e < 0; k++)
                if (todo[k]) e = k;
            if (e < 0) return T2I_OK;
            pthread_mutex_lock(eval_lock_of(r, e));
        }
        int rc = stage(r, name[e]);
        if (rc) {
            pthread_mutex_unlock(eval_lock_of(r, e));
            return rc;
        }
        rc = e == EVAL_RP ? eval_rp(r, ss, nb) : eval_inception(r, e, nb);
        if (rc) return rc;
        r->t[slot[e]] += prov_now() - t0;
        r->t_images[slot[e]] += nb;
        todo[e] = 0;
    }
}

static int run_batch(Run *r, int64_t first, int nb) {
    const SuiteSample *ss = r->S.s + first;
    int W = r->words_num;
    int rc;
    double t0;
    // Text + generation (run), or image loading (eval-images).
    if (r->have_model) {
        if ((rc = stage(r, "text"))) return rc;
        t0 = prov_now();
        int E = r->te.cfg.nhidden;
        memset(r->cap, 0, sizeof(int64_t) * (size_t)nb * W);
        for (int b = 0; b < nb; b++)
            if ((rc = sample_ids(r, &r->mvocab, &ss[b], r->cap + (size_t)b * W, &r->lens[b],
                                 "model")) ||
                (rc = sample_encode(&r->te, r->cap + (size_t)b * W, r->lens[b], W, r->words_tmp,
                                    r->words_emb + (size_t)b * E * W, r->sent_emb + (size_t)b * E,
                                    r->mask + (size_t)b * W, &r->arena)))
                return rc;
        r->t[ST_TEXT] += prov_now() - t0;
        r->t_images[ST_TEXT] += nb;

        if ((rc = stage(r, "generate"))) return rc;
        t0 = prov_now();
        GenIO io = gen_io(&r->g.cfg);
        int zd = io.z_dim, cd = io.eps_dim;
        for (int b = 0; b < nb; b++)
            sample_noise(&r->P, &ss[b], zd, cd, r->z + (size_t)b * zd, r->eps + (size_t)b * cd);
        GenInputs in = {.z = r->z, .sent_emb = r->sent_emb, .words_emb = r->words_emb,
                         .mask = r->mask, .eps = r->eps,
                         .mask_mode = r->P.attention_mask ? ATT_MASK_BATCH_COUPLED
                                                          : ATT_MASK_PER_SAMPLE};
        // Per-sample mask mode: one sample per call (its bytes would be the same inside a
        // batch, tests/test_xconv.c, but a 256 px image already fills the convolutions and a
        // batch of 8 would need ~8x the activation memory); batch-coupled mode needs the real
        // batch, so its results depend on --batch (as in the original code).
        int coupled = in.mask_mode == ATT_MASK_BATCH_COUPLED;
        for (int b0 = 0; b0 < nb; b0 += coupled ? nb : 1) {
            if (g_stop) return T2I_EINTR;   // between samples
            int ub = coupled ? nb : 1;
            GenInputs in1 = in;
            in1.z = r->z + (size_t)b0 * zd;
            in1.sent_emb = r->sent_emb + (size_t)b0 * E;
            in1.words_emb = r->words_emb + (size_t)b0 * E * W;
            in1.mask = r->mask + (size_t)b0 * W;
            in1.eps = r->eps + (size_t)b0 * cd;
            GenOutputs out;
            memset(&out, 0, sizeof out);
            out.img = r->img + (size_t)b0 * 3 * IMG * IMG;
            if ((rc = generator_forward(&r->g, &in1, &out, ub, W, &r->arena))) return rc;
        }
        size_t per = (size_t)3 * IMG * IMG;
        for (int b = 0; b < nb; b++) {
            uint8_t *u = r->u8 + per * b;
            sample_image_bytes(&r->P, r->img + per * b, IMG, u, r->img_q + per * b, r->img_sha[b]);
            if (r->o->images_out) {
                char path[4096];
                snprintf(path, sizeof path, "%s/%lld.png", r->o->images_out, (long long)ss[b].id);
                if ((rc = png_write_rgb(path, u, IMG, IMG))) return rc;
            }
        }
        r->t[ST_GEN] += prov_now() - t0;
        r->t_images[ST_GEN] += nb;
    } else {
        if ((rc = stage(r, "load"))) return rc;
        t0 = prov_now();
        if ((rc = images_load_batch(r->imgs.path + first, nb, r->o, r->ld, r->ldH, r->ldW,
                                    r->img_sha)))
            return rc;
        r->t[ST_GEN] += prov_now() - t0;
        r->t_images[ST_GEN] += nb;
    }
    return run_evals(r, ss, nb);
}

// ---- progress ------------------------------------------------------------------------------

// Without a terminal (CI, Slurm, nohup): one line every every_s seconds or every_n samples.
typedef struct ProgLog {
    double  every_s;
    int64_t every_n;     // 0 = by time only
    double  last_t;
    int64_t last_done;
    int64_t run;
} ProgLog;

static void log_line(const Run *r, int64_t done, int64_t total, double t_start, int64_t done0,
                     const char *stage_name) {
    double now = prov_now(), el = now - t_start;
    double rate = el > 0 ? (double)(done - done0) / el : 0;
    double eta = rate > 0 ? (double)(total - done) / rate : 0;
    char etas[32] = "?";
    if (rate > 0)
        snprintf(etas, sizeof etas, "%d:%02d:%02d", (int)(eta / 3600), (int)eta / 60 % 60,
                 (int)eta % 60);
    fprintf(stderr, "t2ibench: run %lld: %lld/%lld samples (%.0f%%), %.2f images/s, ETA %s, %s\n",
            (long long)(r->plog ? r->plog->run : 0), (long long)done, (long long)total,
            total ? 100.0 * (double)done / (double)total : 100.0, rate, etas, stage_name);
    fflush(stderr);
    if (r->plog) {
        r->plog->last_t = now;
        r->plog->last_done = done;
    }
}

static void progress(const Run *r, int64_t done, int64_t total, double t_start, int64_t done0,
                     const char *stage_name) {
    if (r->o->quiet) return;
    if (!isatty(2)) {
        const ProgLog *pl = r->plog;
        if (pl && (prov_now() - pl->last_t >= pl->every_s ||
                   (pl->every_n > 0 && done - pl->last_done >= pl->every_n)))
            log_line(r, done, total, t_start, done0, stage_name);
        return;
    }
    double el = prov_now() - t_start;
    double rate = el > 0 ? (double)(done - done0) / el : 0;
    double eta = rate > 0 ? (double)(total - done) / rate : 0;
    int w = 30, fill = total ? (int)(w * done / total) : w;
    char bar[40];
    for (int i = 0; i < w; i++) bar[i] = i < fill ? '#' : '.';
    bar[w] = 0;
    fprintf(stderr, "\r[%s] %lld/%lld  %.2f img/s  ETA %d:%02d  %-10s", bar, (long long)done,
            (long long)total, rate, (int)(eta / 60), (int)eta % 60, stage_name);
    fflush(stderr);
}

// ---- metrics from stored rows --------------------------------------------------------------

// What the metrics depend on besides the rows (scoring.h); also stored in the provenance so that
// `t2ibench merge` scores merged shards the same way.
static void score_spec(const Run *r, const Provenance *pv, ScoreSpec *sp) {
    memset(sp, 0, sizeof *sp);
    sp->n = r->n;
    sp->block_size = r->S.block_size;
    sp->shard_index = r->o->shard_count > 1 ? r->o->shard_index : 0;
    sp->shard_count = r->o->shard_count > 1 ? r->o->shard_count : 0;
    sp->use_is = r->use_is;
    if (r->use_is) {
        sp->is_cols = r->E.is_num_classes;   // = r->is_cols once the networks are loaded
        sp->is_splits = r->P.is_splits;
        sp->is_temperature = r->P.is_temperature;
        sp->is_class_begin = r->E.is_first_class;
        sp->is_class_end = r->E.is_first_class + r->E.is_classes;
        sp->is_shuffle_seed = r->P.is_shuffle_seed;
    }
    sp->use_rp = r->use_rp;
    if (r->use_rp) {
        sp->rp_k = r->P.rp_k;
        sp->rp_folds = r->P.rp_folds;
        sp->rp_fold_dmgan = r->P.rp_fold_rule == FOLDS_DMGAN;
        sp->rp_shuffle_seed = r->P.rp_shuffle_seed;
    }
    sp->use_fid = r->use_fid;
    if (r->use_fid && r->E.fid_stats) {
        snprintf(sp->fid_stats, sizeof sp->fid_stats, "%s", r->E.fid_stats);
        for (int i = 0; pv && i < pv->n; i++)
            if (!strcmp(pv->files[i].role, "evaluators.fid_statistics"))
                snprintf(sp->fid_stats_sha256, sizeof sp->fid_stats_sha256, "%s",
                         pv->files[i].sha256);
    }
    snprintf(sp->evaluators, sizeof sp->evaluators, "%s", r->E.path ? r->E.path : "");
    images_score_spec_kid(r->o, r->use_fid, pv, sp->kid_ref, sizeof sp->kid_ref, sp->kid_ref_sha256);
}

static int score(const ScoreSpec *sp, Db *d, int64_t run) {
    int rc = db_begin(d);
    if (rc) return rc;
    if ((rc = scoring_write(d, run, sp)) || (rc = db_run_release(d, run))) {
        db_rollback(d);
        return rc;
    }
    return db_commit(d);
}

// ---- workers ------------------------------------------------------------------------------

#define RUN_MAX_WORKERS 64

typedef struct {
    int64_t first, cnt;     // the block's samples
    size_t  per_is;
    int     M;
    float  *is, *fid, *rp;  // (cnt, ...) outputs by sample index in the block
    int    *rank;
    char  (*sha)[65];
    const uint8_t *have;     // (cnt) 1 = stored by an earlier, interrupted invocation
    uint8_t       *computed; // (cnt) 1 = computed now (its outputs are valid)
} BlockOut;

typedef struct {
    Run      *w;
    BlockOut *out;
    int       k, nw;
    int       rc;
    char      err[1024];
} Job;

static void *job_main(void *arg) {
    Job *j = arg;
    Run *r = j->w;
    BlockOut *o = j->out;
    int B = r->B;
    j->rc = T2I_OK;
    for (int64_t s = (int64_t)j->k * B; s < o->cnt; s += (int64_t)j->nw * B) {
        int nb = (int)(o->cnt - s < B ? o->cnt - s : B);
        int stored = 1;
        for (int i = 0; i < nb; i++) stored &= o->have[s + i];
        if (stored) continue;   // the whole batch was committed before an interrupt
        int rc = g_stop ? T2I_EINTR : run_batch(r, o->first + s, nb);
        if (rc) {
            j->rc = rc;
            snprintf(j->err, sizeof j->err, "%s", rc == T2I_EINTR ? "interrupted" : t2i_errmsg());
            break;
        }
        memset(o->computed + s, 1, (size_t)nb);
        if (r->use_is)
            memcpy(o->is + (size_t)s * o->per_is, r->is_out, sizeof(float) * nb * o->per_is);
        if (r->use_fid) memcpy(o->fid + (size_t)s * 2048, r->pool3, sizeof(float) * nb * 2048);
        if (r->use_rp) {
            memcpy(o->rp + (size_t)s * (1 + o->M), r->rp_scores,
                   sizeof(float) * nb * (size_t)(1 + o->M));
            memcpy(o->rank + s, r->rp_rank, sizeof(int) * nb);
        }
        memcpy(o->sha + s, r->img_sha, (size_t)nb * 65);
        if (r->prog_count) atomic_fetch_add(r->prog_count, nb);
    }
    return NULL;
}

// Clears what a worker owns (after worker_free, or in a copy of worker 0 before it gets its own).
static void worker_forget(Run *w) {
    w->is_net = w->fid_net = NULL;
    memset(&w->dim, 0, sizeof w->dim);
    memset(&w->arena, 0, sizeof w->arena);
    w->cap = NULL, w->lens = NULL, w->words_emb = NULL, w->words_tmp = NULL, w->sent_emb = NULL;
    w->mask = NULL, w->z = NULL, w->eps = NULL, w->img = NULL, w->img_q = NULL, w->u8 = NULL;
    w->x299 = NULL, w->u8_299 = NULL, w->pil_scratch = NULL, w->tmpf = NULL, w->is_out = NULL;
    w->pool3 = NULL, w->cnn_code = NULL, w->rp_cap = NULL, w->rp_lens = NULL, w->rp_sent = NULL;
    w->rp_scores = NULL, w->rp_rank = NULL, w->img_sha = NULL;
    w->ld = NULL, w->ldH = NULL, w->ldW = NULL;
    memset(&w->g, 0, sizeof w->g);
}

// Worker k > 0: shares the loaded suite, cards, vocabularies, text encoders, G_NET weights and
// evaluator networks (under eval_lock) of w0 and owns its generator instance (generator_share),
// arena and buffers.
static int worker_clone(const Run *w0, Run *w, int k) {
    *w = *w0;
    w->widx = k;
    worker_forget(w);
    memset(w->t, 0, sizeof w->t);
    memset(w->t_images, 0, sizeof w->t_images);
    w->is_net = w0->is_net, w->fid_net = w0->fid_net, w->dimp = w0->dimp;
    w->shares_evals = 1;
    int rc = w0->have_model ? generator_share(&w->g, &w0->g) : T2I_OK;
    if (!rc) rc = alloc_buffers(w);
    return rc;
}

// ---- which run, its owner, partial blocks ---------------------------------------------------

// A live process owning `run` makes this one refuse it (and say which process); a dead owner
// on this host, or an owner on another host whose last commit is over an hour old
// (or --takeover), lets it resume.
static int check_owner(Db *d, int64_t run, const RunOpts *o) {
    DbOwner ow;
    int rc = db_run_owner(d, run, &ow);
    if (rc) return rc;
    DbLiveness lv = db_owner_liveness(&ow);
    if (lv == DB_OWNER_GONE && !o->quiet)
        fprintf(stderr, "t2ibench: run %lld was left \"running\" by process %lld on %s, which is "
                        "gone (stale); resuming it\n",
                (long long)run, (long long)ow.pid, ow.host);
    if (lv == DB_OWNER_ALIVE && ow.pid != (int64_t)getpid())
        return t2i_error(T2I_EDB, "run %lld is being computed by process %lld on this host (%s, "
                                  "last commit %s): wait for it to finish, or stop it with "
                                  "`kill -INT %lld` and rerun; nothing was done",
                         (long long)run, (long long)ow.pid, ow.host, ow.heartbeat,
                         (long long)ow.pid);
    if (lv == DB_OWNER_UNKNOWN && !o->takeover) {
        sqlite3_stmt *st;
        int recent = 1;
        if (sqlite3_prepare_v2(db_handle(d), "SELECT heartbeat > strftime('%Y-%m-%dT%H:%M:%SZ',"
                                             "'now','-1 hour') FROM runs WHERE id = ?",
                               -1, &st, NULL) == SQLITE_OK) {
            sqlite3_bind_int64(st, 1, run);
            if (sqlite3_step(st) == SQLITE_ROW) recent = sqlite3_column_int(st, 0);
            sqlite3_finalize(st);
        }
        if (recent)
            return t2i_error(T2I_EDB, "run %lld is owned by process %lld on host %s (last commit "
                                      "%s), which this host cannot check: wait for it, or add "
                                      "--takeover when that process is gone; nothing was done",
                             (long long)run, (long long)ow.pid, ow.host, ow.heartbeat);
    }
    return T2I_OK;
}

// The run this command continues: --resume N (same inputs, not complete), or else the newest
// run with this key (unless --new). *complete = 1 when that run is complete (nothing to do);
// *run = 0 for a new run. Refuses a run that a live process owns.
static int pick_run(Db *d, const RunOpts *o, const char *key, int64_t *run, int *complete) {
    *run = 0;
    *complete = 0;
    if (o->resume <= 0 && o->new_run) return T2I_OK;
    sqlite3_stmt *st;
    const char *sql = o->resume > 0
                          ? "SELECT id, run_key, status FROM runs WHERE id = ?"
                          : "SELECT id, run_key, status FROM runs WHERE run_key = ?"
                            " ORDER BY id DESC LIMIT 1";
    if (sqlite3_prepare_v2(db_handle(d), sql, -1, &st, NULL) != SQLITE_OK)
        return db_err(d, "find run");
    if (o->resume > 0) sqlite3_bind_int64(st, 1, o->resume);
    else sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    int step = sqlite3_step(st);
    if (step != SQLITE_ROW) {
        sqlite3_finalize(st);
        if (step != SQLITE_DONE) return db_err(d, "find run");
        if (o->resume > 0)
            return t2i_error(T2I_EARG, "--resume %lld: no such run in %s", (long long)o->resume,
                             o->db);
        return T2I_OK;
    }
    int64_t id = sqlite3_column_int64(st, 0);
    int same = strcmp((const char *)sqlite3_column_text(st, 1), key) == 0;
    const char *stt = (const char *)sqlite3_column_text(st, 2);
    int done = !strcmp(stt, "complete") || !strcmp(stt, "shard-complete");
    sqlite3_finalize(st);
    if (o->resume > 0 && !same)
        return t2i_error(T2I_EARG, "--resume %lld: that run was started with other inputs (suite, "
                                   "model, protocol, evaluators, build, --limit, --shard, or "
                                   "--batch for a batch-coupled protocol differ)",
                         (long long)o->resume);
    if (done) {
        if (o->resume > 0)
            return t2i_error(T2I_EARG, "--resume %lld: the run is already complete",
                             (long long)o->resume);
        *complete = 1;
        *run = id;
        return T2I_OK;
    }
    int rc = check_owner(d, id, o);
    if (!rc) *run = id;
    return rc;
}

// One shard count per database and run: a database holding shard runs i/3 of this run refuses a
// shard 0/1 (a resubmitted single array task) or a whole run, and the other way round, so that
// `merge` never meets duplicated blocks or picks a full run as a shard.
static int check_shard_mix(Db *d, const char *fp, const char *mfp, int64_t n, int shard_n) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db_handle(d), "SELECT id, provenance FROM runs WHERE fingerprint = ?"
                                         " AND model_fingerprint = ? AND n_samples = ?",
                           -1, &st, NULL) != SQLITE_OK)
        return db_err(d, "find runs");
    sqlite3_bind_text(st, 1, fp, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, mfp, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, n);
    int rc = T2I_OK;
    while (!rc && sqlite3_step(st) == SQLITE_ROW) {
        int i = 0, c = 0;
        scoring_shard_of_provenance((const char *)sqlite3_column_text(st, 1), &i, &c);
        if ((c > 1 ? c : 0) == shard_n) continue;
        char other[32], mine[32];
        snprintf(other, sizeof other, c > 1 ? "shard %d/%d" : "every block", i, c);
        snprintf(mine, sizeof mine, shard_n > 1 ? "a shard of %d" : "every block", shard_n);
        rc = t2i_error(T2I_EARG, "database %s already holds run %lld of these inputs with %s; this "
                                 "command runs %s: use one database per shard (and the same shard "
                                 "count, e.g. --shard I/%d for a resubmitted array task), or "
                                 "another --db",
                       d->path, (long long)sqlite3_column_int64(st, 0), other, mine,
                       c > 1 ? c : 1);
    }
    sqlite3_finalize(st);
    return rc;
}

// Samples stored in the shard's open blocks (kept by an interrupted invocation).
static int count_stored(Db *d, int64_t run, const uint8_t *done, int64_t nblocks, int shard_i,
                        int shard_n, int64_t *n) {
    sqlite3_stmt *st;
    *n = 0;
    if (sqlite3_prepare_v2(db_handle(d), "SELECT block, count(*) FROM samples WHERE run = ?"
                                         " GROUP BY block",
                           -1, &st, NULL) != SQLITE_OK)
        return db_err(d, "count samples");
    sqlite3_bind_int64(st, 1, run);
    while (sqlite3_step(st) == SQLITE_ROW) {
        int64_t b = sqlite3_column_int64(st, 0);
        if (b >= 0 && b < nblocks && !done[b] && scoring_block_in_shard(b, shard_i, shard_n))
            *n += sqlite3_column_int64(st, 1);
    }
    sqlite3_finalize(st);
    return T2I_OK;
}

// The provenance JSON of a new run (t2i_malloc'd; NULL when out of memory).
static char *run_provenance(const Run *r, const Provenance *pv, const ScoreSpec *spec, int nw,
                            int shard_i, int shard_n) {
    cJSON *ex = cJSON_CreateObject();
    char *extra = NULL, *prov = NULL;
    if (!ex) return NULL;
    cJSON_AddNumberToObject(ex, "batch_at_start", r->B);
    cJSON_AddNumberToObject(ex, "workers_at_start", nw);
    cJSON_AddBoolToObject(ex, "batch_coupled", r->P.attention_mask != 0);
    cJSON_AddNumberToObject(ex, "limit", (double)r->n);
    cJSON_AddStringToObject(ex, "suite", r->S.name);
    cJSON_AddStringToObject(ex, "protocol", r->P.name);
    cJSON_AddStringToObject(ex, "evaluators", r->E.name);
    cJSON_AddStringToObject(ex, "model", r->have_model ? r->M.name : "eval-images");
    if (r->have_model) cJSON_AddNumberToObject(ex, "model_words_num", r->M.words_num);
    if (shard_n > 1) {
        cJSON *sh = cJSON_AddObjectToObject(ex, "shard");
        cJSON_AddNumberToObject(sh, "index", shard_i);
        cJSON_AddNumberToObject(sh, "count", shard_n);
    }
    ScoreSpec all = *spec;
    all.shard_index = all.shard_count = 0;
    cJSON *sj = scoring_spec_json(&all);
    if (sj) cJSON_AddItemToObject(ex, "scoring", sj);
    extra = cJSON_PrintUnformatted(ex);
    cJSON_Delete(ex);
    if (extra) prov = prov_json(pv, extra);
    cJSON_free(extra);
    return prov;
}

// Stage seconds and image counts summed over the workers, before a block.
typedef struct {
    double  t[ST_N];
    int64_t ti[ST_N];
} BlockClock;

static void clock_read(const Run *workers, int nw, BlockClock *c) {
    memset(c, 0, sizeof *c);
    for (int k = 0; k < nw; k++)
        for (int st = 0; st < ST_N; st++) {
            c->t[st] += workers[k].t[st];
            c->ti[st] += workers[k].t_images[st];
        }
}

// One transaction: the block's newly computed sample rows, its timings and (when `whole`) the
// block as done. *stored = rows written.
static int commit_block(Db *d, const Run *r, const Run *workers, int nw, int64_t run, int64_t b,
                        const BlockOut *bo, const BlockClock *before, double tb, int whole,
                        int64_t *stored) {
    const RunOpts *o = r->o;
    int64_t first = bo->first, cnt = bo->cnt, n = 0;
    int M = bo->M;
    size_t per_is = bo->per_is;
    *stored = 0;
    double ts = prov_now();
    // Another writer may hold the database: wait (busy_timeout 5 s per try) up to a minute
    // before giving up on this block (not after a stop request: commit what we can now).
    int rc = db_begin(d);
    for (int tries = 1; rc == T2I_EDB && tries < 12 && !g_stop; tries++) {
        if (!o->quiet) fprintf(stderr, "t2ibench: %s; retrying\n", t2i_errmsg());
        rc = db_begin(d);
    }
    if (rc) return rc;
    for (int64_t s = 0; s < cnt && !rc; s++) {
        if (!bo->computed[s] || bo->have[s]) continue;
        DbSample row = {.sample = first + s, .block = b,
                        .is_logits = r->use_is ? bo->is + (size_t)s * per_is : NULL,
                        .n_is = r->use_is ? (int)per_is : 0,
                        .rp_rank = r->use_rp ? bo->rank[s] : -1,
                        .rp_scores = r->use_rp ? bo->rp + (size_t)s * (1 + M) : NULL,
                        .n_rp = r->use_rp ? 1 + M : 0,
                        .fid_feat = r->use_fid ? bo->fid + (size_t)s * 2048 : NULL,
                        .n_fid = r->use_fid ? 2048 : 0,
                        .image_sha256 = bo->sha[s]};
        rc = db_sample_put(d, run, &row);
        n++;
    }
    // Stage times are one worker's seconds per image (latency); "total" is the wall time of
    // the block per image (throughput).
    BlockClock now;
    clock_read(workers, nw, &now);
    for (int st = 0; st < ST_STORE && !rc; st++)
        if (now.ti[st] > before->ti[st])
            rc = db_timing_add(d, run, stage_names[st], now.t[st] - before->t[st],
                               now.ti[st] - before->ti[st]);
    if (!rc && n > 0) rc = db_timing_add(d, run, "store", prov_now() - ts, n);
    if (!rc && n > 0) rc = db_timing_add(d, run, "total", prov_now() - tb, n);
    if (!rc && whole) rc = db_block_done(d, run, b, cnt, prov_now() - tb);
    if (!rc) rc = db_run_heartbeat(d, run);
    if (!rc) rc = db_commit(d);
    else db_rollback(d);
    if (!rc) *stored = n;
    return rc;
}

// --images-out on a resumed run: the images of samples computed by an earlier invocation are
// not written again; say how many are missing and how to get them.
static void images_out_report(const Run *r, int64_t run, Db *d) {
    sqlite3_stmt *st;
    int64_t missing = 0, first_missing = -1;
    if (sqlite3_prepare_v2(db_handle(d), "SELECT sample FROM samples WHERE run = ? ORDER BY sample",
                           -1, &st, NULL) != SQLITE_OK)
        return;
    sqlite3_bind_int64(st, 1, run);
    while (sqlite3_step(st) == SQLITE_ROW) {
        char path[4096];
        int64_t id = sqlite3_column_int64(st, 0);
        snprintf(path, sizeof path, "%s/%lld.png", r->o->images_out, (long long)id);
        if (access(path, F_OK) != 0) {
            if (first_missing < 0) first_missing = id;
            missing++;
        }
    }
    sqlite3_finalize(st);
    if (missing)
        fprintf(stderr, "t2ibench: warning: --images-out %s lacks the images of %lld samples "
                        "(first: %lld) computed by an earlier invocation of run %lld; rerun with "
                        "--new --images-out to get every image\n",
                r->o->images_out, (long long)missing, (long long)first_missing, (long long)run);
}

// ---- the run -------------------------------------------------------------------------------

static int set_status(Db *d, int64_t run, const char *status) {
    int rc = db_begin(d);
    if (rc) return rc;
    if ((rc = db_run_set_status(d, run, status)) || (rc = db_run_release(d, run))) {
        db_rollback(d);
        return rc;
    }
    return db_commit(d);
}

int runner_run(const RunOpts *o, int64_t *run_id) {
    Run r;
    memset(&r, 0, sizeof r);
    r.o = o;
    r.B = o->batch > 0 ? o->batch : 8;
    Db d;
    memset(&d, 0, sizeof d);
    uint8_t *done = NULL;
    int64_t run = 0;
    char *prov = NULL;
    int rc;
    *run_id = 0;
    // Parallel over samples: --threads workers, each with single-threaded BLAS, so a sample is
    // always computed the same way whatever the worker count.
    int nw = o->threads > 0 ? (o->threads < RUN_MAX_WORKERS ? o->threads : RUN_MAX_WORKERS) : 1;
    Run *workers = NULL;
    blas_set_threads(1);
    if ((rc = load_all(&r)) || (rc = check_fid_stats(&r))) goto out;
    if (o->images_dir) {
        struct stat sb;
        if (stat(o->images_dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
            rc = t2i_error(T2I_EIO, "%s: not a directory", o->images_dir);
            goto out;
        }
    }
    if (o->images_out && mkdir(o->images_out, 0777) != 0 && errno != EEXIST) {
        rc = t2i_error(T2I_EIO, "--images-out %s: %s", o->images_out, strerror(errno));
        goto out;
    }
    // Fingerprint first (hashes every file; a missing weight file is reported here).
    Provenance pv;
    if ((rc = add_provenance(&r, &pv))) goto out;
    if (o->images_dir) {
        char hex[65];
        if ((rc = image_set_digest(&r.imgs, hex))) goto out;
        if ((rc = prov_add_digest(&pv, "model.images", o->images_dir, hex))) goto out;
    }
    char fp[65], ifp[65], mfp[65], key[65];
    prov_fingerprints(&pv, fp, ifp, mfp);
    // A shard run (--shard i/n, n > 1) runs the blocks b % n == i only; its key names the
    // shard, so rerunning the same shard command resumes that shard and nothing else.
    int shard_i = o->shard_count > 1 ? o->shard_index : 0;
    int shard_n = o->shard_count > 1 ? o->shard_count : 0;
    // A batch-coupled protocol (attention mask over the batch) makes a sample's numbers depend
    // on --batch: the batch size is then part of "the same command", so a resume or a merge
    // never mixes batch sizes.
    char kind[64];
    snprintf(kind, sizeof kind, "%s", o->images_dir ? "eval-images" : "run");
    if (r.have_model && r.P.attention_mask) snprintf(kind, sizeof kind, "run|batch=%d", r.B);
    scoring_run_key(kind, fp, mfp, r.n, r.S.sha256, shard_i, shard_n, key);
    ScoreSpec spec;
    score_spec(&r, &pv, &spec);
    // The database before any heavy work: a read-only or locked file fails fast, a complete
    // run of the same command is reported without any work, a run another process is
    // computing is refused.
    if ((rc = db_open(&d, o->db, 0))) goto out;
    int complete = 0;
    if ((rc = check_shard_mix(&d, fp, mfp, r.n, shard_n))) goto out;
    if ((rc = pick_run(&d, o, key, &run, &complete))) goto out;
    if (complete) {
        *run_id = run;
        if (!o->quiet)
            fprintf(stderr, "t2ibench: run %lld is complete (same command and inputs); nothing to "
                            "do (--new starts a fresh run)\n",
                    (long long)run);
        goto out;
    }
    run = 0;
    // Networks before the run row: a wrong-shape checkpoint leaves no trace in the database.
    if ((rc = load_networks(&r)) || (rc = alloc_buffers(&r))) goto out;
    workers = t2i_calloc((size_t)nw, sizeof(Run));
    if (!workers) {
        rc = fail_oom();
        goto out;
    }
    workers[0] = r;   // shares every pointer with r (freed through r)
    for (int k = 1; k < nw; k++) {
        if ((rc = worker_clone(&r, &workers[k], k))) {
            for (int q = 1; q < k; q++) worker_free(&workers[q]);
            t2i_free(workers);
            workers = NULL;
            goto out;
        }
    }
    int64_t nblocks = (r.n + r.S.block_size - 1) / r.S.block_size;
    // Claim the run (or insert it) in one transaction: two identical commands never compute
    // one run twice (the second sees the first's live owner and refuses).
    if ((rc = db_begin(&d))) goto out;
    if ((rc = pick_run(&d, o, key, &run, &complete))) {
        db_rollback(&d);
        goto out;
    }
    if (complete) {   // another process finished it while we loaded the networks
        db_rollback(&d);
        *run_id = run;
        if (!o->quiet) fprintf(stderr, "t2ibench: run %lld is complete; nothing to do\n", (long long)run);
        goto out;
    }
    if (run && !o->quiet) fprintf(stderr, "t2ibench: resuming run %lld\n", (long long)run);
    if (!run) {
        if (!(prov = run_provenance(&r, &pv, &spec, nw, shard_i, shard_n))) {
            db_rollback(&d);
            rc = fail_oom();
            goto out;
        }
        DbRun row = {.status = "running", .kind = o->images_dir ? "eval-images" : "run",
                     .run_key = key, .fingerprint = fp, .inputs_fingerprint = ifp,
                     .model_fingerprint = mfp, .suite = r.S.name, .suite_sha256 = r.S.sha256,
                     .protocol = r.P.name, .model = r.have_model ? r.M.name : o->images_dir,
                     .evaluators = r.E.name, .n_samples = r.n, .n_blocks = nblocks,
                     .block_size = r.S.block_size, .provenance = prov};
        rc = db_run_insert(&d, &row, &run);
    } else {
        rc = db_run_set_status(&d, run, "running");
    }
    if (!rc) rc = db_run_claim(&d, run);
    if (!rc) rc = db_commit(&d);
    else db_rollback(&d);
    if (rc) {
        run = 0;
        goto out;
    }
    *run_id = run;
    done = t2i_calloc((size_t)nblocks + 1, 1);
    if (!done) {
        rc = fail_oom();
        goto fail_run;
    }
    if ((rc = db_blocks_done(&d, run, done, nblocks))) goto fail_run;
    int64_t todo = 0, samples_done = 0, partial = 0;
    r.n_work = 0;
    for (int64_t b = 0; b < nblocks; b++) {
        if (!scoring_block_in_shard(b, shard_i, shard_n)) continue;
        int64_t nbk = (b + 1) * r.S.block_size < r.n ? r.S.block_size : r.n - b * r.S.block_size;
        r.n_work += nbk;
        if (done[b]) samples_done += nbk;
        else todo++;
    }
    if ((rc = count_stored(&d, run, done, nblocks, shard_i, shard_n, &partial))) goto fail_run;
    samples_done += partial;
    for (int k = 0; k < nw; k++) workers[k].n_work = r.n_work;
    if (shard_n > 1 && !o->quiet)
        fprintf(stderr, "t2ibench: run %lld is shard %d/%d: %lld of its blocks (b %% %d == %d) to "
                        "do, %lld of %lld samples; merge the shard databases with `t2ibench "
                        "merge`\n",
                (long long)run, shard_i, shard_n, (long long)todo, shard_n, shard_i,
                (long long)r.n_work, (long long)r.n);
    if (todo > 0) {
        if (o->verbose)
            fprintf(stderr, "t2ibench: run %lld: %lld samples, %lld blocks to do, batch %d, %d "
                            "workers with single-threaded BLAS (%s)\n",
                    (long long)run, (long long)r.n, (long long)todo, r.B, nw, blas_config());
    }
    struct sigaction sa, old_int, old_term;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    g_stop = 0;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    double t_start = prov_now();
    _Atomic int64_t prog_count;
    atomic_init(&prog_count, samples_done);
    int64_t done_start = samples_done;
    ProgLog plog = {.every_s = o->log_seconds > 0 ? o->log_seconds : 30, .every_n = o->log_samples,
                    .last_t = t_start, .last_done = samples_done, .run = run};
    for (int k = 0; k < nw; k++) {
        workers[k].prog_t0 = t_start;
        workers[k].prog_done0 = samples_done;
        workers[k].prog_count = &prog_count;
        workers[k].plog = &plog;
    }
    r.plog = &plog;
    BlockOut bo;
    memset(&bo, 0, sizeof bo);
    int M = r.S.mismatches;
    size_t per_is = (size_t)(r.is_cols ? r.is_cols : 1);
    size_t bs = (size_t)r.S.block_size;
    bo.per_is = per_is;
    bo.M = M;
    bo.is = t2i_malloc(sizeof(float) * bs * per_is);
    bo.fid = t2i_malloc(sizeof(float) * bs * (r.use_fid ? 2048 : 1));
    bo.rp = t2i_malloc(sizeof(float) * bs * (size_t)(1 + M));
    bo.rank = t2i_malloc(sizeof(int) * bs);
    bo.sha = t2i_malloc(bs * 65);
    uint8_t *have = t2i_malloc(bs);
    bo.computed = t2i_malloc(bs);
    bo.have = have;
    if (!bo.is || !bo.fid || !bo.rp || !bo.rank || !bo.sha || !have || !bo.computed)
        rc = fail_oom();
    for (int64_t b = 0; b < nblocks && !rc; b++) {
        if (done[b] || !scoring_block_in_shard(b, shard_i, shard_n)) continue;
        if (g_stop) {
            rc = T2I_EINTR;
            break;
        }
        int64_t first = b * r.S.block_size;
        int64_t cnt = first + r.S.block_size < r.n ? r.S.block_size : r.n - first;
        if ((rc = db_samples_present(&d, run, first, cnt, have))) break;
        memset(bo.computed, 0, (size_t)cnt);
        double tb = prov_now();
        BlockClock clk;
        clock_read(workers, nw, &clk);
        // The block's chunks of --batch consecutive samples go round-robin to the workers;
        // each sample's outputs land at its own index, so the order of work never matters.
        bo.first = first;
        bo.cnt = cnt;
        Job jobs[RUN_MAX_WORKERS];
        pthread_t tid[RUN_MAX_WORKERS];
        int started[RUN_MAX_WORKERS];
        for (int k = 0; k < nw; k++) {
            jobs[k] = (Job){.w = &workers[k], .out = &bo, .k = k, .nw = nw};
            started[k] = k > 0 && pthread_create(&tid[k], NULL, job_main, &jobs[k]) == 0;
        }
        for (int k = 1; k < nw; k++)
            if (!started[k]) job_main(&jobs[k]);   // could not start a thread: run it here
        job_main(&jobs[0]);
        for (int k = 1; k < nw; k++)
            if (started[k]) pthread_join(tid[k], NULL);
        int intr = 0;
        for (int k = 0; k < nw && !rc; k++) {
            if (jobs[k].rc == T2I_EINTR) intr = 1;
            else if (jobs[k].rc) rc = t2i_error(jobs[k].rc, "%s", jobs[k].err);
        }
        if (rc) break;
        // Interrupted mid-block: commit the finished samples (the block stays open; resume
        // computes only the others). Otherwise the whole block.
        int64_t stored = 0;
        if ((rc = commit_block(&d, &r, workers, nw, run, b, &bo, &clk, tb, !intr, &stored)))
            break;
        samples_done += stored;
        if (intr) rc = T2I_EINTR;
    }
    t2i_free(bo.is);
    t2i_free(bo.fid);
    t2i_free(bo.rp);
    t2i_free(bo.rank);
    t2i_free(bo.sha);
    t2i_free(have);
    t2i_free(bo.computed);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    if (!o->quiet && isatty(2)) {
        progress(&r, samples_done, r.n_work, t_start, done_start, rc ? "stopped" : "scoring");
        fprintf(stderr, "\n");
    } else if (!o->quiet) {
        log_line(&r, samples_done, r.n_work, t_start, done_start, rc ? "stopped" : "scoring");
    }
    if (rc == T2I_EINTR) {
        int64_t shard_blocks = 0, blocks_done = 0;
        for (int64_t b = 0; b < nblocks; b++)
            if (scoring_block_in_shard(b, shard_i, shard_n)) shard_blocks++;
        if (!db_blocks_done(&d, run, done, nblocks))
            for (int64_t b = 0; b < nblocks; b++)
                blocks_done += done[b] && scoring_block_in_shard(b, shard_i, shard_n);
        t2i_error(T2I_EINTR, "interrupted: run %lld stopped with %lld of its %lld samples "
                             "committed (%lld of %lld blocks%s complete); rerun the same command "
                             "(or --resume %lld) to finish",
                  (long long)run, (long long)samples_done, (long long)r.n_work,
                  (long long)blocks_done, (long long)shard_blocks, shard_n > 1 ? " of the shard" : "",
                  (long long)run);
    }
    if (rc) goto fail_run;
    // Scoring reads the stored rows only: the networks, arenas and buffers go first, so the
    // run's peak memory is that of computing or of scoring (FID's 2048 x 2048 matrices), not both.
    for (int k = 1; k < nw; k++) worker_free(&workers[k]);
    t2i_free(workers);
    workers = NULL;
    worker_free(&r);
    worker_forget(&r);
#ifdef __GLIBC__
    malloc_trim(0);   // hand the freed pages of every thread's heap back at once
#endif
    if ((rc = score(&spec, &d, run))) goto fail_run;
    if (o->images_out) images_out_report(&r, run, &d);
    goto out;
fail_run : {
    int keep = rc;
    char msg[2048];
    snprintf(msg, sizeof msg, "%s", t2i_errmsg());
    set_status(&d, run, keep == T2I_EINTR ? "interrupted" : "failed");
    t2i_error(keep, "%s", msg);
    rc = keep;
}
out:
    if (workers) {
        for (int k = 1; k < nw; k++) worker_free(&workers[k]);
        t2i_free(workers);
    }
    t2i_free(done);
    t2i_free(prov);
    db_close(&d);
    run_free(&r);
    return rc;
}
