import datetime as dt
import os
import stat
import subprocess
from pathlib import Path

D = Path("/etc/pki/corp")


def ossl(*args, stdin=None):
    r = subprocess.run(["openssl", *args], capture_output=True, text=True, input=stdin, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout


def text(cert):
    return ossl("x509", "-in", str(D / cert), "-noout", "-text")


def days(cert):
    out = ossl("x509", "-in", str(D / cert), "-noout", "-startdate", "-enddate")
    vals = dict(line.split("=", 1) for line in out.splitlines())
    fmt = "%b %d %H:%M:%S %Y %Z"
    a = dt.datetime.strptime(" ".join(vals["notBefore"].split()), fmt)
    b = dt.datetime.strptime(" ".join(vals["notAfter"].split()), fmt)
    return (b - a).total_seconds() / 86400


def pubkey_of_cert(cert):
    return ossl("x509", "-in", str(D / cert), "-noout", "-pubkey")


def pubkey_of_key(key):
    return ossl("pkey", "-in", str(D / key), "-pubout")


def test_keys_private_and_rsa():
    for key in ("ca.key", "server.key"):
        st = os.stat(D / key)
        assert stat.S_IMODE(st.st_mode) == 0o600 and st.st_uid == 0
        info = ossl("pkey", "-in", str(D / key), "-noout", "-text")
        bits = int(info.split("(", 1)[1].split()[0])
        assert "Private-Key" in info and bits >= 2048 and "modulus" in info


def test_ca_certificate():
    t = text("ca.crt")
    assert "Subject: CN = Corp Internal Root CA" in t
    assert "Issuer: CN = Corp Internal Root CA" in t
    assert "X509v3 Basic Constraints: critical" in t and "CA:TRUE" in t
    assert "Certificate Sign" in t and "CRL Sign" in t
    assert abs(days("ca.crt") - 3650) <= 1
    assert pubkey_of_cert("ca.crt") == pubkey_of_key("ca.key")


def test_server_certificate():
    t = text("server.crt")
    assert "Subject: CN = api.corp.internal" in t
    assert "Issuer: CN = Corp Internal Root CA" in t
    san = t.split("X509v3 Subject Alternative Name:", 1)[1].splitlines()[1]
    assert sorted(x.strip() for x in san.split(",")) == sorted(
        ["DNS:api.corp.internal", "DNS:api", "IP Address:127.0.0.1"])
    assert "TLS Web Server Authentication" in t
    assert "CA:FALSE" in t
    assert abs(days("server.crt") - 397) <= 1
    assert pubkey_of_cert("server.crt") == pubkey_of_key("server.key")


def test_chain_verifies():
    out = ossl("verify", "-CAfile", str(D / "ca.crt"), str(D / "server.crt"))
    assert out.strip().endswith("OK")


def test_fullchain_order():
    pem = (D / "fullchain.pem").read_text()
    blocks = [b + "-----END CERTIFICATE-----\n" for b in pem.split("-----END CERTIFICATE-----")[:-1]]
    assert len(blocks) == 2
    norm = lambda s: ossl("x509", "-noout", "-fingerprint", "-sha256", stdin=s.strip() + "\n")
    assert norm(blocks[0]) == norm((D / "server.crt").read_text())
    assert norm(blocks[1]) == norm((D / "ca.crt").read_text())
