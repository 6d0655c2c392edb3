// sha256.h -- SHA-256 (FIPS 180-4) for checkpoint and fixture fingerprints.
#ifndef T2I_SHA256_H
#define T2I_SHA256_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint32_t h[8];
    uint64_t nbytes;
    uint8_t  buf[64];
    size_t   nbuf;
} Sha256;

void sha256_init(Sha256 *s);
void sha256_update(Sha256 *s, const void *data, size_t n);
void sha256_final(Sha256 *s, uint8_t digest[32] /* OUT */);
// Lowercase hex digest of a buffer / of a whole file (streamed; T2I_EIO on failure).
void sha256_hex(const void *data, size_t n, char hex[65] /* OUT */);
int  sha256_file(const char *path, char hex[65] /* OUT */);

#endif
