// tfckpt.c -- see tfckpt.h. Field numbers are those of TensorFlow's .proto files
// (tensorflow/core/framework/{tensor,tensor_shape,tensor_slice,graph,node_def,attr_value}.proto,
// core/protobuf/tensor_bundle.proto, core/util/saved_tensor_slice.proto).
#include "tfckpt.h"
#include "pb.h"
#include "rd.h"
#include "sha256.h"
#include "sstable.h"
#include "t2i.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static _Thread_local int skipped;
int tf_skipped(void) { return skipped; }

// ---- dtypes ---------------------------------------------------------------------------------

// TF DataType enum (types.proto) -> our DType; -1 when not numeric.
static int tf_dtype(uint64_t t) {
    switch (t) {
    case 1: return DT_F32;
    case 2: return DT_F64;
    case 3: return DT_I32;
    case 4: return DT_U8;
    case 5: return DT_I16;
    case 6: return DT_I8;
    case 9: return DT_I64;
    case 10: return DT_BOOL;
    case 14: return DT_BF16;
    case 19: return DT_F16;
    default: return -1;
    }
}

// ---- TensorShapeProto {dim 2: {size 1}, unknown_rank 3} ---------------------------------------

typedef struct {
    int     ndim;
    int64_t shape[T2I_MAX_DIMS];
    size_t  numel;
} Shape;

static int shape_decode(Rd m, Shape *s) {
    size_t at = rd_off(&m);
    s->ndim = 0;
    int rc;
    while (!rd_eof(&m)) {   // dim 2 (repeated), unknown_rank 3
        uint32_t f;
        int      w;
        Rd       d;
        if ((rc = pb_key(&m, &f, &w))) return rc;
        if (f == 3)
            return t2i_error(T2I_EFORMAT, "%s: tensor shape at byte %zu has unknown rank", m.name,
                             at);
        if (f != 2) {
            if ((rc = pb_skip(&m, w))) return rc;
            continue;
        }
        if ((rc = pb_want(&m, f, w, PB_LEN, "TensorShapeProto.dim")) || (rc = pb_sub(&m, &d)))
            return rc;
        if (s->ndim == T2I_MAX_DIMS)
            return t2i_error(T2I_EFORMAT, "%s: tensor shape at byte %zu has more than %d "
                             "dimensions", m.name, at, T2I_MAX_DIMS);
        uint64_t size = 0;
        PbField  spec[] = {{1, PB_VARINT, &size, NULL, "Dim.size"}};
        if ((rc = pb_fields(d, spec, 1))) return rc;
        if ((int64_t)size < 0)
            return t2i_error(T2I_EFORMAT, "%s: tensor shape at byte %zu has a dimension of "
                             "size %lld", m.name, at, (long long)(int64_t)size);
        s->shape[s->ndim++] = (int64_t)size;
    }
    if (!shape_numel(s->ndim, s->shape, &s->numel))
        return t2i_error(T2I_EFORMAT, "%s: tensor shape at byte %zu: element count overflows",
                         m.name, at);
    return T2I_OK;
}

// ---- TensorProto ------------------------------------------------------------------------------

typedef struct {
    uint64_t dtype;        // TF enum, 0 when absent
    int      has_shape;
    Shape    shape;
    int      has_content;
    Rd       content;
} TProto;

static int tproto_scan(Rd m, TProto *t) {
    memset(t, 0, sizeof *t);
    Rd      shape;
    PbField spec[] = {{1, PB_VARINT, &t->dtype, NULL, "TensorProto.dtype"},
                      {2, PB_LEN, &shape, &t->has_shape, "TensorProto.tensor_shape"},
                      {4, PB_LEN, &t->content, &t->has_content, "TensorProto.tensor_content"}};
    int     rc = pb_fields(m, spec, 3);
    if (!rc && t->has_shape) rc = shape_decode(shape, &t->shape);
    return rc;
}

// The typed value field of a dtype and its element wire type.
static uint32_t value_field(int dt, int *wire) {
    switch (dt) {
    case DT_F32: *wire = PB_I32; return 5;
    case DT_F64: *wire = PB_I64; return 6;
    case DT_I64: *wire = PB_VARINT; return 10;
    case DT_BOOL: *wire = PB_VARINT; return 11;
    case DT_F16:
    case DT_BF16: *wire = PB_VARINT; return 13;
    default: *wire = PB_VARINT; return 7;   // int32, int16, int8, uint8
    }
}

static void put_elem(uint8_t *dst, int dt, uint64_t bits) {
    size_t es = dtype_size((DType)dt);
    for (size_t b = 0; b < es; b++) dst[b] = (uint8_t)(bits >> (8 * b));
}

