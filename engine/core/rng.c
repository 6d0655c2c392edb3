// rng.c -- see rng.h.
#include "rng.h"
#include "t2i.h"

#include <math.h>

static uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void rng_init(Rng *r, uint64_t seed, uint64_t sample, uint64_t stream) {
    uint64_t k = mix64(seed + 0x9E3779B97F4A7C15ull);
    k = mix64(k ^ (sample + 0x632BE59BD9B4E019ull));
    k = mix64(k ^ (stream * 0xD1B54A32D192ED03ull + 0x8CB92BA72F3D8DD7ull));
    r->key = k;
    r->counter = 0;
}

uint64_t rng_u64(Rng *r) {
    r->counter++;
    return mix64(r->key + r->counter * 0x9E3779B97F4A7C15ull);
}

double rng_uniform(Rng *r) { return (double)(rng_u64(r) >> 11) * 0x1p-53; }

double rng_normal(Rng *r) {
    double u1 = rng_uniform(r), u2 = rng_uniform(r);
    // 1 - u1 lies in (0, 1], so the log is finite.
    return sqrt(-2.0 * log(1.0 - u1)) * cos(2.0 * 3.14159265358979323846 * u2);
}

uint64_t rng_below(Rng *r, uint64_t n) {
    T2I_CHECK(n > 0, "rng_below(0)");
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;  // accept x < limit: limit is a multiple of n
    for (;;) {
        uint64_t x = rng_u64(r);
        if (x < limit) return x % n;
    }
}
