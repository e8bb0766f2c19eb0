"""The guide end to end (``bash run_infer.sh``): weights, dataset, steps 1-6, int8 calibration, fidelity and
throughput.

Each step runs the project's step script (or, on an Ascend host, the vendor tool) with the guide's
command line, from the work folder, and prints the command. The steps are a table (:data:`STEPS`):
what each reads, writes and depends on, and its action; :meth:`Driver.produce` is the one place that
skips an up-to-date step, runs it, and stamps it (stamps in ``<work>/.run_infer/``; ``--force`` redoes
it). One run at a time per work folder (:class:`~senet_infer.workdir.WorkLock`); a run killed at any
moment leaves no stamp for the step it was in, so the next run redoes that step and says so. Each step's
wall time is printed and recorded in ``<work>/.run_infer/timings.json``.
"""

from __future__ import annotations

import argparse
import ctypes
import datetime as dt
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from .backends import BACKEND_CHOICES as BACKENDS
from .cli import positive_int
from .errors import PipelineError
from .fidelity import DEFAULT_MAX_IMAGES as DEFAULT_FIDELITY_MAX
from .fileio import atomic_write_bytes, atomic_write_json, atomic_write_text, remove_stale_temps
from .precision import PRECISIONS
from .report import Drift, PerfRecord
from .summary import summary_path
from .toolchain import PERF_MODELS, PERF_RUNS, RESULT_DIRNAME, Command, Scripts, Toolchain, select_toolchain, toolchain_notes
from .workdir import STATE_DIR, Stamps, WorkLock, describe

if TYPE_CHECKING:
    from .agreement import Agreement
    from .aipp import AippOp
    from .metric import Prediction

FIRST_STEP_NUMBER = 2  # step 1, set-up, is run_infer.sh's own
PERF_BATCH_SIZES = (1, 4, 8, 16, 32, 64)
AIPP_CONFIG = "aipp_SE_ResNet50_pth.config"
DYNAMIC_ONNX = "se_resnet50_dynamic_bs.onnx"
BIN_DIR = "data/ImageNet_bin"
CALIB_IMAGES_DIR = "data/ImageNet_calib"  # links to the images chosen for int8 calibration
CALIB_BIN_DIR = "data/ImageNet_calib_bin"  # step 1 --format fp32 of them: AMCT's --data_dir
DEFAULT_CALIB_IMAGES = 32  # one batch of the guide's 32 (AMCT's default --batch_num is 1)
DRIFT_IMAGES = 8  # images of the perf step's fidelity check per precision
DRIFT_BIN_DIR = "perf_runs/drift_bin"
TIMINGS_JSON = "timings.json"  # in .run_infer/: each step's wall time of the last run
ACCURACY_JSON = "accuracy_result.json"
PREDICTIONS_CSV = "predictions.csv"  # step 5 --predictions: one row per scored image, with class names
IMAGENET_DIR = "dataset/ImageNet"  # where the guide reads val_union/ and val_label.txt (and --imagenet writes them)
LOWEST_CLASSES = 5  # classes with the lowest top-1 printed after the accuracy line
SANITY_TOP1_PERCENT = 1.0  # real weights under this top-1 on SANITY_MIN_IMAGES or more: the labels look wrong
SANITY_MIN_IMAGES = 500
FIDELITY_JSON = "fidelity.json"
PERF_OUTPUTS = ("perf.json", "perf.md", "perf.png")
DEMO_WARNING = "DEMO weights (seeded random, calibrated): accuracy figures from them mean nothing"
DEMO_DATA_NOTE = ("demo images labelled with the PyTorch reference model's own top-1: accuracy on them measures "
                  "agreement with PyTorch, not ImageNet accuracy")
DEMO_SEED = 0
DEMO_LABEL_BATCH = 32


# -- options -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Options:
    """The driver's options, parsed and checked once."""

    work: Path
    steps: Tuple[str, ...]
    checkpoint: Optional[Path] = None
    data_dir: Optional[Path] = None
    label_file: Optional[Path] = None
    imagenet: Optional[Path] = None  # a validation set in any layout, for prepare_imagenet.py
    devkit: Optional[Path] = None
    imagenet_labels: Optional[Path] = None
    offline: bool = False
    demo_images: int = 64
    backend: str = "auto"
    precision: str = "fp32"
    batch_size: int = 32
    soc_version: Optional[str] = None
    force: bool = False
    perf_batch_sizes: Tuple[int, ...] = PERF_BATCH_SIZES
    perf_loop: int = 20
    perf_precisions: Optional[Tuple[str, ...]] = None  # None: every precision the toolchain offers here
    fidelity_images: Optional[int] = None
    fidelity_all: bool = False
    calib_images: int = DEFAULT_CALIB_IMAGES
    calib_dir: Optional[Path] = None

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> "Options":
        """Resolve paths and parse the list options of ``build_parser()``'s namespace."""
        def resolved(path: Optional[Path]) -> Optional[Path]:
            return None if path is None else path.resolve()

        return cls(work=args.work_dir.resolve(), steps=parse_steps(args.steps), checkpoint=resolved(args.checkpoint),
                   data_dir=resolved(args.data_dir), label_file=resolved(args.label_file),
                   imagenet=resolved(args.imagenet), devkit=resolved(args.devkit),
                   imagenet_labels=resolved(args.imagenet_labels), offline=args.offline,
                   demo_images=args.demo_images, backend=args.backend, precision=args.precision,
                   batch_size=args.batch_size, soc_version=args.soc_version, force=args.force,
                   perf_batch_sizes=parse_sizes(args.perf_batch_sizes), perf_loop=args.perf_loop,
                   perf_precisions=parse_precisions(args.perf_precisions), fidelity_images=args.fidelity_images,
                   fidelity_all=args.fidelity_all, calib_images=args.calib_images, calib_dir=resolved(args.calib_dir))


