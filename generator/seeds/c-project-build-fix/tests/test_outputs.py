import math
import subprocess
from pathlib import Path

import pytest

ROOT = Path("/app/ringbuf")
CASES = [
    (3, ["1", "2", "3", "4", "5", "6"]),
    (4, ["10", "x", "2.5", "", "-7", "8", "8", "0.25", "13"]),
    (1, ["5", "6"]),
    (6, ["3", "1", "4", "1", "5", "9", "2", "6", "5", "3", "5"]),
]


def make(*targets):
    return subprocess.run(["make", *targets], cwd=ROOT, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def built():
    clean = make("clean")
    build = make()
    return clean, build


def expected(n, lines):
    window, out = [], []
    for line in lines:
        try:
            v = float(line.split()[0])
        except (ValueError, IndexError):
            continue
        window = (window + [v])[-n:]
        s = 0.0
        for x in window:
            s += x
        m = s / len(window)
        acc = 0.0
        for x in window:
            acc += (x - m) * (x - m)
        sd = math.sqrt(acc / len(window))
        out.append("window=[%s] mean=%.3f sd=%.3f" % (",".join("%g" % x for x in window), m, sd))
    return out


def test_clean_build(built):
    clean, build = built
    assert clean.returncode == 0, clean.stderr
    assert build.returncode == 0, build.stderr
    assert (ROOT / "bin" / "ringstat").is_file()


def test_unit_tests_pass_and_are_untouched(built):
    assert (ROOT / "tests" / "test_ringbuf.c").read_text() == \
        Path("/tests/pristine_test_ringbuf.c").read_text()
    r = make("test")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "all tests passed" in r.stdout


@pytest.mark.parametrize("n,lines", CASES)
def test_cli_output(built, n, lines):
    r = subprocess.run([str(ROOT / "bin" / "ringstat"), "-n", str(n)], input="\n".join(lines) + "\n",
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0
    assert r.stdout.splitlines() == expected(n, lines)


def test_clean_removes_products(built):
    assert make("clean").returncode == 0
    assert not (ROOT / "bin").exists() and not (ROOT / "build").exists()
    assert make().returncode == 0
