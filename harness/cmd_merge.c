// cmd_merge.c -- `t2ibench merge --out MERGED.db SHARD.db[:RUN]...` (DESIGN.md §11).
//
// Combines shard runs (`t2ibench run --shard I/N`, each in its own database) into one run of
// MERGED.db (created when missing; its other runs are not touched):
//   1. every input run must be finished ("shard-complete", or "complete" for an unsharded run)
//      and carry the same fingerprints, kind, suite, sample count, block size and scoring record
//      as the first one (only the shard may differ);
//   2. their committed blocks must cover every block of the run exactly once (an error names the
//      missing blocks -- and the missing shard when all inputs share N -- or each duplicated block
//      with the two files that hold it);
//   3. per-sample rows, blocks, timings (summed) and the provenance (of the first input, with the
//      shard replaced by "merged_from": file, run, shard, started, finished of each input) are
//      copied into one new run, whose metrics are computed from the merged rows in sample-id
//      order by the same code as a single-process run (harness/scoring.h): identical numbers.
// Everything is written in one transaction: on any error MERGED.db is left as it was.
#include "args.h"
#include "cli.h"
#include "db.h"
#include "results.h"
#include "scoring.h"
#include "t2i.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void results_print_metrics(const ResRun *r, FILE *f);

#define MERGE_MAX_INPUTS 4096

typedef struct {
    char     *path;          // database file
    const char *arg;         // as given
    int64_t   run;
    Db        db;
    char      status[32], kind[32], fp[65], ifp[65], mfp[65], suite[128], suite_sha[65];
    char      protocol[128], model[256], evaluators[128], started[32], finished[32];
    int64_t   n_samples, n_blocks;
    int       block_size;
    char     *provenance;
    int       shard_index, shard_count;
    ScoreSpec spec;
    char     *spec_json;     // canonical text of the scoring record without file paths
    int       coupled, batch;   // batch-coupled protocol and its --batch (provenance run.*)
    int       picked;        // the run was not named (FILE, not FILE:RUN): the newest one
} Input;

static void col(sqlite3_stmt *st, int i, char *buf, size_t n) {
    const unsigned char *s = sqlite3_column_text(st, i);
    snprintf(buf, n, "%s", s ? (const char *)s : "");
}

static void shard_name(const Input *in, char *buf, size_t n) {
    if (in->shard_count > 1) snprintf(buf, n, "shard %d/%d", in->shard_index, in->shard_count);
    else snprintf(buf, n, "unsharded");
}

// "FILE" or "FILE:RUN" (the suffix is a run id only when FILE itself does not exist).
static int split_arg(const char *arg, char **path, int64_t *run) {
    *run = 0;
    const char *c = strrchr(arg, ':');
    if (access(arg, F_OK) != 0 && c && c[1]) {
        char *end;
        long long v = strtoll(c + 1, &end, 10);
        if (!*end && v > 0) {
            *path = t2i_malloc((size_t)(c - arg) + 1);
            if (!*path) return T2I_ENOMEM;
            memcpy(*path, arg, (size_t)(c - arg));
            (*path)[c - arg] = 0;
            *run = v;
            return T2I_OK;
        }
    }
    *path = t2i_strdup(arg);
    return *path ? T2I_OK : T2I_ENOMEM;
}

