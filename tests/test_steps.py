"""The driver's steps in this process, on a fake shell: what each step resolves, the commands it gives the
toolchain (vendor or portable) and the units it makes. ``driver.main`` runs for real; only the commands are
stand-ins, answered by :class:`FakeShell` the way the tools would answer."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path
from typing import Callable, List, Optional

import numpy as np
import pytest

from conftest import REPO, run_in_process
from senet_infer.driver import main as driver
from senet_infer.driver import steps
from senet_infer.driver.engine import Shell, Step, Unit
from senet_infer.driver.paths import Paths
from senet_infer.driver.state import Dataset, Run
from senet_infer.driver.toolchain import Command, PortableToolchain, Scripts, Toolchain
from senet_infer.errors import PipelineError


def numbered(name: str) -> str:
    """``[k/N] name`` as the driver prints a step, k and N from the steps table (set-up is step 1)."""
    names = [steps.SET_UP, *steps.step_names()]
    return f"[{names.index(name) + 1}/{len(names)}] {name}"


def value(argv: List[str], name: str) -> Optional[str]:
    """``--name v`` or ``--name=v`` from a command line."""
    for i, arg in enumerate(argv):
        if arg == name:
            return argv[i + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    return None


class FakeShell(Shell):
    """Records each command as shown and writes what the real tool would write (empty models, random results)."""

    def __init__(self, work: Path) -> None:
        super().__init__(work)
        self.calls: List[List[str]] = []

    def path(self, shown: str) -> Path:
        return self.work / shown if not Path(shown).is_absolute() else Path(shown)

    def run(self, command: Command, *, capture: bool = False) -> str:
        print("  $ " + " ".join(command.shown))
        argv = list(command.shown)
        self.calls.append(argv)
        tool = Path(argv[1]).name if argv[0] == "python3" and argv[1] != "-m" else argv[0]
        if tool in ("atc", "aipp_convert.py"):
            self.path(value(argv, "--output") + (".om" if tool == "atc" else ".onnx")).touch()
        elif tool in ("amct_onnx", "amct_calibrate.py"):
            prefix = str(self.path(value(argv, "--save_path")))
            for suffix in ("_deploy_model.onnx", "_fake_quant_model.onnx"):
                Path(prefix + suffix).touch()
        elif tool == "imagenet_torch_preprocess.py":
            source, out = self.path(argv[2]), self.path(argv[3])
            out.mkdir(parents=True, exist_ok=True)
            for image in sorted(source.iterdir()):
                (out / f"{image.stem}.bin").write_bytes(b"\0")
        elif argv[:3] == ["python3", "-m", "ais_bench"] or tool == "ais_infer.py":
            return self.ais_bench(argv)
        return ""

    def ais_bench(self, argv: List[str]) -> str:
        batch = int(value(argv, "--batchsize") or 1)
        if value(argv, "--input"):
            out = self.path(value(argv, "--output")) / value(argv, "--output_dirname")
            out.mkdir(parents=True, exist_ok=True)
            rng = np.random.default_rng(0)
            for name in sorted(os.listdir(self.path(value(argv, "--input")))):
                (out / f"{name[:-4]}_0.txt").write_text(" ".join(f"{v:f}" for v in rng.normal(size=1000)) + " \n")
        line = f"[INFO] throughput 1000*batchsize.mean({batch})/NPU_compute_time.mean(2.5): {1000 * batch / 2.5}\n"
        print("    " + line, end="")
        return line


@pytest.fixture
def labelled(tmp_path: Path, image_dir: Path) -> List[str]:
    """``--data-dir``/``--label-file`` of the session's twelve images."""
    labels = tmp_path / "val_label.txt"
    labels.write_text("".join(f"{p.name} {i % 3}\n" for i, p in enumerate(sorted(image_dir.iterdir()))))
    return ["--data-dir", str(image_dir), "--label-file", str(labels)]


