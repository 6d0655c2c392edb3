// runner_images.c -- see runner_images.h.
#include "runner_images.h"

#include "image_io.h"
#include "resize.h"
#include "sha256.h"
#include "t2i.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

int images_override_stats(const RunOpts *o, EvalCard *E) {
    struct stat sb;
    if (o->kid_ref && (stat(o->kid_ref, &sb) != 0 || !S_ISREG(sb.st_mode)))
        return t2i_error(T2I_EIO, "--kid-reference %s: %s", o->kid_ref,
                         stat(o->kid_ref, &sb) != 0 ? strerror(errno) : "not a regular file");
    if (o->kid_ref && !E->has_fid)
        return t2i_error(T2I_EARG, "--kid-reference %s: evaluator card %s has no fid section (KID "
                                   "compares its pool3 features)",
                         o->kid_ref, E->path);
    if (!o->fid_stats) return T2I_OK;
    if (stat(o->fid_stats, &sb) != 0 || !S_ISREG(sb.st_mode))
        return t2i_error(T2I_EIO, "--fid-stats %s: %s", o->fid_stats,
                         stat(o->fid_stats, &sb) != 0 ? strerror(errno) : "not a regular file");
    if (!E->has_fid)
        return t2i_error(T2I_EARG, "--fid-stats %s: evaluator card %s has no fid section (no FID "
                                   "Inception to compare with)",
                         o->fid_stats, E->path);
    char *p = t2i_strdup(o->fid_stats);
    if (!p) return t2i_error(T2I_ENOMEM, "out of memory");
    t2i_free(E->fid_stats);
    E->fid_stats = p;
    return T2I_OK;
}

int images_folder_suite(const RunOpts *o, const Protocol *P, int dataset, ImageSet *imgs,
                        Suite *S) {
    int rc = image_set_scan(o->images_dir, o->quiet, imgs);
    if (rc) return rc;
    memset(S, 0, sizeof *S);
    snprintf(S->name, sizeof S->name, "folder");
    snprintf(S->protocol, sizeof S->protocol, "%s", P->name);
    S->dataset = dataset;
    // The protocol's text settings, so that the compatibility checks hold; no caption is read.
    S->words_num = P->words_num[dataset];
    S->truncation = P->truncation;
    S->mismatches = P->mismatches;
    S->mismatch_rule = P->mismatch_rule;
    S->block_size = P->block_size > 0 ? P->block_size : 250;
    S->n = imgs->n;
    S->s = t2i_calloc((size_t)imgs->n, sizeof(SuiteSample));
    S->path = t2i_strdup(o->images_dir);
    if (!S->s || !S->path) return t2i_error(T2I_ENOMEM, "out of memory");
    for (int64_t i = 0; i < imgs->n; i++) S->s[i].id = i;
    return image_set_digest(imgs, S->sha256);
}

int images_load_batch(char *const *paths, int nb, const RunOpts *o, uint8_t **ld, int *ldH,
                      int *ldW, char (*sha)[65]) {
    ImageReadOpts ro = {.max_pixels = o->max_pixels};
    for (int b = 0; b < nb; b++) {
        t2i_free(ld[b]);
        ld[b] = NULL;
        unsigned warn = 0;
        int rc = image_read_rgb_opts(paths[b], &ro, &ld[b], &ldH[b], &ldW[b], &warn);
        if (rc) return rc;
        if (warn && !o->quiet)
            fprintf(stderr, "t2ibench: warning: %s: %s\n", paths[b], image_warn_text(warn));
        sha256_hex(ld[b], (size_t)ldH[b] * ldW[b] * 3, sha[b]);
    }
    return T2I_OK;
}

int images_damsm(DamsmImage *dim, const uint8_t *hwc, int H, int W, DamsmImageOut *out) {
    float *f = t2i_malloc(sizeof(float) * 3 * (size_t)H * W);
    if (!f) return t2i_error(T2I_ENOMEM, "out of memory for a %dx%d image", W, H);
    hwc_u8_to_chw_float(f, hwc, H, W, U8_PM1_127);
    int rc = damsm_image_forward(dim, f, 1, H, W, out);
    t2i_free(f);
    return rc;
}

void images_score_spec_kid(const RunOpts *o, int use_fid, const Provenance *pv, char *path,
                           size_t npath, char sha[65]) {
    path[0] = sha[0] = 0;
    if (!o->kid_ref || !use_fid) return;
    snprintf(path, npath, "%s", o->kid_ref);
    for (int i = 0; pv && i < pv->n; i++)
        if (!strcmp(pv->files[i].role, "evaluators.kid_reference"))
            snprintf(sha, 65, "%s", pv->files[i].sha256);
}
