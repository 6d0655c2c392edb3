// model_card.h -- the JSON model card (DESIGN.md §6): which networks and weights form a model.
//
// {
//   "name": "attngan-bird",                  model name (recorded with every run)
//   "dataset": "cub",                        dataset the model was trained for ("cub", "coco", ...)
//   "arch": "attngan",                       generator architecture: "attngan" (default when
//                                            absent), "dmgan" or "dfgan" (generator.h)
//   "generator": {
//     "weights": "weights/bird_AttnGAN2.pth",   path, or "hash:attngan-oracle-hash-v1"
//     "config": {"GF_DIM": 32, "Z_DIM": 100, "CONDITION_DIM": 100, "EMBEDDING_DIM": 256,
//                "R_NUM": 2, "BRANCH_NUM": 3}         (attngan and dmgan: cfg.GAN/TEXT/TREE)
//                {"nf": 32, "z_dim": 100, "cond_dim": 256, "imsize": 256, "ch_size": 3}
//                                                      (dfgan: the keys of DF-GAN's cfg/*.yml)
//   },
//   "text_encoder": {
//     "weights": "weights/text_encoder200.pth",
//     "config": {"ntoken": 5450, "ninput": 300, "nhidden": 256}
//   },
//   "vocabulary": "weights/captions.pickle",   captions.pickle or a text vocabulary (vocab.h)
//   "WORDS_NUM": 18,                           cfg.TEXT.WORDS_NUM (training; recorded in the run
//                                              provenance, a difference from the protocol's is said)
//   "notes": "..."                             optional free text
// }
// Strict: an unknown key, a missing key or a wrong type is T2I_EARG naming its JSON path
// ("model card x.json: $.generator.config.R_NUM: missing"). Relative paths are resolved against
// the card's directory; hash specs are kept verbatim. Nothing is loaded here (see
// model_card_open in the runner or gnet_load/text_encoder_load/vocab_load).
#ifndef T2I_MODEL_CARD_H
#define T2I_MODEL_CARD_H

#include "generator.h"
#include "text_encoder.h"

typedef struct {
    char             *path;        // the card file as given (NULL for model_card_parse)
    char             *name;
    char             *dataset;
    char             *notes;       // NULL when absent
    char             *gen_weights; // resolved path or hash spec
    GenConfig         gen_cfg;     // arch + dimensions
    char             *te_weights;  // resolved path or hash spec
    TextEncoderConfig te_cfg;
    char             *vocab_path;  // resolved path
    int               words_num;
} ModelCard;

// Reads and validates `path`.
int  model_card_load(const char *path, ModelCard *out /* OUT */);
// Parses JSON text; relative paths resolve against base_dir (NULL or "" = as given); `what`
// names the source in messages.
int  model_card_parse(const char *json, size_t len, const char *base_dir, const char *what,
                      ModelCard *out /* OUT */);
void model_card_free(ModelCard *mc);   // accepts a zeroed card

// 1 when `spec` names hash weights rather than a file.
int  weights_spec_is_hash(const char *spec);

#endif
