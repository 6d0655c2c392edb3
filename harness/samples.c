// samples.c -- per-sample rows of a stored run (see samples.h).
#include "samples.h"

#include "sha256.h"
#include "t2i.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <sys/stat.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

void run_samples_free(RunSamples *s) {
    if (!s) return;
    t2i_free(s->id);
    t2i_free(s->is);
    t2i_free(s->rp_scores);
    t2i_free(s->rp_rank);
    t2i_free(s->fid);
    t2i_free(s->sha);
    memset(s, 0, sizeof *s);
}

int run_open(const char *db_path, int readonly, const char *arg, Db *d, ResRun *r) {
    int64_t id;
    memset(r, 0, sizeof *r);
    int rc = db_open(d, db_path, readonly);
    if (rc) return rc;
    if ((rc = res_parse_run(d, arg, &id)) || (rc = res_load(d, id, r))) db_close(d);
    return rc;
}

int run_samples_load_ids(Db *d, int64_t run, RunSamples *s) {
    memset(s, 0, sizeof *s);
    sqlite3_stmt *st = NULL;
    size_t cap = 0;
    if (sqlite3_prepare_v2(db_handle(d), "SELECT sample FROM samples WHERE run = ? ORDER BY sample",
                           -1, &st, NULL) != SQLITE_OK)
        return db_err(d, "read sample ids");
    sqlite3_bind_int64(st, 1, run);
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        if ((size_t)s->n == cap) {
            cap = cap ? 2 * cap : 1024;
            int64_t *p = t2i_realloc(s->id, sizeof(int64_t) * cap);
            if (!p) {
                sqlite3_finalize(st);
                run_samples_free(s);
                return T2I_ENOMEM;
            }
            s->id = p;
        }
        s->id[s->n++] = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    if (step != SQLITE_DONE) {
        run_samples_free(s);
        return db_err(d, "read sample ids");
    }
    return T2I_OK;
}

// Column width (floats) of a BLOB; -1 when it is not a whole number of floats.
static int blob_floats(sqlite3_stmt *st, int col) {
    if (sqlite3_column_type(st, col) == SQLITE_NULL) return 0;
    int b = sqlite3_column_bytes(st, col);
    return b % (int)sizeof(float) ? -1 : b / (int)sizeof(float);
}

