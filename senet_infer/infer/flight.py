"""The in-flight request engine: batches read ahead in a thread, up to ``backend.requests`` of them running at once.

Timing: each timed batch's ``NPU_compute_time`` is the time from the later of its submission and the previous
batch's completion to its own completion — the time the runtime was busy delivering that batch. With one
request in flight that is the run call itself (ais_bench's meaning); with several overlapping requests it is
busy wall time / batches, so ais_bench's throughput formula gives the delivered images/s, and each request's
own latency is kept apart (the summary's ``senet_infer.request_latency``).
"""

from __future__ import annotations

import math
import queue
import threading
import time
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from ..backends import Backend
from ..errors import PipelineError, first_line


@dataclass
class Token:
    """What travels with one submitted batch."""

    submitted: float
    timed: bool
    index: int = 0       # batch number
    lo: int = 0          # its first sample id
    real: int = 0        # real (not padding) samples
    keep: bool = False   # its outputs are handed on (written, or kept in pure mode)
    feeds: Any = None    # keeps the batch alive until the runtime is done with it


@dataclass(frozen=True)
class Timing:
    """A run's timed batches, in milliseconds: busy time per batch (completion order), request latency, D2H copies."""

    compute_ms: List[float]
    latency_ms: List[float]
    d2h_ms: List[float]


class Flight:
    """Keeps up to ``backend.requests`` batches in flight, records their timing, hands outputs on.

    A slot is held from submission until the outputs are handed on (written, in file mode); a backend may
    hand a finished batch over only at its next submit, so ``slots`` must exceed ``backend.requests``.
    ``on_outputs`` must release the slot (``slots.release()``) once it is done with the outputs.
    """

    def __init__(self, backend: Backend, on_outputs: Callable[[Token, List[np.ndarray]], None], slots: int) -> None:
        self.backend = backend
        self.on_outputs = on_outputs
        self.lock = threading.Lock()
        self.slots = threading.BoundedSemaphore(slots)
        self.events: List[Tuple[float, float]] = []  # (submitted, completed) of timed batches
        self.latencies: List[float] = []
        self.d2h: List[float] = []
        self.failure: List[BaseException] = []
        backend.start(self._done)

    def _done(self, token: Token, outputs: List[np.ndarray], latency_s: float, d2h_s: Optional[float],
              completed: float) -> None:
        token.feeds = None
        try:
            if token.timed:
                with self.lock:
                    self.events.append((token.submitted, completed))
                    self.latencies.append(latency_s)
                    if d2h_s is not None:
                        self.d2h.append(d2h_s)
            if token.keep:
                self.on_outputs(token, outputs)  # releases the slot when its writing is done
                return
        except BaseException as exc:  # noqa: B902 - handed to the submitting thread
            self.fail(exc)
        self.slots.release()

    def fail(self, exc: BaseException) -> None:
        """Record a failure from any thread; the submitting thread raises the first one."""
        with self.lock:
            self.failure.append(exc)

    def check(self) -> None:
        """Raise the first failure of any thread."""
        if self.failure:
            raise self.failure[0]

    def submit(self, feeds: Dict[str, np.ndarray], token: Token) -> None:
        """Wait for a free slot, then start the batch."""
        while not self.slots.acquire(timeout=0.1):
            self.check()
        self.check()
        token.feeds = feeds
        token.submitted = time.perf_counter()
        try:
            self.backend.submit(feeds, token)
        except PipelineError:
            raise
        except Exception as exc:  # a runtime's own error while running a batch
            first = first_line(exc)
            raise PipelineError(f"{self.backend.name} failed to run a batch: {first}") from None

    def drain(self) -> None:
        """Wait for every batch in flight."""
        try:
            self.backend.wait_all()
        except Exception as exc:
            raise PipelineError(f"{self.backend.name} failed to run a batch: {exc}") from None
        self.check()

    def warm_up(self, feeds: Dict[str, np.ndarray], count: int) -> None:
        """``count`` untimed batches per request in flight (every stream's first run is untimed), then forget them."""
        for _ in range(count * self.backend.requests):
            self.submit(feeds, Token(0.0, timed=False))
        self.drain()
        self.reset()

    def reset(self) -> None:
        """Forget the warm-up's timing."""
        with self.lock:
            self.events.clear()
            self.latencies.clear()
            self.d2h.clear()

    def compute_ms(self) -> List[float]:
        """Each timed batch's busy time, ms, in completion order (see the module docstring)."""
        out = []
        previous = -math.inf
        for submitted, completed in sorted(self.events, key=lambda e: e[1]):
            out.append(1000.0 * (completed - max(submitted, previous)))
            previous = completed
        return out

    def timing(self) -> Timing:
        """The timed batches' figures, ms."""
        with self.lock:
            latency_ms = [1000.0 * s for s in self.latencies]
            d2h_ms = [1000.0 * s for s in self.d2h]
        return Timing(self.compute_ms(), latency_ms, d2h_ms)


def prefetch(items: Iterator[Any], depth: int, stop: threading.Event) -> Generator[Any, None, None]:
    """Run ``items`` in a background thread, ``depth`` ahead; its exceptions surface here."""
    q: "queue.Queue[Tuple[str, Any]]" = queue.Queue(maxsize=depth)

    def put(item: Tuple[str, Any]) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def worker() -> None:
        try:
            for item in items:
                if not put(("item", item)):
                    return
            put(("end", None))
        except BaseException as exc:  # handed to the consumer, which re-raises it
            put(("error", exc))

    thread = threading.Thread(target=worker, name="ais_infer-reader", daemon=True)
    thread.start()
    try:
        while True:
            kind, value = q.get()
            if kind == "end":
                return
            if kind == "error":
                raise value
            yield value
    finally:
        stop.set()
        thread.join()
