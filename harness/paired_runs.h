// paired_runs.h -- paired statistics (metrics/paired.h) of two stored runs, and the sample-set
// rule of compare / check: runs are compared only over the same samples (count and ids).
#ifndef T2I_PAIRED_RUNS_H
#define T2I_PAIRED_RUNS_H

#include "db.h"
#include "paired.h"
#include "results.h"

#include <stddef.h>
#include <stdint.h>

#define PAIRED_DEFAULT_RESAMPLES 1000
#define PAIRED_DEFAULT_SEED 1

typedef struct {
    int        refused;        // 1: different sample sets (why says how); nothing else is set
    char       why[256];
    int64_t    n;              // samples
    PairedDiff d[3];
    int        nd;
    int        have_mcnemar;
    McNemar    mc;
    int        rp_k;
} PairedRuns;

// Loads the rows of runs a and b (same database), applies the sample-set rule, then (when the
// sets agree) the paired bootstrap with the scoring rules of run a (IS splits/class range/T,
// R-precision k, FID statistics) and McNemar's test on the R-precision hits. resamples 0 applies
// the sample-set rule only.
int paired_runs(Db *d, const ResRun *a, const ResRun *b, uint64_t seed, int resamples,
                PairedRuns *out /* OUT */);

// The PairedDiff of `metric` in p, or NULL.
const PairedDiff *paired_find(const PairedRuns *p, const char *metric);

#endif
