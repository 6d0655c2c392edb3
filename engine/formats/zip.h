// zip.h -- a read-only zip archive reader over an in-memory file, for torch.save's zip format
// and NumPy .npz archives.
//
// zip_open() parses the end-of-central-directory record (zip64 too), every central header and
// every local header, and validates names, sizes and offsets against the file: each member's
// data lies inside the file before the central directory, members do not overlap, local and
// central names agree, names are unique and contain no NUL. Members are read either without a
// copy (stored members, zip_span) or extracted (stored or deflate via zlib, zip_extract), and
// the CRC-32 is always checked. Not supported: encryption, multi-disk archives, methods other
// than stored (0) and deflate (8) -- each is T2I_EFORMAT naming the member.
#ifndef T2I_ZIP_H
#define T2I_ZIP_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    char     *name;       // NUL-terminated member name
    uint16_t  method;     // 0 stored, 8 deflate
    uint16_t  flags;
    uint32_t  crc;
    uint64_t  csize;      // compressed bytes
    uint64_t  usize;      // uncompressed bytes
    uint64_t  lho;        // offset of the local header
    uint64_t  data_off;   // offset of the member's data
} ZipEntry;

typedef struct {
    const uint8_t *buf;   // not owned
    size_t         len;
    const char    *name;  // file name for messages (not owned)
    ZipEntry      *e;
    int            n;
    int           *by_name;  // member indices sorted by name (zip_find is a binary search)
} Zip;

// Parses the archive in buf[0..len). `name` is used in messages and must outlive the Zip.
int  zip_open(Zip *z /* OUT */, const uint8_t *buf, size_t len, const char *name);
void zip_close(Zip *z);   // accepts a zeroed Zip

// Index of the member called `name`, or -1.
int  zip_find(const Zip *z, const char *name);

// A stored member's bytes without copying (CRC checked). Deflated members are T2I_EFORMAT.
int  zip_span(const Zip *z, int i, const uint8_t **data /* OUT */, size_t *len /* OUT */);

// A copy of member i (stored or deflate), allocated with t2i_malloc (+1 NUL byte, not counted).
int  zip_extract(const Zip *z, int i, uint8_t **data /* OUT */, size_t *len /* OUT */);

// True when buf starts like a zip (local header or empty-archive EOCD signature).
int  zip_sniff(const uint8_t *buf, size_t len);

#endif
