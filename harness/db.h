// db.h -- the SQLite results store (DESIGN.md §8).
//
// Schema (version DB_SCHEMA_VERSION, PRAGMA user_version; PRAGMA application_id = 't2ib'):
//   runs     one row per run: status, the two fingerprints (everything but the model / the
//            model), suite, protocol, model, evaluators, sizes, times, provenance JSON
//   blocks   (run, block) -> state 'done', samples, seconds: resume and sharding
//   samples  (run, sample) -> per-sample outputs: IS logits (float32 BLOB), R-precision rank and
//            the 1+M cosine scores (float32 BLOB), FID pool3 features (float32 BLOB), image hash
//   metrics  (run, name) -> value, std, n, direction (+1 higher is better, -1 lower)
//   timings  (run, stage) -> seconds, images (accumulated block by block)
// WAL journal, busy_timeout 5 s; every write is inside BEGIN IMMEDIATE ... COMMIT, one
// transaction per block. A database newer than this binary, a foreign application_id, or a
// read-only file is refused with a message naming the file. A read-only open of a WAL
// database that cannot create its -shm file (read-only file or mount) falls back to
// "file:PATH?immutable=1" (refused when a non-empty -wal file would be ignored).
#ifndef T2I_DB_H
#define T2I_DB_H

#include <sqlite3.h>
#include <stdint.h>

#define DB_SCHEMA_VERSION 1
#define DB_APPLICATION_ID 0x74326962   // "t2ib"

typedef struct {
    sqlite3 *db;
    char    *path;
} Db;

typedef struct {
    int64_t     id;
    const char *status;         // "running", "complete", "interrupted", "failed",
                                // "shard-complete" (a shard run whose blocks are done)
    const char *kind;           // "run" or "eval-images"
    const char *run_key;        // identifies "the same command" for resume
    const char *fingerprint;        // sha256 over everything but the model (inputs + build)
    const char *inputs_fingerprint; // suite, protocol, evaluators only (what `check` requires)
    const char *model_fingerprint;
    const char *suite;          // suite name
    const char *suite_sha256;
    const char *protocol;       // protocol name
    const char *model;          // model name (or images dir for eval-images)
    const char *evaluators;     // evaluator card name
    int64_t     n_samples;
    int64_t     n_blocks;
    int         block_size;
    const char *provenance;     // JSON text
} DbRun;

typedef struct {
    int64_t      sample;
    int64_t      block;
    const float *is_logits;   int n_is;     // NULL / 0 when not computed
    int          rp_rank;                  // rank of the true caption (0 = hit), -1 when absent
    const float *rp_scores;   int n_rp;
    const float *fid_feat;    int n_fid;
    const char  *image_sha256;             // of the quantized image bytes, or NULL
} DbSample;

// Opens (creating and migrating when writable). readonly = 1 for list/show/compare/...
int  db_open(Db *d /* OUT */, const char *path, int readonly);
void db_close(Db *d);   // accepts a zeroed Db

int  db_begin(Db *d);      // BEGIN IMMEDIATE (waits up to busy_timeout for other writers)
int  db_commit(Db *d);
void db_rollback(Db *d);   // best effort

// Inside a transaction.
int  db_run_insert(Db *d, const DbRun *r, int64_t *id /* OUT */);
int  db_run_set_status(Db *d, int64_t run, const char *status);
int  db_sample_put(Db *d, int64_t run, const DbSample *s);
int  db_block_done(Db *d, int64_t run, int64_t block, int64_t n, double seconds);
int  db_timing_add(Db *d, int64_t run, const char *stage, double seconds, int64_t images);
int  db_metric_put(Db *d, int64_t run, const char *name, double value, double std, int64_t n,
                   int direction);
int  db_metrics_clear(Db *d, int64_t run);

// Queries (no transaction needed).
// The newest run with this key whose status is not "complete"; *id = 0 when none.
int  db_run_find_incomplete(Db *d, const char *run_key, int64_t *id /* OUT */);
int  db_run_exists(Db *d, int64_t run, int *exists /* OUT */);
// done[b] = 1 for committed blocks (done has n_blocks entries).
int  db_blocks_done(Db *d, int64_t run, uint8_t *done, int64_t n_blocks);
// The newest run id (0 when empty).
int  db_run_latest(Db *d, int64_t *id /* OUT */);

sqlite3 *db_handle(Db *d);
// Error helper: T2I_EDB with "DB: what: sqlite message".
int  db_err(Db *d, const char *what);

#endif
