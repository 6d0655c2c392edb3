// cmd_results.c -- `t2ibench list | show | compare | check | export`: looking at stored runs.
#include "args.h"
#include "cli.h"
#include "db.h"
#include "paired_runs.h"
#include "results.h"
#include "t2i.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#define DEFAULT_DB "results/t2ibench.db"

static void fmt_val(char *buf, size_t n, double v) {
    if (!isfinite(v)) snprintf(buf, n, "-");
    else if (fabs(v) >= 1e4 || (fabs(v) < 1e-3 && v != 0)) snprintf(buf, n, "%.4g", v);
    else snprintf(buf, n, "%.4f", v);
}

// A metric's value: fmt_val, except the image count, which is a whole number.
static void fmt_metric(char *buf, size_t n, const ResMetric *m) {
    if (!strcmp(m->name, "images") && isfinite(m->value)) snprintf(buf, n, "%.0f", m->value);
    else fmt_val(buf, n, m->value);
}

static void fmt_pm(char *buf, size_t n, const ResMetric *m) {
    char a[32], b[32];
    if (!m) {
        snprintf(buf, n, "(absent)");
        return;
    }
    fmt_metric(a, sizeof a, m);
    if (isfinite(m->std)) {
        fmt_val(b, sizeof b, m->std);
        snprintf(buf, n, "%s +- %s", a, b);
    } else {
        snprintf(buf, n, "%s", a);
    }
}

// Table labels are the metric names `check --fail-on` takes (case-insensitively), plus a unit.
static const char *metric_label(const char *name) {
    if (!strcmp(name, "is")) return "IS";
    if (!strcmp(name, "rp")) return "RP (%)";
    if (!strcmp(name, "fid")) return "FID";
    if (!strcmp(name, "kid")) return "KID";
    return name;
}

// The line under a table with time.* rows.
static const char *const time_total_note =
    "  time.STAGE: one worker's seconds per image in that stage; time.total: wall-clock\n"
    "  seconds per image of whole blocks with every worker running in parallel (so it is\n"
    "  smaller than the sum of the stages)\n";

// Prints the metrics table of one run (also used by `run` and `demo`).
void results_print_metrics(const ResRun *r, FILE *f) {
    fprintf(f, "  %-24s %-28s %s\n", "metric", "value", "n");
    int timed = 0;
    for (int i = 0; i < r->n_metrics; i++) {
        timed |= !strcmp(r->m[i].name, "time.total");
        const ResMetric *m = &r->m[i];
        char v[64];
        fmt_pm(v, sizeof v, m);
        if (!strncmp(m->name, "time.", 5)) {
            char a[32];
            fmt_val(a, sizeof a, m->value);
            fprintf(f, "  %-24s %-28s %lld images (%.2f img/s)\n", m->name,
                    (snprintf(v, sizeof v, "%s s/image", a), v), (long long)m->n,
                    m->value > 0 ? 1.0 / m->value : 0.0);
        } else {
            fprintf(f, "  %-24s %-28s %lld%s\n", metric_label(m->name), v, (long long)m->n,
                    !strcmp(m->name, "is") ? " splits" : !strcmp(m->name, "rp") ? " folds" : "");
        }
    }
    if (timed) fputs(time_total_note, f);
}

static int open_db(Args *a, Db *d) {
    const char *path = args_str(a, "--db", DEFAULT_DB);
    return db_open(d, path, 1);
}

// ---- list ----------------------------------------------------------------------------------

int cmd_list(int argc, char **argv) {
    static const char *usage =
        "t2ibench list [--db FILE]\n"
        "  One line per stored run (default database results/t2ibench.db): id, status (\"stale\"\n"
        "  when a running run's process is gone), suite, protocol, model, samples done, IS,\n"
        "  R-precision and FID.";
    Args a;
    Db d;
    char *pos[4];
    if (args_init(&a, argc, argv)) return cli_usage("list", usage);
    if (args_flag(&a, "--help")) return printf("usage: %s\n", usage), EXIT_OK;
    const char *path = args_str(&a, "--db", DEFAULT_DB);
    if (args_rest(&a, pos, 4) != 0) return cli_usage("list", usage);
    int rc = db_open(&d, path, 1);
    if (rc) return cli_fail("list", rc);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db_handle(&d), "SELECT id FROM runs ORDER BY id", -1, &st, NULL)) {
        rc = db_err(&d, "list runs");
        db_close(&d);
        return cli_fail("list", rc);
    }
    printf("%-4s %-18s %-20s %-14s %-24s %-11s %-18s %-18s %s\n", "id", "status", "suite",
           "protocol", "model", "done", "IS", "R-prec %", "FID");
    while (sqlite3_step(st) == SQLITE_ROW) {
        ResRun r;
        if (res_load(&d, sqlite3_column_int64(st, 0), &r)) continue;
        char done[32], is[64], rp[64], fid[64];
        snprintf(done, sizeof done, "%lld/%lld", (long long)r.samples_done,
                 (long long)r.n_samples);
        fmt_pm(is, sizeof is, res_metric(&r, "is"));
        fmt_pm(rp, sizeof rp, res_metric(&r, "rp"));
        fmt_pm(fid, sizeof fid, res_metric(&r, "fid"));
        char stl[64];
        res_status_label(&r, stl, sizeof stl);
        printf("%-4lld %-18s %-20s %-14s %-24s %-11s %-18s %-18s %s\n", (long long)r.id, stl,
               r.suite, r.protocol, r.model, done, res_metric(&r, "is") ? is : "-",
               res_metric(&r, "rp") ? rp : "-", res_metric(&r, "fid") ? fid : "-");
        res_free(&r);
    }
    sqlite3_finalize(st);
    db_close(&d);
    return EXIT_OK;
}

// ---- show ----------------------------------------------------------------------------------

