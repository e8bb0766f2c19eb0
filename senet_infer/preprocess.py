"""Step 1: images -> model-input arrays (uint8 RGB 256x256 for AIPP, or normalised fp32 NCHW 224x224)."""

from __future__ import annotations

import contextlib
import json
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
from .cli import default_workers, ignore_file_size_signal
from .compat import RESAMPLING
from .errors import PipelineError
from .fileio import WriteError, atomic_write_bytes, atomic_write_text, is_hidden_temp, natural_key, remove_stale_temps, stem_of

RESIZE_MODES = ("shorter", "squash")
FORMATS = ("uint8", "fp32")


@dataclass(frozen=True)  # construct with keywords (kw_only= needs Python 3.10)
class EvalTransform:
    """How one image becomes a model input; recorded in every artefact that depends on it."""

    resize: str = "shorter"  # "shorter": torchvision Resize(256) bilinear; "squash": the ModelZoo original (OpenCV)
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
            resize = (f"squash to {self.resize_size}x{self.resize_size} "
                      "(OpenCV imread + INTER_CUBIC, the ModelZoo original)")
        else:
            resize = f"resize shorter side to {self.resize_size} (bilinear) + center crop {self.resize_size}"
        if self.output_format == "uint8":
            layout = f"uint8 RGB HWC {self.resize_size}x{self.resize_size}x3"
        else:
            layout = (f"center crop {self.crop_size} + normalise (ImageNet mean/std), "
                      f"float32 NCHW 3x{self.crop_size}x{self.crop_size}")
        return f"{resize}, {layout}, {self.output_nbytes} bytes per file"

    def as_record(self) -> dict[str, object]:
        """Every field, JSON-ready (what the .bin folder's manifest compares)."""
        return {"resize": self.resize, "resize_size": self.resize_size, "output_format": self.output_format,
                "crop_size": self.crop_size, "mean": list(self.mean), "std": list(self.std)}

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
    return image.resize((new_w, new_h), RESAMPLING.BILINEAR)


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


def _import_cv2():  # noqa: ANN202 - the module type is cv2's own
    try:
        import cv2
    except ImportError:
        raise PipelineError("--resize squash decodes with OpenCV, which is not installed: "
                            "python3 -m pip install opencv-python-headless (or opencv-python)") from None
    return cv2


_JPEG_SOI = b"\xff\xd8"
_JPEG_EOI = b"\xff\xd9"


