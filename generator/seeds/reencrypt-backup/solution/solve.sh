#!/bin/bash
set -euo pipefail
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
openssl enc -d -aes-256-cbc -pbkdf2 -iter 100000 -pass file:/root/.vault/old.pass \
  -in /srv/vault/crm-export.tar.gz.enc | tar -xz -C "$work"
mapfile -t ids < <(grep -Ev '^[[:space:]]*(#|$)' /srv/vault/gdpr_deletions.txt | tr -d ' \r')
for id in "${ids[@]}"; do
  rm -rf "$work/export/docs/$id"
done
awk -F, -v ids="${ids[*]}" 'BEGIN { n = split(ids, a, " "); for (i = 1; i <= n; i++) del[a[i]] = 1 }
  NR == 1 || !($1 in del)' "$work/export/customers.csv" > "$work/customers.csv.new"
mv "$work/customers.csv.new" "$work/export/customers.csv"
tar -C "$work" -czf - export \
  | openssl enc -aes-256-cbc -salt -pbkdf2 -iter 200000 -pass file:/root/.vault/new.pass \
      -out /srv/vault/crm-export-clean.tar.gz.enc
cd /srv/vault && sha256sum crm-export-clean.tar.gz.enc > crm-export-clean.tar.gz.enc.sha256
sha256sum -c crm-export-clean.tar.gz.enc.sha256
