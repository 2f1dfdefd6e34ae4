"""The records of a synthetic population's administrative files as one table to deduplicate
(issue 40's speed benchmark): every registry's records (MEC read as Windows-1252, `;`) with
their names, birth date, sex and district, and the truth from `verdad/enlace_admin.csv` — the
survey member each record is about; a record of someone outside the survey is an entity of its
own. Usage: python3 bench/linkage_admin_records.py <synth folder> <records.csv> <truth.csv>"""
import csv
import pathlib
import sys

src, records, truth_out = pathlib.Path(sys.argv[1]), sys.argv[2], sys.argv[3]
truth = {}
with open(src / "verdad" / "enlace_admin.csv", newline="") as f:
    for row in csv.DictReader(f):
        truth[row["id_registro"]] = row["persona"] or f"fuera:{row['id_registro']}"
cols = ["id_registro", "nombres", "apellidos", "fecha_nacimiento", "sexo", "distrito"]
n = 0
with open(records, "w", newline="") as out, open(truth_out, "w", newline="") as t:
    w, tw = csv.writer(out), csv.writer(t)
    w.writerow(cols)
    tw.writerow(["record_id", "cluster_id"])
    for path in sorted((src / "admin").glob("*.csv")):
        mec = path.name == "mec_matricula.csv"
        with open(path, newline="", encoding="cp1252" if mec else "utf-8") as f:
            for row in csv.DictReader(f, delimiter=";" if mec else ","):
                sexo = {"M": "hombre", "F": "mujer"}.get(row["sexo"], row["sexo"])
                w.writerow([row["id_registro"], row["nombres"], row["apellidos"],
                            row["fecha_nacimiento"], sexo, row["distrito"].zfill(4)])
                tw.writerow([row["id_registro"], truth[row["id_registro"]]])
                n += 1
print(f"{n} records", file=sys.stderr)
