#!/usr/bin/env bash
# Runs every Grace test on a fresh Debian machine with only the .NET SDK:
# installs and starts what the tests need (PostgreSQL, Chromium, Alertmanager), restores, builds, tests,
# and ends with one line of totals taken from the test results: "N passed, N failed, N skipped".
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$(pwd)"

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
as_postgres() { if [ -z "$SUDO" ]; then runuser -u postgres -- "$@"; else sudo -u postgres "$@"; fi; }

need_apt=()
command -v pg_ctlcluster >/dev/null 2>&1 || need_apt+=(postgresql)
[ -x /usr/bin/chromium ] || need_apt+=(chromium)
[ -x /usr/bin/prometheus-alertmanager ] || need_apt+=(prometheus-alertmanager)
command -v curl >/dev/null 2>&1 || need_apt+=(curl)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "Installing ${need_apt[*]} with apt..."
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

# PostgreSQL: start the local cluster and make sure the test role exists.
PGVER="$(ls /usr/lib/postgresql | sort -V | tail -1)"
if ! pg_lsclusters -h 2>/dev/null | grep -q online; then
  if ! pg_lsclusters -h 2>/dev/null | grep -q .; then $SUDO pg_createcluster "$PGVER" main >/dev/null; fi
  $SUDO pg_ctlcluster "$PGVER" main start || $SUDO service postgresql start
fi
for _ in $(seq 1 30); do
  if as_postgres psql -qAtc "select 1" >/dev/null 2>&1; then break; fi
  sleep 1
done
as_postgres psql -qAtc "DO \$\$BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname='grace_test') THEN CREATE ROLE grace_test LOGIN CREATEDB PASSWORD 'grace_test'; END IF; END\$\$;" >/dev/null
# What Grace's database role needs to heal PostgreSQL: CHECKPOINT, and ending other roles' sessions.
as_postgres psql -qAtc "GRANT pg_checkpoint, pg_signal_backend TO grace_test;" >/dev/null
PGPORT="$(as_postgres psql -qAtc "show port")"
export GRACE_TEST_POSTGRES="Host=127.0.0.1;Port=${PGPORT};Username=grace_test;Password=grace_test;Database=postgres"
export GRACE_TEST_CHROMIUM="/usr/bin/chromium"

# Alertmanager: one per run, on a loopback port, with its own configuration and storage, sending
# its webhooks to the Grace a test serves on GRACE_TEST_ALERTMANAGER_RECEIVER_PORT with the API
# key GRACE_TEST_ALERTMANAGER_KEY (the test stores that key's hash). Stopped when this script ends.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
AM_DIR="$(mktemp -d /tmp/grace-alertmanager.XXXXXX)"
AM_PORT="$(free_port)"
export GRACE_TEST_ALERTMANAGER_RECEIVER_PORT="$(free_port)"
export GRACE_TEST_ALERTMANAGER_KEY="grace_a1e47000_$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
cat > "$AM_DIR/alertmanager.yml" <<YAML
route:
  receiver: grace
  group_by: ['alertname']
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: grace
    webhook_configs:
      - url: http://127.0.0.1:${GRACE_TEST_ALERTMANAGER_RECEIVER_PORT}/api/alertmanager
        send_resolved: true
        http_config:
          authorization:
            credentials: ${GRACE_TEST_ALERTMANAGER_KEY}
YAML
/usr/bin/prometheus-alertmanager --config.file="$AM_DIR/alertmanager.yml" --storage.path="$AM_DIR/data" \
  --web.listen-address="127.0.0.1:${AM_PORT}" --cluster.listen-address="" >"$AM_DIR/alertmanager.log" 2>&1 &
AM_PID=$!
stop_alertmanager() { kill "$AM_PID" 2>/dev/null || true; wait "$AM_PID" 2>/dev/null || true; rm -rf "$AM_DIR"; }
trap stop_alertmanager EXIT
for _ in $(seq 1 30); do
  if curl -fs "http://127.0.0.1:${AM_PORT}/-/ready" >/dev/null 2>&1; then break; fi
  sleep 0.5
done
curl -fs "http://127.0.0.1:${AM_PORT}/-/ready" >/dev/null || { echo "Alertmanager did not start:"; cat "$AM_DIR/alertmanager.log"; exit 1; }
export GRACE_TEST_ALERTMANAGER="http://127.0.0.1:${AM_PORT}"

dotnet tool restore >/dev/null
dotnet restore Grace.Console.sln >/dev/null
dotnet build Grace.Console.sln -c Release --no-restore -nologo -clp:ErrorsOnly

RESULTS="$ROOT/TestResults"
rm -rf "$RESULTS"
set +e
dotnet test Grace.Console.sln -c Release --no-build --logger "trx;LogFileName=grace.trx" --results-directory "$RESULTS" "$@"
status=$?
set -e

# Totals from the TRX files the test run wrote (not from the console output).
passed=0; failed=0; skipped=0
while IFS= read -r trx; do
  counters="$(grep -o '<Counters [^>]*>' "$trx" | head -1)"
  num() { echo "$counters" | grep -o " $1=\"[0-9]*\"" | grep -o '[0-9]*' || echo 0; }
  passed=$((passed + $(num passed)))
  failed=$((failed + $(num failed) + $(num error) + $(num timeout) + $(num aborted)))
  skipped=$((skipped + $(num notExecuted)))
done < <(find "$RESULTS" -name '*.trx')
line="$passed passed, $failed failed"
if [ "$skipped" -gt 0 ]; then line="$line, $skipped skipped"; fi
echo "$line"
if [ "$failed" -gt 0 ] || [ "$passed" -eq 0 ] || [ "$status" -ne 0 ]; then exit 1; fi
