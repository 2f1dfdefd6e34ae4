#!/usr/bin/env bash
# Benchmark: counter-referral ingestion over HTTP at national scale — single events
# (POST /api/counter-referrals) and batches (POST /api/counter-referrals/batch), measured with
# wrk on loopback, SQLite and PostgreSQL side by side in the same run — and the time from an
# accepted event to the updated Logro (the server's incremental updater).
#
#   bash bench/access_national.sh                  # the databases of bench/server_national.sh
#   BACKENDS=sqlite bash bench/access_national.sh  # one backend only
#   BACKLOG_WAIT=120 bash bench/access_national.sh # give up waiting for the updater after 120 s
#   BATCH_DURATION=10s bash bench/access_national.sh # a burst only (the server's writer applies
#                                                  # its intake log under load after 10 s)
#
# Uses the national registry built by bench/server_national.sh (run it first, or with
# PREPARE_ONLY=1). Classifies it and generates its referrals once per backend (a measurement
# to update, referrals for the events to answer; a previous run's events are deleted first). Every commit is
# durable: SQLite syncs counter-referral commits to disk (synchronous = FULL), PostgreSQL
# commits with synchronous_commit = on. Needs wrk and python3.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/resident.sh
. bench/resident.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/vamos-target}"
HH="${HH:-1900000}"
WORK="${WORK:-/tmp/vamos-bench}"
PG_ADMIN="${PG_ADMIN:-postgres://postgres@127.0.0.1:5432/postgres}"
PG_DB="${PG_DB:-vamos_server_bench}"
# The audit key every command and server here seals with (PostgreSQL has no default place for
# it; the SQLite databases use it too, each keeping its checkpoint beside it).
export VAMOS_AUDIT_KEY_FILE="${VAMOS_AUDIT_KEY_FILE:-$WORK/auditoria.key}"
DURATION="${DURATION:-20s}"
# Batches run longer: the server's writer applies its intake log between groups once the oldest
# logged event waited 10 s, so a longer run measures what it sustains, not only a burst.
BATCH_DURATION="${BATCH_DURATION:-60s}"
BATCH="${BATCH:-1000}"
cargo build --release --locked -q -p vamos-cli
VAMOS="$CARGO_TARGET_DIR/release/vamos"
SQLITE="sqlite:$WORK/server-$HH.sqlite"
PG="${PG_ADMIN%/*}/$PG_DB"
RUN="r$(date +%s)"
[ -f "$WORK/server-$HH.sqlite" ] || { echo "falta $WORK/server-$HH.sqlite: ejecute PREPARE_ONLY=1 bash bench/server_national.sh" >&2; exit 2; }

max_id() {
  case "$1" in
    sqlite:*) sqlite3 "${1#sqlite:}" "SELECT MAX(id) FROM persons" ;;
    *) psql "$1" -tAc "SELECT MAX(id) FROM persons" ;;
  esac
}
sql() { # url query
  case "$1" in
    sqlite:*) sqlite3 "${1#sqlite:}" "$2" ;;
    *) psql "$1" -tAc "$2" ;;
  esac
}

