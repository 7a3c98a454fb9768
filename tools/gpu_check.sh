#!/usr/bin/env bash
# Check termforge.kernels on a machine with an NVIDIA GPU:
#   1. the flash-attention tests with the Pallas kernels compiled by Triton (not interpreted),
#      including the full --runslow grid (fast on a GPU);
#   2. the ring-attention tests (8 fake CPU devices in a subprocess, interpreted: a single GPU
#      cannot host a ring);
#   3. benchmarks/attention.py --gpu: forward and forward+backward TFLOP/s of the Pallas kernel
#      against jax.nn.dot_product_attention(implementation="cudnn") and the XLA reference, plus the
#      compiled peak temporary memory of reference / flash / ring on this device.
#
#   tools/gpu_check.sh                  # everything, logs under gpu_check_logs/
#   PYTHON=/path/to/python tools/gpu_check.sh
#   LENGTHS=2048,8192 BLOCKS="64 64" tools/gpu_check.sh
#
# Needs a CUDA jaxlib (pip install -U "jax[cuda12]" matching the installed jax) and pytest.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
PY="${PYTHON:-.venv/bin/python}"
[ -x "$PY" ] || PY="$(command -v python3)"
LENGTHS="${LENGTHS:-2048,8192,32768}"
read -r BLOCK_Q BLOCK_K <<< "${BLOCKS:-64 64}"
LOGS="${LOGS:-gpu_check_logs}"
mkdir -p "$LOGS"

echo "== environment"
"$PY" - <<'EOF'
import sys
import jax
backend = jax.default_backend()
print(f"python {sys.version.split()[0]}, jax {jax.__version__}, backend {backend}, devices {jax.devices()}")
if backend != "gpu":
    sys.exit(f"no GPU backend (got {backend!r}): install a CUDA jaxlib, e.g. pip install -U 'jax[cuda12]'")
EOF
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true

# Compiled kernels; the float32 reference must not use TF32 or the 2e-5 bound is meaningless.
export TERMFORGE_PALLAS_INTERPRET=0
export JAX_DEFAULT_MATMUL_PRECISION=highest
export XLA_PYTHON_CLIENT_PREALLOCATE=false

status=0
echo "== flash attention tests, Triton-compiled (full grid)"
if ! "$PY" -m pytest tests/kernels/test_kernels_flash.py tests/kernels/test_kernels_registry.py \
        --runslow -q -p no:cacheprovider 2>&1 | tee "$LOGS/flash_tests.log"; then
    echo "!! flash tests failed (see $LOGS/flash_tests.log)"; status=1
fi

echo "== ring attention tests (8 fake CPU devices, interpreted)"
if ! "$PY" -m pytest tests/kernels/test_kernels_ring.py -q -p no:cacheprovider 2>&1 | tee "$LOGS/ring_tests.log"; then
    echo "!! ring tests failed (see $LOGS/ring_tests.log)"; status=1
fi

echo "== benchmark: TFLOP/s vs cuDNN and compiled memory (blocks $BLOCK_Q x $BLOCK_K)"
unset JAX_DEFAULT_MATMUL_PRECISION  # bf16 speed run: default precision, like training
if ! "$PY" benchmarks/attention.py --gpu --lengths "$LENGTHS" --ns 1,2,4,8 --steps 10 \
        --block-q "$BLOCK_Q" --block-k "$BLOCK_K" 2>&1 | tee "$LOGS/benchmark.log"; then
    echo "!! benchmark failed (see $LOGS/benchmark.log)"; status=1
fi

# On a multi-GPU host the memory table also compiles the ring over 2/4/8 GPUs (as many as exist).
echo "== done (status $status); logs in $LOGS/"
exit "$status"
