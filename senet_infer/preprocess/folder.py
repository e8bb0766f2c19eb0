"""Step 1 over a whole image folder: list the images, run the transform on every core, write one .bin per image."""

from __future__ import annotations

import contextlib
import math
import multiprocessing
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from .. import imagenet
from ..cli import default_workers, ignore_file_size_signal
from ..errors import PipelineError, cannot_list
from ..fileio import (
    WriteError,
    atomic_write_bytes,
    is_hidden_temp,
    is_within,
    list_inputs,
    natural_key,
    remove_stale_temps,
    stem_clash,
    stem_of,
)
from .outputs import MANIFEST_EVERY_S, OUTPUT_SUFFIX, output_path, plan_outputs, source_stamp, write_manifest
from .transform import EvalTransform, import_cv2, preprocess_file

MAX_CHUNK = 32  # files per worker task: amortises inter-process overhead, keeps the progress bar moving
CHUNKS_IN_FLIGHT_PER_WORKER = 2  # enough to keep every worker busy without queueing 50,000 tasks


@dataclass
class PreprocessResult:
    """What :func:`preprocess_folder` did: counts, failures (file, one-line reason) and timing."""

    src: Path
    dst: Path
    transform: EvalTransform
    images: int
    workers: int
    written: int = 0
    skipped: int = 0
    removed: int = 0  # stale outputs of images no longer in src (or foreign .bin files, with force)
    temps_removed: int = 0  # hidden temporary files a killed run left behind
    notes: list[str] = field(default_factory=list)  # what the rerun decided (redone, removed ...), one line each
    failures: list[tuple[Path, str]] = field(default_factory=list)
    non_images: list[Path] = field(default_factory=list)
    elapsed_s: float = 0.0

    @property
    def failed(self) -> int:
        """Number of images that could not be processed."""
        return len(self.failures)

    @property
    def ok(self) -> bool:
        """True when every image has its output file."""
        return not self.failures

    @property
    def images_per_s(self) -> float:
        """Images decoded (written or failed) per second of wall time."""
        processed = self.written + self.failed
        return processed / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def counts_line(self) -> str:
        """``written N, skipped N (up to date), failed N``."""
        return f"written {self.written}, skipped {self.skipped} (up to date), failed {self.failed}"

    def as_dict(self) -> dict[str, object]:
        """A flat record (numbers as numbers, units in the keys) that also names the transform."""
        t = self.transform
        return {
            "src": str(self.src), "dst": str(self.dst), "images": self.images,
            "written": self.written, "skipped": self.skipped, "failed": self.failed, "removed": self.removed,
            "non_images": len(self.non_images), "workers": self.workers,
            "elapsed_s": round(self.elapsed_s, 3), "images_per_s": round(self.images_per_s, 1),
            "resize": t.resize, "resize_size": t.resize_size, "output_format": t.output_format,
            "crop_size": t.crop_size, "output_bytes": t.output_nbytes,
        }


def list_images(src: str | Path) -> tuple[list[Path], list[Path]]:
    """Images in ``src`` and the other entries (to warn about), both natural-sorted.

    Hidden names (temporary files of an interrupted write) are ignored. Raises PipelineError when
    ``src`` is not a folder or when two images share a stem (their outputs would collide).
    """
    src = Path(src)
    if not src.exists():
        raise PipelineError(f"{src}: no such directory")
    if not src.is_dir():
        raise PipelineError(f"{src}: not a directory")
    images = list_inputs(src, imagenet.IMAGE_EXTENSIONS)
    chosen = {path.name for path in images}
    try:
        with os.scandir(src) as entries:  # listed again for the warning about what is not an image
            others = [Path(src, e.name) for e in entries if e.name not in chosen and not is_hidden_temp(e.name)]
    except OSError as exc:
        raise cannot_list(src, exc) from None
    others.sort(key=lambda p: natural_key(p.name))
    clash = stem_clash(images, str)
    if clash is not None:
        first, path = clash
        raise PipelineError(
            f"{first} and {path} would both be written as {stem_of(path)}{OUTPUT_SUFFIX}: rename or remove one"
        )
    return images, others


def check_destination(src: str | Path, dst: str | Path) -> None:
    """Refuse an output folder equal to or inside the input folder (step 1 never writes into its input)."""
    if is_within(dst, src):
        raise PipelineError(f"{dst}: output folder is inside the input folder {src}; choose a folder outside it")


def _process_one(image: Path, out: Path, transform: EvalTransform) -> str | None:
    """Transform ``image`` and write ``out`` atomically; None on success, else one line naming the file.

    A failed write (no space, ``ulimit -f``, permission) raises WriteError: it would fail for every
    other image too, so it stops the run instead of being counted as one failed image.
    """
    try:
        array = preprocess_file(image, transform)
    except PipelineError as exc:
        return str(exc)
    except Exception as exc:  # noqa: BLE001 - one odd image (e.g. a decompression bomb) must not stop 50,000
        return f"{image}: cannot process image: {type(exc).__name__}: {exc}"
    atomic_write_bytes(out, array.tobytes())
    return None


def _process_chunk(tasks: Sequence[tuple[str, str]], transform: EvalTransform) -> list[str | None]:
    """Worker task: process (image, output) pairs; return only a small status per pair."""
    return [_process_one(Path(image), Path(out), transform) for image, out in tasks]


def _pool_context() -> multiprocessing.context.BaseContext:
    # Not fork: the caller may hold threads (tqdm's monitor, torch's pools) that a forked child inherits
    # in an undefined state. forkserver starts workers from a clean single-threaded process.
    method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
    return multiprocessing.get_context(method)


