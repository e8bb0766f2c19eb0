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

from .actions import calibrate_unit, convert_unit
from .engine import Unit
from .paths import drift_dirname, precision_batch
from .perf_outputs import Drift, PerfRecord, write_perf_outputs
from .state import Run, model_aipp_op

DRIFT_IMAGES = 8  # images of the perf step's fidelity check per precision


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
