#!/usr/bin/env bash
# Check termforge on a machine with an NVIDIA GPU, in stages that each have a time limit:
#   1. environment: a CUDA jax backend; termforge importable (installed, or put on PYTHONPATH
#      through a package shim when the machine has no venv, e.g. a bare CUDA image);
#   2. the flash-attention tests with the Pallas kernels compiled by Triton (not interpreted):
#      the default subset, then the full grid's Triton ("loop") cases, in parallel with xdist
#      when it is installed;
#   3. benchmarks/attention.py --gpu: forward and forward+backward TFLOP/s of the Pallas kernel
#      against jax.nn.dot_product_attention(implementation="cudnn") and the XLA reference;
#   4. benchmarks/train_gpu.py: one Qwen3 SFT step (bf16 compute), tokens/s and MFU with the
#      reference attention and with the flash kernel.
# Ring attention needs several devices: its tests run on 8 fake CPU devices in the normal suite.
#
#   tools/gpu_check.sh                  # everything; logs under $OUT or gpu_check_logs/
#   PYTHON=/path/to/python MODEL=qwen3-1.7b SEQ=8192 BATCH=2 tools/gpu_check.sh
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT="$PWD"
PY="${PYTHON:-.venv/bin/python}"
[ -x "$PY" ] || PY="$(command -v python3)"
LENGTHS="${LENGTHS:-2048,8192,32768}"
MODEL="${MODEL:-qwen3-0.6b}"
SEQ="${SEQ:-4096}"
BATCH="${BATCH:-4}"
LOGS="${OUT:-${LOGS:-gpu_check_logs}}"
mkdir -p "$LOGS"
export PYTHONUNBUFFERED=1 XLA_PYTHON_CLIENT_PREALLOCATE=false

echo "== environment"
if ! "$PY" -c "import termforge.kernels, termforge.jaxtrain" 2>/dev/null; then
    # Not installed (a bare CUDA image): an editable install without dependencies or an index
    # maps termforge.kernels <- kernels/ etc. as pyproject says; the image has jax/flax/optax.
    "$PY" -m pip install -q --no-deps --no-build-isolation --no-index -e "$ROOT" || exit 1
fi
"$PY" - <<'EOF' || exit 1
import sys
import jax, flax, optax
backend = jax.default_backend()
print(f"python {sys.version.split()[0]}, jax {jax.__version__}, flax {flax.__version__}, optax {optax.__version__}, "
      f"backend {backend}, devices {jax.devices()}")
if backend != "gpu":
    sys.exit(f"no GPU backend (got {backend!r}): install a CUDA jaxlib, e.g. pip install -U 'jax[cuda12]'")
import termforge.kernels, termforge.jaxtrain.model  # noqa: F401
EOF
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true

XDIST=()
"$PY" -c "import xdist" 2>/dev/null && XDIST=(-n "${XDIST_WORKERS:-8}")
status=0
STAGES="${STAGES:-flash_tests flash_grid attention_bench train_mfu init_compile}"
stage() {  # stage NAME SECONDS CMD...: run with a time limit, log to $LOGS/NAME.log, remember failures
    local name="$1" secs="$2"; shift 2
    case " $STAGES " in *" $name "*) ;; *) return 0 ;; esac
    echo "== $name (limit ${secs}s)"
    local t0=$SECONDS
    timeout -k 10 "$secs" "$@" 2>&1 | tee "$LOGS/$name.log"
    local rc=${PIPESTATUS[0]}
    echo "-- $name: rc $rc in $((SECONDS - t0))s"
    [ "$rc" = 0 ] || status=1
}

# Compiled kernels; the float32 reference must not use TF32 or the 2e-5 bound is meaningless.
export TERMFORGE_PALLAS_INTERPRET=0 JAX_DEFAULT_MATMUL_PRECISION=highest
stage flash_tests "${FLASH_LIMIT:-130}" "$PY" -m pytest tests/kernels/test_kernels_flash.py \
    tests/kernels/test_kernels_registry.py -q -p no:cacheprovider "${XDIST[@]}"
stage flash_grid "${GRID_LIMIT:-100}" "$PY" -m pytest tests/kernels/test_kernels_flash.py --runslow \
    -k "full_grid and loop" -q -p no:cacheprovider "${XDIST[@]}"

unset JAX_DEFAULT_MATMUL_PRECISION  # speed runs: default precision, like training
stage attention_bench "${BENCH_LIMIT:-90}" "$PY" benchmarks/attention.py --gpu --lengths "$LENGTHS" --steps 10 \
    --skip-memory
stage train_mfu "${TRAIN_LIMIT:-150}" "$PY" benchmarks/train_gpu.py --model "$MODEL" --seq-len "$SEQ" \
    --batch "$BATCH" --steps 8 --impls reference,flash
stage init_compile "${INIT_LIMIT:-90}" "$PY" benchmarks/train_gpu.py --model "$MODEL" --layers 2 --seq-len 512 \
    --batch 1 --steps 2 --impls reference --init sharded

echo "== done (status $status); logs in $LOGS/"
exit "$status"
