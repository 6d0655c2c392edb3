// sstable_write.cc -- writes a LevelDB table with LevelDB's own TableBuilder (libleveldb), the
// independent SSTable writer behind tools/make_tf_fixtures.py (TensorFlow's checkpoint tables
// use LevelDB's table format).
//   sstable_write OUT BLOCK_SIZE none|snappy < records
// records: repeated [u32 LE key length][key][u32 LE value length][value], keys sorted.
// Developer tool only (needs libleveldb-dev and a C++ compiler); not part of t2ibench.
#include <leveldb/env.h>
#include <leveldb/options.h>
#include <leveldb/table_builder.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

static bool read_chunk(std::string *out) {
    unsigned char len[4];
    if (std::fread(len, 1, 4, stdin) != 4) return false;
    uint32_t n = len[0] | len[1] << 8 | len[2] << 16 | (uint32_t)len[3] << 24;
    out->resize(n);
    return n == 0 || std::fread(&(*out)[0], 1, n, stdin) == n;
}

int main(int argc, char **argv) {
    if (argc != 4) {
        std::fprintf(stderr, "usage: sstable_write OUT BLOCK_SIZE none|snappy < records\n");
        return 4;
    }
    leveldb::Options opt;
    opt.block_size = (size_t)std::atol(argv[2]);
    opt.compression = std::strcmp(argv[3], "snappy") == 0 ? leveldb::kSnappyCompression
                                                         : leveldb::kNoCompression;
    leveldb::WritableFile *f = nullptr;
    leveldb::Status s = leveldb::Env::Default()->NewWritableFile(argv[1], &f);
    if (!s.ok()) {
        std::fprintf(stderr, "%s\n", s.ToString().c_str());
        return 2;
    }
    leveldb::TableBuilder b(opt, f);
    std::string k, v;
    while (read_chunk(&k)) {
        if (!read_chunk(&v)) {
            std::fprintf(stderr, "truncated record\n");
            return 2;
        }
        b.Add(k, v);
    }
    s = b.Finish();
    if (s.ok()) s = f->Close();
    delete f;
    if (!s.ok()) {
        std::fprintf(stderr, "%s\n", s.ToString().c_str());
        return 2;
    }
    return 0;
}
