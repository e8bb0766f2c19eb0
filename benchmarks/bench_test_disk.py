#!/usr/bin/env python3
"""How much disk a test run holds in its temporary folder: the peak while it runs, and what it leaves.

    python3 benchmarks/bench_test_disk.py                   # the whole suite, `bash tests/run.sh`
    python3 benchmarks/bench_test_disk.py -- -m "not slow"  # arguments after -- go to tests/run.sh

Runs the test command with ``TMPDIR`` set to a fresh folder (pytest's temporary folders and every
``tempfile`` of the code under test land there), measures the folder's allocated size every
``--every`` seconds, then prints the peak, when it was reached, and what the run left behind.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import List, Tuple

ROOT = Path(__file__).resolve().parent.parent


def allocated_bytes(folder: Path) -> int:
    """Bytes allocated to the files under ``folder`` as ``du`` counts them (a hard-linked file once); files
    that vanish meanwhile count 0."""
    sizes = {}
    for parent, _, names in os.walk(folder):
        for name in names:
            try:
                stat = os.lstat(os.path.join(parent, name))
            except OSError:
                continue
            sizes[(stat.st_dev, stat.st_ino)] = stat.st_blocks * 512
    return sum(sizes.values())


def main(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--every", type=float, default=2.0, help="seconds between two measurements (default 2)")
    parser.add_argument("test_args", nargs="*", help="arguments for tests/run.sh (after --)")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="test-disk-") as scratch:
        folder = Path(scratch)
        samples: List[Tuple[float, int]] = []
        done = threading.Event()
        start = time.monotonic()

        def sample() -> None:
            while not done.wait(args.every):
                samples.append((time.monotonic() - start, allocated_bytes(folder)))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        env = dict(os.environ, TMPDIR=scratch)
        code = subprocess.call(["bash", str(ROOT / "tests" / "run.sh"), *args.test_args], env=env)
        done.set()
        sampler.join()
        wall = time.monotonic() - start
        left = allocated_bytes(folder)

    at, peak = max(samples, key=lambda s: s[1], default=(0.0, 0))
    print()
    print(f"test run's temporary folder, measured every {args.every:g} s (tests/run.sh exit {code}, {wall:.0f} s)")
    print("| peak | reached at | left after the run |")
    print("| --- | --- | --- |")
    print(f"| {peak / 2**20:,.0f} MiB | {at:.0f} s | {left / 2**20:,.0f} MiB |")
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
