// vocab.c -- see vocab.h. captions.pickle goes through the allowlisted pickle VM (pickle.h):
// the value must be [train_captions, test_captions, ixtoword, wordtoix] (list or tuple), caption
// lists are lists of int lists, ixtoword maps every id 0..n-1 to a word, wordtoix maps words to
// ids. Every caption id and every wordtoix id must lie in [0, n_words).
#include "vocab.h"
#include "pickle.h"
#include "t2i.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// ---- wordtoix hash table (open addressing, FNV-1a, linear probing) ----------------------------

static uint64_t fnv1a(const char *s) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *s; s++) {
        h ^= (uint8_t)*s;
        h *= 0x100000001b3ull;
    }
    return h;
}

static int grow(Vocab *v) {
    size_t ns = v->nslots ? v->nslots * 2 : 64;
    char **nk = t2i_calloc(ns, sizeof *nk);
    int64_t *nv = t2i_calloc(ns, sizeof *nv);
    if (!nk || !nv) {
        t2i_free(nk);
        t2i_free(nv);
        return T2I_ENOMEM;
    }
    for (size_t i = 0; i < v->nslots; i++) {
        if (!v->keys[i]) continue;
        size_t j = fnv1a(v->keys[i]) & (ns - 1);
        while (nk[j]) j = (j + 1) & (ns - 1);
        nk[j] = v->keys[i];
        nv[j] = v->vals[i];
    }
    t2i_free(v->keys);
    t2i_free(v->vals);
    v->keys = nk;
    v->vals = nv;
    v->nslots = ns;
    return T2I_OK;
}

int vocab_put(Vocab *v, const char *word, int64_t id) {
    if ((v->nkeys + 1) * 2 > v->nslots && grow(v)) return T2I_ENOMEM;
    size_t j = fnv1a(word) & (v->nslots - 1);
    while (v->keys[j]) {
        if (strcmp(v->keys[j], word) == 0)
            return t2i_error(T2I_EFORMAT, "vocabulary: duplicate word '%.80s'", word);
        j = (j + 1) & (v->nslots - 1);
    }
    v->keys[j] = t2i_strdup(word);
    if (!v->keys[j]) return T2I_ENOMEM;
    v->vals[j] = id;
    v->nkeys++;
    return T2I_OK;
}

int64_t vocab_lookup(const Vocab *v, const char *word) {
    if (!v->nslots) return -1;
    size_t j = fnv1a(word) & (v->nslots - 1);
    while (v->keys[j]) {
        if (strcmp(v->keys[j], word) == 0) return v->vals[j];
        j = (j + 1) & (v->nslots - 1);
    }
    return -1;
}

static void captions_free(CaptionList *c) {
    for (int i = 0; i < c->n; i++) t2i_free(c->ids[i]);
    t2i_free(c->ids);
    t2i_free(c->lens);
    memset(c, 0, sizeof *c);
}

void vocab_free(Vocab *v) {
    if (!v) return;
    for (int i = 0; i < v->n_words && v->ixtoword; i++) t2i_free(v->ixtoword[i]);
    t2i_free(v->ixtoword);
    for (size_t i = 0; i < v->nslots; i++) t2i_free(v->keys[i]);
    t2i_free(v->keys);
    t2i_free(v->vals);
    captions_free(&v->train);
    captions_free(&v->test);
    memset(v, 0, sizeof *v);
}

// ---- pickle -----------------------------------------------------------------------------------

static int is_word(const PkVal *s) {
    return s && s->kind == PK_STR && s->u.str.n > 0 && strlen(s->u.str.s) == s->u.str.n;
}

static int load_captions(const char *path, const char *what, const PkVal *l, int64_t n_words,
                         CaptionList *out) {
    if (!pk_is_seq(l) || pk_len(l) > (size_t)INT32_MAX)
        return t2i_error(T2I_EFORMAT, "%s: %s (byte %zu) is not a list", path, what, l ? l->off : 0);
    size_t n = pk_len(l);
    out->ids = t2i_calloc(n ? n : 1, sizeof *out->ids);
    out->lens = t2i_calloc(n ? n : 1, sizeof *out->lens);
    if (!out->ids || !out->lens) return t2i_error_prefix(T2I_ENOMEM, "%s", path);
    for (size_t i = 0; i < n; i++) {
        const PkVal *c = pk_item(l, i);
        if (!pk_is_seq(c) || pk_len(c) > (size_t)INT32_MAX)
            return t2i_error(T2I_EFORMAT, "%s: %s[%zu] (byte %zu) is not a list of ids", path,
                             what, i, c->off);
        size_t m = pk_len(c);
        out->ids[i] = t2i_malloc((m ? m : 1) * sizeof(int64_t));
        if (!out->ids[i]) return t2i_error_prefix(T2I_ENOMEM, "%s", path);
        out->n = (int)i + 1;
        out->lens[i] = (int)m;
        for (size_t k = 0; k < m; k++) {
            int64_t id;
            if (!pk_as_int(pk_item(c, k), &id) || id < 0 || id >= n_words)
                return t2i_error(T2I_EFORMAT, "%s: %s[%zu][%zu] (byte %zu) is not a word id in "
                                 "[0, %lld)", path, what, i, k, pk_item(c, k)->off,
                                 (long long)n_words);
            out->ids[i][k] = id;
        }
    }
    out->n = (int)n;
    return T2I_OK;
}

