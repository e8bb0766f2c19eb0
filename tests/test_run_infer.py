"""`bash run_infer.sh`: the whole guide on a tiny generated set, the rerun, and the Ascend wiring."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO

GUIDE_ATC = ("--model=./se_resnet50_dynamic_bs.onnx --framework=5 --input_format=NCHW "
             "--input_shape=image:32,3,224,224 --output=./se_resnet50_fp16_bs32 --log=error "
             "--soc_version=Ascend310P3 --insert_op_conf=./aipp_SE_ResNet50_pth.config --enable_small_channel=1").split()
GUIDE_AIS_BENCH = ("--model ./se_resnet50_fp16_bs32.om --batchsize 32 --input ./data/ImageNet_bin --output ./ "
                   "--output_dirname result --outfmt TXT").split()


def run_infer(work: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "PYTHON": sys.executable, **(env or {})}
    return subprocess.run(["bash", str(REPO / "run_infer.sh"), "--work-dir", str(work), *args],
                          cwd=work, capture_output=True, text=True, env=full_env, timeout=1500)


SMOKE = ("--offline", "--demo-images", "8", "--batch-size", "4", "--perf-batch-sizes", "1,4", "--perf-loop", "2",
         "--backend", "onnxruntime")
ALL_BUT_PERF = ("--steps", "weights,dataset,preprocess,export,convert,infer,metric,fidelity")


@pytest.fixture(scope="module")
def runner_writes_summary(tmp_path_factory: pytest.TempPathFactory) -> bool:
    """Whether ais_infer.py writes the summary that senet_infer.summary.load_summary reads (the driver's perf
    step reads the runner's figures only through it)."""
    from senet_infer.errors import PipelineError
    from senet_infer.summary import load_summary, summary_path
    from test_backends import make_onnx

    folder = tmp_path_factory.mktemp("summary_probe")
    make_onnx(folder / "m.onnx", shape=(1, 2, 2, 3))
    subprocess.run([sys.executable, str(REPO / "ais_infer.py"), "--model", str(folder / "m.onnx"), "--loop", "1",
                    "--output", str(folder), "--output_dirname", "probe", "--backend", "onnxruntime"],
                   capture_output=True, check=True, timeout=300)
    try:
        load_summary(summary_path(folder, "probe"))
    except PipelineError:
        return False
    return True


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory: pytest.TempPathFactory, demo_checkpoint: Path,
              runner_writes_summary: bool) -> tuple[Path, subprocess.CompletedProcess[str]]:
    """The whole guide on 8 demo images, once; later tests copy it (``copy_work``), never change it."""
    work = tmp_path_factory.mktemp("work")
    shutil.copyfile(demo_checkpoint, work / demo_checkpoint.name)
    proc = run_infer(work, *SMOKE, *(() if runner_writes_summary else ALL_BUT_PERF))
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    return work, proc


def needs_perf(runner_writes_summary: bool) -> None:
    if not runner_writes_summary:
        pytest.skip("ais_infer.py does not write senet_infer.summary's format yet: the portable perf step cannot "
                    "read its figures")


