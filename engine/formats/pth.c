// pth.c -- see pth.h. The object layouts follow torch/serialization.py (torch 1.13) and the
// torch 0.3 legacy writer, as described in ../shared/fixtures/README.md.
#include "pth.h"
#include "pickle.h"
#include "rd.h"
#include "t2i.h"
#include "zip.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// A resolved storage: `numel` elements of `dtype` at `data` (inside the file image).
typedef struct {
    DType          dtype;
    size_t         numel;
    const uint8_t *data;
} Storage;

// Legacy root storages, filled after the key-list pickle.
typedef struct {
    const char    *key;    // points into the pickle pool
    DType          dtype;
    size_t         numel;  // from the persistent id
    const uint8_t *data;   // NULL until the data section is read
    int            seen;
    size_t         off;    // file offset of the persistent id
} Root;

typedef struct {
    const char    *name;
    const uint8_t *buf;
    size_t         len;
    // zip layout
    const Zip     *zip;
    char           prefix[512];
    // legacy layout
    Root          *roots;
    int            nroots, rcap;
} Ctx;

int pth_sniff(const uint8_t *buf, size_t len) {
    if (zip_sniff(buf, len)) return 1;
    // A legacy file starts with the pickled magic number: PROTO n, LONG1 10 bytes.
    if (len >= 4 && buf[0] == 0x80 && buf[1] <= 5 && buf[2] == 0x8a && buf[3] == 10) return 2;
    return 0;
}

// ---- persistent ids --------------------------------------------------------------------------

// Decodes ('storage', type, key, location, numel[, view_metadata]) into its parts.
static int parse_persid(const Ctx *cx, const PkVal *pid, DType *dtype, const PkVal **key,
                        int64_t *numel, const PkVal **view) {
    if (!pid || pid->kind != PK_PERSID)
        return t2i_error(T2I_EFORMAT, "%s: tensor storage at byte %zu is not a persistent id",
                         cx->name, pid ? pid->off : 0);
    const PkVal *t = pid->u.persid;
    size_t n = pk_len(t);
    if (!t || t->kind != PK_TUPLE || (n != 5 && n != 6) || !pk_is_str(pk_item(t, 0), "storage"))
        return t2i_error(T2I_EFORMAT,
                         "%s: persistent id at byte %zu is not ('storage', type, key, location, numel)",
                         cx->name, pid->off);
    const PkVal *ty = pk_item(t, 1);
    if (!ty || ty->kind != PK_GLOBAL || ty->u.glob.id != PKG_STORAGE)
        return t2i_error(T2I_EFORMAT, "%s: persistent id at byte %zu names no storage type",
                         cx->name, pid->off);
    *dtype = ty->u.glob.dtype;
    *key = pk_item(t, 2);
    if (!*key || (*key)->kind != PK_STR || strlen((*key)->u.str.s) != (*key)->u.str.n ||
        (*key)->u.str.n == 0 || (*key)->u.str.n > 200)
        return t2i_error(T2I_EFORMAT, "%s: bad storage key in the persistent id at byte %zu",
                         cx->name, pid->off);
    if (pk_item(t, 3)->kind != PK_STR)
        return t2i_error(T2I_EFORMAT, "%s: bad storage location in the persistent id at byte %zu",
                         cx->name, pid->off);
    if (!pk_as_int(pk_item(t, 4), numel) || *numel < 0)
        return t2i_error(T2I_EFORMAT, "%s: bad storage size in the persistent id at byte %zu",
                         cx->name, pid->off);
    *view = n == 6 ? pk_item(t, 5) : NULL;
    if (*view && (*view)->kind == PK_NONE) *view = NULL;
    return T2I_OK;
}

static int cmp_root(const void *a, const void *b) {
    return strcmp(((const Root *)a)->key, ((const Root *)b)->key);
}

// Binary search; valid after finish_roots() sorted and deduplicated the table.
static Root *find_root(Ctx *cx, const char *key) {
    Root probe = {.key = key};
    return cx->nroots ? bsearch(&probe, cx->roots, (size_t)cx->nroots, sizeof *cx->roots, cmp_root)
                      : NULL;
}

