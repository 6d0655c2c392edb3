// scoring.c -- metrics from stored rows, shards, run keys (see scoring.h).
#include "scoring.h"

#include "blas.h"
#include "fid.h"
#include "inception_score.h"
#include "r_precision.h"
#include "rng.h"
#include "sha256.h"
#include "t2i.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SHARDS 1000000

static int parse_int(const char *s, long *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (!*s || *end || errno || *s == '+' || *s == '-' || *s == ' ') return 0;
    *out = v;
    return 1;
}

int scoring_parse_shard(const char *s, int *index, int *count) {
    const char *slash = s ? strchr(s, '/') : NULL;
    char a[32];
    long i, n;
    if (!slash || (size_t)(slash - s) >= sizeof a)
        return t2i_error(T2I_EARG, "--shard '%s': expected I/N (e.g. 0/4)", s ? s : "");
    memcpy(a, s, (size_t)(slash - s));
    a[slash - s] = 0;
    if (!parse_int(a, &i) || !parse_int(slash + 1, &n) || n < 1 || n > MAX_SHARDS || i < 0 ||
        i >= n)
        return t2i_error(T2I_EARG, "--shard '%s': expected I/N with 0 <= I < N (e.g. 0/4)", s);
    *index = (int)i;
    *count = (int)n;
    return T2I_OK;
}

// An environment variable as a number: *v = def when unset; T2I_EARG when not a number.
static int env_int(const char *name, long def, long *v) {
    const char *s = getenv(name);
    *v = def;
    if (!s || !*s) return T2I_OK;
    if (!parse_int(s, v)) return t2i_error(T2I_EARG, "%s='%s' is not a number", name, s);
    return T2I_OK;
}

int scoring_slurm_shard(int *index, int *count, int *found) {
    long i, n, m, mx, step;
    *found = 0;
    const char *id = getenv("SLURM_ARRAY_TASK_ID");
    if (!id || !*id) return T2I_OK;
    int rc;
    if ((rc = env_int("SLURM_ARRAY_TASK_ID", 0, &i)) || (rc = env_int("SLURM_ARRAY_TASK_COUNT", -1, &n)) ||
        (rc = env_int("SLURM_ARRAY_TASK_MIN", 0, &m)) || (rc = env_int("SLURM_ARRAY_TASK_STEP", 1, &step)))
        return rc;
    if (n < 1 || n > MAX_SHARDS)
        return t2i_error(T2I_EARG, "SLURM_ARRAY_TASK_ID is set but SLURM_ARRAY_TASK_COUNT is %s: "
                                   "pass --shard I/N explicitly",
                         n < 0 ? "missing" : "out of range");
    if ((rc = env_int("SLURM_ARRAY_TASK_MAX", m + (n - 1) * step, &mx))) return rc;
    // Index = (ID - MIN) / STEP over COUNT tasks; anything else (a list like --array=0,3,5, a
    // resubmitted single task) does not describe the shards and is refused.
    if (step < 1 || (i - m) % step != 0 || i < m || (i - m) / step >= n ||
        mx != m + (n - 1) * step)
        return t2i_error(T2I_EARG,
                         "Slurm array task %ld (SLURM_ARRAY_TASK_MIN %ld, MAX %ld, STEP %ld, COUNT "
                         "%ld) is not one of COUNT evenly spaced tasks MIN, MIN+STEP, ..., MAX: "
                         "pass --shard I/N explicitly",
                         i, m, mx, step, n);
    *index = (int)((i - m) / step);
    *count = (int)n;
    *found = 1;
    return T2I_OK;
}

void scoring_run_key(const char *kind, const char *fp, const char *model_fp, int64_t n,
                     const char *suite_sha256, int shard_index, int shard_count, char key[65]) {
    char kb[640];
    int kl = snprintf(kb, sizeof kb, "%s|%s|%s|%lld|%s", kind, fp, model_fp, (long long)n,
                      suite_sha256);
    if (shard_count > 1 && kl > 0 && (size_t)kl < sizeof kb)
        kl += snprintf(kb + kl, sizeof kb - (size_t)kl, "|shard %d/%d", shard_index, shard_count);
    if (kl < 0) kl = 0;
    if ((size_t)kl >= sizeof kb) kl = (int)sizeof kb - 1;
    sha256_hex(kb, (size_t)kl, key);
}

// ---- spec <-> JSON -------------------------------------------------------------------------

