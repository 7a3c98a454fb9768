"""A persistent interactive shell in the sandbox: tmux, as Terminus-2 drives it (DESIGN §3).

    term = sandbox.terminal()
    term.send_keys("ls -la\n", duration=1.0)
    print(term.read_new())      # "New Terminal Output:\n..." (first and last 5,000 bytes kept)
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

from termforge.errors import TermforgeError

MAX_DURATION_SEC = 60.0
DEFAULT_DURATION_SEC = 1.0
OBSERVATION_BYTES = 10_000
_CHUNK_CHARS = 4096
_KEY_NAME = re.compile(
    r"^(?:[CMS]-)*(?:[A-Za-z0-9]|Enter|Escape|Tab|BTab|BSpace|Space|Up|Down|Left|Right|Home|End|"
    r"PageUp|PageDown|PgUp|PgDn|PPage|NPage|IC|DC|Insert|Delete|F[1-9]|F1[0-2])$"
)


def truncate_middle(text: str, max_bytes: int = OBSERVATION_BYTES) -> str:
    """Keep the first and last max_bytes/2 bytes of text with a marker in between."""
    data = text.encode("utf-8", errors="replace")
    if len(data) <= max_bytes:
        return text
    half = max_bytes // 2
    omitted = len(data) - 2 * half
    head = data[:half].decode("utf-8", errors="ignore")
    tail = data[-half:].decode("utf-8", errors="ignore")
    return f"{head}\n[... output limited to {max_bytes} bytes; {omitted} interior bytes omitted ...]\n{tail}"


def is_key_name(keystrokes: str) -> bool:
    """True for a single tmux key name such as C-c, C-d, Escape, Up, M-x."""
    return len(keystrokes) > 1 and bool(_KEY_NAME.fullmatch(keystrokes))


def _clean(keystrokes: str) -> str:
    """What a terminal can receive through tmux's argv: no NULs, no lone surrogates."""
    return keystrokes.replace("\x00", "").encode("utf-8", errors="replace").decode("utf-8")


def _tmux_literal(chunk: str) -> str:
    """tmux reads an argv word ending in `;` as a command separator; `\\;` keeps the `;`."""
    return chunk[:-1] + "\\;" if chunk.endswith(";") else chunk


@dataclass
class Keystroke:
    keystrokes: str
    duration: float = DEFAULT_DURATION_SEC


class TmuxSession:
    def __init__(self, sandbox, *, name: str = "agent", width: int = 160, height: int = 40,
                 history_limit: int = 50_000, observation_bytes: int = OBSERVATION_BYTES,
                 user: str | None = None):
        self.sandbox = sandbox
        self.name = name
        self.width = width
        self.height = height
        self.history_limit = history_limit
        self.observation_bytes = observation_bytes
        self.user = user
        self._previous: str | None = None

    def _tmux(self, *args: str, timeout: float = 30.0, output_cap: int | None = None):
        return self.sandbox.exec(["tmux", *args], timeout=timeout, user=self.user,
                                 output_cap=output_cap)

    def start(self) -> "TmuxSession":
        """A fresh session (one left by an earlier episode in this sandbox is replaced)."""
        self._tmux("kill-session", "-t", self.name)
        r = self._tmux("start-server", ";", "set-option", "-g", "history-limit",
                       str(self.history_limit), ";", "new-session", "-x", str(self.width), "-y",
                       str(self.height), "-d", "-s", self.name, "bash --login")
        if r.exit_code != 0:
            raise TermforgeError(f"cannot start tmux in the sandbox (exit {r.exit_code}): "
                                 f"{r.text.strip()[:200]}; the image needs tmux and bash")
        self._previous = None
        return self

    def send_keys(self, keystrokes: str, duration: float = DEFAULT_DURATION_SEC) -> None:
        """Type keystrokes verbatim (a lone key name like C-c is sent as that key), then wait."""
        keystrokes = _clean(keystrokes)
        if is_key_name(keystrokes):
            self._tmux("send-keys", "-t", self.name, keystrokes)
        else:
            for i in range(0, len(keystrokes), _CHUNK_CHARS):
                self._tmux("send-keys", "-t", self.name, "-l", "--",
                           _tmux_literal(keystrokes[i:i + _CHUNK_CHARS]))
        wait = min(max(float(duration), 0.0), MAX_DURATION_SEC)
        if wait:
            time.sleep(wait)

    def capture(self, *, history: bool = True) -> str:
        """The pane's text: full scrollback (history=True) or the visible screen, right-trimmed."""
        args = ["capture-pane", "-p", "-t", self.name]
        if history:
            args[2:2] = ["-S", "-"]
        r = self._tmux(*args, output_cap=64 << 20)
        if r.exit_code != 0:
            raise TermforgeError(f"tmux capture-pane failed in the sandbox (exit {r.exit_code}): "
                                 f"{r.text.strip()[:200]}")
        return r.text.rstrip("\n ")

    def read_new(self) -> str:
        """New output since the last read; the visible screen when the history was rewritten."""
        current = self.capture()
        previous, self._previous = self._previous, current
        if previous is not None and current.startswith(previous):
            body = current[len(previous):].lstrip("\n")
            return "New Terminal Output:\n" + truncate_middle(body, self.observation_bytes)
        screen = self.capture(history=False)
        return "Current Terminal Screen:\n" + truncate_middle(screen, self.observation_bytes)

    def execute(self, commands: list[Keystroke]) -> str:
        """Send a batch of keystrokes (each followed by its duration) and return the observation."""
        for cmd in commands:
            self.send_keys(cmd.keystrokes, cmd.duration)
        return self.read_new()
