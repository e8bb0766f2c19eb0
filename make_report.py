#!/usr/bin/env python3
"""The report page of a run: one self-contained HTML file (charts, thumbnails, every figure of the run).

    python3 make_report.py [--work-dir DIR] [--out FILE]

Reads only what the run wrote in DIR (default: the current folder, the guide's work folder): the accuracy JSON,
predictions.csv, fidelity.json, perf.json, the driver's records in .run_infer/ and step 1's record of the images
(thumbnails come from the original images). A partial run gives a page whose sections say which step makes what
is missing; a folder where the guide's commands were run by hand (result/, result_summary.json, the label file,
no predictions.csv) is scored here with step 5's code. Writes FILE (default ./report.html) atomically.
Exit status: 0 written, 2 no run output or a corrupt file (one line naming it).
"""

import argparse
import sys
from pathlib import Path
from typing import Optional, Sequence

# senet_infer checks the Python version first; this file parses on 3.6 so that its one-line message shows
from senet_infer.cli import run_main
from senet_infer.driver.paths import REPORT_HTML
from senet_infer.report import make_report


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work-dir", type=Path, default=Path("."), help="the run's work folder (default: .)")
    parser.add_argument("--out", type=Path, default=None, help="the page to write (default: <work-dir>/report.html)")
    args = parser.parse_args(argv)
    out = args.out if args.out is not None else args.work_dir / REPORT_HTML
    result = make_report(args.work_dir, out)
    gone = result.thumbnails_missing
    missing = f", {gone} image{'s' * (gone != 1)} gone (grey boxes)" if gone else ""
    scored = result.images_scored
    print(f"wrote {result.path} ({result.size_bytes / 1e6:.2f} MB, {scored:,} image{'s' * (scored != 1)} scored{missing})")
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
