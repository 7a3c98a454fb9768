#!/bin/bash
# Usage: worker.sh ID -- work the job queue forever, writing a heartbeat line every second.
ID=${1:?usage: worker.sh ID}
LOG=/var/lib/jobs/worker-$ID.log
if [ "$ID" = 3 ]; then
  trap '' TERM   # worker 3 runs a legacy job that ignores SIGTERM
else
  trap 'echo "worker $ID stopping" >> "$LOG"; exit 0' TERM
fi
echo "worker $ID started pid $$" >> "$LOG"
while :; do
  echo "worker $ID heartbeat $(date +%s)" >> "$LOG"
  sleep 1 &
  wait $!
done
