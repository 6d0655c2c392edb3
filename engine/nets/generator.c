// generator.c -- see generator.h: dispatch to AttnGAN (attngan.h), DM-GAN (dmgan.h) and DF-GAN
// (dfgan.h), and the checks shared by their loaders.
#include "generator.h"
#include "t2i.h"
#include "weights.h"

#include <stdio.h>
#include <string.h>

static const char *const arch_names[GEN_N_ARCH] = {"attngan", "dmgan", "dfgan"};

const char *gen_arch_name(GenArch a) {
    return a >= 0 && a < GEN_N_ARCH ? arch_names[a] : "?";
}

int gen_arch_parse(const char *s, GenArch *out) {
    for (int a = 0; a < GEN_N_ARCH; a++)
        if (strcmp(s, arch_names[a]) == 0) {
            *out = (GenArch)a;
            return T2I_OK;
        }
    return t2i_error(T2I_EARG, "unknown generator architecture '%s' (known: attngan, dmgan, dfgan)",
                     s);
}

int gen_config_released(GenArch arch, const char *dataset, GenConfig *out) {
    int coco = strcmp(dataset, "coco") == 0;
    if (!coco && strcmp(dataset, "bird") != 0 && strcmp(dataset, "cub") != 0)
        return t2i_error(T2I_EARG, "no released configuration for data set '%s' (bird or coco)",
                         dataset);
    memset(out, 0, sizeof *out);
    out->arch = arch;
    switch (arch) {
    case GEN_ATTNGAN: out->u.attngan = coco ? gnet_config_coco() : gnet_config_bird(); break;
    case GEN_DMGAN: out->u.dmgan = coco ? dmgan_config_coco() : dmgan_config_bird(); break;
    case GEN_DFGAN: out->u.dfgan = dfgan_config_bird(); break;   // coco.yml: the same NetG
    default: return t2i_error(T2I_EARG, "unknown generator architecture %d", (int)arch);
    }
    return T2I_OK;
}

int gen_config_check(const GenConfig *c) {
    switch (c->arch) {
    case GEN_ATTNGAN: return gnet_config_check(&c->u.attngan);
    case GEN_DMGAN: return dmgan_config_check(&c->u.dmgan);
    case GEN_DFGAN: return dfgan_config_check(&c->u.dfgan);
    default: return t2i_error(T2I_EARG, "unknown generator architecture %d", (int)c->arch);
    }
}

GenIO gen_io(const GenConfig *c) {
    GenIO io;
    memset(&io, 0, sizeof io);
    if (c->arch == GEN_DFGAN) {
        const DfGanConfig *d = &c->u.dfgan;
        io.needs = GEN_IN_SENT | GEN_IN_Z;
        io.emb_dim = d->cond_dim;
        io.z_dim = d->z_dim;
        io.img_size = d->imsize;
        io.n_stages = 1;
        return io;
    }
    // AttnGAN and DM-GAN share CA_NET, the stage layout and the inputs.
    int emb, z, cond, br;
    if (c->arch == GEN_DMGAN) {
        emb = c->u.dmgan.embedding_dim, z = c->u.dmgan.z_dim;
        cond = c->u.dmgan.condition_dim, br = c->u.dmgan.branch_num;
    } else {
        emb = c->u.attngan.embedding_dim, z = c->u.attngan.z_dim;
        cond = c->u.attngan.condition_dim, br = c->u.attngan.branch_num;
    }
    io.needs = GEN_IN_SENT | GEN_IN_Z | GEN_IN_EPS | (br > 1 ? GEN_IN_WORDS : 0);
    io.emb_dim = emb;
    io.z_dim = z;
    io.eps_dim = cond;
    io.img_size = 64 << (br - 1);
    io.n_stages = br;
    io.n_att = br - 1;
    return io;
}

// ---- what a checkpoint holds ---------------------------------------------------------------

// Telltale keys, most specific first. arch -1: not a generator; -2: AttnGAN or DM-GAN (only the
// shared first stage is present).
static const struct {
    const char *key, *what;
    int         arch;
} signatures[] = {
    {"h_net2.M_w.0.weight", "a DM-GAN G_NET", GEN_DMGAN},
    {"h_net2.att.conv_context.weight", "an AttnGAN G_NET", GEN_ATTNGAN},
    {"GBlocks.0.c1.weight", "a DF-GAN NetG", GEN_DFGAN},
    {"to_rgb.1.weight", "a DF-GAN NetG", GEN_DFGAN},
    {"h_net1.fc.0.weight", "a one-stage AttnGAN/DM-GAN G_NET", -2},
    {"DBlocks.0.conv_r.0.weight", "a DF-GAN discriminator (NetD)", -1},
    {"joint_conv.0.weight", "a DF-GAN conditional head (NetC)", -1},
    {"rnn.weight_ih_l0", "a DAMSM text encoder (RNN_ENCODER)", -1},
    {"Mixed_6e.branch1x1.conv.weight", "an Inception v3 (image encoder or classifier)", -1},
    {"img_discriminator.0.weight", "a discriminator", -1},
};

