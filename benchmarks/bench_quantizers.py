#!/usr/bin/env python3
"""amct_calibrate.py's two quantizers side by side: NNCF and ONNX Runtime's quantize_static.

    python benchmarks/bench_quantizers.py                       # batch 32, 64 calibration + 64 held-out images
    python benchmarks/bench_quantizers.py --batch 16 --loop 5 --repeats 3

On the seeded demo checkpoint (speed does not depend on the weights; drift does a little): step 2's
dynamic ONNX model, step 1's fp32 inputs of generated photo-like images, then each quantizer through
``quantize_model`` (what ``amct_calibrate.py --quantizer`` runs) on the same calibration batches. For
fp32 and each int8 model: calibration time, drift from fp32 on the held-out images (ONNX Runtime), and
throughput at batch N on ONNX Runtime and on OpenVINO (one request, all cores, as ``ais_infer.py`` runs
without ``--hint``), measured round-robin ``--repeats`` times, median. Prints a Markdown table naming the
CPU and the versions, in whatever Python runs it (the guide's Python 3.7 stack included).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Dict, List

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402

from senet_infer.agreement import Agreement  # noqa: E402
from senet_infer.cli import positive_int  # noqa: E402
from senet_infer.machine import cpu_model  # noqa: E402

QUANTIZERS = ("nncf", "onnxruntime")


def cpu_flags() -> str:
    """The int8/bf16 instructions the CPU reports."""
    try:
        flags = next(line for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("flags")).split()
    except (OSError, StopIteration):
        return "flags unknown"
    wanted = ("avx512_vnni", "avx512_bf16", "avx512_fp16", "amx_int8", "amx_bf16")
    return ", ".join(f for f in wanted if f in flags) or "no avx512_vnni/bf16/amx"


def build(work: Path, batch: int, images: int) -> tuple:
    """(fp32 model, calibration .bin folder, held-out float batch, its names)."""
    from senet_infer.export import export_onnx
    from senet_infer.fileio import atomic_write_bytes, stem_of
    from senet_infer.model import DEMO_WEIGHTS_NAME, load_checkpoint, write_demo_checkpoint
    from senet_infer.preprocess import EvalTransform, preprocess_file
    from senet_infer.synthetic import make_image_folder

    model = load_checkpoint(write_demo_checkpoint(work / DEMO_WEIGHTS_NAME, seed=0))
    fp32 = export_onnx(model, work / "se_resnet50_dynamic_bs.onnx")
    image_dir, calib, held = work / "images", work / "calib_bin", work / "held_bin"
    for folder in (image_dir, calib, held):
        folder.mkdir()
    make_image_folder(image_dir, 2 * images, seed=5)
    for index, path in enumerate(sorted(image_dir.iterdir())):
        array = preprocess_file(path, EvalTransform(output_format="fp32"))
        atomic_write_bytes((calib if index % 2 == 0 else held) / f"{stem_of(path)}.bin",
                           np.ascontiguousarray(array, np.float32).tobytes())
    names = sorted(p.name for p in held.iterdir())
    floats = np.stack([np.fromfile(held / n, np.float32).reshape(3, 224, 224) for n in names])
    return fp32, calib, floats, names


def main(argv: List[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=positive_int, default=32, help="batch (calibration and timing; default 32)")
    parser.add_argument("--images", type=positive_int, default=64,
                        help="calibration images, and as many held-out ones for the drift (default 64)")
    parser.add_argument("--loop", type=positive_int, default=5, help="timed batches per measurement (default 5)")
    parser.add_argument("--repeats", type=positive_int, default=3, help="round-robin rounds, median taken (default 3)")
    args = parser.parse_args(argv)
    if args.images % args.batch:
        parser.error("--images must be a multiple of --batch")

    import onnxruntime as ort
    import openvino as ov

    from senet_infer.quantize import quantize_model, quantizer_name

    threads = os.cpu_count() or 1
    with tempfile.TemporaryDirectory(prefix="bench-quantizers-") as tmp:
        work = Path(tmp)
        fp32, calib, held, names = build(work, args.batch, args.images)
        models: Dict[str, Path] = {"fp32": fp32}
        calibration_s: Dict[str, float] = {}
        for quantizer in QUANTIZERS:
            start = time.perf_counter()
            result = quantize_model(fp32, work / quantizer / "se_resnet50", {"image": (args.batch, 3, 224, 224)}, calib,
                                    batch_num=args.images // args.batch, quantizer=quantizer, log=lambda line: None)
            calibration_s[quantizer] = time.perf_counter() - start
            models[quantizer] = result.deploy

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        sessions = {k: ort.InferenceSession(str(p), options, providers=["CPUExecutionProvider"]) for k, p in models.items()}
        core = ov.Core()
        compiled = {}
        for key, path in models.items():
            model = core.read_model(str(path))
            model.reshape({"image": ov.PartialShape([args.batch, 3, 224, 224])})
            compiled[key] = core.compile_model(model, "CPU", {"INFERENCE_PRECISION_HINT": "f32",
                                                              "PERFORMANCE_HINT": "LATENCY",
                                                              "INFERENCE_NUM_THREADS": threads})
        reference = sessions["fp32"].run(None, {"image": held})[0]
        drift = {k: Agreement.from_logits(sessions[k].run(None, {"image": held})[0], reference, tolerance=1e-4,
                                          subject=f"{k} vs fp32", enforced=False, precision="int8", names=names)
                 for k in QUANTIZERS}

        batch = held[:args.batch]
        requests = {k: c.create_infer_request() for k, c in compiled.items()}

        def timed(run: Callable[[], object]) -> float:
            run()  # warm-up
            start = time.perf_counter()
            for _ in range(args.loop):
                run()
            return args.batch * args.loop / (time.perf_counter() - start)

        peers: Dict[str, Callable[[], float]] = {}
        for key in models:
            peers[f"ONNX Runtime {key}"] = lambda k=key: timed(lambda: sessions[k].run(None, {"image": batch}))
            peers[f"OpenVINO {key}"] = lambda k=key: timed(lambda: requests[k].infer({"image": batch}))
        rounds: Dict[str, List[float]] = {name: [] for name in peers}
        for _ in range(args.repeats):
            for name, peer in peers.items():
                rounds[name].append(peer())
        speed = {name: statistics.median(values) for name, values in rounds.items()}

    print(f"# quantizers on {cpu_model()} ({cpu_flags()}), {threads} threads, Python "
          f"{sys.version.split()[0]}, {quantizer_name('nncf')}, onnxruntime {ort.__version__}, "
          f"openvino {ov.get_version()}; batch {args.batch}, loop {args.loop}, median of {args.repeats} rounds")
    print()
    print("| model | calibration s | ORT images/s | ORT vs fp32 | OpenVINO images/s | OpenVINO vs fp32 "
          "| top-1 agree | max rel err |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for key in models:
        ort_speed, ov_speed = speed[f"ONNX Runtime {key}"], speed[f"OpenVINO {key}"]
        agreement = drift.get(key)
        print(f"| {key if key == 'fp32' else key + ' int8'} | {calibration_s.get(key, 0):.1f} | {ort_speed:.1f} "
              f"| {ort_speed / speed['ONNX Runtime fp32']:.2f}x | {ov_speed:.1f} | {ov_speed / speed['OpenVINO fp32']:.2f}x "
              f"| {'' if agreement is None else f'{100 * agreement.top1_agreement:.1f} %'} "
              f"| {'' if agreement is None else f'{agreement.max_relative_error:.2e}'} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
