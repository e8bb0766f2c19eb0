"""Step 4's inference runtimes behind one small interface, chosen by name and imported lazily.

A backend loads one model file, describes its inputs and outputs, and runs one batch:

    backend = create_backend("openvino")
    backend.load("model.onnx", threads=8, device=0, precision="fp32")
    (logits,) = backend.run({"image": batch})

or keeps several batches in flight (``backend.requests`` of them; 1 for a synchronous runtime):

    backend.start(on_done)                 # on_done(token, outputs, latency_s, d2h_s, finished)
    backend.submit({"image": batch}, token)
    backend.wait_all()

Hints (:data:`HINTS`): ``throughput`` lets the runtime choose streams and parallel requests (OpenVINO's
THROUGHPUT hint, as ``benchmark_app -hint throughput``; an int8 model as one one-stream model per stream);
``latency`` runs one request on all cores.

Registry: ``onnxruntime`` and ``openvino`` on the CPU; ``onnxruntime-cuda`` and ``onnxruntime-tensorrt``
(ONNX Runtime's CUDA and TensorRT execution providers, onnxruntime-gpu) on an NVIDIA GPU, each refusing
in one line when its provider is missing or cannot start rather than running on the CPU.

The precision a model is meant to run at travels inside the ONNX file, in the ``metadata_props``
key ``senet_infer.precision`` (``fp32`` when absent): see :func:`model_precision`. A backend
never runs a model at a precision other than the one asked for; it raises instead.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import io
import os
import re
import statistics
import sys
import time
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, ClassVar, Dict, List, Optional, Type  # typing's Callable: subscripted at run time below

import numpy as np

from .errors import PipelineError
from .precision import PRECISION_KEY, PRECISIONS, QUANTIZED_OPS, float_precision

DEFAULT_PRECISION = "fp32"
AUTO = "auto"
THROUGHPUT = "throughput"
LATENCY = "latency"
HINTS = (THROUGHPUT, LATENCY)

# on_done(token, outputs, latency_s, d2h_s, finished): outputs are arrays the caller may keep; d2h_s is the
# time spent copying them out of the runtime's buffers, None when the runtime hands over fresh arrays;
# finished is when the runtime finished the batch (time.perf_counter()), which may be before on_done is called.
DoneCallback = Callable[[Any, List[np.ndarray], float, Optional[float], float], None]


@dataclass(frozen=True)
class TensorInfo:
    """One model input or output: name, shape (None for a dynamic dimension), numpy dtype."""

    name: str
    shape: tuple[int | None, ...]
    dtype: np.dtype

    def describe(self) -> str:
        """``image uint8 [32,256,256,3]`` (``?`` for dynamic dimensions)."""
        dims = ",".join("?" if d is None else str(d) for d in self.shape)
        return f"{self.name} {self.dtype} [{dims}]"

    def with_batch(self, batch: int) -> "TensorInfo":
        """This tensor with a dynamic batch (axis 0) set to ``batch``; any other dynamic dimension is refused."""
        dims = tuple(batch if (i == 0 and d is None) else d for i, d in enumerate(self.shape))
        if any(d is None for d in dims):
            raise PipelineError(f"model input {self.describe()}: only the batch dimension (axis 0) may be dynamic")
        return TensorInfo(self.name, dims, self.dtype)

    @property
    def nbytes(self) -> int:
        """Bytes of one tensor of a fully static shape."""
        return int(np.prod(self.shape, dtype=np.int64)) * self.dtype.itemsize  # type: ignore[arg-type]


class Backend(ABC):
    """One inference runtime. Subclasses import their runtime inside :meth:`load`, never at module level."""

    name: ClassVar[str]
    module: ClassVar[str]  # the import that must be installed for this backend

    def __init__(self) -> None:
        self.inputs: list[TensorInfo] = []
        self.outputs: list[TensorInfo] = []
        self.device: str = "CPU"
        self.precision: str = DEFAULT_PRECISION
        self.hint: str = LATENCY
        self.requests: int = 1  # batches the runtime works on at once (submit() blocks beyond that)
        self.streams: int = 1
        self._on_done: DoneCallback | None = None

    @classmethod
    def installed(cls) -> bool:
        """True when the runtime can be imported (checked without importing it)."""
        return importlib.util.find_spec(cls.module) is not None

    @classmethod
    def usable(cls) -> bool:
        """True when the runtime is installed and can reach its device (a GPU backend imports its runtime to ask)."""
        return cls.installed()

    @classmethod
    def supports(cls, precision: str) -> bool:
        """Whether this runtime can run at ``precision`` at all (the CPU may still refuse at load)."""
        return float_precision(precision) == "fp32"

    @property
    @abstractmethod
    def version(self) -> str:
        """The runtime's version string."""

    @abstractmethod
    def load(self, path: str | os.PathLike[str], *, threads: int, device: int = 0,
             precision: str = DEFAULT_PRECISION, batch: int | None = None, hint: str = LATENCY) -> None:
        """Load ``path``; ``batch`` fixes a dynamic batch dimension where that makes the runtime faster."""

    @abstractmethod
    def run(self, feeds: Mapping[str, np.ndarray]) -> list[np.ndarray]:
        """Run one batch; outputs in the order of :attr:`outputs`, each a fresh array the caller may keep."""

    def start(self, on_done: DoneCallback) -> None:
        """Prepare :meth:`submit`; ``on_done`` is called once per submitted batch, from
        :meth:`submit` or :meth:`wait_all` (on the thread that calls them) or from the runtime's own thread."""
        self._on_done = on_done

    def submit(self, feeds: Mapping[str, np.ndarray], token: Any) -> None:
        """Start one batch (``feeds`` must stay unchanged until its ``on_done``); this one runs it at once."""
        assert self._on_done is not None, "start() first"
        t0 = time.perf_counter()
        outputs = self.run(feeds)
        finished = time.perf_counter()
        self._on_done(token, outputs, finished - t0, None, finished)

    def wait_all(self) -> None:  # noqa: B027  (synchronous backends have nothing to wait for)
        """Return when every submitted batch is done."""

    def info(self) -> dict[str, str]:
        """The ``backend`` record of a run summary."""
        return {"name": self.name, "version": self.version, "device": self.device, "precision": self.precision}


