"""Step 6, throughput: for each precision, pure inference at each batch size on one converted model each, and a
small fidelity check of that precision's model; then one table and chart (:mod:`.perf_outputs`).

The step's work is units the engine runs in order (calibration when int8 is measured, one conversion per
precision and batch size, then the measurement itself), each skipped when up to date.
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path
from typing import Dict, List, Sequence

from ..errors import PipelineError
from ..summary import load_summary
from .actions import calibrate_unit, convert_unit
from .engine import Unit
from .paths import drift_dirname, precision_batch
from .perf_outputs import Drift, PerfRecord, write_perf_outputs
from .state import Run, model_aipp_op

DRIFT_IMAGES = 8  # images of the perf step's fidelity check per precision

# What the estimate said before the step starts is made of (portable toolchain; fitted to a default demo run on
# the 2-core machine of docs/performance.md, where the step took 414 of the run's 484 s): each run's timed and
# warm-up batches at the infer step's measured speed, plus fixed costs measured there.
WARMUP_BATCHES = 1  # ais_bench's --warmup_count default: one untimed batch before the timed ones
CONVERT_S = 7.0  # one model through aipp_convert.py (the convert step: 6.7 s)
RUN_START_S = 5.0  # a perf run's start: the runner, the model's loading and compilation
DRIFT_S = 8.0  # a precision's drift check: step 4 on DRIFT_IMAGES images and PyTorch's reference
CALIBRATE_S = 25.0  # int8 calibration, when its deploy model is not there yet
REDUCED_SPEEDUP = 3.0  # bf16, fp16 and int8 taken as this many times the fp32 speed (int8 on OpenVINO: 3.3x)


def perf_units(run: Run) -> Sequence[Unit]:
    """What the perf step needs made first (calibration, one model per precision and batch size), then the
    measurement."""
    precisions, sizes, rel = run.perf_precisions, run.opts.perf_batch_sizes, run.rel
    units: List[Unit] = []
    if "int8" in precisions:
        units.append(calibrate_unit(run, skipped=f"{rel(run.toolchain.deploy_model)} up to date, skipped"))
    for precision in precisions:
        for batch in sizes:
            target = run.toolchain.model_path(batch, precision)
            units.append(convert_unit(run, batch, precision=precision, check=False,
                                      skipped=f"{rel(target)} up to date, skipped"))
    paths = run.paths
    options = {"sizes": list(sizes), "loop": run.opts.perf_loop, "backend": run.opts.backend,
               "precisions": list(precisions),
               "calibration": [p.name for p in run.calibration().images] if "int8" in precisions else None,
               "ascend": run.toolchain.ascend, "notes": run.annotations()}
    units.append(Unit("perf", [paths.dynamic_onnx, paths.aipp_config, run.weights.path, paths.bin_dir],
                      list(paths.perf_outputs), options, lambda: measure(run), run.toolchain.perf_folders()))
    return units


def _relative_speed(precision: str) -> float:
    return 1.0 if precision == "fp32" else REDUCED_SPEEDUP


def estimate_seconds(run: Run, images_per_s: float, measured_precision: str) -> float:
    """Roughly how long the perf step takes here, given the infer step's speed at its precision."""
    precisions, sizes = run.perf_precisions, run.opts.perf_batch_sizes
    batches = run.opts.perf_loop + WARMUP_BATCHES
    seconds = 0.0
    if "int8" in precisions and not run.toolchain.deploy_model.exists():
        seconds += CALIBRATE_S
    for precision in precisions:
        speed = images_per_s * _relative_speed(precision) / _relative_speed(measured_precision)
        seconds += DRIFT_S + sum(batches * batch / speed + RUN_START_S for batch in sizes)
        seconds += CONVERT_S * sum(not run.toolchain.model_path(batch, precision).exists() for batch in sizes)
    return seconds


def _duration(seconds: float) -> str:
    """``about 40 s``, ``about 7 min``, ``about 1.5 h``: a rough figure, rounded as one."""
    if seconds < 90:
        return f"about {max(10, round(seconds, -1)):.0f} s"
    if seconds < 90 * 60:
        return f"about {round(seconds / 60):.0f} min"
    return f"about {seconds / 3600:.1f} h"


