// protocol.h -- how a run is sampled and scored (DESIGN.md §6, PROTOCOLS.md).
//
// A protocol is a strict JSON file (suites/protocols/*.json; schema in suites/README.md). Its
// "sampling" section is used by `suite freeze` (image count, passes, caption choice, WORDS_NUM
// and truncation rule, mismatch count and rule, block size); the other sections are used by
// `run` (noise, quantization, attention-mask mode, and per evaluator its resize kernel, IS
// classifier and splits, R-precision candidates and folds, FID). Values that differ per data set
// (WORDS_NUM, the IS classifier) are objects keyed by data set: {"cub": 25, "coco": 20}.
// Every key is required; an unknown key is an error naming its JSON path.
#ifndef T2I_PROTOCOL_H
#define T2I_PROTOCOL_H

#include <stddef.h>
#include <stdint.h>

enum { DATASET_CUB = 0, DATASET_COCO = 1, DATASET_N = 2 };
extern const char *const dataset_names[];   // "cub", "coco", NULL

typedef enum { CAPTION_ALL = 0, CAPTION_RANDOM_PER_PASS = 1, CAPTION_FIRST = 2 } CaptionChoice;
typedef enum { MISMATCH_OTHER_CLASS = 0, MISMATCH_OTHER_IMAGE = 1 } MismatchRule;
typedef enum { NOISE_NORMAL = 0, NOISE_TRUNCATED = 1 } NoiseKind;
typedef enum { PQUANT_TRUNCATE = 0, PQUANT_ROUND = 1, PQUANT_FLOAT = 2 } ProtoQuant;
typedef enum { FOLDS_DMGAN = 0, FOLDS_CONTIGUOUS = 1 } FoldRule;
// Resize kernels an evaluator may ask for (mapped onto engine/ops/resize.h by the runner).
typedef enum {
    RESIZE_BILINEAR = 0,      // torch F.interpolate bilinear, align_corners=False
    RESIZE_BILINEAR_AC = 1,   // torch bilinear, align_corners=True (legacy pytorch-fid)
    RESIZE_BILINEAR_TF1 = 2,  // TF1 ResizeBilinear, align_corners=False (torch-fidelity)
    RESIZE_BILINEAR_PIL = 3,  // PIL bilinear on uint8 (scipy.misc.imresize)
} ResizeKind;
extern const char *const resize_names[];

typedef struct {
    char         name[64];
    char         description[2048];
    char         reference[1024];
    char         differences_from[64];   // optional "differences.from" ("" when absent)
    // sampling (suite freeze)
    long         images;          // samples to draw; 0 = passes x images of the table
    int          passes;
    int          caption_choice;  // CaptionChoice
    int          words_num[DATASET_N];
    int          truncation;      // TruncRule of tokenizer.h (0 random subset, 1 head)
    int          block_size;
    int          mismatches;      // R-precision mismatched captions per sample
    int          mismatch_rule;   // MismatchRule
    // generation
    int          noise;           // NoiseKind
    double       noise_bound;     // truncated: |z| <= bound before scaling
    double       noise_scale;
    int          quantization;    // ProtoQuant
    int          attention_mask;  // AttMaskMode of attention.h
    // Inception Score
    int          is_enabled;
    char         is_classifier[DATASET_N][32];   // "torchvision", "tf2015", "slim-cub"
    int          is_resize;
    int          is_splits;
    uint64_t     is_shuffle_seed; // 0 = keep sample order
    double       is_temperature;  // 1 = plain IS; TISE IS* uses its fitted T
    // R-precision
    int          rp_enabled;
    int          rp_resize;
    int          rp_k;
    int          rp_folds;
    int          rp_fold_rule;    // FoldRule
    uint64_t     rp_shuffle_seed; // 0 = keep sample order
    // FID
    int          fid_enabled;     // used only when the evaluator card gives statistics
    int          fid_resize;
    // provenance
    char         sha256[65];      // of the file bytes
    char        *json;            // the file text (t2i_malloc'd), stored with each run
} Protocol;

int  protocol_load(const char *path, Protocol *out /* OUT */);
int  protocol_parse(const char *what, const char *text, size_t len, Protocol *out /* OUT */);
void protocol_free(Protocol *p);   // accepts a zeroed Protocol
int  dataset_index(const char *name);   // -1 when unknown

#endif