static int vocab_from_tree(const char *path, const PkVal *root, Vocab *v) {
    if (!pk_is_seq(root) || pk_len(root) != 4)
        return t2i_error(T2I_EFORMAT, "%s: captions pickle is not [train_captions, test_captions, "
                         "ixtoword, wordtoix]", path);
    const PkVal *ix = pk_item(root, 2), *wi = pk_item(root, 3);
    if (ix->kind != PK_DICT || wi->kind != PK_DICT)
        return t2i_error(T2I_EFORMAT, "%s: ixtoword/wordtoix (bytes %zu/%zu) are not dicts", path,
                         ix->off, wi->off);
    size_t n = pk_len(ix);
    if (n == 0 || n > (size_t)INT32_MAX)
        return t2i_error(T2I_EFORMAT, "%s: ixtoword has %zu entries", path, n);
    v->ixtoword = t2i_calloc(n, sizeof *v->ixtoword);
    if (!v->ixtoword) return t2i_error_prefix(T2I_ENOMEM, "%s", path);
    v->n_words = (int)n;
    for (size_t i = 0; i < n; i++) {
        int64_t id;
        const PkVal *k = pk_key(ix, i), *w = pk_val(ix, i);
        if (!pk_as_int(k, &id) || id < 0 || (uint64_t)id >= n || v->ixtoword[id] || !is_word(w))
            return t2i_error(T2I_EFORMAT, "%s: ixtoword entry at byte %zu is not a new id in "
                             "[0, %zu) mapped to a word", path, k->off, n);
        v->ixtoword[id] = t2i_strdup(w->u.str.s);
        if (!v->ixtoword[id]) return t2i_error_prefix(T2I_ENOMEM, "%s", path);
    }
    for (size_t i = 0; i < pk_len(wi); i++) {
        int64_t id;
        const PkVal *k = pk_key(wi, i), *w = pk_val(wi, i);
        if (!is_word(k) || !pk_as_int(w, &id) || id < 0 || (uint64_t)id >= n)
            return t2i_error(T2I_EFORMAT, "%s: wordtoix entry at byte %zu is not word -> id in "
                             "[0, %zu)", path, k->off, n);
        int rc = vocab_put(v, k->u.str.s, id);
        if (rc) return t2i_error_prefix(rc, "%s", path);
    }
    int rc = load_captions(path, "train_captions", pk_item(root, 0), (int64_t)n, &v->train);
    if (!rc) rc = load_captions(path, "test_captions", pk_item(root, 1), (int64_t)n, &v->test);
    return rc;
}

static int parse_pickle(const uint8_t *buf, size_t len, const char *path, Vocab *out) {
    Pickle pk;
    int rc = pickle_parse(buf, len, path, 0, &pk);
    if (rc) return rc;
    if (pk.end != len) {
        rc = t2i_error(T2I_EFORMAT, "%s: %zu stray bytes after the pickle (byte %zu)", path,
                       len - pk.end, pk.end);
    } else {
        rc = vocab_from_tree(path, pk.root, out);
    }
    pickle_free(&pk);
    if (rc) vocab_free(out);
    return rc;
}

// ---- text -------------------------------------------------------------------------------------

