#!/usr/bin/env bash
# Sets up termforge on a fresh Debian/Ubuntu machine (as root): system packages, the Docker
# daemon, a virtualenv with termforge and its test extras, and the local base image.
# Idempotent: every step is skipped when already done.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

missing=()
for tool in dockerd debootstrap tmux mkfs.ext4; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if [ ${#missing[@]} -gt 0 ]; then
  log "installing system packages (missing: ${missing[*]})"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq docker.io debootstrap tmux e2fsprogs >/dev/null
fi

if ! docker info >/dev/null 2>&1; then
  log "starting the Docker daemon"
  $SUDO bash -c 'setsid dockerd > /tmp/termforge-dockerd.log 2>&1 < /dev/null &'
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && break
    sleep 1
  done
  docker info >/dev/null 2>&1 || { echo "dockerd did not start; see /tmp/termforge-dockerd.log" >&2; exit 1; }
fi

if [ ! -x .venv/bin/python ]; then
  log "creating .venv"
  python3 -m venv .venv
fi
if ! .venv/bin/python -c "import termforge.executor, pytest, torch" >/dev/null 2>&1 \
   || [ pyproject.toml -nt .venv/.termforge-installed ]; then
  log "installing termforge[dev] into .venv"
  .venv/bin/python -m pip install -q --upgrade pip 2>&1 | grep -v '^WARNING: Location' || true
  .venv/bin/python -m pip install -q -e ".[dev]" 2>&1 | grep -v '^WARNING: Location' || true
  .venv/bin/python -c "import termforge.executor, pytest, torch"
  touch .venv/.termforge-installed
fi

log "checking the base image"
.venv/bin/termforge base-image
log "ready"