static int identify(const StateDict *sd) {
    for (size_t i = 0; i < sizeof signatures / sizeof signatures[0]; i++)
        if (sd_find(sd, signatures[i].key)) return (int)i;
    return -1;
}

const char *generator_identify(const StateDict *sd, GenArch *arch) {
    int i = identify(sd);
    if (arch) *arch = (GenArch)(i >= 0 && signatures[i].arch >= 0 ? signatures[i].arch : -1);
    return i >= 0 ? signatures[i].what : NULL;
}

static const char *expected_what(GenArch a) {
    switch (a) {
    case GEN_ATTNGAN: return "an AttnGAN G_NET (keys like h_net2.att.conv_context.weight)";
    case GEN_DMGAN: return "a DM-GAN G_NET (keys like h_net2.M_w.0.weight)";
    default: return "a DF-GAN NetG (keys like GBlocks.0.c1.weight)";
    }
}

// T2I_OK when `sd` may hold the card's architecture; else the "found X, expected Y" error.
static int check_arch(const StateDict *sd, const GenConfig *cfg, const char *spec) {
    int i = identify(sd);
    if (i < 0) return T2I_OK;   // unknown keys: the strict binding lists them
    int a = signatures[i].arch;
    if (a == (int)cfg->arch || (a == -2 && cfg->arch != GEN_DFGAN)) return T2I_OK;
    const char *hint =
        a >= 0 ? "" : " This file is not a generator: give the generator checkpoint.";
    char fix[160] = "";
    if (a >= 0)
        snprintf(fix, sizeof fix,
                 " If the file is right, set \"arch\": \"%s\" and its dimensions in the model card "
                 "(suites/models/README.md).",
                 gen_arch_name((GenArch)a));
    return t2i_error(T2I_ESHAPE,
                     "generator weights %s: found %s (key '%s'), but the model card says arch "
                     "\"%s\", which expects %s.%s%s",
                     spec, signatures[i].what, signatures[i].key, gen_arch_name(cfg->arch),
                     expected_what(cfg->arch), hint, fix);
}

// ---- loading ------------------------------------------------------------------------------

// Allocates the network of cfg->arch into g->net and declares its keys into `bl`.
static int declare_keys(Generator *g, const GenConfig *cfg, BindList *bl) {
    switch (cfg->arch) {
    case GEN_ATTNGAN:
        if (!(g->net.attngan = t2i_calloc(1, sizeof(GNet)))) return T2I_ENOMEM;
        gnet_keys(g->net.attngan, &cfg->u.attngan, bl);
        break;
    case GEN_DMGAN:
        if (!(g->net.dmgan = t2i_calloc(1, sizeof(DmGan)))) return T2I_ENOMEM;
        dmgan_keys(g->net.dmgan, &cfg->u.dmgan, bl);
        break;
    case GEN_DFGAN:
        if (!(g->net.dfgan = t2i_calloc(1, sizeof(DfGan)))) return T2I_ENOMEM;
        dfgan_keys(g->net.dfgan, &cfg->u.dfgan, bl);
        break;
    default: return t2i_error(T2I_EARG, "unknown generator architecture %d", (int)cfg->arch);
    }
    return T2I_OK;
}

// Accepts the layouts whose intent is unambiguous and says so in g->note (one line).
static int accept_layout(Generator *g, StateDict *sd, const char *spec) {
    int dfgan_ckpt = strcmp(sd->container, "['model']['netG']") == 0;
    int n = sd_strip_prefix(sd, "module.");
    if (n < 0) return T2I_ENOMEM;
    char what[192] = "", strip[128] = "";
    if (sd->container[0])
        snprintf(what, sizeof what, "used checkpoint%s%s", sd->container,
                 dfgan_ckpt ? " of a DF-GAN training checkpoint (netD, netC and the optimizer "
                              "states are not needed)"
                            : "");
    if (n > 0)
        snprintf(strip, sizeof strip, "removed the DataParallel prefix 'module.' from all %d "
                                      "keys (as DF-GAN's load_model_weights does)", n);
    if (what[0] || strip[0])
        snprintf(g->note, sizeof g->note, "generator weights %s: %s%s%s", spec, what,
                 what[0] && strip[0] ? "; " : "", strip);
    return T2I_OK;
}

int generator_load(Generator *g, const GenConfig *cfg, const char *spec) {
    memset(g, 0, sizeof *g);
    g->cfg = *cfg;
    int rc = gen_config_check(cfg);
    if (rc) return rc;
    BindList bl;
    bindlist_init(&bl);
    StateDict sd;
    sd_init(&sd);
    rc = declare_keys(g, cfg, &bl);
    if (!rc) rc = weights_load(spec, &bl, &sd);
    if (rc) rc = t2i_error_prefix(rc, "generator weights");   // the message names the file
    bindlist_free(&bl);
    if (!rc) rc = accept_layout(g, &sd, spec);
    if (!rc) rc = check_arch(&sd, cfg, spec);
    if (rc) {
        sd_free(&sd);
        generator_free(g);
        return rc;
    }
    switch (cfg->arch) {   // each takes the StateDict, also on failure
    case GEN_ATTNGAN: rc = gnet_load_sd(g->net.attngan, &cfg->u.attngan, &sd); break;
    case GEN_DMGAN: rc = dmgan_load_sd(g->net.dmgan, &cfg->u.dmgan, &sd, NULL); break;
    default: rc = dfgan_load_sd(g->net.dfgan, &cfg->u.dfgan, &sd, NULL); break;
    }
    if (rc) {
        rc = t2i_error_prefix(rc, "generator weights %s", spec);
        generator_free(g);
    }
    return rc;
}

