// cmd_samples.c -- per-sample data out (`export RUN --samples`) and `rescore RUN --protocol P`.
//
// Rescore recomputes the metrics of a complete run from its stored rows under another
// protocol's scoring rules (IS splits / temperature / shuffle, R-precision k / folds / fold rule /
// shuffle), another FID statistics file (--fid-stats) or KID against a reference run's features
// (--kid-reference), without running a network, and stores them as a named metric set of the
// same run (tables metric_sets and metric_set_values, created on first use). The stored metrics
// of the run stay as they are. The scoring code is the runner's (scoring_compute), so rescoring
// with the run's own protocol reproduces its stored metrics bit for bit.
#include "args.h"
#include "breakdown.h"
#include "cli.h"
#include "kid.h"
#include "npz.h"
#include "protocol.h"
#include "rng.h"
#include "samples.h"
#include "scoring.h"
#include "sha256.h"
#include "t2i.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// ---- metric sets ---------------------------------------------------------------------------

static const char sets_schema[] =
    "CREATE TABLE IF NOT EXISTS metric_sets ("
    "  run INTEGER NOT NULL REFERENCES runs(id),"
    "  name TEXT NOT NULL,"
    "  protocol TEXT NOT NULL,"
    "  protocol_sha256 TEXT NOT NULL,"
    "  spec TEXT NOT NULL,"
    "  created TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now')),"
    "  PRIMARY KEY (run, name));"
    "CREATE TABLE IF NOT EXISTS metric_set_values ("
    "  run INTEGER NOT NULL,"
    "  set_name TEXT NOT NULL,"
    "  name TEXT NOT NULL,"
    "  value REAL,"
    "  std REAL,"
    "  n INTEGER NOT NULL,"
    "  direction INTEGER NOT NULL,"
    "  PRIMARY KEY (run, set_name, name));";

static int bind_double(sqlite3_stmt *st, int i, double v) {
    return isfinite(v) ? sqlite3_bind_double(st, i, v) : sqlite3_bind_null(st, i);
}

// Inside a transaction: replaces metric set `name` of `run`.
static int metric_set_put(Db *d, int64_t run, const char *name, const char *protocol,
                          const char *protocol_sha, const char *spec, const ScoreValue *v,
                          int nv) {
    sqlite3 *db = db_handle(d);
    char *msg = NULL;
    if (sqlite3_exec(db, sets_schema, NULL, NULL, &msg) != SQLITE_OK) {
        int rc = t2i_error(T2I_EDB, "database %s: create metric_sets: %s", d->path,
                           msg ? msg : "error");
        sqlite3_free(msg);
        return rc;
    }
    sqlite3_stmt *st = NULL;
    const char *del[] = {"DELETE FROM metric_set_values WHERE run = ?1 AND set_name = ?2",
                         "DELETE FROM metric_sets WHERE run = ?1 AND name = ?2"};
    for (int i = 0; i < 2; i++) {
        if (sqlite3_prepare_v2(db, del[i], -1, &st, NULL) != SQLITE_OK)
            return db_err(d, "replace metric set");
        sqlite3_bind_int64(st, 1, run);
        sqlite3_bind_text(st, 2, name, -1, SQLITE_TRANSIENT);
        int s = sqlite3_step(st);
        sqlite3_finalize(st);
        if (s != SQLITE_DONE) return db_err(d, "replace metric set");
    }
    if (sqlite3_prepare_v2(db, "INSERT INTO metric_sets (run, name, protocol, protocol_sha256, spec)"
                               " VALUES (?, ?, ?, ?, ?)",
                           -1, &st, NULL) != SQLITE_OK)
        return db_err(d, "insert metric set");
    sqlite3_bind_int64(st, 1, run);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 3, protocol, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 4, protocol_sha, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 5, spec, -1, SQLITE_TRANSIENT);
    int s = sqlite3_step(st);
    sqlite3_finalize(st);
    if (s != SQLITE_DONE) return db_err(d, "insert metric set");
    for (int i = 0; i < nv; i++) {
        if (sqlite3_prepare_v2(db, "INSERT INTO metric_set_values (run, set_name, name, value, std,"
                                   " n, direction) VALUES (?, ?, ?, ?, ?, ?, ?)",
                               -1, &st, NULL) != SQLITE_OK)
            return db_err(d, "insert metric set value");
        sqlite3_bind_int64(st, 1, run);
        sqlite3_bind_text(st, 2, name, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 3, v[i].name, -1, SQLITE_TRANSIENT);
        bind_double(st, 4, v[i].value);
        bind_double(st, 5, v[i].std);
        sqlite3_bind_int64(st, 6, v[i].n);
        sqlite3_bind_int(st, 7, v[i].direction);
        s = sqlite3_step(st);
        sqlite3_finalize(st);
        if (s != SQLITE_DONE) return db_err(d, "insert metric set value");
    }
    return T2I_OK;
}

