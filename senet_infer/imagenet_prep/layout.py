"""Which layout SOURCE is, and its images: a flat image folder, an ImageFolder (one ``<wnid>/`` folder per class),
the Kaggle download's root (``ILSVRC/Data/CLS-LOC/val/``) or the official ``ILSVRC2012_img_val.tar``."""

from __future__ import annotations

import contextlib
import io
import os
import tarfile
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from .. import imagenet
from ..errors import PipelineError, cannot_list
from ..fileio import natural_key, stem_clash, stem_of

KAGGLE_VAL = PurePosixPath("ILSVRC/Data/CLS-LOC/val")
KAGGLE_SOLUTION = "LOC_val_solution.csv"


_JPEG_SOI = b"\xff\xd8\xff"
_JPEG_EOI = b"\xff\xd9"
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_IEND = b"IEND\xaeB`\x82"
_HEAD, _TAIL = 16, 64  # bytes read of each image at either end


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
    warnings: Tuple[str, ...] = ()  # said, not refused
    problems: Mapping[str, str] = field(default_factory=dict)  # origin -> why it is no image step 1 can read


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


def _inner_source_hint(folder: Path) -> str:
    """When a folder taken for a class folder is itself the ImageFolder (``val/`` given by its parent) or a flat
    image folder: which path to pass instead."""
    try:
        files, folders = _scan(folder)
    except PipelineError:
        return ""
    synsets = imagenet.synsets().index
    classes = [e for e in folders if e.name in synsets]
    if classes:
        return f"; {folder} itself looks like the ImageFolder ({counted(len(classes), 'class folder')}): pass it"
    if files and not folders:
        return f"; {folder} itself looks like a flat image folder ({counted(len(files), 'image')}): pass it"
    return ""


def _image_problem(head: bytes, tail: bytes, whole: Callable[[], bytes]) -> Optional[str]:
    """Why a file named as an image is none step 1 can read, from its first and last bytes (a JPEG's end marker, a
    PNG's IEND chunk); only a file without them (a cut one, or bytes after the image) is decoded to tell."""
    if not head:
        return "is empty"
    if head.startswith(_JPEG_SOI):
        end, kind = _JPEG_EOI, "JPEG"
    elif head.startswith(_PNG_SIGNATURE):
        end, kind = _PNG_IEND, "PNG"
    else:
        return f"is no JPEG or PNG image (it starts with {head[:8]!r})"
    if tail.rstrip(b"\0 \r\n\t").endswith(end):
        return None
    from PIL import Image

    try:
        with Image.open(io.BytesIO(whole())) as image:
            image.load()
    except Exception as exc:  # noqa: BLE001 - Pillow raises many kinds on a damaged image
        return f"is a truncated or damaged {kind} ({type(exc).__name__}: {exc})"
    return None


def _file_problem(path: str) -> Optional[str]:
    try:
        with open(path, "rb") as fh:
            head = fh.read(_HEAD)
            fh.seek(max(0, os.fstat(fh.fileno()).st_size - _TAIL))
            tail = fh.read()
    except OSError as exc:
        return f"cannot be read ({exc.strerror or exc})"
    return _image_problem(head, tail, lambda: Path(path).read_bytes())


def _member_problem(tar: tarfile.TarFile, member: tarfile.TarInfo) -> Optional[str]:
    reader = tar.extractfile(member)
    assert reader is not None  # a regular file's
    with reader:
        head = reader.read(_HEAD)
        reader.seek(max(0, member.size - _TAIL))
        tail = reader.read()

        def whole() -> bytes:
            reader.seek(0)
            return reader.read()

        return _image_problem(head, tail, whole)


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
                    f"WordNet IDs, n01440764 ... n15075141){_inner_source_hint(Path(entry.path))}")
            inner, _ = _scan(Path(entry.path))
            images += [SourceImage(e.name, os.path.abspath(e.path), index[entry.name]) for e in inner]
        layout = f"an ImageFolder of {counted(len(folders), 'class folder')}"
        if not images:
            raise PipelineError(f"{folder}: {counted(len(folders), 'class folder')} but no images in them")
    images.sort(key=lambda i: natural_key(i.name))
    _check_unique(images, folder)
    problems = {i.origin: why for i in images for why in (_file_problem(i.origin),) if why is not None}
    return Source(layout + layout_note, folder, tuple(images), class_folders=0 if files else len(folders),
                  problems=problems)


def _member_error(tar: Path, name: str, why: str) -> PipelineError:
    return PipelineError(f"{tar}: member {name!r} {why}; not extracting anything from this archive")


