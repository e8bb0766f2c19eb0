"""``run_infer.sh``'s options: the parser, and :class:`Options`, parsed and checked once.

The step names come from the step table (:data:`.steps.STEPS`), given to :func:`build_parser` and
:meth:`Options.from_args`, so that this module knows no step.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence, Tuple

from ..backends import BACKEND_CHOICES as BACKENDS
from ..cli import non_negative_int, positive_int
from ..errors import PipelineError
from ..fidelity import DEFAULT_MAX_IMAGES as DEFAULT_FIDELITY_MAX
from ..precision import PRECISIONS

PERF_BATCH_SIZES = (1, 4, 8, 16, 32, 64)
DEFAULT_CALIB_IMAGES = 32  # one batch of the guide's 32 (AMCT's default --batch_num is 1)


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
    set_up_seconds: Optional[int] = None  # run_infer.sh's set-up (step 1) took this long; None: not started by it
    set_up_python: Optional[str] = None  # the interpreter it chose
    argv: Tuple[str, ...] = ()  # the command line, as given (for the run record)

    @classmethod
    def from_args(cls, args: argparse.Namespace, step_names: Sequence[str]) -> "Options":
        """Resolve paths and parse the list options of ``build_parser(step_names)``'s namespace."""
        def resolved(path: Optional[Path]) -> Optional[Path]:
            return None if path is None else path.resolve()

        return cls(work=args.work_dir.resolve(), steps=parse_steps(args.steps, step_names), checkpoint=resolved(args.checkpoint),
                   data_dir=resolved(args.data_dir), label_file=resolved(args.label_file),
                   imagenet=resolved(args.imagenet), devkit=resolved(args.devkit),
                   imagenet_labels=resolved(args.imagenet_labels), offline=args.offline,
                   demo_images=args.demo_images, backend=args.backend, precision=args.precision,
                   batch_size=args.batch_size, soc_version=args.soc_version, force=args.force,
                   perf_batch_sizes=parse_sizes(args.perf_batch_sizes), perf_loop=args.perf_loop,
                   perf_precisions=parse_precisions(args.perf_precisions), fidelity_images=args.fidelity_images,
                   fidelity_all=args.fidelity_all, calib_images=args.calib_images, calib_dir=resolved(args.calib_dir),
                   set_up_seconds=args.set_up_seconds, set_up_python=args.set_up_python)


def build_parser(step_names: Sequence[str]) -> argparse.ArgumentParser:
    """The driver's options; ``step_names``: the step table's, in order."""
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
    run.add_argument("--steps", default=",".join(step_names),
                     help=f"comma-separated subset of: {','.join(step_names)} (default: all)")
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
    # run_infer.sh's own: its set-up step's time and interpreter, printed with the step numbers of the table
    parser.add_argument("--set-up-seconds", type=non_negative_int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--set-up-python", default=None, help=argparse.SUPPRESS)
    return parser


def _parse_choices(option: str, text: str, known: Sequence[str], what: str) -> Tuple[str, ...]:
    """A comma-separated subset of ``known``, in ``known``'s order; one error line naming the unknown ones."""
    chosen = [s.strip() for s in text.split(",") if s.strip()]
    unknown = [s for s in chosen if s not in known]
    if unknown or not chosen:
        raise PipelineError(f"{option}: unknown {what}(s) {', '.join(unknown) or '(none given)'}; "
                            f"choose from {','.join(known)}")
    return tuple(s for s in known if s in chosen)


def parse_steps(text: str, step_names: Sequence[str]) -> Tuple[str, ...]:
    """``--steps``: known names, in the table's order."""
    return _parse_choices("--steps", text, step_names, "step")


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
