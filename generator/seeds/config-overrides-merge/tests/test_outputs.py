import json
import subprocess
from pathlib import Path

EXPECTED = json.loads(Path("/tests/expected.json").read_text())
TOOL = "/usr/local/bin/billing-config"


def run():
    r = subprocess.run([TOOL], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_effective_file():
    assert json.loads(Path("/etc/billing/effective.json").read_text()) == EXPECTED


def test_tool_output_sorted():
    out = run()
    assert out == EXPECTED
    assert list(out) == sorted(out)
    for kv in out.values():
        assert list(kv) == sorted(kv)


def test_tool_recomputes_from_files():
    extra = Path("/etc/billing/conf.d/99-zz-test.ini")
    extra.write_text("[Database]\nPool = 77\n[cache]\nttl =\n[newsec]\nx = 100%\n")
    (Path("/etc/billing/conf.d") / "98-ignored.conf").write_text("[server]\nhost = nope\n")
    try:
        out = run()
    finally:
        extra.unlink()
    want = json.loads(json.dumps(EXPECTED))
    env_keys = {ln.split("=", 1)[0].lower() for ln in Path("/etc/billing/billing.env").read_text().splitlines()
                if ln.startswith("APPCFG__")}
    if "appcfg__database__pool" not in env_keys:
        want.setdefault("database", {})["pool"] = "77"
    if "appcfg__cache__ttl" not in env_keys:
        want.get("cache", {}).pop("ttl", None)
    want = {s: kv for s, kv in want.items() if kv}
    want["newsec"] = {"x": "100%"}
    assert out == {s: dict(sorted(kv.items())) for s, kv in sorted(want.items())}