static void add_u64(cJSON *o, const char *k, uint64_t v) {
    char b[32];
    snprintf(b, sizeof b, "%" PRIu64, v);
    cJSON_AddStringToObject(o, k, b);   // a string: JSON numbers lose bits above 2^53
}

cJSON *scoring_spec_json(const ScoreSpec *sp) {
    cJSON *j = cJSON_CreateObject();
    if (!j) return NULL;
    cJSON_AddNumberToObject(j, "n", (double)sp->n);
    cJSON_AddNumberToObject(j, "block_size", sp->block_size);
    if (sp->use_is) {
        cJSON *o = cJSON_AddObjectToObject(j, "is");
        char t[40];
        snprintf(t, sizeof t, "%.17g", sp->is_temperature);
        cJSON_AddNumberToObject(o, "cols", sp->is_cols);
        cJSON_AddNumberToObject(o, "splits", sp->is_splits);
        cJSON_AddStringToObject(o, "temperature", t);   // exact round trip through strtod
        cJSON_AddNumberToObject(o, "class_begin", sp->is_class_begin);
        cJSON_AddNumberToObject(o, "class_end", sp->is_class_end);
        add_u64(o, "shuffle_seed", sp->is_shuffle_seed);
    } else {
        cJSON_AddNullToObject(j, "is");
    }
    if (sp->use_rp) {
        cJSON *o = cJSON_AddObjectToObject(j, "rp");
        cJSON_AddNumberToObject(o, "k", sp->rp_k);
        cJSON_AddNumberToObject(o, "folds", sp->rp_folds);
        cJSON_AddStringToObject(o, "fold_rule", sp->rp_fold_dmgan ? "dmgan" : "contiguous");
        add_u64(o, "shuffle_seed", sp->rp_shuffle_seed);
    } else {
        cJSON_AddNullToObject(j, "rp");
    }
    if (sp->use_fid) {
        cJSON *o = cJSON_AddObjectToObject(j, "fid");
        if (sp->fid_stats[0]) {
            cJSON_AddStringToObject(o, "statistics", sp->fid_stats);
            cJSON_AddStringToObject(o, "statistics_sha256", sp->fid_stats_sha256);
        } else {
            cJSON_AddNullToObject(o, "statistics");
        }
    } else {
        cJSON_AddNullToObject(j, "fid");
    }
    if (sp->kid_ref[0]) {
        cJSON *o = cJSON_AddObjectToObject(j, "kid");
        cJSON_AddStringToObject(o, "reference", sp->kid_ref);
        cJSON_AddStringToObject(o, "reference_sha256", sp->kid_ref_sha256);
    }
    cJSON_AddStringToObject(j, "evaluators", sp->evaluators);
    return j;
}

static int get_int(const cJSON *o, const char *what, const char *path, const char *k, long lo,
                   long hi, long *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || v->valuedouble < lo ||
        v->valuedouble > hi)
        return t2i_error(T2I_EFORMAT, "%s: %s.%s: expected an integer in [%ld, %ld]", what, path,
                         k, lo, hi);
    *out = (long)v->valuedouble;
    return T2I_OK;
}

static int get_str(const cJSON *o, const char *what, const char *path, const char *k,
                   const char **out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    if (!cJSON_IsString(v)) return t2i_error(T2I_EFORMAT, "%s: %s.%s: expected a string", what, path, k);
    *out = v->valuestring;
    return T2I_OK;
}

static int get_u64(const cJSON *o, const char *what, const char *path, const char *k,
                   uint64_t *out) {
    const char *s = NULL;
    int rc = get_str(o, what, path, k, &s);
    if (rc) return rc;
    if (!t2i_parse_u64(s, out))
        return t2i_error(T2I_EFORMAT, "%s: %s.%s: '%s' is not an unsigned integer", what, path, k, s);
    return T2I_OK;
}

