#!/usr/bin/env bash
# Benchmark: acting on the figures at national scale (issue 37) — the units behind a Logro
# figure of the largest district (the command's wall time, which classifies the district again as
# the figure stands; then the server's first page of each Logro card, and the next pages,
# which reuse the list), the territorial view of barriers and facilitators, and the inbox grouped
# by household, with the server's resident memory before and after. No peer lists the units
# behind an indicator from its own registry (DHIS2's drill-down stops at aggregates and needs its
# own stack): absolute figures.
#
#   bash bench/units_national.sh      # the databases of bench/server_national.sh, after
#                                     # bench/access_national.sh (classified, referrals generated)
#   BACKENDS=sqlite bash bench/units_national.sh
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

wrk_line() { # label url cookie
  wrk -t1 -c2 -d"$DURATION" --latency -H "Cookie: $3" "$2" > "$WORK/wrk-units.txt"
  printf "  %-52s %8s %10s %10s\n" "$1" \
    "$(awk '/Requests\/sec/ {print $2}' "$WORK/wrk-units.txt")" \
    "$(awk '$1 == "50%" {print $2}' "$WORK/wrk-units.txt")" \
    "$(awk '$1 == "99%" {print $2}' "$WORK/wrk-units.txt")"
}

run() { # label url
  local label="$1" url="$2" out pid base cookie mesa largest before_rss
  "$VAMOS" db init --db "$url" > /dev/null
  largest=$("$VAMOS" registry stats --db "$url" --format json \
    | python3 -c 'import json, sys; d = json.load(sys.stdin); print(max(d["districts"], key=lambda x: x["households"])["code"])' 2> /dev/null || echo 1103)
  for who in "bench_ana --role analista" "bench_mesa --role mesa --territories $largest"; do
    # shellcheck disable=SC2086 # (an account left by an earlier run is kept)
    VAMOS_PASSWORD="$PASSWORD" "$VAMOS" user create --db "$url" $who > /dev/null 2>&1 || true
  done
  echo "$label: distrito más grande $largest"
  for n in 7 9; do
    echo "  vamos units --logro $n (mejor de 3; clasifica el distrito): $(best_of_3 env VAMOS_USER=bench_ana "$VAMOS" units --db "$url" --territory "$largest" --logro "$n" --format json) s"
  done
  echo "  vamos units --logro 7 --format csv (toda la lista): $(best_of_3 env VAMOS_USER=bench_ana "$VAMOS" units --db "$url" --territory "$largest" --logro 7 --format csv) s, $(VAMOS_USER=bench_ana "$VAMOS" units --db "$url" --territory "$largest" --logro 7 --format csv | wc -l) filas"
  MONITOR_TOKEN=$(monitor_token "$url")
  out="$WORK/units-$label.out"
  VAMOS_API_RATE_PER_MINUTE=100000000 VAMOS_LOG=warn VAMOS_COOKIE_SECURE=false "$VAMOS" serve --db "$url" --addr 127.0.0.1:0 > "$out" 2> "$WORK/units-$label.err" &
  pid=$!
  for _ in $(seq 1 100); do grep -q escuchando "$out" 2> /dev/null && break; sleep 0.1; done
  base=$(sed -n 's/^Vamos escuchando en //p' "$out")
  wait_resident "$base" "$pid"
  before_rss=$(ps -o rss= -p "$pid" | awk '{printf "%.0f", $1 / 1024}')
  login() {
    curl -s -D - -o /dev/null -H 'content-type: application/json' \
      -d "{\"username\":\"$1\",\"password\":\"$PASSWORD\"}" "$base/api/session" \
      | sed -n 's/^[Ss]et-[Cc]ookie: \(vamos_sesion=[^;]*\).*/\1/p'
  }
  cookie=$(login bench_ana)
  mesa=$(login bench_mesa)
  echo "  primera página de cada tarjeta (clasifica el distrito; tiempo total de curl):"
  for n in 1 2 3 4 5 6 7 8 9 10; do
    printf "    Logro %-2s %s s, %s unidades\n" "$n" \
      "$(curl -s -o "$WORK/units-page.json" -w '%{time_total}' -H "Cookie: $cookie" "$base/api/units?territory=$largest&logro=$n")" \
      "$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["total"])' "$WORK/units-page.json")"
  done
  echo "  rss tras las diez listas: $(ps -o rss= -p "$pid" | awk '{printf "%.0f", $1 / 1024}') MiB"
  printf "  %-52s %8s %10s %10s\n" "página (lista ya calculada)" "req/s" "p50" "p99"
  wrk_line "/api/units?…&logro=7&page=2" "$base/api/units?territory=$largest&logro=7&page=2" "$cookie"
  wrk_line "/logros/unidades?…&logro=7&pagina=3" "$base/logros/unidades?t=$largest&logro=7&pagina=3" "$cookie"
  wrk_line "/barreras?territorio=$largest (Mesa)" "$base/barreras?territorio=$largest" "$mesa"
  wrk_line "/api/barriers (nación, analista)" "$base/api/barriers" "$cookie"
  wrk_line "/bandeja (Mesa, agrupada por hogar)" "$base/bandeja" "$mesa"
  echo "  memoria del servidor: $before_rss MiB al estar listo, $(ps -o rss= -p "$pid" | awk '{printf "%.0f", $1 / 1024}') MiB al final"
  kill "$pid"
  wait "$pid" 2> /dev/null || true
}

run sqlite "sqlite:$WORK/server-$HH.sqlite"
if [[ "${BACKENDS:-sqlite postgres}" == *postgres* ]] && pg_isready -h 127.0.0.1 -p 5432 -q; then
  run postgres "${PG_ADMIN%/*}/$PG_DB"
fi
