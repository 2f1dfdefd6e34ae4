#!/usr/bin/env bash
# Benchmark: re-import of a national re-interview wave (issue 36) against the first import, and
# classification at a past date over two versions against a single-version registry.
#
#   bash bench/reinterview_national.sh             # national scale (1.9 M households)
#   HH=20000 bash bench/reinterview_national.sh    # smaller run
#
# In the same run, on the same machine:
#   1. vamos synth: the national wave (interviews in the 90 days before REF_DATE);
#   2. vamos import fips of it into an empty registry (timed: the baseline);
#   3. vamos synth --reinterview-of: the same households six months later (~10 % changed);
#   4. vamos import fips of the re-interview wave (timed) — target ≤ 2.5× step 2;
#   5. (unless CLASSIFY=0) classification at 1 June 2026 of that two-version registry against a
#      fresh import of the first wave alone, alternating, two runs each — target ≤ 1.3×.
# Both SQLite and (when it answers) PostgreSQL; BACKENDS=sqlite or BACKENDS=postgres runs one.
# Needs GNU time (Debian package time).
# Absolute times on a shared 2-core machine are noisy; the ratio is what to compare.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/vamos-target}"
HH="${HH:-1900000}"
SEED="${SEED:-7}"
WORK="${WORK:-/tmp/vamos-bench-reinterview}"
PG_ADMIN="${PG_ADMIN:-postgres://postgres@127.0.0.1:5432/postgres}"
export VAMOS_AUDIT_KEY_FILE="${VAMOS_AUDIT_KEY_FILE:-$WORK/auditoria.key}"
# The first wave is interviewed before REF_DATE, the second ~182 days later: both imports run
# on IMPORT_DATE, after all of them.
REF_DATE="${REF_DATE:-2026-05-01}"
IMPORT_DATE="${IMPORT_DATE:-2026-11-30}"
mkdir -p "$WORK"

if [ -z "${VAMOS:-}" ]; then
  cargo build --release --locked -p vamos-cli >&2
  VAMOS="$CARGO_TARGET_DIR/release/vamos"
fi
ONE="$WORK/wave1-$HH-$SEED"
TWO="$WORK/wave2-$HH-$SEED"

timed() { # label, command… → "label seconds peak_kib"
  local label="$1"; shift
  /usr/bin/time -f "%e %M" -o "$WORK/time.txt" "$@" > "$WORK/$label.out" 2> "$WORK/$label.err"
  read -r secs kib < <(tail -n 1 "$WORK/time.txt")
  echo "$label $secs $kib"
}

if [ ! -f "$ONE/manifest.json" ]; then
  echo "generando la primera ola: $HH hogares (semilla $SEED)…" >&2
  "$VAMOS" synth --districts all --households "$HH" --seed "$SEED" --out "$ONE" --reference-date "$REF_DATE" --no-admin > /dev/null
fi
if [ ! -f "$TWO/manifest.json" ]; then
  echo "generando la reentrevista…" >&2
  "$VAMOS" synth --reinterview-of "$ONE" --seed "$SEED" --out "$TWO" > /dev/null
fi
persons=$(($(wc -l < "$ONE/fips-miembros.csv") - 1))
echo "datos: $HH hogares, $persons personas en la primera ola"

BACKENDS="${BACKENDS:-sqlite postgres}"
if [[ "$BACKENDS" == *postgres* ]] && ! pg_isready -h 127.0.0.1 -p 5432 -q; then
  BACKENDS="${BACKENDS//postgres/}"
fi
pg_url() { echo "${PG_ADMIN%/*}/$1"; }
fresh() { # backend, name → the URL of an empty, initialised registry
  if [ "$1" = sqlite ]; then
    rm -f "$WORK/$2.sqlite" "$WORK/$2.sqlite-wal" "$WORK/$2.sqlite-shm"
    echo "sqlite:$WORK/$2.sqlite"
  else
    psql "$PG_ADMIN" -q -c "DROP DATABASE IF EXISTS vamos_bench_$2" -c "CREATE DATABASE vamos_bench_$2" > /dev/null
    rm -f "$VAMOS_AUDIT_KEY_FILE.vamos_bench_$2.checkpoint.json" # the dropped database's
    pg_url "vamos_bench_$2"
  fi
}

results=()
declare -A url
for b in $BACKENDS; do
  url[$b]="$(fresh "$b" "${b}_versions")"
  "$VAMOS" db init --db "${url[$b]}" > /dev/null
  results+=("$(timed "${b}_first" "$VAMOS" import fips --db "${url[$b]}" "$ONE" --date "$IMPORT_DATE" --format json --rejects "$WORK/rechazos1-$b.csv")")
  results+=("$(timed "${b}_reinterview" "$VAMOS" import fips --db "${url[$b]}" "$TWO" --date "$IMPORT_DATE" --format json --rejects "$WORK/rechazos2-$b.csv" --changes "$WORK/cambios-$b.csv")")
done

echo
printf "%-24s %10s %12s\n" "paso" "segundos" "memoria MiB"
declare -A secs
for r in "${results[@]}"; do
  read -r label s kib <<< "$r"
  secs[$label]=$s
  printf "%-24s %10.2f %12.0f\n" "$label" "$s" "$((kib / 1024))"
done
echo
for b in sqlite postgres; do
  if [ -n "${secs[${b}_first]:-}" ]; then
    echo "$b: reentrevista / primera importación = $(awk -v a="${secs[${b}_reinterview]}" -v f="${secs[${b}_first]}" 'BEGIN {printf "%.2f", a / f}')× (objetivo ≤ 2,5×)"
    tail -n 1 "$WORK/${b}_reinterview.out" | sed 's/^/  resumen: /' | cut -c1-400
  fi
done

# Classification at a past date (1 June 2026: after the first wave, before the re-interviews)
# over the two-version registry against a fresh single-version import of the first wave,
# alternating, two runs each, on each backend (CLASSIFY=0 skips it).
if [ "${CLASSIFY:-1}" != 0 ]; then
  for b in $BACKENDS; do
    single="$(fresh "$b" "${b}_single")"
    "$VAMOS" db init --db "$single" > /dev/null
    "$VAMOS" import fips --db "$single" "$ONE" --date "$IMPORT_DATE" --format json \
      --rejects "$WORK/rechazos3-$b.csv" > /dev/null
    echo
    printf "%-34s %10s %22s\n" "$b: clasificación al 2026-06-01" "segundos" "personas, hogares"
    for run in 1 2; do
      for db in single versions; do
        target="$single"; [ "$db" = versions ] && target="${url[$b]}"
        r="$(timed "classify_${b}_${db}_$run" "$VAMOS" classify --db "$target" --as-of 2026-06-01 --format json)"
        read -r _ s _ <<< "$r"
        counts=$(python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(d['persons'], d['households'])" "$WORK/classify_${b}_${db}_$run.out")
        printf "%-34s %10.2f %22s\n" "$([ $db = single ] && echo 'una versión' || echo 'dos versiones') (corrida $run)" "$s" "$counts"
      done
    done
  done
fi
