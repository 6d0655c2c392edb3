// cmd_fid_dir.c -- `t2ibench fid-stats DIR --protocol P --evaluators CARD --out FILE.npz`:
// FID reference statistics straight from a folder of real images, in one command.
//
// Every image under DIR (image_set_scan: recursive, sorted, non-images listed) goes from its own
// size to the FID Inception's 299x299 input with the protocol's FID resize kernel, exactly as in
// `eval-images`; pool3 features are computed by --threads workers (one network each) into a
// table indexed by image, then accumulated in path order, so the statistics do not depend on the
// thread count. --flip adds each image's horizontal mirror (DF-GAN's CUB reference statistics
// augment the test images; the output says "flip-augmented").
#include "args.h"
#include "cli.h"
#include "evaluators.h"
#include "fid.h"
#include "image_io.h"
#include "image_set.h"
#include "npy.h"
#include "protocol.h"
#include "runner_images.h"
#include "stats.h"
#include "t2i.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define FID_DIM 2048
#define FID_MAX_WORKERS 64

typedef struct {
    const ImageSet *imgs;
    const Protocol *P;
    Inception      *net;
    U8Map           map;
    long long       max_pixels;
    int             flip, quiet;
    float          *feat;    // (n * (1 + flip), 2048)
    float          *x299;    // (3, 299, 299)
    _Atomic int64_t *next;
    _Atomic int     *stop;
    int             rc;
    char            err[1024];
} FidJob;

static int one_image(FidJob *j, int64_t i) {
    uint8_t *px = NULL;
    int H = 0, W = 0;
    unsigned warn = 0;
    ImageReadOpts ro = {.max_pixels = j->max_pixels};
    int rc = image_read_rgb_opts(j->imgs->path[i], &ro, &px, &H, &W, &warn);
    if (rc) return rc;
    if (warn && !j->quiet)
        fprintf(stderr, "t2ibench: warning: %s: %s\n", j->imgs->path[i], image_warn_text(warn));
    for (int v = 0; v <= j->flip && !rc; v++) {
        if (v)   // mirror each row in place
            for (int y = 0; y < H; y++)
                for (int x = 0; x < W / 2; x++)
                    for (int c = 0; c < 3; c++) {
                        uint8_t *a = px + ((size_t)y * W + x) * 3 + c;
                        uint8_t *b = px + ((size_t)y * W + (W - 1 - x)) * 3 + c;
                        uint8_t t = *a;
                        *a = *b, *b = t;
                    }
        rc = image_to_input(px, H, W, j->P->fid_resize, j->map, 299, 299, j->x299);
        InceptionOut io;
        memset(&io, 0, sizeof io);
        io.pool3 = j->feat + (size_t)(i * (1 + j->flip) + v) * FID_DIM;
        if (!rc) rc = inception_forward(j->net, j->x299, 1, &io);
    }
    t2i_free(px);
    return rc;
}

static void *fid_worker(void *arg) {
    FidJob *j = arg;
    for (;;) {
        if (atomic_load(j->stop)) break;
        int64_t i = atomic_fetch_add(j->next, 1);
        if (i >= j->imgs->n) break;
        if ((j->rc = one_image(j, i))) {
            snprintf(j->err, sizeof j->err, "%s", t2i_errmsg());
            atomic_store(j->stop, 1);
            break;
        }
    }
    return NULL;
}

const char fid_dir_usage[] =
        "t2ibench fid-stats DIR --protocol P --evaluators CARD --out FILE.npz\n"
        "                   [--features FILE.npy] [--threads T] [--max-pixels N] [--flip] [-q]\n"
        "  DIR: mu and sigma of the FID Inception's pool3 features over every image under DIR\n"
        "  (sub-folders too, sorted by path; any size, PNG/JPEG/BMP/PPM/PGM/TIFF/WebP), each\n"
        "  resized straight to 299x299 with the protocol's FID kernel, as eval-images does.\n"
        "  --features FILE.npy  also write the (N, 2048) features (the --kid-reference of run and\n"
        "          eval-images)\n"
        "  --flip  also the horizontal mirror of each image (flip-augmented statistics)\n"
        "  --threads T     workers (default 2)\n"
        "  --max-pixels N  refuse larger images (checked from the file header; default\n"
        "                  100000000)\n"
        "  -q      no per-file messages (skipped files, per-image warnings)";

