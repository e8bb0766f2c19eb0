"""The labels that go with SOURCE: the devkit's ground truth (1-based ``ILSVRC2012_ID``s in the devkit's own synset
order, mapped through its ``meta.mat``), Kaggle's ``LOC_val_solution.csv`` or a label file in the guide's format."""

from __future__ import annotations

import io
import os
import tarfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Dict, Optional, Tuple

from .. import imagenet
from ..errors import PipelineError
from ..fileio import stem_of
from ..labels import parse_line, read_label_file, read_text

KAGGLE_HEADER = "ImageId,PredictionString"
DEVKIT_META = "meta.mat"
DEVKIT_GROUND_TRUTH = "ILSVRC2012_validation_ground_truth.txt"


def val_image_stem(number: int) -> str:
    """The official name (without extension) of validation image ``number`` (1-based): ``ILSVRC2012_val_00000001``."""
    return f"ILSVRC2012_val_{number:08d}"


@dataclass(frozen=True)
class Devkit:
    """The devkit's ``meta.mat`` (ILSVRC2012_ID -> WordNet ID of the 1000 leaves) and its ground truth, if given."""

    meta: str  # where meta.mat was read, for messages
    wnid_of_id: Dict[int, str]
    ground_truth: Optional[Tuple[str, str]] = None  # (where, text)


def _load_meta(data: bytes, where: str) -> Dict[int, str]:
    """ILSVRC2012_ID -> WNID of the leaves (``num_children == 0``), read with SciPy's loadmat as torchvision does."""
    try:
        from scipy.io import loadmat
    except ImportError:
        raise PipelineError(f"{where}: reading the devkit's meta.mat needs SciPy (pip install scipy)") from None
    try:
        synsets = loadmat(io.BytesIO(data), squeeze_me=True)["synsets"]
        ids = [int(v) for v in synsets["ILSVRC2012_ID"].ravel()]
        wnids = [str(v) for v in synsets["WNID"].ravel()]
        children = [int(v) for v in synsets["num_children"].ravel()]
    except Exception as exc:  # noqa: BLE001 - loadmat raises many kinds on a file that is not a devkit's meta.mat
        raise PipelineError(f"{where}: not the devkit's meta.mat (a 'synsets' struct with ILSVRC2012_ID, WNID, "
                            f"num_children): {type(exc).__name__}: {exc}") from None
    known = imagenet.synsets().index
    leaves: Dict[int, str] = {}
    for synset_id, wnid, count in zip(ids, wnids, children):
        if count != 0:
            continue
        if wnid not in known:
            raise PipelineError(f"{where}: leaf synset {wnid} (ILSVRC2012_ID {synset_id}) is no ImageNet-1k class")
        leaves[synset_id] = wnid
    if len(leaves) != imagenet.NUM_CLASSES or len(set(leaves.values())) != imagenet.NUM_CLASSES:
        raise PipelineError(f"{where}: {len(leaves)} leaf synsets (num_children == 0), expected the "
                            f"{imagenet.NUM_CLASSES} classes")
    return leaves


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise PipelineError(f"{path}: cannot read: {exc.strerror or exc}") from None


def read_devkit(path: str | os.PathLike[str]) -> Devkit:
    """``--devkit``: the devkit tar.gz, its unpacked folder, or ``meta.mat`` itself."""
    path = Path(path)
    if not path.exists():
        raise PipelineError(f"{path}: devkit not found")
    if path.is_dir():
        metas = [p for p in (path / "data" / DEVKIT_META, path / DEVKIT_META) if p.is_file()]
        metas += sorted(path.glob(f"*/data/{DEVKIT_META}"))
        if not metas:
            raise PipelineError(f"{path}: no data/{DEVKIT_META} in this folder (expected the unpacked devkit)")
        meta = metas[0]
        truth_file = meta.parent / DEVKIT_GROUND_TRUTH
        text = (str(truth_file), read_text(truth_file, "ground truth")) if truth_file.is_file() else None
        return Devkit(str(meta), _load_meta(_read_bytes(meta), str(meta)), text)
    if path.suffix.lower() == ".mat":
        return Devkit(str(path), _load_meta(_read_bytes(path), str(path)))
    try:
        with tarfile.open(path) as tar:
            members = {PurePosixPath(m.name).name: m for m in tar if m.isfile()
                       and PurePosixPath(m.name).name in (DEVKIT_META, DEVKIT_GROUND_TRUTH)}
            if DEVKIT_META not in members:
                raise PipelineError(f"{path}: no {DEVKIT_META} in the archive (expected ILSVRC2012_devkit_t12.tar.gz)")
            found = {name: (f"{path}:{m.name}", tar.extractfile(m).read()) for name, m in members.items()}  # type: ignore[union-attr]
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise PipelineError(f"{path}: not the devkit (a tar.gz, its folder or meta.mat): {exc}") from None
    where, data = found[DEVKIT_META]
    truth: Optional[Tuple[str, str]] = None
    if DEVKIT_GROUND_TRUTH in found:
        truth_where, raw = found[DEVKIT_GROUND_TRUTH]
        try:
            truth = (truth_where, raw.decode("utf-8-sig"))
        except UnicodeDecodeError:
            raise PipelineError(f"{truth_where}: not a UTF-8 text file") from None
    return Devkit(where, _load_meta(data, where), truth)


# -- labels ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LabelSource:
    """Classes (the model's, 0-based) of the images a label source names, keyed by image stem."""

    what: str  # in words, for the report line
    classes: Dict[str, int]
    lines: Dict[str, str] = field(default_factory=dict)  # image stem -> "FILE, line N" (for messages)
    warnings: Tuple[str, ...] = ()
    numbered: bool = False  # the file gives the model's classes as numbers: one counting from 1 reads as they do


