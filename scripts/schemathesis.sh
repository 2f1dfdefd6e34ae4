#!/usr/bin/env bash
# Property-based API testing: schemathesis (PyPI) generates requests from /api/openapi.json
# (every REST and DCI operation, valid and invalid inputs) against a running `vamos serve` over
# a fresh synthetic SQLite database, and fails on any server error (5xx).
#
#   bash scripts/schemathesis.sh            # 25 examples per operation (CI)
#   EXAMPLES=200 bash scripts/schemathesis.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/vamos-target}"
EXAMPLES="${EXAMPLES:-25}"
SCHEMATHESIS_VERSION=4.32.5

if ! command -v st > /dev/null || ! st --version 2> /dev/null | grep -q "$SCHEMATHESIS_VERSION"; then
  python3 -m pip install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi
cargo build --locked -q -p vamos-cli
VAMOS="$CARGO_TARGET_DIR/debug/vamos"

WORK="$(mktemp -d)"
cleanup() {
  [ -n "${SERVER_PID:-}" ] && kill "$SERVER_PID" 2> /dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
DB="sqlite:$WORK/st.sqlite"
"$VAMOS" synth --households 60 --seed 11 --out "$WORK/datos" --reference-date 2026-11-01 > /dev/null
VAMOS_ADMIN_PASSWORD='Esquema-Prueba-2026' "$VAMOS" db init --db "$DB" > /dev/null
"$VAMOS" import fips --db "$DB" "$WORK/datos" --date 2026-11-23 > /dev/null
"$VAMOS" classify --db "$DB" --as-of 2026-11-23 > /dev/null
"$VAMOS" measurements publish 1 --db "$DB" > /dev/null # the public figures need a published one
"$VAMOS" referrals generate --db "$DB" > /dev/null
"$VAMOS" delivery-points import --db "$DB" data/delivery_points/puntos_ilustrativos.csv > /dev/null
TOKEN=$("$VAMOS" token create --db "$DB" --user admin --name schemathesis --days 1 \
  --scopes registro:leer,estatus:leer,logros:leer,catalogo:leer,auditoria:leer,usuarios:administrar,dci,referencias:leer,referencias:gestionar,contrarreferencias:enviar,monitoreo:leer 2> /dev/null)
# An unsigned DCI sender for the admin account, so generated DCI messages reach the handlers.
"$VAMOS" dci sender add --db "$DB" --id schemathesis --user admin > /dev/null

VAMOS_API_RATE_PER_MINUTE=100000 VAMOS_LOGIN_RATE_PER_MINUTE=100000 VAMOS_LOG=warn \
  "$VAMOS" serve --db "$DB" --addr 127.0.0.1:0 > "$WORK/serve.out" 2> "$WORK/serve.err" &
SERVER_PID=$!
for _ in $(seq 1 100); do
  grep -q "escuchando" "$WORK/serve.out" 2> /dev/null && break
  sleep 0.1
done
BASE=$(sed -n 's/^Vamos escuchando en //p' "$WORK/serve.out")
[ -n "$BASE" ] || { cat "$WORK/serve.err" >&2; exit 1; }

# Revoking tokens would revoke the run's own credential: that one operation is excluded.
st run "$BASE/api/openapi.json" \
  --checks not_a_server_error \
  --max-examples "$EXAMPLES" \
  --seed 2026 \
  --workers 2 \
  --exclude-method DELETE \
  --header "Authorization: Bearer $TOKEN" \
  --no-color \
  --generation-database none \
  --report junit --report-dir "$WORK/report"
