// suite.c -- caption tables, suite freeze and strict suite loading (see suite.h).
#include "suite.h"

#include "jsonx.h"
#include "rng.h"
#include "sha256.h"
#include "t2i.h"
#include "tokenizer.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SUITE_MAGIC "t2ibench-suite/1"
#define SUITE_COLUMNS "#sample\timage_key\tclass_id\timage_idx\tcaption_id\tcap_idx\tnoise_seed" \
                      "\tntok\twords\tmismatch\tcaption"

char *caption_unescape(const char *s, size_t n) {
    char *o = t2i_malloc(n + 1);
    if (!o) return NULL;
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\\' && i + 1 < n) {
            char c = s[++i];
            o[j++] = c == 't' ? '\t' : c == 'n' ? '\n' : c == 'r' ? '\r' : c;
        } else {
            o[j++] = s[i];
        }
    }
    o[j] = 0;
    return o;
}

static void escape_to(FILE *f, const char *s) {
    for (; *s; s++) {
        if (*s == '\\') fputs("\\\\", f);
        else if (*s == '\t') fputs("\\t", f);
        else if (*s == '\n') fputs("\\n", f);
        else if (*s == '\r') fputs("\\r", f);
        else fputc(*s, f);
    }
}

// ---- small line/field reader ---------------------------------------------------------------

typedef struct {
    char       *p, *end;
    long        line;
    const char *file;
} Lines;

// Next line (NUL-terminated in place, without the LF); NULL at the end.
static char *next_line(Lines *L, size_t *len) {
    if (L->p >= L->end) return NULL;
    char *s = L->p;
    char *nl = memchr(s, '\n', (size_t)(L->end - s));
    char *e = nl ? nl : L->end;
    *e = 0;
    L->p = nl ? nl + 1 : L->end;
    L->line++;
    *len = (size_t)(e - s);
    return s;
}

// Splits a line on TAB into at most max fields; returns the count.
static int split_tabs(char *s, char **f, int max) {
    int n = 0;
    f[n++] = s;
    for (char *p = s; *p; p++) {
        if (*p == '\t') {
            *p = 0;
            if (n == max) return max + 1;
            f[n++] = p + 1;
        }
    }
    return n;
}

// Plain decimal only (t2i_parse_u64), with a '-' for negative values: "07", "+7", "-0" and
// " 7" are refused, so that each value has one spelling in a file identified by its digest.
static int parse_i64(const char *s, int64_t lo, int64_t hi, int64_t *out) {
    int neg = s[0] == '-';
    uint64_t m;
    if (!t2i_parse_u64(s + neg, &m) || (neg && m == 0) || m > (uint64_t)INT64_MAX + neg)
        return 0;
    int64_t v = !neg ? (int64_t)m : m == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)m;
    if (v < lo || v > hi) return 0;
    *out = v;
    return 1;
}

// ---- caption tables ------------------------------------------------------------------------

void caption_table_free(CaptionTable *t) {
    if (!t) return;
    if (t->caption)
        for (int64_t i = 0; i < t->n_rows; i++) t2i_free(t->caption[i]);
    if (t->image_key)
        for (int32_t i = 0; i < t->n_images; i++) t2i_free(t->image_key[i]);
    t2i_free(t->image_slot);
    t2i_free(t->cap_idx);
    t2i_free(t->caption);
    t2i_free(t->image_idx);
    t2i_free(t->class_id);
    t2i_free(t->image_key);
    t2i_free(t->first);
    t2i_free(t->rows_of);
    t2i_free(t->path);
    memset(t, 0, sizeof *t);
}

