"""Step 3's graph surgery: static input shapes from ATC's ``--input_shape`` and AIPP fused as ONNX ops (opset 11).

:func:`build_converted` is the whole rewrite, in memory: the inputs take the static shapes of ``--input_shape``
(outputs that share a symbolic dimension follow), and each AIPP block's input becomes uint8 NHWC
``[N, src_h, src_w, C]`` (same name) in front of Gather (R/B swap, if set), Slice (crop), Cast to float,
Sub (mean_chn + min_chn), Mul (var_reci_chn), Transpose to NCHW: the arithmetic of
:func:`senet_infer.aipp.apply_aipp`. Checking and writing the result is :mod:`senet_infer.convert`'s.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .aipp import AippOp, resolve_aipp_ops
from .errors import PipelineError

if TYPE_CHECKING:
    import onnx

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



@dataclass(frozen=True)
class TensorSignature:
    """Name, element type and shape of one model input or output (a str for a symbolic dim)."""

    name: str
    dtype: str
    shape: tuple[int | str, ...]

    def __str__(self) -> str:
        return f"{self.name}: {self.dtype} [{', '.join(map(str, self.shape))}]"



def onnx_module() -> Any:
    """The onnx package, imported on first use (it is heavy), with ``onnx.numpy_helper`` loaded."""
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
    onnx = onnx_module()
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
    onnx = onnx_module()
    name = _unique(base, taken)
    graph.initializer.append(onnx.numpy_helper.from_array(array, name))
    return name


def _insert_aipp(model: onnx.ModelProto, op: AippOp, value: onnx.ValueInfoProto) -> None:
    """Replace input ``value`` (float NCHW) by uint8 NHWC and compute the old input with AIPP ops."""
    onnx = onnx_module()
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

    def step(op_type: str, label: str, extra_inputs: Sequence[str] = (), output: str | None = None, **attrs: Any) -> None:
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


def model_opset(model: onnx.ModelProto) -> int:
    """The default-domain opset the model imports (0 when none)."""
    for entry in model.opset_import:
        if entry.domain in ("", "ai.onnx"):
            return int(entry.version)
    return 0


def build_converted(
    source: onnx.ModelProto,
    input_shape: Mapping[str, tuple[int, ...]] | None,
    aipp_ops: Sequence[AippOp] | None,
) -> onnx.ModelProto:
    """A copy of ``source`` with static input shapes and the (resolved) AIPP ops fused in; metadata as in ``source``."""
    onnx = onnx_module()
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
    if aipp_ops and model_opset(model) < MIN_OPSET:
        raise PipelineError(f"the model's opset {model_opset(model)} is below {MIN_OPSET}, the opset AIPP insertion uses")
    _fix_input_shapes(model, shapes, shape_text)
    for op in aipp_ops or ():
        _insert_aipp(model, op, inputs[op.related_input_rank])
    return model
