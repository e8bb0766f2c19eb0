#!/usr/bin/env python3
"""Two OpenVINO behaviours the runner works around, checked on this machine with plain OpenVINO calls.

    bash run_infer.sh --offline --demo-images 8 --batch-size 4 --precision int8 --work-dir /tmp/w
    python benchmarks/check_openvino.py --int8 /tmp/w/se_resnet50_int8_bs4.onnx \\
        --fp32 /tmp/w/perf_models/se_resnet50_fp32_bs4.onnx --bins /tmp/w/data/ImageNet_bin

1. **int8 on several streams.** For each configuration (model, streams, precision hint), a fresh
   process compiles the model ``--loads`` times with the THROUGHPUT hint and that many streams, runs the
   ``--bins`` inputs as batches through an ``AsyncInferQueue`` with all batches in flight at once, and
   compares the outputs with one synchronous LATENCY request (relative error). A load is *wrong* above
   1e-3. ``ais_infer.py`` therefore compiles an int8 model as one one-stream model per stream
   (``benchmarks/bench_int8_streams.py`` measures that and other ways for speed and wrong loads).
2. **Freeing a model right after wait_all().** ``--teardowns`` fresh processes each load the fp32
   model on the runner's OpenVINO backend, time it as ``--backend auto`` does (batches in flight,
   ``wait_all()``) and free it at once, with every core kept busy by other processes; a process still
   alive after ``--timeout`` seconds is *hung*. Done twice: with a Python callback on the
   ``AsyncInferQueue`` (how the backend handed batches over before) and without (the backend as it is:
   finished batches are handed over on the submitting thread).

Prints one Markdown table per check, with the CPU and OpenVINO version.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path
from typing import List, Sequence

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from senet_infer.cli import positive_int  # noqa: E402
from senet_infer.machine import cpu_model  # noqa: E402

WRONG = 1e-3

# One process: compile `loads` times for `streams` streams, all batches in flight; print each load's error.
STREAMS_CHILD = r"""
import sys, glob, numpy as np, openvino as ov
model, bins, streams, hint, loads = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
core = ov.Core()
def compile(config):
    return core.compile_model(core.read_model(model), "CPU", {"INFERENCE_PRECISION_HINT": hint,
                              "INFERENCE_NUM_THREADS": 2, **config})
reference = compile({"PERFORMANCE_HINT": "LATENCY"})
port = reference.inputs[0]
batch = port.get_partial_shape()[0].get_length()
sample = tuple(d.get_length() for d in port.get_partial_shape())[1:]
files = sorted(glob.glob(bins + "/*.bin"))[:4 * batch]
data = np.stack([np.fromfile(f, np.uint8).reshape(sample) for f in files])
batches = [data[i:i + batch] for i in range(0, len(data) - batch + 1, batch)]
request = reference.create_infer_request()
expected = np.concatenate([request.infer({0: b})[0].copy() for b in batches])
for _ in range(loads):
    compiled = compile({"PERFORMANCE_HINT": "THROUGHPUT", "NUM_STREAMS": streams})
    queue = ov.AsyncInferQueue(compiled, len(batches))
    for k, b in enumerate(batches):
        queue.start_async({port.get_any_name(): b}, k)
    queue.wait_all()
    got = np.concatenate([queue[k].get_output_tensor(0).data.copy() for k in range(len(batches))])
    print(float(np.linalg.norm(got - expected) / np.linalg.norm(expected)))
"""

# One process: the runner's OpenVINO backend loads the fp32 model and times it as `--backend auto` does (a few
# rounds of batches in flight, wait_all()), then is freed at once. "python": the same backend with a Python
# callback on the queue (how it handed batches over before); "none": the backend as it is.
TEARDOWN_CHILD = r"""
import sys, time, numpy as np, openvino as ov
sys.path.insert(0, sys.argv[3])
from senet_infer import backends
from senet_infer.backends.base import zero_feeds
from senet_infer.backends.openvino import OpenVinoBackend
from senet_infer.backends.select import time_backend
model, callback = sys.argv[1], sys.argv[2] == "python"
class CallbackBackend(OpenVinoBackend):
    def start(self, on_done):
        backends.Backend.start(self, on_done)
        self._queue = ov.AsyncInferQueue(self._models[0], self.requests)
        def finished(request, token):
            t0 = time.perf_counter()
            outputs = [np.array(request.get_output_tensor(i).data, copy=True) for i in range(len(self._ports))]
            on_done(token, outputs, request.latency / 1000.0, time.perf_counter() - t0, time.perf_counter())
        self._queue.set_callback(finished)
    def submit(self, feeds, token):
        self._queue.start_async(dict(feeds), token, share_inputs=True)
    def wait_all(self):
        self._queue.wait_all()
