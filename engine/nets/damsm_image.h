// damsm_image.h -- AttnGAN's DAMSM image encoder CNN_ENCODER(nef) (code/model.py):
//   x (B,3,H,W) in [-1,1] -> bilinear resize to 299 (align_corners False, as torch >= 0.4 runs
//   nn.Upsample(size=(299,299), mode='bilinear'); True reproduces torch <= 0.3.1)
//   -> torchvision Inception v3 trunk to Mixed_6e -> emb_features (conv1x1, no bias)
//   -> features (B,nef,17,17); Mixed_7a..7c -> avg_pool2d(8) -> emb_cnn_code (Linear) -> cnn_code
//   (B,nef). Keys as ../shared/reference/CNN_ENCODER.keys.txt (no AuxLogits, no fc).
#ifndef T2I_DAMSM_IMAGE_H
#define T2I_DAMSM_IMAGE_H

#include "inception.h"
#include "state_dict.h"
#include "xconv.h"

typedef struct {
    int        nef;             // 256 in every released configuration
    int        align_corners;   // resize to 299 (0: torch >= 0.4.0 behaviour)
    Inception *trunk;
    float     *emb_features_w;  // (nef,768,1,1)
    float     *emb_cnn_code_w;  // (nef,2048)
    float     *emb_cnn_code_b;  // (nef)
    float     *x299;            // (maxB,3,299,299) scratch, owned
    float     *mixed_6e;        // (maxB,768,17,17) scratch, owned
    float     *pool;            // (maxB,2048) scratch, owned
    float     *nhwc;            // (maxB,17,17,768 + nef) scratch of the NHWC emb_features, owned
    XConv      emb;             // emb_features packed for XNNPACK (NHWC trunk)
    int        max_B;
} DamsmImage;

// Declares the keys (CNN_ENCODER state_dict names). Bind with damsm_image_bind.
int  damsm_image_init(DamsmImage *m, int nef);
void damsm_image_free(DamsmImage *m);   // accepts a zeroed struct
BindList *damsm_image_keys(DamsmImage *m);
// Takes ownership of *sd; strict binding.
int  damsm_image_bind(DamsmImage *m, StateDict *sd, const char *what);
// The trunk's path (inception_set_nhwc), emb_features following it. After binding.
int  damsm_image_set_nhwc(DamsmImage *m, int on);
// Allocates the per-batch buffers and activation arenas for up to B images (once).
int  damsm_image_reserve(DamsmImage *m, int B);
size_t damsm_image_bytes(const DamsmImage *m);

typedef struct {
    float *features;   // (B,nef,17,17) or NULL
    float *cnn_code;   // (B,nef) or NULL
    float *x299;       // (B,3,299,299) intermediate copy, or NULL
    float *mixed_6e;   // (B,768,17,17) intermediate copy, or NULL
    float *pool;       // (B,2048) intermediate copy, or NULL
} DamsmImageOut;

// x (B,3,H,W) in [-1,1].
int damsm_image_forward(DamsmImage *m, const float *x, int B, int H, int W, DamsmImageOut *out);

#endif
