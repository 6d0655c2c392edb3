// pickle.c -- see pickle.h. Opcode semantics from CPython's Lib/pickletools.py documentation;
// this is a fresh implementation that only builds values.
#include "pickle.h"
#include "rd.h"
#include "t2i.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

// ---- pool: every node, string and item array lives here, freed at once -----------------------

typedef struct Chunk {
    struct Chunk *next;
    size_t        used, cap;
    _Alignas(16) unsigned char data[];
} Chunk;

struct PkPool {
    Chunk *head;
};

#define CHUNK_BYTES ((size_t)64 << 10)

static void *pool_alloc(PkPool *pl, size_t n) {
    n = (n + 15) & ~(size_t)15;
    Chunk *c = pl->head;
    if (!c || c->cap - c->used < n) {
        size_t cap = n > CHUNK_BYTES / 4 ? n : CHUNK_BYTES;
        size_t total;
        if (!t2i_add_size(sizeof(Chunk), cap, &total)) return NULL;
        Chunk *nc = t2i_malloc(total);
        if (!nc) return NULL;
        nc->used = 0;
        nc->cap = cap;
        if (cap == n && c) {  // a big block: keep the current chunk on top for small ones
            nc->next = c->next;
            c->next = nc;
        } else {
            nc->next = c;
            pl->head = nc;
        }
        nc->used = n;
        return nc->data;
    }
    void *p = c->data + c->used;
    c->used += n;
    return p;
}

void pickle_free(Pickle *p) {
    if (!p) return;
    if (p->pool) {
        Chunk *c = p->pool->head;
        while (c) {
            Chunk *n = c->next;
            t2i_free(c);
            c = n;
        }
        t2i_free(p->pool);
    }
    memset(p, 0, sizeof *p);
}

// ---- VM state ---------------------------------------------------------------------------------

typedef struct {
    Rd       rd;
    PkPool  *pool;
    PkVal  **stack;
    size_t   sp, scap;
    size_t  *marks;
    size_t   nmarks, mcap;
    PkVal  **memo;
    size_t   memo_cap, memo_count;
    size_t   op_off;   // file offset of the current opcode
    int      proto;
} Vm;

#define NAME(vm) ((vm)->rd.name)

static int oom(Vm *vm) {
    return t2i_error(T2I_ENOMEM, "%s: pickle: out of memory at byte %zu", NAME(vm), vm->op_off);
}

static int bad(Vm *vm, const char *what) {
    return t2i_error(T2I_EFORMAT, "%s: pickle: %s at byte %zu", NAME(vm), what, vm->op_off);
}

static PkVal *new_val(Vm *vm, PkKind k) {
    PkVal *v = pool_alloc(vm->pool, sizeof *v);
    if (!v) return NULL;
    memset(v, 0, sizeof *v);
    v->kind = k;
    v->off = vm->op_off;
    return v;
}

static int push(Vm *vm, PkVal *v) {
    if (!v) return oom(vm);
    if (vm->sp == vm->scap) {
        size_t nc = vm->scap ? vm->scap * 2 : 256;
        PkVal **ns = t2i_realloc(vm->stack, nc * sizeof *ns);
        if (!ns) return oom(vm);
        vm->stack = ns;
        vm->scap = nc;
    }
    vm->stack[vm->sp++] = v;
    return T2I_OK;
}

// &stack[i] without forming a pointer from NULL (the stack is NULL until the first push).
static PkVal **stack_at(Vm *vm, size_t i) { return vm->stack ? vm->stack + i : NULL; }

// Items above the innermost mark.
static size_t mark_base(Vm *vm) { return vm->nmarks ? vm->marks[vm->nmarks - 1] : 0; }

static int pop(Vm *vm, PkVal **out) {
    if (vm->sp <= mark_base(vm)) return bad(vm, "stack underflow");
    *out = vm->stack[--vm->sp];
    return T2I_OK;
}

static int top(Vm *vm, PkVal **out) {
    if (vm->sp <= mark_base(vm)) return bad(vm, "stack underflow");
    *out = vm->stack[vm->sp - 1];
    return T2I_OK;
}

// Pops the innermost mark; *first is the stack index of the first item above it.
static int pop_mark(Vm *vm, size_t *first) {
    if (!vm->nmarks) return bad(vm, "MARK expected but the mark stack is empty");
    *first = vm->marks[--vm->nmarks];
    return T2I_OK;
}

static int seq_reserve(Vm *vm, PkVal *s, size_t extra) {
    size_t need;
    if (!t2i_add_size(s->u.seq.n, extra, &need)) return oom(vm);
    if (need <= s->u.seq.cap) return T2I_OK;
    size_t nc = s->u.seq.cap ? s->u.seq.cap * 2 : 4;
    if (nc < need) nc = need;
    size_t bytes;
    if (!t2i_mul_size(nc, sizeof(PkVal *), &bytes)) return oom(vm);
    PkVal **nv = pool_alloc(vm->pool, bytes);
    if (!nv) return oom(vm);
    if (s->u.seq.n) memcpy(nv, s->u.seq.v, s->u.seq.n * sizeof *nv);
    s->u.seq.v = nv;
    s->u.seq.cap = nc;
    return T2I_OK;
}

