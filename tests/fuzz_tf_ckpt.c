// fuzz_tf_ckpt.c -- libFuzzer entry for TensorFlow V1 checkpoints: the SSTable reader (footer,
// block handles, CRC, prefix-compressed entries) and the SavedTensorSlices protobuf inside.
#include "t2i.h"
#include "tfckpt.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    StateDict sd;
    (void)tf_sniff(data, size);
    if (tf_ckpt_v1_parse(data, size, "fuzz.ckpt", &sd) == T2I_OK) sd_free(&sd);
    return 0;
}
