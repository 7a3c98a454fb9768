"""Task images: one per environment/ folder, built locally and cached by a content hash.

The build context is sent as a tar that termforge assembles itself, so the Dockerfile's base
images can be remapped (`--base-image-map registry/img:tag=termforge/base:bookworm`) and the
cache key covers exactly what is built. Builds run without network by default.
"""

from __future__ import annotations

import hashlib
import io
import re
import tarfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import docker.errors

from termforge.errors import ImageMissingError, TermforgeError
from termforge.executor.docker_env import client
from termforge.executor.task import Task, slugify, tree_digest

TASK_IMAGE_REPO = "termforge/task"
CACHE_LABEL = "org.termforge.context"
_FROM_RE = re.compile(r"^(\s*FROM\s+)((?:--\S+\s+)*)(\S+)(.*)$", re.IGNORECASE | re.MULTILINE)
_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


@dataclass(frozen=True)
class BuiltImage:
    tag: str
    image_id: str
    cached: bool
    seconds: float


def parse_image_map(items: list[str] | tuple[str, ...] | None) -> dict[str, str]:
    """['a=b', …] -> {'a': 'b'}; a malformed item is an error."""
    mapping: dict[str, str] = {}
    for item in items or ():
        src, sep, dst = item.partition("=")
        if not sep or not src.strip() or not dst.strip():
            raise TermforgeError(f"--base-image-map {item!r}: expected SOURCE_IMAGE=LOCAL_IMAGE")
        mapping[src.strip()] = dst.strip()
    return mapping


def rewrite_from_lines(dockerfile: str, image_map: dict[str, str]) -> tuple[str, list[str]]:
    """Apply the image map to FROM lines; return (new text, base images it needs).

    Names of earlier build stages (`FROM x AS builder` … `FROM builder`) are not images.
    """
    stages: set[str] = set()
    bases: list[str] = []

    def sub(m: re.Match) -> str:
        image = m.group(3)
        rest = m.group(4)
        alias = re.search(r"\bAS\s+(\S+)", rest, re.IGNORECASE)
        if image in stages:
            new = image
        else:
            new = image_map.get(image, image)
            if new.lower() != "scratch":
                bases.append(new)
        if alias:
            stages.add(alias.group(1))
        return f"{m.group(1)}{m.group(2)}{new}{rest}"

    return _FROM_RE.sub(sub, dockerfile), bases


def _context_tar(env_dir: Path, dockerfile_text: str) -> bytes:
    """A tar of environment/ (symlinks stored as links, never followed) with the given Dockerfile."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for path in sorted(env_dir.rglob("*")):
            rel = path.relative_to(env_dir).as_posix()
            if rel == "Dockerfile":
                continue
            info = tar.gettarinfo(str(path), arcname=rel)
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            info.mtime = 0
            if info.isreg():
                with open(path, "rb") as f:
                    tar.addfile(info, f)
            else:
                tar.addfile(info)
        data = dockerfile_text.encode()
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(data)
        info.mode = 0o644
        tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def image_exists(ref: str) -> bool:
    try:
        client().images.get(ref)
        return True
    except docker.errors.ImageNotFound:
        return False


def ensure_task_image(task: Task, *, image_map: dict[str, str] | None = None,
                      allow_build_network: bool = False, force: bool = False) -> BuiltImage:
    """Build (or reuse) the image of a task; cached by a hash of its build context."""
    started = time.time()
    image_map = image_map or {}
    if not (task.environment_dir / "Dockerfile").is_file():
        ref = image_map.get(task.config.docker_image, task.config.docker_image)
        if not image_exists(ref):
            raise _missing(ref, task, mapped=ref != task.config.docker_image)
        return BuiltImage(ref, client().images.get(ref).id, True, time.time() - started)

    dockerfile = (task.environment_dir / "Dockerfile").read_text(encoding="utf-8", errors="replace")
    dockerfile, bases = rewrite_from_lines(dockerfile, image_map)
    base_ids = []
    for base in bases:
        try:
            base_ids.append(client().images.get(base).id)
        except docker.errors.ImageNotFound:
            raise _missing(base, task, mapped=base in image_map.values()) from None

    key = hashlib.sha256(
        (tree_digest(task.environment_dir) + dockerfile + "".join(base_ids)).encode()
    ).hexdigest()[:16]
    tag = f"{TASK_IMAGE_REPO}-{slugify(task.name, 60, lower=True)}:{key}"
    with _lock_for(tag):
        if not force and image_exists(tag):
            return BuiltImage(tag, client().images.get(tag).id, True, time.time() - started)
        context = _context_tar(task.environment_dir, dockerfile)
        try:
            image, _logs = client().images.build(
                fileobj=io.BytesIO(context), custom_context=True, tag=tag, rm=True, forcerm=True,
                pull=False, network_mode=None if allow_build_network else "none",
                labels={CACHE_LABEL: key, "org.termforge.task": task.name},
                timeout=int(task.config.build_timeout_sec) + 30,
                container_limits=_build_limits(task),
            )
        except docker.errors.BuildError as exc:
            lines = [str(c.get("stream", c.get("error", ""))).strip() for c in exc.build_log]
            tail = " | ".join([ln for ln in lines if ln][-3:])
            raise TermforgeError(f"{task.environment_dir / 'Dockerfile'}: image build failed: {tail}"
                                 ) from None
        except docker.errors.APIError as exc:
            raise TermforgeError(f"{task.environment_dir / 'Dockerfile'}: image build failed: "
                                 f"{exc.explanation or exc}") from None
    return BuiltImage(tag, image.id, False, time.time() - started)


def _build_limits(task: Task) -> dict[str, int]:
    """Memory (no swap) and CPU share for the RUN steps of a build.

    The legacy builder's API has no pids or disk limits: a hostile Dockerfile can still fork or
    fill the disk while building; build only Dockerfiles you trust (generated ones are ours).
    """
    mem = max(task.config.memory_mb, 2048) * 1024 * 1024
    return {"memory": mem, "memswap": mem, "cpushares": 512}


def _lock_for(tag: str) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(tag, threading.Lock())


def _missing(image: str, task: Task, *, mapped: bool) -> ImageMissingError:
    from termforge.executor.base_image import BASE_IMAGE

    if image == BASE_IMAGE:
        return ImageMissingError(
            f"{task.path}: base image {BASE_IMAGE} is not built; run `termforge base-image`")
    if mapped:
        return ImageMissingError(f"{task.path}: mapped image {image!r} does not exist locally")
    return ImageMissingError(
        f"{task.path}: image {image!r} is not available locally and no registry can be reached; "
        f"map it to a local image with --base-image-map '{image}=termforge/base:bookworm'")
