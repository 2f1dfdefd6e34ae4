#!/usr/bin/env bash
# check_forms.sh — why this exists:
# CI gate for the committed XLSForms. It regenerates nothing: it converts the three committed
# workbooks (fips, comunidad, registro_simplificado) with pyxform's xls2xform into a temporary
# folder and fails if any conversion reports an error or a warning, if ODK Validate (run when
# Java is available) rejects the XForm, or if the form_id / top-level `miembros` repeat that
# the importer relies on (see SPEC.md) is missing.
#
#     bash forms/check_forms.sh
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
forms=(fips comunidad registro_simplificado)

if ! command -v xls2xform >/dev/null 2>&1; then
  echo "xls2xform not found; installing pyxform" >&2
  python3 -m pip install -q pyxform
fi

flags=(--json)
if command -v java >/dev/null 2>&1; then
  flags+=(--odk_validate)
else
  echo "WARNING: java not found, ODK Validate skipped (pyxform checks only)" >&2
  flags+=(--skip_validate)
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

status=0
for f in "${forms[@]}"; do
  xlsx="$here/$f.xlsx"
  xml="$tmp/$f.xml"
  if [[ ! -f "$xlsx" ]]; then
    echo "FAIL $f: $xlsx missing (run: python3 forms/build_forms.py)"; status=1; continue
  fi
  # --json always exits 0, so the result is read from the JSON report.
  report="$(xls2xform "${flags[@]}" "$xlsx" "$xml" 2>&1 || true)"
  if ! printf '%s' "$report" | python3 -c '
import json, sys
try:
    r = json.loads(sys.stdin.read())
except ValueError:
    sys.exit(1)
sys.exit(0 if r.get("code") == 100 and not r.get("warnings") else 1)
'; then
    echo "FAIL $f:"; printf '%s\n' "$report"; status=1; continue
  fi
  if ! grep -q " id=\"$f\"" "$xml"; then
    echo "FAIL $f: form_id is not '$f'"; status=1; continue
  fi
  if [[ "$f" != comunidad ]] && ! grep -q '<repeat nodeset="/[A-Za-z_]*/miembros">' "$xml"; then
    echo "FAIL $f: top-level repeat 'miembros' not found"; status=1; continue
  fi
  echo "ok   $f"
done
exit "$status"
