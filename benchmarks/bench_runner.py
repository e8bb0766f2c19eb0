#!/usr/bin/env python3
"""ais_infer.py against OpenVINO's benchmark_app on the same model files, and file mode against pure mode.

    python benchmarks/bench_runner.py --model se_resnet50_fp32_bs32.onnx --model se_resnet50_int8_bs32.onnx
    python benchmarks/bench_runner.py --model M.onnx --rounds 5 --loop 64 --files 1024 --hint latency

Each round runs, for every ``--model`` in turn (the order of the runs flips every round, so a change
of background load hits every column alike):

1. ``ais_infer.py --model M --loop N`` (pure mode; ais_bench's throughput formula);
2. ``benchmark_app -m M -hint throughput -niter N -infer_precision f32`` (its ``Throughput: ... FPS``):
   the same number of batches as 1, each with one untimed warm-up first, so ramp-up and tail weigh
   alike (``-infer_precision f32``: on a CPU with AMX its default would be bf16);
3. ``ais_infer.py --model M --input <FILES .bin> --output ... --outfmt TXT`` (file mode: its
   end-to-end images/s, reading, inference and TXT writing included, and its ais_bench throughput).

Prints a Markdown table per model with the median over rounds, each one's ratio to benchmark_app and
to pure mode, and each process's peak resident memory. The inputs are random bytes of the model's
input size per sample (the model's speed does not depend on the values).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from senet_infer.cli import positive_int, run_main  # noqa: E402
from senet_infer.compat import onnx_to_numpy_dtype  # noqa: E402
from senet_infer.machine import cpu_model  # noqa: E402
from senet_infer.summary import load_summary  # noqa: E402

_WRAPPER = (
    "import resource, subprocess, sys\n"
    "p = subprocess.run(sys.argv[1:], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)\n"
    "sys.stdout.write(p.stdout)\n"
    "print('PEAK_RSS_KIB', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    "sys.exit(p.returncode)\n"
)
_FPS = re.compile(r"Throughput:\s+([\d.]+)\s+FPS")
KINDS = ("app", "pure", "file", "file_formula", "pure_other", "file_other")


def measured(command: List[str]) -> Tuple[str, float]:
    """Run ``command`` under a wrapper; (its output, its peak resident memory in MiB)."""
    proc = subprocess.run([sys.executable, "-c", _WRAPPER, *command], capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"failed ({proc.returncode}): {' '.join(command)}\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}")
    peak = int(re.findall(r"PEAK_RSS_KIB (\d+)", proc.stdout)[-1]) / 1024
    return proc.stdout, peak


def model_sample_bytes(model: Path) -> int:
    """Bytes of one sample of the model's (single, static) input."""
    import numpy as np
    import onnx

    proto = onnx.load(str(model), load_external_data=False)
    init = {i.name for i in proto.graph.initializer}
    (inp,) = [i for i in proto.graph.input if i.name not in init]
    dims = [d.dim_value for d in inp.type.tensor_type.shape.dim]
    dtype = onnx_to_numpy_dtype(inp.type.tensor_type.elem_type)
    return int(np.prod(dims[1:])) * np.dtype(dtype).itemsize


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Measure, then print one Markdown table per model."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, action="append", required=True,
                        help="static-batch ONNX (aipp_convert.py's output); repeat for several (fp32, int8)")
    parser.add_argument("--rounds", type=positive_int, default=3, help="alternating rounds (default 3)")
    parser.add_argument("--loop", type=positive_int, default=32,
                        help="batches per pure-mode run: ais_infer.py --loop and benchmark_app -niter (default 32)")
    parser.add_argument("--files", type=positive_int, default=1024, help="file-mode inputs (default 1024)")
    parser.add_argument("--hint", default="throughput", help="ais_infer.py --hint (default throughput)")
    parser.add_argument("--backend", default="openvino", help="ais_infer.py --backend (default openvino)")
    parser.add_argument("--benchmark-app", default=None, help="benchmark_app executable (default: beside python)")
    parser.add_argument("--other", type=Path, default=None,
                        help="another checkout whose ais_infer.py runs pure and file mode in the same rounds "
                             "(e.g. the commit before a change)")
    args = parser.parse_args(argv)
    app = args.benchmark_app or shutil.which("benchmark_app", path=str(Path(sys.executable).parent)) \
        or shutil.which("benchmark_app")
    if not app:
        raise SystemExit("benchmark_app not found (pip install openvino provides it)")
    if len({m.name for m in args.model}) != len(args.model):
        raise SystemExit("--model: give models with different file names")

    rows: Dict[str, Dict[str, List[Tuple[float, float]]]] = {m.name: {k: [] for k in KINDS} for m in args.model}
    with tempfile.TemporaryDirectory(prefix="bench_runner_") as tmp:
        folder = Path(tmp)
        sizes = {model_sample_bytes(m) for m in args.model}
        inputs = {}
        for size in sizes:
            inputs[size] = folder / f"bins{size}"
            inputs[size].mkdir()
            block = os.urandom(size)
            for i in range(args.files):
                (inputs[size] / f"img_{i:05d}.bin").write_bytes(block)
        options = ["--backend", args.backend, "--hint", args.hint]
        runners = {"": [sys.executable, str(ROOT / "ais_infer.py"), *options]}
        if args.other is not None:
            runners["_other"] = [sys.executable, str(args.other / "ais_infer.py"), *options]
        for r in range(args.rounds):
            for model in (args.model if r % 2 == 0 else args.model[::-1]):
                row = rows[model.name]
                tag = f"{model.stem}_{r}"

                def pure(suffix: str = "") -> None:
                    _, peak = measured([*runners[suffix], "--model", str(model), "--loop", str(args.loop),
                                        "--output", str(folder), "--output_dirname", f"pure{suffix}_{tag}"])
                    row["pure" + suffix].append((load_summary(folder / f"pure{suffix}_{tag}_summary.json").throughput,
                                                 peak))

                def bench_app() -> None:
                    out, peak = measured([app, "-m", str(model), "-hint", "throughput", "-niter", str(args.loop),
                                          "-infer_precision", "f32"])
                    row["app"].append((float(_FPS.findall(out)[-1]), peak))

                def files(suffix: str = "") -> None:
                    name = f"file{suffix}_{tag}"
                    _, peak = measured([*runners[suffix], "--model", str(model), "--input",
                                        str(inputs[model_sample_bytes(model)]), "--output", str(folder),
                                        "--output_dirname", name, "--outfmt", "TXT"])
                    summary = load_summary(folder / f"{name}_summary.json")
                    row["file" + suffix].append((summary.extras.end_to_end_images_per_s, peak))
                    if not suffix:
                        row["file_formula"].append((summary.throughput, peak))
                    shutil.rmtree(folder / name)

                steps = [pure, bench_app, files]
                if args.other is not None:
                    steps += [lambda: pure("_other"), lambda: files("_other")]
                for step in (steps if r % 2 == 0 else steps[::-1]):
                    step()
                print(f"round {r + 1} {model.name}: " + ", ".join(f"{k} {v[-1][0]:.1f}" for k, v in row.items() if v),
                      file=sys.stderr)

    print(f"machine: {cpu_model()}, {os.cpu_count()} cores online; {args.rounds} alternating rounds, medians; "
          f"ais_infer.py --backend {args.backend} --hint {args.hint}\n")
    for name, row in rows.items():
        med = {k: statistics.median(x for x, _ in v) for k, v in row.items() if v}
        peak = {k: max(p for _, p in v) for k, v in row.items() if v}
        print(f"{name}\n")
        print("| run | images/s | vs benchmark_app | vs ais_infer pure | peak RSS (MiB) |")
        print("| --- | ---: | ---: | ---: | ---: |")
        table = [
            ("app", f"benchmark_app -hint throughput -niter {args.loop} -infer_precision f32"),
            ("pure", f"ais_infer.py pure, --loop {args.loop}"),
            ("file", f"ais_infer.py file mode, {args.files} .bin -> TXT, end-to-end (read+infer+write)"),
            ("file_formula", "  same runs, ais_bench throughput formula"),
            ("pure_other", f"{args.other}: ais_infer.py pure, --loop {args.loop}"),
            ("file_other", f"{args.other}: ais_infer.py file mode, end-to-end"),
        ]
        for key, label in (t for t in table if t[0] in med):
            print(f"| {label} | {med[key]:.1f} | {med[key] / med['app']:.2f}x | {med[key] / med['pure']:.2f}x | "
                  f"{peak[key]:.0f} |")
        print()
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
