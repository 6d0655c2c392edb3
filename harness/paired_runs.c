// paired_runs.c -- paired statistics of two stored runs (see paired_runs.h).
#include "paired_runs.h"

#include "samples.h"
#include "scoring.h"
#include "t2i.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

const PairedDiff *paired_find(const PairedRuns *p, const char *metric) {
    for (int i = 0; p && i < p->nd; i++)
        if (!strcmp(p->d[i].metric, metric)) return &p->d[i];
    return NULL;
}

int paired_runs(Db *d, const ResRun *a, const ResRun *b, uint64_t seed, int R, PairedRuns *out) {
    memset(out, 0, sizeof *out);
    RunSamples sa, sb;
    FidStats ref;
    memset(&sa, 0, sizeof sa);
    memset(&sb, 0, sizeof sb);
    memset(&ref, 0, sizeof ref);
    // resamples 0: the sample-set rule needs the ids only (cheap on large runs).
    int (*load)(Db *, int64_t, RunSamples *) = R > 0 ? run_samples_load : run_samples_load_ids;
    int rc = load(d, a->id, &sa);
    if (!rc) rc = load(d, b->id, &sb);
    if (rc) goto done;
    if (!samples_same_set(&sa, a->id, &sb, b->id, out->why, sizeof out->why)) {
        out->refused = 1;
        goto done;
    }
    out->n = sa.n;
    // The sample-set rule only; or nothing to resample (no rows, or a run of an older build
    // without a scoring record: no paired statistics, not an error).
    ScoreSpec sp;
    if (R <= 0 || sa.n < 2 || run_score_spec(a->provenance, &sp) != T2I_OK) goto done;
    PairedData pd = {.n = sa.n, .D = sa.n_fid};
    if (sp.use_is && sa.n_is && sa.n_is == sb.n_is) {
        pd.is_a = sa.is;
        pd.is_b = sb.is;
        pd.is_cols = sa.n_is;
        pd.is_opt = is_options_default();
        pd.is_opt.splits = sp.is_splits;
        pd.is_opt.temperature = sp.is_temperature;
        pd.is_opt.class_begin = sp.is_class_begin;
        pd.is_opt.class_end = sp.is_class_end;
    }
    int ranks = 1;
    for (int64_t i = 0; i < sa.n; i++) ranks &= sa.rp_rank[i] >= 0 && sb.rp_rank[i] >= 0;
    if (sp.use_rp && ranks) {
        pd.rank_a = sa.rp_rank;
        pd.rank_b = sb.rp_rank;
        pd.rp_k = out->rp_k = sp.rp_k;
    }
    if (sp.use_fid && sp.fid_stats[0] && sa.n_fid && sa.n_fid == sb.n_fid) {
        if ((rc = spec_fid_stats_load(&sp, &ref))) goto done;
        pd.fid_a = sa.fid;
        pd.fid_b = sb.fid;
        pd.fid_ref = &ref;
    }
    if ((rc = paired_bootstrap(&pd, seed, R, out->d, &out->nd))) goto done;
    if (pd.rank_a) {
        mcnemar_exact(sa.rp_rank, sb.rp_rank, sa.n, sp.rp_k, &out->mc);
        out->have_mcnemar = 1;
    }
done:
    fid_stats_free(&ref);
    run_samples_free(&sa);
    run_samples_free(&sb);
    return rc;
}