static PkVal *new_seq(Vm *vm, PkKind k, PkVal *const *items, size_t n) {
    PkVal *s = new_val(vm, k);
    if (!s) return NULL;
    if (n && seq_reserve(vm, s, n)) return NULL;
    if (n) memcpy(s->u.seq.v, items, n * sizeof *items);
    s->u.seq.n = n;
    return s;
}

static PkVal *new_str(Vm *vm, PkKind k, const void *s, size_t n) {
    PkVal *v = new_val(vm, k);
    if (!v) return NULL;
    char *c = pool_alloc(vm->pool, n + 1);
    if (!c) return NULL;
    if (n) memcpy(c, s, n);
    c[n] = 0;
    v->u.str.s = c;
    v->u.str.n = n;
    return v;
}

static PkVal *new_int(Vm *vm, int64_t i) {
    PkVal *v = new_val(vm, PK_INT);
    if (v) v->u.i = i;
    return v;
}

// ---- memo -----------------------------------------------------------------------------------

static int memo_put(Vm *vm, uint64_t idx, PkVal *v) {
    // Picklers number the memo densely from 0, so an index can never exceed the input size.
    if (idx > (uint64_t)(vm->rd.end - vm->rd.base))
        return t2i_error(T2I_EFORMAT, "%s: pickle: memo index %llu out of range at byte %zu",
                         NAME(vm), (unsigned long long)idx, vm->op_off);
    if (idx >= vm->memo_cap) {
        size_t nc = vm->memo_cap ? vm->memo_cap : 64;
        while (nc <= idx) nc *= 2;
        PkVal **nm = t2i_realloc(vm->memo, nc * sizeof *nm);
        if (!nm) return oom(vm);
        memset(nm + vm->memo_cap, 0, (nc - vm->memo_cap) * sizeof *nm);
        vm->memo = nm;
        vm->memo_cap = nc;
    }
    if (!vm->memo[idx]) vm->memo_count++;
    vm->memo[idx] = v;
    return T2I_OK;
}

static int memo_get(Vm *vm, uint64_t idx) {
    if (idx >= vm->memo_cap || !vm->memo[idx])
        return t2i_error(T2I_EFORMAT, "%s: pickle: memo entry %llu is not set at byte %zu",
                         NAME(vm), (unsigned long long)idx, vm->op_off);
    return push(vm, vm->memo[idx]);
}

// ---- text-line arguments (protocol 0) --------------------------------------------------------

static int read_line(Vm *vm, const uint8_t **s, size_t *n) { return rd_line(&vm->rd, s, n); }

static int parse_dec(Vm *vm, const uint8_t *s, size_t n, int64_t *out) {
    char buf[32];
    if (n == 0 || n >= sizeof buf) return bad(vm, "bad decimal argument");
    memcpy(buf, s, n);
    buf[n] = 0;
    char *end;
    errno = 0;
    long long v = strtoll(buf, &end, 10);
    if (errno || *end) return bad(vm, "bad or out-of-range decimal argument");
    *out = v;
    return T2I_OK;
}

static size_t put_utf8(char *o, uint32_t cp) {
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | cp >> 6);
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | cp >> 12);
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | cp >> 18);
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

static int hexval(uint8_t c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// UNICODE: raw-unicode-escape (latin-1 bytes plus \uXXXX and \UXXXXXXXX) -> UTF-8.
static PkVal *decode_raw_unicode(Vm *vm, const uint8_t *s, size_t n) {
    size_t cap;
    if (!t2i_mul_size(n, 4, &cap)) return NULL;
    char *o = pool_alloc(vm->pool, cap + 1);
    if (!o) return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n;) {
        if (s[i] == '\\' && i + 1 < n && (s[i + 1] == 'u' || s[i + 1] == 'U')) {
            size_t nd = s[i + 1] == 'u' ? 4 : 8;
            if (i + 2 + nd > n) return NULL;
            uint32_t cp = 0;
            for (size_t j = 0; j < nd; j++) {
                int h = hexval(s[i + 2 + j]);
                if (h < 0) return NULL;
                cp = cp << 4 | (uint32_t)h;
            }
            if (cp > 0x10FFFF) return NULL;
            k += put_utf8(o + k, cp);
            i += 2 + nd;
        } else {
            k += put_utf8(o + k, s[i]);
            i++;
        }
    }
    o[k] = 0;
    PkVal *v = new_val(vm, PK_STR);
    if (!v) return NULL;
    v->u.str.s = o;
    v->u.str.n = k;
    return v;
}

