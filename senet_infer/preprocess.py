"""Step 1: images -> model-input arrays (uint8 RGB 256x256 for AIPP, or normalised fp32 NCHW 224x224)."""

from __future__ import annotations

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

import numpy as np
from PIL import Image, UnidentifiedImageError
from tqdm import tqdm

from . import imagenet
from .cli import default_workers
from .errors import PipelineError
from .fileio import atomic_write_bytes, is_hidden_temp, natural_key, stem_of

RESIZE_MODES = ("shorter", "squash")
FORMATS = ("uint8", "fp32")


@dataclass(frozen=True)  # construct with keywords (kw_only= needs Python 3.10)
class EvalTransform:
    """How one image becomes a model input; recorded in every artefact that depends on it."""

    resize: str = "shorter"  # "shorter": torchvision Resize(256) bilinear; "squash": whole image to 256x256 bicubic
    resize_size: int = imagenet.RESIZE_SIZE
    output_format: str = "uint8"  # "uint8": HWC 256x256 (AIPP input); "fp32": NCHW 224x224 normalised
    crop_size: int = imagenet.CROP_SIZE
    mean: tuple[float, float, float] = imagenet.MEAN
    std: tuple[float, float, float] = imagenet.STD

    def __post_init__(self) -> None:
        if self.resize not in RESIZE_MODES:
            raise PipelineError(f"unknown resize mode {self.resize!r} (choose from {', '.join(RESIZE_MODES)})")
        if self.output_format not in FORMATS:
            raise PipelineError(f"unknown format {self.output_format!r} (choose from {', '.join(FORMATS)})")

    def describe(self) -> str:
        """One line naming the resize mode, sizes and output layout (for summaries and logs)."""
        if self.resize == "squash":
            resize = f"squash to {self.resize_size}x{self.resize_size} (PIL bicubic)"
        else:
            resize = f"resize shorter side to {self.resize_size} (bilinear) + center crop {self.resize_size}"
        if self.output_format == "uint8":
            layout = f"uint8 RGB HWC {self.resize_size}x{self.resize_size}x3"
        else:
            layout = (f"center crop {self.crop_size} + normalise (ImageNet mean/std), "
                      f"float32 NCHW 3x{self.crop_size}x{self.crop_size}")
        return f"{resize}, {layout}, {self.output_nbytes} bytes per file"

    @property
    def output_nbytes(self) -> int:
        """Size in bytes of one output file."""
        if self.output_format == "uint8":
            return self.resize_size * self.resize_size * 3
        return 3 * self.crop_size * self.crop_size * 4


def load_rgb(path: str | Path) -> Image.Image:
    """Decode an image file and convert it to RGB (grayscale, CMYK, palette and alpha included)."""
    try:
        with Image.open(path) as image:
            image.load()
            if image.mode == "RGB":
                return image.copy()
            if image.mode == "P" and "transparency" in image.info:
                image = image.convert("RGBA")
            return image.convert("RGB")
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise PipelineError(f"{path}: cannot decode image: {exc}") from None


def resize_shorter(image: Image.Image, size: int) -> Image.Image:
    """torchvision ``Resize(size)`` on a PIL image: shorter side to ``size``, bilinear, antialiased."""
    width, height = image.size
    short, long = (width, height) if width <= height else (height, width)
    if short == size:
        return image
    new_short, new_long = size, int(size * long / short)
    new_w, new_h = (new_short, new_long) if width <= height else (new_long, new_short)
    return image.resize((new_w, new_h), Image.Resampling.BILINEAR)


def center_crop(image: Image.Image, size: int) -> Image.Image:
    """torchvision ``CenterCrop(size)`` on a PIL image at least ``size`` on each side."""
    width, height = image.size
    top = int(round((height - size) / 2.0))
    left = int(round((width - size) / 2.0))
    return image.crop((left, top, left + size, top + size))


def normalize_chw(image_hwc: np.ndarray, mean: tuple[float, ...], std: tuple[float, ...]) -> np.ndarray:
    """torchvision ``ToTensor`` + ``Normalize``: uint8 HWC -> float32 CHW."""
    scaled = image_hwc.astype(np.float32) / np.float32(255.0)
    normalised = (scaled - np.asarray(mean, np.float32)) / np.asarray(std, np.float32)
    return np.ascontiguousarray(normalised.transpose(2, 0, 1))


def transform_image(image: Image.Image, transform: EvalTransform) -> np.ndarray:
    """Apply ``transform`` to an RGB image: uint8 HWC [256,256,3] or float32 CHW [3,224,224]."""
    if transform.resize == "squash":
        resized = image.resize((transform.resize_size, transform.resize_size), Image.Resampling.BICUBIC)
    else:
        resized = center_crop(resize_shorter(image, transform.resize_size), transform.resize_size)
    if transform.output_format == "uint8":
        return np.asarray(resized, dtype=np.uint8)
    cropped = center_crop(resized, transform.crop_size)
    return normalize_chw(np.asarray(cropped, dtype=np.uint8), transform.mean, transform.std)


def preprocess_file(path: str | Path, transform: EvalTransform) -> np.ndarray:
    """Decode and transform one image file."""
    return transform_image(load_rgb(path), transform)


# --- Folder processing (step 1 over a whole image folder) -------------------------------------