int cmd_fid_stats_dir(const char *dir, Args *a) {
    const char *usage = fid_dir_usage;
    const char *proto = args_str(a, "--protocol", NULL), *ev = args_str(a, "--evaluators", NULL);
    const char *out = args_str(a, "--out", NULL), *feat_out = args_str(a, "--features", NULL);
    long threads = args_long(a, "--threads", 2), max_pixels = args_long(a, "--max-pixels", 0);
    int flip = args_flag(a, "--flip"), quiet = args_flag(a, "-q") | args_flag(a, "--quiet");
    char *pos[2];
    if (args_rest(a, pos, 2) != 1) return cli_usage("fid-stats", usage);
    if (!proto || !ev || !out) {
        t2i_error(T2I_EARG, "fid-stats DIR needs --protocol, --evaluators and --out");
        return cli_usage("fid-stats", usage);
    }
    if (threads < 1 || threads > FID_MAX_WORKERS || max_pixels < 0) {
        t2i_error(T2I_EARG, "--threads must be 1..%d and --max-pixels >= 1", FID_MAX_WORKERS);
        return cli_usage("fid-stats", usage);
    }
    Protocol P;
    EvalCard E;
    ImageSet imgs;
    memset(&P, 0, sizeof P);
    memset(&E, 0, sizeof E);
    memset(&imgs, 0, sizeof imgs);
    FidJob jobs[FID_MAX_WORKERS];
    memset(jobs, 0, sizeof jobs);
    float *feat = NULL;
    MeanCov mc;
    memset(&mc, 0, sizeof mc);
    int nw = (int)threads, rc;
    if ((rc = protocol_load(proto, &P)) || (rc = evalcard_load(ev, &E))) goto done;
    if (!E.has_fid) {
        rc = t2i_error(T2I_EARG, "evaluator card %s has no fid section (no FID Inception)", E.path);
        goto done;
    }
    if ((rc = image_set_scan(dir, quiet, &imgs)) || (rc = image_set_check(&imgs, max_pixels)))
        goto done;
    int64_t rows = imgs.n * (1 + flip);
    feat = t2i_malloc(sizeof(float) * (size_t)rows * FID_DIM);
    if (!feat) {
        rc = t2i_error(T2I_ENOMEM, "out of memory for %lld feature rows", (long long)rows);
        goto done;
    }
    if (nw > imgs.n) nw = (int)imgs.n;
    _Atomic int64_t next;
    _Atomic int stop;
    atomic_init(&next, 0);
    atomic_init(&stop, 0);
    for (int k = 0; k < nw && !rc; k++) {
        jobs[k] = (FidJob){.imgs = &imgs, .P = &P, .max_pixels = max_pixels, .flip = flip,
                           .quiet = quiet, .feat = feat, .next = &next, .stop = &stop};
        jobs[k].x299 = t2i_malloc(sizeof(float) * 3 * 299 * 299);
        if (!jobs[k].x299) rc = t2i_error(T2I_ENOMEM, "out of memory");
        else rc = runner_fid_net(&P, &E, &jobs[k].net, &jobs[k].map);
    }
    if (rc) goto done;
    pthread_t tid[FID_MAX_WORKERS];
    int started[FID_MAX_WORKERS] = {0};
    for (int k = 1; k < nw; k++)
        started[k] = pthread_create(&tid[k], NULL, fid_worker, &jobs[k]) == 0;
    fid_worker(&jobs[0]);
    for (int k = 1; k < nw; k++)
        if (started[k]) pthread_join(tid[k], NULL);
    for (int k = 0; k < nw && !rc; k++)
        if (jobs[k].rc) rc = t2i_error(jobs[k].rc, "%s", jobs[k].err);
    if (!rc && atomic_load(&next) < imgs.n) {   // a worker thread could not start: finish here
        atomic_store(&stop, 0);
        fid_worker(&jobs[0]);
        if (jobs[0].rc) rc = t2i_error(jobs[0].rc, "%s", jobs[0].err);
    }
    if (rc) goto done;
    if (rows < 2) {
        rc =
            t2i_error(T2I_EARG, "%s: %lld image; statistics need at least 2", dir, (long long)rows);
        goto done;
    }
    FidStats fs;
    memset(&fs, 0, sizeof fs);
    if (!(rc = meancov_init(&mc, FID_DIM, 0)) && !(rc = meancov_add(&mc, feat, DT_F32, rows)) &&
        !(rc = fid_stats_from_meancov(&mc, &fs)))
        rc = fid_stats_save(out, &fs);
    fid_stats_free(&fs);
    int64_t shape[2] = {rows, FID_DIM};
    if (!rc && feat_out && !(rc = npy_save(feat_out, DT_F32, 2, shape, feat)))
        printf("wrote %s: features (%lld, 2048)\n", feat_out, (long long)rows);
    if (!rc)
        printf("wrote %s: mu (2048), sigma (2048, 2048) from %lld images%s of %s (protocol %s, "
               "FID resize %s, evaluators %s)%s\n",
               out, (long long)imgs.n, flip ? " and their mirrors (flip-augmented)" : "", dir,
               P.name, resize_names[P.fid_resize], E.name,
               rows < FID_DIM ? "; fewer rows than 2048: sigma is singular" : "");
done:
    for (int k = 0; k < nw; k++) {
        inception_free(jobs[k].net);
        t2i_free(jobs[k].x299);
    }
    meancov_free(&mc);
    t2i_free(feat);
    image_set_free(&imgs);
    evalcard_free(&E);
    protocol_free(&P);
    return rc ? cli_fail("fid-stats", rc) : EXIT_OK;
}
