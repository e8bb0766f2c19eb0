"""Steps 4 and 6: an ais_bench-compatible runner (file mode and pure mode) over the portable backends.

Command line: ``python3 ais_infer.py --model M.onnx [--input DIR] [--output OUT --output_dirname NAME]
[--outfmt BIN|NPY|TXT] [--batchsize N] [--loop N] ...`` — ais_bench's options and behaviour
(batching, padding of the last batch, result names and formats, summary), plus ``--backend``,
``--threads`` and ``--annotate``. An ``.om`` model is handed to
the real ``python3 -m ais_bench`` when it is installed.

File mode reads the input files batch by batch in a background thread, runs each batch, and
writes ``<output>/<output_dirname>/<stem>_<k>.<fmt>`` from a small writer pool, so memory does not
grow with the number of inputs.

Summary JSON, ``<output>/<output_dirname>_summary.json`` (beside the result folder, never inside it;
not written without ``--output``). These keys are stable; the pipeline driver reads them:

- ``NPU_compute_time``: ``min_ms``, ``max_ms``, ``mean_ms``, ``median_ms``, ``percentile99_ms``
  (numbers, milliseconds) and ``count`` (timed runs): the backend's run call alone, warm-up runs
  excluded, no file I/O — ais_bench's compute time.
- ``throughput_images_per_s``: ais_bench's figure, ``1000 * batchsize / NPU_compute_time.mean_ms``.
- ``end_to_end_images_per_s``: file mode: input files / wall time from the first read to the last
  write (warm-up included, model loading excluded); pure mode: ``batchsize * loop`` / wall time of
  the timed loop.
- ``end_to_end_s``: that wall time in seconds.
- ``batchsize``: samples per run; ``num_inputs``: input files read (0 in pure mode);
  ``files_per_batch``: input files per run (0 in pure mode).
- ``mode``: ``"file"`` or ``"pure"``; ``result_dir``: the result folder, or null.
- ``backend``: ``{"name", "version", "device", "precision"}``.
- ``model``: the model path as given; ``args``: every option of the run.
- one string field per ``--annotate KEY=VALUE``.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import queue
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Generator, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import backends
from .cli import default_workers, non_negative_int, positive_int
from .errors import PipelineError
from .fileio import (RESULT_FORMATS, atomic_write_json, is_hidden_temp, natural_key, result_file_name,
                     stem_of, write_result)

SUMMARY_SUFFIX = "_summary.json"
TIMESTAMP_FORMAT = "%Y_%m_%d-%H_%M_%S"  # ais_bench's default result folder name
INPUT_EXTENSIONS = (".bin", ".npy")
PURE_DATA_TYPES = ("zero", "random")
PURE_RANDOM_SEED = 0
PERCENTILE = 99
PROJECT_OPTIONS = ("--backend", "--threads", "--annotate")  # not passed on to the real ais_bench
_PREFETCH_BATCHES = 2
_PENDING_WRITE_BATCHES = 4


@dataclass
class RunConfig:
    """One run's options; the defaults are ais_bench's."""

    model: Path
    inputs: list[str] = field(default_factory=list)  # empty: pure mode
    output: Path | None = None
    output_dirname: str | None = None
    outfmt: str = "BIN"
    loop: int = 1
    batchsize: int | None = None
    warmup_count: int = 1
    devices: tuple[int, ...] = (0,)
    pure_data_type: str = "zero"
    display_all_summary: bool = False
    debug: bool = False
    output_batchsize_axis: int = 0
    backend: str = backends.AUTO
    threads: int = field(default_factory=default_workers)
    annotations: dict[str, str] = field(default_factory=dict)
    progress: bool = True

    def args_record(self) -> dict[str, Any]:
        """The ``args`` record of the summary (JSON types)."""
        return {
            "model": str(self.model), "input": list(self.inputs),
            "output": None if self.output is None else str(self.output),
            "output_dirname": self.output_dirname, "outfmt": self.outfmt, "loop": self.loop,
            "batchsize": self.batchsize, "warmup_count": self.warmup_count, "device": list(self.devices),
            "pure_data_type": self.pure_data_type, "display_all_summary": self.display_all_summary,
            "debug": self.debug, "output_batchsize_axis": self.output_batchsize_axis,
            "backend": self.backend, "threads": self.threads,
        }


@dataclass(frozen=True)
class TimeStats:
    """ais_bench's statistics of a list of times, in milliseconds."""

    min_ms: float
    max_ms: float
    mean_ms: float
    median_ms: float
    percentile99_ms: float
    count: int

    @classmethod
    def from_seconds(cls, seconds: Sequence[float]) -> TimeStats:
        """Statistics of per-run times given in seconds."""
        ms = np.asarray(seconds, dtype=np.float64) * 1000.0
        if ms.size == 0:
            return cls(0.0, 0.0, 0.0, 0.0, 0.0, 0)
        return cls(float(ms.min()), float(ms.max()), float(ms.mean()), float(np.median(ms)),
                   float(np.percentile(ms, PERCENTILE)), int(ms.size))


