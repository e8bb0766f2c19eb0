"""Step 1: images -> model-input arrays (uint8 RGB 256x256 for AIPP, or normalised fp32 NCHW 224x224)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from . import imagenet
from .errors import PipelineError

RESIZE_MODES = ("shorter", "squash")
FORMATS = ("uint8", "fp32")


@dataclass(frozen=True, kw_only=True)
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
