// runner.h -- `t2ibench run` and `t2ibench eval-images`: a suite through the model and the
// evaluators into the results database (DESIGN.md §1, §7, §8).
//
// Per sample: caption -> model vocabulary ids (the suite's word subset applied; the token count
// must equal the suite's ntok, otherwise the vocabulary differs from the one the suite was frozen
// with) -> text encoder -> G_NET with z and eps drawn from (noise_seed, sample id, stream) ->
// 256 px image -> quantized as the protocol says -> IS classifier logits (resized with the
// protocol's kernel), DAMSM image code vs the DAMSM text codes of the true and the mismatched
// captions (rank of the true one; the 1+M captions of a sample are always encoded together, so
// codes do not depend on batching), FID pool3 features when the evaluator card has statistics.
// Every per-sample output is stored; one SQLite transaction per block; metrics are computed at
// the end from the stored rows only (harness/scoring.h). Nothing depends on batch size, resume
// point, threads or shard. A shard run (shard_count > 1) runs only its blocks, records
// run.shard and run.scoring in its provenance, ends as "shard-complete" with partial metrics
// over its own samples; `t2ibench merge` (harness/cmd_merge.c) combines shard databases.
#ifndef T2I_RUNNER_H
#define T2I_RUNNER_H

#include <stdint.h>

typedef struct {
    const char *suite;        // NULL: eval-images of every image in images_dir, no captions
    const char *model;        // model card (run), NULL for eval-images
    const char *images_dir;   // eval-images: the image folder (harness/image_set.h)
    const char *mapping;      // eval-images with a suite: PATH<TAB>SAMPLE_ID file, or NULL
    long long   max_pixels;   // eval-images: largest image accepted (0 = 100 megapixels)
    const char *fid_stats;    // FID statistics (.npz) replacing the evaluator card's, or NULL
    const char *kid_ref;      // reference features (.npy (N, 2048)) for KID, or NULL
    const char *protocol;
    const char *evaluators;
    const char *db;
    long        limit;        // 0 = whole suite
    int         batch;
    int         threads;      // worker threads (each sample: single-threaded BLAS)
    const char *images_out;   // write generated PNGs here (optional)
    int64_t     resume;       // run id to resume, 0 = find "the same command" automatically
    int         shard_index;  // run only the blocks b % shard_count == shard_index
    int         shard_count;  // 0 or 1 = every block (DESIGN.md §11; harness/scoring.h)
    int         quiet, verbose;
    int         new_run;      // --new: a fresh run even when the same command ran before
    int         takeover;     // --takeover: resume a run owned by a process on another host
    double      log_seconds;  // progress line every N s without a terminal (0 = 30 s)
    long        log_samples;  // ... or every N samples (0 = by time only)
} RunOpts;

// Runs (or resumes) and stores a run; *run_id receives its id. The newest run of the same
// command being complete: nothing is computed, *run_id is that run (unless new_run). A run
// another live process owns is refused. T2I_EINTR when interrupted by SIGINT/SIGTERM: the
// samples finished so far are committed and the run is marked "interrupted".
int runner_run(const RunOpts *o, int64_t *run_id /* OUT */);

#endif
