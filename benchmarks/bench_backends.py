#!/usr/bin/env python3
"""Pure-mode throughput of SE-ResNet50 per backend and precision (steps 4/6 without file I/O).

    python benchmarks/bench_backends.py                           # demo checkpoint, batch 1 and 32
    python benchmarks/bench_backends.py --model se_resnet50_dynamic_bs.onnx --batches 1,8,32 --loop 10

Runs ``infer.run_pure`` (what ``ais_infer.py --loop N --batchsize B`` does) for ONNX Runtime fp32,
OpenVINO fp32 and OpenVINO bf16 on the dynamic-batch ONNX (step 2's export; without ``--model`` the
seeded demo checkpoint is exported first — speed does not depend on the weights). Prints a Markdown
table: mean compute ms per batch, images/s (ais_bench's formula), ratio to ONNX Runtime fp32 at the
same batch, and the machine. A variant the CPU cannot run is listed as such.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from senet_infer import infer  # noqa: E402
from senet_infer.cli import default_workers, positive_int  # noqa: E402
from senet_infer.errors import PipelineError  # noqa: E402
from senet_infer.machine import cpu_model  # noqa: E402
from senet_infer.modelmeta import PRECISION_KEY  # noqa: E402

VARIANTS = (("onnxruntime", "fp32"), ("openvino", "fp32"), ("openvino", "bf16"))


def cpu_flags() -> str:
    """The vector / matrix extensions that decide fp32 and bf16 speed."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return "unknown"
    flags = next((line.split(":", 1)[1].split() for line in text.splitlines() if line.startswith("flags")), [])
    wanted = ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16", "amx_tile", "avx512_fp16")
    return " ".join(f for f in wanted if f in flags) or "none of avx2/avx512/amx"


def tagged_copy(src: Path, dst: Path, precision: str) -> Path:
    """``src`` with ``senet_infer.precision`` set (how aipp_convert.py marks a model)."""
    import onnx
    from onnx import helper

    model = onnx.load(str(src))
    helper.set_model_props(model, {PRECISION_KEY: precision})
    onnx.save(model, str(dst))
    return dst


def demo_onnx(folder: Path) -> Path:
    """Export the seeded demo checkpoint (same architecture and cost as the real weights)."""
    from senet_infer.export import export_onnx
    from senet_infer.model import make_demo_model

    return export_onnx(make_demo_model(seed=0), folder / "se_resnet50_demo_dynamic_bs.onnx")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=None, help="dynamic-batch SE-ResNet50 ONNX (default: demo export)")
    parser.add_argument("--batches", default="1,32", help="comma-separated batch sizes (default 1,32)")
    parser.add_argument("--loop", type=positive_int, default=5, help="timed runs per variant (default 5)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed runs first (default 1)")
    parser.add_argument("--threads", type=positive_int, default=default_workers(), help="intra-op threads")
    args = parser.parse_args()
    batches = [int(b) for b in args.batches.split(",")]

    rows = []
    with tempfile.TemporaryDirectory(prefix="bench_backends_") as tmp:
        folder = Path(tmp)
        model = args.model or demo_onnx(folder)
        tagged = {"fp32": model}
        for batch in batches:
            base = None
            for name, precision in VARIANTS:
                if precision not in tagged:
                    tagged[precision] = tagged_copy(model, folder / f"{precision}.onnx", precision)
                config = infer.RunConfig(model=tagged[precision], backend=name, batchsize=batch, loop=args.loop,
                                          warmup_count=args.warmup, threads=args.threads, progress=False)
                try:
                    summary = infer.run_pure(config, log=lambda line: None)
                except PipelineError as exc:
                    rows.append((name, precision, batch, None, None, str(exc).split(": ", 1)[-1]))
                    continue
                ips = summary.throughput
                if (name, precision) == VARIANTS[0]:
                    base = ips
                ratio = f"{ips / base:.2f}x" if base else "-"
                rows.append((name, precision, batch, summary.compute.mean, ips, ratio))
                print(f"  {name} {precision} bs{batch}: {summary.compute.mean:.1f} ms/batch, {ips:.1f} images/s",
                      file=sys.stderr)

    print(f"machine: {cpu_model()}, {default_workers()} cores usable ({os.cpu_count()} online), "
          f"{args.threads} threads; CPU extensions: {cpu_flags()}")
    print(f"model: SE-ResNet50 dynamic-batch ONNX ({'given' if args.model else 'demo weights'}), pure mode, "
          f"{args.warmup} warm-up + {args.loop} timed runs per row\n")
    print("| backend | precision | batch | mean compute (ms/batch) | images/s | vs ONNX Runtime fp32 |")
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    for name, precision, batch, mean_ms, ips, ratio in rows:
        if mean_ms is None:
            print(f"| {name} | {precision} | {batch} | - | - | not run: {ratio} |")
        else:
            print(f"| {name} | {precision} | {batch} | {mean_ms:.1f} | {ips:.1f} | {ratio} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
