// inception_score.h -- Inception Score (and TISE's IS*) from logits or probabilities.
//
// Mirrors StackGAN-inception-model inception_score.py (CUB) and openai/improved-gan
// inception_score/model.py (COCO), PROTOCOLS.md §2:
//   p = softmax(logits[:, class_begin:class_end] / T), in double;
//   split k = rows [k*N/splits, (k+1)*N/splits) (contiguous, integer division);
//   IS_k = exp(mean_i KL(p_i || mean p)) ; result mean(IS_k) and population std (np.std).
// Variants: CUB classifier: class_begin 1, class_end 51 (drops the background logit 0);
// IS* (TISE): T = 0.5980541706085205 (CUB), 0.9091363549232483 (COCO); 10 splits published.
//
// Streaming and sharding: per split the score needs only S_c = sum_i p_ic, A = sum_i sum_c
// p_ic log p_ic and the count, since mean_i KL_i = A/n - sum_c pbar_c log pbar_c (pbar = S/n).
// These are kept as exact fixed-point sums (stats.h), so adding rows in any chunks, from any
// shards, merged in any order gives bit-identical scores. The one-pass function is the same
// accumulator fed in one call. Rows carry their global sample index (row order matters for IS).
//
// Not supported: torch-fidelity's default sample shuffle (np.random.RandomState(2020)
// permutation); pass rows in the order you want split. Softmax and KL are double, whereas the
// original scripts ran TF float32 softmax, which differs in about the 7th digit.
#ifndef T2I_INCEPTION_SCORE_H
#define T2I_INCEPTION_SCORE_H

#include <stdint.h>

#include "stats.h"
#include "tensor.h"

#define IS_T_CUB  0.5980541706085205   // tise-toolbox inception_score_star_bird.py:192
#define IS_T_COCO 0.9091363549232483   // tise-toolbox inception_score_star_coco.py:107

typedef struct {
    int    splits;        // >= 1; the published protocols use 10
    double temperature;   // > 0; 1 = plain IS
    int    class_begin;   // first column used, >= 0
    int    class_end;     // one past the last column used; 0 = all columns
} IsOptions;

// Plain IS over all columns with 10 splits and T = 1.
IsOptions is_options_default(void);

typedef struct {
    double  mean;     // mean of the split scores
    double  std;      // population std (ddof 0) of the split scores
    int64_t n;        // samples
    int     splits;
} IsResult;

typedef struct {
    IsOptions opt;
    int64_t   n_total;   // N, fixed up front (it defines the split boundaries)
    int       n_cols;    // columns of an input row
    int       C;         // classes used = class_end - class_begin
    XSum     *sum_p;     // (splits, C)
    XSum     *sum_plogp; // (splits)
    int64_t  *count;     // (splits)
    int       overflow;
    double   *row;       // (n_cols) scratch
} IsAccum;

// n_total = number of samples N of the whole run (all shards); n_cols = columns per row
// (1008, 1000 or 51). Errors: splits < 1, N < splits, T <= 0 or not finite, bad class range.
int  is_accum_init(IsAccum *a, int64_t n_total, int n_cols, const IsOptions *opt);
void is_accum_free(IsAccum *a);   // accepts a zeroed IsAccum

// Adds n rows (n, n_cols) of logits, dtype F64/F32/F16, whose first row is sample
// `first_index` (0-based, global). Errors: index range outside [0, N), non-finite logits.
int  is_accum_add_logits(IsAccum *a, int64_t first_index, const void *logits, DType dt,
                         int64_t n);
// Same from probabilities: p restricted to the class range and tempered as
// softmax(log p / T), which equals softmax(logits / T) over the range. p must be finite, >= 0,
// with a positive entry in the class range.
int  is_accum_add_probs(IsAccum *a, int64_t first_index, const void *probs, DType dt, int64_t n);

// dst += src exactly (same N, n_cols and options, else T2I_ESHAPE).
int  is_accum_merge(IsAccum *dst, const IsAccum *src);

// Scores every split; split_scores (splits entries) may be NULL. Error when a split's count
// is not its expected size (missing or duplicated samples).
int  is_accum_finalize(const IsAccum *a, double *split_scores /* OUT, may be NULL */,
                       IsResult *out /* OUT */);

// One pass over all N rows of logits (row i = sample i).
int  inception_score(const void *logits, DType dt, int64_t n, int n_cols, const IsOptions *opt,
                     double *split_scores /* OUT, may be NULL */, IsResult *out /* OUT */);

// Variant name for reports: "stackgan-cub-is", "tise-cub-is*" (51 columns, classes [1,51)),
// "improved-gan-is", "tise-coco-is*" (1008 columns, all classes), else "is"/"is*"; followed by
// "(classes [b,e) of C, S splits, T=...)". buf holds n bytes (160 is plenty).
const char *is_variant_name(const IsOptions *opt, int n_cols, char *buf, int n);

#endif
