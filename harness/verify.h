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

// Manifest models handled here: the manifest's "case" is "inception_torchvision",
// "inception_fid" or "damsm_image_encoder" (config.class_ "model.CNN_ENCODER").
// Returns 1 when verify_inception_case handles the fixture in `dir` (reads its manifest).
int verify_inception_handles(const char *dir);

// One entry point for the three Inception-based cases. `case_name` is the manifest's "case"
// ("inception_torchvision", "inception_fid", "damsm_image_encoder"), or NULL to read it from
// dir/manifest.json.
int verify_inception_case(const char *dir, const char *case_name, const char *out_dir,
                          int *failures /* IN/OUT */);

#endif