def build_parser() -> argparse.ArgumentParser:
    """The driver's options."""
    parser = argparse.ArgumentParser(
        prog="run_infer.sh",
        description="Run the SE_ResNet50 inference guide end to end: weights, dataset, preprocess, export, "
                    "calibrate (AMCT, int8 only), convert (ATC+AIPP), infer (ais_bench), metric, fidelity vs "
                    "PyTorch, throughput. On an Ascend host (atc on the PATH) the vendor tools run the guide's "
                    "exact commands; elsewhere the portable amct_calibrate.py, aipp_convert.py and ais_infer.py "
                    "do, with the same flags and files.",
    )
    data = parser.add_argument_group("inputs")
    data.add_argument("--checkpoint", type=Path, default=None,
                      help="weights (default <work>/se_resnet50-ce0d4300.pth; if absent it is downloaded and "
                           "checked, and offline a seeded demo checkpoint is written instead)")
    data.add_argument("--data-dir", type=Path, default=None,
                      help="image folder (default <work>/dataset/ImageNet/val_union; if absent a demo set is generated)")
    data.add_argument("--label-file", type=Path, default=None,
                      help="labels, one '<image> <class>' line per image (default <work>/dataset/ImageNet/val_label.txt)")
    data.add_argument("--imagenet", type=Path, default=None, metavar="SOURCE",
                      help="the validation set as you have it (ILSVRC2012_img_val.tar, a flat folder, an ImageFolder "
                           "or the Kaggle download): prepare_imagenet.py writes it into <work>/dataset/ImageNet first")
    data.add_argument("--devkit", type=Path, default=None, metavar="PATH",
                      help="with --imagenet: ILSVRC2012_devkit_t12.tar.gz, its folder or its meta.mat")
    data.add_argument("--imagenet-labels", type=Path, default=None, metavar="FILE",
                      help="with --imagenet: prepare_imagenet.py --labels (devkit ground truth, LOC_val_solution.csv "
                           "or a '<image> <class>' file)")
    data.add_argument("--offline", action="store_true", help="do not try to download the weights")
    data.add_argument("--demo-images", type=positive_int, default=64, help="size of the generated demo set (default %(default)s)")
    run = parser.add_argument_group("run")
    run.add_argument("--backend", choices=BACKENDS, default="auto",
                     help="runtime for the portable runner: the CPU ones, or ONNX Runtime's CUDA/TensorRT providers on an "
                          "NVIDIA GPU; auto picks the fastest, measured (default %(default)s)")
    run.add_argument("--precision", choices=PRECISIONS, default="fp32",
                     help="precision of steps 3-5: fp32 exact; bf16/fp16 (the portable converter's --precision_mode, "
                          "on OpenVINO or a GPU backend); int8 calibrated by AMCT (amct_calibrate.py off Ascend) first; drift from "
                          "PyTorch fp32 reported (default %(default)s)")
    run.add_argument("--batch-size", type=positive_int, default=32, help="static batch of the converted model (default %(default)s)")
    run.add_argument("--soc-version", default=None,
                     help="ATC --soc_version, e.g. Ascend310P3 (default: read from 'npu-smi info')")
    run.add_argument("--work-dir", type=Path, default=Path("."),
                     help="where every artefact goes (default: the current folder, as in the guide); "
                          "a name starting with '-' is given as --work-dir=-name")
    run.add_argument("--steps", default=",".join(STEP_NAMES),
                     help=f"comma-separated subset of: {','.join(STEP_NAMES)} (default: all)")
    run.add_argument("--force", action="store_true", help="redo steps even when their outputs are up to date")
    perf = parser.add_argument_group("perf")
    perf.add_argument("--perf-batch-sizes", default=",".join(map(str, PERF_BATCH_SIZES)),
                      help="batch sizes measured by the perf step (default %(default)s)")
    perf.add_argument("--perf-loop", type=positive_int, default=20,
                      help="timed runs per batch size, ais_bench --loop (default %(default)s)")
    perf.add_argument("--perf-precisions", default=None,
                      help="comma-separated precisions measured by the perf step, each with its drift, in one "
                           "table: fp32,fp16,bf16,int8 (default: all that this CPU and backend run natively, "
                           "int8 through calibration)")
    check = parser.add_argument_group("fidelity and calibration")
    check.add_argument("--fidelity-images", type=positive_int, default=None,
                       help="check this many images against PyTorch, evenly spaced (default: all up to "
                            f"{DEFAULT_FIDELITY_MAX:,}, else {DEFAULT_FIDELITY_MAX:,} evenly spaced)")
    check.add_argument("--fidelity-all", action="store_true", help="check every image against PyTorch")
    check.add_argument("--calib-images", type=positive_int, default=DEFAULT_CALIB_IMAGES,
                       help="int8: calibration images, evenly spaced over the evaluation set (or --calib-dir), "
                            "in batches of --batch-size (default %(default)s)")
    check.add_argument("--calib-dir", type=Path, default=None,
                       help="int8: a separate folder of calibration images (default: the evaluation images)")
    return parser


def _parse_choices(option: str, text: str, known: Sequence[str], what: str) -> Tuple[str, ...]:
    """A comma-separated subset of ``known``, in ``known``'s order; one error line naming the unknown ones."""
    chosen = [s.strip() for s in text.split(",") if s.strip()]
    unknown = [s for s in chosen if s not in known]
    if unknown or not chosen:
        raise PipelineError(f"{option}: unknown {what}(s) {', '.join(unknown) or '(none given)'}; "
                            f"choose from {','.join(known)}")
    return tuple(s for s in known if s in chosen)


def parse_steps(text: str) -> Tuple[str, ...]:
    """``--steps``: known names, in the table's order."""
    return _parse_choices("--steps", text, STEP_NAMES, "step")


def parse_precisions(text: Optional[str]) -> Optional[Tuple[str, ...]]:
    """``--perf-precisions``: known names, in the order of :data:`PRECISIONS`; None when not given."""
    return None if text is None else _parse_choices("--perf-precisions", text, PRECISIONS, "precision")


def parse_sizes(text: str) -> Tuple[int, ...]:
    """``--perf-batch-sizes``: distinct integers >= 1, ascending."""
    try:
        sizes = sorted({int(s) for s in text.split(",") if s.strip()})
    except ValueError:
        raise PipelineError(f"--perf-batch-sizes: not a list of integers: {text!r}") from None
    if not sizes or sizes[0] < 1:
        raise PipelineError(f"--perf-batch-sizes: need integers >= 1, got {text!r}")
    return tuple(sizes)


# -- child processes -----------------------------------------------------------------------------


