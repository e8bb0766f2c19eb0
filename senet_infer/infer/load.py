"""The model, loaded once: the backend, the batch size resolved once, and every input's static shape at that batch.

Everything after load takes the batch from :class:`Batch` and the shapes from :attr:`Loaded.inputs`;
nothing fills the batch dimension again on its own.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional

from ..backends import Backend, TensorInfo, load_backend
from ..errors import PipelineError
from .args import RunConfig


@dataclass(frozen=True)
class Batch:
    """The run's batch size: the samples each run takes, and the batch of ais_bench's throughput formula."""

    samples: int  # a static model's own batch; a dynamic one's --batchsize (default 1)
    formula: int  # --batchsize when given (ais_bench's formula uses it even for a static model), else ``samples``


@dataclass
class Loaded:
    """A loaded backend with its batch and inputs resolved once: static shapes at ``batch.samples``."""

    backend: Backend
    batch: Batch
    inputs: List[TensorInfo]  # every dimension static


def load(config: RunConfig, log: Callable[[str], None] = print) -> Loaded:
    """Load the model on the configured backend, settle the batch and resolve the input shapes once."""
    if not config.model.is_file():
        raise PipelineError(f"{config.model}: model not found")
    if config.model.suffix.lower() == ".om":
        raise PipelineError(f"{config.model}: .om models run through the real ais_bench (use ais_infer.py's command line)")
    backend = load_backend(config.backend, config.model, threads=config.threads, device=config.devices[0],
                           batch=config.batchsize, hint=config.hint, log=log)
    batch = resolve_batch(config.model, backend.inputs, config.batchsize, log)
    inputs = [info.with_batch(batch.samples) for info in backend.inputs]
    if config.debug:
        log(f"[DEBUG] backend {backend.name} {backend.version} on {backend.device} at {backend.precision}, "
            f"{config.threads} threads, hint {backend.hint}: {backend.requests} request(s), {backend.streams} stream(s)")
        for info in inputs:
            log(f"[DEBUG] input  {info.describe()}")
        for info in backend.outputs:
            log(f"[DEBUG] output {info.describe()}")
    return Loaded(backend, batch, inputs)


def resolve_batch(model: Path, inputs: Sequence[TensorInfo], requested: Optional[int],
                  log: Callable[[str], None] = print) -> Batch:
    """A static model's batch is its own, and ``--batchsize`` only feeds the formula (a warning when they differ,
    as ais_bench does); a dynamic one runs ``requested`` (default 1)."""
    static = {info.shape[0] for info in inputs if info.shape and info.shape[0] is not None}
    if len(static) > 1:
        raise PipelineError(f"{model}: inputs disagree on the batch size (axis 0): {sorted(static)}")
    if static:
        samples = int(next(iter(static)))
        if requested is not None and requested != samples:
            log(f"[WARNING] --batchsize {requested} differs from the model's batch size {samples}: the model runs "
                f"{samples} samples per batch; the throughput formula uses {requested}, as ais_bench does")
            return Batch(samples, requested)
        return Batch(samples, samples)
    return Batch(requested or 1, requested or 1)