static int load_input(Input *in) {
    int rc;
    if ((rc = split_arg(in->arg, &in->path, &in->run))) return rc;
    if ((rc = db_open(&in->db, in->path, 1))) return rc;
    if ((rc = db_quick_check(&in->db))) return rc;
    if (!in->run) {
        if ((rc = db_run_latest(&in->db, &in->run))) return rc;
        if (!in->run) return t2i_error(T2I_EARG, "%s has no runs", in->path);
        in->picked = 1;
    }
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db_handle(&in->db),
                           "SELECT status, kind, fingerprint, inputs_fingerprint, model_fingerprint,"
                           " suite, suite_sha256, protocol, model, evaluators, n_samples, n_blocks,"
                           " block_size, started, coalesce(finished, ''), provenance FROM runs"
                           " WHERE id = ?",
                           -1, &st, NULL) != SQLITE_OK)
        return db_err(&in->db, "read run");
    sqlite3_bind_int64(st, 1, in->run);
    if (sqlite3_step(st) != SQLITE_ROW) {
        sqlite3_finalize(st);
        return t2i_error(T2I_EARG, "%s has no run %lld", in->path, (long long)in->run);
    }
    col(st, 0, in->status, sizeof in->status);
    col(st, 1, in->kind, sizeof in->kind);
    col(st, 2, in->fp, sizeof in->fp);
    col(st, 3, in->ifp, sizeof in->ifp);
    col(st, 4, in->mfp, sizeof in->mfp);
    col(st, 5, in->suite, sizeof in->suite);
    col(st, 6, in->suite_sha, sizeof in->suite_sha);
    col(st, 7, in->protocol, sizeof in->protocol);
    col(st, 8, in->model, sizeof in->model);
    col(st, 9, in->evaluators, sizeof in->evaluators);
    in->n_samples = sqlite3_column_int64(st, 10);
    in->n_blocks = sqlite3_column_int64(st, 11);
    in->block_size = sqlite3_column_int(st, 12);
    col(st, 13, in->started, sizeof in->started);
    col(st, 14, in->finished, sizeof in->finished);
    const unsigned char *pv = sqlite3_column_text(st, 15);
    in->provenance = t2i_strdup(pv ? (const char *)pv : "{}");
    sqlite3_finalize(st);
    if (!in->provenance) return T2I_ENOMEM;
    scoring_shard_of_provenance(in->provenance, &in->shard_index, &in->shard_count);
    char what[1200];
    snprintf(what, sizeof what, "%s run %lld", in->path, (long long)in->run);
    cJSON *j = cJSON_Parse(in->provenance);
    const cJSON *r = j ? cJSON_GetObjectItemCaseSensitive(j, "run") : NULL;
    rc = scoring_spec_parse(r ? cJSON_GetObjectItemCaseSensitive(r, "scoring") : NULL, what,
                            &in->spec);
    const cJSON *bc = r ? cJSON_GetObjectItemCaseSensitive(r, "batch_coupled") : NULL;
    const cJSON *bs = r ? cJSON_GetObjectItemCaseSensitive(r, "batch_at_start") : NULL;
    in->coupled = cJSON_IsTrue(bc);
    in->batch = cJSON_IsNumber(bs) ? bs->valueint : 0;
    if (!rc) {
        // Compared across inputs by content: file paths are left out (a card given as a
        // relative path in one shard and an absolute one in another is the same card), the
        // FID statistics' SHA-256 stays in.
        ScoreSpec cmp = in->spec;
        cmp.evaluators[0] = 0;
        cmp.fid_stats[0] = 0;
        cJSON *sj = scoring_spec_json(&cmp);
        char *s = sj ? cJSON_PrintUnformatted(sj) : NULL;
        in->spec_json = s ? t2i_strdup(s) : NULL;
        cJSON_free(s);
        cJSON_Delete(sj);
        if (!in->spec_json) rc = T2I_ENOMEM;
    }
    cJSON_Delete(j);
    if (rc) return rc;
    char sh[32];
    shard_name(in, sh, sizeof sh);
    int finished = in->shard_count > 1 ? !strcmp(in->status, "shard-complete")
                                       : !strcmp(in->status, "complete");
    if (!finished) {
        int64_t nb = 0;
        sqlite3_stmt *q;
        if (sqlite3_prepare_v2(db_handle(&in->db), "SELECT count(*) FROM blocks WHERE run = ?", -1,
                               &q, NULL) == SQLITE_OK) {
            sqlite3_bind_int64(q, 1, in->run);
            if (sqlite3_step(q) == SQLITE_ROW) nb = sqlite3_column_int64(q, 0);
            sqlite3_finalize(q);
        }
        return t2i_error(T2I_EARG, "%s: run %lld (%s) is %s with %lld blocks committed: finish it "
                                   "first (rerun the same `t2ibench run` command)",
                         in->path, (long long)in->run, sh, in->status, (long long)nb);
    }
    int64_t checked = 0, bad = -1;
    if ((rc = db_samples_verify(&in->db, in->run, &checked, NULL, &bad))) return rc;
    if (bad >= 0)
        return t2i_error(T2I_EDB, "%s: run %lld: the stored outputs of sample %lld do not match "
                                  "their checksum (the file was modified or damaged)",
                         in->path, (long long)in->run, (long long)bad);
    if (in->spec.n != in->n_samples || in->spec.block_size != in->block_size)
        return t2i_error(T2I_EFORMAT, "%s: run %lld: scoring record disagrees with the run row "
                                      "(%lld samples in blocks of %d vs %lld in blocks of %d)",
                         in->path, (long long)in->run, (long long)in->spec.n, in->spec.block_size,
                         (long long)in->n_samples, in->block_size);
    return T2I_OK;
}

