"""`bash run_infer.sh`: the whole guide on a tiny generated set, the rerun, the Ascend wiring, and runs that
are killed, doubled or given awkward folder names. Every test here starts the driver: all are slow."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_steps import numbered

from conftest import REPO, run_guarded
from standins import ARGV_VALUE, NPU_SMI_TABLE

pytestmark = pytest.mark.slow

GUIDE_ATC = ("--model=./se_resnet50_dynamic_bs.onnx --framework=5 --input_format=NCHW "
             "--input_shape=image:32,3,224,224 --output=./se_resnet50_fp16_bs32 --log=error "
             "--soc_version=Ascend310P3 --insert_op_conf=./aipp_SE_ResNet50_pth.config --enable_small_channel=1").split()
GUIDE_AIS_BENCH = ("--model ./se_resnet50_fp16_bs32.om --batchsize 32 --input ./data/ImageNet_bin --output ./ "
                   "--output_dirname result --outfmt TXT").split()


def run_infer(work: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "PYTHON": sys.executable, **(env or {})}
    return run_guarded(["bash", str(REPO / "run_infer.sh"), "--work-dir", str(work), *args], cwd=work, env=full_env,
                       timeout=900)


SMOKE = ("--offline", "--demo-images", "8", "--batch-size", "4", "--perf-batch-sizes", "1,4", "--perf-loop", "2",
         "--backend", "onnxruntime", "--perf-precisions", "fp32")


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory: pytest.TempPathFactory, demo_checkpoint: Path) -> tuple[Path, subprocess.CompletedProcess[str]]:
    """The whole guide on 8 demo images, once; later tests copy it (``copy_work``), never change it."""
    work = tmp_path_factory.mktemp("work")
    shutil.copyfile(demo_checkpoint, work / demo_checkpoint.name)
    proc = run_infer(work, *SMOKE)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    return work, proc


def test_smoke_run_writes_every_artefact(smoke_run) -> None:
    work, proc = smoke_run
    out = proc.stdout
    assert out.startswith(numbered("set-up") + ": reads requirements.txt, writes .venv (or uses $PYTHON)\n")
    assert f"{numbered('set-up')} done in " in out
    for step in ("weights", "dataset", "preprocess", "export", "calibrate", "convert", "infer", "metric", "fidelity",
                 "perf"):
        assert f"{numbered(step)}\n" in out and f"{numbered(step)} done in " in out
    assert "not needed at fp32" in out and not (work / "se_resnet50_int8_deploy_model.onnx").exists()
    assert "fidelity on all 8 images (default: all up to 500)" in out
    timings = json.loads((work / ".run_infer" / "timings.json").read_text())
    assert timings["images"] == 8 and [s["name"] for s in timings["steps"]][:3] == ["weights", "dataset", "preprocess"]
    assert all(s["seconds"] >= 0 for s in timings["steps"]) and {s["name"]: s["ran"] for s in timings["steps"]}["infer"]
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
    from senet_infer.summary import load_summary

    assert "warning" in load_summary(work / "result_summary.json").extras.annotations

    accuracy = json.loads((work / "accuracy_result.json").read_text())
    values = {item["key"]: item["value"] for item in accuracy["value"]}
    assert values["Number of images"] == "8"
    # Demo labels are PyTorch's own top-1 on the same input: the fp32 pipeline must reproduce them all.
    assert values["Top1 accuracy"] == "100.0%" and values["Top5 accuracy"] == "100.0%"  # the original: str(round(x, 2))
    assert "DEMO" in accuracy["warning"]

    fidelity = json.loads((work / "fidelity.json").read_text())
    assert fidelity["images"] == 8 and fidelity["passed"] is True and fidelity["backend"] == "onnxruntime"
    assert fidelity["max_relative_error"] < 1e-4 and fidelity["top1_agreement"] == 1.0
    assert fidelity["distinct_top1_reference"] >= 3  # demo weights give input-dependent predictions

    perf = json.loads((work / "perf.json").read_text())
    assert [r["batch_size"] for r in perf["results"]] == [1, 4]
    assert all(r["throughput_images_per_s"] > 0 and r["runs"] == 2 for r in perf["results"])
    assert {r["backend"] for r in perf["results"]} == {"onnxruntime"}
    assert "warning" in perf
    table = (work / "perf.md").read_text()
    assert "| batch size |" in table.replace("batch size |", "batch size |") and table.count("\n| ") >= 3
    assert (work / "perf.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_rerun_skips_up_to_date_steps(smoke_run) -> None:
    work, _ = smoke_run
    before = {p: p.stat().st_mtime_ns for p in (work / "result").iterdir()}
    proc = run_infer(work, *SMOKE)
    assert proc.returncode == 0, proc.stderr[-3000:]
    for step in ("preprocess", "export", "convert", "infer", "metric", "fidelity", "perf"):
        block = proc.stdout.split(f"] {step}\n", 1)[1].split("done in", 1)[0]
        assert "up to date, skipped" in block and "  $ " not in block, (step, block)
    assert {p: p.stat().st_mtime_ns for p in (work / "result").iterdir()} == before

    subset = run_infer(work, *SMOKE, "--steps", "metric", "--force")
    assert subset.returncode == 0, subset.stderr[-3000:]
    assert "] metric" in subset.stdout and "] infer" not in subset.stdout and "] perf" not in subset.stdout


STAND_IN_ATC = """\
#!/usr/bin/env bash
echo "atc $*" >> "$STANDIN_LOG"
for arg in "$@"; do case "$arg" in --output=*) touch "${arg#--output=}.om";; esac; done
"""
STAND_IN_NPU_SMI = "#!/usr/bin/env bash\n" + NPU_SMI_TABLE
STAND_IN_AIS_BENCH = """\
import os, sys
import numpy as np
with open(os.environ["STANDIN_LOG"], "a") as log:
    log.write("ais_bench " + " ".join(sys.argv[1:]) + "\\n")
