// r_precision.h -- DAMSM R-precision: rank the true caption among K mismatched ones.
//
// Mirrors DM-GAN code/trainer.py (R-precision) and code/datasets.py get_mis_caption
// (PROTOCOLS.md §3.2), the reference the AttnGAN family reports:
//   s_j = <img, sent_j> / max(|img| |sent_j|, 1e-8)   for the candidates j = 0 (true), 1..K;
//   hit when the true caption ranks first: argmax_j s_j == 0, where ties go to the true one as
//   np/torch argmax returns the first maximum. General R: hit when fewer than R mismatched
//   captions score strictly higher than the true one (top-R retrieval; R = 1 is the protocol).
//   Folds over the hit vector R (in the order given; DM-GAN first shuffles R with numpy's global
//   RNG, which we cannot reproduce -- suites fix the sample order instead):
//     RP_FOLD_EXACT  fold f = R[f*N/F : (f+1)*N/F]            (contiguous, integer division)
//     RP_FOLD_DMGAN  fold f = R[f*n : (f+1)*n - 1], n = N/F    (DM-GAN's 2,999-of-3,000 slice)
//   result: mean of the fold means and their population std (np.std, ddof 0).
// Mismatch samplers (per query, from a caller-supplied counter-based Rng, engine/core/rng.h):
//   RP_MISMATCH_SAME_CLASS   DM-GAN with class_info.pickle: draw an image uniformly, reject it if
//                            its class equals the query's, then a caption uniformly among its
//                            captions; K draws with replacement.
//   RP_MISMATCH_SAME_IMAGE   the same without class info (class_id = arange(N)): only the query
//                            image itself is rejected.
//   RP_MISMATCH_FROZEN       K sentence ids read from a frozen table (TISE's pickled lists).
// Scores are computed in double (the original uses float32 torch), so exact near-ties may rank
// differently from a GPU run. Zero-norm codes are an error here, not a clamped score.
#ifndef T2I_R_PRECISION_H
#define T2I_R_PRECISION_H

#include <stdint.h>

#include "rng.h"

typedef enum { RP_FOLD_EXACT = 0, RP_FOLD_DMGAN = 1 } RpFoldRule;
typedef enum {
    RP_MISMATCH_SAME_CLASS = 0,
    RP_MISMATCH_SAME_IMAGE = 1,
    RP_MISMATCH_FROZEN = 2,
} RpMismatchRule;

// Parses "contiguous" / "dmgan" (the names of protocols, provenance and `metric rp`) and the sampler names "same-class" / "same-image" / "frozen";
// returns -1 for anything else.
int         rp_fold_rule_parse(const char *s);
const char *rp_fold_rule_name(RpFoldRule r);
int         rp_mismatch_rule_parse(const char *s);
const char *rp_mismatch_rule_name(RpMismatchRule r);

// Hits for n queries. img (n, E) image codes; sent (n_sent, E) sentence codes; cand (n, 1+K)
// sentence ids per query with the true one first. hits (n) receives 0/1; *n_hits their sum.
// Errors: E < 1, K < 1, R outside [1, K+1], a candidate id outside [0, n_sent), a zero-norm or
// non-finite code (naming the row).
int rp_hits(const double *img, int64_t n, const double *sent, int64_t n_sent, int E,
            const int64_t *cand, int K, int R, uint8_t *hits /* OUT */,
            int64_t *n_hits /* OUT */);

typedef struct {
    double  mean;        // mean of the fold means
    double  std;         // population std of the fold means
    int     folds;
    int64_t n;           // hits considered (all of R)
    int64_t n_used;      // elements inside folds (dmgan drops one per fold plus the tail)
} RpResult;

// Errors: folds < 1, n < folds, a dmgan fold of fewer than 1 element (n/folds < 2).
int rp_folds(const uint8_t *hits, int64_t n, int folds, RpFoldRule rule,
             double *fold_means /* OUT folds entries, may be NULL */, RpResult *out /* OUT */);

typedef struct {
    RpMismatchRule rule;
    int64_t        n_images;            // images of the split the mismatches come from
    int            captions_per_image;  // sentence id = image * captions_per_image + caption
    const int64_t *class_ids;           // SAME_CLASS: (n_images) class of each image
    const int64_t *frozen;              // FROZEN: (n_queries, K) sentence ids
    int64_t        n_queries;           // FROZEN: rows of `frozen`
} RpMismatchSpec;

// K mismatched sentence ids for the query (query = image index for the samplers, row of the
// frozen table for FROZEN) into out (K). rng is the query's own stream, e.g.
// rng_init(&r, seed, sample_id, RNG_STREAM_MISMATCH); each draw takes the image, then the
// caption, as DM-GAN does. Errors: no image of another class/other image exists, indices out of
// range, frozen ids outside [0, n_images * captions_per_image).
int rp_draw_mismatches(const RpMismatchSpec *spec, int64_t query, int K, Rng *rng,
                       int64_t *out /* OUT */);

#endif
