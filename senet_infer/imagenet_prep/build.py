"""Writing ``val_union/`` and ``val_label.txt``: images linked, copied or extracted into a hidden folder that replaces
``val_union/`` by a rename; ``.prepare_imagenet.json`` records what it was made from, so that a rerun from the same
source is a no-op and one from another is refused."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Mapping, Optional, Sequence

from ..errors import PipelineError
from ..fileio import atomic_write_json, atomic_write_text, is_within, write_error
from ..imagenet import IMAGES_DIRNAME, LABELS_NAME
from .layout import Source, counted
from .plan import Plan, resolve

MANIFEST_NAME = ".prepare_imagenet.json"
MODES = ("link", "copy")
MODE_NOUNS = {"links": "link", "copies": "copy", "extracted files": "extracted file"}  # plural -> one


def remove_stale_builds(out: Path) -> None:
    """Folders an interrupted run was building (``.val_union.<random>.tmp``) or throwing away."""
    for stale in out.glob(f".{IMAGES_DIRNAME}.*.tmp"):
        if stale.is_dir() and not stale.is_symlink():
            shutil.rmtree(stale, ignore_errors=True)


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
        found = (f"found {p.source.layout} in {p.source.path}: {counted(len(p.source.images), 'image')}; "
                 f"labels from {p.labels_from}")
        images, labels = self.out / IMAGES_DIRNAME, self.out / LABELS_NAME
        held = f"{counted(len(p.entries), 'label')}, {counted(p.classes_present, 'class', 'classes')} present"
        if self.written:
            made = counted(len(p.entries), MODE_NOUNS[self.mode], self.mode)
            wrote = f"wrote {images} ({made}) and {labels} ({held})"
        else:
            wrote = f"{images} and {labels} already up to date ({held}), nothing written"
        left = (f"{counted(p.absent, 'labelled image')} not present, "
                f"{counted(len(p.unlabelled), 'image')} without a label left out")
        return "; ".join([found, wrote, left, *p.notes])


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


def read_manifest(out: Path) -> Optional[Dict[str, object]]:
    """What ``out`` was prepared from (``.prepare_imagenet.json``); None when there is no readable record."""
    try:
        record = json.loads((out / MANIFEST_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def _check_places(source: Source, out: Path) -> None:
    """SOURCE is never written to: the output may not lie inside it, nor be it."""
    src = source.path.resolve()
    images = (out / IMAGES_DIRNAME).resolve()
    if images == src:
        raise PipelineError(f"{out / IMAGES_DIRNAME}: is the source itself, which is never written to; choose "
                            "another --out")
    if images in src.parents:
        raise PipelineError(f"{out / IMAGES_DIRNAME}: holds the source {source.path}, which replacing it would "
                            "remove; choose another --out")
    if is_within(out, source.path):
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
    record = read_manifest(out)
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