def _model_error(path: str | os.PathLike[str], runtime: str, exc: BaseException) -> PipelineError:
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return PipelineError(f"{path}: {runtime} cannot load the model: {first}")


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
    provider: ClassVar[str] = "CPUExecutionProvider"
    package: ClassVar[str] = "onnxruntime"  # the pip package that brings ``provider``

    def __init__(self) -> None:
        super().__init__()
        self._session = None
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

    def _check_precision(self, path: str | os.PathLike[str], precision: str) -> None:
        if float_precision(precision) != "fp32":
            # Running fp32 and calling it bf16 would misreport both speed and accuracy.
            raise PipelineError(
                f"{path}: the model asks for {precision} ({PRECISION_KEY}); ONNX Runtime runs fp32 only here: "
                "use --backend openvino"
            )

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

        self._check_precision(path, precision)
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
            raise _model_error(path, "ONNX Runtime", exc) from None
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
        return self._session.run(self._output_names, dict(feeds))  # type: ignore[union-attr,attr-defined]


class OnnxRuntimeCudaBackend(OnnxRuntimeBackend):
    """ONNX Runtime's CUDA execution provider (onnxruntime-gpu): fp32; fp16 as the fp32 graph converted to
    fp16 at load (ONNX Runtime's own converter, inputs and outputs kept as they are); int8 models' QDQ graph
    as it is."""

    name = "onnxruntime-cuda"
    provider = "CUDAExecutionProvider"
    package = "onnxruntime-gpu"

    @classmethod
    def supports(cls, precision: str) -> bool:
        return precision in _CUDA_PRECISIONS

    def _check_precision(self, path: str | os.PathLike[str], precision: str) -> None:
        if precision not in _CUDA_PRECISIONS:
            raise PipelineError(f"{path}: the model asks for {precision} ({PRECISION_KEY}); the CUDA provider "
                                f"runs {', '.join(_CUDA_PRECISIONS)}")

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

    @classmethod
    def supports(cls, precision: str) -> bool:
        return precision in _TRT_PRECISIONS

    def _check_precision(self, path: str | os.PathLike[str], precision: str) -> None:
        if precision not in _TRT_PRECISIONS:
            raise PipelineError(f"{path}: the model asks for {precision} ({PRECISION_KEY}); the TensorRT provider "
                                f"runs {', '.join(_TRT_PRECISIONS)}")

    def _providers(self, precision: str, device: int) -> list[object]:
        options = {"device_id": device, "trt_fp16_enable": precision == "fp16",
                   "trt_int8_enable": precision == "int8"}
        return [(self.provider, options), ("CUDAExecutionProvider", {"device_id": device}), "CPUExecutionProvider"]

    def _preload(self, ort: Any) -> str:
        return preload_cuda_libraries(ort)


