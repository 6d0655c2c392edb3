// cmd_metric.c -- `t2ibench metric is|fid|kid|rp`: score precomputed arrays (saved logits,
// features, codes), as users do with torch-fidelity / pytorch-fid on saved features.
//
// Output: one human-readable line, or with --json one object
//   {"metric": ..., "variant": ..., "value": ..., "std": ..., "n": ..., <metric details>}
// where n is the number of samples of the scored set (--logits, --a, --image-codes).
#include "args.h"
#include "cli.h"
#include "fid.h"
#include "inception_score.h"
#include "kid.h"
#include "npy.h"
#include "r_precision.h"
#include "rng.h"
#include "stats.h"
#include "t2i.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const USAGE =
    "t2ibench metric is  --logits FILE.npy [--splits 10] [--temperature T] [--classes B:E]\n"
    "                    [--probs] [--json]\n"
    "       t2ibench metric fid --a FILE --b FILE [--save-stats OUT.npz] [--json]\n"
    "                    (FILE: .npy features (N, D) or pytorch-fid .npz with mu/sigma;\n"
    "                     --save-stats writes the statistics of --a; --b is then optional)\n"
    "       t2ibench metric kid --a FILE.npy --b FILE.npy [--subsets 100] [--subset-size 1000]\n"
    "                    [--seed 2020] [--subset-index-a I.npy --subset-index-b I.npy]\n"
    "                    [--degree 3] [--gamma 1/D] [--coef0 1] [--json]\n"
    "       t2ibench metric rp  --image-codes I.npy --sentence-codes S.npy --candidates C.npy\n"
    "                    [--folds 10] [--fold-rule contiguous|dmgan] [--r 1] [--json]\n"
    "  is:  StackGAN/improved-gan IS; --classes 1:51 drops the CUB background logit;\n"
    "       --temperature 0.5980541706085205 (CUB) / 0.9091363549232483 (COCO) gives TISE IS*.\n"
    "  kid: subsets drawn with the counter-based RNG of engine/core/rng.h keyed by --seed\n"
    "       (not numpy's); --subset-index-a/b (S, m) int arrays give explicit subsets.\n"
    "  rp:  row i of C = sentence ids for image i, true one first; hit when it ranks first\n"
    "       (top --r); folds contiguous = R[f*N/F:(f+1)*N/F], dmgan = R[f*n:(f+1)*n-1].";

// ---- loading --------------------------------------------------------------------------------

// "shape (a, b, ...)" of an array, for messages (static buffer: one use per message).
static const char *shape_str(const NpyArray *a) {
    static char buf[128];
    int o = snprintf(buf, sizeof buf, "shape (");
    for (int i = 0; i < a->ndim && o < (int)sizeof buf - 24; i++)
        o += snprintf(buf + o, sizeof buf - (size_t)o, "%s%lld", i ? ", " : "",
                      (long long)a->shape[i]);
    snprintf(buf + o, sizeof buf - (size_t)o, "%s)", a->ndim == 1 ? "," : "");
    return buf;
}

// Loads a 2-D float array as double (n, d).
static int load_matrix(const char *path, double **out, int64_t *n, int *d) {
    NpyArray a;
    *out = NULL;
    int rc = npy_load(path, &a);
    if (rc) return rc;
    if (a.ndim != 2 || a.shape[1] < 1 || a.shape[1] > 1 << 24) {
        rc = t2i_error(T2I_ESHAPE, "%s: expected a 2-D (N, D) array with 1 <= D <= %d, got %s",
                       path, 1 << 24, shape_str(&a));
        npy_free(&a);
        return rc;
    }
    double *x = t2i_malloc((a.numel ? a.numel : 1) * sizeof(double));
    if (!x) {
        npy_free(&a);
        return t2i_error(T2I_ENOMEM, "%s: out of memory", path);
    }
    rc = stats_to_f64(x, a.data, a.dtype, a.numel);
    if (rc) {
        t2i_free(x);
        npy_free(&a);
        return t2i_error_prefix(rc, "%s", path);
    }
    for (size_t i = 0; i < a.numel; i++)
        if (!isfinite(x[i])) {
            rc = t2i_error(T2I_EFORMAT, "%s: row %lld column %lld is not finite (%g)", path,
                           (long long)(i / (size_t)a.shape[1]), (long long)(i % (size_t)a.shape[1]),
                           x[i]);
            t2i_free(x);
            npy_free(&a);
            return rc;
        }
    *n = a.shape[0];
    *d = (int)a.shape[1];
    *out = x;
    npy_free(&a);
    return T2I_OK;
}

