"""Every file and folder a run writes into the project folder (the guide's work folder) is ignored by git, and
the project's own files are not."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from conftest import REPO
from senet_infer.driver.paths import Paths


def ignored(paths: list[str]) -> set[str]:
    """Which of ``paths`` (relative to the project) git ignores."""
    proc = subprocess.run(["git", "check-ignore", "--no-index", "--stdin"], cwd=str(REPO), input="\n".join(paths),
                          stdout=subprocess.PIPE, universal_newlines=True, check=False)
    assert proc.returncode in (0, 1), proc
    return set(proc.stdout.split())


def test_every_run_output_is_ignored_and_no_project_file_is() -> None:
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("not a git checkout")
    layout = Paths(REPO)
    outputs = [layout.dynamic_onnx, layout.bin_dir, layout.calib_images, layout.calib_bin, layout.imagenet,
               layout.demo, layout.result_dir, layout.result_summary, layout.accuracy_json, layout.predictions_csv,
               layout.fidelity_json, *layout.perf_outputs, layout.perf_runs, layout.perf_models, layout.drift_bin,
               layout.deploy_model, layout.fake_quant_model, layout.model("fp16", 32, ".om"),
               layout.model("int8", 4, ".onnx"), layout.model("bf16", 8, ".onnx", perf=True), layout.state_dir,
               layout.timings_json, layout.run_record, layout.report_html, REPO / "se_resnet50-ce0d4300.pth",
               REPO / "fusion_result.json"]
    folders = {layout.bin_dir, layout.calib_images, layout.calib_bin, layout.imagenet, layout.demo, layout.result_dir,
               layout.perf_runs, layout.perf_models, layout.drift_bin, layout.state_dir}
    names = [path.relative_to(REPO).as_posix() + ("/" if path in folders else "") for path in outputs]
    assert sorted(set(names) - ignored(names)) == []
    tracked = subprocess.run(["git", "ls-files"], cwd=str(REPO), stdout=subprocess.PIPE, universal_newlines=True,
                             check=True).stdout.split()
    assert ignored(tracked) == set()
