#!/bin/bash
set -e
mkdir -p /app/restored
tar -C /app/restored -xzf /app/backup.tar.gz
cd /app/restored
find . -type f -name '*.conf' -printf '%P\n' | LC_ALL=C sort | while IFS= read -r f; do sha256sum "$f"; done > SHA256SUMS