// The keys (object.key) whose values differ between two JSON objects of one level of nesting.
static void json_diff_keys(const char *ta, const char *tb, char *buf, size_t n) {
    buf[0] = 0;
    cJSON *a = cJSON_Parse(ta), *b = cJSON_Parse(tb);
    for (const cJSON *x = a ? a->child : NULL; x; x = x->next) {
        const cJSON *y = cJSON_GetObjectItemCaseSensitive(b, x->string);
        for (const cJSON *k = cJSON_IsObject(x) ? x->child : x; k; k = cJSON_IsObject(x) ? k->next : NULL) {
            const cJSON *l = cJSON_IsObject(x) ? cJSON_GetObjectItemCaseSensitive(y, k->string) : y;
            char *sa = cJSON_PrintUnformatted(k), *sb = l ? cJSON_PrintUnformatted(l) : NULL;
            if (!sb || strcmp(sa ? sa : "", sb))
                snprintf(buf + strlen(buf), n - strlen(buf), "%s%s%s%s: %s vs %s",
                         buf[0] ? "; " : "", x->string, cJSON_IsObject(x) ? "." : "",
                         cJSON_IsObject(x) ? k->string : "", sa ? sa : "?", sb ? sb : "absent");
            cJSON_free(sa);
            cJSON_free(sb);
        }
    }
    if (!buf[0]) snprintf(buf, n, "key sets differ");
    cJSON_Delete(a);
    cJSON_Delete(b);
}

// Names what differs between two inputs (besides the shard); "" when nothing.
static void differences(const Input *a, const Input *b, char *buf, size_t n) {
    buf[0] = 0;
#define DIFF(cond, name)                                                                          \
    if (cond) snprintf(buf + strlen(buf), n - strlen(buf), "%s%s", buf[0] ? ", " : "", name)
    DIFF(strcmp(a->kind, b->kind), "kind");
    DIFF(strcmp(a->ifp, b->ifp), "inputs fingerprint (suite, protocol or evaluators)");
    DIFF(strcmp(a->mfp, b->mfp), "model fingerprint");
    DIFF(strcmp(a->fp, b->fp) && !strcmp(a->ifp, b->ifp), "build fingerprint (git, compiler, "
                                                          "flags, BLAS, conv kernels or CPU)");
    DIFF(strcmp(a->suite_sha, b->suite_sha), "suite file");
    DIFF(a->n_samples != b->n_samples, "sample count (--limit)");
    DIFF(a->block_size != b->block_size || a->n_blocks != b->n_blocks, "blocks");
    DIFF(a->coupled && b->coupled && a->batch != b->batch, "--batch (the protocol couples the "
                                                           "samples of a batch)");
    if (strcmp(a->spec_json, b->spec_json)) {
        char keys[256];
        json_diff_keys(a->spec_json, b->spec_json, keys, sizeof keys);
        snprintf(buf + strlen(buf), n - strlen(buf), "%sscoring settings (%s)", buf[0] ? ", " : "",
                 keys);
    }
#undef DIFF
}

