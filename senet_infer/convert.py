"""Step 3, portably: ATC's ONNX conversion as an ONNX -> ONNX rewrite (fixed batch, AIPP fused in the graph).

ATC compiles ``--model`` into an Ascend offline model ``<output>.om``. Here ``<output>.onnx`` is
written instead, with what ATC changes about the model's interface (:func:`senet_infer.onnxgraph.build_converted`):
the inputs take the static shape of ``--input_shape`` (outputs follow), and with ``--insert_op_conf`` each AIPP
block's input becomes uint8 NHWC ``[N, src_h, src_w, C]`` (same input name), the AIPP steps running as ONNX ops
in front of the network.

Precision. ATC's ``--precision_mode`` sets the arithmetic of the compiled model. The graph written
here stays fp32; the requested precision (fp32 | fp16 | bf16, mapped from ATC's modes by
:func:`senet_infer.precision.precision_of`; int8 for a graph already quantized) is stored in the model's
metadata, where the runner's backends read it: OpenVINO uses it as its inference precision hint (bf16 runs on
AMX where the CPU has it), ONNX Runtime on CPU runs fp32 only. The other ATC flags are recorded under
``senet_infer.<flag>``, the AIPP blocks as JSON: every key is in :mod:`senet_infer.modelmeta`, which also reads
them back.

Before anything is written the converted model passes ``onnx.checker`` (full check) and, unless
skipped, a fidelity check: on a batch of photo-like uint8 images, ONNX Runtime's output of the
converted model must match the source model fed :func:`apply_aipp` of the same images
(relative error < :data:`FIDELITY_TOLERANCE`).
"""

from __future__ import annotations

import argparse
import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Dict, List, Optional

import numpy as np

from .agreement import Agreement
from .aipp import AippOp, apply_aipp, parse_aipp_config
from .atc import check_flags, given_flags, out_node_tensors, precision_mode
from .errors import PipelineError, first_line
from .fileio import atomic_write_bytes
from .modelmeta import (
    AIPP_KEY,
    INPUT_SHAPE_KEY,
    METADATA_PREFIX,
    PRECISION_KEY,
    SOURCE_KEY,
    aipp_entry,
    metadata_of,
    store_metadata,
)
from .onnxgraph import (
    TensorSignature,
    build_converted,
    format_input_shape,
    model_inputs,
    onnx_module,
    parse_input_shape,
    resolve_model_aipp,
    signatures,
)
from .precision import DEFAULT_PRECISION, is_quantized, precision_of

if TYPE_CHECKING:
    import onnx

FRAMEWORKS = {0: "Caffe", 1: "MindSpore", 3: "TensorFlow", 5: "ONNX"}
ONNX_FRAMEWORK = 5
FIDELITY_TOLERANCE = 1e-5
# An int8 model quantizes the AIPP output: a last-bit difference between ONNX's and numpy's AIPP
# arithmetic can move a value across a rounding boundary, so the same graph agrees less closely.
INT8_FIDELITY_TOLERANCE = 1e-2


def output_path_for(output: str | os.PathLike[str]) -> Path:
    """ATC's ``--output`` is a path without extension: the model goes to ``<output>.onnx``."""
    text = os.fspath(output)
    return Path(text if text.endswith(".onnx") else text + ".onnx")


class FidelityError(PipelineError):
    """The converted model does not compute what the source model (+ AIPP) computes; nothing was written."""

    def __init__(self, agreement: Agreement, path: Path) -> None:
        super().__init__(f"{path}: not written: {agreement.line()}")
        self.agreement = agreement


@dataclass(frozen=True)
class ConversionResult:
    """What :func:`convert_model` wrote."""

    path: Path
    precision: str
    inputs: tuple[TensorSignature, ...]
    outputs: tuple[TensorSignature, ...]
    fidelity: Agreement | None


# ---------------------------------------------------------------------------------------------
# Fidelity check


def photo_like_uint8(count: int, height: int, width: int, seed: int) -> np.ndarray:
    """uint8 NHWC [count, height, width, 3] photo-like images; square ones go through step 1's transform."""
    from .preprocess import EvalTransform, photo_like_inputs
    from .synthetic import photo_like_image

    if height == width:
        # Step 1's default output: shorter side resized to the size, then centre-cropped.
        return photo_like_inputs(count, seed, EvalTransform(resize_size=height), (width, 2 * width))
    rng = np.random.default_rng(seed)
    return np.stack([np.asarray(photo_like_image(rng, width, height), dtype=np.uint8) for _ in range(count)])


