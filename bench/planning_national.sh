#!/usr/bin/env bash
# Benchmark: planning and budgeting at national scale (issue 38) — the costing sweep (every
# district × ten Logros × a target by each year 2026–2030), one costing scenario from the web
# (GET /api/costing, a different random district, Logro, target and year per request, answered
# from the gaps the server keeps in memory), a department's scenario, the strategic framework
# with a target for every district (import, view, export) and a national-size budget file
# (import, needed vs allocated). No costing or planning peer installs from the package
# registries (the ILO tools are spreadsheets): absolute figures. SQLite, the embedded default.
#
#   bash bench/planning_national.sh              # 1.9 M households (≈6.5 M persons)
#   HH=200000 bash bench/planning_national.sh    # smaller
#
# Reuses the database of bench/server_national.sh (built here when missing) and classifies it
# at 2026-11-23 when it has no measurement. The budget file is SYNTHETIC (generated here).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/vamos-target}"
HH="${HH:-1900000}"
WORK="${WORK:-/tmp/vamos-bench}"
export VAMOS_AUDIT_KEY_FILE="${VAMOS_AUDIT_KEY_FILE:-$WORK/auditoria.key}"
DURATION="${DURATION:-20s}"
PREPARE_ONLY=1 BACKENDS=sqlite HH="$HH" bash bench/server_national.sh
VAMOS="$CARGO_TARGET_DIR/release/vamos"
DB="sqlite:$WORK/server-$HH.sqlite"
"$VAMOS" db init --db "$DB" > /dev/null # migrations newer than the import
if ! "$VAMOS" measurements list --db "$DB" | grep -q 2026-11-23; then
  "$VAMOS" classify --db "$DB" --as-of 2026-11-23 > /dev/null
fi
if ! "$VAMOS" user list --db "$DB" | grep -q bench_plan; then
  VAMOS_PASSWORD='Banco-De-Prueba-2026' "$VAMOS" user create --db "$DB" bench_plan --role planificador > /dev/null
fi
peak() { /usr/bin/time -f "%e s, pico %M KB" "$@"; }

echo "== barrido: cada distrito × diez Logros × meta al 70 % en cada año 2026–2030"
peak "$VAMOS" cost --db "$DB" --territory PY --target 0.7 --sweep 2026-2030 2>&1 | grep -v "^  meta"

echo "== un departamento desde la línea de órdenes (lee su registro)"
peak "$VAMOS" cost --db "$DB" --territory 02 --logro 4 --target 0.7 --by 2028 > /dev/null

echo "== el Marco Estratégico ilustrativo con una meta por distrito (8 indicadores medidos × 263 distritos × 2027–2028)"
"$VAMOS" plan template --illustrative --out "$WORK/marco.xlsx" > /dev/null
python3 - "$WORK" << 'PY'
import json, sys
work = sys.argv[1]
districts = [l.split(",")[3] for l in open("data/territory/distritos_cnpv2022.csv", encoding="utf-8").read().splitlines()[1:] if l]
values = [{"indicator": i, "territory": d, "year": y, "target": 0.8}
          for i in ["I1", "I2", "I3", "I4", "I5", "I6", "I7", "I8"] for d in districts for y in (2027, 2028)]
json.dump({"values": values}, open(f"{work}/metas.json", "w"))
print(f"  {len(values)} metas en {len(districts)} distritos", file=sys.stderr)
PY
echo "== presupuesto SINTÉTICO de tamaño nacional"
python3 - "$WORK" << 'PY'
import random, sys
random.seed(38)
services = ["educacion_escolar_basica", "alimentacion_escolar", "vacunacion_ninez", "cedula_ninez", "tekopora", "pension_vejez", "agua_segura", ""]
entities = ["MEC", "MSPBS", "MDS", "DGIC", "SENASA", "MINNA", "MTESS", "INAN"]
with open(f"{sys.argv[1]}/presupuesto_sintetico.csv", "w", encoding="utf-8") as f:
    f.write("anio,tipo_presupuesto,programa,subprograma,proyecto,entidad,objeto_gasto,fuente_financiamiento,organismo_financiador,departamento,presupuesto_inicial,presupuesto_vigente,obligado,pagado,servicio_vamos,ilustrativo\n")
    for n in range(60000):
        v = random.randint(10**6, 10**10); o = random.randint(0, v); p = random.randint(0, o)
        f.write(f"2027,Programas de acción,Programa {n % 400},Sub {n % 37},Proyecto {n},{random.choice(entities)},Objeto {n % 90},{random.choice([10, 10, 10, 20, 30])},Organismo {n % 12},{random.randint(0, 17):02d},{v},{v},{o},{p},{random.choice(services)},sí\n")