static int read_elem(Rd *r, int wire, uint64_t *bits) {
    if (wire == PB_VARINT) return pb_varint(r, bits);
    if (wire == PB_I32) {
        uint32_t v;
        if (rd_u32le(r, &v)) return T2I_EFORMAT;
        *bits = v;
        return T2I_OK;
    }
    return rd_u64le(r, bits);
}

// Fills `dst` (numel elements of dtype dt) from the TensorProto `m` (already scanned into t).
static int tproto_values(Rd m, const TProto *t, int dt, size_t numel, int exact, uint8_t *dst,
                         const char *what) {
    size_t es = dtype_size((DType)dt), at = rd_off(&m);
    if (t->has_content) {
        if (rd_left(&t->content) / es != numel || rd_left(&t->content) % es)
            return t2i_error(T2I_EFORMAT, "%s: %s: tensor_content at byte %zu has %zu bytes, "
                             "%zu elements of %zu bytes expected", m.name, what,
                             rd_off(&t->content), rd_left(&t->content), numel, es);
        memcpy(dst, t->content.p, numel * es);
        return T2I_OK;
    }
    int      ew;
    uint32_t vf = value_field(dt, &ew);
    size_t   n = 0;
    int      rc;
    while (!rd_eof(&m)) {
        uint32_t f;
        int      w;
        if ((rc = pb_key(&m, &f, &w))) return rc;
        if (f != vf) {
            if ((rc = pb_skip(&m, w))) return rc;
            continue;
        }
        Rd  one, *src = &m;
        int packed = w == PB_LEN;
        if (packed) {
            if ((rc = pb_sub(&m, &one))) return rc;
            src = &one;
        } else if (w != ew) {
            return pb_want(&m, f, w, ew, "TensorProto value");
        }
        do {
            uint64_t bits;
            if (n == numel)
                return t2i_error(T2I_EFORMAT, "%s: %s: TensorProto at byte %zu holds more than "
                                 "its %zu elements", m.name, what, at, numel);
            if ((rc = read_elem(src, ew, &bits)))
                return t2i_error_prefix(rc, "%s: %s: value %zu", m.name, what, n);
            put_elem(dst + n * es, dt, bits);
            n++;
        } while (packed && !rd_eof(src));
    }
    if (exact && n != numel)   // checkpoints store every value (TensorSliceWriter)
        return t2i_error(T2I_EFORMAT, "%s: %s: TensorProto at byte %zu holds %zu of its %zu "
                         "elements", m.name, what, at, n, numel);
    if (n == 0) {
        memset(dst, 0, numel * es);
        return T2I_OK;
    }
    for (size_t i = n; i < numel; i++) memcpy(dst + i * es, dst + (n - 1) * es, es);
    return T2I_OK;
}

// A whole TensorProto into a new buffer (dtype and shape from the proto).
static int tproto_decode(Rd m, const char *what, int *dt, Shape *shape, void **data) {
    TProto t;
    int    rc = tproto_scan(m, &t);
    if (rc) return rc;
    *data = NULL;
    *dt = tf_dtype(t.dtype);
    if (*dt < 0) return T2I_OK;   // not numeric: the caller skips it
    if (!t.has_shape) t.shape = (Shape){.ndim = 0, .numel = 1};
    *shape = t.shape;
    size_t bytes;
    if (!t2i_mul_size(t.shape.numel, dtype_size((DType)*dt), &bytes) || bytes > T2I_MAX_ALLOC)
        return t2i_error(T2I_ENOMEM, "%s: %s: tensor of %zu elements is too large", m.name, what,
                         t.shape.numel);
    *data = t2i_malloc_aligned(bytes ? bytes : 1);
    if (!*data) return t2i_error(T2I_ENOMEM, "%s: %s: out of memory", m.name, what);
    rc = tproto_values(m, &t, *dt, t.shape.numel, 0, *data, what);
    if (rc) {
        t2i_free(*data);
        *data = NULL;
    }
    return rc;
}

// Copies a string field into a NUL-terminated name (no NUL bytes inside, at most 4096 bytes).
static int name_copy(const Rd *s, char *out, size_t cap, const char *what) {
    size_t n = rd_left(s);
    if (n >= cap || memchr(s->p, 0, n))
        return t2i_error(T2I_EFORMAT, "%s: %s at byte %zu is not a valid name (%zu bytes)",
                         s->name, what, rd_off(s), n);
    memcpy(out, s->p, n);
    out[n] = 0;
    return T2I_OK;
}

static int add_entry(StateDict *out, const char *name, int dt, const Shape *s, void *data,
                     const char *file) {
    int rc = sd_add(out, name, (DType)dt, s->ndim, s->shape, data);
    return rc ? t2i_error_prefix(rc, "%s", file) : T2I_OK;
}

// ---- sniffing -------------------------------------------------------------------------------

