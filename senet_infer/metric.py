"""Step 5: top-1 .. top-5 accuracy of ais_bench result files against an ImageNet label file."""

from __future__ import annotations

import argparse
import os
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import imagenet
from .cli import default_workers
from .errors import PipelineError
from .fileio import atomic_write_json, is_hidden_temp, natural_key, parse_result_name, read_result, stem_of

TOP_K = 5
JSON_TITLE = "Overall statistical evaluation"
# A 1001-wide output carries a background class at index 0 (TF-slim style): labels shift by one.
BACKGROUND_CLASSES = 1001
LOGITS_OUTPUT = 0  # ais_bench's output index of the class scores; other outputs are ignored
_RANK_CHUNK_ROWS = 4096  # bounds the temporary boolean arrays of the ranking to ~4 MB per 1000 classes


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


# --------------------------------------------------------------------------- labels


def _parse_labels(path: Path) -> dict[str, tuple[int, int]]:
    """Image stem -> (class, line number) for every labelled image in ``path``."""
    if not path.exists():
        raise PipelineError(f"{path}: label file not found")
    if path.is_dir():
        raise PipelineError(f"{path}: is a folder, expected the label file")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise PipelineError(f"{path}: not a UTF-8 text file") from None
    except OSError as exc:
        raise PipelineError(f"{path}: cannot read: {exc.strerror}") from None
    labels: dict[str, tuple[int, int]] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        where = f"{path}, line {number}"
        if len(fields) != 2:
            raise PipelineError(f"{where}: expected '<image name> <class>', got {_short(line.strip())!r}")
        name, class_text = fields
        if not (class_text.isascii() and class_text.isdigit()):
            raise PipelineError(f"{where}: class {_short(class_text)!r} is not a non-negative integer")
        stem = stem_of(name)
        if stem in labels:
            raise PipelineError(f"{where}: image {stem!r} is already labelled on line {labels[stem][1]}")
        labels[stem] = (int(class_text), number)
    if not labels:
        raise PipelineError(f"{path}: no labels (expected lines '<image name> <class>')")
    return labels


def read_labels(path: str | os.PathLike[str]) -> dict[str, int]:
    """Read ``<image name> <0-based class>`` lines into {image stem: class}; bad lines raise PipelineError."""
    return {stem: label for stem, (label, _) in _parse_labels(Path(path)).items()}


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class ResultScan:
    """The logits result file of each image in a result folder, plus the names that are not results."""

    folder: Path
    files: dict[str, Path]  # image stem -> its output-0 result file, in natural order
    ignored: tuple[str, ...]  # names that are not ``<stem>_<k>.txt|npy|bin``, natural order

    def ignored_warning(self) -> str | None:
        """One line about the ignored files, or None when there are none."""
        if not self.ignored:
            return None
        n = len(self.ignored)
        noun = "file that is not a result" if n == 1 else "files that are not results"
        return f"{self.folder}: ignored {n} {noun} (<image>_<k>.txt|npy|bin), e.g. {self.ignored[0]!r}"


def scan_results(result_dir: str | os.PathLike[str]) -> ResultScan:
    """Find ``<stem>_0.txt|npy|bin`` in ``result_dir`` (hidden temp files skipped silently)."""
    folder = Path(result_dir)
    if not folder.exists():
        raise PipelineError(f"{folder}: result folder not found")
    if not folder.is_dir():
        raise PipelineError(f"{folder}: not a folder (expected the result folder)")
    files: dict[str, Path] = {}
    ignored: list[str] = []
    try:
        entries = sorted(os.scandir(folder), key=lambda e: natural_key(e.name))
    except OSError as exc:
        raise PipelineError(f"{folder}: cannot list: {exc.strerror}") from None
    for entry in entries:
        if is_hidden_temp(entry.name):
            continue
        parsed = parse_result_name(entry.name) if entry.is_file() else None
        if parsed is None:
            ignored.append(entry.name)
            continue
        stem, index, _ = parsed
        if index != LOGITS_OUTPUT:
            continue
        if stem in files:
            raise PipelineError(f"{folder}: two results for image {stem!r}: {files[stem].name} and {entry.name}")
        files[stem] = Path(entry.path)
    if not files:
        hint = f"; {len(ignored)} other entries, e.g. {ignored[0]!r}" if ignored else ""
        raise PipelineError(f"{folder}: no result files (<image>_0.txt, .npy or .bin){hint}")
    return ResultScan(folder, files, tuple(ignored))


def _read_logits_file(path: Path, num_classes: int) -> np.ndarray:
    values = read_result(path, num_classes)
    if values.size == 0:
        raise PipelineError(f"{path}: result holds no values")
    # A .bin file has no shape: its width is only known from --num-classes, so hold it to exactly that.
    if path.suffix.lower() == ".bin" and values.size != num_classes:
        raise PipelineError(
            f"{path}: {values.size} float32 values, expected {num_classes} (the class count of .bin results)"
        )
    return values