def _die_with_driver() -> Optional[Callable[[], None]]:
    """A ``preexec_fn`` that makes a step's process get SIGKILL when the driver dies (Linux), so a killed
    run leaves no step behind still writing into the work folder; None where that is not available."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl  # libc's, through the process's own symbols
    except (OSError, AttributeError):
        return None
    pr_set_pdeathsig = 1
    parent = os.getpid()

    def preexec() -> None:
        prctl(pr_set_pdeathsig, signal.SIGKILL)
        if os.getppid() != parent:  # the driver died before the call above
            os._exit(1)

    return preexec


# -- the steps -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Unit:
    """One stamped piece of work: inputs, options and outputs decide whether ``action`` must run."""

    key: str  # its stamp's name
    reads: Sequence[Path]
    writes: Sequence[Path]
    options: Mapping[str, object]
    action: Callable[[], None]
    clears: Sequence[Path] = ()  # outputs the action owns: removed first, so nothing of another run is left


Paths = Callable[["Driver"], Sequence[Path]]


def _nothing(driver: "Driver") -> Sequence[Path]:
    return ()


def _no_options(driver: "Driver") -> Mapping[str, object]:
    return {}


@dataclass(frozen=True)
class Step:
    """A row of the step table."""

    name: str
    action: Optional[Callable[["Driver"], None]] = None  # None (and no ``make``): the step only resolves
    reads: Paths = _nothing
    writes: Paths = _nothing  # empty: nothing to make on this run
    options: Callable[["Driver"], Mapping[str, object]] = _no_options
    clears: Paths = _nothing
    prepare: Optional[Callable[["Driver"], None]] = None  # runs first, also when skipped: resolves paths
    always: bool = False  # runs even when not chosen with --steps (later steps need what it resolves)
    what: Optional[Callable[["Driver"], str]] = None  # prefix of the "reads …, writes …" line
    show_io: bool = True
    redo_note: str = ""  # what a redo after an interruption keeps
    report: Optional[Callable[["Driver", bool], None]] = None  # after the step (ran: True), its figures
    make: Optional[Callable[["Driver"], Unit]] = None  # the unit, where another step builds the same kind

    def unit(self, driver: "Driver") -> Optional[Unit]:
        """What the step produces on this run, or None (resolution only)."""
        if self.make is not None:
            return self.make(driver)
        if self.action is None:
            return None
        action = self.action
        return Unit(self.name, self.reads(driver), self.writes(driver), self.options(driver),
                    lambda: action(driver), self.clears(driver))


@dataclass(frozen=True)
class Calibration:
    """The int8 calibration set: which images, from where, in which batches."""

    images: Tuple[Path, ...]  # linked into CALIB_IMAGES_DIR, then step 1 --format fp32
    source: Path  # the folder they come from
    from_evaluation: bool  # taken from the evaluation images (they are also scored)
    available: int  # images in ``source``
    batch: int
    batch_num: int

    def note(self, rel: Callable[[Path], str]) -> str:
        """One line for the run's output and its JSON files."""
        spread = "evenly spaced" if len(self.images) < self.available else "all of them"
        where = f"of the evaluation set {rel(self.source)}" if self.from_evaluation else f"from {rel(self.source)}"
        text = (f"int8 calibrated on {len(self.images)} images {where} ({spread}; {self.batch_num} batch(es) "
                f"of {self.batch})")
        return text + ("; they are also scored" if self.from_evaluation else "")