// Legacy pass 1: records every storage reference's root key, dtype and size.
static int note_root(Ctx *cx, const PkVal *pid) {
    DType dt;
    const PkVal *key, *view;
    int64_t numel;
    int rc = parse_persid(cx, pid, &dt, &key, &numel, &view);
    if (rc) return rc;
    if (cx->nroots == cx->rcap) {
        int nc = cx->rcap ? cx->rcap * 2 : 64;
        Root *nr = t2i_realloc(cx->roots, (size_t)nc * sizeof *nr);
        if (!nr) return t2i_error_prefix(T2I_ENOMEM, "%s", cx->name);
        cx->roots = nr;
        cx->rcap = nc;
    }
    cx->roots[cx->nroots++] = (Root){.key = key->u.str.s, .dtype = dt, .numel = (size_t)numel,
                                     .off = pid->off};
    return T2I_OK;
}

// Sorts the references by key and merges repeats; conflicting claims are refused.
static int finish_roots(Ctx *cx) {
    if (!cx->nroots) return T2I_OK;
    qsort(cx->roots, (size_t)cx->nroots, sizeof *cx->roots, cmp_root);
    int n = 1;
    for (int i = 1; i < cx->nroots; i++) {
        Root *prev = &cx->roots[n - 1], *r = &cx->roots[i];
        if (strcmp(prev->key, r->key) != 0) {
            cx->roots[n++] = *r;
        } else if (prev->dtype != r->dtype || prev->numel != r->numel) {
            return t2i_error(T2I_EFORMAT, "%s: storage '%s' is declared twice with different "
                             "types or sizes (bytes %zu and %zu)", cx->name, r->key, prev->off,
                             r->off);
        }
    }
    cx->nroots = n;
    return T2I_OK;
}

static int resolve_storage(Ctx *cx, const PkVal *pid, Storage *st) {
    DType dt;
    const PkVal *key, *view;
    int64_t numel;
    int rc = parse_persid(cx, pid, &dt, &key, &numel, &view);
    if (rc) return rc;
    size_t es = dtype_size(dt), bytes;
    if (!t2i_mul_size((size_t)numel, es, &bytes))
        return t2i_error(T2I_EFORMAT, "%s: storage '%s' size overflows (byte %zu)", cx->name,
                         key->u.str.s, pid->off);
    st->dtype = dt;
    if (cx->zip) {
        char member[800];
        snprintf(member, sizeof member, "%sdata/%s", cx->prefix, key->u.str.s);
        int i = zip_find(cx->zip, member);
        if (i < 0)
            return t2i_error(T2I_EFORMAT, "%s: storage member '%s' (persistent id at byte %zu) is "
                             "missing", cx->name, member, pid->off);
        const uint8_t *p;
        size_t n;
        if ((rc = zip_span(cx->zip, i, &p, &n))) return rc;
        if (n != bytes)
            return t2i_error(T2I_EFORMAT, "%s: storage '%s' has %zu bytes, its persistent id at "
                             "byte %zu says %lld x %zu", cx->name, member, n, pid->off,
                             (long long)numel, es);
        st->numel = (size_t)numel;
        st->data = p;
    } else {
        Root *r = find_root(cx, key->u.str.s);
        if (!r || !r->data)
            return t2i_error(T2I_EFORMAT, "%s: storage '%s' (byte %zu) has no data", cx->name,
                             key->u.str.s, pid->off);
        st->numel = r->numel;
        st->data = r->data;
    }
    if (view) {  // old torch storage views: (view_key, offset, size) into the root storage
        int64_t voff, vsize;
        if (pk_len(view) != 3 || !pk_as_int(pk_item(view, 1), &voff) ||
            !pk_as_int(pk_item(view, 2), &vsize) || voff < 0 || vsize < 0 ||
            (uint64_t)voff > st->numel || (uint64_t)vsize > st->numel - (uint64_t)voff)
            return t2i_error(T2I_EFORMAT, "%s: bad storage view at byte %zu", cx->name, view->off);
        st->data += (size_t)voff * es;
        st->numel = (size_t)vsize;
    }
    return T2I_OK;
}

