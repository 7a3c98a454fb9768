"""The local base image `termforge/base:bookworm`, built with debootstrap (no registry is reachable).

The recipe (suite, mirror, package list, image settings) is hashed; the hash is stored as an image
label, so a rebuild happens only when the recipe changed or `force=True`.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import docker.errors

from termforge.errors import TermforgeError
from termforge.executor.docker_env import client

BASE_IMAGE = "termforge/base:bookworm"
RECIPE_LABEL = "org.termforge.recipe"

BASE_PACKAGES = (
    "python3", "python3-pytest", "python3-venv", "python3-pip", "tmux", "git", "procps",
    "psmisc", "sqlite3", "jq", "curl", "ca-certificates", "make", "gcc", "libc6-dev",
    "xz-utils", "zip", "unzip", "bzip2", "iproute2", "netcat-openbsd", "file", "less",
    "bc", "gawk", "patch", "openssl", "lsof", "vim-tiny", "time",
)


@dataclass(frozen=True)
class BaseImageRecipe:
    suite: str = "bookworm"
    mirror: str = "http://deb.debian.org/debian"
    packages: tuple[str, ...] = BASE_PACKAGES
    changes: tuple[str, ...] = field(
        default=(
            "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "ENV LANG=C.UTF-8",
            "ENV DEBIAN_FRONTEND=noninteractive",
            "WORKDIR /app",
            'CMD ["bash"]',
        )
    )

    def digest(self) -> str:
        blob = json.dumps(
            {"suite": self.suite, "mirror": self.mirror, "packages": sorted(self.packages),
             "changes": list(self.changes), "v": 1},
            sort_keys=True,
        )
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


def image_recipe_hash(tag: str = BASE_IMAGE) -> str | None:
    """The recipe label of a local image, or None when the image is absent."""
    try:
        image = client().images.get(tag)
    except docker.errors.ImageNotFound:
        return None
    return (image.labels or {}).get(RECIPE_LABEL, "")


def ensure_base_image(recipe: BaseImageRecipe = BaseImageRecipe(), *, tag: str = BASE_IMAGE,
                      force: bool = False, log=print) -> tuple[str, bool]:
    """Build the base image unless an image with the same recipe hash exists.

    Returns (image id, built?).
    """
    want = recipe.digest()
    have = image_recipe_hash(tag)
    if have == want and not force:
        return client().images.get(tag).id, False
    if shutil.which("debootstrap") is None:
        raise TermforgeError(
            "debootstrap is not installed; install it with `apt-get install -y debootstrap` "
            "and run `termforge base-image` again"
        )
    started = time.time()
    with tempfile.TemporaryDirectory(prefix="termforge-rootfs-") as tmp:
        rootfs = Path(tmp) / "rootfs"
        cmd = [
            "debootstrap", "--variant=minbase", f"--include={','.join(recipe.packages)}",
            recipe.suite, str(rootfs), recipe.mirror,
        ]
        log(f"debootstrap {recipe.suite} with {len(recipe.packages)} packages …")
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if proc.returncode != 0:
            tail = " | ".join(proc.stdout.strip().splitlines()[-3:])
            raise TermforgeError(f"debootstrap failed (exit {proc.returncode}): {tail}")
        _trim_rootfs(rootfs)
        log("importing the root filesystem into Docker …")
        image_id = _import_rootfs(rootfs, tag, recipe, want)
    log(f"built {tag} ({want}) in {time.time() - started:.0f} s")
    return image_id, True


def _trim_rootfs(rootfs: Path) -> None:
    """Drop apt caches and docs: smaller image, faster import."""
    for sub in ("var/cache/apt/archives", "var/lib/apt/lists", "usr/share/doc", "usr/share/man",
                "usr/share/info"):
        d = rootfs / sub
        if d.is_dir():
            for child in d.iterdir():
                if child.is_dir() and not child.is_symlink():
                    shutil.rmtree(child, ignore_errors=True)
                elif child.name != "lock":
                    child.unlink(missing_ok=True)


def _import_rootfs(rootfs: Path, tag: str, recipe: BaseImageRecipe, digest: str) -> str:
    repo, _, version = tag.partition(":")
    changes = list(recipe.changes) + [f"LABEL {RECIPE_LABEL}={digest}"]
    tar = subprocess.Popen(["tar", "-C", str(rootfs), "--numeric-owner", "-c", "."],
                           stdout=subprocess.PIPE)
    try:
        out = client().api.import_image(src=tar.stdout, repository=repo, tag=version or "latest",
                                        changes=changes, stream_src=True)
    finally:
        tar.stdout.close()
        tar.wait()
    if tar.returncode != 0:
        raise TermforgeError(f"tar of the root filesystem failed (exit {tar.returncode})")
    try:
        return client().images.get(tag).id
    except docker.errors.ImageNotFound:
        raise TermforgeError(f"docker import did not produce {tag}: {out!r}"[:400]) from None
