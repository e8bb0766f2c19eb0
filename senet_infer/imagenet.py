"""ImageNet evaluation constants (the protocol the pretrainedmodels weights were published under)."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Dict, List, Tuple

from .errors import PipelineError

MEAN: tuple[float, float, float] = (0.485, 0.456, 0.406)
STD: tuple[float, float, float] = (0.229, 0.224, 0.225)
RESIZE_SIZE = 256  # shorter side after resize; also the side of the uint8 .bin images (AIPP input)
CROP_SIZE = 224  # network input side
NUM_CLASSES = 1000
IMAGE_EXTENSIONS = (".jpeg", ".jpg", ".png")
# Where the guide reads the evaluation set: ./dataset/ImageNet/val_union/ (the images) and
# ./dataset/ImageNet/val_label.txt (``<image> <class>`` per line); prepare_imagenet.py writes both there.
DATASET_DIR = "dataset/ImageNet"
IMAGES_DIRNAME = "val_union"
LABELS_NAME = "val_label.txt"



def is_image_name(name: str) -> bool:
    """True for the image files every step reads (``.JPEG``, ``.jpg``, ``.jpeg``, ``.png``; any case)."""
    return PurePosixPath(name).suffix.lower() in IMAGE_EXTENSIONS


# The 1000 classes, shipped with the package (source named in the file): read once, on first use.
SYNSETS_FILE = Path(__file__).resolve().parent / "data" / "imagenet1k_synsets.txt"


@dataclass(frozen=True)
class Synsets:
    """The ImageNet-1k classes in the model's order: class i is the i-th WordNet ID in sorted order."""

    wnids: Tuple[str, ...]  # sorted: n01440764 (class 0) ... n15075141 (class 999)
    names: Tuple[str, ...]  # their WordNet words, e.g. "tench, Tinca tinca"
    index: Dict[str, int]  # WordNet ID -> class

    def name(self, cls: int) -> str:
        """The words of class ``cls``; empty for a class outside 0..999."""
        return self.names[cls] if 0 <= cls < len(self.names) else ""

    def short_name(self, cls: int) -> str:
        """The first of the words of class ``cls`` (``tench``); empty for a class outside 0..999."""
        return self.name(cls).split(",")[0]


def _read_synsets(path: Path) -> Synsets:
    wnids: List[str] = []
    names: List[str] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        wnid, _, words = line.partition(" ")
        if not _WNID_RE.match(wnid) or not words.strip():
            raise PipelineError(f"{path}, line {number}: expected '<WordNet ID> <words>', got {line[:60]!r}")
        wnids.append(wnid)
        names.append(words.strip())
    if len(wnids) != NUM_CLASSES or wnids != sorted(set(wnids)):
        raise PipelineError(f"{path}: expected {NUM_CLASSES} distinct WordNet IDs in sorted order")
    return Synsets(tuple(wnids), tuple(names), {w: i for i, w in enumerate(wnids)})


_WNID_RE = re.compile(r"^n\d{8}$")


def is_wnid(text: str) -> bool:
    """True for a WordNet noun ID such as ``n01440764`` (any, not only the 1000 classes)."""
    return bool(_WNID_RE.match(text))


@functools.lru_cache(maxsize=1)
def synsets() -> Synsets:
    """The 1000 classes from :data:`SYNSETS_FILE`."""
    return _read_synsets(SYNSETS_FILE)
