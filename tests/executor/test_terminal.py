"""tmux terminal session: verbatim keystrokes, key names, incremental output, truncation."""

from __future__ import annotations

import pytest

from termforge.executor.base_image import BASE_IMAGE
from termforge.executor.limits import SandboxLimits
from termforge.executor.sandbox import Sandbox
from termforge.executor.terminal import Keystroke, is_key_name, truncate_middle


def test_truncate_middle_keeps_5000_each_side():
    text = "A" * 6000 + "B" * 6000
    out = truncate_middle(text, 10_000)
    assert out.startswith("A" * 5000) and out.endswith("B" * 5000)
    assert "2000 interior bytes omitted" in out
    assert truncate_middle("short", 10_000) == "short"


@pytest.mark.parametrize("keys,expected", [("C-c", True), ("C-d", True), ("Escape", True), ("M-x", True),
                                           ("Up", True), ("ls\n", False), ("C-c\n", False), ("q", False),
                                           ("echo C-c", False)])
def test_key_names(keys, expected):
    assert is_key_name(keys) is expected


@pytest.mark.docker
def test_session_incremental_output_and_interrupt(docker_ready):
    with Sandbox(BASE_IMAGE, SandboxLimits()) as sb:
        term = sb.terminal()
        first = term.read_new()
        assert first.startswith("Current Terminal Screen:") and "/app#" in first
        obs = term.execute([Keystroke("echo $((6*7)); cd /tmp\n", 0.5)])
        assert obs.startswith("New Terminal Output:")
        assert "42" in obs and "/tmp#" in obs and "/app#" not in obs  # the old prompt is not repeated
        obs = term.execute([Keystroke("pwd\n", 0.3)])
        assert "/tmp" in obs and "42" not in obs  # only what is new
        obs = term.execute([Keystroke("sleep 1000\n", 0.3), Keystroke("C-c", 0.3)])
        assert "^C" in obs
        assert "ok" in term.execute([Keystroke("echo ok\n", 0.3)])  # shell usable after C-c
        obs = term.execute([Keystroke("for i in $(seq 1 3000); do echo line-$i-xxxxxxxx; done\n", 1.5)])
        assert len(obs.encode()) <= 10_000 + 200
        assert "line-3000-" in obs and "omitted" in obs


@pytest.mark.docker
def test_state_persists_between_commands(docker_ready):
    with Sandbox(BASE_IMAGE, SandboxLimits()) as sb:
        term = sb.terminal()
        term.execute([Keystroke("export MARK=persisted; cd /usr\n", 0.3)])
        obs = term.execute([Keystroke("echo $MARK $(pwd)\n", 0.3)])
        assert "persisted /usr" in obs


@pytest.mark.docker
def test_keystrokes_that_look_like_tmux_syntax_are_typed_verbatim(docker_ready):
    with Sandbox(BASE_IMAGE, SandboxLimits()) as sb:
        term = sb.terminal()
        term.read_new()
        obs = term.execute([Keystroke("-n", 0.1), Keystroke(" ; echo semi;", 0.1), Keystroke("\n", 0.4)])
        assert "-n: command not found" in obs and "semi" in obs
        obs = term.execute([Keystroke("echo 'a;'\n", 0.3), Keystroke("echo x\\;\n", 0.3)])
        assert "\na;\n" in obs and "\nx;\n" in obs
