"""Step 3, portably: ATC's ONNX conversion as an ONNX -> ONNX rewrite (fixed batch, AIPP fused in the graph).

ATC compiles ``--model`` into an Ascend offline model ``<output>.om``. Here ``<output>.onnx`` is
written instead, with what ATC changes about the model's interface:

* the inputs take the static shape of ``--input_shape`` (outputs follow);
* with ``--insert_op_conf``, each AIPP block's input becomes uint8 NHWC ``[N, src_h, src_w, C]``
  (same input name) and the AIPP steps run as ONNX ops (opset 11) in front of the network:
  Gather (R/B swap, if set), Slice (crop), Cast to float, Sub (mean_chn + min_chn),
  Mul (var_reci_chn), Transpose to NCHW — the arithmetic of :func:`senet_infer.aipp.apply_aipp`.

Precision. ATC's ``--precision_mode`` sets the arithmetic of the compiled model. The graph written
here stays fp32; the requested precision is stored in the model's ``metadata_props`` under
``senet_infer.precision`` (:data:`PRECISION_KEY`) as one of fp32 | fp16 | bf16, and the runner's
backends read it: OpenVINO uses it as its inference precision hint (bf16 runs on AMX where the
CPU has it), ONNX Runtime on CPU runs fp32 only. Mapping (:data:`PRECISION_MODES`):

* fp32: ``fp32``, ``force_fp32``, ``must_keep_origin_dtype`` (the source model is fp32)
* fp16: ``fp16``, ``force_fp16``, ``allow_fp32_to_fp16``, ``allow_mix_precision``, ``allow_mix_precision_fp16``
* bf16: ``bf16``, ``allow_fp32_to_bf16``, ``allow_mix_precision_bf16``

The other ATC flags (``--soc_version``, ``--log``, ``--enable_small_channel``, ...) are recorded
under ``senet_infer.<flag>``; the AIPP blocks as JSON under ``senet_infer.aipp``.

Before anything is written the converted model passes ``onnx.checker`` (full check) and, unless
skipped, a fidelity check: on a batch of photo-like uint8 images, ONNX Runtime's output of the
converted model must match the source model fed :func:`apply_aipp` of the same images
(relative error < :data:`FIDELITY_TOLERANCE`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .agreement import Agreement
from .aipp import AippOp, apply_aipp, resolve_aipp_ops
from .errors import PipelineError
from .fileio import atomic_write_bytes
from .precision import PRECISION_KEY, PRECISION_MODES, PRECISIONS, QUANTIZED_OPS, precision_of  # noqa: F401 (re-exported)

if TYPE_CHECKING:
    import onnx

METADATA_PREFIX = "senet_infer."
AIPP_KEY = METADATA_PREFIX + "aipp"
INPUT_SHAPE_KEY = METADATA_PREFIX + "input_shape"
SOURCE_KEY = METADATA_PREFIX + "source_model"
FRAMEWORKS = {0: "Caffe", 1: "MindSpore", 3: "TensorFlow", 5: "ONNX"}
ONNX_FRAMEWORK = 5
FIDELITY_TOLERANCE = 1e-5
# An int8 model quantizes the AIPP output: a last-bit difference between ONNX's and numpy's AIPP
# arithmetic can move a value across a rounding boundary, so the same graph agrees less closely.
INT8_FIDELITY_TOLERANCE = 1e-2
MIN_OPSET = 11  # Slice with starts/ends as inputs needs 10; the guide's models are 11


def parse_input_shape(text: str) -> dict[str, tuple[int, ...]]:
    """Parse ATC's ``--input_shape`` (``name:n,c,h,w[;name2:...]``) into {name: shape}; static dims only."""
    shapes: dict[str, tuple[int, ...]] = {}
    for part in text.split(";"):
        part = part.strip()
        if not part:
            continue
        name, colon, dims_text = part.rpartition(":")
        name = name.strip()
        if not colon or not name:
            raise PipelineError(f"--input_shape={text}: {part!r} is not 'name:d0,d1,...' (e.g. image:32,3,224,224)")
        dims: list[int] = []
        for dim in dims_text.split(","):
            dim = dim.strip()
            try:
                value = int(dim)
            except ValueError:
                raise PipelineError(f"--input_shape={text}: {name}: {dim!r} is not an integer dimension") from None
            if value <= 0:
                raise PipelineError(f"--input_shape={text}: {name}: dimension {value} must be > 0 "
                                    f"(dynamic dimensions are not supported; give a fixed size)")
            dims.append(value)
        if name in shapes:
            raise PipelineError(f"--input_shape={text}: {name} is given twice")
        shapes[name] = tuple(dims)
    if not shapes:
        raise PipelineError(f"--input_shape={text!r}: no input shape given (e.g. image:32,3,224,224)")
    return shapes


