"""Bring your own ImageNet: the validation set in any common layout into the guide's ``val_union/`` + ``val_label.txt``.

Layouts of SOURCE (:func:`detect_source`): a flat image folder; an ImageFolder (one ``<wnid>/`` folder
per class, torchvision's layout after ``valprep.sh``); the Kaggle download's root
(``ILSVRC/Data/CLS-LOC/val/`` and ``LOC_val_solution.csv``); the official ``ILSVRC2012_img_val.tar``.
Labels (:func:`read_label_source`): the class folders themselves; the devkit's ground truth (1-based
``ILSVRC2012_ID``s in the devkit's own synset order, mapped through its ``meta.mat``); Kaggle's
``LOC_val_solution.csv``; or a label file in the guide's format.

The model's class index is the position of the WordNet ID in the sorted list of the 1000
ImageNet-1k WordNet IDs (:func:`senet_infer.imagenet.synsets`), whatever order the source uses.
SOURCE is only read. The images are linked (or copied, or extracted once from the tar) into a hidden
temporary folder that replaces ``val_union/`` by a rename; ``.prepare_imagenet.json`` beside it records
what it was made from, so a rerun from the same source is a no-op and one from another is refused.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shutil
import tarfile
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

from . import imagenet
from .errors import PipelineError
from .fileio import atomic_write_json, atomic_write_text, natural_key, stem_of, write_error
from .labels import format_labels, parse_line, read_label_file, read_text

IMAGES_DIRNAME = "val_union"
LABELS_NAME = "val_label.txt"
MANIFEST_NAME = ".prepare_imagenet.json"
KAGGLE_VAL = PurePosixPath("ILSVRC/Data/CLS-LOC/val")
KAGGLE_SOLUTION = "LOC_val_solution.csv"
KAGGLE_HEADER = "ImageId,PredictionString"
DEVKIT_META = "meta.mat"
DEVKIT_GROUND_TRUTH = "ILSVRC2012_validation_ground_truth.txt"
MODES = ("link", "copy")


def val_image_stem(number: int) -> str:
    """The official name (without extension) of validation image ``number`` (1-based): ``ILSVRC2012_val_00000001``."""
    return f"ILSVRC2012_val_{number:08d}"


def _is_image(name: str) -> bool:
    return PurePosixPath(name).suffix.lower() in imagenet.IMAGE_EXTENSIONS


# -- sources --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SourceImage:
    """One image of the source: its file name, where it is (a path, or the tar member), its class folder's class."""

    name: str
    origin: str
    folder_class: Optional[int] = None


@dataclass(frozen=True)
class Source:
    """What SOURCE holds."""

    layout: str  # in words, with its article, for the report line
    path: Path
    images: Tuple[SourceImage, ...]  # natural order of their names
    class_folders: int = 0  # ImageFolder: how many
    default_labels: Optional[Path] = None  # the Kaggle root's LOC_val_solution.csv
    tar: bool = False


def _check_unique(images: Sequence[SourceImage], where: Path) -> None:
    """Two images whose names differ only by extension or folder would be one image to every later step."""
    seen: Dict[str, SourceImage] = {}
    for image in images:
        first = seen.setdefault(stem_of(image.name), image)
        if first is not image:
            raise PipelineError(f"{where}: two images named {stem_of(image.name)!r}: {first.origin} and "
                                f"{image.origin}; remove or rename one")


def _scan(folder: Path) -> Tuple[List[os.DirEntry], List[os.DirEntry]]:
    """(image files, sub-folders) of ``folder``, hidden names left out."""
    try:
        entries = [e for e in os.scandir(folder) if not e.name.startswith(".")]
    except OSError as exc:
        raise PipelineError(f"{folder}: cannot list folder: {exc.strerror or exc}") from None
    files = [e for e in entries if e.is_file() and _is_image(e.name)]
    folders = [e for e in entries if e.is_dir()]
    return files, folders


