// results.c -- stored runs -> ResRun (see results.h).
#include "results.h"

#include "jsonx.h"
#include "scoring.h"
#include "t2i.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void col_text(sqlite3_stmt *st, int i, char *buf, size_t n) {
    const unsigned char *s = sqlite3_column_text(st, i);
    snprintf(buf, n, "%s", s ? (const char *)s : "");
}

int res_run_arg(const char *arg, int64_t *id) {
    *id = 0;
    if (!strcmp(arg, "latest") || !strcmp(arg, "last")) return T2I_OK;
    char *end;
    errno = 0;
    long long v = strtoll(arg, &end, 10);
    if (!*arg || *end || errno == ERANGE || v <= 0)
        return t2i_error(T2I_EARG, "'%s' is not a run id (a positive number, or 'latest')", arg);
    *id = v;
    return T2I_OK;
}

int res_parse_run(Db *d, const char *arg, int64_t *id) {
    if (!strcmp(arg, "latest") || !strcmp(arg, "last")) {
        int rc = db_run_latest(d, id);
        if (rc) return rc;
        if (*id == 0) return t2i_error(T2I_EARG, "database %s has no runs", d->path);
        return T2I_OK;
    }
    int64_t v;
    int rc = res_run_arg(arg, &v);
    if (rc) return rc;
    int ex = 0;
    rc = db_run_exists(d, v, &ex);
    if (rc) return rc;
    if (!ex) return t2i_error(T2I_EARG, "database %s has no run %lld", d->path, (long long)v);
    *id = v;
    return T2I_OK;
}

static int add_metric(ResRun *r, const char *name, double v, double sd, int64_t n, int dir) {
    if (r->n_metrics >= RES_MAX_METRICS) return T2I_OK;
    ResMetric *m = &r->m[r->n_metrics++];
    snprintf(m->name, sizeof m->name, "%s", name);
    m->value = v;
    m->std = sd;
    m->n = n;
    m->direction = dir;
    return T2I_OK;
}

static int res_sample_set(Db *d, int64_t id, char *buf, size_t n) {
    sqlite3_stmt *st;
    buf[0] = 0;
    if (sqlite3_prepare_v2(db_handle(d), "SELECT coalesce(sample_set, '') FROM runs WHERE id = ?",
                           -1, &st, NULL) != SQLITE_OK)
        return db_err(d, "read run");
    sqlite3_bind_int64(st, 1, id);
    if (sqlite3_step(st) == SQLITE_ROW) col_text(st, 0, buf, n);
    sqlite3_finalize(st);
    return T2I_OK;
}

