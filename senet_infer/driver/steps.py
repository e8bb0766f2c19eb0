"""The step table: the guide's order, what each step resolves for the ones after it, and the units it makes.

Every step of ``run_infer.sh`` but the first (set-up, the shell script's own: it makes the Python the others
run in, and hands its time to the driver, which numbers it with these). This table is the one place that says
how many steps there are and in which order: a new step is a row here. ``weights`` and ``dataset`` run on
every run (``always``): they return the checkpoint and the images every later step receives in its
:class:`~.state.Run`. The engine (:mod:`.engine`) is the one place that skips, runs and stamps a unit.
"""

from __future__ import annotations

from typing import Dict, Sequence, Tuple

from . import actions, perf, report
from .engine import Step, Unit
from .resolve import calibration_needed, dataset_units, resolve_dataset, resolve_weights
from .state import Run

SET_UP = "set-up"  # step 1, run_infer.sh's own
SET_UP_IO = "reads requirements.txt, writes .venv (or uses $PYTHON)"
FIRST_STEP_NUMBER = 2  # the table's first row; set-up is the one before it


def preprocess_units(run: Run) -> Sequence[Unit]:
    return [Unit("preprocess", [run.dataset.images], [run.paths.bin_dir], {}, lambda: actions.preprocess(run))]


def export_units(run: Run) -> Sequence[Unit]:
    return [Unit("export", [run.weights.path], [run.paths.dynamic_onnx], {}, lambda: actions.export(run))]


def calibrate_units(run: Run) -> Sequence[Unit]:
    return [actions.calibrate_unit(run)] if run.opts.precision == "int8" else []


def convert_units(run: Run) -> Sequence[Unit]:
    return [actions.convert_unit(run, run.opts.batch_size)]


def infer_units(run: Run) -> Sequence[Unit]:
    """./result and its summary are the step's own: removed first, so the metric scores this run's results only."""
    paths = run.paths
    options = {"backend": run.opts.backend, "ascend": run.toolchain.ascend, "notes": run.annotations()}
    return [Unit("infer", [run.model, paths.bin_dir], [paths.result_dir], options, lambda: actions.infer(run),
                 [paths.result_dir, paths.result_summary])]


def metric_units(run: Run) -> Sequence[Unit]:
    paths = run.paths
    return [Unit("metric", [paths.result_dir, run.dataset.labels], [paths.accuracy_json, paths.predictions_csv],
                 {"notes": run.annotations()}, lambda: actions.metric(run))]


def fidelity_units(run: Run) -> Sequence[Unit]:
    paths, opts = run.paths, run.opts
    options = {"limit": opts.fidelity_images, "all": opts.fidelity_all, "precision": run.toolchain.precision,
               "notes": run.annotations()}
    # the model too: its AIPP (read back from it) is what PyTorch is fed through
    return [Unit("fidelity", [run.weights.path, run.model, paths.bin_dir, paths.result_dir, paths.aipp_config],
                 [paths.fidelity_json], options, lambda: actions.fidelity(run))]


STEPS: Tuple[Step[Run], ...] = (
    Step("weights", prepare=resolve_weights, always=True),
    Step("dataset", prepare=resolve_dataset, units=dataset_units, always=True, show_io=False),
    Step("preprocess", units=preprocess_units, redo_note="the .bin files it had finished are kept"),
    Step("export", units=export_units),
    Step("calibrate", prepare=calibration_needed, units=calibrate_units, what=lambda r: r.toolchain.calibrate_tool),
    Step("convert", units=convert_units, what=lambda r: r.toolchain.convert_tool),
    Step("infer", units=infer_units),
    Step("metric", units=metric_units, figures=actions.print_accuracy),
    Step("fidelity", units=fidelity_units, figures=actions.print_fidelity),
    Step("perf", prepare=perf.announce, units=perf.perf_units, what=perf.describe),
    Step("report", units=report.report_units, figures=report.announce),
)


def step_names() -> Tuple[str, ...]:
    """The table's step names, in order (read when asked, so a row added to :data:`STEPS` counts)."""
    return tuple(step.name for step in STEPS)


def describe_run(run: Run) -> Dict[str, object]:
    """The run's size, recorded with the step timings (for ``benchmarks/bench_steps.py``)."""
    bin_dir = run.paths.bin_dir
    return {"images": len(list(bin_dir.glob("*.bin"))) if bin_dir.is_dir() else None,
            "batch_size": run.opts.batch_size, "precision": run.toolchain.precision,
            "perf_batch_sizes": list(run.opts.perf_batch_sizes), "perf_loop": run.opts.perf_loop}
