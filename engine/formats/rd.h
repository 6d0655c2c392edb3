// rd.h -- a bounded little-endian byte reader over an in-memory buffer.
//
// Every read checks the remaining length first and fails with T2I_EFORMAT and a message that
// names the input (`name`) and the byte offset of the failed read; nothing ever reads past
// `end`. Offsets are relative to `base`, so nested readers (a zip member, a pickle inside a
// file) can report file offsets by setting `base_off`. Does not own the buffer.
#ifndef T2I_RD_H
#define T2I_RD_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    const uint8_t *base;      // start of the buffer
    const uint8_t *p;         // read position
    const uint8_t *end;       // one past the last byte
    size_t         base_off;  // file offset of `base` (for messages)
    const char    *name;      // file name for messages
} Rd;

void   rd_init(Rd *r, const void *buf, size_t len, const char *name, size_t base_off);
// File offset of the read position.
size_t rd_off(const Rd *r);
size_t rd_left(const Rd *r);
int    rd_eof(const Rd *r);

int rd_u8(Rd *r, uint8_t *v /* OUT */);
int rd_u16le(Rd *r, uint16_t *v /* OUT */);
int rd_u32le(Rd *r, uint32_t *v /* OUT */);
int rd_i32le(Rd *r, int32_t *v /* OUT */);
int rd_u64le(Rd *r, uint64_t *v /* OUT */);
int rd_f64be(Rd *r, double *v /* OUT */);   // pickle BINFLOAT is big-endian
// Returns a pointer to the next n bytes (no copy) and advances.
int rd_bytes(Rd *r, size_t n, const uint8_t **out /* OUT */);
int rd_skip(Rd *r, size_t n);
// Reads up to and including the next '\n'; *out/*len exclude the newline.
int rd_line(Rd *r, const uint8_t **out /* OUT */, size_t *len /* OUT */);

// The parse half of a file loader: reads the `len` bytes at `buf`, names `name` in every error
// and fills `out`, which it leaves in its empty state on failure.
typedef int (*RdParseFn)(const uint8_t *buf, size_t len, const char *name, void *out /* OUT */);
// The whole loader: reads the file `path` into memory, parses it with `parse` (the path names the
// file in every error, the read's included) and frees the buffer. The caller puts `out` in its
// empty state first, so that it can be freed after any return.
int rd_load_file(const char *path, RdParseFn parse, void *out /* OUT */);

// Little-endian loads from a pointer the caller has already bounds-checked.
static inline uint16_t rd_le16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static inline uint32_t rd_le32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t rd_le64(const uint8_t *p) {
    return (uint64_t)rd_le32(p) | (uint64_t)rd_le32(p + 4) << 32;
}

#endif
