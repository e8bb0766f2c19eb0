"""Images and references for the step 1 tests: seeded images of every kind, torchvision's and the original's bytes.

The reference for every pixel is torchvision applied to ``Image.open(p).convert('RGB')``; for ``--resize squash``
the ModelZoo original's OpenCV calls.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from senet_infer import imagenet
from senet_infer.compat import PALETTE
from senet_infer.synthetic import photo_like_image, save_image

# requirements-host.txt leaves OpenCV out (a guide-era host has opencv-python; only --resize squash uses it)
needs_cv2 = pytest.mark.skipif(importlib.util.find_spec("cv2") is None,
                               reason="OpenCV is not installed (requirements-host.txt leaves it out; "
                                      "only --resize squash uses it)")

KINDS = ("rgb", "gray", "cmyk", "palette", "palette_transparent", "rgba")
# Landscape, portrait, an upscale (shorter side < 256) and odd sizes where rounding of the long side matters.
SIZES = ((500, 375), (201, 333), (300, 257))


def original_squash(path: Path) -> bytes:
    """The ModelZoo original's step 1, re-implemented from its documented behaviour.

    ``cv2.imread`` (BGR, 3 channels), channels split and merged back as R, G, B, ``cv2.resize`` to
    (256, 256) with INTER_CUBIC, cast to int8, raw bytes.
    """
    import cv2

    image = cv2.imread(str(path))
    b, g, r = cv2.split(image)
    rgb = cv2.merge([r, g, b])
    return np.array(cv2.resize(rgb, (256, 256), interpolation=cv2.INTER_CUBIC), dtype=np.int8).tobytes()


def torchvision_uint8(path: Path) -> bytes:
    """The contract: torchvision Resize(256) + CenterCrop(256) on the RGB image, as HWC uint8 bytes."""
    from torchvision import transforms as T
    image = Image.open(path).convert("RGB")
    return np.asarray(T.CenterCrop(256)(T.Resize(256)(image)), dtype=np.uint8).tobytes()


def torchvision_fp32(path: Path) -> np.ndarray:
    """The standard ImageNet eval transform as float32 CHW."""
    from torchvision import transforms as T
    pipeline = T.Compose([T.Resize(256), T.CenterCrop(224), T.ToTensor(),
                          T.Normalize(imagenet.MEAN, imagenet.STD)])
    return pipeline(Image.open(path).convert("RGB")).numpy()


def write_kind(path: Path, kind: str, size: tuple[int, int], seed: int) -> Path:
    """One seeded photo-like image of ``kind``: rgb/gray/cmyk JPEG, palette(+transparency)/rgba PNG."""
    image = photo_like_image(np.random.default_rng(seed), *size)
    if kind == "palette_transparent":
        palette = image.convert("P", palette=PALETTE.ADAPTIVE)
        palette.save(path, format="PNG", transparency=0)
    else:
        mode, fmt = {"rgb": ("RGB", "JPEG"), "gray": ("L", "JPEG"), "cmyk": ("CMYK", "JPEG"),
                     "palette": ("P", "PNG"), "rgba": ("RGBA", "PNG")}[kind]
        save_image(image, path, mode, fmt)
    return path
