"""Precision names and their mapping: ATC's ``--precision_mode`` values, what the model records, what runs.

A converted model records the precision it is meant to run at in its metadata
(:data:`senet_infer.modelmeta.PRECISION_KEY`), one of :data:`PRECISIONS`:

* fp32, fp16, bf16: ATC's ``--precision_mode`` values as :data:`PRECISION_MODES` maps them (the one table of
  them; :func:`describe_modes` words it)
* int8: a model quantized before conversion (``amct_calibrate.py``, AMCT on Ascend); its int8
  layers are in the graph (QuantizeLinear/DequantizeLinear pairs), the rest runs at fp32.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Dict

from .errors import PipelineError

if TYPE_CHECKING:
    import onnx

DEFAULT_PRECISION = "fp32"  # of a model that records none, and of --precision_mode when not given
FLOAT_PRECISIONS = ("fp32", "fp16", "bf16")  # what --precision_mode selects
PRECISIONS = FLOAT_PRECISIONS + ("int8",)  # what a model may record
PRECISION_MODES: Dict[str, str] = {
    "fp32": "fp32", "force_fp32": "fp32", "must_keep_origin_dtype": "fp32",
    "fp16": "fp16", "force_fp16": "fp16", "allow_fp32_to_fp16": "fp16", "cube_fp16in_fp32out": "fp16",
    "allow_mix_precision": "fp16", "allow_mix_precision_fp16": "fp16",
    "bf16": "bf16", "allow_fp32_to_bf16": "bf16", "allow_mix_precision_bf16": "bf16",
}
QUANTIZED_OPS = frozenset({"QuantizeLinear", "DequantizeLinear", "QLinearConv", "QLinearMatMul",
                           "ConvInteger", "MatMulInteger", "DynamicQuantizeLinear"})


def is_quantized(model: onnx.ModelProto) -> bool:
    """Whether an ONNX model's graph holds quantization ops (QDQ pairs or integer kernels): an int8 model.

    The one place int8 is told from the graph; the converter records it as the model's precision, which is
    what the runner reads (:func:`senet_infer.modelmeta.model_precision`).
    """
    return any(node.op_type in QUANTIZED_OPS for node in model.graph.node)


def precision_of(mode: str) -> str:
    """Map an ATC ``--precision_mode`` value (or fp32/fp16/bf16) to fp32 | fp16 | bf16."""
    try:
        return PRECISION_MODES[mode]
    except KeyError:
        raise PipelineError(
            f"--precision_mode={mode}: unknown value (choose from {', '.join(PRECISION_MODES)})"
        ) from None


def describe_modes() -> str:
    """One line per precision with the ``--precision_mode`` values that select it: ``fp32 <- fp32, force_fp32, ...``."""
    return "\n".join(f"  {precision} <- " + ", ".join(m for m, p in PRECISION_MODES.items() if p == precision)
                     for precision in FLOAT_PRECISIONS)


def float_precision(precision: str) -> str:
    """The arithmetic of a model's non-quantized layers: int8 models keep fp32 around their int8 layers."""
    return "fp32" if precision == "int8" else precision


def is_reduced(precision: str) -> bool:
    """Whether results at ``precision`` are expected to drift from fp32 (reported, not held to fp32's tolerance)."""
    return precision != "fp32"