def _folder_source(folder: Path, layout_note: str = "") -> Source:
    """A flat image folder, or an ImageFolder (class sub-folders and no images of its own)."""
    files, folders = _scan(folder)
    if files or not folders:
        if not files:
            raise PipelineError(f"{folder}: no images (.JPEG, .jpg, .png) and no class folders")
        images = [SourceImage(e.name, os.path.abspath(e.path)) for e in files]
        layout = "a flat image folder"
    else:
        index = imagenet.synsets().index
        images = []
        for entry in sorted(folders, key=lambda e: e.name):
            if entry.name not in index:
                raise PipelineError(
                    f"{entry.path}: class folder {entry.name!r} is no ImageNet-1k synset (expected one of the 1000 "
                    "WordNet IDs, n01440764 ... n15075141)")
            inner, _ = _scan(Path(entry.path))
            images += [SourceImage(e.name, os.path.abspath(e.path), index[entry.name]) for e in inner]
        layout = f"an ImageFolder of {len(folders)} class folders"
        if not images:
            raise PipelineError(f"{folder}: {len(folders)} class folders but no images in them")
    images.sort(key=lambda i: natural_key(i.name))
    _check_unique(images, folder)
    return Source(layout + layout_note, folder, tuple(images), class_folders=0 if files else len(folders))


def _member_error(tar: Path, name: str, why: str) -> PipelineError:
    return PipelineError(f"{tar}: member {name!r} {why}; not extracting anything from this archive")


def _tar_source(path: Path) -> Source:
    """The images of a tar archive (members that would land outside its root, or links, are refused)."""
    images: List[SourceImage] = []
    try:
        with tarfile.open(path) as tar:
            for member in tar:
                parts = PurePosixPath(member.name).parts
                if member.name.startswith(("/", "\\")) or ".." in parts or (parts and ":" in parts[0]):
                    raise _member_error(path, member.name, "lies outside the archive's root")
                if member.issym() or member.islnk():
                    raise _member_error(path, member.name, f"is a link (to {member.linkname!r})")
                if member.isfile() and _is_image(member.name):
                    images.append(SourceImage(PurePosixPath(member.name).name, member.name))
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise PipelineError(f"{path}: cannot read the tar archive: {exc}") from None
    if not images:
        raise PipelineError(f"{path}: no images (.JPEG, .jpg, .png) in the archive")
    images.sort(key=lambda i: natural_key(i.name))
    _check_unique(images, path)
    return Source(f"a tar archive of {len(images):,} images", path, tuple(images), tar=True)


def detect_source(path: str | os.PathLike[str]) -> Source:
    """Which layout SOURCE is, and its images."""
    path = Path(path)
    if not path.exists():
        raise PipelineError(f"{path}: no such file or folder")
    if path.is_file():
        if not tarfile.is_tarfile(str(path)):
            raise PipelineError(f"{path}: neither an image folder nor a tar archive (ILSVRC2012_img_val.tar)")
        return _tar_source(path)
    kaggle_val = path / KAGGLE_VAL
    if kaggle_val.is_dir():
        inner = _folder_source(kaggle_val, f" in {KAGGLE_VAL}")
        solution = path / KAGGLE_SOLUTION
        return replace(inner, layout=f"the Kaggle download ({inner.layout})", path=path,
                       default_labels=solution if solution.is_file() else None)
    return _folder_source(path)


def source_inputs(path: str | os.PathLike[str]) -> List[Path]:
    """The files and folders whose contents make up SOURCE's images (for a caller's up-to-date check): the tar,
    or the folder and its class folders (the Kaggle root: also its image folder and CSV)."""
    path = Path(path)
    if not path.is_dir():
        return [path]
    found = [path]
    images = path / KAGGLE_VAL
    if images.is_dir():
        found += [images, path / KAGGLE_SOLUTION]
    else:
        images = path
    with contextlib.suppress(OSError):
        found += sorted(Path(e.path) for e in os.scandir(images) if e.is_dir() and not e.name.startswith("."))
    return found


def remove_stale_builds(out: Path) -> None:
    """Folders an interrupted run was building (``.val_union.<random>.tmp``) or throwing away."""
    for stale in out.glob(f".{IMAGES_DIRNAME}.*.tmp"):
        if stale.is_dir() and not stale.is_symlink():
            shutil.rmtree(stale, ignore_errors=True)