// ---- tensors ----------------------------------------------------------------------------------

// The arguments of a tensor value: unwraps _rebuild_parameter(tensor, requires_grad, hooks).
static const PkVal *tensor_args(const PkVal *v) {
    if (pk_is_call(v, PKG_REBUILD_PARAMETER) && pk_len(v->u.call.args) >= 1)
        v = pk_item(v->u.call.args, 0);
    if (pk_is_call(v, PKG_REBUILD_TENSOR_V2) && pk_len(v->u.call.args) >= 4 &&
        pk_len(v->u.call.args) <= 7)
        return v->u.call.args;
    if (pk_is_call(v, PKG_REBUILD_TENSOR) && pk_len(v->u.call.args) == 4) return v->u.call.args;
    return NULL;
}

static int int_tuple(const PkVal *t, int64_t *out, int *n) {
    if (!t || t->kind != PK_TUPLE || t->u.seq.n > T2I_MAX_DIMS) return 0;
    for (size_t i = 0; i < t->u.seq.n; i++)
        if (!pk_as_int(t->u.seq.v[i], &out[i]) || out[i] < 0) return 0;
    *n = (int)t->u.seq.n;
    return 1;
}

// Copies the (size, stride, offset) view of `st` into a new contiguous buffer.
static int materialize(Ctx *cx, const char *key, const PkVal *args, StateDict *sd) {
    Storage st = {0};
    int rc = resolve_storage(cx, pk_item(args, 0), &st);
    if (rc) return t2i_error_prefix(rc, "tensor '%s'", key);
    int64_t offset, size[T2I_MAX_DIMS], stride[T2I_MAX_DIMS];
    int nd = 0, ns = 0;
    if (!pk_as_int(pk_item(args, 1), &offset) || offset < 0 ||
        !int_tuple(pk_item(args, 2), size, &nd) || !int_tuple(pk_item(args, 3), stride, &ns) ||
        nd != ns)
        return t2i_error(T2I_EFORMAT, "%s: tensor '%s' at byte %zu has a bad offset, size or stride",
                         cx->name, key, args->off);
    size_t numel, es = dtype_size(st.dtype), bytes;
    if (!shape_numel(nd, size, &numel) || !t2i_mul_size(numel, es, &bytes))
        return t2i_error(T2I_EFORMAT, "%s: tensor '%s' shape overflows (byte %zu)", cx->name, key,
                         args->off);
    // Refused before allocating: the view must lie inside its storage, and a tensor may not
    // claim more elements than the storage holds (this is what stops a 10^12-element claim).
    if (numel > st.numel)
        return t2i_error(T2I_EFORMAT, "%s: tensor '%s' (byte %zu) claims %zu elements but its "
                         "storage holds %zu", cx->name, key, args->off, numel, st.numel);
    if (numel) {
        uint64_t last = (uint64_t)offset;
        for (int d = 0; d < nd; d++) {
            uint64_t span = (uint64_t)(size[d] - 1);
            if (stride[d] && span > (UINT64_MAX - last) / (uint64_t)stride[d])
                return t2i_error(T2I_EFORMAT, "%s: tensor '%s' stride overflows (byte %zu)",
                                 cx->name, key, args->off);
            last += span * (uint64_t)stride[d];
        }
        if (last >= st.numel)
            return t2i_error(T2I_EFORMAT, "%s: tensor '%s' (byte %zu) reads element %llu of a "
                             "%zu-element storage", cx->name, key, args->off,
                             (unsigned long long)last, st.numel);
    }
    uint8_t *dst = t2i_malloc_aligned(bytes);
    if (!dst) return t2i_error_prefix(T2I_ENOMEM, "%s: tensor '%s'", cx->name, key);
    int contiguous = 1;
    int64_t expect = 1;
    for (int d = nd - 1; d >= 0 && numel > 1; d--) {  // sizes >= 1 here, products <= numel
        if (size[d] != 1 && stride[d] != expect) contiguous = 0;
        expect *= size[d];
    }
    const uint8_t *src = st.data + (size_t)offset * es;
    if (contiguous || numel <= 1) {
        if (bytes) memcpy(dst, src, bytes);
    } else {
        int64_t idx[T2I_MAX_DIMS] = {0};
        size_t pos = 0;  // element offset from src
        for (size_t i = 0; i < numel; i++) {
            memcpy(dst + i * es, src + pos * es, es);
            for (int d = nd - 1; d >= 0; d--) {
                if (++idx[d] < size[d]) {
                    pos += (size_t)stride[d];
                    break;
                }
                pos -= (size_t)(stride[d] * (size[d] - 1));
                idx[d] = 0;
            }
        }
    }
    rc = sd_add(sd, key, st.dtype, nd, size, dst);
    if (rc) return t2i_error_prefix(rc, "%s", cx->name);
    return T2I_OK;
}

