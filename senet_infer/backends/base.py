"""The interface every inference runtime implements, and what its implementations share.

A backend declares the precisions it runs once (:attr:`Backend.precisions`); :meth:`Backend.supports`,
:meth:`Backend.check_precision` and :meth:`Backend.native_precisions` follow from that declaration.
"""

from __future__ import annotations

import importlib.util
import os
import time
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Callable, ClassVar, List, Optional, Tuple  # typing's Callable: subscripted at run time below

import numpy as np

from ..errors import PipelineError, first_line
from ..modelmeta import PRECISION_KEY
from ..precision import DEFAULT_PRECISION

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
    precisions: ClassVar[Tuple[str, ...]]  # what it runs, in the order of senet_infer.precision.PRECISIONS
    title: ClassVar[str]  # how its refusals name it: "OpenVINO", "the CUDA provider"
    refusal_hint: ClassVar[str] = ""  # what a refused model's owner can do instead

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
        return precision in cls.precisions

    @classmethod
    def check_precision(cls, path: str | os.PathLike[str], precision: str) -> None:
        """Refuse, in one line, a model that asks for a precision this runtime does not run."""
        if not cls.supports(precision):
            # Running fp32 and calling it bf16 would misreport both speed and accuracy.
            raise PipelineError(f"{path}: the model asks for {precision} ({PRECISION_KEY}); {cls.title} runs "
                                f"{', '.join(cls.precisions)}{cls.refusal_hint}")

    @classmethod
    def native_precisions(cls) -> list[str]:
        """The precisions it runs on this machine's own instructions, not emulated (all it runs, unless it says less)."""
        return list(cls.precisions)

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


def model_error(path: str | os.PathLike[str], runtime: str, exc: BaseException) -> PipelineError:
    """One line: ``runtime`` cannot load the model at ``path``, with the first line of its own message."""
    first = first_line(exc)
    return PipelineError(f"{path}: {runtime} cannot load the model: {first}")


def zero_feeds(inputs: Sequence[TensorInfo], batch: int) -> dict[str, np.ndarray]:
    """One all-zero batch per input; dynamic dimensions take ``batch`` (axis 0) or 1."""
    feeds = {}
    for info in inputs:
        shape = tuple(batch if d is None and i == 0 else (1 if d is None else d) for i, d in enumerate(info.shape))
        feeds[info.name] = np.zeros(shape, dtype=info.dtype)
    return feeds
