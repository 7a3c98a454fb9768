"""Storage caps and safe copies between the sandbox's host-side files and the trial directory.

- /logs lives on a size-limited ext4 image, loop-mounted on the host (root only; otherwise a plain
  directory whose size the watchdog counts). Writes past the size fail with ENOSPC in the container.
- The container's writable layer (overlay2 has no quota here) is measured by `tree_bytes` and the
  sandbox's watchdog kills the container past its cap.
- Copying out never follows a symlink the container placed: links are recorded, not resolved.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import tempfile
from pathlib import Path

LOG_SUBDIRS = ("agent", "verifier", "artifacts")
# Every entry takes a host inode even when it holds no data block (empty files, fast symlinks,
# FIFOs, overlay whiteouts): each counts as at least one block, so a flood of empty files meets
# the storage cap long before the host file system runs out of inodes.
MIN_ENTRY_BYTES = 4096


def tree_bytes(root: str | os.PathLike, *, limit: int | None = None) -> int:
    """Disk bytes (allocated blocks, at least MIN_ENTRY_BYTES an entry) under `root`, without
    following symlinks.

    Stops early once `limit` is exceeded (the caller only needs to know that).
    """
    total = 0
    stack = [os.fspath(root)]
    while stack:
        d = stack.pop()
        try:
            it = os.scandir(d)
        except OSError:
            continue
        with it:
            for entry in it:
                try:
                    st = entry.stat(follow_symlinks=False)
                except OSError:
                    continue
                total += max(st.st_blocks * 512, MIN_ENTRY_BYTES)
                if stat.S_ISDIR(st.st_mode):
                    stack.append(entry.path)
                if limit is not None and total > limit:
                    return total
    return total


class LogsMount:
    """A host directory for /logs/{agent,verifier,artifacts}, size-capped when possible."""

    def __init__(self, size_mb: int):
        self.size_mb = size_mb
        self.base = Path(tempfile.mkdtemp(prefix="termforge-logs-"))
        self.dir = self.base / "mnt"
        self.dir.mkdir()
        self.mounted = False
        self._image = self.base / "logs.img"
        if os.geteuid() == 0 and shutil.which("mkfs.ext4"):
            self._try_mount()
        for sub in LOG_SUBDIRS:
            p = self.dir / sub
            p.mkdir(exist_ok=True)
            p.chmod(0o777)

    def _try_mount(self) -> None:
        try:
            with open(self._image, "wb") as f:
                f.truncate(self.size_mb * 1024 * 1024)
            subprocess.run(["mkfs.ext4", "-q", "-F", "-m", "0", "-E", "root_owner=0:0",
                            str(self._image)], check=True, capture_output=True, timeout=30)
            subprocess.run(["mount", "-o", "loop,nosuid,nodev,noexec", str(self._image), str(self.dir)],
                           check=True, capture_output=True, timeout=30)
            self.mounted = True
            lost = self.dir / "lost+found"
            if lost.is_dir():
                lost.rmdir()
        except (OSError, subprocess.SubprocessError):
            self._image.unlink(missing_ok=True)
            self.mounted = False

    def binds(self) -> dict[str, dict[str, str]]:
        return {str(self.dir / sub): {"bind": f"/logs/{sub}", "mode": "rw"} for sub in LOG_SUBDIRS}

    def used_bytes(self) -> int:
        """Bytes that count against the storage cap (0 when the mount caps itself)."""
        return 0 if self.mounted else tree_bytes(self.dir)

    def close(self) -> None:
        if self.mounted:
            r = subprocess.run(["umount", str(self.dir)], capture_output=True, timeout=60)
            if r.returncode != 0:
                subprocess.run(["umount", "-l", str(self.dir)], capture_output=True, timeout=60)
            self.mounted = False
        shutil.rmtree(self.base, ignore_errors=True)


MAX_COPY_DEPTH = 64  # directories deeper than this under /logs are skipped, not copied
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW


def safe_copy_tree(src: Path, dst: Path, *, max_bytes: int = 64 << 20) -> list[str]:
    """Copy regular files and directories from src to dst; never follow or recreate symlinks.

    The sandbox may still run while this copies, so every entry is opened relative to its
    parent directory's descriptor with O_NOFOLLOW: a directory swapped for a symlink meanwhile is
    refused, not followed to the host. The walk keeps no recursion and stops MAX_COPY_DEPTH
    levels down. Returns the relative paths that were skipped (links, devices, fifos, sockets,
    over-budget files, too-deep directories, entries that changed under the copy).
    """
    skipped: list[str] = []
    budget = max_bytes
    dst.mkdir(parents=True, exist_ok=True)
    try:
        root_fd = os.open(src, _DIR_FLAGS)
    except OSError:
        return skipped
    try:
        stack: list[tuple[str, ...]] = [()]
        while stack:
            parts = stack.pop()
            try:
                dir_fd = _open_dir(root_fd, parts)
            except OSError:
                skipped.append("/".join(parts))
                continue
            try:
                names = sorted(os.listdir(dir_fd))
                for name in names:
                    rel = "/".join((*parts, name))
                    try:
                        st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
                    except OSError:
                        skipped.append(rel)
                        continue
                    if stat.S_ISDIR(st.st_mode) and len(parts) + 1 < MAX_COPY_DEPTH:
                        try:
                            (dst / rel).mkdir(parents=True, exist_ok=True)
                        except OSError:
                            skipped.append(rel)
                            continue
                        stack.append((*parts, name))
                        continue
                    copied = _copy_regular_file(name, dst / rel, budget, dir_fd=dir_fd) \
                        if stat.S_ISREG(st.st_mode) else -1
                    if copied < 0:
                        skipped.append(rel)
                    else:
                        budget -= copied
            except OSError:
                skipped.append("/".join(parts))
            finally:
                os.close(dir_fd)
    finally:
        os.close(root_fd)
    return skipped


def _open_dir(root_fd: int, parts: tuple[str, ...]) -> int:
    """A descriptor of root/parts..., each component opened with O_NOFOLLOW."""
    fd = os.dup(root_fd)
    try:
        for part in parts:
            child = os.open(part, _DIR_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = child
    except OSError:
        os.close(fd)
        raise
    return fd


def _copy_regular_file(src: Path | str, dst: Path, budget: int, *, dir_fd: int | None = None) -> int:
    """Copy one file opened with O_NOFOLLOW (relative to dir_fd when given), at most the size it
    had when opened; -1 when it is not a regular file or over budget."""
    try:
        fd = os.open(src, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=dir_fd)
    except OSError:
        return -1
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(f.fileno())
        if not stat.S_ISREG(st.st_mode) or st.st_size > budget:
            return -1
        dst.parent.mkdir(parents=True, exist_ok=True)
        left = st.st_size  # a file the sandbox keeps appending to must not keep the copy going
        with open(dst, "wb") as out:
            while left > 0:
                chunk = f.read(min(left, 1 << 20))
                if not chunk:
                    break
                out.write(chunk)
                left -= len(chunk)
        return st.st_size - left


def read_small_file(path: Path, max_bytes: int = 1 << 16) -> bytes | None:
    """Read a regular file without following a final symlink; None when absent or not regular."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            return None
        return f.read(max_bytes)
