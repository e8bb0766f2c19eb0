"""Step 1: images -> model-input arrays (uint8 RGB 256x256 for AIPP, or normalised fp32 NCHW 224x224).

:mod:`.transform`: one image to one array; :mod:`.outputs`: the .bin folder's names, manifest and
rerun plan; :mod:`.folder`: a whole folder on every core. ``imagenet_torch_preprocess.py`` is the CLI.
"""

from __future__ import annotations

from .folder import PreprocessResult, check_destination, list_images, preprocess_folder
from .outputs import MANIFEST_NAME, OUTPUT_SUFFIX, made_elsewise, manifest_path, output_path, read_sources
from .transform import (
           FORMATS,
           RESIZE_MODES,
           EvalTransform,
           center_crop,
           load_rgb,
           normalize_chw,
           photo_like_inputs,
           preprocess_file,
           resize_shorter,
           squash_opencv,
           transform_image,
)

__all__ = ["FORMATS", "MANIFEST_NAME", "OUTPUT_SUFFIX", "RESIZE_MODES", "EvalTransform", "PreprocessResult", "center_crop",
           "check_destination", "list_images", "load_rgb", "made_elsewise", "manifest_path",
           "normalize_chw", "output_path", "photo_like_inputs", "preprocess_file", "preprocess_folder", "read_sources",
           "resize_shorter", "squash_opencv", "transform_image"]
