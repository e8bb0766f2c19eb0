"""The predictions CSV: one row per scored image (its label, the top-5 classes, correct@1/@5), and the classes scored worst."""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import imagenet
from ..errors import PipelineError
from ..fileio import atomic_path
from .ranking import TOP_K, top_classes

PREDICTION_COLUMNS = (["image", "label", "label_name"]
                      + [f"top{k}{part}" for k in range(1, TOP_K + 1) for part in ("", "_name", "_score")]
                      + ["correct_at_1", "correct_at_5"])


def class_name(cls: int, classes: int) -> str:
    """The ImageNet-1k words of ``cls`` for 1000-class results, ``background`` for class -1 of 1001; else empty."""
    if cls < 0:
        return "background"
    return imagenet.synsets().name(cls) if classes == imagenet.NUM_CLASSES else ""


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
    top_names: tuple[str, ...] = ()
    top_scores: tuple[float, ...] = ()  # the logits of the top classes, as written


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
                    if len(row) != len(PREDICTION_COLUMNS) or row[-2] not in ("0", "1") or row[-1] not in ("0", "1"):
                        raise ValueError(row)
                    present = [k for k in range(TOP_K) if row[3 + 3 * k] != ""]
                    top = tuple(int(row[3 + 3 * k]) for k in present)
                    names = tuple(row[4 + 3 * k] for k in present)
                    scores = tuple(float(row[5 + 3 * k]) for k in present)
                    rows.append(Prediction(row[0], int(row[1]), row[2], top, row[-2] == "1", row[-1] == "1",
                                           names, scores))
                except (ValueError, IndexError):
                    raise PipelineError(f"{path}, line {number}: not a predictions row") from None
    except OSError as exc:
        raise PipelineError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except (UnicodeDecodeError, csv.Error) as exc:
        raise PipelineError(f"{path}: not a predictions file ({exc})") from None
    return rows


@dataclass(frozen=True)
class ClassAccuracy:
    """Top-1 (and top-5) accuracy of the images of one class."""

    cls: int
    name: str
    images: int
    correct: int
    correct_at_5: int = 0

    @property
    def percent(self) -> float:
        return 100.0 * self.correct / self.images

    @property
    def percent_at_5(self) -> float:
        return 100.0 * self.correct_at_5 / self.images

    def describe(self) -> str:
        """``class 7 (cock): 1 of 4 images, 25.0 %``."""
        named = f" ({self.name})" if self.name else ""
        return f"class {self.cls}{named}: {self.correct} of {self.images} images, {self.percent:.1f} %"


def per_class(rows: Sequence[Prediction]) -> list[ClassAccuracy]:
    """Each labelled class's top-1 and top-5 accuracy, in class order."""
    tally: dict[int, list[int]] = {}
    names: dict[int, str] = {}
    for row in rows:
        counts = tally.setdefault(row.label, [0, 0, 0])
        counts[0] += 1
        counts[1] += int(row.correct_at_1)
        counts[2] += int(row.correct_at_5)
        names[row.label] = row.label_name
    return [ClassAccuracy(cls, names[cls], n, hit1, hit5) for cls, (n, hit1, hit5) in sorted(tally.items())]


def lowest_classes(rows: Sequence[Prediction], count: int = 5) -> list[ClassAccuracy]:
    """The ``count`` classes with the lowest top-1 accuracy (ties: more images first, then class order)."""
    found = per_class(rows)
    found.sort(key=lambda c: (c.correct / c.images, -c.images, c.cls))
    return found[:count]