int scoring_spec_parse(const cJSON *j, const char *what, ScoreSpec *sp) {
    memset(sp, 0, sizeof *sp);
    if (!cJSON_IsObject(j))
        return t2i_error(T2I_EFORMAT, "%s: no scoring record (run.scoring): was it written by an "
                                      "older t2ibench?",
                         what);
    long v;
    int rc;
    const char *s = NULL;
    const char *P = "run.scoring";
    if ((rc = get_int(j, what, P, "n", 1, 1L << 52, &v))) return rc;
    sp->n = v;
    if ((rc = get_int(j, what, P, "block_size", 1, 1L << 30, &v))) return rc;
    sp->block_size = (int)v;
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(j, "is");
    if (cJSON_IsObject(o)) {
        const char *p = "run.scoring.is";
        sp->use_is = 1;
        if ((rc = get_int(o, what, p, "cols", 1, 1 << 20, &v))) return rc;
        sp->is_cols = (int)v;
        if ((rc = get_int(o, what, p, "splits", 1, 1 << 20, &v))) return rc;
        sp->is_splits = (int)v;
        if ((rc = get_int(o, what, p, "class_begin", 0, 1 << 20, &v))) return rc;
        sp->is_class_begin = (int)v;
        if ((rc = get_int(o, what, p, "class_end", 0, 1 << 20, &v))) return rc;
        sp->is_class_end = (int)v;
        if ((rc = get_str(o, what, p, "temperature", &s))) return rc;
        char *end;
        sp->is_temperature = strtod(s, &end);
        if (!*s || *end || !(sp->is_temperature > 0))
            return t2i_error(T2I_EFORMAT, "%s: %s.temperature: '%s'", what, p, s);
        if ((rc = get_u64(o, what, p, "shuffle_seed", &sp->is_shuffle_seed))) return rc;
    }
    o = cJSON_GetObjectItemCaseSensitive(j, "rp");
    if (cJSON_IsObject(o)) {
        const char *p = "run.scoring.rp";
        sp->use_rp = 1;
        if ((rc = get_int(o, what, p, "k", 1, 1 << 20, &v))) return rc;
        sp->rp_k = (int)v;
        if ((rc = get_int(o, what, p, "folds", 1, 1 << 20, &v))) return rc;
        sp->rp_folds = (int)v;
        if ((rc = get_str(o, what, p, "fold_rule", &s))) return rc;
        // "exact": the name databases written before the names were unified still hold.
        if (strcmp(s, "dmgan") && strcmp(s, "contiguous") && strcmp(s, "exact"))
            return t2i_error(T2I_EFORMAT, "%s: %s.fold_rule: '%s'", what, p, s);
        sp->rp_fold_dmgan = !strcmp(s, "dmgan");
        if ((rc = get_u64(o, what, p, "shuffle_seed", &sp->rp_shuffle_seed))) return rc;
    }
    o = cJSON_GetObjectItemCaseSensitive(j, "fid");
    if (cJSON_IsObject(o)) {
        sp->use_fid = 1;
        const cJSON *st = cJSON_GetObjectItemCaseSensitive(o, "statistics");
        if (cJSON_IsString(st)) {
            if ((rc = get_str(o, what, "run.scoring.fid", "statistics_sha256", &s))) return rc;
            snprintf(sp->fid_stats, sizeof sp->fid_stats, "%s", st->valuestring);
            snprintf(sp->fid_stats_sha256, sizeof sp->fid_stats_sha256, "%s", s);
        }
    }
    o = cJSON_GetObjectItemCaseSensitive(j, "kid");
    if (cJSON_IsObject(o)) {
        const cJSON *kr = cJSON_GetObjectItemCaseSensitive(o, "reference");
        if ((rc = get_str(o, what, "run.scoring.kid", "reference_sha256", &s))) return rc;
        if (!cJSON_IsString(kr))
            return t2i_error(T2I_EFORMAT, "%s: run.scoring.kid.reference: not a string", what);
        snprintf(sp->kid_ref, sizeof sp->kid_ref, "%s", kr->valuestring);
        snprintf(sp->kid_ref_sha256, sizeof sp->kid_ref_sha256, "%s", s);
    }
    if (get_str(j, what, P, "evaluators", &s) == T2I_OK)
        snprintf(sp->evaluators, sizeof sp->evaluators, "%s", s);
    return T2I_OK;
}

void scoring_shard_of_provenance(const char *provenance, int *index, int *count) {
    *index = 0;
    *count = 0;
    cJSON *j = provenance ? cJSON_Parse(provenance) : NULL;
    const cJSON *run = j ? cJSON_GetObjectItemCaseSensitive(j, "run") : NULL;
    const cJSON *sh = run ? cJSON_GetObjectItemCaseSensitive(run, "shard") : NULL;
    const cJSON *i = sh ? cJSON_GetObjectItemCaseSensitive(sh, "index") : NULL;
    const cJSON *n = sh ? cJSON_GetObjectItemCaseSensitive(sh, "count") : NULL;
    if (cJSON_IsNumber(i) && cJSON_IsNumber(n) && n->valueint > 1 && i->valueint >= 0 &&
        i->valueint < n->valueint) {
        *index = i->valueint;
        *count = n->valueint;
    }
    cJSON_Delete(j);
}

