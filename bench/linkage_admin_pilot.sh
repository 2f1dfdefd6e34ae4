#!/usr/bin/env bash
# Record linkage in the admin import, measured against the synthetic truth (issue 40): the four
# pilot districts (HH households, 100,000 by default; DISTRICTS=all HH=1900000 for the whole
# country), the survey imported, then the six
# administrative registries — whose records without a cédula match the import links by name,
# birth date, sex and district — and `vamos linkage check` against verdad/enlace_admin.csv.
# Prints the share of records left without a person or in review before and after linking, the
# precision of all links and of the model's, and the time of each step.
#
#   HH=100000 bash bench/linkage_admin_pilot.sh
#   DISTRICTS=all HH=1900000 WORK=/tmp/nacional bash bench/linkage_admin_pilot.sh
set -euo pipefail
cd "$(dirname "$0")/.."
HH="${HH:-100000}"
DISTRICTS="${DISTRICTS:-1116,1602,0218,0607}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/vamos-target-rel}"
cargo build --release --locked -q -p vamos-cli
V="$CARGO_TARGET_DIR/release/vamos"
W="${WORK:-$(mktemp -d)}"
mkdir -p "$W"
DB="sqlite:$W/piloto.sqlite"
rm -f "$W"/piloto.sqlite*
export VAMOS_AUDIT_KEY_FILE="$W/audit.key"
"$V" synth --districts "$DISTRICTS" --households "$HH" --seed 1 --out "$W/datos" --reference-date 2026-11-01 > /dev/null
"$V" db init --db "$DB" > /dev/null
/usr/bin/time -f "fips: %e s, %M KiB" "$V" import fips --db "$DB" "$W/datos/fips.csv" "$W/datos/fips-miembros.csv" --date 2026-11-01 > /dev/null
/usr/bin/time -f "admin (importación y enlace): %e s, %M KiB" "$V" import admin --db "$DB" "$W/datos/admin" --date 2026-11-01 --format json > "$W/admin.json"
"$V" linkage check --db "$DB" --truth "$W/datos/verdad/enlace_admin.csv" --format json > "$W/check.json"
python3 - "$W/admin.json" "$W/check.json" <<'PY'
import json, sys
a = json.load(open(sys.argv[1])); c = json.load(open(sys.argv[2]))
n = c["records"] - c["records_without_truth"]
print(f"registros administrativos: {c['records']:,} (fuera del registro por diseño: {c['outsiders']:,} = {c['outsiders']/n:.2%})")
print(f"sin coincidencia de cédula (antes del enlace): {a['records_unmatched']:,} = {a['records_unmatched']/c['records']:.2%}")
print(f"cédulas de alguien nacido otro día, juzgadas de nuevo por el modelo: {a['records_national_id_doubted']:,}")
print(f"enlazados por el modelo: {a['records_linked']:,} · en revisión: {a['records_for_review']:,} · enlace {a['linkage_seconds']:.1f} s")
print(f"sin persona o en revisión (después): {c['unmatched'] + c['waiting_review']:,} = {c['share_unmatched_or_in_review']:.2%}")
print(f"precisión de todos los enlaces: {c['precision']:.4%} · del modelo: {c['precision_model']:.4%} · errados: {c['wrong_links']} (de ellos, personas fuera del registro: {c['outsiders_linked']})")
print(f"modelo: {a['linkage_model']}")
PY
