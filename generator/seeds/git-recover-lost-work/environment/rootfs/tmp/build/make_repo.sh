#!/bin/bash
set -euo pipefail
mkdir -p /app/notes-api && cd /app/notes-api
git init -q -b main .
git config user.name 'Sam Dev'
git config user.email sam@example.com
mkdir -p "$(dirname 'README.md')"
cat > 'README.md' <<'REPO_EOF'
# notes-api

A tiny notes service.
REPO_EOF
mkdir -p "$(dirname 'app.py')"
cat > 'app.py' <<'REPO_EOF'
NOTES = {}


def get(note_id):
    return NOTES.get(note_id)
REPO_EOF
git add -A && GIT_AUTHOR_DATE='2024-02-01T11:00:00+00:00' GIT_COMMITTER_DATE='2024-02-01T11:00:00+00:00' git commit -q -m 'Initial notes API'
mkdir -p "$(dirname 'handlers/h1.py')"
cat > 'handlers/h1.py' <<'REPO_EOF'
# Add note search
REPO_EOF
git add -A && GIT_AUTHOR_DATE='2024-02-02T12:00:00+00:00' GIT_COMMITTER_DATE='2024-02-02T12:00:00+00:00' git commit -q -m 'Add note search'
mkdir -p "$(dirname 'handlers/h2.py')"
cat > 'handlers/h2.py' <<'REPO_EOF'
# Validate note titles
REPO_EOF
git add -A && GIT_AUTHOR_DATE='2024-02-03T13:00:00+00:00' GIT_COMMITTER_DATE='2024-02-03T13:00:00+00:00' git commit -q -m 'Validate note titles'
git branch experiment/cache
mkdir -p "$(dirname 'tracing.py')"
cat > 'tracing.py' <<'REPO_EOF'
LIMIT = 120


def allowed(count):
    return count < LIMIT
REPO_EOF
git add -A && GIT_AUTHOR_DATE='2024-02-04T14:00:00+00:00' GIT_COMMITTER_DATE='2024-02-04T14:00:00+00:00' git commit -q -m 'Add request tracing'
mkdir -p "$(dirname 'README.md')"
cat > 'README.md' <<'REPO_EOF'
# notes-api

A tiny notes service.

## Request Tracing

Limit: 120 per minute.
REPO_EOF
git add -A && GIT_AUTHOR_DATE='2024-02-05T15:00:00+00:00' GIT_COMMITTER_DATE='2024-02-05T15:00:00+00:00' git commit -q -m 'Document request tracing'
git checkout -q experiment/cache
mkdir -p "$(dirname 'cache.py')"
cat > 'cache.py' <<'REPO_EOF'
CACHE = {}
REPO_EOF
git add -A && GIT_AUTHOR_DATE='2024-02-06T16:00:00+00:00' GIT_COMMITTER_DATE='2024-02-06T16:00:00+00:00' git commit -q -m 'Try response caching'
git checkout -q main
mkdir -p "$(dirname 'config/staging.ini')"
cat > 'config/staging.ini' <<'REPO_EOF'
[database]
host = 10.9.8.7
REPO_EOF
git add config/staging.ini
GIT_AUTHOR_DATE='2024-02-20T10:00:00+00:00' GIT_COMMITTER_DATE='2024-02-20T10:00:00+00:00' git stash push -q -m 'staging config'
git reset -q --hard HEAD~2
git branch -q -D experiment/cache
