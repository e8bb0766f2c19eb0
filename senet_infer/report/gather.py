"""What a run left in its work folder, read through each file's one reader: the report's only inputs.

Each input is optional (a partial run); :attr:`RunOutputs.missing` says which step makes an absent one. A folder
where the guide's commands were run by hand (``result/``, ``result_summary.json``, the label file, no
``predictions.csv``) is scored here with step 5's own code into a temporary file.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional

from ..driver.engine import Timings, read_timings
from ..driver.paths import Paths
from ..driver.perf_outputs import PerfFigures, read_perf_json
from ..driver.run_record import read_run_record
from ..errors import PipelineError
from ..fidelity import FidelityRecord, read_fidelity_json
from ..fileio import stem_of
from ..imagenet import LABELS_NAME
from ..metric import AccuracyRecord, Prediction, evaluate, read_accuracy_json, read_predictions
from ..preprocess import read_sources
from ..summary import RunSummary, load_summary

DEMO_MARK = "warning"  # the annotation every JSON of a run with demo weights carries
DEMO_DATA_MARK = "dataset_note"


@dataclass
class RunOutputs:
    """Every output of one run that the report shows; None where the run has not made it (see ``missing``)."""

    work: Path
    accuracy: Optional[AccuracyRecord] = None
    predictions: Optional[List[Prediction]] = None
    scored_here: Optional[str] = None  # how the predictions were made here when the run wrote none
    fidelity: Optional[FidelityRecord] = None
    perf: Optional[PerfFigures] = None
    timings: Optional[Timings] = None
    summary: Optional[RunSummary] = None
    record: Optional[Dict[str, object]] = None  # .run_infer/run.json
    images: Dict[str, Path] = field(default_factory=dict)  # image stem -> the original image step 1 read
    image_source: Optional[Path] = None
    protocol: Optional[str] = None  # step 1's --resize: "shorter" or "squash"
    notes: Dict[str, str] = field(default_factory=dict)  # the runs' annotations: demo warnings, calibration
    demo_checkpoint_only: bool = False  # by hand: only the demo checkpoint lies in the folder
    missing: Dict[str, str] = field(default_factory=dict)  # file -> what makes it

    @property
    def demo_weights(self) -> bool:
        checkpoint = (self.record or {}).get("checkpoint")
        recorded = isinstance(checkpoint, dict) and bool(checkpoint.get("demo"))
        return recorded or DEMO_MARK in self.notes or self.demo_checkpoint_only

    @property
    def demo_data(self) -> bool:
        dataset = (self.record or {}).get("dataset")
        recorded = isinstance(dataset, dict) and bool(dataset.get("demo"))
        return recorded or DEMO_DATA_MARK in self.notes

    def thumbnail_source(self, image: str) -> Optional[Path]:
        """The original image behind ``image`` (a label-file name), through step 1's record."""
        return self.images.get(stem_of(image))


def _labels_path(paths: Paths, record: Optional[Dict[str, object]]) -> Optional[Path]:
    """The run's label file: as recorded, else where the guide keeps it, else the demo set's."""
    dataset = (record or {}).get("dataset")
    if isinstance(dataset, dict) and dataset.get("labels"):
        return Path(str(dataset["labels"]))
    for candidate in (paths.imagenet / LABELS_NAME, paths.demo / LABELS_NAME):
        if candidate.is_file():
            return candidate
    return None


def _score_by_hand(paths: Paths, labels: Path, out: RunOutputs) -> None:
    """No predictions.csv: score ``result/`` with step 5's code, as ``vision_metric_ImageNet.py`` would."""
    with tempfile.TemporaryDirectory(prefix="senet-report-") as tmp:
        csv_path = Path(tmp) / paths.predictions_csv.name
        report = evaluate(paths.result_dir, labels, allow_missing=True, predictions=csv_path)
        out.predictions = read_predictions(csv_path)
    scope = "" if report.count == report.labelled else f"; {report.count:,} of {report.labelled:,} labelled images have a result"
    said = "".join(f"; {warning}" for warning in report.warnings)  # step 5's own warnings, never dropped
    out.scored_here = (f"{paths.rel(paths.result_dir)} scored here against {paths.rel(labels)} with step 5's "
                       f"code ({paths.predictions_csv.name} absent){scope}{said}")
    if out.accuracy is None:
        out.accuracy = AccuracyRecord(report.count, report.classes, tuple(round(p, 2) for p in report.topk_percent), {})