run() { # label url
  local label="$1" url="$2" token pid out base m
  "$VAMOS" db init --db "$url" > /dev/null
  # The MSPBS's national system: an operador is territorial (no empty list, no PY), so it names
  # every department. (An earlier bench_mspbs, made with PY, can no longer act: a new name.)
  if ! "$VAMOS" user list --db "$url" 2> /dev/null | grep -q bench_his_mspbs; then
    VAMOS_PASSWORD='Banco-De-Prueba-2026' "$VAMOS" user create --db "$url" bench_his_mspbs --role operador --institution MSPBS \
      --territories 00,01,02,03,04,05,06,07,08,09,10,11,12,13,14,15,16,17 > /dev/null
  fi
  # A previous run's counter-referrals would leave the updater a backlog: start afresh.
  if [ "$(sql "$url" "SELECT count(*) FROM counter_referrals")" != "0" ]; then
    echo "$label: borrando la medición, las referencias y las contra-referencias de una corrida anterior…" >&2
    # PostgreSQL: TRUNCATE, not DELETE — millions of dead rows (autovacuum is off on these
    # machines) made every `max(id)` walk them: single events fell to ~100/s.
    case "$url" in
      sqlite:*) sql "$url" "DELETE FROM counter_referral_log; DELETE FROM counter_referrals; DELETE FROM referral_events; DELETE FROM referrals; DELETE FROM measurement_districts; DELETE FROM measurements;" > /dev/null ;;
      *) sql "$url" "TRUNCATE counter_referral_log, counter_referrals, referral_events, referrals, measurement_districts, measurements" > /dev/null ;;
    esac
  fi
  if [ "$(sql "$url" "SELECT count(*) FROM measurements")" = "0" ]; then
    echo "clasificando $label y generando sus referencias (una vez)…" >&2
    /usr/bin/time -f "  clasificación nacional: %e s, %M KiB" "$VAMOS" classify --db "$url" --as-of 2026-11-23 > /dev/null
    /usr/bin/time -f "  generación de referencias: %e s, %M KiB" "$VAMOS" referrals generate --db "$url" > /dev/null
    echo "  referencias abiertas: $(sql "$url" "SELECT count(*) FROM referrals")" >&2
  fi
  # Measure a server that has been running (its database in the operating system's cache), not
  # one whose cache the referral generation above has just pushed out, nor one still writing
  # that generation out: a checkpoint first (PostgreSQL's spread checkpoint of millions of new
  # referrals ran through a whole measurement once: 2,050 batch events/s against 15,900/s by hand
  # a minute later).
  case "$url" in
    sqlite:*) sql "$url" "PRAGMA wal_checkpoint(TRUNCATE)" > /dev/null ;;
    *) sql "$url" "CHECKPOINT" > /dev/null ;;
  esac
  case "$url" in
    sqlite:*) cat "${url#sqlite:}" > /dev/null ;;
    # PostgreSQL: every table into the operating system's cache, then what the counter-referral
    # path reads into PostgreSQL's own buffers (as far as shared_buffers holds them).
    *) sql "$url" "CREATE EXTENSION IF NOT EXISTS pg_prewarm; SELECT count(pg_prewarm(c.oid::regclass, 'read')) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind IN ('r', 'i')" > /dev/null
       sql "$url" "SELECT count(pg_prewarm(c.oid::regclass)) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relname IN ('persons', 'persons_pkey', 'persons_national_id', 'households', 'households_pkey', 'referrals_unit_service', 'referrals', 'counter_referrals', 'counter_referrals_pkey', 'counter_referrals_institution_event_key_key', 'counter_referrals_person')" > /dev/null ;;
  esac
  token=$("$VAMOS" token create --db "$url" --user bench_his_mspbs --name "wrk" --days 1 --scopes contrarreferencias:enviar,logros:leer 2> /dev/null)
  MONITOR_TOKEN=$(monitor_token "$url")
  out="$WORK/access-$label.out"
  VAMOS_API_RATE_PER_MINUTE=100000000 VAMOS_LOG=warn "$VAMOS" serve --db "$url" --addr 127.0.0.1:0 > "$out" 2> "$WORK/access-$label.err" &
  pid=$!
  for _ in $(seq 1 100); do grep -q escuchando "$out" 2> /dev/null && break; sleep 0.1; done
  base=$(sed -n 's/^Vamos escuchando en //p' "$out")
  wait_resident "$base" "$pid"
  m=$(max_id "$url")
  # Time to the updated Logro on a quiet server (one district reloaded twice).
  python3 bench/logro_latency.py "$base" "$token" 1 3 "$RUN-$label" > "$WORK/latency-$label-quiet.txt"
  for what in one batch; do
    case $what in
      one) TOKEN="$token" MAX_ID="$m" RUN="$RUN-$label" wrk -t2 -c16 -d"$DURATION" --latency -s bench/wrk/counter_one.lua "$base" > "$WORK/wrk-access-$label-$what.txt" ;;
      batch) TOKEN="$token" MAX_ID="$m" RUN="$RUN-$label" BATCH="$BATCH" wrk -t2 -c4 -d"$BATCH_DURATION" --latency --timeout 60s -s bench/wrk/counter_batch.lua "$base" > "$WORK/wrk-access-$label-$what.txt" ;;
    esac
    rps=$(awk '/Requests\/sec/ {print $2}' "$WORK/wrk-access-$label-$what.txt")
    p50=$(awk '$1 == "50%" {print $2}' "$WORK/wrk-access-$label-$what.txt")
    p99=$(awk '$1 == "99%" {print $2}' "$WORK/wrk-access-$label-$what.txt")
    non2xx=$(awk '/Non-2xx/ {print $NF}' "$WORK/wrk-access-$label-$what.txt")
    events=$rps
    [ "$what" = batch ] && events=$(awk -v r="$rps" -v b="$BATCH" 'BEGIN {printf "%.0f", r * b}')
    printf "%-10s %-6s %12s %12s %10s %10s %8s\n" "$label" "$what" "$rps" "$events" "$p50" "$p99" "${non2xx:-0}"
  done
  # The backlog of the burst: time until the writer has applied its intake log (the events in
  # counter_referrals, their referrals answered), then until the updater has applied everything
  # received to the Logros.
  local last t0 applied_log
  t0=$(date +%s.%N)
  applied_log=$(python3 - "$base" "${BACKLOG_WAIT:-600}" "$MONITOR_TOKEN" << 'PY'
import json, sys, time, urllib.request
base, limit, token = sys.argv[1], float(sys.argv[2]), sys.argv[3]
ready = urllib.request.Request(base + "/api/ready", headers={"authorization": "Bearer " + token})
t0 = time.time()
first = None
while time.time() - t0 < limit:
    pending = json.load(urllib.request.urlopen(ready))["counter_referral_intake"]["pending"]
    first = pending if first is None else first
    if pending == 0:
        print(f"{first} en el registro de entrada al terminar la carga, aplicadas {time.time() - t0:.1f} s después")
        sys.exit(0)
    time.sleep(0.2)
print(f"registro de entrada NO aplicado {limit:.0f} s después de la carga")
PY
)
  echo "$label: $applied_log"
  last=$(sql "$url" "SELECT MAX(id) FROM counter_referrals")
  local waited=0
  while [ "$(sql "$url" "SELECT cr_applied_id FROM measurements ORDER BY id DESC LIMIT 1")" -lt "$last" ] && [ "$waited" -lt "${BACKLOG_WAIT:-600}" ]; do sleep 1; waited=$((waited + 1)); done
  if [ "$waited" -ge "${BACKLOG_WAIT:-600}" ]; then
    echo "$label: Logros NO al día ${BACKLOG_WAIT:-600} s después de la carga ($last contra-referencias); una sola, en reposo: $(tail -1 "$WORK/latency-$label-quiet.txt")"
  else
    echo "$label: Logros al día con las $last contra-referencias $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}') s después de la carga; una sola, en reposo: $(tail -1 "$WORK/latency-$label-quiet.txt")"
  fi
  kill "$pid"; wait "$pid" 2> /dev/null || true
}