@dataclass
class RunSummary:
    """What a run measured and where it wrote; :meth:`to_json` is the summary file's content."""

    compute: TimeStats
    batchsize: int
    num_inputs: int
    files_per_batch: int
    end_to_end_s: float
    end_to_end_images: int
    backend: dict[str, str]
    model: str
    mode: str
    args: dict[str, Any]
    annotations: dict[str, str] = field(default_factory=dict)
    result_dir: Path | None = None
    summary_path: Path | None = None

    @property
    def throughput_images_per_s(self) -> float:
        """ais_bench's throughput: 1000 * batchsize / mean compute ms."""
        return 1000.0 * self.batchsize / self.compute.mean_ms if self.compute.mean_ms else 0.0

    @property
    def end_to_end_images_per_s(self) -> float:
        """Images per second of wall time, reading and writing included."""
        return self.end_to_end_images / self.end_to_end_s if self.end_to_end_s else 0.0

    def to_json(self) -> dict[str, Any]:
        """The summary record (numbers as numbers, units in the keys)."""
        record: dict[str, Any] = {
            "NPU_compute_time": {
                "min_ms": self.compute.min_ms, "max_ms": self.compute.max_ms, "mean_ms": self.compute.mean_ms,
                "median_ms": self.compute.median_ms, "percentile99_ms": self.compute.percentile99_ms,
                "count": self.compute.count,
            },
            "throughput_images_per_s": self.throughput_images_per_s,
            "end_to_end_images_per_s": self.end_to_end_images_per_s,
            "end_to_end_s": self.end_to_end_s,
            "batchsize": self.batchsize,
            "num_inputs": self.num_inputs,
            "files_per_batch": self.files_per_batch,
            "mode": self.mode,
            "result_dir": None if self.result_dir is None else str(self.result_dir),
            "backend": dict(self.backend),
            "model": self.model,
            "args": dict(self.args),
        }
        record.update(self.annotations)
        return record

    def report_lines(self, display_all: bool = False) -> list[str]:
        """ais_bench's Performance Summary, in its words, then the end-to-end figure."""
        c = self.compute

        def r(x: float) -> float:
            return round(x, 4)

        lines = ["[INFO] -----------------Performance Summary------------------"]
        lines.append(
            f"[INFO] NPU_compute_time (ms): min = {r(c.min_ms)}, max = {r(c.max_ms)}, mean = {r(c.mean_ms)}, "
            f"median = {r(c.median_ms)}, percentile({PERCENTILE}%) = {r(c.percentile99_ms)}"
        )
        lines.append(
            f"[INFO] throughput 1000*batchsize.mean({self.batchsize})/NPU_compute_time.mean({r(c.mean_ms)}): "
            f"{r(self.throughput_images_per_s)}"
        )
        lines.append("[INFO] ------------------------------------------------------")
        what = ("read + infer + write, whole run, model load excluded" if self.mode == "file"
                else "timed loop wall time, host overhead included")
        lines.append(f"[INFO] end-to-end images/s ({what}): {self.end_to_end_images_per_s:.1f} "
                     f"({self.end_to_end_images} images in {self.end_to_end_s:.3f} s)")
        if display_all:
            b = self.backend
            lines.append(f"[INFO] backend {b['name']} {b['version']} on {b['device']} at {b['precision']}, "
                         f"timed runs {c.count}, files per batch {self.files_per_batch}")
        return lines


