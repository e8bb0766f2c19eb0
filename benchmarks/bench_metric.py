#!/usr/bin/env python3
"""Time step 5 (the accuracy metric) on N seeded random results, against a naive per-file loop.

    python benchmarks/bench_metric.py                 # 50,000 TXT results, as ais_bench writes them
    python benchmarks/bench_metric.py --count 5000 --format NPY

Prints a Markdown table (method, files, format, seconds, files/s, ratio to the naive loop) and
the machine. Results are read from the page cache (just written), as in a run right after step 4.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from senet_infer import metric  # noqa: E402
from senet_infer.cli import default_workers, positive_int  # noqa: E402
from senet_infer.fileio import RESULT_FORMATS, natural_key, result_file_name, write_result  # noqa: E402
from senet_infer.machine import cpu_model  # noqa: E402
from senet_infer.metric.ranking import topk_hits  # noqa: E402
from senet_infer.metric.results import load_results  # noqa: E402

CLASSES = 1000
SEED = 0


def image_stem(i: int) -> str:
    """ImageNet val naming: ILSVRC2012_val_00000001 ..."""
    return f"ILSVRC2012_val_{i + 1:08d}"


def labels_for(count: int) -> np.ndarray:
    """Seeded ground-truth classes."""
    return np.random.default_rng(SEED).integers(0, CLASSES, size=count)


def write_chunk(folder: str, fmt: str, lo: int, hi: int, labels: list[int]) -> None:
    """Write results lo..hi-1: Gaussian scores with the true class lifted, so top-1 lands near 76 %."""
    rng = np.random.default_rng([SEED, lo])
    for i, label in zip(range(lo, hi), labels):
        logits = rng.normal(0.0, 2.0, size=(1, CLASSES)).astype(np.float32)
        logits[0, label] += 8.0
        write_result(Path(folder) / result_file_name(image_stem(i), 0, fmt), logits, fmt)


def write_dataset(folder: Path, count: int, fmt: str, workers: int) -> Path:
    """Write ``count`` results into ``folder/result`` and their val_label.txt; return the label file."""
    result_dir = folder / "result"
    result_dir.mkdir()
    labels = labels_for(count)
    bounds = np.linspace(0, count, workers * 8 + 1).astype(int)
    with ProcessPoolExecutor(max_workers=workers) as pool:
        jobs = [pool.submit(write_chunk, str(result_dir), fmt, int(lo), int(hi), labels[lo:hi].tolist())
                for lo, hi in zip(bounds[:-1], bounds[1:]) if hi > lo]
        for job in jobs:
            job.result()
    label_file = folder / "val_label.txt"
    label_file.write_text("".join(f"{image_stem(i)}.JPEG {int(c)}\n" for i, c in enumerate(labels)))
    return label_file


def naive_top5(result_dir: Path, label_file: Path, limit: int) -> tuple[int, float]:
    """The obvious loop: per file, parse floats, full argsort, look for the label in the first five."""
    truth = {}
    for line in label_file.read_text().splitlines():
        name, label = line.split()
        truth[name.rsplit(".", 1)[0]] = int(label)
    names = sorted(os.listdir(result_dir), key=natural_key)[:limit]
    hits = 0
    for name in names:
        path = result_dir / name
        if name.endswith(".npy"):
            scores = np.load(path).ravel()
        elif name.endswith(".bin"):
            scores = np.fromfile(path, dtype=np.float32)
        else:
            scores = np.array([float(v) for v in path.read_text().split()])
        order = np.argsort(-scores)
        hits += int(truth[name.rsplit("_", 1)[0]] in order[:5])
    return len(names), 100.0 * hits / len(names)



def timed(fn, repeat: int):
    """(best seconds over ``repeat`` runs, last result)."""
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def main(argv: list[str] | None = None) -> int:
    """Write the data set, time each method, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=positive_int, default=50_000, help="result files (default %(default)s)")
    parser.add_argument("--format", choices=RESULT_FORMATS, default="TXT", type=str.upper)
    parser.add_argument("--naive-count", type=positive_int, default=2_000,
                        help="files for the naive loop, a subset to keep it short (default %(default)s)")
    parser.add_argument("--workers", type=positive_int, default=default_workers(),
                        help="threads for the metric, processes for writing (default: all cores)")
    parser.add_argument("--repeat", type=positive_int, default=1, help="runs per method; the best counts")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="bench_metric_") as tmp:
        folder = Path(tmp)
        start = time.perf_counter()
        label_file = write_dataset(folder, args.count, args.format, args.workers)
        result_dir = folder / "result"
        print(f"wrote {args.count} {args.format} results in {time.perf_counter() - start:.1f} s", file=sys.stderr)

        naive_s, (naive_n, naive_top5_pct) = timed(lambda: naive_top5(result_dir, label_file, args.naive_count),
                                                   args.repeat)
        rows = [("naive per-file loop (float() + argsort)", naive_n, naive_s)]
        for workers in sorted({1, args.workers}):
            seconds, report = timed(lambda: metric.evaluate(result_dir, label_file, workers=workers), args.repeat)
            rows.append((f"metric.evaluate, {workers} thread{'s' * (workers > 1)}", report.count, seconds))
        load_s, (_, logits) = timed(lambda: load_results(result_dir, workers=args.workers), 1)
        targets = labels_for(args.count)
        rank_s, _ = timed(lambda: topk_hits(logits, targets), max(3, args.repeat))
        rows.append(("of which top-k ranking of the [N, 1000] array", args.count, rank_s))
        # Same files, same answer: the subset the naive loop scored is the first rows in natural order.
        subset_top5 = 100.0 * topk_hits(logits[:naive_n], targets[:naive_n])[4] / naive_n
        if abs(subset_top5 - naive_top5_pct) > 1e-9:
            raise SystemExit(f"mismatch: naive top-5 {naive_top5_pct} % vs metric {subset_top5} % on the subset")

    naive_rate = naive_n / naive_s
    print("| method | files | format | seconds | files/s | x naive |")
    print("| --- | ---: | --- | ---: | ---: | ---: |")
    for name, files, seconds in rows:
        rate = files / seconds
        print(f"| {name} | {files} | {args.format} | {seconds:.2f} | {rate:,.0f} | {rate / naive_rate:.1f} |")
    print()
    print(f"accuracy: {report.summary_line()}; on the naive loop's subset both give top-5 {naive_top5_pct:.2f} %; "
          f"load_results alone {load_s:.2f} s")
    affinity = default_workers()
    print(f"machine: {cpu_model()}, {os.cpu_count()} cores ({affinity} usable), load average "
          f"{', '.join(f'{v:.1f}' for v in os.getloadavg())}; Python {platform.python_version()}, "
          f"NumPy {np.__version__}; page cache warm")
    return 0


if __name__ == "__main__":
    sys.exit(main())
