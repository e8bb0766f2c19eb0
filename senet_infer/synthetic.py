"""Seeded photo-like images for tests, demos, benchmarks and BatchNorm calibration.

White noise is a poor stand-in for photos: a network amplifies its rounding differences into
chaotic outputs. These images are smooth colour fields with shapes and mild texture, like photos.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from .compat import PALETTE, RESAMPLING
from .fileio import atomic_path

# (file suffix, PIL mode, save format) of the assorted kinds a real folder holds.
IMAGE_KINDS: tuple[tuple[str, str, str], ...] = (
    (".JPEG", "RGB", "JPEG"),
    (".JPEG", "L", "JPEG"),
    (".JPEG", "CMYK", "JPEG"),
    (".png", "P", "PNG"),
    (".png", "RGBA", "PNG"),
    (".jpg", "RGB", "JPEG"),
)


def photo_like_image(rng: np.random.Generator, width: int, height: int) -> Image.Image:
    """An RGB image with smooth gradients, a few filled shapes and mild texture."""
    grid = rng.integers(0, 256, size=(int(rng.integers(2, 6)), int(rng.integers(2, 6)), 3), dtype=np.uint8)
    image = Image.fromarray(grid, "RGB").resize((width, height), RESAMPLING.BICUBIC)
    draw = ImageDraw.Draw(image)
    for _ in range(int(rng.integers(2, 7))):
        x0, x1 = sorted(rng.integers(0, width, size=2).tolist())
        y0, y1 = sorted(rng.integers(0, height, size=2).tolist())
        colour = tuple(int(c) for c in rng.integers(0, 256, size=3))
        if rng.random() < 0.5:
            draw.ellipse((x0, y0, x1 + 1, y1 + 1), fill=colour)
        else:
            draw.rectangle((x0, y0, x1 + 1, y1 + 1), fill=colour)
    image = image.filter(ImageFilter.GaussianBlur(radius=float(rng.uniform(0.5, 3.0))))
    pixels = np.asarray(image, dtype=np.int16)
    pixels = pixels + rng.normal(0.0, 4.0, size=pixels.shape).round().astype(np.int16)
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")


def save_image(image: Image.Image, path: Path, mode: str, fmt: str, quality: int = 90) -> None:
    """Convert ``image`` to ``mode`` and save it atomically in ``fmt``."""
    converted = image.convert(mode) if mode != "P" else image.convert("P", palette=PALETTE.ADAPTIVE)
    if mode == "RGBA":
        alpha = Image.linear_gradient("L").resize(image.size)
        converted.putalpha(alpha)
    with atomic_path(path) as tmp:
        options = {"quality": quality} if fmt == "JPEG" else {}
        converted.save(tmp, format=fmt, **options)


def make_image_folder(
    folder: str | Path,
    count: int,
    seed: int = 0,
    *,
    assorted: bool = True,
    size: tuple[int, int] | None = None,
    prefix: str = "ILSVRC2012_val_",
) -> list[Path]:
    """Write ``count`` seeded photo-like images into ``folder``; return their paths in order.

    ``assorted`` cycles through RGB/grayscale/CMYK JPEGs and palette/RGBA PNGs with varied sizes;
    otherwise every image is an RGB JPEG of ``size`` (default 500x375, ImageNet-like), quality 90.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(count):
        if assorted:
            suffix, mode, fmt = IMAGE_KINDS[i % len(IMAGE_KINDS)]
            width, height = int(rng.integers(160, 640)), int(rng.integers(160, 640))
        else:
            suffix, mode, fmt = ".JPEG", "RGB", "JPEG"
            width, height = size or (500, 375)
        path = folder / f"{prefix}{i + 1:08d}{suffix}"
        save_image(photo_like_image(rng, width, height), path, mode, fmt)
        paths.append(path)
    return paths
