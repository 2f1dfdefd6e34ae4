#!/usr/bin/env python3
"""Benchmark: classification + all Logros, Vamos vs DuckDB, on the same registry.

    python3 bench/classify_national.py --db /tmp/vamos-bench/vamos.sqlite --as-of 2026-11-23

Side by side in one run:
  1. `vamos classify` on the SQLite registry: its own stage timings (load, classify + aggregate,
     store), wall time and peak memory;
  2. the same registry exported to CSV (sqlite3 shell) and loaded into DuckDB in memory, then the
     SAME classification and aggregation — `vamos catalogue sql`, generated from the compiled
     catalogue — run by DuckDB (median of 3);
  3. the two results compared Logro by Logro (identified, protected, without data): a mismatch is
     reported, because then one of the two engines is wrong.
Needs: `pip install duckdb`, the `sqlite3` shell.
"""
import argparse, json, os, resource, sqlite3, statistics, subprocess, sys, tempfile, time

TABLES = ["persons", "households", "communities", "community_surveys", "admin_records", "counter_referrals"]


def duck_columns(db, table):
    """DuckDB types of a registry table, from its SQLite declaration (dates are ISO text there)."""
    cols = {}
    for _, name, decl, *_ in sqlite3.connect(db).execute(f"PRAGMA table_info({table})"):
        decl = (decl or "").upper()
        if name.endswith("_date") or name in ("as_of", "delivered_on", "due_on"):
            cols[name] = "DATE"
        elif "INT" in decl:
            cols[name] = "BIGINT"
        elif "REAL" in decl:
            cols[name] = "DOUBLE"
        else:
            cols[name] = "VARCHAR"
    return cols


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", required=True, help="archivo SQLite del registro (vamos db init + import)")
    ap.add_argument("--as-of", required=True)
    ap.add_argument("--vamos", default=os.path.join(os.environ.get("CARGO_TARGET_DIR", "target"), "release", "vamos"))
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    a = ap.parse_args()
    import duckdb

    url = f"sqlite:{a.db}"
    run([a.vamos, "db", "init", "--db", url])
    t = time.perf_counter()
    out = run([a.vamos, "classify", "--db", url, "--as-of", a.as_of, "--format", "json"]).stdout
    ours_wall = time.perf_counter() - t
    ours_rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    ours = json.loads(out.strip().splitlines()[-1])
    logros = json.loads(run([a.vamos, "logros", "--db", url, "--measurement", str(ours["measurement"]), "--format", "json"]).stdout)
    sql = run([a.vamos, "catalogue", "sql", "--as-of", a.as_of]).stdout

    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        for name in TABLES:
            with open(os.path.join(tmp, f"{name}.csv"), "w") as f:
                subprocess.run(["sqlite3", "-csv", a.db, f"SELECT * FROM {name}"], stdout=f, check=True)
        export = time.perf_counter() - t
        con = duckdb.connect()
        con.execute(f"SET threads = {a.threads}")
        t = time.perf_counter()
        for name in TABLES:
            types = duck_columns(a.db, name)
            path = os.path.join(tmp, f"{name}.csv")
            if os.path.getsize(path) == 0:  # an empty table (e.g. no Entorno survey imported)
                con.execute(f"CREATE TABLE {name} ({', '.join(f'{c} {t}' for c, t in types.items())})")
                continue
            cols = ", ".join(f"'{c}': '{t}'" for c, t in types.items())
            con.execute(f"CREATE TABLE {name} AS SELECT * FROM read_csv('{path}', header = false, columns = {{{cols}}})")
        load = time.perf_counter() - t
    runs = []
    for _ in range(3):
        t = time.perf_counter()
        rows = con.execute(sql).fetchall()
        runs.append(time.perf_counter() - t)
    duck = statistics.median(runs)

    totals = {}
    for _, logro, ident, prot, wd in rows:
        s = totals.setdefault(logro, [0, 0, 0])
        s[0] += ident; s[1] += prot; s[2] += wd
    mismatches = []
    for l in logros["logros"]:
        mine = [l["identified"], l["protected"], l["without_data"]]
        theirs = totals.get(l["logro"], [0, 0, 0])
        if mine != theirs:
            mismatches.append((l["logro"], mine, theirs))

    st = ours["stages_ms"]
    print(f"registro: {ours['persons']} personas, {ours['households']} hogares, {ours['communities']} comunidades; fecha {a.as_of}; hilos {a.threads}")
    print(f"{'paso':44} {'segundos':>9}")
    print(f"{'vamos: carga desde SQLite':44} {st['load'] / 1000:9.2f}")
    compute = (st['evaluate'] + st['aggregate']) / 1000
    print(f"{'vamos: clasificación (evaluar, por distrito)':44} {st['evaluate'] / 1000:9.2f}")
    print(f"{'vamos: agregación (departamentos, nación)':44} {st['aggregate'] / 1000:9.3f}")
    print(f"{'vamos: clasificación + Logros (cómputo)':44} {compute:9.2f}")
    print(f"{'vamos: guardar la medición':44} {st['store'] / 1000:9.2f}")
    print(f"{'vamos: total (pared), memoria máx. MiB':44} {ours_wall:9.2f}  {ours_rss / 1024:.0f}")
    print(f"{'duckdb: exportar CSV (sqlite3)':44} {export:9.2f}")
    print(f"{'duckdb: cargar en memoria':44} {load:9.2f}")
    print(f"{'duckdb: misma clasificación + Logros (mediana de 3)':44} {duck:9.2f}")
    print(f"cómputo duckdb / vamos: {duck / max(compute, 1e-9):.2f}×")
    if mismatches:
        print("DIFERENCIAS (logro, vamos [ident, prot, sin dato], duckdb):")
        for m in mismatches:
            print("  ", m)
        sys.exit(1)
    print("resultados idénticos en los diez Logros (identificados, protegidos, sin dato)")


if __name__ == "__main__":
    main()