typedef struct {
    int kind;
} Sniff;

enum { STOP = 1000 };   // private return value that ends a table walk early

static int sniff_first(void *ctx, const uint8_t *key, size_t klen, const uint8_t *val,
                       size_t vlen, size_t off) {
    (void)key, (void)off;
    Sniff *s = ctx;
    // V1's meta entry starts with field 1 (meta, a message); V2's header with field 1 (varint
    // num_shards) or 3 (version).
    if (klen == 0) s->kind = vlen > 0 && val[0] == 0x0a ? TF_CKPT_V1 : TF_CKPT_V2;
    return STOP;
}

static int graphdef_sniff(const uint8_t *buf, size_t len) {
    Rd r, node;
    rd_init(&r, buf, len, "", 0);
    uint32_t f;
    int      w;
    if (len < 2 || buf[0] != 0x0a) return 0;
    if (pb_key(&r, &f, &w) || pb_sub(&r, &node)) return 0;
    if (pb_key(&node, &f, &w) || f != 1 || w != PB_LEN) return 0;   // NodeDef.name first
    return 1;
}

int tf_table_kind(const uint8_t *buf, size_t len, const char *name, int *kind) {
    Sniff s = {TF_NONE};
    int   rc = sstable_each(buf, len, name, sniff_first, &s);
    if (rc == STOP) rc = T2I_OK;
    if (!rc && s.kind == TF_NONE)
        rc = t2i_error(T2I_EFORMAT, "%s: table starts with no header entry (key \"\"): not a "
                       "TensorFlow checkpoint", name);
    *kind = s.kind;
    return rc;
}

int tf_sniff(const uint8_t *buf, size_t len) {
    int kind;
    if (sstable_sniff(buf, len)) return tf_table_kind(buf, len, "", &kind) ? TF_NONE : kind;
    return graphdef_sniff(buf, len) ? TF_GRAPHDEF : TF_NONE;
}

const char *tf_kind_name(int kind) {
    return kind == TF_CKPT_V1   ? "TensorFlow V1 checkpoint"
           : kind == TF_CKPT_V2 ? "TensorFlow V2 checkpoint index"
           : kind == TF_GRAPHDEF ? "TensorFlow GraphDef"
                                 : "not a TensorFlow file";
}

// ---- V1: SavedTensorSlices --------------------------------------------------------------------

typedef struct {
    char    name[4097];
    int     dt;         // DType, -1 when skipped
    Shape   shape;
    void   *data;       // full tensor (zeroed), owned until added
    size_t  filled;     // elements written by slices
} V1Tensor;

typedef struct {
    const char *file;
    size_t      file_len;
    V1Tensor   *t;
    int         n, cap;
    int         have_meta;
    StateDict  *out;
} V1;

// TensorSliceProto {extent 1: {start 1, length 2}} against the full shape: start/len per dim.
static int slice_decode(Rd m, const Shape *full, int64_t *start, int64_t *len, const char *what) {
    size_t at = rd_off(&m);
    int    nd = 0, rc;
    while (!rd_eof(&m)) {
        uint32_t f;
        int      w;
        if ((rc = pb_key(&m, &f, &w))) return rc;
        if (f != 1) {
            if ((rc = pb_skip(&m, w))) return rc;
            continue;
        }
        Rd e;
        if ((rc = pb_want(&m, f, w, PB_LEN, "TensorSliceProto.extent")) || (rc = pb_sub(&m, &e)))
            return rc;
        if (nd == full->ndim)
            return t2i_error(T2I_EFORMAT, "%s: %s: slice at byte %zu has more extents than the "
                             "tensor has dimensions (%d)", m.name, what, at, full->ndim);
        uint64_t us = 0, ul = 0;
        int      has_len = 0;
        PbField  spec[] = {{1, PB_VARINT, &us, NULL, "Extent.start"},
                           {2, PB_VARINT, &ul, &has_len, "Extent.length"}};
        if ((rc = pb_fields(e, spec, 2))) return rc;
        int64_t st = (int64_t)us, l = has_len ? (int64_t)ul : full->shape[nd] - st;
        if (st < 0 || l < 0 || st > full->shape[nd] || l > full->shape[nd] - st)
            return t2i_error(T2I_EFORMAT, "%s: %s: slice extent %d at byte %zu (start %lld, "
                             "length %lld) is outside the dimension of size %lld", m.name, what,
                             nd, at, (long long)st, (long long)l, (long long)full->shape[nd]);
        start[nd] = st, len[nd] = l;
        nd++;
    }
    if (nd == 0)   // an empty slice proto is the full tensor
        for (; nd < full->ndim; nd++) start[nd] = 0, len[nd] = full->shape[nd];
    if (nd != full->ndim)
        return t2i_error(T2I_EFORMAT, "%s: %s: slice at byte %zu has %d extents, the tensor %d "
                         "dimensions", m.name, what, at, nd, full->ndim);
    return T2I_OK;
}

