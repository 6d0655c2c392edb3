// testdata.h -- deterministic random test data, one implementation for every test file.
//
//   static uint64_t rng_state = 0x243f6a8885a308d3ULL;   // this file's own seed
//   float *x = rand_buf_from(&rng_state, n, 0.5f), *y = nan_buf(n);   ...   t2i_free(x);
//
// The generator is a 64-bit LCG (Knuth's MMIX constants); its state belongs to the caller, so
// each test file keeps its own seed and its data (and the expected results derived from them)
// do not depend on which other files share these helpers. The values are multiples of 2^-23 in
// [-1, 1), the same bits on every platform.
#ifndef T2I_TESTDATA_H
#define T2I_TESTDATA_H

#include "t2i.h"
#include "test.h"

#include <stddef.h>
#include <stdint.h>

// The next value of the stream `state`, uniform in [-1, 1).
static inline float frand_from(uint64_t *state) {
    *state = *state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (float)((int32_t)(*state >> 40) - (1 << 23)) * 0x1p-23f;
}

// n values of the stream times `scale`, 64-byte aligned; release with t2i_free.
static inline float *rand_buf_from(uint64_t *state, size_t n, float scale) {
    float *p = t2i_malloc_aligned((n ? n : 1) * sizeof(float));
    for (size_t i = 0; i < n; i++) p[i] = frand_from(state) * scale;
    return p;
}

// n floats poisoned with NaN (outputs are filled with it before each kernel call), 64-byte
// aligned; release with t2i_free.
static inline float *nan_buf(size_t n) {
    float *p = t2i_malloc_aligned((n ? n : 1) * sizeof(float));
    test_poison(p, n);
    return p;
}

#endif
