"""run_infer.sh's options: parsed once into a typed record; a bad one is one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from senet_infer.driver.main import main, parse_options
from senet_infer.errors import PipelineError


def test_options_are_parsed_once_into_a_typed_record(tmp_path: Path) -> None:
    opts = parse_options(
        ["--work-dir", str(tmp_path), "--steps", "perf,metric", "--perf-batch-sizes", "8,1,8", "--batch-size", "4"])
    assert opts.steps == ("metric", "perf") and opts.perf_batch_sizes == (1, 8) and opts.batch_size == 4
    assert opts.work == tmp_path.resolve() and opts.checkpoint is None
    assert opts.perf_precisions is None and not opts.fidelity_all and opts.calib_images == 32
    opts = parse_options(
        ["--perf-precisions", "int8,fp32", "--precision", "int8", "--fidelity-all", "--calib-dir", str(tmp_path)])
    assert opts.perf_precisions == ("fp32", "int8") and opts.precision == "int8" and opts.fidelity_all
    assert opts.calib_dir == tmp_path.resolve()


@pytest.mark.parametrize("argv, message", [
    (["--steps", "metric,bogus"], "--steps: unknown step(s) bogus"),
    (["--perf-batch-sizes", "1,x"], "--perf-batch-sizes: not a list of integers"),
    (["--perf-batch-sizes", "0"], "--perf-batch-sizes: need integers >= 1"),
    (["--perf-precisions", "fp32,int4"], "--perf-precisions: unknown precision(s) int4"),
])
def test_bad_options_are_one_line_errors(tmp_path: Path, argv: list[str], message: str) -> None:
    with pytest.raises(PipelineError, match=message.replace("(", r"\(").replace(")", r"\)")):
        main(["--work-dir", str(tmp_path), *argv])
