import hashlib
from pathlib import Path

ROOT = Path("/app/restored")


def test_extracted():
    assert (ROOT / "etc/app/main.conf").read_text() == "mode=fast\n"
    assert (ROOT / "my configs/extra file.conf").is_file()


def test_checksums():
    confs = sorted(p.relative_to(ROOT).as_posix() for p in ROOT.rglob("*.conf"))
    want = [f"{hashlib.sha256((ROOT / c).read_bytes()).hexdigest()}  {c}" for c in confs]
    got = (ROOT / "SHA256SUMS").read_text().splitlines()
    assert got == want