def _check_jpeg_complete(path: str | Path) -> None:
    """Refuse a truncated JPEG, which OpenCV decodes without an error (the missing rows come out grey).

    A complete JPEG ends with the EOI marker; only a file that does not (trailing bytes after the
    image, or a real truncation) pays for a full check by Pillow's decoder at 1/8 scale.
    """
    try:
        with open(path, "rb") as fh:
            head = fh.read(2)
            if head != _JPEG_SOI:
                return
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - 64))
            tail = fh.read().rstrip(b"\0 \r\n\t")
    except OSError as exc:
        raise PipelineError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if tail.endswith(_JPEG_EOI):
        return
    try:
        with Image.open(path) as image:
            image.draft("RGB", (max(1, image.width // 8), max(1, image.height // 8)))
            image.load()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise PipelineError(f"{path}: truncated or corrupt JPEG ({exc}); the original script would write "
                            "it with grey rows, this one refuses") from None


def squash_opencv(path: str | Path, size: int) -> np.ndarray:
    """The ModelZoo original's step 1: ``cv2.imread`` (BGR), to RGB, ``cv2.resize`` to size x size, INTER_CUBIC.

    uint8 HWC, the same bytes the original writes (it casts to int8, which keeps the bytes). OpenCV
    decodes by content, not by extension, and gives 3 channels for grayscale, CMYK, palette and alpha
    images alike (alpha dropped, 16-bit scaled to 8). Where the original stops with a traceback
    (``imread`` returns None: not an image, a truncated PNG) or writes grey rows (a truncated JPEG),
    this raises PipelineError naming the file.
    """
    cv2 = _import_cv2()
    _check_jpeg_complete(path)
    bgr = cv2.imread(os.fspath(path))
    if bgr is None:
        raise PipelineError(f"{path}: OpenCV cannot decode this file (the original script stops here "
                            "with a traceback)")
    rgb = np.ascontiguousarray(bgr[:, :, ::-1])
    return cv2.resize(rgb, (size, size), interpolation=cv2.INTER_CUBIC)


def _center_crop_array(array: np.ndarray, size: int) -> np.ndarray:
    """:func:`center_crop` on an HWC array."""
    height, width = array.shape[:2]
    top = int(round((height - size) / 2.0))
    left = int(round((width - size) / 2.0))
    return array[top:top + size, left:left + size]


def _finish(resized: np.ndarray, transform: EvalTransform) -> np.ndarray:
    if transform.output_format == "uint8":
        return np.ascontiguousarray(resized, dtype=np.uint8)
    cropped = _center_crop_array(resized, transform.crop_size)
    return normalize_chw(np.asarray(cropped, dtype=np.uint8), transform.mean, transform.std)


def transform_image(image: Image.Image, transform: EvalTransform) -> np.ndarray:
    """Apply the default (Pillow) ``transform`` to an RGB image: uint8 HWC [256,256,3] or float32 CHW [3,224,224].

    ``squash`` decodes with OpenCV, so it goes through :func:`preprocess_file` only.
    """
    if transform.resize == "squash":
        raise PipelineError("--resize squash starts from the file (OpenCV decodes it): use preprocess_file")
    resized = center_crop(resize_shorter(image, transform.resize_size), transform.resize_size)
    return _finish(np.asarray(resized, dtype=np.uint8), transform)


def preprocess_file(path: str | Path, transform: EvalTransform) -> np.ndarray:
    """Decode and transform one image file."""
    if transform.resize == "squash":
        return _finish(squash_opencv(path, transform.resize_size), transform)
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


MANIFEST_NAME = ".preprocess.json"
MANIFEST_VERSION = 1
MANIFEST_EVERY_S = 10.0  # how often a long run records its finished outputs (what a killed run's rerun keeps)


def manifest_path(dst: str | Path) -> Path:
    """The hidden record of how a .bin folder was made: ``dst/.preprocess.json``."""
    return Path(dst) / MANIFEST_NAME


def _source_stamp(image: Path) -> dict[str, object] | None:
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


def _write_manifest(dst: Path, source: str, transform: EvalTransform, files: dict[str, dict[str, object]]) -> None:
    record = {"version": MANIFEST_VERSION, "source": source, "transform": transform.as_record(),
              "files": dict(sorted(files.items(), key=lambda item: natural_key(item[0])))}
    # Compact, one entry per line: 50,000 images make a few MB, rewritten at the start and end of a run.
    body = ",\n".join(json.dumps(k, ensure_ascii=False) + ": " + json.dumps(v) for k, v in record["files"].items())
    head = json.dumps({k: v for k, v in record.items() if k != "files"}, ensure_ascii=False)[:-1]
    atomic_write_text(manifest_path(dst), head + ', "files": {\n' + body + "\n}}\n")


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


def _plan_outputs(
    src: Path, dst: Path, images: list[Path], transform: EvalTransform, force: bool, report: PreprocessReport,
) -> tuple[list[tuple[str, str]], dict[str, dict[str, object]], str]:
    """Decide what to (re)do from the folder's manifest; returns (tasks, entries still valid, source key).

    Rules: an output is skipped only when the manifest made by the same source folder and transform
    lists it with its image's current name, size and mtime, and it has the right size. A folder made
    from another source folder or with another transform is refused (``force`` redoes it). Outputs of
    images no longer in ``src`` that the manifest lists are removed; other .bin files (not made by this
    step) are refused, naming one (``force`` removes them).
    """
    source = str(src.resolve())
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
        raise PipelineError(f"{dst}: cannot list folder: {exc.strerror or exc}") from None
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
        report.removed += 1
    if report.removed:
        report.notes.append(f"removed {report.removed} .bin file(s) of images that are not in {src}")
    if previous is None and not force and any(name in wanted for name in existing):
        report.notes.append(f"{dst}: no record of how its {len(existing)} .bin files were made: redoing them")
    if force and existing:
        report.notes.append(f"--force: redoing every output in {dst}")

    valid: dict[str, dict[str, object]] = {}
    tasks: list[tuple[str, str]] = []
    for name, image in wanted.items():
        stamp = _source_stamp(image)
        out = dst / name
        if stamp is not None and listed.get(name) == stamp and _is_up_to_date(out, transform.output_nbytes):
            valid[name] = stamp
            report.skipped += 1
        else:
            tasks.append((str(image), str(out)))
    return tasks, valid, source


def _is_up_to_date(path: Path, nbytes: int) -> bool:
    try:
        return path.stat().st_size == nbytes
    except OSError:
        return False


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
) -> PreprocessReport:
    """Write ``dst/<stem>.bin`` for every image in ``src`` with all cores; skip up-to-date outputs.

    ``workers`` defaults to every core; ``force`` redoes every output (and removes .bin files that
    are not outputs of ``src``); ``log`` receives the notes, warnings and per-image failure lines
    (default: stderr). ``dst/.preprocess.json`` records the source folder, the transform and each
    output's image (name, size, mtime): see :func:`_plan_outputs` for what a rerun skips, redoes,
    removes or refuses. A failed image does not stop the others: check ``report.ok``; a failed
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
        _import_cv2()  # a missing OpenCV is one line for the run, not one failure per image
    try:
        dst.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise PipelineError(f"{dst}: exists and is not a directory") from None
    except OSError as exc:
        raise PipelineError(f"{dst}: cannot create output folder: {exc.strerror or exc}") from None

    report = PreprocessReport(src=src, dst=dst, transform=transform, images=len(images),
                              workers=max(1, workers if workers is not None else default_workers()),
                              non_images=others)
    report.temps_removed = remove_stale_temps(dst)
    if report.temps_removed:
        report.notes.append(f"removed {report.temps_removed} temporary file(s) an interrupted run left in {dst}")
    tasks, valid, source = _plan_outputs(src, dst, images, transform, force, report)
    for note in report.notes:
        emit(note)
    stamps = {output_path(dst, Path(image)).name: _source_stamp(Path(image)) for image, _ in tasks}
    # Recorded first: a run killed from here on leaves a manifest that lists only what is known good.
    _write_manifest(dst, source, transform, valid)
    start = recorded = time.perf_counter()
    try:
        with tqdm(total=len(images), initial=report.skipped, disable=not progress, file=sys.stderr,
                  unit="img", desc="preprocess", dynamic_ncols=True) as bar:
            for (image_name, out_name), error in _run_tasks(tasks, transform, min(report.workers, len(tasks))):
                if error is None:
                    report.written += 1
                    stamp = stamps.get(Path(out_name).name)
                    if stamp is not None:
                        valid[Path(out_name).name] = stamp
                    if time.perf_counter() - recorded > MANIFEST_EVERY_S:
                        # A SIGKILL skips the final write below: what is recorded here survives it.
                        _write_manifest(dst, source, transform, valid)
                        recorded = time.perf_counter()
                else:
                    report.failures.append((Path(image_name), error))
                    emit(f"failed: {error}")
                bar.update(1)
    except BrokenProcessPool:
        raise PipelineError(f"{dst}: a worker process died (out of memory?) after {report.written} files "
                            "were written; rerun to finish the rest") from None
    finally:
        with contextlib.suppress(WriteError):  # the disk may be the very problem: the run's own error wins
            _write_manifest(dst, source, transform, valid)
    report.failures.sort(key=lambda item: natural_key(item[0].name))
    report.elapsed_s = time.perf_counter() - start
    return report