int metric_sets_print(Db *d, int64_t run, FILE *f) {
    sqlite3_stmt *st = NULL;
    // No metric_sets table yet (no rescore ever): nothing to print.
    if (sqlite3_prepare_v2(db_handle(d),
                           "SELECT s.name, s.protocol, s.created, v.name, v.value, v.std, v.n"
                           " FROM metric_sets s JOIN metric_set_values v ON v.run = s.run AND"
                           " v.set_name = s.name WHERE s.run = ? ORDER BY s.name, v.rowid",
                           -1, &st, NULL) != SQLITE_OK)
        return T2I_OK;
    sqlite3_bind_int64(st, 1, run);
    char last[256] = "";
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(st, 0);
        if (!name) continue;
        if (strcmp(name, last)) {
            fprintf(f, "metric set \"%s\" (rescore with protocol %s, %s):\n", name,
                    (const char *)sqlite3_column_text(st, 1),
                    (const char *)sqlite3_column_text(st, 2));
            snprintf(last, sizeof last, "%s", name);
        }
        double v = sqlite3_column_double(st, 4);
        fprintf(f, "  %-22s %.6g", (const char *)sqlite3_column_text(st, 3), v);
        if (sqlite3_column_type(st, 5) != SQLITE_NULL)
            fprintf(f, " +- %.4g", sqlite3_column_double(st, 5));
        fprintf(f, "  (n %lld)\n", (long long)sqlite3_column_int64(st, 6));
    }
    sqlite3_finalize(st);
    return T2I_OK;
}

// ---- export --samples ----------------------------------------------------------------------

static void csv_text(FILE *f, const char *s) {
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"') fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static void json_text(FILE *f, const char *s) {
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
        else if (c < 0x20) fprintf(f, "\\u%04x", c);
        else fputc(c, f);
    }
    fputc('"', f);
}

// The suite row of sample id, or NULL.
static const SuiteSample *suite_row(const Suite *S, int64_t id) {
    return id >= 0 && id < S->n ? &S->s[id] : NULL;
}

