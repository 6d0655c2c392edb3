// fuzz_harness.c -- libFuzzer target for the harness's strict text parsers: protocol JSON,
// caption tables (TSV), exported runs (check --baseline FILE). The first input byte picks the
// parser; the rest is the document. Files go to a per-process temp path (the parsers read files).
#include "protocol.h"
#include "results.h"
#include "suite.h"
#include "t2i.h"

#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    int which = data[0] % 3;
    data++;
    size--;
    if (which == 0) {
        Protocol p;
        if (protocol_parse("fuzz.json", (const char *)data, size, &p) == T2I_OK) protocol_free(&p);
        return 0;
    }
    char path[64];
    snprintf(path, sizeof path, "/tmp/fuzz_harness_%d.in", (int)getpid());
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    fwrite(data, 1, size, f);
    fclose(f);
    if (which == 1) {
        CaptionTable t;
        if (caption_table_load(path, &t) == T2I_OK) caption_table_free(&t);
    } else {
        ResRun r;
        if (res_load_json(path, &r) == T2I_OK) res_free(&r);
    }
    unlink(path);
    return 0;
}
