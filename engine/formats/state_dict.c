// state_dict.c -- see state_dict.h.
#include "state_dict.h"
#include "t2i.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void sd_init(StateDict *sd) { memset(sd, 0, sizeof *sd); }

void sd_free(StateDict *sd) {
    if (!sd) return;
    for (int i = 0; i < sd->n; i++) {
        if (sd->e[i].f32 != sd->e[i].data) t2i_free(sd->e[i].f32);
        t2i_free(sd->e[i].data);
        t2i_free(sd->e[i].name);
    }
    t2i_free(sd->e);
    t2i_free(sd->slots);
    memset(sd, 0, sizeof *sd);
}

static size_t name_hash(const char *s) {
    uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a
    for (; *s; s++) h = (h ^ (uint8_t)*s) * 0x100000001b3ull;
    return (size_t)h;
}

// Slot of `name`: the slot holding it, or the empty slot where it would go.
static size_t find_slot(const StateDict *sd, const char *name) {
    size_t mask = sd->nslots - 1, i = name_hash(name) & mask;
    while (sd->slots[i] && strcmp(sd->e[sd->slots[i] - 1].name, name) != 0) i = (i + 1) & mask;
    return i;
}

// Grows the index so that it stays at most half full after one more entry.
static int index_reserve(StateDict *sd) {
    if ((size_t)(sd->n + 1) * 2 < sd->nslots) return T2I_OK;
    size_t nslots = sd->nslots ? sd->nslots * 2 : 128;
    int *slots = t2i_calloc(nslots, sizeof *slots);
    if (!slots) return T2I_ENOMEM;
    t2i_free(sd->slots);
    sd->slots = slots;
    sd->nslots = nslots;
    for (int k = 0; k < sd->n; k++) sd->slots[find_slot(sd, sd->e[k].name)] = k + 1;
    return T2I_OK;
}

const SDEntry *sd_find(const StateDict *sd, const char *name) {
    if (sd->nslots == 0) return NULL;
    int k = sd->slots[find_slot(sd, name)];
    return k ? &sd->e[k - 1] : NULL;
}

int sd_strip_prefix(StateDict *sd, const char *prefix) {
    size_t n = strlen(prefix);
    if (sd->n == 0 || n == 0) return 0;
    for (int i = 0; i < sd->n; i++)
        if (strncmp(sd->e[i].name, prefix, n) != 0 || sd->e[i].name[n] == '\0') return 0;
    // New names first, so that running out of memory leaves `sd` as it was.
    char **names = t2i_calloc((size_t)sd->n, sizeof *names);
    int *slots = t2i_calloc(sd->nslots, sizeof *slots);
    int ok = names && slots;
    for (int i = 0; ok && i < sd->n; i++) ok = (names[i] = t2i_strdup(sd->e[i].name + n)) != NULL;
    if (!ok) {
        for (int i = 0; names && i < sd->n; i++) t2i_free(names[i]);
        t2i_free(names);
        t2i_free(slots);
        t2i_error(T2I_ENOMEM, "out of memory renaming state_dict keys");
        return -1;
    }
    t2i_free(sd->slots);
    sd->slots = slots;
    for (int i = 0; i < sd->n; i++) {
        t2i_free(sd->e[i].name);
        sd->e[i].name = names[i];
    }
    t2i_free(names);
    // Stripped names are unique because the prefixed ones were.
    for (int i = 0; i < sd->n; i++) sd->slots[find_slot(sd, sd->e[i].name)] = i + 1;
    return sd->n;
}

