#!/bin/bash
# Verifier: the image's own pytest, offline; the reward is 1 only when every check passes.
mkdir -p /logs/verifier
if python3 -m pytest -q -rA -p no:cacheprovider /tests; then
  echo 1 > /logs/verifier/reward.txt
else
  echo 0 > /logs/verifier/reward.txt
fi
