#!/usr/bin/env python3
"""int8 on OpenVINO: ways to keep the parallelism of several streams, each measured for speed and wrong loads.

    python benchmarks/bench_int8_streams.py                                    # builds the demo int8 model
    python benchmarks/bench_int8_streams.py --model W/se_resnet50_int8_bs32.onnx --bins W/bin_u8 --loads 30

An int8 (QDQ) SE-ResNet50 compiled by OpenVINO 2026.4.1 for 2 streams gives wrong outputs on some loads
(``benchmarks/check_openvino.py``). The candidates (``CANDIDATES``), all with the throughput hint's
parallelism on ``--threads`` threads:

* ``benchmark_app -hint throughput`` on the same file: the speed to reach (the plugin's streams);
* ``benchmark_app -hint none -nstreams 1``: one stream, all threads (how ``ais_infer.py`` ran int8 before);
* ``ais_infer.py`` pure mode (``--loop``): the runner as it is;
* plain OpenVINO, fed as the runner's backend feeds it (one request per stream, oldest first): the plugin's
  streams in one compiled model; with ``ENABLE_CPU_PINNING`` off; one stream; one one-stream compiled model
  per stream with ``threads / streams`` threads each, pinned (the plugin's default) and not (the runner's way).

Speed: ``--rounds`` rounds, every candidate once per round in turn (the order flips every round), ``--loop``
timed batches each; the table gives the median images/s and its ratio to ``benchmark_app -hint throughput``.
Wrong loads: for every candidate but the benchmark_app ones (which write no outputs; they compile what the
first two plain rows compile), ``--loads`` loads in fresh processes of ``--loads-per-process``, each with 4
batches in flight at once, compared with one synchronous LATENCY request; a load is wrong when any batch is
off by a relative error above 1e-3. The runner's row loads ``senet_infer``'s OpenVINO backend itself.

Prints one Markdown table with the CPU, its int8/bf16 instructions, OpenVINO's version and the load average
before and after (the figures of a shared machine move with it).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, NamedTuple, Optional, Sequence

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_peers import cpu_features, run_figures  # noqa: E402

from senet_infer.cli import positive_int  # noqa: E402
from senet_infer.machine import cpu_model  # noqa: E402
from senet_infer.summary import summary_path_for  # noqa: E402

WRONG = 1e-3


class Candidate(NamedTuple):
    name: str
    kind: str  # "benchmark_app", "ais_infer" or "openvino" (plain OpenVINO in a child process)
    layout: str = ""  # openvino: "streams" (one compiled model, the plugin's streams), "one" (one stream), "split"
    config: Dict[str, object] = {}  # extra CPU properties
    nstreams: int = 0  # benchmark_app: -hint none -nstreams N (0: -hint throughput)


CANDIDATES = (
    Candidate("benchmark_app -hint throughput", "benchmark_app"),
    Candidate("benchmark_app -nstreams 1", "benchmark_app", nstreams=1),
    Candidate("ais_infer.py (one-stream model per stream, pinning off)", "ais_infer"),
    Candidate("OpenVINO: plugin's streams, one model", "openvino", "streams"),
    Candidate("OpenVINO: plugin's streams, pinning off", "openvino", "streams", {"ENABLE_CPU_PINNING": False}),
    Candidate("OpenVINO: one stream, all threads", "openvino", "one"),
    Candidate("OpenVINO: one-stream model per stream", "openvino", "split"),
    Candidate("OpenVINO: one-stream model per stream, pinning off", "openvino", "split", {"ENABLE_CPU_PINNING": False}),
)

# One process, plain OpenVINO: compile a candidate's layout, feed it as the runner's backend does (requests of all
# its compiled models in one queue, the oldest waited for first). argv: model bins threads layout config mode n
# mode "speed": n timed batches after one round of warm-up, prints images/s;
# mode "loads": n loads, each with 4 batches in flight vs one synchronous LATENCY request, prints each load's error.
OPENVINO_CHILD = r"""
import collections, glob, json, sys, time, numpy as np, openvino as ov
model, bins, threads, layout = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
config, mode, n = json.loads(sys.argv[5]), sys.argv[6], int(sys.argv[7])
core = ov.Core()
base = {"INFERENCE_PRECISION_HINT": "f32", "INFERENCE_NUM_THREADS": threads}
def compile(extra):
    return core.compile_model(core.read_model(model), "CPU", dict(base, **extra))