@dataclass
class Driver:
    """State shared by the steps of one run."""

    opts: Options
    repo: Path
    scripts: Scripts = field(init=False)
    toolchain: Toolchain = field(init=False)
    stamps: Stamps = field(init=False)
    lock: WorkLock = field(init=False)
    checkpoint: Optional[Path] = None
    demo_weights: bool = False
    data_dir: Optional[Path] = None
    label_file: Optional[Path] = None
    demo_data: bool = False
    prepared_data: bool = False  # --imagenet: the dataset step runs prepare_imagenet.py
    timings: Dict[str, float] = field(default_factory=dict)
    ran: Dict[str, bool] = field(default_factory=dict)
    _calibration: Optional[Calibration] = None
    current: str = ""
    interrupted_step: Optional[str] = None
    _preexec: Optional[Callable[[], None]] = None

    def __post_init__(self) -> None:
        self.scripts = Scripts(self.repo, self.opts.work, sys.executable)
        self.toolchain = select_toolchain(self.scripts, self.dynamic_onnx, self.work / AIPP_CONFIG,
                                          self.opts.batch_size, precision=self.opts.precision,
                                          backend=self.opts.backend, soc_version=self.opts.soc_version)
        self.stamps = Stamps(self.work)
        self.lock = WorkLock(self.work)
        self._preexec = _die_with_driver()

    # -- paths -----------------------------------------------------------------------------------

    @property
    def work(self) -> Path:
        return self.opts.work

    @property
    def bin_dir(self) -> Path:
        return self.work / BIN_DIR

    @property
    def dynamic_onnx(self) -> Path:
        return self.work / DYNAMIC_ONNX

    @property
    def result_dir(self) -> Path:
        return self.work / RESULT_DIRNAME

    @property
    def model(self) -> Path:
        """The converted model of steps 3 and 4."""
        return self.toolchain.model_path(self.opts.batch_size)

    @property
    def aipp_config(self) -> Path:
        """The config the guide reads from the work folder; the project's copy is put there when absent."""
        path = self.work / AIPP_CONFIG
        if not path.exists():
            atomic_write_bytes(path, (self.repo / AIPP_CONFIG).read_bytes())
            print(f"  copied the project's {AIPP_CONFIG} to {self.rel(path)}")
        return path

    def aipp_op(self) -> "AippOp":
        """The work folder's AIPP config for the model's one input, with what it leaves to the model settled
        (sizes of 0, ``related_input_name``) as the converter settles it."""
        from .aipp import parse_aipp_config, resolve_aipp_ops
        from .export import INPUT_NAME as MODEL_INPUT
        from .imagenet import CROP_SIZE

        shape = (self.opts.batch_size, 3, CROP_SIZE, CROP_SIZE)
        ops = resolve_aipp_ops(parse_aipp_config(self.aipp_config), [MODEL_INPUT], {MODEL_INPUT: shape},
                               {MODEL_INPUT: 1})
        if len(ops) != 1:
            raise PipelineError(f"{self.aipp_config}: {len(ops)} aipp_op blocks for a model with one input")
        return ops[0]

    def rel(self, path: Path) -> str:
        return self.scripts.rel(path)

    @property
    def perf_precisions(self) -> Tuple[str, ...]:
        """``--perf-precisions``, else every precision the toolchain offers on this machine."""
        return self.opts.perf_precisions or self.toolchain.offered_precisions()

    def calibration(self) -> Calibration:
        """The calibration images (resolved once): ``--calib-images`` evenly spaced over the evaluation images, or
        over ``--calib-dir``; as many whole batches of up to ``--batch-size`` as they fill."""
        if self._calibration is None:
            from .fidelity import select_images
            from .preprocess import list_images

            assert self.data_dir is not None
            source = self.opts.calib_dir or self.data_dir
            images, _ = list_images(source)
            if not images:
                raise PipelineError(f"{source}: no images to calibrate int8 on")
            count = min(self.opts.calib_images, len(images))
            batch = min(self.opts.batch_size, count)
            batch_num = count // batch
            chosen = tuple(images[i] for i in select_images(len(images), batch * batch_num))
            self._calibration = Calibration(chosen, source, self.opts.calib_dir is None, len(images), batch, batch_num)
        return self._calibration

    def temp_folders(self) -> List[Path]:
        """The folders the driver's steps write into (where a killed run can leave hidden temporaries)."""
        folders = [self.work, self.work / STATE_DIR, self.bin_dir, self.bin_dir.parent, self.result_dir,
                   self.work / PERF_MODELS, self.work / PERF_RUNS, self.work / "dataset" / "demo",
                   self.work / "dataset" / "demo" / "val_union", self.work / CALIB_BIN_DIR,
                   self.work / DRIFT_BIN_DIR]
        runs = self.work / PERF_RUNS
        folders += sorted(p for p in runs.iterdir() if p.is_dir()) if runs.is_dir() else []
        return folders

    # -- running things --------------------------------------------------------------------------

    def run(self, command: Command, *, capture: bool = False) -> str:
        """Run a command in the work folder, echoing it as a user would type it; fail on non-zero exit."""
        print("  $ " + " ".join(shlex.quote(part) for part in command.shown), flush=True)
        if not capture:
            rc = subprocess.run(command.run, cwd=str(self.work), preexec_fn=self._preexec).returncode
            output = ""
        else:
            proc = subprocess.Popen(command.run, cwd=str(self.work), stdout=subprocess.PIPE,
                                    universal_newlines=True, preexec_fn=self._preexec)
            assert proc.stdout is not None
            lines = []
            for line in proc.stdout:
                sys.stdout.write("    " + line)
                lines.append(line)
            rc = proc.wait()
            output = "".join(lines)
        sys.stdout.flush()
        if rc != 0:
            raise PipelineError(f"command failed with exit status {rc}: {' '.join(command.shown[:3])} …")
        return output

    def produce(self, unit: Unit, *, skipped: str = "up to date, skipped", interrupted: bool = False,
                redo_note: str = "") -> bool:
        """Skip ``unit`` when up to date; else clear its stamp and owned outputs, run it, check and stamp its
        outputs. The one place where a step is skipped, run or recorded. True when it ran.

        ``interrupted``: the previous run was killed in this step (said, with ``redo_note``, when redoing it).
        """
        forced = self.opts.force and self.current in self.opts.steps  # not the always-run resolution steps
        if not forced and self.stamps.up_to_date(unit.key, unit.reads, unit.options, unit.writes):
            note = "the interrupted run had finished this step; " if interrupted else ""
            print(f"  {note}{skipped}")
            return False
        if interrupted:
            print("  the previous run was interrupted during this step: redoing it"
                  + (f" ({redo_note})" if redo_note else ""))
        self.stamps.clear(unit.key)
        for path in unit.clears:
            if path.is_dir():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()
        unit.action()
        for path in unit.writes:
            if not path.exists():
                raise PipelineError(f"{path}: {unit.key} finished without writing it")
        self.stamps.record(unit.key, unit.reads, unit.options, unit.writes)
        return True

    def annotations(self) -> Dict[str, str]:
        """Marks every JSON the run writes carries when the weights or the data are demos."""
        notes: Dict[str, str] = {}
        if self.demo_weights:
            notes["warning"] = DEMO_WARNING
        if self.demo_data:
            notes["dataset_note"] = DEMO_DATA_NOTE
        if self.opts.precision == "int8":
            notes["calibration_note"] = self.calibration().note(self.rel)
        return notes

    def annotate_flags(self) -> List[str]:
        """``--annotate key=value`` for each of :meth:`annotations` (the project's scripts take them)."""
        flags: List[str] = []
        for key, value in self.annotations().items():
            flags += ["--annotate", f"{key}={value}"]
        return flags

    def convert_unit(self, batch: int, *, precision: Optional[str] = None, check: bool = True) -> Unit:
        """Step 3 at one batch size and precision (the perf step converts one model per batch size the same way)."""
        precision = precision or self.toolchain.precision
        command = self.toolchain.convert_command  # resolved lazily: on Ascend it may ask npu-smi for the chip
        key = f"convert_bs{batch}" if precision == self.toolchain.precision else f"convert_{precision}_bs{batch}"
        return Unit(key, [self.toolchain.source_model(precision), self.aipp_config],
                    [self.toolchain.model_path(batch, precision)],
                    {"batch": batch, **self.toolchain.convert_options(precision)},
                    lambda: self.run(command(batch, precision=precision, check=check)))

    def calibrate_unit(self) -> Unit:
        """AMCT's calibration (the calibrate step, and the perf step when it measures int8 on a run at another
        precision)."""
        plan = self.calibration()
        return Unit("calibrate", [self.dynamic_onnx, plan.source],
                    [self.toolchain.deploy_model, self.toolchain.fake_quant_model],
                    {"images": [p.name for p in plan.images], "batch": plan.batch, "batch_num": plan.batch_num,
                     "ascend": self.toolchain.ascend},
                    lambda: calibrate(self, plan))

    # -- the run ---------------------------------------------------------------------------------

    def start(self) -> None:
        """Take the work folder: lock it, report an interrupted previous run, remove its temporaries."""
        self.lock.acquire()
        previous = self.lock.previous
        if previous is not None:
            self.interrupted_step = previous.get("step")
            print(f"previous run was interrupted ({describe(previous)}) and no longer runs: taking over "
                  "its work folder")
        removed = sum(remove_stale_temps(folder) for folder in self.temp_folders())
        if removed:
            print(f"removed {removed} temporary file(s) left by an interrupted run")

    def execute(self) -> None:
        """Run the chosen steps in order, each announced with its number and timed."""
        print(f"work folder {self.work}; {self.toolchain.banner}")
        for line in toolchain_notes(self.toolchain):
            print(line)
        total_steps = len(STEPS) + FIRST_STEP_NUMBER - 1
        for number, step in enumerate(STEPS, start=FIRST_STEP_NUMBER):
            if step.name not in self.opts.steps and not step.always:
                continue
            print(f"[{number}/{total_steps}] {step.name}", flush=True)
            started = time.perf_counter()
            self.current = step.name
            self.lock.note_step(step.name)
            try:
                self.run_step(step)
            except PipelineError as exc:
                raise PipelineError(f"step {step.name} failed: {exc}") from None
            self.timings[step.name] = time.perf_counter() - started
            print(f"[{number}/{total_steps}] {step.name} done in {self.timings[step.name]:.1f} s", flush=True)
            self.record_timings()
        total = sum(self.timings.values())
        print(f"all steps done in {total:.1f} s" + (f" — {DEMO_WARNING}" if self.demo_weights else ""))

    def record_timings(self) -> None:
        """``.run_infer/timings.json``: each step's wall time so far, whether it ran (or was up to date), and the
        run's size, for ``benchmarks/bench_steps.py``."""
        from .report import cpu_model

        images = len(list(self.bin_dir.glob("*.bin"))) if self.bin_dir.is_dir() else None
        record = {"date": dt.datetime.now().isoformat(timespec="seconds"),
                  "machine": f"{cpu_model()}, {os.cpu_count()} cores", "images": images,
                  "batch_size": self.opts.batch_size, "precision": self.toolchain.precision,
                  "perf_batch_sizes": list(self.opts.perf_batch_sizes), "perf_loop": self.opts.perf_loop,
                  "steps": [{"name": name, "seconds": round(seconds, 3), "ran": self.ran.get(name, False)}
                            for name, seconds in self.timings.items()]}
        atomic_write_json(self.work / STATE_DIR / TIMINGS_JSON, record)

    def run_step(self, step: Step) -> None:
        """Resolve, show what the step reads and writes, produce it, report its figures."""
        if step.prepare is not None:
            step.prepare(self)
        unit = step.unit(self)
        if unit is None or not unit.writes:
            return
        if step.show_io:
            io = f"reads {' + '.join(self.rel(p) for p in unit.reads)}, writes {', '.join(self.rel(p) for p in unit.writes)}"
            print(f"  {step.what(self)}: {io}" if step.what else f"  {io}")
        ran = self.produce(unit, interrupted=step.name == self.interrupted_step, redo_note=step.redo_note)
        self.ran[step.name] = ran
        if step.report is not None:
            step.report(self, ran)


