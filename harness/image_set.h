// image_set.h -- the images of `t2ibench eval-images` and `t2ibench fid-stats DIR`: which file
// is which sample, and one image at any size -> an evaluator's input.
//
// Three ways to list them:
//   image_set_scan     every image under DIR, recursively, sorted by path (bytewise, relative to
//                      DIR), symlinks followed; symlink loops, unreadable entries and files that
//                      are not images (by their first bytes) are reported on stderr and counted,
//                      never silently skipped (`quiet` keeps only the count). Sample i is the
//                      i-th file.
//   image_set_by_id    suite mode: sample id k is DIR/k.png, DIR/%06d.png, .jpg or .jpeg.
//   image_set_mapping  suite mode with a TSV file of "PATH<TAB>SAMPLE_ID" lines (PATH relative
//                      to DIR unless absolute; '#' comments and blank lines ignored; an optional
//                      first line "path<TAB>sample_id"), so any folder layout can be scored
//                      (AttnGAN writes class/xxx_s0.png). Every sample of the run needs exactly
//                      one line; errors name the file and line.
// The digest is the SHA-256 of the files' SHA-256 values in sample order (names do not count).
#ifndef T2I_IMAGE_SET_H
#define T2I_IMAGE_SET_H

#include <stdint.h>

#include "resize.h"

typedef struct {
    int64_t n;
    char  **path;         // (n) paths to open, sample order
    int64_t n_skipped;    // entries reported and left out by image_set_scan
} ImageSet;

int  image_set_scan(const char *dir, int quiet, ImageSet *out /* OUT */);
int  image_set_by_id(const char *dir, int64_t n, ImageSet *out /* OUT */);
// n_suite: samples of the suite (ids 0..n_suite-1 are valid); n: samples of this run (the first
// n ids must each have exactly one line).
int  image_set_mapping(const char *tsv, const char *dir, int64_t n_suite, int64_t n,
                       ImageSet *out /* OUT */);
int  image_set_digest(const ImageSet *s, char hex[65]);
// Every file's size from its header against the pixel limit (image_check_file), before any work.
int  image_set_check(const ImageSet *s, long long max_pixels);
void image_set_free(ImageSet *s);   // accepts a zeroed set

// Protocol resize kinds (protocol.h RESIZE_*) for image_to_input.
// One (H,W,3) uint8 image of any size -> (3,OH,OW) float for a network: straight from its own
// size with the protocol's kernel (`kind`: torch bilinear, align-corners bilinear, TF1 bilinear
// on the mapped floats, or PIL bilinear on the uint8 bands, then `map`), no intermediate size,
// as pytorch-fid and torch-fidelity do. Scratch memory is allocated per call.
int image_to_input(const uint8_t *hwc, int H, int W, int kind, U8Map map, int OH, int OW,
                   float *out);

#endif
