"""Eval benchmark: episodes per minute of the in-process backend at --jobs 1 and --jobs 4, and decode
tokens/s with and without batching across episodes.

    .venv/bin/python benchmarks/eval.py [--model CKPT_OR_HF_DIR] [--episodes 4] [--max-turns 3]
                                        [--requests 8] [--new-tokens 64] [--skip-episodes]

Without --model a tiny random Qwen3 (configs/models/qwen3-tiny.yaml, vocabulary 512) and a BPE
trained on the Terminus-2 prompt are built in a temp dir. Compilation is warmed up before any
timing.

* episodes/min: `run_eval` of the example task hello-file, `--episodes` attempts, `--max-turns`
  turns each, every attempt in a fresh Docker sandbox, the model in process with one shared
  batching decoder (slots 4); jobs 1 then jobs 4 (a random model produces parse errors, so an
  episode is mostly model calls plus sandbox start and verifier).
* decode tok/s (model `--size`, default tiny): `--requests` prompts of the episode's first turn (system prompt + task, ~400
  tokens), `--new-tokens` each with no stop token: one at a time through a 1-slot decoder
  ("no batching"), then submitted together to a decoder with one slot per request ("batched
  across episodes"). Tokens/s counts generated tokens over wall time, prefill included.

Each batched/parallel line ends with its ratio to the unbatched/serial one.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


SIZES = {  # overrides of configs/models/qwen3-tiny.yaml
    "tiny": {},
    "small": dict(hidden_size=384, intermediate_size=1024, num_hidden_layers=6, num_attention_heads=6,
                  num_key_value_heads=2, head_dim=64),
}


def build_tiny(root: Path, size: str = "tiny") -> Path:
    import jax
    from flax import nnx

    from termforge.executor.agent import SYSTEM_PROMPT
    from termforge.jaxtrain.config import load_config
    from termforge.jaxtrain.hf import to_pretrained
    from termforge.jaxtrain.model import Qwen3ForCausalLM
    from termforge.jaxtrain.tokenizer import train_tokenizer

    texts = [SYSTEM_PROMPT] * 4 + [f"Task:\nCreate /app/file{i}.txt with `ls -la /app`\n" for i in range(120)]
    info = train_tokenizer(texts=texts, vocab_size=512, out_dir=root / "tok")
    cfg = load_config("qwen3-tiny", vocab_size=info["vocab_size"], **SIZES[size])
    model = Qwen3ForCausalLM(cfg, rngs=nnx.Rngs(0))
    nnx.update(model, jax.tree.map(lambda x: x * 4.0 if x.ndim > 1 else x, nnx.state(model, nnx.Param)))
    to_pretrained(model, root / "hf", tokenizer_dir=root / "tok")
    return root / "hf"


def first_turn_prompt(i: int) -> list[dict]:
    from termforge.executor.agent import SYSTEM_PROMPT

    return [{"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": f"Task:\nCreate a file `/app/greeting{i}.txt` that contains exactly one "
                                        f"line: `Hello, terminal {i}!`\n\nCurrent terminal state:\nroot@sandbox:/app#"}]


def bench_decode(model_dir: Path, requests: int, new_tokens: int, max_len: int) -> None:
    from termforge.eval.engine import BatchDecoder, load_local_model
    from termforge.jaxtrain.model import count_params

    lm = load_local_model(model_dir, slots=1, max_context=max_len)
    print(f"decode: {count_params(lm.model) / 1e6:.1f}M parameters, cache of {max_len} tokens per slot", flush=True)
    lm.close()
    prompts = [lm.encode_chat(first_turn_prompt(i)) for i in range(requests)]
    results = {}
    for label, slots in (("no batching (1 slot, one request at a time)", 1),
                         (f"batched across {requests} episodes ({requests} slots)", requests)):
        dec = BatchDecoder(lm.model, slots=slots, max_len=max_len, chunk=16, eos_ids=())
        dec.generate(prompts[0], max_new_tokens=new_tokens, temperature=0.7, seed=0)  # compile
        for k in dec.stats:
            dec.stats[k] = 0
        t0 = time.perf_counter()
        if slots == 1:
            outs = [dec.generate(p, max_new_tokens=new_tokens, temperature=0.7, seed=i)
                    for i, p in enumerate(prompts)]
        else:
            futs = [dec.submit(p, max_new_tokens=new_tokens, temperature=0.7, seed=i) for i, p in enumerate(prompts)]
            outs = [f.result() for f in futs]
        dt = time.perf_counter() - t0
        dec.close()
        n = sum(len(o.tokens) for o in outs)
        steps = n - len(outs)  # the first token of each request comes from its prefill
        phase = steps / dec.stats["decode_seconds"]
        results[slots] = (n / dt, phase)
        ratio = (f"  x{results[slots][0] / results[1][0]:.2f} (decode phase x{phase / results[1][1]:.2f})"
                 if slots != 1 else "")
        print(f"decode tok/s   {label}: {n / dt:8.1f} incl. prefill, {phase:8.1f} in the decode phase   "
              f"({n} tokens in {dt:.2f} s, prefill {dec.stats['prefill_seconds']:.2f} s of "
              f"~{sum(map(len, prompts)) // len(prompts)}-token prompts){ratio}", flush=True)


def bench_episodes(model_dir: Path, episodes: int, max_turns: int, max_tokens: int) -> None:
    from termforge.eval.backends import Sampling, open_provider
    from termforge.eval.runner import EvalOptions, run_eval

    provider = open_provider(str(model_dir), sampling=Sampling(temperature=0.7, top_p=1.0, max_tokens=max_tokens),
                             seed=0, slots=4, max_context=2048)
    try:
        provider.lm.chat(first_turn_prompt(0), max_tokens=max_tokens, seed=0)  # compile
        for p in range(max_turns + 1):  # the longer prompts of later turns fall in larger buckets
            provider.lm.chat(first_turn_prompt(0) + [{"role": "assistant", "content": "x " * 60},
                                                     {"role": "user", "content": "y " * 60}] * p,
                             max_tokens=max_tokens, seed=0)
        task = REPO / "examples" / "tasks" / "hello-file"
        base = None
        for jobs in (1, 4):
            out = Path(tempfile.mkdtemp(prefix=f"tf-bench-eval-j{jobs}-"))
            try:
                t0 = time.perf_counter()
                es = run_eval([task], out, provider, EvalOptions(attempts=episodes, jobs=jobs, max_turns=max_turns))
                dt = time.perf_counter() - t0
            finally:
                shutil.rmtree(out, ignore_errors=True)
            rate = len(es) * 60.0 / dt
            base = base or rate
            turns = sum(e.get("turns") or 0 for e in es)
            ratio = f"  x{rate / base:.2f}" if jobs != 1 else ""
            print(f"episodes/min   in-process backend --jobs {jobs}: {rate:6.1f}   ({len(es)} episodes, {turns} turns, "
                  f"{dt:.1f} s){ratio}", flush=True)
    finally:
        provider.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", type=Path, help="checkpoint or HF dir (default: a tiny random Qwen3)")
    ap.add_argument("--episodes", type=int, default=4)
    ap.add_argument("--max-turns", type=int, default=3)
    ap.add_argument("--max-tokens", type=int, default=64, help="tokens per assistant turn in episodes")
    ap.add_argument("--requests", type=int, default=8)
    ap.add_argument("--new-tokens", type=int, default=64)
    ap.add_argument("--size", choices=sorted(SIZES), default="tiny",
                    help="random model for the decode section: tiny (0.1M) or small (~10M parameters)")
    ap.add_argument("--max-len", type=int, default=1024, help="cache length per slot in the decode section")
    ap.add_argument("--skip-episodes", action="store_true", help="decode only (no Docker)")
    args = ap.parse_args()
    import jax

    tmp = Path(tempfile.mkdtemp(prefix="tf-bench-eval-"))
    try:
        model_dir = args.model or build_tiny(tmp / "tiny")
        decode_dir = args.model or (model_dir if args.size == "tiny" else build_tiny(tmp / args.size, args.size))
        print(f"eval benchmark: model {model_dir if args.model else 'random Qwen3 (qwen3-tiny, vocab 512)'}; "
              f"{jax.devices()[0].platform} x{jax.device_count()}, {os.cpu_count()} CPUs, "
              f"{platform.python_version()}", flush=True)
        bench_decode(decode_dir, args.requests, args.new_tokens, args.max_len)
        if not args.skip_episodes:
            bench_episodes(model_dir, args.episodes, args.max_turns, args.max_tokens)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
