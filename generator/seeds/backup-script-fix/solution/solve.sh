#!/bin/bash
# Rewrite the backup script: quote everything, let tar walk the tree itself, fail loudly,
# write to a temporary name and prune by the stamp in the file name.
cat > /opt/nightly/bin/run_backup.sh <<'SCRIPT'
#!/bin/bash
# Nightly backup of the application data, run from cron as root.
# The date stamp comes from $BACKUP_STAMP when set (YYYYMMDD), else today's date.
set -euo pipefail
SRC=/srv/appdata
DEST=/var/backups/appdata
KEEP=6
STAMP=${BACKUP_STAMP:-$(date +%Y%m%d)}

if [ ! -d "$SRC" ]; then
  echo "backup failed: $SRC does not exist" >&2
  exit 1
fi
mkdir -p "$DEST"
final="$DEST/appdata-$STAMP.tar.gz"
tmp="$DEST/.appdata-$STAMP.tar.gz.part"
trap 'rm -f "$tmp"' EXIT
tar -C "$SRC" --exclude='*.tmp' --exclude='./cache' -czf "$tmp" .
mv "$tmp" "$final"

# keep only the newest $KEEP archives, newest = highest stamp in the name
find "$DEST" -maxdepth 1 -type f -name 'appdata-*.tar.gz' -printf '%f\n' \
  | grep -E '^appdata-[0-9]{8}\.tar\.gz$' | sort -r | tail -n +$((KEEP + 1)) \
  | while IFS= read -r old; do rm -f -- "$DEST/$old"; done
echo "backup done: $final"
SCRIPT
chmod 755 /opt/nightly/bin/run_backup.sh
