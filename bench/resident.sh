#!/usr/bin/env bash
# Sourced by the server benches: wait_resident BASE waits (up to 10 minutes) until the server
# at BASE has read the latest measurement's registry into memory for its Logros updater
# where every person lives for the counter-referral checks, and which units were referred for
# which service (`/api/ready` → none of resident_registry.state, person_places.state,
# counter_referral_intake.referrals.state "loading"), so that the measurement sees a
# server that has been running, not one busy reading the registry. Prints the state, the
# seconds waited and (given the server's PID) its resident memory on stderr. `/api/ready` needs
# a monitoring token: MONITOR_TOKEN, made by `monitor_token URL` before the server starts.
monitor_token() { # db-url
  "$VAMOS" token create --db "$1" --user admin --name "bench monitoreo" --days 1 --scopes monitoreo:leer 2> /dev/null
}

wait_resident() { # base [pid]
  local t0 state="" rss=""
  t0=$(date +%s.%N)
  sleep 1
  for _ in $(seq 1 1200); do
    state=$(curl -s -H "authorization: Bearer ${MONITOR_TOKEN:?}" "$1/api/ready" | python3 -c 'import json, sys; r = json.load(sys.stdin); print(r.get("resident_registry", {}).get("state", ""), r.get("person_places", {}).get("state", ""), r.get("counter_referral_intake", {}).get("referrals", {}).get("state", ""))' 2> /dev/null || true)
    case " $state " in *" loading "*) ;; *) break ;; esac
    sleep 0.5
  done
  [ -n "${2:-}" ] && rss=", servidor $(ps -o rss= -p "$2" | awk '{printf "%.0f MiB", $1 / 1024}')"
  echo "  registro en memoria para los Logros, domicilios y referencias: ${state:-?} ($(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}') s desde el arranque$rss)" >&2
}
