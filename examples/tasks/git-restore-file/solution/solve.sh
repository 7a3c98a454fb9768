#!/bin/bash
set -e
cd /app/project
rev=$(git rev-list -n 1 HEAD -- config/settings.ini)
git checkout "${rev}^" -- config/settings.ini
git commit -qm "Restore settings.ini"
