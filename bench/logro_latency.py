"""Time from an accepted counter-referral to the updated Logro, over HTTP.

Posts one counter-referral (a new event id) for a person of the registry and polls
GET /api/logros until the latest measurement says it has applied counter-referrals up to that
event (`counter_referrals_applied_through`); prints the seconds, one line per trial, then the
median. Usage: python3 logro_latency.py BASE TOKEN PERSON_ID TRIALS RUN
"""
import json
import statistics
import sys
import time
import urllib.request

base, token, person, trials, run = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]


def call(method, path, body=None):
    req = urllib.request.Request(base + path, method=method, data=None if body is None else json.dumps(body).encode())
    req.add_header("Authorization", "Bearer " + token)
    req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=600) as r:
        return json.loads(r.read())


times = []
for t in range(trials):
    ev = {"event_id": f"{run}-lat-{t}", "person_id": person, "service": "control_prenatal", "delivered_on": "2026-11-20"}
    start = time.monotonic()
    out = call("POST", "/api/counter-referrals", ev)
    cid = out["result"]["counter_referral_id"]
    while True:
        m = call("GET", "/api/logros?territory=PY")["measurement"]
        if (m.get("counter_referrals_applied_through") or 0) >= cid:
            break
        time.sleep(0.02)
    times.append(time.monotonic() - start)
    print(f"ensayo {t + 1}: {times[-1]:.3f} s")
print(f"mediana: {statistics.median(times):.3f} s")
