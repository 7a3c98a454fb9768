"""Helpers of the security suite: hostile task directories, trials timed from the host, and
host-side probes (cgroup counters of a running sandbox, host processes, links in a tree)."""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from termforge.executor.agents import OracleAgent
from termforge.executor.task import Task, TaskConfig, write_task
from termforge.executor.trial import TrialOptions, run_trial

BASE_IMAGE = "termforge/base:bookworm"
DOCKERFILE = f"FROM {BASE_IMAGE}\nWORKDIR /app\n"
# A verifier that only says "the verifier ran"; containment is asserted from the host side.
PASS_TEST = "echo 1 > /logs/verifier/reward.txt\n"
MB = 1 << 20

# Small limits so that every hostile case ends in seconds on a shared 2-core machine.
DEFAULT_CONFIG: dict[str, Any] = dict(memory_mb=256, storage_mb=64, cpus=0.5,
                                      agent_timeout_sec=15.0, verifier_timeout_sec=10.0)


def make_task(root: Path, name: str, solve: str, test: str = PASS_TEST, *,
              dockerfile: str = DOCKERFILE, extra_files: dict[str, str | bytes] | None = None,
              **config) -> Task:
    """A real task directory (task.toml 1.1) whose oracle solution is the hostile script."""
    cfg = {**DEFAULT_CONFIG, **config}
    files: dict[str, str | bytes] = {"environment/Dockerfile": dockerfile,
                                     "solution/solve.sh": "#!/bin/bash\n" + solve,
                                     "tests/test.sh": "#!/bin/bash\n" + test}
    files.update(extra_files or {})
    return write_task(root / "tasks" / name, instruction=f"Hostile task: {name}.\n",
                      config=TaskConfig(name=f"security-{name}", category="security",
                                        tags=("hostile",), **cfg),
                      files=files)


@dataclass
class Trial:
    result: dict[str, Any]
    dir: Path
    seconds: float

    @property
    def exception_type(self) -> str | None:
        info = self.result.get("exception_info") or {}
        return info.get("exception_type")

    @property
    def exception_message(self) -> str:
        return (self.result.get("exception_info") or {}).get("exception_message") or ""

    @property
    def limits_hit(self) -> list[str]:
        return self.result["termforge"]["limits_hit"]

    @property
    def reward(self) -> float | None:
        return ((self.result.get("verifier_result") or {}).get("rewards") or {}).get("reward")

    @property
    def skipped(self) -> list[str]:
        return self.result["termforge"].get("skipped_log_entries", [])

    def text(self, rel: str) -> str:
        p = self.dir / rel
        return p.read_text(errors="replace") if p.is_file() and not p.is_symlink() else ""


def run_hostile(task: Task, trial_dir: Path, *, budget: float, options: TrialOptions | None = None,
                on_sandbox=None) -> Trial:
    """run_trial with the oracle agent; asserts it ended within `budget` seconds and that the
    result.json on disk is the one returned."""
    t0 = time.monotonic()
    result = run_trial(task, OracleAgent(), trial_dir, options=options or TrialOptions(),
                       on_sandbox=on_sandbox)
    seconds = time.monotonic() - t0
    assert seconds < budget, f"the trial took {seconds:.1f} s, budget {budget} s"
    on_disk = json.loads((trial_dir / "result.json").read_text())
    assert on_disk["id"] == result["id"] and on_disk["finished_at"]
    return Trial(result, trial_dir, seconds)


def host_processes_with(token: str) -> list[int]:
    """Host pids whose command line contains `token` (the test process itself excluded)."""
    needle = token.encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                if needle in f.read():
                    found.append(int(entry))
        except OSError:
            continue
    return found


def links_under(root: Path) -> list[str]:
    """Symlinks, FIFOs, sockets and devices under root (a trial dir must hold none)."""
    bad = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            st = p.lstat()
            if p.is_symlink() or not (p.is_dir() or p.is_file()) or (
                    p.is_file() and not os.path.isfile(p)):
                bad.append(str(p.relative_to(root)))
            elif p.is_file() and st.st_nlink > 1:
                bad.append(f"{p.relative_to(root)} (hard link)")
    return bad


def tree_contains(root: Path, token: bytes) -> list[str]:
    """Regular files under root whose content holds token (links are not followed)."""
    hits = []
    for dirpath, _dirs, filenames in os.walk(root, followlinks=False):
        for name in filenames:
            p = Path(dirpath) / name
            if p.is_symlink() or not p.is_file():
                continue
            if token in p.read_bytes():
                hits.append(str(p.relative_to(root)))
    return hits


@dataclass
class CgroupSampler:
    """An on_sandbox callback: samples the sandbox's cgroup counters and its log file from the
    host every 50 ms until the container is gone."""

    peaks: dict[str, int] = field(default_factory=dict)
    container_id: str | None = None
    upper_dir: str | None = None
    log_path: str | None = None
    volumes: list[str] = field(default_factory=list)
    _thread: threading.Thread | None = None

    # cgroup v1 (cgroupfs driver) first, then cgroup v2 (cgroupfs and systemd drivers)
    COUNTERS = {
        "pids": ("/sys/fs/cgroup/pids/docker/{cid}/pids.current",
                 "/sys/fs/cgroup/docker/{cid}/pids.current",
                 "/sys/fs/cgroup/system.slice/docker-{cid}.scope/pids.current"),
        "memory": ("/sys/fs/cgroup/memory/docker/{cid}/memory.max_usage_in_bytes",
                   "/sys/fs/cgroup/docker/{cid}/memory.current",
                   "/sys/fs/cgroup/system.slice/docker-{cid}.scope/memory.current"),
    }

    def __call__(self, sandbox) -> None:
        c = sandbox.container
        c.reload()
        self.container_id = c.id
        self.upper_dir = c.attrs["GraphDriver"]["Data"].get("UpperDir")
        self.log_path = c.attrs.get("LogPath") or None
        self.volumes = [m["Name"] for m in c.attrs.get("Mounts", []) if m.get("Type") == "volume"]
        paths = {}
        for key, candidates in self.COUNTERS.items():
            for cand in candidates:
                if os.path.exists(cand.format(cid=c.id)):
                    paths[key] = cand.format(cid=c.id)
                    break
        assert "pids" in paths and "memory" in paths, "cannot find the sandbox's cgroup on the host"
        self._thread = threading.Thread(target=self._run, args=(paths,), daemon=True)
        self._thread.start()

    def _run(self, paths: dict[str, str]) -> None:
        while True:
            alive = False
            for key, path in paths.items():
                try:
                    with open(path) as f:
                        value = int(f.read().strip())
                except (OSError, ValueError):
                    continue
                alive = True
                self.peaks[key] = max(self.peaks.get(key, 0), value)
            if self.log_path:
                try:
                    self.peaks["log_bytes"] = max(self.peaks.get("log_bytes", 0),
                                                  os.path.getsize(self.log_path))
                except OSError:
                    pass
            if not alive:
                return
            time.sleep(0.05)

    def join(self, timeout: float = 5) -> None:
        if self._thread is not None:
            self._thread.join(timeout)