// The merged provenance: the first input's, with run.shard replaced by run.merged_from.
static char *merged_provenance(const Input *in, int n) {
    cJSON *j = cJSON_Parse(in[0].provenance);
    if (!j) j = cJSON_CreateObject();
    if (!j) return NULL;
    cJSON *r = cJSON_GetObjectItemCaseSensitive(j, "run");
    if (!cJSON_IsObject(r)) {
        cJSON_DeleteItemFromObjectCaseSensitive(j, "run");
        r = cJSON_AddObjectToObject(j, "run");
    }
    cJSON_DeleteItemFromObjectCaseSensitive(r, "shard");
    cJSON_DeleteItemFromObjectCaseSensitive(r, "batch_at_start");
    cJSON_DeleteItemFromObjectCaseSensitive(r, "workers_at_start");
    cJSON *arr = cJSON_AddArrayToObject(r, "merged_from");
    for (int i = 0; i < n; i++) {
        cJSON *o = cJSON_CreateObject();
        char sh[32];
        char full[4096];
        if (!realpath(in[i].path, full)) snprintf(full, sizeof full, "%s", in[i].path);
        shard_name(&in[i], sh, sizeof sh);
        cJSON_AddStringToObject(o, "file", full);
        cJSON_AddNumberToObject(o, "run", (double)in[i].run);
        cJSON_AddStringToObject(o, "shard", sh);
        cJSON_AddStringToObject(o, "started", in[i].started);
        cJSON_AddStringToObject(o, "finished", in[i].finished);
        cJSON *pj = cJSON_Parse(in[i].provenance);
        const cJSON *pr = pj ? cJSON_GetObjectItemCaseSensitive(pj, "run") : NULL;
        const char *keep[] = {"batch_at_start", "workers_at_start"};
        for (int k = 0; k < 2; k++) {
            const cJSON *v = pr ? cJSON_GetObjectItemCaseSensitive(pr, keep[k]) : NULL;
            if (cJSON_IsNumber(v)) cJSON_AddNumberToObject(o, keep[k], v->valuedouble);
        }
        cJSON_Delete(pj);
        cJSON_AddItemToArray(arr, o);
    }
    char *s = cJSON_Print(j);
    cJSON_Delete(j);
    char *out = s ? t2i_strdup(s) : NULL;
    cJSON_free(s);
    return out;
}

// Copies blocks, samples and timings of input `in` into run `run` of `out` (in its transaction).
static int copy_rows(Db *out, int64_t run, Input *in) {
    sqlite3 *src = db_handle(&in->db), *dst = db_handle(out);
    sqlite3_stmt *s = NULL, *t = NULL;
    int rc = T2I_OK;
    // Blocks.
    if (sqlite3_prepare_v2(src, "SELECT block, state, samples, seconds, committed FROM blocks"
                                " WHERE run = ? ORDER BY block",
                           -1, &s, NULL) != SQLITE_OK)
        return db_err(&in->db, "read blocks");
    if (sqlite3_prepare_v2(dst, "INSERT INTO blocks (run, block, state, samples, seconds, committed)"
                                " VALUES (?,?,?,?,?,?)",
                           -1, &t, NULL) != SQLITE_OK) {
        sqlite3_finalize(s);
        return db_err(out, "insert blocks");
    }
    sqlite3_bind_int64(s, 1, in->run);
    int st;
    while (!rc && (st = sqlite3_step(s)) == SQLITE_ROW) {
        sqlite3_bind_int64(t, 1, run);
        for (int c = 0; c < 5; c++) sqlite3_bind_value(t, c + 2, sqlite3_column_value(s, c));
        if (sqlite3_step(t) != SQLITE_DONE) rc = db_err(out, "insert block");
        sqlite3_reset(t);
    }
    if (!rc && st != SQLITE_DONE) rc = db_err(&in->db, "read blocks");
    sqlite3_finalize(s);
    sqlite3_finalize(t);
    if (rc) return rc;
    // Samples (every column as stored: the BLOBs are copied byte for byte).
    // The row checksum travels with the row (NULL from a database older than schema 2).
    if (sqlite3_prepare_v2(src, in->db.version >= 2
                                    ? "SELECT sample, block, is_logits, rp_rank, rp_scores,"
                                      " fid_feat, image_sha256, checksum FROM samples WHERE run = ?"
                                      " ORDER BY sample"
                                    : "SELECT sample, block, is_logits, rp_rank, rp_scores,"
                                      " fid_feat, image_sha256, NULL FROM samples WHERE run = ?"
                                      " ORDER BY sample",
                           -1, &s, NULL) != SQLITE_OK)
        return db_err(&in->db, "read samples");
    if (sqlite3_prepare_v2(dst, "INSERT INTO samples (run, sample, block, is_logits, rp_rank,"
                                " rp_scores, fid_feat, image_sha256, checksum)"
                                " VALUES (?,?,?,?,?,?,?,?,?)",
                           -1, &t, NULL) != SQLITE_OK) {
        sqlite3_finalize(s);
        return db_err(out, "insert samples");
    }
    sqlite3_bind_int64(s, 1, in->run);
    while (!rc && (st = sqlite3_step(s)) == SQLITE_ROW) {
        sqlite3_bind_int64(t, 1, run);
        for (int c = 0; c < 8; c++) sqlite3_bind_value(t, c + 2, sqlite3_column_value(s, c));
        if (sqlite3_step(t) != SQLITE_DONE)
            rc = t2i_error(T2I_EDB, "database %s: sample %lld of %s run %lld: %s", out->path,
                           (long long)sqlite3_column_int64(s, 0), in->path, (long long)in->run,
                           sqlite3_errmsg(dst));
        sqlite3_reset(t);
    }
    if (!rc && st != SQLITE_DONE) rc = db_err(&in->db, "read samples");
    sqlite3_finalize(s);
    sqlite3_finalize(t);
    if (rc) return rc;
    // Timings: seconds and images add up over the shards.
    if (sqlite3_prepare_v2(src, "SELECT stage, seconds, images FROM timings WHERE run = ?"
                                " ORDER BY rowid",
                           -1, &s, NULL) != SQLITE_OK)
        return db_err(&in->db, "read timings");
    sqlite3_bind_int64(s, 1, in->run);
    while (!rc && (st = sqlite3_step(s)) == SQLITE_ROW) {
        char stage[64];
        col(s, 0, stage, sizeof stage);
        rc = db_timing_add(out, run, stage, sqlite3_column_double(s, 1), sqlite3_column_int64(s, 2));
    }
    if (!rc && st != SQLITE_DONE) rc = db_err(&in->db, "read timings");
    sqlite3_finalize(s);
    return rc;
}

