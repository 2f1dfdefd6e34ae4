#!/usr/bin/env bash
# Benchmark: the server at national scale — authenticated person lookups (GET /api/persons/{id})
# and DCI synchronous search (POST /dci/registry/sync/search, idtype-value by UIN), measured
# with wrk on loopback, SQLite and PostgreSQL side by side in the same run; GET /api/health as
# the HTTP ceiling of the same server (no database, no audit).
#
#   bash bench/server_national.sh                 # 1.9 M households (≈6.5 M persons)
#   HH=200000 bash bench/server_national.sh       # smaller
#   PREPARE_ONLY=1 bash bench/server_national.sh  # build the databases only
#   BACKENDS=postgres bash bench/server_national.sh # one backend only
#   RATE=5000 bash bench/server_national.sh       # the offered rate of the oha run (default 5000)
#
# Every lookup is a real one: token check, territorial scope, field policy, and an audit record
# appended to the hash chain before the answer is sent. The database is read into the page cache
# first (SQLite: the file; PostgreSQL: pg_prewarm of the tables read): on a cold cache random
# lookups wait on the disk. Needs wrk (Debian package wrk); with oha (`cargo install oha`) also
# measures lookups at a fixed offered rate, as the target is stated.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/resident.sh
. bench/resident.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/vamos-target}"
HH="${HH:-1900000}"
SEED="${SEED:-7}"
WORK="${WORK:-/tmp/vamos-bench}"
PG_ADMIN="${PG_ADMIN:-postgres://postgres@127.0.0.1:5432/postgres}"
PG_DB="${PG_DB:-vamos_server_bench}"
# The audit key every command and server here seals with (PostgreSQL has no default place for
# it; the SQLite databases use it too, each keeping its checkpoint beside it).
export VAMOS_AUDIT_KEY_FILE="${VAMOS_AUDIT_KEY_FILE:-$WORK/auditoria.key}"
DURATION="${DURATION:-20s}"
CONNECTIONS="${CONNECTIONS:-16}"
REF_DATE=2026-11-01
mkdir -p "$WORK"
cargo build --release --locked -q -p vamos-cli
VAMOS="$CARGO_TARGET_DIR/release/vamos"
DATA="$WORK/data-$HH-$SEED"
if [ ! -f "$DATA/manifest.json" ]; then
  echo "generando datos sintéticos: $HH hogares (semilla $SEED)…" >&2
  "$VAMOS" synth --districts all --households "$HH" --seed "$SEED" --out "$DATA" --reference-date "$REF_DATE" --no-admin > /dev/null
fi
SQLITE="sqlite:$WORK/server-$HH.sqlite"
PG="${PG_ADMIN%/*}/$PG_DB"
export VAMOS_ADMIN_PASSWORD='Banco-De-Prueba-2026'
prepare() { # url
  local url="$1"
  if "$VAMOS" user list --db "$url" 2> /dev/null | grep -q bench_his; then return; fi
  echo "importando en $url…" >&2
  "$VAMOS" db init --db "$url" > /dev/null
  "$VAMOS" import fips --db "$url" "$DATA" --date 2026-11-23 > /dev/null
  VAMOS_PASSWORD='Banco-De-Prueba-2026' "$VAMOS" user create --db "$url" bench_his --role analista > /dev/null
  "$VAMOS" dci sender add --db "$url" --id bench.his --user bench_his > /dev/null
}
if [ ! -f "$WORK/server-$HH.sqlite" ]; then prepare "$SQLITE"; fi
if ! psql "$PG_ADMIN" -tAc "SELECT 1 FROM pg_database WHERE datname = '$PG_DB'" | grep -q 1; then
  psql "$PG_ADMIN" -q -c "CREATE DATABASE $PG_DB"
  rm -f "$VAMOS_AUDIT_KEY_FILE.$PG_DB.checkpoint.json" # a dropped database's
  prepare "$PG"
fi
[ -n "${PREPARE_ONLY:-}" ] && exit 0

warm() { # url: read the registry into the OS page cache, as a server that has run a while has it
  case "$1" in
    sqlite:*) cat "${1#sqlite:}" > /dev/null ;;
    *) psql "$1" -q -c "CREATE EXTENSION IF NOT EXISTS pg_prewarm" \
         -c "SELECT pg_prewarm(c.oid) FROM pg_class c WHERE c.relname IN ('persons', 'households', 'persons_pkey', 'households_pkey', 'audit_log', 'audit_log_pkey', 'api_tokens', 'users')" > /dev/null ;;
  esac
}

