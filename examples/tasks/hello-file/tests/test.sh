#!/bin/bash
# Verifier: runs the image's own pytest offline and writes the reward.
mkdir -p /logs/verifier
if python3 -m pytest -q -rA -p no:cacheprovider /tests/test_outputs.py; then
  echo 1 > /logs/verifier/reward.txt
else
  echo 0 > /logs/verifier/reward.txt
fi
