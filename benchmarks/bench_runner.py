#!/usr/bin/env python3
"""ais_infer.py against OpenVINO's benchmark_app on one model file, and file mode against pure mode.

    python benchmarks/bench_runner.py --model se_resnet50_fp32_bs32.onnx            # 2 rounds, 1,024 inputs
    python benchmarks/bench_runner.py --model M.onnx --rounds 3 --seconds 15 --files 1024 --hint latency

Each round runs, one after the other (so background load hits every column alike):

1. ``ais_infer.py --model M --loop N`` (pure mode; ais_bench's throughput), fp32;
2. ``benchmark_app -m M -hint throughput -t SECONDS -infer_precision f32`` (its ``Throughput: ... FPS``);
3. ``ais_infer.py`` pure mode on M tagged bf16 (``senet_infer.precision``, as ``aipp_convert.py
   --precision_mode allow_mix_precision_bf16`` writes it);
4. ``benchmark_app -m M -hint throughput -t SECONDS`` as the brief gives it: its default precision,
   which on a CPU with AMX is bf16 (read from its printed INFERENCE_PRECISION_HINT);
5. ``ais_infer.py --model M --input <FILES .bin> --output ... --outfmt TXT`` (file mode: its end-to-end
   images/s, reading, inference and TXT writing included, and its ais_bench throughput), fp32.

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
_PRECISION = re.compile(r"INFERENCE_PRECISION_HINT:\s*(.+)")


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


def tagged_copy(src: Path, dst: Path, precision: str) -> Path:
    """``src`` with ``senet_infer.precision`` set (how aipp_convert.py marks a model)."""
    import onnx
    from onnx import helper

    from senet_infer.backends import PRECISION_KEY

    model = onnx.load(str(src))
    helper.set_model_props(model, {PRECISION_KEY: precision})
    onnx.save(model, str(dst))
    return dst


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

    rows: Dict[str, List[Tuple[float, float]]] = {k: [] for k in ("pure", "app_f32", "pure_bf16", "app_default",
                                                                   "file", "file_formula")}
    app_precision = "?"
    with tempfile.TemporaryDirectory(prefix="bench_runner_") as tmp:
        folder = Path(tmp)
        inputs = folder / "bins"
        inputs.mkdir()
        block = os.urandom(model_sample_bytes(args.model))
        for i in range(args.files):
            (inputs / f"img_{i:05d}.bin").write_bytes(block)
        bf16 = tagged_copy(args.model, folder / "bf16.onnx", "bf16")
        runner = [sys.executable, str(ROOT / "ais_infer.py"), "--backend", args.backend, "--hint", args.hint]
        app_cmd = [app, "-m", str(args.model), "-hint", "throughput", "-t", str(args.seconds)]
        for r in range(args.rounds):
            for key, model in (("pure", args.model), ("pure_bf16", bf16)):
                _, peak = measured([*runner, "--model", str(model), "--loop", str(args.loop), "--output", str(folder),
                                    "--output_dirname", f"{key}{r}"])
                rows[key].append((load_summary(folder / f"{key}{r}_summary.json").throughput, peak))
                app_key, extra = ("app_f32", ["-infer_precision", "f32"]) if key == "pure" else ("app_default", [])
                out, peak = measured([*app_cmd, *extra])
                rows[app_key].append((float(_FPS.findall(out)[-1]), peak))
                if not extra:
                    app_precision = (_PRECISION.findall(out) or ["?"])[-1]
            _, peak = measured([*runner, "--model", str(args.model), "--input", str(inputs), "--output", str(folder),
                                "--output_dirname", f"file{r}", "--outfmt", "TXT"])
            summary = load_summary(folder / f"file{r}_summary.json")
            rows["file"].append((summary.extras.end_to_end_images_per_s, peak))
            rows["file_formula"].append((summary.throughput, peak))
            shutil.rmtree(folder / f"file{r}")
            print(f"round {r + 1}: " + ", ".join(f"{k} {v[-1][0]:.1f}" for k, v in rows.items()), file=sys.stderr)

    med = {k: statistics.median(x for x, _ in v) for k, v in rows.items()}
    peak = {k: max(p for _, p in v) for k, v in rows.items()}
    print(f"machine: {cpu_model()}, {os.cpu_count()} cores online; model {args.model.name}; "
          f"{args.rounds} alternating rounds, medians\n")
    print("| run | images/s | vs benchmark_app (same precision) | vs ais_infer pure fp32 | peak RSS (MiB) |")
    print("| --- | ---: | ---: | ---: | ---: |")
    table = [
        ("app_f32", f"benchmark_app -hint throughput -t {args.seconds} -infer_precision f32", "app_f32"),
        ("pure", f"ais_infer.py pure fp32, --loop {args.loop}, --hint {args.hint}", "app_f32"),
        ("app_default", f"benchmark_app -hint throughput -t {args.seconds} (its default: {app_precision})",
         "app_default"),
        ("pure_bf16", "ais_infer.py pure, model tagged bf16", "app_default"),
        ("file", f"ais_infer.py file mode fp32, {args.files} .bin -> TXT, end-to-end (read+infer+write)", "app_f32"),
        ("file_formula", "  same runs, ais_bench throughput formula", "app_f32"),
    ]
    for key, label, versus in table:
        print(f"| {label} | {med[key]:.1f} | {med[key] / med[versus]:.2f}x | {med[key] / med['pure']:.2f}x | "
              f"{peak[key]:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