# -- step actions --------------------------------------------------------------------------------


def resolve_weights(d: Driver) -> None:
    """The checkpoint: the given one, the guide's (downloaded if absent), else the seeded demo one."""
    from .model import DEMO_WEIGHTS_NAME, WEIGHTS_NAME, download_weights, is_demo_checkpoint, verify_weights

    explicit = d.opts.checkpoint is not None
    path = d.opts.checkpoint if d.opts.checkpoint is not None else d.work / WEIGHTS_NAME
    print(f"  reads {d.rel(path)}")
    if not path.exists() and explicit:
        raise PipelineError(f"{path}: checkpoint not found")
    if not path.exists() and not d.opts.offline:
        print(f"  {path.name} absent: fetching the guide's weights")
        try:
            download_weights(path)
            print(f"  downloaded {d.rel(path)} (SHA-256 checked)")
        except PipelineError as exc:
            print(f"  download failed: {exc}")
    if path.exists():
        verify_weights(path)
        d.checkpoint = path
    else:
        demo = d.work / DEMO_WEIGHTS_NAME
        if demo.exists() and is_demo_checkpoint(demo):
            print(f"  using the existing seeded demo checkpoint {d.rel(demo)}")
        else:
            from .model import write_demo_checkpoint

            print(f"  writing the seeded demo checkpoint {d.rel(demo)} (same keys and shapes as the real one)")
            write_demo_checkpoint(demo, seed=0)
        d.checkpoint = demo
    d.demo_weights = is_demo_checkpoint(d.checkpoint)
    if d.demo_weights:
        print(f"  WARNING: {DEMO_WARNING}")


def resolve_dataset(d: Driver) -> None:
    """The images and labels: the given or default ImageNet folder, else a generated demo set."""
    default_root = d.work / IMAGENET_DIR
    if d.opts.imagenet is not None:
        if d.opts.data_dir is not None or d.opts.label_file is not None:
            raise PipelineError("--imagenet writes <work>/dataset/ImageNet itself: give it without --data-dir and "
                                "--label-file")
        d.prepared_data = True
        d.data_dir, d.label_file = default_root / "val_union", default_root / "val_label.txt"
        print(f"  {d.rel(d.opts.imagenet)} through prepare_imagenet.py into {d.rel(default_root)}")
        return
    if d.opts.devkit is not None or d.opts.imagenet_labels is not None:
        raise PipelineError("--devkit and --imagenet-labels go with --imagenet SOURCE")
    data_dir = d.opts.data_dir or default_root / "val_union"
    label_file = d.opts.label_file or default_root / "val_label.txt"
    if data_dir.is_dir():
        if not label_file.is_file():
            raise PipelineError(f"{label_file}: label file not found (needed with {data_dir})")
        d.data_dir, d.label_file = data_dir, label_file
        print(f"  images {d.rel(data_dir)}, labels {d.rel(label_file)}")
        return
    if d.opts.data_dir is not None:
        raise PipelineError(f"{data_dir}: image folder not found")
    d.demo_data = True
    demo_root = d.work / "dataset" / "demo"
    d.data_dir, d.label_file = demo_root / "val_union", demo_root / "val_label.txt"
    print(f"  {d.rel(data_dir)} absent: using a generated demo set in {d.rel(demo_root)}")
    print(f"  NOTE: {DEMO_DATA_NOTE}")