PY
peak "$VAMOS" budget import --db "$DB" --as bench_plan "$WORK/presupuesto_sintetico.csv"

echo "== el servidor: brechas de la nación en memoria, luego escenarios desde la web"
OUT="$WORK/serve-planning.out"
VAMOS_API_RATE_PER_MINUTE=100000000 VAMOS_LOG=info "$VAMOS" serve --db "$DB" --addr 127.0.0.1:0 > "$OUT" 2>&1 &
PID=$!
trap 'kill $PID 2> /dev/null || true' EXIT
for _ in $(seq 1 100); do grep -q escuchando "$OUT" 2> /dev/null && break; sleep 0.1; done
BASE=$(sed -n 's/^Vamos escuchando en //p' "$OUT")
for _ in $(seq 1 1200); do grep -q "brechas de costeo" "$OUT" && break; sleep 0.5; done
grep -o '"brechas":[0-9]*,"segundos":[0-9.]*' "$OUT" | head -1
echo "  servidor: $(ps -o rss= -p "$PID" | awk '{printf "%.0f MiB", $1 / 1024}') residentes"
TOKEN=$("$VAMOS" token create --db "$DB" --user bench_his --name "wrk costeo" --days 1 --scopes logros:leer,planes:leer 2> /dev/null)
PTOKEN=$("$VAMOS" token create --db "$DB" --user bench_plan --name "planes" --days 1 --scopes logros:leer,planes:leer,planes:editar 2> /dev/null)
DISTRICTS=$(python3 -c 'print(",".join(l.split(",")[3] for l in open("data/territory/distritos_cnpv2022.csv", encoding="utf-8").read().splitlines()[1:] if l))')
TOKEN="$TOKEN" DISTRICTS="$DISTRICTS" wrk -t2 -c4 -d5s -s bench/wrk/costing.lua "$BASE" > /dev/null
TOKEN="$TOKEN" DISTRICTS="$DISTRICTS" wrk -t2 -c4 -d"$DURATION" --latency -s bench/wrk/costing.lua "$BASE" | grep -E "Requests/sec|50%|90%|99%|Non-2xx|requests in"
timed() { curl -s -o /dev/null -w "%{http_code} %{time_total}s\n" "$@"; }
echo "  San Pedro (22 distritos), Logro 4 al 70 % en 2028: $(timed -H "Authorization: Bearer $TOKEN" "$BASE/api/costing?territory=02&logro=4&target=0.7&by=2028")"
echo "  la nación, Logro 4 al 70 % en 2028:                $(timed -H "Authorization: Bearer $TOKEN" "$BASE/api/costing?territory=PY&logro=4&target=0.7&by=2028")"
echo "  guardar el escenario de San Pedro:                 $(timed -H "Authorization: Bearer $PTOKEN" -H 'content-type: application/json' -d '{"name":"San Pedro al 70 %","territory":"02","logro":4,"target":0.7,"by":2028}' "$BASE/api/costing/scenarios")"
SCENARIO=$(curl -s -H "Authorization: Bearer $PTOKEN" "$BASE/api/costing/scenarios" | python3 -c 'import json,sys; print(json.load(sys.stdin)["items"][0]["id"])')
echo "  presupuesto 2027 de San Pedro frente al escenario: $(timed -H "Authorization: Bearer $TOKEN" "$BASE/api/budget?year=2027&territory=02&scenario=$SCENARIO")"
echo "  presupuesto 2027 del país (60.000 líneas):         $(timed -H "Authorization: Bearer $TOKEN" "$BASE/api/budget?year=2027")"
echo "  importar el Marco Estratégico (XLSX):              $(timed -H "Authorization: Bearer $PTOKEN" -H 'content-type: application/vnd.openxmlformats-officedocument.spreadsheetml.sheet' --data-binary @"$WORK/marco.xlsx" "$BASE/api/plans")"
PLAN=$(curl -s -H "Authorization: Bearer $PTOKEN" "$BASE/api/plans" | python3 -c 'import json,sys; print(max(p["id"] for p in json.load(sys.stdin)["items"]))')
echo "  fijar una meta por distrito (líneas de base de la medición): $(timed -H "Authorization: Bearer $PTOKEN" -H 'content-type: application/json' -d @"$WORK/metas.json" "$BASE/api/plans/$PLAN/values")"
echo "  ver el plan (valor actual de cada meta):           $(timed -H "Authorization: Bearer $TOKEN" "$BASE/api/plans/$PLAN")"
echo "  exportarlo en XLSX:                                $(timed -H "Authorization: Bearer $TOKEN" "$BASE/api/plans/$PLAN/xlsx")"
