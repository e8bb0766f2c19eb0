"""ONNX Runtime's execution providers as backends: the CPU, and on an NVIDIA GPU (onnxruntime-gpu) CUDA and TensorRT.

A GPU backend refuses in one line when its provider is missing or cannot start (ONNX Runtime would
otherwise fall back to the CPU in silence), with the reason from ONNX Runtime's "EP Error" banner and from
loading CUDA/cuDNN out of NVIDIA's pip packages.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Tuple

import numpy as np

from ..errors import PipelineError
from ..precision import DEFAULT_PRECISION, is_quantized
from .base import LATENCY, Backend, TensorInfo, model_error

_ORT_TYPES = {
    "tensor(float)": np.float32, "tensor(float16)": np.float16, "tensor(double)": np.float64,
    "tensor(uint8)": np.uint8, "tensor(int8)": np.int8, "tensor(uint16)": np.uint16,
    "tensor(int16)": np.int16, "tensor(int32)": np.int32, "tensor(int64)": np.int64,
    "tensor(uint32)": np.uint32, "tensor(uint64)": np.uint64, "tensor(bool)": np.bool_,
}


def _static_dims(shape: Sequence[object]) -> tuple[int | None, ...]:
    """Runtime shape -> ints, None where the dimension is symbolic or unknown."""
    return tuple(d if isinstance(d, int) and d >= 0 else None for d in shape)


class OnnxRuntimeBackend(Backend):
    """ONNX Runtime on the CPU (``CPUExecutionProvider``). fp32 only; int8 models run their QDQ graph."""

    name = "onnxruntime"
    module = "onnxruntime"
    precisions: ClassVar[Tuple[str, ...]] = ("fp32", "int8")
    title = "ONNX Runtime"
    refusal_hint = " here: use --backend openvino"
    provider: ClassVar[str] = "CPUExecutionProvider"
    package: ClassVar[str] = "onnxruntime"  # the pip package that brings ``provider``

    def __init__(self) -> None:
        super().__init__()
        self._session: Any = None  # the InferenceSession, once loaded
        self._output_names: list[str] = []

    @property
    def version(self) -> str:
        import onnxruntime

        return onnxruntime.__version__

    @classmethod
    def usable(cls) -> bool:
        if not cls.installed():
            return False
        if cls.provider == "CPUExecutionProvider":
            return True
        import onnxruntime as ort

        return cls.provider in ort.get_available_providers()

    def _providers(self, precision: str, device: int) -> list[object]:
        """The execution providers, first choice first (the CPU last, for operators a GPU provider lacks)."""
        return ["CPUExecutionProvider"]

    def _preload(self, ort: Any) -> str:
        """Load what the provider needs before the session (nothing on the CPU); returns what failed, or ''."""
        return ""

    def _model_source(self, path: str | os.PathLike[str], precision: str) -> str | bytes:
        """What the session is made from: the model file as it is."""
        return str(path)

    def load(self, path: str | os.PathLike[str], *, threads: int, device: int = 0,
             precision: str = DEFAULT_PRECISION, batch: int | None = None, hint: str = LATENCY) -> None:
        import onnxruntime as ort

        self.check_precision(path, precision)
        available = ort.get_available_providers()
        if self.provider not in available:
            raise PipelineError(
                f"{path}: backend {self.name} needs ONNX Runtime's {self.provider} ({self.package}), but this "
                f"onnxruntime {ort.__version__} offers only {', '.join(available)}"
            )
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # One run at a time on all given cores, for either hint: concurrent runs of one session share
        # its intra-op pool and were not faster; the parallel executor only helps branchy graphs.
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.log_severity_level = 3
        preload_failures = self._preload(ort)
        printed = io.StringIO()  # ORT prints a banner to stdout when a provider fails and it retries without it
        try:
            with contextlib.redirect_stdout(printed):
                session = ort.InferenceSession(self._model_source(path, precision), options,
                                               providers=self._providers(precision, device))
        except PipelineError:
            raise
        except Exception as exc:  # ORT raises its own exception types for unreadable or invalid models
            raise model_error(path, "ONNX Runtime", exc) from None
        used = session.get_providers()
        if used[0] != self.provider:
            # ORT falls back to the next provider when a GPU one cannot start (no GPU, no CUDA/cuDNN/TensorRT).
            why = "; ".join(w for w in (provider_error(printed.getvalue()), preload_failures) if w)
            raise PipelineError(
                f"{path}: backend {self.name}: ONNX Runtime could not start {self.provider} on device {device} "
                f"(it fell back to {used[0]}): check the GPU and its CUDA/cuDNN/TensorRT libraries"
                + (f" ({why})" if why else "")
            )
        self.device = "CPU" if self.provider == "CPUExecutionProvider" else f"CUDA:{device}"
        self.precision = precision
        self.hint = hint
        self.inputs = [self._describe(path, arg) for arg in session.get_inputs()]
        self.outputs = [self._describe(path, arg) for arg in session.get_outputs()]
        self._output_names = [o.name for o in self.outputs]
        self._session = session

    @staticmethod
    def _describe(path: str | os.PathLike[str], arg: object) -> TensorInfo:
        dtype = _ORT_TYPES.get(arg.type)  # type: ignore[attr-defined]
        if dtype is None:
            raise PipelineError(f"{path}: tensor {arg.name!r} has type {arg.type}, which numpy cannot hold")  # type: ignore[attr-defined]
        return TensorInfo(arg.name, _static_dims(arg.shape), np.dtype(dtype))  # type: ignore[attr-defined]

    def run(self, feeds: Mapping[str, np.ndarray]) -> list[np.ndarray]:
        return self._session.run(self._output_names, dict(feeds))


class OnnxRuntimeCudaBackend(OnnxRuntimeBackend):
    """ONNX Runtime's CUDA execution provider (onnxruntime-gpu): fp32; fp16 as the fp32 graph converted to
    fp16 at load (ONNX Runtime's own converter, inputs and outputs kept as they are); int8 models' QDQ graph
    as it is."""

    name = "onnxruntime-cuda"
    provider = "CUDAExecutionProvider"
    package = "onnxruntime-gpu"
    precisions = ("fp32", "fp16", "int8")  # fp16: the GPU's own arithmetic
    title = "the CUDA provider"
    refusal_hint = ""

    def _providers(self, precision: str, device: int) -> list[object]:
        # use_tf32 off: fp32 convolutions and matrix products in fp32, not TF32's 10-bit mantissa
        return [(self.provider, {"device_id": device, "use_tf32": 0}), "CPUExecutionProvider"]

    def _preload(self, ort: Any) -> str:
        return preload_cuda_libraries(ort)

    def _model_source(self, path: str | os.PathLike[str], precision: str) -> str | bytes:
        if precision != "fp16":
            return str(path)
        return fp16_graph(path).SerializeToString()


class OnnxRuntimeTensorRTBackend(OnnxRuntimeBackend):
    """ONNX Runtime's TensorRT execution provider: fp32, fp16 (TensorRT's fp16 kernels), int8 (the QDQ
    model's explicit quantization); CUDA, then the CPU, for what TensorRT does not take."""

    name = "onnxruntime-tensorrt"
    provider = "TensorrtExecutionProvider"
    package = "onnxruntime-gpu with TensorRT"
    precisions = ("fp32", "fp16", "int8")
    title = "the TensorRT provider"
    refusal_hint = ""

    def _providers(self, precision: str, device: int) -> list[object]:
        options = {"device_id": device, "trt_fp16_enable": precision == "fp16",
                   "trt_int8_enable": precision == "int8"}
        return [(self.provider, options), ("CUDAExecutionProvider", {"device_id": device}), "CPUExecutionProvider"]

    def _preload(self, ort: Any) -> str:
        return preload_cuda_libraries(ort)


def provider_error(printed: str) -> str:
    """The reason in ONNX Runtime's "EP Error" banner (printed when a provider fails and it falls back), without
    the source location and C++ signature in front of it; '' when there is none."""
    line = next((text for text in printed.splitlines() if text.startswith("EP Error ")), "")[len("EP Error "):]
    match = re.match(r"\S+\.(?:cc|h|cpp):\d+ .*?\)\s+(.*)", line)
    reason = (match.group(1) if match else line).strip()
    return reason if len(reason) <= 300 else reason[:297] + "..."


def preload_cuda_libraries(ort: Any) -> str:
    """Let ONNX Runtime load CUDA and cuDNN from NVIDIA's pip packages (``onnxruntime.preload_dlls``, 1.21 on),
    as ``pip install onnxruntime-gpu[cuda,cudnn]`` installs them, before the system's library path. What it
    prints about libraries it could not load is returned, for the message when the provider does not start."""
    preload = getattr(ort, "preload_dlls", None)
    if preload is None:
        return ""
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        try:
            preload()
        except Exception as exc:  # a broken CUDA install: the session start reports it
            print(exc)
    return "; ".join(line.strip() for line in printed.getvalue().splitlines() if "Failed to load" in line)


def fp16_graph(path: str | os.PathLike[str]) -> Any:
    """The fp32 ONNX model at ``path`` with its float tensors and arithmetic in fp16 (ONNX Runtime's converter
    ``onnxruntime.transformers.float16``); the model's inputs and outputs keep their types."""
    import onnx

    try:
        model = onnx.load(str(path))
    except Exception as exc:
        raise model_error(path, "ONNX", exc) from None
    if is_quantized(model):
        raise PipelineError(f"{path}: the model is quantized (int8); fp16 is made from an fp32 model")
    try:
        from onnxruntime.transformers.float16 import convert_float_to_float16
    except ImportError as exc:  # older onnxruntime: its transformers package imports torch on the way
        raise PipelineError(f"{path}: fp16 on the CUDA provider needs ONNX Runtime's fp16 converter "
                            f"(onnxruntime.transformers.float16), which does not import here: {exc}") from None
    return convert_float_to_float16(model, keep_io_types=True)