def test_smoke_run_writes_every_artefact(smoke_run, runner_writes_summary: bool) -> None:
    work, proc = smoke_run
    out = proc.stdout
    for number, step in enumerate(["set-up", "weights", "dataset", "preprocess", "export", "convert", "infer",
                                   "metric", "fidelity"], start=1):
        assert f"[{number}/10] {step}" in out
    assert "DEMO weights" in out and "agreement with PyTorch" in out

    images = sorted((work / "dataset/demo/val_union").iterdir())
    assert len(images) == 8
    bins = sorted((work / "data/ImageNet_bin").glob("*.bin"))
    assert [b.stem for b in bins] == [p.stem for p in images]
    assert {b.stat().st_size for b in bins} == {256 * 256 * 3}
    assert (work / "se_resnet50_dynamic_bs.onnx").is_file()
    assert (work / "se_resnet50_fp32_bs4.onnx").is_file()

    results = sorted((work / "result").iterdir())
    assert [r.name for r in results] == sorted(f"{p.stem}_0.txt" for p in images)
    assert all(len(r.read_text().split()) == 1000 for r in results)
    summary = json.loads((work / "result_summary.json").read_text())
    assert "warning" in summary

    accuracy = json.loads((work / "accuracy_result.json").read_text())
    values = {item["key"]: item["value"] for item in accuracy["value"]}
    assert values["Number of images"] == "8"
    # Demo labels are PyTorch's own top-1 on the same input: the fp32 pipeline must reproduce them all.
    assert values["Top1 accuracy"] == "100.00%" and values["Top5 accuracy"] == "100.00%"
    assert "DEMO" in accuracy["warning"]

    fidelity = json.loads((work / "fidelity.json").read_text())
    assert fidelity["images"] == 8 and fidelity["passed"] is True and fidelity["backend"] == "onnxruntime"
    assert fidelity["max_relative_error"] < 1e-4 and fidelity["top1_agreement"] == 1.0
    assert fidelity["distinct_top1_reference"] >= 3  # demo weights give input-dependent predictions

    needs_perf(runner_writes_summary)
    assert "[10/10] perf" in out
    perf = json.loads((work / "perf.json").read_text())
    assert [r["batch_size"] for r in perf["results"]] == [1, 4]
    assert all(r["throughput_images_per_s"] > 0 and r["runs"] == 2 for r in perf["results"])
    assert {r["backend"] for r in perf["results"]} == {"onnxruntime"}
    assert "warning" in perf
    table = (work / "perf.md").read_text()
    assert "| batch size |" in table.replace("batch size |", "batch size |") and table.count("\n| ") >= 3
    assert (work / "perf.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_rerun_skips_up_to_date_steps(smoke_run, runner_writes_summary: bool) -> None:
    work, _ = smoke_run
    before = {p: p.stat().st_mtime_ns for p in (work / "result").iterdir()}
    proc = run_infer(work, *SMOKE, *(() if runner_writes_summary else ALL_BUT_PERF))
    assert proc.returncode == 0, proc.stderr[-3000:]
    for step in ("preprocess", "export", "convert", "infer", "metric", "fidelity") + (("perf",) if runner_writes_summary else ()):
        block = proc.stdout.split(f"] {step}\n", 1)[1].split("done in", 1)[0]
        assert "up to date, skipped" in block and "  $ " not in block, (step, block)
    assert {p: p.stat().st_mtime_ns for p in (work / "result").iterdir()} == before

    subset = run_infer(work, *SMOKE, "--steps", "metric", "--force")
    assert subset.returncode == 0, subset.stderr[-3000:]
    assert "] metric" in subset.stdout and "] infer" not in subset.stdout and "] perf" not in subset.stdout


def test_bad_step_name_and_failing_step(tmp_path: Path, demo_checkpoint: Path) -> None:
    proc = run_infer(tmp_path, "--steps", "metric,bogus")
    assert proc.returncode == 2 and "unknown step(s) bogus" in proc.stderr
    images = tmp_path / "imgs"
    images.mkdir()
    proc = run_infer(tmp_path, "--checkpoint", str(demo_checkpoint), "--data-dir", str(images))
    assert proc.returncode == 2
    assert "step dataset failed" in proc.stderr and "val_label.txt: label file not found" in proc.stderr


STAND_IN_ATC = """\
#!/usr/bin/env bash
echo "atc $*" >> "$STANDIN_LOG"
for arg in "$@"; do case "$arg" in --output=*) touch "${arg#--output=}.om";; esac; done
"""
STAND_IN_NPU_SMI = """\
#!/usr/bin/env bash
cat <<'TABLE'
+-------------------+-----------------+------------------------------------------------------+
| NPU     Name      | Health          | Power(W)     Temp(C)           Hugepages-Usage(page) |
| Chip    Device    | Bus-Id          | AICore(%)    Memory-Usage(MB)                        |
+===================+=================+======================================================+
| 0       310P3     | OK              | 15.8         42                0    / 0              |
| 0       0         | 0000:82:00.0    | 0            1074 / 21534                            |
+===================+=================+======================================================+
TABLE
"""
STAND_IN_AIS_BENCH = """\
import os, sys
import numpy as np
with open(os.environ["STANDIN_LOG"], "a") as log:
    log.write("ais_bench " + " ".join(sys.argv[1:]) + "\\n")
args = sys.argv[1:]
def value(name):
    for i, a in enumerate(args):
        if a == name:
            return args[i + 1]
        if a.startswith(name + "="):
            return a.split("=", 1)[1]
    return None
if value("--input"):
    out = os.path.join(value("--output"), value("--output_dirname"))
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(0)
    for name in sorted(os.listdir(value("--input"))):
        row = " ".join(f"{v:f}" for v in rng.normal(size=1000)) + " \\n"
        open(os.path.join(out, name[:-4] + "_0.txt"), "w").write(row)
batch = int(value("--batchsize") or 1)
print(f"[INFO] throughput 1000*batchsize.mean({batch})/NPU_compute_time.mean(2.5): {1000 * batch / 2.5}")
"""


STAND_IN_HOST_PYTHON = """\
#!/usr/bin/env bash
# The host's python3: the only interpreter that has the toolkit's ais_bench.
if [[ "${{1:-}}" == "-m" ]]; then echo "python3 $*" >> "$STANDIN_LOG"; fi
export PYTHONPATH="{pkgs}${{PYTHONPATH:+:$PYTHONPATH}}"
exec {python} "$@"
"""


def test_ascend_branch_issues_the_guides_commands(tmp_path: Path, demo_checkpoint: Path) -> None:
    """atc, npu-smi and the host's python3 -m ais_bench are stand-ins; $PYTHON cannot import ais_bench."""
    bin_dir, pkgs, work = tmp_path / "bin", tmp_path / "pkgs", tmp_path / "work"
    bin_dir.mkdir()
    (pkgs / "ais_bench").mkdir(parents=True)
    work.mkdir()
    host_python = STAND_IN_HOST_PYTHON.format(pkgs=pkgs, python=sys.executable)
    for name, text in (("atc", STAND_IN_ATC), ("npu-smi", STAND_IN_NPU_SMI), ("python3", host_python)):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    (pkgs / "ais_bench" / "__init__.py").write_text("")
    (pkgs / "ais_bench" / "__main__.py").write_text(STAND_IN_AIS_BENCH)
    shutil.copyfile(demo_checkpoint, work / "se_resnet50-DEMO-random-weights.pth")
    log = tmp_path / "calls.log"
    env = {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "STANDIN_LOG": str(log)}
    assert subprocess.run([sys.executable, "-c", "import ais_bench"], env={**os.environ, **env},
                          capture_output=True).returncode != 0  # $PYTHON really lacks it
    proc = run_infer(work, "--offline", "--demo-images", "6", env=env)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    assert "Ascend host" in proc.stdout and "Ascend310P3" in proc.stdout
    assert f"ais_bench runs with python3 from the PATH ({bin_dir / 'python3'})" in proc.stdout

    calls = [line.split() for line in log.read_text().splitlines()]
    # Each command once, as the guide writes it, and the host's python3 runs ais_bench.
    assert calls[0] == ["atc", *GUIDE_ATC]
    assert calls[1] == ["python3", "-m", "ais_bench", *GUIDE_AIS_BENCH]
    assert calls[2] == ["ais_bench", *GUIDE_AIS_BENCH]
    assert f"  $ python3 -m ais_bench {' '.join(GUIDE_AIS_BENCH)}" in proc.stdout
    perf_calls = [c for c in calls[3:] if c[0] == "ais_bench"]
    assert [c[1:] for c in perf_calls] == [
        [f"--model=./se_resnet50_fp16_bs{b}.om", "--loop=20", f"--batchsize={b}"] for b in (1, 4, 8, 16, 32, 64)]
    assert [c for c in calls[3:] if c[0] == "python3"] == [["python3", "-m", *c] for c in perf_calls]
    atc_perf = [c for c in calls[3:] if c[0] == "atc"]
    assert [c[4] for c in atc_perf] == [f"--input_shape=image:{b},3,224,224" for b in (1, 4, 8, 16, 64)]
    perf = json.loads((work / "perf.json").read_text())
    assert perf["chip"] == "Ascend310P3"
    assert [r["throughput_images_per_s"] for r in perf["results"]] == [1000 * b / 2.5 for b in (1, 4, 8, 16, 32, 64)]
    fidelity = json.loads((work / "fidelity.json").read_text())
    assert fidelity["precision"] == "fp16" and fidelity["enforced"] is False and fidelity["backend"] == "ais_bench"


def test_user_images_and_labels(tmp_path: Path, demo_checkpoint: Path, image_dir: Path) -> None:
    """--data-dir/--label-file: the same steps on a user's folder; labels are scored, not regenerated."""
    labels = tmp_path / "val_label.txt"
    images = sorted(image_dir.iterdir())
    labels.write_text("".join(f"{p.name} {i % 3}\n" for i, p in enumerate(images)))
    work = tmp_path / "work"
    work.mkdir()
    before = {p.name: p.read_bytes() for p in images}
    proc = run_infer(work, "--checkpoint", str(demo_checkpoint), "--data-dir", str(image_dir), "--label-file",
                     str(labels), "--batch-size", "8", "--backend", "openvino",
                     "--steps", "preprocess,export,convert,infer,metric,fidelity")
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    assert "demo set" not in proc.stdout and "agreement with PyTorch" not in proc.stdout
    assert "] perf" not in proc.stdout and not (work / "perf.json").exists()
    assert not (work / "dataset").exists()
    assert len(list((work / "result").iterdir())) == len(images)
    accuracy = json.loads((work / "accuracy_result.json").read_text())
    assert {i["key"]: i["value"] for i in accuracy["value"]}["Number of images"] == str(len(images))
    assert "dataset_note" not in accuracy and "DEMO" in accuracy["warning"]
    fidelity = json.loads((work / "fidelity.json").read_text())
    assert fidelity["passed"] and fidelity["images"] == len(images) and fidelity["backend"] == "openvino"
    assert {p.name: p.read_bytes() for p in sorted(image_dir.iterdir())} == before  # input folder untouched


def test_work_folder_aipp_config_is_used_not_overwritten(tmp_path: Path, demo_checkpoint: Path) -> None:
    """As in the guide, ./aipp_SE_ResNet50_pth.config in the work folder is the one used; a bad one stops the run."""
    config = tmp_path / "aipp_SE_ResNet50_pth.config"
    text = (REPO / "aipp_SE_ResNet50_pth.config").read_text().replace("crop_size_w: 224", "crop_size_w: 250")
    config.write_text(text)
    proc = run_infer(tmp_path, "--checkpoint", str(demo_checkpoint), "--demo-images", "2", "--steps", "dataset")
    assert proc.returncode == 2
    assert "step dataset failed" in proc.stderr and "aipp_SE_ResNet50_pth.config:" in proc.stderr
    assert "crop_size_w" in proc.stderr and "Traceback" not in proc.stderr
    assert config.read_text() == text