run() { # label url
  local label="$1" url="$2"
  local token max_id out pid base
  warm "$url"
  "$VAMOS" db init --db "$url" > /dev/null # applies migrations newer than the import
  token=$("$VAMOS" token create --db "$url" --user bench_his --name "wrk" --days 1 --scopes registro:leer,dci 2> /dev/null)
  MONITOR_TOKEN=$(monitor_token "$url")
  max_id=$(sqlite_or_pg_max "$url")
  out="$WORK/serve-$label.out"
  VAMOS_API_RATE_PER_MINUTE=100000000 VAMOS_LOG=warn "$VAMOS" serve --db "$url" --addr 127.0.0.1:0 > "$out" 2> "$WORK/serve-$label.err" &
  pid=$!
  for _ in $(seq 1 100); do grep -q escuchando "$out" 2> /dev/null && break; sleep 0.1; done
  base=$(sed -n 's/^Vamos escuchando en //p' "$out")
  wait_resident "$base" "$pid"
  # Five unrecorded seconds of lookups first: the pool's connections open, prepare their
  # statements and fill their page caches (measured from a cold start, SQLite's p99 was 200–360
  # ms for the first second's requests; 4 ms once warm).
  TOKEN="$token" MAX_ID="$max_id" wrk -t2 -c"$CONNECTIONS" -d5s -s bench/wrk/person.lua "$base" > /dev/null
  for what in health person dci; do
    case $what in
      health) args=("$base/api/health") ;;
      person) args=(-s bench/wrk/person.lua "$base") ;;
      dci) args=(-s bench/wrk/dci.lua "$base") ;;
    esac
    TOKEN="$token" MAX_ID="$max_id" SENDER=bench.his wrk -t2 -c"$CONNECTIONS" -d"$DURATION" --latency "${args[@]}" > "$WORK/wrk-$label-$what.txt"
    rps=$(awk '/Requests\/sec/ {print $2}' "$WORK/wrk-$label-$what.txt")
    p50=$(awk '$1 == "50%" {print $2}' "$WORK/wrk-$label-$what.txt")
    p99=$(awk '$1 == "99%" {print $2}' "$WORK/wrk-$label-$what.txt")
    non2xx=$(awk '/Non-2xx/ {print $NF}' "$WORK/wrk-$label-$what.txt")
    printf "%-10s %-8s %12s %10s %10s %10s\n" "$label" "$what" "$rps" "$p50" "$p99" "${non2xx:-0}"
  done
  # The target as it is stated — p99 at a given throughput — measured at that throughput: oha
  # offers RATE lookups/s (random ids in 1,000,000–5,999,999) and corrects for coordinated
  # omission (a stalled server does not lower the load it is measured under). wrk above measures
  # the most the server can do, where latency is whatever the queue makes it.
  if command -v oha > /dev/null; then
    oha -z "$DURATION" -w -q "${RATE:-5000}" -c "$CONNECTIONS" --latency-correction --no-tui --output-format json \
      --rand-regex-url "$base/api/persons/[1-5][0-9]{6}" -H "Authorization: Bearer $token" > "$WORK/oha-$label-person.json"
    python3 - "$WORK/oha-$label-person.json" "$label" "person@${RATE:-5000}" << 'PY'
import json, sys
d = json.load(open(sys.argv[1]))
ok = sum(n for code, n in d["statusCodeDistribution"].items() if code.startswith("2"))
bad = sum(d["statusCodeDistribution"].values()) - ok + sum(d.get("errorDistribution", {}).values())
p = d["latencyPercentiles"]
print("%-10s %-8s %12.2f %10s %10s %10d" % (sys.argv[2], sys.argv[3], d["summary"]["requestsPerSec"], "%.2fms" % (p["p50"] * 1000), "%.2fms" % (p["p99"] * 1000), bad))
PY
  fi
  kill "$pid"; wait "$pid" 2> /dev/null || true
}
sqlite_or_pg_max() {
  case "$1" in
    sqlite:*) sqlite3 "${1#sqlite:}" "SELECT MAX(id) FROM persons" ;;
    *) psql "$1" -tAc "SELECT MAX(id) FROM persons" ;;
  esac
}
persons=$(sqlite_or_pg_max "$SQLITE")
echo "registro: $persons personas (sintéticas); wrk -t2 -c$CONNECTIONS -d$DURATION; $(nproc) núcleos"
printf "%-10s %-8s %12s %10s %10s %10s\n" "base" "consulta" "req/s" "p50" "p99" "no-2xx"
for backend in ${BACKENDS:-sqlite postgres}; do
  case $backend in
    sqlite) run sqlite "$SQLITE" ;;
    postgres) run postgres "$PG" ;;
  esac
done
