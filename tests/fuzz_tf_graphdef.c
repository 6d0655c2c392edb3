// fuzz_tf_graphdef.c -- libFuzzer entry for TensorFlow GraphDef .pb files (NodeDef, AttrValue,
// TensorProto with tensor_content or typed, packed or unpacked values).
#include "t2i.h"
#include "tfckpt.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    StateDict sd;
    (void)tf_sniff(data, size);
    if (tf_graphdef_parse(data, size, "fuzz.pb", &sd) == T2I_OK) sd_free(&sd);
    return 0;
}
