// rng.h -- counter-based random numbers keyed by (seed, sample id, stream).
//
// DESIGN.md §7: a sample's noise, CA eps, word subset and mismatch draws never come from a
// global sequence, so they do not depend on batch size, threads, resume point or shard.
// Each (seed, sample, stream) triple names an independent stream; draw n of it is
// mix(key, n), where key hashes the triple and mix is the SplitMix64 finalizer applied to
// key + (n+1)*golden (the construction of the hash weights, extended with a key). Normals use
// Box-Muller in double on two uniforms per draw (no cached second value), so the k-th normal
// of a stream is a fixed function of k.
#ifndef T2I_RNG_H
#define T2I_RNG_H

#include <stdint.h>

enum {
    RNG_STREAM_Z        = 1,   // generator noise z
    RNG_STREAM_EPS      = 2,   // CA_NET reparametrization eps
    RNG_STREAM_WORDS    = 3,   // WORDS_NUM word-subset choice
    RNG_STREAM_MISMATCH = 4,   // R-precision mismatched captions
    RNG_STREAM_CAPTION  = 5,   // caption choice per image and pass
    RNG_STREAM_KID      = 6,   // KID subsets
};

typedef struct {
    uint64_t key;
    uint64_t counter;
} Rng;

void     rng_init(Rng *r, uint64_t seed, uint64_t sample, uint64_t stream);
uint64_t rng_u64(Rng *r);
double   rng_uniform(Rng *r);              // [0, 1), 53 random bits
double   rng_normal(Rng *r);               // standard normal (Box-Muller, double)
uint64_t rng_below(Rng *r, uint64_t n);    // uniform in [0, n), unbiased (rejection); n > 0

#endif
