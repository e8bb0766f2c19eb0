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
key ``senet_infer.precision`` (``fp32`` when absent): see :func:`senet_infer.modelmeta.model_precision`.
A backend never runs a model at a precision other than the one asked for; it raises instead.

Modules: :mod:`.base` (the interface), :mod:`.onnxruntime` (CPU, CUDA, TensorRT), :mod:`.openvino`,
:mod:`.select` (registry, ``auto``, native precisions).
"""

from __future__ import annotations

from .base import HINTS, LATENCY, THROUGHPUT, Backend, DoneCallback, TensorInfo
from .select import (
    AUTO,
    BACKEND_CHOICES,
    BACKENDS,
    GPU_BACKENDS,
    available_backends,
    create_backend,
    load_backend,
    native_precisions,
)

# What callers need: the interface and the registry (each runtime is imported only when its backend loads a model).
# A runtime module's own helpers are imported from it (``senet_infer.backends.onnxruntime``).
__all__ = [
    "AUTO", "BACKENDS", "BACKEND_CHOICES", "GPU_BACKENDS", "HINTS", "LATENCY", "THROUGHPUT", "Backend", "DoneCallback",
    "TensorInfo", "available_backends", "create_backend", "load_backend", "native_precisions",
]