static int caption_table_load_1(const char *path, CaptionTable *t) {
    memset(t, 0, sizeof *t);
    uint8_t *data = NULL;
    size_t len = 0;
    int32_t *slot_of = NULL;
    int rc = t2i_read_file(path, &data, &len);
    if (rc) return rc;
    sha256_hex(data, len, t->sha256);
    t->path = t2i_strdup(path);
    Lines L = {(char *)data, (char *)data + len, 0, path};
    size_t ll;
    char *hdr = next_line(&L, &ll);
    char *f[16];
    int col_img = -1, col_key = -1, col_cls = -1, col_cap = -1, col_txt = -1;
    int nf = hdr ? split_tabs(hdr, f, 15) : 0;
    if (nf > 15) {
        rc = t2i_error(T2I_EFORMAT, "%s:1: 16 columns, at most 15 are read", path);
        goto fail;
    }
    for (int i = 0; i < nf; i++) {
        if (!strcmp(f[i], "image_idx") || !strcmp(f[i], "attngan_test_idx")) col_img = i;
        else if (!strcmp(f[i], "image_key")) col_key = i;
        else if (!strcmp(f[i], "class_id")) col_cls = i;
        else if (!strcmp(f[i], "cap_idx")) col_cap = i;
        else if (!strcmp(f[i], "caption")) col_txt = i;
    }
    if (col_img < 0 || col_key < 0 || col_cls < 0 || col_cap < 0 || col_txt < 0) {
        rc = t2i_error(T2I_EFORMAT,
                       "%s:1: header must name the columns image_idx (or attngan_test_idx), "
                       "image_key, class_id, cap_idx, caption",
                       path);
        goto fail;
    }
    int64_t cap = 0;
    for (char *p = L.p; p < L.end; p++) cap += *p == '\n';
    cap += 1;
    t->image_slot = t2i_calloc((size_t)cap, sizeof(int32_t));
    t->cap_idx = t2i_calloc((size_t)cap, sizeof(int32_t));
    t->caption = t2i_calloc((size_t)cap, sizeof(char *));
    t->image_idx = t2i_calloc((size_t)cap, sizeof(int32_t));
    t->class_id = t2i_calloc((size_t)cap, sizeof(int32_t));
    t->image_key = t2i_calloc((size_t)cap, sizeof(char *));
    int32_t max_idx = 1 << 24;
    // image index -> slot, grown on demand (image indices are dense in practice).
    size_t slot_cap = (size_t)cap + 1;
    slot_of = t2i_malloc(sizeof(int32_t) * slot_cap);
    if (!t->image_slot || !t->cap_idx || !t->caption || !t->image_idx || !t->class_id ||
        !t->image_key || !slot_of) {
        rc = T2I_ENOMEM;
        goto fail;
    }
    memset(slot_of, 0xff, sizeof(int32_t) * slot_cap);
    char *s;
    while ((s = next_line(&L, &ll))) {
        if (ll == 0 && L.p >= L.end) break;   // trailing newline
        int n = split_tabs(s, f, 15);
        if (n != nf) {
            rc = t2i_error(T2I_EFORMAT, "%s:%ld: %d fields, the header has %d", path, L.line,
                           n > 15 ? 16 : n, nf);
            goto fail;
        }
        int64_t img, cls, ci;
        if (!parse_i64(f[col_img], 0, max_idx - 1, &img) ||
            !parse_i64(f[col_cls], INT32_MIN, INT32_MAX, &cls) ||
            !parse_i64(f[col_cap], 0, 1000, &ci)) {
            rc = t2i_error(T2I_EFORMAT, "%s:%ld: bad image index, class id or cap_idx", path,
                           L.line);
            goto fail;
        }
        if ((size_t)img >= slot_cap) {
            size_t nc = slot_cap;
            while (nc <= (size_t)img) nc *= 2;
            int32_t *ns = t2i_realloc(slot_of, sizeof(int32_t) * nc);
            if (!ns) {
                rc = T2I_ENOMEM;
                goto fail;
            }
            memset(ns + slot_cap, 0xff, sizeof(int32_t) * (nc - slot_cap));
            slot_of = ns;
            slot_cap = nc;
        }
        int32_t sl = slot_of[img];
        if (sl < 0) {
            sl = slot_of[img] = t->n_images++;
            t->image_idx[sl] = (int32_t)img;
            t->class_id[sl] = (int32_t)cls;
            t->image_key[sl] = t2i_strdup(f[col_key]);
            if (!t->image_key[sl]) {
                rc = T2I_ENOMEM;
                goto fail;
            }
        } else if (t->class_id[sl] != cls || strcmp(t->image_key[sl], f[col_key]) != 0) {
            rc = t2i_error(T2I_EFORMAT, "%s:%ld: image %lld appears with another key or class",
                           path, L.line, (long long)img);
            goto fail;
        }
        int64_t r = t->n_rows++;
        t->image_slot[r] = sl;
        t->cap_idx[r] = (int32_t)ci;
        t->caption[r] = caption_unescape(f[col_txt], strlen(f[col_txt]));
        if (!t->caption[r]) {
            rc = T2I_ENOMEM;
            goto fail;
        }
    }
    if (t->n_rows == 0) {
        rc = t2i_error(T2I_EFORMAT, "%s: no caption rows", path);
        goto fail;
    }
    t->first = t2i_calloc((size_t)t->n_images + 1, sizeof(int32_t));
    t->rows_of = t2i_malloc(sizeof(int32_t) * (size_t)t->n_rows);
    if (!t->first || !t->rows_of) {
        rc = T2I_ENOMEM;
        goto fail;
    }
    for (int64_t r = 0; r < t->n_rows; r++) t->first[t->image_slot[r] + 1]++;
    for (int32_t i = 0; i < t->n_images; i++) t->first[i + 1] += t->first[i];
    {
        int32_t *fill = slot_of;   // reuse as cursor
        for (int32_t i = 0; i < t->n_images; i++) fill[i] = t->first[i];
        for (int64_t r = 0; r < t->n_rows; r++) t->rows_of[fill[t->image_slot[r]]++] = (int32_t)r;
    }
    t2i_free(slot_of);
    t2i_free(data);
    return T2I_OK;
fail:
    t2i_free(slot_of);
    t2i_free(data);
    caption_table_free(t);
    return rc;
}

