// samples.h -- the per-sample rows of a stored run, read back for export, rescore, paired
// statistics, breakdowns and reports (DESIGN.md §1: metrics are pure functions of these rows).
//
// A run's rows are read in sample-id order. Suite information (class id, caption id, caption
// text, word count) comes from the suite file recorded in the run's provenance, which must still
// hash to the recorded SHA-256 (a changed or missing file is an error naming it). Nothing here
// writes to the database.
#ifndef T2I_SAMPLES_H
#define T2I_SAMPLES_H

#include "db.h"
#include "results.h"
#include "suite.h"

#include <stddef.h>
#include <stdint.h>

typedef struct {
    int64_t n;              // rows
    int64_t *id;            // (n) sample ids, ascending
    int      n_is;          // IS logits per row (0 = none stored)
    float   *is;            // (n, n_is)
    int      n_rp;          // 1 + M cosine scores per row (0 = none stored)
    float   *rp_scores;     // (n, n_rp); column 0 is the true caption
    int     *rp_rank;       // (n) rank of the true caption (0 = best), -1 when absent
    int      n_fid;         // 2048 or 0
    float   *fid;           // (n, n_fid)
    char   (*sha)[65];      // (n) image SHA-256 ("" when none)
} RunSamples;

// Opens the database at `db_path` (read-only unless readonly is 0), resolves RUN ("latest" or
// an id) and loads its row; on failure nothing stays open.
int  run_open(const char *db_path, int readonly, const char *arg, Db *d /* OUT */,
              ResRun *r /* OUT */);

// Only the sample ids (id and n; enough for the sample-set rule).
int  run_samples_load_ids(Db *d, int64_t run, RunSamples *out /* OUT */);

// Reads every stored row of `run` (rows with a different column width than the first row are
// an error naming the sample).
int  run_samples_load(Db *d, int64_t run, RunSamples *out /* OUT */);
void run_samples_free(RunSamples *s);   // accepts a zeroed RunSamples

// The stored image SHA-256 of one sample ("" when the row has none); T2I_EARG when the run has
// no row for the sample.
int  run_sample_sha(Db *d, int64_t run, int64_t sample, char hex[65] /* OUT */);

// The sample-set rule of compare/check: two runs are compared sample by sample only when they
// hold the same number of rows with the same sample ids. Returns 1 when they do; otherwise 0
// with a sentence in `why` ("run 3 has 16 samples, run 5 has 32" / "... differ at sample 7").
int  samples_same_set(const RunSamples *a, int64_t run_a, const RunSamples *b, int64_t run_b,
                      char *why, size_t n);

// Path and SHA-256 of a file role ("suite", "protocol", "model.card", ...) in a run's provenance
// JSON; T2I_EARG when the role is not recorded. sha may be NULL.
int  prov_role_path(const char *provenance, const char *role, char *path, size_t n,
                    char sha[65] /* OUT, may be NULL */);
// Opens a recorded input again: *path gets the recorded path, and the file must hash to the
// recorded SHA-256 (hash specs such as "hash:..." are accepted as they are).
int  prov_role_check(const char *provenance, const char *role, char *path, size_t n);
// Loads the run's suite (checked against its recorded hash).
int  run_suite_load(const char *provenance, Suite *S /* OUT */);

// The scoring rules a run was scored with (provenance "run"."scoring", scoring.h).
#include "scoring.h"
int  run_score_spec(const char *provenance, ScoreSpec *sp /* OUT */);

// Loads the FID statistics a run was scored with (sp->fid_stats), after checking the file still
// hashes to the recorded SHA-256.
#include "fid.h"
int  spec_fid_stats_load(const ScoreSpec *sp, FidStats *out /* OUT */);

// mkdir -p: creates `path` and its missing parents (T2I_EIO naming the directory on failure).
int  dir_make(const char *path);

// Per-sample Inception Score terms of one row of logits: softmax(l[b:e] / T) in double,
// neg_entropy = sum p log p, top = argmax class (absolute column), p_top its probability.
void is_row_terms(const float *logits, int begin, int end, double temperature,
                  double *neg_entropy, int *top, double *p_top);

#endif
