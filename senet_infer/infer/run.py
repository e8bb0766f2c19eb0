"""One process's run: pure mode (one batch of zeros or random data, looped) or file mode (every input file once).

File mode reads the input files batch by batch in a background thread, keeps as many batches in flight as
the backend runs at once (OpenVINO's THROUGHPUT hint chooses that number), and writes
``<output>/<output_dirname>/<stem>_<k>.<fmt>`` from a small writer pool, so memory does not grow with the
number of inputs. Every result file is written under a hidden temporary name and renamed.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Dict, List, Optional

import numpy as np

from ..backends import TensorInfo
from ..summary import RunSummary
from .args import RunConfig
from .flight import Flight, Token, prefetch
from .inputs import InputPlan, plan_inputs, read_batches
from .load import Loaded, load
from .outputs import prepare_result_dir, warn_other_files, write_outputs
from .publish import Outcome, build_summary, publish

PURE_RANDOM_SEED = 0
PURE_INFER_FILE = "pure_infer_data"  # ais_bench's name for pure-mode data: results are pure_infer_data_<k>
# Batches whose outputs wait for the writers, beyond those in flight: bounds memory, keeps the runtime busy.
_PENDING_WRITE_BATCHES = 4


def pure_feeds(inputs: Sequence[TensorInfo], data_type: str) -> Dict[str, np.ndarray]:
    """ais_bench's pure-mode batch: zeros, or seeded random values (bytes in 0..255 for integer inputs)."""
    rng = np.random.default_rng(PURE_RANDOM_SEED)
    feeds = {}
    for info in inputs:
        shape = tuple(int(d) for d in info.shape)  # type: ignore[arg-type]
        if data_type == "zero":
            feeds[info.name] = np.zeros(shape, dtype=info.dtype)
        elif np.issubdtype(info.dtype, np.floating):
            feeds[info.name] = rng.standard_normal(shape).astype(info.dtype)
        elif info.dtype == np.bool_:
            feeds[info.name] = rng.integers(0, 2, shape).astype(np.bool_)
        else:
            hi = min(256, int(np.iinfo(info.dtype).max) + 1)
            feeds[info.name] = rng.integers(0, hi, shape).astype(info.dtype)
    return feeds


def run_pure(config: RunConfig, log: Callable[[str], None] = print, loaded: Optional[Loaded] = None) -> RunSummary:
    """ais_bench's pure mode: one batch of zeros or random data, warm-ups, ``loop`` timed runs; with
    ``--output``, the last run's outputs as ``pure_infer_data_<k>.<fmt>``."""
    loaded = loaded or load(config, log)
    backend = loaded.backend
    feeds = pure_feeds(loaded.inputs, config.pure_data_type)
    result_dir, dirname = prepare_result_dir(config, [], log)
    kept: List[List[np.ndarray]] = []  # the last timed run's outputs

    def keep(token: Token, outputs: List[np.ndarray]) -> None:
        kept[:] = [outputs]
        flight.slots.release()

    # One slot more than requests: a backend may hand a finished batch over only at its next submit.
    flight = Flight(backend, keep, slots=backend.requests + 1)
    flight.warm_up(feeds, config.warmup_count)
    start = time.perf_counter()
    for i in range(config.loop):
        flight.submit(feeds, Token(0.0, timed=True, index=i, keep=True))
    flight.drain()
    outcome = Outcome("pure", flight.timing(), time.perf_counter() - start, result_dir=result_dir, dirname=dirname)
    if config.debug:
        for i, ms in enumerate(outcome.timing.compute_ms):
            log(f"[DEBUG] run {i + 1}: {ms:.3f} ms")

    if result_dir is not None and kept:
        names = [o.name for o in backend.outputs]
        (paths,) = write_outputs(kept[0], names, [PURE_INFER_FILE], result_dir, config.outfmt,
                                 config.output_batchsize_axis, 1)
        outcome.filesinfo["0"] = {"infiles": [PURE_INFER_FILE] * len(loaded.inputs), "outfiles": paths}
        outcome.other_files = warn_other_files(result_dir, {os.path.basename(p) for p in paths}, log)
    return build_summary(config, loaded, outcome)