OFFICIAL_TAR = "ILSVRC2012_img_val.tar"
OFFICIAL_IMAGES = 50_000
_BLOCK = 512  # a tar header, and the unit of its end-of-archive marker (zero blocks)


def counted(count: int, noun: str, plural: Optional[str] = None) -> str:
    """``1 image``, ``2 images``, ``50,000 images``: a count with its noun."""
    return f"{count:,} {noun if count == 1 else plural or noun + 's'}"


def _check_tar_end(path: Path, tar: tarfile.TarFile, members: int, last: Optional[str]) -> None:
    """Python's tarfile stops at a damaged header, or at the end of a file cut at a header, as at the archive's
    end. A whole archive ends where tarfile stopped with zero blocks (at least one) and nothing but zeros after."""
    stopped = tar.offset
    fileobj = tar.fileobj
    assert fileobj is not None
    fileobj.seek(stopped)
    head = fileobj.read(_BLOCK)
    got = f"after {counted(members, 'member')}" + (f" (the last {last!r})" if last else "")
    if len(head) < _BLOCK:
        raise PipelineError(f"{path}: ends at byte {stopped + len(head):,} {got} without its end-of-archive "
                            "blocks: the archive is incomplete (an interrupted download?); download it again")
    if head.count(0) != len(head):
        raise PipelineError(f"{path}: damaged tar header at byte {stopped:,} {got}: the archive is corrupt "
                            "(GNU tar: 'Skipping to next header'); download it again")
    offset = stopped + len(head)
    while True:
        chunk = fileobj.read(1 << 20)
        if not chunk:
            return
        if chunk.count(0) != len(chunk):
            where = offset + next(i for i, byte in enumerate(chunk) if byte)
            raise PipelineError(f"{path}: a zero block at byte {stopped:,} {got}, then data again at byte "
                                f"{where:,}: a damaged header (or two archives joined); the archive is corrupt, "
                                "download it again")
        offset += len(chunk)


def _tar_source(path: Path) -> Source:
    """The images of a tar archive, read to its end-of-archive blocks (a damaged header, a member cut short or a
    missing end is one error naming how far it got); members that would land outside its root, or links, are
    refused."""
    images: List[SourceImage] = []
    problems: Dict[str, str] = {}
    members = 0
    last: Optional[tarfile.TarInfo] = None
    try:
        with tarfile.open(path) as tar:
            try:
                for member in tar:
                    members += 1
                    last = member
                    parts = PurePosixPath(member.name).parts
                    if member.name.startswith(("/", "\\")) or ".." in parts or (parts and ":" in parts[0]):
                        raise _member_error(path, member.name, "lies outside the archive's root")
                    if member.issym() or member.islnk():
                        raise _member_error(path, member.name, f"is a link (to {member.linkname!r})")
                    if member.isfile() and imagenet.is_image_name(member.name):
                        images.append(SourceImage(PurePosixPath(member.name).name, member.name))
                        why = _member_problem(tar, member)
                        if why is not None:
                            problems[member.name] = why
            except (tarfile.ReadError, EOFError) as exc:
                if last is None:
                    raise
                got = f"after {counted(members, 'member')} (the last {last.name!r}, its data up to byte " \
                      f"{last.offset_data + last.size:,})"
                if isinstance(exc, EOFError) or "end of data" in str(exc):
                    raise PipelineError(f"{path}: cut short {got}: the archive is incomplete (an interrupted "
                                        "download?); download it again") from None
                raise PipelineError(f"{path}: damaged tar header {got} ({exc}): the archive is corrupt; download "
                                    "it again") from None
            _check_tar_end(path, tar, members, last.name if last is not None else None)
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise PipelineError(f"{path}: cannot read the tar archive: {exc}") from None
    if not images:
        raise PipelineError(f"{path}: no images (.JPEG, .jpg, .png) in the archive")
    images.sort(key=lambda i: natural_key(i.name))
    _check_unique(images, path)
    warnings: Tuple[str, ...] = ()
    if path.name == OFFICIAL_TAR and len(images) < OFFICIAL_IMAGES:
        warnings = (f"{path}: holds {counted(len(images), 'image')}; the official {OFFICIAL_TAR} holds "
                    f"{OFFICIAL_IMAGES:,}: if this is meant to be the download, it is incomplete",)
    return Source(f"a tar archive of {counted(len(images), 'image')}", path, tuple(images), tar=True,
                  warnings=warnings, problems=problems)


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