static int write_npz(const char *out, const RunSamples *s, const Suite *S) {
    int64_t n = s->n;
    size_t cap = (size_t)(n > 0 ? n : 1);
    int32_t *cls = t2i_malloc(sizeof(int32_t) * cap), *cap_id = t2i_malloc(sizeof(int32_t) * cap);
    int64_t *rank = t2i_malloc(sizeof(int64_t) * cap);
    if (!cls || !cap_id || !rank) {
        t2i_free(cls);
        t2i_free(cap_id);
        t2i_free(rank);
        return T2I_ENOMEM;
    }
    for (int64_t i = 0; i < n; i++) {
        const SuiteSample *x = suite_row(S, s->id[i]);
        cls[i] = x ? x->class_id : -1;
        cap_id[i] = x ? x->caption_id : -1;
        rank[i] = s->rp_rank[i];
    }
    const char *names[7];
    NpyArray a[7];
    int k = 0;
    memset(a, 0, sizeof a);
#define ADD(nm, dt, nd, d0, d1, ptr)                                           \
    do {                                                                       \
        names[k] = nm;                                                         \
        a[k] = (NpyArray){.dtype = dt, .ndim = nd, .shape = {d0, d1}, .data = (void *)(ptr)}; \
        k++;                                                                   \
    } while (0)
    ADD("sample_id", DT_I64, 1, n, 0, s->id);
    ADD("class_id", DT_I32, 1, n, 0, cls);
    ADD("caption_id", DT_I32, 1, n, 0, cap_id);
    if (s->n_is) ADD("is_logits", DT_F32, 2, n, s->n_is, s->is);
    if (s->n_rp) {
        ADD("rp_rank", DT_I64, 1, n, 0, rank);
        ADD("rp_scores", DT_F32, 2, n, s->n_rp, s->rp_scores);
    }
    if (s->n_fid) ADD("fid_features", DT_F32, 2, n, s->n_fid, s->fid);
#undef ADD
    for (int i = 0; i < k; i++) a[i].numel = (size_t)n * (size_t)(a[i].ndim == 2 ? a[i].shape[1] : 1);
    int rc = npz_save(out, k, names, a);
    t2i_free(cls);
    t2i_free(cap_id);
    t2i_free(rank);
    return rc;
}

int export_samples(const char *db_path, const char *run_arg, const char *fmt, const char *out) {
    Db d;
    ResRun r;
    RunSamples s;
    Suite S;
    ScoreSpec sp;
    memset(&s, 0, sizeof s);
    memset(&S, 0, sizeof S);
    int rc = run_open(db_path, 1, run_arg, &d, &r);
    if (rc) return rc;
    rc = run_samples_load(&d, r.id, &s);
    db_close(&d);
    if (!rc) rc = run_suite_load(r.provenance, &S);
    if (!rc && run_score_spec(r.provenance, &sp))
        memset(&sp, 0, sizeof sp);   // runs of older builds: defaults below
    int k = sp.rp_k > 0 ? sp.rp_k : 1;
    double T = sp.is_temperature > 0 ? sp.is_temperature : 1.0;
    int cb = sp.is_class_end > sp.is_class_begin ? sp.is_class_begin : 0;
    int ce = sp.is_class_end > sp.is_class_begin ? sp.is_class_end : s.n_is;
    if (!rc && !strcmp(fmt, "npz")) {
        rc = write_npz(out, &s, &S);
        if (!rc) printf("wrote %s: %lld samples of run %lld\n", out, (long long)s.n, (long long)r.id);
        goto done;
    }
    FILE *f = rc ? NULL : out ? fopen(out, "w") : stdout;
    if (!rc && !f) rc = t2i_error(T2I_EIO, "%s: cannot create", out);
    int csv = !strcmp(fmt, "csv");
    if (!rc && csv)
        fprintf(f, "sample,caption_id,class_id,words,caption,rp_rank,rp_hit,rp_true_score,"
                   "rp_top_score,is_neg_entropy,is_top_class,is_top_prob,image_sha256\n");
    for (int64_t i = 0; !rc && i < s.n; i++) {
        const SuiteSample *x = suite_row(&S, s.id[i]);
        if (!x) {
            rc = t2i_error(T2I_EARG, "sample %lld of run %lld is not in its suite %s (%lld samples)",
                           (long long)s.id[i], (long long)r.id, S.path, (long long)S.n);
            break;
        }
        double ne = NAN, pt = NAN, ts = NAN, top = NAN;
        int tc = -1;
        if (s.n_is) is_row_terms(s.is + (size_t)i * s.n_is, cb, ce, T, &ne, &tc, &pt);
        if (s.n_rp) {
            const float *sc = s.rp_scores + (size_t)i * s.n_rp;
            ts = sc[0];
            top = sc[0];
            for (int j = 1; j < s.n_rp; j++) top = sc[j] > top ? sc[j] : top;
        }
        int rank = s.rp_rank[i], hit = rank >= 0 && rank < k;
        int words = x->n_words > 0 ? x->n_words : x->ntok;
        if (csv) {
            fprintf(f, "%lld,%d,%d,%d,", (long long)x->id, x->caption_id, x->class_id, words);
            csv_text(f, x->caption);
            if (rank >= 0) fprintf(f, ",%d,%d,%.9g,%.9g,", rank, hit, ts, top);
            else fprintf(f, ",,,,,");
            if (s.n_is) fprintf(f, "%.17g,%d,%.17g,", ne, tc, pt);
            else fprintf(f, ",,,");
            fprintf(f, "%s\n", s.sha[i]);
        } else {
            fprintf(f, "{\"sample\":%lld,\"caption_id\":%d,\"class_id\":%d,\"words\":%d,"
                       "\"caption\":",
                    (long long)x->id, x->caption_id, x->class_id, words);
            json_text(f, x->caption);
            if (rank >= 0)
                fprintf(f, ",\"rp_rank\":%d,\"rp_hit\":%s,\"rp_true_score\":%.9g,"
                           "\"rp_top_score\":%.9g",
                        rank, hit ? "true" : "false", ts, top);
            if (s.n_is)
                fprintf(f, ",\"is_neg_entropy\":%.17g,\"is_top_class\":%d,\"is_top_prob\":%.17g",
                        ne, tc, pt);
            fprintf(f, ",\"image_sha256\":\"%s\"}\n", s.sha[i]);
        }
    }
    if (f && out) {
        int werr = ferror(f);
        if (fclose(f) != 0 || werr) {
            remove(out);
            if (!rc) rc = t2i_error(T2I_EIO, "%s: write failed (file removed)", out);
        }
    }
done:
    suite_free(&S);
    run_samples_free(&s);
    res_free(&r);
    return rc;
}