def stand_ins(folder: Path, *names: str) -> str:
    """A PATH that starts with executables of these names (what makes the host look like an Ascend one)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_text("#!/bin/sh\nexit 1\n")
        (folder / name).chmod(0o755)
    return f"{folder}{os.pathsep}{os.environ['PATH']}"


def main_in_process(monkeypatch: pytest.MonkeyPatch, work: Path, *argv: str) -> FakeShell:
    """``run_infer.sh argv`` in this process, its commands answered by a :class:`FakeShell`."""
    shell = FakeShell(work.resolve())
    monkeypatch.setattr("senet_infer.driver.state.Shell", lambda _work: shell)
    assert driver.main(["--work-dir", str(work), *argv]) == 0
    return shell


def make_run(work: Path, *argv: str, toolchain: Optional[Callable[[Scripts], Toolchain]] = None) -> Run:
    """A run's state as the weights and dataset steps leave it, without running them."""
    opts = driver.parse_options(["--work-dir", str(work), *argv])
    scripts = Scripts(REPO, opts.work, sys.executable)
    chain = (toolchain(scripts) if toolchain else
             PortableToolchain(scripts, opts.batch_size, precision=opts.precision, backend=opts.backend, soc_version=None))
    return Run(opts, Paths(opts.work), scripts, chain, FakeShell(opts.work))


# -- resolve steps ----------------------------------------------------------------------------------


def test_the_dataset_step_resolves_the_users_folder_a_demo_set_or_refuses(tmp_path: Path, image_dir: Path,
                                                                         labelled: List[str], capsys) -> None:
    from senet_infer.driver.resolve import dataset_units, resolve_dataset

    run = resolve_dataset(make_run(tmp_path / "w", *labelled))
    assert run.dataset == Dataset(image_dir.resolve(), Path(labelled[3]).resolve())
    assert dataset_units(run) == [] and "dataset_note" not in run.annotations()
    demo = resolve_dataset(make_run(tmp_path / "w"))
    assert demo.dataset.demo and demo.dataset.images == (tmp_path / "w/dataset/demo/val_union").resolve()
    assert "absent: using a generated demo set in ./dataset/demo" in capsys.readouterr().out
    assert "dataset_note" in demo.annotations()
    for argv, message in ((["--data-dir", str(image_dir)], "val_label.txt: label file not found"),
                          (["--data-dir", str(tmp_path / "none")], "none: image folder not found"),
                          (["--imagenet", str(tmp_path), *labelled], "--imagenet writes <work>/dataset/ImageNet itself"),
                          (["--devkit", str(tmp_path)], "--devkit and --imagenet-labels go with --imagenet")):
        with pytest.raises(PipelineError, match=message):
            resolve_dataset(make_run(tmp_path / "w", *argv))


def test_a_step_that_reads_what_is_not_resolved_names_the_step_that_resolves_it(tmp_path: Path) -> None:
    run = make_run(tmp_path)
    with pytest.raises(PipelineError, match="the weights step must come before"):
        run.weights  # noqa: B018
    with pytest.raises(PipelineError, match="the dataset step must come before"):
        run.dataset  # noqa: B018


def test_calibration_and_fidelity_subsets_are_evenly_spaced(tmp_path: Path) -> None:
    """--calib-images picks whole batches evenly spaced over the evaluation images; the fidelity step says which
    images it checks (all up to 500, else 500 evenly spaced, or --fidelity-all)."""
    from senet_infer.driver.actions import fidelity_selection

    images = tmp_path / "images"
    images.mkdir()
    for i in range(10):
        (images / f"img_{i}.png").write_bytes(b"")
    bins = tmp_path / "data" / "ImageNet_bin"
    bins.mkdir(parents=True)
    for i in range(1500):
        (bins / f"img_{i}.bin").write_bytes(b"")

    def run(*argv: str) -> Run:
        return make_run(tmp_path, *argv).with_dataset(Dataset(images, images / "labels.txt"))

    plan = run("--batch-size", "4", "--calib-images", "7").calibration()
    assert (plan.batch, plan.batch_num) == (4, 1) and plan.from_evaluation
    assert [p.name for p in plan.images] == ["img_0.png", "img_3.png", "img_6.png", "img_9.png"]
    assert "4 images of the evaluation set" in plan.note(str) and "evenly spaced" in plan.note(str)
    plan = run("--batch-size", "32", "--calib-dir", str(images)).calibration()
    assert (plan.batch, plan.batch_num, len(plan.images)) == (10, 1, 10) and not plan.from_evaluation
    assert "also scored" not in plan.note(str)

    assert fidelity_selection(run()) == ("fidelity on 500 of 1,500 images, evenly spaced (default for more "
                                         "than 500; --fidelity-all checks every image)")
    assert fidelity_selection(run("--fidelity-all")) == "fidelity on all 1,500 images (--fidelity-all)"
    assert fidelity_selection(run("--fidelity-images", "10")).startswith("fidelity on 10 of 1,500 images")


