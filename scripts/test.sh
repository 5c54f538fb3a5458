#!/usr/bin/env bash
# Installs what the test suite needs, then runs all of it: lint, types, tests.
# This is the README's second quick-start command, and what CI runs.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore

# torch==2.13.0 first in the same resolve: it is the CPU build, not the CUDA one
python -m pip install -q torch==2.13.0 -e ".[all,test]"

echo "== ruff"
ruff check src tests benchmarks
echo "== mypy (strict, src/)"
mypy
echo "== pytest"
python -m pytest "$@"