// ---- rescore -------------------------------------------------------------------------------

// The protocol fields that shaped the stored rows (sampling, generation, evaluator inputs):
// rescoring under a protocol that differs in any of them would mix two setups.
static int rows_compatible(const Protocol *a, const Protocol *b, char *why, size_t n) {
    const char *f = NULL;
    if (memcmp(a->words_num, b->words_num, sizeof a->words_num) || a->truncation != b->truncation)
        f = "sampling.words_num / truncation";
    else if (a->mismatches != b->mismatches || a->mismatch_rule != b->mismatch_rule)
        f = "sampling.mismatches / mismatch_rule";
    else if (a->noise != b->noise || a->noise_bound != b->noise_bound ||
             a->noise_scale != b->noise_scale)
        f = "generation.noise";
    else if (a->quantization != b->quantization || a->attention_mask != b->attention_mask)
        f = "generation.quantization / attention_mask";
    else if (a->is_resize != b->is_resize ||
             memcmp(a->is_classifier, b->is_classifier, sizeof a->is_classifier))
        f = "inception_score.resize / classifier";
    else if (a->rp_resize != b->rp_resize)
        f = "r_precision.resize";
    else if (a->fid_resize != b->fid_resize)
        f = "fid.resize";
    if (f) snprintf(why, n, "%s", f);
    return f == NULL;
}

