"""Step 5: top-1 .. top-5 accuracy of ais_bench result files against an ImageNet label file."""

from __future__ import annotations

import csv
import json
import os
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import imagenet
from .cli import collect_key_values, default_workers
from .errors import PipelineError
from .fileio import atomic_path, atomic_write_text, is_hidden_temp, natural_key, parse_result_name, read_result
from .labels import read_label_file
from .summary import load_summary, summary_path_for

TOP_K = 5
JSON_TITLE = "Overall statistical evaluation"
# A 1001-wide output carries a background class at index 0 (TF-slim style): labels shift by one.
BACKGROUND_CLASSES = 1001
LOGITS_OUTPUT = 0  # ais_bench's output index of the class scores; other outputs are ignored
_RANK_CHUNK_ROWS = 4096  # bounds the temporary boolean arrays of the ranking to ~4 MB per 1000 classes


# --------------------------------------------------------------------------- labels


def read_labels(path: str | os.PathLike[str]) -> dict[str, int]:
    """Read ``<image name> <0-based class>`` lines into {image stem: class}; bad lines raise PipelineError."""
    return read_label_file(path).classes()


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class ResultScan:
    """The logits result file of each image in a result folder, plus the names that are not results."""

    folder: Path
    files: dict[str, Path]  # image stem -> its output-0 result file, in natural order
    ignored: tuple[str, ...]  # names that are not ``<stem>_<k>.txt|npy|bin``, natural order
    all_results: tuple[str, ...] = ()  # every ``<stem>_<k>.<ext>`` name, any output index

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
    results: list[str] = []
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
        results.append(entry.name)
        stem, index, _ = parsed
        if index != LOGITS_OUTPUT:
            continue
        if stem in files:
            raise PipelineError(f"{folder}: two results for image {stem!r}: {files[stem].name} and {entry.name}")
        files[stem] = Path(entry.path)
    if not files:
        hint = f"; {len(ignored)} other entries, e.g. {ignored[0]!r}" if ignored else ""
        raise PipelineError(f"{folder}: no result files (<image>_0.txt, .npy or .bin){hint}")
    return ResultScan(folder, files, tuple(ignored), tuple(results))


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
    non_finite: int = 0  # results holding NaN or inf (counted wrong)

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

    def accuracy_texts(self) -> list[str]:
        """Top-k accuracies as the original script writes them: ``str(round(hits / count * 100, 2)) + '%'``.

        numpy float64 arithmetic and rounding (``np.round``: scale, round half to even, unscale) and
        the shortest repr, so 40 % is ``"40.0%"`` and 77.36 % is ``"77.36%"``; one entry per k up to
        ``min(classes, 5)``, as the original's ``min(len(sort_index), topn)``.
        """
        ks = min(len(self.hits), self.classes)
        return [str(round(np.float64(hits) / self.count * 100, 2)) + "%" for hits in self.hits[:ks]]

    def to_json(self, annotations: Mapping[str, str] | None = None) -> dict[str, Any]:
        """The original script's accuracy JSON, plus ``annotations`` as extra top-level string fields."""
        # Deliberately the original's layout with every value a string ("77.36%"), against this
        # project's numbers-are-numbers rule: existing parsers of accuracy_result.json read it so.
        value = [
            {"key": "Number of images", "value": str(self.count)},
            {"key": "Number of classes", "value": str(self.classes)},
        ]
        value += [{"key": f"Top{k} accuracy", "value": text} for k, text in enumerate(self.accuracy_texts(), 1)]
        doc: dict[str, Any] = {"title": JSON_TITLE, "value": value}
        for key, text in (annotations or {}).items():
            if key in doc:
                raise PipelineError(f"annotation {key!r} would replace the guide's field of that name")
            doc[key] = str(text)
        return doc


def json_text(doc: Mapping[str, Any]) -> str:
    """The original's bytes: ``json.dump`` with its defaults (``", "``/``": "``, ASCII escapes), no newline."""
    return json.dumps(doc)


# --------------------------------------------------------------------------- which results


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
) -> MetricReport:
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
    limit = classes - shift
    one_based = label_set.one_based_warning()
    for stem, label in labels.items():
        if label.cls >= limit:
            background = f" after background class 0 of {classes}" if shift else ""
            hint = f"; {one_based.split(': ', 1)[1]}" if one_based else ""
            raise PipelineError(
                f"{label_path}, line {label.line}: class {label.cls} of image {stem!r} is out of range for "
                f"{classes}-class results (classes 0..{limit - 1}{background}){hint}"
            )
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
    return MetricReport(len(stems), len(labels), classes, tuple(hits), tuple(warnings), int(broken.size))


# --------------------------------------------------------------------------- predictions

PREDICTION_COLUMNS = (["image", "label", "label_name"]
                      + [f"top{k}{part}" for k in range(1, TOP_K + 1) for part in ("", "_name", "_score")]
                      + ["correct_at_1", "correct_at_5"])


