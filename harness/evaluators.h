// evaluators.h -- the evaluator card: the measuring instruments, fixed per data set, so that
// two models are scored by the same networks (suites/evaluators/*.json, strict JSON):
// {
//   "format": "t2ibench-evaluators/1",
//   "name": "demo-hash-cub", "dataset": "cub", "notes": "...",
//   "inception_score": {"variant": "torchvision"|"tf2015"|"slim-cub", "weights": PATH|hash spec,
//                       "num_classes": 1000, "first_class": 0, "classes": 1000},
//   "damsm": {"image_encoder": PATH|hash, "text_encoder": PATH|hash,
//             "text_encoder_config": {"ntoken": 5450, "ninput": 300, "nhidden": 256},
//             "vocabulary": PATH},
//   "fid": {"variant": "tf2015", "weights": PATH|hash, "statistics": PATH (.npz mu/sigma) | null}
// }
// IS uses logits[first_class : first_class + classes] (slim-cub: first_class 1, classes 50 drops
// the background logit); tf2015 uses the bias-free logits (improved-gan). Relative paths resolve
// against the card's directory. A section may be null when the protocol does not use it.
#ifndef T2I_EVALUATORS_H
#define T2I_EVALUATORS_H

#include "text_encoder.h"

typedef struct {
    char              name[64];
    int               dataset;
    char              notes[2048];
    int               has_is;
    char              is_variant[32];
    char             *is_weights;
    int               is_num_classes, is_first_class, is_classes;
    int               has_damsm;
    char             *damsm_image;
    char             *damsm_text;
    TextEncoderConfig damsm_text_cfg;
    char             *damsm_vocab;
    int               has_fid;
    char              fid_variant[32];
    char             *fid_weights;
    char             *fid_stats;      // NULL when none
    char              sha256[65];
    char             *path;
} EvalCard;

int  evalcard_load(const char *path, EvalCard *out /* OUT */);
void evalcard_free(EvalCard *c);   // accepts a zeroed card

// Resolves `p` against the directory of `file` (hash specs and absolute paths unchanged).
char *path_resolve(const char *file, const char *p);

#endif