OUTPUT_SUFFIX = ".bin"
MAX_CHUNK = 32  # files per worker task: amortises inter-process overhead, keeps the progress bar moving
CHUNKS_IN_FLIGHT_PER_WORKER = 2  # enough to keep every worker busy without queueing 50,000 tasks


@dataclass
class PreprocessReport:
    """What :func:`preprocess_folder` did: counts, failures (file, one-line reason) and timing."""

    src: Path
    dst: Path
    transform: EvalTransform
    images: int
    workers: int
    written: int = 0
    skipped: int = 0
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
            "written": self.written, "skipped": self.skipped, "failed": self.failed,
            "non_images": len(self.non_images), "workers": self.workers,
            "elapsed_s": round(self.elapsed_s, 3), "images_per_s": round(self.images_per_s, 1),
            "resize": t.resize, "resize_size": t.resize_size, "output_format": t.output_format,
            "crop_size": t.crop_size, "output_bytes": t.output_nbytes,
        }


def is_image_name(name: str) -> bool:
    """True for the extensions step 1 reads (``.JPEG``, ``.jpg``, ``.jpeg``, ``.png``; any case)."""
    return Path(name).suffix.lower() in imagenet.IMAGE_EXTENSIONS


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
    try:
        entries = list(os.scandir(src))
    except OSError as exc:
        raise PipelineError(f"{src}: cannot list folder: {exc.strerror or exc}") from None
    images: list[Path] = []
    others: list[Path] = []
    for entry in entries:
        if is_hidden_temp(entry.name):
            continue
        if entry.is_file() and is_image_name(entry.name):
            images.append(Path(entry.path))
        else:
            others.append(Path(entry.path))
    images.sort(key=lambda p: natural_key(p.name))
    others.sort(key=lambda p: natural_key(p.name))
    by_stem: dict[str, Path] = {}
    for path in images:
        first = by_stem.setdefault(stem_of(path), path)
        if first is not path:
            raise PipelineError(
                f"{first} and {path} would both be written as {stem_of(path)}{OUTPUT_SUFFIX}: rename or remove one"
            )
    return images, others


def output_path(dst: str | Path, image: str | Path) -> Path:
    """Where step 1 writes the array for ``image``: ``dst/<stem>.bin``."""
    return Path(dst) / f"{stem_of(image)}{OUTPUT_SUFFIX}"


def check_destination(src: str | Path, dst: str | Path) -> None:
    """Refuse an output folder equal to or inside the input folder (step 1 never writes into its input)."""
    src_real, dst_real = Path(src).resolve(), Path(dst).resolve()
    if dst_real == src_real or src_real in dst_real.parents:
        raise PipelineError(f"{dst}: output folder is inside the input folder {src}; choose a folder outside it")


def _is_up_to_date(path: Path, nbytes: int) -> bool:
    try:
        return path.stat().st_size == nbytes
    except OSError:
        return False


def _process_one(image: Path, out: Path, transform: EvalTransform) -> str | None:
    """Transform ``image`` and write ``out`` atomically; None on success, else one line naming the file."""
    try:
        array = preprocess_file(image, transform)
    except PipelineError as exc:
        return str(exc)
    except Exception as exc:  # noqa: BLE001 - one odd image (e.g. a decompression bomb) must not stop 50,000
        return f"{image}: cannot process image: {type(exc).__name__}: {exc}"
    try:
        atomic_write_bytes(out, array.tobytes())
    except OSError as exc:
        return f"{out}: cannot write: {exc.strerror or exc}"
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
    pool = ProcessPoolExecutor(max_workers=min(workers, len(chunks)), mp_context=_pool_context())
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
) -> PreprocessReport:
    """Write ``dst/<stem>.bin`` for every image in ``src`` with all cores; skip up-to-date outputs.

    ``workers`` defaults to every core; ``force`` redoes outputs that exist with the right size;
    ``log`` receives the warnings and per-image failure lines (default: stderr). A failed image does
    not stop the others: check ``report.ok``. User errors (missing or empty ``src``, ``dst`` inside
    ``src``, colliding stems) raise PipelineError before anything is written.
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
    try:
        dst.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise PipelineError(f"{dst}: exists and is not a directory") from None
    except OSError as exc:
        raise PipelineError(f"{dst}: cannot create output folder: {exc.strerror or exc}") from None

    workers = max(1, workers if workers is not None else default_workers())
    report = PreprocessReport(src=src, dst=dst, transform=transform, images=len(images),
                              workers=workers, non_images=others)
    start = time.perf_counter()
    tasks: list[tuple[str, str]] = []
    for image in images:
        out = output_path(dst, image)
        if not force and _is_up_to_date(out, transform.output_nbytes):
            report.skipped += 1
        else:
            tasks.append((str(image), str(out)))
    with tqdm(total=len(images), initial=report.skipped, disable=not progress, file=sys.stderr,
              unit="img", desc="preprocess", dynamic_ncols=True) as bar:
        try:
            for (image_name, _), error in _run_tasks(tasks, transform, min(workers, len(tasks))):
                if error is None:
                    report.written += 1
                else:
                    report.failures.append((Path(image_name), error))
                    emit(f"failed: {error}")
                bar.update(1)
        except BrokenProcessPool:
            raise PipelineError(f"{dst}: a worker process died (out of memory?) after {report.written} files "
                                "were written; rerun to finish the rest") from None
    report.failures.sort(key=lambda item: natural_key(item[0].name))
    report.elapsed_s = time.perf_counter() - start
    return report
