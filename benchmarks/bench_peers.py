#!/usr/bin/env python3
"""SE-ResNet50 throughput next to its peers, fp32 and int8, measured alternately in one invocation.

    python benchmarks/bench_peers.py                                  # demo checkpoint, batch 32
    python benchmarks/bench_peers.py --batch 16 --loop 5 --repeats 2 --images 32 --out peers

Builds what it needs in a work folder (default: a temporary one) from the seeded demo checkpoint
(speed does not depend on the weights) or ``--checkpoint``: generated photo-like images, step 1's
uint8 and fp32 inputs, the dynamic ONNX (step 2), its int8 model (``amct_calibrate.py``'s
quantizer, calibrated on the first batch), and both converted with AIPP for batch N
(``aipp_convert.py``'s converter). Then, round-robin ``--repeats`` times:

* PyTorch eager fp32 (``torch.inference_mode``, all cores) on the float batch;
* ONNX Runtime fp32 and int8 on the dynamic models (float batch);
* OpenVINO ``benchmark_app`` fp32 and int8 on the converted AIPP models (``-hint throughput``,
  ``-infer_precision f32`` so that an fp32 model is not run as bf16 on AMX CPUs), and int8 again with
  ``-hint none -nstreams 1`` (how ``ais_infer.py`` ran int8 before it compiled one one-stream model per stream:
  several streams in one compiled model gave wrong int8 outputs, ``benchmarks/bench_int8_streams.py``);
* ``ais_infer.py`` fp32 and int8 on the same converted models, pure mode (``--loop``) and file mode
  (the uint8 ``.bin`` inputs, TXT results; end-to-end images/s, file reads and writes included);
* bf16 on OpenVINO, where the CPU has bf16 (``avx512_bf16`` or AMX): ``benchmark_app -infer_precision
  bf16`` and ``ais_infer.py`` on the model converted with ``--precision_mode=bf16``;
* on an NVIDIA GPU, when ONNX Runtime offers its CUDA/TensorRT providers: ``ais_infer.py`` with
  ``--backend onnxruntime-cuda`` and ``onnxruntime-tensorrt`` (fp32, fp16, int8), pure mode and file mode
  (file mode gives the drift), and PyTorch eager fp32 and fp16 on CUDA (TF32 off, as ``onnxruntime-cuda``
  runs fp32). Columns that cannot run here, or that fail in their first round (a provider whose libraries
  are missing), are listed under the table with the reason. ``--gpu-only`` runs the GPU columns alone
  (PyTorch fp32 on the CPU still gives the drift reference, untimed).

Prints a Markdown table (median images/s, ratio to the best peer of the same precision and device,
ratio of int8/bf16 to fp32 on the same engine, drift vs PyTorch fp32 on the first batch of images)
with the CPU model, its int8/bf16 instructions, whether bf16 is available, and the date; writes ``peers.md``,
``peers.json`` and ``peers.png`` to ``--out``. Drift of benchmark_app rows is that of the same model file on the same runtime
(``ais_infer.py --backend openvino``), since benchmark_app writes no outputs.
"""

from __future__ import annotations

import argparse
import copy
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402

from senet_infer.agreement import Agreement  # noqa: E402
from senet_infer.cli import positive_int  # noqa: E402
from senet_infer.fileio import atomic_write_json, atomic_write_text, read_result, stem_of  # noqa: E402
from senet_infer.machine import cpu_model, gpu_model  # noqa: E402
from senet_infer.summary import load_summary, summary_path_for  # noqa: E402

GPU = "GPU:"  # prefix of the GPU rows
CPU_FEATURES = ("avx512_vnni", "avx_vnni", "avx512_bf16", "amx_int8", "amx_bf16")
BF16_FEATURES = ("avx512_bf16", "amx_bf16")
GPU_PEERS = (("onnxruntime-cuda", ("fp32", "fp16", "int8")), ("onnxruntime-tensorrt", ("fp32", "fp16", "int8")))
REFERENCE = "PyTorch eager fp32"


