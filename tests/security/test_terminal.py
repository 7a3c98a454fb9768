"""Hostile input and output on the agent's tmux terminal (DESIGN §3).

A model drives the terminal with arbitrary keystrokes and the sandbox prints arbitrary bytes:
very long command lines, floods, binary garbage with escape sequences, commands that never end.
The reader must not crash, observations stay within 10,000 bytes plus the marker, and the
terminal stays usable.
"""

from __future__ import annotations

import random
import time

import pytest

from termforge.executor.limits import SandboxLimits
from termforge.executor.sandbox import Sandbox
from termforge.executor.terminal import OBSERVATION_BYTES
from tests.security.hostile import BASE_IMAGE

pytestmark = pytest.mark.docker

LIMITS = SandboxLimits(memory_mb=256, storage_mb=64, cpus=1.0, pids=128)
MARKER_ROOM = 120  # the "[... output limited ...]" line and the "New Terminal Output:" header


def wait_for(term, text: str, timeout: float = 20) -> str:
    deadline = time.monotonic() + timeout
    while True:
        screen = term.capture()
        if text in screen:
            return screen
        assert time.monotonic() < deadline, f"{text!r} never appeared; screen ends {screen[-500:]!r}"
        time.sleep(0.2)


@pytest.fixture
def term():
    with Sandbox(BASE_IMAGE, LIMITS, name="security-terminal") as sb:
        t = sb.terminal()
        wait_for(t, "#")  # the prompt
        t.read_new()  # the baseline: later observations are "New Terminal Output"
        yield t


@pytest.mark.timeout(60)
def test_a_200_kb_command_line_is_typed_and_runs(term, timed):
    with timed(30):
        term.send_keys("echo " + "x" * 200_000 + " | wc -c\n", duration=0.5)
        wait_for(term, "\n200001")
    obs = term.read_new()
    assert len(obs.encode()) <= OBSERVATION_BYTES + MARKER_ROOM
    assert "200001" in obs
    term.send_keys("echo short-$((6*7))\n", duration=0.3)
    wait_for(term, "short-42")


@pytest.mark.timeout(60)
def test_an_output_flood_gives_a_capped_observation(term, timed):
    with timed(30):
        term.send_keys("yes 'flood-line-0123456789' | head -n 30000; echo FLOOD-$((1+1))-DONE\n",
                       duration=0.5)
        wait_for(term, "FLOOD-2-DONE")
        obs = term.read_new()
    assert obs.startswith("New Terminal Output:")
    assert len(obs.encode()) <= OBSERVATION_BYTES + MARKER_ROOM
    assert "output limited to 10000 bytes" in obs
    assert "FLOOD-2-DONE" in obs  # the tail is kept
    term.send_keys("echo after-$((2*3))\n", duration=0.3)
    wait_for(term, "after-6")


def garbage() -> bytes:
    """Deterministic binary garbage plus the nastiest sequences a terminal reader meets."""
    rng = random.Random(20240611)
    nasty = (b"\x00\x00\xff\xfe\xc3\x28\xed\xa0\x80\xf4\x90\x80\x80"  # NUL, invalid UTF-8
             b"\x1bc\x1b[2J\x1b[H"                                      # reset, clear, home
             b"\x1b]0;stolen-title\x07\x1b]52;c;c2VjcmV0\x07"            # title, OSC 52 clipboard
             b"\x1b[?1049h\x1b[?2004h\x1b[6n\x1b[21t"                    # alt screen, paste, queries
             b"\x1bP+q544e\x1b\\\x1bPunfinished-dcs"                     # DCS, one left open
             b"\x1b(0lqqk\x1b(B\x0e\x0f\x07\x08\x7f")                    # line drawing, SO/SI, BEL
    body = b"".join(rng.randbytes(4096) + nasty for _ in range(16))
    # cancel whatever is still open, leave the alternate screen, reset
    return body + b"\x18\x1b\\\x1b[?1049l\x1b[?2004l\x1bc"


@pytest.mark.timeout(60)
def test_binary_garbage_and_escape_sequences_do_not_break_the_reader(term, tmp_path):
    src = tmp_path / "garbage"
    src.mkdir()
    (src / "garbage.bin").write_bytes(garbage())
    term.sandbox.put_dir(src, "/garbage")
    term.send_keys("cat /garbage/garbage.bin; echo; echo GARBAGE-$((3+4))-DONE\n", duration=1.0)
    wait_for(term, "GARBAGE-7-DONE")  # all of it went through the terminal
    obs = term.read_new()
    assert isinstance(obs, str) and len(obs.encode()) <= OBSERVATION_BYTES + MARKER_ROOM
    # garbage typed as keystrokes: NUL, a lone surrogate, escape sequences, control characters
    term.send_keys("\x00echo \udcff\x1b[31m\x1b]0;t\x07 typed\x7f\x01\x05", duration=0.3)
    term.send_keys("C-c", duration=0.3)
    term.send_keys("stty sane; clear; echo ALIVE-$((6*7))\n", duration=0.5)
    wait_for(term, "ALIVE-42")
    assert isinstance(term.read_new(), str)


@pytest.mark.timeout(60)
def test_ctrl_c_ends_a_command_that_never_returns(term):
    term.send_keys("trap 'echo trapped' TERM; sleep 1000 | cat\n", duration=0.5)
    term.send_keys("C-c", duration=0.5)
    term.send_keys("echo CTRL-C-$((40+2))\n", duration=0.3)
    wait_for(term, "CTRL-C-42")
    r = term.sandbox.exec("pgrep -f 'sleep 1000'")
    assert r.exit_code == 1, r.text  # nothing left of the interrupted pipeline
