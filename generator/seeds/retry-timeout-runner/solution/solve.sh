#!/bin/bash
set -euo pipefail
cat > /opt/etl/run_all.sh <<'SCRIPT'
#!/bin/bash
# Run every shard with up to 4 in parallel, 5 s per attempt, at most 3 attempts each.
set -uo pipefail
ETL=/opt/etl
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

one_shard() {  # one_shard NAME RESULT_DIR: attempts with retries, writes RESULT_DIR/NAME
  local name=$1 out=$2 attempt status rc
  for attempt in 1 2 3; do
    timeout -s TERM -k 1 5 "$ETL/bin/process-shard" "$name" > /dev/null 2>&1
    rc=$?
    if [ $rc -eq 0 ]; then status=ok; break; fi
    if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then status=timeout; else status=failed; fi
    [ $attempt -lt 3 ] && sleep 1
  done
  printf '%s\t%s\t%s\n' "$name" "$status" "$attempt" > "$out/$name"
}
export -f one_shard
export ETL

grep -v -e '^[[:space:]]*$' -e '^[[:space:]]*#' "$ETL/shards.txt" \
  | xargs -r -P 4 -I{} bash -c 'one_shard "$1" "$2"' _ {} "$WORK"
cat "$WORK"/* | sort > "$ETL/results.tsv"
! grep -qvP '\tok\t' "$ETL/results.tsv"
SCRIPT
chmod 755 /opt/etl/run_all.sh