def test_the_work_folders_aipp_config_is_placed_once_never_overwritten(tmp_path: Path, capsys) -> None:
    from senet_infer.driver.state import place_aipp_config

    run = make_run(tmp_path)
    place_aipp_config(run, REPO)
    config = run.paths.aipp_config
    assert config.read_bytes() == (REPO / "aipp_SE_ResNet50_pth.config").read_bytes()
    assert "copied the project's aipp_SE_ResNet50_pth.config to ./aipp_SE_ResNet50_pth.config" in capsys.readouterr().out
    config.write_text("# edited\n")
    place_aipp_config(run, REPO)
    assert config.read_text() == "# edited\n" and capsys.readouterr().out == ""


def test_bad_step_name_and_failing_step(tmp_path: Path, demo_checkpoint: Path) -> None:
    proc = run_in_process(driver.main, "--work-dir", tmp_path, "--steps", "metric,bogus", prog="run_infer.sh",
                          check=False)
    assert proc.returncode == 2 and "unknown step(s) bogus" in proc.stderr
    images = tmp_path / "imgs"
    images.mkdir()
    proc = run_in_process(driver.main, "--work-dir", tmp_path, "--checkpoint", demo_checkpoint, "--data-dir", images,
                          prog="run_infer.sh", check=False)
    assert proc.returncode == 2
    assert "step dataset failed" in proc.stderr and "val_label.txt: label file not found" in proc.stderr


def test_work_folder_aipp_config_is_used_not_overwritten(tmp_path: Path, demo_checkpoint: Path) -> None:
    """As in the guide, ./aipp_SE_ResNet50_pth.config in the work folder is the one used; a bad one stops the run."""
    config = tmp_path / "aipp_SE_ResNet50_pth.config"
    text = (REPO / "aipp_SE_ResNet50_pth.config").read_text().replace("crop_size_w: 224", "crop_size_w: 250")
    config.write_text(text)
    proc = run_in_process(driver.main, "--work-dir", tmp_path, "--checkpoint", demo_checkpoint, "--demo-images", "2",
                          "--steps", "dataset", prog="run_infer.sh", check=False)
    assert proc.returncode == 2
    assert "step dataset failed" in proc.stderr and "aipp_SE_ResNet50_pth.config:" in proc.stderr
    assert "crop_size_w" in proc.stderr and "Traceback" not in proc.stderr
    assert config.read_text() == text


def test_a_step_is_one_row_of_the_table_and_every_number_follows(tmp_path: Path, demo_checkpoint: Path,
                                                                  labelled: List[str], monkeypatch, capsys) -> None:
    """A toy step appended to the table in this process runs through the engine with no other change: it can be
    chosen with --steps, it is numbered last, and every number says one more step."""
    def toy_units(run: Run) -> List[Unit]:
        out = run.paths.work / "toy.txt"
        return [Unit("toy", [run.dataset.labels], [out], {}, lambda: out.write_text("toy\n"))]

    before = len(steps.STEPS) + 1  # and set-up
    monkeypatch.setattr(steps, "STEPS", (*steps.STEPS, Step("toy", units=toy_units)))
    main_in_process(monkeypatch, tmp_path, "--checkpoint", str(demo_checkpoint), *labelled, "--steps", "toy",
                    "--set-up-seconds", "3", "--set-up-python", "/opt/py")
    out = capsys.readouterr().out
    total = before + 1
    assert out.startswith(f"[1/{total}] set-up: reads requirements.txt, writes .venv (or uses $PYTHON)\n"
                          f"[1/{total}] set-up done in 3 s: /opt/py\n")
    for number, name in ((2, "weights"), (3, "dataset"), (total, "toy")):
        assert f"[{number}/{total}] {name}\n" in out and f"[{number}/{total}] {name} done in " in out
    assert numbered("toy") == f"[{total}/{total}] toy"
    assert "val_label.txt, writes ./toy.txt\n" in out and (tmp_path / "toy.txt").read_text() == "toy\n"
    assert "preprocess" not in out


def test_no_file_but_the_table_writes_a_step_count() -> None:
    """``[k/N]`` is computed from the table: neither the shell script nor a module writes a number of steps."""
    import re

    sources = [REPO / "run_infer.sh", *sorted((REPO / "senet_infer").rglob("*.py"))]
    written = [f"{path.relative_to(REPO)}: {match.group(0)}" for path in sources
               for match in re.finditer(r"\[\d+/\d+\]", path.read_text(encoding="utf-8"))]
    assert written == []