// Reports the blocks no input covers, naming the missing shards when every input is i/N.
static int missing_error(const Input *in, int n, const int32_t *owner, int64_t nblocks) {
    char list[1024] = "";
    int64_t miss = 0;
    for (int64_t b = 0; b < nblocks; b++) {
        if (owner[b] >= 0) continue;
        if (miss < 20)
            snprintf(list + strlen(list), sizeof list - strlen(list), "%s%lld", miss ? ", " : "",
                     (long long)b);
        miss++;
    }
    if (miss > 20) snprintf(list + strlen(list), sizeof list - strlen(list), ", ...");
    char shards[512] = "";
    int N = in[0].shard_count;
    for (int i = 1; i < n; i++)
        if (in[i].shard_count != N) N = 0;
    if (N > 1) {
        int listed = 0;
        for (int s = 0; s < N && listed < 16; s++) {
            int have = 0;
            for (int i = 0; i < n; i++) have |= in[i].shard_index == s;
            if (!have) {
                snprintf(shards + strlen(shards), sizeof shards - strlen(shards), "%s%d/%d",
                         listed ? ", " : " (missing shard ", s, N);
                listed++;
            }
        }
        if (listed) snprintf(shards + strlen(shards), sizeof shards - strlen(shards), ")");
    }
    char files[1024] = "";
    for (int i = 0; i < n; i++) {
        char sh[32];
        shard_name(&in[i], sh, sizeof sh);
        snprintf(files + strlen(files), sizeof files - strlen(files), "%s%s (%s)", i ? ", " : "",
                 in[i].path, sh);
    }
    return t2i_error(T2I_EARG, "%lld of %lld blocks are not covered by any input: block%s %s%s; "
                               "inputs: %s",
                     (long long)miss, (long long)nblocks, miss > 1 ? "s" : "", list, shards, files);
}

