"""A run's summary: built from one :class:`Outcome` record, written beside the result folder, then printed.

The file is :class:`senet_infer.summary.RunSummary` (ais_bench's keys and meanings, this project's extras under
``"senet_infer"``); the printed lines are ais_bench's Performance Summary in its words, so log parsers written
for the vendor's tool keep working.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Dict, List, Optional

from ..backends import Backend
from ..fileio import atomic_write_json
from ..summary import Extras, RunSummary, TimeStats, summary_path
from .args import RunConfig
from .flight import Timing
from .load import Loaded

LOG_PREFIX = "[INFO] "  # ais_bench's logger prefix

TIMING_NOTE = (
    "NPU_compute_time: per timed batch, the time from the later of its submission and the previous batch's "
    "completion to its own completion (the runtime's busy time for that batch); with {requests} request(s) "
    "in flight{overlap}. H2D_latency: {h2d}. D2H_latency: {d2h}."
)


@dataclass
class Outcome:
    """What one run (pure or file mode) produced, everything the summary is built from besides options and model."""

    mode: str                      # "file" or "pure"
    timing: Timing
    wall_s: float                  # end-to-end, after the warm-up
    num_inputs: int = 0            # input files read (0 in pure mode)
    files_per_batch: int = 0       # input files per batch (0 in pure mode)
    result_dir: Optional[str] = None
    dirname: Optional[str] = None
    filesinfo: Dict[str, Dict[str, List[str]]] = field(default_factory=dict)
    other_files: int = 0           # result files in the folder that this run did not write


def timing_note(backend: Backend) -> str:
    """How this backend's NPU_compute_time, H2D and D2H figures were measured, in words."""
    overlap = (", overlapping, so it is busy wall time / batches and each request's own latency is in "
               "request_latency" if backend.requests > 1 else ", so it is the run call itself")
    h2d = "zeros (no entries): the runtime reads the host batch in place (shared, no copy to a device)" \
        if backend.device == "CPU" else "zeros (no entries): copies happen inside the run call and count as compute"
    d2h = ("time to copy each batch's outputs out of the runtime's request buffers into arrays the runner keeps"
           if backend.name == "openvino" else
           "zeros (no entries): the runtime returns fresh host arrays, nothing is copied after the run")
    return TIMING_NOTE.format(requests=backend.requests, overlap=overlap, h2d=h2d, d2h=d2h)


def build_summary(config: RunConfig, loaded: Loaded, outcome: Outcome) -> RunSummary:
    """The summary record of one run."""
    backend = loaded.backend
    timing = outcome.timing
    compute = TimeStats.from_ms(timing.compute_ms)
    throughput = 1000.0 * loaded.batch.formula / compute.mean if compute.mean else 0.0
    images = outcome.num_inputs if outcome.mode == "file" else loaded.batch.samples * len(timing.compute_ms)
    wall = outcome.wall_s
    options = config.options()
    options["output_dirname"] = outcome.dirname
    extras = Extras(
        backend=backend.name, backend_version=backend.version, device=backend.device, precision=backend.precision,
        mode=outcome.mode, batchsize=loaded.batch.samples, num_inputs=outcome.num_inputs,
        files_per_batch=outcome.files_per_batch, end_to_end_s=wall,
        end_to_end_images_per_s=images / wall if wall else 0.0, result_dir=outcome.result_dir,
        model=str(config.model), timing=timing_note(backend), annotations=dict(config.annotations),
        hint=backend.hint, requests=backend.requests, streams=backend.streams,
        request_latency=TimeStats.from_ms(timing.latency_ms).to_json(),
        options=options, other_files_in_result_dir=outcome.other_files, throughput_batchsize=loaded.batch.formula,
    )
    return RunSummary(
        compute=compute, throughput=throughput, extras=extras, filesinfo=outcome.filesinfo,
        args=list(config.argv) if config.argv else [], h2d=TimeStats(),
        d2h=TimeStats.from_ms(timing.d2h_ms), compute_list_ms=list(timing.compute_ms), pid=os.getpid(),
    )


def summary_lines(summary: RunSummary, display_all: bool = False) -> List[str]:
    """ais_bench's Performance Summary in its words and numbers, then this project's end-to-end line."""
    def stats(label: str, s: TimeStats) -> str:
        return (f"{LOG_PREFIX}{label} (ms): min = {s.min}, max = {s.max}, mean = {s.mean}, median = {s.median}, "
                f"percentile(99%) = {s.p99}")

    c = summary.compute
    lines = [f"{LOG_PREFIX}-----------------Performance Summary------------------"]
    if display_all:
        lines.append(stats("H2D_latency", summary.h2d))
    lines.append(stats("NPU_compute_time", c))
    if display_all:
        lines.append(stats("D2H_latency", summary.d2h))
    e = summary.extras
    batchsize = e.throughput_batchsize or e.batchsize  # a vendor's summary has no throughput_batchsize
    lines.append(f"{LOG_PREFIX}throughput 1000*batchsize.mean({batchsize})/NPU_compute_time.mean({c.mean}): "
                 f"{summary.throughput}")
    lines.append(f"{LOG_PREFIX}------------------------------------------------------")
    what = ("read + infer + write, whole run, model load and warm-up excluded" if e.mode == "file"
            else "timed loop wall time, host overhead included")
    images = e.num_inputs if e.mode == "file" else e.batchsize * c.count
    lines.append(f"{LOG_PREFIX}end-to-end images/s ({what}): {e.end_to_end_images_per_s:.1f} "
                 f"({images} images in {e.end_to_end_s:.3f} s)")
    if display_all:
        lines.append(f"{LOG_PREFIX}backend {e.backend} {e.backend_version} on {e.device} at {e.precision}, "
                     f"{e.requests} request(s) in flight, {e.streams} stream(s), files per batch {e.files_per_batch}")
    return lines


def write_summary(config: RunConfig, summary: RunSummary) -> None:
    """Write ``<output>/<dirname>_summary.json`` (nothing without ``--output``) and remember its path."""
    dirname = summary.extras.options.get("output_dirname")
    if config.output is None or not dirname:
        return
    path = summary_path(config.output, dirname)
    atomic_write_json(path, summary.to_json())  # a failed write is one WriteError naming the path
    summary.path = path


def print_summary(summary: RunSummary, display_all: bool = False, log: Callable[[str], None] = print) -> None:
    """Print the Performance Summary and where the summary JSON went."""
    for line in summary_lines(summary, display_all):
        log(line)
    if summary.path is not None:
        log(f"{LOG_PREFIX}summary written to {summary.path}")


def publish(config: RunConfig, summary: RunSummary, log: Callable[[str], None] = print) -> None:
    """Write the summary file, then print the Performance Summary (which names the file)."""
    write_summary(config, summary)
    print_summary(summary, config.display_all_summary, log)
