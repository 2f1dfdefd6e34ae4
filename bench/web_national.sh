#!/usr/bin/env bash
# Benchmark: the Logros dashboards of the web application at national scale — server time of
# the national, department (Central) and district (Villeta) pages, public (anonymous, with
# small-cell suppression) and as an analyst (stored figures), measured with wrk on loopback,
# and their page weight (HTML; the stylesheet and logo are cached). The peer in the same run:
# the sqlite3 CLI reading the same stored figures (the districts' Logros of the latest
# measurement) that every dashboard rolls up.
#
#   bash bench/web_national.sh        # the databases of bench/server_national.sh, after
#                                     # bench/access_national.sh (which classifies them)
#   BACKENDS=sqlite bash bench/web_national.sh
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/resident.sh
. bench/resident.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/vamos-target}"
HH="${HH:-1900000}"
WORK="${WORK:-/tmp/vamos-bench}"
PG_ADMIN="${PG_ADMIN:-postgres://postgres@127.0.0.1:5432/postgres}"
PG_DB="${PG_DB:-vamos_server_bench}"
# The audit key every command and server here seals with (PostgreSQL has no default place for
# it; the SQLite databases use it too, each keeping its checkpoint beside it).
export VAMOS_AUDIT_KEY_FILE="${VAMOS_AUDIT_KEY_FILE:-$WORK/auditoria.key}"
DURATION="${DURATION:-10s}"
cargo build --release --locked -q -p vamos-cli
VAMOS="$CARGO_TARGET_DIR/release/vamos"
SQLITE="sqlite:$WORK/server-$HH.sqlite"
PG="${PG_ADMIN%/*}/$PG_DB"
[ -f "$WORK/server-$HH.sqlite" ] || { echo "falta $WORK/server-$HH.sqlite: ejecute bench/server_national.sh y bench/access_national.sh" >&2; exit 2; }
PASSWORD='Banco-De-Prueba-2026'

run() { # label url
  local label="$1" url="$2" out pid base cookie
  "$VAMOS" db init --db "$url" > /dev/null
  if ! "$VAMOS" user list --db "$url" 2> /dev/null | grep -q bench_web; then
    VAMOS_PASSWORD="$PASSWORD" "$VAMOS" user create --db "$url" bench_web --role analista > /dev/null
  fi
  MONITOR_TOKEN=$(monitor_token "$url")
  # The public dashboard shows only a published measurement: publish the latest.
  "$VAMOS" measurements publish "$("$VAMOS" measurements list --db "$url" --format json \
    | python3 -c 'import json, sys; print(json.load(sys.stdin)[0]["id"])')" --db "$url" > /dev/null
  out="$WORK/web-$label.out"
  VAMOS_API_RATE_PER_MINUTE=100000000 VAMOS_LOG=warn VAMOS_COOKIE_SECURE=false "$VAMOS" serve --db "$url" --addr 127.0.0.1:0 > "$out" 2> "$WORK/web-$label.err" &
  pid=$!
  for _ in $(seq 1 100); do grep -q escuchando "$out" 2> /dev/null && break; sleep 0.1; done
  base=$(sed -n 's/^Vamos escuchando en //p' "$out")
  wait_resident "$base" "$pid"
  cookie=$(curl -s -D - -o /dev/null -H 'content-type: application/json' \
    -d "{\"username\":\"bench_web\",\"password\":\"$PASSWORD\"}" "$base/api/session" \
    | sed -n 's/^[Ss]et-[Cc]ookie: \(vamos_sesion=[^;]*\).*/\1/p')
  for who in publico analista; do
    for t in PY 11 1116; do
      local hdr=()
      [ "$who" = analista ] && hdr=(-H "Cookie: $cookie")
      curl -s -o /dev/null "${hdr[@]}" "$base/logros?t=$t" # first request: caches warm
      bytes=$(curl -s -o /dev/null -w '%{size_download}' "${hdr[@]}" "$base/logros?t=$t")
      wrk -t1 -c2 -d"$DURATION" --latency "${hdr[@]}" "$base/logros?t=$t" > "$WORK/wrk-web-$label-$who-$t.txt"
      rps=$(awk '/Requests\/sec/ {print $2}' "$WORK/wrk-web-$label-$who-$t.txt")
      p50=$(awk '$1 == "50%" {print $2}' "$WORK/wrk-web-$label-$who-$t.txt")
      p99=$(awk '$1 == "99%" {print $2}' "$WORK/wrk-web-$label-$who-$t.txt")
      non2xx=$(awk '/Non-2xx/ {print $NF}' "$WORK/wrk-web-$label-$who-$t.txt")
      printf "%-10s %-9s %-6s %10s %10s %10s %10s %8s\n" "$label" "$who" "$t" "$rps" "$p50" "$p99" "$bytes" "${non2xx:-0}"
    done
  done
  kill "$pid"; wait "$pid" 2> /dev/null || true
}

echo "tableros de Logros: wrk -t1 -c2 -d$DURATION; $(nproc) núcleos; registro nacional sintético"
printf "%-10s %-9s %-6s %10s %10s %10s %10s %8s\n" "base" "usuario" "terr." "pág./s" "p50" "p99" "bytes" "no-2xx"
for backend in ${BACKENDS:-sqlite postgres}; do
  case $backend in
    sqlite) run sqlite "$SQLITE" ;;
    postgres) run postgres "$PG" ;;
  esac
done
# The peer: the sqlite3 CLI reading the stored district figures every dashboard starts from.
db="${SQLITE#sqlite:}"
start=$(date +%s.%N)
for _ in $(seq 1 20); do
  sqlite3 "$db" "SELECT count(*), sum(length(logros)) FROM measurement_districts WHERE measurement_id = (SELECT max(id) FROM measurements)" > /dev/null
done
echo "sqlite3 CLI: lectura de las cifras guardadas de los distritos (la entrada de cada tablero): $(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", (b - a) * 1000 / 20}') ms por lectura (media de 20, incluye arrancar sqlite3)"