// Loads a 2-D integer array as int64 (n, d).
static int load_index_matrix(const char *path, int64_t **out, int64_t *n, int *d) {
    NpyArray a;
    *out = NULL;
    int rc = npy_load(path, &a);
    if (rc) return rc;
    if (a.ndim != 2 || a.shape[1] < 1 || a.shape[1] > 1 << 24) {
        rc = t2i_error(T2I_ESHAPE, "%s: expected a 2-D (N, K) integer array with K >= 1, got %s",
                       path, shape_str(&a));
        npy_free(&a);
        return rc;
    }
    int64_t *x = t2i_malloc((a.numel ? a.numel : 1) * sizeof(int64_t));
    if (!x) {
        npy_free(&a);
        return t2i_error(T2I_ENOMEM, "%s: out of memory", path);
    }
    for (size_t i = 0; i < a.numel; i++) {
        switch (a.dtype) {
        case DT_I64: x[i] = ((const int64_t *)a.data)[i]; break;
        case DT_I32: x[i] = ((const int32_t *)a.data)[i]; break;
        case DT_I16: x[i] = ((const int16_t *)a.data)[i]; break;
        case DT_U8: x[i] = ((const uint8_t *)a.data)[i]; break;
        default:
            t2i_free(x);
            rc = t2i_error(T2I_EFORMAT, "%s: expected integer indices, got %s", path,
                           dtype_name(a.dtype));
            npy_free(&a);
            return rc;
        }
    }
    *n = a.shape[0];
    *d = (int)a.shape[1];
    *out = x;
    npy_free(&a);
    return T2I_OK;
}

