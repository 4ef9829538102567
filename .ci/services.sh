#!/usr/bin/env bash
# Services the web tests need, on a fresh Debian machine as root: PostgreSQL (a test role and
# database), Chromium (headless browser tests) and axe-core from npm (accessibility checks).
# Idempotent and quick when everything is there already. Writes the variables the tests read
# to .ci/services.env (git-ignored) and prints them; source that file before pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v pg_ctlcluster >/dev/null 2>&1 || missing+=(postgresql)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v npm >/dev/null 2>&1 || missing+=(npm)
if ((${#missing[@]})); then
  echo "services: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# PostgreSQL: the newest installed major version's cluster, created if absent, started if down.
version=$(ls /usr/lib/postgresql | sort -n | tail -1)
if ! pg_lsclusters -h | awk '{print $1" "$2}' | grep -qx "$version main"; then
  pg_createcluster "$version" main >/dev/null
fi
if ! pg_lsclusters -h | awk -v v="$version" '$1 == v && $2 == "main" {print $4}' | grep -q online; then
  pg_ctlcluster "$version" main start
fi
port=$(pg_lsclusters -h | awk -v v="$version" '$1 == v && $2 == "main" {print $3}')
for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p "$port" && break; sleep 1; done
pg_isready -h 127.0.0.1 -p "$port"
as_postgres() { su postgres -c "$1"; }
if ! as_postgres "psql -p $port -tAc \"SELECT 1 FROM pg_roles WHERE rolname = 'rctscale'\"" | grep -q 1; then
  as_postgres "psql -p $port -qc \"CREATE ROLE rctscale LOGIN PASSWORD 'rctscale'\""
fi
if ! as_postgres "psql -p $port -tAc \"SELECT 1 FROM pg_database WHERE datname = 'rctscale_test'\"" | grep -q 1; then
  as_postgres "createdb -p $port -O rctscale rctscale_test"
fi

# axe-core, the accessibility engine the browser tests inject (pinned to the 4.x line).
axe_js="$PWD/.cache/axe/node_modules/axe-core/axe.min.js"
if [ ! -f "$axe_js" ]; then
  npm install --silent --no-audit --no-fund --no-save --prefix .cache/axe "axe-core@^4.10" >/dev/null
fi

cat > .ci/services.env <<ENV
export RCTSCALE_TEST_POSTGRES_URL=postgresql+psycopg://rctscale:rctscale@127.0.0.1:$port/rctscale_test
export RCTSCALE_AXE_JS=$axe_js
export RCTSCALE_CHROMIUM=$(command -v chromium)
ENV
cat .ci/services.env
