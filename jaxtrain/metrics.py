"""Training observability: FLOPs/MFU estimates, metrics.jsonl, TensorBoard events, the progress line.

FLOPs of one step (model FLOPs, useful tokens only; padding and recomputation are not counted):

    6 * N * tokens  +  6 * layers * heads * head_dim * sum(segment_len ** 2)

N is the number of parameters that take part in matmuls (the embedding lookup is free; a tied
embedding counts once, as the output head). The attention term is causal attention's
QK^T and AV (2 * 2 * s^2/2 * heads * head_dim per layer forward, x3 for forward + backward).
MFU = FLOPs / (seconds * n_devices * peak per device); the peak comes from `PEAK_FLOPS`
(dense bf16 marketing figures; CPU is a nominal figure so that the column is never empty).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

# device_kind substring (lower case) -> peak dense FLOP/s per device (bf16 unless noted)
PEAK_FLOPS: tuple[tuple[str, float], ...] = (
    ("tpu v6", 918e12),  # Trillium / v6e
    ("tpu v5p", 459e12),
    ("tpu v5 lite", 197e12),  # v5e reports "TPU v5 lite"
    ("tpu v5e", 197e12),
    ("tpu v5", 459e12),
    ("tpu v4", 275e12),
    ("tpu v3", 123e12),
    ("h200", 989e12),
    ("h100", 989e12),  # SXM dense bf16
    ("gh200", 989e12),
    ("b200", 2250e12),
    ("a100", 312e12),
    ("l4", 121e12),
    ("a10", 125e12),
    ("cpu", 1e11),  # nominal: ~100 GFLOP/s per CPU device
)


def peak_flops_per_device(device_kind: str) -> float:
    kind = device_kind.lower()
    for key, value in PEAK_FLOPS:
        if key in kind:
            return value
    return PEAK_FLOPS[-1][1]


def matmul_params(cfg) -> int:
    """Parameters that take part in matmuls per token (see module docstring)."""
    e, v = cfg.hidden_size, cfg.vocab_size
    h, kv, d, m = cfg.num_attention_heads, cfg.num_key_value_heads, cfg.head_dim, cfg.intermediate_size
    per_layer = e * h * d + 2 * e * kv * d + h * d * e + 3 * e * m
    return cfg.num_hidden_layers * per_layer + e * v  # + the output head


def step_flops(cfg, tokens: float, seq_len_sq: float) -> float:
    attn = 6.0 * cfg.num_hidden_layers * cfg.num_attention_heads * cfg.head_dim * seq_len_sq
    return 6.0 * matmul_params(cfg) * tokens + attn


class MetricsWriter:
    """RUN_DIR/metrics.jsonl (one JSON object per step) and TensorBoard events in RUN_DIR/tb.

    Only the writing process (process 0) should create one. On resume, lines past the restored
    step are dropped so that the file reads as one uninterrupted run.
    """

    def __init__(self, run_dir: str | os.PathLike, *, resume_step: int | None = None, tensorboard: bool = True):
        self.path = Path(run_dir) / "metrics.jsonl"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if resume_step is not None and self.path.exists():
            kept = [line for line in self.path.read_text(encoding="utf-8").splitlines()
                    if line.strip() and _step_of(line) is not None and _step_of(line) <= resume_step]
            self.path.write_text("".join(k + "\n" for k in kept), encoding="utf-8")
        elif resume_step is None and self.path.exists():
            self.path.unlink()
        self._f = open(self.path, "a", encoding="utf-8")
        self.tb = None
        self.tb_backend = None
        if tensorboard:
            try:
                from tensorboardX import SummaryWriter

                self.tb = SummaryWriter(str(Path(run_dir) / "tb"), purge_step=(resume_step + 1) if resume_step else None)
                self.tb_backend = "tensorboardX"
            except ImportError:  # optional dependency: metrics.jsonl is always written
                self.tb = None

    def write(self, record: dict[str, Any]) -> None:
        self._f.write(json.dumps(record, separators=(",", ":")) + "\n")
        self._f.flush()
        if self.tb is not None:
            step = int(record["step"])
            for key, value in record.items():
                if key != "step" and isinstance(value, (int, float)) and not isinstance(value, bool):
                    self.tb.add_scalar(f"train/{key}" if not key.startswith("eval") else key.replace("_", "/", 1),
                                       value, step)

    def close(self) -> None:
        self._f.close()
        if self.tb is not None:
            self.tb.close()


def _step_of(line: str) -> int | None:
    try:
        return int(json.loads(line)["step"])
    except (ValueError, KeyError, TypeError):
        return None


def read_metrics(run_dir: str | os.PathLike) -> list[dict[str, Any]]:
    path = Path(run_dir) / "metrics.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
