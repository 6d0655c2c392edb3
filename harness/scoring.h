// scoring.h -- metrics of a run from its stored per-sample rows (DESIGN.md §1, §11), shared by
// `t2ibench run` / `eval-images` (at the end of a run) and `t2ibench merge` (over the merged rows
// of shard runs), so that a merged run gets bit for bit the numbers of a single-process run.
//
// A ScoreSpec holds everything the metrics depend on besides the rows (from the protocol and the
// evaluator card). The runner stores it in the run's provenance JSON under "run"."scoring", so
// `merge` needs neither the protocol nor the evaluator card (only the FID statistics file, when
// there is one, at its recorded path and with its recorded SHA-256).
//
// Shards (DESIGN.md §11): block b of a run (samples [b*block_size, (b+1)*block_size)) belongs to
// shard i of n when b % n == i. Block boundaries never depend on the worker count.
#ifndef T2I_SCORING_H
#define T2I_SCORING_H

#include "db.h"

#include <cjson/cJSON.h>
#include <stdint.h>

#define RNG_STREAM_IS_SHUFFLE 100   // metric permutations (documented in suites/README.md)
#define RNG_STREAM_RP_SHUFFLE 101

typedef struct {
    int64_t  n;                 // samples of the whole run
    int      block_size;
    int      shard_index;       // the rows scored: blocks b % shard_count == shard_index;
    int      shard_count;       // 0 or 1 = every block
    int      use_is;
    int      is_cols;           // logits per stored row
    int      is_splits;
    double   is_temperature;
    int      is_class_begin, is_class_end;
    uint64_t is_shuffle_seed;   // 0 = sample order
    int      use_rp;
    int      rp_k, rp_folds;
    int      rp_fold_dmgan;     // 1 = "dmgan" folds, 0 = "contiguous"
    uint64_t rp_shuffle_seed;
    int      use_fid;           // FID features stored
    char     fid_stats[1024];   // statistics file ("" = features only, no FID)
    char     fid_stats_sha256[65];   // checked before use when not empty
    char     evaluators[512];   // evaluator card (for messages)
    char     kid_ref[1024];     // reference features .npy (N, 2048) for KID ("" = no KID)
    char     kid_ref_sha256[65];
} ScoreSpec;

// "i/n" -> index, count (0 <= i < n, 1 <= n <= 1000000). T2I_EARG with a message otherwise.
int scoring_parse_shard(const char *s, int *index, int *count);
// The Slurm array task of the environment (`run --shard slurm|auto`): index (ID - MIN) / STEP
// of COUNT tasks (MIN 0 and STEP 1 when unset), MAX = MIN + (COUNT-1) * STEP checked.
// *found = 0 when SLURM_ARRAY_TASK_ID is unset; T2I_EARG when the values are inconsistent.
int scoring_slurm_shard(int *index, int *count, int *found);
// 1 when block b belongs to the shard (every block when count <= 1).
static inline int scoring_block_in_shard(int64_t b, int index, int count) {
    return count <= 1 || b % count == index;
}

// The key that identifies "the same command" for resume: sha256 of kind, fingerprints, sample
// count and suite hash, plus "|shard i/n" for shard runs (so shards never resume each other).
void scoring_run_key(const char *kind, const char *fp, const char *model_fp, int64_t n,
                     const char *suite_sha256, int shard_index, int shard_count, char key[65]);

// JSON object of the spec (without the shard fields, which the provenance records as
// "run"."shard"); NULL when out of memory.
cJSON *scoring_spec_json(const ScoreSpec *sp);
// Reads a spec written by scoring_spec_json (shard fields set to 0). `what` names the source.
int scoring_spec_parse(const cJSON *j, const char *what, ScoreSpec *sp /* OUT */);

// One metric value computed from stored rows.
typedef struct {
    char    name[48];
    double  value, std;   // std NaN when none
    int64_t n;
    int     direction;    // +1 higher is better, -1 lower
} ScoreValue;
#define SCORE_MAX_VALUES 8

// KID of the run's FID features (n, 2048) against sp->kid_ref (harness/scoring_kid.c): the
// torch-fidelity estimator (metrics/kid.h), 100 subsets of min(1000, n, N_ref) rows drawn with
// the RNG_STREAM_KID stream of seed 0; returned as metric "kid" (mean, std over subsets).
int scoring_kid(const ScoreSpec *sp, const float *feat, int64_t n, ScoreValue *out /* OUT */,
                int *have /* OUT: 0 when too few rows for a subset */);

// Reads the run's rows of the spec's shard in sample-id order (every expected row must be
// there, no other) and computes "images", "is", "rp", "fid" as the spec asks into out
// (SCORE_MAX_VALUES entries); writes nothing. `t2ibench rescore` stores these as a metric set.
int scoring_compute(Db *d, int64_t run, const ScoreSpec *sp, ScoreValue *out /* OUT */,
                    int *n_out /* OUT */);

// Inside the caller's transaction: scoring_compute, then replaces the run's metrics with its
// values and sets the status ("complete", or "shard-complete" for a shard).
int scoring_write(Db *d, int64_t run, const ScoreSpec *sp);

// The sample set a run's metrics cover: "N:" + sha256 of the sample ids (decimal, one per
// line, ascending). Stored as runs.sample_set; compare/check require equal sets.
#define SCORING_SAMPLE_SET_LEN 88
void scoring_sample_set(const int64_t *ids, int64_t n, char out[SCORING_SAMPLE_SET_LEN]);

// Reads "run"."shard" of a provenance JSON text: *count 0 when the run is not a shard run.
void scoring_shard_of_provenance(const char *provenance, int *index, int *count);

#endif