""" + ARGV_VALUE + """\
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


def test_ascend_branch_issues_the_guides_commands(tmp_path: Path, demo_checkpoint: Path, image_dir: Path) -> None:
    """The one run of run_infer.sh on an Ascend host (README's section is the other): atc, npu-smi and the host's
    python3 -m ais_bench are stand-ins; $PYTHON cannot import ais_bench. The perf step's commands on such a host
    are checked in process (test_steps.py)."""
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
    labels = tmp_path / "val_label.txt"
    images = sorted(image_dir.iterdir())
    labels.write_text("".join(f"{p.name} {i % 3}\n" for i, p in enumerate(images)))
    log = tmp_path / "calls.log"
    env = {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "STANDIN_LOG": str(log)}
    assert subprocess.run([sys.executable, "-c", "import ais_bench"], env={**os.environ, **env},
                          capture_output=True).returncode != 0  # $PYTHON really lacks it
    proc = run_infer(work, "--checkpoint", str(demo_checkpoint), "--data-dir", str(image_dir), "--label-file",
                     str(labels), "--steps", "preprocess,convert,infer,metric,fidelity", env=env)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    assert "Ascend host" in proc.stdout and "chip from 'npu-smi info': Ascend310P3" in proc.stdout
    assert f"ais_bench runs with python3 from the PATH ({bin_dir / 'python3'})" in proc.stdout

    calls = [line.split() for line in log.read_text().splitlines()]
    # Each command once, as the guide writes it, and the host's python3 runs ais_bench.
    assert calls == [["atc", *GUIDE_ATC], ["python3", "-m", "ais_bench", *GUIDE_AIS_BENCH],
                     ["ais_bench", *GUIDE_AIS_BENCH]]
    assert f"  $ python3 -m ais_bench {' '.join(GUIDE_AIS_BENCH)}" in proc.stdout
    assert len([p for p in (work / "result").iterdir() if not p.name.startswith(".")]) == len(images)
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


# -- interrupted, concurrent and awkward runs ----------------------------------------------------------


def copy_work(reference: Path, work: Path) -> Path:
    """A copy of a finished work folder: files hard-linked (every step replaces files, never edits them),
    the driver's own state copied."""
    def link_or_copy(src: str, dst: str) -> None:
        if Path(src).parent.name == ".run_infer":
            shutil.copy2(src, dst)
        else:
            os.link(src, dst)

    shutil.copytree(reference, work, copy_function=link_or_copy)
    return work