int caption_table_load(const char *path, CaptionTable *t) {
    t2i_error_clear();
    return t2i_error_name_file(caption_table_load_1(path, t), path);
}

// ---- randomness shared by freeze and load ---------------------------------------------------

void suite_draw_mismatch(const CaptionTable *t, uint64_t seed, int64_t sample, int32_t image_slot,
                         int rule, int m, int32_t *out) {
    Rng r;
    rng_init(&r, seed, (uint64_t)sample, RNG_STREAM_MISMATCH);
    int32_t cls = t->class_id[image_slot];
    for (int k = 0; k < m; k++) {
        int32_t img;
        for (;;) {
            img = (int32_t)rng_below(&r, (uint64_t)t->n_images);
            if (rule == MISMATCH_OTHER_CLASS ? t->class_id[img] != cls : img != image_slot) break;
        }
        int32_t nc = t->first[img + 1] - t->first[img];
        out[k] = t->rows_of[t->first[img] + (int32_t)rng_below(&r, (uint64_t)nc)];
    }
}

// suite_draw_mismatch() loops until it finds an eligible image: make sure one exists (a table
// of one class, or of one image, has none), else it would never return.
static int mismatch_possible(const CaptionTable *t, int rule, int m, const char *where) {
    if (m <= 0) return T2I_OK;
    if (rule == MISMATCH_OTHER_CLASS) {
        for (int32_t i = 1; i < t->n_images; i++)
            if (t->class_id[i] != t->class_id[0]) return T2I_OK;
        return t2i_error(T2I_EARG, "%s: every image of the caption table is of class %d: no "
                                   "other-class caption for the %d mismatches", where,
                         t->n_images ? t->class_id[0] : -1, m);
    }
    if (t->n_images < 2)
        return t2i_error(T2I_EARG, "%s: the caption table has %d image(s): no other-image caption "
                                   "for the %d mismatches", where, t->n_images, m);
    return T2I_OK;
}

// Kept token positions of a caption with ntok tokens (n_words = 0 when not truncated).
static int draw_words(uint64_t seed, int64_t sample, int ntok, int words_num, int rule,
                      int32_t *pos /* (words_num) */, int *n_words) {
    *n_words = 0;
    if (ntok <= words_num) return T2I_OK;
    int64_t *p = t2i_malloc(sizeof(int64_t) * (size_t)ntok);
    if (!p) return T2I_ENOMEM;
    for (int i = 0; i < ntok; i++) p[i] = i;
    Rng r;
    rng_init(&r, seed, (uint64_t)sample, RNG_STREAM_WORDS);
    int n = caption_truncate(p, ntok, words_num, (TruncRule)rule, &r);
    for (int i = 0; i < n; i++) pos[i] = (int32_t)p[i];
    *n_words = n;
    t2i_free(p);
    return T2I_OK;
}

static void mismatch_hash(const Suite *s, char hex[65]) {
    // sha256 over the ids as uint32 little endian, sample-major.
    size_t n = (size_t)s->n * (size_t)s->mismatches;
    uint8_t *b = t2i_malloc(n * 4 + 1);
    if (!b) {
        memset(hex, '0', 64);
        hex[64] = 0;
        return;
    }
    size_t o = 0;
    for (int64_t i = 0; i < s->n; i++)
        for (int k = 0; k < s->mismatches; k++) {
            uint32_t v = (uint32_t)s->s[i].mismatch[k];
            b[o++] = (uint8_t)v;
            b[o++] = (uint8_t)(v >> 8);
            b[o++] = (uint8_t)(v >> 16);
            b[o++] = (uint8_t)(v >> 24);
        }
    sha256_hex(b, o, hex);
    t2i_free(b);
}

