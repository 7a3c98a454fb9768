"""Exact and near-duplicate detection (MinHash + LSH) and n-gram decontamination."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

import numpy as np

_TOKEN = re.compile(r"[A-Za-z0-9_]+|[^\sA-Za-z0-9_]")
_MERSENNE = np.uint64((1 << 61) - 1)


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


def ngrams(text: str, n: int) -> set[str]:
    toks = tokens(text)
    if len(toks) < n:
        return {" ".join(toks)} if toks else set()
    return {" ".join(toks[i:i + n]) for i in range(len(toks) - n + 1)}


def _hash64(s: str) -> int:
    return int.from_bytes(hashlib.blake2b(s.encode(), digest_size=8).digest(), "little")


@dataclass
class MinHasher:
    num_perm: int = 128
    shingle: int = 5
    seed: int = 1

    def __post_init__(self):
        rng = np.random.default_rng(self.seed)
        self._a = rng.integers(1, (1 << 61) - 1, self.num_perm, dtype=np.uint64)
        self._b = rng.integers(0, (1 << 61) - 1, self.num_perm, dtype=np.uint64)

    def signature(self, text: str) -> np.ndarray:
        grams = ngrams(text, self.shingle)
        hv = np.array([_hash64(g) for g in grams] or [0], dtype=np.uint64) % _MERSENNE
        # (a*h + b) mod p on uint64 wraps: use Python ints via object arrays only for safety margins
        with np.errstate(over="ignore"):
            perm = (np.outer(hv, self._a) + self._b) % _MERSENNE
        return perm.min(axis=0)


def jaccard(sig_a: np.ndarray, sig_b: np.ndarray) -> float:
    return float(np.mean(sig_a == sig_b))


@dataclass
class NearDupIndex:
    """Finds a previously added text whose estimated Jaccard similarity is ≥ threshold."""

    threshold: float = 0.8
    bands: int = 32
    hasher: MinHasher = field(default_factory=MinHasher)
    _buckets: dict = field(default_factory=dict)
    _sigs: dict = field(default_factory=dict)
    _exact: dict = field(default_factory=dict)

    def find(self, text: str) -> tuple[str | None, float]:
        """(key of the nearest duplicate or None, similarity)."""
        digest = hashlib.sha256(" ".join(tokens(text)).encode()).hexdigest()
        if digest in self._exact:
            return self._exact[digest], 1.0
        sig = self.hasher.signature(text)
        best, best_sim = None, 0.0
        for band_key in self._band_keys(sig):
            for key in self._buckets.get(band_key, ()):
                sim = jaccard(sig, self._sigs[key])
                if sim > best_sim:
                    best, best_sim = key, sim
        return (best, best_sim) if best_sim >= self.threshold else (None, best_sim)

    def fingerprint(self, text: str) -> dict[str, str]:
        """What `add_fingerprint` needs, JSON-serialisable (to rebuild the index on resume)."""
        return {"sha256": hashlib.sha256(" ".join(tokens(text)).encode()).hexdigest(),
                "minhash": self.hasher.signature(text).tobytes().hex()}

    def add(self, key: str, text: str) -> None:
        self.add_fingerprint(key, self.fingerprint(text))

    def add_fingerprint(self, key: str, fp: dict[str, str]) -> None:
        self._exact.setdefault(fp["sha256"], key)
        sig = np.frombuffer(bytes.fromhex(fp["minhash"]), dtype=np.uint64)
        self._sigs[key] = sig
        for band_key in self._band_keys(sig):
            self._buckets.setdefault(band_key, []).append(key)

    def _band_keys(self, sig: np.ndarray):
        rows = len(sig) // self.bands
        for b in range(self.bands):
            yield (b, sig[b * rows:(b + 1) * rows].tobytes())

    def __len__(self) -> int:
        return len(self._sigs)


@dataclass
class Decontaminator:
    """Flags a task whose instruction overlaps an evaluation task's instruction or tests.

    Overlap = share of the candidate's word n-grams found in one evaluation task's n-grams.
    """

    n: int = 8
    threshold: float = 0.5
    _eval: dict = field(default_factory=dict)

    def add_eval(self, name: str, text: str) -> None:
        self._eval[name] = ngrams(text, self.n)

    def check(self, text: str) -> tuple[str | None, float]:
        grams = ngrams(text, self.n)
        if not grams or not self._eval:
            return None, 0.0
        best, best_overlap = None, 0.0
        for name, eval_grams in self._eval.items():
            overlap = len(grams & eval_grams) / len(grams)
            if overlap > best_overlap:
                best, best_overlap = name, overlap
        return (best, best_overlap) if best_overlap >= self.threshold else (None, best_overlap)

    def __len__(self) -> int:
        return len(self._eval)