def format_input_shape(shapes: Mapping[str, Sequence[int]]) -> str:
    """The ``--input_shape`` text of ``shapes``."""
    return ";".join(f"{name}:{','.join(map(str, dims))}" for name, dims in shapes.items())


def output_path_for(output: str | os.PathLike[str]) -> Path:
    """ATC's ``--output`` is a path without extension: the model goes to ``<output>.onnx``."""
    text = os.fspath(output)
    return Path(text if text.endswith(".onnx") else text + ".onnx")


@dataclass(frozen=True)
class TensorSignature:
    """Name, element type and shape of one model input or output (a str for a symbolic dim)."""

    name: str
    dtype: str
    shape: tuple[int | str, ...]

    def __str__(self) -> str:
        return f"{self.name}: {self.dtype} [{', '.join(map(str, self.shape))}]"




class FidelityError(PipelineError):
    """The converted model does not compute what the source model (+ AIPP) computes; nothing was written."""

    def __init__(self, report: Agreement, path: Path) -> None:
        super().__init__(f"{path}: not written: {report.line()}")
        self.report = report


@dataclass(frozen=True)
class ConversionResult:
    """What :func:`convert_model` wrote."""

    path: Path
    precision: str
    inputs: tuple[TensorSignature, ...]
    outputs: tuple[TensorSignature, ...]
    fidelity: Agreement | None


# ---------------------------------------------------------------------------------------------
# Graph surgery


def _onnx():
    import onnx  # heavy; only when a model is converted
    import onnx.numpy_helper  # noqa: F401  (onnx 1.13 does not import it with the package)

    return onnx


def _dtype_name(elem_type: int) -> str:
    from .compat import onnx_to_numpy_dtype

    return str(onnx_to_numpy_dtype(elem_type)) if elem_type else "undefined"


def signatures(values: Sequence[onnx.ValueInfoProto]) -> tuple[TensorSignature, ...]:
    """Signatures of graph inputs or outputs."""
    result = []
    for value in values:
        tensor = value.type.tensor_type
        dims = tuple(d.dim_value if d.HasField("dim_value") else (d.dim_param or "?") for d in tensor.shape.dim)
        result.append(TensorSignature(value.name, _dtype_name(tensor.elem_type), dims))
    return tuple(result)


def model_inputs(model: onnx.ModelProto) -> list[onnx.ValueInfoProto]:
    """The graph inputs a caller feeds (old exporters also list initializers as inputs)."""
    initializers = {init.name for init in model.graph.initializer}
    return [value for value in model.graph.input if value.name not in initializers]


def _all_names(graph: onnx.GraphProto) -> set[str]:
    names = {v.name for v in (*graph.input, *graph.output, *graph.value_info)}
    names.update(init.name for init in graph.initializer)
    for node in graph.node:
        names.update(node.input)
        names.update(node.output)
        names.add(node.name)
    return names


def _unique(base: str, taken: set[str]) -> str:
    name, k = base, 1
    while name in taken:
        name, k = f"{base}_{k}", k + 1
    taken.add(name)
    return name