static int v1_meta(V1 *v, Rd m) {
    int rc;
    while (!rd_eof(&m)) {
        uint32_t f;
        int      w;
        if ((rc = pb_key(&m, &f, &w))) return rc;
        if (f != 1) {   // versions 2
            if ((rc = pb_skip(&m, w))) return rc;
            continue;
        }
        Rd sm;
        if ((rc = pb_want(&m, f, w, PB_LEN, "SavedTensorSliceMeta.tensor")) ||
            (rc = pb_sub(&m, &sm)))
            return rc;
        if (v->n == v->cap) {
            int       nc = v->cap ? v->cap * 2 : 64;
            V1Tensor *nt = t2i_realloc(v->t, (size_t)nc * sizeof *nt);
            if (!nt) return t2i_error(T2I_ENOMEM, "%s: out of memory", v->file);
            v->t = nt, v->cap = nc;
        }
        V1Tensor *t = &v->t[v->n];
        memset(t, 0, sizeof *t);
        uint64_t type = 0;
        int      have_name = 0, have_shape = 0;
        size_t   at = rd_off(&sm);
        Rd       nm, shp;
        PbField  spec[] = {{1, PB_LEN, &nm, &have_name, "SavedSliceMeta.name"},
                           {2, PB_LEN, &shp, &have_shape, "SavedSliceMeta.shape"},
                           {3, PB_VARINT, &type, NULL, "SavedSliceMeta.type"}};
        // slice 4 is skipped: the data entries say it again
        if ((rc = pb_fields(sm, spec, 3))) return rc;
        if (have_name && (rc = name_copy(&nm, t->name, sizeof t->name, "tensor name"))) return rc;
        if (have_shape && (rc = shape_decode(shp, &t->shape))) return rc;
        if (!have_name || !have_shape)
            return t2i_error(T2I_EFORMAT, "%s: tensor description at byte %zu has no %s",
                             v->file, at, have_name ? "shape" : "name");
        for (int i = 0; i < v->n; i++)
            if (strcmp(v->t[i].name, t->name) == 0)
                return t2i_error(T2I_EFORMAT, "%s: tensor '%s' is described twice (byte %zu)",
                                 v->file, t->name, at);
        t->dt = tf_dtype(type);
        // every stored element takes at least one byte of the file: bound claims before allocating
        if (t->dt >= 0 && t->shape.numel > v->file_len)
            return t2i_error(T2I_EFORMAT, "%s: tensor '%s' (byte %zu) claims %zu elements, more "
                             "than the file's %zu bytes can hold", v->file, t->name, at,
                             t->shape.numel, v->file_len);
        if (t->dt >= 0) {
            size_t bytes;
            if (!t2i_mul_size(t->shape.numel, dtype_size((DType)t->dt), &bytes) ||
                bytes > T2I_MAX_ALLOC)
                return t2i_error(T2I_ENOMEM, "%s: tensor '%s' (byte %zu) is too large", v->file,
                                 t->name, at);
            t->data = t2i_malloc_aligned(bytes ? bytes : 1);
            if (!t->data) return t2i_error(T2I_ENOMEM, "%s: out of memory for '%s'", v->file,
                                           t->name);
            memset(t->data, 0, bytes);
        }
        v->n++;
    }
    v->have_meta = 1;
    return T2I_OK;
}

// Copies a dense slice (start/len per dim, elements in C order) into the full tensor.
static void slice_copy(uint8_t *full, const Shape *fs, const uint8_t *src, const int64_t *start,
                       const int64_t *len, size_t es) {
    int nd = fs->ndim;
    if (nd == 0) {
        memcpy(full, src, es);
        return;
    }
    size_t  row = (size_t)len[nd - 1] * es;
    int64_t idx[T2I_MAX_DIMS] = {0};
    size_t  rows = 1;
    for (int d = 0; d < nd - 1; d++) rows *= (size_t)len[d];
    if (row == 0) return;
    for (size_t r = 0; r < rows; r++) {
        size_t off = 0;
        for (int d = 0; d < nd; d++)
            off = off * (size_t)fs->shape[d] + (size_t)(start[d] + (d < nd - 1 ? idx[d] : 0));
        memcpy(full + off * es, src + r * row, row);
        for (int d = nd - 2; d >= 0; d--) {
            if (++idx[d] < len[d]) break;
            idx[d] = 0;
        }
    }
}