def _sample_input(value: TensorSignature, seed: int) -> np.ndarray:
    """A feed for an input without AIPP: normalised photo-like images for float NCHW, else seeded noise."""
    from .imagenet import MEAN, STD
    from .preprocess import normalize_chw

    shape = tuple(int(d) for d in value.shape)
    if value.dtype == "float32" and len(shape) == 4 and shape[1] == 3:
        images = photo_like_uint8(shape[0], shape[2], shape[3], seed)
        return np.stack([normalize_chw(image, MEAN, STD) for image in images])
    rng = np.random.default_rng(seed)
    if np.issubdtype(np.dtype(value.dtype), np.integer):
        return rng.integers(0, 256, size=shape).astype(value.dtype)
    return rng.standard_normal(shape).astype(value.dtype)


def check_converted(
    converted: onnx.ModelProto | str | os.PathLike[str],
    source: str | os.PathLike[str],
    aipp_ops: Sequence[AippOp] | None = None,
    seed: int = 2024,
    tolerance: float = FIDELITY_TOLERANCE,
) -> Agreement:
    """Run photo-like inputs through the converted model and through ``source`` (+ numpy AIPP); compare.

    The batch is the converted model's static batch. ONNX Runtime, CPU, fp32.
    """
    onnx = onnx_module()
    import onnxruntime as ort

    model = converted if isinstance(converted, onnx.ModelProto) else onnx.load(os.fspath(converted))
    payload = model.SerializeToString()
    ops_by_rank = {op.related_input_rank: op for op in aipp_ops or ()}
    feed_converted: dict[str, np.ndarray] = {}
    feed_source: dict[str, np.ndarray] = {}
    images = 0
    for rank, value in enumerate(signatures(model_inputs(model))):
        if any(not isinstance(d, int) for d in value.shape):
            raise PipelineError(f"converted model input {value}: not static, cannot check it")
        op = ops_by_rank.get(rank)
        if op is not None:
            batch = photo_like_uint8(int(value.shape[0]), *op.src_hw, seed=seed + rank)
            feed_converted[value.name] = batch
            feed_source[value.name] = apply_aipp(batch, op)
        else:
            feed_converted[value.name] = feed_source[value.name] = _sample_input(value, seed + rank)
        images = max(images, int(value.shape[0]))

    providers = ["CPUExecutionProvider"]
    actual = ort.InferenceSession(payload, providers=providers).run(None, feed_converted)
    reference = ort.InferenceSession(os.fspath(source), providers=providers).run(None, feed_source)
    declared = signatures(model.graph.output)
    for out, sig in zip(actual, declared):
        if any(isinstance(d, int) and d != n for d, n in zip(sig.shape, out.shape)) or len(sig.shape) != out.ndim:
            raise PipelineError(f"converted model output {sig} does not match the computed shape {list(out.shape)}")
    def rows(outputs: Sequence[np.ndarray]) -> np.ndarray:
        # One row per image when every output is batch-first, else everything as one row.
        if all(o.ndim >= 1 and o.shape[0] == images for o in outputs):
            return np.concatenate([o.reshape(images, -1) for o in outputs], axis=1)
        return np.concatenate([np.ravel(o) for o in outputs]).reshape(1, -1)

    what = "dynamic+numpy AIPP" if ops_by_rank else "dynamic"
    return Agreement.from_logits(rows(actual), rows(reference), tolerance=tolerance,
                                 subject=f"fidelity: converted vs {what}")


# ---------------------------------------------------------------------------------------------
# The conversion


