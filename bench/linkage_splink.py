"""Record linkage side by side (issue 40): Vamos (`vamos linkage evaluate`) and Splink (PyPI,
DuckDB backend) on the shipped labelled data — FEBRL 1–4 and Splink's fake_1000 — with the same
settings: each Vamos settings file (data/linkage/settings/*.toml) is translated here into
Splink's (the same comparisons and levels, blocking rules, training steps and thresholds), the
values prepared alike (folded to lower case without accents, dates as AAAAMMDD), and both judged
pairwise against the same truth (data/linkage/truth/*.csv).

Usage: python3 bench/linkage_splink.py <vamos binary> [dataset …]   (from the repository root)
A dataset is one of the shipped ones or `name=settings.toml,records.csv,truth.csv` (a
deduplication). Prints one JSON line per dataset and engine — with pairs scored per second
(training included) and peak memory — then a Markdown table.
"""
import csv
import json
import resource
import subprocess
import sys
import time
import tomllib
import unicodedata

import pandas as pd
import splink
import splink.comparison_level_library as cll
import splink.comparison_library as cl
from splink import Linker, SettingsCreator, block_on
from splink.backends.duckdb import DuckDBAPI

DATA = "data/linkage"
DATASETS = {
    "febrl1": ("febrl", ["febrl/dataset1.csv"]),
    "febrl2": ("febrl", ["febrl/dataset2.csv"]),
    "febrl3": ("febrl", ["febrl/dataset3.csv"]),
    "febrl4": ("febrl", ["febrl/dataset4a.csv", "febrl/dataset4b.csv"]),
    "fake_1000": ("fake_1000", ["splink/fake_1000.csv"]),
}


def fold(s):
    """Vamos's folding of free text (`names::fold`): lower case, no accents, ª and º as the
    letters they stand for, apostrophes joining the word, any other sign or non-ASCII letter a
    space, one space between words."""
    s = unicodedata.normalize("NFD", s.lower().replace("ª", "a").replace("º", "o"))
    s = "".join(c for c in s if not unicodedata.combining(c))
    s = "".join(c for c in s if c not in "'’‘ʼ`´")
    s = "".join(c if (c.isascii() and c.isalnum()) else " " for c in s)
    return " ".join(s.split()) or None


def date(s):
    """Vamos's dates: AAAAMMDD, AAAA-MM-DD or DD/MM/AAAA → AAAAMMDD."""
    s = s.strip()
    if "/" in s:
        d, m, y = (s.split("/") + ["", "", ""])[:3]
    else:
        digits = "".join(c for c in s if c.isdigit())
        if len(digits) != 8:
            return None
        y, m, d = digits[:4], digits[4:6], digits[6:]
    try:
        y, m, d = int(y), int(m), int(d)
    except ValueError:
        return None
    if not (1 <= m <= 12 and 1 <= d <= 31 and 1800 <= y <= 2200):
        return None
    return f"{y:04d}{m:02d}{d:02d}"


def frame(path, settings):
    kinds = {c["column"]: c.get("kind", "texto") for c in settings["comparison"]}
    for col, kind in kinds.items():
        if kind not in ("texto", "fecha"):
            # Names prepared the Paraguayan way have no Splink equivalent here.
            raise SystemExit(f"{col}: kind {kind} has no Splink equivalent in this benchmark")
    rows = []
    with open(path if path.startswith("/") else f"{DATA}/{path}", newline="") as f:
        r = csv.reader(f, skipinitialspace=True)
        header = [h.strip() for h in next(r)]
        for row in r:
            rec = dict(zip(header, [x.strip() for x in row]))
            out = {"unique_id": rec[settings["id_column"]]}
            for col in set(kinds) | {k for b in settings["blocking"] for k in b["keys"]}:
                v = rec.get(col, "")
                out[col] = date(v) if kinds.get(col) == "fecha" else fold(v)
            rows.append(out)
    return pd.DataFrame(rows)


def level(col, spec, tf):
    if spec == "exact":
        return cll.ExactMatchLevel(col, term_frequency_adjustments=tf)
    (name, x), = spec.items()
    if name == "jaro_winkler":
        return cll.JaroWinklerLevel(col, x)
    if name == "levenshtein":
        return cll.LevenshteinLevel(col, x)
    raise SystemExit(f"level {spec} has no Splink equivalent")