int res_load(Db *d, int64_t id, ResRun *r) {
    memset(r, 0, sizeof *r);
    sqlite3 *db = db_handle(d);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db,
                           "SELECT id, status, kind, suite, protocol, model, evaluators, fingerprint,"
                           " inputs_fingerprint, model_fingerprint, started, coalesce(finished,''),"
                           " n_samples, n_blocks, block_size, provenance,"
                           " (SELECT count(*) FROM blocks b WHERE b.run = runs.id),"
                           " (SELECT coalesce(sum(samples),0) FROM blocks b WHERE b.run = runs.id)"
                           " FROM runs WHERE id = ?",
                           -1, &st, NULL) != SQLITE_OK)
        return db_err(d, "read run");
    sqlite3_bind_int64(st, 1, id);
    if (sqlite3_step(st) != SQLITE_ROW) {
        sqlite3_finalize(st);
        return t2i_error(T2I_EARG, "database %s has no run %lld", d->path, (long long)id);
    }
    r->id = sqlite3_column_int64(st, 0);
    col_text(st, 1, r->status, sizeof r->status);
    col_text(st, 2, r->kind, sizeof r->kind);
    col_text(st, 3, r->suite, sizeof r->suite);
    col_text(st, 4, r->protocol, sizeof r->protocol);
    col_text(st, 5, r->model, sizeof r->model);
    col_text(st, 6, r->evaluators, sizeof r->evaluators);
    col_text(st, 7, r->fingerprint, sizeof r->fingerprint);
    col_text(st, 8, r->inputs_fingerprint, sizeof r->inputs_fingerprint);
    col_text(st, 9, r->model_fingerprint, sizeof r->model_fingerprint);
    col_text(st, 10, r->started, sizeof r->started);
    col_text(st, 11, r->finished, sizeof r->finished);
    r->n_samples = sqlite3_column_int64(st, 12);
    r->n_blocks = sqlite3_column_int64(st, 13);
    r->block_size = sqlite3_column_int(st, 14);
    const unsigned char *pv = sqlite3_column_text(st, 15);
    r->provenance = t2i_strdup(pv ? (const char *)pv : "{}");
    r->blocks_done = sqlite3_column_int64(st, 16);
    r->samples_done = sqlite3_column_int64(st, 17);
    sqlite3_finalize(st);
    if (!r->provenance) return T2I_ENOMEM;
    scoring_shard_of_provenance(r->provenance, &r->shard_index, &r->shard_count);
    if (d->version >= 2) {
        DbOwner ow;
        int rc = db_run_owner(d, id, &ow);
        if (rc) {
            res_free(r);
            return rc;
        }
        r->owner_known = 1;
        r->owner_pid = ow.pid;
        snprintf(r->owner_host, sizeof r->owner_host, "%s", ow.host);
        snprintf(r->heartbeat, sizeof r->heartbeat, "%s", ow.heartbeat);
        r->owner_liveness = (int)db_owner_liveness(&ow);
        if ((rc = res_sample_set(d, id, r->sample_set, sizeof r->sample_set))) {
            res_free(r);
            return rc;
        }
    }

    if (sqlite3_prepare_v2(db,
                           "SELECT name, value, std, n, direction FROM metrics WHERE run = ?"
                           " ORDER BY rowid",
                           -1, &st, NULL) != SQLITE_OK)
        return db_err(d, "read metrics");
    sqlite3_bind_int64(st, 1, id);
    while (sqlite3_step(st) == SQLITE_ROW) {
        char name[48];
        col_text(st, 0, name, sizeof name);
        for (int c = 1; c <= 2; c++) {
            int ty = sqlite3_column_type(st, c);
            if (ty != SQLITE_FLOAT && ty != SQLITE_INTEGER && ty != SQLITE_NULL) {
                sqlite3_finalize(st);
                res_free(r);   // callers free only a loaded run
                return t2i_error(T2I_EDB, "database %s: run %lld: metric %s: %s is not a number",
                                 d->path, (long long)id, name, c == 1 ? "value" : "std");
            }
        }
        double v = sqlite3_column_type(st, 1) == SQLITE_NULL ? NAN : sqlite3_column_double(st, 1);
        double sd = sqlite3_column_type(st, 2) == SQLITE_NULL ? NAN : sqlite3_column_double(st, 2);
        add_metric(r, name, v, sd, sqlite3_column_int64(st, 3), sqlite3_column_int(st, 4));
    }
    sqlite3_finalize(st);
    if (sqlite3_prepare_v2(db, "SELECT stage, seconds, images FROM timings WHERE run = ?"
                               " ORDER BY rowid",
                           -1, &st, NULL) != SQLITE_OK)
        return db_err(d, "read timings");
    sqlite3_bind_int64(st, 1, id);
    while (sqlite3_step(st) == SQLITE_ROW) {
        char stage[40], name[48];
        col_text(st, 0, stage, sizeof stage);
        double s = sqlite3_column_double(st, 1);
        int64_t n = sqlite3_column_int64(st, 2);
        snprintf(name, sizeof name, "time.%s", stage);
        add_metric(r, name, n > 0 ? s / (double)n : NAN, NAN, n, -1);
    }
    sqlite3_finalize(st);
    return T2I_OK;
}

void res_free(ResRun *r) {
    if (!r) return;
    t2i_free(r->provenance);
    r->provenance = NULL;
}

void res_status_label(const ResRun *r, char *buf, size_t n) {
    // "running" is what the row says; whether its process still exists decides what we show.
    const char *st = !strcmp(r->status, "shard-complete") ? "complete" : r->status;
    if (!strcmp(r->status, "running") && r->owner_liveness == DB_OWNER_GONE) st = "stale";
    if (!strcmp(r->status, "running") && r->owner_liveness == DB_OWNER_NONE && r->owner_known)
        st = "stale";
    if (r->shard_count > 1)
        snprintf(buf, n, "shard %d/%d %s", r->shard_index, r->shard_count, st);
    else
        snprintf(buf, n, "%s", st);
}

