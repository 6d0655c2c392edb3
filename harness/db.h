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
#include <stddef.h>
#include <stdint.h>

#define DB_SCHEMA_VERSION 2
#define DB_APPLICATION_ID 0x74326962   // "t2ib"

typedef struct {
    sqlite3 *db;
    char    *path;
    int      readonly;
    int      version;   // schema version of the file (a read-only open of a v1 file keeps 1)
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

// ---- live owner of a run (schema 2) ----
// A run being computed records its process (pid, host) and a heartbeat (time of its last
// commit); the owner is cleared when the process stops. A "running" run whose process on this
// host is gone is shown as "stale" and may be resumed; a live owner makes a second process
// refuse the run.
typedef struct {
    int64_t pid;         // 0 = no owner
    char    host[256];
    char    heartbeat[32];
} DbOwner;
typedef enum { DB_OWNER_NONE, DB_OWNER_ALIVE, DB_OWNER_GONE, DB_OWNER_UNKNOWN } DbLiveness;
void       db_this_host(char *host, size_t n);
int        db_run_owner(Db *d, int64_t run, DbOwner *o /* OUT */);
// NONE without an owner; ALIVE/GONE for a process of this host; UNKNOWN on another host.
DbLiveness db_owner_liveness(const DbOwner *o);
// Inside a transaction: this process becomes the owner / refreshes the heartbeat / stops owning.
int        db_run_claim(Db *d, int64_t run);
int        db_run_heartbeat(Db *d, int64_t run);
int        db_run_release(Db *d, int64_t run);

// ---- partial blocks, sample sets, row checksums ----
// have[i] = 1 when sample first + i has a stored row (an interrupted block keeps the samples it
// finished; resume computes only the others).
int  db_samples_present(Db *d, int64_t run, int64_t first, int64_t cnt, uint8_t *have);
// Inside a transaction: the digest of the sample ids the run's metrics cover ("N:sha256").
int  db_run_set_sample_set(Db *d, int64_t run, const char *digest);
// The stored checksum of a sample row: sha256 over its columns, length-prefixed.
typedef struct {
    int64_t     sample, block;
    const void *is_logits;  int64_t is_bytes;
    int64_t     rp_rank;    // -1 when absent
    const void *rp_scores;  int64_t rp_bytes;
    const void *fid_feat;   int64_t fid_bytes;
    const char *image_sha256;
} DbRow;
void db_row_checksum(const DbRow *w, char hex[65]);
// Recomputes the checksums of a run's rows: *bad_sample = the first row whose bytes changed
// (-1 when none). Rows without a checksum (written before schema 2, or cleared since) cannot be
// verified: they are counted in *unchecked (may be NULL), not in *checked.
int  db_samples_verify(Db *d, int64_t run, int64_t *checked /* OUT */, int64_t *unchecked /* OUT */,
                       int64_t *bad_sample /* OUT */);
// PRAGMA quick_check: T2I_EDB naming the file when the database is damaged.
int  db_quick_check(Db *d);

sqlite3 *db_handle(Db *d);
// Error helper: T2I_EDB with "DB: what: sqlite message".
int  db_err(Db *d, const char *what);

#endif