// ---- freeze ---------------------------------------------------------------------------------

static const char *const trunc_names[] = {"random-subset", "head", NULL};
static const char *const mrule_names[] = {"other-class", "other-image", NULL};
static const char *const storage_names[] = {"inline", "derived", NULL};

int suite_freeze(const FreezeOpts *o, const char *out_path, int64_t *n_samples) {
    const Protocol *P = o->protocol;
    CaptionTable t;
    Suite s;
    memset(&s, 0, sizeof s);
    int rc = caption_table_load(o->captions_open, &t);
    if (rc) return rc;
    int32_t *imgs = NULL;
    FILE *f = NULL;
    char *tmp = NULL;
    int words_num = P->words_num[o->dataset];
    // Image subset: all, or n_images evenly spaced ones (i * N / n).
    int32_t n_img = t.n_images;
    if (o->n_images > 0 && o->n_images < n_img) n_img = (int32_t)o->n_images;
    imgs = t2i_malloc(sizeof(int32_t) * (size_t)n_img);
    if (!imgs) {
        rc = T2I_ENOMEM;
        goto done;
    }
    for (int32_t i = 0; i < n_img; i++)
        imgs[i] = (int32_t)((int64_t)i * t.n_images / n_img);
    // Sample count.
    int64_t avail = P->caption_choice == CAPTION_ALL ? 0 : (int64_t)P->passes * n_img;
    if (P->caption_choice == CAPTION_ALL)
        for (int32_t i = 0; i < n_img; i++) avail += t.first[imgs[i] + 1] - t.first[imgs[i]];
    int64_t n = P->images > 0 && P->images < avail ? P->images : avail;
    if (o->limit > 0 && o->limit < n) n = o->limit;
    s.n = n;
    s.mismatches = P->mismatches;
    s.s = t2i_calloc((size_t)n, sizeof(SuiteSample));
    if (!s.s) {
        rc = T2I_ENOMEM;
        goto done;
    }
    {
        int64_t k = 0;
        if (P->caption_choice == CAPTION_ALL) {
            for (int32_t i = 0; i < n_img && k < n; i++)
                for (int32_t c = t.first[imgs[i]]; c < t.first[imgs[i] + 1] && k < n; c++, k++) {
                    s.s[k].image_slot = imgs[i];
                    s.s[k].caption_id = t.rows_of[c];
                }
        } else {
            for (int p = 0; p < P->passes && k < n; p++)
                for (int32_t i = 0; i < n_img && k < n; i++, k++) {
                    int32_t sl = imgs[i];
                    int32_t nc = t.first[sl + 1] - t.first[sl];
                    int32_t c = 0;
                    if (P->caption_choice == CAPTION_RANDOM_PER_PASS) {
                        Rng r;
                        rng_init(&r, o->seed, (uint64_t)k, RNG_STREAM_CAPTION);
                        c = (int32_t)rng_below(&r, (uint64_t)nc);
                    }
                    s.s[k].image_slot = sl;
                    s.s[k].caption_id = t.rows_of[t.first[sl] + c];
                }
        }
    }
    for (int64_t k = 0; k < n; k++) {
        SuiteSample *x = &s.s[k];
        x->id = k;
        x->mismatch = t2i_malloc(sizeof(int32_t) * (size_t)(P->mismatches ? P->mismatches : 1));
        x->words = t2i_malloc(sizeof(int32_t) * (size_t)words_num);
        if (!x->mismatch || !x->words) {
            rc = T2I_ENOMEM;
            goto done;
        }
        int64_t *ids = NULL;
        int ntok = 0;
        if ((rc = tokenize_caption(o->vocab, t.caption[x->caption_id], &ids, &ntok))) goto done;
        t2i_free(ids);
        if (ntok == 0) {
            rc = t2i_error(T2I_EARG, "%s: caption row %d (\"%s\") has no word in the vocabulary",
                           o->captions_open, x->caption_id, t.caption[x->caption_id]);
            goto done;
        }
        x->ntok = ntok;
        if ((rc = draw_words(o->seed, k, ntok, words_num, P->truncation, x->words, &x->n_words)))
            goto done;
        if ((rc = mismatch_possible(&t, P->mismatch_rule, P->mismatches, o->captions_open)))
            goto done;
        suite_draw_mismatch(&t, o->seed, k, x->image_slot, P->mismatch_rule, P->mismatches,
                            x->mismatch);
    }
    mismatch_hash(&s, s.mismatch_sha256);
    // Write to a temporary file, then rename (a failed freeze leaves no half suite).
    size_t tl = strlen(out_path) + 8;
    tmp = t2i_malloc(tl);
    if (!tmp) {
        rc = T2I_ENOMEM;
        goto done;
    }
    snprintf(tmp, tl, "%s.tmp", out_path);
    f = fopen(tmp, "wb");
    if (!f) {
        rc = t2i_error(T2I_EIO, "%s: cannot create: %s", tmp, strerror(errno));
        goto done;
    }
    {
        cJSON *h = cJSON_CreateObject();
        char seed[24], ps[65];
        snprintf(seed, sizeof seed, "%" PRIu64, o->seed);
        snprintf(ps, sizeof ps, "%s", P->sha256);
        cJSON_AddStringToObject(h, "name", o->name);
        cJSON_AddStringToObject(h, "dataset", dataset_names[o->dataset]);
        cJSON_AddStringToObject(h, "protocol", P->name);
        cJSON_AddStringToObject(h, "protocol_sha256", ps);
        cJSON_AddStringToObject(h, "captions", o->captions);
        cJSON_AddStringToObject(h, "captions_sha256", t.sha256);
        cJSON_AddStringToObject(h, "vocab_sha256", o->vocab_sha256);
        cJSON_AddStringToObject(h, "seed", seed);
        cJSON_AddNumberToObject(h, "words_num", words_num);
        cJSON_AddStringToObject(h, "truncation", trunc_names[P->truncation]);
        cJSON_AddNumberToObject(h, "mismatches", P->mismatches);
        cJSON_AddStringToObject(h, "mismatch_rule", mrule_names[P->mismatch_rule]);
        cJSON_AddStringToObject(h, "mismatch_storage", storage_names[o->derived ? 1 : 0]);
        cJSON_AddStringToObject(h, "mismatch_sha256", s.mismatch_sha256);
        cJSON_AddNumberToObject(h, "block_size", o->block_size > 0 ? o->block_size : P->block_size);
        cJSON_AddNumberToObject(h, "samples", (double)n);
        char *js = cJSON_PrintUnformatted(h);
        cJSON_Delete(h);
        if (!js) {
            rc = T2I_ENOMEM;
            goto done;
        }
        fprintf(f, "%s\n%s\n%s\n", SUITE_MAGIC, js, SUITE_COLUMNS);
        cJSON_free(js);
    }
    for (int64_t k = 0; k < n; k++) {
        const SuiteSample *x = &s.s[k];
        int32_t sl = x->image_slot;
        fprintf(f, "%" PRId64 "\t%s\t%d\t%d\t%d\t%d\t%" PRIu64 "\t%d\t", k, t.image_key[sl],
                t.class_id[sl], t.image_idx[sl], x->caption_id, t.cap_idx[x->caption_id],
                o->seed, x->ntok);
        if (x->n_words == 0) fputc('-', f);
        for (int i = 0; i < x->n_words; i++) fprintf(f, i ? ",%d" : "%d", x->words[i]);
        fputc('\t', f);
        if (o->derived || P->mismatches == 0) fputc(o->derived ? '*' : '-', f);
        else
            for (int i = 0; i < P->mismatches; i++) fprintf(f, i ? ",%d" : "%d", x->mismatch[i]);
        fputc('\t', f);
        escape_to(f, t.caption[x->caption_id]);
        fputc('\n', f);
    }
    int werr = ferror(f);   // an earlier failed write (full disk) may not show in fclose
    if (fclose(f) != 0 || werr) {
        f = NULL;
        rc = t2i_error(T2I_EIO, "%s: write failed: %s", tmp, strerror(errno));
        goto done;
    }
    f = NULL;
    if (rename(tmp, out_path) != 0) {
        rc = t2i_error(T2I_EIO, "%s: cannot rename to %s: %s", tmp, out_path, strerror(errno));
        goto done;
    }
    *n_samples = n;
done:
    if (f) fclose(f);
    if (rc && tmp) remove(tmp);
    t2i_free(tmp);
    t2i_free(imgs);
    if (s.s)
        for (int64_t k = 0; k < s.n; k++) {
            t2i_free(s.s[k].mismatch);
            t2i_free(s.s[k].words);
        }
    t2i_free(s.s);
    caption_table_free(&t);
    return rc;
}

