// image_set.c -- see image_set.h.
#include "image_set.h"

#include "image_io.h"
#include "protocol.h"
#include "sha256.h"
#include "t2i.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SCAN_MAX_DEPTH 64
#define SCAN_REPORT_MAX 20   // skipped entries listed one by one, then only counted

void image_set_free(ImageSet *s) {
    for (int64_t i = 0; s->path && i < s->n; i++) t2i_free(s->path[i]);
    t2i_free(s->path);
    memset(s, 0, sizeof *s);
}

static int set_push(ImageSet *s, int64_t *cap, const char *p) {
    if (s->n == *cap) {
        int64_t nc = *cap ? *cap * 2 : 256;
        char **np = t2i_realloc(s->path, sizeof(char *) * (size_t)nc);
        if (!np) return t2i_error(T2I_ENOMEM, "out of memory listing images");
        s->path = np;
        *cap = nc;
    }
    if (!(s->path[s->n] = t2i_strdup(p)))
        return t2i_error(T2I_ENOMEM, "out of memory listing images");
    s->n++;
    return T2I_OK;
}

typedef struct {
    ImageSet *s;
    int64_t   cap;
    int       quiet;
    dev_t     dev[SCAN_MAX_DEPTH];
    ino_t     ino[SCAN_MAX_DEPTH];
} Scan;

static void skip(Scan *sc, const char *path, const char *why) {
    if (!sc->quiet && sc->s->n_skipped < SCAN_REPORT_MAX)
        fprintf(stderr, "t2ibench: skipped %s: %s\n", path, why);
    sc->s->n_skipped++;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

// Is the regular file at `path` an image (by its first bytes)? Returns 1/0, or -1 with errno.
static int looks_like_image(const char *path, ImageFormat *fmt) {
    int fd = open(path, O_RDONLY | O_NONBLOCK);
    if (fd < 0) return -1;
    uint8_t b[16];
    ssize_t k = read(fd, b, sizeof b);
    int e = errno;
    close(fd);
    if (k < 0) {
        errno = e;
        return -1;
    }
    *fmt = image_sniff(b, (size_t)k);
    return *fmt != IMG_NONE && *fmt != IMG_GIF;
}

static int scan_dir(Scan *sc, const char *dir, int depth) {
    DIR *d = opendir(dir);
    if (!d) {
        if (depth == 0)
            return t2i_error(T2I_EIO, "%s: cannot read the folder: %s", dir, strerror(errno));
        skip(sc, dir, strerror(errno));
        return T2I_OK;
    }
    char **names = NULL;
    size_t nn = 0, cap = 0;
    int rc = T2I_OK;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        if (nn == cap) {
            size_t nc = cap ? cap * 2 : 64;
            char **np = t2i_realloc(names, sizeof(char *) * nc);
            if (!np) {
                rc = t2i_error(T2I_ENOMEM, "out of memory listing %s", dir);
                break;
            }
            names = np;
            cap = nc;
        }
        if (!(names[nn] = t2i_strdup(e->d_name))) {
            rc = t2i_error(T2I_ENOMEM, "out of memory listing %s", dir);
            break;
        }
        nn++;
    }
    closedir(d);
    if (!rc) qsort(names, nn, sizeof(char *), cmp_str);
    // Sorted by full path: within a folder, names sort bytewise and a sub-folder's files sort
    // under its name, which is the order of the sorted relative paths as long as no name holds
    // a byte below '/' (we sort the final list again to be exact).
    for (size_t i = 0; i < nn && !rc; i++) {
        size_t len = strlen(dir) + strlen(names[i]) + 2;
        char *p = t2i_malloc(len);
        if (!p) {
            rc = t2i_error(T2I_ENOMEM, "out of memory listing %s", dir);
            break;
        }
        snprintf(p, len, "%s%s%s", dir, dir[strlen(dir) - 1] == '/' ? "" : "/", names[i]);
        struct stat sb;
        if (stat(p, &sb) != 0) {
            skip(sc, p, errno == ELOOP ? "symlink loop" : errno == ENOENT ? "broken symlink"
                                                                          : strerror(errno));
        } else if (S_ISDIR(sb.st_mode)) {
            int loop = 0;
            for (int k = 0; k <= depth && k < SCAN_MAX_DEPTH; k++)
                if (sc->dev[k] == sb.st_dev && sc->ino[k] == sb.st_ino) loop = 1;
            if (loop) skip(sc, p, "symlink loop (a folder that contains itself)");
            else if (depth + 1 >= SCAN_MAX_DEPTH) skip(sc, p, "folders nested too deep");
            else {
                sc->dev[depth + 1] = sb.st_dev;
                sc->ino[depth + 1] = sb.st_ino;
                rc = scan_dir(sc, p, depth + 1);
            }
        } else if (!S_ISREG(sb.st_mode)) {
            skip(sc, p, "not a regular file");
        } else {
            ImageFormat f = IMG_NONE;
            int im = looks_like_image(p, &f);
            if (im < 0) skip(sc, p, strerror(errno));
            else if (!im)
                skip(sc, p, f == IMG_GIF ? "GIF is not supported"
                                         : "not an image (PNG, JPEG, BMP, PPM/PGM, TIFF or WebP "
                                           "by its first bytes)");
            else rc = set_push(sc->s, &sc->cap, p);
        }
        t2i_free(p);
    }
    for (size_t i = 0; i < nn; i++) t2i_free(names[i]);
    t2i_free(names);
    return rc;
}

