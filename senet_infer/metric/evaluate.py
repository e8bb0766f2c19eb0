"""Scoring a result folder: which results belong to the run, which label each matches, and the top-k hits."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import imagenet
from ..errors import PipelineError
from ..fileio import natural_key, parse_result_name
from ..labels import read_label_file
from ..summary import load_summary, summary_path_for
from .accuracy_json import Accuracy
from .predictions import write_predictions
from .ranking import TOP_K, label_ranks
from .results import LOGITS_OUTPUT, ResultScan, read_logits, scan_results

# A 1001-wide output carries a background class at index 0 (TF-slim style): labels shift by one.
BACKGROUND_CLASSES = 1001

def read_labels(path: str | os.PathLike[str]) -> dict[str, int]:
    """Read ``<image name> <0-based class>`` lines into {image stem: class}; bad lines raise PipelineError."""
    return read_label_file(path).classes()


def _first_dot(stem: str) -> str:
    return stem.split(".")[0]


def match_labels(files: Mapping[str, Path], labels: Mapping[str, object]) -> dict[str, str]:
    """Result stem -> label stem, also for results named as the real ais_bench names them.

    ais_bench names a result by the text before the first dot (``a.b.JPEG`` -> ``a_0.txt``), this
    project by all but the last extension (``a.b_0.txt``). A result stem matches the label of the
    same stem, or a dotted label whose first-dot prefix it is (when that label has no result of its
    own); a result that could be either of two labelled images is refused, naming both.
    Results with no label are left out (the caller decides).
    """
    dotted: dict[str, list[str]] = {}
    for stem in labels:
        if _first_dot(stem) != stem:
            dotted.setdefault(_first_dot(stem), []).append(stem)
    matched: dict[str, str] = {}
    for stem, path in files.items():
        candidates = [stem] if stem in labels else []
        candidates += [other for other in dotted.get(stem, ()) if other not in files]
        if len(candidates) > 1:
            raise PipelineError(
                f"{path}: result {path.name!r} could belong to image {candidates[0]!r} or {candidates[1]!r} "
                "(ais_bench names results by the text before the first dot); rename one image and rerun")
        if candidates:
            matched[stem] = candidates[0]
    return matched


@dataclass(frozen=True)
class RunSelection:
    """The results of one run: those its summary lists, and how many other results the folder holds."""

    files: dict[str, Path]
    summary: Path | None
    others: int
    unusable: str | None = None  # why a summary beside the folder was not used

    def note(self) -> str | None:
        """One line about the results left out (or a summary that could not be used), or None."""
        if self.unusable:
            return self.unusable
        if self.summary is None or not self.others:
            return None
        return (f"scored only the {len(self.files)} results that {self.summary.name} lists; ignored "
                f"{self.others} other result file(s) in the folder (from an earlier run?)")


def select_run(scan: ResultScan, use_summary: bool = True) -> RunSelection:
    """Keep only the results the run wrote, when ``<result_dir>_summary.json`` sits beside the folder."""
    path = summary_path_for(scan.folder)
    if not use_summary or not path.is_file():
        return RunSelection(dict(scan.files), None, 0)
    try:
        written = {Path(name).name for name in load_summary(path).outfiles()}
    except PipelineError as exc:
        return RunSelection(dict(scan.files), None, 0, f"{exc}; scoring every result in {scan.folder}")
    if not written:
        return RunSelection(dict(scan.files), None, 0,
                            f"{path} lists no result files; scoring every result in {scan.folder}")
    kept = {stem: p for stem, p in scan.files.items() if p.name in written}
    missing = sorted(written - {p.name for p in kept.values()} - _other_outputs(scan.folder, written),
                     key=natural_key)
    if missing:
        raise PipelineError(f"{scan.folder / missing[0]}: listed in {path} but not in the folder "
                            f"({len(missing)} such files); rerun step 4 or pass --ignore-summary")
    if not kept:
        raise PipelineError(f"{path}: none of the results it lists is in {scan.folder}")
    results = scan.all_results
    others = sum(1 for name in results if name not in written)
    return RunSelection(kept, path, others)


def _other_outputs(folder: Path, names: set[str]) -> set[str]:
    """The listed files that are present but are not logits (output index other than 0)."""
    present = set()
    for name in names:
        parsed = parse_result_name(name)
        if parsed is not None and parsed[1] != LOGITS_OUTPUT and (folder / name).is_file():
            present.add(name)
    return present


def evaluate(
    result_dir: str | os.PathLike[str],
    label_file: str | os.PathLike[str],
    *,
    num_classes: int = imagenet.NUM_CLASSES,
    allow_missing: bool = False,
    use_summary: bool = True,
    workers: int | None = None,
    k_max: int = TOP_K,
    predictions: str | os.PathLike[str] | None = None,
) -> Accuracy:
    """Score the output-0 results of ``result_dir`` (only its run's, when its summary is beside it).

    ``predictions``: also write one CSV row per scored image there (:func:`write_predictions`).
    """
    label_path = Path(label_file)
    label_set = read_label_file(label_path)
    labels = label_set.labels
    scan = scan_results(result_dir)
    run = select_run(scan, use_summary)
    warnings = [w for w in [scan.ignored_warning(), run.note()] if w]

    matched = match_labels(run.files, labels)
    unlabelled = [stem for stem in run.files if stem not in matched]
    if unlabelled:
        more = f" ({len(unlabelled)} results have none)" if len(unlabelled) > 1 else ""
        raise PipelineError(f"{run.files[unlabelled[0]]}: no label for image {unlabelled[0]!r} in {label_path}{more}")
    scored = set(matched.values())
    missing = [stem for stem in labels if stem not in scored]
    if missing and not allow_missing:
        where = f"the run of {run.summary.name}" if run.summary else str(scan.folder)
        raise PipelineError(
            f"{label_path}: {len(missing)} of {len(labels)} labelled images have no result in {where} "
            f"(e.g. {missing[0]!r}); use --allow-missing to score only the results present"
        )

    stems = list(run.files)
    paths = [run.files[s] for s in stems]
    logits = read_logits(paths, num_classes, workers)
    classes = logits.shape[1]
    shift = 1 if classes == BACKGROUND_CLASSES else 0
    label_set.check_classes(classes - shift, f"{classes}-class results" + (" after background class 0" if shift else ""))
    one_based = label_set.one_based_warning()
    if one_based:
        warnings.append(one_based)
    targets = np.fromiter((labels[matched[s]].cls + shift for s in stems), np.int64, len(stems))
    ranks = label_ranks(logits, targets)
    broken = np.flatnonzero(~np.isfinite(logits).all(axis=1))
    if broken.size:
        ranks[broken] = k_max  # a result holding NaN or inf is a failed inference: wrong at every k
        warnings.append(f"{broken.size} result(s) hold NaN or inf, counted as wrong at every k "
                        f"(first: {paths[int(broken[0])]})")
    per_rank = np.bincount(np.minimum(ranks, k_max), minlength=k_max + 1)
    hits = [int(v) for v in np.cumsum(per_rank)[:k_max]]
    if predictions is not None:
        write_predictions(predictions, [labels[matched[s]].name for s in stems], targets - shift, logits, ranks,
                          shift)
    return Accuracy(len(stems), len(labels), classes, tuple(hits), tuple(warnings), int(broken.size))
