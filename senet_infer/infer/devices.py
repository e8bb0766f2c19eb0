"""Several devices (``--device 0,1``): ais_bench's ``multidevice_run``, one process per device over its share."""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import threading
import time
from collections.abc import Callable
from typing import Any, List

from ..errors import PipelineError
from .args import RunConfig
from .inputs import plan_inputs
from .load import load
from .outputs import result_dirname
from .publish import LOG_PREFIX
from .run import run

DEVICE_FOLDER = "device{}"  # ais_bench's multi-device result folder under --output_dirname


def _cpu_groups(parts: int) -> List[List[int]]:
    """This process's cores divided into ``parts`` contiguous groups (shared round-robin when too few)."""
    try:
        cores = sorted(os.sched_getaffinity(0))
    except AttributeError:  # not Linux: no pinning
        return [[] for _ in range(parts)]
    if len(cores) < parts:
        return [[cores[i % len(cores)]] for i in range(parts)]
    size, extra = divmod(len(cores), parts)
    groups, at = [], 0
    for i in range(parts):
        n = size + (1 if i < extra else 0)
        groups.append(cores[at:at + n])
        at += n
    return groups


def _device_main(config: RunConfig, part: int, parts: int, results: Any, ready: Any) -> None:
    """One device's process: load, wait for the others (at most 10 s, as ais_bench), run its share."""
    if config.cpus:
        with contextlib.suppress(AttributeError, OSError):
            os.sched_setaffinity(0, config.cpus)
    started = time.time()
    try:
        loaded = load(config)
        plan = None
        if config.inputs:
            plan = plan_inputs(config.inputs, loaded.inputs).share(part, parts)
            if plan.num_inputs == 0:
                raise PipelineError(f"device {config.devices[0]}: no input files left for it "
                                    f"({parts} devices for fewer inputs)")
        with contextlib.suppress(threading.BrokenBarrierError):
            ready.wait(timeout=10)
        started = time.time()
        summary = run(config, loaded=loaded, plan=plan)
        results.put((part, summary.throughput, started, time.time(), None))
    except BaseException as exc:  # noqa: B902 - reported by the parent
        with contextlib.suppress(threading.BrokenBarrierError):
            ready.abort()
        results.put((part, 0.0, started, time.time(), f"{exc}" if isinstance(exc, PipelineError) else repr(exc)))


def run_devices(config: RunConfig, log: Callable[[str], None] = print) -> int:
    """ais_bench's ``multidevice_run``: one process per listed device over its share of the inputs, results in
    ``<output>/<dirname>/device<N>/``; prints each device's throughput and the total. 0 when all succeed."""
    parts = len(config.devices)
    dirname = result_dirname(config)
    groups = _cpu_groups(parts)
    context = multiprocessing.get_context("spawn")  # a clean runtime per process, as separate devices
    results = context.Queue()
    ready = context.Barrier(parts)
    processes = []
    log(f"{LOG_PREFIX}multidevice:{list(config.devices)} run begin")
    for part, device in enumerate(config.devices):
        own = RunConfig(**{**config.__dict__, "devices": (device,),
                           "output_dirname": os.path.join(dirname, DEVICE_FOLDER.format(device)),
                           "cpus": groups[part] or None, "progress": False})
        process = context.Process(target=_device_main, args=(own, part, parts, results, ready),
                                  name=f"ais_infer-device{device}")
        process.start()
        processes.append(process)
    for process in processes:
        process.join()
    reports = []
    while not results.empty():
        reports.append(results.get())
    reports.sort()
    failed = parts - sum(1 for r in reports if r[4] is None)
    for part, throughput, started, ended, error in reports:
        if error is None:
            log(f"i:{part} device_{config.devices[part]} throughput:{throughput} start_time:{started} "
                f"end_time:{ended}")
        else:
            log(f"[ERROR] device_{config.devices[part]}: {error}")
    log(f"{LOG_PREFIX}summary throughput:{sum(r[1] for r in reports if r[4] is None)}")
    if failed:
        raise PipelineError(f"{failed} of {parts} device processes failed")
    return 0