# -- the guide's steps, in process ------------------------------------------------------------------


def test_portable_steps_give_the_guides_commands_and_skip_when_up_to_date(
        tmp_path: Path, demo_checkpoint: Path, labelled: List[str], monkeypatch, capsys) -> None:
    """preprocess, convert, infer and metric in order (export skipped: its model is there), each once; a rerun
    runs nothing."""
    work = tmp_path / "work"
    work.mkdir()
    (work / "se_resnet50_dynamic_bs.onnx").write_bytes(b"onnx")
    argv = ("--checkpoint", str(demo_checkpoint), *labelled, "--batch-size", "4", "--backend", "onnxruntime",
            "--steps", "preprocess,convert,infer")
    shell = main_in_process(monkeypatch, work, *argv, "--steps", "preprocess,convert")
    tools = [Path(c[1]).name for c in shell.calls]
    assert tools == ["imagenet_torch_preprocess.py", "aipp_convert.py"]
    assert shell.calls[0][2:] == [labelled[1], "./data/ImageNet_bin"]
    assert "--output=./se_resnet50_fp32_bs4" in shell.calls[1] and "--precision_mode=fp32" in shell.calls[1]
    out = capsys.readouterr().out
    assert numbered("convert") in out and "aipp_convert.py (portable ATC): reads ./se_resnet50_dynamic_bs.onnx + " \
        "./aipp_SE_ResNet50_pth.config, writes ./se_resnet50_fp32_bs4.onnx" in out
    assert "WARNING: DEMO weights" in out and "— DEMO weights" in out

    with pytest.raises(PipelineError, match="result_summary.json: inference wrote no summary"):
        main_in_process(monkeypatch, work, *argv)  # the stand-in runner writes results but no summary
    capsys.readouterr()
    assert main_in_process(monkeypatch, work, *argv, "--steps", "preprocess,convert").calls == []
    assert capsys.readouterr().out.count("up to date, skipped") == 2


def test_export_metric_and_the_imagenet_source_give_the_guides_commands(tmp_path: Path, demo_checkpoint: Path,
                                                                       labelled: List[str]) -> None:
    from senet_infer.driver import actions
    from senet_infer.driver.resolve import dataset_units, resolve_dataset
    from senet_infer.driver.state import Weights

    run = make_run(tmp_path, *labelled).with_weights(Weights(demo_checkpoint, True))
    run = run.with_dataset(Dataset(Path(labelled[1]), Path(labelled[3])))
    shell = run.shell
    assert isinstance(shell, FakeShell)
    actions.export(run)
    actions.metric(run)
    assert [c[2:] for c in shell.calls] == [
        [str(demo_checkpoint), "./se_resnet50_dynamic_bs.onnx"],
        ["./result/", "./val_label.txt", "./", "accuracy_result.json", "--predictions", "./predictions.csv"]]  # in ./

    source = tmp_path / "ILSVRC2012_img_val.tar"
    source.write_bytes(b"")
    run = resolve_dataset(make_run(tmp_path, "--imagenet", str(source), "--devkit", str(tmp_path / "devkit.tar.gz")))
    assert run.dataset.prepared and run.dataset.images == tmp_path.resolve() / "dataset/ImageNet/val_union"
    (unit,) = dataset_units(run)
    assert unit.writes == [run.dataset.images, run.dataset.labels]
    unit.action()
    assert run.shell.calls[0][2:] == ["./ILSVRC2012_img_val.tar", "--out", "./dataset/ImageNet",  # type: ignore[attr-defined]
                                      "--devkit", "./devkit.tar.gz"]


