"""Post-training int8 quantization of the dynamic ONNX model: AMCT's ``calibration`` step, portably.

AMCT (Ascend's model compression toolkit) quantizes the step-2 ONNX model with calibration data
that are the model's own input, and writes ``<save_path>_deploy_model.onnx`` (for ATC) and
``<save_path>_fake_quant_model.onnx`` (for checking accuracy on ONNX Runtime). Here the quantizer
is NNCF (``nncf.quantize``, ONNX backend: symmetric int8 weights per channel, int8 activations,
fast bias correction). Both files hold the same QDQ graph — QuantizeLinear/DequantizeLinear pairs
around the quantized layers, input ``image`` [-1,3,224,224] float32, batch still dynamic — which
every ONNX runtime reads: OpenVINO compiles the pairs into int8 kernels, ONNX Runtime runs them as
int8 too. The deploy model then goes through ``aipp_convert.py`` and ``ais_infer.py`` as usual;
the converter records its precision as ``int8``.

Why NNCF and not ONNX Runtime's ``quantize_static``: measured on this model (batch 32, OpenVINO,
one request), NNCF's QDQ graph ran about 3.8x the fp32 model, ONNX Runtime's own QDQ graph 0.8x
(all operators) or 2.7x (Conv/Gemm only): OpenVINO fuses NNCF's placement of the pairs into int8
kernels end to end. Drift vs fp32 was similar.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Dict, List, Optional, Sequence, Tuple

import numpy as np

from .agreement import Agreement
from .errors import PipelineError
from .fileio import atomic_write_bytes, is_hidden_temp, natural_key
from .precision import PRECISION_KEY, QUANTIZED_OPS

if TYPE_CHECKING:
    import onnx

DEFAULT_BATCH_NUM = 1  # AMCT's default for --batch_num
DATA_TYPES = {"float32": np.float32}
DEPLOY_SUFFIX = "_deploy_model.onnx"
FAKE_QUANT_SUFFIX = "_fake_quant_model.onnx"
QDQ_OPSET = 13  # per-channel QuantizeLinear/DequantizeLinear (the ``axis`` attribute) needs opset 13
CHECK_IMAGES = 8  # calibration images the quantized model is compared on (ONNX Runtime, vs fp32)
QUANTIZER_KEY = "senet_infer.quantizer"
AMCT_MODEL_KEY = "senet_infer.amct_model"


@dataclass(frozen=True)
class QuantizeResult:
    """What :func:`quantize_model` wrote and how far the quantized model is from the fp32 one."""

    deploy: Path
    fake_quant: Path
    calibration_files: Tuple[Path, ...]
    batch: int
    batch_num: int
    quantizer: str
    drift: Agreement


def output_paths(save_path: str | os.PathLike[str]) -> Tuple[Path, Path]:
    """AMCT's outputs for ``--save_path=<dir>/<name>``: the deploy model and the fake-quant model."""
    text = os.fspath(save_path)
    if not text or text.endswith(("/", os.sep)) or Path(text).is_dir():
        raise PipelineError(f"--save_path={text!r}: give a folder and a model name prefix, e.g. ./int8/se_resnet50")
    return Path(text + DEPLOY_SUFFIX), Path(text + FAKE_QUANT_SUFFIX)


def is_quantized(model: onnx.ModelProto) -> bool:
    """Whether the graph already holds quantization ops (QDQ pairs or integer kernels)."""
    return any(node.op_type in QUANTIZED_OPS for node in model.graph.node)


def _model_input(model: onnx.ModelProto, shapes: Dict[str, Tuple[int, ...]], shape_text: str, path: Path) -> Tuple[str, Tuple[int, ...]]:
    """The one float input named in ``--input_shape``, checked against the model's own dims."""
    from .convert import model_inputs

    inputs = model_inputs(model)
    if len(inputs) != 1:
        raise PipelineError(f"{path}: the model has {len(inputs)} inputs; calibration here feeds models with one input")
    value = inputs[0]
    if set(shapes) != {value.name}:
        raise PipelineError(f"--input_shape={shape_text}: the model's input is {value.name!r} "
                            f"(give {value.name}:N,C,H,W)")
    wanted = shapes[value.name]
    dims = value.type.tensor_type.shape.dim
    model_dims = [d.dim_value if d.HasField("dim_value") else (d.dim_param or "?") for d in dims]
    if len(wanted) != len(model_dims):
        raise PipelineError(f"--input_shape={shape_text}: {len(wanted)} dimensions, the model's input "
                            f"{value.name} has {len(model_dims)} {model_dims}")
    for axis, (dim, size) in enumerate(zip(model_dims, wanted)):
        if isinstance(dim, int) and dim != size:
            raise PipelineError(f"--input_shape={shape_text}: dimension {axis} is {size}, the model's input "
                                f"{value.name} has {dim} ({model_dims})")
    return value.name, wanted


def calibration_files(data_dir: str | os.PathLike[str], item_bytes: int, count: int, dtype_name: str,
                      item_shape: Sequence[int]) -> List[Path]:
    """The first ``count`` ``.bin`` files of ``data_dir`` (natural order), each exactly ``item_bytes`` long."""
    folder = Path(data_dir)
    if not folder.is_dir():
        raise PipelineError(f"--data_dir={folder}: not a folder")
    bins = sorted((p for p in folder.iterdir() if p.suffix == ".bin" and p.is_file() and not is_hidden_temp(p)),
                  key=lambda p: natural_key(p.name))
    if len(bins) < count:
        raise PipelineError(f"--data_dir={folder}: {len(bins)} .bin file(s), calibration needs {count} "
                            f"(--batch_num x the batch of --input_shape)")
    chosen = bins[:count]
    for path in chosen:
        size = path.stat().st_size
        if size != item_bytes:
            shape = "x".join(map(str, item_shape))
            raise PipelineError(f"{path}: {size} bytes, expected {item_bytes} ({dtype_name} {shape}, as step 1 "
                                f"writes with --format fp32)")
    return chosen