// STRING: a quoted Python 2 repr ('...' or "...") with backslash escapes.
static PkVal *decode_repr(Vm *vm, const uint8_t *s, size_t n) {
    if (n < 2 || (s[0] != '\'' && s[0] != '"') || s[n - 1] != s[0]) return NULL;
    s++;
    n -= 2;
    char *o = pool_alloc(vm->pool, n + 1);
    if (!o) return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n;) {
        if (s[i] != '\\') {
            o[k++] = (char)s[i++];
            continue;
        }
        if (++i >= n) return NULL;
        uint8_t c = s[i++];
        switch (c) {
        case '\\': o[k++] = '\\'; break;
        case '\'': o[k++] = '\''; break;
        case '"': o[k++] = '"'; break;
        case 'n': o[k++] = '\n'; break;
        case 'r': o[k++] = '\r'; break;
        case 't': o[k++] = '\t'; break;
        case 'a': o[k++] = '\a'; break;
        case 'b': o[k++] = '\b'; break;
        case 'f': o[k++] = '\f'; break;
        case 'v': o[k++] = '\v'; break;
        case 'x': {
            if (i + 2 > n) return NULL;
            int h = hexval(s[i]), l = hexval(s[i + 1]);
            if (h < 0 || l < 0) return NULL;
            o[k++] = (char)(h << 4 | l);
            i += 2;
            break;
        }
        default:
            if (c >= '0' && c <= '7') {
                int v = c - '0';
                for (int d = 0; d < 2 && i < n && s[i] >= '0' && s[i] <= '7'; d++)
                    v = v * 8 + (s[i++] - '0');
                if (v > 255) return NULL;
                o[k++] = (char)v;
            } else {
                return NULL;
            }
        }
    }
    o[k] = 0;
    PkVal *v = new_val(vm, PK_STR);
    if (!v) return NULL;
    v->flags = PK_F_PY2STR;
    v->u.str.s = o;
    v->u.str.n = k;
    return v;
}

// ---- globals ----------------------------------------------------------------------------------

static const struct {
    const char *name;
    DType       dtype;
} storages[] = {
    {"FloatStorage", DT_F32}, {"DoubleStorage", DT_F64}, {"HalfStorage", DT_F16},
    {"BFloat16Storage", DT_BF16}, {"LongStorage", DT_I64}, {"IntStorage", DT_I32},
    {"ShortStorage", DT_I16}, {"CharStorage", DT_I8}, {"ByteStorage", DT_U8},
    {"BoolStorage", DT_BOOL},
};

static const struct {
    const char *module, *name;
    PkGlobalId  id;
} allow[] = {
    {"collections", "OrderedDict", PKG_ORDERED_DICT},
    {"torch._utils", "_rebuild_tensor_v2", PKG_REBUILD_TENSOR_V2},
    {"torch._utils", "_rebuild_tensor", PKG_REBUILD_TENSOR},
    {"torch._utils", "_rebuild_parameter", PKG_REBUILD_PARAMETER},
    {"numpy.core.multiarray", "scalar", PKG_NUMPY_SCALAR},
    {"numpy._core.multiarray", "scalar", PKG_NUMPY_SCALAR},
    {"numpy", "dtype", PKG_NUMPY_DTYPE},
    {"builtins", "set", PKG_SET},
    {"__builtin__", "set", PKG_SET},
    {"builtins", "frozenset", PKG_FROZENSET},
    {"__builtin__", "frozenset", PKG_FROZENSET},
    {"_codecs", "encode", PKG_CODECS_ENCODE},
};

// Quotes at most 80 bytes of an untrusted name for a message (non-printables as '?').
static void printable(char *dst, size_t cap, const char *s, size_t n) {
    size_t k = 0;
    for (size_t i = 0; i < n && k + 4 < cap && i < 80; i++)
        dst[k++] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
    if (n > 80 && k + 4 < cap) {
        memcpy(dst + k, "...", 3);
        k += 3;
    }
    dst[k] = 0;
}

static int push_global(Vm *vm, const char *mod, size_t mn, const char *nm, size_t nn) {
    PkVal *g = NULL;
    for (size_t i = 0; i < sizeof allow / sizeof allow[0] && !g; i++) {
        if (strlen(allow[i].module) == mn && memcmp(allow[i].module, mod, mn) == 0 &&
            strlen(allow[i].name) == nn && memcmp(allow[i].name, nm, nn) == 0) {
            g = new_val(vm, PK_GLOBAL);
            if (!g) return oom(vm);
            g->u.glob.id = allow[i].id;
            g->u.glob.module = allow[i].module;
            g->u.glob.name = allow[i].name;
        }
    }
    int cuda = mn == 10 && memcmp(mod, "torch.cuda", 10) == 0;
    if (!g && (cuda || (mn == 5 && memcmp(mod, "torch", 5) == 0))) {
        for (size_t i = 0; i < sizeof storages / sizeof storages[0] && !g; i++) {
            if (strlen(storages[i].name) == nn && memcmp(storages[i].name, nm, nn) == 0) {
                g = new_val(vm, PK_GLOBAL);
                if (!g) return oom(vm);
                g->u.glob.id = PKG_STORAGE;
                g->u.glob.dtype = storages[i].dtype;
                g->u.glob.cuda = cuda;
                g->u.glob.module = cuda ? "torch.cuda" : "torch";
                g->u.glob.name = storages[i].name;
            }
        }
    }
    if (!g) {
        char m[100], n[100];
        printable(m, sizeof m, mod, mn);
        printable(n, sizeof n, nm, nn);
        return t2i_error(T2I_EFORMAT, "%s: pickle: global '%s.%s' at byte %zu is not allowed",
                         NAME(vm), m, n, vm->op_off);
    }
    return push(vm, g);
}

