"""Side by side with OPHI-style `mpitb` (PyPI): the multidimensional poverty index of the
same households, and the time each takes (issue 39).

Reads the deprivation matrix written by `vamos ipm matrix` (one row per household, no
identifiers) and Vamos's own figures (`vamos ipm --format json` for the nation and
`--csv` for every territory are timed by the shell script); checks `mpitb` first on the
hand-worked example of the engine's unit tests, then runs it on the households with every
indicator present (mpitb has no *sin dato* rule) over persons — nation, area, department and
district — and compares H, A, M0, censored headcounts and contributions with Vamos to 1e-9.

Usage: python3 bench/ipm_mpitb.py MATRIX.csv VAMOS_NATION.json VAMOS_DEPARTMENTS.json
"""
import json
import sys
import time

import pandas as pd
from mpitb import MPIToolbox

TOL = 1e-9


def check_hand_example():
    """The engine's first unit test: three indicators (¼, ¼, ½), k = 50 %, persons 2, 1, 1, 4."""
    df = pd.DataFrame({"a": [1, 1, 0, 0], "b": [0, 0, 0, 0], "c": [1, 0, 1, 0], "w": [2.0, 1, 1, 4]})
    t = MPIToolbox()
    t.set(name="hand", dimensions=[(["a", "b"], "D1"), (["c"], "D2")])
    t.svyset(weight="w")
    r = pd.DataFrame(t.est(df, "hand", klist=[50], weights={"a": 0.25, "b": 0.25, "c": 0.5}, svy=True))
    get = lambda m, ind=None: r[(r.measure == m) & ((r.indicator == ind) if ind else r.indicator.isna())].b.iloc[0]
    expected = {"H": 3 / 8, "A": 2 / 3, "M0": 1 / 4}
    for m, v in expected.items():
        assert abs(get(m) - v) < 1e-12, (m, get(m), v)
    assert abs(get("hdk", "a") - 2 / 8) < 1e-12, "censored headcount of a"
    assert abs(get("hd", "a") - 3 / 8) < 1e-12, "uncensored headcount of a"
    assert abs(get("pctb", "c") - 0.75) < 1e-12, "percentage contribution of c"
    print("mpitb reproduces the hand-worked example (H 3/8, A 2/3, M0 1/4, censoring of a)")


def main():
    matrix, nation_json, depts_json = sys.argv[1:4]
    check_hand_example()
    vamos = json.load(open(nation_json))
    weights = {i["indicator"]: i["weight"] for i in vamos["indicators"]}
    dims = {}
    for i in vamos["indicators"]:
        dims.setdefault(i["dimension"], []).append(i["indicator"])
    inds = list(weights)
    df = pd.read_csv(matrix, dtype={"distrito": str})
    total = len(df)
    complete = df.dropna(subset=inds).copy()
    complete[inds] = complete[inds].astype(int)
    complete["departamento"] = complete["distrito"].str[:2]
    print(f"households: {total}, with every indicator: {len(complete)} "
          f"(sin dato: {1 - len(complete) / total:.4%} of households)")

    t = MPIToolbox()
    t.set(name="ine", dimensions=[(v, k) for k, v in dims.items()])
    t.svyset(weight="personas")
    k = round(vamos["k"] * 100, 10)  # mpitb takes k in percent
    start = time.perf_counter()
    res = pd.DataFrame(t.est(complete, "ine", klist=[k], weights=weights, svy=True,
                             indmeasures=["hdk", "actb", "pctb"], aux=["hd"],
                             over=["area", "departamento", "distrito"]))
    mpitb_s = time.perf_counter() - start
    nat = res[res.loa == "nat"]
    get = lambda m, ind=None: nat[(nat.measure == m) & ((nat.indicator == ind) if ind else nat.indicator.isna())].b.iloc[0]
    worst = 0.0
    for m in ["H", "A", "M0"]:
        worst = max(worst, abs(get(m) - vamos[m]))
    for i in vamos["indicators"]:
        worst = max(worst, abs(get("hdk", i["indicator"]) - i["censored"]))
        worst = max(worst, abs(get("hd", i["indicator"]) - i["uncensored"]))
        worst = max(worst, abs(get("actb", i["indicator"]) - i["contribution"]))
        worst = max(worst, abs(get("pctb", i["indicator"]) - i["contribution_share"]))
    depts = json.load(open(depts_json))["territories"]
    dres = res[(res.loa == "departamento") & res.indicator.isna()]
    compared = 0
    for d in depts:
        sub = dres[dres.subg == d["territory"]]
        for m in ["H", "A", "M0"]:
            worst = max(worst, abs(sub[sub.measure == m].b.iloc[0] - d[m]))
            compared += 1
    print(f"nation: Vamos H {vamos['H']:.6f} A {vamos['A']:.6f} M0 {vamos['M0']:.6f}; "
          f"mpitb H {get('H'):.6f} A {get('A'):.6f} M0 {get('M0'):.6f}")
    print(f"largest difference over H, A, M0, 15 × (censored, uncensored, contribution, share) "
          f"and {compared} departmental figures: {worst:.2e}")
    print(f"mpitb: {mpitb_s:.2f} s (nation, 2 areas, {complete.departamento.nunique()} departments, "
          f"{complete.distrito.nunique()} districts)")
    json.dump({"mpitb_seconds": mpitb_s, "max_abs_difference": worst, "households": total,
               "complete": len(complete)}, open("ipm_mpitb_result.json", "w"))
    if worst > TOL:
        sys.exit(f"Vamos and mpitb disagree by {worst:.2e} > {TOL}")


if __name__ == "__main__":
    main()