def demo_set(d: Driver) -> Sequence[Path]:
    """The generated demo set (nothing when the user's images are used)."""
    assert d.data_dir is not None and d.label_file is not None
    return [d.data_dir, d.label_file] if d.demo_data else []


def dataset_unit(d: Driver) -> Optional[Unit]:
    """What the dataset step makes: the prepared ``--imagenet`` set, the demo set, or nothing (the user's own)."""
    assert d.data_dir is not None and d.label_file is not None
    if d.prepared_data:
        from .imagenet_prep import source_inputs

        assert d.opts.imagenet is not None
        extra = [p for p in (d.opts.devkit, d.opts.imagenet_labels) if p is not None]
        return Unit("dataset", source_inputs(d.opts.imagenet) + extra, [d.data_dir, d.label_file],
                    {"source": str(d.opts.imagenet), "devkit": str(d.opts.devkit), "labels": str(d.opts.imagenet_labels)},
                    lambda: prepare_imagenet(d))
    if d.demo_data:
        return Unit("dataset", [d.checkpoint] if d.checkpoint else [], demo_set(d),
                    {"images": d.opts.demo_images, "seed": DEMO_SEED}, lambda: generate_demo_set(d), demo_set(d)[:1])
    return None


def prepare_imagenet(d: Driver) -> None:
    """``prepare_imagenet.py SOURCE --out ./dataset/ImageNet``: any layout of the validation set into the guide's."""
    assert d.opts.imagenet is not None
    args = [d.rel(d.opts.imagenet), "--out", d.rel(d.work / IMAGENET_DIR)]
    if d.opts.devkit is not None:
        args += ["--devkit", d.rel(d.opts.devkit)]
    if d.opts.imagenet_labels is not None:
        args += ["--labels", d.rel(d.opts.imagenet_labels)]
    d.run(d.scripts.command("prepare_imagenet.py", args))


def generate_demo_set(d: Driver) -> None:
    """Demo images of every kind the preprocessing handles, labelled with PyTorch's own top-1."""
    import numpy as np
    import torch

    from .aipp import apply_aipp
    from .labels import format_labels
    from .model import inference_context, load_checkpoint
    from .preprocess import EvalTransform, preprocess_file
    from .synthetic import make_image_folder

    assert d.data_dir is not None and d.label_file is not None and d.checkpoint is not None
    images = make_image_folder(d.data_dir, d.opts.demo_images, seed=DEMO_SEED)
    aipp = d.aipp_op()
    model = load_checkpoint(d.checkpoint)
    labels = []
    transform = EvalTransform()
    # PyTorch over every image: as costly as the fidelity check on all of them (a demo-only step; a real
    # dataset brings its labels).
    torch.set_num_threads(os.cpu_count() or 1)
    for start in range(0, len(images), DEMO_LABEL_BATCH):
        chunk = images[start:start + DEMO_LABEL_BATCH]
        batch = np.stack([preprocess_file(p, transform) for p in chunk])
        with inference_context():
            logits = model(torch.from_numpy(apply_aipp(batch, aipp)))
        labels += [(p.name, int(c)) for p, c in zip(chunk, logits.argmax(1).tolist())]
    atomic_write_text(d.label_file, format_labels(labels))
    print(f"  generated {len(images)} images (RGB/grayscale/CMYK JPEG, palette/RGBA PNG) and their labels")


def preprocess(d: Driver) -> None:
    """Step 1 (it removes the .bin files of images that are gone). The driver owns the .bin folder: one made
    from another image folder is redone (``--force``) rather than refused."""
    from .preprocess import EvalTransform, made_elsewise

    assert d.data_dir is not None
    other = made_elsewise(d.bin_dir, d.data_dir, EvalTransform())
    if other is not None:
        print(f"  {d.rel(d.bin_dir)} was made from {other}: redoing it")
    force = d.opts.force or other is not None
    args = [d.rel(d.data_dir), d.rel(d.bin_dir)] + (["--force"] if force else [])
    d.run(d.scripts.command("imagenet_torch_preprocess.py", args))


def export(d: Driver) -> None:
    """Step 2: the checkpoint to the dynamic-batch ONNX model."""
    assert d.checkpoint is not None
    d.run(d.scripts.command("SE_ResNet50_pth2onnx.py", [d.rel(d.checkpoint), d.rel(d.dynamic_onnx)]))


def calibration_needed(d: Driver) -> None:
    """Say why the calibrate step has nothing to do, or which images it calibrates on."""
    if d.opts.precision != "int8":
        print(f"  not needed at {d.opts.precision} (--precision int8 calibrates; the perf step calibrates when it "
              "measures int8)")
        return
    print(f"  {d.calibration().note(d.rel)}")


def calibrate(d: Driver, plan: Calibration) -> None:
    """AMCT's calibration: the chosen images through step 1 as float32 model input, then the quantizer on step 2's
    model (``amct_onnx calibration`` on Ascend, ``amct_calibrate.py`` elsewhere, the same flags)."""
    links = d.work / CALIB_IMAGES_DIR
    if links.is_dir():
        shutil.rmtree(links)
    links.mkdir(parents=True)
    for image in plan.images:
        (links / image.name).symlink_to(image.resolve())
    calib_bin = d.work / CALIB_BIN_DIR
    d.run(d.scripts.command("imagenet_torch_preprocess.py",
                            [d.rel(links), d.rel(calib_bin), "--format", "fp32", "--force", "--quiet"]))
    d.run(d.toolchain.calibrate_command(calib_bin, plan.batch, plan.batch_num))


def infer(d: Driver) -> None:
    """Step 4: one TXT result per .bin into ./result (emptied first), and the runner's summary."""
    d.run(d.toolchain.infer_command(d.bin_dir, d.annotate_flags()))
    summary = d.toolchain.infer_summary()
    if summary is not None and not summary.is_file():
        raise PipelineError(f"{summary}: inference wrote no summary")


