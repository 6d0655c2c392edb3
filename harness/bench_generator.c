// bench_generator.c -- `t2ibench bench generator [--arch attngan|dmgan|dfgan] --config bird|coco`:
// the generator at its released full-size configuration with hash weights, through the
// generator interface (generator.h). T = the words per caption of summary.json (18 bird, 12
// coco), no padding, the per-sample mask mode. Each timed batch is one generator_forward
// producing every stage's images and attention maps, as the PyTorch forward does. --threads
// splits the batch over threads where the network supports it (AttnGAN, DM-GAN, DF-GAN; one
// image runs every layer on a pool of T threads). MACs per image come from
// ../shared/reference/summary.json.
#include "bench.h"
#include "generator.h"
#include "rng.h"
#include "t2i.h"
#include "weights.h"

#include <stdio.h>
#include <string.h>

int bench_generator(const BenchOpts *o) {
    GenArch arch = GEN_ATTNGAN;
    const char *config = o->config ? o->config : "bird";
    if (o->arch && gen_arch_parse(o->arch, &arch))
        return t2i_error_prefix(T2I_EARG, "bench generator: --arch");
    GenConfig cfg;
    int rc = gen_config_released(arch, config, &cfg);
    if (rc) return t2i_error_prefix(rc, "bench generator: --config");
    int coco = strcmp(config, "coco") == 0, T = coco ? 12 : 18;
    // summary.json keys and bench names
    static const char *const keys[GEN_N_ARCH][2] = {{"G_NET_bird", "G_NET_coco"},
                                                    {"DMGAN_G_NET_bird", "DMGAN_G_NET_coco"},
                                                    {"DFGAN_NetG_bird", "DFGAN_NetG_coco"}};
    static const char *const names[GEN_N_ARCH][2] = {{"generator_bird", "generator_coco"},
                                                     {"dmgan_bird", "dmgan_coco"},
                                                     {"dfgan_bird", "dfgan_coco"}};
    int B = o->batch > 0 ? o->batch : 8;
    Generator g;
    rc = generator_load(&g, &cfg, T2I_HASH_WEIGHTS);
    if (rc) return rc;
    // --threads T: AttnGAN, DM-GAN and DF-GAN split the batch over T threads, each with single-threaded
    // BLAS; this beat BLAS-internal threading by ~1.4x on 2 cores.
    generator_set_threads(&g, o->threads > 0 ? o->threads : 1);
    GenIO io = gen_io(&cfg);
    const int E = io.emb_dim, Z = io.z_dim, C = io.eps_dim, S = io.img_size;
    size_t n_in = (size_t)B * (Z + E + (size_t)E * T + C);
    size_t n_out = (size_t)B * 3 * (64 * 64 + 128 * 128 + (size_t)S * S) +
                   (size_t)B * T * (64 * 64 + 128 * 128) + (size_t)3 * B * C;
    float *in_buf = t2i_malloc(sizeof(float) * n_in), *out_buf = t2i_malloc(sizeof(float) * n_out);
    Arena arena;
    memset(&arena, 0, sizeof arena);
    if (!in_buf || !out_buf) rc = T2I_ENOMEM;
    if (!rc) rc = arena_init(&arena, generator_arena_bytes(&g, B, T));
    if (!rc) {
        Rng r;
        rng_init(&r, 1, 0, RNG_STREAM_Z);
        for (size_t i = 0; i < n_in; i++) in_buf[i] = (float)rng_normal(&r) * 0.3f;
        GenInputs in = {.z = in_buf, .sent_emb = in_buf + (size_t)B * Z,
                        .words_emb = in_buf + (size_t)B * (Z + E),
                        .eps = in_buf + (size_t)B * (Z + E + (size_t)E * T), .mask = NULL,
                        .mask_mode = ATT_MASK_PER_SAMPLE};
        GenOutputs out;
        memset(&out, 0, sizeof out);
        float *p = out_buf;
        out.img = p;
        p += (size_t)B * 3 * S * S;
        for (int s = 0; s + 1 < io.n_stages; s++) {
            out.stage_img[s] = p;
            p += (size_t)B * 3 * (64 << s) * (64 << s);
        }
        for (int s = 0; s < io.n_att; s++) {
            out.att[s] = p;
            p += (size_t)B * T * (64 << s) * (64 << s);
        }
        if (C) {
            out.mu = p;
            out.logvar = p + (size_t)B * C;
            out.c_code = p + (size_t)2 * B * C;
        }
        for (int i = 0; !rc && i < o->warmup; i++)
            rc = generator_forward(&g, &in, &out, B, T, &arena);
        bench_convs_begin();
        double t0 = bench_now();
        int iters = o->iters > 0 ? o->iters : 3;
        for (int i = 0; !rc && i < iters; i++) rc = generator_forward(&g, &in, &out, B, T, &arena);
        double secs = bench_now() - t0;
        double gmac = bench_gmacs(keys[arch][coco], "gmacs_per_image",
                                  generator_macs_per_image(&cfg, T) / 1e9);
        if (!rc) bench_report(o, names[arch][coco], B, B * iters, secs, gmac);
    }
    arena_free(&arena);
    t2i_free(in_buf);
    t2i_free(out_buf);
    generator_free(&g);
    return rc;
}