def start_run_infer(work: Path, *args: str, cwd: Path | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(["bash", str(REPO / "run_infer.sh"), f"--work-dir={work}", *args], cwd=cwd or work,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "PYTHON": sys.executable})


def read_until(proc: subprocess.Popen[str], *markers: str) -> str:
    """Read the run's output until each marker has appeared, in order (the run must not end first)."""
    assert proc.stdout is not None
    seen, remaining = [], list(markers)
    for line in proc.stdout:
        seen.append(line)
        if remaining and remaining[0] in line:
            remaining.pop(0)
            if not remaining:
                return "".join(seen)
    raise AssertionError(f"run ended before {remaining[0]!r}:\n" + "".join(seen)[-4000:])


def processes_in(folder: Path) -> list[int]:
    """Pids of processes whose working folder is ``folder`` (Linux)."""
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and Path(os.readlink(entry / "cwd")) == folder:
                pids.append(int(entry.name))
        except OSError:
            continue
    return pids


def kill_hard(proc: subprocess.Popen[str], work: Path) -> None:
    """SIGKILL the driver alone, as `kill -9 <pid>` does; its step processes must not outlive it."""
    proc.kill()
    proc.wait(timeout=60)
    assert proc.stdout is not None
    proc.stdout.read()
    for _ in range(100):
        if not processes_in(work.resolve()):
            break
        time.sleep(0.1)
    assert processes_in(work.resolve()) == []


def step_block(out: str, step: str) -> str:
    return out.split(f"] {step}\n", 1)[1].split(f"] {step} done in", 1)[0]


def assert_same_artefacts(work: Path, reference: Path) -> None:
    """What the killed-and-rerun folder holds equals an uninterrupted run's (perf: same shape, not same timing)."""
    for folder in ("data/ImageNet_bin", "result"):
        # Hidden files are records of the folder (step 1's manifest names its absolute source), not artefacts.
        got = {p.name: p.read_bytes() for p in (work / folder).iterdir() if not p.name.startswith(".")}
        want = {p.name: p.read_bytes() for p in (reference / folder).iterdir() if not p.name.startswith(".")}
        assert got == want, folder
    for name in ("accuracy_result.json", "result_summary.json"):
        assert (work / name).is_file()
    assert json.loads((work / "accuracy_result.json").read_text()) == \
        json.loads((reference / "accuracy_result.json").read_text())
    fidelity, want = (json.loads((w / "fidelity.json").read_text()) for w in (work, reference))
    for key in ("images", "passed", "top1_agreement", "top5_agreement", "max_relative_error", "backend"):
        assert fidelity[key] == want[key], key
    got_perf, want_perf = (json.loads((w / "perf.json").read_text()) for w in (work, reference))
    assert sorted(got_perf) == sorted(want_perf)
    assert [sorted(r) for r in got_perf["results"]] == [sorted(r) for r in want_perf["results"]]
    assert [r["batch_size"] for r in got_perf["results"]] == [r["batch_size"] for r in want_perf["results"]]
    assert sorted(p.name for p in (work / "perf_runs").iterdir()) == \
        sorted(p.name for p in (reference / "perf_runs").iterdir())
    assert [p for p in work.rglob("*.tmp")] == []


# What to remove from a finished copy so that the step (and what depends on it) has work to do again.
KILL_POINTS = {
    "preprocess": ["data/ImageNet_bin", ".run_infer/preprocess.json"],
    "infer": [".run_infer/infer.json"],
    "metric": ["accuracy_result.json", ".run_infer/metric.json"],
    "perf": ["perf_models", ".run_infer/convert_bs1.json", ".run_infer/perf.json"],
}


