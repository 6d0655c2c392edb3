// pb.c -- see pb.h.
#include "pb.h"
#include "t2i.h"

int pb_varint(Rd *r, uint64_t *v) {
    size_t   off = rd_off(r);
    uint64_t x = 0;
    for (int i = 0; i < 10; i++) {
        uint8_t b;
        if (rd_u8(r, &b))
            return t2i_error(T2I_EFORMAT, "%s: protobuf: varint at byte %zu runs past the end of "
                             "its message", r->name, off);
        if (i == 9 && b > 1)
            return t2i_error(T2I_EFORMAT, "%s: protobuf: varint at byte %zu overflows 64 bits",
                             r->name, off);
        x |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            *v = x;
            return T2I_OK;
        }
    }
    return t2i_error(T2I_EFORMAT, "%s: protobuf: varint at byte %zu is longer than 10 bytes",
                     r->name, off);
}

int pb_key(Rd *r, uint32_t *field, int *wire) {
    size_t   off = rd_off(r);
    uint64_t k;
    int      rc = pb_varint(r, &k);
    if (rc) return rc;
    uint64_t f = k >> 3;
    int      w = (int)(k & 7);
    if (f == 0 || f > 0x1fffffff)
        return t2i_error(T2I_EFORMAT, "%s: protobuf: invalid field number %llu at byte %zu",
                         r->name, (unsigned long long)f, off);
    if (w != PB_VARINT && w != PB_I64 && w != PB_LEN && w != PB_I32)
        return t2i_error(T2I_EFORMAT, "%s: protobuf: field %u at byte %zu has wire type %d "
                         "(groups and types 6/7 are not accepted)", r->name, (unsigned)f, off, w);
    *field = (uint32_t)f;
    *wire = w;
    return T2I_OK;
}

int pb_sub(Rd *r, Rd *sub) {
    size_t   off = rd_off(r);
    uint64_t n;
    int      rc = pb_varint(r, &n);
    if (rc) return rc;
    if (n > rd_left(r))
        return t2i_error(T2I_EFORMAT, "%s: protobuf: field at byte %zu claims %llu bytes, only "
                         "%zu are left in its message", r->name, off, (unsigned long long)n,
                         rd_left(r));
    rd_init(sub, r->p, (size_t)n, r->name, rd_off(r));
    r->p += n;
    return T2I_OK;
}

int pb_skip(Rd *r, int wire) {
    size_t off = rd_off(r);
    Rd     sub;
    uint64_t v;
    switch (wire) {
    case PB_VARINT: return pb_varint(r, &v);
    case PB_LEN: return pb_sub(r, &sub);
    case PB_I64:
    case PB_I32:
        if (rd_skip(r, wire == PB_I64 ? 8 : 4))
            return t2i_error(T2I_EFORMAT, "%s: protobuf: fixed-size field at byte %zu runs past "
                             "the end of its message", r->name, off);
        return T2I_OK;
    default:
        return t2i_error(T2I_EFORMAT, "%s: protobuf: wire type %d at byte %zu", r->name, wire,
                         off);
    }
}

int pb_want(const Rd *r, uint32_t field, int wire, int want, const char *what) {
    if (wire == want) return T2I_OK;
    return t2i_error(T2I_EFORMAT, "%s: protobuf: %s (field %u) before byte %zu has wire type %d, "
                     "expected %d", r->name, what, (unsigned)field, rd_off(r), wire, want);
}

int pb_packed_count(const Rd *sub, int elt, size_t *n) {
    size_t len = rd_left(sub);
    if (elt > 0) {
        if (len % (size_t)elt)
            return t2i_error(T2I_EFORMAT, "%s: protobuf: packed field at byte %zu has %zu bytes, "
                             "not a multiple of %d", sub->name, rd_off(sub), len, elt);
        *n = len / (size_t)elt;
        return T2I_OK;
    }
    size_t c = 0;   // varints: one per byte without the continuation bit
    for (const uint8_t *p = sub->p; p < sub->end; p++) c += !(*p & 0x80);
    if (len && (sub->end[-1] & 0x80))
        return t2i_error(T2I_EFORMAT, "%s: protobuf: packed varints at byte %zu end inside a "
                         "varint", sub->name, rd_off(sub));
    *n = c;
    return T2I_OK;
}

int pb_fields(Rd m, const PbField *spec, int n) {
    int rc;
    while (!rd_eof(&m)) {
        uint32_t f;
        int      w, i = 0;
        if ((rc = pb_key(&m, &f, &w))) return rc;
        while (i < n && spec[i].field != f) i++;
        if (i == n) {
            if ((rc = pb_skip(&m, w))) return rc;
            continue;
        }
        const PbField *s = &spec[i];
        if ((rc = pb_want(&m, f, w, s->wire, s->what))) return rc;
        if (s->wire == PB_LEN) {
            rc = pb_sub(&m, s->dst);
        } else if (s->wire == PB_VARINT) {
            rc = pb_varint(&m, s->dst);
        } else {
            uint32_t v32;
            rc = s->wire == PB_I32 ? rd_u32le(&m, &v32) : rd_u64le(&m, s->dst);
            if (!rc && s->wire == PB_I32) *(uint64_t *)s->dst = v32;
        }
        if (rc) return rc;
        if (s->seen) *s->seen = 1;
    }
    return T2I_OK;
}