def _accuracy_from(rows: List[Prediction]) -> AccuracyRecord:
    top1 = 100.0 * sum(r.correct_at_1 for r in rows) / len(rows)
    top5 = 100.0 * sum(r.correct_at_5 for r in rows) / len(rows)
    return AccuracyRecord(len(rows), 0, (round(top1, 2), round(top5, 2)), {})


def gather(work: Path) -> RunOutputs:
    """Read every output of the run in ``work``; a folder holding none is one error naming what is missing."""
    paths = Paths(work)
    out = RunOutputs(work)
    if paths.run_record.is_file():
        out.record = read_run_record(paths.run_record)
    if paths.accuracy_json.is_file():
        out.accuracy = read_accuracy_json(paths.accuracy_json)
    else:
        out.missing[paths.accuracy_json.name] = "step 5 (metric, vision_metric_ImageNet.py)"
    if paths.result_summary.is_file():
        out.summary = load_summary(paths.result_summary)
    if paths.predictions_csv.is_file():
        out.predictions = read_predictions(paths.predictions_csv)
    elif paths.result_dir.is_dir():
        labels = _labels_path(paths, out.record)
        if labels is None:
            out.missing[LABELS_NAME] = (f"the dataset step (or prepare_imagenet.py): {paths.rel(paths.imagenet)}/"
                                        f"{LABELS_NAME}, to score {paths.rel(paths.result_dir)}")
        else:
            _score_by_hand(paths, labels, out)
    else:
        out.missing[paths.predictions_csv.name] = "step 4 (infer, ais_bench) then step 5 (metric)"
    if out.accuracy is None and out.predictions:
        out.accuracy = _accuracy_from(out.predictions)
    if paths.fidelity_json.is_file():
        out.fidelity = read_fidelity_json(paths.fidelity_json)
    else:
        out.missing[paths.fidelity_json.name] = "the fidelity step of run_infer.sh"
    perf_json = paths.perf_outputs[0]
    if perf_json.is_file():
        out.perf = read_perf_json(perf_json)
    else:
        out.missing[perf_json.name] = "the perf step of run_infer.sh (step 6, throughput per batch size)"
    if paths.timings_json.is_file():
        out.timings = read_timings(paths.timings_json)
    else:
        out.missing[paths.rel(paths.timings_json)] = "run_infer.sh (each step's wall time)"
    sources = read_sources(paths.bin_dir)
    if sources is not None:
        out.image_source, images, out.protocol = sources
        out.images = {stem_of(name): out.image_source / name for name in images}
    for notes in ([dict(out.summary.extras.annotations)] if out.summary else []) + (
            [out.accuracy.annotations] if out.accuracy else []) + (
            [out.fidelity.notes] if out.fidelity else []) + ([_perf_notes(out.perf)] if out.perf else []):
        out.notes.update(notes)
    if out.record is None:  # by hand: the checkpoint lying in the folder tells
        from ..model import DEMO_WEIGHTS_NAME, WEIGHTS_NAME

        out.demo_checkpoint_only = (work / DEMO_WEIGHTS_NAME).is_file() and not (work / WEIGHTS_NAME).is_file()
    if out.accuracy is None and out.predictions is None and out.fidelity is None and out.perf is None:
        raise PipelineError(f"{work}: no run output to report on ({', '.join(sorted(out.missing))} absent, no "
                            f"{paths.rel(paths.result_dir)}/); run bash run_infer.sh, or the guide's steps 4 and 5, first")
    return out


def _perf_notes(perf: PerfFigures) -> Dict[str, str]:
    return {k: str(v) for k, v in perf.meta.items() if k in (DEMO_MARK, DEMO_DATA_MARK, "calibration_note")}