@pytest.mark.parametrize("step", list(KILL_POINTS))
def test_killed_during_a_step_then_rerun_gives_the_same_artefacts(smoke_run, tmp_path: Path, step: str) -> None:
    """SIGKILL during the step's command; the rerun says what it redoes and ends with an uninterrupted run's files."""
    reference, _ = smoke_run
    work = copy_work(reference, tmp_path / "work")
    for name in KILL_POINTS[step]:
        path = work / name
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    proc = start_run_infer(work, *SMOKE)
    read_until(proc, f"] {step}\n", "  $ ")
    kill_hard(proc, work)
    assert not (work / ".run_infer" / f"{step}.json").exists()  # killed before the step finished
    lock = json.loads((work / ".run_infer" / "lock").read_text())
    assert lock["pid"] == proc.pid and lock["step"] == step and lock["running"] is True
    leftover = (work / "result" if (work / "result").is_dir() else work) / ".x_0.txt.abcd1234.tmp"
    leftover.write_text("half a file")  # what a kill during an atomic write leaves

    rerun = run_infer(work, *SMOKE)
    assert rerun.returncode == 0, rerun.stdout[-4000:] + rerun.stderr[-4000:]
    assert f"previous run was interrupted (pid {proc.pid} on " in rerun.stdout
    assert f"at step {step}) and no longer runs" in rerun.stdout
    assert "temporary file(s) left by an interrupted run" in rerun.stdout and not leftover.exists()
    assert "the previous run was interrupted during this step: redoing it" in step_block(rerun.stdout, step)
    assert_same_artefacts(work, reference)
    assert json.loads((work / ".run_infer" / "lock").read_text())["running"] is False


def test_second_run_in_the_same_folder_refuses_and_names_the_first(smoke_run, tmp_path: Path) -> None:
    reference, _ = smoke_run
    work = copy_work(reference, tmp_path / "work")
    first = start_run_infer(work, "--steps", "infer", "--force", *SMOKE)
    read_until(first, "] infer\n")
    second = run_infer(work, "--steps", "metric", *SMOKE)
    assert second.returncode == 2
    assert f"another run_infer.sh is using this work folder (pid {first.pid} on " in second.stderr
    assert "at step infer); wait for it to finish or stop it" in second.stderr
    assert "] metric" not in second.stdout and first.poll() is None
    kill_hard(first, work)


def test_stale_lock_of_a_dead_run_is_taken_over(smoke_run, tmp_path: Path) -> None:
    reference, _ = smoke_run
    work = copy_work(reference, tmp_path / "work")
    dead = subprocess.Popen(["true"])
    dead.wait()
    record = {"pid": dead.pid, "host": "elsewhere", "started": "2020-01-01T00:00:00", "step": "metric", "running": True}
    (work / ".run_infer" / "lock").write_text(json.dumps(record))
    proc = run_infer(work, "--steps", "metric", *SMOKE)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert (f"previous run was interrupted (pid {dead.pid} on elsewhere, started 2020-01-01T00:00:00, at step metric) "
            "and no longer runs: taking over its work folder") in proc.stdout
    assert "the interrupted run had finished this step; up to date, skipped" in step_block(proc.stdout, "metric")
    assert json.loads((work / ".run_infer" / "lock").read_text())["running"] is False


def test_awkward_folder_names_and_owned_result_folder(smoke_run, tmp_path: Path) -> None:
    """A work folder and an image folder with spaces, non-ASCII and a leading dash; stray results are cleared."""
    reference, _ = smoke_run
    parent = tmp_path / "dir with space"
    parent.mkdir()
    work = copy_work(reference, parent / "-wörk ü")
    images = parent / "-imägés x"
    shutil.copytree(reference / "dataset/demo/val_union", images)
    labels = parent / "-läbels x.txt"
    shutil.copyfile(reference / "dataset/demo/val_label.txt", labels)
    (work / "result" / "stray_0.txt").write_text("0.0 " * 1000)  # not this run's: must not be scored
    proc = start_run_infer(Path("-wörk ü"), f"--data-dir={images}", f"--label-file={labels}", "--force",
                           "--steps", "preprocess,infer,metric", *SMOKE, cwd=parent)
    out, _ = proc.communicate(timeout=900)
    assert proc.returncode == 0, out[-4000:]
    assert f"$ python3 {REPO / 'imagenet_torch_preprocess.py'} {shlex.quote(str(images))} ./data/ImageNet_bin" in out
    assert f"{shlex.quote(str(labels))} ./ accuracy_result.json" in out
    assert not (work / "result" / "stray_0.txt").exists()
    assert sorted(p.name for p in (work / "result").iterdir()) == sorted(p.name for p in (reference / "result").iterdir())
    for path in (work / "result").iterdir():
        assert path.read_bytes() == (reference / "result" / path.name).read_bytes()
    values = {i["key"]: i["value"] for i in json.loads((work / "accuracy_result.json").read_text())["value"]}
    assert values["Number of images"] == "8" and values["Top1 accuracy"] == "100.0%"