int sd_add(StateDict *sd, const char *name, DType dtype, int ndim, const int64_t *shape,
           void *data) {
    if (ndim < 0 || ndim > T2I_MAX_DIMS) {
        t2i_free(data);
        return t2i_error(T2I_EFORMAT, "tensor '%s' has %d dims (at most %d supported)", name, ndim,
                         T2I_MAX_DIMS);
    }
    if (sd_find(sd, name)) {
        t2i_free(data);
        return t2i_error(T2I_EFORMAT, "duplicate tensor name '%s'", name);
    }
    size_t numel;
    if (!shape_numel(ndim, shape, &numel)) {
        t2i_free(data);
        return t2i_error(T2I_EFORMAT, "tensor '%s' has an invalid shape", name);
    }
    if (index_reserve(sd) != T2I_OK) {
        t2i_free(data);
        return T2I_ENOMEM;
    }
    if (sd->n == sd->cap) {
        int ncap = sd->cap ? sd->cap * 2 : 64;
        SDEntry *ne = t2i_realloc(sd->e, (size_t)ncap * sizeof *ne);
        if (!ne) {
            t2i_free(data);
            return T2I_ENOMEM;
        }
        sd->e = ne;
        sd->cap = ncap;
    }
    SDEntry *e = &sd->e[sd->n];
    memset(e, 0, sizeof *e);
    e->name = t2i_strdup(name);
    if (!e->name) {
        t2i_free(data);
        return T2I_ENOMEM;
    }
    e->dtype = dtype;
    e->ndim = ndim;
    for (int i = 0; i < ndim; i++) e->shape[i] = shape[i];
    e->numel = numel;
    e->data = data;
    e->f32 = dtype == DT_F32 ? data : NULL;
    sd->slots[find_slot(sd, e->name)] = sd->n + 1;
    sd->n++;
    return T2I_OK;
}

float *sd_f32(SDEntry *e) {
    if (e->f32) return e->f32;
    size_t bytes;
    if (!t2i_mul_size(e->numel, sizeof(float), &bytes)) {
        t2i_error(T2I_ENOMEM, "tensor '%s' too large", e->name);
        return NULL;
    }
    float *f = t2i_malloc_aligned(bytes);
    if (!f) return NULL;
    dtype_to_f32(f, e->data, e->dtype, e->numel);
    e->f32 = f;
    return f;
}

void sd_shape_str(const SDEntry *e, char *buf, size_t n) {
    size_t off = 0;
    off += (size_t)snprintf(buf + off, n - off, "(");
    for (int i = 0; i < e->ndim && off < n; i++)
        off += (size_t)snprintf(buf + off, n - off, "%s%lld", i ? ", " : "", (long long)e->shape[i]);
    if (off < n) snprintf(buf + off, n - off, ")");
}

// ---- binding -----------------------------------------------------------------------------

void bindlist_init(BindList *bl) { memset(bl, 0, sizeof *bl); }

void bindlist_free(BindList *bl) {
    if (!bl) return;
    for (int i = 0; i < bl->n; i++) t2i_free(bl->rows[i].name);
    t2i_free(bl->rows);
    memset(bl, 0, sizeof *bl);
}

static BindRow *bind_row_vadd(BindList *bl, const char *fmt, va_list ap) {
    char name[512];
    vsnprintf(name, sizeof name, fmt, ap);
    if (bl->n == bl->cap) {
        int ncap = bl->cap ? bl->cap * 2 : 64;
        BindRow *nr = t2i_realloc(bl->rows, (size_t)ncap * sizeof *nr);
        if (!nr) {
            bl->failed = 1;
            return NULL;
        }
        bl->rows = nr;
        bl->cap = ncap;
    }
    BindRow *r = &bl->rows[bl->n];
    memset(r, 0, sizeof *r);
    r->name = t2i_strdup(name);
    if (!r->name) {
        bl->failed = 1;
        return NULL;
    }
    bl->n++;
    return r;
}

static BindRow *bind_row_add(BindList *bl, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    BindRow *r = bind_row_vadd(bl, fmt, ap);
    va_end(ap);
    return r;
}

void bind_param(BindList *bl, float **dst, int ndim, const int *shape, const char *fmt, ...) {
    T2I_CHECK(ndim >= 0 && ndim <= T2I_MAX_DIMS, "bad ndim %d", ndim);
    va_list ap;
    va_start(ap, fmt);
    BindRow *r = bind_row_vadd(bl, fmt, ap);
    va_end(ap);
    if (!r) return;
    r->ndim = ndim;
    for (int i = 0; i < ndim; i++) r->shape[i] = shape[i];
    r->dtype = DT_F32;
    r->dst = dst;
}