static int v1_slice(V1 *v, Rd m) {
    size_t at = rd_off(&m);
    Rd      name = {0}, slice = {0}, data = {0};
    int     hn = 0, hs = 0, hd = 0, rc;
    PbField spec[] = {{1, PB_LEN, &name, &hn, "SavedSlice.name"},
                      {2, PB_LEN, &slice, &hs, "SavedSlice.slice"},
                      {3, PB_LEN, &data, &hd, "SavedSlice.data"}};
    if ((rc = pb_fields(m, spec, 3))) return rc;
    char nm[4097];
    if (!hn || !hd)
        return t2i_error(T2I_EFORMAT, "%s: slice entry at byte %zu has no %s", v->file, at,
                         hn ? "data" : "name");
    if ((rc = name_copy(&name, nm, sizeof nm, "slice name"))) return rc;
    V1Tensor *t = NULL;
    for (int i = 0; i < v->n && !t; i++)
        if (strcmp(v->t[i].name, nm) == 0) t = &v->t[i];
    if (!t)
        return t2i_error(T2I_EFORMAT, "%s: slice entry at byte %zu names '%s', which the "
                         "checkpoint's table of contents does not list", v->file, at, nm);
    if (t->dt < 0) return T2I_OK;
    int64_t st[T2I_MAX_DIMS], ln[T2I_MAX_DIMS];
    if (hs) {
        if ((rc = slice_decode(slice, &t->shape, st, ln, nm))) return rc;
    } else {
        for (int d = 0; d < t->shape.ndim; d++) st[d] = 0, ln[d] = t->shape.shape[d];
    }
    Shape ss = {.ndim = t->shape.ndim};
    memcpy(ss.shape, ln, sizeof(int64_t) * (size_t)ss.ndim);
    shape_numel(ss.ndim, ss.shape, &ss.numel);   // <= the full tensor's count: no overflow
    TProto tp;
    if ((rc = tproto_scan(data, &tp))) return rc;
    if (tp.dtype && tf_dtype(tp.dtype) != t->dt)
        return t2i_error(T2I_EFORMAT, "%s: slice of '%s' at byte %zu has dtype %llu, its table "
                         "of contents another", v->file, nm, at, (unsigned long long)tp.dtype);
    if (ss.numel > t->shape.numel - t->filled)
        return t2i_error(T2I_EFORMAT, "%s: slices of '%s' overlap (entry at byte %zu)", v->file,
                         nm, at);
    size_t   es = dtype_size((DType)t->dt);
    uint8_t *tmp = t2i_malloc_aligned(ss.numel * es + 1);
    if (!tmp) return t2i_error(T2I_ENOMEM, "%s: out of memory for a slice of '%s'", v->file, nm);
    rc = tproto_values(data, &tp, t->dt, ss.numel, 1, tmp, nm);
    if (!rc) {
        slice_copy(t->data, &t->shape, tmp, st, ln, es);
        t->filled += ss.numel;
    }
    t2i_free(tmp);
    return rc;
}

static int v1_entry(void *ctx, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen,
                    size_t off) {
    V1 *v = ctx;
    Rd  m;
    rd_init(&m, val, vlen, v->file, off);
    if (klen == 0 && v->have_meta)
        return t2i_error(T2I_EFORMAT, "%s: two table-of-contents entries", v->file);
    if (klen != 0 && !v->have_meta)
        return t2i_error(T2I_EFORMAT, "%s: the first entry (byte %zu) is not the table of "
                         "contents (key \"\")", v->file, off);
    (void)key;
    Rd      meta, data;
    int     hm = 0, hd = 0, rc;
    PbField spec[] = {{1, PB_LEN, &meta, &hm, "SavedTensorSlices.meta"},
                      {2, PB_LEN, &data, &hd, "SavedTensorSlices.data"}};
    if ((rc = pb_fields(m, spec, 2))) return rc;
    if (hm && klen != 0)
        return t2i_error(T2I_EFORMAT, "%s: entry at byte %zu holds a table of contents under a "
                         "data key", v->file, off);
    if (hm && (rc = v1_meta(v, meta))) return rc;
    if (hd && (rc = v1_slice(v, data))) return rc;
    return T2I_OK;
}

int tf_ckpt_v1_parse(const uint8_t *buf, size_t len, const char *name, StateDict *out) {
    sd_init(out);
    skipped = 0;
    V1  v = {.file = name, .file_len = len, .out = out};
    int rc = sstable_each(buf, len, name, v1_entry, &v);
    if (!rc && !v.have_meta)
        rc = t2i_error(T2I_EFORMAT, "%s: table has no table of contents (key \"\")", name);
    for (int i = 0; i < v.n; i++) {
        V1Tensor *t = &v.t[i];
        if (!rc && t->dt < 0) skipped++;
        if (!rc && t->dt >= 0 && t->filled != t->shape.numel)
            rc = t2i_error(T2I_EFORMAT, "%s: tensor '%s': slices cover %zu of its %zu elements",
                           name, t->name, t->filled, t->shape.numel);
        if (!rc && t->dt >= 0) {
            rc = add_entry(out, t->name, t->dt, &t->shape, t->data, name);
            t->data = NULL;
        }
        t2i_free(t->data);
    }
    t2i_free(v.t);
    if (rc) sd_free(out);
    return rc;
}