echo "contra-referencias: wrk -t2 (-c16 sueltas -d$DURATION, -c4 lotes de $BATCH -d$BATCH_DURATION); $(nproc) núcleos; registro de $(max_id "$SQLITE") personas (sintéticas)"
echo "PostgreSQL: $(psql "$PG" -tAc "SELECT string_agg(name || ' = ' || current_setting(name), ', ' ORDER BY name) FROM pg_settings WHERE name IN ('shared_buffers', 'synchronous_commit', 'autovacuum', 'max_wal_size', 'checkpoint_timeout', 'huge_pages')"); páginas grandes del sistema: $(awk '/HugePages_Total/ {t = $2} /HugePages_Rsvd/ {r = $2} /HugePages_Free/ {f = $2} END {printf "%d, %d en uso o reservadas", t, t - f + r}' /proc/meminfo); aplicadores del registro de entrada: ${VAMOS_COUNTER_REFERRAL_APPLIERS:-2}"
printf "%-10s %-6s %12s %12s %10s %10s %8s\n" "base" "envío" "solic./s" "eventos/s" "p50" "p99" "no-2xx"
for backend in ${BACKENDS:-sqlite postgres}; do
  case $backend in
    sqlite) run sqlite "$SQLITE" ;;
    postgres) run postgres "$PG" ;;
  esac
done