void bind_batchnorm(BindList *bl, float **weight, float **bias, float **mean, float **var, int C,
                    const char *fmt, ...) {
    char prefix[480];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    if (weight) bind_param(bl, weight, 1, &C, "%s.weight", prefix);
    if (bias) bind_param(bl, bias, 1, &C, "%s.bias", prefix);
    bind_param(bl, mean, 1, &C, "%s.running_mean", prefix);
    bind_param(bl, var, 1, &C, "%s.running_var", prefix);
    BindRow *r = bind_row_add(bl, "%s.num_batches_tracked", prefix);
    if (!r) return;
    r->ndim = 0;
    r->dtype = DT_I64;
    r->dst = NULL;
    r->optional = 1;
}

static int has_prefix(const char *s, const char *const *prefixes) {
    if (!prefixes) return 0;
    for (int i = 0; prefixes[i]; i++)
        if (strncmp(s, prefixes[i], strlen(prefixes[i])) == 0) return 1;
    return 0;
}

static void list_append(char *buf, size_t cap, size_t *len, int *count, const char *item) {
    (*count)++;
    if (*count > 12) {
        if (*count == 13 && *len + 6 < cap) *len += (size_t)snprintf(buf + *len, cap - *len, ", ...");
        return;
    }
    if (*len < cap)
        *len += (size_t)snprintf(buf + *len, cap - *len, "%s%s", *count > 1 ? ", " : "", item);
    if (*len > cap) *len = cap;
}

static const BindRow *find_row(const BindList *bl, const char *name) {
    for (int i = 0; i < bl->n; i++)
        if (strcmp(bl->rows[i].name, name) == 0) return &bl->rows[i];
    return NULL;
}

int sd_bind(StateDict *sd, const BindList *bl, const char *const *ignore_prefixes,
            const char *what) {
    if (bl->failed) return t2i_error(T2I_ENOMEM, "%s: out of memory building the key list", what);
    char missing[1024] = "", unexpected[1024] = "", mismatch[1024] = "";
    size_t lm = 0, lu = 0, lx = 0;
    int nm = 0, nu = 0, nx = 0;
    for (int i = 0; i < bl->n; i++) {
        const BindRow *r = &bl->rows[i];
        SDEntry *e = (SDEntry *)sd_find(sd, r->name);
        if (!e) {
            if (!r->optional) list_append(missing, sizeof missing, &lm, &nm, r->name);
            continue;
        }
        int same = e->ndim == r->ndim;
        for (int d = 0; same && d < r->ndim; d++) same = e->shape[d] == r->shape[d];
        if (!same) {
            char item[700], got[128], want[128];
            SDEntry tmp = {.ndim = r->ndim};
            for (int d = 0; d < r->ndim; d++) tmp.shape[d] = r->shape[d];
            sd_shape_str(e, got, sizeof got);
            sd_shape_str(&tmp, want, sizeof want);
            snprintf(item, sizeof item, "%s is %s, expected %s", r->name, got, want);
            list_append(mismatch, sizeof mismatch, &lx, &nx, item);
        }
    }
    for (int i = 0; i < sd->n; i++) {
        const char *name = sd->e[i].name;
        if (find_row(bl, name) || has_prefix(name, ignore_prefixes)) continue;
        list_append(unexpected, sizeof unexpected, &lu, &nu, name);
    }
    if (nm || nu || nx) {
        return t2i_error(T2I_ESHAPE, "%s: state_dict does not match:%s%s%s%s%s%s", what,
                         nm ? " missing keys: " : "", missing,
                         nu ? (nm ? "; unexpected keys: " : " unexpected keys: ") : "", unexpected,
                         nx ? ((nm || nu) ? "; size mismatch: " : " size mismatch: ") : "",
                         mismatch);
    }
    for (int i = 0; i < bl->n; i++) {
        const BindRow *r = &bl->rows[i];
        if (!r->dst) continue;
        SDEntry *e = (SDEntry *)sd_find(sd, r->name);
        float *f = sd_f32(e);
        if (!f) return t2i_error_prefix(T2I_ENOMEM, "%s", what);
        *r->dst = f;
    }
    return T2I_OK;
}
