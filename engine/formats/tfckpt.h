// tfckpt.h -- TensorFlow weight files read without TensorFlow, into a StateDict keyed by the TF
// variable (or node) names, in TF layouts (conv kernels HWIO [kh,kw,in,out], dense [in,out]).
//
// * V2 checkpoints ("bundles", TF >= 0.12): PREFIX.index is an SSTable (sstable.h) whose "" key
//   holds a BundleHeaderProto {num_shards 1, endianness 2, version 3} and every other key a
//   BundleEntryProto {dtype 1, shape 2, shard_id 3, offset 4, size 5, crc32c 6 (fixed32, masked
//   as LevelDB masks), slices 7}; the bytes are in PREFIX.data-SSSSS-of-NNNNN. Every tensor's
//   CRC-32C is checked.
// * V1 checkpoints (one file, TF <= 0.11, e.g. StackGAN's inception_finetuned_models/.../
//   model.ckpt): an SSTable of SavedTensorSlices. The "" key holds the meta {tensor 1: repeated
//   SavedSliceMeta {name 1, shape 2, type 3, slice 4}}; every other key a SavedSlice {name 1,
//   slice 2 (TensorSliceProto {extent 1: {start 1, length 2}}), data 3 (TensorProto)}. Slices are
//   assembled into the full tensor and must cover it.
// * GraphDef .pb (e.g. classify_image_graph_def.pb): the value attribute of every Const node
//   (NodeDef {name 1, op 2, attr 5}, AttrValue {tensor 8}).
// TensorProto {dtype 1, tensor_shape 2, tensor_content 4, float_val 5, double_val 6, int_val 7,
// int64_val 10, bool_val 11, half_val 13}: values from tensor_content or the typed field (packed
// or not; fewer values than elements repeat the last, as TF's MakeNdarray does).
// Numeric dtypes only (float, double, half, bfloat16, int8/16/32/64, uint8, bool); tensors of
// other dtypes (strings, resources) are skipped, and their count is reported by tf_skipped().
// Not supported: partitioned variables in V2 bundles (entries with slices), big-endian bundles.
#ifndef T2I_TFCKPT_H
#define T2I_TFCKPT_H

#include "state_dict.h"

#include <stddef.h>
#include <stdint.h>

// Kind of a TF weight file by content: 0 none, 1 V1 checkpoint, 2 V2 index, 3 GraphDef.
enum { TF_NONE = 0, TF_CKPT_V1 = 1, TF_CKPT_V2 = 2, TF_GRAPHDEF = 3 };
int tf_sniff(const uint8_t *buf, size_t len);
// Kind of an SSTable (V1 or V2) from its first entry; errors (bad table, compressed blocks, no
// header entry) name the file.
int tf_table_kind(const uint8_t *buf, size_t len, const char *name, int *kind /* OUT */);
const char *tf_kind_name(int kind);

// V1 checkpoint file in memory.
int tf_ckpt_v1_parse(const uint8_t *buf, size_t len, const char *name, StateDict *out /* OUT */);

// V2: the shard count of an index (its header).
int tf_bundle_num_shards(const uint8_t *index, size_t len, const char *name, int *n /* OUT */);
// V2: every entry of `index`, data from shards[i] (length lens[i], file name names[i]).
int tf_bundle_parse(const uint8_t *index, size_t len, const char *name,
                    const uint8_t *const *shards, const size_t *lens, const char *const *names,
                    int nshards, StateDict *out /* OUT */);
// V2 from files: `path` is the .index file or the prefix; reads PREFIX.data-* beside it.
int tf_bundle_load(const char *path, StateDict *out /* OUT */);
// SHA-256 of a V2 bundle (`path` = .index or prefix): of the index's and each shard's digest.
int tf_bundle_sha256(const char *path, char hex[65] /* OUT */);
// 1 when `path` is a V2 prefix (PATH.index exists) rather than a file.
int tf_is_bundle_prefix(const char *path);

// GraphDef .pb in memory: every Const node's tensor.
int tf_graphdef_parse(const uint8_t *buf, size_t len, const char *name, StateDict *out /* OUT */);

// Tensors skipped (non-numeric dtype) by the last parse on this thread.
int tf_skipped(void);

#endif