int res_same_samples(const ResRun *a, const ResRun *b, char *why, size_t n) {
    why[0] = 0;
    int64_t na = a->n_samples, nb = b->n_samples;
    if (a->sample_set[0] && b->sample_set[0]) {
        if (!strcmp(a->sample_set, b->sample_set)) return 1;
        na = strtoll(a->sample_set, NULL, 10);
        nb = strtoll(b->sample_set, NULL, 10);
    } else if (na == nb) {
        return 1;   // a run stored before sample-set digests: the count is all we know
    }
    snprintf(why, n, "run %lld covers %lld samples (%.20s...), run %lld covers %lld samples "
                     "(%.20s...): metrics of different sample sets are not comparable",
             (long long)a->id, (long long)na, a->sample_set[0] ? a->sample_set : "no digest",
             (long long)b->id, (long long)nb, b->sample_set[0] ? b->sample_set : "no digest");
    return 0;
}

const ResMetric *res_metric(const ResRun *r, const char *name) {
    for (int i = 0; i < r->n_metrics; i++)
        if (!strcmp(r->m[i].name, name)) return &r->m[i];
    return NULL;
}

static void add_num(cJSON *o, const char *k, double v) {
    if (isfinite(v)) cJSON_AddNumberToObject(o, k, v);
    else cJSON_AddNullToObject(o, k);
}

char *res_to_json(const ResRun *r) {
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "format", "t2ibench-run/1");
    cJSON_AddNumberToObject(j, "id", (double)r->id);
    cJSON_AddStringToObject(j, "status", r->status);
    cJSON_AddStringToObject(j, "kind", r->kind);
    cJSON_AddStringToObject(j, "suite", r->suite);
    cJSON_AddStringToObject(j, "protocol", r->protocol);
    cJSON_AddStringToObject(j, "model", r->model);
    cJSON_AddStringToObject(j, "evaluators", r->evaluators);
    cJSON_AddStringToObject(j, "fingerprint", r->fingerprint);
    cJSON_AddStringToObject(j, "inputs_fingerprint", r->inputs_fingerprint);
    cJSON_AddStringToObject(j, "model_fingerprint", r->model_fingerprint);
    cJSON_AddStringToObject(j, "started", r->started);
    cJSON_AddStringToObject(j, "finished", r->finished);
    cJSON_AddNumberToObject(j, "n_samples", (double)r->n_samples);
    cJSON_AddNumberToObject(j, "samples_done", (double)r->samples_done);
    if (r->sample_set[0]) cJSON_AddStringToObject(j, "sample_set", r->sample_set);
    cJSON *ms = cJSON_AddArrayToObject(j, "metrics");
    for (int i = 0; i < r->n_metrics; i++) {
        cJSON *m = cJSON_CreateObject();
        cJSON_AddStringToObject(m, "name", r->m[i].name);
        add_num(m, "value", r->m[i].value);
        add_num(m, "std", r->m[i].std);
        cJSON_AddNumberToObject(m, "n", (double)r->m[i].n);
        cJSON_AddNumberToObject(m, "direction", r->m[i].direction);
        cJSON_AddItemToArray(ms, m);
    }
    cJSON *pv = cJSON_Parse(r->provenance ? r->provenance : "{}");
    cJSON_AddItemToObject(j, "provenance", pv ? pv : cJSON_CreateObject());
    char *s = cJSON_Print(j);
    cJSON_Delete(j);
    char *o = s ? t2i_strdup(s) : NULL;
    cJSON_free(s);
    return o;
}

