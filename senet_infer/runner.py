"""Steps 4 and 6: an ais_bench-compatible runner (file mode and pure mode) over the portable backends.

Command line: ``python3 ais_infer.py --model M.onnx [--input DIR[,DIR2]] [--output OUT --output_dirname NAME]
[--outfmt BIN|NPY|TXT] [--batchsize N] [--loop N] [--device 0[,1]] ...`` — ais_bench's options and
behaviour (batching, padding of the last batch, result names and formats, summary, one process per
listed device), plus ``--backend``, ``--threads``, ``--hint`` and ``--annotate``. An ``.om`` model is
handed, with every argument, to the real ``python3 -m ais_bench``.

File mode reads the input files batch by batch in a background thread, keeps as many batches in
flight as the backend runs at once (OpenVINO's THROUGHPUT hint chooses that number), and writes
``<output>/<output_dirname>/<stem>_<k>.<fmt>`` from a small writer pool, so memory does not grow
with the number of inputs. Every result file is written under a hidden temporary name and renamed.

The summary, ``<output>/<output_dirname>_summary.json``, is :class:`senet_infer.summary.RunSummary`:
ais_bench's keys and meanings, this project's extras under ``"senet_infer"``.

Timing (also written into the summary's ``senet_infer.timing``): each timed batch's
``NPU_compute_time`` is the time from the later of its submission and the previous batch's completion
to its own completion — the time the runtime was busy delivering that batch. With one request in
flight that is the run call itself (ais_bench's meaning); with several overlapping requests it is
busy wall time / batches, so ais_bench's throughput formula gives the delivered images/s, and each
request's own latency goes to ``senet_infer.request_latency``.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import math
import multiprocessing
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Generator, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from . import backends
from .backends import TensorInfo
from .cli import collect_key_values, default_workers, key_value, non_negative_int, positive_int
from .errors import PipelineError
from .fileio import (
    RESULT_FORMATS,
    atomic_write_json,
    clear_stale_temps,
    is_hidden_temp,
    list_inputs,
    parse_result_name,
    result_file_name,
    stem_of,
    write_result,
)
from .summary import Extras, RunSummary, TimeStats, summary_path

TIMESTAMP_FORMAT = "%Y_%m_%d-%H_%M_%S"  # ais_bench's default result folder name
INPUT_EXTENSIONS = (".bin", ".npy")
PURE_DATA_TYPES = ("zero", "random")
PURE_RANDOM_SEED = 0
PURE_INFER_FILE = "pure_infer_data"  # ais_bench's name for pure-mode data: results are pure_infer_data_<k>
DEVICE_FOLDER = "device{}"  # ais_bench's multi-device result folder under --output_dirname
# Options only this runner knows: (name, takes a value); not passed on to the real ais_bench.
PROJECT_OPTIONS = {"--backend": True, "--threads": True, "--annotate": True, "--hint": True}
_PENDING_WRITE_BATCHES = 4
_LOG_PREFIX = "[INFO] "

TIMING_NOTE = (
    "NPU_compute_time: per timed batch, the time from the later of its submission and the previous batch's "
    "completion to its own completion (the runtime's busy time for that batch); with {requests} request(s) "
    "in flight{overlap}. H2D_latency: {h2d}. D2H_latency: {d2h}."
)


@dataclass
class RunConfig:
    """One run's options; the defaults are ais_bench's."""

    model: Path
    inputs: List[str] = field(default_factory=list)  # as given, comma-split; empty: pure mode
    output: Optional[str] = None  # as given (ais_bench joins paths with os.path.join)
    output_dirname: Optional[str] = None
    outfmt: str = "BIN"
    loop: int = 1
    batchsize: Optional[int] = None
    warmup_count: int = 1
    devices: Tuple[int, ...] = (0,)
    pure_data_type: str = "zero"
    display_all_summary: bool = False
    debug: bool = False
    output_batchsize_axis: int = 0
    backend: str = backends.AUTO
    threads: int = field(default_factory=default_workers)
    hint: str = backends.THROUGHPUT
    annotations: Dict[str, str] = field(default_factory=dict)
    argv: List[str] = field(default_factory=list)  # ais_bench's summary "args": the command line
    progress: bool = True
    cpus: Optional[List[int]] = None  # cores this process is pinned to (one device of several)

    def options(self) -> Dict[str, Any]:
        """Every option of the run, resolved (JSON types)."""
        return {
            "model": str(self.model), "input": list(self.inputs), "output": self.output,
            "output_dirname": self.output_dirname, "outfmt": self.outfmt, "loop": self.loop,
            "batchsize": self.batchsize, "warmup_count": self.warmup_count, "device": list(self.devices),
            "pure_data_type": self.pure_data_type, "display_all_summary": self.display_all_summary,
            "debug": self.debug, "output_batchsize_axis": self.output_batchsize_axis,
            "backend": self.backend, "threads": self.threads, "hint": self.hint,
        }


# --------------------------------------------------------------------------- command line

def _str2bool(text: str) -> bool:
    value = text.strip().lower()
    if value in ("1", "true", "t", "yes", "y"):
        return True
    if value in ("0", "false", "f", "no", "n"):
        return False
    raise argparse.ArgumentTypeError(f"not a boolean: {text!r}")


def _device_list(text: str) -> Tuple[int, ...]:
    try:
        ids = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"device must be an id or a list like 0,1, got {text!r}") from None
    if not ids or any(i < 0 or i > 255 for i in ids):
        raise argparse.ArgumentTypeError(f"device ids must be in [0, 255], got {text!r}")
    if len(set(ids)) != len(ids):
        raise argparse.ArgumentTypeError(f"device ids must differ, got {text!r}")
    return ids


def build_parser() -> argparse.ArgumentParser:
    """ais_bench's options (``--flag value`` and ``--flag=value``) plus the project's own."""
    parser = argparse.ArgumentParser(
        prog="ais_infer.py",
        description="Run a model on .bin/.npy inputs (or pure data) the way ais_bench does; "
                    "ONNX models run on ONNX Runtime or OpenVINO, .om models go to the real ais_bench.",
    )
    model = parser.add_argument_group("model and data")
    model.add_argument("--model", "-m", required=True, type=Path, help="model file (.onnx; .om needs ais_bench)")
    model.add_argument("--input", "-i", default=None,
                       help="comma-separated folders (one per model input, paired by sorted position) or files "
                            "(cut into consecutive blocks, one per input); omitted: pure mode")
    model.add_argument("--pure_data_type", "--pure-data-type", choices=PURE_DATA_TYPES, default="zero",
                       help="pure-mode data: zeros or seeded random values (default zero)")
    model.add_argument("--batchsize", "--batch-size", type=positive_int, default=None,
                       help="dynamic model: the batch to run (default 1); static model: only the throughput "
                            "formula's batch, as in ais_bench (default: the model's)")
    out = parser.add_argument_group("results")
    out.add_argument("--output", "-o", default=None, help="folder for the result folder and summary")
    out.add_argument("--output_dirname", "--output-dirname", default=None,
                     help="result folder name under --output (default: a timestamp)")
    out.add_argument("--outfmt", choices=RESULT_FORMATS, default="BIN", help="result format (default BIN)")
    out.add_argument("--output_batchsize_axis", "--output-batchsize-axis", type=non_negative_int, default=0,
                     help="axis of each output that is split into one piece per input file (default 0)")
    perf = parser.add_argument_group("performance")
    perf.add_argument("--loop", "-l", type=positive_int, default=1, help="timed runs per batch (default 1)")
    perf.add_argument("--warmup_count", "--warmup-count", type=non_negative_int, default=1,
                      help="untimed runs before timing, per request in flight (default 1)")
    perf.add_argument("--device", "-d", type=_device_list, default=(0,),
                      help="device id, or a list (0,1): one process per device over its share of the inputs "
                           "(on the CPU the cores are divided between them)")
    perf.add_argument("--backend", choices=backends.BACKEND_CHOICES, default=backends.AUTO,
                      help="runtime for ONNX models; auto: the fastest installed one, measured (default)")
    perf.add_argument("--threads", type=positive_int, default=None,
                      help="threads per process (default: all cores, divided between devices)")
    perf.add_argument("--hint", choices=backends.HINTS, default=backends.THROUGHPUT,
                      help="throughput: several requests in flight as the runtime chooses (default); "
                           "latency: one request at a time")
    report = parser.add_argument_group("reporting")
    report.add_argument("--display_all_summary", "--display-all-summary", type=_str2bool, nargs="?",
                        const=True, default=False, help="also print the H2D and D2H copy times")
    report.add_argument("--debug", type=_str2bool, nargs="?", const=True, default=False,
                        help="print model inputs/outputs and every batch's time")
    report.add_argument("--annotate", type=key_value, action="append", default=[], metavar="KEY=VALUE",
                        help="add a string to the summary's senet_infer.annotations (repeatable)")
    return parser


def config_from_args(args: argparse.Namespace, argv: Sequence[str] = ()) -> RunConfig:
    """Check option combinations and build the run's configuration."""
    if args.output_dirname is not None and args.output is None:
        raise PipelineError("--output_dirname requires --output")
    if args.output_dirname is not None and (not args.output_dirname.strip() or os.path.isabs(args.output_dirname)):
        raise PipelineError(f"--output_dirname must be a relative folder name, got {args.output_dirname!r}")
    inputs = [part.strip() for part in args.input.split(",") if part.strip()] if args.input else []
    if args.input is not None and not inputs:
        raise PipelineError("--input is empty")
    threads = args.threads or max(1, default_workers() // len(args.device))
    return RunConfig(
        model=args.model, inputs=inputs, output=args.output, output_dirname=args.output_dirname,
        outfmt=args.outfmt, loop=args.loop, batchsize=args.batchsize, warmup_count=args.warmup_count,
        devices=tuple(args.device), pure_data_type=args.pure_data_type,
        display_all_summary=args.display_all_summary, debug=args.debug,
        output_batchsize_axis=args.output_batchsize_axis, backend=args.backend, threads=threads,
        hint=args.hint, annotations=collect_key_values(args.annotate), argv=list(argv),
    )


def model_argument(argv: Sequence[str]) -> Optional[str]:
    """The value of ``--model``/``-m`` in a raw command line (last one wins, as in argparse); None if absent."""
    found = None
    for i, arg in enumerate(argv):
        if arg in ("--model", "-m"):
            if i + 1 < len(argv):
                found = argv[i + 1]
        elif arg.startswith("--model="):
            found = arg.split("=", 1)[1]
        elif arg.startswith("-m") and not arg.startswith("--") and len(arg) > 2:
            found = arg[2:].lstrip("=")
    return found


def is_om_command(argv: Sequence[str]) -> bool:
    """True when the command line's model is an ``.om`` file (decided before any option is checked)."""
    model = model_argument(argv)
    return model is not None and model.lower().endswith(".om")


def strip_project_options(argv: Sequence[str]) -> List[str]:
    """``argv`` without the options only this runner knows; everything else untouched, in order."""
    kept: List[str] = []
    skip_next = False
    for arg in argv:
        if skip_next:
            skip_next = False
            continue
        name = arg.split("=", 1)[0]
        if name in PROJECT_OPTIONS:
            skip_next = PROJECT_OPTIONS[name] and "=" not in arg
            continue
        kept.append(arg)
    return kept


def run_om(argv: Sequence[str]) -> int:
    """Hand an ``.om`` command line to the real ``python3 -m ais_bench`` as it is; its exit code."""
    model = model_argument(argv) or ""
    if importlib.util.find_spec("ais_bench") is None:
        raise PipelineError(
            f"{model}: an .om model needs the Ascend toolkit (CANN + ais_bench), which is not installed here; "
            "aipp_convert.py produces a portable .onnx that this runner runs"
        )
    return subprocess.call([sys.executable, "-m", "ais_bench", *strip_project_options(argv)])


def report_lines(summary: RunSummary, display_all: bool = False) -> List[str]:
    """ais_bench's Performance Summary in its words and numbers, then this project's end-to-end line."""
    def stats(label: str, s: TimeStats) -> str:
        return (f"{_LOG_PREFIX}{label} (ms): min = {s.min}, max = {s.max}, mean = {s.mean}, median = {s.median}, "
                f"percentile(99%) = {s.p99}")

    c = summary.compute
    lines = [f"{_LOG_PREFIX}-----------------Performance Summary------------------"]
    if display_all:
        lines.append(stats("H2D_latency", summary.h2d))
    lines.append(stats("NPU_compute_time", c))
    if display_all:
        lines.append(stats("D2H_latency", summary.d2h))
    batchsize = summary.extras.throughput_batchsize or summary.extras.batchsize
    lines.append(f"{_LOG_PREFIX}throughput 1000*batchsize.mean({batchsize})/NPU_compute_time.mean({c.mean}): "
                 f"{summary.throughput}")
    lines.append(f"{_LOG_PREFIX}------------------------------------------------------")
    e = summary.extras
    what = ("read + infer + write, whole run, model load and warm-up excluded" if e.mode == "file"
            else "timed loop wall time, host overhead included")
    images = e.num_inputs if e.mode == "file" else e.batchsize * c.count
    lines.append(f"{_LOG_PREFIX}end-to-end images/s ({what}): {e.end_to_end_images_per_s:.1f} "
                 f"({images} images in {e.end_to_end_s:.3f} s)")
    if display_all:
        lines.append(f"{_LOG_PREFIX}backend {e.backend} {e.backend_version} on {e.device} at {e.precision}, "
                     f"{e.requests} request(s) in flight, {e.streams} stream(s), files per batch {e.files_per_batch}")
    return lines


def print_report(summary: RunSummary, display_all: bool = False, out: Callable[[str], None] = print) -> None:
    """Print the Performance Summary and where the summary JSON went."""
    for line in report_lines(summary, display_all):
        out(line)
    if summary.path is not None:
        out(f"{_LOG_PREFIX}summary written to {summary.path}")


# --------------------------------------------------------------------------- running

def run(config: RunConfig, log: Callable[[str], None] = print) -> RunSummary:
    """File mode when ``config.inputs`` is set, else pure mode; writes the summary JSON under ``--output``."""
    summary = run_files(config, log) if config.inputs else run_pure(config, log)
    write_summary(config, summary)
    return summary


def write_summary(config: RunConfig, summary: RunSummary) -> None:
    """Write ``<output>/<dirname>_summary.json`` (nothing without ``--output``) and remember its path."""
    dirname = summary.extras.options.get("output_dirname")
    if config.output is None or not dirname:
        return
    path = summary_path(config.output, dirname)
    atomic_write_json(path, summary.to_json())  # a failed write is one WriteError naming the path
    summary.path = path


@dataclass
class Loaded:
    """A loaded backend with its inputs resolved once: static shapes at the run's batch."""

    backend: backends.Backend
    batch: int               # samples per run
    formula_batch: int       # the batch of ais_bench's throughput formula (--batchsize, else the model's)
    inputs: List[TensorInfo]  # every dimension static


def load(config: RunConfig, log: Callable[[str], None] = print) -> Loaded:
    """Load the model on the configured backend, settle the batch and resolve the input shapes once."""
    if not config.model.is_file():
        raise PipelineError(f"{config.model}: model not found")
    if config.model.suffix.lower() == ".om":
        raise PipelineError(f"{config.model}: .om models run through the real ais_bench (use ais_infer.py's command line)")
    backend = backends.load_backend(config.backend, config.model, threads=config.threads, device=config.devices[0],
                                    batch=config.batchsize, hint=config.hint, log=log)
    batch, formula_batch = resolve_batch(config.model, backend.inputs, config.batchsize, log)
    inputs = [info.with_batch(batch) for info in backend.inputs]
    if config.debug:
        log(f"[DEBUG] backend {backend.name} {backend.version} on {backend.device} at {backend.precision}, "
            f"{config.threads} threads, hint {backend.hint}: {backend.requests} request(s), {backend.streams} stream(s)")
        for info in inputs:
            log(f"[DEBUG] input  {info.describe()}")
        for info in backend.outputs:
            log(f"[DEBUG] output {info.describe()}")
    return Loaded(backend, batch, formula_batch, inputs)


def resolve_batch(model: Path, inputs: Sequence[TensorInfo], requested: Optional[int],
                  log: Callable[[str], None] = print) -> Tuple[int, int]:
    """(samples per run, throughput-formula batch): a static model's batch is its own, and ``--batchsize``
    only feeds the formula (a warning when they differ, as ais_bench does); a dynamic one runs ``requested``."""
    static = {info.shape[0] for info in inputs if info.shape and info.shape[0] is not None}
    if len(static) > 1:
        raise PipelineError(f"{model}: inputs disagree on the batch size (axis 0): {sorted(static)}")
    if static:
        batch = int(next(iter(static)))
        if requested is not None and requested != batch:
            log(f"[WARNING] --batchsize {requested} differs from the model's batch size {batch}: the model runs "
                f"{batch} samples per batch; the throughput formula uses {requested}, as ais_bench does")
            return batch, requested
        return batch, batch
    return requested or 1, requested or 1


# --------------------------------------------------------------------------- the in-flight pipeline

@dataclass
class _Token:
    """What travels with one submitted batch."""

    submitted: float
    timed: bool
    index: int = 0       # batch number
    lo: int = 0          # its first sample id
    real: int = 0        # real (not padding) samples
    keep: bool = False   # its outputs are written
    feeds: Any = None    # keeps the batch alive until the runtime is done with it


class _Flight:
    """Keeps up to ``backend.requests`` batches in flight, records their timing, hands outputs on.

    A slot is held from submission until the outputs are handed on (written, in file mode); a backend may
    hand a finished batch over only at its next submit, so ``slots`` must exceed ``backend.requests``.
    """

    def __init__(self, backend: backends.Backend, on_outputs: Callable[[_Token, List[np.ndarray]], None],
                 slots: int) -> None:
        self.backend = backend
        self.on_outputs = on_outputs
        self.lock = threading.Lock()
        self.slots = threading.BoundedSemaphore(slots)
        self.events: List[Tuple[float, float]] = []  # (submitted, completed) of timed batches
        self.latencies: List[float] = []
        self.d2h: List[float] = []
        self.failure: List[BaseException] = []
        self.kept: Optional[Tuple[_Token, List[np.ndarray]]] = None
        backend.start(self._done)

    def _done(self, token: _Token, outputs: List[np.ndarray], latency_s: float, d2h_s: Optional[float],
              completed: float) -> None:
        token.feeds = None
        try:
            if token.timed:
                with self.lock:
                    self.events.append((token.submitted, completed))
                    self.latencies.append(latency_s)
                    if d2h_s is not None:
                        self.d2h.append(d2h_s)
            if token.keep:
                self.on_outputs(token, outputs)  # releases the slot when its writing is done
                return
        except BaseException as exc:  # noqa: B902 - handed to the submitting thread
            self.fail(exc)
        self.slots.release()

    def fail(self, exc: BaseException) -> None:
        """Record a failure from any thread; the submitting thread raises the first one."""
        with self.lock:
            self.failure.append(exc)

    def check(self) -> None:
        """Raise the first failure of any thread."""
        if self.failure:
            raise self.failure[0]

    def submit(self, feeds: Dict[str, np.ndarray], token: _Token) -> None:
        """Wait for a free slot, then start the batch."""
        while not self.slots.acquire(timeout=0.1):
            self.check()
        self.check()
        token.feeds = feeds
        token.submitted = time.perf_counter()
        try:
            self.backend.submit(feeds, token)
        except PipelineError:
            raise
        except Exception as exc:  # a runtime's own error while running a batch
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise PipelineError(f"{self.backend.name} failed to run a batch: {first}") from None

    def drain(self) -> None:
        """Wait for every batch in flight."""
        try:
            self.backend.wait_all()
        except Exception as exc:
            raise PipelineError(f"{self.backend.name} failed to run a batch: {exc}") from None
        self.check()

    def warm_up(self, feeds: Dict[str, np.ndarray], count: int) -> None:
        """``count`` untimed batches per request in flight (every stream's first run is untimed), then forget them."""
        for _ in range(count * self.backend.requests):
            self.submit(feeds, _Token(0.0, timed=False))
        self.drain()
        self.reset()

    def reset(self) -> None:
        """Forget the warm-up's timing."""
        with self.lock:
            self.events.clear()
            self.latencies.clear()
            self.d2h.clear()

    def compute_ms(self) -> List[float]:
        """Each timed batch's busy time, ms, in completion order (see the module docstring)."""
        out = []
        previous = -math.inf
        for submitted, completed in sorted(self.events, key=lambda e: e[1]):
            out.append(1000.0 * (completed - max(submitted, previous)))
            previous = completed
        return out


def _timing_note(backend: backends.Backend) -> str:
    overlap = (", overlapping, so it is busy wall time / batches and each request's own latency is in "
               "request_latency" if backend.requests > 1 else ", so it is the run call itself")
    h2d = "zeros (no entries): the runtime reads the host batch in place (shared, no copy to a device)" \
        if backend.device == "CPU" else "zeros (no entries): copies happen inside the run call and count as compute"
    d2h = ("time to copy each batch's outputs out of the runtime's request buffers into arrays the runner keeps"
           if backend.name == "openvino" else
           "zeros (no entries): the runtime returns fresh host arrays, nothing is copied after the run")
    return TIMING_NOTE.format(requests=backend.requests, overlap=overlap, h2d=h2d, d2h=d2h)


def _make_summary(config: RunConfig, loaded: Loaded, flight: _Flight, mode: str, num_inputs: int,
                  files_per_batch: int, wall: float, result_dir: Optional[str], dirname: Optional[str],
                  filesinfo: Dict[str, Dict[str, List[str]]], other_files: int) -> RunSummary:
    backend = loaded.backend
    compute_ms = flight.compute_ms()
    compute = TimeStats.from_ms(compute_ms)
    throughput = 1000.0 * loaded.formula_batch / compute.mean if compute.mean else 0.0
    images = num_inputs if mode == "file" else loaded.batch * len(compute_ms)
    options = config.options()
    options["output_dirname"] = dirname
    extras = Extras(
        backend=backend.name, backend_version=backend.version, device=backend.device, precision=backend.precision,
        mode=mode, batchsize=loaded.batch, num_inputs=num_inputs, files_per_batch=files_per_batch,
        end_to_end_s=wall, end_to_end_images_per_s=images / wall if wall else 0.0, result_dir=result_dir,
        model=str(config.model), timing=_timing_note(backend), annotations=dict(config.annotations),
        hint=backend.hint, requests=backend.requests, streams=backend.streams,
        request_latency=TimeStats.from_ms([1000.0 * s for s in flight.latencies]).to_json(),
        options=options, other_files_in_result_dir=other_files, throughput_batchsize=loaded.formula_batch,
    )
    return RunSummary(
        compute=compute, throughput=throughput, extras=extras, filesinfo=filesinfo,
        args=list(config.argv) if config.argv else [], h2d=TimeStats(),
        d2h=TimeStats.from_ms([1000.0 * s for s in flight.d2h]), compute_list_ms=compute_ms, pid=os.getpid(),
    )


# --------------------------------------------------------------------------- result folder

def _result_dir(config: RunConfig, folders: Sequence[Path]) -> Tuple[Optional[str], Optional[str]]:
    """(``<output>/<dirname>`` as ais_bench joins it, dirname), created; (None, None) without ``--output``."""
    if config.output is None:
        return None, None
    dirname = config.output_dirname or time.strftime(TIMESTAMP_FORMAT)
    result_dir = os.path.join(config.output, dirname)
    out = Path(config.output).resolve()
    for folder in folders:
        if out == folder or folder in out.parents:
            raise PipelineError(f"{config.output}: is inside the input folder {folder}; write results elsewhere")
    if os.path.exists(result_dir) and not os.path.isdir(result_dir):
        raise PipelineError(f"{result_dir}: exists and is not a folder")
    try:
        os.makedirs(result_dir, 0o755, exist_ok=True)
    except OSError as exc:
        raise PipelineError(f"{result_dir}: cannot create the result folder: {exc.strerror or exc}") from None
    if not os.access(result_dir, os.W_OK | os.X_OK):
        raise PipelineError(f"{result_dir}: result folder is not writable")
    return result_dir, dirname


def _result_files(result_dir: str) -> set:
    """Names of the result files (``<stem>_<k>.<fmt>``) in a folder, hidden temporaries excluded."""
    with os.scandir(result_dir) as entries:
        return {e.name for e in entries if not is_hidden_temp(e.name) and parse_result_name(e.name) is not None}


def _warn_other_files(result_dir: str, written: set, log: Callable[[str], None]) -> int:
    """One loud line when the result folder holds result files this run did not write; their count."""
    others = _result_files(result_dir) - written
    if others:
        log(f"[WARNING] {result_dir}: holds {len(others)} result files this run did not write (an earlier run's); "
            f"they were left in place: the summary's filesinfo lists the {len(written)} written by this run")
    return len(others)


def _write_outputs(outputs: Sequence[np.ndarray], names: Sequence[str], stems: Sequence[str], result_dir: str,
                   fmt: str, axis: int, fpb: int) -> List[List[str]]:
    """Split each output into one piece per input file, write the real ones; per sample, the paths written."""
    written: List[List[str]] = [[] for _ in stems]
    for k, (name, out) in enumerate(zip(names, outputs)):
        if out.ndim <= axis or out.shape[axis] % fpb:
            raise PipelineError(f"model output {name!r} of shape {list(out.shape)} cannot be split into {fpb} "
                                f"pieces (one per input file) along --output_batchsize_axis {axis}")
        pieces = np.split(out, fpb, axis=axis) if fpb > 1 else [out]
        for j, (stem, piece) in enumerate(zip(stems, pieces)):
            path = os.path.join(result_dir, result_file_name(stem, k, fmt))
            write_result(path, piece, fmt)
            written[j].append(path)
    return written


# --------------------------------------------------------------------------- pure mode

def pure_feeds(inputs: Sequence[TensorInfo], data_type: str) -> Dict[str, np.ndarray]:
    """ais_bench's pure-mode batch: zeros, or seeded random values (bytes in 0..255 for integer inputs)."""
    rng = np.random.default_rng(PURE_RANDOM_SEED)
    feeds = {}
    for info in inputs:
        shape = tuple(int(d) for d in info.shape)  # type: ignore[arg-type]
        if data_type == "zero":
            feeds[info.name] = np.zeros(shape, dtype=info.dtype)
        elif np.issubdtype(info.dtype, np.floating):
            feeds[info.name] = rng.standard_normal(shape).astype(info.dtype)
        elif info.dtype == np.bool_:
            feeds[info.name] = rng.integers(0, 2, shape).astype(np.bool_)
        else:
            hi = min(256, int(np.iinfo(info.dtype).max) + 1)
            feeds[info.name] = rng.integers(0, hi, shape).astype(info.dtype)
    return feeds


def run_pure(config: RunConfig, log: Callable[[str], None] = print, loaded: Optional[Loaded] = None) -> RunSummary:
    """ais_bench's pure mode: one batch of zeros or random data, warm-ups, ``loop`` timed runs; with
    ``--output``, the last run's outputs as ``pure_infer_data_<k>.<fmt>`` and the summary."""
    loaded = loaded or load(config, log)
    backend = loaded.backend
    feeds = pure_feeds(loaded.inputs, config.pure_data_type)
    result_dir, dirname = _result_dir(config, [])
    clear_stale_temps(result_dir, log)  # a killed run's hidden temporaries

    def keep(token: _Token, outputs: List[np.ndarray]) -> None:
        flight.kept = (token, outputs)
        flight.slots.release()

    # One slot more than requests: a backend may hand a finished batch over only at its next submit.
    flight = _Flight(backend, keep, slots=backend.requests + 1)
    flight.warm_up(feeds, config.warmup_count)
    start = time.perf_counter()
    for i in range(config.loop):
        flight.submit(feeds, _Token(0.0, timed=True, index=i, keep=True))
    flight.drain()
    wall = time.perf_counter() - start
    if config.debug:
        for i, ms in enumerate(flight.compute_ms()):
            log(f"[DEBUG] run {i + 1}: {ms:.3f} ms")

    filesinfo: Dict[str, Dict[str, List[str]]] = {}
    other = 0
    if result_dir is not None and flight.kept is not None:
        names = [o.name for o in backend.outputs]
        (paths,) = _write_outputs(flight.kept[1], names, [PURE_INFER_FILE], result_dir, config.outfmt,
                                  config.output_batchsize_axis, 1)
        filesinfo["0"] = {"infiles": [PURE_INFER_FILE] * len(loaded.inputs), "outfiles": paths}
        other = _warn_other_files(result_dir, {os.path.basename(p) for p in paths}, log)
    return _make_summary(config, loaded, flight, "pure", 0, 0, wall, result_dir, dirname, filesinfo, other)


# --------------------------------------------------------------------------- file mode

@dataclass(frozen=True)
class InputFile:
    """One input file: path as ais_bench names it, data bytes, and whether it is an .npy (header first)."""

    path: str
    nbytes: int
    is_npy: bool


@dataclass
class InputPlan:
    """The files of each model input and how they fill a batch."""

    files: List[List[InputFile]]  # per model input, in order
    files_per_batch: int
    batch_nbytes: List[int]
    stems: List[str]
    folders: List[Path]

    @property
    def num_inputs(self) -> int:
        """Input files per model input (= result files per model output)."""
        return len(self.stems)

    @property
    def num_batches(self) -> int:
        """Runs needed, the last one possibly padded."""
        return -(-self.num_inputs // self.files_per_batch)

    def share(self, part: int, parts: int) -> "InputPlan":
        """ais_bench's share of one of ``parts`` devices: each input's list cut into consecutive blocks
        of ceil(n / parts) (``seg_input_data_for_multi_process`` / ``split_inputs_new``)."""
        size = -(-self.num_inputs // parts)
        lo, hi = part * size, min(self.num_inputs, (part + 1) * size)
        return InputPlan([group[lo:hi] for group in self.files], self.files_per_batch, self.batch_nbytes,
                         self.stems[lo:hi], self.folders)


def _scan_folder(folder: str) -> List[str]:
    found = [str(p) for p in list_inputs(folder, INPUT_EXTENSIONS)]
    if not found:
        raise PipelineError(f"{folder}: no .bin or .npy files")
    return found


def _describe_file(path: str, info: TensorInfo) -> InputFile:
    if path.lower().endswith(".npy"):
        try:
            array = np.load(path, mmap_mode="r", allow_pickle=False)
        except Exception as exc:  # ValueError/OSError for a corrupt header or a pickled array
            raise PipelineError(f"{path}: not a readable .npy file: {exc}") from None
        if array.dtype != info.dtype:
            raise PipelineError(f"{path}: .npy holds {array.dtype}, but model input {info.name!r} is {info.dtype}")
        return InputFile(path, int(array.nbytes), True)
    try:
        return InputFile(path, os.stat(path).st_size, False)
    except OSError as exc:
        raise PipelineError(f"{path}: cannot read: {exc.strerror or exc}") from None


def group_inputs(entries: Sequence[str], n_inputs: int, names: Sequence[str] = ()) -> List[List[str]]:
    """``--input`` -> files per model input, as ais_bench pairs them: one folder per input, files paired by
    natural-sorted position; or a file list cut into ``n_inputs`` consecutive blocks (its ``list_split``)."""
    for entry in entries:
        if not os.path.exists(entry):
            raise PipelineError(f"{entry}: input not found")
    if all(os.path.isdir(e) for e in entries):
        if len(entries) != n_inputs:
            raise PipelineError(f"--input gives {len(entries)} folders but the model has {n_inputs} inputs "
                                f"({', '.join(names)}): one folder per input")
        groups = [_scan_folder(e) for e in entries]
    elif not any(os.path.isdir(e) for e in entries):
        if len(entries) % n_inputs:
            raise PipelineError(f"--input gives {len(entries)} files for a model with {n_inputs} inputs: "
                                f"the list is cut into {n_inputs} equal consecutive blocks, one per input")
        block = len(entries) // n_inputs
        groups = [list(entries[k * block:(k + 1) * block]) for k in range(n_inputs)]
    else:
        raise PipelineError("--input mixes folders and files: give folders (one per model input) or files")
    counts = [len(g) for g in groups]
    if len(set(counts)) != 1:
        raise PipelineError(f"--input: the model inputs get different numbers of files: {counts}")
    return groups


def plan_inputs(entries: Sequence[str], inputs: Sequence[TensorInfo]) -> InputPlan:
    """Resolve ``--input`` into files per model input and check every file's size before running."""
    groups = group_inputs(entries, len(inputs), [i.name for i in inputs])
    folders = sorted({Path(p).resolve().parent for group in groups for p in group[:1]} |
                     {Path(e).resolve() for e in entries if os.path.isdir(e)})
    files: List[List[InputFile]] = []
    batch_nbytes: List[int] = []
    per_batch: set = set()
    for info, group in zip(inputs, groups):
        need = info.nbytes
        described = [_describe_file(p, info) for p in group]
        first = described[0]
        for f in described:
            if f.nbytes != first.nbytes:
                raise PipelineError(f"{f.path}: {f.nbytes} bytes, unlike the {first.nbytes} bytes of "
                                    f"{os.path.basename(first.path)}: all input files must have the same size")
        if first.nbytes == 0 or need % first.nbytes:
            raise PipelineError(f"{first.path}: {first.nbytes} bytes does not divide the {need}-byte batch of "
                                f"model input {info.describe()}")
        per_batch.add(need // first.nbytes)
        files.append(described)
        batch_nbytes.append(need)
    if len(per_batch) != 1:
        raise PipelineError(f"--input: the model inputs need different numbers of files per batch: {sorted(per_batch)}")

    stems: List[str] = []
    seen: Dict[str, str] = {}
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


def read_batches(plan: InputPlan, inputs: Sequence[TensorInfo],
                 stop: Optional[threading.Event] = None) -> Iterator[Tuple[Dict[str, np.ndarray], int, int]]:
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
            feeds[info.name] = buf.view(info.dtype).reshape(info.shape)
        yield feeds, lo, real


def _prefetch(items: Iterator[Any], depth: int, stop: threading.Event) -> Generator[Any, None, None]:
    """Run ``items`` in a background thread, ``depth`` ahead; its exceptions surface here."""
    q: "queue.Queue[Tuple[str, Any]]" = queue.Queue(maxsize=depth)

    def put(item: Tuple[str, Any]) -> bool:
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


def run_files(config: RunConfig, log: Callable[[str], None] = print, plan: Optional[InputPlan] = None,
              loaded: Optional[Loaded] = None) -> RunSummary:
    """ais_bench's file mode: batches of input files in, one result file per input and model output out."""
    from tqdm import tqdm

    loaded = loaded or load(config, log)
    backend = loaded.backend
    plan = plan or plan_inputs(config.inputs, loaded.inputs)
    result_dir, dirname = _result_dir(config, plan.folders)
    clear_stale_temps(result_dir, log)  # a killed run's hidden temporaries
    if config.debug:
        log(f"[DEBUG] {plan.num_inputs} inputs, {plan.files_per_batch} files per batch, {plan.num_batches} batches")

    output_names = [o.name for o in backend.outputs]
    fpb = plan.files_per_batch
    filesinfo: Dict[int, Dict[str, List[str]]] = {}
    writers = ThreadPoolExecutor(max_workers=min(4, max(1, config.threads)), thread_name_prefix="ais_infer-writer")
    bar = tqdm(total=plan.num_inputs, unit="file", file=sys.stderr, disable=not config.progress,
               desc="inference", dynamic_ncols=True)

    def write(token: _Token, outputs: List[np.ndarray]) -> None:
        try:
            if result_dir is not None:
                stems = plan.stems[token.lo:token.lo + token.real]  # type: ignore[union-attr]
                paths = _write_outputs(outputs, output_names, stems, result_dir, config.outfmt,
                                       config.output_batchsize_axis, fpb)
                with flight.lock:
                    for j, outfiles in enumerate(paths):
                        sample = token.lo + j
                        infiles = [group[sample].path for group in plan.files]  # type: ignore[union-attr]
                        filesinfo[sample] = {"infiles": infiles, "outfiles": outfiles}
            bar.update(token.real)
        except BaseException as exc:  # noqa: B902 - raised again by the submitting thread
            flight.fail(exc)
        finally:
            flight.slots.release()

    def hand_over(token: _Token, outputs: List[np.ndarray]) -> None:
        writers.submit(write, token, outputs)

    flight = _Flight(backend, hand_over, slots=backend.requests + _PENDING_WRITE_BATCHES)
    stop = threading.Event()
    start = time.perf_counter()
    batches = _prefetch(read_batches(plan, loaded.inputs, stop), backend.requests + 1, stop)
    try:
        for index, (feeds, lo, real) in enumerate(batches):
            if index == 0:
                flight.warm_up(feeds, config.warmup_count)
                start = time.perf_counter()  # the end-to-end clock starts after the warm-up, as in pure mode
            for i in range(config.loop):
                keep = i == config.loop - 1
                flight.submit(feeds, _Token(0.0, timed=True, index=index, lo=lo, real=real, keep=keep))
            if config.debug:
                log(f"[DEBUG] batch {index}: {real} files submitted")
        flight.drain()
    finally:
        batches.close()  # stops and joins the reader thread
        with contextlib.suppress(Exception):
            backend.wait_all()
        writers.shutdown(wait=True)
        bar.close()
    flight.check()
    wall = time.perf_counter() - start

    ordered = {str(k): filesinfo[k] for k in sorted(filesinfo)}
    other = 0
    if result_dir is not None:
        written = {os.path.basename(p) for info in ordered.values() for p in info["outfiles"]}
        other = _warn_other_files(result_dir, written, log)
    return _make_summary(config, loaded, flight, "file", plan.num_inputs, fpb, wall, result_dir, dirname,
                         ordered, other)


# --------------------------------------------------------------------------- several devices

def _cpu_groups(parts: int) -> List[List[int]]:
    """This process's cores divided into ``parts`` contiguous groups (shared round-robin when too few)."""
    try:
        cores = sorted(os.sched_getaffinity(0))
    except AttributeError:  # not Linux: no pinning
        return [[] for _ in range(parts)]
    if len(cores) < parts:
        return [[cores[i % len(cores)]] for i in range(parts)]
    size, extra = divmod(len(cores), parts)
    groups, at = [], 0
    for i in range(parts):
        n = size + (1 if i < extra else 0)
        groups.append(cores[at:at + n])
        at += n
    return groups


def _device_main(config: RunConfig, part: int, parts: int, results: Any, ready: Any) -> None:
    """One device's process: load, wait for the others (at most 10 s, as ais_bench), run its share."""
    if config.cpus:
        with contextlib.suppress(AttributeError, OSError):
            os.sched_setaffinity(0, config.cpus)
    started = time.time()
    try:
        loaded = load(config)
        plan = None
        if config.inputs:
            plan = plan_inputs(config.inputs, loaded.inputs).share(part, parts)
            if plan.num_inputs == 0:
                raise PipelineError(f"device {config.devices[0]}: no input files left for it "
                                    f"({parts} devices for fewer inputs)")
        with contextlib.suppress(threading.BrokenBarrierError):
            ready.wait(timeout=10)
        started = time.time()
        summary = run_files(config, plan=plan, loaded=loaded) if plan is not None else run_pure(config, loaded=loaded)
        write_summary(config, summary)
        print_report(summary, config.display_all_summary)
        results.put((part, summary.throughput, started, time.time(), None))
    except BaseException as exc:  # noqa: B902 - reported by the parent
        with contextlib.suppress(threading.BrokenBarrierError):
            ready.abort()
        results.put((part, 0.0, started, time.time(), f"{exc}" if isinstance(exc, PipelineError) else repr(exc)))


def run_devices(config: RunConfig, log: Callable[[str], None] = print) -> int:
    """ais_bench's ``multidevice_run``: one process per listed device over its share of the inputs, results in
    ``<output>/<dirname>/device<N>/``; prints each device's throughput and the total. 0 when all succeed."""
    parts = len(config.devices)
    dirname = config.output_dirname or time.strftime(TIMESTAMP_FORMAT)
    groups = _cpu_groups(parts)
    context = multiprocessing.get_context("spawn")  # a clean runtime per process, as separate devices
    results = context.Queue()
    ready = context.Barrier(parts)
    processes = []
    log(f"{_LOG_PREFIX}multidevice:{list(config.devices)} run begin")
    for part, device in enumerate(config.devices):
        own = RunConfig(**{**config.__dict__, "devices": (device,),
                           "output_dirname": os.path.join(dirname, DEVICE_FOLDER.format(device)),
                           "cpus": groups[part] or None, "progress": False})
        process = context.Process(target=_device_main, args=(own, part, parts, results, ready),
                                  name=f"ais_infer-device{device}")
        process.start()
        processes.append(process)
    for process in processes:
        process.join()
    reports = []
    while not results.empty():
        reports.append(results.get())
    reports.sort()
    failed = parts - sum(1 for r in reports if r[4] is None)
    for part, throughput, started, ended, error in reports:
        if error is None:
            print(f"i:{part} device_{config.devices[part]} throughput:{throughput} start_time:{started} "
                  f"end_time:{ended}")
        else:
            log(f"[ERROR] device_{config.devices[part]}: {error}")
    log(f"{_LOG_PREFIX}summary throughput:{sum(r[1] for r in reports if r[4] is None)}")
    if failed:
        raise PipelineError(f"{failed} of {parts} device processes failed")
    return 0
