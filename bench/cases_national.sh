#!/usr/bin/env bash
# Benchmark: Canal Verde at national scale (issue 37) — flagging the candidates of the whole
# country and of the largest district from the latest measurement's open referrals (the
# command's wall time, process start and audit included), and the server time of a case page,
# the Mesa's workbench, a case over the API, a household page, a person's explanation over the
# API, a person's page and the home page with its notifications, measured with wrk on
# loopback, with the server's resident memory before and after. No case-management peer installs from the package
# registries: absolute figures.
#
#   bash bench/cases_national.sh      # the databases of bench/server_national.sh, after
#                                     # bench/access_national.sh (which classifies them and
#                                     # generates their referrals)
#   BACKENDS=sqlite bash bench/cases_national.sh
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/resident.sh
. bench/resident.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/vamos-target}"
HH="${HH:-1900000}"
WORK="${WORK:-/tmp/vamos-bench}"
PG_ADMIN="${PG_ADMIN:-postgres://postgres@127.0.0.1:5432/postgres}"
PG_DB="${PG_DB:-vamos_server_bench}"
export VAMOS_AUDIT_KEY_FILE="${VAMOS_AUDIT_KEY_FILE:-$WORK/auditoria.key}"
DURATION="${DURATION:-10s}"
if [ -z "${VAMOS:-}" ]; then
  cargo build --release --locked -q -p vamos-cli
  VAMOS="$CARGO_TARGET_DIR/release/vamos"
fi
[ -f "$WORK/server-$HH.sqlite" ] || { echo "falta $WORK/server-$HH.sqlite: ejecute bench/server_national.sh y bench/access_national.sh" >&2; exit 2; }
PASSWORD='Banco-De-Prueba-2026'

best_of_3() { # command… → the best wall time in seconds
  local best="" t0 t
  for _ in 1 2 3; do
    t0=$(date +%s.%N)
    "$@" > /dev/null
    t=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN {printf "%.2f", b - a}')
    best=$(awk -v a="${best:-$t}" -v b="$t" 'BEGIN {print (b < a ? b : a)}')
  done
  echo "$best"
}

first_member() { # url household → the household's first member
  case "$1" in
    sqlite:*) python3 -c 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT MIN(id) FROM persons WHERE household_id = ?", (int(sys.argv[2]),)).fetchone()[0])' "${1#sqlite:}" "$2" ;;
    *) psql "$1" -tAc "SELECT MIN(id) FROM persons WHERE household_id = $2" ;;
  esac
}

run() { # label url
  local label="$1" url="$2" out pid base cookie largest hh id pp
  "$VAMOS" db init --db "$url" > /dev/null
  # The largest district by households, and a Mesa account for it.
  largest=$("$VAMOS" registry stats --db "$url" --format json \
    | python3 -c 'import json, sys; d = json.load(sys.stdin); print(max(d["districts"], key=lambda x: x["households"])["code"])' 2> /dev/null || echo 1103)
  if ! "$VAMOS" user list --db "$url" 2> /dev/null | grep -q bench_mesa; then
    VAMOS_PASSWORD="$PASSWORD" "$VAMOS" user create --db "$url" bench_mesa --role mesa --territories "$largest" > /dev/null
  fi
  echo "$label: distrito más grande $largest"
  echo "  candidatas del país (mejor de 3): $(best_of_3 "$VAMOS" cases candidates --db "$url" --territory PY --format json) s"
  echo "  candidatas de $largest (mejor de 3): $(best_of_3 env VAMOS_USER=bench_mesa "$VAMOS" cases candidates --db "$url" --territory "$largest" --format json) s"
  "$VAMOS" cases candidates --db "$url" --territory PY --format json > "$WORK/cases-candidates-$label.json"
  python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); import collections; print("  ", len(d), "candidatas:", dict(collections.Counter((c["unit_kind"], c["priority"]) for c in d)))' "$WORK/cases-candidates-$label.json"
  hh=$(VAMOS_USER=bench_mesa "$VAMOS" cases candidates --db "$url" --territory "$largest" --format json \
    | python3 -c 'import json, sys; d = [c for c in json.load(sys.stdin) if c["unit_kind"] == "hogar" and not c["open_case"]]; print(d[0]["unit_id"])')
  id=$(VAMOS_USER=bench_mesa "$VAMOS" cases open --db "$url" --household "$hh" --reason "banco de pruebas" --format json \
    | python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])')
  MONITOR_TOKEN=$(monitor_token "$url")
  out="$WORK/cases-$label.out"
  VAMOS_API_RATE_PER_MINUTE=100000000 VAMOS_LOG=warn VAMOS_COOKIE_SECURE=false "$VAMOS" serve --db "$url" --addr 127.0.0.1:0 > "$out" 2> "$WORK/cases-$label.err" &
  pid=$!
  for _ in $(seq 1 100); do grep -q escuchando "$out" 2> /dev/null && break; sleep 0.1; done
  base=$(sed -n 's/^Vamos escuchando en //p' "$out")
  wait_resident "$base" "$pid"
  local before_rss
  before_rss=$(ps -o rss= -p "$pid" | awk '{printf "%.0f", $1 / 1024}')
  cookie=$(curl -s -D - -o /dev/null -H 'content-type: application/json' \
    -d "{\"username\":\"bench_mesa\",\"password\":\"$PASSWORD\"}" "$base/api/session" \
    | sed -n 's/^[Ss]et-[Cc]ookie: \(vamos_sesion=[^;]*\).*/\1/p')
  printf "  %-28s %10s %10s %10s\n" "página" "req/s" "p50" "p99"
  pp=$(first_member "$url" "$hh")
  for path in "/casos/$id" "/api/cases/$id" "/casos?territorio=$largest" "/registro/hogares/$hh" \
    "/api/persons/$pp/status" "/registro/personas/$pp" "/"; do
    curl -s -o /dev/null -H "Cookie: $cookie" "$base$path"
    wrk -t1 -c2 -d"$DURATION" --latency -H "Cookie: $cookie" "$base$path" > "$WORK/wrk-cases-$label.txt"
    printf "  %-28s %10s %10s %10s\n" "$path" \
      "$(awk '/Requests\/sec/ {print $2}' "$WORK/wrk-cases-$label.txt")" \
      "$(awk '$1 == "50%" {print $2}' "$WORK/wrk-cases-$label.txt")" \
      "$(awk '$1 == "99%" {print $2}' "$WORK/wrk-cases-$label.txt")"
  done
  echo "  memoria del servidor: $before_rss MiB al estar listo, $(ps -o rss= -p "$pid" | awk '{printf "%.0f", $1 / 1024}') MiB tras las páginas de casos"
  kill "$pid"
  wait "$pid" 2> /dev/null || true
}

run sqlite "sqlite:$WORK/server-$HH.sqlite"
if [[ "${BACKENDS:-sqlite postgres}" == *postgres* ]] && pg_isready -h 127.0.0.1 -p 5432 -q; then
  run postgres "${PG_ADMIN%/*}/$PG_DB"
fi