int generator_share(Generator *dst, const Generator *src) {
    *dst = *src;
    dst->borrowed = 0;
    int rc;
    switch (src->cfg.arch) {   // each gets its own XNNPACK operators over src's weights
    case GEN_ATTNGAN:
        dst->net.attngan = t2i_calloc(1, sizeof(GNet));
        rc = !dst->net.attngan ? T2I_ENOMEM : gnet_share(dst->net.attngan, src->net.attngan);
        break;
    case GEN_DMGAN:
        dst->net.dmgan = t2i_calloc(1, sizeof(DmGan));
        rc = !dst->net.dmgan ? T2I_ENOMEM : dmgan_share(dst->net.dmgan, src->net.dmgan);
        break;
    default:
        dst->net.dfgan = t2i_calloc(1, sizeof(DfGan));
        rc = !dst->net.dfgan ? T2I_ENOMEM : dfgan_share(dst->net.dfgan, src->net.dfgan);
        break;
    }
    if (rc) {
        t2i_free(dst->net.attngan);   // the union's one pointer
        memset(dst, 0, sizeof *dst);
    }
    return rc;
}

void generator_free(Generator *g) {
    if (!g) return;
    if (g->borrowed) {
        memset(g, 0, sizeof *g);
        return;
    }
    switch (g->cfg.arch) {
    case GEN_ATTNGAN: gnet_free(g->net.attngan); break;
    case GEN_DMGAN: dmgan_free(g->net.dmgan); break;
    case GEN_DFGAN: dfgan_free(g->net.dfgan); break;
    default: break;
    }
    t2i_free(g->net.attngan);   // the union's one pointer
    memset(g, 0, sizeof *g);
}

void generator_set_threads(Generator *g, int nth) {
    if (g->cfg.arch == GEN_ATTNGAN && g->net.attngan) gnet_set_threads(g->net.attngan, nth);
    if (g->cfg.arch == GEN_DMGAN && g->net.dmgan) dmgan_set_threads(g->net.dmgan, nth);
    if (g->cfg.arch == GEN_DFGAN && g->net.dfgan) dfgan_set_threads(g->net.dfgan, nth);
}

size_t generator_arena_bytes(const Generator *g, int B, int T) {
    switch (g->cfg.arch) {
    case GEN_ATTNGAN: return gnet_arena_bytes(g->net.attngan, B, T);
    case GEN_DMGAN: return dmgan_arena_bytes(g->net.dmgan, B, T);
    default: return dfgan_arena_bytes(g->net.dfgan, B);
    }
}

int generator_forward(const Generator *g, const GenInputs *in, GenOutputs *out, int B, int T,
                      Arena *arena) {
    int last = gen_io(&g->cfg).n_stages - 1;
    switch (g->cfg.arch) {
    case GEN_ATTNGAN: {
        GNetInputs gi = {.z = in->z, .sent_emb = in->sent_emb, .words_emb = in->words_emb,
                         .mask = in->mask, .eps = in->eps, .mask_mode = in->mask_mode};
        GNetOutputs go = {.att = {out->att[0], out->att[1]}, .mu = out->mu,
                          .logvar = out->logvar, .c_code = out->c_code};
        for (int s = 0; s < last; s++) go.img[s] = out->stage_img[s];
        go.img[last] = out->img;
        return gnet_forward(g->net.attngan, &gi, &go, B, T, arena);
    }
    case GEN_DMGAN: {
        DmGanInputs di = {.z = in->z, .sent_emb = in->sent_emb, .words_emb = in->words_emb,
                          .mask = in->mask, .eps = in->eps, .mask_mode = in->mask_mode};
        DmGanOutputs dout;
        memset(&dout, 0, sizeof dout);
        dout.att[0] = out->att[0];
        dout.att[1] = out->att[1];
        dout.mu = out->mu;
        dout.logvar = out->logvar;
        dout.c_code = out->c_code;
        for (int s = 0; s < last; s++) dout.img[s] = out->stage_img[s];
        dout.img[last] = out->img;
        return dmgan_forward(g->net.dmgan, &di, &dout, B, T, arena);
    }
    default: {
        DfGanOutputs fo;
        memset(&fo, 0, sizeof fo);
        fo.img = out->img;
        return dfgan_forward(g->net.dfgan, in->z, in->sent_emb, &fo, B, arena);
    }
    }
}

double generator_macs_per_image(const GenConfig *c, int T) {
    switch (c->arch) {
    case GEN_ATTNGAN: return gnet_macs_per_image(&c->u.attngan, T);
    case GEN_DMGAN: return dmgan_macs_per_image(&c->u.dmgan, T);
    default: return dfgan_macs_per_image(&c->u.dfgan);
    }
}
