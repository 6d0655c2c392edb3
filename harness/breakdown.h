// breakdown.h -- where a model is worse: metrics per class and per caption-length bucket of one
// run, and the "worst captions" between two runs paired by sample id.
//
//   per group    samples, R-precision (100 * hits / n, hit = rank < k), mean DAMSM cosine score
//                of the true caption, mean top-1 DAMSM score (the best of the 1 + M candidate
//                captions), and IS over the group's samples (1 split, the run's class range and
//                temperature) when the group has at least BREAKDOWN_IS_MIN samples; fewer is
//                reported as "too few samples" rather than a noisy number
//   length       words the generator saw (the suite's word subset, else the caption's tokens),
//                buckets 1-5, 6-10, 11-15, 16-20, 21-25, 26+
//   worst        samples ordered by how much the R-precision rank of the true caption grew
//                from run A to run B (ties: larger rank in B first, then sample id)
#ifndef T2I_BREAKDOWN_H
#define T2I_BREAKDOWN_H

#include "samples.h"
#include "scoring.h"
#include "suite.h"

#include <stdint.h>

#define BREAKDOWN_IS_MIN 10
#define BREAKDOWN_IS_MIN_S "10"   // the same, for messages

typedef struct {
    int     key;            // class id, or the bucket's first word count
    char    label[32];      // "class 12" / "6-10 words"
    int64_t n;
    int64_t hits;
    double  rp;             // NaN without R-precision rows
    double  true_score;     // mean, NaN without scores
    double  top_score;      // mean, NaN without scores
    double  is;             // NaN when not computed
    int     is_state;       // 0 computed, 1 too few samples, 2 no IS rows
    double  fid;            // breakdown_fid only (NaN otherwise, or with fewer than 2 samples)
} BreakRow;

typedef enum { BREAK_CLASS = 0, BREAK_LENGTH = 1 } BreakBy;

// Rows of run s (suite S, scoring sp), grouped; *rows is t2i_malloc'd.
int breakdown(const RunSamples *s, const Suite *S, const ScoreSpec *sp, BreakBy by,
              BreakRow **rows /* OUT */, int *n /* OUT */);

// FID of each group's samples against the reference statistics (on request: one D x D
// covariance and matrix square root per group). Groups of fewer than 2 samples get NaN.
#include "fid.h"
int breakdown_fid(const RunSamples *s, const Suite *S, BreakBy by, const FidStats *ref,
                  BreakRow *rows, int n);

typedef struct {
    int64_t sample;
    int     rank_a, rank_b;
} WorstRow;

// Up to `top` samples (same sample ids in a and b required; T2I_EARG otherwise).
int breakdown_worst(const RunSamples *a, const RunSamples *b, int top, WorstRow **rows /* OUT */,
                    int *n /* OUT */);

#endif
