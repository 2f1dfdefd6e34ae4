#!/usr/bin/env bash
# Benchmark: import of a national synthetic FIPS survey (≈6.5 M persons, 1.9 M households).
#
#   bash bench/import_national.sh            # national scale (needs ~6 GB free in $WORK)
#   HH=200000 bash bench/import_national.sh  # smaller run
#
# Side by side in the same run, on the same CSV files:
#   1. peer: the sqlite3 shell's `.import` into plain TEXT tables (no validation, no indexes);
#   2. vamos import fips into SQLite (validation, rejection report, provenance, indexes);
#   3. the same again (re-import: every submission already registered, nothing written);
#   4. peer: psql `\copy` of the same CSVs into plain TEXT tables in PostgreSQL;
#   5. vamos import fips into PostgreSQL (COPY inside one transaction).
# Needs: sqlite3, psql and GNU time (Debian packages sqlite3, postgresql-client, time).
# Prints wall seconds, peak resident memory (GNU time) and the ratios. Absolute times on a
# shared 2-core machine are noisy; the ratios are what to compare.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/vamos-target}"
HH="${HH:-1900000}"
SEED="${SEED:-7}"
WORK="${WORK:-/tmp/vamos-bench}"
PG_ADMIN="${PG_ADMIN:-postgres://postgres@127.0.0.1:5432/postgres}"
PG_DB="${PG_DB:-vamos_bench}"
# The audit key every command and server here seals with (PostgreSQL has no default place for
# it; the SQLite databases use it too, each keeping its checkpoint beside it).
export VAMOS_AUDIT_KEY_FILE="${VAMOS_AUDIT_KEY_FILE:-$WORK/auditoria.key}"
REF_DATE="${REF_DATE:-2026-11-01}"
mkdir -p "$WORK"

cargo build --release --locked -p vamos-cli >&2
VAMOS="$CARGO_TARGET_DIR/release/vamos"
DATA="$WORK/data-$HH-$SEED"

timed() { # label, command… → "label seconds peak_kib"
  local label="$1"; shift
  /usr/bin/time -f "%e %M" -o "$WORK/time.txt" "$@" > "$WORK/$label.out" 2> "$WORK/$label.err"
  read -r secs kib < <(tail -n 1 "$WORK/time.txt")
  echo "$label $secs $kib"
}

if [ ! -f "$DATA/manifest.json" ]; then
  echo "generando datos sintéticos: $HH hogares (semilla $SEED)…" >&2
  timed synth "$VAMOS" synth --districts all --households "$HH" --seed "$SEED" --out "$DATA" --reference-date "$REF_DATE" --no-admin
fi
persons=$(($(wc -l < "$DATA/fips-miembros.csv") - 1))
households=$(($(wc -l < "$DATA/fips.csv") - 1))
size=$(du -m "$DATA/fips.csv" "$DATA/fips-miembros.csv" | awk '{s+=$1} END {print s}')
echo "datos: $households hogares, $persons personas, ${size} MB de CSV"

results=()
rm -f "$WORK/peer.sqlite"
results+=("$(timed sqlite3_import sqlite3 "$WORK/peer.sqlite" ".mode csv" ".import $DATA/fips.csv hogares" ".import $DATA/fips-miembros.csv miembros")")
rm -f "$WORK/vamos.sqlite" "$WORK/vamos.sqlite-wal" "$WORK/vamos.sqlite-shm"
"$VAMOS" db init --db "sqlite:$WORK/vamos.sqlite" > /dev/null
results+=("$(timed vamos_sqlite "$VAMOS" import fips --db "sqlite:$WORK/vamos.sqlite" "$DATA" --date "$REF_DATE" --format json --rejects "$WORK/rechazos.csv")")
results+=("$(timed vamos_sqlite_reimport "$VAMOS" import fips --db "sqlite:$WORK/vamos.sqlite" "$DATA" --date "$REF_DATE" --format json --rejects "$WORK/rechazos2.csv")")

if pg_isready -h 127.0.0.1 -p 5432 -q; then
  psql "$PG_ADMIN" -q -c "DROP DATABASE IF EXISTS ${PG_DB}_peer" -c "CREATE DATABASE ${PG_DB}_peer" \
    -c "DROP DATABASE IF EXISTS $PG_DB" -c "CREATE DATABASE $PG_DB" > /dev/null
  rm -f "$VAMOS_AUDIT_KEY_FILE.$PG_DB.checkpoint.json" # the dropped database's
  peer_url="${PG_ADMIN%/*}/${PG_DB}_peer"
  for t in hogares:fips.csv miembros:fips-miembros.csv; do
    cols=$(head -n 1 "$DATA/${t#*:}" | tr -d '\r' | awk -F, '{for (i = 1; i <= NF; i++) printf "%s\"%s\" text", (i > 1 ? ", " : ""), $i}')
    psql "$peer_url" -q -c "CREATE TABLE ${t%%:*} ($cols)"
  done
  results+=("$(timed psql_copy psql "$peer_url" -q -c "\\copy hogares FROM '$DATA/fips.csv' CSV HEADER" -c "\\copy miembros FROM '$DATA/fips-miembros.csv' CSV HEADER")")
  pg_url="${PG_ADMIN%/*}/$PG_DB"
  "$VAMOS" db init --db "$pg_url" > /dev/null
  results+=("$(timed vamos_postgres "$VAMOS" import fips --db "$pg_url" "$DATA" --date "$REF_DATE" --format json --rejects "$WORK/rechazos-pg.csv")")
fi

echo
printf "%-24s %10s %12s %14s\n" "paso" "segundos" "memoria MiB" "personas/s"
declare -A secs
for r in "${results[@]}"; do
  read -r label s kib <<< "$r"
  secs[$label]=$s
  printf "%-24s %10.2f %12.0f %14.0f\n" "$label" "$s" "$((kib / 1024))" "$(awk -v a="$persons" -v b="$s" 'BEGIN {print a / b}')"
done
echo
printf "vamos SQLite / sqlite3 .import:  %.2f×\n" "$(awk -v a="${secs[vamos_sqlite]}" -v b="${secs[sqlite3_import]}" 'BEGIN {print a / b}')"
[ -n "${secs[vamos_postgres]:-}" ] && printf "vamos PostgreSQL / psql \\\\copy:   %.2f×\n" "$(awk -v a="${secs[vamos_postgres]}" -v b="${secs[psql_copy]}" 'BEGIN {print a / b}')"
echo "resumen vamos SQLite: $(tail -n 1 "$WORK/vamos_sqlite.out")"
echo "resumen re-importación: $(tail -n 1 "$WORK/vamos_sqlite_reimport.out")"
[ -f "$WORK/vamos_postgres.out" ] && echo "resumen vamos PostgreSQL: $(tail -n 1 "$WORK/vamos_postgres.out")"
