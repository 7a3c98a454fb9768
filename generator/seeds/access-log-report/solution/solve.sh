#!/bin/bash
set -euo pipefail
mkdir -p /app/reports
tmp=$(mktemp)
{ zcat /var/log/nginx/access.log.2.gz; cat /var/log/nginx/access.log.1 /var/log/nginx/access.log; } \
  | grep -E '^[^ ]+ - [^ ]+ \[[^]]+\] "[A-Z]+ [^ "]+ [^ "]+" [0-9]{3} [0-9]+ "[^"]*" "[^"]*" [0-9]+\.[0-9]{3}$' \
  | awk '{ split($7, t, "?"); print t[1] "\t" $9 "\t" $NF }' > "$tmp"
# per endpoint: count, errors, nearest-rank p95 over the sorted times
sort -t$'\t' -k1,1 -k3,3g "$tmp" | awk -F'\t' '
  function flush() {
    if (cur == "") return
    rank = int(0.95 * n); if (rank < 0.95 * n) rank++
    printf "%s\t%d\t%.1f\t%.3f\n", cur, n, 100 * err / n, times[rank]
  }
  $1 != cur { flush(); cur = $1; n = 0; err = 0; delete times }
  { n++; times[n] = $3; if ($2 >= 500) err++ }
  END { flush() }' \
  | sort -t$'\t' -k2,2nr -k1,1 > "$tmp.rows"
{ printf 'endpoint\trequests\terror_pct\tp95\n'; cat "$tmp.rows"; } > /app/reports/endpoint_stats.tsv
rm -f "$tmp" "$tmp.rows"
