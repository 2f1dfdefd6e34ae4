#!/usr/bin/env bash
# Browser tests of the web application (ENGINEERING: real browser): headless Debian chromium
# driven by playwright-core (npm) walks the flows of tests/browser/walk.mjs against a real
# `vamos serve` over a fresh synthetic SQLite database; axe-core checks every page visited;
# any request leaving the machine fails. Screenshots are kept in $SHOTS (printed at the end).
#
#   bash scripts/browser.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/vamos-target}"
SHOTS="${SHOTS:-$CARGO_TARGET_DIR/browser-screenshots}"

if ! command -v chromium > /dev/null; then
  echo "instalando chromium (paquete de Debian)…" >&2
  apt-get install -y -q chromium > /dev/null
fi
if [ ! -d tests/browser/node_modules/playwright-core ] || [ ! -d tests/browser/node_modules/axe-core ]; then
  (cd tests/browser && npm ci --no-audit --no-fund --silent)
fi
cargo build --locked -q -p vamos-cli
VAMOS="$CARGO_TARGET_DIR/debug/vamos"

WORK="$(mktemp -d)"
cleanup() {
  [ -n "${SERVER_PID:-}" ] && kill "$SERVER_PID" 2> /dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
DB="sqlite:$WORK/web.sqlite"
PASSWORD='Navegador-Prueba-2026'
"$VAMOS" synth --households 400 --seed 21 --out "$WORK/datos" --reference-date 2026-11-01 > /dev/null
VAMOS_ADMIN_PASSWORD="$PASSWORD" "$VAMOS" db init --db "$DB" > /dev/null
# The survey is imported and classified by the analyst in the browser (walk.mjs, step 1).
VAMOS_PASSWORD="$PASSWORD" "$VAMOS" user create --db "$DB" analista.web --role analista > /dev/null
"$VAMOS" delivery-points import --db "$DB" data/delivery_points/puntos_ilustrativos.csv > /dev/null
# The communities' Entorno surveys (with their ranked priorities, step 1D) are in before the
# walk: the planner reads them in /gobernanza/prioridades.
"$VAMOS" import comunidades --db "$DB" "$WORK/datos" > /dev/null
VAMOS_PASSWORD="$PASSWORD" "$VAMOS" user create --db "$DB" coordinacion.central --role coordinador --territories 1116 > /dev/null
VAMOS_PASSWORD="$PASSWORD" "$VAMOS" user create --db "$DB" mspbs.villeta --role operador --institution MSPBS --territories 1116 > /dev/null
VAMOS_PASSWORD="$PASSWORD" "$VAMOS" user create --db "$DB" mesa.villeta --role mesa --territories 1116 > /dev/null
VAMOS_PASSWORD="$PASSWORD" "$VAMOS" user create --db "$DB" orientador.villeta --role orientador --territories 1116 > /dev/null
VAMOS_PASSWORD="$PASSWORD" "$VAMOS" user create --db "$DB" planificadora.web --role planificador > /dev/null
"$VAMOS" agreement create --db "$DB" --institution MSPBS --fields given_names,family_names,national_id,birth_date,sex,embarazada,district_code \
  --purpose "referencia de servicios de salud" --from 2026-01-01 --to 2030-12-31 > /dev/null

VAMOS_LOG=warn "$VAMOS" serve --db "$DB" --addr 127.0.0.1:0 > "$WORK/serve.out" 2> "$WORK/serve.err" &
SERVER_PID=$!
for _ in $(seq 1 100); do
  grep -q "escuchando" "$WORK/serve.out" 2> /dev/null && break
  sleep 0.1
done
BASE=$(sed -n 's/^Vamos escuchando en //p' "$WORK/serve.out")
[ -n "$BASE" ] || { cat "$WORK/serve.err" >&2; exit 1; }
rm -rf "$SHOTS"
BASE="$BASE" SHOTS="$SHOTS" DATA="$WORK/datos" USER_NAME=analista.web OPERATOR=mspbs.villeta MESA=mesa.villeta ORIENTADOR=orientador.villeta PLANNER=planificadora.web COORDINATOR=coordinacion.central PLANNING="$PWD/data/planning" PASSWORD="$PASSWORD" node tests/browser/walk.mjs
