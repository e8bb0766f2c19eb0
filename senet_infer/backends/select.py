"""Choosing a backend: the registry by name, the measured ``auto`` choice, and what a backend runs natively here.

The registry holds the backend classes; a runtime is imported only when its backend loads a model (or, for a GPU
backend, when asked whether its provider is there), so only the runtime one uses must be installed.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Mapping
from typing import Callable, Dict, Type

import numpy as np

from ..errors import PipelineError
from ..modelmeta import model_precision
from ..precision import PRECISIONS
from .base import LATENCY, Backend, zero_feeds
from .onnxruntime import OnnxRuntimeBackend, OnnxRuntimeCudaBackend, OnnxRuntimeTensorRTBackend
from .openvino import OpenVinoBackend

AUTO = "auto"
BACKENDS: Dict[str, Type[Backend]] = {cls.name: cls for cls in (
    OnnxRuntimeBackend, OpenVinoBackend, OnnxRuntimeCudaBackend, OnnxRuntimeTensorRTBackend)}
BACKEND_CHOICES = (AUTO, *BACKENDS)
GPU_BACKENDS = (OnnxRuntimeCudaBackend.name, OnnxRuntimeTensorRTBackend.name)


def available_backends() -> list[str]:
    """Names of the registered backends that can run here: runtime installed (and, for a GPU backend,
    its execution provider present)."""
    return [name for name, cls in BACKENDS.items() if cls.usable()]


def _registered(name: str) -> Type[Backend]:
    try:
        return BACKENDS[name]
    except KeyError:
        raise PipelineError(f"unknown backend {name!r} (choose from {', '.join(BACKEND_CHOICES)})") from None


def create_backend(name: str) -> Backend:
    """A fresh, unloaded backend by registry name."""
    cls = _registered(name)
    if not cls.installed():
        raise PipelineError(f"backend {name!r} needs the Python package {cls.module!r}, which is not installed in "
                            f"{sys.executable}: {sys.executable} -m pip install {cls.module}")
    return cls()


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
    """Precisions backend ``name`` runs on this machine's own instructions (:meth:`Backend.native_precisions`);
    ``auto``: those of the CPU runtimes (fp32 and int8 everywhere; fp16/bf16 where OpenVINO runs them natively).
    A GPU's fp16 counts when its backend is named."""
    if name != AUTO:
        return _registered(name).native_precisions()
    offered = {p for cls in BACKENDS.values() if cls.name not in GPU_BACKENDS for p in cls.native_precisions()}
    return [p for p in PRECISIONS if p in offered]