// KID of the run's FID features against those of a reference run (same feature width).
static int kid_metric(Db *d, const char *ref_arg, const RunSamples *s, int subsets, int size,
                      uint64_t seed, ScoreValue *v) {
    int64_t ref_id;
    RunSamples ref;
    int rc = res_run_arg(ref_arg, &ref_id);
    if (rc)
        return t2i_error(T2I_EARG, "--kid-reference %s: rescore takes a reference run of this "
                                   "database (a run id or 'latest'), whose stored FID features "
                                   "are compared; a features .npy goes to run / eval-images",
                         ref_arg);
    if ((rc = res_parse_run(d, ref_arg, &ref_id))) return rc;
    if ((rc = run_samples_load(d, ref_id, &ref))) return rc;
    double *A = NULL, *B = NULL;
    if (!s->n_fid || ref.n_fid != s->n_fid) {
        rc = t2i_error(T2I_EARG, "--kid-reference %s: KID needs FID features in both runs (this "
                                 "run stores %d per sample, run %lld stores %d)",
                       ref_arg, s->n_fid, (long long)ref_id, ref.n_fid);
        goto done;
    }
    A = t2i_malloc(sizeof(double) * (size_t)s->n * (size_t)s->n_fid);
    B = t2i_malloc(sizeof(double) * (size_t)ref.n * (size_t)ref.n_fid);
    if (!A || !B) {
        rc = T2I_ENOMEM;
        goto done;
    }
    for (size_t i = 0; i < (size_t)s->n * (size_t)s->n_fid; i++) A[i] = s->fid[i];
    for (size_t i = 0; i < (size_t)ref.n * (size_t)ref.n_fid; i++) B[i] = ref.fid[i];
    KidOptions o = kid_options_default();
    o.subsets = subsets;
    o.subset_size = size;
    if (size > s->n || size > ref.n) {
        rc = t2i_error(T2I_EARG, "--kid-subset-size %d is larger than the run (%lld samples) or the "
                                 "reference (%lld)",
                       size, (long long)s->n, (long long)ref.n);
        goto done;
    }
    Rng g;
    rng_init(&g, seed, 0, RNG_STREAM_KID);
    KidResult kr;
    if ((rc = kid_compute(A, s->n, B, ref.n, s->n_fid, &o, NULL, NULL, &g, NULL, &kr))) goto done;
    snprintf(v->name, sizeof v->name, "kid");
    v->value = kr.mean;
    v->std = kr.std;
    v->n = kr.subsets;
    v->direction = -1;
done:
    t2i_free(A);
    t2i_free(B);
    run_samples_free(&ref);
    return rc;
}

