// fuzz_pth.c -- libFuzzer entry for torch checkpoints (zip and legacy layouts).
#include "pth.h"
#include "t2i.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    StateDict sd;
    if (pth_parse(data, size, "fuzz.pth", &sd) == T2I_OK) {
        for (int i = 0; i < sd.n; i++) (void)sd_f32(&sd.e[i]);
        sd_free(&sd);
    }
    return 0;
}
