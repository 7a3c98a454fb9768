#!/bin/bash
# Nightly backup of the application data, run from cron as root.
# The date stamp comes from $BACKUP_STAMP when set (YYYYMMDD), else today's date.
SRC=/srv/appdata
DEST=/var/backups/appdata
KEEP=6
STAMP=${BACKUP_STAMP:-$(date +%Y%m%d)}

mkdir -p $DEST
cd $SRC
tar -czf $DEST/appdata-$STAMP.tar.gz --exclude=*.tmp --exclude=cache $(ls)

# keep only the newest $KEEP archives
ls -t $DEST/appdata-*.tar.gz | tail -n +$KEEP | xargs rm -f
echo "backup done: $DEST/appdata-$STAMP.tar.gz"
