// rd.c -- see rd.h.
#include "rd.h"
#include "t2i.h"

#include <string.h>

void rd_init(Rd *r, const void *buf, size_t len, const char *name, size_t base_off) {
    r->base = buf;
    r->p = buf;
    r->end = r->base + len;
    r->base_off = base_off;
    r->name = name ? name : "<memory>";
}

size_t rd_off(const Rd *r) { return r->base_off + (size_t)(r->p - r->base); }
size_t rd_left(const Rd *r) { return (size_t)(r->end - r->p); }
int    rd_eof(const Rd *r) { return r->p >= r->end; }

static int need(Rd *r, size_t n) {
    if (n > rd_left(r))
        return t2i_error(T2I_EFORMAT, "%s: truncated: %zu bytes needed at byte %zu, %zu left",
                         r->name, n, rd_off(r), rd_left(r));
    return T2I_OK;
}

int rd_u8(Rd *r, uint8_t *v) {
    if (need(r, 1)) return T2I_EFORMAT;
    *v = *r->p++;
    return T2I_OK;
}

int rd_u16le(Rd *r, uint16_t *v) {
    if (need(r, 2)) return T2I_EFORMAT;
    *v = rd_le16(r->p);
    r->p += 2;
    return T2I_OK;
}

int rd_u32le(Rd *r, uint32_t *v) {
    if (need(r, 4)) return T2I_EFORMAT;
    *v = rd_le32(r->p);
    r->p += 4;
    return T2I_OK;
}

int rd_i32le(Rd *r, int32_t *v) {
    uint32_t u;
    if (rd_u32le(r, &u)) return T2I_EFORMAT;
    *v = (int32_t)u;  // two's complement on every supported target
    return T2I_OK;
}

int rd_u64le(Rd *r, uint64_t *v) {
    if (need(r, 8)) return T2I_EFORMAT;
    *v = rd_le64(r->p);
    r->p += 8;
    return T2I_OK;
}

int rd_f64be(Rd *r, double *v) {
    if (need(r, 8)) return T2I_EFORMAT;
    uint64_t u = 0;
    for (int i = 0; i < 8; i++) u = u << 8 | r->p[i];
    memcpy(v, &u, 8);
    r->p += 8;
    return T2I_OK;
}

int rd_bytes(Rd *r, size_t n, const uint8_t **out) {
    if (need(r, n)) return T2I_EFORMAT;
    *out = r->p;
    r->p += n;
    return T2I_OK;
}

int rd_skip(Rd *r, size_t n) {
    if (need(r, n)) return T2I_EFORMAT;
    r->p += n;
    return T2I_OK;
}

int rd_line(Rd *r, const uint8_t **out, size_t *len) {
    const uint8_t *nl = memchr(r->p, '\n', rd_left(r));
    if (!nl)
        return t2i_error(T2I_EFORMAT, "%s: truncated: no end of line after byte %zu", r->name,
                         rd_off(r));
    *out = r->p;
    *len = (size_t)(nl - r->p);
    r->p = nl + 1;
    return T2I_OK;
}

int rd_load_file(const char *path, RdParseFn parse, void *out) {
    uint8_t *buf;
    size_t len;
    int rc = t2i_read_file(path, &buf, &len);
    if (rc) return rc;
    rc = parse(buf, len, path, out);
    t2i_free(buf);
    return rc;
}
