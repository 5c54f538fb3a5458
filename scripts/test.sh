#!/usr/bin/env bash
# Installs what the test suite needs, then runs all of it: lint, types, tests.
# This is the README's second quick-start command, and what CI runs.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore

# torch==2.13.0 first in the same resolve: it is the CPU build, not the CUDA one
python -m pip install -q torch==2.13.0 -e ".[all,test]"

# Debian packages the tests drive: PostgreSQL (the tests start a private server)
# and Chromium (the chat page's browser test, driven by Playwright)
need=()
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || need+=(postgresql)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
if ((${#need[@]})); then
    echo "== installing ${need[*]}"
    mkdir -p /etc/postgresql-common
    echo "create_main_cluster = false" > /etc/postgresql-common/createcluster.conf
    apt-get update -q && apt-get install -y -q --no-install-recommends "${need[@]}"
fi
# in CI a missing browser or server fails the tests that need it instead of skipping them
export CI="${CI:-1}"

echo "== ruff"
ruff check src tests benchmarks
echo "== mypy (strict, src/)"
mypy
echo "== pytest"
python -m pytest "$@"
