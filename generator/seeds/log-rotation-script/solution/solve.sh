#!/bin/bash
set -euo pipefail
cat > /usr/local/sbin/rotate-checkout <<'SCRIPT'
#!/bin/bash
# Rotate the checkout service logs: X.log -> X.log.1 -> X.log.2.gz -> ... (at most KEEP).
set -euo pipefail
DIR=/var/log/checkout
KEEP=4
PIDFILE=/run/checkout.pid

shopt -s nullglob
for log in "$DIR"/*.log; do
  [ -f "$log" ] && [ -s "$log" ] || continue
  rm -f "$log.$KEEP.gz"
  for ((n = KEEP - 1; n >= 2; n--)); do
    if [ -e "$log.$n.gz" ]; then mv -f "$log.$n.gz" "$log.$((n + 1)).gz"; fi
  done
  if [ -e "$log.1" ]; then
    gzip -n -c "$log.1" > "$log.2.gz"
    chown --reference="$log.1" "$log.2.gz"
    chmod --reference="$log.1" "$log.2.gz"
    rm -f "$log.1"
  fi
  mv "$log" "$log.1"
  : > "$log"
  chown --reference="$log.1" "$log"
  chmod --reference="$log.1" "$log"
done

if [ -f "$PIDFILE" ]; then
  pid=$(tr -dc '0-9' < "$PIDFILE")
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -HUP "$pid"
  fi
fi
SCRIPT
chmod 755 /usr/local/sbin/rotate-checkout
echo '30 3 * * * root /usr/local/sbin/rotate-checkout' > /etc/cron.d/checkout-logrotate
chmod 644 /etc/cron.d/checkout-logrotate
