"""What older releases of the floors in requirements-host.txt name differently, in one place.

The guide's era (Python 3.7, torch 1.6, the ModelZoo pins onnx 1.10 and numpy 1.21) lacks a few names
the code uses; each shim picks the newer name where it exists and the older one otherwise.
"""

from __future__ import annotations

import importlib
from typing import Any

import numpy as np
from PIL import Image

# Pillow >= 9.1 groups the filters and palettes in enums; older releases have them on the module.
RESAMPLING: Any = getattr(Image, "Resampling", Image)
PALETTE: Any = getattr(Image, "Palette", Image)


def onnx_to_numpy_dtype(elem_type: int) -> np.dtype:
    """numpy dtype of an ONNX ``TensorProto`` element type (``helper.tensor_dtype_to_np_dtype`` is onnx >= 1.13)."""
    from onnx import helper

    if hasattr(helper, "tensor_dtype_to_np_dtype"):
        return np.dtype(helper.tensor_dtype_to_np_dtype(elem_type))
    mapping = importlib.import_module("onnx.mapping")  # onnx < 1.13; gone from later releases
    return np.dtype(mapping.TENSOR_TYPE_TO_NP_TYPE[elem_type])


def numpy_to_onnx_dtype(dtype: Any) -> int:
    """ONNX element type of a numpy dtype (``helper.np_dtype_to_tensor_dtype`` is onnx >= 1.13)."""
    from onnx import helper

    if hasattr(helper, "np_dtype_to_tensor_dtype"):
        return int(helper.np_dtype_to_tensor_dtype(np.dtype(dtype)))
    mapping = importlib.import_module("onnx.mapping")  # onnx < 1.13
    return int(mapping.NP_TYPE_TO_TENSOR_TYPE[np.dtype(dtype)])
