#!/usr/bin/env bash
# Benchmark (issue 36): classification at a past as_of over a registry with two versions,
# against a single-version classification of the same registry, in the same run (target: the
# ratio ≤ 1.3).
#
#   bash bench/versions_classify.sh                      # builds a small synthetic registry
#                                                        # (HH=20000, SQLite) and its 2nd versions
#   HH=50000 bash bench/versions_classify.sh             # a bigger synthetic one
#   bash bench/versions_classify.sh sqlite:/ruta/vamos.sqlite   # an existing two-version registry
#   bash bench/versions_classify.sh postgres://postgres@127.0.0.1:5432/vamos_reentrevista
#   AS_OF=2026-11-23 RUNS=3 bash bench/versions_classify.sh <URL>
#
# With a database URL (e.g. after the national re-interview import) the registry is used as it
# is; the single-version baseline is a copy of it without its history (SQLite: a copy of the
# file; PostgreSQL: CREATE DATABASE … TEMPLATE), classified at the same date, so both read the
# same number of current rows. Without a URL a synthetic 4-district registry is built and ~10 %
# of its households and persons get a second version (changed answers, valid from and recorded
# after AS_OF) by SQL, the way a re-interview writes it; the baseline is the registry before.
# Each classification runs RUNS times; the best wall time counts. Release build (PROFILE=debug
# for a quick check).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/vamos-target}"
HH="${HH:-20000}"
RUNS="${RUNS:-3}"
AS_OF="${AS_OF:-2026-11-23}"
WORK="${WORK:-/tmp/vamos-bench-versions}"
mkdir -p "$WORK"
export VAMOS_AUDIT_KEY_FILE="${VAMOS_AUDIT_KEY_FILE:-$WORK/auditoria.key}"
# PROFILE=debug reuses a debug build (a quick check of the ratio; figures are not comparable).
PROFILE="${PROFILE:-release}"
if [ "$PROFILE" = release ]; then
  cargo build --release --locked -q -p vamos-cli
else
  cargo build --locked -q -p vamos-cli
fi
VAMOS="$CARGO_TARGET_DIR/$PROFILE/vamos"

sql() { # url query
  case "$1" in
    sqlite:*) sqlite3 "${1#sqlite:}" "$2" ;;
    *) psql "$1" -v ON_ERROR_STOP=1 -qtAc "$2" ;;
  esac
}

best() { # url → best wall time (s) of RUNS classifications at AS_OF
  local url="$1" b="" t0 t1 t
  for _ in $(seq "$RUNS"); do
    t0=$(date +%s.%N)
    "$VAMOS" classify --db "$url" --as-of "$AS_OF" --format json > "$WORK/last.json"
    t1=$(date +%s.%N)
    t=$(echo "$t1 - $t0" | bc -l)
    if [ -z "$b" ] || [ "$(echo "$t < $b" | bc -l)" = 1 ]; then b="$t"; fi
  done
  echo "$b"
}

persons_read() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["persons"])' "$WORK/last.json"; }

if [ $# -ge 1 ]; then
  URL="$1"
  "$VAMOS" db init --db "$URL" > /dev/null
  case "$URL" in
    sqlite:*)
      BASE="sqlite:$WORK/baseline.sqlite"
      sqlite3 "${URL#sqlite:}" ".backup '$WORK/baseline.sqlite'"
      ;;
    *)
      BASE="${URL%/*}/vamos_versions_baseline"
      psql "${URL%/*}/postgres" -qc "DROP DATABASE IF EXISTS vamos_versions_baseline WITH (FORCE)"
      psql "${URL%/*}/postgres" -qc "CREATE DATABASE vamos_versions_baseline TEMPLATE ${URL##*/}"
      ;;
  esac
  sql "$BASE" "DELETE FROM person_history; DELETE FROM household_history;"
else
  DATA="$WORK/synth-$HH"
  [ -d "$DATA" ] || "$VAMOS" synth --households "$HH" --seed 36 --out "$DATA" --reference-date "$AS_OF" > /dev/null
  BASE="sqlite:$WORK/single-$HH.sqlite"
  URL="sqlite:$WORK/two-$HH.sqlite"
  rm -f "$WORK/single-$HH.sqlite"* "$WORK/two-$HH.sqlite"*
  "$VAMOS" db init --db "$BASE" > /dev/null
  "$VAMOS" import fips --db "$BASE" "$DATA" --date "$AS_OF" > /dev/null
  sqlite3 "${BASE#sqlite:}" ".backup '$WORK/two-$HH.sqlite'"
  # Second versions of ~10 % of the units: the old row to the history, the current one changed
  # (one more room, a changed school answer), valid from and recorded after AS_OF.
  sql "$URL" "
    INSERT INTO household_history SELECT * FROM households WHERE id % 10 = 3;
    UPDATE households SET version = version + 1, valid_from = '2027-05-20',
      recorded_at = '2027-06-01T12:00:00Z', interview_date = '2027-05-20',
      cuartos = coalesce(cuartos, 1) + 1 WHERE id % 10 = 3;
    INSERT INTO person_history SELECT * FROM persons WHERE id % 10 = 7;
    UPDATE persons SET version = version + 1, valid_from = '2027-05-20',
      recorded_at = '2027-06-01T12:00:00Z', asiste_escuela = NULL WHERE id % 10 = 7;"
fi

echo "registro de dos versiones: $URL"
echo "registro de una versión:   $BASE"
single=$(best "$BASE")
n1=$(persons_read)
two=$(best "$URL")
n2=$(persons_read)
ratio=$(echo "$two / $single" | bc -l)
printf 'una versión:   %.3f s (%s personas)\n' "$single" "$n1"
printf 'dos versiones: %.3f s (%s personas) al %s\n' "$two" "$n2" "$AS_OF"
printf 'razón: %.3f (objetivo ≤ 1.3)\n' "$ratio"