int cmd_show(int argc, char **argv) {
    static const char *usage =
        "t2ibench show RUN|latest [--db FILE]\n"
        "  One run in full: status, fingerprint, input files and their hashes, provenance,\n"
        "  metrics (and metric sets of `rescore`), timings.";
    Args a;
    Db d;
    char *pos[4];
    int64_t id;
    ResRun r;
    if (args_init(&a, argc, argv)) return cli_usage("show", usage);
    if (args_flag(&a, "--help")) return printf("usage: %s\n", usage), EXIT_OK;
    int rc = open_db(&a, &d);
    if (args_rest(&a, pos, 4) != 1 || res_run_arg(pos[0], &id)) {
        if (!rc) db_close(&d);
        return cli_usage("show", usage);
    }
    if (rc) return cli_fail("show", rc);
    if ((rc = res_parse_run(&d, pos[0], &id)) || (rc = res_load(&d, id, &r))) {
        db_close(&d);
        return cli_fail("show", rc);
    }
    char stl[64];
    res_status_label(&r, stl, sizeof stl);
    printf("run %lld  [%s]  %s\n", (long long)r.id, stl, r.kind);
    if (r.shard_count > 1)
        printf("  shard        %d/%d: blocks b %% %d == %d only; PARTIAL metrics over its own "
               "samples (`t2ibench merge` the shards for the run's metrics)\n",
               r.shard_index, r.shard_count, r.shard_count, r.shard_index);
    printf("  suite        %s\n  protocol     %s\n  model        %s\n  evaluators   %s\n", r.suite,
           r.protocol, r.model, r.evaluators);
    printf("  samples      %lld of %lld (%lld of %lld blocks of %d)\n", (long long)r.samples_done,
           (long long)r.n_samples, (long long)r.blocks_done, (long long)r.n_blocks,
           r.block_size);
    printf("  started      %s\n  finished     %s\n", r.started, r.finished[0] ? r.finished : "-");
    printf("  fingerprint  %s\n  inputs       %s\n  model        %s\n", r.fingerprint,
           r.inputs_fingerprint, r.model_fingerprint);
    cJSON *pv = cJSON_Parse(r.provenance);
    if (pv) {
        const char *keys[] = {"git_describe", "compiler", "cflags", "blas", "conv_kernels", "cpu"};
        for (int i = 0; i < 6; i++) {
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(pv, keys[i]);
            if (cJSON_IsString(v)) printf("  %-12s %s\n", keys[i], v->valuestring);
        }
        const cJSON *run = cJSON_GetObjectItemCaseSensitive(pv, "run");
        const cJSON *mf = run ? cJSON_GetObjectItemCaseSensitive(run, "merged_from") : NULL;
        if (cJSON_IsArray(mf)) {
            printf("  merged from  %d run%s (t2ibench merge):\n", cJSON_GetArraySize(mf),
                   cJSON_GetArraySize(mf) == 1 ? "" : "s");
            for (const cJSON *m = mf->child; m; m = m->next) {
                const cJSON *fi = cJSON_GetObjectItemCaseSensitive(m, "file");
                const cJSON *ri = cJSON_GetObjectItemCaseSensitive(m, "run");
                const cJSON *si = cJSON_GetObjectItemCaseSensitive(m, "shard");
                if (cJSON_IsString(fi) && cJSON_IsNumber(ri) && cJSON_IsString(si))
                    printf("    %s run %d (%s)\n", fi->valuestring, ri->valueint, si->valuestring);
            }
        }
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(pv, "blas_threads");
        if (cJSON_IsNumber(t)) printf("  %-12s %d\n", "blas_threads", t->valueint);
        const cJSON *files = cJSON_GetObjectItemCaseSensitive(pv, "files");
        printf("files (sha256):\n");
        for (const cJSON *f = files ? files->child : NULL; f; f = f->next) {
            const cJSON *ro = cJSON_GetObjectItemCaseSensitive(f, "role");
            const cJSON *pa = cJSON_GetObjectItemCaseSensitive(f, "path");
            const cJSON *sh = cJSON_GetObjectItemCaseSensitive(f, "sha256");
            if (cJSON_IsString(ro) && cJSON_IsString(pa) && cJSON_IsString(sh))
                printf("  %-22s %.16s  %s\n", ro->valuestring, sh->valuestring, pa->valuestring);
        }
        cJSON_Delete(pv);
    }
    printf("metrics:\n");
    results_print_metrics(&r, stdout);
    metric_sets_print(&d, r.id, stdout);
    res_free(&r);
    db_close(&d);
    return EXIT_OK;
}

// ---- compare -------------------------------------------------------------------------------

// Names of the fingerprint components (besides the model) in which two runs differ.
static void fingerprint_diff(const ResRun *x, const ResRun *y, char *buf, size_t n) {
    buf[0] = 0;
    cJSON *a = cJSON_Parse(x->provenance), *b = cJSON_Parse(y->provenance);
    // blas_threads is stored but not fingerprinted (outputs do not depend on it)
    const char *keys[] = {"git_describe", "compiler", "cflags", "blas", "conv_kernels", "cpu"};
    for (int i = 0; a && b && i < (int)(sizeof keys / sizeof *keys); i++) {
        char *sa = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(a, keys[i]));
        char *sb = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(b, keys[i]));
        if (!sa || !sb || strcmp(sa, sb))
            snprintf(buf + strlen(buf), n - strlen(buf), "%s%s", buf[0] ? ", " : "", keys[i]);
        cJSON_free(sa);
        cJSON_free(sb);
    }
    // File roles (not model.*) with different digests or present in one run only.
    for (int pass = 0; a && b && pass < 2; pass++) {
        const cJSON *fa = cJSON_GetObjectItemCaseSensitive(pass ? b : a, "files");
        const cJSON *fb = cJSON_GetObjectItemCaseSensitive(pass ? a : b, "files");
        for (const cJSON *f = fa ? fa->child : NULL; f; f = f->next) {
            const cJSON *ro = cJSON_GetObjectItemCaseSensitive(f, "role");
            const cJSON *sh = cJSON_GetObjectItemCaseSensitive(f, "sha256");
            if (!cJSON_IsString(ro) || !cJSON_IsString(sh) || !strncmp(ro->valuestring, "model.", 6))
                continue;
            int same = 0, found = 0;
            for (const cJSON *g = fb ? fb->child : NULL; g; g = g->next) {
                const cJSON *r2 = cJSON_GetObjectItemCaseSensitive(g, "role");
                const cJSON *s2 = cJSON_GetObjectItemCaseSensitive(g, "sha256");
                if (cJSON_IsString(r2) && !strcmp(r2->valuestring, ro->valuestring)) {
                    found = 1;
                    same = cJSON_IsString(s2) && !strcmp(s2->valuestring, sh->valuestring);
                }
            }
            if ((!found || !same) && !(pass && found) && !strstr(buf, ro->valuestring))
                snprintf(buf + strlen(buf), n - strlen(buf), "%s%s", buf[0] ? ", " : "",
                         ro->valuestring);
        }
    }
    if (!buf[0] && strcmp(x->fingerprint, y->fingerprint))
        snprintf(buf, n, "fingerprint");
    cJSON_Delete(a);
    cJSON_Delete(b);
}

// Prints the paired comparison of run b against run a (paired_runs.h).
static void print_paired(const ResRun *a, const ResRun *b, const PairedRuns *p, uint64_t seed) {
    printf("\npaired: run %lld vs run %lld over the same %lld samples (bootstrap seed %llu)\n",
           (long long)b->id, (long long)a->id, (long long)p->n, (unsigned long long)seed);
    for (int k = 0; k < p->nd; k++) {
        const PairedDiff *x = &p->d[k];
        printf("  %-4s %+.6g  95%% interval [%+.6g, %+.6g]  %d resamples%s  %s\n", x->metric,
               x->diff, x->lo, x->hi, x->resamples,
               !strcmp(x->metric, "fid") && x->resamples < p->d[0].resamples
                   ? " (fewer: FID cost-limited)" : "",
               x->significant ? "SIGNIFICANT" : "not significant (interval contains 0)");
    }
    if (p->have_mcnemar)
        printf("  R-precision hits (top-%d): both %lld, only run %lld %lld, only run %lld %lld, "
               "neither %lld; McNemar exact p = %.4g\n",
               p->rp_k, (long long)p->mc.both, (long long)a->id, (long long)p->mc.a_only,
               (long long)b->id, (long long)p->mc.b_only, (long long)p->mc.neither, p->mc.p);
}