// ---- metrics -------------------------------------------------------------------------------

static void permute(int64_t *perm, int64_t n, uint64_t seed, uint64_t stream) {
    for (int64_t i = 0; i < n; i++) perm[i] = i;
    if (!seed) return;
    Rng g;
    rng_init(&g, seed, 0, stream);
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)rng_below(&g, (uint64_t)i + 1);
        int64_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
}

// Sample ids of the spec's shard, ascending.
static int64_t *shard_samples(const ScoreSpec *sp, int64_t *count) {
    int64_t bs = sp->block_size, nb = (sp->n + bs - 1) / bs, c = 0;
    for (int64_t b = 0; b < nb; b++)
        if (scoring_block_in_shard(b, sp->shard_index, sp->shard_count))
            c += (b + 1) * bs < sp->n ? bs : sp->n - b * bs;
    int64_t *ids = t2i_malloc(sizeof(int64_t) * (size_t)(c + 1));
    if (!ids) return NULL;
    int64_t k = 0;
    for (int64_t b = 0; b < nb; b++) {
        if (!scoring_block_in_shard(b, sp->shard_index, sp->shard_count)) continue;
        for (int64_t s = b * bs; s < (b + 1) * bs && s < sp->n; s++) ids[k++] = s;
    }
    *count = c;
    return ids;
}

static int compute_1(Db *d, int64_t run, const ScoreSpec *sp, ScoreValue *out, int *nv);

void scoring_sample_set(const int64_t *ids, int64_t n, char out[SCORING_SAMPLE_SET_LEN]) {
    Sha256 h;
    sha256_init(&h);
    for (int64_t i = 0; i < n; i++) {
        char line[32];
        int len = snprintf(line, sizeof line, "%lld\n", (long long)ids[i]);
        sha256_update(&h, line, (size_t)len);
    }
    uint8_t dg[32];
    sha256_final(&h, dg);
    int k = snprintf(out, SCORING_SAMPLE_SET_LEN, "%lld:", (long long)n);
    for (int i = 0; i < 32; i++) snprintf(out + k + 2 * i, 3, "%02x", dg[i]);
}

// Metrics are computed with single-threaded BLAS/LAPACK whatever the caller uses (the FID matrix
// square root is not bit-reproducible across thread counts), so `merge` reproduces `run`.
int scoring_compute(Db *d, int64_t run, const ScoreSpec *sp, ScoreValue *out, int *n_out) {
    int threads = blas_get_threads();
    if (threads != 1) blas_set_threads(1);
    *n_out = 0;
    int rc = compute_1(d, run, sp, out, n_out);
    if (threads != 1) blas_set_threads(threads);
    return rc;
}

// The digest of the sample ids the metrics cover (runs.sample_set).
static int store_sample_set(Db *d, int64_t run, const ScoreSpec *sp) {
    int64_t n = 0;
    int64_t *ids = shard_samples(sp, &n);
    if (!ids) return t2i_error(T2I_ENOMEM, "out of memory");
    char set[SCORING_SAMPLE_SET_LEN];
    scoring_sample_set(ids, n, set);
    t2i_free(ids);
    return db_run_set_sample_set(d, run, set);
}

int scoring_write(Db *d, int64_t run, const ScoreSpec *sp) {
    ScoreValue v[SCORE_MAX_VALUES];
    int nv = 0;
    int rc = scoring_compute(d, run, sp, v, &nv);
    if (!rc) rc = db_metrics_clear(d, run);
    for (int i = 0; i < nv && !rc; i++)
        rc = db_metric_put(d, run, v[i].name, v[i].value, v[i].std, v[i].n, v[i].direction);
    if (!rc) rc = store_sample_set(d, run, sp);
    if (!rc) rc = db_run_set_status(d, run, sp->shard_count > 1 ? "shard-complete" : "complete");
    return rc;
}

static void put(ScoreValue *out, int *nv, const char *name, double value, double std, int64_t n,
                int direction) {
    ScoreValue *v = &out[(*nv)++];
    snprintf(v->name, sizeof v->name, "%s", name);
    v->value = value;
    v->std = std;
    v->n = n;
    v->direction = direction;
}