def cpu_flags() -> List[str]:
    """The flags of the first processor in /proc/cpuinfo (empty when unknown)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return []
    return next((line.split(":", 1)[1].split() for line in text.splitlines() if line.startswith("flags")), [])


def cpu_features() -> str:
    """The int8/bf16 instructions that decide reduced-precision speed on this CPU."""
    flags = cpu_flags()
    if not flags:
        return "unknown"
    return " ".join(f for f in CPU_FEATURES if f in flags) or "none of " + "/".join(CPU_FEATURES)


def bf16_support() -> Tuple[bool, str]:
    """(whether OpenVINO runs bf16 natively here, one line saying so and why)."""
    flags = cpu_flags()
    native = [f for f in BF16_FEATURES if f in flags]
    try:
        import openvino as ov

        capable = "BF16" in ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")
    except Exception as exc:  # no OpenVINO, or no CPU plugin
        return False, f"bf16: not measured (OpenVINO unavailable: {exc})"
    if capable:
        return True, f"bf16: available ({' '.join(native) or 'OpenVINO reports BF16'}{'; AMX' if 'amx_bf16' in flags else '; no AMX'})"
    return False, "bf16: not available (no avx512_bf16/amx_bf16; OpenVINO would emulate it)"


def gpu_status() -> Tuple[List[str], List[str]]:
    """(GPU backends ais_infer.py can use here, one line per GPU column that cannot run and why)."""
    from senet_infer import backends

    usable, skipped = [], []
    for name, precisions in GPU_PEERS:
        cls = backends.BACKENDS[name]
        if cls.usable():
            usable.append(name)
        else:
            skipped.append(f"ais_infer.py --backend {name} ({', '.join(precisions)}): skipped, ONNX Runtime here "
                           f"has no {cls.provider} (needs {cls.package} and an NVIDIA GPU)")
    try:
        import torch

        if not torch.cuda.is_available():
            skipped.append("PyTorch eager CUDA fp32/fp16: skipped, torch.cuda.is_available() is False (no GPU or CPU-only torch)")
    except ImportError:
        skipped.append("PyTorch eager CUDA fp32/fp16: skipped, torch is not installed")
    return usable, skipped


class Artefacts:
    """Everything the peers run on, built once in ``work``."""

    def __init__(self, work: Path, checkpoint: Optional[Path], batch: int, images: int,
                 extra_precisions: Sequence[str] = ()) -> None:
        from senet_infer.aipp import parse_aipp_config
        from senet_infer.convert import convert_model
        from senet_infer.export import export_onnx
        from senet_infer.fileio import atomic_write_bytes
        from senet_infer.model import DEMO_WEIGHTS_NAME, load_checkpoint, write_demo_checkpoint
        from senet_infer.preprocess import EvalTransform, preprocess_file
        from senet_infer.quantize import quantize_model
        from senet_infer.synthetic import make_image_folder

        self.work, self.batch = work, batch
        self.checkpoint = checkpoint or write_demo_checkpoint(work / DEMO_WEIGHTS_NAME, seed=0)
        self.model = load_checkpoint(self.checkpoint)
        image_dir = work / "images"
        image_dir.mkdir(exist_ok=True)
        make_image_folder(image_dir, images, seed=11)
        self.bin_u8, self.bin_f32 = work / "bin_u8", work / "bin_f32"
        self.bin_u8.mkdir(exist_ok=True)
        self.bin_f32.mkdir(exist_ok=True)
        for path in sorted(image_dir.iterdir()):
            stem = stem_of(path)
            atomic_write_bytes(self.bin_u8 / f"{stem}.bin", preprocess_file(path, EvalTransform()).tobytes())
            array = preprocess_file(path, EvalTransform(output_format="fp32"))
            atomic_write_bytes(self.bin_f32 / f"{stem}.bin", np.ascontiguousarray(array, np.float32).tobytes())
        self.stems = sorted(stem_of(p) for p in self.bin_u8.glob("*.bin"))[:batch]
        self.floats = np.stack([np.fromfile(self.bin_f32 / f"{s}.bin", np.float32).reshape(3, 224, 224)
                                for s in self.stems])
        self.dynamic = {"fp32": export_onnx(self.model, work / "se_resnet50_dynamic_bs.onnx")}
        shape = {"image": (batch, 3, 224, 224)}
        self.dynamic["int8"] = quantize_model(self.dynamic["fp32"], work / "int8" / "se_resnet50", shape,
                                              self.bin_f32, batch_num=1).deploy
        ops = parse_aipp_config(REPO / "aipp_SE_ResNet50_pth.config")
        self.converted = {p: convert_model(m, work / f"se_resnet50_{p}_bs{batch}", shape, ops, check=False).path
                          for p, m in self.dynamic.items()}
        for precision in extra_precisions:  # the fp32 graph, recording the precision to run at
            self.converted[precision] = convert_model(self.dynamic["fp32"], work / f"se_resnet50_{precision}_bs{batch}",
                                                      shape, ops, precision=precision, check=False).path


class Peers:
    """One callable per peer: runs once and returns images/s; outputs on the first batch kept for drift."""

    def __init__(self, art: Artefacts, loop: int, threads: int, bf16: bool, gpu_backends: Sequence[str],
                 torch_cuda: bool, gpu_only: bool = False) -> None:
        self.art, self.loop, self.threads = art, loop, threads
        self.bf16, self.gpu_backends, self.torch_cuda = bf16, list(gpu_backends), torch_cuda
        self.gpu_only = gpu_only
        self.outputs: Dict[str, np.ndarray] = {}
        self._sessions: Dict[str, object] = {}
        self._cuda_models: Dict[str, object] = {}

    def table(self) -> Dict[str, Callable[[], float]]:
        peers: Dict[str, Callable[[], float]] = {} if self.gpu_only else {REFERENCE: self.pytorch}
        for precision in () if self.gpu_only else ("fp32", "int8"):
            peers[f"ONNX Runtime {precision}"] = lambda p=precision: self.onnxruntime(p)
        for precision in () if self.gpu_only else ("fp32", "int8") + (("bf16",) if self.bf16 else ()):
            peers[f"benchmark_app {precision}"] = lambda p=precision: self.benchmark_app(p)
            if precision == "int8":  # as ais_infer.py ran int8 before (one stream, all threads)
                peers["benchmark_app 1-stream int8"] = lambda: self.benchmark_app("int8", streams=1)
            peers[f"ais_infer.py pure {precision}"] = lambda p=precision: self.ais_infer(p, files=False)
            peers[f"ais_infer.py file {precision}"] = lambda p=precision: self.ais_infer(p, files=True)
        if self.torch_cuda:
            for precision in ("fp32", "fp16"):
                peers[f"{GPU} PyTorch eager CUDA {precision}"] = lambda p=precision: self.pytorch_cuda(p)
        for backend, precisions in GPU_PEERS:
            if backend in self.gpu_backends:
                for precision in precisions:
                    for files in (False, True):
                        peers[f"{GPU} ais_infer.py {'file' if files else 'pure'} {backend} {precision}"] = \
                            lambda b=backend, p=precision, f=files: self.ais_infer(p, files=f, backend=b)
        return peers

    def pytorch_cuda(self, precision: str) -> float:
        import torch

        # fp32 is fp32: PyTorch's default runs convolutions as TF32 (10-bit mantissa)
        if hasattr(torch.backends.cudnn, "conv") and hasattr(torch.backends.cudnn.conv, "fp32_precision"):
            torch.backends.cudnn.conv.fp32_precision = "ieee"  # the 2.9+ setting; allow_tf32 alone leaves "none"
            torch.backends.cuda.matmul.fp32_precision = "ieee"
        else:
            torch.backends.cudnn.allow_tf32 = False
            torch.backends.cuda.matmul.allow_tf32 = False
        dtype = torch.float16 if precision == "fp16" else torch.float32
        torch.backends.cudnn.benchmark = True  # as ONNX Runtime's CUDA provider searches its convolution algorithms
        if precision not in self._cuda_models:  # a copy: the CPU model's fp32 weights stay as they are
            self._cuda_models[precision] = copy.deepcopy(self.art.model).to("cuda", dtype)
        model = self._cuda_models[precision]
        batch = torch.from_numpy(self.art.floats).to("cuda", dtype)
        with torch.inference_mode():
            self.outputs[f"{GPU} PyTorch eager CUDA {precision}"] = model(batch).float().cpu().numpy()
            torch.cuda.synchronize()
            start = time.perf_counter()
            for _ in range(self.loop):
                model(batch)
            torch.cuda.synchronize()
        return self.loop * len(batch) / (time.perf_counter() - start)

    def reference(self) -> np.ndarray:
        """PyTorch fp32 on the CPU on the first batch: what every drift is measured against."""
        import torch

        if REFERENCE not in self.outputs:
            with torch.inference_mode():
                self.outputs[REFERENCE] = self.art.model(torch.from_numpy(self.art.floats)).numpy()
        return self.outputs[REFERENCE]

    def pytorch(self) -> float:
        import torch

        torch.set_num_threads(self.threads)
        batch = torch.from_numpy(self.art.floats)
        with torch.inference_mode():
            self.outputs[REFERENCE] = self.art.model(batch).numpy()
            start = time.perf_counter()
            for _ in range(self.loop):
                self.art.model(batch)
        return self.loop * len(batch) / (time.perf_counter() - start)

    def onnxruntime(self, precision: str) -> float:
        import onnxruntime as ort

        if precision not in self._sessions:
            options = ort.SessionOptions()
            options.intra_op_num_threads = self.threads
            self._sessions[precision] = ort.InferenceSession(str(self.art.dynamic[precision]), options,
                                                             providers=["CPUExecutionProvider"])
        session = self._sessions[precision]
        feed = {"image": self.art.floats}
        self.outputs[f"ONNX Runtime {precision}"] = session.run(None, feed)[0]  # type: ignore[attr-defined]
        start = time.perf_counter()
        for _ in range(self.loop):
            session.run(None, feed)  # type: ignore[attr-defined]
        return self.loop * len(self.art.floats) / (time.perf_counter() - start)

    def benchmark_app(self, precision: str, streams: Optional[int] = None) -> float:
        tool = Path(sys.executable).with_name("benchmark_app")
        # benchmark_app takes -nstreams only with -hint none (its rule, not OpenVINO's)
        hint = ["-hint", "none", "-nstreams", str(streams)] if streams else ["-hint", "throughput"]
        command = [str(tool), "-m", str(self.art.converted[precision]), "-d", "CPU", *hint,
                   "-infer_precision", "bf16" if precision == "bf16" else "f32", "-niter", str(max(self.loop, 2))]
        proc = subprocess.run(command, capture_output=True, text=True)
        found = re.search(r"Throughput:\s+([0-9.]+)\s+FPS", proc.stdout)
        if proc.returncode != 0 or not found:
            raise RuntimeError(f"benchmark_app failed ({proc.returncode}): {(proc.stderr or proc.stdout)[-500:]}")
        return float(found.group(1))

    def ais_infer(self, precision: str, files: bool, backend: str = "openvino") -> float:
        name = f"{'file' if files else 'pure'}_{backend}_{precision}"
        row = f"ais_infer.py file {precision}" if backend == "openvino" else f"{GPU} ais_infer.py file {backend} {precision}"
        out = self.art.work / "runs"
        args = [sys.executable, str(REPO / "ais_infer.py"), "--model", str(self.art.converted[precision]),
                "--batchsize", str(self.art.batch), "--backend", backend, "--output", str(out),
                "--output_dirname", name]
        args += ["--input", str(self.art.bin_u8), "--outfmt", "TXT"] if files else ["--loop", str(self.loop)]
        if files and (out / name).exists():
            for old in (out / name).iterdir():
                old.unlink()
        proc = subprocess.run(args, capture_output=True, text=True)
        if proc.returncode != 0:
            last = proc.stderr.strip().splitlines()[-1:] or [f"exit {proc.returncode}"]
            raise RuntimeError(f"ais_infer.py --backend {backend} failed: {last[0]}")
        throughput, end_to_end = run_figures(summary_path_for(out / name))
        if files:
            self.outputs[row] = np.stack(
                [read_result(out / name / f"{stem}_0.txt") for stem in self.art.stems])
            return end_to_end
        return throughput


def run_figures(path: Path) -> Tuple[float, float]:
    """(pure-mode throughput, end-to-end images/s) of one ``ais_infer.py`` run, read through its summary's loader."""
    summary = load_summary(path)
    return float(summary.throughput), float(summary.extras.end_to_end_images_per_s)