int cmd_compare(int argc, char **argv) {
    static const char *usage =
        "t2ibench compare RUN RUN [RUN...] [--db FILE] [--force] [--resamples N] [--seed S]\n"
        "  Metric table of runs (only the model may differ) and, for each run against the first,\n"
        "  paired statistics over the same samples: bootstrap 95% intervals of the IS,\n"
        "  R-precision and FID differences (N resamples, default 1000, FID fewer when costly;\n"
        "  drawn with --seed S, default 1) and McNemar's exact test on R-precision hits. Runs\n"
        "  over different sample sets or with different fingerprints are refused unless --force.";
    Args a;
    Db d;
    char *pos[16];
    ResRun r[16];
    static PairedRuns pr[16];
    if (args_init(&a, argc, argv)) return cli_usage("compare", usage);
    if (args_flag(&a, "--help")) return printf("usage: %s\n", usage), EXIT_OK;
    int force = args_flag(&a, "--force");
    const char *path = args_str(&a, "--db", DEFAULT_DB);
    long resamples = args_long(&a, "--resamples", PAIRED_DEFAULT_RESAMPLES);
    long seed = args_long(&a, "--seed", PAIRED_DEFAULT_SEED);
    int n = args_rest(&a, pos, 16);
    if (n >= 0 && n < 2) t2i_error(T2I_EARG, "give at least two runs to compare");
    else if (n >= 2 && (resamples < 1 || resamples > 1000000 || seed < 0))
        t2i_error(T2I_EARG, "--resamples must be 1..1000000 and --seed >= 0");
    if (n < 2 || resamples < 1 || resamples > 1000000 || seed < 0) return cli_usage("compare", usage);
    for (int i = 0; i < n; i++) {
        int64_t id;
        if (res_run_arg(pos[i], &id)) return cli_usage("compare", usage);
    }
    int rc = db_open(&d, path, 1);
    if (!rc && (rc = db_quick_check(&d))) db_close(&d);
    if (rc) return cli_fail("compare", rc);
    int loaded = 0;
    for (int i = 0; i < n; i++) {
        int64_t id;
        if ((rc = res_parse_run(&d, pos[i], &id)) || (rc = res_load(&d, id, &r[i]))) break;
        loaded++;
    }
    int comparable = 1;
    for (int i = 0; i < n && !rc; i++) {
        if (r[i].shard_count > 1) {
            printf("run %lld is shard %d/%d: its metrics are partial (%lld of %lld samples); merge "
                   "the shards with `t2ibench merge`\n",
                   (long long)r[i].id, r[i].shard_index, r[i].shard_count,
                   (long long)r[i].samples_done, (long long)r[i].n_samples);
            comparable = 0;
        }
    }
    for (int i = 1; i < n && !rc; i++) {
        if (strcmp(r[0].fingerprint, r[i].fingerprint) != 0) {
            char diff[512];
            fingerprint_diff(&r[0], &r[i], diff, sizeof diff);
            printf("runs %lld and %lld are not comparable: their fingerprints differ in %s\n",
                   (long long)r[0].id, (long long)r[i].id, diff);
            comparable = 0;
        }
        if ((rc = paired_runs(&d, &r[0], &r[i], (uint64_t)seed, (int)resamples, &pr[i]))) break;
        if (pr[i].refused) {
            printf("runs %lld and %lld are not comparable: different sample sets (%s)\n",
                   (long long)r[0].id, (long long)r[i].id, pr[i].why);
            comparable = 0;
        }
    }
    db_close(&d);
    if (rc) {
        for (int i = 0; i < loaded; i++) res_free(&r[i]);
        return cli_fail("compare", rc);
    }
    if (!comparable && !force) {
        printf("(only the model may differ, over the same samples; pass --force to print the "
               "table anyway)\n");
        for (int i = 0; i < n; i++) res_free(&r[i]);
        return EXIT_ERROR;
    }
    // Header: the run ids, then their models (a longer name is cut with "~").
    printf("%-18s", "metric");
    for (int i = 0; i < n; i++) {
        char h[32];
        snprintf(h, sizeof h, "run %lld", (long long)r[i].id);
        printf(" %-26s", h);
        if (i) printf(" %-22s", (snprintf(h, sizeof h, "diff vs run %lld", (long long)r[0].id), h));
    }
    printf("\n%-18s", "model");
    for (int i = 0; i < n; i++) {
        char cell[32];
        if (strlen(r[i].model) > 26) snprintf(cell, sizeof cell, "%.25s~", r[i].model);
        else snprintf(cell, sizeof cell, "%s", r[i].model);
        printf(" %-26s", cell);
        if (i) printf(" %-22s", "");
    }
    printf("\n");
    // Metric names in the order of the first run, then any others.
    const char *names[RES_MAX_METRICS * 4];
    int nn = 0;
    for (int i = 0; i < n; i++)
        for (int k = 0; k < r[i].n_metrics; k++) {
            int seen = 0;
            for (int q = 0; q < nn; q++) seen |= !strcmp(names[q], r[i].m[k].name);
            if (!seen && nn < RES_MAX_METRICS * 4) names[nn++] = r[i].m[k].name;
        }
    for (int q = 0; q < nn; q++) {
        printf("%-18s", metric_label(names[q]));
        const ResMetric *m0 = res_metric(&r[0], names[q]);
        for (int i = 0; i < n; i++) {
            const ResMetric *m = res_metric(&r[i], names[q]);
            char v[64];
            fmt_pm(v, sizeof v, m);
            printf(" %-26s", v);
            if (i) {
                char dv[64] = "-";
                if (m && m0 && isfinite(m->value) && isfinite(m0->value)) {
                    const PairedDiff *pd = pr[i].refused ? NULL : paired_find(&pr[i], names[q]);
                    snprintf(dv, sizeof dv, "%+.4g%s", m->value - m0->value,
                             pd && pd->significant ? " *" : "");
                }
                printf(" %-22s", dv);
            }
        }
        printf("\n");
    }
    int timed = 0;
    for (int q = 0; q < nn; q++) timed |= !strncmp(names[q], "time.", 5);
    if (timed) fputs(time_total_note, stdout);
    printf("* = significant: the 95%% paired-bootstrap interval of the difference excludes zero\n"
           "  (IS, R-precision, FID; timings have no per-sample data)\n");
    for (int i = 1; i < n; i++)
        if (!pr[i].refused) print_paired(&r[0], &r[i], &pr[i], (uint64_t)seed);
    if (!comparable) printf("WARNING: runs are not comparable (printed because of --force)\n");
    for (int i = 0; i < n; i++) res_free(&r[i]);
    return comparable ? EXIT_OK : EXIT_ERROR;
}

// ---- check ---------------------------------------------------------------------------------

typedef struct {
    char   name[48];
    double limit;      // magnitude
    int    relative;   // limit in percent of the baseline
    int    sign;       // +1 / -1 as written, 0 when unsigned
} Rule;