// ---- REDUCE / NEWOBJ: fold the pure constructors, keep the rest as PK_CALL ----------------------

static int is_pair(const PkVal *p) {
    return p && (p->kind == PK_TUPLE || p->kind == PK_LIST) && p->u.seq.n == 2;
}

static int apply(Vm *vm, PkVal *fn, PkVal *args) {
    if (fn->kind != PK_GLOBAL) return bad(vm, "REDUCE/NEWOBJ of a non-global callable");
    if (args->kind != PK_TUPLE) return bad(vm, "REDUCE/NEWOBJ arguments are not a tuple");
    size_t na = args->u.seq.n;
    PkVal **a = args->u.seq.v;
    switch (fn->u.glob.id) {
    case PKG_ORDERED_DICT: {
        PkVal *d = new_val(vm, PK_DICT);
        if (!d) return oom(vm);
        if (na > 1) return bad(vm, "OrderedDict takes at most one argument");
        if (na == 1) {
            PkVal *items = a[0];
            if (items->kind != PK_LIST && items->kind != PK_TUPLE)
                return bad(vm, "OrderedDict argument is not a list of pairs");
            if (seq_reserve(vm, d, 2 * items->u.seq.n)) return oom(vm);
            for (size_t i = 0; i < items->u.seq.n; i++) {
                PkVal *p = items->u.seq.v[i];
                if (!is_pair(p)) return bad(vm, "OrderedDict item is not a (key, value) pair");
                d->u.seq.v[d->u.seq.n++] = p->u.seq.v[0];
                d->u.seq.v[d->u.seq.n++] = p->u.seq.v[1];
            }
        }
        return push(vm, d);
    }
    case PKG_SET:
    case PKG_FROZENSET:
        if (na == 0) return push(vm, new_seq(vm, PK_SET, NULL, 0));
        if (na == 1 && (a[0]->kind == PK_LIST || a[0]->kind == PK_TUPLE || a[0]->kind == PK_SET))
            return push(vm, new_seq(vm, PK_SET, a[0]->u.seq.v, a[0]->u.seq.n));
        return bad(vm, "set() argument is not a list");
    case PKG_CODECS_ENCODE: {
        // Python 3 writes bytes at protocol <= 2 as _codecs.encode(str, 'latin1').
        if (na != 2 || a[0]->kind != PK_STR || !(pk_is_str(a[1], "latin1") || pk_is_str(a[1], "latin-1")))
            return bad(vm, "_codecs.encode is only allowed as encode(str, 'latin1')");
        const uint8_t *s = (const uint8_t *)a[0]->u.str.s;
        size_t n = a[0]->u.str.n;
        char *o = pool_alloc(vm->pool, n + 1);
        if (!o) return oom(vm);
        size_t k = 0;
        for (size_t i = 0; i < n;) {
            if (s[i] < 0x80) {
                o[k++] = (char)s[i++];
            } else if ((s[i] & 0xE0) == 0xC0 && i + 1 < n && (s[i] & 0x1F) <= 3) {
                o[k++] = (char)(((s[i] & 0x1F) << 6) | (s[i + 1] & 0x3F));
                i += 2;
            } else {
                return bad(vm, "_codecs.encode: character outside latin-1");
            }
        }
        o[k] = 0;
        PkVal *b = new_val(vm, PK_BYTES);
        if (!b) return oom(vm);
        b->u.str.s = o;
        b->u.str.n = k;
        return push(vm, b);
    }
    case PKG_STORAGE:
        return bad(vm, "a torch storage type may not be called");
    default: {
        PkVal *c = new_val(vm, PK_CALL);
        if (!c) return oom(vm);
        c->u.call.fn = fn;
        c->u.call.args = args;
        return push(vm, c);
    }
    }
}

// ---- the interpreter loop ---------------------------------------------------------------------

static int rd_fail(Vm *vm) {
    (void)vm;
    return T2I_EFORMAT;  // rd_* already set "file: truncated ... at byte N"
}

