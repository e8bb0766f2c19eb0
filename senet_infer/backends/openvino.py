"""OpenVINO's CPU plugin as a backend, at exactly the precision asked for.

Under the THROUGHPUT hint the plugin picks streams and parallel requests (as ``benchmark_app -hint throughput``),
except for an int8 model, which runs as one one-stream compiled model per stream (:func:`_one_stream_models`).
fp16 and bf16 count as native only where the CPU has the instructions and the plugin really compiles at them
(:meth:`OpenVinoBackend.native_precisions`).
"""

from __future__ import annotations

import functools
import os
import sys
import time
from collections import deque
from collections.abc import Mapping
from typing import Any, Dict, List

import numpy as np

from ..errors import PipelineError
from ..precision import DEFAULT_PRECISION, float_precision
from .base import LATENCY, THROUGHPUT, Backend, DoneCallback, TensorInfo, model_error

_OV_PRECISION = {"fp32": "f32", "bf16": "bf16", "fp16": "f16"}

_OV_CAPABILITY = {"fp32": "FP32", "bf16": "BF16", "fp16": "FP16"}


class OpenVinoBackend(Backend):
    """OpenVINO on the CPU, reading the ONNX directly, at exactly the precision asked for."""

    name = "openvino"
    module = "openvino"
    precisions = ("fp32", "fp16", "bf16", "int8")  # int8: the QDQ model's int8 kernels, fp32 around them
    title = "OpenVINO"

    def __init__(self) -> None:
        super().__init__()
        self._models: list[Any] = []  # compiled models: one, or one per stream for int8 (see _one_stream_models)
        self._request: Any = None  # for run(): one synchronous request
        self._idle: deque[Any] = deque()  # infer requests free for the next batch
        self._in_flight: deque[tuple[Any, Any, float]] = deque()  # (request, token, start), oldest first
        self._ports: list[object] = []

    @classmethod
    def native_precisions(cls) -> list[str]:
        """fp32 and int8; fp16/bf16 where the CPU plugin reports the CPU's instructions for them (elsewhere they
        would be emulated, slower than fp32) and really compiles at them (OpenVINO 2023.1 lists FP16 on some CPUs
        without AMX, then compiles fp16 at bf16)."""
        reduced = [p for p in cls.precisions if p in ("fp16", "bf16")]
        offered = set(cls.precisions) - set(reduced)
        if cls.installed():
            import openvino as ov

            capabilities = ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")
            offered.update(p for p in reduced if _OV_CAPABILITY[p] in capabilities and _openvino_compiles_at(p))
        return [p for p in cls.precisions if p in offered]

    @property
    def version(self) -> str:
        import openvino

        return openvino.get_version()

    def load(self, path: str | os.PathLike[str], *, threads: int, device: int = 0,
             precision: str = DEFAULT_PRECISION, batch: int | None = None, hint: str = LATENCY) -> None:
        import openvino as ov

        self.check_precision(path, precision)
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
            raise model_error(path, "OpenVINO", exc) from None
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
        results = self._request.infer(dict(feeds), share_inputs=True)
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
