"""ImageNet evaluation constants (the protocol the pretrainedmodels weights were published under)."""

from __future__ import annotations

MEAN: tuple[float, float, float] = (0.485, 0.456, 0.406)
STD: tuple[float, float, float] = (0.229, 0.224, 0.225)
RESIZE_SIZE = 256  # shorter side after resize; also the side of the uint8 .bin images (AIPP input)
CROP_SIZE = 224  # network input side
NUM_CLASSES = 1000
IMAGE_EXTENSIONS = (".jpeg", ".jpg", ".png")