def splink_settings(s, link):
    comparisons = []
    for c in s["comparison"]:
        levels = [cll.NullLevel(c["column"])]
        levels += [level(c["column"], l, c.get("term_frequency", False)) for l in c["levels"]]
        levels.append(cll.ElseLevel())
        comparisons.append(
            cl.CustomComparison(comparison_levels=levels, output_column_name=c["column"])
        )
    return SettingsCreator(
        link_type="link_only" if link else "dedupe_only",
        comparisons=comparisons,
        blocking_rules_to_generate_predictions=[block_on(*b["keys"]) for b in s["blocking"]],
        retain_intermediate_calculation_columns=False,
        # Vamos's EM limits.
        max_iterations=s["training"].get("max_iterations", 25),
        em_convergence=0.0001,
    )


def truth_pairs(truth_file, frames):
    truth = {}
    with open(truth_file, newline="") as f:
        for row in csv.DictReader(f):
            truth[row["record_id"]] = row["cluster_id"]
    counts = [{} for _ in frames]
    for i, df in enumerate(frames):
        for rid in df["unique_id"]:
            e = truth.get(rid)
            if e is not None:
                counts[i][e] = counts[i].get(e, 0) + 1
    if len(frames) == 1:
        total = sum(n * (n - 1) // 2 for n in counts[0].values())
    else:
        total = sum(n * counts[1].get(e, 0) for e, n in counts[0].items())
    return truth, total


def run_splink(name, settings_file, files, truth_file):
    s = tomllib.load(open(settings_file, "rb"))
    frames = [frame(p, s) for p in files]
    truth, true_pairs = truth_pairs(truth_file, frames)
    db = DuckDBAPI()
    started = time.perf_counter()
    tables = [db.register(df) for df in frames]
    linker = Linker(tables, splink_settings(s, len(frames) == 2), log_level=40)
    t = s["training"]
    linker.training.estimate_probability_two_random_records_match(
        [block_on(*b["keys"]) for b in t["deterministic"]], recall=t["deterministic_recall"]
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=t["u_pairs"], seed=t["seed"])
    for b in t["em_blocking"]:
        # Vamos's EM sessions count patterns without term frequencies.
        linker.training.estimate_parameters_using_expectation_maximisation(
            block_on(*b["keys"]), estimate_without_term_frequencies=True
        )
    th = s["thresholds"]
    pred = linker.inference.predict(threshold_match_probability=th["review"]).as_pandas_dataframe()
    seconds = time.perf_counter() - started
    links = pred[pred["match_probability"] >= th["link"]]
    tp = sum(
        1
        for a, b in zip(links["unique_id_l"], links["unique_id_r"])
        if truth.get(a) is not None and truth.get(a) == truth.get(b)
    )
    predicted = len(links)
    precision = tp / predicted if predicted else 0.0
    recall = tp / true_pairs if true_pairs else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "engine": f"splink {splink.__version__}",
        "dataset": name,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "predicted": predicted,
        "true_pairs": true_pairs,
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "seconds": seconds,
    }


def run_vamos(vamos, name, settings_file, files, truth_file):
    path = lambda p: p if p.startswith("/") else f"{DATA}/{p}"
    args = [vamos, "linkage", "evaluate", "--settings", settings_file]
    args += ["--left", path(files[0])]
    if len(files) == 2:
        args += ["--right", path(files[1])]
    args += ["--truth", truth_file, "--format", "json"]
    v = json.loads(subprocess.run(args, check=True, capture_output=True, text=True).stdout)
    keep = ["pairs_compared", "predicted", "true_pairs", "precision", "recall", "f1", "seconds"]
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"engine": "vamos", "dataset": name, "peak_rss_mib": peak, **{k: v[k] for k in keep}}


def main():
    vamos = sys.argv[1]
    names = sys.argv[2:] or list(DATASETS)
    results = []
    for name in names:
        if "=" in name:
            name, spec = name.split("=", 1)
            settings_file, records, truth_file = spec.split(",")
            files = [records]
        else:
            settings_file = f"{DATA}/settings/{DATASETS[name][0]}.toml"
            files = DATASETS[name][1]
            truth_file = f"{DATA}/truth/{name}.csv"
        v = run_vamos(vamos, name, settings_file, files, truth_file)
        sp = run_splink(name, settings_file, files, truth_file)
        for r in (v, sp):
            # The same blocking rules, each pair once: both engines score the same pairs.
            r["pairs_per_second"] = v["pairs_compared"] / r["seconds"]
            print(json.dumps(r), flush=True)
            results.append(r)
    print()
    print("| dataset | engine | links | true pairs | precision | recall | F1 | seconds | pairs/s | peak MiB |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        print(
            f"| {r['dataset']} | {r['engine']} | {r['predicted']} | {r['true_pairs']} | "
            f"{r['precision']:.4f} | {r['recall']:.4f} | {r['f1']:.4f} | {r['seconds']:.2f} | "
            f"{r['pairs_per_second']:,.0f} | {r['peak_rss_mib']:,.0f} |"
        )


if __name__ == "__main__":
    main()
