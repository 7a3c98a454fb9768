"""Evaluation of terminal agents on Terminal-Bench-2.0-format tasks (DESIGN §1: eval -> executor,
eval -> jaxtrain; nothing imports eval).

    backends   --model strings: oracle | nop | openai:URL#MODEL | CKPT_OR_HF_DIR
    engine     in-process Qwen3 generation: continuous-batching KV-cache decoder, chat template,
               context truncation (deterministic per request seed)
    runner     `termforge eval`: attempts in fresh sandboxes, resumable index, failure causes
    tb2        TB2 compatibility: needs-network detection, base-image checks
    decontam   n-gram overlap of task instructions with the training corpus
    metrics    success/stderr/bootstrap CI, pass@k, breakdowns, paired comparison
    report     report.json/.md and plots; eval-compare outputs
    server     `termforge serve`: OpenAI-compatible /v1/chat/completions on the same decoder
    commands   CLI registration (eval, eval-compare, serve)

See docs/evaluation.md.
"""