int cmd_rescore(int argc, char **argv) {
    static const char *usage =
        "t2ibench rescore RUN|latest --protocol FILE [--name NAME] [--fid-stats FILE.npz]\n"
        "                 [--kid-reference RUN [--kid-subsets 100] [--kid-subset-size 1000]\n"
        "                 [--kid-seed 1]] [--db FILE]\n"
        "  Recomputes the metrics of a complete run from its stored per-sample rows under the\n"
        "  scoring rules of another protocol (IS splits, temperature and shuffle; R-precision k,\n"
        "  folds, fold rule and shuffle), another FID statistics file, or KID against the FID\n"
        "  features of a reference run (e.g. `eval-images` over real images). No network runs.\n"
        "  The result is stored as metric set NAME (default: the protocol's name) of the same\n"
        "  run; `show` lists metric sets. The run's own metrics are not changed.";
    Args a;
    char *pos[4];
    if (args_init(&a, argc, argv)) return cli_usage("rescore", usage);
    if (args_flag(&a, "--help")) return printf("usage: %s\n", usage), EXIT_OK;
    const char *proto = args_str(&a, "--protocol", NULL);
    const char *name = args_str(&a, "--name", NULL);
    const char *fid_stats = args_str(&a, "--fid-stats", NULL);
    const char *kid_ref = args_str(&a, "--kid-reference", NULL);
    long kid_subsets = args_long(&a, "--kid-subsets", 100);
    long kid_size = args_long(&a, "--kid-subset-size", 1000);
    long kid_seed = args_long(&a, "--kid-seed", 1);
    const char *dbp = args_str(&a, "--db", "results/t2ibench.db");
    int64_t id;
    if (args_rest(&a, pos, 4) != 1 || !proto || res_run_arg(pos[0], &id) || kid_subsets < 1 ||
        kid_size < 2 || kid_seed < 0 || kid_subsets > 100000 || kid_size > 1000000)
        return cli_usage("rescore", usage);
    Protocol P, P0;
    memset(&P, 0, sizeof P);
    memset(&P0, 0, sizeof P0);
    Db d;
    ResRun r;
    memset(&r, 0, sizeof r);
    memset(&d, 0, sizeof d);
    RunSamples s;
    memset(&s, 0, sizeof s);
    char *spec_text = NULL;
    int rc = protocol_load(proto, &P);
    if (rc) return cli_fail("rescore", rc);
    if ((rc = run_open(dbp, 0, pos[0], &d, &r))) goto out;
    if (strcmp(r.status, "complete") != 0) {
        rc = t2i_error(T2I_EARG, "run %lld is %s: only a complete run can be rescored%s",
                       (long long)r.id, r.status,
                       r.shard_count > 1 ? " (merge the shards with `t2ibench merge` first)" : "");
        goto out;
    }
    char p0path[1024], why[128];
    if ((rc = prov_role_check(r.provenance, "protocol", p0path, sizeof p0path)) ||
        (rc = protocol_load(p0path, &P0)))
        goto out;
    if (!rows_compatible(&P0, &P, why, sizeof why)) {
        rc = t2i_error(T2I_EARG, "protocol %s differs from the run's protocol %s in %s, which "
                                 "shaped the stored rows: rescoring can change only scoring rules "
                                 "(start a new run for this protocol)",
                       proto, p0path, why);
        goto out;
    }
    ScoreSpec sp;
    if ((rc = run_score_spec(r.provenance, &sp))) goto out;
    if (sp.use_is && P.is_enabled) {
        sp.is_splits = P.is_splits;
        sp.is_temperature = P.is_temperature;
        sp.is_shuffle_seed = P.is_shuffle_seed;
    }
    sp.use_is = sp.use_is && P.is_enabled;
    if (sp.use_rp && P.rp_enabled) {
        sp.rp_k = P.rp_k;
        sp.rp_folds = P.rp_folds;
        sp.rp_fold_dmgan = P.rp_fold_rule == FOLDS_DMGAN;
        sp.rp_shuffle_seed = P.rp_shuffle_seed;
    }
    sp.use_rp = sp.use_rp && P.rp_enabled;
    sp.use_fid = sp.use_fid && P.fid_enabled;
    if (fid_stats) {
        if (!sp.use_fid) {
            rc = t2i_error(T2I_EARG, "--fid-stats: run %lld stores no FID features (or the protocol "
                                     "disables FID)",
                           (long long)r.id);
            goto out;
        }
        snprintf(sp.fid_stats, sizeof sp.fid_stats, "%s", fid_stats);
        if ((rc = sha256_file(fid_stats, sp.fid_stats_sha256))) goto out;
    }
    ScoreValue v[SCORE_MAX_VALUES + 1];
    int nv = 0;
    if ((rc = scoring_compute(&d, r.id, &sp, v, &nv))) goto out;
    if (kid_ref) {
        if ((rc = run_samples_load(&d, r.id, &s))) goto out;
        ScoreValue kv;
        if ((rc = kid_metric(&d, kid_ref, &s, (int)kid_subsets, (int)kid_size,
                             (uint64_t)kid_seed, &kv)))
            goto out;
        // Replaces the KID of the run's own reference (evaluator card), if it has one.
        int k = 0;
        while (k < nv && strcmp(v[k].name, "kid")) k++;
        v[k] = kv;
        if (k == nv) nv++;
    }
    char set_name[256];
    snprintf(set_name, sizeof set_name, "%s%s%s", name ? name : P.name,
             !name && fid_stats ? "+fid:" : "", !name && fid_stats ? fid_stats : "");
    cJSON *sj = scoring_spec_json(&sp);
    if (sj && kid_ref) {
        cJSON *k = cJSON_AddObjectToObject(sj, "kid");
        cJSON_AddStringToObject(k, "reference", kid_ref);
        cJSON_AddNumberToObject(k, "subsets", (double)kid_subsets);
        cJSON_AddNumberToObject(k, "subset_size", (double)kid_size);
        cJSON_AddNumberToObject(k, "seed", (double)kid_seed);
    }
    spec_text = sj ? cJSON_PrintUnformatted(sj) : NULL;
    cJSON_Delete(sj);
    if (!spec_text) {
        rc = T2I_ENOMEM;
        goto out;
    }
    if ((rc = db_begin(&d))) goto out;
    if ((rc = metric_set_put(&d, r.id, set_name, P.name, P.sha256, spec_text, v, nv))) {
        db_rollback(&d);
        goto out;
    }
    if ((rc = db_commit(&d))) goto out;
    printf("run %lld rescored with protocol %s: metric set \"%s\"\n", (long long)r.id, P.name,
           set_name);
    printf("  %-10s %-24s %-24s %s\n", "metric", "rescored", "stored", "");
    for (int i = 0; i < nv; i++) {
        const ResMetric *m = res_metric(&r, v[i].name);
        int same = m && memcmp(&m->value, &v[i].value, sizeof(double)) == 0 &&
                   (memcmp(&m->std, &v[i].std, sizeof(double)) == 0 ||
                    (isnan(m->std) && isnan(v[i].std))) &&
                   m->n == v[i].n;
        char a1[48], a2[48] = "-";
        snprintf(a1, sizeof a1, "%.6g (n %lld)", v[i].value, (long long)v[i].n);
        if (m) snprintf(a2, sizeof a2, "%.6g (n %lld)", m->value, (long long)m->n);
        printf("  %-10s %-24s %-24s %s\n", v[i].name, a1, a2,
               same ? "identical" : m ? "differs" : "");
    }
out:
    cJSON_free(spec_text);
    run_samples_free(&s);
    protocol_free(&P);
    protocol_free(&P0);
    if (r.provenance) res_free(&r);
    db_close(&d);
    return rc ? cli_fail("rescore", rc) : EXIT_OK;
}