def drift_of(peer: str, outputs: Dict[str, np.ndarray]) -> Optional[Agreement]:
    """The peer's drift from PyTorch fp32 on the first batch (benchmark_app and pure mode: that of the same model
    file on the same runtime in file mode); None for the reference and where no outputs were kept."""
    precision = peer.rsplit(" ", 1)[1]
    if peer in outputs:
        source = peer
    elif peer.startswith(GPU):
        source = peer.replace(" pure ", " file ")
    else:
        source = f"ais_infer.py file {precision}"
    if source not in outputs or peer == REFERENCE or REFERENCE not in outputs:
        return None
    return Agreement.from_logits(outputs[source], outputs[REFERENCE], tolerance=1e-4, subject=peer,
                                 enforced=precision == "fp32", precision=precision)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", type=Path, help="weights (default: the seeded demo checkpoint)")
    parser.add_argument("--work", type=Path, help="work folder for the built models (default: a temporary one)")
    parser.add_argument("--out", type=Path, default=Path("."), help="where peers.md/.json/.png go (default: .)")
    parser.add_argument("--batch", type=positive_int, default=32, help="batch size (default %(default)s)")
    parser.add_argument("--images", type=positive_int, default=64, help="generated images for file mode (default %(default)s)")
    parser.add_argument("--loop", type=positive_int, default=10, help="timed batches per run (default %(default)s)")
    parser.add_argument("--repeats", type=positive_int, default=3, help="round-robin rounds (default %(default)s)")
    parser.add_argument("--threads", type=positive_int, default=os.cpu_count() or 1, help="threads (default: all cores)")
    parser.add_argument("--gpu-only", action="store_true", help="only the GPU columns (error if none can run here)")
    args = parser.parse_args(argv)
    if args.images < args.batch:
        parser.error(f"--images ({args.images}) must be at least --batch ({args.batch}): one calibration batch")

    bf16, bf16_line = bf16_support()
    gpu_backends, skipped = gpu_status()
    if not bf16:
        skipped.insert(0, f"benchmark_app / ais_infer.py bf16: skipped, {bf16_line}")
    torch_cuda = not any(line.startswith("PyTorch eager CUDA") for line in skipped)
    if args.gpu_only and not (gpu_backends or torch_cuda):
        parser.error("--gpu-only: no GPU column can run here: " + "; ".join(skipped))
    gpu = gpu_model() if gpu_backends or torch_cuda else None
    print(f"CPU: {cpu_model()}, {os.cpu_count()} cores, {cpu_features()}; {bf16_line}; GPU: {gpu or 'none'}",
          file=sys.stderr)
    for line in skipped:
        print(line, file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="bench_peers_") as tmp:
        work = args.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        print(f"building models in {work} ...", file=sys.stderr)
        extra = (("bf16",) if bf16 and not args.gpu_only else ()) + (("fp16",) if gpu_backends else ())
        art = Artefacts(work, args.checkpoint, args.batch, args.images, extra)
        peers = Peers(art, args.loop, args.threads, bf16, gpu_backends, torch_cuda, gpu_only=args.gpu_only)
        peers.reference()
        runs = peers.table()
        speeds: Dict[str, List[float]] = {name: [] for name in runs}
        for round_no in range(args.repeats):
            for name, run in list(runs.items()):
                try:
                    speeds[name].append(run())
                except RuntimeError as exc:
                    if not name.startswith(GPU) or round_no:  # a CPU peer, or one that ran before: a real failure
                        raise
                    skipped.append(f"{name[len(GPU):].strip()}: failed in its first round: {exc}")
                    print(skipped[-1], file=sys.stderr)
                    del runs[name], speeds[name]
                    continue
                print(f"round {round_no + 1}/{args.repeats}: {name}: {speeds[name][-1]:.1f} images/s", file=sys.stderr)

    median = {name: statistics.median(values) for name, values in speeds.items()}

    def group(name: str) -> Tuple[bool, str]:
        return name.startswith(GPU), name.rsplit(" ", 1)[1]

    best: Dict[Tuple[bool, str], float] = {}
    for name, value in median.items():
        best[group(name)] = max(value, best.get(group(name), 0.0))
    when = time.strftime("%Y-%m-%d")
    lines = [f"SE-ResNet50 peers, batch {args.batch}, median of {args.repeats} alternating rounds, {when}, "
             f"{cpu_model()}, {os.cpu_count()} cores ({cpu_features()}; {bf16_line}), {args.threads} threads"
             + (f"; GPU rows on {gpu}" if gpu and any(n.startswith(GPU) for n in median) else ""),
             "", "| peer | images/s | vs best of its precision and device | reduced / fp32 | "
             "drift vs PyTorch fp32 (first batch) |",
             "| --- | ---: | ---: | ---: | --- |"]
    record = []
    for name, value in median.items():
        precision = name.rsplit(" ", 1)[1]
        fp32_twin = name[: -len(precision)] + "fp32"
        speedup = f"{value / median[fp32_twin]:.2f}x" if precision != "fp32" and fp32_twin in median else ""
        drift = drift_of(name, peers.outputs)
        drift_text = ("reference" if name == REFERENCE else "not measured" if drift is None else
                      f"max rel err {drift.max_relative_error:.1e}, top-1 {100 * drift.top1_agreement:.0f} %, "
                      f"min cos {drift.min_cosine_similarity:.4f}")
        lines.append(f"| {name} | {value:.1f} | {value / best[group(name)]:.2f} | {speedup} | {drift_text} |")
        record.append({"peer": name, "images_per_s": value, "runs_images_per_s": speeds[name],
                       "drift": drift.to_dict() if drift else None})
    if skipped:
        lines += [""] + [f"- {line}" for line in skipped]
    table = "\n".join(lines) + "\n"
    print(table)
    args.out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.out / "peers.md", table)
    atomic_write_json(args.out / "peers.json", {"date": when, "cpu": cpu_model(), "cpu_features": cpu_features(),
                                                "gpu": gpu,
                                                "bf16": bf16_line, "skipped": skipped,
                                                "batch": args.batch, "loop": args.loop, "repeats": args.repeats,
                                                "threads": args.threads, "peers": record})
    write_chart(median, args.out / "peers.png", lines[0])
    return 0


def write_chart(median: Dict[str, float], path: Path, title: str) -> None:
    """Horizontal bars, one colour per precision."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(median)
    fig, ax = plt.subplots(figsize=(9, 0.45 * len(names) + 1.5))
    palette = {"fp32": "tab:blue", "int8": "tab:orange", "bf16": "tab:green", "fp16": "tab:purple"}
    colours = [palette.get(n.rsplit(" ", 1)[1], "tab:gray") for n in names]
    ax.barh(names[::-1], [median[n] for n in names][::-1], color=colours[::-1])
    ax.set_xlabel("images/s")
    ax.set_title(title, fontsize=8, wrap=True)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
