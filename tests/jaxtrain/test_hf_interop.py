"""Hugging Face <-> termforge: bit-identical round trips, sharded export, clear errors, CLI."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from termforge.errors import TermforgeError
from termforge.jaxtrain import checkpoint, hf

TERMFORGE = str(Path(sys.executable).parent / "termforge")


def _tensors(d: Path) -> dict[str, np.ndarray]:
    from safetensors import safe_open

    out = {}
    for f in sorted(d.glob("*.safetensors")):
        with safe_open(f, framework="pt") as st:
            for k in st.keys():
                t = st.get_tensor(k)
                raw = t.view(torch.int16) if t.dtype == torch.bfloat16 else t  # numpy has no bfloat16
                out[k] = (str(t.dtype), raw.numpy())
    return out


def _assert_bit_identical(a: dict, b: dict, ignore=()):
    a = {k: v for k, v in a.items() if k not in ignore}
    b = {k: v for k, v in b.items() if k not in ignore}
    assert sorted(a) == sorted(b)
    for k in a:
        (da, xa), (db, xb) = a[k], b[k]
        assert da == db and xa.shape == xb.shape, k
        assert xa.tobytes() == xb.tobytes(), k


@pytest.mark.parametrize("fixture", ["hf_untied", "hf_tied"])
def test_round_trip_bit_identical_and_loadable(request, tmp_path, fixture):
    from transformers import AutoModelForCausalLM

    torch_model, src = request.getfixturevalue(fixture)
    model = hf.from_pretrained(src)
    out = tmp_path / "out"
    summary = hf.to_pretrained(model, out)
    assert summary["files"] == ["model.safetensors"]
    _assert_bit_identical(_tensors(src), _tensors(out))
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["architectures"] == ["Qwen3ForCausalLM"] and cfg["model_type"] == "qwen3"
    assert (out / "generation_config.json").exists()

    reloaded = AutoModelForCausalLM.from_pretrained(out).eval()
    ids = torch.tensor([[3, 14, 15, 92, 65, 35, 89, 79]])
    with torch.no_grad():
        a = torch_model(ids).logits.numpy()
        b = reloaded(ids).logits.numpy()
    assert np.abs(a - b).max() <= 1e-6


def test_sharded_export_with_index(hf_untied, tmp_path):
    from transformers import AutoModelForCausalLM

    torch_model, src = hf_untied
    model = hf.from_pretrained(src)
    out = tmp_path / "sharded"
    summary = hf.to_pretrained(model, out, max_shard_size="100KB")
    assert len(summary["files"]) > 2
    index = json.loads((out / hf.INDEX_NAME).read_text())
    assert set(index["weight_map"].values()) == set(summary["files"])
    assert not (out / "model.safetensors").exists()
    for f in summary["files"]:
        assert (out / f).stat().st_size <= 100_000 + 64 * 1024  # a single tensor may exceed the threshold
    _assert_bit_identical(_tensors(src), _tensors(out))
    # and it imports back (index path) and loads in transformers
    again = hf.from_pretrained(out)
    out2 = tmp_path / "again"
    hf.to_pretrained(again, out2)
    _assert_bit_identical(_tensors(src), _tensors(out2))
    reloaded = AutoModelForCausalLM.from_pretrained(out).eval()
    ids = torch.tensor([[1, 2, 3, 4]])
    with torch.no_grad():
        assert np.abs(torch_model(ids).logits.numpy() - reloaded(ids).logits.numpy()).max() <= 1e-6


def test_bfloat16_import_export_is_bit_identical(hf_untied, tmp_path):
    torch_model, _ = hf_untied
    src = tmp_path / "bf16"
    import copy

    copy.deepcopy(torch_model).to(torch.bfloat16).save_pretrained(src)  # never mutate the shared fixture
    model = hf.from_pretrained(src)
    assert model.config.param_dtype == "bfloat16"
    hf.to_pretrained(model, tmp_path / "out")
    _assert_bit_identical(_tensors(src), _tensors(tmp_path / "out"))


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def _rewrite(d: Path, edit):
    from safetensors.torch import load_file, save_file

    tensors = load_file(d / "model.safetensors")
    edit(tensors)
    save_file(tensors, d / "model.safetensors", metadata={"format": "pt"})


def test_other_architecture_is_refused(hf_untied, tmp_path):
    d = _copy(hf_untied[1], tmp_path / "llama")
    cfg = json.loads((d / "config.json").read_text())
    cfg.update(model_type="llama", architectures=["LlamaForCausalLM"])
    (d / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(TermforgeError, match="not a Qwen3 causal LM.*LlamaForCausalLM"):
        hf.from_pretrained(d)


def test_missing_tensor_is_named(hf_untied, tmp_path):
    d = _copy(hf_untied[1], tmp_path / "missing")
    _rewrite(d, lambda t: t.pop("model.layers.1.mlp.up_proj.weight"))
    with pytest.raises(TermforgeError, match=r"missing tensor model\.layers\.1\.mlp\.up_proj\.weight"):
        hf.from_pretrained(d)


def test_unexpected_tensor_is_named(hf_untied, tmp_path):
    d = _copy(hf_untied[1], tmp_path / "extra")
    _rewrite(d, lambda t: t.__setitem__("model.layers.7.self_attn.q_proj.weight", torch.zeros(2, 2)))
    with pytest.raises(TermforgeError, match=r"unexpected tensor model\.layers\.7\.self_attn\.q_proj\.weight"):
        hf.from_pretrained(d)


def test_shape_mismatch_is_named(hf_untied, tmp_path):
    d = _copy(hf_untied[1], tmp_path / "shape")
    _rewrite(d, lambda t: t.__setitem__("model.layers.0.self_attn.k_proj.weight", torch.zeros(16, 64)))
    with pytest.raises(TermforgeError, match=r"model\.layers\.0\.self_attn\.k_proj\.weight has shape \[16, 64\]"):
        hf.from_pretrained(d)


def _cli(*args, env_extra=None):
    env = dict(os.environ, COLUMNS="400", JAX_PLATFORMS="cpu", **(env_extra or {}))
    return subprocess.run([TERMFORGE, *map(str, args)], capture_output=True, text=True, env=env, timeout=300)


def test_cli_import_hf_bad_input_is_one_line(hf_untied, tmp_path):
    d = _copy(hf_untied[1], tmp_path / "bad")
    _rewrite(d, lambda t: t.__setitem__("model.norm.weight", torch.ones(3)))
    res = _cli("import-hf", d, tmp_path / "ckpt")
    assert res.returncode != 0
    lines = [l for l in res.stderr.strip().splitlines() if l.strip()]
    assert len(lines) == 1, res.stderr
    assert "model.norm.weight" in lines[0] and "Traceback" not in res.stderr
    assert not (tmp_path / "ckpt").exists()


def test_cli_import_export_round_trip(hf_untied, tmp_path, small_text):
    from termforge.jaxtrain.tokenizer import train_tokenizer

    src = _copy(hf_untied[1], tmp_path / "src")
    train_tokenizer([small_text], vocab_size=300, out_dir=src)
    ckpt = tmp_path / "ckpt"
    res = _cli("import-hf", src, ckpt)
    assert res.returncode == 0, res.stderr
    assert "imported" in res.stdout and res.stdout.count("\n") == 1
    step, meta = checkpoint.load_meta(ckpt)
    assert step == 0 and meta["model_config"]["hidden_size"] == 64
    out = tmp_path / "out"
    res = _cli("export", ckpt, out, "--max-shard-size", "200KB")
    assert res.returncode == 0, res.stderr
    assert "exported" in res.stdout
    assert (out / hf.INDEX_NAME).exists()
    _assert_bit_identical(_tensors(src), _tensors(out))
    assert (out / "tokenizer.json").read_bytes() == (src / "tokenizer.json").read_bytes()
    res = _cli("export", tmp_path / "nope", tmp_path / "x")
    assert res.returncode != 0 and "checkpoint directory not found" in res.stderr and "Traceback" not in res.stderr