# -- int8 ---------------------------------------------------------------------------------------------

INT8 = ("--offline", "--demo-images", "8", "--batch-size", "4", "--precision", "int8", "--perf-batch-sizes", "4",
        "--perf-loop", "2", "--perf-precisions", "fp32,int8")


def test_int8_chain_calibrates_converts_scores_and_measures(tmp_path: Path, demo_checkpoint: Path) -> None:
    """weights → preprocess → export → calibrate → convert → infer → metric → fidelity → perf at int8; a rerun
    finds the calibration up to date."""
    shutil.copyfile(demo_checkpoint, tmp_path / demo_checkpoint.name)
    proc = run_infer(tmp_path, *INT8)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    out = proc.stdout
    note = "int8 calibrated on 8 images of the evaluation set ./dataset/demo/val_union"
    assert numbered("calibrate") in out and note in out
    assert ("$ python3 " + str(REPO / "amct_calibrate.py") + " --model=./se_resnet50_dynamic_bs.onnx "
            "--save_path=./se_resnet50_int8 --input_shape=image:4,3,224,224 --data_dir=./data/ImageNet_calib_bin "
            "--data_types=float32 --batch_num=2") in out
    assert "--format fp32" in out and len(list((tmp_path / "data/ImageNet_calib_bin").glob("*.bin"))) == 8
    assert "--model=./se_resnet50_int8_deploy_model.onnx" in out
    assert (tmp_path / "se_resnet50_int8_bs4.onnx").is_file()
    from senet_infer.modelmeta import model_precision

    assert model_precision(tmp_path / "se_resnet50_int8_bs4.onnx") == "int8"

    accuracy = json.loads((tmp_path / "accuracy_result.json").read_text())
    assert accuracy["calibration_note"].startswith(note) and "also scored" in accuracy["calibration_note"]
    fidelity = json.loads((tmp_path / "fidelity.json").read_text())
    assert fidelity["precision"] == "int8" and fidelity["enforced"] is False and fidelity["passed"] is True
    assert fidelity["calibration_note"] == accuracy["calibration_note"]
    assert {"top1_agreement", "top5_agreement", "min_cosine_similarity", "relative_error"} <= set(fidelity)
    # Drift, not garbage: a wrongly compiled int8 model (seen with OpenVINO on several streams) agrees on no image.
    assert fidelity["top1_agreement"] >= 0.5 and fidelity["min_cosine_similarity"] > 0.9, fidelity["summary"]

    perf = json.loads((tmp_path / "perf.json").read_text())
    assert [(r["precision"], r["batch_size"]) for r in perf["results"]] == [("fp32", 4), ("int8", 4)]
    assert set(perf["drift"]) == {"fp32", "int8"} and perf["drift"]["fp32"]["max_relative_error"] < 1e-4
    assert perf["calibration_note"] == accuracy["calibration_note"]
    table = (tmp_path / "perf.md").read_text()
    assert "| int8 | 4 |" in table and "| fp32 | 4 |" in table and "vs fp32" in table

    again = run_infer(tmp_path, *INT8)
    assert again.returncode == 0, again.stderr[-3000:]
    block = again.stdout.split("] calibrate\n", 1)[1].split("done in", 1)[0]
    assert "up to date, skipped" in block and "  $ " not in block


# -- bring your own ImageNet ---------------------------------------------------------------------------


