"""Writes data/linkage/truth/*.csv (record_id,cluster_id) from the shipped labelled data:
FEBRL's rec-N-org / rec-N-dup-k numbering (N is the entity), fake_1000's `cluster` column.
Usage: python3 data/linkage/truth.py"""
import csv
import pathlib

here = pathlib.Path(__file__).parent
out = here / "truth"
out.mkdir(exist_ok=True)


def febrl(files, name):
    with open(out / f"{name}.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["record_id", "cluster_id"])
        for path in files:
            with open(here / "febrl" / path, newline="") as src:
                r = csv.reader(src, skipinitialspace=True)
                next(r)
                for row in r:
                    rec = row[0].strip()
                    w.writerow([rec, rec.split("-")[1]])


febrl(["dataset1.csv"], "febrl1")
febrl(["dataset2.csv"], "febrl2")
febrl(["dataset3.csv"], "febrl3")
febrl(["dataset4a.csv", "dataset4b.csv"], "febrl4")
with open(here / "splink" / "fake_1000.csv", newline="") as src, open(
    out / "fake_1000.csv", "w", newline=""
) as f:
    w = csv.writer(f)
    w.writerow(["record_id", "cluster_id"])
    for row in csv.DictReader(src):
        w.writerow([row["unique_id"], row["cluster"]])
