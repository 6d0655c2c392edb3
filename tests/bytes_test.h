// bytes_test.h -- a growable byte buffer for tests that build binary inputs (zip, pickle, npy,
// safetensors) by hand: b_put / b_u8 / b_le (little endian, n bytes) / b_s (a C string); an
// exactly-sized copy for parsing (bytes_dup) and a check of the last error message (msg_has).
#ifndef T2I_BYTES_TEST_H
#define T2I_BYTES_TEST_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "t2i.h"

typedef struct {
    uint8_t *p;
    size_t   n, cap;
} Buf;

static inline void b_put(Buf *b, const void *d, size_t n) {
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
        if (!b->p) abort();
    }
    if (n) memcpy(b->p + b->n, d, n);
    b->n += n;
}
static inline void b_u8(Buf *b, uint8_t v) { b_put(b, &v, 1); }
static inline void b_le(Buf *b, uint64_t v, int bytes) {
    for (int i = 0; i < bytes; i++) b_u8(b, (uint8_t)(v >> (8 * i)));
}
static inline void b_s(Buf *b, const char *s) { b_put(b, s, strlen(s)); }

// An exactly-sized heap copy of the first n bytes, so ASan sees a read one past the input
// (n = 0 gets 1 byte that is never part of the input: malloc(0) avoided).
static inline uint8_t *bytes_dup(const uint8_t *p, size_t n) {
    uint8_t *c = malloc(n ? n : 1);
    if (!c) abort();
    if (n) memcpy(c, p, n);
    return c;
}

// The last error message (t2i_errmsg) contains s.
static inline int msg_has(const char *s) { return strstr(t2i_errmsg(), s) != NULL; }

#endif
