#!/usr/bin/env bash
# The report page's screenshot for the docs: headless Chromium (Debian's chromium), the top of the page.
#   bash scripts/screenshot_report.sh WORK_DIR OUT.png [WIDTHxHEIGHT]
# docs/report.png: a demo run at int8 (so that some answers differ from the demo labels), then this script:
#   bash run_infer.sh --offline --precision int8 --perf-batch-sizes 1,4,8 --perf-loop 3 --perf-precisions fp32,int8
#   bash scripts/screenshot_report.sh . docs/report.png
set -euo pipefail
work="$1" out="$2" size="${3:-1000x1250}"
page="$(cd "$work" && pwd)/report.html"
[[ -f "$page" ]] || { echo "$page: no report page; run make_report.py first" >&2; exit 2; }
tmp="$(mktemp --suffix=.png)"
trap 'rm -f "$tmp"' EXIT
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size="${size/x/,}" \
    --screenshot="$tmp" "file://$page" >/dev/null 2>&1
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$root/scripts/python_env.sh"
"$(project_python "$root")" - "$tmp" "$out" <<'PY'
import sys
from PIL import Image
Image.open(sys.argv[1]).convert("RGB").quantize(colors=128).save(sys.argv[2], optimize=True)
PY
echo "wrote $out"
