// fuzz_pickle.c -- libFuzzer entry for the pickle VM and the vocabulary reader built on it.
#include "pickle.h"
#include "t2i.h"

#include <stddef.h>
#include <stdint.h>

// Walks the value tree with depth and visit bounds (the memo can make cycles and shared DAGs).
static size_t budget;
static size_t walk(const PkVal *v, int depth) {
    if (!v || depth > 64 || budget == 0) return 0;
    budget--;
    size_t n = 1;
    if (v->kind == PK_CALL) n += walk(v->u.call.args, depth + 1);
    if (v->kind == PK_PERSID) n += walk(v->u.persid, depth + 1);
    for (size_t i = 0; i < pk_len(v) && i < 64; i++)
        n += v->kind == PK_DICT ? walk(pk_key(v, i), depth + 1) + walk(pk_val(v, i), depth + 1)
                                : walk(pk_item(v, i), depth + 1);
    int64_t x;
    (void)pk_as_int(v, &x);
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    Pickle pk;
    if (pickle_parse(data, size, "fuzz.pkl", 0, &pk) == T2I_OK) {
        budget = 100000;
        (void)walk(pk.root, 0);
        pickle_free(&pk);
    }
    return 0;
}
