#!/usr/bin/env bash
# Starts three Grace instances on one local PostgreSQL database: a cluster to try failover and the
# shared live view on one machine. Installs and starts PostgreSQL with apt when it is missing,
# creates a database of its own, builds Grace once, and stops every instance on Ctrl-C.
#
#   bash scripts/cluster.sh            # grace-1 on http://127.0.0.1:5201, grace-2 on :5202, grace-3 on :5203
#   kill -9 <pid of one instance>      # its missions continue on the others within seconds
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$(pwd)"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
as_postgres() { if [ -z "$SUDO" ]; then runuser -u postgres -- "$@"; else sudo -u postgres "$@"; fi; }

if ! command -v pg_ctlcluster >/dev/null 2>&1; then
  echo "Installing PostgreSQL with apt..."
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql >/dev/null
fi
PGVER="$(ls /usr/lib/postgresql | sort -V | tail -1)"
if ! pg_lsclusters -h 2>/dev/null | grep -q online; then
  if ! pg_lsclusters -h 2>/dev/null | grep -q .; then $SUDO pg_createcluster "$PGVER" main >/dev/null; fi
  $SUDO pg_ctlcluster "$PGVER" main start || $SUDO service postgresql start
fi
for _ in $(seq 1 30); do as_postgres psql -qAtc "select 1" >/dev/null 2>&1 && break; sleep 1; done

DB_PASSWORD="${GRACE_CLUSTER_DB_PASSWORD:-grace-cluster-local}"
as_postgres psql -qAtc "DO \$\$BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname='grace_cluster') THEN CREATE ROLE grace_cluster LOGIN PASSWORD '${DB_PASSWORD}'; END IF; END\$\$;" >/dev/null
as_postgres psql -qAtc "GRANT pg_checkpoint, pg_signal_backend TO grace_cluster;" >/dev/null
if ! as_postgres psql -qAtc "SELECT 1 FROM pg_database WHERE datname='grace_cluster'" | grep -q 1; then
  as_postgres psql -qAtc "CREATE DATABASE grace_cluster OWNER grace_cluster;" >/dev/null
fi
PGPORT="$(as_postgres psql -qAtc "show port")"

dotnet build Grace.Web -c Release -nologo -clp:ErrorsOnly
ADMIN_PASSWORD="${GRACE_CLUSTER_ADMIN_PASSWORD:-$(head -c 12 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 16)Aa1!}"
LOGS="$ROOT/data/cluster"
mkdir -p "$LOGS"
PIDS=()
stop_all() {
  echo "Stopping the cluster..."
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap stop_all EXIT INT TERM

for n in 1 2 3; do
  (
    export ASPNETCORE_URLS="http://127.0.0.1:520${n}"
    export Grace__Database__Provider=Postgres
    export Grace__Database__ConnectionString="Host=127.0.0.1;Port=${PGPORT};Database=grace_cluster;Username=grace_cluster;Password=${DB_PASSWORD}"
    export Grace__Cluster__InstanceName="grace-${n}"
    export Grace__Cluster__SiloPort="1111${n}"
    export Grace__Cluster__AdvertisedAddress=127.0.0.1
    # The demo's machine-bound targets (its worker, its files, Grace's own logging) live on grace-1.
    export Grace__Cluster__DefaultTargetInstance=grace-1
    export Grace__Identity__AdminPassword="$ADMIN_PASSWORD"
    # Production (the default without ASPNETCORE_ENVIRONMENT) requires the host names Grace answers to.
    export Grace__Http__AllowedHosts__0=127.0.0.1
    export Grace__Http__AllowedHosts__1=localhost
    export Grace__Database__DataDirectory="$ROOT/data/cluster/grace-${n}"
    exec dotnet "$ROOT/Grace.Web/bin/Release/net10.0/Grace.Web.dll" --contentRoot "$ROOT/Grace.Web"
  ) >"$LOGS/grace-${n}.log" 2>&1 &
  PIDS+=($!)
  echo "grace-${n}: http://127.0.0.1:520${n}  (pid $!, log data/cluster/grace-${n}.log)"
done

echo "Admin password for every instance: ${ADMIN_PASSWORD}"
echo "Stop one with kill -9 <pid> to watch its missions continue on the others; Ctrl-C stops all three."
wait