// ---- V2: tensor bundles -----------------------------------------------------------------------

typedef struct {
    const char           *file;
    const uint8_t *const *shards;
    const size_t         *lens;
    const char *const    *names;
    int                   nshards;   // -1: header only
    int                   num_shards;
    int                   have_header;
    StateDict            *out;
} V2;

static int v2_header(V2 *v, Rd m) {
    uint64_t ns = 0, endian = 0;
    PbField  spec[] = {{1, PB_VARINT, &ns, NULL, "BundleHeaderProto.num_shards"},
                       {2, PB_VARINT, &endian, NULL, "BundleHeaderProto.endianness"}};
    int      rc = pb_fields(m, spec, 2);
    if (rc) return rc;
    if (endian != 0)
        return t2i_error(T2I_EFORMAT, "%s: bundle header: big-endian bundles are not supported",
                         v->file);
    if (ns < 1 || ns > 100000)
        return t2i_error(T2I_EFORMAT, "%s: bundle header: %llu data shards", v->file,
                         (unsigned long long)ns);
    v->num_shards = (int)ns;
    v->have_header = 1;
    return T2I_OK;
}

static int v2_entry_msg(V2 *v, const char *name, Rd m) {
    size_t   at = rd_off(&m);
    uint64_t dtype = 0, shard = 0, offset = 0, size = 0, crc = 0;
    Shape    shape = {.ndim = 0, .numel = 1};
    Rd       shp, sl;
    int      has_crc = 0, has_shape = 0, sliced = 0, rc;
    PbField  spec[] = {{1, PB_VARINT, &dtype, NULL, "BundleEntryProto.dtype"},
                       {2, PB_LEN, &shp, &has_shape, "BundleEntryProto.shape"},
                       {3, PB_VARINT, &shard, NULL, "BundleEntryProto.shard_id"},
                       {4, PB_VARINT, &offset, NULL, "BundleEntryProto.offset"},
                       {5, PB_VARINT, &size, NULL, "BundleEntryProto.size"},
                       {6, PB_I32, &crc, &has_crc, "BundleEntryProto.crc32c"},
                       {7, PB_LEN, &sl, &sliced, "BundleEntryProto.slices"}};
    if ((rc = pb_fields(m, spec, 7))) return rc;
    if (has_shape && (rc = shape_decode(shp, &shape))) return rc;
    if (sliced)
        return t2i_error(T2I_EFORMAT, "%s: tensor '%s' (byte %zu) is a partitioned variable "
                         "(sliced entries are not supported)", v->file, name, at);
    int dt = tf_dtype(dtype);
    if (dt < 0) {
        skipped++;
        return T2I_OK;
    }
    if (shard >= (uint64_t)v->nshards)
        return t2i_error(T2I_EFORMAT, "%s: tensor '%s' (byte %zu) is in shard %llu of %d", v->file,
                         name, at, (unsigned long long)shard, v->nshards);
    size_t es = dtype_size((DType)dt), bytes;
    if (!t2i_mul_size(shape.numel, es, &bytes) || bytes != size)
        return t2i_error(T2I_EFORMAT, "%s: tensor '%s' (byte %zu): %llu bytes stored, its shape "
                         "needs %zu elements of %zu bytes", v->file, name, at,
                         (unsigned long long)size, shape.numel, es);
    size_t dl = v->lens[shard];
    if (offset > dl || size > dl - offset)
        return t2i_error(T2I_EFORMAT, "%s: tensor '%s' (index byte %zu): bytes %llu..%llu lie "
                         "outside %s (%zu bytes)", v->file, name, at, (unsigned long long)offset,
                         (unsigned long long)(offset + size), v->names[shard], dl);
    const uint8_t *src = v->shards[shard] + offset;
    if (!has_crc)
        return t2i_error(T2I_EFORMAT, "%s: tensor '%s' (byte %zu) has no checksum", v->file, name,
                         at);
    uint32_t got = crc32c(0, src, (size_t)size);
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
    got = crc32c_unmask((uint32_t)crc);   // fuzz builds only: reach the copy below
#endif
    if (crc32c_unmask((uint32_t)crc) != got)
        return t2i_error(T2I_EFORMAT, "%s: tensor '%s' at byte %llu: CRC-32C mismatch (index "
                         "says %08x, data %08x)", v->names[shard], name, (unsigned long long)offset,
                         crc32c_unmask((uint32_t)crc), got);
    void *data = t2i_malloc_aligned(bytes ? bytes : 1);
    if (!data) return t2i_error(T2I_ENOMEM, "%s: out of memory for '%s'", v->file, name);
    memcpy(data, src, bytes);
    return add_entry(v->out, name, dt, &shape, data, v->file);
}