static int compute_1(Db *d, int64_t run, const ScoreSpec *sp, ScoreValue *out, int *nv) {
    sqlite3 *db = db_handle(d);
    sqlite3_stmt *st = NULL;
    int rc = T2I_OK;
    float *logits = NULL, *feat = NULL;
    uint8_t *hits = NULL;
    int64_t *perm = NULL, *ranks = NULL, *ids = NULL, n = 0;
    int C = sp->is_cols;
    int shard = sp->shard_count > 1;
    ids = shard_samples(sp, &n);
    if (!ids) return t2i_error(T2I_ENOMEM, "out of memory");
    if (sp->use_is) logits = t2i_malloc(sizeof(float) * (size_t)(n ? n : 1) * (size_t)C);
    if (sp->use_fid) feat = t2i_malloc(sizeof(float) * (size_t)(n ? n : 1) * 2048);
    hits = t2i_malloc((size_t)n + 1);
    perm = t2i_malloc(sizeof(int64_t) * (size_t)(n + 1));
    ranks = t2i_malloc(sizeof(int64_t) * (size_t)(n + 1));
    if ((sp->use_is && !logits) || (sp->use_fid && !feat) || !hits || !perm || !ranks) {
        rc = t2i_error(T2I_ENOMEM, "out of memory");
        goto done;
    }
    // Rows in sample-id order (never insertion order): the metrics see the same sequence
    // whichever process, batch or shard produced them.
    if (sqlite3_prepare_v2(db, "SELECT sample, is_logits, rp_rank, fid_feat FROM samples WHERE run = ?"
                               " AND sample < ? ORDER BY sample",
                           -1, &st, NULL) != SQLITE_OK) {
        rc = db_err(d, "read samples");
        goto done;
    }
    sqlite3_bind_int64(st, 1, run);
    sqlite3_bind_int64(st, 2, sp->n);
    int64_t k = 0;
    int step;
    const char *bad = NULL;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t id = sqlite3_column_int64(st, 0);
        if (k >= n || id != ids[k]) {
            bad = k < n && id > ids[k] ? "is missing" : "is not part of this run's blocks";
            if (k < n && id > ids[k]) id = ids[k];
            rc = t2i_error(T2I_EDB, "database %s: run %lld: sample %lld %s", d->path,
                           (long long)run, (long long)id, bad);
            break;
        }
        if (sp->use_is) {
            if (sqlite3_column_bytes(st, 1) != (int)(sizeof(float) * (size_t)C)) {
                rc = t2i_error(T2I_EDB, "database %s: run %lld: sample %lld has %d bytes of IS "
                                        "logits, expected %d",
                               d->path, (long long)run, (long long)id, sqlite3_column_bytes(st, 1),
                               (int)(sizeof(float) * (size_t)C));
                break;
            }
            memcpy(logits + (size_t)k * C, sqlite3_column_blob(st, 1), sizeof(float) * (size_t)C);
        }
        if (sp->use_rp) {
            if (sqlite3_column_type(st, 2) == SQLITE_NULL) {
                rc = t2i_error(T2I_EDB, "database %s: run %lld: sample %lld has no R-precision rank",
                               d->path, (long long)run, (long long)id);
                break;
            }
            ranks[k] = sqlite3_column_int64(st, 2);
        }
        if (sp->use_fid) {
            if (sqlite3_column_bytes(st, 3) != (int)(sizeof(float) * 2048)) {
                rc = t2i_error(T2I_EDB, "database %s: run %lld: sample %lld has no FID features",
                               d->path, (long long)run, (long long)id);
                break;
            }
            memcpy(feat + (size_t)k * 2048, sqlite3_column_blob(st, 3), sizeof(float) * 2048);
        }
        k++;
    }
    if (!rc && step != SQLITE_DONE && step != SQLITE_ROW) rc = db_err(d, "read samples");
    sqlite3_finalize(st);
    if (rc) goto done;
    if (k != n) {
        rc = t2i_error(T2I_EDB, "database %s: run %lld has %lld complete sample rows of %lld%s",
                       d->path, (long long)run, (long long)k, (long long)n,
                       shard ? " (in its shard)" : "");
        goto done;
    }
    put(out, nv, "images", (double)n, NAN, n, 1);
    if (sp->use_is) {
        IsOptions opt = is_options_default();
        opt.splits = sp->is_splits;
        opt.temperature = sp->is_temperature;
        opt.class_begin = sp->is_class_begin;
        opt.class_end = sp->is_class_end;
        float *rows = logits;
        float *sh = NULL;
        if (sp->is_shuffle_seed) {
            permute(perm, n, sp->is_shuffle_seed, RNG_STREAM_IS_SHUFFLE);
            sh = t2i_malloc(sizeof(float) * (size_t)(n ? n : 1) * (size_t)C);
            if (!sh) {
                rc = t2i_error(T2I_ENOMEM, "out of memory");
                goto done;
            }
            for (int64_t i = 0; i < n; i++)
                memcpy(sh + (size_t)i * C, logits + (size_t)perm[i] * C, sizeof(float) * (size_t)C);
            rows = sh;
        }
        IsResult res;
        if (n < opt.splits)
            fprintf(stderr, "t2ibench: IS not computed: %lld samples < %d splits\n", (long long)n,
                    opt.splits);
        if (n >= opt.splits) {
            rc = inception_score(rows, DT_F32, n, C, &opt, NULL, &res);
            if (!rc) put(out, nv, "is", res.mean, res.std, res.splits, 1);
        }
        t2i_free(sh);
        if (rc) goto done;
    }
    if (sp->use_rp) {
        permute(perm, n, sp->rp_shuffle_seed, RNG_STREAM_RP_SHUFFLE);
        for (int64_t i = 0; i < n; i++) hits[i] = ranks[perm[i]] < sp->rp_k;
        RpResult res;
        RpFoldRule fr = sp->rp_fold_dmgan ? RP_FOLD_DMGAN : RP_FOLD_EXACT;
        if (n < sp->rp_folds * (fr == RP_FOLD_DMGAN ? 2 : 1)) {
            fprintf(stderr, "t2ibench: R-precision not computed: %lld samples for %d folds\n",
                    (long long)n, sp->rp_folds);
        } else {
            rc = rp_folds(hits, n, sp->rp_folds, fr, NULL, &res);
            if (!rc) put(out, nv, "rp", 100.0 * res.mean, 100.0 * res.std, res.folds, 1);
            if (rc) goto done;
        }
    }
    if (sp->use_fid && !sp->fid_stats[0])
        fprintf(stderr, "t2ibench: FID features stored, no FID: evaluator card %s has no "
                        "statistics (see `t2ibench fid-stats`)\n",
                sp->evaluators);
    if (sp->use_fid && sp->fid_stats[0] && n >= 2) {
        if (sp->fid_stats_sha256[0]) {
            char hex[65];
            if ((rc = sha256_file(sp->fid_stats, hex))) {
                rc = t2i_error_prefix(rc, "FID statistics %s", sp->fid_stats);
                goto done;
            }
            if (strcmp(hex, sp->fid_stats_sha256) != 0) {
                rc = t2i_error(T2I_EARG, "FID statistics %s changed since the run was started "
                                         "(sha256 %.16s, recorded %.16s)",
                               sp->fid_stats, hex, sp->fid_stats_sha256);
                goto done;
            }
        }
        FidStats a, b;
        FidResult fr;
        memset(&a, 0, sizeof a);
        memset(&b, 0, sizeof b);
        rc = fid_stats_from_features(feat, DT_F32, n, 2048, &a);
        if (!rc) rc = fid_stats_load(sp->fid_stats, &b);
        if (!rc && a.D != b.D)
            rc = t2i_error(T2I_ESHAPE, "%s: statistics of dimension %d, features have %d",
                           sp->fid_stats, b.D, a.D);
        if (!rc) rc = fid_from_stats(&a, &b, &fr);
        if (!rc) put(out, nv, "fid", fr.fid, NAN, n, -1);
        fid_stats_free(&a);
        fid_stats_free(&b);
        if (rc) goto done;
    }
    if (sp->use_fid && sp->kid_ref[0]) {
        ScoreValue kv;
        int have = 0;
        if ((rc = scoring_kid(sp, feat, n, &kv, &have))) goto done;
        if (have) put(out, nv, kv.name, kv.value, kv.std, kv.n, kv.direction);
    }
done:
    t2i_free(ids);
    t2i_free(logits);
    t2i_free(feat);
    t2i_free(hits);
    t2i_free(perm);
    t2i_free(ranks);
    return rc;
}