# --------------------------------------------------------------------------- command line

def _str2bool(text: str) -> bool:
    value = text.strip().lower()
    if value in ("1", "true", "t", "yes", "y"):
        return True
    if value in ("0", "false", "f", "no", "n"):
        return False
    raise argparse.ArgumentTypeError(f"not a boolean: {text!r}")


def _device_list(text: str) -> tuple[int, ...]:
    try:
        ids = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"device must be an id or a list like 0,1, got {text!r}") from None
    if not ids or any(i < 0 for i in ids):
        raise argparse.ArgumentTypeError(f"device ids must be >= 0, got {text!r}")
    return ids


def _annotation(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key.strip(), value


def build_parser() -> argparse.ArgumentParser:
    """ais_bench's options (``--flag value`` and ``--flag=value``) plus the project's own."""
    parser = argparse.ArgumentParser(
        prog="ais_infer.py",
        description="Run a model on .bin/.npy inputs (or pure data) the way ais_bench does; "
                    "ONNX models run on ONNX Runtime or OpenVINO.",
    )
    model = parser.add_argument_group("model and data")
    model.add_argument("--model", "-m", required=True, type=Path, help="model file (.onnx; .om needs ais_bench)")
    model.add_argument("--input", "-i", default=None,
                       help="comma-separated folders (one per model input) or files; omitted: pure mode")
    model.add_argument("--pure_data_type", "--pure-data-type", choices=PURE_DATA_TYPES, default="zero",
                       help="pure-mode data: zeros or seeded random values (default zero)")
    model.add_argument("--batchsize", "--batch-size", type=positive_int, default=None,
                       help="batch size; must equal the model's static batch, sets a dynamic one (default 1)")
    out = parser.add_argument_group("results")
    out.add_argument("--output", "-o", type=Path, default=None, help="folder for the result folder and summary")
    out.add_argument("--output_dirname", "--output-dirname", default=None,
                     help="result folder name under --output (default: a timestamp)")
    out.add_argument("--outfmt", choices=RESULT_FORMATS, default="BIN", help="result format (default BIN)")
    out.add_argument("--output_batchsize_axis", "--output-batchsize-axis", type=non_negative_int, default=0,
                     help="axis of each output that is split into one piece per input file (default 0)")
    perf = parser.add_argument_group("performance")
    perf.add_argument("--loop", "-l", type=positive_int, default=1, help="timed runs per batch (default 1)")
    perf.add_argument("--warmup_count", "--warmup-count", type=non_negative_int, default=1,
                      help="untimed runs before timing (default 1)")
    perf.add_argument("--device", "-d", type=_device_list, default=(0,),
                      help="device id or list (0,1); the CPU ignores it, CUDA uses the first")
    perf.add_argument("--backend", choices=backends.BACKEND_CHOICES, default=backends.AUTO,
                      help="runtime for ONNX models; auto: the fastest installed one, measured (default)")
    perf.add_argument("--threads", type=positive_int, default=None, help="intra-op threads (default: all cores)")
    report = parser.add_argument_group("reporting")
    report.add_argument("--display_all_summary", "--display-all-summary", type=_str2bool, nargs="?",
                        const=True, default=False, help="print the extra summary lines")
    report.add_argument("--debug", type=_str2bool, nargs="?", const=True, default=False,
                        help="print model inputs/outputs and every batch's time")
    report.add_argument("--annotate", type=_annotation, action="append", default=[], metavar="KEY=VALUE",
                        help="add a string field to the summary JSON (repeatable)")
    return parser


_RESERVED_KEYS = frozenset(RunSummary(TimeStats.from_seconds([]), 0, 0, 0, 0.0, 0, {}, "", "", {}).to_json())


def config_from_args(args: argparse.Namespace) -> RunConfig:
    """Check option combinations and build the run's configuration."""
    if args.output_dirname is not None and args.output is None:
        raise PipelineError("--output_dirname requires --output")
    if args.output_dirname is not None and (not args.output_dirname.strip() or os.path.isabs(args.output_dirname)):
        raise PipelineError(f"--output_dirname must be a relative folder name, got {args.output_dirname!r}")
    annotations: dict[str, str] = {}
    for key, value in args.annotate:
        if key in _RESERVED_KEYS:
            raise PipelineError(f"--annotate {key}=...: {key!r} is a summary field of its own")
        annotations[key] = value
    inputs = [part.strip() for part in args.input.split(",") if part.strip()] if args.input else []
    if args.input is not None and not inputs:
        raise PipelineError("--input is empty")
    return RunConfig(
        model=args.model, inputs=inputs, output=args.output, output_dirname=args.output_dirname,
        outfmt=args.outfmt, loop=args.loop, batchsize=args.batchsize, warmup_count=args.warmup_count,
        devices=tuple(args.device), pure_data_type=args.pure_data_type,
        display_all_summary=args.display_all_summary, debug=args.debug,
        output_batchsize_axis=args.output_batchsize_axis, backend=args.backend,
        threads=args.threads or default_workers(), annotations=annotations,
    )


def strip_project_options(argv: Sequence[str]) -> list[str]:
    """``argv`` without the options only this runner knows (for the real ais_bench)."""
    kept: list[str] = []
    skip_next = False
    for arg in argv:
        if skip_next:
            skip_next = False
            continue
        name = arg.split("=", 1)[0]
        if name in PROJECT_OPTIONS:
            skip_next = "=" not in arg
            continue
        kept.append(arg)
    return kept


def run_om(model: Path, argv: Sequence[str]) -> int:
    """Hand an ``.om`` model to the real ``python3 -m ais_bench`` with the same arguments; its exit code."""
    if importlib.util.find_spec("ais_bench") is None:
        raise PipelineError(
            f"{model}: an .om model needs the Ascend toolkit (CANN + ais_bench), which is not installed here; "
            "aipp_convert.py produces a portable .onnx that this runner runs"
        )
    return subprocess.call([sys.executable, "-m", "ais_bench", *strip_project_options(argv)])


def print_report(summary: RunSummary, display_all: bool = False, out: Callable[[str], None] = print) -> None:
    """Print the Performance Summary and where the summary JSON went."""
    for line in summary.report_lines(display_all):
        out(line)
    if summary.summary_path is not None:
        out(f"[INFO] summary written to {summary.summary_path}")


# --------------------------------------------------------------------------- running

def run(config: RunConfig, log: Callable[[str], None] = print) -> RunSummary:
    """File mode when ``config.inputs`` is set, else pure mode; writes the summary JSON under ``--output``."""
    summary = run_files(config, log) if config.inputs else run_pure(config, log)
    if config.output is not None:
        dirname = config.output_dirname or summary.args["output_dirname"]
        path = config.output / f"{dirname}{SUMMARY_SUFFIX}"
        summary.summary_path = path
        atomic_write_json(path, summary.to_json())
    return summary


def _load(config: RunConfig, log: Callable[[str], None]) -> tuple[backends.Backend, int]:
    """Load the model on the configured backend and settle the batch size."""
    if not config.model.is_file():
        raise PipelineError(f"{config.model}: model not found")
    if config.model.suffix.lower() == ".om":
        raise PipelineError(f"{config.model}: .om models run through the real ais_bench (use ais_infer.py's command line)")
    backend = backends.load_backend(config.backend, config.model, threads=config.threads,
                                    device=config.devices[0], batch=config.batchsize, log=log)
    batch = resolve_batch(config.model, backend.inputs, config.batchsize)
    if config.debug:
        log(f"[DEBUG] backend {backend.name} {backend.version} on {backend.device} at {backend.precision}, "
            f"{config.threads} threads")
        for info in backend.inputs:
            log(f"[DEBUG] input  {info.describe()}")
        for info in backend.outputs:
            log(f"[DEBUG] output {info.describe()}")
    return backend, batch


def resolve_batch(model: Path, inputs: Sequence[backends.TensorInfo], requested: int | None) -> int:
    """The model's static batch (axis 0 of its inputs), or ``requested`` (default 1) when it is dynamic."""
    static = {info.shape[0] for info in inputs if info.shape and info.shape[0] is not None}
    if len(static) > 1:
        raise PipelineError(f"{model}: inputs disagree on the batch size (axis 0): {sorted(static)}")
    if static:
        (batch,) = static
        if requested is not None and requested != batch:
            raise PipelineError(f"{model}: --batchsize {requested} but the model's batch size is {batch}")
        return int(batch)
    return requested or 1


def _batch_nbytes(info: backends.TensorInfo, batch: int) -> int:
    dims = [batch if (i == 0 and d is None) else d for i, d in enumerate(info.shape)]
    if any(d is None for d in dims):
        raise PipelineError(f"model input {info.describe()}: only the batch dimension (axis 0) may be dynamic")
    return int(np.prod(dims, dtype=np.int64)) * info.dtype.itemsize


def _batch_shape(info: backends.TensorInfo, batch: int) -> tuple[int, ...]:
    return tuple(batch if (i == 0 and d is None) else int(d) for i, d in enumerate(info.shape))  # type: ignore[arg-type]


def run_pure(config: RunConfig, log: Callable[[str], None] = print) -> RunSummary:
    """ais_bench's pure mode: one batch of zeros or seeded random data, warm-ups, then ``loop`` timed runs."""
    backend, batch = _load(config, log)
    rng = np.random.default_rng(PURE_RANDOM_SEED)
    feeds = {}
    for info in backend.inputs:
        _batch_nbytes(info, batch)  # rejects dynamic dimensions other than the batch
        shape = _batch_shape(info, batch)
        if config.pure_data_type == "zero":
            feeds[info.name] = np.zeros(shape, dtype=info.dtype)
        elif np.issubdtype(info.dtype, np.floating):
            feeds[info.name] = rng.standard_normal(shape).astype(info.dtype)
        elif info.dtype == np.bool_:
            feeds[info.name] = rng.integers(0, 2, shape).astype(np.bool_)
        else:
            # Image-like range: random bytes, clipped to what the integer type can hold.
            hi = min(256, int(np.iinfo(info.dtype).max) + 1)
            feeds[info.name] = rng.integers(0, hi, shape).astype(info.dtype)
    for _ in range(config.warmup_count):
        backend.run(feeds)
    times = []
    start = time.perf_counter()
    for _ in range(config.loop):
        t0 = time.perf_counter()
        backend.run(feeds)
        times.append(time.perf_counter() - t0)
        if config.debug:
            log(f"[DEBUG] run {len(times)}: {1000 * times[-1]:.3f} ms")
    wall = time.perf_counter() - start
    args = config.args_record()
    args["output_dirname"] = config.output_dirname or (time.strftime(TIMESTAMP_FORMAT) if config.output else None)
    return RunSummary(
        compute=TimeStats.from_seconds(times), batchsize=batch, num_inputs=0, files_per_batch=0,
        end_to_end_s=wall, end_to_end_images=batch * config.loop, backend=backend.info(),
        model=str(config.model), mode="pure", args=args, annotations=dict(config.annotations),
    )


# --------------------------------------------------------------------------- file mode

@dataclass(frozen=True)
class InputFile:
    """One input file: path, data bytes, and whether it is an .npy (header before the data)."""

    path: Path
    nbytes: int
    is_npy: bool


@dataclass
class InputPlan:
    """The files of each model input and how they fill a batch."""

    files: list[list[InputFile]]  # per model input, in order
    files_per_batch: int
    batch_nbytes: list[int]
    stems: list[str]
    folders: list[Path]

    @property
    def num_inputs(self) -> int:
        """Input files per model input (= result files per model output)."""
        return len(self.stems)

    @property
    def num_batches(self) -> int:
        """Runs needed, the last one possibly padded."""
        return -(-self.num_inputs // self.files_per_batch)


def _scan_folder(folder: Path) -> list[Path]:
    try:
        with os.scandir(folder) as entries:
            found = [Path(e.path) for e in entries
                     if e.is_file() and not is_hidden_temp(e.name) and Path(e.name).suffix.lower() in INPUT_EXTENSIONS]
    except OSError as exc:
        raise PipelineError(f"{folder}: cannot list folder: {exc.strerror or exc}") from None
    if not found:
        raise PipelineError(f"{folder}: no .bin or .npy files")
    return sorted(found, key=lambda p: natural_key(p.name))


def _describe_file(path: Path, info: backends.TensorInfo) -> InputFile:
    if path.suffix.lower() == ".npy":
        try:
            array = np.load(path, mmap_mode="r", allow_pickle=False)
        except Exception as exc:  # ValueError/OSError for a corrupt header or a pickled array
            raise PipelineError(f"{path}: not a readable .npy file: {exc}") from None
        if array.dtype != info.dtype:
            raise PipelineError(f"{path}: .npy holds {array.dtype}, but model input {info.name!r} is {info.dtype}")
        return InputFile(path, int(array.nbytes), True)
    try:
        return InputFile(path, path.stat().st_size, False)
    except OSError as exc:
        raise PipelineError(f"{path}: cannot read: {exc.strerror or exc}") from None


def plan_inputs(entries: Sequence[str], inputs: Sequence[backends.TensorInfo], batch: int) -> InputPlan:
    """Resolve ``--input`` into files per model input and check every file's size before running."""
    paths = [Path(e) for e in entries]
    for path in paths:
        if not path.exists():
            raise PipelineError(f"{path}: input not found")
    n_inputs = len(inputs)
    if all(p.is_dir() for p in paths):
        if len(paths) != n_inputs:
            raise PipelineError(f"--input gives {len(paths)} folders but the model has {n_inputs} inputs "
                                f"({', '.join(i.name for i in inputs)}): one folder per input")
        groups = [_scan_folder(p) for p in paths]
        folders = [p.resolve() for p in paths]
    elif not any(p.is_dir() for p in paths):
        if len(paths) % n_inputs:
            raise PipelineError(f"--input gives {len(paths)} files for a model with {n_inputs} inputs")
        groups = [paths[k::n_inputs] for k in range(n_inputs)]  # ais_bench: file i feeds input i mod n
        folders = sorted({p.resolve().parent for p in paths})
    else:
        raise PipelineError("--input mixes folders and files: give folders (one per model input) or files")

    counts = {len(g) for g in groups}
    if len(counts) != 1:
        raise PipelineError(f"--input: the model inputs get different numbers of files: {[len(g) for g in groups]}")

    files: list[list[InputFile]] = []
    batch_nbytes: list[int] = []
    per_batch: set[int] = set()
    for info, group in zip(inputs, groups):
        need = _batch_nbytes(info, batch)
        described = [_describe_file(p, info) for p in group]
        first = described[0]
        for f in described:
            if f.nbytes != first.nbytes:
                raise PipelineError(f"{f.path}: {f.nbytes} bytes, unlike the {first.nbytes} bytes of "
                                    f"{first.path.name}: all input files must have the same size")
        if first.nbytes == 0 or need % first.nbytes:
            shape = ",".join(map(str, _batch_shape(info, batch)))
            raise PipelineError(f"{first.path}: {first.nbytes} bytes does not divide the {need}-byte batch of "
                                f"model input {info.name!r} ({info.dtype} [{shape}])")
        per_batch.add(need // first.nbytes)
        files.append(described)
        batch_nbytes.append(need)
    if len(per_batch) != 1:
        raise PipelineError(f"--input: the model inputs need different numbers of files per batch: {sorted(per_batch)}")

    stems: list[str] = []
    seen: dict[str, Path] = {}
    for f in files[0]:
        stem = stem_of(f.path)
        if stem in seen:
            raise PipelineError(f"{f.path}: same result name {stem!r} as {seen[stem]}; rename one of them")
        seen[stem] = f.path
        stems.append(stem)
    return InputPlan(files, per_batch.pop(), batch_nbytes, stems, folders)


def _read_into(f: InputFile, view: memoryview, dtype: np.dtype) -> None:
    if f.is_npy:
        try:
            array = np.load(f.path, allow_pickle=False)
        except Exception as exc:
            raise PipelineError(f"{f.path}: not a readable .npy file: {exc}") from None
        if array.dtype != dtype or array.nbytes != len(view):
            raise PipelineError(f"{f.path}: changed while running ({array.dtype}, {array.nbytes} bytes)")
        view[:] = np.ascontiguousarray(array).reshape(-1).view(np.uint8).data
        return
    try:
        with open(f.path, "rb", buffering=0) as fh:
            got = 0
            while got < len(view):
                n = fh.readinto(view[got:])
                if not n:
                    break
                got += n
            extra = fh.read(1)
    except OSError as exc:
        raise PipelineError(f"{f.path}: cannot read: {exc.strerror or exc}") from None
    if got != len(view) or extra:
        raise PipelineError(f"{f.path}: size changed while running (expected {len(view)} bytes)")


def read_batches(plan: InputPlan, inputs: Sequence[backends.TensorInfo], batch: int,
                 stop: threading.Event | None = None) -> Iterator[tuple[dict[str, np.ndarray], int, int]]:
    """Yield (feeds, index of the batch's first file, real files) per batch; a short batch repeats its first file."""
    fpb = plan.files_per_batch
    for b in range(plan.num_batches):
        if stop is not None and stop.is_set():
            return
        lo = b * fpb
        real = min(fpb, plan.num_inputs - lo)
        feeds = {}
        for info, group, need in zip(inputs, plan.files, plan.batch_nbytes):
            buf = np.empty(need, dtype=np.uint8)
            view = memoryview(buf)
            size = need // fpb
            for j in range(real):
                _read_into(group[lo + j], view[j * size:(j + 1) * size], info.dtype)
            for j in range(real, fpb):
                buf[j * size:(j + 1) * size] = buf[:size]
            feeds[info.name] = buf.view(info.dtype).reshape(_batch_shape(info, batch))
        yield feeds, lo, real


def _prefetch(items: Iterator[Any], depth: int, stop: threading.Event) -> Generator[Any, None, None]:
    """Run ``items`` in a background thread, ``depth`` ahead; its exceptions surface here."""
    q: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=depth)

    def put(item: tuple[str, Any]) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def worker() -> None:
        try:
            for item in items:
                if not put(("item", item)):
                    return
            put(("end", None))
        except BaseException as exc:  # handed to the consumer, which re-raises it
            put(("error", exc))

    thread = threading.Thread(target=worker, name="ais_infer-reader", daemon=True)
    thread.start()
    try:
        while True:
            kind, value = q.get()
            if kind == "end":
                return
            if kind == "error":
                raise value
            yield value
    finally:
        stop.set()
        thread.join()


def _write_batch(outputs: Sequence[np.ndarray], names: Sequence[str], stems: Sequence[str], result_dir: Path,
                 fmt: str, axis: int, fpb: int) -> list[str]:
    """Split each output into one piece per input file and write the real ones; the names written."""
    written = []
    for k, (name, out) in enumerate(zip(names, outputs)):
        if out.ndim <= axis or out.shape[axis] % fpb:
            raise PipelineError(f"model output {name!r} of shape {list(out.shape)} cannot be split into {fpb} "
                                f"pieces (one per input file) along --output_batchsize_axis {axis}")
        pieces = np.split(out, fpb, axis=axis) if fpb > 1 else [out]
        for stem, piece in zip(stems, pieces):
            file_name = result_file_name(stem, k, fmt)
            write_result(result_dir / file_name, piece, fmt)
            written.append(file_name)
    return written


def _result_dir(config: RunConfig, folders: Sequence[Path]) -> tuple[Path | None, str | None]:
    if config.output is None:
        return None, None
    dirname = config.output_dirname or time.strftime(TIMESTAMP_FORMAT)
    result_dir = config.output / dirname
    out = config.output.resolve()
    for folder in folders:
        if out == folder or folder in out.parents:
            raise PipelineError(f"{config.output}: is inside the input folder {folder}; write results elsewhere")
    if result_dir.exists() and not result_dir.is_dir():
        raise PipelineError(f"{result_dir}: exists and is not a folder")
    result_dir.mkdir(parents=True, exist_ok=True)
    return result_dir, dirname


def run_files(config: RunConfig, log: Callable[[str], None] = print) -> RunSummary:
    """ais_bench's file mode: batches of input files in, one result file per input and model output out."""
    from tqdm import tqdm

    backend, batch = _load(config, log)
    plan = plan_inputs(config.inputs, backend.inputs, batch)
    result_dir, dirname = _result_dir(config, plan.folders)
    earlier = set()
    if result_dir is not None:
        earlier = {p.name for p in result_dir.iterdir() if not is_hidden_temp(p.name)}
    if config.debug:
        log(f"[DEBUG] {plan.num_inputs} inputs, {plan.files_per_batch} files per batch, {plan.num_batches} batches")

    output_names = [o.name for o in backend.outputs]
    fpb = plan.files_per_batch
    times: list[float] = []
    written: set[str] = set()
    stop = threading.Event()
    pending: deque[Future[list[str]]] = deque()
    writers = ThreadPoolExecutor(max_workers=min(4, max(1, config.threads)), thread_name_prefix="ais_infer-writer")
    bar = tqdm(total=plan.num_inputs, unit="file", file=sys.stderr, disable=not config.progress,
               desc="inference", dynamic_ncols=True)
    start = time.perf_counter()
    batches = _prefetch(read_batches(plan, backend.inputs, batch, stop), _PREFETCH_BATCHES, stop)
    try:
        for index, (feeds, lo, real) in enumerate(batches):
            if index == 0:
                for _ in range(config.warmup_count):
                    backend.run(feeds)
            for _ in range(config.loop):
                t0 = time.perf_counter()
                outputs = backend.run(feeds)
                times.append(time.perf_counter() - t0)
            if config.debug:
                log(f"[DEBUG] batch {index}: {real} files, {1000 * times[-1]:.3f} ms")
            if result_dir is not None:
                pending.append(writers.submit(_write_batch, outputs, output_names, plan.stems[lo:lo + real],
                                              result_dir, config.outfmt, config.output_batchsize_axis, fpb))
                while len(pending) > _PENDING_WRITE_BATCHES:  # bounds memory: wait for the oldest batch
                    written.update(pending.popleft().result())
            bar.update(real)
        while pending:
            written.update(pending.popleft().result())
    finally:
        batches.close()  # stops and joins the reader thread
        for future in pending:  # shutdown(cancel_futures=) needs Python 3.9
            future.cancel()
        writers.shutdown(wait=True)
        bar.close()
    wall = time.perf_counter() - start

    stale = earlier - written
    if stale:
        log(f"[WARNING] {result_dir}: {len(stale)} files from an earlier run were not replaced by this one")
    args = config.args_record()
    args["output_dirname"] = dirname
    return RunSummary(
        compute=TimeStats.from_seconds(times), batchsize=batch, num_inputs=plan.num_inputs,
        files_per_batch=fpb, end_to_end_s=wall, end_to_end_images=plan.num_inputs, backend=backend.info(),
        model=str(config.model), mode="file", args=args, annotations=dict(config.annotations),
        result_dir=result_dir,
    )