def _rename_uses(graph: onnx.GraphProto, old: str, new: str) -> None:
    """Point every consumer of ``old`` (subgraphs included) at ``new``."""
    onnx = _onnx()
    for node in graph.node:
        for i, name in enumerate(node.input):
            if name == old:
                node.input[i] = new
        for attr in node.attribute:
            if attr.type == onnx.AttributeProto.GRAPH:
                _rename_uses(attr.g, old, new)
            elif attr.type == onnx.AttributeProto.GRAPHS:
                for sub in attr.graphs:
                    _rename_uses(sub, old, new)


def _fix_input_shapes(model: onnx.ModelProto, shapes: Mapping[str, tuple[int, ...]], shape_text: str) -> None:
    """Give the inputs the static shapes of ``--input_shape`` and carry the batch to the outputs."""
    inputs = {value.name: value for value in model_inputs(model)}
    for name in shapes:
        if name not in inputs:
            raise PipelineError(f"--input_shape={shape_text}: the model has no input {name!r} "
                                f"(its inputs: {', '.join(inputs) or 'none'})")
    symbols: dict[str, int] = {}
    for name, value in inputs.items():
        dims = value.type.tensor_type.shape.dim
        if name not in shapes:
            dynamic = [d.dim_param or "?" for d in dims if not d.HasField("dim_value")]
            if dynamic:
                raise PipelineError(f"--input_shape: input {name!r} has dynamic dimensions ({', '.join(dynamic)}); "
                                    f"give its shape, e.g. {name}:" + ",".join(
                                        str(d.dim_value) if d.HasField("dim_value") else "N" for d in dims))
            continue
        wanted = shapes[name]
        model_dims = [d.dim_value if d.HasField("dim_value") else (d.dim_param or "?") for d in dims]
        if len(wanted) != len(model_dims):
            raise PipelineError(f"--input_shape={shape_text}: {name} has {len(wanted)} dimensions, "
                                f"the model's input has {len(model_dims)} {model_dims}")
        for axis, (dim, size) in enumerate(zip(dims, wanted)):
            if dim.HasField("dim_value") and dim.dim_value != size:
                raise PipelineError(f"--input_shape={shape_text}: {name} dimension {axis} is {size}, "
                                    f"the model fixes it to {dim.dim_value} (model input {model_dims})")
            if dim.dim_param:
                if symbols.setdefault(dim.dim_param, size) != size:
                    raise PipelineError(f"--input_shape={shape_text}: dimension {dim.dim_param!r} is given "
                                        f"two sizes ({symbols[dim.dim_param]} and {size})")
            dim.Clear()
            dim.dim_value = size
    # Outputs (and any recorded intermediate shapes) that share a symbolic dim follow the inputs:
    # this is how the batch reaches ``class`` [batch, 1000].
    for value in (*model.graph.output, *model.graph.value_info):
        for dim in value.type.tensor_type.shape.dim:
            if dim.dim_param in symbols:
                size = symbols[dim.dim_param]
                dim.Clear()
                dim.dim_value = size


def _const(graph: onnx.GraphProto, taken: set[str], base: str, array: np.ndarray) -> str:
    onnx = _onnx()
    name = _unique(base, taken)
    graph.initializer.append(onnx.numpy_helper.from_array(array, name))
    return name