// ---- breakdown -----------------------------------------------------------------------------

static void print_breakdown(const BreakRow *r, int n, const char *title, int fid) {
    printf("%s\n  %-12s %6s %8s %10s %10s %10s%s\n", title, "group", "n", "R-prec%", "true-cos",
           "top1-cos", "IS", fid ? "        FID" : "");
    for (int i = 0; i < n; i++) {
        char is[32];
        if (r[i].is_state == 0) snprintf(is, sizeof is, "%.4f", r[i].is);
        else snprintf(is, sizeof is, "%s", r[i].is_state == 1 ? "(n<" BREAKDOWN_IS_MIN_S ")" : "-");
        printf("  %-12s %6lld %8.2f %10.4f %10.4f %10s", r[i].label, (long long)r[i].n, r[i].rp,
               r[i].true_score, r[i].top_score, is);
        if (fid) printf(" %10.4f", r[i].fid);
        printf("\n");
    }
}

int cmd_breakdown(int argc, char **argv) {
    static const char *usage =
        "t2ibench breakdown RUN|latest [--by class|length] [--fid] [--vs BASE] [--top N]\n"
        "                   [--db FILE]\n"
        "  Per class (default) or per caption-length bucket: samples, R-precision, mean DAMSM\n"
        "  score of the true caption and of the top-1 candidate, IS (only for groups of at least\n"
        "  " BREAKDOWN_IS_MIN_S " samples); --fid adds FID per group against the run's statistics\n"
        "  (slow: one 2048 x 2048 matrix square root per group).\n"
        "  --vs BASE: the --top N (default 10) samples whose R-precision rank grew most from\n"
        "  run BASE to RUN (paired by sample id; both runs over the same samples).";
    Args a;
    char *pos[4];
    if (args_init(&a, argc, argv)) return cli_usage("breakdown", usage);
    if (args_flag(&a, "--help")) return printf("usage: %s\n", usage), EXIT_OK;
    const char *by = args_str(&a, "--by", "class");
    const char *vs = args_str(&a, "--vs", NULL);
    int want_fid = args_flag(&a, "--fid");
    long top = args_long(&a, "--top", 10);
    const char *dbp = args_str(&a, "--db", "results/t2ibench.db");
    int64_t id;
    if (args_rest(&a, pos, 4) != 1 || res_run_arg(pos[0], &id) || top < 1 || top > 100000 ||
        (strcmp(by, "class") && strcmp(by, "length")))
        return cli_usage("breakdown", usage);
    Db d;
    ResRun r;
    RunSamples s, b;
    Suite S;
    ScoreSpec sp;
    BreakRow *rows = NULL;
    WorstRow *w = NULL;
    int nr = 0, nw = 0;
    memset(&s, 0, sizeof s);
    memset(&b, 0, sizeof b);
    memset(&S, 0, sizeof S);
    int rc = run_open(dbp, 1, pos[0], &d, &r);
    if (rc) return cli_fail("breakdown", rc);
    int64_t vid = 0;
    rc = run_samples_load(&d, r.id, &s);
    if (!rc && vs && !(rc = res_parse_run(&d, vs, &vid))) rc = run_samples_load(&d, vid, &b);
    db_close(&d);
    if (!rc) rc = run_suite_load(r.provenance, &S);
    if (!rc && run_score_spec(r.provenance, &sp)) memset(&sp, 0, sizeof sp);
    BreakBy bb = !strcmp(by, "class") ? BREAK_CLASS : BREAK_LENGTH;
    if (!rc) rc = breakdown(&s, &S, &sp, bb, &rows, &nr);
    if (!rc && want_fid) {
        FidStats ref;
        memset(&ref, 0, sizeof ref);
        if (!sp.use_fid || !sp.fid_stats[0])
            rc = t2i_error(T2I_EARG, "--fid: run %lld has no FID statistics (its evaluator card has "
                                     "none, or FID is disabled)",
                           (long long)r.id);
        else rc = spec_fid_stats_load(&sp, &ref);
        if (!rc) rc = breakdown_fid(&s, &S, bb, &ref, rows, nr);
        fid_stats_free(&ref);
    }
    if (!rc) {
        char title[160];
        snprintf(title, sizeof title, "run %lld (%s), %lld samples, by %s:", (long long)r.id,
                 r.model, (long long)s.n, by);
        print_breakdown(rows, nr, title, want_fid);
    }
    if (!rc && vs) {
        char why[256];
        if (!samples_same_set(&b, vid, &s, r.id, why, sizeof why))
            rc = t2i_error(T2I_EARG, "--vs: %s", why);
        if (!rc) rc = breakdown_worst(&b, &s, (int)top, &w, &nw);
        if (!rc) printf("\nworst captions: R-precision rank of the true caption, run %lld -> run %lld\n",
                        (long long)vid, (long long)r.id);
        for (int i = 0; !rc && i < nw; i++) {
            const SuiteSample *x = suite_row(&S, w[i].sample);
            printf("  sample %-6lld rank %3d -> %3d (%+d)  class %-4d %s\n", (long long)w[i].sample,
                   w[i].rank_a, w[i].rank_b, w[i].rank_b - w[i].rank_a, x ? x->class_id : -1,
                   x ? x->caption : "?");
        }
    }
    t2i_free(rows);
    t2i_free(w);
    suite_free(&S);
    run_samples_free(&s);
    run_samples_free(&b);
    res_free(&r);
    return rc ? cli_fail("breakdown", rc) : EXIT_OK;
}
