#!/bin/bash
set -euo pipefail
cd /app/pricing
git bisect start main v1.0
git bisect run ./run_checks.sh > /tmp/bisect.log 2>&1 || true
bad=$(git rev-parse refs/bisect/bad)
git bisect reset
git checkout -q main
echo "$bad" > /app/first_bad_commit.txt
git -c user.name=oracle -c user.email=oracle@example.com revert --no-edit "$bad"
./run_checks.sh
