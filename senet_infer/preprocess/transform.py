"""Step 1's transform: how one image file becomes a model input (uint8 RGB 256x256 for AIPP, or normalised fp32 NCHW).

The Pillow path follows torchvision's eval preset (Resize, CenterCrop, ToTensor, Normalize); ``squash``
is the ModelZoo original's OpenCV path, byte for byte.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Tuple

import numpy as np
from PIL import Image, UnidentifiedImageError

from .. import imagenet
from ..compat import RESAMPLING
from ..errors import PipelineError

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


def import_cv2() -> Any:  # cv2's module, untyped
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
    cv2 = import_cv2()
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


def photo_like_inputs(count: int, seed: int, transform: EvalTransform, sizes: Tuple[int, int]) -> np.ndarray:
    """``count`` seeded photo-like images (width, then height, drawn from ``[sizes[0], sizes[1])``) through
    ``transform``, stacked: the inputs the demo model is calibrated on and the converter's checks are fed."""
    from ..synthetic import photo_like_image

    rng = np.random.default_rng(seed)
    return np.stack([transform_image(photo_like_image(rng, int(rng.integers(*sizes)), int(rng.integers(*sizes))), transform)
                     for _ in range(count)])
