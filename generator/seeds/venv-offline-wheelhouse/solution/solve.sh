#!/bin/bash
set -euo pipefail
python3 -m venv /opt/venvs/fieldkit
/opt/venvs/fieldkit/bin/pip install --no-index --find-links /opt/wheelhouse 'unitconv<2' fieldkit
ln -sf /opt/venvs/fieldkit/bin/fieldkit /usr/local/bin/fieldkit
fieldkit --version