def load():
    first = compile(dict(config, PERFORMANCE_HINT="THROUGHPUT"))
    streams = int(first.get_property("NUM_STREAMS"))
    if layout == "streams":
        return [first] * int(first.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS"))
    del first
    if layout == "one":
        one = compile(dict(config, PERFORMANCE_HINT="THROUGHPUT", NUM_STREAMS=1))
        return [one] * int(one.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS"))
    return [compile(dict(config, PERFORMANCE_HINT="LATENCY", NUM_STREAMS=1, INFERENCE_NUM_THREADS=max(1, threads // streams)))
            for _ in range(streams)]
def run(models, batches):
    idle, flight, out = collections.deque(m.create_infer_request() for m in models), collections.deque(), []
    def hand_over():
        request = flight.popleft()
        request.wait()
        out.append(request.get_output_tensor(0).data.copy())
        idle.append(request)
    for b in batches:
        if not idle:
            hand_over()
        request = idle.popleft()
        request.start_async({0: b}, share_inputs=True)
        flight.append(request)
    while flight:
        hand_over()
    return np.concatenate(out)
port = core.read_model(model).inputs[0]
batch = port.get_partial_shape()[0].get_length()
sample = tuple(d.get_length() for d in port.get_partial_shape())[1:]
files = sorted(glob.glob(bins + "/*.bin"))[:2 * batch]
data = np.stack([np.fromfile(f, np.uint8).reshape(sample) for f in files])
batches = [data[i:i + batch] for i in range(0, len(data) - batch + 1, batch)]
batches = (batches * 4)[:4]
if mode == "speed":
    models = load()
    run(models, batches)
    start = time.perf_counter()
    run(models, [batches[i % len(batches)] for i in range(n)])
    print(n * batch / (time.perf_counter() - start))
else:
    reference = compile({"PERFORMANCE_HINT": "LATENCY"}).create_infer_request()
    expected = np.concatenate([reference.infer({0: b})[0].copy() for b in batches])
    for _ in range(n):
        models = load()
        got = run(models, batches)
        print(float(np.linalg.norm(got - expected) / np.linalg.norm(expected)))
        del models
"""

# One process, the runner's own OpenVINO backend: n loads with the throughput hint, 4 batches in flight through
# submit()/wait_all(), each compared with one synchronous LATENCY request. argv: root model bins threads n
BACKEND_CHILD = r"""
import glob, sys, numpy as np
sys.path.insert(0, sys.argv[1])
from senet_infer import backends
model, bins, threads, n = sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
one = backends.load_backend("openvino", model, threads=threads, hint=backends.LATENCY)
info = one.inputs[0]
files = sorted(glob.glob(bins + "/*.bin"))[:2 * info.shape[0]]
data = np.stack([np.fromfile(f, np.uint8).reshape(info.shape[1:]) for f in files])
batches = [data[i:i + info.shape[0]] for i in range(0, len(data) - info.shape[0] + 1, info.shape[0])]
batches = (batches * 4)[:4]
expected = np.concatenate([one.run({info.name: b})[0] for b in batches])
del one
for _ in range(n):
    backend = backends.load_backend("openvino", model, threads=threads, hint=backends.THROUGHPUT)
    got = {}
    backend.start(lambda token, outputs, *timing: got.__setitem__(token, outputs[0]))
    for k, b in enumerate(batches):
        backend.submit({info.name: b}, k)
    backend.wait_all()
    out = np.concatenate([got[k] for k in range(len(batches))])
    print(float(np.linalg.norm(out - expected) / np.linalg.norm(expected)))
    del backend
"""


def load_average() -> str:
    """The 1-, 5- and 15-minute load averages (``uptime``'s)."""
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


def child(args: Sequence[str], timeout: float) -> List[float]:
    """Run a child process; its printed numbers, or RuntimeError with its last line."""
    proc = subprocess.run([sys.executable, "-c", *args], capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError((proc.stderr.strip().splitlines() or [f"exit {proc.returncode}"])[-1][:200])
    return [float(line) for line in proc.stdout.split()]


class Bench:
    """Runs one candidate once (speed) or ``loads`` times (errors)."""

    def __init__(self, model: Path, bins: Path, threads: int, loop: int, work: Path) -> None:
        self.model, self.bins, self.threads, self.loop, self.work = model, bins, threads, loop, work
        self.batch = 0

    def speed(self, c: Candidate) -> float:
        if c.kind == "benchmark_app":
            tool = Path(sys.executable).with_name("benchmark_app")
            # -nthreads only with -hint none (benchmark_app's rule): the hint takes every core
            hint = (["-hint", "none", "-nstreams", str(c.nstreams), "-nthreads", str(self.threads)] if c.nstreams
                    else ["-hint", "throughput"])
            proc = subprocess.run([str(tool), "-m", str(self.model), "-d", "CPU", *hint, "-infer_precision", "f32",
                                   "-niter", str(self.loop)],
                                  capture_output=True, text=True)
            found = re.search(r"Throughput:\s+([0-9.]+)\s+FPS", proc.stdout)
            if proc.returncode != 0 or not found:
                raise RuntimeError(f"benchmark_app failed ({proc.returncode}): {(proc.stderr or proc.stdout)[-300:]}")
            return float(found.group(1))
        if c.kind == "ais_infer":
            out = self.work / "runs"
            proc = subprocess.run([sys.executable, str(ROOT / "ais_infer.py"), "--model", str(self.model),
                                   "--backend", "openvino", "--threads", str(self.threads), "--loop", str(self.loop),
                                   "--output", str(out), "--output_dirname", "pure"], capture_output=True, text=True)
            if proc.returncode != 0:
                raise RuntimeError(f"ais_infer.py failed: {(proc.stderr.strip().splitlines() or ['?'])[-1]}")
            return run_figures(summary_path_for(out / "pure"))[0]
        (value,) = child([OPENVINO_CHILD, str(self.model), str(self.bins), str(self.threads), c.layout,
                          json.dumps(c.config), "speed", str(self.loop)], timeout=1800)
        return value

    def errors(self, c: Candidate, loads: int, per_process: int) -> Optional[List[float]]:
        """Each load's relative error; None for benchmark_app (no outputs)."""
        if c.kind == "benchmark_app":
            return None
        errors: List[float] = []
        while len(errors) < loads:
            n = str(min(per_process, loads - len(errors)))
            if c.kind == "ais_infer":
                errors += child([BACKEND_CHILD, str(ROOT), str(self.model), str(self.bins), str(self.threads), n], 3600)
            else:
                errors += child([OPENVINO_CHILD, str(self.model), str(self.bins), str(self.threads), c.layout,
                                 json.dumps(c.config), "loads", n], 3600)
        return errors


def build(work: Path, batch: int) -> tuple:
    """The demo int8 model converted for ``batch`` (``bench_peers``' artefacts) and its uint8 inputs."""
    from bench_peers import Artefacts

    art = Artefacts(work, None, batch, 2 * batch)
    return art.converted["int8"], art.bin_u8


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, help="an int8 (QDQ) model with a static batch (default: build the demo one)")
    parser.add_argument("--bins", type=Path, help="its uint8 .bin inputs (with --model)")
    parser.add_argument("--batch", type=positive_int, default=32, help="batch of the built model (default %(default)s)")
    parser.add_argument("--threads", type=positive_int, default=os.cpu_count() or 1, help="threads (default: all cores)")
    parser.add_argument("--loop", type=positive_int, default=20, help="timed batches per speed run (default %(default)s)")
    parser.add_argument("--rounds", type=positive_int, default=5, help="alternating speed rounds (default %(default)s)")
    parser.add_argument("--loads", type=positive_int, default=30, help="loads per candidate for wrong outputs (default %(default)s)")
    parser.add_argument("--loads-per-process", type=positive_int, default=5, help="loads in one process (default %(default)s)")
    parser.add_argument("--only", help="candidate names to run, separated by ';' (default: all)")
    args = parser.parse_args(argv)
    if (args.model is None) != (args.bins is None):
        parser.error("--model and --bins go together")
    for path in (args.model, args.bins):
        if path is not None and not path.exists():
            parser.error(f"{path}: not found")
    wanted = [name.strip() for name in (args.only or "").split(";") if name.strip()]
    unknown = [name for name in wanted if name not in {c.name for c in CANDIDATES}]
    if unknown:
        parser.error(f"--only: unknown candidate {unknown[0]!r} (candidates: {'; '.join(c.name for c in CANDIDATES)})")
    candidates = [c for c in CANDIDATES if not wanted or c.name in wanted]
    import openvino as ov

    load_before = load_average()
    header = (f"CPU: {cpu_model()}, {os.cpu_count()} cores ({cpu_features()}); OpenVINO {ov.get_version()}; "
              f"{args.threads} threads")
    print(header, file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="bench_int8_") as tmp:
        work = Path(tmp)
        model, bins = (args.model, args.bins) if args.model else build(work, args.batch)
        bench = Bench(model, bins, args.threads, args.loop, work)
        speeds: Dict[str, List[float]] = {c.name: [] for c in candidates}
        for round_no in range(args.rounds):
            for c in candidates if round_no % 2 == 0 else candidates[::-1]:
                speeds[c.name].append(bench.speed(c))
                print(f"round {round_no + 1}/{args.rounds}: {c.name}: {speeds[c.name][-1]:.1f} images/s "
                      f"(load {load_average()})", file=sys.stderr)
        errors = {}
        for c in candidates:
            errors[c.name] = bench.errors(c, args.loads, args.loads_per_process)
            if errors[c.name] is not None:
                wrong = sum(e > WRONG for e in errors[c.name])
                print(f"{c.name}: {wrong} of {len(errors[c.name])} loads wrong", file=sys.stderr)
    median = {name: statistics.median(values) for name, values in speeds.items()}
    reference = median.get(CANDIDATES[0].name)
    lines = [f"int8 {model.name}, {time.strftime('%Y-%m-%d %H:%M')}, {header}; median of {args.rounds} alternating "
             f"rounds of {args.loop} batches; wrong loads: 4 batches in flight vs one request, {args.loads} loads per "
             f"candidate; load average {load_before} before, {load_average()} after", "",
             "| candidate | images/s | vs benchmark_app -hint throughput | rounds (images/s) | wrong loads | max rel err |",
             "| --- | ---: | ---: | --- | --- | ---: |"]
    for c in candidates:
        errs = errors[c.name]
        ratio = f"{median[c.name] / reference:.2f}" if reference else "-"
        wrong = "no outputs" if errs is None else f"{sum(e > WRONG for e in errs)} of {len(errs)}"
        lines.append(f"| {c.name} | {median[c.name]:.1f} | {ratio} | {', '.join(f'{v:.1f}' for v in speeds[c.name])} "
                     f"| {wrong} | {'-' if errs is None else f'{max(errs):.2e}'} |")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
