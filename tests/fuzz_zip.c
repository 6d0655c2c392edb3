// fuzz_zip.c -- libFuzzer entry for the zip reader (open, find, span, extract with inflate).
#include "t2i.h"
#include "zip.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    Zip z;
    if (zip_open(&z, data, size, "fuzz.zip") != T2I_OK) return 0;
    for (int i = 0; i < z.n && i < 64; i++) {
        const uint8_t *p;
        size_t n;
        (void)zip_span(&z, i, &p, &n);
        uint8_t *x;
        if (z.e[i].usize <= ((size_t)64 << 20) && zip_extract(&z, i, &x, &n) == T2I_OK) t2i_free(x);
        (void)zip_find(&z, z.e[i].name);
    }
    zip_close(&z);
    return 0;
}
