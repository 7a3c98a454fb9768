#!/bin/bash
set -euo pipefail
cd /app/notes-api
# main@{1} is where main was before the reset
lost=$(git rev-parse 'main@{1}')
git checkout -q main
git reset -q --hard "$lost"
# the deleted branch's tip is still in HEAD's reflog (it was checked out)
# (newest first: the entry after "moving from experiment/cache" is where that branch stood)
tip=$(git reflog --format='%H %gs' | awk 'found == 1 {print $1; found = 2} /checkout: moving from experiment\/cache to main/ && !found {found = 1}')
if [ -z "$tip" ]; then
  tip=$(git fsck --lost-found 2>/dev/null | awk '/commit/ && !n++ {print $3}')
fi
git branch experiment/cache "$tip"
git checkout -q -b wip/staging-config main
git stash apply -q
git add -A
git -c user.name=Oracle -c user.email=oracle@example.com commit -q -m "Staging config (recovered from stash)"
git checkout -q main
git log --oneline --all --graph --max-count=20
