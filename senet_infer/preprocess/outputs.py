"""Step 1's output folder: file names, the manifest that records how it was made, and what a rerun redoes.

``dst/.preprocess.json`` records the source folder, the transform and each output's image (name,
size, mtime); :func:`plan_outputs` reads it to decide what to skip, redo, remove or refuse.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import PipelineError, cannot_list
from ..fileio import atomic_write_text, is_hidden_temp, natural_key, stem_of
from .transform import EvalTransform

OUTPUT_SUFFIX = ".bin"


def output_path(dst: str | Path, image: str | Path) -> Path:
    """Where step 1 writes the array for ``image``: ``dst/<stem>.bin``."""
    return Path(dst) / f"{stem_of(image)}{OUTPUT_SUFFIX}"


MANIFEST_NAME = ".preprocess.json"
MANIFEST_VERSION = 1
MANIFEST_EVERY_S = 10.0  # how often a long run records its finished outputs (what a killed run's rerun keeps)


def manifest_path(dst: str | Path) -> Path:
    """The hidden record of how a .bin folder was made: ``dst/.preprocess.json``."""
    return Path(dst) / MANIFEST_NAME


def source_stamp(image: Path) -> dict[str, object] | None:
    """Name, size and mtime of an image (through symlinks): what says that an output is still its image's."""
    try:
        st = image.stat()
    except OSError:
        return None
    return {"source": image.name, "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def _read_manifest(dst: Path) -> dict[str, object] | None:
    path = manifest_path(dst)
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {}  # unreadable: treated as a record of nothing (every output is redone)
    return record if isinstance(record, dict) and record.get("version") == MANIFEST_VERSION else {}


def write_manifest(dst: Path, source: str, transform: EvalTransform, files: dict[str, dict[str, object]]) -> None:
    record = {"version": MANIFEST_VERSION, "source": source, "transform": transform.as_record()}
    entries = sorted(files.items(), key=lambda item: natural_key(item[0]))
    # Compact, one entry per line: 50,000 images make a few MB, rewritten at the start and end of a run.
    body = ",\n".join(json.dumps(k, ensure_ascii=False) + ": " + json.dumps(v) for k, v in entries)
    head = json.dumps(record, ensure_ascii=False)[:-1]
    atomic_write_text(manifest_path(dst), head + ', "files": {\n' + body + "\n}}\n")


def read_sources(dst: str | Path) -> tuple[Path, list[str], str] | None:
    """From ``dst``'s record: the source folder, each output's image name (in output order) and the ``--resize``
    protocol; None when there is no readable record."""
    record = _read_manifest(Path(dst))
    if not record or not isinstance(record.get("source"), str) or not isinstance(record.get("files"), dict):
        return None
    transform = record.get("transform")
    resize = str(transform.get("resize", "")) if isinstance(transform, dict) else ""
    files = record["files"]
    assert isinstance(files, dict)
    names = [str(entry["source"]) for entry in files.values() if isinstance(entry, dict) and "source" in entry]
    return Path(str(record["source"])), names, resize


def made_elsewise(dst: str | Path, src: str | Path, transform: EvalTransform) -> str | None:
    """What ``dst`` was made from when its manifest names another source folder or transform, else None."""
    previous = _read_manifest(Path(dst))
    if not previous or (previous.get("source") == str(Path(src).resolve())
                        and previous.get("transform") == transform.as_record()):
        return None
    return _describe_record(previous.get("source"), previous.get("transform"))


def _describe_record(source: object, transform: object) -> str:
    if isinstance(transform, dict):
        text = f"--resize {transform.get('resize')} --format {transform.get('output_format')}"
        if transform != EvalTransform(resize=str(transform.get("resize")),
                                      output_format=str(transform.get("output_format"))).as_record():
            text += " (other sizes or normalisation)"
    else:
        text = "an unknown transform"
    return f"{source} with {text}"


@dataclass
class OutputPlan:
    """What a run of step 1 does to its output folder, decided before any image is decoded."""

    source: str  # the source folder as the manifest records it
    tasks: list[tuple[str, str]] = field(default_factory=list)  # (image, output) pairs to (re)do
    valid: dict[str, dict[str, object]] = field(default_factory=dict)  # output name -> stamp of its up-to-date image
    skipped: int = 0
    removed: int = 0
    notes: list[str] = field(default_factory=list)  # what the rerun decided, one line each


def plan_outputs(src: Path, dst: Path, images: list[Path], transform: EvalTransform, force: bool) -> OutputPlan:
    """Decide what to (re)do from the folder's manifest; stale outputs are removed here.

    Rules: an output is skipped only when the manifest made by the same source folder and transform
    lists it with its image's current name, size and mtime, and it has the right size. A folder made
    from another source folder or with another transform is refused (``force`` redoes it). Outputs of
    images no longer in ``src`` that the manifest lists are removed; other .bin files (not made by this
    step) are refused, naming one (``force`` removes them).
    """
    plan = OutputPlan(str(src.resolve()))
    source = plan.source
    wanted = {output_path(dst, image).name: image for image in images}
    previous = _read_manifest(dst)
    listed: dict[str, object] = {}
    if previous is not None and not force:
        same = previous.get("source") == source and previous.get("transform") == transform.as_record()
        if previous and not same:
            raise PipelineError(
                f"{dst}: holds .bin files made from {_describe_record(previous.get('source'), previous.get('transform'))}; "
                f"this run is {_describe_record(source, transform.as_record())}: add --force to redo the folder, "
                "or choose another output folder")
        files = previous.get("files") if previous else None
        listed = files if isinstance(files, dict) else {}
    try:
        existing = sorted((e.name for e in os.scandir(dst) if e.name.endswith(OUTPUT_SUFFIX)
                           and not is_hidden_temp(e.name)), key=natural_key)
    except OSError as exc:
        raise cannot_list(dst, exc) from None
    strays = [name for name in existing if name not in wanted]
    foreign = [name for name in strays if name not in listed]
    if foreign and not force:
        raise PipelineError(
            f"{dst}: holds {len(foreign)} .bin file(s) that step 1 did not write from {src} (e.g. {foreign[0]!r}); "
            "add --force to remove them and redo the folder, or choose another output folder")
    for name in strays:
        try:
            os.unlink(dst / name)
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise PipelineError(f"{dst / name}: cannot remove stale output: {exc.strerror or exc}") from None
        plan.removed += 1
    if plan.removed:
        plan.notes.append(f"removed {plan.removed} .bin file(s) of images that are not in {src}")
    if previous is None and not force and any(name in wanted for name in existing):
        plan.notes.append(f"{dst}: no record of how its {len(existing)} .bin files were made: redoing them")
    if force and existing:
        plan.notes.append(f"--force: redoing every output in {dst}")

    for name, image in wanted.items():
        stamp = source_stamp(image)
        out = dst / name
        if stamp is not None and listed.get(name) == stamp and _is_up_to_date(out, transform.output_nbytes):
            plan.valid[name] = stamp
            plan.skipped += 1
        else:
            plan.tasks.append((str(image), str(out)))
    return plan


def _is_up_to_date(path: Path, nbytes: int) -> bool:
    try:
        return path.stat().st_size == nbytes
    except OSError:
        return False
