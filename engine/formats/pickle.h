// pickle.h -- an allowlisted Python pickle reader that builds a value tree and never calls
// anything.
//
// Supports every opcode of protocols 0-5 except the ones that run arbitrary constructors or
// need out-of-band data (INST, OBJ, EXT1/2/4, NEXT_BUFFER, READONLY_BUFFER). GLOBAL and
// STACK_GLOBAL resolve only the names in the allowlist below; anything else (e.g. `os system`)
// is T2I_EFORMAT naming the global and the byte offset. REDUCE/NEWOBJ never execute: they build
// a PK_CALL node (function + argument tuple) that the caller interprets, except for the few
// pure constructors folded here (OrderedDict -> PK_DICT, set/frozenset -> PK_SET,
// _codecs.encode(s, 'latin1') -> PK_BYTES). BUILD attaches its state to the dict or call node.
// Memo indices, lengths and counts are bounds-checked against the input; every message names
// the file and the byte offset (relative to the file when `base_off` is given).
//
// Allowlist: collections.OrderedDict; torch._utils._rebuild_tensor_v2, _rebuild_tensor (the
// 4-argument torch <= 0.3 form) and _rebuild_parameter; torch.<T>Storage and
// torch.cuda.<T>Storage for T in Float Double Half BFloat16 Long Int Short Char Byte Bool;
// numpy.core.multiarray.scalar and numpy.dtype (numpy scalars); builtins/__builtin__ set and
// frozenset; _codecs.encode.
//
// What torch 1.13's torch.save writes (pickletools, text_encoder/model.pth data.pkl):
//     0: PROTO 2
//     2: GLOBAL 'collections OrderedDict'
//    29: EMPTY_TUPLE
//    30: REDUCE                                    -> an empty OrderedDict
//    33: MARK
//    34:   BINUNICODE 'encoder.weight'
//    55:   GLOBAL 'torch._utils _rebuild_tensor_v2'
//    90:   MARK
//    91:     MARK
//    92:       BINUNICODE 'storage'
//   106:       GLOBAL 'torch FloatStorage'
//   128:       BINUNICODE '0'                      -> zip member model/data/0
//   136:       BINUNICODE 'cpu'
//   146:       BININT2 1440                        -> storage numel
//   149:     TUPLE
//   152:     BINPERSID
//   153:     BININT1 0                             -> storage offset
//   155:     BININT1 60, BININT1 24, TUPLE2        -> size
//   162:     BININT1 24, BININT1 1, TUPLE2         -> stride
//   169:     NEWFALSE                              -> requires_grad
//   170:     BINGET 0, EMPTY_TUPLE, REDUCE         -> backward_hooks = OrderedDict()
//   176:   TUPLE
//          REDUCE ...  SETITEMS ... BUILD (_metadata) STOP
#ifndef T2I_PICKLE_H
#define T2I_PICKLE_H

#include <stddef.h>
#include <stdint.h>

#include "tensor.h"

typedef enum {
    PK_NONE,
    PK_BOOL,     // u.i is 0 or 1
    PK_INT,      // u.i
    PK_BIGINT,   // u.str: little-endian two's complement bytes (> 8 bytes)
    PK_FLOAT,    // u.f
    PK_STR,      // u.str: UTF-8 (flags & PK_F_PY2STR: a Python 2 byte string)
    PK_BYTES,    // u.str
    PK_TUPLE,    // u.seq
    PK_LIST,     // u.seq
    PK_SET,      // u.seq
    PK_DICT,     // u.seq: keys and values interleaved (len = 2 * items), insertion order kept
    PK_GLOBAL,   // u.glob
    PK_CALL,     // u.call: an allowlisted function applied to args (never executed)
    PK_PERSID,   // u.persid: persistent id object (torch storage reference)
} PkKind;

typedef enum {
    PKG_ORDERED_DICT,
    PKG_REBUILD_TENSOR_V2,
    PKG_REBUILD_TENSOR,
    PKG_REBUILD_PARAMETER,
    PKG_STORAGE,          // glob.dtype is the element type, glob.cuda 1 for torch.cuda.*
    PKG_NUMPY_SCALAR,
    PKG_NUMPY_DTYPE,
    PKG_SET,
    PKG_FROZENSET,
    PKG_CODECS_ENCODE,
} PkGlobalId;

#define PK_F_PY2STR 1u

typedef struct PkVal PkVal;
struct PkVal {
    PkKind   kind;
    unsigned flags;
    size_t   off;      // file offset of the opcode that made this value
    PkVal   *state;    // BUILD state (PK_DICT, PK_CALL) or NULL
    union {
        int64_t i;
        double  f;
        struct { const char *s; size_t n; } str;     // NUL-terminated copy, n bytes
        struct { PkVal **v; size_t n, cap; } seq;
        struct { PkGlobalId id; DType dtype; int cuda; const char *module, *name; } glob;
        struct { PkVal *fn; PkVal *args; } call;
        PkVal *persid;
    } u;
};

typedef struct PkPool PkPool;

typedef struct {
    PkVal  *root;     // the value returned by STOP
    size_t  end;      // bytes consumed (through STOP), relative to the parsed buffer
    PkPool *pool;     // owns every node and string
} Pickle;

// Limits (refused with T2I_EFORMAT before anything large is allocated).
#define PK_MAX_MARK_DEPTH 100000

// Parses one pickle from buf[0..len); trailing bytes after STOP are left for the caller
// (out->end). `name` names the file in messages, `base_off` is the file offset of buf[0].
int  pickle_parse(const uint8_t *buf, size_t len, const char *name, size_t base_off,
                  Pickle *out /* OUT */);
void pickle_free(Pickle *p);   // accepts a zeroed Pickle

// ---- helpers for walking a tree (all accept NULL) --------------------------------------------
size_t       pk_len(const PkVal *v);                 // items of tuple/list/set, pairs of a dict
const PkVal *pk_item(const PkVal *v, size_t i);      // i-th item of tuple/list/set
const PkVal *pk_key(const PkVal *d, size_t i);       // i-th key of a dict
const PkVal *pk_val(const PkVal *d, size_t i);       // i-th value of a dict
const PkVal *pk_get(const PkVal *d, const char *key);// value for a string key, or NULL
int          pk_is_str(const PkVal *v, const char *s);
int          pk_is_seq(const PkVal *v);              // tuple or list
int          pk_is_call(const PkVal *v, PkGlobalId id);
// Integer value of PK_INT/PK_BOOL (and numpy integer scalars); returns 0 when not an int.
int          pk_as_int(const PkVal *v, int64_t *out /* OUT */);
const char  *pk_kind_name(PkKind k);

#endif
