// verify.h -- per-network fixture verification used by `t2ibench verify` (harness/cmd_verify.c)
// and by the tests.
//
// Each function reads FIXTURE_DIR/manifest.json, builds the network with the hash weights
// "hash:attngan-oracle-hash-v1", checks every hash_weight_checksums entry before running, runs
// input.npy and compares every output (and the intermediates x299, mixed_6e, pool) with the
// manifest's f32_vs_f64.<name>.suggested_atol; tensors without one use that of the output they
// stand for (*_transform_input -> the plain output, mixed_6e -> features, pool -> cnn_code) and
// x299 the manifests' floor 1e-6. It prints one line per tensor ("  name max_abs_err tol
// PASS|FAIL"), adds the number of failing tensors to *failures, and writes the computed tensors
// as NAME.npy into out_dir when out_dir is non-NULL (inception_fid also logits_unbiased.npy). Returns T2I_OK when the case ran (whatever the comparison), or a T2I_E*
// status with a message when it could not (missing file, bad manifest, checksum mismatch: a
// checksum mismatch also counts as one failure).
#ifndef T2I_VERIFY_H
#define T2I_VERIFY_H

#include <cjson/cJSON.h>

// The Inception-based network a manifest describes, read from its content, never from the
// folder or case name: config.class_ "model.CNN_ENCODER" (DAMSM image encoder), config.ctor
// torchvision.models.inception_v3 / pytorch-fid InceptionV3, or TF-slim variables under their
// EMA restore names in hash_weight_checksums (inception_slim; any class count). A fixture copied
// under another folder or case name verifies the same.
typedef enum { IK_NONE, IK_TORCHVISION, IK_FID, IK_DAMSM, IK_SLIM } InceptionKind;
InceptionKind verify_inception_kind(const cJSON *manifest);

// Runs the Inception-based fixture in `dir` (kind from its manifest).
int verify_inception_case(const char *dir, const char *out_dir, int *failures /* IN/OUT */);

#endif
