#!/usr/bin/env bash
# Set up a virtualenv with dockspec and its test tools, then run the tests.
# Extra arguments go to pytest. Real-daemon tests (marker `live`) run when
# scripts/daemons.sh up and scripts/engines.sh up have started the two beds
# (each bed's tests skip when it is not up, but
# fail instead of skipping when CI is set).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check --upgrade 'pip>=25.1'
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[cli,fast]' --group tests --group lint
exec .venv/bin/python -m pytest "$@"
