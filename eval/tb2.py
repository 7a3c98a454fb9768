"""Terminal-Bench 2.0 compatibility: tasks whose verifier (or image build) needs the internet, and
registry base images that must be mapped to local ones.

TB2 tests typically install `uv` with `curl ... | sh` and run `uvx pytest`; offline that cannot
work whatever the agent did, so such a trial is classified "needs network" (and left out of the
success rate) instead of being blamed on the model. Evidence comes from two places:

- the verifier's output (`verifier/test-stdout.txt`) or the image build log, matched against
  resolver/connection errors ("Could not resolve host", "Temporary failure in name resolution",
  "Network is unreachable", pip/uv download failures, ...);
- a static scan of `tests/test.sh` (and other scripts under tests/) for downloads
  (curl/wget of URLs, pip/uv/uvx installs, apt-get install, npm/cargo/go fetches, git clone).

A failed trial counts as "needs network" when the output shows a network error, or when the scan
found downloads and the verifier wrote no reward at all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from termforge.errors import ImageMissingError

NETWORK_ERROR_PATTERNS = [
    r"Could not resolve host",
    r"Temporary failure in name resolution",
    r"Temporary failure resolving",
    r"Name or service not known",
    r"Network is unreachable",
    r"No address associated with hostname",
    r"nodename nor servname provided",
    r"failed to lookup address information",
    r"getaddrinfo (?:failed|ENOTFOUND|EAI_AGAIN)",
    r"dns error",
    r"Failed to establish a new connection",
    r"Max retries exceeded with url",
    r"Could not fetch URL https?://",
    r"No matching distribution found for",
    r"Could not find a version that satisfies the requirement",
    r"error: Failed to (?:download|fetch)",
    r"Failed to fetch https?://",
    r"error sending request for url",
    r"unable to access 'https?://",
    r"curl: \((?:5|6|7|28|35)\)",
    r"wget: unable to resolve host address",
    r"(?:uv|uvx): command not found",
    r"\.local/bin/env: No such file or directory",
]
_NETWORK_RE = re.compile("|".join(f"(?:{p})" for p in NETWORK_ERROR_PATTERNS), re.IGNORECASE)

DOWNLOAD_PATTERNS = [
    (r"\b(?:curl|wget)\b[^\n]*https?://", "downloads a URL"),
    (r"\bpip3?\s+install\b(?![^\n]*--no-index)", "pip install"),
    (r"\bpython3?\s+-m\s+pip\s+install\b(?![^\n]*--no-index)", "pip install"),
    (r"\buvx\b(?![^\n]*--offline)", "uvx (fetches packages)"),
    (r"\buv\s+(?:pip\s+install|run|sync|add|tool\s+install)\b(?![^\n]*--offline)", "uv fetches packages"),
    (r"\bapt(?:-get)?\s+(?:-\S+\s+)*(?:update|install)\b", "apt-get"),
    (r"\bnpm\s+(?:install|ci|i)\b|\bnpx\b", "npm"),
    (r"\bcargo\s+(?:install|fetch|build)\b", "cargo"),
    (r"\bgo\s+(?:install|get|mod\s+download)\b", "go modules"),
    (r"\bgit\s+clone\s+(?:https?|git|ssh)://", "git clone"),
]
_DOWNLOAD_RES = [(re.compile(p), why) for p, why in DOWNLOAD_PATTERNS]


def network_errors(text: str, limit: int = 3) -> list[str]:
    """Lines of `text` that show a network failure (at most `limit`)."""
    hits: list[str] = []
    for line in text.splitlines():
        if _NETWORK_RE.search(line):
            hits.append(line.strip()[:200])
            if len(hits) >= limit:
                break
    return hits


def scan_downloads(task_path: str | Path) -> list[str]:
    """Static evidence that a task's tests download at verify time: 'tests/test.sh:3: pip install'."""
    tests = Path(task_path) / "tests"
    found: list[str] = []
    if not tests.is_dir():
        return found
    for script in sorted(tests.rglob("*.sh")):
        try:
            text = script.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        for n, line in enumerate(text.splitlines(), 1):
            code = line.split("#", 1)[0] if not line.lstrip().startswith("#!") else ""
            for rx, why in _DOWNLOAD_RES:
                if rx.search(code):
                    found.append(f"{script.relative_to(Path(task_path))}:{n}: {why}")
                    break
    return found


@dataclass
class NetworkVerdict:
    needs_network: bool
    evidence: list[str]


def classify_network(trial_dir: Path, result: dict, static_evidence: list[str]) -> NetworkVerdict:
    """Did this (failed) trial fail because the sandbox was offline?"""
    texts = []
    stdout = Path(trial_dir) / "verifier" / "test-stdout.txt"
    try:
        if stdout.is_file() and not stdout.is_symlink():
            with open(stdout, "rb") as f:
                texts.append(f.read(2_000_000).decode("utf-8", errors="replace"))
    except OSError:
        pass
    exc = result.get("exception_info") or {}
    if exc.get("exception_message"):
        texts.append(str(exc["exception_message"]))  # e.g. an image build that ran apt-get offline
    hits = [h for t in texts for h in network_errors(t)]
    if hits:
        return NetworkVerdict(True, hits[:3] + static_evidence[:2])
    no_reward = exc.get("exception_type") in ("RewardFileNotFoundError", "RewardFileEmptyError")
    if static_evidence and no_reward:
        return NetworkVerdict(True, static_evidence[:3] + ["the verifier wrote no reward"])
    return NetworkVerdict(False, [])


def missing_images(tasks, image_map: dict[str, str]) -> list[tuple[str, str]]:
    """(image, task path) for every base image that is neither local nor mapped to a local one."""
    from termforge.executor.images import image_exists, rewrite_from_lines

    missing: list[tuple[str, str]] = []
    seen: dict[str, bool] = {}

    def exists(ref: str) -> bool:
        if ref not in seen:
            seen[ref] = image_exists(ref)
        return seen[ref]

    for task in tasks:
        dockerfile = task.environment_dir / "Dockerfile"
        if dockerfile.is_file():
            _text, bases = rewrite_from_lines(dockerfile.read_text(encoding="utf-8", errors="replace"), image_map)
        else:
            bases = [image_map.get(task.config.docker_image, task.config.docker_image)] \
                if task.config.docker_image else []
        for base in bases:
            if not exists(base):
                missing.append((base, str(task.path)))
    return missing


def check_images(tasks, image_map: dict[str, str]) -> None:
    """One clear error naming every unavailable image (and --base-image-map) before any trial runs."""
    from termforge.executor.base_image import BASE_IMAGE

    missing = missing_images(tasks, image_map)
    if not missing:
        return
    images: dict[str, list[str]] = {}
    for image, path in missing:
        images.setdefault(image, []).append(path)
    if BASE_IMAGE in images:
        raise ImageMissingError(f"base image {BASE_IMAGE} is not built; run `termforge base-image`")
    mapped = set(image_map.values())
    desc = "; ".join(f"{img!r} ({len(p)} task{'s' if len(p) > 1 else ''}, e.g. {p[0]})"
                     for img, p in list(images.items())[:4])
    more = f" and {len(images) - 4} more" if len(images) > 4 else ""
    first = next(iter(images))
    if first in mapped:
        raise ImageMissingError(f"mapped image(s) not available locally: {desc}{more}")
    raise ImageMissingError(
        f"image(s) not available locally and no registry can be reached: {desc}{more}; map each to a local "
        f"image with --base-image-map '{first}=termforge/base:bookworm'")
