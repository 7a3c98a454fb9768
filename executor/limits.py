"""Resource limits of one sandbox, hardened by default.

Defaults come from task.toml; a caller may lower them (never raise past the global ceilings
without saying so). Network is off unless the task allows internet *and* the caller opts in.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from termforge.executor.task import TaskConfig

# Capabilities a normal task needs (package installs, chown, binding low ports on loopback);
# everything else — SYS_ADMIN (mount), NET_RAW, SYS_PTRACE, MKNOD, SYS_MODULE … — is dropped.
DEFAULT_CAPS = ("CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID",
                "NET_BIND_SERVICE")


@dataclass(frozen=True)
class SandboxLimits:
    cpus: float = 1.0
    memory_mb: int = 2048
    storage_mb: int = 10240          # writable layer of the container, watched and enforced
    logs_mb: int = 64                # the size-limited /logs mount
    pids: int = 512
    nofile: int = 4096
    network: bool = False
    caps: tuple[str, ...] = DEFAULT_CAPS
    exec_output_bytes: int = 1 << 20  # output kept from one exec (head and tail)
    shm_mb: int = 64
    watch_interval_sec: float = 0.25

    @property
    def fsize_bytes(self) -> int:
        """No single file may be larger than the whole storage budget."""
        return self.storage_mb * 1024 * 1024


def limits_for_task(cfg: TaskConfig, *, allow_internet: bool = False, max_cpus: float | None = None,
                    max_memory_mb: int | None = None, max_storage_mb: int | None = None,
                    **overrides) -> SandboxLimits:
    """Limits from a task's config, clipped by the caller's ceilings."""
    limits = SandboxLimits(
        cpus=cfg.cpus,
        memory_mb=cfg.memory_mb,
        storage_mb=cfg.storage_mb,
        network=bool(cfg.allow_internet and allow_internet),
    )
    if max_cpus is not None:
        limits = replace(limits, cpus=min(limits.cpus, max_cpus))
    if max_memory_mb is not None:
        limits = replace(limits, memory_mb=min(limits.memory_mb, max_memory_mb))
    if max_storage_mb is not None:
        limits = replace(limits, storage_mb=min(limits.storage_mb, max_storage_mb))
    return replace(limits, **overrides) if overrides else limits
