"""Step 5: top-1 .. top-5 accuracy of ais_bench result files against an ImageNet label file."""

from __future__ import annotations

import argparse
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
from .cli import default_workers
from .errors import PipelineError
from .fileio import atomic_write_text, is_hidden_temp, natural_key, parse_result_name, read_result, stem_of
from .summary import load_summary, summary_path_for

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
    """Image stem -> (class, line number) for every labelled image in ``path``.

    A UTF-8 BOM and CRLF line ends are accepted; an image named twice with the same class counts
    once, with two classes it is refused naming both lines.
    """
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
        stem, label = stem_of(name), int(class_text)
        if stem in labels:
            first, first_line = labels[stem]
            if first != label:
                raise PipelineError(f"{where}: image {stem!r} has class {label} here but class {first} on line "
                                    f"{first_line}")
            continue  # the same image listed twice with the same class: harmless
        labels[stem] = (label, number)
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
) -> MetricReport:
    """Score the output-0 results of ``result_dir`` (only its run's, when its summary is beside it)."""
    label_path = Path(label_file)
    labels = _parse_labels(label_path)
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
    for stem, (label, line) in labels.items():
        if label >= limit:
            background = f" after background class 0 of {classes}" if shift else ""
            raise PipelineError(
                f"{label_path}, line {line}: class {label} of image {stem!r} is out of range for "
                f"{classes}-class results (classes 0..{limit - 1}{background})"
            )
    targets = np.fromiter((labels[matched[s]][0] + shift for s in stems), np.int64, len(stems))
    ranks = label_ranks(logits, targets)
    broken = np.flatnonzero(~np.isfinite(logits).all(axis=1))
    if broken.size:
        ranks[broken] = k_max  # a result holding NaN or inf is a failed inference: wrong at every k
        warnings.append(f"{broken.size} result(s) hold NaN or inf, counted as wrong at every k "
                        f"(first: {paths[int(broken[0])]})")
    per_rank = np.bincount(np.minimum(ranks, k_max), minlength=k_max + 1)
    hits = [int(v) for v in np.cumsum(per_rank)[:k_max]]
    return MetricReport(len(stems), len(labels), classes, tuple(hits), tuple(warnings), int(broken.size))


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
    """Write the original's accuracy JSON, byte for byte (plus annotations), to ``path`` atomically."""
    path = Path(path)
    atomic_write_text(path, json_text(report.to_json(annotations)))
    return path
