#!/usr/bin/env python3
"""ais_infer.py against OpenVINO's benchmark_app on one model file, and file mode against pure mode.

    python benchmarks/bench_runner.py --model se_resnet50_fp32_bs32.onnx            # 2 rounds, 1,024 inputs
    python benchmarks/bench_runner.py --model M.onnx --rounds 3 --seconds 15 --files 1024 --hint latency

Each round runs, one after the other (so background load hits every column alike):

1. ``ais_infer.py --model M --loop N`` (pure mode; ais_bench's throughput line);
2. ``benchmark_app -m M -hint throughput -t SECONDS`` (its ``Throughput: ... FPS``);
3. ``ais_infer.py --model M --input <FILES .bin> --output ... --outfmt TXT`` (file mode: its end-to-end
   images/s, reading, inference and TXT writing included, and its ais_bench throughput).

Prints a Markdown table with the median over rounds, each one's ratio to benchmark_app and to pure
mode, and each process's peak resident memory. The inputs are random bytes of the model's input size
per sample (the model's speed does not depend on the values).
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
from typing import Dict, List, Tuple

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from senet_infer.cli import positive_int  # noqa: E402
from senet_infer.report import cpu_model  # noqa: E402
from senet_infer.summary import load_summary  # noqa: E402

_WRAPPER = (
    "import resource, subprocess, sys\n"
    "p = subprocess.run(sys.argv[1:], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)\n"
    "sys.stdout.write(p.stdout)\n"
    "print('PEAK_RSS_KIB', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    "sys.exit(p.returncode)\n"
)
_FPS = re.compile(r"Throughput:\s+([\d.]+)\s+FPS")


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
    dtype = onnx.helper.tensor_dtype_to_np_dtype(inp.type.tensor_type.elem_type)
    return int(np.prod(dims[1:])) * np.dtype(dtype).itemsize


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, required=True, help="static-batch ONNX (e.g. aipp_convert.py's output)")
    parser.add_argument("--rounds", type=positive_int, default=2, help="alternating rounds (default 2)")
    parser.add_argument("--seconds", type=positive_int, default=15, help="benchmark_app -t (default 15)")
    parser.add_argument("--loop", type=positive_int, default=16, help="ais_infer.py pure-mode --loop (default 16)")
    parser.add_argument("--files", type=positive_int, default=1024, help="file-mode inputs (default 1024)")
    parser.add_argument("--hint", default="throughput", help="ais_infer.py --hint (default throughput)")
    parser.add_argument("--backend", default="openvino", help="ais_infer.py --backend (default openvino)")
    parser.add_argument("--benchmark-app", default=None, help="benchmark_app executable (default: beside python)")
    args = parser.parse_args()
    app = args.benchmark_app or shutil.which("benchmark_app", path=str(Path(sys.executable).parent)) \
        or shutil.which("benchmark_app")
    if not app:
        raise SystemExit("benchmark_app not found (pip install openvino provides it)")

    rows: Dict[str, List[Tuple[float, float]]] = {"pure": [], "benchmark_app": [], "file": [], "file_formula": []}
    with tempfile.TemporaryDirectory(prefix="bench_runner_") as tmp:
        folder = Path(tmp)
        inputs = folder / "bins"
        inputs.mkdir()
        block = os.urandom(model_sample_bytes(args.model))
        for i in range(args.files):
            (inputs / f"img_{i:05d}.bin").write_bytes(block)
        runner = [sys.executable, str(ROOT / "ais_infer.py"), "--model", str(args.model), "--backend", args.backend,
                  "--hint", args.hint]
        for r in range(args.rounds):
            out, peak = measured([*runner, "--loop", str(args.loop), "--output", str(folder), "--output_dirname",
                                  f"pure{r}"])
            rows["pure"].append((load_summary(folder / f"pure{r}_summary.json").throughput, peak))
            out, peak = measured([app, "-m", str(args.model), "-hint", "throughput", "-t", str(args.seconds)])
            rows["benchmark_app"].append((float(_FPS.findall(out)[-1]), peak))
            out, peak = measured([*runner, "--input", str(inputs), "--output", str(folder), "--output_dirname",
                                  f"file{r}", "--outfmt", "TXT"])
            summary = load_summary(folder / f"file{r}_summary.json")
            rows["file"].append((summary.extras.end_to_end_images_per_s, peak))
            rows["file_formula"].append((summary.throughput, peak))
            shutil.rmtree(folder / f"file{r}")
            print(f"round {r + 1}: " + ", ".join(f"{k} {v[-1][0]:.1f}" for k, v in rows.items()), file=sys.stderr)

    med = {k: statistics.median(x for x, _ in v) for k, v in rows.items()}
    peak = {k: max(p for _, p in v) for k, v in rows.items()}
    print(f"machine: {cpu_model()}, {os.cpu_count()} cores online; model {args.model.name}; "
          f"{args.rounds} alternating rounds, medians\n")
    print("| run | images/s | vs benchmark_app | vs ais_infer pure | peak RSS (MiB) |")
    print("| --- | ---: | ---: | ---: | ---: |")
    labels = {
        "benchmark_app": f"benchmark_app -hint throughput -t {args.seconds}",
        "pure": f"ais_infer.py pure, --loop {args.loop}, --hint {args.hint} (ais_bench throughput)",
        "file": f"ais_infer.py file mode, {args.files} .bin -> TXT (end-to-end, read+infer+write)",
        "file_formula": "  same run, ais_bench throughput formula",
    }
    for key in ("benchmark_app", "pure", "file", "file_formula"):
        print(f"| {labels[key]} | {med[key]:.1f} | {med[key] / med['benchmark_app']:.2f}x | "
              f"{med[key] / med['pure']:.2f}x | {peak[key]:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