static int is_state_dict(const PkVal *d) {
    if (!d || d->kind != PK_DICT) return 0;
    for (size_t i = 0; i < pk_len(d); i++)
        if (!tensor_args(pk_val(d, i))) return 0;
    return 1;
}

// The state_dict: the root itself, the only state_dict among the root's values, or DF-GAN's
// training checkpoint root['model']['netG'] (lib/utils.py load_netG; root['model'] also holds
// netD and netC). Where it was found goes to sd->container.
static int find_state_dict(const Ctx *cx, const PkVal *root, const PkVal **d, StateDict *sd) {
    if (!root || root->kind != PK_DICT)
        return t2i_error(T2I_EFORMAT, "%s: checkpoint holds a %s, not a state_dict", cx->name,
                         root ? pk_kind_name(root->kind) : "nothing");
    if (is_state_dict(root)) {
        *d = root;
        return T2I_OK;
    }
    const PkVal *found = NULL;
    int count = 0;
    for (size_t i = 0; i < pk_len(root); i++) {
        const PkVal *v = pk_val(root, i);
        if (v->kind == PK_DICT && pk_len(v) > 0 && is_state_dict(v)) {
            const PkVal *k = pk_key(root, i);
            if (k && k->kind == PK_STR)
                snprintf(sd->container, sizeof sd->container, "['%.*s']",
                         (int)(k->u.str.n < 40 ? k->u.str.n : 40), k->u.str.s);
            found = v;
            count++;
        }
    }
    if (count == 0) {
        const PkVal *model = pk_get(root, "model");
        const PkVal *netg = model && model->kind == PK_DICT ? pk_get(model, "netG") : NULL;
        if (netg && pk_len(netg) > 0 && is_state_dict(netg)) {
            snprintf(sd->container, sizeof sd->container, "['model']['netG']");
            *d = netg;
            return T2I_OK;
        }
    }
    if (count != 1) {
        sd->container[0] = '\0';
        return t2i_error(T2I_EFORMAT, "%s: checkpoint dict holds %d state_dicts (expected exactly "
                         "one, a dict of tensors, or DF-GAN's {'model': {'netG': ...}})",
                         cx->name, count);
    }
    *d = found;
    return T2I_OK;
}

static int build_state_dict(Ctx *cx, const PkVal *d, StateDict *sd) {
    for (size_t i = 0; i < pk_len(d); i++) {
        const PkVal *k = pk_key(d, i);
        if (!k || k->kind != PK_STR || strlen(k->u.str.s) != k->u.str.n || k->u.str.n == 0)
            return t2i_error(T2I_EFORMAT, "%s: state_dict key at byte %zu is not a string",
                             cx->name, k ? k->off : 0);
        int rc = materialize(cx, k->u.str.s, tensor_args(pk_val(d, i)), sd);
        if (rc) return rc;
    }
    return T2I_OK;
}

