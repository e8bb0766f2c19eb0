"""File conventions shared by every step: atomic writes, natural sort, stems, result files."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, Dict, Optional, Tuple, TypeVar

import numpy as np

from .errors import PipelineError, cannot_list

RESULT_FORMATS = ("BIN", "NPY", "TXT")
_RESULT_RE = re.compile(r"^(?P<stem>.+)_(?P<index>\d+)\.(?P<ext>txt|npy|bin)$", re.IGNORECASE)
_NATURAL_SPLIT = re.compile(r"(\d+)")
_UMASK = os.umask(0)
os.umask(_UMASK)
T = TypeVar("T")


def natural_key(name: str) -> list[Any]:
    """Sort key that orders ``img2`` before ``img10`` (ais_bench's ordering of input files)."""
    return [int(part) if part.isdigit() else part.lower() for part in _NATURAL_SPLIT.split(name)]


def stem_of(path: str | os.PathLike[str]) -> str:
    """File name minus its last extension: ``a.b.JPEG`` -> ``a.b``."""
    name = Path(path).name
    return name.rsplit(".", 1)[0] if "." in name[1:] else name


def stem_clash(items: Iterable[T], name: Callable[[T], str]) -> Optional[Tuple[T, T]]:
    """The first two of ``items`` whose names (``name(item)``) share a stem (:func:`stem_of`), whose outputs
    would be one file; None when every stem is distinct."""
    seen: Dict[str, T] = {}
    for item in items:
        first = seen.setdefault(stem_of(name(item)), item)
        if first is not item:
            return first, item
    return None


def is_within(path: str | os.PathLike[str], folder: str | os.PathLike[str]) -> bool:
    """True when ``path`` is ``folder`` or lies inside it, links resolved (an output that would be written into an
    input)."""
    inner, outer = Path(path).resolve(), Path(folder).resolve()
    return inner == outer or outer in inner.parents


def is_hidden_temp(path: str | os.PathLike[str]) -> bool:
    """True for the temporary files :func:`atomic_path` creates (skipped by every reader)."""
    return Path(path).name.startswith(".")


def list_inputs(folder: str | os.PathLike[str], suffixes: tuple[str, ...] = (".bin",)) -> list[Path]:
    """The files of ``folder`` with one of ``suffixes`` (any case), hidden temporaries left out, in the runner's
    natural order: the one listing of input files that the runner, the fidelity check and calibration share."""
    try:
        with os.scandir(folder) as entries:
            found = [Path(folder, e.name) for e in entries
                     if e.is_file() and not is_hidden_temp(e.name) and Path(e.name).suffix.lower() in suffixes]
    except OSError as exc:
        raise cannot_list(folder, exc) from None
    return sorted(found, key=lambda p: natural_key(p.name))


_TEMP_RE = re.compile(r"^\..+\.[^.]+\.tmp$")  # .<final name>.<mkstemp's random part>.tmp


class WriteError(PipelineError, OSError):
    """A file could not be written (no space, file size limit, permission, read-only file system).

    Also an OSError, so that callers which handled the raw error keep working.
    """


def write_error(path: str | os.PathLike[str], exc: OSError) -> WriteError:
    """One line naming ``path`` and why it could not be written (``No space left on device`` ...)."""
    reason = exc.strerror or str(exc)
    if exc.errno == errno.EFBIG:
        reason += " (the file size limit, ulimit -f, was reached)"
    error = WriteError(f"{path}: cannot write: {reason}")
    error.errno = exc.errno
    return error


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a hidden temporary path beside ``path``; rename it onto ``path`` only on success.

    A crash leaves no file under the final name, so a rerun never mistakes half a file for a good one
    (:func:`remove_stale_temps` clears what a killed process leaves). Any OSError while creating,
    writing or renaming (no space, ``ulimit -f``, permission, read-only folder) becomes a
    :class:`WriteError` naming ``path``; the temporary file is removed either way.
    """
    final = Path(path)
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent)
    except OSError as exc:
        raise write_error(final, exc) from None
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; outputs get the usual permissions
        yield tmp
        os.replace(tmp, final)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        if isinstance(exc, OSError) and not isinstance(exc, PipelineError):
            raise write_error(final, exc) from None
        raise


def remove_stale_temps(folder: str | os.PathLike[str]) -> int:
    """Delete the hidden ``.<name>.<random>.tmp`` files a killed run left in ``folder``; return how many.

    Only call it on a folder no other process is writing into at the same time.
    """
    removed = 0
    try:
        entries = list(os.scandir(folder))
    except FileNotFoundError:
        return 0
    except OSError as exc:
        raise cannot_list(folder, exc) from None
    for entry in entries:
        if _TEMP_RE.match(entry.name) and entry.is_file(follow_symlinks=False):
            try:
                os.unlink(entry.path)
            except FileNotFoundError:
                continue
            except OSError as exc:
                raise PipelineError(f"{entry.path}: cannot remove leftover temporary file: {exc.strerror or exc}") from None
            removed += 1
    return removed


def clear_stale_temps(folder: str | os.PathLike[str] | None, log: Callable[[str], None]) -> int:
    """:func:`remove_stale_temps` on ``folder`` (nothing when None), saying how many it removed."""
    removed = 0 if folder is None else remove_stale_temps(folder)
    if removed:
        log(f"[INFO] {folder}: removed {removed} leftover temporary file{'s' if removed > 1 else ''} "
            "of an interrupted run")
    return removed


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes | memoryview) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def atomic_write_json(path: str | os.PathLike[str], obj: Any) -> None:
    """Write ``obj`` as indented JSON to ``path`` atomically."""
    atomic_write_text(path, json.dumps(obj, indent=2, ensure_ascii=False) + "\n")


def read_json(path: str | os.PathLike[str]) -> Any:
    """A JSON file's content; an unreadable file or one that is no JSON is one error naming it (the files' own
    readers then check their layout)."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise PipelineError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except ValueError as exc:  # UnicodeDecodeError included
        raise PipelineError(f"{path}: not JSON ({exc})") from None