static int run(Vm *vm, PkVal **result) {
    Rd *r = &vm->rd;
    for (;;) {
        vm->op_off = rd_off(r);
        uint8_t op;
        if (rd_u8(r, &op)) return t2i_error(T2I_EFORMAT, "%s: pickle: truncated before STOP at byte %zu",
                                             NAME(vm), vm->op_off);
        int rc = T2I_OK;
        const uint8_t *s;
        size_t n;
        uint8_t u8;
        uint16_t u16;
        uint32_t u32;
        uint64_t u64;
        int32_t i32;
        int64_t i64;
        PkVal *a, *b, *c;
        size_t first = 0;
        switch (op) {
        case 0x80:  // PROTO
            if (rd_u8(r, &u8)) return rd_fail(vm);
            if (u8 > 5) {
                return t2i_error(T2I_EFORMAT, "%s: pickle: unsupported protocol %u at byte %zu",
                                 NAME(vm), u8, vm->op_off);
            }
            vm->proto = u8;
            break;
        case 0x95:  // FRAME: 8-byte length, frames are transparent here
            if (rd_u64le(r, &u64)) return rd_fail(vm);
            if (u64 > rd_left(r)) return bad(vm, "FRAME longer than the rest of the input");
            break;
        case '.': {  // STOP
            if (vm->nmarks) return bad(vm, "STOP with an open MARK");
            if (vm->sp != 1) return bad(vm, vm->sp ? "STOP with more than one value on the stack"
                                                    : "STOP with an empty stack");
            *result = vm->stack[0];
            return T2I_OK;
        }
        case '(':  // MARK
            if (vm->nmarks >= PK_MAX_MARK_DEPTH) return bad(vm, "MARK nesting too deep");
            if (vm->nmarks == vm->mcap) {
                size_t nc = vm->mcap ? vm->mcap * 2 : 64;
                size_t *nm = t2i_realloc(vm->marks, nc * sizeof *nm);
                if (!nm) return oom(vm);
                vm->marks = nm;
                vm->mcap = nc;
            }
            vm->marks[vm->nmarks++] = vm->sp;
            break;
        case '0':  // POP
            if (vm->sp > mark_base(vm)) {
                vm->sp--;
            } else if (vm->nmarks && vm->marks[vm->nmarks - 1] == vm->sp) {
                vm->nmarks--;  // POP of a bare MARK, as CPython does
            } else {
                return bad(vm, "POP on an empty stack");
            }
            break;
        case '1':  // POP_MARK
            if ((rc = pop_mark(vm, &first))) return rc;
            vm->sp = first;
            break;
        case '2':  // DUP
            if ((rc = top(vm, &a))) return rc;
            rc = push(vm, a);
            break;
        case 'N': rc = push(vm, new_val(vm, PK_NONE)); break;
        case 0x88:  // NEWTRUE
        case 0x89:  // NEWFALSE
            a = new_val(vm, PK_BOOL);
            if (a) a->u.i = op == 0x88;
            rc = push(vm, a);
            break;
        case 'I':  // INT (text); "01"/"00" are Python 2 True/False
            if (read_line(vm, &s, &n)) return rd_fail(vm);
            if (n == 2 && s[0] == '0' && (s[1] == '0' || s[1] == '1')) {
                a = new_val(vm, PK_BOOL);
                if (a) a->u.i = s[1] == '1';
                rc = push(vm, a);
                break;
            }
            if ((rc = parse_dec(vm, s, n, &i64))) return rc;
            rc = push(vm, new_int(vm, i64));
            break;
        case 'L':  // LONG (text, optional trailing L)
            if (read_line(vm, &s, &n)) return rd_fail(vm);
            if (n && s[n - 1] == 'L') n--;
            if ((rc = parse_dec(vm, s, n, &i64))) return rc;
            rc = push(vm, new_int(vm, i64));
            break;
        case 'J':
            if (rd_i32le(r, &i32)) return rd_fail(vm);
            rc = push(vm, new_int(vm, i32));
            break;
        case 'K':
            if (rd_u8(r, &u8)) return rd_fail(vm);
            rc = push(vm, new_int(vm, u8));
            break;
        case 'M':
            if (rd_u16le(r, &u16)) return rd_fail(vm);
            rc = push(vm, new_int(vm, u16));
            break;
        case 0x8a:  // LONG1
        case 0x8b:  // LONG4
            if (op == 0x8a) {
                if (rd_u8(r, &u8)) return rd_fail(vm);
                n = u8;
            } else {
                if (rd_i32le(r, &i32)) return rd_fail(vm);
                if (i32 < 0) return bad(vm, "LONG4 with a negative length");
                n = (size_t)i32;
            }
            if (rd_bytes(r, n, &s)) return rd_fail(vm);
            if (n <= 8) {
                uint64_t v = 0;
                for (size_t k = 0; k < n; k++) v |= (uint64_t)s[k] << (8 * k);
                if (n && n < 8 && (s[n - 1] & 0x80)) v |= ~(uint64_t)0 << (8 * n);  // sign-extend
                rc = push(vm, new_int(vm, (int64_t)v));
            } else {
                rc = push(vm, new_str(vm, PK_BIGINT, s, n));
            }
            break;
        case 'F': {  // FLOAT (text)
            if (read_line(vm, &s, &n)) return rd_fail(vm);
            char buf[64];
            if (n == 0 || n >= sizeof buf) return bad(vm, "bad FLOAT argument");
            memcpy(buf, s, n);
            buf[n] = 0;
            char *end;
            double f = strtod(buf, &end);
            if (*end) return bad(vm, "bad FLOAT argument");
            a = new_val(vm, PK_FLOAT);
            if (a) a->u.f = f;
            rc = push(vm, a);
            break;
        }
        case 'G':  // BINFLOAT
            a = new_val(vm, PK_FLOAT);
            if (!a) return oom(vm);
            if (rd_f64be(r, &a->u.f)) return rd_fail(vm);
            rc = push(vm, a);
            break;
        case 'S':  // STRING (quoted repr)
            if (read_line(vm, &s, &n)) return rd_fail(vm);
            a = decode_repr(vm, s, n);
            if (!a) return bad(vm, "malformed STRING argument");
            rc = push(vm, a);
            break;
        case 'V':  // UNICODE (raw-unicode-escape)
            if (read_line(vm, &s, &n)) return rd_fail(vm);
            a = decode_raw_unicode(vm, s, n);
            if (!a) return bad(vm, "malformed UNICODE argument");
            rc = push(vm, a);
            break;
        case 'T':  // BINSTRING
        case 'U':  // SHORT_BINSTRING
        case 'B':  // BINBYTES
        case 'C':  // SHORT_BINBYTES
        case 'X':  // BINUNICODE
        case 0x8c:  // SHORT_BINUNICODE
        case 0x8d:  // BINUNICODE8
        case 0x8e:  // BINBYTES8
        case 0x96:  // BYTEARRAY8
            if (op == 'U' || op == 'C' || op == 0x8c) {
                if (rd_u8(r, &u8)) return rd_fail(vm);
                u64 = u8;
            } else if (op == 'T') {
                if (rd_i32le(r, &i32)) return rd_fail(vm);
                if (i32 < 0) return bad(vm, "BINSTRING with a negative length");
                u64 = (uint64_t)i32;
            } else if (op == 'B' || op == 'X') {
                if (rd_u32le(r, &u32)) return rd_fail(vm);
                u64 = u32;
            } else {
                if (rd_u64le(r, &u64)) return rd_fail(vm);
            }
            if (u64 > rd_left(r))
                return t2i_error(T2I_EFORMAT,
                                 "%s: pickle: string of %llu bytes at byte %zu runs past the end "
                                 "(%zu bytes left)",
                                 NAME(vm), (unsigned long long)u64, vm->op_off, rd_left(r));
            if (rd_bytes(r, (size_t)u64, &s)) return rd_fail(vm);
            {
                PkKind k = (op == 'T' || op == 'U' || op == 'X' || op == 0x8c || op == 0x8d)
                               ? PK_STR : PK_BYTES;
                a = new_str(vm, k, s, (size_t)u64);
                if (a && (op == 'T' || op == 'U')) a->flags = PK_F_PY2STR;
            }
            rc = push(vm, a);
            break;
        case ')': rc = push(vm, new_seq(vm, PK_TUPLE, NULL, 0)); break;
        case ']': rc = push(vm, new_seq(vm, PK_LIST, NULL, 0)); break;
        case '}': rc = push(vm, new_seq(vm, PK_DICT, NULL, 0)); break;
        case 0x8f: rc = push(vm, new_seq(vm, PK_SET, NULL, 0)); break;
        case 't':  // TUPLE
        case 'l':  // LIST
        case 0x91:  // FROZENSET
            if ((rc = pop_mark(vm, &first))) return rc;
            a = new_seq(vm, op == 't' ? PK_TUPLE : op == 'l' ? PK_LIST : PK_SET, stack_at(vm, first),
                        vm->sp - first);
            vm->sp = first;
            rc = push(vm, a);
            break;
        case 0x85:  // TUPLE1
        case 0x86:  // TUPLE2
        case 0x87:  // TUPLE3
            n = (size_t)(op - 0x84);
            if (vm->sp < mark_base(vm) + n) return bad(vm, "stack underflow");
            a = new_seq(vm, PK_TUPLE, stack_at(vm, vm->sp - n), n);
            vm->sp -= n;
            rc = push(vm, a);
            break;
        case 'd':  // DICT
            if ((rc = pop_mark(vm, &first))) return rc;
            if ((vm->sp - first) % 2) return bad(vm, "DICT with an odd number of items");
            a = new_seq(vm, PK_DICT, stack_at(vm, first), vm->sp - first);
            vm->sp = first;
            rc = push(vm, a);
            break;
        case 'a':  // APPEND
            if ((rc = pop(vm, &b)) || (rc = top(vm, &a))) return rc;
            if (a->kind != PK_LIST) return bad(vm, "APPEND to a non-list");
            if (seq_reserve(vm, a, 1)) return oom(vm);
            a->u.seq.v[a->u.seq.n++] = b;
            break;
        case 'e':  // APPENDS
        case 0x90:  // ADDITEMS
            if ((rc = pop_mark(vm, &first))) return rc;
            if (first == 0 || first <= mark_base(vm)) return bad(vm, "APPENDS without a target");
            a = vm->stack[first - 1];
            if (a->kind != (op == 'e' ? PK_LIST : PK_SET))
                return bad(vm, op == 'e' ? "APPENDS to a non-list" : "ADDITEMS to a non-set");
            n = vm->sp - first;
            if (seq_reserve(vm, a, n)) return oom(vm);
            if (n) memcpy(a->u.seq.v + a->u.seq.n, vm->stack + first, n * sizeof(PkVal *));
            a->u.seq.n += n;
            vm->sp = first;
            break;
        case 's':  // SETITEM
            if ((rc = pop(vm, &c)) || (rc = pop(vm, &b)) || (rc = top(vm, &a))) return rc;
            if (a->kind != PK_DICT) return bad(vm, "SETITEM on a non-dict");
            if (seq_reserve(vm, a, 2)) return oom(vm);
            a->u.seq.v[a->u.seq.n++] = b;
            a->u.seq.v[a->u.seq.n++] = c;
            break;
        case 'u':  // SETITEMS
            if ((rc = pop_mark(vm, &first))) return rc;
            if (first == 0 || first <= mark_base(vm)) return bad(vm, "SETITEMS without a target");
            a = vm->stack[first - 1];
            if (a->kind != PK_DICT) return bad(vm, "SETITEMS on a non-dict");
            n = vm->sp - first;
            if (n % 2) return bad(vm, "SETITEMS with an odd number of items");
            if (seq_reserve(vm, a, n)) return oom(vm);
            if (n) memcpy(a->u.seq.v + a->u.seq.n, vm->stack + first, n * sizeof(PkVal *));
            a->u.seq.n += n;
            vm->sp = first;
            break;
        case 'p':  // PUT (text)
            if (read_line(vm, &s, &n)) return rd_fail(vm);
            if ((rc = parse_dec(vm, s, n, &i64))) return rc;
            if (i64 < 0) return bad(vm, "negative memo index");
            if ((rc = top(vm, &a))) return rc;
            rc = memo_put(vm, (uint64_t)i64, a);
            break;
        case 'q':  // BINPUT
        case 'r':  // LONG_BINPUT
            if (op == 'q') {
                if (rd_u8(r, &u8)) return rd_fail(vm);
                u32 = u8;
            } else if (rd_u32le(r, &u32)) {
                return rd_fail(vm);
            }
            if ((rc = top(vm, &a))) return rc;
            rc = memo_put(vm, u32, a);
            break;
        case 0x94:  // MEMOIZE
            if ((rc = top(vm, &a))) return rc;
            rc = memo_put(vm, vm->memo_count, a);
            break;
        case 'g':  // GET (text)
            if (read_line(vm, &s, &n)) return rd_fail(vm);
            if ((rc = parse_dec(vm, s, n, &i64))) return rc;
            if (i64 < 0) return bad(vm, "negative memo index");
            rc = memo_get(vm, (uint64_t)i64);
            break;
        case 'h':  // BINGET
            if (rd_u8(r, &u8)) return rd_fail(vm);
            rc = memo_get(vm, u8);
            break;
        case 'j':  // LONG_BINGET
            if (rd_u32le(r, &u32)) return rd_fail(vm);
            rc = memo_get(vm, u32);
            break;
        case 'c': {  // GLOBAL "module\nname\n"
            const uint8_t *m;
            size_t mn;
            if (read_line(vm, &m, &mn) || read_line(vm, &s, &n)) return rd_fail(vm);
            rc = push_global(vm, (const char *)m, mn, (const char *)s, n);
            break;
        }
        case 0x93:  // STACK_GLOBAL
            if ((rc = pop(vm, &b)) || (rc = pop(vm, &a))) return rc;
            if (a->kind != PK_STR || b->kind != PK_STR) return bad(vm, "STACK_GLOBAL of non-strings");
            rc = push_global(vm, a->u.str.s, a->u.str.n, b->u.str.s, b->u.str.n);
            break;
        case 'R':  // REDUCE
        case 0x81:  // NEWOBJ
            if ((rc = pop(vm, &b)) || (rc = pop(vm, &a))) return rc;
            rc = apply(vm, a, b);
            break;
        case 0x92:  // NEWOBJ_EX: cls, args, kwargs (kwargs must be empty)
            if ((rc = pop(vm, &c)) || (rc = pop(vm, &b)) || (rc = pop(vm, &a))) return rc;
            if (c->kind != PK_DICT || c->u.seq.n) return bad(vm, "NEWOBJ_EX with keyword arguments");
            rc = apply(vm, a, b);
            break;
        case 'b':  // BUILD
            if ((rc = pop(vm, &b)) || (rc = top(vm, &a))) return rc;
            if (a->kind != PK_DICT && a->kind != PK_CALL) return bad(vm, "BUILD on a value without state");
            if (a->state) return bad(vm, "BUILD applied twice");
            a->state = b;
            break;
        case 'P':  // PERSID (text)
            if (read_line(vm, &s, &n)) return rd_fail(vm);
            a = new_val(vm, PK_PERSID);
            if (!a) return oom(vm);
            a->u.persid = new_str(vm, PK_STR, s, n);
            if (!a->u.persid) return oom(vm);
            rc = push(vm, a);
            break;
        case 'Q':  // BINPERSID
            if ((rc = pop(vm, &b))) return rc;
            a = new_val(vm, PK_PERSID);
            if (!a) return oom(vm);
            a->u.persid = b;
            rc = push(vm, a);
            break;
        case 'i':
        case 'o':
            return bad(vm, "INST/OBJ (arbitrary object construction) is not allowed");
        case 0x82:
        case 0x83:
        case 0x84:
            return bad(vm, "extension-registry opcodes (EXT1/2/4) are not allowed");
        case 0x97:
        case 0x98:
            return bad(vm, "out-of-band buffers (protocol 5) are not supported");
        default:
            return t2i_error(T2I_EFORMAT, "%s: pickle: unknown opcode 0x%02x at byte %zu", NAME(vm),
                             op, vm->op_off);
        }
        if (rc) return rc;
    }
}

