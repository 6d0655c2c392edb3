// tensor.h -- dtypes and the plain fp32 Tensor used by the networks.
//
// Tensors are PyTorch-ordered (NCHW or (B,T,E)), contiguous and float32, as STYLE.md §4 asks:
// no strides, no reversed dims, so fixture shapes, checkpoint shapes and code read alike.
#ifndef T2I_TENSOR_H
#define T2I_TENSOR_H

#include <stddef.h>
#include <stdint.h>

#define T2I_MAX_DIMS 8

typedef enum {
    DT_F32 = 0,
    DT_F64,
    DT_F16,
    DT_BF16,
    DT_I64,
    DT_I32,
    DT_I16,
    DT_I8,
    DT_U8,
    DT_BOOL,
} DType;

const char *dtype_name(DType t);   // "float32", "int64", ...
size_t      dtype_size(DType t);   // bytes per element

typedef struct {
    float *data;
    int    ndim;
    int    shape[4];
} Tensor;

static inline size_t tensor_numel(const Tensor *t) {
    size_t n = 1;
    for (int i = 0; i < t->ndim; i++) n *= (size_t)t->shape[i];
    return n;
}

// Product of dims with overflow check; returns 1 on success.
int shape_numel(int ndim, const int64_t *shape, size_t *out /* OUT */);

// Converts n elements of dtype `t` at `src` (little-endian bytes) to float32.
// Integer types convert exactly where representable; f16/bf16 decode exactly.
void dtype_to_f32(float *dst, const void *src, DType t, size_t n);

float f16_to_f32(uint16_t h);

#endif
