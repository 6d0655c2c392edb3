// arena.c -- see arena.h.
#include "arena.h"
#include "t2i.h"

#include <string.h>

int arena_init(Arena *a, size_t cap) {
    memset(a, 0, sizeof *a);
    a->base = t2i_malloc_aligned(cap ? cap : 64);
    if (!a->base) return T2I_ENOMEM;
    a->cap = cap;
    return T2I_OK;
}

void arena_init_measure(Arena *a) {
    memset(a, 0, sizeof *a);
    a->measuring = 1;
}

void arena_free(Arena *a) {
    if (!a) return;
    t2i_free(a->base);
    memset(a, 0, sizeof *a);
}

void *arena_alloc(Arena *a, size_t bytes) {
    size_t start = (a->used + 63) & ~(size_t)63;
    size_t end = start + ((bytes + 63) & ~(size_t)63);
    T2I_CHECK(end >= start, "arena size overflow");
    a->used = end;
    if (end > a->high) a->high = end;
    if (a->measuring) return NULL;
    T2I_CHECK(end <= a->cap, "arena overflow: need %zu bytes, have %zu (plan too small)", end,
              a->cap);
    return a->base + start;
}

float *arena_floats(Arena *a, size_t n) {
    T2I_CHECK(n <= SIZE_MAX / sizeof(float), "arena request overflow");
    return arena_alloc(a, n * sizeof(float));
}

size_t arena_mark(const Arena *a) { return a->used; }
void   arena_reset_to(Arena *a, size_t mark) { a->used = mark; }
void   arena_reset(Arena *a) { a->used = 0; }