int cmd_merge(int argc, char **argv) {
    static const char *usage =
        "t2ibench merge --out MERGED.db SHARD.db[:RUN] [SHARD.db[:RUN] ...] [-q]\n"
        "  Combines the shard runs of `t2ibench run --shard I/N` (the newest run of each file, or\n"
        "  RUN) into one new run of MERGED.db (created when missing; other runs untouched) and\n"
        "  computes its metrics from the merged per-sample rows, exactly as a single-process run.\n"
        "  The inputs must have identical fingerprints and cover every block exactly once.";
    Args a;
    char *pos[MERGE_MAX_INPUTS];
    if (args_init(&a, argc, argv)) return cli_usage("merge", usage);
    if (args_flag(&a, "--help")) return printf("usage: %s\n", usage), EXIT_OK;
    const char *outp = args_str(&a, "--out", NULL);
    int quiet = args_flag(&a, "-q") | args_flag(&a, "--quiet");
    int n = args_rest(&a, pos, MERGE_MAX_INPUTS);
    if (n < 1 || !outp) return cli_usage("merge", usage);
    Input *in = t2i_calloc((size_t)n, sizeof(Input));
    int32_t *owner = NULL;
    char *prov = NULL;
    Db out;
    memset(&out, 0, sizeof out);
    int64_t run = 0;
    int rc = in ? T2I_OK : t2i_error(T2I_ENOMEM, "out of memory");
    for (int i = 0; i < n && !rc; i++) {
        in[i].arg = pos[i];
        rc = load_input(&in[i]);
        if (!rc && in[i].picked && !quiet) {
            char sh[32];
            shard_name(&in[i], sh, sizeof sh);
            fprintf(stderr, "t2ibench merge: %s: using run %lld (%s, %s, started %s), its newest "
                            "run (name another as %s:RUN)\n",
                    in[i].path, (long long)in[i].run, sh, in[i].status, in[i].started, in[i].path);
        }
    }
    // Same run in everything but the shard.
    for (int i = 1; i < n && !rc; i++) {
        char diff[512];
        differences(&in[0], &in[i], diff, sizeof diff);
        if (diff[0])
            rc = t2i_error(T2I_EARG, "%s (run %lld) and %s (run %lld) are not shards of the same "
                                     "run: they differ in %s (fingerprints %.12s / %.12s)",
                           in[0].path, (long long)in[0].run, in[i].path, (long long)in[i].run,
                           diff, in[0].fp, in[i].fp);
    }
    // Every block exactly once.
    int64_t nblocks = rc ? 0 : in[0].n_blocks;
    if (!rc) {
        owner = t2i_malloc(sizeof(int32_t) * (size_t)(nblocks + 1));
        if (!owner) rc = t2i_error(T2I_ENOMEM, "out of memory");
        for (int64_t b = 0; owner && b < nblocks; b++) owner[b] = -1;
    }
    char dups[2048] = "";
    int ndup = 0;
    for (int i = 0; i < n && !rc; i++) {
        sqlite3_stmt *st;
        if (sqlite3_prepare_v2(db_handle(&in[i].db),
                               "SELECT block FROM blocks WHERE run = ? AND state = 'done'"
                               " ORDER BY block",
                               -1, &st, NULL) != SQLITE_OK) {
            rc = db_err(&in[i].db, "read blocks");
            break;
        }
        sqlite3_bind_int64(st, 1, in[i].run);
        while (!rc && sqlite3_step(st) == SQLITE_ROW) {
            int64_t b = sqlite3_column_int64(st, 0);
            if (b < 0 || b >= nblocks) {
                rc = t2i_error(T2I_EFORMAT, "%s: run %lld has block %lld of a %lld-block run",
                               in[i].path, (long long)in[i].run, (long long)b, (long long)nblocks);
            } else if (owner[b] >= 0) {
                if (ndup < 8) {
                    char s1[32], s2[32];
                    shard_name(&in[owner[b]], s1, sizeof s1);
                    shard_name(&in[i], s2, sizeof s2);
                    snprintf(dups + strlen(dups), sizeof dups - strlen(dups),
                             "%sblock %lld is in both %s (run %lld, %s) and %s (run %lld, %s)",
                             ndup ? "; " : "", (long long)b, in[owner[b]].path,
                             (long long)in[owner[b]].run, s1, in[i].path, (long long)in[i].run, s2);
                }
                ndup++;
            } else {
                owner[b] = i;
            }
        }
        sqlite3_finalize(st);
    }
    if (!rc && ndup)
        rc = t2i_error(T2I_EARG, "%d duplicated block%s: %s%s (each block must come from exactly "
                                 "one shard)",
                       ndup, ndup > 1 ? "s" : "", dups, ndup > 8 ? "; ..." : "");
    if (!rc) {
        for (int64_t b = 0; b < nblocks; b++)
            if (owner[b] < 0) {
                rc = missing_error(in, n, owner, nblocks);
                break;
            }
    }
    // One transaction in the output database.
    if (!rc && !(prov = merged_provenance(in, n))) rc = t2i_error(T2I_ENOMEM, "out of memory");
    // A new output file is written as OUT.tmp.PID and renamed on success, so a failed merge
    // leaves no schema-only database behind; an existing one gets one transaction.
    char tmp[4200];
    int fresh = access(outp, F_OK) != 0;
    snprintf(tmp, sizeof tmp, "%s.tmp.%d", outp, (int)getpid());
    if (!rc) rc = db_open(&out, fresh ? tmp : outp, 0);
    if (!rc && !(rc = db_begin(&out))) {
        char key[65];
        scoring_run_key(in[0].kind, in[0].fp, in[0].mfp, in[0].n_samples, in[0].suite_sha, 0, 0,
                        key);
        DbRun row = {.status = "running", .kind = in[0].kind, .run_key = key,
                     .fingerprint = in[0].fp, .inputs_fingerprint = in[0].ifp,
                     .model_fingerprint = in[0].mfp, .suite = in[0].suite,
                     .suite_sha256 = in[0].suite_sha, .protocol = in[0].protocol,
                     .model = in[0].model, .evaluators = in[0].evaluators,
                     .n_samples = in[0].n_samples, .n_blocks = in[0].n_blocks,
                     .block_size = in[0].block_size, .provenance = prov};
        rc = db_run_insert(&out, &row, &run);
        // Started: the earliest shard start.
        const char *first = in[0].started;
        for (int i = 1; i < n; i++)
            if (strcmp(in[i].started, first) < 0) first = in[i].started;
        sqlite3_stmt *st;
        if (!rc && sqlite3_prepare_v2(db_handle(&out), "UPDATE runs SET started = ? WHERE id = ?",
                                      -1, &st, NULL) == SQLITE_OK) {
            sqlite3_bind_text(st, 1, first, -1, SQLITE_TRANSIENT);
            sqlite3_bind_int64(st, 2, run);
            if (sqlite3_step(st) != SQLITE_DONE) rc = db_err(&out, "set started");
            sqlite3_finalize(st);
        }
        for (int i = 0; i < n && !rc; i++) rc = copy_rows(&out, run, &in[i]);
        if (!rc) {
            ScoreSpec sp = in[0].spec;
            sp.shard_index = sp.shard_count = 0;
            rc = scoring_write(&out, run, &sp);
        }
        if (!rc) rc = db_commit(&out);
        else db_rollback(&out);
    }
    int64_t total = rc ? 0 : in[0].n_samples;
    for (int i = 0; in && i < n; i++) {
        db_close(&in[i].db);
        t2i_free(in[i].path);
        t2i_free(in[i].provenance);
        t2i_free(in[i].spec_json);
    }
    t2i_free(in);
    t2i_free(owner);
    t2i_free(prov);
    db_close(&out);
    if (fresh && !rc && rename(tmp, outp) != 0)
        rc = t2i_error(T2I_EIO, "merge: cannot rename %s to %s: %s", tmp, outp, strerror(errno));
    if (fresh && rc) {
        struct stat sb;   // remove only the regular file this merge created
        if (lstat(tmp, &sb) == 0 && S_ISREG(sb.st_mode)) unlink(tmp);
    }
    if (rc) return cli_fail("merge", rc);
    printf("merged %d run%s (%lld blocks, %lld samples) into %s run %lld\n", n, n > 1 ? "s" : "",
           (long long)nblocks, (long long)total, outp, (long long)run);
    if (!quiet) {
        Db d;
        ResRun r;
        if (!db_open(&d, outp, 1)) {
            if (!res_load(&d, run, &r)) {
                results_print_metrics(&r, stdout);
                res_free(&r);
            }
            db_close(&d);
        }
    }
    return EXIT_OK;
}
