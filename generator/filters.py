"""Static checks of a task's solution before it is verified: privileges, host access, network."""

from __future__ import annotations

import re

# (reason, pattern) — matched against the reference solution (and, for LLM tasks, the Dockerfile).
PRIVILEGED_PATTERNS: tuple[tuple[str, re.Pattern], ...] = tuple(
    (reason, re.compile(p, re.MULTILINE)) for reason, p in (
        ("sudo", r"(^|[;&|(]|\bxargs)\s*sudo\s"),
        ("su", r"(^|[;&|(])\s*su(\s|$)"),
        ("mount", r"(^|[;&|(\s])(u?mount)\s"),
        ("mkfs", r"(^|[;&|(\s])mkfs(\.\w+)?\s"),
        ("raw device", r"/dev/(sd[a-z]|nvme\d|vd[a-z]|xvd[a-z]|mem|kmem|port)\b"),
        ("dd to a device", r"\bdd\b[^\n]*\bof=/dev/(?!null)"),
        ("kernel modules", r"(^|[;&|(\s])(insmod|rmmod|modprobe)\s"),
        ("sysctl/sysrq", r"(/proc/sys/|/proc/sysrq-trigger|(^|\s)sysctl\s+-w)"),
        ("firewall", r"(^|[;&|(\s])(iptables|nft)\s"),
        ("docker", r"(^|[;&|(\s])docker\s|/var/run/docker\.sock"),
        ("chroot/namespaces", r"(^|[;&|(\s])(chroot|unshare|nsenter)\s"),
        ("network egress", r"\b(curl|wget)\b[^\n]*https?://(?!(localhost|127\.0\.0\.1|\[::1\])[:/])"),
        ("network egress", r"\b(ssh|scp|rsync)\s+[^\n]*@"),
        ("package download", r"\b(apt-get|apt)\s+(install|update)|\bpip3?\s+install\b(?![^\n]*(--no-index|\s\.|\s/|\.whl|\.tar\.gz))"),
        ("destructive rm", r"\brm\s+-[a-zA-Z]*r[a-zA-Z]*f?[a-zA-Z]*\s+(/|/\*|~|\$HOME)(\s|$)"),
        ("chmod 777 /", r"\bchmod\s+-R\s+777\s+/(\s|$)"),
        ("fork bomb", r":\(\)\s*\{\s*:\|:&\s*\};:"),
    )
)


def privileged_reasons(script: str) -> list[str]:
    """Why a script needs privileges or touches the host; empty when it does not."""
    found: list[str] = []
    for reason, pattern in PRIVILEGED_PATTERNS:
        if pattern.search(script) and reason not in found:
            found.append(reason)
    return found
