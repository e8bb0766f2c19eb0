#!/usr/bin/env python3
"""Time every step of ``run_infer.sh`` on a generated set and project each step to ImageNet's 50,000 images.

    python3 benchmarks/bench_steps.py --images 2000 --work /tmp/steps -- --perf-batch-sizes 1,32

Runs ``run_infer.sh --offline --demo-images N --batch-size 32`` (plus the arguments after ``--``) in a fresh
work folder, then reads the driver's own per-step wall times (``<work>/.run_infer/timings.json``). A step
that works per image (dataset generation, preprocess, infer, metric) is projected linearly; fidelity
linearly up to its default subset of 500 images and flat beyond; the others (weights, export,
calibrate, convert, perf) are fixed costs. ``--table-only`` prints the table of an existing work folder.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import List, Optional, Sequence

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from senet_infer.fidelity import DEFAULT_MAX_IMAGES  # noqa: E402

TARGET = 50_000
PER_IMAGE = {"dataset", "preprocess", "infer", "metric"}
SUBSET = {"fidelity"}  # per image up to DEFAULT_MAX_IMAGES


def projected(name: str, seconds: float, images: int, target: int) -> float:
    """The step's wall time at ``target`` images."""
    if name in PER_IMAGE:
        return seconds * target / images
    if name in SUBSET:
        return seconds * min(target, DEFAULT_MAX_IMAGES) / min(images, DEFAULT_MAX_IMAGES)
    return seconds


def table(record: dict, target: int = TARGET) -> str:
    """Markdown: each step's time, how it scales, and its projection to ``target`` images."""
    images = int(record["images"])
    steps = record["steps"]
    infer = next((s["seconds"] for s in steps if s["name"] == "infer"), None)
    lines = [f"| step | {images:,} images (s) | scales with | {target:,} images, projected (s) | vs infer |",
             "| --- | ---: | --- | ---: | ---: |"]
    total = total_target = 0.0
    infer_target = projected("infer", infer, images, target) if infer else None
    for step in steps:
        name, seconds = step["name"], step["seconds"]
        scale = ("images" if name in PER_IMAGE else
                 f"images up to {DEFAULT_MAX_IMAGES:,}" if name in SUBSET else "fixed")
        at_target = projected(name, seconds, images, target)
        total += seconds
        total_target += at_target
        ratio = f"{at_target / infer_target:.2f}" if infer_target else "–"
        lines.append(f"| {name}{'' if step.get('ran', True) else ' (up to date)'} | {seconds:.1f} | {scale} | "
                     f"{at_target:,.0f} | {ratio} |")
    lines.append(f"| **total** | {total:.1f} | | {total_target:,.0f} | |")
    return "\n".join(lines) + "\n"


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=2000, help="generated images (default %(default)s)")
    parser.add_argument("--work", type=Path, required=True, help="work folder (created; a fresh one times every step)")
    parser.add_argument("--table-only", action="store_true", help="print the table of --work's last run")
    parser.add_argument("extra", nargs="*", help="more run_infer.sh arguments, after --")
    args = parser.parse_args(argv)
    timings = args.work / ".run_infer" / "timings.json"
    if not args.table_only:
        args.work.mkdir(parents=True, exist_ok=True)
        command: List[str] = ["bash", str(REPO / "run_infer.sh"), f"--work-dir={args.work}", "--offline",
                              "--demo-images", str(args.images), "--batch-size", "32", *args.extra]
        print("$ " + " ".join(command), flush=True)
        rc = subprocess.run(command, env={**os.environ, "PYTHON": os.environ.get("PYTHON", sys.executable)}).returncode
        if rc != 0:
            print(f"run_infer.sh failed (exit {rc})", file=sys.stderr)
            return rc
    record = json.loads(timings.read_text())
    print(f"\nper-step wall time, {record['date']}, {record['machine']}, batch {record['batch_size']}, "
          f"{record['precision']}, perf batch sizes {record['perf_batch_sizes']} x loop {record['perf_loop']}\n")
    print(table(record))
    return 0


if __name__ == "__main__":
    sys.exit(main())
