// arena.h -- bump allocator for activations (STYLE.md §5b).
//
// One arena per forward pass: sized once before the first batch (a dry run with a counting
// arena, or an explicit plan), reset after each batch, never grown inside forward. Every
// allocation is 64-byte aligned. A measuring arena (cap 0, base NULL) only counts, so a network
// can run its allocation sequence once to learn the size it needs.
#ifndef T2I_ARENA_H
#define T2I_ARENA_H

#include <stddef.h>

typedef struct {
    char  *base;
    size_t cap, used, high;   // high-water mark over the arena's life
    int    measuring;
} Arena;

int    arena_init(Arena *a, size_t cap);   // T2I_ENOMEM on failure
void   arena_init_measure(Arena *a);       // counts only; arena_alloc returns NULL
void   arena_free(Arena *a);               // accepts a zeroed arena
// n floats, 64-byte aligned; aborts (T2I_CHECK) when a sized arena overflows: sizing is a
// programming invariant, checked by the plan.
float *arena_floats(Arena *a, size_t n);
void  *arena_alloc(Arena *a, size_t bytes);
size_t arena_mark(const Arena *a);
void   arena_reset_to(Arena *a, size_t mark);
void   arena_reset(Arena *a);

#endif