def announce(run: Run) -> Run:
    """Before the step's work: its size, roughly how long it takes here, and the options that skip or shorten it."""
    precisions, sizes = run.perf_precisions, run.opts.perf_batch_sizes
    runs = len(precisions) * len(sizes)
    loop = run.opts.perf_loop
    work = (f"{runs} run{'s' if runs != 1 else ''} of {loop} timed batch{'es' if loop != 1 else ''} and "
            f"{WARMUP_BATCHES} warm-up ({', '.join(precisions)} at batch {', '.join(map(str, sizes))})")
    try:
        summary = load_summary(run.paths.result_summary)
    except PipelineError:
        summary = None
    if run.toolchain.ascend or summary is None or summary.throughput <= 0:
        why = "on Ascend the conversions' time is not known here" if run.toolchain.ascend else \
            "the infer step has not measured this machine's speed yet"
        time = f"takes a while here ({why})"
    else:
        measured = summary.extras.precision or run.toolchain.precision
        time = (f"takes {_duration(estimate_seconds(run, summary.throughput, measured))} here (estimated from the "
                f"infer step's {summary.throughput:.1f} images/s at {measured})")
    others = [step for step in run.opts.steps if step != "perf"]
    skip = f"--steps {','.join(others)} leaves it out, " if others else ""
    print(f"  the perf step {time}: {work}; {skip}--perf-batch-sizes, --perf-loop and --perf-precisions shorten it")
    return run


def describe(run: Run) -> str:
    """The perf step's line before its reads and writes."""
    return (f"pure inference at {', '.join(run.perf_precisions)}, batch "
            f"{', '.join(map(str, run.opts.perf_batch_sizes))}")


def measure(run: Run) -> None:
    """Each precision's perf runs and drift check (its models made), then the table and chart."""
    precisions, toolchain = run.perf_precisions, run.toolchain
    drift_inputs = drift_bins(run)
    records: List[PerfRecord] = []
    drift: Dict[str, Drift] = {}
    for precision in precisions:
        for batch in run.opts.perf_batch_sizes:
            command = toolchain.perf_command(batch, run.opts.perf_loop, precision)
            output = run.shell.run(command, capture=True)
            records.append(toolchain.perf_record(batch, command, output, precision))
        drift[precision] = precision_drift(run, precision, drift_inputs)
        print(f"  {precision}: drift vs PyTorch fp32 on {drift[precision].images} images: {drift[precision].short()}")
    chip, machine = toolchain.chip_and_machine()
    backends = {precision_batch(r.precision, r.batch_size): r.backend for r in records}
    notes = run.annotations()
    if "int8" in precisions and "calibration_note" not in notes:
        notes["calibration_note"] = run.calibration().note(run.rel)
    meta = {"date": dt.date.today().isoformat(), "machine": machine, "loop": run.opts.perf_loop,
            "precisions": list(precisions), "precision": toolchain.precision, "backend_per_run": backends,
            "mode": "pure inference (no file I/O)", **notes}
    written = write_perf_outputs(run.work, chip, records, meta, drift)
    for precision in precisions:
        print(f"  {precision}: " + ", ".join(f"bs{r.batch_size}: {r.throughput_images_per_s:.1f} images/s"
                                             for r in records if r.precision == precision))
    print(f"  wrote {', '.join(run.rel(p) for p in written)}")


def drift_bins(run: Run) -> Path:
    """A folder of links to :data:`DRIFT_IMAGES` evenly spaced step-1 inputs: what each precision's model is checked on."""
    from ..fidelity import inputs_to_check, select_images

    bins = inputs_to_check(run.paths.bin_dir)
    folder = run.paths.drift_bin
    if folder.is_dir():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    for index in select_images(len(bins), DRIFT_IMAGES):
        (folder / bins[index].name).symlink_to(bins[index].resolve())
    return folder


def precision_drift(run: Run, precision: str, inputs: Path) -> Drift:
    """Step 4 on the perf model at ``precision`` (the smallest batch measured) over ``inputs``, compared with
    PyTorch fp32: the fidelity check on a few images."""
    from ..fidelity import compare_with_pytorch

    batch = run.opts.perf_batch_sizes[0]
    dirname = drift_dirname(precision)
    run.shell.run(run.toolchain.drift_command(precision, batch, inputs, dirname), capture=True)
    agreement = compare_with_pytorch(run.weights.path, inputs, run.paths.perf_runs / dirname,
                                  model_aipp_op(run, run.toolchain.model_path(batch, precision)),
                                  precision=precision, all_images=True)
    return Drift(precision, agreement.images, agreement.top1_agreement, agreement.top5_agreement,
                 agreement.min_cosine_similarity, agreement.max_relative_error)
