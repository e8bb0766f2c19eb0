"""The runner's command line: ais_bench's options plus the project's own, parsed once into a :class:`RunConfig`."""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from .. import backends
from ..cli import collect_key_values, default_workers, device_list, key_value, non_negative_int, positive_int, str2bool
from ..errors import PipelineError
from ..fileio import RESULT_FORMATS

PURE_DATA_TYPES = ("zero", "random")


@dataclass
class RunConfig:
    """One run's options; the defaults are ais_bench's."""

    model: Path
    inputs: List[str] = field(default_factory=list)  # as given, comma-split; empty: pure mode
    output: Optional[str] = None  # as given (ais_bench joins paths with os.path.join)
    output_dirname: Optional[str] = None
    outfmt: str = "BIN"
    loop: int = 1
    batchsize: Optional[int] = None  # --batchsize as given; the run's batch is resolved after load (load.Batch)
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
    perf.add_argument("--device", "-d", type=device_list, default=(0,),
                      help="device id, or a list (0,1): one process per device over its share of the inputs "
                           "(on the CPU the cores are divided between them)")
    perf.add_argument("--backend", choices=backends.BACKEND_CHOICES, default=backends.AUTO,
                      help="runtime for ONNX models; auto: the fastest installed one, measured (default)")
    perf.add_argument("--threads", type=positive_int, default=None,
                      help="threads per process (default: all cores, divided between devices)")
    perf.add_argument("--hint", choices=backends.HINTS, default=backends.THROUGHPUT,
                      help="throughput: several requests in flight as the runtime chooses (default); "
                           "latency: one request at a time")
    summary = parser.add_argument_group("summary and log")
    summary.add_argument("--display_all_summary", "--display-all-summary", type=str2bool, nargs="?",
                         const=True, default=False, help="also print the H2D and D2H copy times")
    summary.add_argument("--debug", type=str2bool, nargs="?", const=True, default=False,
                         help="print model inputs/outputs and every batch's time")
    summary.add_argument("--annotate", type=key_value, action="append", default=[], metavar="KEY=VALUE",
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
