// pth.h -- PyTorch checkpoints written by torch.save, read without Python.
//
// Three layouts, detected by content (../shared/fixtures/README.md "Weight-file formats"):
//   * zip (torch >= 1.6): "<stem>/data.pkl" + "<stem>/data/<key>" stored members;
//   * legacy (torch.save(..., _use_new_zipfile_serialization=False)): five pickles (magic
//     0x1950a86a20f9469cfc6c, protocol 1001, sys_info, the object, the sorted storage keys)
//     followed by "int64 numel + raw bytes" per storage;
//   * legacy from Python 2 + torch 0.3 (SHORT_BINSTRING strings, 4-argument _rebuild_tensor,
//     torch.cuda.*Storage, OrderedDict built from a list of [key, tensor] pairs).
// The pickled object must be a state_dict (a dict of tensors) or a dict holding exactly one
// state_dict among its values (e.g. {'epoch': 3, 'state_dict': {...}}). Tensors keep their
// storage dtype (float32/64/16, bfloat16, int64/32/16/8, uint8, bool); storage offsets and strided
// views are materialized into contiguous copies. Not supported: big-endian files, tensors whose
// element count exceeds their storage (expanded stride-0 views), non-tensor state_dict values,
// quantized/sparse tensors, and the pre-0.1.10 tar format.
#ifndef T2I_PTH_H
#define T2I_PTH_H

#include <stddef.h>
#include <stdint.h>

#include "state_dict.h"

// 1 for a zip archive, 2 for a legacy pickle stream, 0 otherwise (first bytes only).
int pth_sniff(const uint8_t *buf, size_t len);

// Parses an in-memory checkpoint into `out` (initialized here; freed on failure).
int pth_parse(const uint8_t *buf, size_t len, const char *name, StateDict *out /* OUT */);
int pth_load(const char *path, StateDict *out /* OUT */);

#endif
