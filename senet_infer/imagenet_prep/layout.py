"""Which layout SOURCE is, and its images: a flat image folder, an ImageFolder (one ``<wnid>/`` folder per class),
the Kaggle download's root (``ILSVRC/Data/CLS-LOC/val/``) or the official ``ILSVRC2012_img_val.tar``."""

from __future__ import annotations

import contextlib
import os
import tarfile
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import List, Optional, Sequence, Tuple

from .. import imagenet
from ..errors import PipelineError, cannot_list
from ..fileio import natural_key, stem_clash, stem_of

KAGGLE_VAL = PurePosixPath("ILSVRC/Data/CLS-LOC/val")
KAGGLE_SOLUTION = "LOC_val_solution.csv"


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
    clash = stem_clash(images, lambda image: image.name)
    if clash is not None:
        first, image = clash
        raise PipelineError(f"{where}: two images named {stem_of(image.name)!r}: {first.origin} and "
                            f"{image.origin}; remove or rename one")


def _scan(folder: Path) -> Tuple[List[os.DirEntry], List[os.DirEntry]]:
    """(image files, sub-folders) of ``folder``, hidden names left out."""
    try:
        entries = [e for e in os.scandir(folder) if not e.name.startswith(".")]
    except OSError as exc:
        raise cannot_list(folder, exc) from None
    files = [e for e in entries if e.is_file() and imagenet.is_image_name(e.name)]
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
                if member.isfile() and imagenet.is_image_name(member.name):
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