_TRT_PRECISIONS = ("fp32", "fp16", "int8")
_CUDA_PRECISIONS = ("fp32", "fp16", "int8")


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
        raise _model_error(path, "ONNX", exc) from None
    if any(node.op_type in QUANTIZED_OPS for node in model.graph.node):
        raise PipelineError(f"{path}: the model is quantized (int8); fp16 is made from an fp32 model")
    try:
        from onnxruntime.transformers.float16 import convert_float_to_float16
    except ImportError as exc:  # older onnxruntime: its transformers package imports torch on the way
        raise PipelineError(f"{path}: fp16 on the CUDA provider needs ONNX Runtime's fp16 converter "
                            f"(onnxruntime.transformers.float16), which does not import here: {exc}") from None
    return convert_float_to_float16(model, keep_io_types=True)


_OV_PRECISION = {"fp32": "f32", "bf16": "bf16", "fp16": "f16"}

_OV_CAPABILITY = {"fp32": "FP32", "bf16": "BF16", "fp16": "FP16"}


class OpenVinoBackend(Backend):
    """OpenVINO on the CPU, reading the ONNX directly, at exactly the precision asked for."""

    name = "openvino"
    module = "openvino"

    def __init__(self) -> None:
        super().__init__()
        self._models: list[Any] = []  # compiled models: one, or one per stream for int8 (see _one_stream_models)
        self._request = None
        self._idle: deque[Any] = deque()  # infer requests free for the next batch
        self._in_flight: deque[tuple[Any, Any, float]] = deque()  # (request, token, start), oldest first
        self._ports: list[object] = []

    @classmethod
    def supports(cls, precision: str) -> bool:
        return float_precision(precision) in _OV_PRECISION

    @property
    def version(self) -> str:
        import openvino

        return openvino.get_version()

    def load(self, path: str | os.PathLike[str], *, threads: int, device: int = 0,
             precision: str = DEFAULT_PRECISION, batch: int | None = None, hint: str = LATENCY) -> None:
        import openvino as ov

        core = ov.Core()
        try:
            model = core.read_model(str(path))
            if batch is not None:
                # Static shapes let the CPU plugin pick faster kernels; only a dynamic batch dim is fixed.
                new_shapes = {}
                for port in model.inputs:
                    shape = port.get_partial_shape()
                    if shape.rank.is_static and len(shape) > 0 and shape[0].is_dynamic:
                        dims = [batch, *(shape[i] for i in range(1, len(shape)))]
                        new_shapes[port.get_any_name()] = ov.PartialShape(dims)
                if new_shapes:
                    model.reshape(new_shapes)
            # Set the precision explicitly: on CPUs with AMX the plugin would otherwise pick bf16 for an
            # fp32 model. THROUGHPUT: the plugin picks streams and the number of parallel requests
            # (what benchmark_app -hint throughput uses); LATENCY: one request on all given cores.
            config = {
                "INFERENCE_PRECISION_HINT": _OV_PRECISION[float_precision(precision)],
                "PERFORMANCE_HINT": "THROUGHPUT" if hint == THROUGHPUT else "LATENCY",
                "INFERENCE_NUM_THREADS": threads,
            }
            compiled = core.compile_model(model, "CPU", config)
            models = [compiled]
            streams = int(compiled.get_property("NUM_STREAMS"))
            if precision == "int8" and streams > 1:
                del compiled, models
                models = _one_stream_models(core, model, config, streams, threads)
                compiled = models[0]
        except PipelineError:
            raise
        except Exception as exc:  # OpenVINO raises RuntimeError/GeneralFailure with multi-line text
            raise _model_error(path, "OpenVINO", exc) from None
        actual = compiled.get_property("INFERENCE_PRECISION_HINT")
        if actual != getattr(ov.Type, _OV_PRECISION[float_precision(precision)]):
            # The CPU plugin silently falls back to f32 when the processor lacks the format.
            raise PipelineError(
                f"{path}: this CPU cannot run OpenVINO at {precision} (the plugin would fall back to {actual.get_type_name()}); "
                "convert the model for fp32"
            )
        capabilities = core.get_property("CPU", "OPTIMIZATION_CAPABILITIES")
        if _OV_CAPABILITY[float_precision(precision)] not in capabilities:
            print(f"[WARNING] openvino: this CPU has no native {precision} instructions; "
                  f"{precision} is emulated and slower than fp32", file=sys.stderr)
        self.device = "CPU"
        self.precision = precision
        self.hint = hint
        self.streams = streams
        # THROUGHPUT: the plugin's optimal number, as benchmark_app (one per one-stream model). Measured:
        # queueing a second request behind each stream (4 for 2 streams) was slower here (int8, batch 32:
        # 83 vs 113 images/s).
        self.requests = (sum(max(1, int(m.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS"))) for m in models)
                         if hint == THROUGHPUT else 1)
        self.inputs = [self._describe(path, port) for port in compiled.inputs]
        self.outputs = [self._describe(path, port) for port in compiled.outputs]
        self._ports = list(compiled.outputs)
        self._models = models
        self._request = compiled.create_infer_request()

    @property
    def compiled_streams(self) -> list[int]:
        """Streams of each compiled model behind this backend: ``[n]`` for one model of n streams, ``[1] * n``
        for an int8 model's n one-stream models (see :func:`_one_stream_models`)."""
        return [int(m.get_property("NUM_STREAMS")) for m in self._models]

    @staticmethod
    def _describe(path: str | os.PathLike[str], port: object) -> TensorInfo:
        import openvino as ov

        etype = port.get_element_type()  # type: ignore[attr-defined]
        if etype == ov.Type.bf16:  # numpy has no bfloat16; to_dtype() would say float16
            raise PipelineError(f"{path}: tensor {port.get_any_name()!r} is bf16, which numpy cannot hold")  # type: ignore[attr-defined]
        pshape = port.get_partial_shape()  # type: ignore[attr-defined]
        shape = tuple(d.get_length() if d.is_static else None for d in pshape)
        return TensorInfo(port.get_any_name(), shape, np.dtype(etype.to_dtype()))  # type: ignore[attr-defined]

    def run(self, feeds: Mapping[str, np.ndarray]) -> list[np.ndarray]:
        # share_inputs: the runner never changes a batch once handed over; outputs are copied
        # (share_outputs=False) because the next run reuses the request's output tensors.
        results = self._request.infer(dict(feeds), share_inputs=True)  # type: ignore[union-attr,attr-defined]
        return [results[port] for port in self._ports]

    def start(self, on_done: DoneCallback) -> None:
        super().start(on_done)
        # No Python callback on the requests: the runtime's threads never take the GIL. With OpenVINO 2026.4.1
        # and a Python callback, freeing the model right after wait_all() sometimes hung for good (in CI, and
        # here on a busy machine; benchmarks/check_openvino.py): gdb showed the compiled model's destructor
        # joining a stream thread that was waiting for the GIL, held by the freeing thread. Finished batches
        # are handed over on the submitting thread instead (see submit/wait_all).
        per_model = self.requests // len(self._models)
        self._idle = deque(m.create_infer_request() for _ in range(per_model) for m in self._models)
        self._in_flight.clear()

    def _hand_over(self) -> None:
        """Wait (GIL released) for the oldest batch in flight, copy out its outputs (its request's buffers
        serve the next batch) and report them."""
        request, token, started = self._in_flight.popleft()
        request.wait()
        latency = request.latency / 1000.0  # the runtime's own start-to-finish time of this request
        t0 = time.perf_counter()
        outputs = [np.array(request.get_output_tensor(i).data, copy=True) for i in range(len(self._ports))]
        self._idle.append(request)
        self._on_done(token, outputs, latency, time.perf_counter() - t0, min(started + latency, t0))  # type: ignore[misc]

    def submit(self, feeds: Mapping[str, np.ndarray], token: Any) -> None:
        # Oldest first: batches are of one size, so the oldest is the next to finish on its stream (or model).
        if not self._idle:
            self._hand_over()
        request = self._idle.popleft()
        started = time.perf_counter()
        # share_inputs: the runner keeps each batch alive and unchanged until its on_done.
        request.start_async(dict(feeds), share_inputs=True)
        self._in_flight.append((request, token, started))

    def wait_all(self) -> None:
        while self._in_flight:  # in the order the batches were started
            self._hand_over()


def _one_stream_models(core: Any, model: Any, config: Dict[str, Any], streams: int, threads: int) -> List[Any]:
    """``streams`` compiled models of one stream each, ``threads // streams`` threads apiece: the parallelism
    of the plugin's ``streams`` streams for an int8 model.

    Measured with OpenVINO 2026.4.1 on AMX and AVX512-VNNI CPUs (``benchmarks/bench_int8_streams.py``): an int8
    (QDQ) model compiled for 2 streams gives wrong outputs on some loads (relative error ~10, every batch of
    that load), more often without CPU pinning; one stream, or two compiled models of one stream each, never
    did. int8 drift is reported, never failed, so wrong outputs would pass unseen. The requests of all the
    models are fed from one queue (submit).

    CPU pinning off: each compiled model pins its stream to the first cores, the same ones for every model
    (measured: both threads on CPU 0, half the speed); unpinned, the system spreads them over the cores.
    """
    per_model = dict(config, PERFORMANCE_HINT="LATENCY", NUM_STREAMS=1, INFERENCE_NUM_THREADS=max(1, threads // streams))
    if "ENABLE_CPU_PINNING" in core.get_property("CPU", "SUPPORTED_PROPERTIES"):  # from OpenVINO 2023.0 on
        per_model["ENABLE_CPU_PINNING"] = False
    return [core.compile_model(model, "CPU", per_model) for _ in range(streams)]


BACKENDS: Dict[str, Type[Backend]] = {cls.name: cls for cls in (
    OnnxRuntimeBackend, OpenVinoBackend, OnnxRuntimeCudaBackend, OnnxRuntimeTensorRTBackend)}
BACKEND_CHOICES = (AUTO, *BACKENDS)
GPU_BACKENDS = (OnnxRuntimeCudaBackend.name, OnnxRuntimeTensorRTBackend.name)


def available_backends() -> list[str]:
    """Names of the registered backends that can run here: runtime installed (and, for a GPU backend,
    its execution provider present)."""
    return [name for name, cls in BACKENDS.items() if cls.usable()]


def create_backend(name: str) -> Backend:
    """A fresh, unloaded backend by registry name."""
    try:
        cls = BACKENDS[name]
    except KeyError:
        raise PipelineError(f"unknown backend {name!r} (choose from {', '.join(BACKEND_CHOICES)})") from None
    if not cls.installed():
        raise PipelineError(f"backend {name!r} needs the Python package {cls.module!r}, which is not installed in "
                            f"{sys.executable}: {sys.executable} -m pip install {cls.module}")
    return cls()


def model_precision(path: str | os.PathLike[str]) -> str:
    """The precision stored in an ONNX model's metadata (``senet_infer.precision``); fp32 when absent."""
    path = Path(path)
    if not path.is_file():
        raise PipelineError(f"{path}: model not found")
    if path.suffix.lower() != ".onnx":
        return DEFAULT_PRECISION  # other formats (OpenVINO IR) carry no such metadata
    import onnx

    try:
        # Weights are not needed for the metadata; external data stays on disk.
        proto = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # protobuf DecodeError and friends
        raise PipelineError(f"{path}: not a readable ONNX model: {str(exc).splitlines()[0] if str(exc) else exc!r}") from None
    value = next((p.value for p in proto.metadata_props if p.key == PRECISION_KEY), DEFAULT_PRECISION)
    value = value.strip().lower()
    if value not in PRECISIONS:
        raise PipelineError(f"{path}: metadata {PRECISION_KEY}={value!r} is not one of {', '.join(PRECISIONS)}")
    return value


def zero_feeds(inputs: Sequence[TensorInfo], batch: int) -> dict[str, np.ndarray]:
    """One all-zero batch per input; dynamic dimensions take ``batch`` (axis 0) or 1."""
    feeds = {}
    for info in inputs:
        shape = tuple(batch if d is None and i == 0 else (1 if d is None else d) for i, d in enumerate(info.shape))
        feeds[info.name] = np.zeros(shape, dtype=info.dtype)
    return feeds


def time_backend(backend: Backend, feeds: Mapping[str, np.ndarray], runs: int = 3, warmup: int = 1) -> float:
    """Median seconds per delivered batch over ``runs`` rounds of ``backend.requests`` batches in flight
    (after ``warmup`` such rounds): what the runner gets, so a throughput-hinted runtime is not judged
    by one request on one of its streams."""
    backend.start(lambda *done: None)

    def one_round() -> float:
        start = time.perf_counter()
        for _ in range(backend.requests):
            backend.submit(feeds, None)
        backend.wait_all()
        return (time.perf_counter() - start) / backend.requests

    for _ in range(warmup):
        one_round()
    return statistics.median(one_round() for _ in range(runs))


def load_backend(name: str, path: str | os.PathLike[str], *, threads: int, device: int = 0,
                 batch: int | None = None, hint: str = LATENCY, log: Callable[[str], None] = print) -> Backend:
    """Load ``path`` on the named backend, or with ``auto`` on the fastest installed one that runs its precision.

    ``auto`` loads every candidate, times 3 rounds (after 1 warm-up round) of a zero batch per request
    in flight on each (:func:`time_backend`) and keeps the fastest, logging one line with the times; with a
    single candidate there is no trial.
    """
    precision = model_precision(path)
    if name != AUTO:
        backend = create_backend(name)
        backend.load(path, threads=threads, device=device, precision=precision, batch=batch, hint=hint)
        return backend

    installed = available_backends()
    candidates = [n for n in installed if BACKENDS[n].supports(precision)]
    if not candidates:
        raise PipelineError(
            f"{path}: no installed backend runs {precision} (installed: {', '.join(installed) or 'none'}; "
            f"{precision} needs openvino)"
        )
    loaded: list[Backend] = []
    refusals: list[str] = []
    for candidate in candidates:
        backend = create_backend(candidate)
        try:
            backend.load(path, threads=threads, device=device, precision=precision, batch=batch, hint=hint)
        except PipelineError as exc:
            if len(candidates) == 1:
                raise
            refusals.append(f"{candidate}: {exc}")
            continue
        loaded.append(backend)
    if not loaded:
        raise PipelineError(f"{path}: no backend could load the model at {precision}: " + "; ".join(refusals))
    if len(loaded) == 1:
        chosen = loaded[0]
        why = "the only candidate" if not refusals else "the only one that loaded (" + "; ".join(refusals) + ")"
        log(f"[INFO] backend auto: {chosen.name} at {precision} ({why})")
        return chosen
    times = {}
    for b in loaded:
        feeds = zero_feeds(b.inputs, batch or 1)
        times[b.name] = time_backend(b, feeds)
    chosen = min(loaded, key=lambda b: times[b.name])
    shape = "x".join(map(str, next(iter(feeds.values())).shape)) if feeds else "-"
    shown = ", ".join(f"{n} {1000 * t:.3f} ms" for n, t in times.items())
    log(f"[INFO] backend auto: {precision}, median of 3 rounds, each of a zero batch [{shape}] per request "
        f"in flight: {shown} per batch -> {chosen.name}"
        + (" (did not load: " + "; ".join(refusals) + ")" if refusals else ""))
    return chosen



def native_precisions(name: str) -> list[str]:
    """Precisions backend ``name`` (``auto``: any installed one) runs on this machine's own instructions:
    fp32 and int8 (a quantized model) on every backend; fp16/bf16 where OpenVINO's CPU plugin reports
    the CPU's instructions for them (elsewhere they would be emulated, slower than fp32) and really compiles
    at them (OpenVINO 2023.1 lists FP16 on some CPUs without AMX, then compiles fp16 at bf16)."""
    offered = ["fp32"]
    if name in GPU_BACKENDS:
        return offered + ["fp16", "int8"]  # the GPU's own fp16 arithmetic
    if name in (AUTO, OpenVinoBackend.name) and OpenVinoBackend.installed():
        import openvino as ov

        capabilities = ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")
        offered += [p for p in ("fp16", "bf16") if _OV_CAPABILITY[p] in capabilities and _openvino_compiles_at(p)]
    return offered + ["int8"]


@functools.lru_cache(maxsize=None)
def _openvino_compiles_at(precision: str) -> bool:
    """Whether OpenVINO's CPU plugin compiles a one-MatMul model at ``precision`` rather than falling back."""
    import tempfile

    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"])], "probe",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 16])],
        [helper.make_tensor("w", TensorProto.FLOAT, [16, 16], [0.5] * 256)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 7
    with tempfile.TemporaryDirectory(prefix="ov-probe-") as tmp:
        path = os.path.join(tmp, "probe.onnx")
        onnx.save(model, path)
        try:
            backend = OpenVinoBackend()
            backend.load(path, threads=1, precision=precision)
        except PipelineError:
            return False
    return True
