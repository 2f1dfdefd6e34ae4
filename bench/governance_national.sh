#!/usr/bin/env bash
# Benchmark: governance at national scale (issue 41) — the quarterly follow-up report of
# Villeta and of the nation (PDF, from the last published measurement of the quarter; target
# < 5 s each) and an anonymised microdata extract of the whole registry with k = 5 (target
# < 60 s), whose every combination of quasi-identifiers is then counted independently
# (a suppressed value matching any, as sdcMicro counts). No peer installs from the package
# registries (sdcMicro is on CRAN, out of reach): absolute figures. SQLite, the embedded default.
#
#   bash bench/governance_national.sh              # 1.9 M households (≈6.5 M persons)
#   HH=200000 bash bench/governance_national.sh    # smaller
#
# Builds its own database from the synthetic national registry (generated the first time, the
# same files as bench/server_national.sh), classifies it at 2026-11-23 and publishes that
# measurement.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/vamos-target}"
HH="${HH:-1900000}"
WORK="${WORK:-/tmp/vamos-bench}"
export VAMOS_AUDIT_KEY_FILE="${VAMOS_AUDIT_KEY_FILE:-$WORK/auditoria.key}"
mkdir -p "$WORK"
cargo build --release --locked -q -p vamos-cli
VAMOS="$CARGO_TARGET_DIR/release/vamos"
DATA="$WORK/data-$HH-7"
if [ ! -f "$DATA/manifest.json" ]; then
  "$VAMOS" synth --districts all --households "$HH" --seed 7 --out "$DATA" --reference-date 2026-11-01 --no-admin > /dev/null
fi
DB="sqlite:$WORK/governance-$HH.sqlite"
if [ ! -f "$WORK/governance-$HH.sqlite" ]; then
  VAMOS_ADMIN_PASSWORD='Banco-De-Prueba-2026' "$VAMOS" db init --db "$DB" > /dev/null
  echo "== importación del registro nacional (preparación)"
  peak() { /usr/bin/time -f "%e s, pico %M KB" "$@"; }
  peak "$VAMOS" import fips --db "$DB" "$DATA" --date 2026-11-23 > /dev/null
fi
if ! "$VAMOS" measurements list --db "$DB" | grep -q 2026-11-23; then
  "$VAMOS" classify --db "$DB" --as-of 2026-11-23 > /dev/null
fi
M=$("$VAMOS" measurements list --db "$DB" | awk '$2 == "2026-11-23" { print $1; exit }')
if ! "$VAMOS" measurements list --db "$DB" | awk -v m="$M" '$1 == m' | grep -q publicada; then
  "$VAMOS" measurements publish --db "$DB" "$M" > /dev/null
fi
peak() { /usr/bin/time -f "%e s, pico %M KB" "$@"; }

# The report's funnel section reads the referrals: generate them (one per unit and unprotected
# service, millions at national scale) so the report is measured with them.
if [ "$(sqlite3 "$WORK/governance-$HH.sqlite" "SELECT count(*) FROM referrals" 2> /dev/null || echo 0)" = "0" ]; then
  echo "== referencias de la medición $M (preparación)"
  peak "$VAMOS" referrals generate --db "$DB" --measurement "$M" | tail -1
fi
for t in 1116 PY; do
  echo "== informe trimestral de $t (2026-T4, medición $M)"
  peak "$VAMOS" report --db "$DB" --territory "$t" --period 2026-T4 --out "$WORK/informe-$t.pdf"
  "$VAMOS" report --db "$DB" --territory "$t" --period 2026-T4 --json > "$WORK/informe-$t.json"
done

echo "== extracto de microdatos del registro nacional, k = 5"
rm -rf "$WORK/microdatos"
peak "$VAMOS" microdata --db "$DB" --measurement "$M" --k 5 --out "$WORK/microdatos" --recipient "banco de pruebas"

echo "== comprobación independiente: cada combinación de cuasi-identificadores aparece al menos 5 veces"
python3 - "$WORK/microdatos" << 'PY'
import csv, json, sys, itertools, collections
d = sys.argv[1]
qi = ["grupo_edad", "sexo", "territorio", "area", "indigena", "discapacidad"]
with open(f"{d}/microdatos.csv", encoding="utf-8-sig") as f:
    r = csv.reader(f)
    h = next(r)
    idx = [h.index(q) for q in qi]
    rows = [tuple(row[i] for i in idx) for row in r]
full = collections.Counter(rows)
# fk with a suppressed (empty) value matching any value, on either side: group the distinct
# keys by which positions are empty; a key k and a key o agree when they are equal outside the
# union of their empty positions, so the count is one look-up per group of keys.
mask = lambda k: sum(1 << i for i, v in enumerate(k) if v == "")
proj = lambda k, u: tuple(v for i, v in enumerate(k) if not (u >> i) & 1)
groups = collections.defaultdict(list)
for k, n in full.items():
    groups[mask(k)].append((k, n))
cache = {}
def index(mo, u):
    if (mo, u) not in cache:
        c = collections.Counter()
        for k, n in groups[mo]:
            c[proj(k, u)] += n
        cache[(mo, u)] = c
    return cache[(mo, u)]
def fk(k):
    mk = mask(k)
    return sum(index(mo, mk | mo)[proj(k, mk | mo)] for mo in groups)
low_keys = [k for k in full if fk(k) < 5]
low = len(low_keys)
suppressed_keys = [k for k in full if "" in k]
risk = json.load(open(f"{d}/riesgo.json", encoding="utf-8"))
print(f"  {len(rows)} registros, {len(full)} combinaciones distintas, {len(suppressed_keys)} con valores suprimidos; combinaciones con menos de 5: {low} ({sum(full[k] for k in low_keys)} registros)")
print(f"  riesgo.json: k logrado {risk['k_logrado']}, registros con supresión {risk['registros_con_supresion']} ({100*risk['proporcion_de_registros_con_supresion']:.3f} %), generalizados {risk['registros_generalizados']}, niveles {risk['niveles_de_generalizacion']}, Σ1/f {risk['reidentificaciones_esperadas']:.1f} (antes {risk['reidentificaciones_esperadas_antes']:.1f})")
sys.exit(1 if low else 0)
PY