# -- the devkit -----------------------------------------------------------------------------------


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
        truth = meta.parent / DEVKIT_GROUND_TRUTH
        text = (str(truth), read_text(truth, "ground truth")) if truth.is_file() else None
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
    truth = None
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


def _ground_truth_labels(where: str, text: str, devkit: Optional[Devkit]) -> LabelSource:
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
    warning = labels.one_based_warning()
    for label in labels.labels.values():
        if label.cls >= imagenet.NUM_CLASSES:
            hint = f" ({warning.split(': ', 1)[1]})" if warning else ""
            raise PipelineError(f"{path}, line {label.line}: class {label.cls} is out of range 0..999{hint}")
    return LabelSource(f"{path.name} (the guide's format)", labels.classes(),
                       {stem: f"{path}, line {label.line}" for stem, label in labels.labels.items()},
                       (warning,) if warning else ())


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


def read_label_source(path: str | os.PathLike[str], devkit: Optional[Devkit] = None) -> LabelSource:
    """``--labels``: the devkit's ground truth (needs ``devkit``), Kaggle's CSV or a guide-format file, by content."""
    path = Path(path)
    text = read_text(path, "label file")
    first = _first_line(text)
    if first.replace(" ", "").startswith(KAGGLE_HEADER):
        return _kaggle_labels(path, text)
    if first.isascii() and first.isdigit():
        return _ground_truth_labels(str(path), text, devkit)
    try:
        parse_line(first)
    except ValueError as exc:
        raise PipelineError(f"{path}, line 1: {exc} (or a devkit ground truth, or {KAGGLE_HEADER} CSV)") from None
    return _guide_labels(path)


# -- the plan -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    """What will be written: the labelled images present with their classes, and what is left out."""

    source: Source
    labels_from: str
    entries: Tuple[Tuple[SourceImage, int], ...]
    absent: int  # labelled images that are not in the source
    unlabelled: Tuple[str, ...]  # images of the source without a label: left out
    warnings: Tuple[str, ...] = ()

    @property
    def classes_present(self) -> int:
        return len({cls for _, cls in self.entries})

    def label_text(self) -> str:
        return format_labels((image.name, cls) for image, cls in self.entries)


def plan(source: Source, labels: Optional[LabelSource]) -> Plan:
    """Match the source's images with their labels (by stem, as every reader of the label file does)."""
    entries: List[Tuple[SourceImage, int]] = []
    unlabelled: List[str] = []
    for image in source.images:
        stem = stem_of(image.name)
        if labels is None:
            assert image.folder_class is not None
            entries.append((image, image.folder_class))
            continue
        cls = labels.classes.get(stem)
        if cls is None:
            if image.folder_class is None:
                unlabelled.append(image.name)
                continue
            cls = image.folder_class
        if image.folder_class is not None and cls != image.folder_class:
            wnids = imagenet.synsets().wnids
            raise PipelineError(f"{labels.lines.get(stem, labels.what)}: image {stem!r} has class {cls} "
                                f"({wnids[cls]}) but is in class folder {wnids[image.folder_class]} "
                                f"(class {image.folder_class})")
        entries.append((image, cls))
    if not entries:
        raise PipelineError(f"{source.path}: none of its {len(source.images):,} images has a label in "
                            f"{labels.what if labels else 'its class folders'} (e.g. {source.images[0].name!r})")
    present = {stem_of(image.name) for image, _ in entries}
    absent = 0 if labels is None else sum(1 for stem in labels.classes if stem not in present)
    what = labels.what if labels is not None else "the class folders"
    return Plan(source, what, tuple(entries), absent, tuple(unlabelled), labels.warnings if labels else ())