def _load_batches(files: Sequence[Path], batch: int, dtype: np.dtype, item_shape: Sequence[int]) -> List[np.ndarray]:
    arrays = [np.fromfile(path, dtype=dtype).reshape(tuple(item_shape)) for path in files]
    for path, array in zip(files, arrays):
        if not np.isfinite(array).all():
            raise PipelineError(f"{path}: holds NaN or infinite values")
    return [np.stack(arrays[i:i + batch]) for i in range(0, len(arrays), batch)]


def _quantize_nncf(model: onnx.ModelProto, input_name: str, batches: List[np.ndarray]) -> onnx.ModelProto:
    import logging

    import nncf

    logging.getLogger("nncf").setLevel(logging.ERROR)
    dataset = nncf.Dataset(batches, lambda batch: {input_name: batch})
    return nncf.quantize(model, dataset, subset_size=len(batches))


def quantizer_name() -> str:
    """``nncf <version>``, the quantizer recorded in the models written."""
    import nncf

    return f"nncf {nncf.__version__}"


def quantize_model(
    model_path: str | os.PathLike[str],
    save_path: str | os.PathLike[str],
    input_shape: Dict[str, Tuple[int, ...]],
    data_dir: str | os.PathLike[str],
    data_types: str = "float32",
    batch_num: int = DEFAULT_BATCH_NUM,
    shape_text: Optional[str] = None,
) -> QuantizeResult:
    """Calibrate ``model_path`` on ``batch_num`` batches from ``data_dir``; write the deploy and fake-quant models.

    Every user error (missing or foreign model, already quantized, shape mismatch, too few or
    wrong-size calibration files, unknown data type) raises :class:`PipelineError` before anything is written.
    """
    import onnx

    from .convert import format_input_shape

    model_path = Path(model_path)
    shape_text = shape_text or format_input_shape(input_shape)
    deploy, fake_quant = output_paths(save_path)
    if batch_num < 1:
        raise PipelineError(f"--batch_num={batch_num}: must be >= 1")
    types = [t.strip() for t in data_types.split(";") if t.strip()]
    if len(types) != 1 or types[0] not in DATA_TYPES:
        raise PipelineError(f"--data_types={data_types!r}: give one type for the one input: "
                            f"{' | '.join(DATA_TYPES)}")
    dtype = np.dtype(DATA_TYPES[types[0]])
    if not model_path.is_file():
        raise PipelineError(f"{model_path}: model not found")
    for out in (deploy, fake_quant):
        if out.exists() and out.resolve() == model_path.resolve():
            raise PipelineError(f"{out}: the output would overwrite the input model; choose another --save_path")
    try:
        source = onnx.load(os.fspath(model_path))
    except Exception as exc:  # protobuf raises DecodeError and others for a foreign file
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise PipelineError(f"{model_path}: not an ONNX model: {first}") from None
    if is_quantized(source):
        raise PipelineError(f"{model_path}: already quantized (it holds quantization ops); give the fp32 model of step 2")
    input_name, shape = _model_input(source, input_shape, shape_text, model_path)
    batch, item_shape = shape[0], shape[1:]
    item_bytes = int(np.prod(item_shape)) * dtype.itemsize
    files = calibration_files(data_dir, item_bytes, batch * batch_num, types[0], item_shape)
    batches = _load_batches(files, batch, dtype, item_shape)

    model = source
    opset = next((int(e.version) for e in source.opset_import if e.domain in ("", "ai.onnx")), 0)
    if opset < QDQ_OPSET:
        model = onnx.version_converter.convert_version(source, QDQ_OPSET)
    quantized = _quantize_nncf(model, input_name, batches)
    name = quantizer_name()
    drift = compare_models(quantized, model_path, input_name, np.concatenate(batches)[:CHECK_IMAGES],
                           [p.name for p in files[:CHECK_IMAGES]])

    payloads = []
    for kind in ("deploy", "fake_quant"):
        record = onnx.ModelProto()
        record.CopyFrom(quantized)
        props = {p.key: p.value for p in source.metadata_props}
        props.update({PRECISION_KEY: "int8", QUANTIZER_KEY: name, AMCT_MODEL_KEY: kind,
                      "senet_infer.calibration": f"{len(files)} images from {Path(data_dir).name}, "
                                                 f"batch_num {batch_num} x batch {batch}"})
        del record.metadata_props[:]
        for key, value in props.items():
            record.metadata_props.add(key=key, value=value)
        payloads.append(record.SerializeToString())
    deploy.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(deploy, payloads[0])
    try:
        atomic_write_bytes(fake_quant, payloads[1])
    except BaseException:
        deploy.unlink()
        raise
    return QuantizeResult(deploy, fake_quant, tuple(files), batch, batch_num, name, drift)


def compare_models(quantized: onnx.ModelProto, source: str | os.PathLike[str], input_name: str,
                   images: np.ndarray, names: Sequence[str]) -> Agreement:
    """The quantized model's drift from the fp32 source on ``images`` (ONNX Runtime, CPU), reported only."""
    import onnxruntime as ort

    providers = ["CPUExecutionProvider"]
    actual = ort.InferenceSession(quantized.SerializeToString(), providers=providers).run(None, {input_name: images})[0]
    reference = ort.InferenceSession(os.fspath(source), providers=providers).run(None, {input_name: images})[0]
    return Agreement.from_logits(actual, reference, tolerance=1e-4, subject="int8 vs fp32 (ONNX Runtime)",
                                 enforced=False, precision="int8", names=names)
