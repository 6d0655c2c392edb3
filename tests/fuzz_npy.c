// fuzz_npy.c -- libFuzzer entry for .npy (npy_parse) and .npz (zip + inflate + npy) readers.
// The first byte picks the reader so one corpus covers both.
#include "npz.h"
#include "t2i.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size >= 4 && data[0] == 'P' && data[1] == 'K') {
        Npz z;
        if (npz_parse(data, size, "fuzz.npz", &z) == T2I_OK) {
            for (int i = 0; i < z.n; i++) (void)npz_get(&z, z.names[i]);
            npz_free(&z);
        }
    } else {
        NpyArray a;
        if (npy_parse(data, size, "fuzz.npy", &a) == T2I_OK) npy_free(&a);
    }
    return 0;
}
