"""The in-flight request engine (``senet_infer.infer.flight``) in-process, on fake backends."""

from __future__ import annotations

import threading
import time
from typing import Any, Dict, List, Mapping

import numpy as np
import pytest

from senet_infer.backends import Backend
from senet_infer.errors import PipelineError
from senet_infer.infer.flight import Flight, Token, prefetch


class Doubling(Backend):
    """Runs a batch at once, on the submitting thread: its one output is the input doubled."""

    name = "fake"
    module = "numpy"

    def __init__(self, fail_at: int = -1) -> None:
        super().__init__()
        self.runs = 0
        self.fail_at = fail_at

    @property
    def version(self) -> str:
        return "0"

    def load(self, path: Any, **options: Any) -> None:  # never called: the tests build it directly
        raise NotImplementedError

    def run(self, feeds: Mapping[str, np.ndarray]) -> List[np.ndarray]:
        self.runs += 1
        if self.runs == self.fail_at:
            raise RuntimeError("device lost\nsecond line")
        return [feeds["x"] * 2]


class Threaded(Doubling):
    """Two requests in flight, each finished by its own thread after a short sleep (like an async runtime)."""

    def __init__(self) -> None:
        super().__init__()
        self.requests = 2
        self.threads: List[threading.Thread] = []

    def submit(self, feeds: Mapping[str, np.ndarray], token: Any) -> None:
        t0 = time.perf_counter()

        def finish() -> None:
            time.sleep(0.01)
            outputs = self.run(feeds)
            done = time.perf_counter()
            assert self._on_done is not None
            self._on_done(token, outputs, done - t0, 0.0, done)

        thread = threading.Thread(target=finish)
        thread.start()
        self.threads.append(thread)

    def wait_all(self) -> None:
        for thread in self.threads:
            thread.join()


def collecting(backend: Backend, slots: int) -> tuple:
    """A flight whose kept outputs land in a dict by batch index."""
    got: Dict[int, np.ndarray] = {}

    def keep(token: Token, outputs: List[np.ndarray]) -> None:
        got[token.index] = outputs[0]
        flight.slots.release()

    flight = Flight(backend, keep, slots=slots)
    return flight, got


def feeds(value: float) -> Dict[str, np.ndarray]:
    return {"x": np.full((2, 3), value, dtype=np.float32)}


@pytest.mark.parametrize("backend", [Doubling, Threaded])
def test_every_batch_is_timed_and_handed_on_once(backend: type) -> None:
    be = backend()
    flight, got = collecting(be, slots=be.requests + 1)
    flight.warm_up(feeds(0), count=2)
    assert be.runs == 2 * be.requests and flight.timing().compute_ms == []  # the warm-up is forgotten
    for i in range(5):
        flight.submit(feeds(i), Token(0.0, timed=True, index=i, keep=True))
    flight.drain()
    timing = flight.timing()
    assert len(timing.compute_ms) == len(timing.latency_ms) == 5 and all(ms >= 0 for ms in timing.compute_ms)
    assert sorted(got) == list(range(5))
    np.testing.assert_array_equal(got[3], np.full((2, 3), 6, dtype=np.float32))


def test_compute_time_is_busy_time_when_requests_overlap() -> None:
    flight = Flight(Doubling(), lambda token, outputs: None, slots=2)
    flight.events = [(0.0, 1.0), (0.5, 1.5), (2.0, 3.0)]  # (submitted, completed), seconds
    assert flight.compute_ms() == [1000.0, 500.0, 1000.0]  # the second overlaps the first; a gap is not busy


def test_a_runtime_error_is_one_line_naming_the_backend() -> None:
    flight = Flight(Doubling(fail_at=2), lambda token, outputs: None, slots=2)
    flight.submit(feeds(1), Token(0.0, timed=True))
    with pytest.raises(PipelineError, match=r"^fake failed to run a batch: device lost$"):
        flight.submit(feeds(1), Token(0.0, timed=True))


def test_a_failure_of_the_output_handler_stops_the_next_submit() -> None:
    def broken(token: Token, outputs: List[np.ndarray]) -> None:
        raise OSError("disk full")

    flight = Flight(Doubling(), broken, slots=3)
    flight.submit(feeds(1), Token(0.0, timed=True, keep=True))
    with pytest.raises(OSError, match="disk full"):
        flight.submit(feeds(1), Token(0.0, timed=True, keep=True))


def test_prefetch_reads_ahead_in_order_and_raises_the_readers_error() -> None:
    assert list(prefetch(iter(range(10)), 2, threading.Event())) == list(range(10))

    def failing() -> Any:
        yield 1
        raise ValueError("bad file")

    items = prefetch(failing(), 2, threading.Event())
    assert next(items) == 1
    with pytest.raises(ValueError, match="bad file"):
        next(items)


def test_closing_prefetch_early_stops_its_thread() -> None:
    stop = threading.Event()
    produced: List[int] = []

    def endless() -> Any:
        i = 0
        while not stop.is_set():
            produced.append(i)
            yield i
            i += 1

    items = prefetch(endless(), 2, stop)
    assert next(items) == 0
    items.close()
    assert stop.is_set()
    count = len(produced)
    time.sleep(0.05)
    assert len(produced) == count and count <= 5  # at most depth + a few ahead, then nothing more
    assert not any(t.name == "ais_infer-reader" for t in threading.enumerate())