def read_logits(
    paths: Sequence[Path], num_classes: int = imagenet.NUM_CLASSES, workers: int | None = None
) -> np.ndarray:
    """Read result files into one [N, C] float32 array (row i = paths[i]); C must agree across files."""
    if not paths:
        raise ValueError("read_logits needs at least one result file")
    width = _read_logits_file(paths[0], num_classes).size
    logits = np.empty((len(paths), width), np.float32)
    sizes = np.zeros(len(paths), np.int64)
    stop = threading.Event()

    def read_range(lo: int, hi: int) -> None:
        for i in range(lo, hi):
            if stop.is_set():
                return
            try:
                values = _read_logits_file(paths[i], num_classes)
            except BaseException:
                stop.set()
                raise
            sizes[i] = values.size
            if values.size == width:
                logits[i] = values

    # TXT parsing holds the GIL, but file reads do not: threads overlap the I/O with the parsing.
    workers = max(1, min(workers or default_workers(), len(paths)))
    chunks = np.array_split(np.arange(len(paths)), workers * 8)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="metric-read") as pool:
        futures = [pool.submit(read_range, int(c[0]), int(c[-1]) + 1) for c in chunks if c.size]
        for future in futures:
            future.result()

    if np.any(sizes != width):
        values, counts = np.unique(sizes, return_counts=True)
        common = int(values[np.argmax(counts)])
        odd = int(np.flatnonzero(sizes != common)[0])
        raise PipelineError(
            f"{paths[odd]}: {sizes[odd]} values, but {int(counts.max())} of {len(paths)} results have {common}; "
            "every result must hold the same number of class scores"
        )
    nan_rows = np.flatnonzero(np.isnan(logits).any(axis=1))
    if nan_rows.size:
        raise PipelineError(f"{paths[int(nan_rows[0])]}: result holds NaN ({nan_rows.size} such results)")
    return logits


def load_results(
    result_dir: str | os.PathLike[str], num_classes: int = imagenet.NUM_CLASSES, workers: int | None = None
) -> tuple[list[str], np.ndarray]:
    """All output-0 results of ``result_dir``: (image stems in natural order, [N, C] float32 logits)."""
    scan = scan_results(result_dir)
    stems = list(scan.files)
    return stems, read_logits([scan.files[s] for s in stems], num_classes, workers)


# --------------------------------------------------------------------------- top-k


