"""The report step: the run's record (``.run_infer/run.json``), then ``make_report.py`` → ``./report.html``.

It reads every file the steps before it wrote; a file a partial run lacks is a section that says which step
makes it. It runs whenever any of them changed, the step timings included, so the page is always the last run's.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Dict, Sequence

from ..fileio import list_inputs
from ..imagenet import IMAGE_EXTENSIONS
from .engine import Unit
from .run_record import describe_run, write_run_record
from .state import Run


def _dataset(run: Run) -> Dict[str, Any]:
    """The dataset in the run record: its folders, counts, and where it was prepared from."""
    data = run.dataset
    record: Dict[str, Any] = {"images": data.images, "labels": data.labels, "demo": data.demo}
    if data.images.is_dir():
        record["image_files"] = len(list_inputs(data.images, IMAGE_EXTENSIONS))
    try:
        record["labelled_images"] = sum(1 for line in data.labels.read_text(encoding="utf-8").splitlines() if line.strip())
    except (OSError, UnicodeDecodeError):
        pass
    from ..imagenet_prep.build import read_manifest

    prepared = read_manifest(data.images.parent)
    if prepared is not None:
        record["prepared_from"] = f"{prepared.get('source')} ({prepared.get('layout')}; labels: {prepared.get('labels')})"
    return record


def record_run(run: Run) -> None:
    """Write ``.run_infer/run.json``: what the report's "The run" section shows."""
    toolchain = run.toolchain
    kind = "the vendor's (atc + ais_bench)" if toolchain.ascend else "the portable one (aipp_convert.py + ais_infer.py)"
    options = {f.name: getattr(run.opts, f.name) for f in dataclasses.fields(run.opts) if f.name != "argv"}
    write_run_record(run.paths.run_record, describe_run(
        argv=list(run.opts.argv), options=options, repo=run.scripts.repo, toolchain=kind,
        runtime=toolchain.runtime(run.opts.backend), checkpoint=run.weights.path, demo_weights=run.weights.demo,
        dataset=_dataset(run)))


def make(run: Run) -> None:
    record_run(run)
    out = run.paths.report_html
    run.shell.run(run.scripts.command("make_report.py", ["--work-dir", "./", "--out", run.rel(out)]))


def report_units(run: Run) -> Sequence[Unit]:
    paths = run.paths
    reads = [p for p in (paths.accuracy_json, paths.predictions_csv, paths.fidelity_json, paths.perf_outputs[0],
                         paths.result_summary, paths.timings_json, run.dataset.images) if p.exists()]
    return [Unit("report", reads, [paths.report_html], {"notes": run.annotations()}, lambda: make(run))]


def announce(run: Run, ran: bool) -> None:
    """Where the page is."""
    print(f"  open {run.paths.report_html.resolve().as_uri()}")