// ---- zip layout ------------------------------------------------------------------------------

static int parse_zip(Ctx *cx, StateDict *sd) {
    Zip zip;
    int rc = zip_open(&zip, cx->buf, cx->len, cx->name);
    if (rc) return rc;
    Pickle pk = {0};
    cx->zip = &zip;
    int pkl = -1;
    for (int i = 0; i < zip.n; i++) {
        const char *nm = zip.e[i].name;
        size_t n = strlen(nm);
        const char *slash = strchr(nm, '/');
        if (n > 9 && strcmp(nm + n - 9, "/data.pkl") == 0 && slash == nm + n - 9) {
            if (pkl >= 0) {
                rc = t2i_error(T2I_EFORMAT, "%s: zip checkpoint has two data.pkl members", cx->name);
                goto done;
            }
            pkl = i;
        }
    }
    if (pkl < 0) {
        rc = t2i_error(T2I_EFORMAT, "%s: zip file has no '<name>/data.pkl' (not a torch checkpoint)",
                       cx->name);
        goto done;
    }
    size_t plen = strlen(zip.e[pkl].name) - 8;
    if (plen >= sizeof cx->prefix) {
        rc = t2i_error(T2I_EFORMAT, "%s: archive name too long", cx->name);
        goto done;
    }
    memcpy(cx->prefix, zip.e[pkl].name, plen);
    cx->prefix[plen] = 0;
    char member[600];
    snprintf(member, sizeof member, "%sbyteorder", cx->prefix);
    int bo = zip_find(&zip, member);
    if (bo >= 0) {
        const uint8_t *p;
        size_t n;
        if ((rc = zip_span(&zip, bo, &p, &n))) goto done;
        if (n != 6 || memcmp(p, "little", 6) != 0) {
            rc = t2i_error(T2I_EFORMAT, "%s: big-endian checkpoints are not supported", cx->name);
            goto done;
        }
    }
    const uint8_t *p;
    size_t n;
    if ((rc = zip_span(&zip, pkl, &p, &n))) goto done;
    if ((rc = pickle_parse(p, n, cx->name, (size_t)zip.e[pkl].data_off, &pk))) goto done;
    if (pk.end != n) {
        rc = t2i_error(T2I_EFORMAT, "%s: %zu stray bytes after the data.pkl pickle (byte %zu)",
                       cx->name, n - pk.end, (size_t)zip.e[pkl].data_off + pk.end);
        goto done;
    }
    const PkVal *d;
    if ((rc = find_state_dict(cx, pk.root, &d, sd))) goto done;
    rc = build_state_dict(cx, d, sd);
done:
    pickle_free(&pk);
    zip_close(&zip);
    cx->zip = NULL;
    return rc;
}

// ---- legacy layout ---------------------------------------------------------------------------

static const uint8_t legacy_magic[10] = {0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19};