int pickle_parse(const uint8_t *buf, size_t len, const char *name, size_t base_off, Pickle *out) {
    memset(out, 0, sizeof *out);
    Vm vm;
    memset(&vm, 0, sizeof vm);
    rd_init(&vm.rd, buf, len, name, base_off);
    vm.pool = t2i_calloc(1, sizeof *vm.pool);
    if (!vm.pool) return t2i_error_prefix(T2I_ENOMEM, "%s", vm.rd.name);
    out->pool = vm.pool;
    PkVal *root = NULL;
    int rc = run(&vm, &root);
    t2i_free(vm.stack);
    t2i_free(vm.marks);
    t2i_free(vm.memo);
    if (rc) {
        pickle_free(out);
        return rc;
    }
    out->root = root;
    out->end = rd_off(&vm.rd) - base_off;
    return T2I_OK;
}

// ---- helpers ----------------------------------------------------------------------------------

size_t pk_len(const PkVal *v) {
    if (!v) return 0;
    switch (v->kind) {
    case PK_TUPLE: case PK_LIST: case PK_SET: return v->u.seq.n;
    case PK_DICT: return v->u.seq.n / 2;
    default: return 0;
    }
}

const PkVal *pk_item(const PkVal *v, size_t i) {
    if (!v || (v->kind != PK_TUPLE && v->kind != PK_LIST && v->kind != PK_SET) || i >= v->u.seq.n)
        return NULL;
    return v->u.seq.v[i];
}