def run_files(config: RunConfig, log: Callable[[str], None] = print, plan: Optional[InputPlan] = None,
              loaded: Optional[Loaded] = None) -> RunSummary:
    """ais_bench's file mode: batches of input files in, one result file per input and model output out."""
    from tqdm import tqdm

    loaded = loaded or load(config, log)
    backend = loaded.backend
    plan = plan or plan_inputs(config.inputs, loaded.inputs)
    result_dir, dirname = prepare_result_dir(config, plan.folders, log)
    per_batch = plan.files_per_batch
    if config.debug:
        log(f"[DEBUG] {plan.num_inputs} inputs, {per_batch} files per batch, {plan.num_batches} batches")

    output_names = [o.name for o in backend.outputs]
    filesinfo: Dict[int, Dict[str, List[str]]] = {}
    writers = ThreadPoolExecutor(max_workers=min(4, max(1, config.threads)), thread_name_prefix="ais_infer-writer")
    bar = tqdm(total=plan.num_inputs, unit="file", file=sys.stderr, disable=not config.progress,
               desc="inference", dynamic_ncols=True)

    def write(token: Token, outputs: List[np.ndarray], plan: InputPlan) -> None:
        try:
            if result_dir is not None:
                stems = plan.stems[token.lo:token.lo + token.real]
                paths = write_outputs(outputs, output_names, stems, result_dir, config.outfmt,
                                      config.output_batchsize_axis, per_batch)
                with flight.lock:
                    for j, outfiles in enumerate(paths):
                        sample = token.lo + j
                        filesinfo[sample] = {"infiles": [group[sample].path for group in plan.files],
                                             "outfiles": outfiles}
            bar.update(token.real)
        except BaseException as exc:  # noqa: B902 - raised again by the submitting thread
            flight.fail(exc)
        finally:
            flight.slots.release()

    def hand_over(token: Token, outputs: List[np.ndarray]) -> None:
        writers.submit(write, token, outputs, plan)

    flight = Flight(backend, hand_over, slots=backend.requests + _PENDING_WRITE_BATCHES)
    stop = threading.Event()
    start = time.perf_counter()
    batches = prefetch(read_batches(plan, loaded.inputs, stop), backend.requests + 1, stop)
    try:
        for index, (feeds, lo, real) in enumerate(batches):
            if index == 0:
                flight.warm_up(feeds, config.warmup_count)
                start = time.perf_counter()  # the end-to-end clock starts after the warm-up, as in pure mode
            for i in range(config.loop):
                flight.submit(feeds, Token(0.0, timed=True, index=index, lo=lo, real=real, keep=i == config.loop - 1))
            if config.debug:
                log(f"[DEBUG] batch {index}: {real} files submitted")
        flight.drain()
    finally:
        batches.close()  # stops and joins the reader thread
        with contextlib.suppress(Exception):
            backend.wait_all()
        writers.shutdown(wait=True)
        bar.close()
    flight.check()
    wall = time.perf_counter() - start

    ordered = {str(k): filesinfo[k] for k in sorted(filesinfo)}
    other = 0
    if result_dir is not None:
        written = {os.path.basename(p) for info in ordered.values() for p in info["outfiles"]}
        other = warn_other_files(result_dir, written, log)
    return build_summary(config, loaded, Outcome("file", flight.timing(), wall, plan.num_inputs, per_batch,
                                                 result_dir, dirname, ordered, other))


def run(config: RunConfig, log: Callable[[str], None] = print, loaded: Optional[Loaded] = None,
        plan: Optional[InputPlan] = None) -> RunSummary:
    """File mode when ``config.inputs`` is set, else pure mode; then the summary is written and printed."""
    summary = run_files(config, log, plan, loaded) if config.inputs else run_pure(config, log, loaded)
    publish(config, summary, log)
    return summary
