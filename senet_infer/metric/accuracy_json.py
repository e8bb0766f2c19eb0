"""The guide's accuracy JSON: the scores of one result folder, written byte for byte as the original script does."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..cli import collect_key_values
from ..errors import PipelineError
from ..fileio import atomic_write_text, is_within, read_json

JSON_TITLE = "Overall statistical evaluation"

@dataclass(frozen=True)
class Accuracy:
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


def collect_annotations(pairs: Sequence[tuple[str, str]]) -> dict[str, str]:
    """Repeated ``--annotate`` pairs as a dict; a key given twice, or one of the guide's fields, is an error."""
    return collect_key_values(pairs, "--annotate", reserved=("title", "value"))


def output_path(out_dir: str | os.PathLike[str], json_name: str, result_dir: str | os.PathLike[str]) -> Path:
    """``out_dir/json_name``, refused when it would land inside the (input) result folder."""
    path = Path(out_dir) / json_name
    if is_within(path.parent, result_dir):
        raise PipelineError(f"{path}: would be written into the result folder {result_dir}; choose another OUT_DIR")
    return path


@dataclass(frozen=True)
class AccuracyRecord:
    """What an accuracy JSON says, read back: counts, top-k percentages, and the run's annotations."""

    images: int
    classes: int
    topk_percent: tuple[float, ...]  # top-1 .. top-k, as written (two decimals)
    annotations: dict[str, str]

    @property
    def top1(self) -> float:
        return self.topk_percent[0]

    @property
    def top5(self) -> float:
        return self.topk_percent[min(4, len(self.topk_percent) - 1)]


def read_accuracy_json(path: str | os.PathLike[str]) -> AccuracyRecord:
    """The one reader of :func:`write_accuracy_json`'s file (and of the original script's); another file is one
    error naming it."""
    path = Path(path)
    doc = read_json(path)
    try:
        if doc["title"] != JSON_TITLE:
            raise ValueError(f"title {str(doc['title'])[:40]!r}")
        values = {str(item["key"]): str(item["value"]) for item in doc["value"]}
        topk = []
        for k in range(1, len(values)):
            text = values.get(f"Top{k} accuracy")
            if text is None:
                break
            topk.append(float(text.rstrip("%")))
        if not topk:
            raise ValueError("no 'Top1 accuracy'")
        record = AccuracyRecord(int(values["Number of images"]), int(values["Number of classes"]), tuple(topk),
                                {str(k): str(v) for k, v in doc.items() if k not in ("title", "value")})
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise PipelineError(f"{path}: not an accuracy JSON of step 5 ({exc})") from None
    return record


def write_accuracy_json(
    accuracy: Accuracy, path: str | os.PathLike[str], annotations: Mapping[str, str] | None = None
) -> Path:
    """Write the original's accuracy JSON, byte for byte (plus annotations), to ``path`` atomically."""
    path = Path(path)
    atomic_write_text(path, json_text(accuracy.to_json(annotations)))
    return path