def infer_owned(d: Driver) -> Sequence[Path]:
    """./result and its summary: removed before step 4, so the metric scores this run's results only."""
    return [d.result_dir, summary_path(d.work, RESULT_DIRNAME)]


def metric(d: Driver) -> None:
    """Step 5: top-1/top-5 of ./result against the labels."""
    assert d.label_file is not None
    args = [d.rel(d.result_dir) + "/", d.rel(d.label_file), "./", ACCURACY_JSON,
            "--predictions", d.rel(d.work / PREDICTIONS_CSV)]
    d.run(d.scripts.command("vision_metric_ImageNet.py", args).plus(d.annotate_flags()))


def report_accuracy(d: Driver, ran: bool) -> None:
    """One line with the accuracy (also when the step was up to date)."""
    values = {item["key"]: item["value"] for item in json.loads((d.work / ACCURACY_JSON).read_text())["value"]}
    demo = [text for flag, text in ((d.demo_weights, "weights are random"),
                                    (d.demo_data, "labels are PyTorch's own predictions")) if flag]
    caveat = f" (DEMO: {'; '.join(demo)})" if demo else ""
    print(f"  accuracy: top-1 {values['Top1 accuracy']}, top-5 {values['Top5 accuracy']} "
          f"on {values['Number of images']} images{caveat}")
    from .metric import lowest_classes, read_predictions

    rows = read_predictions(d.work / PREDICTIONS_CSV)
    lowest = lowest_classes(rows, LOWEST_CLASSES)
    print(f"  lowest top-1 of the {len({r.label for r in rows})} classes labelled{caveat}:")
    for weak in lowest:
        print(f"    {weak.describe()}")
    note = labels_sanity_note(d, rows)
    if note:
        print(f"  NOTE: {note}")


def labels_sanity_note(d: Driver, rows: Sequence["Prediction"]) -> Optional[str]:
    """With real weights, top-1 under 1 % on 500 or more images points at the label order, not the weights."""
    if d.demo_weights or len(rows) < SANITY_MIN_IMAGES:
        return None
    top1 = 100.0 * sum(r.correct_at_1 for r in rows) / len(rows)
    if top1 >= SANITY_TOP1_PERCENT:
        return None
    return (f"top-1 {top1:.2f} % on {len(rows):,} images is chance level: if the fidelity step passes, the weights "
            "and the chain are fine and the labels are in another class order than the model's (sorted WordNet "
            "IDs), e.g. the devkit's 1-based ILSVRC2012_IDs or an ImageFolder subset numbered 0..N-1; "
            "python3 prepare_imagenet.py (or run_infer.sh --imagenet SOURCE) writes labels in the model's order")


def fidelity(d: Driver) -> None:
    """The results against PyTorch on the same inputs; an fp32 run fails beyond tolerance."""
    from .fidelity import compare_with_pytorch

    assert d.checkpoint is not None
    out = d.work / FIDELITY_JSON
    selection = fidelity_selection(d)
    print(f"  {selection}")
    report = compare_with_pytorch(d.checkpoint, d.bin_dir, d.result_dir, d.aipp_op(), precision=d.toolchain.precision,
                                  limit=d.opts.fidelity_images, all_images=d.opts.fidelity_all)
    changes = top1_changes_line(report)
    record = report.to_dict()
    from .imagenet import synsets

    for change in record["top1_changes"]:  # type: ignore[union-attr]
        change.update(reference_name=synsets().name(change["reference"]), result_name=synsets().name(change["result"]))
    atomic_write_json(out, {**record, "reference": "PyTorch fp32 with numpy AIPP on the same .bin",
                            "backend": d.toolchain.runtime(d.opts.backend), "selection": selection,
                            "summary": report.one_line() + (f"; {changes}" if changes else ""), **d.annotations()})
    print("  " + report.one_line())
    if changes:
        print(f"  {changes}")
    if not report.passed:
        raise PipelineError(f"{out}: fp32 results disagree with PyTorch beyond tolerance "
                            f"(worst image {report.worst_image})")


def top1_changes_line(report: "Agreement", shown: int = 5) -> Optional[str]:
    """The classes whose top-1 changed against PyTorch, named: ``top-1 changed on 2 images: a.JPEG tench -> ...``."""
    if not report.top1_changes:
        return None
    changed = report.images - report.same_top1
    from .imagenet import synsets

    name = synsets().short_name
    listed = "; ".join(f"{image}: {name(ref)} ({ref}) -> {name(got)} ({got})"
                       for image, ref, got in report.top1_changes[:shown])
    more = f"; {changed - shown} more in {FIDELITY_JSON}" if changed > shown else ""
    return f"top-1 changed on {changed} of {report.images} images (PyTorch -> results): {listed}{more}"


def fidelity_selection(d: Driver) -> str:
    """Which images the fidelity step checks, in words."""
    from .fidelity import list_inputs, select_images

    total = len(list_inputs(d.bin_dir))
    count = len(select_images(total, d.opts.fidelity_images, d.opts.fidelity_all))
    if count == total:
        why = "--fidelity-all" if d.opts.fidelity_all else ("--fidelity-images" if d.opts.fidelity_images else
                                                             f"default: all up to {DEFAULT_FIDELITY_MAX:,}")
        return f"fidelity on all {total:,} images ({why})"
    why = ("--fidelity-images" if d.opts.fidelity_images else
           f"default for more than {DEFAULT_FIDELITY_MAX:,}; --fidelity-all checks every image")
    return f"fidelity on {count:,} of {total:,} images, evenly spaced ({why})"


def report_fidelity(d: Driver, ran: bool) -> None:
    """The recorded one-line verdict when the step was up to date."""
    if not ran:
        print("  " + json.loads((d.work / FIDELITY_JSON).read_text())["summary"])


