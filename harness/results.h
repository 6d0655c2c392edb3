// results.h -- reading stored runs back (list/show/compare/check/export share these).
#ifndef T2I_RESULTS_H
#define T2I_RESULTS_H

#include "db.h"

#include <stddef.h>
#include <stdint.h>

#define RES_MAX_METRICS 64

typedef struct {
    char    name[48];
    double  value, std;   // std NaN when none
    int64_t n;
    int     direction;    // +1 higher is better, -1 lower is better
} ResMetric;

typedef struct {
    int64_t   id;
    char      status[16], kind[16], suite[64], protocol[64], model[128], evaluators[64];
    char      fingerprint[65], inputs_fingerprint[65], model_fingerprint[65];
    char      started[32], finished[32];
    int64_t   n_samples, n_blocks, blocks_done, samples_done;
    int       block_size;
    char     *provenance;   // JSON text (t2i_malloc'd)
    int       shard_index, shard_count;   // shard run i/n (provenance run.shard); count 0 = not
                                          // a shard: its metrics cover every sample
    ResMetric m[RES_MAX_METRICS];
    int       n_metrics;
    // Schema 2 (empty / 0 for older files and exported JSON without them):
    char      sample_set[88];   // "N:sha256" of the sample ids the metrics cover (scoring.h)
    int       owner_known;      // 1 when the owner columns were read
    int64_t   owner_pid;        // process computing a "running" run (0 = none)
    char      owner_host[128], heartbeat[32];
    int       owner_liveness;   // DbLiveness of that process
} ResRun;

// Syntax only: "latest"/"last" (*id = 0) or a positive run id; T2I_EARG with a message naming
// the argument otherwise (callers treat it as a usage error).
int  res_run_arg(const char *arg, int64_t *id /* OUT */);
// "latest", "last" or a run id.
int  res_parse_run(Db *d, const char *arg, int64_t *id /* OUT */);
// Loads the run row, metrics and timings (as metrics "time.STAGE" in seconds per image, lower
// is better, plus "throughput" in images/s).
int  res_load(Db *d, int64_t id, ResRun *r /* OUT */);
// Loads a run exported with `export --format json`.
int  res_load_json(const char *path, ResRun *r /* OUT */);
void res_free(ResRun *r);
const ResMetric *res_metric(const ResRun *r, const char *name);
// 1 when both runs' metrics cover the same samples (equal sample-set digests; equal sample
// counts for runs stored before digests); 0 with a sentence in why otherwise.
int  res_same_samples(const ResRun *a, const ResRun *b, char *why, size_t n);
// Status as shown to users: the stored status ("stale" for a "running" run whose process is
// gone), or for a shard run "shard I/N complete" (status "shard-complete"), "shard I/N running".
void res_status_label(const ResRun *r, char *buf, size_t n);
// JSON export text (t2i_malloc'd).
char *res_to_json(const ResRun *r);

#endif
