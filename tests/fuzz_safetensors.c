// fuzz_safetensors.c -- libFuzzer entry for the safetensors reader (cJSON header + layout checks).
#include "safetensors.h"
#include "t2i.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    StateDict sd;
    if (safetensors_parse(data, size, "fuzz.safetensors", &sd) == T2I_OK) sd_free(&sd);
    return 0;
}
