"""Step 2: SE-ResNet50 (PyTorch) -> dynamic-batch ONNX, checked and compared with ONNX Runtime."""

from __future__ import annotations

import inspect
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from . import imagenet
from .agreement import Agreement
from .errors import PipelineError
from .fileio import atomic_path

if TYPE_CHECKING:  # torch is imported when a model is exported, so the I/O names above need no torch
    import torch
    from torch import nn

OPSET = 11
INPUT_NAME = "image"
OUTPUT_NAME = "class"
FIDELITY_TOLERANCE = 1e-5


def input_shapes(batch: int) -> dict[str, tuple[int, int, int, int]]:
    """The model's one input at a static batch, as ATC's and AMCT's ``--input_shape`` name it:
    ``{"image": (batch, 3, 224, 224)}``."""
    return {INPUT_NAME: (batch, 3, imagenet.CROP_SIZE, imagenet.CROP_SIZE)}


def exporter_options(export: Callable[..., Any]) -> dict[str, Any]:
    """Keyword arguments that pick the TorchScript exporter: ``dynamo=False`` where ``export`` has it.

    torch 2.5 added ``dynamo=`` (and 2.9 made the dynamo exporter the default); torch 1.6 to 2.4
    have only the TorchScript exporter and no such argument. Detected from the signature, not
    from a version string.
    """
    try:
        parameters = inspect.signature(export).parameters
    except (TypeError, ValueError):  # a builtin without a signature: assume the old interface
        return {}
    return {"dynamo": False} if "dynamo" in parameters else {}


def export_onnx(model: nn.Module, path: str | Path, opset: int = OPSET) -> Path:
    """Export with input ``image`` [batch,3,224,224] and output ``class`` [batch,classes], batch dynamic."""
    import onnx
    import torch

    path = Path(path)
    dummy = torch.zeros(1, 3, imagenet.CROP_SIZE, imagenet.CROP_SIZE)
    with atomic_path(path) as tmp, warnings.catch_warnings():
        # The TorchScript exporter is the one that still writes opset 11, the guide's opset.
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(
            model.eval(),
            (dummy,),
            str(tmp),
            opset_version=opset,
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            dynamic_axes={INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}},
            do_constant_folding=True,
            **exporter_options(torch.onnx.export),
        )
        try:
            onnx.checker.check_model(str(tmp), full_check=True)
        except onnx.checker.ValidationError as exc:
            raise PipelineError(f"{path}: exported model fails onnx.checker: {exc}") from None
    return path




def check_fidelity(model: nn.Module, onnx_path: str | Path, inputs: torch.Tensor) -> Agreement:
    """Run ``inputs`` through PyTorch and through ONNX Runtime (CPU, fp32) and compare."""
    import onnxruntime as ort
    import torch

    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    with torch.no_grad():
        reference = model.eval()(inputs).numpy()
    (actual,) = session.run([OUTPUT_NAME], {INPUT_NAME: inputs.numpy()})
    return Agreement.from_logits(actual, reference, tolerance=FIDELITY_TOLERANCE,
                                 subject="fidelity: ONNX Runtime vs PyTorch")
