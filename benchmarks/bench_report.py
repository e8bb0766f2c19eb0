#!/usr/bin/env python3
"""Time make_report.py on a run of N images (default 50,000, the ImageNet validation set) and print the page's size.

    python benchmarks/bench_report.py                 # 50,000 planted predictions, 1000 classes
    python benchmarks/bench_report.py --count 5000

The work folder is made by hand through the project's writers (tests/report_fakes.py): every image has a label
and a planted answer (77 % right, the rest confused with a neighbouring class), the originals are 500x375 JPEGs,
and fidelity.json, perf.json and the step timings are there, so every section is built. Prints a Markdown table
(images, build seconds, page MB, thumbnails) and the machine. Goal: at most 60 s on 2 cores, under 10 MB.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from report_fakes import make_run  # noqa: E402

from senet_infer.cli import positive_int  # noqa: E402
from senet_infer.machine import cpu_model  # noqa: E402
from senet_infer.report import make_report  # noqa: E402

RIGHT = 0.77


def planted(count: int, seed: int = 0) -> tuple[list[int], list[int]]:
    """Labels spread over the 1000 classes and answers right on RIGHT of them, else the next class."""
    rng = np.random.default_rng(seed)
    labels = [i % 1000 for i in range(count)]
    right = rng.random(count) < RIGHT
    answers = [label if ok else (label + 1 + int(rng.integers(0, 3))) % 1000 for label, ok in zip(labels, right)]
    return labels, answers


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=positive_int, default=50_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-report-") as tmp:
        work = Path(tmp) / "work"
        started = time.perf_counter()
        labels, answers = planted(args.count)
        make_run(work, labels, answers)
        made = time.perf_counter() - started
        started = time.perf_counter()
        result = make_report(work, work / "report.html")
        seconds = time.perf_counter() - started
    print(f"make_report on {args.count:,} images ({cpu_model()}, {os.cpu_count()} cores; the run folder took "
          f"{made:.1f} s to fake)\n")
    print("| images | build (s) | page (MB) | images scored |")
    print("| ---: | ---: | ---: | ---: |")
    print(f"| {args.count:,} | {seconds:.1f} | {result.size_bytes / 1e6:.2f} | {result.images_scored:,} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