def test_imagenet_source_is_prepared_scored_with_class_names_and_skipped_when_up_to_date(smoke_run,
                                                                                         tmp_path: Path) -> None:
    """--imagenet SOURCE (here an ImageFolder of three classes, one image named with spaces): the dataset step
    writes ./dataset/ImageNet with prepare_imagenet.py, step 5 writes predictions.csv, the run names the weakest
    classes; a rerun skips the dataset step."""
    import csv

    from senet_infer.imagenet import synsets

    reference, _ = smoke_run
    work = copy_work(reference, tmp_path / "work")
    source = tmp_path / "val"
    wnids = ("n01440764", "n01443537", "n15075141")
    images = sorted((reference / "dataset/demo/val_union").iterdir())
    for i, image in enumerate(images):
        (source / wnids[i % 3]).mkdir(parents=True, exist_ok=True)
        name = f"my photo {i}{image.suffix}" if i == 0 else image.name
        shutil.copyfile(image, source / wnids[i % 3] / name)
    before = {p: p.read_bytes() for p in source.rglob("*") if p.is_file()}
    args = ("--imagenet", str(source), "--steps", "preprocess,infer,metric,fidelity", *SMOKE)
    proc = run_infer(work, *args)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    block = step_block(proc.stdout, "dataset")
    assert f"$ python3 {REPO / 'prepare_imagenet.py'} {source} --out ./dataset/ImageNet" in block
    assert f"found an ImageFolder of 3 class folders in {source}: {len(images)} images" in block, block
    labels = (work / "dataset/ImageNet/val_label.txt").read_text().splitlines()
    assert len(labels) == len(images) and labels[-1].startswith("my photo 0.")
    assert {int(line.rsplit(" ", 1)[1]) for line in labels} == {0, 1, 999}
    assert {p: p.read_bytes() for p in source.rglob("*") if p.is_file()} == before

    metric_block = step_block(proc.stdout, "metric")
    assert "--predictions ./predictions.csv" in metric_block
    lowest = metric_block.split("lowest top-1 of the 3 classes labelled (DEMO: weights are random):\n", 1)[1]
    lowest = lowest.splitlines()[:3]
    assert all(line.startswith("    class ") and " images, " in line for line in lowest), lowest
    assert any("(tench, Tinca tinca)" in line for line in lowest) and any("(toilet tissue" in line for line in lowest)
    with open(work / "predictions.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == len(images) and {r["image"] for r in rows} == {line.rsplit(" ", 1)[0] for line in labels}
    assert all(r["label_name"] == synsets().name(int(r["label"])) and r["top1_name"] for r in rows)
    assert "NOTE: top-1" not in proc.stdout  # demo weights: no sanity note about the labels

    rerun = run_infer(work, *args)
    assert rerun.returncode == 0, rerun.stdout[-4000:] + rerun.stderr[-4000:]
    assert "up to date, skipped" in step_block(rerun.stdout, "dataset")

    refused = run_infer(work, "--imagenet", str(source), "--data-dir", str(source), *SMOKE)
    assert refused.returncode == 2 and "--imagenet writes <work>/dataset/ImageNet itself" in refused.stderr


def test_the_report_page_renders_in_a_real_browser_and_agrees_with_the_run(smoke_run, tmp_path: Path) -> None:
    """The last step's page, opened from file:// in headless Chromium: every section, no console error, no
    request out of the file, every image decoded, a screenshot that is not blank, and the run's own figures."""
    from browser import blank, open_page

    from senet_infer.fidelity import read_fidelity_json
    from senet_infer.metric import read_accuracy_json, read_predictions

    work, proc = smoke_run
    page_path = work / "report.html"
    assert f"open {page_path.resolve().as_uri()}" in proc.stdout
    shot = tmp_path / "report.png"
    with open_page(page_path, shot) as (visit, _):
        pass
    assert visit.section_ids == ["headline", "classes", "examples", "fidelity", "performance", "run"]
    assert visit.errors == [] and [m for m in visit.console if m[0] in ("error", "warning")] == []
    assert [url for url in visit.requests if not url.startswith("data:")] == [page_path.resolve().as_uri()]
    assert visit.images and all(i["complete"] and i["width"] > 0 for i in visit.images), visit.images
    thumbs = [i for i in visit.images if i["cls"] == "thumb"]
    assert thumbs and max(max(i["width"], i["height"]) for i in thumbs) <= 128
    assert not blank(shot)

    accuracy = read_accuracy_json(work / "accuracy_result.json")
    rows = read_predictions(work / "predictions.csv")
    fidelity = read_fidelity_json(work / "fidelity.json")
    text = visit.text
    assert f"top-1\n{accuracy.top1:.2f} %" in text and f"images scored\n{accuracy.images}" in text
    assert accuracy.images == len(rows) == 8
    assert f"{len({r.label for r in rows})} classes present, {len(rows)} images" in text
    assert "accuracy from demo weights means nothing" in text
    assert f"{100 * fidelity.agreement.top1_agreement:.2f}" in text and fidelity.backend in text
