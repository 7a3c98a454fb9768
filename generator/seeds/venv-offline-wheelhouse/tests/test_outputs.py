import os
import subprocess
from pathlib import Path

VENV = Path("/opt/venvs/fieldkit")
ENV = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/root"}


def sh(cmd):
    return subprocess.run(cmd, shell=True, capture_output=True, text=True, env=ENV, cwd="/", timeout=60)


def test_is_a_venv():
    assert (VENV / "pyvenv.cfg").is_file()
    assert (VENV / "bin" / "python").exists()


def test_compatible_dependency_in_venv():
    r = sh(f"{VENV}/bin/python -c 'import unitconv, fieldkit; print(unitconv.__version__, fieldkit.__version__)'")
    assert r.stdout.split() == ["1.4.0", "0.9.1"], r.stderr


def test_command_on_default_path():
    r = sh("command -v fieldkit")
    assert r.stdout.strip().startswith("/usr/local/bin/")
    assert sh("fieldkit --version").stdout.strip() == "fieldkit 0.9.1"


def test_command_works():
    r = sh("fieldkit convert 10 mi")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "16.093 km"
    assert sh("fieldkit convert 3 ft").stdout.strip() == "0.914 m"


def test_system_python_untouched():
    for mod in ("fieldkit", "unitconv"):
        assert sh(f"/usr/bin/python3 -c 'import {mod}'").returncode != 0