def label_ranks(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """0-based rank of each row's label in that row, as a stable descending argsort would place it.

    Counting the classes that beat the label (higher score, or equal score and lower index) gives
    exactly ``np.argsort(-row, kind="stable").tolist().index(label)`` without sorting anything, so
    ties (common in fp16 or ``%f``-rounded TXT results) resolve the same way whatever the row order
    or chunking, and on tie-free rows every full argsort agrees with it.
    """
    logits = np.asarray(logits)
    labels = np.asarray(labels, np.int64)
    if logits.ndim != 2 or labels.shape != (logits.shape[0],):
        raise ValueError(f"need logits [N, C] and labels [N], got {logits.shape} and {labels.shape}")
    if labels.size and (labels.min() < 0 or labels.max() >= logits.shape[1]):
        raise ValueError(f"labels must lie in [0, {logits.shape[1]})")
    columns = np.arange(logits.shape[1])
    ranks = np.empty(labels.shape, np.int64)
    for lo in range(0, len(labels), _RANK_CHUNK_ROWS):
        block = logits[lo : lo + _RANK_CHUNK_ROWS]
        lab = labels[lo : lo + _RANK_CHUNK_ROWS]
        score = block[np.arange(len(lab)), lab][:, None]
        beaten = np.count_nonzero(block > score, axis=1)
        tied_before = np.count_nonzero((block == score) & (columns < lab[:, None]), axis=1)
        ranks[lo : lo + len(lab)] = beaten + tied_before
    return ranks


def topk_hits(logits: np.ndarray, labels: np.ndarray, k_max: int = TOP_K) -> list[int]:
    """Number of rows whose label is among the top k scores, for k = 1 .. k_max."""
    ranks = label_ranks(logits, labels)
    per_rank = np.bincount(np.minimum(ranks, k_max), minlength=k_max + 1)
    return [int(v) for v in np.cumsum(per_rank)[:k_max]]


def topk_accuracy(logits: np.ndarray, labels: np.ndarray, k_max: int = TOP_K) -> list[float]:
    """Fraction (0..1) of rows whose label is among the top k scores, for k = 1 .. k_max."""
    n = len(labels)
    if n == 0:
        raise ValueError("no rows to score")
    return [hits / n for hits in topk_hits(logits, labels, k_max)]


# --------------------------------------------------------------------------- report


@dataclass(frozen=True)
class MetricReport:
    """Accuracy of one result folder: counts are exact, percentages derive from them."""

    count: int  # images scored
    labelled: int  # images in the label file
    classes: int  # width of the model output (1001 includes the background class)
    hits: tuple[int, ...]  # hits[k-1]: scored images whose label is in the top k
    warnings: tuple[str, ...] = field(default=())

    @property
    def topk_percent(self) -> tuple[float, ...]:
        """Top-1 .. top-k accuracy in percent."""
        return tuple(100.0 * h / self.count for h in self.hits)

    @property
    def top1(self) -> float:
        """Top-1 accuracy in percent."""
        return self.topk_percent[0]

    @property
    def top5(self) -> float:
        """Top-5 accuracy in percent (top-k_max when fewer were computed)."""
        return self.topk_percent[min(4, len(self.hits) - 1)]

    def summary_line(self) -> str:
        """The one line the script prints, e.g. ``top-1 77.36 %, top-5 93.76 % on 50000 images``."""
        scope = f"{self.count} images"
        if self.count != self.labelled:
            scope = f"{self.count} of {self.labelled} labelled images"
        return f"top-1 {self.top1:.2f} %, top-5 {self.top5:.2f} % on {scope}"

    def to_json(self, annotations: Mapping[str, str] | None = None) -> dict[str, Any]:
        """The guide's accuracy JSON, plus ``annotations`` as extra top-level string fields."""
        # Deliberately the guide tool's layout with every value a string ("77.36%"), against this
        # project's numbers-are-numbers rule: existing parsers of accuracy_result.json read it so.
        value = [
            {"key": "Number of images", "value": str(self.count)},
            {"key": "Number of classes", "value": str(self.classes)},
        ]
        value += [{"key": f"Top{k} accuracy", "value": f"{p:.2f}%"} for k, p in enumerate(self.topk_percent, 1)]
        doc: dict[str, Any] = {"title": JSON_TITLE, "value": value}
        for key, text in (annotations or {}).items():
            if key in doc:
                raise PipelineError(f"annotation {key!r} would replace the guide's field of that name")
            doc[key] = str(text)
        return doc


def evaluate(
    result_dir: str | os.PathLike[str],
    label_file: str | os.PathLike[str],
    *,
    num_classes: int = imagenet.NUM_CLASSES,
    allow_missing: bool = False,
    workers: int | None = None,
    k_max: int = TOP_K,
) -> MetricReport:
    """Score every output-0 result in ``result_dir`` against ``label_file`` (see the module rules)."""
    label_path = Path(label_file)
    labels = _parse_labels(label_path)
    scan = scan_results(result_dir)
    warnings = [w for w in [scan.ignored_warning()] if w]

    unlabelled = [stem for stem in scan.files if stem not in labels]
    if unlabelled:
        more = f" ({len(unlabelled)} results have none)" if len(unlabelled) > 1 else ""
        raise PipelineError(f"{scan.files[unlabelled[0]]}: no label for image {unlabelled[0]!r} in {label_path}{more}")
    missing = [stem for stem in labels if stem not in scan.files]
    if missing and not allow_missing:
        raise PipelineError(
            f"{label_path}: {len(missing)} of {len(labels)} labelled images have no result in {scan.folder} "
            f"(e.g. {missing[0]!r}); use --allow-missing to score only the results present"
        )

    stems = list(scan.files)
    logits = read_logits([scan.files[s] for s in stems], num_classes, workers)
    classes = logits.shape[1]
    shift = 1 if classes == BACKGROUND_CLASSES else 0
    limit = classes - shift
    for stem, (label, line) in labels.items():
        if label >= limit:
            background = f" after background class 0 of {classes}" if shift else ""
            raise PipelineError(
                f"{label_path}, line {line}: class {label} of image {stem!r} is out of range for "
                f"{classes}-class results (classes 0..{limit - 1}{background})"
            )
    targets = np.fromiter((labels[s][0] + shift for s in stems), np.int64, len(stems))
    hits = topk_hits(logits, targets, k_max)
    return MetricReport(len(stems), len(labels), classes, tuple(hits), tuple(warnings))


# --------------------------------------------------------------------------- output


def parse_annotation(text: str) -> tuple[str, str]:
    """argparse type for ``--annotate KEY=VALUE``."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key.strip(), value


def collect_annotations(pairs: Sequence[tuple[str, str]]) -> dict[str, str]:
    """Turn repeated ``--annotate`` pairs into a dict; a key given twice is an error."""
    out: dict[str, str] = {}
    for key, value in pairs:
        if key in out:
            raise PipelineError(f"--annotate {key!r} given twice")
        if key in ("title", "value"):
            raise PipelineError(f"--annotate {key!r} would replace the guide's field of that name")
        out[key] = value
    return out


def output_path(out_dir: str | os.PathLike[str], json_name: str, result_dir: str | os.PathLike[str]) -> Path:
    """``out_dir/json_name``, refused when it would land inside the (input) result folder."""
    path = Path(out_dir) / json_name
    results = Path(result_dir).resolve()
    parent = path.parent.resolve()
    if parent == results or results in parent.parents:
        raise PipelineError(f"{path}: would be written into the result folder {result_dir}; choose another OUT_DIR")
    return path


def write_accuracy_json(
    report: MetricReport, path: str | os.PathLike[str], annotations: Mapping[str, str] | None = None
) -> Path:
    """Write the guide's accuracy JSON (plus annotations) to ``path`` atomically."""
    path = Path(path)
    doc = report.to_json(annotations)
    try:
        atomic_write_json(path, doc)
    except OSError as exc:
        raise PipelineError(f"{path}: cannot write: {exc.strerror or exc}") from None
    return path