def perf(d: Driver) -> None:
    """Step 6 for each precision: pure inference at each batch size (one converted model each) and a small
    fidelity check of that precision's model; then one table and chart."""
    from .report import write_perf_outputs

    precisions = d.perf_precisions
    if "int8" in precisions:
        d.produce(d.calibrate_unit(), skipped=f"{d.rel(d.toolchain.deploy_model)} up to date, skipped")
    drift_inputs = drift_bins(d)
    records: List[PerfRecord] = []
    drift: Dict[str, Drift] = {}
    for precision in precisions:
        for batch in d.opts.perf_batch_sizes:
            target = d.toolchain.model_path(batch, precision)
            d.produce(d.convert_unit(batch, precision=precision, check=False),
                      skipped=f"{d.rel(target)} up to date, skipped")
            command = d.toolchain.perf_command(batch, d.opts.perf_loop, precision)
            output = d.run(command, capture=True)
            records.append(d.toolchain.perf_record(batch, command, output, precision))
        drift[precision] = precision_drift(d, precision, drift_inputs)
        print(f"  {precision}: drift vs PyTorch fp32 on {drift[precision].images} images: {drift[precision].short()}")
    chip, machine = d.toolchain.chip_and_machine()
    backends = {f"{r.precision}_bs{r.batch_size}": r.backend for r in records}
    notes = d.annotations()
    if "int8" in precisions and "calibration_note" not in notes:
        notes["calibration_note"] = d.calibration().note(d.rel)
    meta = {"date": dt.date.today().isoformat(), "machine": machine, "loop": d.opts.perf_loop,
            "precisions": list(precisions), "precision": d.toolchain.precision, "backend_per_run": backends,
            "mode": "pure inference (no file I/O)", **notes}
    paths = write_perf_outputs(d.work, chip, records, meta, drift)
    for precision in precisions:
        print(f"  {precision}: " + ", ".join(f"bs{r.batch_size}: {r.throughput_images_per_s:.1f} images/s"
                                             for r in records if r.precision == precision))
    print(f"  wrote {', '.join(d.rel(p) for p in paths)}")


def drift_bins(d: Driver) -> Path:
    """A folder of links to :data:`DRIFT_IMAGES` evenly spaced step-1 inputs: what each precision's model is checked on."""
    from .fidelity import list_inputs, select_images

    bins = list_inputs(d.bin_dir)
    folder = d.work / DRIFT_BIN_DIR
    if folder.is_dir():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    for index in select_images(len(bins), DRIFT_IMAGES):
        (folder / bins[index].name).symlink_to(bins[index].resolve())
    return folder


def precision_drift(d: Driver, precision: str, inputs: Path) -> Drift:
    """Step 4 on the perf model at ``precision`` (the smallest batch measured) over ``inputs``, compared with
    PyTorch fp32: the fidelity report on a few images."""
    from .fidelity import compare_with_pytorch

    assert d.checkpoint is not None
    batch = d.opts.perf_batch_sizes[0]
    dirname = f"drift_{precision}"
    d.run(d.toolchain.drift_command(precision, batch, inputs, dirname), capture=True)
    report = compare_with_pytorch(d.checkpoint, inputs, d.work / PERF_RUNS / dirname, d.aipp_op(),
                                  precision=precision, all_images=True)
    return Drift(precision, report.images, report.top1_agreement, report.top5_agreement,
                 report.min_cosine_similarity, report.max_relative_error)


STEPS: Tuple[Step, ...] = (
    Step("weights", prepare=resolve_weights, always=True),
    Step("dataset", prepare=resolve_dataset, always=True, make=dataset_unit, show_io=False),
    Step("preprocess", action=preprocess, reads=lambda d: [d.data_dir], writes=lambda d: [d.bin_dir],
         redo_note="the .bin files it had finished are kept"),
    Step("export", action=export, reads=lambda d: [d.checkpoint], writes=lambda d: [d.dynamic_onnx]),
    Step("calibrate", prepare=calibration_needed, what=lambda d: d.toolchain.calibrate_tool,
         make=lambda d: d.calibrate_unit() if d.opts.precision == "int8" else None),
    Step("convert", make=lambda d: d.convert_unit(d.opts.batch_size), what=lambda d: d.toolchain.convert_tool),
    Step("infer", action=infer, reads=lambda d: [d.model, d.bin_dir], writes=lambda d: [d.result_dir],
         clears=infer_owned,
         options=lambda d: {"backend": d.opts.backend, "ascend": d.toolchain.ascend, "notes": d.annotations()}),
    Step("metric", action=metric, reads=lambda d: [d.result_dir, d.label_file],
         writes=lambda d: [d.work / ACCURACY_JSON, d.work / PREDICTIONS_CSV], options=lambda d: {"notes": d.annotations()},
         report=report_accuracy),
    Step("fidelity", action=fidelity, reads=lambda d: [d.checkpoint, d.bin_dir, d.result_dir, d.aipp_config],
         writes=lambda d: [d.work / FIDELITY_JSON], report=report_fidelity,
         options=lambda d: {"limit": d.opts.fidelity_images, "all": d.opts.fidelity_all,
                            "precision": d.toolchain.precision, "notes": d.annotations()}),
    Step("perf", action=perf, reads=lambda d: [d.dynamic_onnx, d.aipp_config, d.checkpoint, d.bin_dir],
         writes=lambda d: [d.work / name for name in PERF_OUTPUTS], clears=lambda d: d.toolchain.perf_folders(),
         what=lambda d: (f"pure inference at {', '.join(d.perf_precisions)}, batch "
                         f"{', '.join(map(str, d.opts.perf_batch_sizes))}"),
         options=lambda d: {"sizes": list(d.opts.perf_batch_sizes), "loop": d.opts.perf_loop,
                            "backend": d.opts.backend, "precisions": list(d.perf_precisions),
                            "calibration": ([p.name for p in d.calibration().images]
                                            if "int8" in d.perf_precisions else None),
                            "ascend": d.toolchain.ascend, "notes": d.annotations()}),
)
STEP_NAMES: Tuple[str, ...] = tuple(step.name for step in STEPS)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Parse options, take the work folder and run the chosen steps."""
    opts = Options.from_args(build_parser().parse_args(argv))
    opts.work.mkdir(parents=True, exist_ok=True)
    driver = Driver(opts, Path(__file__).resolve().parents[1])
    driver.start()
    ended = False
    try:
        driver.execute()
        ended = True
    except PipelineError:
        ended = True  # a failed step is a finished run: its error says what to fix
        raise
    finally:
        driver.lock.release(ended=ended)
    return 0


if __name__ == "__main__":
    from .cli import run_main

    sys.exit(run_main(main, prog="run_infer.sh"))
