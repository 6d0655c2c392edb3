// tensor.c -- see tensor.h.
#include "tensor.h"
#include "t2i.h"

#include <string.h>

const char *dtype_name(DType t) {
    switch (t) {
    case DT_F32: return "float32";
    case DT_F64: return "float64";
    case DT_F16: return "float16";
    case DT_BF16: return "bfloat16";
    case DT_I64: return "int64";
    case DT_I32: return "int32";
    case DT_I16: return "int16";
    case DT_I8: return "int8";
    case DT_U8: return "uint8";
    case DT_BOOL: return "bool";
    }
    return "?";
}

size_t dtype_size(DType t) {
    switch (t) {
    case DT_F64: case DT_I64: return 8;
    case DT_F32: case DT_I32: return 4;
    case DT_F16: case DT_BF16: case DT_I16: return 2;
    case DT_I8: case DT_U8: case DT_BOOL: return 1;
    }
    return 0;
}

int shape_numel(int ndim, const int64_t *shape, size_t *out) {
    size_t n = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0) return 0;
        if (!t2i_mul_size(n, (size_t)shape[i], &n)) return 0;
    }
    *out = n;
    return 1;
}

float f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h >> 15) << 31;
    uint32_t exp = (h >> 10) & 0x1f;
    uint32_t man = h & 0x3ff;
    uint32_t bits;
    if (exp == 0) {
        if (man == 0) {
            bits = sign;
        } else {  // subnormal: renormalize
            int e = -1;
            do { e++; man <<= 1; } while (!(man & 0x400));
            bits = sign | ((uint32_t)(127 - 15 - e) << 23) | ((man & 0x3ff) << 13);
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | (man << 13);
    } else {
        bits = sign | ((exp + 127 - 15) << 23) | (man << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

void dtype_to_f32(float *dst, const void *src, DType t, size_t n) {
    const uint8_t *s = src;
    for (size_t i = 0; i < n; i++) {
        switch (t) {
        case DT_F32: { float v; memcpy(&v, s + 4 * i, 4); dst[i] = v; break; }
        case DT_F64: { double v; memcpy(&v, s + 8 * i, 8); dst[i] = (float)v; break; }
        case DT_F16: { uint16_t v; memcpy(&v, s + 2 * i, 2); dst[i] = f16_to_f32(v); break; }
        case DT_BF16: {
            uint16_t v; memcpy(&v, s + 2 * i, 2);
            uint32_t bits = (uint32_t)v << 16; float f; memcpy(&f, &bits, 4); dst[i] = f; break;
        }
        case DT_I64: { int64_t v; memcpy(&v, s + 8 * i, 8); dst[i] = (float)v; break; }
        case DT_I32: { int32_t v; memcpy(&v, s + 4 * i, 4); dst[i] = (float)v; break; }
        case DT_I16: { int16_t v; memcpy(&v, s + 2 * i, 2); dst[i] = (float)v; break; }
        case DT_I8: dst[i] = (float)(int8_t)s[i]; break;
        case DT_U8: dst[i] = (float)s[i]; break;
        case DT_BOOL: dst[i] = s[i] ? 1.0f : 0.0f; break;
        }
    }
}