def ground_truth_labels(where: str, text: str, devkit: Optional[Devkit]) -> LabelSource:
    """The devkit's ground truth: line i holds the ILSVRC2012_ID of ``ILSVRC2012_val_<i>``."""
    if devkit is None:
        raise PipelineError(f"{where}: the devkit's ground truth holds ILSVRC2012_IDs in the devkit's own synset "
                            "order; pass --devkit (the devkit tar.gz, its folder or meta.mat) to map them")
    index = imagenet.synsets().index
    classes: Dict[str, int] = {}
    lines: Dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        value = line.strip()
        if not value:
            continue
        if not (value.isascii() and value.isdigit()):
            raise PipelineError(f"{where}, line {number}: {value[:40]!r} is not an ILSVRC2012_ID")
        wnid = devkit.wnid_of_id.get(int(value))
        if wnid is None:
            raise PipelineError(f"{where}, line {number}: ILSVRC2012_ID {value} is not a leaf (one of the "
                                f"{imagenet.NUM_CLASSES} classes, num_children == 0) in {devkit.meta}")
        stem = val_image_stem(number)
        classes[stem] = index[wnid]
        lines[stem] = f"{where}, line {number}"
    if not classes:
        raise PipelineError(f"{where}: no ILSVRC2012_IDs")
    return LabelSource(f"the devkit's ground truth mapped through {devkit.meta}", classes, lines)


def _kaggle_labels(path: Path, text: str) -> LabelSource:
    """``LOC_val_solution.csv``: ``ImageId,PredictionString``; the string's first token is the synset."""
    index = imagenet.synsets().index
    classes: Dict[str, int] = {}
    lines: Dict[str, str] = {}
    for number, line in enumerate(text.splitlines()[1:], start=2):
        if not line.strip():
            continue
        image, sep, prediction = line.partition(",")
        tokens = prediction.split()
        if not sep or not image.strip() or not tokens:
            raise PipelineError(f"{path}, line {number}: expected 'ImageId,PredictionString', got {line[:60]!r}")
        if tokens[0] not in index:
            raise PipelineError(f"{path}, line {number}: synset {tokens[0][:20]!r} is no ImageNet-1k class")
        stem = stem_of(image.strip())
        previous = classes.setdefault(stem, index[tokens[0]])
        if previous != index[tokens[0]]:
            raise PipelineError(f"{path}, line {number}: image {stem!r} has another synset on {lines[stem]}")
        lines.setdefault(stem, f"line {number}")
    if not classes:
        raise PipelineError(f"{path}: no rows after the header {KAGGLE_HEADER}")
    return LabelSource(f"Kaggle's {path.name}", classes, {s: f"{path}, {w}" for s, w in lines.items()})


def _guide_labels(path: Path) -> LabelSource:
    """A label file in the guide's format (the project's one reader)."""
    labels = read_label_file(path)
    labels.check_classes(imagenet.NUM_CLASSES, "ImageNet-1k")
    warning = labels.one_based_warning()
    return LabelSource(f"{path.name} (the guide's format)", labels.classes(),
                       {stem: f"{path}, line {label.line}" for stem, label in labels.labels.items()},
                       (warning,) if warning else (), numbered=True)


def _named_id_labels(path: Path, devkit: Devkit) -> LabelSource:
    """``<image> <ILSVRC2012_ID>`` lines (``paste`` of the image list and the devkit's ground truth): with
    ``--devkit`` the numbers are the devkit's IDs, mapped through its ``meta.mat`` like the ground truth's."""
    labels = read_label_file(path)
    index = imagenet.synsets().index
    classes: Dict[str, int] = {}
    for stem, label in labels.labels.items():
        wnid = devkit.wnid_of_id.get(label.cls)
        if wnid is None:
            raise PipelineError(f"{path}, line {label.line}: ILSVRC2012_ID {label.cls} is not a leaf (one of the "
                                f"{imagenet.NUM_CLASSES} classes, num_children == 0) in {devkit.meta}; with --devkit "
                                "the numbers of a '<image> <number>' file are the devkit's 1-based ILSVRC2012_IDs "
                                "(a file of 0-based classes goes without --devkit)")
        classes[stem] = index[wnid]
    return LabelSource(f"{path.name} ('<image> <ILSVRC2012_ID>') mapped through {devkit.meta}", classes,
                       {stem: f"{path}, line {label.line}" for stem, label in labels.labels.items()})


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


def read_label_source(path: str | os.PathLike[str], devkit: Optional[Devkit] = None) -> LabelSource:
    """``--labels``: the devkit's ground truth (needs ``devkit``), Kaggle's CSV or a guide-format file, by content.
    With ``devkit`` the numbers of a ``<image> <number>`` file are the devkit's ILSVRC2012_IDs; a file it cannot
    apply to (Kaggle's CSV) is refused."""
    path = Path(path)
    text = read_text(path, "label file")
    first = _first_line(text)
    if first.replace(" ", "").startswith(KAGGLE_HEADER):
        if devkit is not None:
            raise PipelineError(f"{path}: Kaggle's CSV names WordNet IDs, so --devkit ({devkit.meta}) does not apply "
                                "to it; leave --devkit out")
        return _kaggle_labels(path, text)
    if first.isascii() and first.isdigit():
        return ground_truth_labels(str(path), text, devkit)
    try:
        parse_line(first)
    except ValueError as exc:
        raise PipelineError(f"{path}, line 1: {exc} (or a devkit ground truth, or {KAGGLE_HEADER} CSV)") from None
    return _guide_labels(path) if devkit is None else _named_id_labels(path, devkit)
