// fuzz_tf_bundle.c -- libFuzzer entry for TensorFlow V2 bundles. Input: a little-endian u32
// length L, then L bytes of .index (SSTable of BundleHeaderProto / BundleEntryProto), then the
// bytes every data shard is given (the header's shard count, at most 16, all the same buffer).
#include "t2i.h"
#include "tfckpt.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 4) return 0;
    size_t L = (size_t)data[0] | (size_t)data[1] << 8 | (size_t)data[2] << 16 |
               (size_t)data[3] << 24;
    if (L > size - 4) return 0;
    const uint8_t *index = data + 4, *shard = index + L;
    size_t         slen = size - 4 - L;
    int            n = 0;
    if (tf_bundle_num_shards(index, L, "fuzz.index", &n) != T2I_OK || n < 1 || n > 16) return 0;
    const uint8_t *shards[16];
    size_t         lens[16];
    const char    *names[16];
    for (int i = 0; i < n; i++) shards[i] = shard, lens[i] = slen, names[i] = "fuzz.data";
    StateDict sd;
    if (tf_bundle_parse(index, L, "fuzz.index", shards, lens, names, n, &sd) == T2I_OK)
        sd_free(&sd);
    return 0;
}