static int parse_rules(const char *spec, Rule *rules, int max, int *n) {
    *n = 0;
    const char *p = spec;
    while (*p) {
        const char *e = strchr(p, ',');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        char item[96];
        if (l == 0 || l >= sizeof item || *n >= max)
            return t2i_error(T2I_EARG, "--fail-on: bad item near \"%s\"", p);
        memcpy(item, p, l);
        item[l] = 0;
        char *c = strrchr(item, ':');
        if (!c || c == item || !c[1])
            return t2i_error(T2I_EARG, "--fail-on: \"%s\" is not METRIC:[+-]LIMIT[%%]", item);
        *c = 0;
        static const char *const known[] = {"is", "rp", "fid", "kid", "images", "time.text",
                                            "time.generate", "time.is", "time.rp", "time.fid",
                                            "time.total", NULL};
        int k = 0;   // names as the tables print them, in any case ("IS:-0.1" = "is:-0.1")
        while (known[k] && strcasecmp(known[k], item)) k++;
        if (!known[k])
            return t2i_error(T2I_EARG,
                             "--fail-on: unknown metric \"%s\" (is, rp, fid, kid, images, "
                             "time.STAGE with STAGE text, generate, is, rp, fid or total)",
                             item);
        Rule *r = &rules[(*n)++];
        memset(r, 0, sizeof *r);
        snprintf(r->name, sizeof r->name, "%s", known[k]);
        char *v = c + 1;
        if (*v == '+' || *v == '-') {
            r->sign = *v == '+' ? 1 : -1;
            v++;
        }
        size_t vl = strlen(v);
        if (vl && v[vl - 1] == '%') {
            r->relative = 1;
            v[vl - 1] = 0;
        }
        char *end;
        r->limit = strtod(v, &end);
        // Plain decimal only: strtod would also take 0x10, inf and nan.
        if (!*v || *end || !(r->limit >= 0) || !isfinite(r->limit) ||
            v[strspn(v, "0123456789.eE+-")] != 0 || !strchr("0123456789.", v[0]))
            return t2i_error(T2I_EARG, "--fail-on: bad limit in \"%s:%s\"", item, c + 1);
        p = e ? e + 1 : p + l;
    }
    if (*n == 0) return t2i_error(T2I_EARG, "--fail-on: no rules");
    return T2I_OK;
}

// Timings of the repeated runs of the baseline's command (same fingerprints and sample count,
// complete): their mean and std (ddof 1) of `metric`.
typedef struct {
    int    n;
    double mean, sd;
} Spread;

static int baseline_spread(Db *d, const ResRun *base, const char *metric, Spread *out) {
    memset(out, 0, sizeof *out);
    sqlite3_stmt *st = NULL;
    if (strncmp(metric, "time.", 5) != 0) return T2I_OK;
    if (sqlite3_prepare_v2(db_handle(d),
                           "SELECT t.seconds / t.images FROM runs r JOIN timings t ON t.run = r.id"
                           " WHERE t.stage = ? AND t.images > 0 AND r.fingerprint = ? AND"
                           " r.model_fingerprint = ? AND r.n_samples = ? AND r.status = 'complete'",
                           -1, &st, NULL) != SQLITE_OK)
        return db_err(d, "read repeated runs");
    sqlite3_bind_text(st, 1, metric + 5, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, base->fingerprint, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 3, base->model_fingerprint, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 4, base->n_samples);
    double s = 0, s2 = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        double v = sqlite3_column_double(st, 0);
        s += v;
        s2 += v * v;
        out->n++;
    }
    sqlite3_finalize(st);
    if (out->n >= 2) {
        out->mean = s / out->n;
        double var = (s2 - s * s / out->n) / (out->n - 1);
        out->sd = var > 0 ? sqrt(var) : 0;
    }
    return T2I_OK;
}

// 1 when --baseline names a run of the database ("latest" or an id), not an exported file.
static int base_is_run(const char *arg) {
    char *end;
    long long v = strtoll(arg, &end, 10);
    return (*arg && !*end && v > 0) || !strcmp(arg, "latest");
}

void xml_escape(FILE *f, const char *s) {
    for (; *s; s++) {
        switch (*s) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&apos;", f); break;
        default:
            if ((unsigned char)*s >= 0x20 || *s == '\n' || *s == '\t') fputc(*s, f);
        }
    }
}

typedef struct {
    char   name[48];
    int    outcome;   // 0 pass, 1 regression, 2 error
    double base, cur, delta, allowed;
    char   msg[256];
} CheckResult;

// 1 when `path` exists (before an output is written to it).
static int path_exists(const char *path) {
    struct stat sb;
    return lstat(path, &sb) == 0;
}

// After a failed write: removes `path` only when this command created it as a regular file (a
// device such as /dev/full, or a file that was already there, stays). Says which.
static const char *discard_output(const char *path, int existed) {
    struct stat sb;
    if (!existed && lstat(path, &sb) == 0 && S_ISREG(sb.st_mode) && remove(path) == 0)
        return "file removed";
    return "nothing removed";
}

// One test case per rule; a global error is one errored case "run". Rows without a checksum
// (check's WARNING) are a skipped case per run, "stored rows of run N", whose message is the
// warning, so that CI shows them without failing; their counts are also properties
// unverified_rows.run / .baseline (0 when every row was verified), as in --json.
static int write_junit(const char *path, const CheckResult *res, int n, const char *global_err,
                       int64_t run, int64_t base, const int64_t unverified[2],
                       const char notes[2][256]) {
    int existed = path_exists(path);
    FILE *f = fopen(path, "w");
    if (!f) return t2i_error(T2I_EIO, "--junit %s: cannot create", path);
    int fails = 0, errs = global_err ? 1 : 0, skips = 0;
    for (int i = 0; i < n; i++) {
        fails += res[i].outcome == 1;
        errs += res[i].outcome == 2;
    }
    for (int k = 0; k < 2; k++) skips += notes[k][0] != 0;
    int tests = n + (global_err ? 1 : 0) + skips;
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    fprintf(f, "<testsuites name=\"t2ibench check\" tests=\"%d\" failures=\"%d\" errors=\"%d\" "
               "skipped=\"%d\">\n",
            tests, fails, errs, skips);
    fprintf(f, "  <testsuite name=\"t2ibench.check.run%lld_vs_%lld\" tests=\"%d\" failures=\"%d\" "
               "errors=\"%d\" skipped=\"%d\">\n",
            (long long)run, (long long)base, tests, fails, errs, skips);
    fprintf(f, "    <properties>\n"
               "      <property name=\"unverified_rows.run\" value=\"%lld\"/>\n"
               "      <property name=\"unverified_rows.baseline\" value=\"%lld\"/>\n"
               "    </properties>\n",
            (long long)unverified[0], (long long)unverified[1]);
    for (int k = 0; k < 2; k++) {
        if (!notes[k][0]) continue;
        fprintf(f, "    <testcase classname=\"t2ibench.check\" "
                   "name=\"stored rows of %srun %lld\">\n      <skipped message=\"",
                k ? "baseline " : "", (long long)(k ? base : run));
        xml_escape(f, notes[k]);
        fprintf(f, "\"/>\n    </testcase>\n");
    }
    if (global_err) {
        fprintf(f, "    <testcase classname=\"t2ibench.check\" name=\"run\">\n      <error message=\"");
        xml_escape(f, global_err);
        fprintf(f, "\"/>\n    </testcase>\n");
    }
    for (int i = 0; i < n; i++) {
        fprintf(f, "    <testcase classname=\"t2ibench.check\" name=\"");
        xml_escape(f, res[i].name);
        fprintf(f, "\"");
        if (res[i].outcome == 0) {
            fprintf(f, "/>\n");
            continue;
        }
        fprintf(f, ">\n      <%s message=\"", res[i].outcome == 1 ? "failure" : "error");
        xml_escape(f, res[i].msg);
        fprintf(f, "\"/>\n    </testcase>\n");
    }
    fprintf(f, "  </testsuite>\n</testsuites>\n");
    // After a failed write glibc drops the buffer, so fclose alone may report success.
    int werr = ferror(f);
    if (fclose(f) != 0 || werr)
        return t2i_error(T2I_EIO, "--junit %s: write failed (%s)", path,
                         discard_output(path, existed));
    return T2I_OK;
}