static int parse_legacy(Ctx *cx, StateDict *sd) {
    Pickle pk[5];
    memset(pk, 0, sizeof pk);
    size_t pos = 0;
    int rc = T2I_OK;
    for (int i = 0; i < 5; i++) {
        if ((rc = pickle_parse(cx->buf + pos, cx->len - pos, cx->name, pos, &pk[i]))) goto done;
        size_t start = pos;
        pos += pk[i].end;
        const PkVal *v = pk[i].root;
        if (i == 0 && !(v->kind == PK_BIGINT && v->u.str.n == 10 &&
                        memcmp(v->u.str.s, legacy_magic, 10) == 0)) {
            rc = t2i_error(T2I_EFORMAT, "%s: bad legacy magic number at byte %zu", cx->name, start);
            goto done;
        }
        int64_t ver;
        if (i == 1 && !(pk_as_int(v, &ver) && ver == 1001)) {
            rc = t2i_error(T2I_EFORMAT, "%s: unsupported legacy protocol version at byte %zu",
                           cx->name, start);
            goto done;
        }
        if (i == 2) {
            const PkVal *le = pk_get(v, "little_endian");
            if (!le || le->kind != PK_BOOL || le->u.i != 1) {
                rc = t2i_error(T2I_EFORMAT, "%s: sys_info at byte %zu does not say little_endian "
                               "(big-endian checkpoints are not supported)", cx->name, start);
                goto done;
            }
        }
    }
    // Pass 1: every storage the state_dict references gives its root key's dtype and size.
    const PkVal *d;
    if ((rc = find_state_dict(cx, pk[3].root, &d, sd))) goto done;
    for (size_t i = 0; i < pk_len(d); i++)
        if ((rc = note_root(cx, pk_item(tensor_args(pk_val(d, i)), 0)))) goto done;
    if ((rc = finish_roots(cx))) goto done;
    // The data section: for each key of the fifth pickle, int64 numel + raw bytes.
    const PkVal *keys = pk[4].root;
    if (keys->kind != PK_LIST) {
        rc = t2i_error(T2I_EFORMAT, "%s: legacy storage key list is a %s", cx->name,
                       pk_kind_name(keys->kind));
        goto done;
    }
    Rd r;
    rd_init(&r, cx->buf + pos, cx->len - pos, cx->name, pos);
    for (size_t i = 0; i < pk_len(keys); i++) {
        const PkVal *k = pk_item(keys, i);
        size_t at = rd_off(&r);
        Root *root = k->kind == PK_STR ? find_root(cx, k->u.str.s) : NULL;
        if (!root || root->seen) {
            rc = t2i_error(T2I_EFORMAT, "%s: storage key #%zu in the key list is unknown or "
                           "repeated (data at byte %zu)", cx->name, i, at);
            goto done;
        }
        root->seen = 1;
        uint64_t numel;
        const uint8_t *p;
        if ((rc = rd_u64le(&r, &numel))) goto done;
        if (numel != root->numel) {
            rc = t2i_error(T2I_EFORMAT, "%s: storage '%s' at byte %zu has %llu elements, the "
                           "state_dict says %zu", cx->name, root->key, at,
                           (unsigned long long)numel, root->numel);
            goto done;
        }
        size_t bytes;
        if (!t2i_mul_size(root->numel, dtype_size(root->dtype), &bytes) || rd_bytes(&r, bytes, &p)) {
            rc = t2i_error(T2I_EFORMAT, "%s: storage '%s' (%zu elements at byte %zu) runs past the "
                           "end of the file", cx->name, root->key, root->numel, at);
            goto done;
        }
        root->data = p;
    }
    if (!rd_eof(&r)) {
        rc = t2i_error(T2I_EFORMAT, "%s: %zu stray bytes after the last storage (byte %zu)",
                       cx->name, rd_left(&r), rd_off(&r));
        goto done;
    }
    rc = build_state_dict(cx, d, sd);
done:
    for (int i = 0; i < 5; i++) pickle_free(&pk[i]);
    return rc;
}

// ---- entry points ---------------------------------------------------------------------------

int pth_parse(const uint8_t *buf, size_t len, const char *name, StateDict *out) {
    sd_init(out);
    Ctx cx;
    memset(&cx, 0, sizeof cx);
    cx.name = name ? name : "<memory>";
    cx.buf = buf;
    cx.len = len;
    int kind = pth_sniff(buf, len), rc;
    if (kind == 1)
        rc = parse_zip(&cx, out);
    else if (kind == 2)
        rc = parse_legacy(&cx, out);
    else
        rc = t2i_error(T2I_EFORMAT, "%s: not a torch checkpoint (neither zip nor a legacy pickle "
                       "stream at byte 0)", cx.name);
    t2i_free(cx.roots);
    if (rc) sd_free(out);
    return rc;
}

static int parse_file(const uint8_t *buf, size_t len, const char *name, void *out) {
    return pth_parse(buf, len, name, out);
}

int pth_load(const char *path, StateDict *out) {
    sd_init(out);
    return rd_load_file(path, parse_file, out);
}
