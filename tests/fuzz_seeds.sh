#!/usr/bin/env bash
# Seeds a libFuzzer corpus: tests/fuzz_seeds.sh TARGET_NAME CORPUS_DIR
# Copies the fixture files that exercise TARGET_NAME (from $T2I_FIXTURES or ../shared/fixtures,
# and tests/fixtures/loaders) into CORPUS_DIR. Run from the repository root. Files already in
# the corpus are kept (libFuzzer dedupes by content).
set -eu
if [ $# -ne 2 ]; then
    echo "usage: $0 TARGET_NAME CORPUS_DIR" >&2
    exit 4
fi
name=$1
dir=$2
fix=${T2I_FIXTURES:-../shared/fixtures}
loc=tests/fixtures/loaders
mkdir -p "$dir"
n=0
seed() {
    for f in "$@"; do
        [ -f "$f" ] || continue
        # flatten the path into a unique corpus file name
        cp -f "$f" "$dir/seed_$(printf '%s' "$f" | tr '/.' '__')"
        n=$((n + 1))
    done
}
case "$name" in
fuzz_pickle)
    seed "$fix"/vocab_pickle/*.pickle "$loc"/*.pickle
    ;;
fuzz_zip)
    seed "$fix"/text_encoder/model.pth "$loc"/*.npz "$loc"/evil_zip.pth
    ;;
fuzz_pth)
    seed "$fix"/text_encoder/model*.pth "$loc"/*.pth
    ;;
fuzz_npy)
    seed "$fix"/text_encoder/*.npy "$fix"/vocab_pickle/*.npy "$loc"/*.npy "$loc"/*.npz
    ;;
fuzz_safetensors)
    seed "$loc"/*.safetensors
    ;;
fuzz_image)
    seed tests/fixtures/images/*.png tests/fixtures/images/*.jpg tests/fixtures/images/*.bmp \
        tests/fixtures/images/*.p?m tests/fixtures/images/*.tif tests/fixtures/images/*.webp
    ;;
fuzz_tf_ckpt)
    seed tests/fixtures/tf/*.ckpt tests/fixtures/tf/hostile/*.ckpt
    ;;
fuzz_tf_graphdef)
    seed tests/fixtures/tf/*.pb
    ;;
fuzz_tf_bundle)
    # [u32 LE index length][index][data shard]: the bundle's index with each of its shards
    idx=tests/fixtures/tf/v2_small.ckpt.index
    for d in tests/fixtures/tf/v2_small.ckpt.data-*; do
        [ -f "$idx" ] && [ -f "$d" ] || continue
        out="$dir/seed_bundle_$(basename "$d" | tr '/.' '__')"
        len=$(wc -c < "$idx")
        printf "$(printf '\\%03o\\%03o\\%03o\\%03o' $((len & 255)) $((len >> 8 & 255)) \
            $((len >> 16 & 255)) $((len >> 24 & 255)))" > "$out"
        cat "$idx" "$d" >> "$out"
        n=$((n + 1))
    done
    ;;
*)
    # targets of other engineers: no seeds, libFuzzer starts from an empty corpus
    ;;
esac
echo "fuzz_seeds: $n seed files for $name in $dir"