// Recomputes the stored checksum of every sample row of `run` (flipped bytes in a BLOB). Rows
// without a checksum cannot be verified: their count goes to *unverified and, when there are
// any, a sentence saying so to `note` (the check goes on: they are legitimate in a database
// written before schema 2).
static int verify_rows(Db *d, const char *what, int64_t run, int64_t *unverified, char *note,
                       size_t note_size) {
    int64_t checked = 0, bad = -1;
    int rc = db_samples_verify(d, run, &checked, unverified, &bad);
    if (rc) return rc;
    if (bad >= 0)
        return t2i_error(T2I_EDB, "database %s: run %lld: the stored outputs of sample %lld do not "
                                  "match their checksum (the file was modified or damaged)",
                         d->path, (long long)run, (long long)bad);
    if (*unverified)
        snprintf(note, note_size,
                 "%s %lld: %lld of its %lld sample rows have no checksum (written before schema "
                 "2, or the checksum was cleared since), so their stored outputs were not verified",
                 what, (long long)run, (long long)*unverified, (long long)(*unverified + checked));
    return T2I_OK;
}

static int timed_rules(const Rule *rules, int n) {
    for (int i = 0; i < n; i++)
        if (!strncmp(rules[i].name, "time.", 5)) return 1;
    return 0;
}

// The noise policy of time.* rules, printed under a check that has any.
static const char *const timing_policy =
    "timing rules: each run is timed once, and on a shared or loaded machine identical runs "
    "differ by up to 2x; so a time rule applies only to runs on the same CPU with the same "
    "workers (else ERROR), and when the database holds two or more runs of the baseline's "
    "command a slowdown beyond the limit counts only outside 3 std of them (run the baseline "
    "several times; with one run the limit alone decides). time.total is wall-clock per image of "
    "whole blocks, all workers in parallel";

// Outcome 2 with a message when two runs were not timed alike (another CPU or worker count).
static const char *timing_mismatch(const char *name, const ResRun *a, const ResRun *b) {
    if (strncmp(name, "time.", 5) != 0) return NULL;
    cJSON *x = cJSON_Parse(a->provenance ? a->provenance : "{}");
    cJSON *y = cJSON_Parse(b->provenance ? b->provenance : "{}");
    const char *why = NULL;
    const char *keys[] = {"cpu", "run"};
    for (int k = 0; k < 2 && !why; k++) {
        const cJSON *u = cJSON_GetObjectItemCaseSensitive(x, keys[k]);
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(y, keys[k]);
        if (k == 1) {
            u = cJSON_GetObjectItemCaseSensitive(u, "workers_at_start");
            v = cJSON_GetObjectItemCaseSensitive(v, "workers_at_start");
        }
        char *su = cJSON_PrintUnformatted(u), *sv = cJSON_PrintUnformatted(v);
        if (su && sv && strcmp(su, sv) != 0)
            why = k == 0 ? "the runs were timed on different CPUs" : "the runs used different "
                                                                     "worker counts";
        cJSON_free(su);
        cJSON_free(sv);
    }
    cJSON_Delete(x);
    cJSON_Delete(y);
    return why;
}