static int ends_with(const char *s, const char *suf) {
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

// Features (.npy) -> statistics via MeanCov, or pytorch-fid .npz statistics.
static int load_stats(const char *path, FidStats *st) {
    if (ends_with(path, ".npz")) return fid_stats_load(path, st);
    NpyArray a;
    memset(st, 0, sizeof *st);
    int rc = npy_load(path, &a);
    if (rc) return rc;
    if (a.ndim != 2 || a.shape[1] < 1 || a.shape[1] > 65536) {
        npy_free(&a);
        return t2i_error(T2I_ESHAPE, "%s: expected (N, D) features or a .npz with mu/sigma", path);
    }
    rc = fid_stats_from_features(a.data, a.dtype, a.shape[0], (int)a.shape[1], st);
    npy_free(&a);
    return rc ? t2i_error_prefix(rc, "%s", path) : T2I_OK;
}

static void print_array(const char *key, const double *v, int n) {
    printf(", \"%s\": [", key);
    for (int i = 0; i < n; i++) printf("%s%.17g", i ? ", " : "", v[i]);
    printf("]");
}

// ---- is -------------------------------------------------------------------------------------

static int metric_is(Args *a) {
    const char *path = args_str(a, "--logits", NULL);
    long splits = args_long(a, "--splits", 10);
    double t = args_double(a, "--temperature", 1.0);
    const char *classes = args_str(a, "--classes", NULL);
    int probs = args_flag(a, "--probs");
    int json = args_flag(a, "--json");
    char *pos[1];
    if (args_rest(a, pos, 0) < 0) return cli_usage("metric is", USAGE);
    if (!path) {
        t2i_error(T2I_EARG, "--logits is required");
        return cli_usage("metric is", USAGE);
    }
    if (splits < 1 || splits > 1000000) {
        t2i_error(T2I_EARG, "--splits %ld is outside [1, 1000000]", splits);
        return cli_usage("metric is", USAGE);
    }
    IsOptions opt = is_options_default();
    opt.splits = (int)splits;
    opt.temperature = t;
    if (classes) {
        int b, e, k = 0;
        if (sscanf(classes, "%d:%d%n", &b, &e, &k) != 2 || classes[k] != 0) {
            t2i_error(T2I_EARG, "--classes '%s' is not B:E", classes);
            return cli_usage("metric is", USAGE);
        }
        opt.class_begin = b;
        opt.class_end = e;
    }
    NpyArray x;
    int rc = npy_load(path, &x);
    if (rc) return cli_fail("metric is", rc);
    if (x.ndim != 2 || x.shape[1] < 1 || x.shape[1] > 1 << 20) {
        npy_free(&x);
        return cli_fail("metric is", t2i_error(T2I_ESHAPE, "%s: expected (N, classes) %s", path,
                                               probs ? "probabilities" : "logits"));
    }
    int C = (int)x.shape[1];
    IsAccum acc;
    IsResult res;
    double *sc = NULL;
    rc = is_accum_init(&acc, x.shape[0], C, &opt);
    if (!rc) {
        rc = probs ? is_accum_add_probs(&acc, 0, x.data, x.dtype, x.shape[0])
                   : is_accum_add_logits(&acc, 0, x.data, x.dtype, x.shape[0]);
        if (!rc && !(sc = t2i_malloc((size_t)opt.splits * sizeof(double))))
            rc = t2i_error(T2I_ENOMEM, "out of memory");
        if (!rc) rc = is_accum_finalize(&acc, sc, &res);
        is_accum_free(&acc);
    }
    npy_free(&x);
    if (rc) {
        t2i_free(sc);
        return cli_fail("metric is", t2i_error_prefix(rc, "%s", path));
    }
    char var[192];
    is_variant_name(&opt, C, var, sizeof var);
    if (json) {
        printf("{\"metric\": \"is\", \"variant\": \"%s\", \"value\": %.17g, \"std\": %.17g, "
               "\"n\": %lld, \"splits\": %d, \"temperature\": %.17g, \"classes\": [%d, %d], "
               "\"input\": \"%s\"", var, res.mean, res.std, (long long)res.n, res.splits,
               opt.temperature, opt.class_begin, opt.class_end ? opt.class_end : C,
               probs ? "probs" : "logits");
        print_array("split_scores", sc, res.splits);
        printf("}\n");
    } else {
        printf("IS %.6f +- %.6f  (n=%lld, %s)\n", res.mean, res.std, (long long)res.n, var);
    }
    t2i_free(sc);
    return EXIT_OK;
}

// ---- fid ------------------------------------------------------------------------------------

static int metric_fid(Args *a) {
    const char *pa = args_str(a, "--a", NULL), *pb = args_str(a, "--b", NULL);
    const char *save = args_str(a, "--save-stats", NULL);
    int json = args_flag(a, "--json");
    char *pos[1];
    if (args_rest(a, pos, 0) < 0) return cli_usage("metric fid", USAGE);
    if (!pa || (!pb && !save)) {
        t2i_error(T2I_EARG, "--a and --b (or --a and --save-stats) are required");
        return cli_usage("metric fid", USAGE);
    }
    FidStats sa, sb;
    memset(&sb, 0, sizeof sb);
    int rc = load_stats(pa, &sa);
    if (rc) return cli_fail("metric fid", rc);
    if (save && (rc = fid_stats_save(save, &sa))) {
        fid_stats_free(&sa);
        return cli_fail("metric fid", rc);
    }
    if (!pb) {
        if (json)
            printf("{\"metric\": \"fid-stats\", \"variant\": \"pytorch-fid-stats(np.cov ddof1)\", "
                   "\"n\": %lld, \"D\": %d, \"saved\": true}\n", (long long)sa.n, sa.D);
        else
            printf("saved statistics of %s (n=%lld, D=%d) to %s\n", pa, (long long)sa.n, sa.D, save);
        fid_stats_free(&sa);
        return EXIT_OK;
    }
    if ((rc = load_stats(pb, &sb))) {
        fid_stats_free(&sa);
        return cli_fail("metric fid", rc);
    }
    FidResult r;
    if (sa.D != sb.D)
        rc = t2i_error(T2I_ESHAPE, "fid: feature dimensions differ (%s: %d, %s: %d)", pa, sa.D,
                       pb, sb.D);
    else
        rc = fid_from_stats(&sa, &sb, &r);
    int64_t na = sa.n, nb = sb.n;
    int D = sa.D;
    fid_stats_free(&sa);
    fid_stats_free(&sb);
    if (rc) return cli_fail("metric fid", rc);
    if (json)
        printf("{\"metric\": \"fid\", \"variant\": \"%s\", \"value\": %.17g, \"raw\": %.17g, "
               "\"std\": null, \"n\": %lld, \"n_b\": %lld, \"D\": %d, \"mean_term\": %.17g, "
               "\"trace_term\": %.17g, \"offset_retry\": %s, \"clipped_eigenvalues\": %d}\n",
               FID_VARIANT, r.fid, r.fid_raw, (long long)na, (long long)nb, D, r.mean_term,
               r.trace_term,
               r.offset_used ? "true" : "false", r.n_clipped);
    else
        printf("FID %.6f  (n=%lld vs %lld, D=%d%s)\n", r.fid, (long long)na, (long long)nb, D,
               r.offset_used ? ", 1e-6 diagonal retry" : "");
    return EXIT_OK;
}

// ---- kid ------------------------------------------------------------------------------------

static int metric_kid(Args *a) {
    const char *pa = args_str(a, "--a", NULL), *pb = args_str(a, "--b", NULL);
    const char *ia_path = args_str(a, "--subset-index-a", NULL);
    const char *ib_path = args_str(a, "--subset-index-b", NULL);
    KidOptions opt = kid_options_default();
    long subsets = args_long(a, "--subsets", opt.subsets);
    long size = args_long(a, "--subset-size", opt.subset_size);
    long seed = args_long(a, "--seed", 2020);
    long degree = args_long(a, "--degree", opt.degree);
    opt.gamma = args_double(a, "--gamma", 0.0);
    opt.coef0 = args_double(a, "--coef0", opt.coef0);
    int json = args_flag(a, "--json");
    char *pos[1];
    if (args_rest(a, pos, 0) < 0) return cli_usage("metric kid", USAGE);
    if (!pa || !pb || (!ia_path) != (!ib_path)) {
        t2i_error(T2I_EARG, "--a and --b are required (and --subset-index-a/-b come together)");
        return cli_usage("metric kid", USAGE);
    }
    if (subsets < 1 || subsets > 1000000 || size < 2 || size > 1 << 20 || degree < 1 ||
        degree > 64) {
        t2i_error(T2I_EARG, "--subsets %ld / --subset-size %ld / --degree %ld out of range "
                            "([1, 1000000] / [2, %d] / [1, 64])", subsets, size, degree, 1 << 20);
        return cli_usage("metric kid", USAGE);
    }
    if (!isfinite(opt.gamma) || opt.gamma < 0 || !isfinite(opt.coef0)) {
        t2i_error(T2I_EARG, "--gamma %g must be finite and > 0 (0 or absent: 1/D), --coef0 %g "
                            "finite", opt.gamma, opt.coef0);
        return cli_usage("metric kid", USAGE);
    }
    opt.subsets = (int)subsets;
    opt.subset_size = (int)size;
    opt.degree = (int)degree;
    double *A = NULL, *B = NULL, *per = NULL;
    int64_t *ia = NULL, *ib = NULL;
    int64_t n1, n2, sa_n = 0, sb_n = 0;
    int d1, d2, ma = 0, mb = 0;
    int rc = load_matrix(pa, &A, &n1, &d1);
    if (!rc) rc = load_matrix(pb, &B, &n2, &d2);
    if (!rc && d1 != d2)
        rc = t2i_error(T2I_ESHAPE, "kid: feature dimensions differ (%s: %d, %s: %d)", pa, d1, pb, d2);
    if (!rc && ia_path) {
        rc = load_index_matrix(ia_path, &ia, &sa_n, &ma);
        if (!rc) rc = load_index_matrix(ib_path, &ib, &sb_n, &mb);
        if (!rc && (sa_n != sb_n || ma != mb))
            rc = t2i_error(T2I_ESHAPE, "kid: subset index arrays differ in shape ((%lld, %d) vs "
                                       "(%lld, %d))", (long long)sa_n, ma, (long long)sb_n, mb);
        if (!rc && (sa_n < 1 || sa_n > 1000000))
            rc = t2i_error(T2I_ESHAPE, "kid: %lld subsets", (long long)sa_n);
        if (!rc) {
            opt.subsets = (int)sa_n;
            opt.subset_size = ma;
        }
    }
    if (!rc && !(per = t2i_malloc((size_t)opt.subsets * sizeof(double))))
        rc = t2i_error(T2I_ENOMEM, "out of memory");
    KidResult r;
    Rng rng;
    rng_init(&rng, (uint64_t)seed, 0, RNG_STREAM_KID);
    if (!rc) rc = kid_compute(A, n1, B, n2, d1, &opt, ia, ib, &rng, per, &r);
    if (!rc && (!isfinite(r.mean) || !isfinite(r.std)))
        rc = t2i_error(T2I_EFORMAT, "kid: %s vs %s: KID %g +- %g is not finite (features too "
                                    "large for the polynomial kernel?)", pa, pb, r.mean, r.std);
    t2i_free(A);
    t2i_free(B);
    t2i_free(ia);
    t2i_free(ib);
    if (rc) {
        t2i_free(per);
        return cli_fail("metric kid", rc);
    }
    char var[160];
    snprintf(var, sizeof var, KID_VARIANT, opt.degree, opt.gamma > 0 ? opt.gamma : 1.0 / d1,
             opt.coef0, r.subsets, r.subset_size);
    if (json) {
        printf("{\"metric\": \"kid\", \"variant\": \"%s\", \"value\": %.17g, \"std\": %.17g, "
               "\"n\": %lld, \"n_b\": %lld, \"subsets\": %d, \"subset_size\": %d, "
               "\"subset_source\": \"%s\"", var, r.mean, r.std, (long long)n1, (long long)n2,
               r.subsets, r.subset_size, ia_path ? "explicit" : "rng");
        if (!ia_path) printf(", \"seed\": %ld", seed);
        print_array("per_subset", per, r.subsets);
        printf("}\n");
    } else {
        printf("KID %.6g +- %.6g  (n=%lld vs %lld, %s)\n", r.mean, r.std, (long long)n1,
               (long long)n2, var);
    }
    t2i_free(per);
    return EXIT_OK;
}

// ---- rp -------------------------------------------------------------------------------------

static int metric_rp(Args *a) {
    const char *pi = args_str(a, "--image-codes", NULL);
    const char *ps = args_str(a, "--sentence-codes", NULL);
    const char *pc = args_str(a, "--candidates", NULL);
    long folds = args_long(a, "--folds", 10);
    const char *rule_s = args_str(a, "--fold-rule", "contiguous");
    long R = args_long(a, "--r", 1);
    int json = args_flag(a, "--json");
    char *pos[1];
    if (args_rest(a, pos, 0) < 0) return cli_usage("metric rp", USAGE);
    int rule = rp_fold_rule_parse(rule_s);
    if (!pi || !ps || !pc || rule < 0 || folds < 1 || folds > 1000000 || R < 1 || R > 1 << 20) {
        t2i_error(T2I_EARG, "need --image-codes, --sentence-codes, --candidates; --fold-rule is "
                            "contiguous or dmgan; --folds, --r >= 1");
        return cli_usage("metric rp", USAGE);
    }
    double *I = NULL, *S = NULL, *fm = NULL;
    int64_t *C = NULL;
    int64_t ni, ns, nc, hits_n = 0;
    int ei, es, kc;
    uint8_t *hits = NULL;
    RpResult res;
    int rc = load_matrix(pi, &I, &ni, &ei);
    if (!rc) rc = load_matrix(ps, &S, &ns, &es);
    if (!rc) rc = load_index_matrix(pc, &C, &nc, &kc);
    if (!rc && ei != es)
        rc = t2i_error(T2I_ESHAPE, "rp: image codes %s have dimension %d, sentence codes %s %d", pi,
                       ei, ps, es);
    if (!rc && nc != ni)
        rc = t2i_error(T2I_ESHAPE, "rp: %lld image codes in %s but %lld candidate rows in %s",
                       (long long)ni, pi, (long long)nc, pc);
    if (!rc && kc < 2)
        rc = t2i_error(T2I_ESHAPE, "rp: %s: candidate rows need the true id and >= 1 mismatch "
                                   "(got %d column)", pc, kc);
    if (!rc && (!(hits = t2i_malloc((size_t)(ni ? ni : 1))) ||
                !(fm = t2i_malloc((size_t)folds * sizeof(double)))))
        rc = t2i_error(T2I_ENOMEM, "out of memory");
    if (!rc && (rc = rp_hits(I, ni, S, ns, ei, C, kc - 1, (int)R, hits, &hits_n)))
        rc = t2i_error_prefix(rc, "%s, %s, %s", pi, ps, pc);
    if (!rc) rc = rp_folds(hits, ni, (int)folds, (RpFoldRule)rule, fm, &res);
    t2i_free(I);
    t2i_free(S);
    t2i_free(C);
    t2i_free(hits);
    if (rc) {
        t2i_free(fm);
        return cli_fail("metric rp", rc);
    }
    char var[128];
    snprintf(var, sizeof var, "damsm-r-precision(cosine, top-%ld of 1+%d, %ld folds %s)", R, kc - 1, folds,
             rule_s);
    if (json) {
        printf("{\"metric\": \"rp\", \"variant\": \"%s\", \"value\": %.17g, \"std\": %.17g, "
               "\"n\": %lld, \"hits\": %lld, \"n_used\": %lld, \"folds\": %d, \"fold_rule\": "
               "\"%s\", \"R\": %ld, \"K\": %d", var, res.mean, res.std, (long long)res.n,
               (long long)hits_n, (long long)res.n_used, res.folds, rule_s, R, kc - 1);
        print_array("fold_means", fm, res.folds);
        printf("}\n");
    } else {
        printf("R-precision %.6f +- %.6f  (hits %lld of %lld, %s)\n", res.mean, res.std,
               (long long)hits_n, (long long)res.n, var);
    }
    t2i_free(fm);
    return EXIT_OK;
}

// ---- dispatch -------------------------------------------------------------------------------

int cmd_metric(int argc, char **argv) {
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fprintf(argc < 2 ? stderr : stdout, "usage: %s\n", USAGE);
        return argc < 2 ? EXIT_USAGE : EXIT_OK;
    }
    const char *sub = argv[1];
    Args a;
    if (args_init(&a, argc - 1, argv + 1)) return cli_usage("metric", USAGE);
    if (args_flag(&a, "--help")) {
        printf("usage: %s\n", USAGE);
        return EXIT_OK;
    }
    if (strcmp(sub, "is") == 0) return metric_is(&a);
    if (strcmp(sub, "fid") == 0) return metric_fid(&a);
    if (strcmp(sub, "kid") == 0) return metric_kid(&a);
    if (strcmp(sub, "rp") == 0) return metric_rp(&a);
    t2i_error(T2I_EARG, "unknown metric '%s' (is, fid, kid, rp)", sub);
    return cli_usage("metric", USAGE);
}