def test_ascend_int8_runs_amct_then_atc_on_the_deploy_model(tmp_path: Path, demo_checkpoint: Path,
                                                           labelled: List[str], monkeypatch, capsys) -> None:
    monkeypatch.setenv("PATH", stand_ins(tmp_path / "bin", "atc", "amct_onnx"))
    shell = main_in_process(monkeypatch, tmp_path / "work", "--checkpoint", str(demo_checkpoint), *labelled,
                            "--precision", "int8", "--calib-images", "4", "--soc-version", "Ascend310P3",
                            "--steps", "calibrate,convert")
    calls = shell.calls
    assert [Path(c[1]).name for c in calls[:1]] == ["imagenet_torch_preprocess.py"]
    assert calls[0][3:] == ["./data/ImageNet_calib_bin", "--format", "fp32", "--force", "--quiet"]
    assert len(list((tmp_path / "work/data/ImageNet_calib").iterdir())) == 4
    assert calls[1] == ["amct_onnx", "calibration", "--model=./se_resnet50_dynamic_bs.onnx",
                        "--save_path=./se_resnet50_int8", "--input_shape=image:4,3,224,224",
                        "--data_dir=./data/ImageNet_calib_bin", "--data_types=float32", "--batch_num=1"]
    assert calls[2][:2] == ["atc", "--model=./se_resnet50_int8_deploy_model.onnx"]
    assert "--output=./se_resnet50_int8_bs32" in calls[2] and "--soc_version=Ascend310P3" in calls[2]
    out = capsys.readouterr().out
    assert "amct_onnx calibration (Ascend AMCT)" in out and "4 images of the evaluation set" in out
    assert "Ascend host: atc + ais_bench" in out


def test_ascend_perf_converts_each_batch_size_measures_and_checks_drift(
        tmp_path: Path, demo_checkpoint: Path, labelled: List[str], bin_dir: Path, monkeypatch, capsys) -> None:
    """The perf step on an Ascend host: one .om per batch size (the convert step's bs32 reused), the guide's
    perf command at each, the drift check of the fp16 model at batch 1; the figures from the printed line."""
    monkeypatch.setenv("PATH", stand_ins(tmp_path / "bin", "atc"))
    monkeypatch.setattr("senet_infer.driver.state.ascend_host.ais_bench_python", lambda python, cwd: python)
    work = tmp_path / "work"
    shutil.copytree(bin_dir, work / "data" / "ImageNet_bin")
    shell = main_in_process(monkeypatch, work, "--checkpoint", str(demo_checkpoint), *labelled,
                            "--soc-version", "Ascend310P3", "--steps", "convert,perf")
    calls = shell.calls
    atc = [c for c in calls if c[0] == "atc"]
    assert [c[4] for c in atc] == [f"--input_shape=image:{b},3,224,224" for b in (32, 1, 4, 8, 16, 64)]
    ais = [c[3:] for c in calls if c[:3] == ["python3", "-m", "ais_bench"]]
    assert [c for c in ais if "--input" not in c] == [
        [f"--model=./se_resnet50_fp16_bs{b}.om", "--loop=20", f"--batchsize={b}"] for b in (1, 4, 8, 16, 32, 64)]
    assert [c for c in ais if "--input" in c] == [  # the perf step's drift check of the fp16 models, at batch 1
        ["--model", "./se_resnet50_fp16_bs1.om", "--batchsize", "1", "--input", "./perf_runs/drift_bin", "--output",
         "./perf_runs", "--output_dirname", "drift_fp16", "--outfmt", "TXT"]]
    perf = json.loads((work / "perf.json").read_text())
    assert perf["chip"] == "Ascend310P3" and perf["precisions"] == ["fp16"]
    assert [r["throughput_images_per_s"] for r in perf["results"]] == [1000 * b / 2.5 for b in (1, 4, 8, 16, 32, 64)]
    assert set(perf["drift"]) == {"fp16"} and perf["drift"]["fp16"]["images"] == 8
    assert "./se_resnet50_fp16_bs32.om up to date, skipped" in capsys.readouterr().out

    again = main_in_process(monkeypatch, work, "--checkpoint", str(demo_checkpoint), *labelled,
                            "--soc-version", "Ascend310P3", "--steps", "convert,perf")
    assert again.calls == []  # the perf step is up to date: its models are not even asked for


# -- --imagenet: checked first; --force reaches prepare_imagenet.py --------------------------------------------