int cmd_check(int argc, char **argv) {
    static const char *usage =
        "t2ibench check --baseline RUN|FILE --fail-on METRIC:[+-]LIMIT[%],... [--run RUN]\n"
        "               [--db FILE] [--junit FILE] [--json] [--significant [--resamples N]\n"
        "               [--seed S]] [--force]\n"
        "  A CI gate: compares run --run (default: the latest run of --db, default\n"
        "  results/t2ibench.db) with the baseline, a run id of the same database or a file\n"
        "  written by `t2ibench export RUN --format json`.\n"
        "  --fail-on: METRIC is, rp, fid, kid, images or time.STAGE (text, generate, is, rp,\n"
        "  fid, total; seconds per image); LIMIT is the move allowed in the bad direction,\n"
        "  absolute or in % of the baseline, e.g. --fail-on is:-0.05,rp:-1%,fid:+2%,time.total:+10%\n"
        "  --junit FILE: also a JUnit XML report (one test case per rule); --json: the result\n"
        "  as JSON on stdout.\n"
        "  --significant: an IS / R-precision / FID regression counts only when it is beyond the\n"
        "  limit AND its 95% paired-bootstrap interval lies wholly on the bad side of zero (the\n"
        "  baseline must then be a run in the database). The run and the baseline must cover the\n"
        "  same samples (count and ids) unless --force. Every stored sample row is checked against\n"
        "  its checksum; rows without one (older databases) are counted in a WARNING line\n"
        "  (in --junit: a skipped test case per run; in --json: unverified_rows).\n"
        "  exit 0 pass, 1 regression, 2 error or incomplete run, 4 usage error";
    Args a;
    char *pos[4];
    if (args_init(&a, argc, argv)) return cli_usage("check", usage);
    if (args_flag(&a, "--help")) return printf("usage: %s\n", usage), EXIT_OK;
    const char *base_arg = args_str(&a, "--baseline", NULL);
    const char *spec = args_str(&a, "--fail-on", NULL);
    const char *run_arg = args_str(&a, "--run", "latest");
    const char *dbp = args_str(&a, "--db", DEFAULT_DB);
    const char *junit = args_str(&a, "--junit", NULL);
    int json = args_flag(&a, "--json");
    int significant = args_flag(&a, "--significant");
    int force = args_flag(&a, "--force");
    long resamples = args_long(&a, "--resamples", PAIRED_DEFAULT_RESAMPLES);
    long seed = args_long(&a, "--seed", PAIRED_DEFAULT_SEED);
    int64_t run_id;
    int npos = args_rest(&a, pos, 4);
    if (npos == 0 && (!base_arg || !spec))
        t2i_error(T2I_EARG, "--baseline and --fail-on are required");
    else if (npos > 0)
        t2i_error(T2I_EARG, "unexpected argument '%s' (the run to check is --run RUN)", pos[0]);
    if (npos != 0 || !base_arg || !spec || res_run_arg(run_arg, &run_id) || resamples < 1 ||
        resamples > 1000000 || seed < 0)
        return cli_usage("check", usage);
    static PairedRuns pr;
    memset(&pr, 0, sizeof pr);
    int have_pr = 0;
    Rule rules[32];
    int nr = 0;
    int rc = parse_rules(spec, rules, 32, &nr);
    if (rc) return cli_fail("check", rc), EXIT_USAGE;
    // A number is a run id (>= 1); anything else an exported JSON file.
    // A number is a run id (>= 1, so "--baseline 0" is a usage error, not a file name).
    int64_t base_id = 0;
    if (base_arg[strspn(base_arg, "0123456789")] == 0 && res_run_arg(base_arg, &base_id))
        return cli_usage("check", usage);

    CheckResult res[32];
    Spread spread[32];
    memset(spread, 0, sizeof spread);
    memset(res, 0, sizeof res);
    char global_err[512] = "";
    char unverified_note[2][256] = {"", ""};   // run, baseline: rows check could not verify
    int64_t unverified[2] = {0, 0};
    ResRun cur, base;
    memset(&cur, 0, sizeof cur);
    memset(&base, 0, sizeof base);
    int have_cur = 0, have_base = 0;
    Db d;
    memset(&d, 0, sizeof d);
    if ((rc = db_open(&d, dbp, 1)) == T2I_OK) {
        int64_t id;
        // A gate trusts what it reads: the file's structure, then each row's checksum.
        rc = db_quick_check(&d);
        if (!rc && !(rc = res_parse_run(&d, run_arg, &id)) && !(rc = res_load(&d, id, &cur)))
            have_cur = 1;
        if (!rc)
            rc = verify_rows(&d, "run", cur.id, &unverified[0], unverified_note[0],
                             sizeof unverified_note[0]);
        if (!rc) {
            if (base_is_run(base_arg)) {
                if (!(rc = res_parse_run(&d, base_arg, &id)) && !(rc = res_load(&d, id, &base)))
                    have_base = 1;
                if (!rc)
                    rc = verify_rows(&d, "baseline run", base.id, &unverified[1],
                                     unverified_note[1], sizeof unverified_note[1]);
            } else if (!(rc = res_load_json(base_arg, &base))) {
                have_base = 1;
            }
        }
        // The sample-set rule (and the paired statistics of --significant) need both runs' rows.
        if (!rc && have_cur && have_base && base_is_run(base_arg)) {
            if (!(rc = paired_runs(&d, &base, &cur, (uint64_t)seed,
                                   significant ? (int)resamples : 0, &pr)))
                have_pr = 1;
        }
        for (int i = 0; !rc && have_base && base_is_run(base_arg) && i < nr; i++)
            if (!strncmp(rules[i].name, "time.", 5))
                rc = baseline_spread(&d, &base, rules[i].name, &spread[i]);
        db_close(&d);
    }
    if (rc) snprintf(global_err, sizeof global_err, "%s", t2i_errmsg());
    else if (cur.shard_count > 1 || base.shard_count > 1)
        snprintf(global_err, sizeof global_err,
                 "%s %lld is shard %d/%d of a sharded run (partial metrics): merge the shard "
                 "databases with `t2ibench merge` and check the merged run",
                 cur.shard_count > 1 ? "run" : "baseline", (long long)(cur.shard_count > 1 ? cur.id : base.id),
                 cur.shard_count > 1 ? cur.shard_index : base.shard_index,
                 cur.shard_count > 1 ? cur.shard_count : base.shard_count);
    else if (strcmp(cur.status, "complete") != 0)
        snprintf(global_err, sizeof global_err, "run %lld is %s (%lld of %lld samples): incomplete",
                 (long long)cur.id, cur.status, (long long)cur.samples_done,
                 (long long)cur.n_samples);
    else if (strcmp(base.status, "complete") != 0)
        snprintf(global_err, sizeof global_err, "baseline run %lld is %s: incomplete",
                 (long long)base.id, base.status);
    else if (!force && have_pr && pr.refused)
        snprintf(global_err, sizeof global_err,
                 "run %lld and baseline %lld cover different sample sets (%s): not comparable "
                 "(--force to check anyway)",
                 (long long)cur.id, (long long)base.id, pr.why);
    else if (!force && !have_pr && cur.n_samples != base.n_samples)
        snprintf(global_err, sizeof global_err,
                 "run %lld has %lld samples, baseline %s has %lld: not comparable (--force to "
                 "check anyway)",
                 (long long)cur.id, (long long)cur.n_samples, base_arg, (long long)base.n_samples);
    else if (significant && !have_pr)
        snprintf(global_err, sizeof global_err,
                 "--significant needs the baseline's per-sample rows: give a run of the database, "
                 "not an exported file");
    else if (strcmp(cur.inputs_fingerprint, base.inputs_fingerprint) != 0)
        snprintf(global_err, sizeof global_err,
                 "run %lld and baseline %lld were scored with different suites, protocols or "
                 "evaluators (inputs fingerprints %.12s vs %.12s): not comparable",
                 (long long)cur.id, (long long)base.id, cur.inputs_fingerprint,
                 base.inputs_fingerprint);
    else if (!force)   // the stored digests (also of an exported baseline) must agree
        res_same_samples(&cur, &base, global_err, sizeof global_err);

    int worst = global_err[0] ? 2 : 0;
    int usage_err = 0;
    for (int i = 0; i < nr && !global_err[0]; i++) {
        CheckResult *c = &res[i];
        snprintf(c->name, sizeof c->name, "%s", rules[i].name);
        const ResMetric *mc = res_metric(&cur, rules[i].name);
        const ResMetric *mb = res_metric(&base, rules[i].name);
        if (!mc || !mb || !isfinite(mc->value) || !isfinite(mb->value)) {
            c->outcome = 2;
            snprintf(c->msg, sizeof c->msg, "metric %s missing in the %s", rules[i].name,
                     !mc || !isfinite(mc->value) ? "run" : "baseline");
            continue;
        }
        const char *untimed = timing_mismatch(rules[i].name, &cur, &base);
        if (untimed) {
            c->outcome = 2;
            snprintf(c->msg, sizeof c->msg, "%s: %s: not compared", rules[i].name, untimed);
            continue;
        }
        int bad_dir = -mc->direction;   // the direction of a regression
        if (rules[i].sign != 0 && rules[i].sign != bad_dir) {
            fprintf(stderr,
                    "t2ibench check: --fail-on %s: %s is %s-is-better, so its limit must be "
                    "written %c\n",
                    rules[i].name, rules[i].name, mc->direction > 0 ? "higher" : "lower",
                    bad_dir > 0 ? '+' : '-');
            usage_err = 1;
            break;
        }
        c->base = mb->value;
        c->cur = mc->value;
        c->delta = mc->value - mb->value;
        c->allowed = rules[i].relative ? fabs(mb->value) * rules[i].limit / 100.0 : rules[i].limit;
        double worse = c->delta * bad_dir;   // > 0 means it moved the bad way
        c->outcome = worse > c->allowed ? 1 : 0;
        char sig[160] = "";
        const Spread *sd = &spread[i];
        if (sd->n >= 2) {
            // Repeated baseline runs: a timing regression must also leave their spread.
            int outside = (c->cur - sd->mean) * bad_dir > 3 * sd->sd;
            snprintf(sig, sizeof sig, "; %d repeated baseline runs: %.4g +- %.2g%s", sd->n,
                     sd->mean, sd->sd,
                     c->outcome && !outside ? ": beyond the limit but within 3 std of them" : "");
            if (!outside) c->outcome = 0;
        }
        const PairedDiff *pd = significant && have_pr && !pr.refused
                                   ? paired_find(&pr, rules[i].name) : NULL;
        if (pd) {
            // Regression only when the whole interval lies on the bad side of zero.
            int bad_side = bad_dir > 0 ? pd->lo > 0 : pd->hi < 0;
            snprintf(sig, sizeof sig, "; 95%% interval [%+.4g, %+.4g] (%d resamples)%s", pd->lo,
                     pd->hi, pd->resamples,
                     c->outcome && !bad_side ? ": beyond the limit but not significant" : "");
            if (!bad_side) c->outcome = 0;
        } else if (significant) {
            snprintf(sig, sizeof sig, "; no per-sample data for a significance test");
        }
        snprintf(c->msg, sizeof c->msg, "%s: %.6g -> %.6g (%+.6g, %+.3g%%), allowed %c%.6g%s",
                 rules[i].name, c->base, c->cur, c->delta,
                 c->base != 0 ? 100.0 * c->delta / fabs(c->base) : 0.0, bad_dir > 0 ? '+' : '-',
                 c->allowed, sig);
        if (c->outcome > worst) worst = c->outcome;
    }
    for (int i = 0; i < nr && !global_err[0]; i++)
        if (res[i].outcome == 2) worst = 2;
    if (usage_err) {
        res_free(&cur);
        res_free(&base);
        return EXIT_USAGE;
    }
    if (junit) {
        int wr = write_junit(junit, res, global_err[0] ? 0 : nr, global_err[0] ? global_err : NULL,
                             cur.id, base.id, unverified, (const char(*)[256])unverified_note);
        if (wr) {
            fprintf(stderr, "t2ibench check: %s\n", t2i_errmsg());
            worst = 2;
        }
    }
    // Errors and warnings also go to stderr (the report itself stays on stdout).
    for (int k = 0; k < 2; k++)
        if (unverified_note[k][0]) fprintf(stderr, "t2ibench check: WARNING %s\n", unverified_note[k]);
    if (global_err[0]) fprintf(stderr, "t2ibench check: ERROR %s\n", global_err);
    for (int i = 0; i < nr && !global_err[0]; i++)
        if (res[i].outcome == 2) fprintf(stderr, "t2ibench check: ERROR %s\n", res[i].msg);
    if (json) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "result", worst == 0 ? "pass" : worst == 1 ? "regression" : "error");
        cJSON_AddNumberToObject(j, "exit", worst);
        cJSON_AddNumberToObject(j, "run", (double)cur.id);
        cJSON_AddNumberToObject(j, "baseline", (double)base.id);
        if (global_err[0]) cJSON_AddStringToObject(j, "error", global_err);
        cJSON *uv = cJSON_AddObjectToObject(j, "unverified_rows");   // rows without a checksum
        cJSON_AddNumberToObject(uv, "run", (double)unverified[0]);
        cJSON_AddNumberToObject(uv, "baseline", (double)unverified[1]);
        cJSON *arr = cJSON_AddArrayToObject(j, "checks");
        for (int i = 0; i < nr && !global_err[0]; i++) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "metric", res[i].name);
            cJSON_AddStringToObject(o, "outcome", res[i].outcome == 0 ? "pass" : res[i].outcome == 1 ? "regression" : "error");
            if (res[i].outcome != 2) {
                cJSON_AddNumberToObject(o, "baseline", res[i].base);
                cJSON_AddNumberToObject(o, "value", res[i].cur);
                cJSON_AddNumberToObject(o, "delta", res[i].delta);
                cJSON_AddNumberToObject(o, "allowed", res[i].allowed);
            }
            cJSON_AddStringToObject(o, "message", res[i].msg);
            cJSON_AddItemToArray(arr, o);
        }
        char *s = cJSON_Print(j);
        printf("%s\n", s ? s : "{}");
        cJSON_free(s);
        cJSON_Delete(j);
    } else {
        for (int k = 0; k < 2; k++)
            if (unverified_note[k][0]) printf("WARNING %s\n", unverified_note[k]);
        if (global_err[0]) printf("ERROR %s\n", global_err);
        for (int i = 0; i < nr && !global_err[0]; i++)
            printf("%-10s %s\n", res[i].outcome == 0 ? "ok" : res[i].outcome == 1 ? "REGRESSION" : "ERROR",
                   res[i].msg);
        char rn[64], bn[300];
        if (have_cur) snprintf(rn, sizeof rn, "%lld", (long long)cur.id);
        else snprintf(rn, sizeof rn, "%s", run_arg);
        if (have_base) snprintf(bn, sizeof bn, "%lld", (long long)base.id);
        else snprintf(bn, sizeof bn, "%s", base_arg);
        if (timed_rules(rules, nr) && !global_err[0]) puts(timing_policy);
        printf("check: %s (run %s vs baseline %s)\n",
               worst == 0 ? "pass" : worst == 1 ? "regression" : "error", rn, bn);
    }
    res_free(&cur);
    res_free(&base);
    return worst == 0 ? EXIT_OK : worst == 1 ? EXIT_REGRESSION : EXIT_ERROR;
}