static int v2_entry(void *ctx, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen,
                    size_t off) {
    V2 *v = ctx;
    Rd  m;
    rd_init(&m, val, vlen, v->file, off);
    if (klen == 0) {
        int rc = v2_header(v, m);
        return rc ? rc : v->nshards < 0 ? STOP : T2I_OK;
    }
    if (!v->have_header)
        return t2i_error(T2I_EFORMAT, "%s: the first entry (byte %zu) is not the bundle header",
                         v->file, off);
    // Keys starting with a 0 byte are the slices of partitioned variables (TF's
    // EncodeTensorNameSlice); their full entry, which lists the slices, is refused below.
    if (key[0] == 0) return T2I_OK;
    char name[4097];
    Rd   k;
    rd_init(&k, key, klen, v->file, off);
    int rc = name_copy(&k, name, sizeof name, "tensor name");
    return rc ? rc : v2_entry_msg(v, name, m);
}

int tf_bundle_num_shards(const uint8_t *index, size_t len, const char *name, int *n) {
    V2  v = {.file = name, .nshards = -1};
    int rc = sstable_each(index, len, name, v2_entry, &v);
    if (rc == STOP) rc = T2I_OK;
    if (!rc && !v.have_header)
        rc = t2i_error(T2I_EFORMAT, "%s: no bundle header (key \"\")", name);
    *n = v.num_shards;
    return rc;
}

int tf_bundle_parse(const uint8_t *index, size_t len, const char *name,
                    const uint8_t *const *shards, const size_t *lens, const char *const *names,
                    int nshards, StateDict *out) {
    sd_init(out);
    skipped = 0;
    V2  v = {.file = name, .shards = shards, .lens = lens, .names = names, .nshards = nshards,
             .out = out};
    int rc = sstable_each(index, len, name, v2_entry, &v);
    if (!rc && !v.have_header) rc = t2i_error(T2I_EFORMAT, "%s: no bundle header", name);
    if (!rc && v.num_shards != nshards)
        rc = t2i_error(T2I_EFORMAT, "%s: header says %d data shards, %d given", name, v.num_shards,
                       nshards);
    if (rc) sd_free(out);
    return rc;
}

static int ends_with(const char *s, const char *suf) {
    size_t n = strlen(s), m = strlen(suf);
    return n >= m && strcmp(s + n - m, suf) == 0;
}