// ---- load ----------------------------------------------------------------------------------

void suite_free(Suite *s) {
    if (!s) return;
    if (s->s)
        for (int64_t i = 0; i < s->n; i++) {
            t2i_free(s->s[i].image_key);
            t2i_free(s->s[i].words);
            t2i_free(s->s[i].mismatch);
            t2i_free(s->s[i].caption);
        }
    t2i_free(s->s);
    t2i_free(s->path);
    t2i_free(s->captions_path);
    caption_table_free(&s->table);
    memset(s, 0, sizeof *s);
}

// Parses "a,b,c" into exactly n ints in [lo, hi]; returns 1 on success.
static int parse_list(const char *str, int32_t *out, int n, int64_t lo, int64_t hi) {
    const char *p = str;
    for (int i = 0; i < n; i++) {
        const char *e = strchr(p, ',');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        char buf[24];
        if (l == 0 || l >= sizeof buf) return 0;
        memcpy(buf, p, l);
        buf[l] = 0;
        int64_t v;
        if (!parse_i64(buf, lo, hi, &v)) return 0;
        out[i] = (int32_t)v;
        if (i + 1 < n) {
            if (!e) return 0;
            p = e + 1;
        } else if (e) {
            return 0;
        }
    }
    return 1;
}

static int count_list(const char *s) {
    if (!*s) return 0;
    int n = 1;
    for (; *s; s++) n += *s == ',';
    return n;
}