int run_samples_load(Db *d, int64_t run, RunSamples *s) {
    memset(s, 0, sizeof *s);
    sqlite3 *db = db_handle(d);
    sqlite3_stmt *st = NULL;
    int rc = T2I_OK;
    int64_t n = 0;
    if (sqlite3_prepare_v2(db, "SELECT count(*) FROM samples WHERE run = ?", -1, &st, NULL) !=
        SQLITE_OK)
        return db_err(d, "count samples");
    sqlite3_bind_int64(st, 1, run);
    if (sqlite3_step(st) == SQLITE_ROW) n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    st = NULL;
    if (sqlite3_prepare_v2(db, "SELECT sample, is_logits, rp_rank, rp_scores, fid_feat,"
                               " image_sha256 FROM samples WHERE run = ? ORDER BY sample",
                           -1, &st, NULL) != SQLITE_OK)
        return db_err(d, "read samples");
    sqlite3_bind_int64(st, 1, run);
    size_t cap = (size_t)(n > 0 ? n : 1);
    s->id = t2i_calloc(cap, sizeof(int64_t));
    s->rp_rank = t2i_calloc(cap, sizeof(int));
    s->sha = t2i_calloc(cap, 65);
    if (!s->id || !s->rp_rank || !s->sha) {
        rc = t2i_error(T2I_ENOMEM, "out of memory");
        goto done;
    }
    int64_t k = 0;
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW && k < n) {
        int64_t id = sqlite3_column_int64(st, 0);
        int w[3] = {blob_floats(st, 1), blob_floats(st, 3), blob_floats(st, 4)};
        if (k == 0) {
            s->n_is = w[0] > 0 ? w[0] : 0;
            s->n_rp = w[1] > 0 ? w[1] : 0;
            s->n_fid = w[2] > 0 ? w[2] : 0;
            if ((s->n_is && !(s->is = t2i_malloc(sizeof(float) * cap * (size_t)s->n_is))) ||
                (s->n_rp && !(s->rp_scores = t2i_malloc(sizeof(float) * cap * (size_t)s->n_rp))) ||
                (s->n_fid && !(s->fid = t2i_malloc(sizeof(float) * cap * (size_t)s->n_fid)))) {
                rc = t2i_error(T2I_ENOMEM, "out of memory");
                goto done;
            }
        }
        if (w[0] != s->n_is || w[1] != s->n_rp || w[2] != s->n_fid) {
            rc = t2i_error(T2I_EDB, "database %s: run %lld: sample %lld stores %d/%d/%d floats of "
                                    "IS logits/R-precision scores/FID features, sample %lld has "
                                    "%d/%d/%d",
                           d->path, (long long)run, (long long)id, w[0], w[1], w[2],
                           (long long)s->id[0], s->n_is, s->n_rp, s->n_fid);
            goto done;
        }
        s->id[k] = id;
        if (s->n_is) memcpy(s->is + (size_t)k * s->n_is, sqlite3_column_blob(st, 1),
                            sizeof(float) * (size_t)s->n_is);
        if (s->n_rp) memcpy(s->rp_scores + (size_t)k * s->n_rp, sqlite3_column_blob(st, 3),
                            sizeof(float) * (size_t)s->n_rp);
        if (s->n_fid) memcpy(s->fid + (size_t)k * s->n_fid, sqlite3_column_blob(st, 4),
                             sizeof(float) * (size_t)s->n_fid);
        s->rp_rank[k] = sqlite3_column_type(st, 2) == SQLITE_NULL ? -1 : sqlite3_column_int(st, 2);
        const unsigned char *h = sqlite3_column_text(st, 5);
        snprintf(s->sha[k], 65, "%s", h ? (const char *)h : "");
        k++;
    }
    if (step != SQLITE_ROW && step != SQLITE_DONE) rc = db_err(d, "read samples");
    s->n = k;
done:
    sqlite3_finalize(st);
    if (rc) run_samples_free(s);
    return rc;
}

int run_sample_sha(Db *d, int64_t run, int64_t sample, char hex[65]) {
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db_handle(d), "SELECT image_sha256 FROM samples WHERE run = ? AND sample = ?",
                           -1, &st, NULL) != SQLITE_OK)
        return db_err(d, "read sample");
    sqlite3_bind_int64(st, 1, run);
    sqlite3_bind_int64(st, 2, sample);
    int found = sqlite3_step(st) == SQLITE_ROW;
    const unsigned char *h = found ? sqlite3_column_text(st, 0) : NULL;
    snprintf(hex, 65, "%s", h ? (const char *)h : "");
    sqlite3_finalize(st);
    if (!found)
        return t2i_error(T2I_EARG, "database %s: run %lld has no stored sample %lld", d->path,
                         (long long)run, (long long)sample);
    return T2I_OK;
}

int samples_same_set(const RunSamples *a, int64_t run_a, const RunSamples *b, int64_t run_b,
                     char *why, size_t n) {
    if (a->n != b->n) {
        snprintf(why, n, "run %lld has %lld samples, run %lld has %lld", (long long)run_a,
                 (long long)a->n, (long long)run_b, (long long)b->n);
        return 0;
    }
    for (int64_t i = 0; i < a->n; i++)
        if (a->id[i] != b->id[i]) {
            snprintf(why, n, "runs %lld and %lld hold different sample ids (%lld vs %lld at "
                             "position %lld)",
                     (long long)run_a, (long long)run_b, (long long)a->id[i],
                     (long long)b->id[i], (long long)i);
            return 0;
        }
    why[0] = 0;
    return 1;
}

// ---- provenance inputs ---------------------------------------------------------------------

