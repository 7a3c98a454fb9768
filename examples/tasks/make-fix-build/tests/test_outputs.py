import hashlib
import subprocess
from pathlib import Path

CALC = Path("/app/calc")
MAIN_SHA = "3c42e4519c18568df183739d8275d1155494b9279cbc347768972b088caf1b81"


def test_make_builds():
    subprocess.run(["make", "clean"], cwd=CALC, capture_output=True)
    r = subprocess.run(["make"], cwd=CALC, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert (CALC / "calc").is_file()


def test_sums():
    for args, want in ((["2", "3", "4"], "9"), (["-5", "5"], "0"), ([], "0"), (["1000000"], "1000000")):
        out = subprocess.run(["./calc", *args], cwd=CALC, capture_output=True, text=True, check=True)
        assert out.stdout.strip() == want


def test_main_unchanged():
    assert hashlib.sha256((CALC / "main.c").read_bytes()).hexdigest() == MAIN_SHA
