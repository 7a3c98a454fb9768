import io
import json
import subprocess
import tarfile
from pathlib import Path

EXP = json.loads(Path("/tests/expected.json").read_text())
NEW = "/srv/vault/crm-export-clean.tar.gz.enc"


def decrypted():
    r = subprocess.run(["openssl", "enc", "-d", "-aes-256-cbc", "-pbkdf2", "-iter", "200000",
                        "-pass", "file:/root/.vault/new.pass", "-in", NEW], capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return tarfile.open(fileobj=io.BytesIO(r.stdout), mode="r:gz")


def test_clean_archive_contents():
    with decrypted() as tar:
        names = tar.getnames()
        csv = tar.extractfile("export/customers.csv").read().decode()
        docs = sorted(n for n in names if n.startswith("export/docs/") and tar.getmember(n).isfile())
    assert csv == EXP["csv"]
    assert docs == ["export/" + d for d in EXP["docs"]]
    for d in EXP["deleted"]:
        assert not any(n.startswith(f"export/docs/{d}") for n in names)


def test_checksum_file():
    r = subprocess.run(["sha256sum", "-c", NEW.rsplit("/", 1)[1] + ".sha256"], cwd="/srv/vault",
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_original_unchanged():
    r = subprocess.run(["sha256sum", "-c", "/root/.vault/original.sha256"], capture_output=True, text=True)
    assert r.returncode == 0


def test_no_plaintext_left():
    markers = [b"id,name,email,country", b"contract of customer"]
    for root in ("/srv", "/tmp", "/root", "/app"):
        for p in Path(root).rglob("*"):
            if p.is_file() and not p.is_symlink() and p.stat().st_size < 5_000_000:
                data = p.read_bytes()
                assert not any(m in data for m in markers), p
                assert p.name != "customers.csv" and not p.name.endswith(".tar.gz"), p