int res_load_json(const char *path, ResRun *r) {
    memset(r, 0, sizeof *r);
    cJSON *j = NULL;
    int rc = jx_parse_file(path, &j);
    if (rc) return rc;
    const char *keys[] = {"format", "id", "status", "kind", "suite", "protocol",
                                       "model", "evaluators", "fingerprint",
                                       "inputs_fingerprint", "model_fingerprint", "started",
                                       "finished", "n_samples", "samples_done", "metrics",
                                       "provenance", NULL, NULL};
    static const char *const mkeys[] = {"name", "value", "std", "n", "direction", NULL};
    static const char *const fmts[] = {"t2ibench-run/1", NULL};
    const cJSON *ms;
    long v;
    int k;
    // "sample_set": written since schema 2, optional for older exports.
    keys[sizeof keys / sizeof keys[0] - 2] =
        cJSON_GetObjectItemCaseSensitive(j, "sample_set") ? "sample_set" : NULL;
    if ((rc = jx_keys(j, path, "$", (const char *const *)keys))) goto done;
    if ((rc = jx_enum(j, path, "$", "format", fmts, &k))) goto done;
    if ((rc = jx_int(j, path, "$", "id", 0, 1L << 53, &v))) goto done;
    r->id = v;
    if ((rc = jx_str_copy(j, path, "$", "status", r->status, sizeof r->status))) goto done;
    if ((rc = jx_str_copy(j, path, "$", "kind", r->kind, sizeof r->kind))) goto done;
    if ((rc = jx_str_copy(j, path, "$", "suite", r->suite, sizeof r->suite))) goto done;
    if ((rc = jx_str_copy(j, path, "$", "protocol", r->protocol, sizeof r->protocol))) goto done;
    if ((rc = jx_str_copy(j, path, "$", "model", r->model, sizeof r->model))) goto done;
    if ((rc = jx_str_copy(j, path, "$", "evaluators", r->evaluators, sizeof r->evaluators)))
        goto done;
    if ((rc = jx_str_copy(j, path, "$", "fingerprint", r->fingerprint, 65))) goto done;
    if ((rc = jx_str_copy(j, path, "$", "inputs_fingerprint", r->inputs_fingerprint, 65)))
        goto done;
    if ((rc = jx_str_copy(j, path, "$", "model_fingerprint", r->model_fingerprint, 65))) goto done;
    if ((rc = jx_int(j, path, "$", "n_samples", 0, 1L << 53, &v))) goto done;
    r->n_samples = v;
    if ((rc = jx_int(j, path, "$", "samples_done", 0, 1L << 53, &v))) goto done;
    r->samples_done = v;
    if (cJSON_GetObjectItemCaseSensitive(j, "sample_set") &&
        (rc = jx_str_copy(j, path, "$", "sample_set", r->sample_set, sizeof r->sample_set)))
        goto done;
    ms = cJSON_GetObjectItemCaseSensitive(j, "metrics");
    if (!cJSON_IsArray(ms)) {
        rc = t2i_error(T2I_EARG, "%s: $.metrics: expected an array", path);
        goto done;
    }
    int i = 0;
    for (const cJSON *m = ms->child; m; m = m->next, i++) {
        char p[48];
        snprintf(p, sizeof p, "$.metrics[%d]", i);
        if ((rc = jx_keys(m, path, p, mkeys))) goto done;
        char name[48];
        long n, dir;
        if ((rc = jx_str_copy(m, path, p, "name", name, sizeof name))) goto done;
        const cJSON *val = cJSON_GetObjectItemCaseSensitive(m, "value");
        const cJSON *sd = cJSON_GetObjectItemCaseSensitive(m, "std");
        if ((!cJSON_IsNumber(val) && !cJSON_IsNull(val)) || (!cJSON_IsNumber(sd) && !cJSON_IsNull(sd))) {
            rc = t2i_error(T2I_EARG, "%s: %s: value and std must be numbers or null", path, p);
            goto done;
        }
        if ((rc = jx_int(m, path, p, "n", 0, 1L << 53, &n))) goto done;
        if ((rc = jx_int(m, path, p, "direction", -1, 1, &dir))) goto done;
        add_metric(r, name, cJSON_IsNumber(val) ? val->valuedouble : NAN,
                   cJSON_IsNumber(sd) ? sd->valuedouble : NAN, n, (int)dir);
    }
    {
        char *pv = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(j, "provenance"));
        r->provenance = t2i_strdup(pv ? pv : "{}");
        cJSON_free(pv);
        scoring_shard_of_provenance(r->provenance, &r->shard_index, &r->shard_count);
    }
done:
    cJSON_Delete(j);
    if (rc) res_free(r);
    return rc;
}
