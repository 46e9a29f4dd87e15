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

# The cluster scenario uses the local PostgreSQL server and the grace_test role that scripts/test.sh sets up
# (or the server named by GRACE_BENCH_POSTGRES).
if [ -z "${GRACE_BENCH_POSTGRES:-}" ] && ! pg_lsclusters -h 2>/dev/null | grep -q online; then
  echo "chaos.sh: no PostgreSQL server is running; 'bash scripts/test.sh' installs and starts one (or set GRACE_BENCH_POSTGRES)." >&2
  echo "chaos.sh: only '--chaos-scenarios standalone' can run without it." >&2
fi

dotnet build Grace.Console.sln -c Release -nologo -clp:ErrorsOnly
exec dotnet run -c Release --no-build --project Grace.Benchmarks -- chaos "$@"