const PkVal *pk_key(const PkVal *d, size_t i) {
    if (!d || d->kind != PK_DICT || i >= d->u.seq.n / 2) return NULL;
    return d->u.seq.v[2 * i];
}

const PkVal *pk_val(const PkVal *d, size_t i) {
    if (!d || d->kind != PK_DICT || i >= d->u.seq.n / 2) return NULL;
    return d->u.seq.v[2 * i + 1];
}

int pk_is_str(const PkVal *v, const char *s) {
    return v && v->kind == PK_STR && v->u.str.n == strlen(s) && memcmp(v->u.str.s, s, v->u.str.n) == 0;
}

const PkVal *pk_get(const PkVal *d, const char *key) {
    for (size_t i = 0; i < pk_len(d) && d->kind == PK_DICT; i++)
        if (pk_is_str(pk_key(d, i), key)) return pk_val(d, i);
    return NULL;
}

int pk_is_seq(const PkVal *v) { return v && (v->kind == PK_TUPLE || v->kind == PK_LIST); }

int pk_is_call(const PkVal *v, PkGlobalId id) {
    return v && v->kind == PK_CALL && v->u.call.fn->u.glob.id == id;
}

int pk_as_int(const PkVal *v, int64_t *out) {
    if (!v) return 0;
    if (v->kind == PK_INT || v->kind == PK_BOOL) {
        *out = v->u.i;
        return 1;
    }
    // numpy.core.multiarray.scalar(dtype('i8'|'i4'|'u1'...), raw bytes)
    if (pk_is_call(v, PKG_NUMPY_SCALAR) && pk_len(v->u.call.args) == 2) {
        const PkVal *dt = pk_item(v->u.call.args, 0), *raw = pk_item(v->u.call.args, 1);
        if (!pk_is_call(dt, PKG_NUMPY_DTYPE) || !raw || (raw->kind != PK_BYTES && raw->kind != PK_STR))
            return 0;
        const PkVal *code = pk_item(dt->u.call.args, 0);
        static const struct { const char *code; size_t size; int is_signed; } ints[] = {
            {"i8", 8, 1}, {"i4", 4, 1}, {"i2", 2, 1}, {"i1", 1, 1},
            {"u8", 8, 0}, {"u4", 4, 0}, {"u2", 2, 0}, {"u1", 1, 0},
        };
        for (size_t k = 0; k < sizeof ints / sizeof ints[0]; k++) {
            if (!pk_is_str(code, ints[k].code)) continue;
            if (raw->u.str.n != ints[k].size) return 0;
            // the dtype's BUILD state (3, '<', ...) gives the byte order; '>' is refused
            const PkVal *st = dt->state;
            if (st && pk_is_str(pk_item(st, 1), ">") && ints[k].size > 1) return 0;
            uint64_t u = 0;
            const uint8_t *b = (const uint8_t *)raw->u.str.s;
            for (size_t j = 0; j < ints[k].size; j++) u |= (uint64_t)b[j] << (8 * j);
            if (ints[k].is_signed && ints[k].size < 8 && (b[ints[k].size - 1] & 0x80))
                u |= ~(uint64_t)0 << (8 * ints[k].size);
            if (!ints[k].is_signed && ints[k].size == 8 && u > INT64_MAX) return 0;
            *out = (int64_t)u;
            return 1;
        }
    }
    return 0;
}

const char *pk_kind_name(PkKind k) {
    static const char *names[] = {"None", "bool", "int", "bigint", "float", "str", "bytes",
                                  "tuple", "list", "set", "dict", "global", "call", "persid"};
    return (unsigned)k < sizeof names / sizeof names[0] ? names[k] : "?";
}
