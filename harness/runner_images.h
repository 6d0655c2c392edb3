// runner_images.h -- the eval-images parts of the run loop (harness/runner.c), kept apart so
// that the loop itself stays about samples: a folder as a caption-free "suite", the
// --fid-stats override, loading a batch of images at their own sizes, and the DAMSM image
// encoder on one such image.
#ifndef T2I_RUNNER_IMAGES_H
#define T2I_RUNNER_IMAGES_H

#include <stddef.h>
#include <stdint.h>

#include "damsm_image.h"
#include "evaluators.h"
#include "image_set.h"
#include "inception.h"
#include "protocol.h"
#include "provenance.h"
#include "runner.h"
#include "suite.h"

// --kid-reference FILE (with FID features stored): its path and the SHA-256 the provenance recorded.

void images_score_spec_kid(const RunOpts *o, int use_fid, const Provenance *pv, char *path,
                           size_t npath, char sha[65]);
// --fid-stats FILE replaces the card's statistics (checked to exist here; loaded when scoring);
// --kid-reference FILE is checked to exist and to have an FID Inception to compare with.
int images_override_stats(const RunOpts *o, EvalCard *E);
// eval-images without --suite: every image under o->images_dir (image_set_scan) becomes sample
// i of a caption-free suite named "folder" (no R-precision), with the protocol's block size and
// the evaluator card's data set; S->sha256 is the digest of the images.
int images_folder_suite(const RunOpts *o, const Protocol *P, int dataset, ImageSet *imgs,
                        Suite *S);
// Loads paths[0..nb) into ld/ldH/ldW (freeing what they held) with o->max_pixels, and the
// SHA-256 of each image's RGB bytes into sha. Warnings (16-bit grey) go to stderr unless -q.
int images_load_batch(char *const *paths, int nb, const RunOpts *o, uint8_t **ld, int *ldH,
                      int *ldW, char (*sha)[65]);
// DAMSM image code of one (H,W,3) uint8 image, mapped to [-1,1] as AttnGAN's loader does.
int images_damsm(DamsmImage *dim, const uint8_t *hwc, int H, int W, DamsmImageOut *out);

// The FID Inception of an evaluator card (runner.c) and the input map of the protocol's FID
// resize (TF1 kernel: (x-128)/128, else x/127.5-1).

int runner_fid_net(const Protocol *P, const EvalCard *E, Inception **net /* OUT */,
                   U8Map *map /* OUT */);

#endif