static int check_folder(const char *dir) {
    struct stat sb;
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return t2i_error(T2I_EIO, "%s: not a folder", dir);
    return T2I_OK;
}

int image_set_scan(const char *dir, int quiet, ImageSet *out) {
    memset(out, 0, sizeof *out);
    struct stat sb;
    if (check_folder(dir) || stat(dir, &sb) != 0) return T2I_EIO;
    Scan sc;
    memset(&sc, 0, sizeof sc);
    sc.s = out;
    sc.quiet = quiet;
    sc.dev[0] = sb.st_dev;
    sc.ino[0] = sb.st_ino;
    int rc = scan_dir(&sc, dir, 0);
    if (!rc) qsort(out->path, (size_t)out->n, sizeof(char *), cmp_str);
    if (!rc && out->n_skipped)   // said even with -q: a skipped file is never silent
        fprintf(stderr, "t2ibench: %s: %lld image%s, %lld entr%s skipped (%s)\n", dir,
                (long long)out->n, out->n == 1 ? "" : "s", (long long)out->n_skipped,
                out->n_skipped == 1 ? "y" : "ies",
                quiet ? "run without -q to list them"
                      : out->n_skipped > SCAN_REPORT_MAX ? "the first 20 listed above"
                                                         : "all listed above");
    if (!rc && out->n == 0) rc = t2i_error(T2I_EARG, "%s: no image found (PNG, JPEG, BMP, PPM/PGM, "
                                                      "TIFF or WebP, in any sub-folder)",
                                           dir);
    if (rc) image_set_free(out);
    return rc;
}

static int by_id_one(const char *dir, int64_t id, char *buf, size_t n) {
    static const char *const fmts[] = {"%s/%lld.png", "%s/%06lld.png", "%s/%lld.jpg",
                                       "%s/%06lld.jpg", "%s/%lld.jpeg", NULL};
    char cand[4096];
    int found = 0;
    for (int i = 0; fmts[i]; i++) {
        snprintf(cand, sizeof cand, fmts[i], dir, (long long)id);
        struct stat lsb;   // lstat: a symlink loop or a broken link is still "there" (and named)
        if (lstat(cand, &lsb) != 0 || (found && strcmp(cand, buf) == 0)) continue;
        if (found)   // two files for one sample (0.png and 000000.png, or .png and .jpg)
            return t2i_error(T2I_EARG, "%s and %s are both images of sample %lld: keep one", buf,
                             cand, (long long)id);
        snprintf(buf, n, "%s", cand);
        found = 1;
    }
    if (found) return T2I_OK;
    return t2i_error(T2I_EIO, "%s: no image for sample %lld (expected %lld.png, %06lld.png or "
                              ".jpg; or give --mapping FILE.tsv for another layout)",
                     dir, (long long)id, (long long)id, (long long)id);
}

int image_set_by_id(const char *dir, int64_t n, ImageSet *out) {
    memset(out, 0, sizeof *out);
    if (check_folder(dir)) return T2I_EIO;
    int64_t cap = 0;
    char buf[4096];
    for (int64_t i = 0; i < n; i++) {
        int rc = by_id_one(dir, i, buf, sizeof buf);
        if (!rc) rc = set_push(out, &cap, buf);
        if (rc) {
            image_set_free(out);
            return rc;
        }
    }
    return T2I_OK;
}

