#!/usr/bin/env bash
# kill -9, again and again, against one Grace alone on SQLite and against a three-instance cluster on
# PostgreSQL while signals stream in and missions run; then prints the invariants (double actions,
# overlapping actions, accepted signals lost, missions stuck, incidents stranded). See docs/reliability.md.
#
#   bash scripts/chaos.sh [--chaos-rounds 20] [--chaos-scenarios all|standalone|cluster] [--sweep-seconds 5] [--settle-seconds 180]
#
# Everything it starts (Grace processes, a recording HTTP target) listens on loopback and is stopped at
# the end; the cluster's PostgreSQL database is created for the run and dropped after it. Logs of every
# instance are kept under ${TMPDIR:-/tmp}/grace-bench/.
set -euo pipefail
cd "$(dirname "$0")/.."

# The cluster scenario needs a PostgreSQL server: the one GRACE_BENCH_POSTGRES names, else the machine's
# own cluster (installed and started with apt when missing), with a role grace_bench for the run's database.
if [ -z "${GRACE_BENCH_POSTGRES:-}" ]; then
  SUDO=""; if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
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
  BENCH_PASSWORD="${GRACE_BENCH_DB_PASSWORD:-grace-bench-local}"
  as_postgres psql -qAtc "DO \$\$BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname='grace_bench') THEN CREATE ROLE grace_bench LOGIN CREATEDB PASSWORD '${BENCH_PASSWORD}'; END IF; END\$\$;" >/dev/null
  as_postgres psql -qAtc "GRANT pg_checkpoint, pg_signal_backend TO grace_bench;" >/dev/null
  export GRACE_BENCH_POSTGRES="Host=127.0.0.1;Port=$(as_postgres psql -qAtc "show port");Username=grace_bench;Password=${BENCH_PASSWORD};Database=postgres"
fi

dotnet build Grace.Console.sln -c Release -nologo -clp:ErrorsOnly
exec dotnet run -c Release --no-build --project Grace.Benchmarks -- chaos "$@"