def test_a_bad_imagenet_source_is_said_before_any_step_runs(tmp_path: Path) -> None:
    """No weights step (and its download attempt) before the refusal: the work folder is not even made."""
    from imagenet_fakes import Fake

    work = tmp_path / "work"
    missing = tmp_path / "no_such_val"
    proc = run_in_process(driver.main, "--work-dir", work, "--imagenet", missing, "--steps", "dataset",
                          prog="run_infer.sh", check=False)
    assert proc.returncode == 2 and "weights" not in proc.stdout and not work.exists(), proc.stdout
    assert proc.stderr.strip() == f"run_infer.sh: error: --imagenet: {missing}: no such file or folder"
    val = Fake(tmp_path).image_folder("download/val")
    proc = run_in_process(driver.main, "--work-dir", work, "--imagenet", val.parent, prog="run_infer.sh",
                          check=False)
    assert proc.returncode == 2 and "weights" not in proc.stdout and not work.exists()
    assert f"{val} itself looks like the ImageFolder" in proc.stderr
    proc = run_in_process(driver.main, "--work-dir", work, "--devkit", tmp_path, prog="run_infer.sh", check=False)
    assert proc.returncode == 2 and "--devkit and --imagenet-labels go with --imagenet SOURCE" in proc.stderr
    assert not work.exists()


def test_force_reaches_the_dataset_step_as_its_refusal_says(tmp_path: Path, demo_checkpoint: Path,
                                                            capfd: pytest.CaptureFixture[str]) -> None:
    """An --imagenet over a dataset/ImageNet prepared from another source is refused with '--force replaces it':
    run_infer.sh --force passes it to prepare_imagenet.py."""
    from imagenet_fakes import Fake

    fake = Fake(tmp_path)
    first, second = fake.image_folder(), fake.image_folder("other")
    work = tmp_path / "work"
    base = ("--work-dir", work, "--checkpoint", demo_checkpoint, "--offline", "--steps", "dataset")
    run_in_process(driver.main, *base, "--imagenet", first, prog="run_infer.sh")
    refused = run_in_process(driver.main, *base, "--imagenet", second, prog="run_infer.sh", check=False)
    err = capfd.readouterr().err  # prepare_imagenet.py runs as its own process, as the guide's steps do
    assert refused.returncode == 2 and "holds another dataset" in err and "--force replaces it" in err, err
    run_in_process(driver.main, *base, "--imagenet", second, "--force", prog="run_infer.sh")
    link = os.readlink(work / "dataset/ImageNet/val_union/ILSVRC2012_val_00000001.JPEG")
    assert link.startswith(str(second))


def test_the_perf_step_says_how_long_it_takes_and_how_to_leave_it_out(tmp_path: Path, capsys) -> None:
    """Before its work the perf step estimates its time from the infer step's measured speed, the loop and the
    batch sizes, and names the --steps that leaves it out."""
    from senet_infer.driver import perf
    from senet_infer.fileio import atomic_write_json
    from senet_infer.summary import Extras, RunSummary, TimeStats

    argv = ("--perf-precisions", "fp32,int8", "--perf-batch-sizes", "1,4", "--perf-loop", "3")
    run = make_run(tmp_path, *argv)
    perf.announce(run)
    unmeasured = capsys.readouterr().out
    assert "the perf step takes a while here (the infer step has not measured this machine's speed yet)" in unmeasured
    atomic_write_json(run.paths.result_summary,
                      RunSummary(TimeStats(), 10.0, Extras(precision="fp32")).to_json())  # 10 images/s at fp32
    # int8: calibration, then 20 images at 3x the speed; each precision: 2 runs, 2 models, a drift check
    expected = perf.CALIBRATE_S + 2 * perf.DRIFT_S + 4 * perf.RUN_START_S + 4 * perf.CONVERT_S + 20 / 10 + 20 / 30
    assert perf.estimate_seconds(run, 10.0, "fp32") == pytest.approx(expected)
    assert 90 <= expected < 150
    perf.announce(run)
    line = capsys.readouterr().out.strip()
    others = ",".join(name for name in steps.step_names() if name != "perf")  # every chosen step but perf
    assert line.startswith("the perf step takes about 2 min here (estimated from the infer step's 10.0 images/s at "
                           "fp32): 4 runs of 3 timed batches and 1 warm-up (fp32, int8 at batch 1, 4); --steps "
                           f"{others} leaves it out"), line
    for batch in (1, 4):
        for precision in ("fp32", "int8"):
            run.toolchain.model_path(batch, precision).parent.mkdir(parents=True, exist_ok=True)
            run.toolchain.model_path(batch, precision).touch()
    run.toolchain.deploy_model.touch()
    assert perf.estimate_seconds(run, 10.0, "fp32") == pytest.approx(expected - perf.CALIBRATE_S - 4 * perf.CONVERT_S)
    perf.announce(make_run(tmp_path, *argv, "--steps", "perf"))
    assert "--steps" not in capsys.readouterr().out  # nothing else is chosen: nothing to leave it out of
