#!/usr/bin/env bash
# Record linkage at scale (issue 40), side by side with Splink (PyPI, DuckDB backend) in the
# same run: deduplicating the administrative records of a synthetic population (~1 million with
# the generator's noise: upper case, spelling variants, missing and mistyped cédulas, swapped day
# and month) on the same settings (data/linkage/settings/admin_dedupe.toml), judged against the
# generator's truth. Also the shipped labelled data (FEBRL 1–4, fake_1000).
# Usage: bash bench/linkage_dedupe.sh   (HH=… households; 300 000 give ~1 M records)
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/vamos-target}"
HH="${HH:-300000}"
WORK="${WORK:-/tmp/vamos-bench}"
mkdir -p "$WORK"
python3 -c 'import splink, pandas; assert splink.__version__ == "5.0.0"' 2> /dev/null || pip install -q splink==5.0.0 pandas
cargo build --release --locked -q -p vamos-cli
VAMOS="$CARGO_TARGET_DIR/release/vamos"
DATA="$WORK/linkage-$HH"
if [ ! -f "$DATA/verdad/enlace_admin.csv" ]; then
  rm -rf "$DATA"
  "$VAMOS" synth --districts all --households "$HH" --seed 2 --out "$DATA" --reference-date 2026-11-30 > /dev/null
fi
python3 bench/linkage_admin_records.py "$DATA" "$WORK/linkage-records.csv" "$WORK/linkage-truth.csv"
python3 bench/linkage_splink.py "$VAMOS" febrl1 febrl2 febrl3 febrl4 fake_1000
python3 bench/linkage_splink.py "$VAMOS" \
  "admin=data/linkage/settings/admin_dedupe.toml,$WORK/linkage-records.csv,$WORK/linkage-truth.csv"