def result_file_name(stem: str, output_index: int, fmt: str) -> str:
    """ais_bench's result name: ``<stem>_<k>.<fmt>`` (fmt lower-cased)."""
    return f"{stem}_{output_index}.{fmt.lower()}"


def format_txt(array: np.ndarray) -> str:
    """ais_bench's TXT layout: rows of the array reshaped to (-1, last dim), each value then a space, a newline
    per row; values ``%f`` for float16/32/64 and ``%d`` for every other type (its ``get_ndata_fmt``)."""
    array = np.asarray(array)
    rows = array.reshape(-1, array.shape[-1] if array.ndim else 1)
    fmt = "%f " if array.dtype in (np.float16, np.float32, np.float64) else "%d "
    line = fmt * rows.shape[1] + "\n"  # one %-format per row: twice as fast as per-value f-strings
    return "".join(line % tuple(row) for row in rows.tolist())


def write_result(path: str | os.PathLike[str], array: np.ndarray, fmt: str) -> None:
    """Write one output slice in ais_bench's BIN, NPY or TXT format, atomically (hidden temporary, then rename).

    A failed write (no space, file size limit, no permission) is one error naming ``path``; no file is left
    under that name and the temporary is removed.
    """
    fmt = fmt.upper()
    if fmt not in RESULT_FORMATS:
        raise PipelineError(f"unknown output format {fmt!r} (choose from {', '.join(RESULT_FORMATS)})")
    if fmt == "BIN":  # atomic_path turns a failed write into one WriteError naming the path
        atomic_write_bytes(path, np.ascontiguousarray(array).tobytes())
    elif fmt == "NPY":
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as fh:
                np.save(fh, array)
    else:
        atomic_write_text(path, format_txt(array))


def parse_result_name(name: str) -> tuple[str, int, str] | None:
    """Split ``<stem>_<k>.<ext>`` into (stem, k, ext lower-case); None when the name is not a result."""
    match = _RESULT_RE.match(name)
    if match is None:
        return None
    return match["stem"], int(match["index"]), match["ext"].lower()


def read_result(path: str | os.PathLike[str], num_classes: int = 1000) -> np.ndarray:
    """Read one result file (TXT, NPY or float32 BIN) as a flat float32 vector."""
    path = Path(path)
    ext = path.suffix.lower()
    try:
        if ext == ".npy":
            values = np.load(path, allow_pickle=False).astype(np.float32, copy=False).ravel()
        elif ext == ".bin":
            raw = path.read_bytes()
            if len(raw) % 4:
                raise PipelineError(f"{path}: {len(raw)} bytes is not a whole number of float32 values")
            values = np.frombuffer(raw, dtype=np.float32)
            if values.size % num_classes:
                raise PipelineError(
                    f"{path}: {values.size} float32 values is not a multiple of {num_classes} classes"
                )
        elif ext == ".txt":
            values = np.array(path.read_text(encoding="ascii").split(), dtype=np.float32)
        else:
            raise PipelineError(f"{path}: not a result file (expected .txt, .npy or .bin)")
    except (ValueError, UnicodeDecodeError, OSError) as exc:
        raise PipelineError(f"{path}: cannot read result: {exc}") from None
    return values
