// suite.h -- frozen caption suites (DESIGN.md §6) and the caption tables they come from.
//
// A caption table is a UTF-8 TSV with a header naming at least the columns image_key, class_id,
// cap_idx, caption and one of image_idx / attngan_test_idx (caption text escaped as in
// suites/data/PROVENANCE.md). Its data rows are the caption ids.
//
// A suite file (suites/*.suite) is line based:
//   line 1  "t2ibench-suite/1"
//   line 2  one JSON object (the header; strict, see suites/README.md)
//   line 3  "#sample\timage_key\tclass_id\timage_idx\tcaption_id\tcap_idx\tnoise_seed\tntok\twords\tmismatch\tcaption"
//   then one line per sample, in sample-id order (0, 1, ...), all 11 fields required:
//     words     "-" (caption not truncated) or the kept token positions "0,1,4,..." (ascending)
//     mismatch  comma-separated caption ids (mismatch_storage "inline"), or "*" when the header
//               says "derived": the ids are re-drawn at load time by the rule below and must
//               hash to the header's mismatch_sha256 (so large suites stay small and still mean
//               the same thing everywhere; a different draw is a load error).
// Randomness (engine/core/rng.h, key = (seed, sample id, stream)):
//   caption choice   RNG_STREAM_CAPTION: rng_below(captions of the image)
//   word subset      RNG_STREAM_WORDS through caption_truncate (tokenizer.h)
//   mismatch k       RNG_STREAM_MISMATCH: image = rng_below(n_images) until the rule accepts
//                    it (other class / other image), then caption = rng_below(its captions)
//   mismatch k words stream RNG_STREAM_WORDS + ((k + 1) << 16) (drawn at run time)
//   noise z, eps     (noise_seed, sample id, RNG_STREAM_Z / RNG_STREAM_EPS) at run time
// Blocks: sample i belongs to block i / block_size, whatever the batch size or worker count.
#ifndef T2I_SUITE_H
#define T2I_SUITE_H

#include "protocol.h"
#include "vocab.h"

#include <stdint.h>

typedef struct {
    int64_t   n_rows;
    int32_t  *image_slot;    // (n_rows) image slot of each caption row
    int32_t  *cap_idx;       // (n_rows)
    char    **caption;       // (n_rows) unescaped text
    int32_t   n_images;
    int32_t  *image_idx;     // (n_images) the table's image index
    int32_t  *class_id;      // (n_images)
    char    **image_key;     // (n_images)
    int32_t  *first;         // (n_images + 1) CSR offsets into rows_of
    int32_t  *rows_of;       // (n_rows) caption rows grouped by image, in table order
    char      sha256[65];
    char     *path;
} CaptionTable;

int  caption_table_load(const char *path, CaptionTable *t /* OUT */);
void caption_table_free(CaptionTable *t);

typedef struct {
    int64_t   id;
    char     *image_key;
    int32_t   class_id;
    int32_t   image_idx;
    int32_t   image_slot;    // index into the caption table's images
    int32_t   caption_id;
    int32_t   cap_idx;
    uint64_t  noise_seed;
    int32_t   ntok;          // tokens of the caption under the freeze vocabulary
    int32_t   n_words;       // kept positions (0 = not truncated)
    int32_t  *words;         // (n_words)
    int32_t  *mismatch;      // (mismatches) caption ids
    char     *caption;       // unescaped text
} SuiteSample;

typedef struct {
    char          name[64];
    int           dataset;         // DATASET_*
    char          protocol[64];
    char          protocol_sha256[65];
    char          captions_sha256[65];
    char          vocab_sha256[65];
    uint64_t      seed;
    int           words_num;
    int           truncation;
    int           mismatches;
    int           mismatch_rule;
    int           mismatch_derived;
    char          mismatch_sha256[65];
    int           block_size;
    int64_t       n;
    SuiteSample  *s;
    char          sha256[65];      // of the suite file
    char         *path;
    char         *captions_path;   // resolved
    CaptionTable  table;           // loaded with the suite
} Suite;

// Loads and fully validates a suite (and its caption table, checked against the header hash).
int  suite_load(const char *path, Suite *out /* OUT */);
void suite_free(Suite *s);   // accepts a zeroed Suite
static inline int64_t suite_blocks(const Suite *s) {
    return (s->n + s->block_size - 1) / s->block_size;
}

typedef struct {
    const char     *name;
    const char     *captions;       // table path as it should be recorded (relative to out)
    const char     *captions_open;  // path to open it now
    const Protocol *protocol;
    const char     *protocol_path;
    const Vocab    *vocab;
    const char     *vocab_sha256;
    int             dataset;
    uint64_t        seed;
    long            limit;          // 0 = protocol image count
    long            n_images;       // 0 = all images; else that many evenly spaced images
    int             block_size;     // 0 = protocol's
    int             derived;        // mismatch storage "derived"
} FreezeOpts;

// Materializes a suite file at `out_path`; *n_samples gets the count.
int suite_freeze(const FreezeOpts *o, const char *out_path, int64_t *n_samples /* OUT */);

// Draws the mismatched caption ids of one sample (the rule of the header comment).
void suite_draw_mismatch(const CaptionTable *t, uint64_t seed, int64_t sample, int32_t image_slot,
                         int rule, int m, int32_t *out /* (m) */);

// Caption escapes (\\ \t \n \r) <-> text.
char *caption_unescape(const char *s, size_t n);

#endif
