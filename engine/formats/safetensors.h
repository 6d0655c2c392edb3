// safetensors.h -- the safetensors weight format (8-byte little-endian header size, a JSON
// header, then the raw little-endian tensor bytes).
//
// The header is parsed with cJSON under ST_MAX_HEADER bytes; "__metadata__" must map strings to
// strings. Each tensor entry needs exactly "dtype" (F64 F32 F16 BF16 I64 I32 I16 I8 U8 BOOL),
// "shape" (non-negative ints, at most T2I_MAX_DIMS) and "data_offsets" [begin, end] relative to
// the data section, with end - begin == numel * dtype size. Sorted by begin, the tensors must be
// contiguous and non-overlapping, start at 0 and end exactly at the end of the file. Tensors are
// returned in header order. Not supported: other dtypes (F8_*, U16..U64), big-endian data.
#ifndef T2I_SAFETENSORS_H
#define T2I_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "state_dict.h"

#define ST_MAX_HEADER ((size_t)100 << 20)

// True when buf looks like a safetensors file (plausible header size, then '{').
int safetensors_sniff(const uint8_t *buf, size_t len);
int safetensors_parse(const uint8_t *buf, size_t len, const char *name, StateDict *out /* OUT */);
int safetensors_load(const char *path, StateDict *out /* OUT */);

#endif