def _insert_aipp(model: onnx.ModelProto, op: AippOp, value: onnx.ValueInfoProto) -> None:
    """Replace input ``value`` (float NCHW) by uint8 NHWC and compute the old input with AIPP ops."""
    onnx = _onnx()
    helper = onnx.helper
    graph = model.graph
    tensor = value.type.tensor_type
    if tensor.elem_type != onnx.TensorProto.FLOAT:
        raise PipelineError(f"input {value.name!r} is {_dtype_name(tensor.elem_type)}: AIPP feeds a float32 input")
    batch, _, _, _ = (d.dim_value for d in tensor.shape.dim)
    taken = _all_names(graph)
    prefix = f"aipp{op.related_input_rank}"
    network_input = _unique(f"{value.name}_{prefix}_out", taken)
    _rename_uses(graph, value.name, network_input)

    nodes = []
    current = value.name
    c = op.channels

    def step(op_type: str, label: str, extra_inputs: Sequence[str] = (), output: str | None = None, **attrs) -> None:
        nonlocal current
        out = output or _unique(f"{prefix}_{label}", taken)
        nodes.append(helper.make_node(op_type, [current, *extra_inputs], [out],
                                      name=_unique(f"{prefix}/{label}", taken), **attrs))
        current = out

    if op.rbuv_swap_switch:
        step("Gather", "rbuv_swap", [_const(graph, taken, f"{prefix}_swap_index", np.arange(c - 1, -1, -1, dtype=np.int64))],
             axis=3)
    if op.crop:
        top, left = op.load_start_pos_h, op.load_start_pos_w
        step("Slice", "crop", [
            _const(graph, taken, f"{prefix}_crop_starts", np.array([top, left], np.int64)),
            _const(graph, taken, f"{prefix}_crop_ends", np.array([top + op.crop_size_h, left + op.crop_size_w], np.int64)),
            _const(graph, taken, f"{prefix}_crop_axes", np.array([1, 2], np.int64)),
        ])
    step("Cast", "to_float", to=onnx.TensorProto.FLOAT)
    offset, scale = op.normalisation()
    step("Sub", "sub_mean_min", [_const(graph, taken, f"{prefix}_mean_plus_min", offset)])
    step("Mul", "mul_var_reci", [_const(graph, taken, f"{prefix}_var_reci", scale)])
    step("Transpose", "to_nchw", output=network_input, perm=[0, 3, 1, 2])

    new_input = helper.make_tensor_value_info(value.name, onnx.TensorProto.UINT8, list(op.input_shape(batch)))
    value.CopyFrom(new_input)
    existing = list(graph.node)
    del graph.node[:]
    graph.node.extend([*nodes, *existing])


def resolve_model_aipp(
    model: onnx.ModelProto, input_shape: Mapping[str, tuple[int, ...]] | None, aipp_ops: Sequence[AippOp] | None
) -> list[AippOp]:
    """``aipp_ops`` with what they leave to the model settled (:func:`senet_infer.aipp.resolve_aipp_ops`)."""
    names = [value.name for value in model_inputs(model)]
    readers = {name: sum(list(node.input).count(name) for node in model.graph.node) for name in names}
    return resolve_aipp_ops(list(aipp_ops or ()), names, dict(input_shape or {}), readers)


def _opset(model: onnx.ModelProto) -> int:
    for entry in model.opset_import:
        if entry.domain in ("", "ai.onnx"):
            return int(entry.version)
    return 0


def build_converted(
    source: onnx.ModelProto,
    input_shape: Mapping[str, tuple[int, ...]] | None,
    aipp_ops: Sequence[AippOp] | None,
    metadata: Mapping[str, str],
) -> onnx.ModelProto:
    """The converted model, in memory: static input shapes, AIPP fused in, ``metadata`` recorded."""
    onnx = _onnx()
    model = onnx.ModelProto()
    model.CopyFrom(source)
    shapes = dict(input_shape or {})
    shape_text = format_input_shape(shapes)
    inputs = model_inputs(model)
    for op in aipp_ops or ():
        rank = op.related_input_rank
        where = f"{op.source}:{op.line}" if op.source else "AIPP"
        if rank >= len(inputs):
            raise PipelineError(f"{where}: related_input_rank: {rank}, but the model has {len(inputs)} input(s)")
        name = inputs[rank].name
        wanted = shapes.get(name)
        if wanted is None:
            raise PipelineError(f"--input_shape: give the shape of {name!r} (N,C,H,W), the input AIPP block "
                                f"{where} feeds")
        if len(wanted) != 4 or wanted[1] != op.channels or tuple(wanted[2:]) != op.output_hw:
            h, w = op.output_hw
            field = "crop_size_h/w" if op.crop else "src_image_size_h/w"
            raise PipelineError(
                f"--input_shape={shape_text}: {name} must be N,{op.channels},{h},{w}: ATC requires the model input's "
                f"C,H,W to equal the AIPP output ({op.channels} channels, {h}x{w} from {field} in {where})"
            )
    if aipp_ops and _opset(model) < MIN_OPSET:
        raise PipelineError(f"the model's opset {_opset(model)} is below {MIN_OPSET}, the opset AIPP insertion uses")
    _fix_input_shapes(model, shapes, shape_text)
    for op in aipp_ops or ():
        _insert_aipp(model, op, inputs[op.related_input_rank])
    props = {p.key: p.value for p in model.metadata_props}
    props.update(metadata)
    del model.metadata_props[:]
    for key, value in props.items():
        model.metadata_props.add(key=key, value=value)
    return model


