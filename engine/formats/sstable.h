// sstable.h -- a bounded reader of LevelDB-format tables, the container of TensorFlow
// checkpoints (V1 files and V2 .index files; TF's core/lib/io/table* is LevelDB's format:
// github.com/google/leveldb/blob/main/doc/table_format.md).
//
// Layout: data blocks, a metaindex block, an index block, and a 48-byte footer (two block
// handles as varints, zero padding, the magic 0xdb4775248b80fb57 little-endian). Each block is
// followed by a 5-byte trailer: the compression type (0 = none) and the masked CRC-32C of the
// block and the type byte. Blocks hold prefix-compressed entries (shared, non_shared,
// value_length varints, key delta, value) followed by a restart array.
//
// Checked: every handle and length against the file, each block's CRC, keys strictly increasing.
// Not supported: compressed blocks (TensorFlow writes checkpoint tables with kNoCompression;
// LevelDB's default snappy is refused with a clear error), filter blocks (ignored).
#ifndef T2I_SSTABLE_H
#define T2I_SSTABLE_H

#include <stddef.h>
#include <stdint.h>

#define SSTABLE_MAGIC 0xdb4775248b80fb57ULL

// CRC-32C (Castagnoli), continuing from `crc` (0 to start).
uint32_t crc32c(uint32_t crc, const void *buf, size_t n);
// LevelDB/TF's masked CRC: ((crc >> 15) | (crc << 17)) + 0xa282ead8, and its inverse.
uint32_t crc32c_mask(uint32_t crc);
uint32_t crc32c_unmask(uint32_t masked);

// 1 when the buffer ends with the table magic.
int sstable_sniff(const uint8_t *buf, size_t len);

// Called for every entry in key order. `val_off` is the value's file offset (for messages).
// A non-zero return stops the walk and is returned by sstable_each.
typedef int (*SSTableVisit)(void *ctx, const uint8_t *key, size_t klen, const uint8_t *val,
                            size_t vlen, size_t val_off);

// Walks every entry of the table in `buf` (the whole file). `name` is used in messages.
int sstable_each(const uint8_t *buf, size_t len, const char *name, SSTableVisit fn, void *ctx);

#endif
