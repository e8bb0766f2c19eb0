"""Step 5's input: the logits result files of a result folder (``<image>_0.txt|npy|bin``), read on threads."""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from .. import imagenet
from ..cli import default_workers
from ..errors import PipelineError, cannot_list
from ..fileio import is_hidden_temp, natural_key, parse_result_name, read_result

LOGITS_OUTPUT = 0  # ais_bench's output index of the class scores; other outputs are ignored

@dataclass(frozen=True)
class ResultScan:
    """The logits result file of each image in a result folder, plus the names that are not results."""

    folder: Path
    files: dict[str, Path]  # image stem -> its output-0 result file, in natural order
    ignored: tuple[str, ...]  # names that are not ``<stem>_<k>.txt|npy|bin``, natural order
    all_results: tuple[str, ...] = ()  # every ``<stem>_<k>.<ext>`` name, any output index

    def ignored_warning(self) -> str | None:
        """One line about the ignored files, or None when there are none."""
        if not self.ignored:
            return None
        n = len(self.ignored)
        noun = "file that is not a result" if n == 1 else "files that are not results"
        return f"{self.folder}: ignored {n} {noun} (<image>_<k>.txt|npy|bin), e.g. {self.ignored[0]!r}"


def scan_results(result_dir: str | os.PathLike[str]) -> ResultScan:
    """Find ``<stem>_0.txt|npy|bin`` in ``result_dir`` (hidden temp files skipped silently)."""
    folder = Path(result_dir)
    if not folder.exists():
        raise PipelineError(f"{folder}: result folder not found")
    if not folder.is_dir():
        raise PipelineError(f"{folder}: not a folder (expected the result folder)")
    files: dict[str, Path] = {}
    ignored: list[str] = []
    results: list[str] = []
    try:
        entries = sorted(os.scandir(folder), key=lambda e: natural_key(e.name))
    except OSError as exc:
        raise cannot_list(folder, exc) from None
    for entry in entries:
        if is_hidden_temp(entry.name):
            continue
        parsed = parse_result_name(entry.name) if entry.is_file() else None
        if parsed is None:
            ignored.append(entry.name)
            continue
        results.append(entry.name)
        stem, index, _ = parsed
        if index != LOGITS_OUTPUT:
            continue
        if stem in files:
            raise PipelineError(f"{folder}: two results for image {stem!r}: {files[stem].name} and {entry.name}")
        files[stem] = Path(entry.path)
    if not files:
        hint = f"; {len(ignored)} other entries, e.g. {ignored[0]!r}" if ignored else ""
        raise PipelineError(f"{folder}: no result files (<image>_0.txt, .npy or .bin){hint}")
    return ResultScan(folder, files, tuple(ignored), tuple(results))


def _read_logits_file(path: Path, num_classes: int) -> np.ndarray:
    values = read_result(path, num_classes)
    if values.size == 0:
        raise PipelineError(f"{path}: result holds no values")
    # A .bin file has no shape: its width is only known from --num-classes, so hold it to exactly that.
    if path.suffix.lower() == ".bin" and values.size != num_classes:
        raise PipelineError(
            f"{path}: {values.size} float32 values, expected {num_classes} (the class count of .bin results)"
        )
    return values


def read_logits(
    paths: Sequence[Path], num_classes: int = imagenet.NUM_CLASSES, workers: int | None = None
) -> np.ndarray:
    """Read result files into one [N, C] float32 array (row i = paths[i]); C must agree across files."""
    if not paths:
        raise ValueError("read_logits needs at least one result file")
    width = _read_logits_file(paths[0], num_classes).size
    logits = np.empty((len(paths), width), np.float32)
    sizes = np.zeros(len(paths), np.int64)
    stop = threading.Event()

    def read_range(lo: int, hi: int) -> None:
        for i in range(lo, hi):
            if stop.is_set():
                return
            try:
                values = _read_logits_file(paths[i], num_classes)
            except BaseException:
                stop.set()
                raise
            sizes[i] = values.size
            if values.size == width:
                logits[i] = values

    # TXT parsing holds the GIL, but file reads do not: threads overlap the I/O with the parsing.
    workers = max(1, min(workers or default_workers(), len(paths)))
    chunks = np.array_split(np.arange(len(paths)), workers * 8)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="metric-read") as pool:
        futures = [pool.submit(read_range, int(c[0]), int(c[-1]) + 1) for c in chunks if c.size]
        for future in futures:
            future.result()

    if np.any(sizes != width):
        values, counts = np.unique(sizes, return_counts=True)
        common = int(values[np.argmax(counts)])
        odd = int(np.flatnonzero(sizes != common)[0])
        raise PipelineError(
            f"{paths[odd]}: {sizes[odd]} values, but {int(counts.max())} of {len(paths)} results have {common}; "
            "every result must hold the same number of class scores"
        )
    return logits


def load_results(
    result_dir: str | os.PathLike[str], num_classes: int = imagenet.NUM_CLASSES, workers: int | None = None
) -> tuple[list[str], np.ndarray]:
    """All output-0 results of ``result_dir``: (image stems in natural order, [N, C] float32 logits)."""
    scan = scan_results(result_dir)
    stems = list(scan.files)
    return stems, read_logits([scan.files[s] for s in stems], num_classes, workers)