def convert_model(
    model_path: str | os.PathLike[str],
    output: str | os.PathLike[str],
    input_shape: Mapping[str, tuple[int, ...]] | None = None,
    aipp_ops: Sequence[AippOp] | None = None,
    precision: str = DEFAULT_PRECISION,
    metadata: Mapping[str, str] | None = None,
    check: bool = True,
) -> ConversionResult:
    """Convert ``model_path`` to ``<output>.onnx`` (see the module docstring); written only if every check passes.

    ``precision`` is fp32 | fp16 | bf16 or an ATC precision_mode; ``metadata`` adds string entries
    to ``metadata_props``. Raises :class:`FidelityError` (a :class:`PipelineError`) when the
    fidelity check fails, and leaves no output file then.
    """
    onnx = onnx_module()
    model_path = Path(model_path)
    out_path = output_path_for(output)
    if not model_path.is_file():
        raise PipelineError(f"{model_path}: model not found")
    if out_path.exists() and out_path.resolve() == model_path.resolve():
        raise PipelineError(f"{out_path}: the output would overwrite the input model; choose another --output")
    precision = precision_of(precision)
    try:
        source = onnx.load(os.fspath(model_path))
    except Exception as exc:  # protobuf raises DecodeError and others for a foreign file
        raise PipelineError(f"{model_path}: not an ONNX model: {first_line(exc)}") from None
    if is_quantized(source):
        precision = "int8"  # quantized before conversion (AMCT / amct_calibrate.py); the rest stays fp32
    ops = resolve_model_aipp(source, input_shape, aipp_ops)
    record = {
        PRECISION_KEY: precision,
        INPUT_SHAPE_KEY: format_input_shape(input_shape or {}),
        SOURCE_KEY: model_path.name,
        **({AIPP_KEY: aipp_entry(ops)} if ops else {}),
        **(metadata or {}),
    }
    converted = build_converted(source, input_shape, ops)
    store_metadata(converted, {**metadata_of(converted), **record})
    try:
        onnx.checker.check_model(converted, full_check=True)
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as exc:
        raise PipelineError(f"{out_path}: converted model fails onnx.checker: {first_line(exc)}") from None
    tolerance = INT8_FIDELITY_TOLERANCE if precision == "int8" else FIDELITY_TOLERANCE
    agreement = check_converted(converted, model_path, ops, tolerance=tolerance) if check else None
    if agreement is not None and not agreement.passed:
        raise FidelityError(agreement, out_path)
    atomic_write_bytes(out_path, converted.SerializeToString())
    return ConversionResult(
        path=out_path,
        precision=precision,
        inputs=signatures(model_inputs(converted)),
        outputs=signatures(converted.graph.output),
        fidelity=agreement,
    )


# ---------------------------------------------------------------------------------------------
# ATC's command line (aipp_convert.py)


@dataclass(frozen=True)
class AtcConversion:
    """What :func:`convert_atc_args` wrote, and the AIPP blocks of ``--insert_op_conf`` (None without it)."""

    result: ConversionResult
    aipp_ops: Optional[List[AippOp]]


def cut_to_outputs(model_path: str, text: str, folder: str) -> Path:
    """``--out_nodes``: the source model cut to the chosen outputs (the model itself when they are its outputs)."""
    import onnx
    import onnx.utils

    model = onnx.load(model_path)
    tensors = out_node_tensors(model, text)
    if tensors == [value.name for value in model.graph.output]:
        return Path(model_path)
    initializers = {init.name for init in model.graph.initializer}
    inputs = [value.name for value in model.graph.input if value.name not in initializers]
    cut = Path(folder) / Path(model_path).name
    onnx.utils.extract_model(model_path, str(cut), inputs, tensors)
    return cut


def atc_metadata(args: argparse.Namespace, framework: int, input_format: str, precision: str) -> Dict[str, str]:
    """The ATC flags a converted model records, each under ``senet_infer.<flag>`` (:mod:`.modelmeta` reads them);
    the model, output and input shape are recorded by :func:`convert_model` itself."""
    recorded = {**given_flags(args), "framework": str(framework), "input_format": input_format,
                "precision_mode": precision}
    return {METADATA_PREFIX + key: value for key, value in recorded.items()
            if key not in ("model", "output", "input_shape")}


def convert_atc_args(args: argparse.Namespace, *, check: bool = True,
                     log: Callable[[str], None] = print) -> AtcConversion:
    """``aipp_convert.py``: ATC's flags (parsed by :func:`senet_infer.atc.parse_atc_args`) checked, the model
    converted; the notes on flags with no effect off Ascend go to ``log``."""
    notes = check_flags(args)
    try:
        framework = int(args.framework)
    except ValueError:
        raise PipelineError(f"--framework={args.framework}: not a number (5 = ONNX)") from None
    if framework != ONNX_FRAMEWORK:
        known = f" ({FRAMEWORKS[framework]})" if framework in FRAMEWORKS else ""
        raise PipelineError(f"--framework={framework}{known} is not supported by the portable converter: "
                            f"only {ONNX_FRAMEWORK} (ONNX)")
    input_format = args.input_format or "NCHW"
    if input_format != "NCHW":
        raise PipelineError(f"--input_format={input_format} is not supported by the portable converter: only NCHW")
    shapes = parse_input_shape(args.input_shape) if args.input_shape is not None else None
    ops = parse_aipp_config(args.insert_op_conf) if args.insert_op_conf else None
    precision = precision_mode(args)
    for note in notes:
        log(note)
    metadata = atc_metadata(args, framework, input_format, precision)
    with tempfile.TemporaryDirectory(prefix="aipp_convert_") as folder:
        source = cut_to_outputs(args.model, args.out_nodes, folder) \
            if args.out_nodes and Path(args.model).is_file() else args.model
        result = convert_model(source, args.output, shapes, ops, precision=precision, metadata=metadata, check=check)
    return AtcConversion(result, ops)