static int parse_text(const uint8_t *buf, size_t len, const char *path, Vocab *v) {
    // First pass counts lines so ixtoword is allocated once.
    size_t lines = 0;
    for (size_t i = 0; i < len; i++) lines += buf[i] == '\n';
    if (len && buf[len - 1] != '\n') lines++;
    if (lines == 0 || lines > (size_t)INT32_MAX)
        return t2i_error(T2I_EFORMAT, "%s: empty vocabulary", path);
    v->ixtoword = t2i_calloc(lines, sizeof *v->ixtoword);
    if (!v->ixtoword) return t2i_error_prefix(T2I_ENOMEM, "%s", path);
    size_t pos = 0, lineno = 0;
    int rc = T2I_OK;
    while (pos < len) {
        const uint8_t *nl = memchr(buf + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - buf) : len, e = end;
        if (e > pos && buf[e - 1] == '\r') e--;
        lineno++;
        const uint8_t *tab = memchr(buf + pos, '\t', e - pos);
        char num[24];
        size_t nlen = tab ? (size_t)(tab - (buf + pos)) : 0;
        size_t wlen = tab ? e - (size_t)(tab - buf) - 1 : 0;
        if (!tab || nlen == 0 || nlen >= sizeof num || wlen == 0 ||
            memchr(tab + 1, '\t', wlen) || memchr(tab + 1, 0, wlen) || memchr(tab + 1, ' ', wlen)) {
            rc = t2i_error(T2I_EFORMAT, "%s:%zu: expected \"id<TAB>word\" (byte %zu)", path, lineno, pos);
            break;
        }
        memcpy(num, buf + pos, nlen);
        num[nlen] = 0;
        uint64_t id;
        if (!t2i_parse_u64(num, &id)) {
            rc = t2i_error(T2I_EFORMAT, "%s:%zu: id '%s' (byte %zu) is not plain decimal (digits "
                                        "without sign, spaces or leading zeros)",
                           path, lineno, num, pos);
            break;
        }
        if (id != (uint64_t)v->n_words) {
            rc = t2i_error(T2I_EFORMAT, "%s:%zu: id '%s' (byte %zu) is not the next dense id %d",
                           path, lineno, num, pos, v->n_words);
            break;
        }
        char *w = t2i_malloc(wlen + 1);
        if (!w) {
            rc = t2i_error_prefix(T2I_ENOMEM, "%s", path);
            break;
        }
        memcpy(w, tab + 1, wlen);
        w[wlen] = 0;
        v->ixtoword[v->n_words++] = w;
        if (id == 0 && strcmp(w, "<end>") != 0) {
            rc = t2i_error(T2I_EFORMAT, "%s:1: id 0 must be \"<end>\", not '%.80s'", path, w);
            break;
        }
        if ((rc = vocab_put(v, w, id))) {
            rc = t2i_error_prefix(rc, "%s:%zu", path, lineno);
            break;
        }
        pos = nl ? end + 1 : len;
    }
    if (!rc && v->n_words == 0) rc = t2i_error(T2I_EFORMAT, "%s: empty vocabulary", path);
    if (rc) vocab_free(v);
    return rc;
}

// ---- entry points ---------------------------------------------------------------------------

typedef int (*ParseFn)(const uint8_t *, size_t, const char *, Vocab *);

static int load_with(const char *path, Vocab *out, ParseFn fn) {
    memset(out, 0, sizeof *out);
    t2i_error_clear();
    uint8_t *buf;
    size_t len;
    int rc = t2i_read_file(path, &buf, &len);
    if (rc) return t2i_error_name_file(rc, path);
    rc = fn(buf, len, path, out);
    t2i_free(buf);
    return t2i_error_name_file(rc, path);
}

int vocab_load_pickle(const char *path, Vocab *out) { return load_with(path, out, parse_pickle); }
int vocab_load_text(const char *path, Vocab *out) { return load_with(path, out, parse_text); }

static int parse_any(const uint8_t *buf, size_t len, const char *path, Vocab *out) {
    // A text vocabulary starts with the digit of id 0 (or is named *.txt); anything else is
    // treated as a pickle.
    size_t pl = strlen(path);
    if ((len && buf[0] >= '0' && buf[0] <= '9') || (pl >= 4 && !strcmp(path + pl - 4, ".txt")))
        return parse_text(buf, len, path, out);
    return parse_pickle(buf, len, path, out);
}

int vocab_load(const char *path, Vocab *out) { return load_with(path, out, parse_any); }

int vocab_save_text(const Vocab *v, const char *path) {
    for (int i = 0; i < v->n_words; i++)
        if (!v->ixtoword[i] || !v->ixtoword[i][0] || strpbrk(v->ixtoword[i], "\t\n\r "))
            return t2i_error(T2I_EARG, "%s: word %d is empty or contains whitespace", path, i);
    FILE *f = fopen(path, "wb");
    if (!f) return t2i_error(T2I_EIO, "%s: cannot create: %s", path, strerror(errno));
    int ok = 1;
    for (int i = 0; i < v->n_words && ok; i++) ok = fprintf(f, "%d\t%s\n", i, v->ixtoword[i]) > 0;
    if (fclose(f) != 0) ok = 0;
    if (!ok) return t2i_error(T2I_EIO, "%s: write failed: %s", path, strerror(errno));
    return T2I_OK;
}