int image_set_mapping(const char *tsv, const char *dir, int64_t n_suite, int64_t n, ImageSet *out) {
    memset(out, 0, sizeof *out);
    if (check_folder(dir)) return T2I_EIO;
    uint8_t *data = NULL;
    size_t len = 0;
    int rc = t2i_read_file(tsv, &data, &len);
    if (rc) return t2i_error_prefix(rc, "--mapping %s", tsv);
    int64_t *line_of = t2i_calloc((size_t)(n > 0 ? n : 1), sizeof(int64_t));
    out->path = t2i_calloc((size_t)(n > 0 ? n : 1), sizeof(char *));
    if (!line_of || !out->path) {
        rc = t2i_error(T2I_ENOMEM, "out of memory reading %s", tsv);
        goto done;
    }
    out->n = n;
    size_t pos = 0;
    int64_t lineno = 0;
    while (pos < len && !rc) {
        size_t end = pos;
        while (end < len && data[end] != '\n') end++;
        lineno++;
        char line[4096 + 64];
        size_t ll = end - pos;
        if (ll && data[pos + ll - 1] == '\r') ll--;
        if (ll >= sizeof line) {
            rc = t2i_error(T2I_EFORMAT, "%s:%lld: line too long", tsv, (long long)lineno);
            break;
        }
        memcpy(line, data + pos, ll);
        line[ll] = 0;
        pos = end + 1;
        if (!ll || line[0] == '#') continue;
        if (memchr(line, 0, ll)) {
            rc = t2i_error(T2I_EFORMAT, "%s:%lld: NUL byte", tsv, (long long)lineno);
            break;
        }
        char *tab = strrchr(line, '\t');
        if (lineno == 1 && tab && !strcmp(tab + 1, "sample_id")) continue;   // header
        char *endp = NULL;
        errno = 0;
        long long id = tab ? strtoll(tab + 1, &endp, 10) : -1;
        if (!tab || tab == line || endp == tab + 1 || *endp || errno) {
            rc = t2i_error(T2I_EFORMAT, "%s:%lld: expected PATH<TAB>SAMPLE_ID, got \"%s\"", tsv,
                           (long long)lineno, line);
            break;
        }
        *tab = 0;
        if (id < 0 || id >= n_suite) {
            rc = t2i_error(T2I_EARG, "%s:%lld: sample id %lld is not in the suite (0..%lld)", tsv,
                           (long long)lineno, id, (long long)n_suite - 1);
            break;
        }
        if (id >= n) continue;   // beyond --limit
        if (out->path[id]) {
            rc = t2i_error(T2I_EARG, "%s:%lld: sample %lld already has an image (line %lld: %s)",
                           tsv, (long long)lineno, id, (long long)line_of[id], out->path[id]);
            break;
        }
        size_t pl = strlen(dir) + strlen(line) + 2;
        if (!(out->path[id] = t2i_malloc(pl))) {
            rc = t2i_error(T2I_ENOMEM, "out of memory reading %s", tsv);
            break;
        }
        if (line[0] == '/') snprintf(out->path[id], pl, "%s", line);
        else snprintf(out->path[id], pl, "%s/%s", dir, line);
        line_of[id] = lineno;
        struct stat sb;
        if (stat(out->path[id], &sb) != 0 || !S_ISREG(sb.st_mode))
            rc = t2i_error(T2I_EIO, "%s:%lld: %s: %s", tsv, (long long)lineno, out->path[id],
                           stat(out->path[id], &sb) != 0 ? strerror(errno) : "not a regular file");
    }
    for (int64_t i = 0; i < n && !rc; i++)
        if (!out->path[i])
            rc = t2i_error(T2I_EARG, "%s: no line for sample %lld (each of the %lld samples of the "
                                     "run needs one PATH<TAB>SAMPLE_ID line)",
                           tsv, (long long)i, (long long)n);
done:
    t2i_free(data);
    t2i_free(line_of);
    if (rc) image_set_free(out);
    return rc;
}

int image_set_digest(const ImageSet *s, char hex[65]) {
    Sha256 h;
    sha256_init(&h);
    for (int64_t i = 0; i < s->n; i++) {
        char d[65];
        int rc = sha256_file(s->path[i], d);
        if (rc) return rc;
        sha256_update(&h, d, 64);
    }
    uint8_t dg[32];
    sha256_final(&h, dg);
    for (int i = 0; i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", dg[i]);
    return T2I_OK;
}

int image_set_check(const ImageSet *s, long long max_pixels) {
    ImageReadOpts o = {.max_pixels = max_pixels};
    for (int64_t i = 0; i < s->n; i++) {
        int rc = image_check_file(s->path[i], &o);
        if (rc) return rc;
    }
    return T2I_OK;
}

int image_to_input(const uint8_t *hwc, int H, int W, int kind, U8Map map, int OH, int OW,
                   float *out) {
    if (kind == RESIZE_BILINEAR_PIL) {
        uint8_t *u = t2i_malloc((size_t)OH * OW * 3);
        void *scratch = t2i_malloc(resize_pil_scratch_bytes(H, W, 3, OH, OW) + 64);
        if (!u || !scratch) {
            t2i_free(u);
            t2i_free(scratch);
            return t2i_error(T2I_ENOMEM, "out of memory resizing a %dx%d image", W, H);
        }
        resize_bilinear_pil_u8(u, hwc, H, W, 3, OH, OW, scratch);
        hwc_u8_to_chw_float(out, u, OH, OW, map);
        t2i_free(u);
        t2i_free(scratch);
        return T2I_OK;
    }
    float *f = t2i_malloc(sizeof(float) * 3 * (size_t)H * W);
    if (!f) return t2i_error(T2I_ENOMEM, "out of memory for a %dx%d image", W, H);
    hwc_u8_to_chw_float(f, hwc, H, W, map);
    if (kind == RESIZE_BILINEAR_TF1) resize_bilinear_tf1(out, f, 3, H, W, OH, OW);
    else resize_bilinear_torch(out, f, 3, H, W, OH, OW, kind == RESIZE_BILINEAR_AC);
    t2i_free(f);
    return T2I_OK;
}
