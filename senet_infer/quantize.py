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

import contextlib
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np

from .agreement import Agreement
from .errors import PipelineError, first_line
from .fileio import atomic_write_bytes, list_inputs
from .modelmeta import AMCT_MODEL_KEY, CALIBRATION_KEY, PRECISION_KEY, QUANTIZER_KEY, metadata_of, store_metadata
from .precision import is_quantized

if TYPE_CHECKING:
    import onnx

DEFAULT_BATCH_NUM = 1  # AMCT's default for --batch_num
DATA_TYPES = {"float32": np.float32}
DEPLOY_SUFFIX = "_deploy_model.onnx"
FAKE_QUANT_SUFFIX = "_fake_quant_model.onnx"
QDQ_OPSET = 13  # per-channel QuantizeLinear/DequantizeLinear (the ``axis`` attribute) needs opset 13
CHECK_IMAGES = 8  # calibration images the quantized model is compared on (ONNX Runtime, vs fp32)
QUANTIZERS = ("auto", "nncf", "onnxruntime")  # auto: NNCF where it imports, else ONNX Runtime's quantize_static
ORT_QUANTIZED_OPS = ["Conv", "Gemm"]  # measured: faster on OpenVINO than all operators (module docstring)


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


def _model_input(model: onnx.ModelProto, shapes: Dict[str, Tuple[int, ...]], shape_text: str, path: Path) -> Tuple[str, Tuple[int, ...]]:
    """The one float input named in ``--input_shape``, checked against the model's own dims."""
    from .onnxgraph import model_inputs

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
    bins = list_inputs(folder)
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
    try:
        return nncf.quantize(model, dataset, subset_size=len(batches))
    except PipelineError:
        raise
    except Exception as exc:  # an NNCF release that does not fit the installed torch/onnx fails here
        first = first_line(exc)
        raise PipelineError(f"nncf {nncf.__version__} failed to quantize ({type(exc).__name__}: {first}); "
                            f"try --quantizer onnxruntime") from None


