#!/bin/bash
set -euo pipefail
IN=/srv/transfer/incoming
MIRROR=/srv/transfer/mirror
OUT=/srv/landing
mkdir -p "$OUT"
cd "$IN"
# parts in numeric order
mapfile -t parts < <(ls dataset.tar.gz.part-* | sort -t- -k2,2n)
: > "$OUT/bad_parts.txt"
: > "$OUT/dataset.tar.gz"
for p in "${parts[@]}"; do
  want=$(awk -v f="$p" '$2 == f {print $1}' SHA256SUMS)
  src="$IN/$p"
  if [ "$(sha256sum < "$src" | cut -d' ' -f1)" != "$want" ]; then
    echo "$p" >> "$OUT/bad_parts.txt"
    src="$MIRROR/$p"
    [ "$(sha256sum < "$src" | cut -d' ' -f1)" = "$want" ] || { echo "no good copy of $p" >&2; exit 1; }
  fi
  cat "$src" >> "$OUT/dataset.tar.gz"
done
want=$(awk '$2 == "dataset.tar.gz" {print $1}' SHA256SUMS)
[ "$(sha256sum < "$OUT/dataset.tar.gz" | cut -d' ' -f1)" = "$want" ]
tar -xzf "$OUT/dataset.tar.gz" -C "$OUT"
