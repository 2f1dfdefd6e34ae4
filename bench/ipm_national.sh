#!/usr/bin/env bash
# The multidimensional poverty index at national scale (issue 39), side by side with `mpitb`
# (PyPI) on the same households in the same run: a synthetic country (1.9 M households),
# imported into SQLite and classified — the classification computes the index's cells from the
# registry it has loaded —, then every territory's figures (nation, 18 departments, 263
# districts; persons and households, urban and rural, populations, robustness), the deprivation
# matrix exported without identifiers, and `mpitb` on it, checked against Vamos to 1e-9.
# Usage: bash bench/ipm_national.sh   (HH=… to change the size; needs python3, pip)
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/vamos-target}"
HH="${HH:-1900000}"
SEED="${SEED:-1}"
WORK="${WORK:-/tmp/vamos-bench}"
REF_DATE=2026-11-30
DATA="$WORK/ipm-data-$HH"
DB="sqlite:$WORK/ipm-$HH.sqlite"
mkdir -p "$WORK"
export VAMOS_AUDIT_KEY_FILE="${VAMOS_AUDIT_KEY_FILE:-$WORK/auditoria.key}"
python3 -c 'import mpitb' 2> /dev/null || pip install -q mpitb
cargo build --release --locked -q -p vamos-cli
VAMOS="$CARGO_TARGET_DIR/release/vamos"
ms() { date +%s%3N; }

if [ ! -f "$DATA/manifest.json" ]; then
  "$VAMOS" synth --districts all --households "$HH" --seed "$SEED" --out "$DATA" --reference-date "$REF_DATE" --no-admin > /dev/null
fi
if [ ! -f "$WORK/ipm-$HH.sqlite" ]; then
  [ -f "$VAMOS_AUDIT_KEY_FILE" ] || "$VAMOS" audit key init --out "$VAMOS_AUDIT_KEY_FILE" > /dev/null
  "$VAMOS" db init --db "$DB" > /dev/null
  "$VAMOS" import comunidades --db "$DB" "$DATA/comunidades.csv" > /dev/null
  "$VAMOS" import fips --db "$DB" "$DATA" --date 2026-12-01 > /dev/null
fi
"$VAMOS" classify --db "$DB" --as-of "$REF_DATE" --format json > "$WORK/ipm-classify.json"
read -r LOAD IPM PERSONS HOUSEHOLDS < <(python3 -c "import json,sys; c=json.load(open('$WORK/ipm-classify.json')); print(c['stages_ms']['load'], c['stages_ms']['ipm'], c['persons'], c['households'])")
t0=$(ms); "$VAMOS" ipm --db "$DB" --format json > "$WORK/ipm-nation.json"; t1=$(ms)
"$VAMOS" ipm --db "$DB" --csv "$WORK/ipm-territorios.csv" 2> /dev/null; t2=$(ms)
REPORT=$((t1 - t0)); TABLE=$((t2 - t1))
"$VAMOS" ipm matrix --db "$DB" --out "$WORK/ipm-matrix.csv" 2> /dev/null
echo "registry: $PERSONS persons, $HOUSEHOLDS households (SINTÉTICO, seed $SEED)"
echo "Vamos: load $LOAD ms (the classification's); beyond it: cells $IPM ms + nation report $REPORT ms + table of every territory $TABLE ms (each command opens the database and reads the cells)"
(cd "$WORK" && python3 "$OLDPWD/bench/ipm_mpitb.py" ipm-matrix.csv ipm-nation.json ipm-nation.json)
python3 - "$WORK" "$IPM" "$REPORT" "$TABLE" << 'PY'
import json, sys
work, cells, report, table = sys.argv[1], *map(int, sys.argv[2:])
r = json.load(open(f"{work}/ipm_mpitb_result.json"))
n = json.load(open(f"{work}/ipm-nation.json"))
vamos_s = (cells + report + table) / 1000
reading = (report + table) / 1000
print(f"Vamos beyond the load (deprivations decided from the answers, kept, then every territory and breakdown): {vamos_s:.2f} s")
print(f"mpitb on the ready deprivation matrix (nation, areas, departments, districts): {r['mpitb_seconds']:.2f} s — Vamos end to end {r['mpitb_seconds'] / vamos_s:.1f}× faster")
print(f"figures from the kept cells alone (both commands, process start included): {reading:.2f} s — {r['mpitb_seconds'] / reading:.0f}× mpitb")
print(f"national synthetic IPM: H {n['H']*100:.2f} % A {n['A']*100:.2f} % M0 {n['M0']:.4f}; urban H {n['areas']['urbana']['H']*100:.2f} %, rural H {n['areas']['rural']['H']*100:.2f} %")
ts = sorted(n["territories"], key=lambda t: -t["H"])
print("departments by H: " + ", ".join(f"{t['name']} {t['H']*100:.1f}" for t in ts))
PY