# ---------------------------------------------------------------------------------------------
# Fidelity check


def photo_like_uint8(count: int, height: int, width: int, seed: int) -> np.ndarray:
    """uint8 NHWC [count, height, width, 3] photo-like images; square ones go through step 1's transform."""
    from .preprocess import EvalTransform, transform_image
    from .synthetic import photo_like_image

    rng = np.random.default_rng(seed)
    images = []
    for _ in range(count):
        if height == width:
            # Step 1's default output: shorter side resized to the size, then centre-cropped.
            source = photo_like_image(rng, int(rng.integers(width, 2 * width)), int(rng.integers(height, 2 * height)))
            images.append(transform_image(source, EvalTransform(resize_size=height)))
        else:
            images.append(np.asarray(photo_like_image(rng, width, height), dtype=np.uint8))
    return np.stack(images)


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
    onnx = _onnx()
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
    precision: str = "fp32",
    metadata: Mapping[str, str] | None = None,
    check: bool = True,
) -> ConversionResult:
    """Convert ``model_path`` to ``<output>.onnx`` (see the module docstring); written only if every check passes.

    ``precision`` is fp32 | fp16 | bf16 or an ATC precision_mode; ``metadata`` adds string entries
    to ``metadata_props``. Raises :class:`FidelityError` (a :class:`PipelineError`) when the
    fidelity check fails, and leaves no output file then.
    """
    onnx = _onnx()
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
        raise PipelineError(f"{model_path}: not an ONNX model: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None
    if any(node.op_type in QUANTIZED_OPS for node in source.graph.node):
        precision = "int8"  # quantized before conversion (AMCT / amct_calibrate.py); the rest stays fp32
    ops = resolve_model_aipp(source, input_shape, aipp_ops)
    record = {
        PRECISION_KEY: precision,
        INPUT_SHAPE_KEY: format_input_shape(input_shape or {}),
        SOURCE_KEY: model_path.name,
        **({AIPP_KEY: json.dumps([op.to_dict() for op in ops])} if ops else {}),
        **(metadata or {}),
    }
    converted = build_converted(source, input_shape, ops, record)
    try:
        onnx.checker.check_model(converted, full_check=True)
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as exc:
        raise PipelineError(f"{out_path}: converted model fails onnx.checker: {str(exc).splitlines()[0]}") from None
    tolerance = INT8_FIDELITY_TOLERANCE if precision == "int8" else FIDELITY_TOLERANCE
    report = check_converted(converted, model_path, ops, tolerance=tolerance) if check else None
    if report is not None and not report.passed:
        raise FidelityError(report, out_path)
    atomic_write_bytes(out_path, converted.SerializeToString())
    return ConversionResult(
        path=out_path,
        precision=precision,
        inputs=signatures(model_inputs(converted)),
        outputs=signatures(converted.graph.output),
        fidelity=report,
    )
