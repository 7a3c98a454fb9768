"""SFT training throughput on CPU: termforge (JAX) vs a plain transformers + PyTorch loop; the Grain
loader vs the trainer; packing efficiency.

    .venv/bin/python benchmarks/train.py [--steps 20] [--seq-len 256] [--batch 8] [--records 256]

One synthetic corpus (Terminus-style trajectories in a shard set, a BPE trained on them), one
tiny Qwen3 config, the same packed batches for both trainers:

  termforge   `termforge.jaxtrain.train.train` end to end (Grain loader, packing, nnx.jit step with
              AdamW + clipping, metrics), steady-state tokens/s (the compiling first step excluded)
  torch       transformers.Qwen3ForCausalLM (same dimensions), torch.optim.AdamW + clip_grad_norm_,
              loss on the same assistant tokens of the same [batch, seq_len] rows, batches prebuilt
  loader      StageLoader alone: packed batches per second, in tokens/s
Tokens are non-padding tokens in every column.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path


def _config(corpus: dict, args) -> dict:
    return {
        "model": "qwen3-tiny",
        "model_overrides": {"num_hidden_layers": args.layers},
        "mesh": {"data": 1, "fsdp": -1, "tensor": 1, "context": 1},
        "data": {"shards": corpus["shards"], "tokenizer": corpus["tokenizer"], "read_threads": 2},
        "train": {"steps": args.steps, "seq_len": args.seq_len, "batch_size": args.batch},
        "optimizer": {"lr": 1e-3, "warmup_steps": 2},
        "checkpoint": {"enabled": False, "export_hf": False},
    }


def bench_termforge(corpus: dict, args, run_dir: Path) -> dict:
    from termforge.jaxtrain.metrics import read_metrics
    from termforge.jaxtrain.train import train
    from termforge.jaxtrain.train_config import config_from_dict

    summary = train(config_from_dict(_config(corpus, args)), run_dir, progress=False)
    recs = read_metrics(run_dir)[1:]  # the first step compiles
    tokens = sum(r["tokens"] for r in recs)
    secs = sum(r["step_time_s"] for r in recs)
    return {"tokens_per_s": tokens / secs, "step_s": secs / len(recs), "final_loss": summary["final_loss"],
            "padding_efficiency": summary["padding_efficiency"], "mfu": summary["mfu"]}


def _batches(corpus: dict, args, n: int):
    from termforge.jaxtrain.data import open_shards
    from termforge.jaxtrain.pipeline import StageLoader
    from termforge.jaxtrain.tokenizer import load_tokenizer
    from termforge.jaxtrain.train_config import config_from_dict, stages

    cfg = config_from_dict(_config(corpus, args))
    tok = load_tokenizer(corpus["tokenizer"])
    loader = StageLoader(cfg.data, stages(cfg)[0], [open_shards(corpus["shards"])], tok, num_readers=1)
    return loader, [next(loader) for _ in range(n)]


def bench_torch(batches, args) -> dict:
    import torch
    import transformers

    from termforge.jaxtrain.config import load_config

    mc = load_config("qwen3-tiny", num_hidden_layers=args.layers)
    hf = transformers.Qwen3Config(**{k: v for k, v in mc.to_hf_dict().items()
                                     if k not in ("architectures", "model_type", "dtype")})
    torch.manual_seed(0)
    torch.set_num_threads(os.cpu_count() or 1)
    model = transformers.Qwen3ForCausalLM(hf).train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.95), weight_decay=0.01)

    def step(b):
        ids = torch.from_numpy(b["inputs"]).long()
        labels = torch.from_numpy(b["targets"]).long()
        w = torch.from_numpy(b["weights"])
        logits = model(input_ids=ids).logits.float()
        ce = torch.nn.functional.cross_entropy(logits.view(-1, logits.shape[-1]), labels.view(-1), reduction="none")
        loss = (ce * w.view(-1)).sum() / w.sum().clamp(min=1)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        return loss.item()

    step(batches[0])  # warm-up
    t = time.perf_counter()
    tokens = 0
    for b in batches[1:]:
        step(b)
        tokens += int(b["stats"][0])
    dt = time.perf_counter() - t
    return {"tokens_per_s": tokens / dt, "step_s": dt / (len(batches) - 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--seq-len", type=int, default=256)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--records", type=int, default=256)
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    args = ap.parse_args()

    from termforge.jaxtrain.pipeline import loader_throughput
    from termforge.jaxtrain.synthetic import make_corpus

    with tempfile.TemporaryDirectory() as d:
        corpus = make_corpus(Path(d) / "corpus", n_records=args.records, n_eval=4, vocab_size=512)
        tf = bench_termforge(corpus, args, Path(d) / "run")
        loader, batches = _batches(corpus, args, args.steps)
        lo = loader_throughput(loader, max(args.steps, 20))
        th = bench_torch(batches, args)
    out = {
        "config": {"model": "qwen3-tiny", "layers": args.layers, "batch": args.batch, "seq_len": args.seq_len,
                   "steps": args.steps},
        "termforge_tokens_per_s": tf["tokens_per_s"], "torch_tokens_per_s": th["tokens_per_s"],
        "termforge_vs_torch": tf["tokens_per_s"] / th["tokens_per_s"],
        "loader_tokens_per_s": lo["tokens_per_s"], "loader_vs_trainer": lo["tokens_per_s"] / tf["tokens_per_s"],
        "packing_efficiency": lo["padding_efficiency"], "trainer_padding_efficiency": tf["padding_efficiency"],
        "termforge_mfu": tf["mfu"],
    }
    if args.json:
        print(json.dumps(out))
        return
    c = out["config"]
    print(f"SFT on CPU: qwen3-tiny ({c['layers']} layers), batch {c['batch']} x {c['seq_len']}, {c['steps']} steps")
    print(f"  termforge (JAX)          {out['termforge_tokens_per_s']:>10,.0f} tok/s   "
          f"({tf['step_s'] * 1e3:.1f} ms/step, mfu {100 * tf['mfu']:.2f}% of nominal CPU peak)")
    print(f"  transformers + PyTorch   {out['torch_tokens_per_s']:>10,.0f} tok/s   ({th['step_s'] * 1e3:.1f} ms/step)")
    print(f"  ratio termforge / torch  {out['termforge_vs_torch']:>10.2f}x   (target >= 1.0)")
    print(f"  Grain loader             {out['loader_tokens_per_s']:>10,.0f} tok/s   "
          f"= {out['loader_vs_trainer']:.1f}x the trainer's consumption (target >= 10x)")
    print(f"  packing efficiency       {100 * out['packing_efficiency']:>10.1f}%   "
          f"(non-padding tokens / batch slots)")


if __name__ == "__main__":
    main()
