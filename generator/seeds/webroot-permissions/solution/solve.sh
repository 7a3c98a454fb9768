#!/bin/bash
set -euo pipefail
ROOT=/srv/www/storefront
# audit before fixing; find does not follow symlinks by default
find "$ROOT" -mindepth 1 \( -type f -o -type d \) \( -perm -o=w -o -perm -u=s \) -print \
  | LC_ALL=C sort > /root/perm_audit.txt
chown -R -h webadm:webops "$ROOT"
find "$ROOT" -type d -exec chmod 2750 {} +
find "$ROOT/uploads" -type d -exec chmod 2770 {} +
find "$ROOT" -type f -exec chmod 0640 {} +
find "$ROOT/cgi-bin" -maxdepth 1 -type f \( -name '*.cgi' -o -name '*.sh' \) -exec chmod 0750 {} +
chmod 0600 "$ROOT/.env"