def _run_tasks(
    tasks: list[tuple[str, str]], transform: EvalTransform, workers: int
) -> Iterator[tuple[tuple[str, str], str | None]]:
    """Yield (task, error or None) as tasks finish: in-process for one worker, else a bounded process pool."""
    if workers <= 1:
        for image, out in tasks:
            yield (image, out), _process_one(Path(image), Path(out), transform)
        return
    chunk = max(1, min(MAX_CHUNK, math.ceil(len(tasks) / (workers * 8))))
    chunks = [tasks[i:i + chunk] for i in range(0, len(tasks), chunk)]
    window = workers * CHUNKS_IN_FLIGHT_PER_WORKER
    pending: dict[Future[list[str | None]], list[tuple[str, str]]] = {}
    pool = ProcessPoolExecutor(max_workers=min(workers, len(chunks)), mp_context=_pool_context(),
                               initializer=ignore_file_size_signal)
    try:
        next_chunk = 0
        while next_chunk < len(chunks) or pending:
            while next_chunk < len(chunks) and len(pending) < window:
                pending[pool.submit(_process_chunk, chunks[next_chunk], transform)] = chunks[next_chunk]
                next_chunk += 1
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                yield from zip(pending.pop(future), future.result())
    finally:
        for future in pending:  # shutdown(cancel_futures=) needs Python 3.9
            future.cancel()
        pool.shutdown(wait=True)


def _stderr_line(message: str) -> None:
    tqdm.write(message, file=sys.stderr)  # keeps the progress bar intact below the message


def preprocess_folder(
    src: str | Path,
    dst: str | Path,
    transform: EvalTransform = EvalTransform(),
    *,
    workers: int | None = None,
    force: bool = False,
    progress: bool = True,
    log: Callable[[str], None] | None = None,
) -> PreprocessResult:
    """Write ``dst/<stem>.bin`` for every image in ``src`` with all cores; skip up-to-date outputs.

    ``workers`` defaults to every core; ``force`` redoes every output (and removes .bin files that
    are not outputs of ``src``); ``log`` receives the notes, warnings and per-image failure lines
    (default: stderr). ``dst/.preprocess.json`` records the source folder, the transform and each
    output's image (name, size, mtime): see :func:`.outputs.plan_outputs` for what a rerun skips, redoes,
    removes or refuses. A failed image does not stop the others: check ``result.ok``; a failed
    write (no space, permission) stops the run with WriteError. User errors (missing or empty
    ``src``, ``dst`` inside ``src``, colliding stems, a folder of other images or another transform)
    raise PipelineError before anything is written.
    Workers are started with forkserver, which re-imports the caller's main module: a calling
    script needs the usual ``if __name__ == "__main__":`` guard.
    """
    src, dst = Path(src), Path(dst)
    emit = log or _stderr_line
    images, others = list_images(src)
    check_destination(src, dst)
    for other in others:
        emit(f"warning: {other}: not a .JPEG/.jpg/.jpeg/.png file, skipped")
    if not images:
        raise PipelineError(f"{src}: no images (.JPEG, .jpg, .jpeg or .png in any case)")
    if transform.resize == "squash":
        import_cv2()  # a missing OpenCV is one line for the run, not one failure per image
    try:
        dst.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise PipelineError(f"{dst}: exists and is not a directory") from None
    except OSError as exc:
        raise PipelineError(f"{dst}: cannot create output folder: {exc.strerror or exc}") from None

    result = PreprocessResult(src=src, dst=dst, transform=transform, images=len(images),
                              workers=max(1, workers if workers is not None else default_workers()),
                              non_images=others)
    result.temps_removed = remove_stale_temps(dst)
    if result.temps_removed:
        result.notes.append(f"removed {result.temps_removed} temporary file(s) an interrupted run left in {dst}")
    plan = plan_outputs(src, dst, images, transform, force)
    result.skipped, result.removed = plan.skipped, plan.removed
    result.notes += plan.notes
    tasks, valid, source = plan.tasks, plan.valid, plan.source
    for note in result.notes:
        emit(note)
    stamps = {output_path(dst, Path(image)).name: source_stamp(Path(image)) for image, _ in tasks}
    # Recorded first: a run killed from here on leaves a manifest that lists only what is known good.
    write_manifest(dst, source, transform, valid)
    start = recorded = time.perf_counter()
    try:
        with tqdm(total=len(images), initial=result.skipped, disable=not progress, file=sys.stderr,
                  unit="img", desc="preprocess", dynamic_ncols=True) as bar:
            for (image_name, out_name), error in _run_tasks(tasks, transform, min(result.workers, len(tasks))):
                if error is None:
                    result.written += 1
                    stamp = stamps.get(Path(out_name).name)
                    if stamp is not None:
                        valid[Path(out_name).name] = stamp
                    if time.perf_counter() - recorded > MANIFEST_EVERY_S:
                        # A SIGKILL skips the final write below: what is recorded here survives it.
                        write_manifest(dst, source, transform, valid)
                        recorded = time.perf_counter()
                else:
                    result.failures.append((Path(image_name), error))
                    emit(f"failed: {error}")
                bar.update(1)
    except BrokenProcessPool:
        raise PipelineError(f"{dst}: a worker process died (out of memory?) after {result.written} files "
                            "were written; rerun to finish the rest") from None
    finally:
        with contextlib.suppress(WriteError):  # the disk may be the very problem: the run's own error wins
            write_manifest(dst, source, transform, valid)
    result.failures.sort(key=lambda item: natural_key(item[0].name))
    result.elapsed_s = time.perf_counter() - start
    return result
