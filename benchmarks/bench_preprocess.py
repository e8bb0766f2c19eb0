#!/usr/bin/env python3
"""Step 1 throughput: a plain one-process loop vs preprocess_folder on every core.

    python3 benchmarks/bench_preprocess.py                 # 300 seeded 500x375 JPEGs (quality 90)
    python3 benchmarks/bench_preprocess.py --images DIR    # your own images (read only)

Every method transforms the same images and writes the same .bin files (each run into a fresh
folder, so nothing is skipped); wall time includes process-pool start-up, as a user sees it.
Prints a Markdown table (median of --repeat runs) and checks that all methods wrote identical bytes.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import PIL

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere without installing

from senet_infer.cli import default_workers, positive_int, run_main  # noqa: E402
from senet_infer.errors import PipelineError  # noqa: E402
from senet_infer.fileio import atomic_write_bytes  # noqa: E402
from senet_infer.machine import cpu_model  # noqa: E402
from senet_infer.preprocess import (  # noqa: E402
    FORMATS,
    RESIZE_MODES,
    EvalTransform,
    list_images,
    output_path,
    preprocess_file,
    preprocess_folder,
)
from senet_infer.synthetic import make_image_folder  # noqa: E402


def plain_loop(src: Path, dst: Path, transform: EvalTransform) -> None:
    """The baseline: one process, one image after the other, the same transform and atomic writes."""
    images, _ = list_images(src)
    for image in images:
        atomic_write_bytes(output_path(dst, image), preprocess_file(image, transform).tobytes())


def folder_digest(folder: Path) -> dict[str, str]:
    """SHA-256 of every output in ``folder`` by name (not preprocess_folder's hidden manifest, which the loop lacks)."""
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())
            if not p.name.startswith(".")}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=Path, help="image folder to use instead of generated JPEGs")
    parser.add_argument("--count", type=positive_int, default=300, help="generated images (default 300)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the generated images (default 0)")
    parser.add_argument("--workers", type=positive_int, default=default_workers(),
                        help="processes for the parallel run (default: all cores, %(default)s here)")
    parser.add_argument("--repeat", type=positive_int, default=3, help="timed runs per method (default 3)")
    parser.add_argument("--resize", choices=RESIZE_MODES, default="shorter")
    parser.add_argument("--format", choices=FORMATS, default="uint8")
    args = parser.parse_args(argv)

    transform = EvalTransform(resize=args.resize, output_format=args.format)
    load_before = os.getloadavg()  # the machine may be shared: say how busy it was
    with tempfile.TemporaryDirectory(prefix="bench_preprocess_") as tmp:
        scratch = Path(tmp)
        if args.images is None:
            src = scratch / "images"
            print(f"generating {args.count} seeded 500x375 JPEGs (quality 90) ...", file=sys.stderr)
            make_image_folder(src, args.count, seed=args.seed, assorted=False)
        else:
            src = args.images
        images, _ = list_images(src)
        if not images:
            raise PipelineError(f"{src}: no images")
        for image in images:  # warm the page cache so the first method timed does not pay for disk reads
            image.read_bytes()

        methods: list[tuple[str, int, Callable[[Path], None]]] = [
            ("plain loop (one process)", 1, lambda dst: plain_loop(src, dst, transform)),
            ("preprocess_folder", 1, lambda dst: preprocess_folder(
                src, dst, transform, workers=1, progress=False, log=lambda _: None)),
        ]
        if args.workers > 1:
            methods.append(("preprocess_folder", args.workers, lambda dst: preprocess_folder(
                src, dst, transform, workers=args.workers, progress=False, log=lambda _: None)))

        # Round-robin over the methods, so a change in load on a shared machine hits them all alike.
        times: list[list[float]] = [[] for _ in methods]
        outputs = [scratch / "out" / f"method{i}" for i in range(len(methods))]
        for _ in range(args.repeat):
            for i, (_, _, run) in enumerate(methods):
                shutil.rmtree(outputs[i], ignore_errors=True)  # a fresh folder: nothing is skipped
                start = time.perf_counter()
                run(outputs[i])
                times[i].append(time.perf_counter() - start)
        digests = [folder_digest(out) for out in outputs]
        rows = [(label, workers, statistics.median(t)) for (label, workers, _), t in zip(methods, times)]

    identical = all(d == digests[0] for d in digests) and len(digests[0]) == len(images)
    base = rows[0][2]
    print(f"CPU: {cpu_model()}; {os.cpu_count()} cores, {default_workers()} usable; "
          f"1-min load average {load_before[0]:.2f} before, {os.getloadavg()[0]:.2f} after")
    print(f"Python {platform.python_version()}, Pillow {PIL.__version__}; transform: {transform.describe()}")
    print(f"{len(images)} images from {'generated JPEGs' if args.images is None else src}; "
          f"median of {args.repeat} runs, wall time including process-pool start-up")
    busiest = max(load_before[0], os.getloadavg()[0])
    if busiest > default_workers():
        print(f"NOTE: load {busiest:.1f} > {default_workers()} cores: other work shared the CPUs, ratios are unreliable")
    print()
    print("| method | workers | images | seconds | images/s | ms/image | speed-up vs loop |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for label, workers, median in rows:
        print(f"| {label} | {workers} | {len(images)} | {median:.2f} | {len(images) / median:.1f} | "
              f"{1000 * median / len(images):.2f} | {base / median:.2f}x |")
    print(f"\nidentical bytes across methods: {'yes' if identical else 'NO'}")
    return 0 if identical else 1


if __name__ == "__main__":
    sys.exit(run_main(main))