int prov_role_path(const char *provenance, const char *role, char *path, size_t n, char sha[65]) {
    cJSON *j = cJSON_Parse(provenance ? provenance : "");
    const cJSON *files = j ? cJSON_GetObjectItemCaseSensitive(j, "files") : NULL;
    int found = 0;
    for (const cJSON *f = files ? files->child : NULL; f && !found; f = f->next) {
        const cJSON *r = cJSON_GetObjectItemCaseSensitive(f, "role");
        const cJSON *p = cJSON_GetObjectItemCaseSensitive(f, "path");
        const cJSON *h = cJSON_GetObjectItemCaseSensitive(f, "sha256");
        if (!cJSON_IsString(r) || strcmp(r->valuestring, role) || !cJSON_IsString(p)) continue;
        snprintf(path, n, "%s", p->valuestring);
        if (sha) snprintf(sha, 65, "%s", cJSON_IsString(h) ? h->valuestring : "");
        found = 1;
    }
    cJSON_Delete(j);
    if (!found) return t2i_error(T2I_EARG, "the run's provenance records no '%s' file", role);
    return T2I_OK;
}

int prov_role_check(const char *provenance, const char *role, char *path, size_t n) {
    char want[65], got[65];
    int rc = prov_role_path(provenance, role, path, n, want);
    if (rc || strncmp(path, "hash:", 5) == 0) return rc;
    if ((rc = sha256_file(path, got)))
        return t2i_error_prefix(rc, "the run's %s file %s (recorded path; run from the directory "
                                    "the run was started in)",
                                role, path);
    if (strcmp(got, want) != 0)
        return t2i_error(T2I_EARG, "the run's %s file %s changed since the run (sha256 %.16s, "
                                   "recorded %.16s)",
                         role, path, got, want);
    return T2I_OK;
}

int run_suite_load(const char *provenance, Suite *S) {
    char path[1024];
    memset(S, 0, sizeof *S);
    int rc = prov_role_check(provenance, "suite", path, sizeof path);
    if (!rc) rc = suite_load(path, S);
    return rc;
}

int run_score_spec(const char *provenance, ScoreSpec *sp) {
    cJSON *pv = cJSON_Parse(provenance ? provenance : "");
    const cJSON *run = pv ? cJSON_GetObjectItemCaseSensitive(pv, "run") : NULL;
    int rc = scoring_spec_parse(run ? cJSON_GetObjectItemCaseSensitive(run, "scoring") : NULL,
                                "run provenance", sp);
    cJSON_Delete(pv);
    return rc;
}

int spec_fid_stats_load(const ScoreSpec *sp, FidStats *out) {
    char hex[65];
    memset(out, 0, sizeof *out);
    if (!sp->fid_stats[0]) return t2i_error(T2I_EARG, "the run has no FID statistics");
    int rc = sha256_file(sp->fid_stats, hex);
    if (rc) return t2i_error_prefix(rc, "FID statistics %s", sp->fid_stats);
    if (sp->fid_stats_sha256[0] && strcmp(hex, sp->fid_stats_sha256))
        return t2i_error(T2I_EARG, "FID statistics %s changed since the run (sha256 %.16s, "
                                   "recorded %.16s)",
                         sp->fid_stats, hex, sp->fid_stats_sha256);
    return fid_stats_load(sp->fid_stats, out);
}

int dir_make(const char *path) {
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(buf, 0777) != 0 && errno != EEXIST)
            return t2i_error(T2I_EIO, "%s: cannot create directory: %s", buf, strerror(errno));
        *p = '/';
    }
    if (mkdir(buf, 0777) != 0 && errno != EEXIST)
        return t2i_error(T2I_EIO, "%s: cannot create directory: %s", buf, strerror(errno));
    return T2I_OK;
}

// ---- IS terms ------------------------------------------------------------------------------

void is_row_terms(const float *l, int begin, int end, double T, double *neg_entropy, int *top,
                  double *p_top) {
    double mx = -INFINITY, z = 0, a = 0;
    int arg = begin;
    for (int c = begin; c < end; c++)
        if ((double)l[c] / T > mx) {
            mx = (double)l[c] / T;
            arg = c;
        }
    for (int c = begin; c < end; c++) z += exp((double)l[c] / T - mx);
    double lz = log(z);
    for (int c = begin; c < end; c++) {
        double lp = (double)l[c] / T - mx - lz;
        a += exp(lp) * lp;
    }
    *neg_entropy = a;
    *top = arg;
    *p_top = exp(-lz);
}
