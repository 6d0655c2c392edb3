// weights.h -- one entry point for every weight source.
//
// A spec is either a file path detected by content, not by name (.pth in any of the three
// torch.save layouts, .safetensors, a .npz of named arrays, or a TensorFlow V1 checkpoint, V2
// checkpoint (the .index file or its prefix "model.ckpt") or GraphDef .pb, see tfckpt.h), or "hash:attngan-oracle-hash-v1", the
// deterministic synthetic weights of ../shared/fixtures/README.md generated for exactly the keys
// and shapes the network declares in `keys`.
#ifndef T2I_WEIGHTS_H
#define T2I_WEIGHTS_H

#include "state_dict.h"

#define T2I_HASH_WEIGHTS "hash:attngan-oracle-hash-v1"

// Loads `spec` into `out` (initialized here). `keys` is only used for hash weights.
int weights_load(const char *spec, const BindList *keys, StateDict *out /* OUT */);

// File loaders (engine/formats/weights.c dispatches on the first bytes of the file).
int weights_load_file(const char *path, StateDict *out /* OUT */);

// SHA-256 of a weight file; for a TF V2 bundle (prefix or .index) the digest of the index's and
// every data shard's SHA-256, so the fingerprint covers the bytes actually loaded.
int weights_sha256(const char *path, char hex[65] /* OUT */);

// Hash weights (engine/formats/hashweights.c): every row of `keys`, including bookkeeping rows such as
// num_batches_tracked (int64 zeros), filled by the attngan-oracle-hash-v1 rules.
int hash_weights_fill(const BindList *keys, StateDict *out /* OUT */);
// The same for TensorFlow variable names in TF layouts (fixtures/README.md "Hash weights for TF
// names"): rule by the name without "/ExponentialMovingAverage" (weights, biases,
// BatchNorm/{beta,gamma,moving_mean,moving_variance}), fan_in = numel / shape[-1].
int hash_weights_fill_tf(const BindList *keys, StateDict *out /* OUT */);
// The per-tensor checksum of the Inception manifests: sum_i bits_i * (2i+1) mod 2^64.
uint64_t hash_weights_checksum(const SDEntry *e);

#endif
