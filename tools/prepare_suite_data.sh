#!/usr/bin/env bash
# Copies the caption data the shipped suites need from ../shared/data into suites/data/ and
# writes the derived tables (see suites/data/PROVENANCE.md). Run from the repository root.
# Uses only coreutils + awk; the output is deterministic.
set -euo pipefail
SRC=${1:-../shared/data}
OUT=suites/data
mkdir -p "$OUT/cub" "$OUT/coco"

# CUB: verbatim copies.
install -m 644 "$SRC/cub/test_captions.tsv" "$SRC/cub/test_images.tsv" "$SRC/cub/example_captions.txt" "$OUT/cub/"

# CUB example captions as a caption table (derived): one image per line, class = line index.
awk 'BEGIN { OFS = "\t"; print "image_idx", "image_key", "class_id", "cap_idx", "caption" }
     { sub(/\r$/, ""); if ($0 == "") next; printf "%d\texample_%02d\t%d\t0\t%s\n", n, n, n, $0; n++ }' \
    "$SRC/cub/example_captions.txt" > "$OUT/cub/example_captions.tsv"

# COCO: verbatim copies.
install -m 644 "$SRC/coco/test_filenames.txt" "$SRC/coco/example_captions.txt" "$OUT/coco/"

# COCO test split captions (derived from test_captions_soa.tsv): the caption slots AttnGAN uses
# (cap_idx 0-4), the COCO image id as image key, sorted by (test index, cap_idx).
awk -F'\t' 'BEGIN { OFS = "\t" }
     FNR == 1 { next }
     $3 >= 0 && $3 <= 4 { print $1, $2, $1, $3, $6 }' "$SRC/coco/test_captions_soa.tsv" \
  | LC_ALL=C sort -t "$(printf '\t')" -k1,1n -k4,4n \
  | awk 'BEGIN { print "image_idx\timage_key\tclass_id\tcap_idx\tcaption" } { print }' \
  > "$OUT/coco/test_captions.tsv"

# COCO-30k list (derived from val2014_30k_captions_attngan.tsv): the 29,974 rows whose image is
# in the AttnGAN test split, in the list's order; class = test index (DM-GAN without class_info).
awk -F'\t' 'BEGIN { OFS = "\t"; print "image_idx", "image_key", "class_id", "cap_idx", "caption" }
     FNR == 1 { next }
     $2 >= 0 { print $2, $1, $2, ($3 < 0 ? 0 : $3), $4 }' "$SRC/coco/val2014_30k_captions_attngan.tsv" \
  > "$OUT/coco/val2014_30k_test_split.tsv"

awk 'BEGIN { OFS = "\t"; print "image_idx", "image_key", "class_id", "cap_idx", "caption" }
     { sub(/\r$/, ""); if ($0 == "") next; printf "%d\texample_%02d\t%d\t0\t%s\n", n, n, n, $0; n++ }' \
    "$SRC/coco/example_captions.txt" > "$OUT/coco/example_captions.tsv"

(cd "$OUT" && sha256sum cub/* coco/* > SHA256SUMS)