static int parse_header(Suite *s, const char *file, const char *js, size_t len) {
    static const char *const keys[] = {
        "name", "dataset", "protocol", "protocol_sha256", "captions", "captions_sha256",
        "vocab_sha256", "seed", "words_num", "truncation", "mismatches", "mismatch_rule",
        "mismatch_storage", "mismatch_sha256", "block_size", "samples", NULL};
    char what[600];
    snprintf(what, sizeof what, "%s:2 (header)", file);
    cJSON *h = NULL;
    int rc = jx_parse_buf(what, js, len, &h);
    if (rc) return rc;
    long v;
    int k;
    const char *cap;
    char hs[80];
    if ((rc = jx_keys(h, what, "$", keys))) goto done;
    if ((rc = jx_str_copy(h, what, "$", "name", s->name, sizeof s->name))) goto done;
    if ((rc = jx_enum(h, what, "$", "dataset", dataset_names, &s->dataset))) goto done;
    if ((rc = jx_str_copy(h, what, "$", "protocol", s->protocol, sizeof s->protocol))) goto done;
    if ((rc = jx_str_copy(h, what, "$", "protocol_sha256", s->protocol_sha256, 65))) goto done;
    if ((rc = jx_str(h, what, "$", "captions", &cap))) goto done;
    if ((rc = jx_str_copy(h, what, "$", "captions_sha256", s->captions_sha256, 65))) goto done;
    if ((rc = jx_str_copy(h, what, "$", "vocab_sha256", s->vocab_sha256, 65))) goto done;
    if ((rc = jx_u64(h, what, "$", "seed", &s->seed))) goto done;
    if ((rc = jx_int(h, what, "$", "words_num", 1, 1000, &v))) goto done;
    s->words_num = (int)v;
    if ((rc = jx_enum(h, what, "$", "truncation", trunc_names, &s->truncation))) goto done;
    if ((rc = jx_int(h, what, "$", "mismatches", 0, 10000, &v))) goto done;
    s->mismatches = (int)v;
    if ((rc = jx_enum(h, what, "$", "mismatch_rule", mrule_names, &s->mismatch_rule))) goto done;
    if ((rc = jx_enum(h, what, "$", "mismatch_storage", storage_names, &k))) goto done;
    s->mismatch_derived = k;
    if ((rc = jx_str_copy(h, what, "$", "mismatch_sha256", s->mismatch_sha256, 65))) goto done;
    if ((rc = jx_int(h, what, "$", "block_size", 1, 100000, &v))) goto done;
    s->block_size = (int)v;
    if ((rc = jx_int(h, what, "$", "samples", 1, 10000000, &v))) goto done;
    s->n = v;
    // Caption table path: relative to the suite file's directory.
    if (cap[0] == '/') {
        s->captions_path = t2i_strdup(cap);
    } else {
        const char *sl = strrchr(file, '/');
        size_t dl = sl ? (size_t)(sl - file + 1) : 0;
        size_t n = dl + strlen(cap) + 1;
        s->captions_path = t2i_malloc(n);
        if (s->captions_path) snprintf(s->captions_path, n, "%.*s%s", (int)dl, file, cap);
    }
    if (!s->captions_path) rc = T2I_ENOMEM;
    (void)hs;
done:
    cJSON_Delete(h);
    return rc;
}