// ---- export --------------------------------------------------------------------------------

static void csv_field(FILE *f, const char *s) {
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"') fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

int cmd_export(int argc, char **argv) {
    static const char *usage = "t2ibench export RUN|latest [--format json|csv|md] [--db FILE] [--out FILE]\n"
        "       t2ibench export RUN|latest --samples --format csv|jsonl|npz [--db FILE] [--out FILE]\n"
        "  --format defaults to json. --samples writes one row per sample (sample id, caption id,\n"
        "  class id, caption, R-precision rank and hit, IS terms, image SHA-256); npz (needs --out)\n"
        "  holds the stored arrays (IS logits, R-precision scores, FID features) by sample id.";
    Args a;
    Db d;
    char *pos[4];
    int64_t id;
    ResRun r;
    if (args_init(&a, argc, argv)) return cli_usage("export", usage);
    if (args_flag(&a, "--help")) return printf("usage: %s\n", usage), EXIT_OK;
    const char *fmt = args_str(&a, "--format", "json");
    const char *out = args_str(&a, "--out", NULL);
    const char *dbp = args_str(&a, "--db", DEFAULT_DB);
    int samples = args_flag(&a, "--samples");
    if (args_rest(&a, pos, 4) != 1 || res_run_arg(pos[0], &id)) return cli_usage("export", usage);
    if (samples) {
        if (strcmp(fmt, "csv") && strcmp(fmt, "jsonl") && strcmp(fmt, "npz")) {
            t2i_error(T2I_EARG, "--samples --format %s: expected csv, jsonl or npz", fmt);
            return cli_usage("export", usage);
        }
        if (!strcmp(fmt, "npz") && !out) {
            t2i_error(T2I_EARG, "--format npz needs --out FILE.npz");
            return cli_usage("export", usage);
        }
        int rc = export_samples(dbp, pos[0], fmt, out);
        return rc ? cli_fail("export", rc) : EXIT_OK;
    }
    if (strcmp(fmt, "json") && strcmp(fmt, "csv") && strcmp(fmt, "md")) {
        t2i_error(T2I_EARG, "--format %s: expected json, csv or md", fmt);
        return cli_usage("export", usage);
    }
    int rc = db_open(&d, dbp, 1);
    if (rc) return cli_fail("export", rc);
    if ((rc = res_parse_run(&d, pos[0], &id)) || (rc = res_load(&d, id, &r))) {
        db_close(&d);
        return cli_fail("export", rc);
    }
    db_close(&d);
    int existed = out && path_exists(out);
    FILE *f = out ? fopen(out, "w") : stdout;
    if (!f) {
        res_free(&r);
        return cli_fail("export", t2i_error(T2I_EIO, "%s: cannot create", out));
    }
    if (!strcmp(fmt, "json")) {
        char *s = res_to_json(&r);
        fprintf(f, "%s\n", s ? s : "{}");
        t2i_free(s);
    } else if (!strcmp(fmt, "csv")) {
        fprintf(f, "run,suite,protocol,model,evaluators,status,fingerprint,metric,value,std,n,direction\n");
        for (int i = 0; i < r.n_metrics; i++) {
            fprintf(f, "%lld,", (long long)r.id);
            csv_field(f, r.suite);
            fputc(',', f);
            csv_field(f, r.protocol);
            fputc(',', f);
            csv_field(f, r.model);
            fputc(',', f);
            csv_field(f, r.evaluators);
            fprintf(f, ",%s,%s,%s,", r.status, r.fingerprint, r.m[i].name);
            if (isfinite(r.m[i].value)) fprintf(f, "%.17g", r.m[i].value);
            fputc(',', f);
            if (isfinite(r.m[i].std)) fprintf(f, "%.17g", r.m[i].std);
            fprintf(f, ",%lld,%d\n", (long long)r.m[i].n, r.m[i].direction);
        }
    } else {
        fprintf(f, "### t2ibench run %lld (%s)\n\n", (long long)r.id, r.status);
        fprintf(f, "suite `%s`, protocol `%s`, model `%s`, evaluators `%s`, %lld/%lld samples, "
                   "fingerprint `%.16s`\n\n",
                r.suite, r.protocol, r.model, r.evaluators, (long long)r.samples_done,
                (long long)r.n_samples, r.fingerprint);
        fprintf(f, "| metric | value | std | n |\n|---|---:|---:|---:|\n");
        for (int i = 0; i < r.n_metrics; i++) {
            char v[32], s[32];
            fmt_metric(v, sizeof v, &r.m[i]);
            fmt_val(s, sizeof s, r.m[i].std);
            fprintf(f, "| %s | %s | %s | %lld |\n", metric_label(r.m[i].name), v, s,
                    (long long)r.m[i].n);
        }
    }
    if (out) {
        // After a failed write glibc drops the buffer, so fclose alone may report success.
        int werr = ferror(f);
        if (fclose(f) != 0 || werr) {
            res_free(&r);
            return cli_fail("export", t2i_error(T2I_EIO, "%s: write failed (%s)", out,
                                                discard_output(out, existed)));
        }
    }
    res_free(&r);
    return EXIT_OK;
}

// ---- fid-stats -----------------------------------------------------------------------------

#include "fid.h"

#include <sys/stat.h>

// harness/cmd_fid_dir.c: the folder form.
extern const char fid_dir_usage[];
int cmd_fid_stats_dir(const char *dir, Args *a);

int cmd_fid_stats(int argc, char **argv) {
    static const char *usage =
        "t2ibench fid-stats RUN|latest --out FILE.npz [--db FILE]\n"
        "       t2ibench fid-stats DIR --protocol P --evaluators CARD --out FILE.npz [options]\n"
        "  RUN: writes pytorch-fid statistics (mu, sigma of the stored pool3 features) of a run,\n"
        "  e.g. of `t2ibench eval-images` over real test images, for an evaluator card's\n"
        "  fid.statistics. The run's evaluator card must have an fid section.";
    Args a;
    Db d;
    char *pos[4];
    int64_t id;
    if (args_init(&a, argc, argv)) return cli_usage("fid-stats", usage);
    if (args_flag(&a, "--help")) return printf("usage: %s\n\nusage: %s\n", usage, fid_dir_usage), EXIT_OK;
    // The positional argument, wherever it stands among the options.
    static const char *const valued[] = {"--out", "--db", "--protocol", "--evaluators",
                                         "--features", "--threads", "--max-pixels", NULL};
    const char *what = NULL;
    for (int i = 1; i < argc && !what; i++) {
        int k = 0;
        while (valued[k] && strcmp(argv[i], valued[k])) k++;
        if (argv[i][0] != '-') what = argv[i];
        else if (valued[k]) i++;   // skip its value
    }
    struct stat dsb;   // a folder of images: statistics straight from the files
    int st_err = what && stat(what, &dsb) != 0 ? errno : 0;
    if (what && !st_err && S_ISDIR(dsb.st_mode)) return cmd_fid_stats_dir(what, &a);
    if (what && res_run_arg(what, &id)) {
        t2i_error(T2I_EARG, "'%s' is not a run id (a number, or 'latest') and not a folder of "
                            "images (%s)",
                  what, st_err ? strerror(st_err) : "not a folder");
        return cli_usage("fid-stats", usage);
    }
    const char *out = args_str(&a, "--out", NULL);
    const char *dbp = args_str(&a, "--db", DEFAULT_DB);
    if (args_rest(&a, pos, 4) != 1 || !out || res_run_arg(pos[0], &id))
        return cli_usage("fid-stats", usage);
    int rc = db_open(&d, dbp, 1);
    if (rc) return cli_fail("fid-stats", rc);
    if ((rc = res_parse_run(&d, pos[0], &id))) {
        db_close(&d);
        return cli_fail("fid-stats", rc);
    }
    MeanCov mc;
    memset(&mc, 0, sizeof mc);
    sqlite3_stmt *st = NULL;
    if ((rc = meancov_init(&mc, 2048, 0))) goto done;
    if (sqlite3_prepare_v2(db_handle(&d), "SELECT fid_feat FROM samples WHERE run = ? ORDER BY sample",
                           -1, &st, NULL) != SQLITE_OK) {
        rc = db_err(&d, "read samples");
        goto done;
    }
    sqlite3_bind_int64(st, 1, id);
    int64_t n = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (sqlite3_column_bytes(st, 0) != (int)(2048 * sizeof(float))) {
            rc = t2i_error(T2I_EARG, "run %lld has no FID features (its evaluator card has no fid "
                                     "section, or the protocol disables FID)",
                           (long long)id);
            goto done;
        }
        if ((rc = meancov_add(&mc, sqlite3_column_blob(st, 0), DT_F32, 1))) goto done;
        n++;
    }
    if (n < 2) {
        rc = t2i_error(T2I_EARG, "run %lld has %lld samples; statistics need at least 2",
                       (long long)id, (long long)n);
        goto done;
    }
    FidStats fs;
    memset(&fs, 0, sizeof fs);
    if (!(rc = fid_stats_from_meancov(&mc, &fs))) rc = fid_stats_save(out, &fs);
    fid_stats_free(&fs);
    if (!rc)
        printf("wrote %s: mu (2048), sigma (2048, 2048) from %lld samples of run %lld%s\n", out,
               (long long)n, (long long)id, n < 2048 ? " (fewer than 2048: sigma is singular)" : "");
done:
    if (st) sqlite3_finalize(st);
    meancov_free(&mc);
    db_close(&d);
    return rc ? cli_fail("fid-stats", rc) : EXIT_OK;
}