def class_name(cls: int, classes: int) -> str:
    """The ImageNet-1k words of ``cls`` for 1000-class results, ``background`` for class -1 of 1001; else empty."""
    if cls < 0:
        return "background"
    return imagenet.synsets().name(cls) if classes == imagenet.NUM_CLASSES else ""


def top_classes(logits: np.ndarray, k: int = TOP_K) -> np.ndarray:
    """[N, k] column indices of the k highest scores per row; equal scores in column order (as :func:`label_ranks`)."""
    out = np.empty((logits.shape[0], min(k, logits.shape[1])), np.int64)
    for lo in range(0, logits.shape[0], _RANK_CHUNK_ROWS):
        block = logits[lo : lo + _RANK_CHUNK_ROWS]
        out[lo : lo + len(block)] = np.argsort(-block, axis=1, kind="stable")[:, : out.shape[1]]
    return out


def write_predictions(path: str | os.PathLike[str], images: Sequence[str], labels: np.ndarray, logits: np.ndarray,
                      ranks: np.ndarray, shift: int = 0) -> Path:
    """One CSV row per scored image (atomically): image, label and its name, the top-5 classes with names and
    scores, correct@1 and correct@5. Classes are the label file's (a 1001-wide output's background is -1)."""
    path = Path(path)
    width = logits.shape[1] - shift
    top = top_classes(logits)
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(PREDICTION_COLUMNS)
            for i, image in enumerate(images):
                row: list[object] = [image, int(labels[i]), class_name(int(labels[i]), width)]
                for k in range(TOP_K):
                    if k < top.shape[1]:
                        cls = int(top[i, k]) - shift
                        row += [cls, class_name(cls, width), f"{float(logits[i, top[i, k]]):.6f}"]
                    else:
                        row += ["", "", ""]
                row += [int(ranks[i] < 1), int(ranks[i] < TOP_K)]
                writer.writerow(row)
    return path


@dataclass(frozen=True)
class Prediction:
    """One row of a predictions CSV."""

    image: str
    label: int
    label_name: str
    top: tuple[int, ...]
    correct_at_1: bool
    correct_at_5: bool


def read_predictions(path: str | os.PathLike[str]) -> list[Prediction]:
    """The rows :func:`write_predictions` wrote; a file of another layout is one error naming it."""
    path = Path(path)
    try:
        with open(path, encoding="utf-8", newline="") as fh:
            reader = csv.reader(fh)
            header = next(reader, None)
            if header != PREDICTION_COLUMNS:
                raise PipelineError(f"{path}: not a predictions file (expected the columns {', '.join(PREDICTION_COLUMNS[:3])}, ...)")
            rows = []
            for number, row in enumerate(reader, start=2):
                try:
                    top = tuple(int(row[3 + 3 * k]) for k in range(TOP_K) if row[3 + 3 * k] != "")
                    rows.append(Prediction(row[0], int(row[1]), row[2], top, row[-2] == "1", row[-1] == "1"))
                except (ValueError, IndexError):
                    raise PipelineError(f"{path}, line {number}: not a predictions row") from None
    except OSError as exc:
        raise PipelineError(f"{path}: cannot read: {exc.strerror or exc}") from None
    return rows


@dataclass(frozen=True)
class ClassAccuracy:
    """Top-1 accuracy of the images of one class."""

    cls: int
    name: str
    images: int
    correct: int

    @property
    def percent(self) -> float:
        return 100.0 * self.correct / self.images

    def describe(self) -> str:
        """``class 7 (cock): 1 of 4 images, 25.0 %``."""
        named = f" ({self.name})" if self.name else ""
        return f"class {self.cls}{named}: {self.correct} of {self.images} images, {self.percent:.1f} %"


def lowest_classes(rows: Sequence[Prediction], count: int = 5) -> list[ClassAccuracy]:
    """The ``count`` classes with the lowest top-1 accuracy (ties: more images first, then class order)."""
    per_class: dict[int, list[int]] = {}
    names: dict[int, str] = {}
    for row in rows:
        tally = per_class.setdefault(row.label, [0, 0])
        tally[0] += 1
        tally[1] += int(row.correct_at_1)
        names[row.label] = row.label_name
    found = [ClassAccuracy(cls, names[cls], n, hit) for cls, (n, hit) in per_class.items()]
    found.sort(key=lambda c: (c.correct / c.images, -c.images, c.cls))
    return found[:count]


# --------------------------------------------------------------------------- output


def collect_annotations(pairs: Sequence[tuple[str, str]]) -> dict[str, str]:
    """Repeated ``--annotate`` pairs as a dict; a key given twice, or one of the guide's fields, is an error."""
    return collect_key_values(pairs, "--annotate", reserved=("title", "value"))


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
    """Write the original's accuracy JSON, byte for byte (plus annotations), to ``path`` atomically."""
    path = Path(path)
    atomic_write_text(path, json_text(report.to_json(annotations)))
    return path
