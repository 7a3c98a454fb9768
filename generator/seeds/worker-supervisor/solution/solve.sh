#!/bin/bash
set -euo pipefail
cat > /usr/local/bin/workerctl <<'SCRIPT'
#!/bin/bash
# Supervise the queue workers: workerctl start|status|stop
set -u
IDS="1 2 3"
RUN=/run/jobs
LOGDIR=/var/lib/jobs
WORKER=/opt/jobs/worker.sh
mkdir -p "$RUN" "$LOGDIR"

pid_of() { tr -dc '0-9' < "$RUN/worker-$1.pid" 2>/dev/null; }

alive() {  # alive PID: running and not a zombie
  [ -n "$1" ] && [ -d "/proc/$1" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null
}

start() {
  for id in $IDS; do
    if alive "$(pid_of "$id")"; then continue; fi
    setsid "$WORKER" "$id" < /dev/null >> "$LOGDIR/worker-$id.out" 2>&1 &
    echo $! > "$RUN/worker-$id.pid"
  done
}

status() {
  local rc=0 pid
  for id in $IDS; do
    pid=$(pid_of "$id")
    if alive "$pid"; then echo "worker-$id running $pid"; else echo "worker-$id stopped"; rc=3; fi
  done
  return $rc
}

stop() {
  local pids="" pid
  for id in $IDS; do
    pid=$(pid_of "$id")
    if alive "$pid"; then kill -TERM "$pid" 2>/dev/null || true; pids="$pids $pid"; fi
  done
  for _ in $(seq 50); do
    local left=""
    for pid in $pids; do alive "$pid" && left="$left $pid"; done
    pids=$left
    [ -z "$pids" ] && break
    sleep 0.1
  done
  for pid in $pids; do kill -KILL "$pid" 2>/dev/null || true; done
  for pid in $pids; do while alive "$pid"; do sleep 0.1; done; done
  for id in $IDS; do rm -f "$RUN/worker-$id.pid"; done
}

case "${1:-}" in
  start) start ;;
  status) status ;;
  stop) stop ;;
  *) echo "usage: workerctl start|status|stop" >&2; exit 2 ;;
esac
SCRIPT
chmod 755 /usr/local/bin/workerctl