static int suite_load_1(const char *path, Suite *s) {
    memset(s, 0, sizeof *s);
    uint8_t *data = NULL;
    size_t len = 0;
    int rc = t2i_read_file(path, &data, &len);
    if (rc) return rc;
    sha256_hex(data, len, s->sha256);
    s->path = t2i_strdup(path);
    Lines L = {(char *)data, (char *)data + len, 0, path};
    size_t ll;
    char *line = next_line(&L, &ll);
    if (!line || strcmp(line, SUITE_MAGIC) != 0) {
        rc = t2i_error(T2I_EFORMAT, "%s:1: not a t2ibench suite (expected \"%s\")", path,
                       SUITE_MAGIC);
        goto fail;
    }
    line = next_line(&L, &ll);
    if (!line) {
        rc = t2i_error(T2I_EFORMAT, "%s:2: missing header", path);
        goto fail;
    }
    if ((rc = parse_header(s, path, line, ll))) goto fail;
    line = next_line(&L, &ll);
    if (!line || strcmp(line, SUITE_COLUMNS) != 0) {
        rc = t2i_error(T2I_EFORMAT, "%s:3: expected the column line \"%s\"", path, SUITE_COLUMNS);
        goto fail;
    }
    if ((rc = caption_table_load(s->captions_path, &s->table))) goto fail;
    if (strcmp(s->table.sha256, s->captions_sha256) != 0) {
        rc = t2i_error(T2I_EFORMAT, "%s: caption table %s has sha256 %s, the suite was frozen "
                                    "with %s",
                       path, s->captions_path, s->table.sha256, s->captions_sha256);
        goto fail;
    }
    const CaptionTable *t = &s->table;
    s->s = t2i_calloc((size_t)s->n, sizeof(SuiteSample));
    if (!s->s) {
        rc = T2I_ENOMEM;
        goto fail;
    }
    int64_t i = 0;
    while ((line = next_line(&L, &ll))) {
        if (ll == 0 && L.p >= L.end) break;
        char *f[12];
        long ln = L.line;
        if (i >= s->n) {
            rc = t2i_error(T2I_EFORMAT, "%s:%ld: more sample lines than the header's %lld", path,
                           ln, (long long)s->n);
            goto fail;
        }
        int nf = split_tabs(line, f, 11);
        if (nf != 11) {
            rc = t2i_error(T2I_EFORMAT, "%s:%ld: expected 11 tab-separated fields, found %d", path,
                           ln, nf > 11 ? 12 : nf);
            goto fail;
        }
        SuiteSample *x = &s->s[i];
        int64_t id, cls, img, cid, ci, ntok;
        static const char *const field[8] = {"sample (must count 0, 1, ...)", NULL, "class_id",
                                             "image_idx", "caption_id", "cap_idx", "noise_seed",
                                             "ntok"};
        int bad = -1;   // the column of the first bad field
        if (!parse_i64(f[0], 0, INT64_MAX, &id) || id != i) bad = 0;
        else if (!parse_i64(f[2], INT32_MIN, INT32_MAX, &cls)) bad = 2;
        else if (!parse_i64(f[3], 0, INT32_MAX, &img)) bad = 3;
        else if (!parse_i64(f[4], 0, t->n_rows - 1, &cid)) bad = 4;
        else if (!parse_i64(f[5], 0, 1000, &ci)) bad = 5;
        else if (!t2i_parse_u64(f[6], &x->noise_seed)) bad = 6;
        else if (!parse_i64(f[7], 1, 100000, &ntok)) bad = 7;
        if (bad >= 0) {
            rc = t2i_error(T2I_EFORMAT, "%s:%ld: field %s: bad value '%.40s' (plain decimal, no "
                                        "sign or leading zeros, within the field's range)",
                           path, ln, field[bad], f[bad]);
            goto fail;
        }
        x->id = id;
        x->class_id = (int32_t)cls;
        x->image_idx = (int32_t)img;
        x->caption_id = (int32_t)cid;
        x->cap_idx = (int32_t)ci;
        x->ntok = (int32_t)ntok;
        x->image_slot = t->image_slot[cid];
        if (t->image_idx[x->image_slot] != img || t->class_id[x->image_slot] != cls ||
            t->cap_idx[cid] != ci || strcmp(t->image_key[x->image_slot], f[1]) != 0) {
            rc = t2i_error(T2I_EFORMAT,
                           "%s:%ld: image_key/class_id/image_idx/cap_idx disagree with caption "
                           "row %lld of %s",
                           path, ln, (long long)cid, s->captions_path);
            goto fail;
        }
        x->image_key = t2i_strdup(f[1]);
        x->caption = caption_unescape(f[10], strlen(f[10]));
        x->words = t2i_malloc(sizeof(int32_t) * (size_t)s->words_num);
        x->mismatch = t2i_malloc(sizeof(int32_t) * (size_t)(s->mismatches ? s->mismatches : 1));
        if (!x->image_key || !x->caption || !x->words || !x->mismatch) {
            rc = T2I_ENOMEM;
            goto fail;
        }
        if (strcmp(x->caption, t->caption[cid]) != 0) {
            rc = t2i_error(T2I_EFORMAT, "%s:%ld: caption text differs from caption row %lld", path,
                           ln, (long long)cid);
            goto fail;
        }
        if (strcmp(f[8], "-") == 0) {
            if (ntok > s->words_num) {
                rc = t2i_error(T2I_EFORMAT, "%s:%ld: field words: %lld tokens > words_num %d need "
                                            "a word subset",
                               path, ln, (long long)ntok, s->words_num);
                goto fail;
            }
            x->n_words = 0;
        } else {
            int nw = count_list(f[8]);
            if (ntok <= s->words_num || nw != s->words_num ||
                !parse_list(f[8], x->words, nw, 0, ntok - 1)) {
                rc = t2i_error(T2I_EFORMAT, "%s:%ld: field words: expected %d ascending positions "
                                            "below ntok %lld",
                               path, ln, s->words_num, (long long)ntok);
                goto fail;
            }
            for (int w = 1; w < nw; w++)
                if (x->words[w] <= x->words[w - 1]) {
                    rc = t2i_error(T2I_EFORMAT, "%s:%ld: field words: positions not ascending",
                                   path, ln);
                    goto fail;
                }
            x->n_words = nw;
        }
        if (s->mismatch_derived) {
            if (strcmp(f[9], "*") != 0) {
                rc = t2i_error(T2I_EFORMAT, "%s:%ld: field mismatch: expected \"*\" (derived)", path,
                               ln);
                goto fail;
            }
            if ((rc = mismatch_possible(t, s->mismatch_rule, s->mismatches, path))) goto fail;
            suite_draw_mismatch(t, s->seed, i, x->image_slot, s->mismatch_rule, s->mismatches,
                                x->mismatch);
        } else if (s->mismatches == 0) {
            if (strcmp(f[9], "-") != 0) {
                rc = t2i_error(T2I_EFORMAT, "%s:%ld: field mismatch: expected \"-\"", path, ln);
                goto fail;
            }
        } else {
            if (count_list(f[9]) != s->mismatches ||
                !parse_list(f[9], x->mismatch, s->mismatches, 0, t->n_rows - 1)) {
                rc = t2i_error(T2I_EFORMAT, "%s:%ld: field mismatch: expected %d caption ids below "
                                            "%lld",
                               path, ln, s->mismatches, (long long)t->n_rows);
                goto fail;
            }
        }
        i++;
    }
    if (i != s->n) {
        rc = t2i_error(T2I_EFORMAT, "%s: %lld sample lines, the header says %lld", path,
                       (long long)i, (long long)s->n);
        goto fail;
    }
    {
        char h[65];
        mismatch_hash(s, h);
        if (strcmp(h, s->mismatch_sha256) != 0) {
            rc = t2i_error(T2I_EFORMAT, "%s: mismatch ids hash to %s, the header says %s%s", path,
                           h, s->mismatch_sha256,
                           s->mismatch_derived ? " (the derived draw changed: re-freeze the suite)"
                                               : "");
            goto fail;
        }
    }
    t2i_free(data);
    return T2I_OK;
fail:
    t2i_free(data);
    suite_free(s);
    return rc;
}

int suite_load(const char *path, Suite *s) {
    t2i_error_clear();
    return t2i_error_name_file(suite_load_1(path, s), path);
}
