// npy.h -- NumPy .npy read and write (format versions 1.0, 2.0 and 3.0).
//
// Supported dtypes: <f4 <f8 <f2 <i8 <i4 <i2 |i1 |u1 |b1, C order only. Big-endian data,
// Fortran order, object arrays and structured dtypes are refused with a message naming the
// file and the header offset. The header is parsed as the small Python-literal dict that
// numpy writes ({'descr': ..., 'fortran_order': ..., 'shape': (...), }) and nothing else.
#ifndef T2I_NPY_H
#define T2I_NPY_H

#include <stddef.h>
#include <stdint.h>

#include "tensor.h"

typedef struct {
    DType   dtype;
    int     ndim;
    int64_t shape[T2I_MAX_DIMS];
    size_t  numel;
    void   *data;   // owned, 64-byte aligned; numel * dtype_size(dtype) bytes
} NpyArray;

// Parses an in-memory .npy image; `name` is used in error messages. Copies the data.
int  npy_parse(const uint8_t *buf, size_t len, const char *name, NpyArray *out /* OUT */);
int  npy_load(const char *path, NpyArray *out /* OUT */);
void npy_free(NpyArray *a);   // accepts a zeroed array

// Loads and converts to float32 (any supported dtype); out->dtype becomes DT_F32.
int  npy_load_f32(const char *path, NpyArray *out /* OUT */);

// Serializes to a malloc'd .npy image (format 1.0, or 2.0 when the header needs it).
int  npy_serialize(DType dtype, int ndim, const int64_t *shape, const void *data,
                   uint8_t **buf /* OUT */, size_t *len /* OUT */);
int  npy_save(const char *path, DType dtype, int ndim, const int64_t *shape, const void *data);

#endif
