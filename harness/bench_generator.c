// bench_generator.c -- `t2ibench bench generator --config bird|coco`: G_NET at the released
// full-size configuration with hash weights, T = the words per caption of summary.json (18 bird,
// 12 coco), no padding, the per-sample mask mode, batch split over --threads threads. Each timed batch is one gnet_forward
// producing every stage's images and attention maps, as PyTorch's G_NET.forward does.
#include "attngan.h"
#include "bench.h"
#include "rng.h"
#include "t2i.h"
#include "weights.h"

#include <stdio.h>
#include <string.h>

int bench_generator(const BenchOpts *o) {
    GNetConfig cfg;
    int T;
    const char *name;
    if (!o->config || strcmp(o->config, "bird") == 0) {
        cfg = gnet_config_bird();
        T = 18;
        name = "generator_bird";
    } else if (strcmp(o->config, "coco") == 0) {
        cfg = gnet_config_coco();
        T = 12;
        name = "generator_coco";
    } else {
        return t2i_error(T2I_EARG, "bench generator: --config must be bird or coco, not '%s'",
                         o->config);
    }
    int B = o->batch > 0 ? o->batch : 8;
    GNet *g = t2i_calloc(1, sizeof *g);
    if (!g) return T2I_ENOMEM;
    int rc = gnet_load(g, &cfg, T2I_HASH_WEIGHTS);
    if (rc) {
        t2i_free(g);
        return rc;
    }
    // --threads T: the batch is split over T threads, each with single-threaded BLAS
    // (gnet_set_threads); this beat BLAS-internal threading by ~1.4x on 2 cores.
    gnet_set_threads(g, o->threads > 0 ? o->threads : 1);
    const int E = cfg.embedding_dim, Z = cfg.z_dim, C = cfg.condition_dim;
    size_t n_in = (size_t)B * (Z + E + (size_t)E * T + C);
    size_t n_out = (size_t)B * 3 * (64 * 64 + 128 * 128 + 256 * 256) +
                   (size_t)B * T * (64 * 64 + 128 * 128) + (size_t)3 * B * C;
    float *in_buf = t2i_malloc(sizeof(float) * n_in), *out_buf = t2i_malloc(sizeof(float) * n_out);
    Arena arena;
    memset(&arena, 0, sizeof arena);
    if (!in_buf || !out_buf) rc = T2I_ENOMEM;
    if (!rc) rc = arena_init(&arena, gnet_arena_bytes(g, B, T));
    if (!rc) {
        Rng r;
        rng_init(&r, 1, 0, RNG_STREAM_Z);
        for (size_t i = 0; i < n_in; i++) in_buf[i] = (float)rng_normal(&r) * 0.3f;
        GNetInputs in = {.z = in_buf, .sent_emb = in_buf + (size_t)B * Z,
                         .words_emb = in_buf + (size_t)B * (Z + E),
                         .eps = in_buf + (size_t)B * (Z + E + (size_t)E * T), .mask = NULL,
                         .mask_mode = ATT_MASK_PER_SAMPLE};
        GNetOutputs out;
        float *p = out_buf;
        for (int s = 0; s < 3; s++) {
            out.img[s] = p;
            p += (size_t)B * 3 * (64 << s) * (64 << s);
        }
        for (int s = 0; s < 2; s++) {
            out.att[s] = p;
            p += (size_t)B * T * (64 << s) * (64 << s);
        }
        out.mu = p;
        out.logvar = p + (size_t)B * C;
        out.c_code = p + (size_t)2 * B * C;
        for (int i = 0; !rc && i < o->warmup; i++) rc = gnet_forward(g, &in, &out, B, T, &arena);
        double t0 = bench_now();
        int iters = o->iters > 0 ? o->iters : 3;
        for (int i = 0; !rc && i < iters; i++) rc = gnet_forward(g, &in, &out, B, T, &arena);
        double secs = bench_now() - t0;
        if (!rc)
            bench_report(o, name, B, B * iters, secs, gnet_macs_per_image(&cfg, T) / 1e9);
    }
    arena_free(&arena);
    t2i_free(in_buf);
    t2i_free(out_buf);
    gnet_free(g);
    t2i_free(g);
    return rc;
}
