"""The label file of the guide (``val_label.txt``): one ``<image name> <0-based class>`` line per image.

The one reader and writer of that format, used by every step that reads labels. The class is the
last field of a line and the image name everything before it, so names with spaces
(``my photo 1.JPEG 65``) are read whole.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, Optional, Tuple

from . import imagenet
from .errors import PipelineError
from .fileio import stem_of

_LINE_RE = re.compile(r"^(?P<name>.*\S)\s+(?P<cls>\S+)$")
DEVKIT_ID_FIELD = "ILSVRC2012_ID"


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


@dataclass(frozen=True)
class Label:
    """One labelled image: its name as the file gives it, its class, the line it is on."""

    name: str
    cls: int
    line: int


@dataclass(frozen=True)
class LabelFile:
    """The labels of one file, keyed by image stem (name minus its last extension), in file order."""

    path: Path
    labels: Dict[str, Label]

    def classes(self) -> Dict[str, int]:
        """Image stem -> class."""
        return {stem: label.cls for stem, label in self.labels.items()}

    def one_based_warning(self) -> Optional[str]:
        """A warning when the classes look like the devkit's 1-based IDs (1..1000, never 0), else None."""
        return one_based_warning(self.path, (label.cls for label in self.labels.values()))

    def check_classes(self, limit: int, against: str) -> None:
        """Refuse the first class outside ``0..limit-1`` in one line naming the file, the line and the image, with
        the devkit hint when the classes look 1-based. ``against``: what the classes are numbers of."""
        for stem, label in self.labels.items():
            if label.cls >= limit:
                warning = self.one_based_warning()
                hint = f"; {warning.split(': ', 1)[1]}" if warning else ""
                raise PipelineError(f"{self.path}, line {label.line}: class {label.cls} is out of range 0..{limit - 1} "
                                    f"for {against} (image {stem!r}){hint}")


def one_based_warning(path: str | os.PathLike[str], classes: Iterable[int]) -> Optional[str]:
    """The warning for classes that reach 1000 and are never 0: the devkit's ``ILSVRC2012_ID``s, not class indices."""
    seen = set(classes)
    if not seen or 0 in seen or max(seen) != imagenet.NUM_CLASSES:
        return None
    return (f"{path}: classes run {min(seen)}..{max(seen)} and are never 0: they look like the devkit's 1-based "
            f"{DEVKIT_ID_FIELD}s, not the model's 0-based class indices (sorted WordNet IDs); convert them with "
            "'python3 prepare_imagenet.py IMAGES --labels ILSVRC2012_validation_ground_truth.txt --devkit "
            "ILSVRC2012_devkit_t12.tar.gz'")


def read_text(path: Path, what: str) -> str:
    """A UTF-8 text file (BOM accepted); a missing, unreadable or binary file is one error naming it."""
    if not path.exists():
        raise PipelineError(f"{path}: {what} not found")
    if path.is_dir():
        raise PipelineError(f"{path}: is a folder, expected the {what}")
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise PipelineError(f"{path}: not a UTF-8 text file") from None
    except OSError as exc:
        raise PipelineError(f"{path}: cannot read: {exc.strerror}") from None


def parse_line(line: str) -> Optional[Tuple[str, str]]:
    """(image name, class text) of a non-empty line, None for a blank one; a line of one field is an error
    (raised by the caller, which knows the file)."""
    text = line.strip()
    if not text:
        return None
    match = _LINE_RE.match(text)
    if match is None:
        raise ValueError(f"expected '<image name> <class>', got {_short(text)!r}")
    return match["name"], match["cls"]


def read_label_file(path: str | os.PathLike[str]) -> LabelFile:
    """Read a guide-format label file; bad lines raise PipelineError naming the file and line.

    A UTF-8 BOM and CRLF line ends are accepted; an image named twice with the same class counts
    once, with two classes it is refused naming both lines.
    """
    path = Path(path)
    text = read_text(path, "label file")
    labels: Dict[str, Label] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        where = f"{path}, line {number}"
        try:
            parsed = parse_line(line)
        except ValueError as exc:
            raise PipelineError(f"{where}: {exc}") from None
        if parsed is None:
            continue
        name, class_text = parsed
        if not (class_text.isascii() and class_text.isdigit()):
            raise PipelineError(f"{where}: class {_short(class_text)!r} is not a non-negative integer")
        stem, cls = stem_of(name), int(class_text)
        if stem in labels:
            first = labels[stem]
            if first.cls != cls:
                raise PipelineError(f"{where}: image {stem!r} has class {cls} here but class {first.cls} on line "
                                    f"{first.line}")
            continue  # the same image listed twice with the same class: harmless
        labels[stem] = Label(name, cls, number)
    if not labels:
        raise PipelineError(f"{path}: no labels (expected lines '<image name> <class>')")
    return LabelFile(path, labels)


def format_labels(pairs: Iterable[Tuple[str, int]]) -> str:
    """The label file's text for (image name, class) pairs, one line each."""
    lines = []
    for name, cls in pairs:
        if "\n" in name or "\r" in name or name != name.strip():
            raise PipelineError(f"image name {name!r} cannot be written to a label file (line break or "
                                "leading/trailing space)")
        lines.append(f"{name} {cls}\n")
    return "".join(lines)