def _quantize_onnxruntime(model: onnx.ModelProto, input_name: str, batches: List[np.ndarray]) -> onnx.ModelProto:
    """ONNX Runtime's static quantizer: QDQ, int8 weights per channel (symmetric), uint8 activations
    (min/max calibration), on Conv and Gemm only; it reads and writes files, so through a temporary folder."""
    import tempfile

    import onnx
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self._batches = iter(batches)

        def get_next(self) -> Optional[Dict[str, np.ndarray]]:
            batch = next(self._batches, None)
            return None if batch is None else {input_name: batch}

    with tempfile.TemporaryDirectory(prefix="quantize-") as tmp, _working_directory(tmp):
        # ONNX Runtime before 1.13 writes its calibration graph to ./augmented_model.onnx (the user's folder,
        # 100 MB, over any file of that name); run it from the temporary folder instead
        source, target = Path(tmp, "fp32.onnx"), Path(tmp, "int8.onnx")
        onnx.save(model, os.fspath(source))
        quantize_static(os.fspath(source), os.fspath(target), Reader(), quant_format=QuantFormat.QDQ,
                        op_types_to_quantize=ORT_QUANTIZED_OPS, per_channel=True,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
        return onnx.load(os.fspath(target))


@contextlib.contextmanager
def _working_directory(path: str) -> Iterator[None]:
    """``contextlib.chdir`` (Python 3.11) for every supported Python."""
    previous = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(previous)


def nncf_problem() -> Optional[str]:
    """Why NNCF cannot be used here (not installed, or its import fails with the installed torch), or None."""
    try:
        import nncf  # noqa: F401  (imports torch when torch is installed)
    except Exception as exc:  # ImportError, or e.g. "No module named 'torch.fx'" from a too new NNCF on torch 1.6
        first = first_line(exc)
        return f"{type(exc).__name__}: {first}"
    return None


NNCF_INSTALL = ("python3 -m pip install 'nncf>=2.12,<2.13'" if sys.version_info < (3, 8)
                else "python3 -m pip install nncf")


def choose_quantizer(wanted: str, log: Callable[[str], None] = print) -> str:
    """``nncf`` or ``onnxruntime`` for ``--quantizer`` ``wanted``; auto says in one line when it falls back."""
    if wanted not in QUANTIZERS:
        raise PipelineError(f"--quantizer={wanted}: choose one of {', '.join(QUANTIZERS)}")
    if wanted == "onnxruntime":
        return wanted
    problem = nncf_problem()
    if problem is None:
        return "nncf"
    if wanted == "nncf":
        raise PipelineError(f"--quantizer=nncf: NNCF cannot be imported ({problem}); install it with "
                            f"{NNCF_INSTALL}, or use --quantizer onnxruntime")
    log(f"[INFO] NNCF cannot be imported ({problem}): quantizing with ONNX Runtime's quantize_static "
        f"(slower int8 on OpenVINO; {NNCF_INSTALL} for NNCF)")
    return "onnxruntime"


def quantizer_name(quantizer: str = "nncf") -> str:
    """``nncf <version>`` or ``onnxruntime <version> quantize_static``, the quantizer recorded in the models."""
    if quantizer == "nncf":
        import nncf

        return f"nncf {nncf.__version__}"
    import onnxruntime

    return f"onnxruntime {onnxruntime.__version__} quantize_static"


def quantize_model(
    model_path: str | os.PathLike[str],
    save_path: str | os.PathLike[str],
    input_shape: Dict[str, Tuple[int, ...]],
    data_dir: str | os.PathLike[str],
    data_types: str = "float32",
    batch_num: int = DEFAULT_BATCH_NUM,
    shape_text: Optional[str] = None,
    quantizer: str = "auto",
    log: Callable[[str], None] = print,
) -> QuantizeResult:
    """Calibrate ``model_path`` on ``batch_num`` batches from ``data_dir``; write the deploy and fake-quant models.

    Every user error (missing or foreign model, already quantized, shape mismatch, too few or
    wrong-size calibration files, unknown data type) raises :class:`PipelineError` before anything is written.
    """
    import onnx

    from .onnxgraph import format_input_shape

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
        first = first_line(exc)
        raise PipelineError(f"{model_path}: not an ONNX model: {first}") from None
    if is_quantized(source):
        raise PipelineError(f"{model_path}: already quantized (it holds quantization ops); give the fp32 model of step 2")
    input_name, shape = _model_input(source, input_shape, shape_text, model_path)
    batch, item_shape = shape[0], shape[1:]
    item_bytes = int(np.prod(item_shape)) * dtype.itemsize
    files = calibration_files(data_dir, item_bytes, batch * batch_num, types[0], item_shape)
    batches = _load_batches(files, batch, dtype, item_shape)
    chosen = choose_quantizer(quantizer, log)

    from .onnxgraph import model_opset

    model = source
    if model_opset(source) < QDQ_OPSET:
        model = convert_opset(source, QDQ_OPSET)
    quantize = _quantize_nncf if chosen == "nncf" else _quantize_onnxruntime
    quantized = quantize(model, input_name, batches)
    name = quantizer_name(chosen)
    drift = compare_models(quantized, model_path, input_name, np.concatenate(batches)[:CHECK_IMAGES],
                           [p.name for p in files[:CHECK_IMAGES]])

    payloads = []
    for kind in ("deploy", "fake_quant"):
        record = onnx.ModelProto()
        record.CopyFrom(quantized)
        store_metadata(record, {**metadata_of(source), PRECISION_KEY: "int8", QUANTIZER_KEY: name, AMCT_MODEL_KEY: kind,
                                CALIBRATION_KEY: f"{len(files)} images from {Path(data_dir).name}, "
                                                 f"batch_num {batch_num} x batch {batch}"})
        payloads.append(record.SerializeToString())
    deploy.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(deploy, payloads[0])
    try:
        atomic_write_bytes(fake_quant, payloads[1])
    except BaseException:
        deploy.unlink()
        raise
    return QuantizeResult(deploy, fake_quant, tuple(files), batch, batch_num, name, drift)


def convert_opset(model: onnx.ModelProto, opset: int) -> onnx.ModelProto:
    """``model`` at ``opset`` through ONNX's version converter, with every initializer listed as a graph input
    while it converts: onnx 1.10's converter (the ModelZoo pin) fails on an exported graph otherwise
    ("Input N is undefined!"). The added inputs are removed again."""
    import onnx.version_converter
    from onnx import helper

    listed = {value.name for value in model.graph.input}
    added = [helper.make_tensor_value_info(t.name, t.data_type, list(t.dims))
             for t in model.graph.initializer if t.name not in listed]
    staged = onnx.ModelProto()
    staged.CopyFrom(model)
    staged.graph.input.extend(added)
    converted = onnx.version_converter.convert_version(staged, opset)
    added_names = {value.name for value in added}
    kept = [value for value in converted.graph.input if value.name not in added_names]
    del converted.graph.input[:]
    converted.graph.input.extend(kept)
    return converted


def compare_models(quantized: onnx.ModelProto, source: str | os.PathLike[str], input_name: str,
                   images: np.ndarray, names: Sequence[str]) -> Agreement:
    """The quantized model's drift from the fp32 source on ``images`` (ONNX Runtime, CPU), reported only."""
    import onnxruntime as ort

    providers = ["CPUExecutionProvider"]
    actual = ort.InferenceSession(quantized.SerializeToString(), providers=providers).run(None, {input_name: images})[0]
    reference = ort.InferenceSession(os.fspath(source), providers=providers).run(None, {input_name: images})[0]
    return Agreement.from_logits(actual, reference, tolerance=1e-4, subject="int8 vs fp32 (ONNX Runtime)",
                                 enforced=False, precision="int8", names=names)
