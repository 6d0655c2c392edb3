// weights.h -- one entry point for every weight source.
//
// A spec is either a file path (.pth in any of the three torch.save layouts, .safetensors, or a
// .npz of named arrays) detected by content, not by name, or "hash:attngan-oracle-hash-v1", the
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

// Hash weights (engine/formats/hashweights.c): every row of `keys`, including bookkeeping rows such as
// num_batches_tracked (int64 zeros), filled by the attngan-oracle-hash-v1 rules.
int hash_weights_fill(const BindList *keys, StateDict *out /* OUT */);
// The per-tensor checksum of the Inception manifests: sum_i bits_i * (2i+1) mod 2^64.
uint64_t hash_weights_checksum(const SDEntry *e);

#endif