def resolve(source: str | os.PathLike[str], *, devkit: Optional[str | os.PathLike[str]] = None,
            labels: Optional[str | os.PathLike[str]] = None) -> Plan:
    """Detect SOURCE's layout, read the labels that go with it and match them: every check, nothing written."""
    found = detect_source(source)
    kit = read_devkit(devkit) if devkit is not None else None
    label_source: Optional[LabelSource] = None
    if labels is not None:
        label_source = read_label_source(labels, kit)
    elif found.default_labels is not None and found.class_folders == 0:
        label_source = read_label_source(found.default_labels, kit)
    elif found.class_folders == 0:
        if kit is not None and kit.ground_truth is not None:
            label_source = _ground_truth_labels(kit.ground_truth[0], kit.ground_truth[1], kit)
        else:
            need = ("--labels (the devkit's ILSVRC2012_validation_ground_truth.txt with --devkit, Kaggle's "
                    "LOC_val_solution.csv, or a '<image> <class>' file)")
            if kit is not None:
                need = f"--labels ({kit.meta} alone holds no ground truth)"
            raise PipelineError(f"{found.path}: {found.layout} carries no labels; pass {need}")
    return plan(found, label_source)


# -- writing --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PrepReport:
    """What one run found and wrote."""

    plan: Plan
    out: Path
    mode: str  # "links", "copies" or "extracted files"
    written: bool  # False: already up to date

    def line(self) -> str:
        """The one line the script prints."""
        p = self.plan
        found = (f"found {p.source.layout} in {p.source.path}: {len(p.source.images):,} images; "
                 f"labels from {p.labels_from}")
        images, labels = self.out / IMAGES_DIRNAME, self.out / LABELS_NAME
        if self.written:
            wrote = (f"wrote {images} ({len(p.entries):,} {self.mode}) and {labels} ({len(p.entries):,} labels, "
                     f"{p.classes_present} classes present)")
        else:
            wrote = (f"{images} and {labels} already up to date ({len(p.entries):,} labels, {p.classes_present} "
                     "classes present), nothing written")
        left = f"{p.absent:,} labelled images not present, {len(p.unlabelled):,} images without a label left out"
        return f"{found}; {wrote}; {left}"