backend = CallbackBackend() if callback else OpenVinoBackend()
backend.load(model, threads=2, hint=backends.THROUGHPUT)
feeds = zero_feeds(backend.inputs, 1)
time_backend(backend, feeds)
del backend  # freed right after the last wait_all()
print("freed")
"""


def load_errors(model: Path, bins: Path, streams: int, hint: str, loads: int, timeout: float) -> List[float]:
    """One process's relative error per load; raises RuntimeError with the child's last line if it fails."""
    proc = subprocess.run([sys.executable, "-c", STREAMS_CHILD, str(model), str(bins), str(streams), hint,
                           str(loads)], capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError((proc.stderr.strip().splitlines() or [f"exit {proc.returncode}"])[-1][:80])
    return [float(line) for line in proc.stdout.split()]


def streams_row(model: Path, bins: Path, streams: int, hint: str, args: argparse.Namespace) -> List[str]:
    """``args.processes`` fresh processes of ``args.loads`` loads each, as one table row."""
    head = [model.name, str(streams), hint]
    try:
        errors = [e for _ in range(args.processes)
                  for e in load_errors(model, bins, streams, hint, args.loads, 10 * args.timeout)]
    except RuntimeError as exc:
        return head + ["-", "-", f"failed: {exc}"]
    wrong = sum(e > WRONG for e in errors)
    return head + [f"{wrong} of {len(errors)}", f"{max(errors):.2e}", "wrong outputs" if wrong else "ok"]


def teardown_row(model: Path, callback: str, runs: int, timeout: float) -> List[str]:
    """``runs`` processes, each with every core kept busy by another process (a shared machine: on an idle
    one the hang is rare)."""
    hung = failed = 0
    busy = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(os.cpu_count() or 1)]
    try:
        for _ in range(runs):
            try:
                proc = subprocess.run([sys.executable, "-c", TEARDOWN_CHILD, str(model), callback, str(ROOT)],
                                      capture_output=True, text=True, timeout=timeout)
                failed += proc.returncode != 0 or "freed" not in proc.stdout
            except subprocess.TimeoutExpired:  # subprocess.run kills the hung child
                hung += 1
    finally:
        for proc in busy:
            proc.kill()
            proc.wait()
    verdict = "hangs" if hung else ("failed" if failed else "ok")
    return [model.name, callback, f"{hung} of {runs}", str(failed), verdict]


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--int8", type=Path, required=True, help="an int8 (QDQ) model with a static batch")
    parser.add_argument("--fp32", type=Path, required=True, help="the fp32 model of the same batch")
    parser.add_argument("--bins", type=Path, required=True, help="a folder of the models' uint8 .bin inputs")
    parser.add_argument("--processes", type=positive_int, default=3, help="processes per streams configuration")
    parser.add_argument("--loads", type=positive_int, default=4, help="compilations per process")
    parser.add_argument("--teardowns", type=positive_int, default=10, help="processes per teardown configuration")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds before a process counts as hung")
    args = parser.parse_args(argv)
    import openvino as ov

    print(f"CPU: {cpu_model()}; OpenVINO {ov.get_version()}\n")
    configs = [(args.int8, 2, "f32"), (args.int8, 1, "f32"), (args.fp32, 2, "f32"), (args.fp32, 2, "bf16")]
    rows = [streams_row(model, args.bins, streams, hint, args) for model, streams, hint in configs]
    print("All batches in flight at once vs one synchronous request (THROUGHPUT hint, the given streams):\n")
    print(table(["model", "streams", "precision hint", "wrong loads", "max rel err", "verdict"], rows))
    print("\nFreeing the queue and the compiled model right after wait_all():\n")
    print(table(["model", "callback", "hung", "failed", "verdict"],
                [teardown_row(args.fp32, cb, args.teardowns, args.timeout) for cb in ("python", "none")]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