int tf_is_bundle_prefix(const char *path) {
    struct stat st;
    char        p[4096];
    if (stat(path, &st) == 0) return 0;
    if ((size_t)snprintf(p, sizeof p, "%s.index", path) >= sizeof p) return 0;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

int tf_bundle_sha256(const char *path, char hex[65]) {
    char prefix[4096], ipath[4200], dp[4300], d[65];
    size_t pl = strlen(path);
    if (pl >= sizeof prefix) return t2i_error(T2I_EARG, "%s: path too long", path);
    memcpy(prefix, path, pl + 1);
    if (ends_with(prefix, ".index")) prefix[pl - 6] = 0;
    snprintf(ipath, sizeof ipath, "%s.index", prefix);
    uint8_t *index = NULL;
    size_t   ilen = 0;
    int      n = 0, rc = t2i_read_file(ipath, &index, &ilen);
    if (!rc) rc = tf_bundle_num_shards(index, ilen, ipath, &n);
    Sha256 h;
    sha256_init(&h);
    if (!rc) {
        sha256_hex(index, ilen, d);
        sha256_update(&h, d, 64);
    }
    t2i_free(index);
    for (int i = 0; i < n && !rc; i++) {
        snprintf(dp, sizeof dp, "%s.data-%05d-of-%05d", prefix, i, n);
        if (!(rc = sha256_file(dp, d))) sha256_update(&h, d, 64);
    }
    if (rc) return rc;
    uint8_t dg[32];
    sha256_final(&h, dg);
    for (int i = 0; i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", dg[i]);
    return T2I_OK;
}

int tf_bundle_load(const char *path, StateDict *out) {
    sd_init(out);
    char prefix[4096], ipath[4200];
    size_t pl = strlen(path);
    if (pl >= sizeof prefix) return t2i_error(T2I_EARG, "%s: path too long", path);
    memcpy(prefix, path, pl + 1);
    if (ends_with(prefix, ".index")) prefix[pl - 6] = 0;
    snprintf(ipath, sizeof ipath, "%s.index", prefix);
    uint8_t *index = NULL;
    size_t   ilen = 0;
    int      rc = t2i_read_file(ipath, &index, &ilen), n = 0;
    if (rc) return rc;
    if ((rc = tf_bundle_num_shards(index, ilen, ipath, &n))) {
        t2i_free(index);
        return rc;
    }
    uint8_t **bufs = t2i_calloc((size_t)n, sizeof *bufs);
    size_t   *lens = t2i_calloc((size_t)n, sizeof *lens);
    char    **names = t2i_calloc((size_t)n, sizeof *names);
    if (!bufs || !lens || !names) rc = t2i_error(T2I_ENOMEM, "%s: out of memory", ipath);
    for (int i = 0; i < n && !rc; i++) {
        char dp[4300];
        snprintf(dp, sizeof dp, "%s.data-%05d-of-%05d", prefix, i, n);
        names[i] = t2i_strdup(dp);
        if (!names[i]) rc = t2i_error(T2I_ENOMEM, "%s: out of memory", ipath);
        else if ((rc = t2i_read_file(dp, &bufs[i], &lens[i])))
            rc = t2i_error_prefix(rc, "data shard %d of %d of %s", i, n, ipath);
    }
    if (!rc)
        rc = tf_bundle_parse(index, ilen, ipath, (const uint8_t *const *)bufs, lens,
                             (const char *const *)names, n, out);
    for (int i = 0; i < n && bufs && names; i++) t2i_free(bufs[i]), t2i_free(names[i]);
    t2i_free(bufs), t2i_free(lens), t2i_free(names), t2i_free(index);
    return rc;
}

// ---- GraphDef -------------------------------------------------------------------------------

static int graph_node(StateDict *out, const char *file, Rd m) {
    size_t at = rd_off(&m);
    Rd     name = {0}, op = {0}, value = {0};
    int    hn = 0, ho = 0, hv = 0, rc;
    while (!rd_eof(&m)) {   // name 1, op 2, attr 5 (repeated map entries {key 1, value 2})
        uint32_t f;
        int      w;
        Rd       s;
        if ((rc = pb_key(&m, &f, &w))) return rc;
        if (f == 1 || f == 2) {
            if ((rc = pb_want(&m, f, w, PB_LEN, "NodeDef name/op")) ||
                (rc = pb_sub(&m, f == 1 ? &name : &op)))
                return rc;
            *(f == 1 ? &hn : &ho) = 1;
            continue;
        }
        if (f != 5) {
            if ((rc = pb_skip(&m, w))) return rc;
            continue;
        }
        if ((rc = pb_want(&m, f, w, PB_LEN, "NodeDef.attr")) || (rc = pb_sub(&m, &s))) return rc;
        Rd      key = {0}, av = {0};
        int     hk = 0, ha = 0;
        PbField entry[] = {{1, PB_LEN, &key, &hk, "attr key"}, {2, PB_LEN, &av, &ha, "attr value"}};
        if ((rc = pb_fields(s, entry, 2))) return rc;
        if (!hk || !ha || rd_left(&key) != 5 || memcmp(key.p, "value", 5) != 0) continue;
        PbField tensor[] = {{8, PB_LEN, &value, &hv, "AttrValue.tensor"}};
        if ((rc = pb_fields(av, tensor, 1))) return rc;
    }
    if (!ho || rd_left(&op) != 5 || memcmp(op.p, "Const", 5) != 0) return T2I_OK;
    char nm[4097];
    if (!hn) return t2i_error(T2I_EFORMAT, "%s: Const node at byte %zu has no name", file, at);
    if ((rc = name_copy(&name, nm, sizeof nm, "node name"))) return rc;
    if (!hv)
        return t2i_error(T2I_EFORMAT, "%s: Const node '%s' (byte %zu) has no value", file, nm, at);
    int   dt;
    Shape sh;
    void *data;
    if ((rc = tproto_decode(value, nm, &dt, &sh, &data))) return rc;
    if (dt < 0) {
        skipped++;
        return T2I_OK;
    }
    return add_entry(out, nm, dt, &sh, data, file);
}

int tf_graphdef_parse(const uint8_t *buf, size_t len, const char *name, StateDict *out) {
    sd_init(out);
    skipped = 0;
    Rd r;
    rd_init(&r, buf, len, name, 0);
    int rc = T2I_OK;
    while (!rc && !rd_eof(&r)) {
        uint32_t f;
        int      w;
        Rd       node;
        if ((rc = pb_key(&r, &f, &w))) break;
        if (f == 1) {
            if (!(rc = pb_want(&r, f, w, PB_LEN, "GraphDef.node")) && !(rc = pb_sub(&r, &node)))
                rc = graph_node(out, name, node);
        } else {
            rc = pb_skip(&r, w);
        }
    }
    if (rc) sd_free(out);
    return rc;
}