def _fingerprint(p: Plan, mode: str) -> str:
    """Hash of what the outputs are made of: each image's name, origin, size and time, its class; the mode."""
    digest = hashlib.sha256(mode.encode())
    if p.source.tar:
        st = p.source.path.stat()
        digest.update(f"{p.source.path.resolve()}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    for image, cls in p.entries:
        stamp = ""
        if not p.source.tar:
            with contextlib.suppress(OSError):
                st = os.stat(image.origin)
                stamp = f"{st.st_size}\0{st.st_mtime_ns}"
        digest.update(f"{image.name}\0{image.origin}\0{stamp}\0{cls}\n".encode("utf-8", "surrogateescape"))
    return digest.hexdigest()


def _read_manifest(out: Path) -> Optional[Dict[str, object]]:
    try:
        record = json.loads((out / MANIFEST_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def _check_places(source: Source, out: Path) -> None:
    """SOURCE is never written to: the output may not lie inside it, nor be it."""
    src = source.path.resolve()
    images = (out / IMAGES_DIRNAME).resolve()
    target = out.resolve()
    if images == src or src in images.parents or images in src.parents:
        raise PipelineError(f"{out / IMAGES_DIRNAME}: is or holds the source {source.path}; choose another --out")
    if not source.tar and (target == src or src in target.parents):
        raise PipelineError(f"{out}: lies inside the source {source.path}, which is never written to; "
                            "choose another --out")


def _up_to_date(out: Path, record: Optional[Mapping[str, object]], fingerprint: str, label_text: str,
                names: Sequence[str]) -> bool:
    if record is None or not record.get("complete") or record.get("fingerprint") != fingerprint:
        return False
    labels = out / LABELS_NAME
    try:
        if labels.read_text(encoding="utf-8") != label_text:
            return False
        present = sorted(n for n in os.listdir(out / IMAGES_DIRNAME) if not n.startswith("."))
    except (OSError, UnicodeDecodeError):
        return False
    return present == sorted(names)


def _refuse_other(out: Path, record: Optional[Mapping[str, object]], source: Source) -> None:
    """An --out holding another dataset is left alone (unless --force)."""
    held = [p for p in (out / IMAGES_DIRNAME, out / LABELS_NAME) if p.exists() or p.is_symlink()]
    if not held:
        return
    this = str(source.path.resolve())
    if record is None:
        raise PipelineError(f"{out}: holds another dataset ({', '.join(p.name for p in held)} not written by "
                            f"prepare_imagenet.py), this one is {this}; --force replaces it")
    if record.get("source") != this:
        raise PipelineError(f"{out}: holds another dataset, prepared from {record.get('source')}; this one is "
                            f"{this}; --force replaces it")


def _fill(folder: Path, p: Plan, copy: bool) -> None:
    """Link, copy or extract the planned images into ``folder``."""
    if p.source.tar:
        wanted = {image.origin: image.name for image, _ in p.entries}
        with tarfile.open(p.source.path) as tar:
            for member in tar:
                name = wanted.get(member.name)
                if name is None or not member.isfile():
                    continue
                target = folder / name
                reader = tar.extractfile(member)
                assert reader is not None
                with reader, open(target, "wb") as fh:
                    shutil.copyfileobj(reader, fh, 1 << 20)
                os.utime(target, (member.mtime, member.mtime))
        return
    for image, _ in p.entries:
        if copy:
            shutil.copy2(image.origin, folder / image.name)
        else:
            os.symlink(image.origin, folder / image.name)


def _swap_in(built: Path, final: Path) -> None:
    """Rename ``built`` onto ``final``; an old ``final`` is renamed away first and removed after."""
    old = None
    if final.exists() or final.is_symlink():
        old = Path(tempfile.mkdtemp(prefix=f".{final.name}.old.", suffix=".tmp", dir=final.parent))
        os.replace(final, old / final.name)
    os.replace(built, final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def prepare(source: str | os.PathLike[str], out: str | os.PathLike[str], *,
            devkit: Optional[str | os.PathLike[str]] = None, labels: Optional[str | os.PathLike[str]] = None,
            copy: bool = False, force: bool = False) -> PrepReport:
    """Write ``out/val_union`` and ``out/val_label.txt`` from SOURCE; every check runs before anything is written."""
    p = resolve(source, devkit=devkit, labels=labels)
    out = Path(out)
    _check_places(p.source, out)
    mode = "extracted files" if p.source.tar else ("copies" if copy else "links")
    fingerprint = _fingerprint(p, mode)
    label_text = p.label_text()
    record = _read_manifest(out)
    this = str(p.source.path.resolve())
    if not force:
        _refuse_other(out, record, p.source)
    remove_stale_builds(out)  # what an interrupted run of this script left (it never names a finished output)
    if record is not None and record.get("source") == this and _up_to_date(
            out, record, fingerprint, label_text, [image.name for image, _ in p.entries]):
        return PrepReport(p, out, mode, written=False)
    manifest = {"source": this, "layout": p.source.layout, "labels": p.labels_from,
                "devkit": None if devkit is None else str(Path(devkit).resolve()), "mode": mode,
                "images": len(p.entries), "fingerprint": fingerprint, "complete": False}
    atomic_write_json(out / MANIFEST_NAME, manifest)  # first: an interrupted run is this source's, incomplete
    with contextlib.suppress(FileNotFoundError):
        (out / LABELS_NAME).unlink()  # never a label file beside images it does not describe
    try:
        built = Path(tempfile.mkdtemp(prefix=f".{IMAGES_DIRNAME}.", suffix=".tmp", dir=out))
    except OSError as exc:
        raise write_error(out, exc) from None
    try:
        _fill(built, p, copy)
        os.chmod(built, 0o755)
        _swap_in(built, out / IMAGES_DIRNAME)
    except OSError as exc:
        raise write_error(out / IMAGES_DIRNAME, exc) from None
    except tarfile.TarError as exc:
        raise PipelineError(f"{p.source.path}: cannot extract: {exc}") from None
    finally:
        if built.exists():
            shutil.rmtree(built, ignore_errors=True)
    atomic_write_text(out / LABELS_NAME, label_text)
    atomic_write_json(out / MANIFEST_NAME, {**manifest, "complete": True})
    return PrepReport(p, out, mode, written=True)

