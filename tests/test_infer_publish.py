"""The runner's summary (``senet_infer.infer.publish``) in-process: built from one outcome, written, printed."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from test_infer_flight import Doubling

from senet_infer.backends import TensorInfo
from senet_infer.infer.args import RunConfig
from senet_infer.infer.flight import Timing
from senet_infer.infer.load import Batch, Loaded, resolve_batch
from senet_infer.infer.publish import Outcome, build_summary, publish, summary_lines
from senet_infer.summary import load_summary


def loaded(samples: int, formula: int) -> Loaded:
    return Loaded(Doubling(), Batch(samples, formula), [TensorInfo("x", (samples, 3), np.dtype(np.float32))])


def test_the_formula_batch_feeds_the_throughput_and_the_run_batch_the_images() -> None:
    config = RunConfig(model=Path("m.onnx"), output="out", output_dirname="r", argv=["ais_infer.py", "--loop=2"])
    outcome = Outcome("pure", Timing([10.0, 30.0], [10.0, 30.0], []), wall_s=0.5, dirname="r")
    summary = build_summary(config, loaded(samples=8, formula=32), outcome)
    assert summary.throughput == 1000.0 * 32 / 20.0
    e = summary.extras
    assert (e.batchsize, e.throughput_batchsize, e.end_to_end_images_per_s) == (8, 32, 16 / 0.5)
    assert e.options["output_dirname"] == "r" and summary.args == ["ais_infer.py", "--loop=2"]
    assert summary.compute.count == 2 and summary.compute_list_ms == [10.0, 30.0] and summary.d2h.count == 0


def test_printed_lines_are_ais_bench_words() -> None:
    config = RunConfig(model=Path("m.onnx"))
    outcome = Outcome("file", Timing([2.0, 2.0], [2.0, 2.0], []), wall_s=2.0, num_inputs=64, files_per_batch=32)
    lines = summary_lines(build_summary(config, loaded(32, 32), outcome))
    assert lines == [
        "[INFO] -----------------Performance Summary------------------",
        "[INFO] NPU_compute_time (ms): min = 2.0, max = 2.0, mean = 2.0, median = 2.0, percentile(99%) = 2.0",
        "[INFO] throughput 1000*batchsize.mean(32)/NPU_compute_time.mean(2.0): 16000.0",
        "[INFO] ------------------------------------------------------",
        "[INFO] end-to-end images/s (read + infer + write, whole run, model load and warm-up excluded): 32.0 "
        "(64 images in 2.000 s)",
    ]


def test_publish_writes_the_file_then_prints_where(tmp_path: Path) -> None:
    config = RunConfig(model=Path("m.onnx"), output=str(tmp_path), output_dirname="result")
    summary = build_summary(config, loaded(4, 4), Outcome("pure", Timing([1.0], [1.0], []), 0.1, dirname="result"))
    printed: list = []
    publish(config, summary, printed.append)
    path = tmp_path / "result_summary.json"
    assert summary.path == path and printed[-1] == f"[INFO] summary written to {path}"
    assert load_summary(path).throughput == summary.throughput
    assert list(json.loads(path.read_text()))[:2] == ["filesinfo", "args"]


def test_no_output_folder_means_no_summary_file() -> None:
    config = RunConfig(model=Path("m.onnx"))
    summary = build_summary(config, loaded(4, 4), Outcome("pure", Timing([1.0], [1.0], []), 0.1))
    printed: list = []
    publish(config, summary, printed.append)
    assert summary.path is None and not any("summary written" in line for line in printed)


@pytest.mark.parametrize("shape, requested, expected, warns", [
    ((32, 3), None, Batch(32, 32), False),
    ((32, 3), 32, Batch(32, 32), False),
    ((32, 3), 8, Batch(32, 8), True),      # a static model runs its own batch; --batchsize only feeds the formula
    ((None, 3), None, Batch(1, 1), False),
    ((None, 3), 8, Batch(8, 8), False),
])
def test_the_batch_is_resolved_once(shape: tuple, requested: int, expected: Batch, warns: bool) -> None:
    said: list = []
    info = TensorInfo("x", shape, np.dtype(np.float32))
    assert resolve_batch(Path("m.onnx"), [info], requested, said.append) == expected
    assert bool(said) == warns
